// Tests of Activations.swift: the vectorised exp/tanh against Foundation, every forward against a
// scalar Double reference, every backward by finite differences, and edge inputs.

import Foundation
import XCTest
@testable import ForesightCore

final class ActivationsTests: XCTestCase {
    /// Sizes that exercise whole vectors and every kind of tail.
    private let count = 53

    // MARK: - fast exp and tanh against Foundation

    func testVectorExpWithinStatedErrorOfFoundation() {
        // Stated bound: relative error below 2.5e-7 on [-87, 88].
        var worst = 0.0
        var start = -87.0
        while start + 16 * 0.0004 <= 88 {
            var lanes = SIMD16<Float>()
            for lane in 0..<16 { lanes[lane] = Float(start + Double(lane) * 0.0004) }
            let result = vectorExp(lanes)
            for lane in 0..<16 {
                let reference = Foundation.exp(Double(lanes[lane]))
                worst = max(worst, abs(Double(result[lane]) - reference) / reference)
            }
            start += 0.0111
        }
        XCTAssertLessThan(worst, 2.5e-7)
        XCTAssertEqual(vectorExp(SIMD16(repeating: 0))[0], 1)
    }

    func testVectorExpSaturatesAndKeepsNaN() {
        var lanes = SIMD16<Float>(repeating: 0)
        lanes[0] = -1000; lanes[1] = 1000; lanes[2] = -.infinity; lanes[3] = .infinity; lanes[4] = .nan
        let result = vectorExp(lanes)
        XCTAssertEqual(result[0], vectorExp(SIMD16(repeating: -87))[0])
        XCTAssertGreaterThan(result[0], 0)
        XCTAssertEqual(result[1], vectorExp(SIMD16(repeating: 88))[0])
        XCTAssertTrue(result[1].isFinite)
        XCTAssertEqual(result[2], result[0])
        XCTAssertEqual(result[3], result[1])
        XCTAssertTrue(result[4].isNaN)
    }

    func testVectorTanhWithinStatedErrorOfFoundation() {
        // Stated bound: relative error below 2.5e-7; the sweep crosses the 0.625 branch point.
        var worst = 0.0
        var start = -12.0
        while start <= 12 {
            var lanes = SIMD16<Float>()
            for lane in 0..<16 { lanes[lane] = Float(start + Double(lane) * 0.0001) }
            let result = vectorTanh(lanes)
            for lane in 0..<16 {
                let reference = Foundation.tanh(Double(lanes[lane]))
                guard reference != 0 else { XCTAssertEqual(result[lane], 0); continue }
                worst = max(worst, abs(Double(result[lane]) - reference) / abs(reference))
            }
            start += 0.00317
        }
        XCTAssertLessThan(worst, 2.5e-7)
        XCTAssertEqual(vectorTanh(SIMD16(repeating: 1e-20))[0], 1e-20)
    }

    // MARK: - forwards against scalar references

    func testReluForward() {
        let x = randomFloats(count, seed: 1, in: -2..<2) + [0, -0.0]
        var y = [Float](repeating: .nan, count: x.count)
        reluForward(x, &y, count: x.count)
        assertClose(y, x.map { Double(max($0, 0)) }, absolute: 0, "relu")
    }

    func testLeakyReluForward() {
        let x = randomFloats(count, seed: 2, in: -2..<2)
        var y = [Float](repeating: .nan, count: count)
        leakyReluForward(x, &y, count: count, slope: 0.1)
        assertClose(y, x.map { $0 < 0 ? Double($0) * Double(Float(0.1)) : Double($0) }, absolute: 0, relative: 1e-7, "leaky relu")
    }

    func testGeluForwardMatchesTanhFormula() {
        // Hand values from 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in Python's math.
        let x: [Float] = [1, -1, 0.5, -3, 3, 0]
        var y = [Float](repeating: .nan, count: x.count)
        geluForward(x, &y, count: x.count)
        assertClose(y, [0.8411919906082768, -0.15880800939172324, 0.34571400982514394, -0.0036373920817729943, 2.996362607918227, 0],
                    absolute: 0, relative: 1e-6, "gelu hand values")

        // A Double re-implementation over [-8, 8], written as 0.5 (1 + tanh u) = e^2u / (1 + e^2u):
        // the tanh form cancels to nothing even in Double once x < -6. The Float rounding of u is
        // amplified by e^2u: relative error up to about |2u| * 6e-8, so 5e-6 at x = -8.
        let sweep = randomFloats(count, seed: 3, in: -8..<8)
        var swept = [Float](repeating: .nan, count: count)
        geluForward(sweep, &swept, count: count)
        let reference = sweep.map { value -> Double in
            let x = Double(value)
            let twiceInner = 2 * (2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)
            return x * Foundation.exp(twiceInner) / (1 + Foundation.exp(twiceInner))
        }
        assertClose(swept, reference, absolute: 1e-30, relative: 5e-6, "gelu sweep")
    }

    func testSigmoidForward() {
        let x = randomFloats(count, seed: 4, in: -80..<80)
        var y = [Float](repeating: .nan, count: count)
        sigmoidForward(x, &y, count: count)
        assertClose(y, x.map { 1 / (1 + Foundation.exp(-Double($0))) }, absolute: 0, relative: 3e-7, "sigmoid")
    }

