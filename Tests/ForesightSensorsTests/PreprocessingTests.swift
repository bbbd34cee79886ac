// Colour conversion, area resizing (held to a float64 reference) and normalisation.

import ForesightCore
import ForesightSensors
import XCTest
@testable import ForesightIO

final class PreprocessingTests: XCTestCase {
    func testGrayFromEveryFormat() {
        // 2x2 frames whose luma is 16, 235, 125.5-ish: limited range maps 16 -> 0, 235 -> 1.
        var gray = [Float](repeating: -1, count: 4)
        let yuyv: [UInt8] = [16, 128, 235, 128, 126, 90, 126, 200]
        convertToGray(.yuyv, source: yuyv, width: 2, height: 2, gray: &gray)
        assertClose(gray, [0, 1, Float(110) / 219, Float(110) / 219])
        let uyvy: [UInt8] = [128, 16, 128, 235, 90, 126, 200, 126]
        convertToGray(.uyvy, source: uyvy, width: 2, height: 2, gray: &gray)
        assertClose(gray, [0, 1, Float(110) / 219, Float(110) / 219])
        let planar: [UInt8] = [16, 235, 126, 126, 7, 9]
        convertToGray(.yuv420, source: planar, width: 2, height: 2, gray: &gray)
        assertClose(gray, [0, 1, Float(110) / 219, Float(110) / 219])
        convertToGray(.gray8, source: [0, 255, 51, 102] as [UInt8], width: 2, height: 2, gray: &gray)
        assertClose(gray, [0, 1, 0.2, 0.4])
        let rgb: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]
        convertToGray(.rgb24, source: rgb, width: 2, height: 2, gray: &gray)
        for (a, b) in zip(gray, [Float(0.299), 0.587, 0.114, 1]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        convertToGray(.bgr24, source: rgb, width: 2, height: 2, gray: &gray)
        for (a, b) in zip(gray, [Float(0.114), 0.587, 0.299, 1]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // Row padding: 2 pixels per row stored in 4 bytes.
        convertToGray(.gray8, source: [0, 255, 9, 9, 51, 102, 9, 9] as [UInt8], width: 2, height: 2, bytesPerLine: 4, gray: &gray)
        assertClose(gray, [0, 1, 0.2, 0.4])
    }

    func testRGBFromYUVMatchesBT601AndFormatsAgree() {
        var rgb = [Float](repeating: -1, count: 12)
        // Limited-range white, black and pure red (Y 81, Cb 90, Cr 240).
        let yuyvWhite: [UInt8] = [235, 128, 16, 128, 81, 90, 81, 240]
        convertToRGB(.yuyv, source: yuyvWhite, width: 2, height: 2, rgb: &rgb)
        for (a, b) in zip(rgb, [Float(1), 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0]) { XCTAssertEqual(a, b, accuracy: 0.01) }
        // The same 4x2 picture as I420 and NV12 converts identically.
        let luma: [UInt8] = [10, 60, 110, 160, 210, 20, 70, 120], cb: [UInt8] = [100, 150], cr: [UInt8] = [200, 50]
        var fromPlanar = [Float](repeating: 0, count: 24), fromNV12 = [Float](repeating: 1, count: 24)
        convertToRGB(.yuv420, source: luma + cb + cr, width: 4, height: 2, rgb: &fromPlanar)
        convertToRGB(.nv12, source: luma + [cb[0], cr[0], cb[1], cr[1]], width: 4, height: 2, rgb: &fromNV12)
        XCTAssertEqual(fromPlanar, fromNV12)
        var fromRGB = [Float](repeating: 0, count: 3)
        convertToRGB(.bgr24, source: [1, 2, 3] as [UInt8], width: 1, height: 1, rgb: &fromRGB)
        XCTAssertEqual(fromRGB, [Float(3) / 255, Float(2) / 255, Float(1) / 255])
    }

    /// Area resize by integrating the source as a piecewise-constant function, in float64.
    func referenceResize(_ source: [Float], _ width: Int, _ height: Int, _ targetWidth: Int, _ targetHeight: Int) -> [Float] {
        func overlap(_ i: Int, _ scale: Double, _ j: Int) -> Double {
            max(0, min(Double(i + 1) * scale, Double(j + 1)) - max(Double(i) * scale, Double(j)))
        }
        let scaleX = Double(width) / Double(targetWidth), scaleY = Double(height) / Double(targetHeight)
        var result = [Float](repeating: 0, count: targetWidth * targetHeight)
        for ty in 0..<targetHeight {
            for tx in 0..<targetWidth {
                var sum = 0.0
                for y in 0..<height { for x in 0..<width { sum += overlap(tx, scaleX, x) * overlap(ty, scaleY, y) * Double(source[y * width + x]) } }
                result[ty * targetWidth + tx] = Float(sum / (scaleX * scaleY))
            }
        }
        return result
    }

    func testAreaResizeMatchesTheReference() {
        var rng = SeededRandom(seed: 11)
        for (width, height, targetWidth, targetHeight) in [(8, 8, 4, 4), (5, 7, 3, 2), (64, 48, 7, 5), (3, 3, 6, 5), (9, 1, 2, 1)] {
            let source = (0..<width * height).map { _ in rng.nextFloat() }
            var target = [Float](repeating: -1, count: targetWidth * targetHeight)
            areaResize(source, width: width, height: height, into: &target, width: targetWidth, height: targetHeight)
            let expected = referenceResize(source, width, height, targetWidth, targetHeight)
            for (a, b) in zip(target, expected) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(width)x\(height) -> \(targetWidth)x\(targetHeight)") }
        }
        // Three channels resize independently.
        let rgb: [Float] = [1, 0, 0.5, 0, 1, 0.5, 1, 0, 0.5, 0, 1, 0.5]
        var out = [Float](repeating: 0, count: 3)
        areaResize(rgb, width: 2, height: 2, channels: 3, into: &out, width: 1, height: 1)
        XCTAssertEqual(out, [0.5, 0.5, 0.5])
    }

    func testNormalisation() {
        var values: [Float] = [1, 2, 3, 4]
        values.withUnsafeMutableBufferPointer { normalize($0, mean: 2, standardDeviation: 2) }
        XCTAssertEqual(values, [-0.5, 0, 0.5, 1])
        var frame: [Float] = [3, 5, 7, 9]
        let (mean, deviation) = frame.withUnsafeMutableBufferPointer { standardize($0, epsilon: 0) }
        XCTAssertEqual(mean, 6)
        XCTAssertEqual(deviation, Float(5).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(frame.reduce(0, +), 0, accuracy: 1e-6)
        XCTAssertEqual(frame.reduce(0) { $0 + $1 * $1 } / 4, 1, accuracy: 1e-5)
    }
}
