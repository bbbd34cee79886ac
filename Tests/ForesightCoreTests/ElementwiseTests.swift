// Tests of Elementwise.swift: forwards against scalar loops, backwards by finite differences,
// accumulation into shared gradients, aliasing and zero sizes.

import XCTest
@testable import ForesightCore

final class ElementwiseTests: XCTestCase {
    private let count = 37

    // MARK: - add, mul, scale

    func testAddForward() {
        let a = randomFloats(count, seed: 1), b = randomFloats(count, seed: 2)
        var y = [Float](repeating: .nan, count: count)
        addForward(a, b, &y, count: count)
        assertClose(y, zip(a, b).map { $0 + $1 }, absolute: 0, "add")
    }

    func testAddBackward() {
        checkGradients(inputs: [randomFloats(count, seed: 3), randomFloats(count, seed: 4)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            addForward(inputs[0], inputs[1], &y, count: self.count)
            return y
        }, backward: { _, dy, gradients in
            addBackward(dy: dy, da: gradients[0], db: gradients[1], count: self.count)
        })
    }

    func testAddOfATensorToItselfGetsTwiceTheGradient() {
        let dy = randomFloats(count, seed: 5)
        var gradient = [Float](repeating: 1, count: count)
        gradient.withUnsafeMutableBufferPointer { buffer in
            addBackward(dy: dy, da: buffer.baseAddress!, db: buffer.baseAddress!, count: count)
        }
        assertClose(gradient, dy.map { 1 + 2 * $0 }, absolute: 1e-6, "x + x")
    }

    func testMulForward() {
        let a = randomFloats(count, seed: 6), b = randomFloats(count, seed: 7)
        var y = [Float](repeating: .nan, count: count)
        mulForward(a, b, &y, count: count)
        assertClose(y, zip(a, b).map { $0 * $1 }, absolute: 0, "mul")
    }

    func testMulBackward() {
        checkGradients(inputs: [randomFloats(count, seed: 8, in: -2..<2), randomFloats(count, seed: 9, in: -2..<2)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            mulForward(inputs[0], inputs[1], &y, count: self.count)
            return y
        }, backward: { inputs, dy, gradients in
            mulBackward(a: inputs[0], b: inputs[1], dy: dy, da: gradients[0], db: gradients[1], count: self.count)
        })
    }

    func testSquareThroughMulWithAliasedOperandsAndGradients() {
        // y = x * x: both operands and both gradients are the same buffers; dx must be 2 x dy.
        checkGradients(inputs: [randomFloats(count, seed: 10, in: -2..<2)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            mulForward(inputs[0], inputs[0], &y, count: self.count)
            return y
        }, backward: { inputs, dy, gradients in
            mulBackward(a: inputs[0], b: inputs[0], dy: dy, da: gradients[0], db: gradients[0], count: self.count)
        })
    }

    func testScaleForwardAndBackward() {
        let x = randomFloats(count, seed: 11)
        var y = [Float](repeating: .nan, count: count)
        scaleForward(x, &y, count: count, factor: -2.5)
        assertClose(y, x.map { -2.5 * $0 }, absolute: 0, "scale")
        checkGradients(inputs: [x], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            scaleForward(inputs[0], &y, count: self.count, factor: -2.5)
            return y
        }, backward: { _, dy, gradients in
            scaleBackward(dy: dy, dx: gradients[0], count: self.count, factor: -2.5)
        })
    }

    func testZeroCountTouchesNothing() {
        let a: [Float] = [1], b: [Float] = [2]
        var y: [Float] = [9]
        addForward(a, b, &y, count: 0)
        mulForward(a, b, &y, count: 0)
        scaleForward(a, &y, count: 0, factor: 3)
        scaleBackward(dy: a, dx: &y, count: 0, factor: 3)
        XCTAssertEqual(y, [9])
    }

    // MARK: - per-channel bias

    private let batch = 2, channels = 3, height = 5, width = 7

    func testAddBiasForward() {
        let x = randomFloats(batch * channels * height * width, seed: 12)
        let bias: [Float] = [0.5, -1, 2]
        var y = x
        addBiasForward(&y, bias: bias, batch: batch, channels: channels, height: height, width: width)
        var expected = x
        for n in 0..<batch {
            for c in 0..<channels {
                for pixel in 0..<(height * width) { expected[(n * channels + c) * height * width + pixel] += bias[c] }
            }
        }
        assertClose(y, expected, absolute: 0, "bias")
    }

    func testAddBiasBackward() {
        // Inputs: the tensor and the bias; the tensor's gradient is dy passed on by the caller.
        let size = batch * channels * height * width
        checkGradients(inputs: [randomFloats(size, seed: 13), randomFloats(channels, seed: 14)], forward: { inputs in
            var y = inputs[0]
            addBiasForward(&y, bias: inputs[1], batch: self.batch, channels: self.channels, height: self.height, width: self.width)
            return y
        }, backward: { _, dy, gradients in
            for i in 0..<size { gradients[0][i] += dy[i] }
            addBiasBackward(dy: dy, dbias: gradients[1], batch: self.batch, channels: self.channels, height: self.height, width: self.width)
        })
    }

    func testBiasGradientOfALargePlaneIsAccurate() {
        // 2 x 300 x 300 ones per channel: the Double folding keeps the sum exact.
        let plane = 300 * 300
        let dy = [Float](repeating: 1, count: 2 * 2 * plane)
        var dbias: [Float] = [10, 20]
        addBiasBackward(dy: dy, dbias: &dbias, batch: 2, channels: 2, height: 300, width: 300)
        XCTAssertEqual(dbias, [10 + Float(2 * plane), 20 + Float(2 * plane)])
    }

    // MARK: - channel concatenation

    func testConcatChannelsForward() {
        let first = randomFloats(batch * 2 * height * width, seed: 15), second = randomFloats(batch * 3 * height * width, seed: 16)
        var y = [Float](repeating: .nan, count: batch * 5 * height * width)
        concatChannelsForward(first, second, &y, batch: batch, firstChannels: 2, secondChannels: 3, height: height, width: width)
        let plane = height * width
        var expected: [Float] = []
        for n in 0..<batch {
            expected += first[(n * 2 * plane)..<((n + 1) * 2 * plane)]
            expected += second[(n * 3 * plane)..<((n + 1) * 3 * plane)]
        }
        XCTAssertEqual(y, expected)
    }

    func testConcatChannelsBackward() {
        checkGradients(inputs: [randomFloats(batch * 2 * 3 * 3, seed: 17), randomFloats(batch * 1 * 3 * 3, seed: 18)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.batch * 3 * 3 * 3)
            concatChannelsForward(inputs[0], inputs[1], &y, batch: self.batch, firstChannels: 2, secondChannels: 1, height: 3, width: 3)
            return y
        }, backward: { _, dy, gradients in
            concatChannelsBackward(dy: dy, dfirst: gradients[0], dsecond: gradients[1],
                                   batch: self.batch, firstChannels: 2, secondChannels: 1, height: 3, width: 3)
        })
    }

    func testConcatWithAnEmptySide() {
        let first = randomFloats(2 * 4, seed: 19)
        var y = [Float](repeating: .nan, count: 2 * 4)
        concatChannelsForward(first, [], &y, batch: 2, firstChannels: 1, secondChannels: 0, height: 2, width: 2)
        XCTAssertEqual(y, first)
    }
}
