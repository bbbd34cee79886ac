// The float32 NHWC twin of the int8 convolution (encoder inference): the AVX-512 tile is
// bit-identical to the portable one, the direct and Winograd paths agree with the project's
// float32 convolution within float rounding, and layout conversions round-trip.

import XCTest
@testable import ForesightCore

final class QuantizedFloatTwinTests: XCTestCase {
    private func run(_ g: Conv2dGeometry, winograd: Bool, path: FloatKernelPath, relu: Bool, seed: UInt64) -> (nhwc: [Float], reference: [Float]) {
        var rng = SeededRandom(seed: seed)
        let x = (0..<(g.batch * g.inChannels * g.height * g.width)).map { _ in rng.nextFloat(in: -1..<1) }
        let w = (0..<(g.outChannels * g.inChannels * 9)).map { _ in rng.nextFloat(in: -0.3..<0.3) }
        let b = (0..<g.outChannels).map { _ in rng.nextFloat(in: -0.2..<0.2) }
        let layer = FloatConv2dNHWC(g, weights: w, bias: b, relu: relu, outputBorder: 1)
        layer.winogradEnabled = winograd
        var input = [Float](repeating: 0, count: g.batch * layer.inputLayout.sampleFloats)
        var output = [Float](repeating: 0, count: g.batch * layer.outputLayout.sampleFloats)
        nchwToNHWC(x, batch: g.batch, layer.inputLayout, into: &input)
        layer.forward(x: input, y: &output, path: path, chunk: 0, of: 2)
        layer.forward(x: input, y: &output, path: path, chunk: 1, of: 2)
        var nchw = [Float](repeating: 0, count: g.batch * g.outChannels * g.outHeight * g.outWidth)
        nhwcToNCHW(output, batch: g.batch, layer.outputLayout, into: &nchw)
        var reference = nchw
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Conv2dScratch.floatCount(g, threads: 1))
        defer { scratch.deallocate() }
        conv2dForward(g, x: x, weight: w, bias: b, y: &reference, scratch: scratch, chunk: 0, of: 1)
        if relu { reference = reference.map { max($0, 0) } }
        return (nchw, reference)
    }

    func testDirectAndWinogradAgreeWithTheFloatConvolution() throws {
        for (g, relu) in [
            (try Conv2dGeometry(batch: 2, inChannels: 32, height: 8, width: 12, outChannels: 32, kernel: 3, stride: 1, padding: 1), true),
            (try Conv2dGeometry(batch: 1, inChannels: 16, height: 6, width: 6, outChannels: 48, kernel: 3, stride: 1, padding: 1), false),
            (try Conv2dGeometry(batch: 1, inChannels: 4, height: 9, width: 13, outChannels: 16, kernel: 3, stride: 2, padding: 1), true),
            (try Conv2dGeometry(batch: 1, inChannels: 3, height: 7, width: 7, outChannels: 5, kernel: 3, stride: 1, padding: 1), false),
        ] {
            for winograd in [false, true] {
                let (got, expected) = run(g, winograd: winograd, path: .best, relu: relu, seed: 3)
                let largest = expected.map(abs).max()!
                let worst = zip(got, expected).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(worst, 1e-5 * max(1, largest), "\(g) winograd \(winograd)")
            }
        }
        XCTAssertTrue(FloatConv2dNHWC(try Conv2dGeometry(batch: 1, inChannels: 32, height: 16, width: 16, outChannels: 32, kernel: 3, padding: 1),
                                      weights: [Float](repeating: 0, count: 32 * 32 * 9), bias: nil, relu: false, outputBorder: 0).usesWinograd)
    }

    func testEveryFloatPathGivesIdenticalBits() throws {
        let g = try Conv2dGeometry(batch: 1, inChannels: 16, height: 10, width: 11, outChannels: 40, kernel: 3, stride: 1, padding: 1)
        for winograd in [false, true] {
            let reference = run(g, winograd: winograd, path: .portable, relu: true, seed: 4).nhwc
            for path in FloatKernelPath.available {
                XCTAssertEqual(run(g, winograd: winograd, path: path, relu: true, seed: 4).nhwc, reference, "\(path) winograd \(winograd)")
            }
        }
    }
}
