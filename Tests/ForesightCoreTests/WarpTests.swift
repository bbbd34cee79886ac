// Bilinear warping: exact on integer shifts, interpolates between pixels, clamps at the
// border, and its gradients match finite differences away from pixel boundaries.

import XCTest
@testable import ForesightCore

final class WarpTests: XCTestCase {
    private func warp(_ image: [Float], _ flow: [Float], channels: Int, height: Int, width: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: image.count)
        warpBilinearForward(image: image, imageBatchStride: channels * height * width, flow: flow, out: &out,
                            batch: image.count / (channels * height * width), channels: channels, height: height, width: width)
        return out
    }

    func testIntegerShiftMovesPixelsAndClampsAtTheBorder() {
        let image: [Float] = [1, 2, 3, 4, 5, 6] // 2 x 3
        let shiftRight = [Float](repeating: 1, count: 6) + [Float](repeating: 0, count: 6)
        XCTAssertEqual(warp(image, shiftRight, channels: 1, height: 2, width: 3), [2, 3, 3, 5, 6, 6])
        let half = [Float](repeating: 0.5, count: 6) + [Float](repeating: 0, count: 6)
        XCTAssertEqual(warp(image, half, channels: 1, height: 2, width: 3), [1.5, 2.5, 3, 4.5, 5.5, 6])
        let down = [Float](repeating: 0, count: 6) + [Float](repeating: 1, count: 6)
        XCTAssertEqual(warp(image, down, channels: 1, height: 2, width: 3), [4, 5, 6, 4, 5, 6])
    }

    func testGradientsMatchFiniteDifferences() {
        var rng = SeededRandom(seed: 21)
        let batch = 2, channels = 2, height = 5, width = 6, plane = height * width
        let image = (0..<(batch * channels * plane)).map { _ in rng.nextFloat() }
        // Displacements kept 0.2..0.8 px away from whole pixels, where bilinear sampling has kinks.
        let flow = (0..<(batch * 2 * plane)).map { _ -> Float in
            Float(rng.nextInt(below: 5) - 2) + rng.nextFloat(in: 0.2..<0.8)
        }
        checkGradients(inputs: [image, flow], forward: { inputs in
            warp(inputs[0], inputs[1], channels: channels, height: height, width: width)
        }) { inputs, dy, gradients in
            warpBilinearBackward(image: inputs[0], imageBatchStride: channels * plane, flow: inputs[1], dy: dy,
                                 dflow: gradients[1], dimage: gradients[0], batch: batch, channels: channels, height: height, width: width)
        }
    }
}