    func testTanhForward() {
        let x = randomFloats(count, seed: 5, in: -5..<5)
        var y = [Float](repeating: .nan, count: count)
        tanhForward(x, &y, count: count)
        assertClose(y, x.map { Foundation.tanh(Double($0)) }, absolute: 0, relative: 2.5e-7, "tanh")
    }

    func testEveryTailLengthMatchesTheVectorBody() {
        // The same values, run at every length 1...33, must give the same prefix each time.
        let x = randomFloats(33, seed: 6, in: -4..<4)
        var full = [Float](repeating: 0, count: 33)
        geluForward(x, &full, count: 33)
        for length in 1...33 {
            var part = [Float](repeating: .nan, count: 33)
            geluForward(x, &part, count: length)
            XCTAssertEqual(Array(part[..<length]), Array(full[..<length]), "length \(length)")
            XCTAssertTrue(part[length...].allSatisfy(\.isNaN), "length \(length) wrote past its end")
        }
    }

    // MARK: - edges

    func testZeroCountWritesNothing() {
        let x: [Float] = [1, 2]
        var y: [Float] = [7, 7]
        reluForward(x, &y, count: 0)
        sigmoidForward(x, &y, count: 0)
        reluBackward(x: x, dy: x, dx: &y, count: 0)
        XCTAssertEqual(y, [7, 7])
    }

    func testInPlaceForward() {
        var values = randomFloats(count, seed: 7, in: -3..<3)
        var expected = [Float](repeating: 0, count: count)
        tanhForward(values, &expected, count: count)
        values.withUnsafeMutableBufferPointer { buffer in
            tanhForward(buffer.baseAddress!, buffer.baseAddress!, count: count)
        }
        XCTAssertEqual(values, expected)
    }

    func testExtremeInputsStayFiniteAndNaNPropagates() {
        let x: [Float] = [-1e30, -100, 100, 1e30, -.infinity, .infinity, .nan]
        var sigmoid = [Float](repeating: 0, count: x.count), tanh = sigmoid, gelu = sigmoid, relu = sigmoid
        sigmoidForward(x, &sigmoid, count: x.count)
        tanhForward(x, &tanh, count: x.count)
        geluForward(x, &gelu, count: x.count)
        reluForward(x, &relu, count: x.count)
        for i in 0..<6 {
            XCTAssertTrue(sigmoid[i] >= 0 && sigmoid[i] <= 1, "sigmoid(\(x[i])) = \(sigmoid[i])")
            XCTAssertEqual(abs(tanh[i]), 1, "tanh(\(x[i])) = \(tanh[i])")
        }
        XCTAssertEqual(sigmoid[3], 1)
        XCTAssertLessThan(sigmoid[0], 1e-37)
        XCTAssertEqual(gelu[3], 1e30)
        XCTAssertEqual(gelu[2], 100)
        XCTAssertEqual(abs(gelu[1]), 0, accuracy: 1e-30)
        XCTAssertTrue(gelu[0].isFinite && abs(gelu[0]) < 1e-6, "gelu(-1e30) = \(gelu[0])")
        XCTAssertTrue(sigmoid[6].isNaN && tanh[6].isNaN && gelu[6].isNaN && relu[6].isNaN)
    }

    // MARK: - gradients

    func testReluBackward() {
        checkGradients(inputs: [randomFloatsAwayFromZero(count, seed: 8)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            reluForward(inputs[0], &y, count: self.count)
            return y
        }, backward: { inputs, dy, gradients in
            reluBackward(x: inputs[0], dy: dy, dx: gradients[0], count: self.count)
        })
    }

    func testLeakyReluBackward() {
        checkGradients(inputs: [randomFloatsAwayFromZero(count, seed: 9)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            leakyReluForward(inputs[0], &y, count: self.count, slope: 0.2)
            return y
        }, backward: { inputs, dy, gradients in
            leakyReluBackward(x: inputs[0], dy: dy, dx: gradients[0], count: self.count, slope: 0.2)
        })
    }

    func testGeluBackward() {
        checkGradients(inputs: [randomFloats(count, seed: 10, in: -4..<4)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            geluForward(inputs[0], &y, count: self.count)
            return y
        }, backward: { inputs, dy, gradients in
            geluBackward(x: inputs[0], dy: dy, dx: gradients[0], count: self.count)
        })
    }

    func testSigmoidBackward() {
        checkGradients(inputs: [randomFloats(count, seed: 11, in: -5..<5)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            sigmoidForward(inputs[0], &y, count: self.count)
            return y
        }, backward: { inputs, dy, gradients in
            var y = [Float](repeating: 0, count: self.count)
            sigmoidForward(inputs[0], &y, count: self.count)
            sigmoidBackward(y: y, dy: dy, dx: gradients[0], count: self.count)
        })
    }

    func testTanhBackward() {
        checkGradients(inputs: [randomFloats(count, seed: 12, in: -3..<3)], forward: { inputs in
            var y = [Float](repeating: 0, count: self.count)
            tanhForward(inputs[0], &y, count: self.count)
            return y
        }, backward: { inputs, dy, gradients in
            var y = [Float](repeating: 0, count: self.count)
            tanhForward(inputs[0], &y, count: self.count)
            tanhBackward(y: y, dy: dy, dx: gradients[0], count: self.count)
        })
    }
}
