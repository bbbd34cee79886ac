// Tests of Pooling.swift: max and average pooling against a plain loop over window offsets,
// PyTorch's rules for padding, ties and NaN, and backwards by finite differences.

import XCTest
@testable import ForesightCore

final class PoolingTests: XCTestCase {
    /// (kernelSize, stride, padding) cases: non-overlapping, overlapping, padded, stride 1.
    private let configurations = [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 1), (3, 3, 0)]
    private let batch = 2, channels = 2, height = 5, width = 6

    func testOutputExtent() {
        XCTAssertEqual(poolOutputExtent(input: 32, kernelSize: 2, stride: 2, padding: 0), 16)
        XCTAssertEqual(poolOutputExtent(input: 32, kernelSize: 3, stride: 2, padding: 1), 16)
        XCTAssertEqual(poolOutputExtent(input: 5, kernelSize: 2, stride: 2, padding: 0), 2)
        XCTAssertEqual(poolOutputExtent(input: 1, kernelSize: 3, stride: 1, padding: 1), 1)
    }

    /// Plain max pool over window offsets; padding is skipped, the first maximum (or NaN) wins.
    private func referenceMaxPool(_ x: [Float], _ kernelSize: Int, _ stride: Int, _ padding: Int) -> (values: [Float], positions: [Int32]) {
        let outputHeight = (height + 2 * padding - kernelSize) / stride + 1, outputWidth = (width + 2 * padding - kernelSize) / stride + 1
        var values: [Float] = [], positions: [Int32] = []
        for plane in 0..<(batch * channels) {
            for outputRow in 0..<outputHeight {
                for outputColumn in 0..<outputWidth {
                    var best: Float? = nil, bestPosition = -1
                    for offsetRow in 0..<kernelSize {
                        for offsetColumn in 0..<kernelSize {
                            let row = outputRow * stride - padding + offsetRow, column = outputColumn * stride - padding + offsetColumn
                            guard row >= 0, row < height, column >= 0, column < width else { continue }
                            let value = x[(plane * height + row) * width + column]
                            if best == nil || value > best! || value.isNaN { best = value; bestPosition = row * width + column }
                        }
                    }
                    values.append(best!)
                    positions.append(Int32(bestPosition))
                }
            }
        }
        return (values, positions)
    }

    private func outputCount(_ kernelSize: Int, _ stride: Int, _ padding: Int) -> Int {
        batch * channels * poolOutputExtent(input: height, kernelSize: kernelSize, stride: stride, padding: padding)
            * poolOutputExtent(input: width, kernelSize: kernelSize, stride: stride, padding: padding)
    }

    func testMaxPoolForwardMatchesReference() {
        let x = randomFloats(batch * channels * height * width, seed: 1)
        for (kernelSize, stride, padding) in configurations {
            let outputs = outputCount(kernelSize, stride, padding)
            var y = [Float](repeating: .nan, count: outputs)
            var argmax = [Int32](repeating: -1, count: outputs)
            maxPool2dForward(x, &y, argmax: &argmax, batch: batch, channels: channels, height: height, width: width,
                             kernelSize: kernelSize, stride: stride, padding: padding)
            let reference = referenceMaxPool(x, kernelSize, stride, padding)
            XCTAssertEqual(y, reference.values, "k \(kernelSize) s \(stride) p \(padding)")
            XCTAssertEqual(argmax, reference.positions, "k \(kernelSize) s \(stride) p \(padding)")
        }
    }

    func testMaxPoolPaddingNeverWinsTiesKeepFirstNaNWins() {
        // 1 x 1 x 2 x 2, window 2, stride 1, padding 1 -> 3 x 3 outputs.
        let x: [Float] = [-5, -5,
                          -7, .nan]
        var y = [Float](repeating: 0, count: 9)
        var argmax = [Int32](repeating: -1, count: 9)
        maxPool2dForward(x, &y, argmax: &argmax, batch: 1, channels: 1, height: 2, width: 2, kernelSize: 2, stride: 1, padding: 1)
        XCTAssertEqual(Array(y[0...2]), [-5, -5, -5], "padding counted as a zero would give 0")
        XCTAssertEqual(Array(argmax[0...2]), [0, 0, 1], "the tie in the middle window keeps position 0")
        XCTAssertEqual(y[3], -5)
        XCTAssertEqual(y[6], -7)
        for index in [4, 5, 7, 8] {
            XCTAssertTrue(y[index].isNaN, "window \(index) holds the NaN")
            XCTAssertEqual(argmax[index], 3)
        }
    }

    func testMaxPoolBackward() {
        // Distinct values 0.05 apart, so no +-0.01 step reorders a window.
        let size = batch * channels * height * width
        var random = SeededRandom(seed: 2)
        let x = (0..<size).map { Float($0) * 0.05 - 3 }.shuffled(using: &random)
        for (kernelSize, stride, padding) in configurations {
            let outputs = outputCount(kernelSize, stride, padding)
            func run(_ input: [Float]) -> (y: [Float], argmax: [Int32]) {
                var y = [Float](repeating: 0, count: outputs), argmax = [Int32](repeating: 0, count: outputs)
                maxPool2dForward(input, &y, argmax: &argmax, batch: batch, channels: channels, height: height, width: width,
                                 kernelSize: kernelSize, stride: stride, padding: padding)
                return (y, argmax)
            }
            checkGradients(inputs: [x], forward: { run($0[0]).y }, backward: { inputs, dy, gradients in
                maxPool2dBackward(dy: dy, argmax: run(inputs[0]).argmax, dx: gradients[0],
                                  batch: self.batch, channels: self.channels, height: self.height, width: self.width,
                                  kernelSize: kernelSize, stride: stride, padding: padding)
            })
        }
    }

    // MARK: - average pool

    func testAvgPoolCountsPaddedZeros() {
        // PyTorch: F.avg_pool2d(torch.ones(1, 1, 2, 2), 3, stride=1, padding=1) == 4/9 everywhere.
        var y = [Float](repeating: .nan, count: 4)
        avgPool2dForward([1, 1, 1, 1], &y, batch: 1, channels: 1, height: 2, width: 2, kernelSize: 3, stride: 1, padding: 1)
        assertClose(y, [Double](repeating: 4.0 / 9, count: 4), absolute: 1e-7, "avg pool with padding")
    }

    func testAvgPoolForwardMatchesReference() {
        let x = randomFloats(batch * channels * height * width, seed: 3)
        for (kernelSize, stride, padding) in configurations {
            var y = [Float](repeating: .nan, count: outputCount(kernelSize, stride, padding))
            avgPool2dForward(x, &y, batch: batch, channels: channels, height: height, width: width,
                             kernelSize: kernelSize, stride: stride, padding: padding)
            let outputHeight = poolOutputExtent(input: height, kernelSize: kernelSize, stride: stride, padding: padding)
            let outputWidth = poolOutputExtent(input: width, kernelSize: kernelSize, stride: stride, padding: padding)
            var expected: [Double] = []
            for plane in 0..<(batch * channels) {
                for outputRow in 0..<outputHeight {
                    for outputColumn in 0..<outputWidth {
                        var sum = 0.0
                        for offsetRow in 0..<kernelSize {
                            for offsetColumn in 0..<kernelSize {
                                let row = outputRow * stride - padding + offsetRow, column = outputColumn * stride - padding + offsetColumn
                                if row >= 0, row < height, column >= 0, column < width { sum += Double(x[(plane * height + row) * width + column]) }
                            }
                        }
                        expected.append(sum / Double(kernelSize * kernelSize))
                    }
                }
            }
            assertClose(y, expected, absolute: 1e-6, "k \(kernelSize) s \(stride) p \(padding)")
        }
    }

    func testAvgPoolBackward() {
        for (kernelSize, stride, padding) in configurations {
            let outputs = outputCount(kernelSize, stride, padding)
            checkGradients(inputs: [randomFloats(batch * channels * height * width, seed: 4)], forward: { inputs in
                var y = [Float](repeating: 0, count: outputs)
                avgPool2dForward(inputs[0], &y, batch: self.batch, channels: self.channels, height: self.height, width: self.width,
                                 kernelSize: kernelSize, stride: stride, padding: padding)
                return y
            }, backward: { _, dy, gradients in
                avgPool2dBackward(dy: dy, dx: gradients[0], batch: self.batch, channels: self.channels, height: self.height, width: self.width,
                                  kernelSize: kernelSize, stride: stride, padding: padding)
            })
        }
    }
}
