// Tests of Normalization.swift: softmax, layer norm and group norm against Double
// re-implementations, saved statistics, extreme inputs, and backwards by finite differences.

import Foundation
import XCTest
@testable import ForesightCore

final class NormalizationTests: XCTestCase {
    // MARK: - softmax

    private func referenceSoftmax(_ x: [Float], rows: Int, columns: Int) -> [Double] {
        var y: [Double] = []
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)].map(Double.init)
            let maximum = row.max()!
            let exps = row.map { Foundation.exp($0 - maximum) }
            let sum = exps.reduce(0, +)
            y += exps.map { $0 / sum }
        }
        return y
    }

    func testSoftmaxForward() {
        let (rows, columns) = (3, 37)
        let x = randomFloats(rows * columns, seed: 1, in: -6..<6)
        var y = [Float](repeating: .nan, count: x.count)
        softmaxForward(x, &y, rows: rows, columns: columns)
        assertClose(y, referenceSoftmax(x, rows: rows, columns: columns), absolute: 1e-9, relative: 1e-6, "softmax")
        for r in 0..<rows {
            XCTAssertEqual(y[(r * columns)..<((r + 1) * columns)].reduce(0, +), 1, accuracy: 1e-5)
        }
    }

    func testSoftmaxOfHugeLogitsStaysFinite() {
        let x: [Float] = [1e30, 0, -1e30,
                          3e38, 3e38, -3e38,
                          1000, 1000 + Float(Foundation.log(3.0)), -1000,
                          -.infinity, 0, -.infinity]
        var y = [Float](repeating: .nan, count: x.count)
        softmaxForward(x, &y, rows: 4, columns: 3)
        XCTAssertTrue(y.allSatisfy(\.isFinite), "\(y)")
        assertClose(y, referenceSoftmax(x, rows: 4, columns: 3), absolute: 1e-6, "huge logits")
        assertClose(y, [1, 0, 0, 0.5, 0.5, 0, 0.25, 0.75, 0, 0, 1, 0], absolute: 1e-4, "huge logits by hand")
    }

    func testSoftmaxEdgeRows() {
        var y: [Float] = [7, 7]
        softmaxForward([1, 2], &y, rows: 2, columns: 0)
        softmaxForward([1, 2], &y, rows: 0, columns: 2)
        XCTAssertEqual(y, [7, 7], "empty extents write nothing")
        softmaxForward([42], &y, rows: 1, columns: 1)
        XCTAssertEqual(y[0], 1)
        var nanRow = [Float](repeating: 0, count: 3)
        softmaxForward([0, .nan, 1], &nanRow, rows: 1, columns: 3)
        XCTAssertTrue(nanRow.allSatisfy(\.isNaN), "a NaN logit poisons its row: \(nanRow)")
    }

    func testSoftmaxBackward() {
        let (rows, columns) = (4, 19)
        checkGradients(inputs: [randomFloats(rows * columns, seed: 2, in: -3..<3)], forward: { inputs in
            var y = [Float](repeating: 0, count: rows * columns)
            softmaxForward(inputs[0], &y, rows: rows, columns: columns)
            return y
        }, backward: { inputs, dy, gradients in
            var y = [Float](repeating: 0, count: rows * columns)
            softmaxForward(inputs[0], &y, rows: rows, columns: columns)
            softmaxBackward(y: y, dy: dy, dx: gradients[0], rows: rows, columns: columns)
        })
    }

    // MARK: - layer norm

    /// Normalises each block of `size` consecutive values of `x` (Double, biased variance).
    private func referenceNormalize(_ x: [Float], blockSize: Int, epsilon: Double = 1e-5) -> (normalized: [Double], statistics: [Double]) {
        var normalized: [Double] = [], statistics: [Double] = []
        for start in stride(from: 0, to: x.count, by: blockSize) {
            let block = x[start..<(start + blockSize)].map(Double.init)
            let mean = block.reduce(0, +) / Double(blockSize)
            let variance = block.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(blockSize)
            let reciprocalStd = 1 / (variance + epsilon).squareRoot()
            normalized += block.map { ($0 - mean) * reciprocalStd }
            statistics += [mean, reciprocalStd]
        }
        return (normalized, statistics)
    }

    func testLayerNormForwardAndStatistics() {
        let (rows, columns) = (4, 37)
        let x = randomFloats(rows * columns, seed: 3, in: -2..<3)
        let gamma = randomFloats(columns, seed: 4, in: 0.5..<1.5), beta = randomFloats(columns, seed: 5)
        var y = [Float](repeating: .nan, count: x.count), statistics = [Float](repeating: .nan, count: 2 * rows)
        layerNormForward(x, &y, gamma: gamma, beta: beta, statistics: &statistics, rows: rows, columns: columns)
        let reference = referenceNormalize(x, blockSize: columns)
        let expected = reference.normalized.enumerated().map { index, value in
            value * Double(gamma[index % columns]) + Double(beta[index % columns])
        }
        assertClose(y, expected, absolute: 2e-6, relative: 2e-6, "layer norm")
        assertClose(statistics, reference.statistics, absolute: 1e-6, relative: 1e-6, "statistics")
    }

    func testLayerNormOfLargeOffsetRowKeepsPrecision() {
        // Mean 1000, spread 0.1: a one-pass E[x^2] - E[x]^2 in Float would lose the variance.
        let columns = 64
        let x = randomFloats(columns, seed: 6, in: -0.1..<0.1).map { 1000 + $0 }
        let ones = [Float](repeating: 1, count: columns), zeros = [Float](repeating: 0, count: columns)
        var y = [Float](repeating: .nan, count: columns), statistics: [Float] = [0, 0]
        layerNormForward(x, &y, gamma: ones, beta: zeros, statistics: &statistics, rows: 1, columns: columns)
        // Inputs are exact Floats; the error left is the Float mean's rounding (6e-5) over std 0.06.
        assertClose(y, referenceNormalize(x, blockSize: columns).normalized, absolute: 2e-3, "offset row")
    }

    func testLayerNormOfConstantRowGivesBeta() {
        let x = [Float](repeating: 3, count: 20), gamma = randomFloats(20, seed: 7), beta = randomFloats(20, seed: 8)
        var y = [Float](repeating: .nan, count: 20), statistics: [Float] = [0, 0]
        layerNormForward(x, &y, gamma: gamma, beta: beta, statistics: &statistics, rows: 1, columns: 20)
        XCTAssertEqual(y, beta)
        XCTAssertEqual(statistics[0], 3)
        XCTAssertEqual(statistics[1], Float(1 / (1e-5 as Double).squareRoot()), accuracy: 0.01)
    }

    func testLayerNormBackward() {
        let (rows, columns) = (3, 21)
        func run(_ inputs: [[Float]]) -> (y: [Float], statistics: [Float]) {
            var y = [Float](repeating: 0, count: rows * columns), statistics = [Float](repeating: 0, count: 2 * rows)
            layerNormForward(inputs[0], &y, gamma: inputs[1], beta: inputs[2], statistics: &statistics, rows: rows, columns: columns)
            return (y, statistics)
        }
        let inputs = [randomFloats(rows * columns, seed: 9, in: -2..<2), randomFloats(columns, seed: 10, in: 0.5..<1.5), randomFloats(columns, seed: 11)]
        checkGradients(inputs: inputs, forward: { run($0).y }, backward: { inputs, dy, gradients in
            layerNormBackward(x: inputs[0], gamma: inputs[1], statistics: run(inputs).statistics, dy: dy,
                              dx: gradients[0], dgamma: gradients[1], dbeta: gradients[2], rows: rows, columns: columns)
        })
    }

    // MARK: - group norm

    func testGroupNormForwardAndStatistics() {
        let (batch, channels, height, width) = (2, 6, 3, 5)
        let x = randomFloats(batch * channels * height * width, seed: 12, in: -1..<2)
        let gamma = randomFloats(channels, seed: 13, in: 0.5..<1.5), beta = randomFloats(channels, seed: 14)
        for groups in [1, 3, 6] {
            var y = [Float](repeating: .nan, count: x.count), statistics = [Float](repeating: .nan, count: 2 * batch * groups)
            groupNormForward(x, &y, gamma: gamma, beta: beta, statistics: &statistics,
                             batch: batch, channels: channels, height: height, width: width, groups: groups)
            // Each (n, group) is a contiguous block of channels / groups planes.
            let reference = referenceNormalize(x, blockSize: channels / groups * height * width)
            let expected = reference.normalized.enumerated().map { index, value in
                let channel = index / (height * width) % channels
                return value * Double(gamma[channel]) + Double(beta[channel])
            }
            assertClose(y, expected, absolute: 2e-6, relative: 2e-6, "group norm, \(groups) groups")
            assertClose(statistics, reference.statistics, absolute: 1e-6, relative: 1e-6, "statistics, \(groups) groups")
        }
    }

    func testGroupNormBackward() {
        let (batch, channels, height, width) = (2, 4, 3, 3)
        for groups in [1, 2, 4] {
            func run(_ inputs: [[Float]]) -> (y: [Float], statistics: [Float]) {
                var y = [Float](repeating: 0, count: inputs[0].count), statistics = [Float](repeating: 0, count: 2 * batch * groups)
                groupNormForward(inputs[0], &y, gamma: inputs[1], beta: inputs[2], statistics: &statistics,
                                 batch: batch, channels: channels, height: height, width: width, groups: groups)
                return (y, statistics)
            }
            let inputs = [randomFloats(batch * channels * height * width, seed: 15, in: -2..<2),
                          randomFloats(channels, seed: 16, in: 0.5..<1.5), randomFloats(channels, seed: 17)]
            checkGradients(inputs: inputs, forward: { run($0).y }, backward: { inputs, dy, gradients in
                groupNormBackward(x: inputs[0], gamma: inputs[1], statistics: run(inputs).statistics, dy: dy,
                                  dx: gradients[0], dgamma: gradients[1], dbeta: gradients[2],
                                  batch: batch, channels: channels, height: height, width: width, groups: groups)
            })
        }
    }
}
