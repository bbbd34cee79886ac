// Tests of Upsample.swift: nearest and bilinear 2x against hand values and PyTorch's general
// source-index formula re-implemented in Double, backwards by finite differences.

import XCTest
@testable import ForesightCore

final class UpsampleTests: XCTestCase {
    // MARK: - nearest

    func testNearestHandCase() {
        let x: [Float] = [1, 2, 3,
                          4, 5, 6]
        var y = [Float](repeating: .nan, count: 24)
        upsampleNearest2xForward(x, &y, batch: 1, channels: 1, height: 2, width: 3)
        XCTAssertEqual(y, [1, 1, 2, 2, 3, 3,
                           1, 1, 2, 2, 3, 3,
                           4, 4, 5, 5, 6, 6,
                           4, 4, 5, 5, 6, 6])
    }

    func testNearestWideRowsMatchScalarLoop() {
        // Width 19: two 8-pixel vectors and a 3-pixel tail, over 2 x 3 planes.
        let (batch, channels, height, width) = (2, 3, 4, 19)
        let x = randomFloats(batch * channels * height * width, seed: 1)
        var y = [Float](repeating: .nan, count: 4 * x.count)
        upsampleNearest2xForward(x, &y, batch: batch, channels: channels, height: height, width: width)
        var expected = [Float](repeating: 0, count: y.count)
        for plane in 0..<(batch * channels) {
            for row in 0..<(2 * height) {
                for column in 0..<(2 * width) {
                    expected[(plane * 2 * height + row) * 2 * width + column] = x[(plane * height + row / 2) * width + column / 2]
                }
            }
        }
        XCTAssertEqual(y, expected)
    }

    func testNearestBackward() {
        let (batch, channels, height, width) = (1, 2, 3, 19)
        checkGradients(inputs: [randomFloats(batch * channels * height * width, seed: 2)], forward: { inputs in
            var y = [Float](repeating: 0, count: 4 * inputs[0].count)
            upsampleNearest2xForward(inputs[0], &y, batch: batch, channels: channels, height: height, width: width)
            return y
        }, backward: { _, dy, gradients in
            upsampleNearest2xBackward(dy: dy, dx: gradients[0], batch: batch, channels: channels, height: height, width: width)
        })
    }

    // MARK: - bilinear

    func testBilinearHandCaseFromPyTorch() {
        // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), scale_factor=2, mode='bilinear', align_corners=False)
        var y = [Float](repeating: .nan, count: 16)
        upsampleBilinear2xForward([1, 2, 3, 4], &y, batch: 1, channels: 1, height: 2, width: 2)
        XCTAssertEqual(y, [1.00, 1.25, 1.75, 2.00,
                           1.50, 1.75, 2.25, 2.50,
                           2.50, 2.75, 3.25, 3.50,
                           3.00, 3.25, 3.75, 4.00])
    }

    /// PyTorch's upsample_bilinear2d for align_corners = false, in Double: source coordinate
    /// max((o + 0.5) * scale - 0.5, 0) with scale = 1/2, neighbour index clamped at the edge.
    private func pyTorchBilinear(_ x: [Float], planes: Int, height: Int, width: Int) -> [Double] {
        func taps(_ output: Int, _ extent: Int) -> (Int, Int, Double, Double) {
            let source = max((Double(output) + 0.5) * 0.5 - 0.5, 0)
            let first = Int(source)
            let second = first < extent - 1 ? first + 1 : first
            let secondWeight = source - Double(first)
            return (first, second, 1 - secondWeight, secondWeight)
        }
        var y: [Double] = []
        for plane in 0..<planes {
            func pixel(_ row: Int, _ column: Int) -> Double { Double(x[(plane * height + row) * width + column]) }
            for outputRow in 0..<(2 * height) {
                let (top, bottom, topWeight, bottomWeight) = taps(outputRow, height)
                for outputColumn in 0..<(2 * width) {
                    let (left, right, leftWeight, rightWeight) = taps(outputColumn, width)
                    y.append(topWeight * (leftWeight * pixel(top, left) + rightWeight * pixel(top, right))
                             + bottomWeight * (leftWeight * pixel(bottom, left) + rightWeight * pixel(bottom, right)))
                }
            }
        }
        return y
    }

    func testBilinearMatchesPyTorchFormula() {
        for (height, width) in [(3, 5), (1, 1), (1, 4), (6, 1), (4, 9)] {
            let planes = 3
            let x = randomFloats(planes * height * width, seed: UInt64(height * 100 + width), in: -4..<4)
            var y = [Float](repeating: .nan, count: 4 * x.count)
            upsampleBilinear2xForward(x, &y, batch: 1, channels: planes, height: height, width: width)
            assertClose(y, pyTorchBilinear(x, planes: planes, height: height, width: width), absolute: 2e-6, "bilinear \(height)x\(width)")
        }
    }

    func testBilinearBackward() {
        for (height, width) in [(3, 5), (1, 1), (2, 1)] {
            let (batch, channels) = (2, 2)
            checkGradients(inputs: [randomFloats(batch * channels * height * width, seed: 3)], forward: { inputs in
                var y = [Float](repeating: 0, count: 4 * inputs[0].count)
                upsampleBilinear2xForward(inputs[0], &y, batch: batch, channels: channels, height: height, width: width)
                return y
            }, backward: { _, dy, gradients in
                upsampleBilinear2xBackward(dy: dy, dx: gradients[0], batch: batch, channels: channels, height: height, width: width)
            })
        }
    }

    func testEmptyBatchWritesNothing() {
        var y: [Float] = [5]
        upsampleNearest2xForward([1], &y, batch: 0, channels: 1, height: 1, width: 1)
        upsampleBilinear2xForward([1], &y, batch: 0, channels: 1, height: 1, width: 1)
        upsampleBilinear2xBackward(dy: [1, 1, 1, 1], dx: &y, batch: 1, channels: 0, height: 1, width: 1)
        XCTAssertEqual(y, [5])
    }
}
