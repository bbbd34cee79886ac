// Tests of Losses.swift: each loss against hand values and a Double re-implementation, extreme
// logits, and backwards (with the upstream scale) by finite differences.

import Foundation
import XCTest
@testable import ForesightCore

final class LossesTests: XCTestCase {
    private let count = 37

    // MARK: - mean squared error

    func testMeanSquaredErrorForward() {
        XCTAssertEqual(meanSquaredErrorForward([1, 2, 3], [0, 2, 5], count: 3), 5.0 / 3, accuracy: 1e-7)
        let prediction = randomFloats(count, seed: 1), target = randomFloats(count, seed: 2)
        let reference = zip(prediction, target).map { pow(Double($0) - Double($1), 2) }.reduce(0, +) / Double(count)
        XCTAssertEqual(Double(meanSquaredErrorForward(prediction, target, count: count)), reference, accuracy: 1e-7)
    }

    func testMeanSquaredDifferenceOfFramesAndOfNothing() {
        // 37 values: four eight-lane blocks and a tail of five.
        let a = randomFloats(count, seed: 3), b = randomFloats(count, seed: 4)
        let reference = zip(a, b).map { pow(Double($0) - Double($1), 2) }.reduce(0, +) / Double(count)
        XCTAssertEqual(Double(meanSquaredDifference(a, b, count: count)), reference, accuracy: 1e-7)
        XCTAssertEqual(meanSquaredDifference(a, a, count: count), 0)
        XCTAssertEqual(meanSquaredDifference(a, b, count: 0), 0)
    }

    func testMeanSquaredErrorBackward() {
        checkGradients(inputs: [randomFloats(count, seed: 3), randomFloats(count, seed: 4)], checkedInputs: [0], forward: { inputs in
            [meanSquaredErrorForward(inputs[0], inputs[1], count: self.count)]
        }, backward: { inputs, dy, gradients in
            meanSquaredErrorBackward(prediction: inputs[0], target: inputs[1], dprediction: gradients[0], count: self.count, scale: dy[0])
        })
    }

    // MARK: - mean absolute error

    func testMeanAbsoluteErrorForward() {
        XCTAssertEqual(meanAbsoluteErrorForward([1, 2, 3], [0, 2, 5], count: 3), 1, accuracy: 1e-7)
        let prediction = randomFloats(count, seed: 5), target = randomFloats(count, seed: 6)
        let reference = zip(prediction, target).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(count)
        XCTAssertEqual(Double(meanAbsoluteErrorForward(prediction, target, count: count)), reference, accuracy: 1e-7)
    }

    func testMeanAbsoluteErrorBackward() {
        // Prediction at least 0.1 from the target: the kink at 0 is farther than the step.
        let target = randomFloats(count, seed: 7)
        let prediction = zip(target, randomFloatsAwayFromZero(count, seed: 8)).map { $0 + $1 }
        checkGradients(inputs: [prediction, target], checkedInputs: [0], forward: { inputs in
            [meanAbsoluteErrorForward(inputs[0], inputs[1], count: self.count)]
        }, backward: { inputs, dy, gradients in
            meanAbsoluteErrorBackward(prediction: inputs[0], target: inputs[1], dprediction: gradients[0], count: self.count, scale: dy[0])
        })
    }

    func testMeanAbsoluteErrorGradientIsZeroWhereExact() {
        var gradient: [Float] = [0, 0, 0]
        meanAbsoluteErrorBackward(prediction: [1, 2, 3], target: [0, 2, 5], dprediction: &gradient, count: 3, scale: 3)
        XCTAssertEqual(gradient, [1, 0, -1])
    }

    // MARK: - cross-entropy

    private func referenceCrossEntropy(_ logits: [Float], _ targets: [Int32], rows: Int, classes: Int) -> Double {
        var total = 0.0
        for n in 0..<rows {
            let row = logits[(n * classes)..<((n + 1) * classes)].map(Double.init)
            let maximum = row.max()!
            total += maximum + Foundation.log(row.map { Foundation.exp($0 - maximum) }.reduce(0, +)) - row[Int(targets[n])]
        }
        return total / Double(rows)
    }

    func testCrossEntropyForwardAndStatistics() {
        var statistics: [Float] = [0, 0]
        XCTAssertEqual(crossEntropyForward(logits: [0, 0], targets: [0], statistics: &statistics, rows: 1, classes: 2),
                       Float(Foundation.log(2.0)), accuracy: 1e-7)
        // log(e + e^2 + e^3) - 3
        XCTAssertEqual(crossEntropyForward(logits: [1, 2, 3], targets: [2], statistics: &statistics, rows: 1, classes: 3),
                       0.407_605_96, accuracy: 1e-7)
        XCTAssertEqual(statistics[0], 3)
        XCTAssertEqual(statistics[1], Float(Foundation.log(Foundation.exp(-2.0) + Foundation.exp(-1.0) + 1)), accuracy: 1e-7)

        let (rows, classes) = (5, 21)
        let logits = randomFloats(rows * classes, seed: 9, in: -5..<5)
        let targets: [Int32] = [0, 20, 7, 7, 13]
        var saved = [Float](repeating: 0, count: 2 * rows)
        let loss = crossEntropyForward(logits: logits, targets: targets, statistics: &saved, rows: rows, classes: classes)
        XCTAssertEqual(Double(loss), referenceCrossEntropy(logits, targets, rows: rows, classes: classes), accuracy: 1e-6)
    }

    func testCrossEntropyOfHugeLogitsStaysFinite() {
        let logits: [Float] = [1e4, 0, -1e4,
                               1e4, 0, -1e4,
                               1e30, -1e30, 0]
        var statistics = [Float](repeating: 0, count: 6)
        XCTAssertEqual(crossEntropyForward(logits: Array(logits[0..<3]), targets: [0], statistics: &statistics, rows: 1, classes: 3), 0)
        XCTAssertEqual(crossEntropyForward(logits: Array(logits[3..<6]), targets: [1], statistics: &statistics, rows: 1, classes: 3), 1e4)
        let loss = crossEntropyForward(logits: logits, targets: [0, 1, 1], statistics: &statistics, rows: 3, classes: 3)
        XCTAssertTrue(loss.isFinite)
        XCTAssertEqual(loss, (0 + 1e4 + 2e30) / 3, accuracy: 1e24)
        var gradient = [Float](repeating: 0, count: 9)
        crossEntropyBackward(logits: logits, targets: [0, 1, 1], statistics: statistics, dlogits: &gradient, rows: 3, classes: 3)
        XCTAssertTrue(gradient.allSatisfy(\.isFinite), "\(gradient)")
        // Row 2 puts all probability on class 0 but wants class 1: (1, -1, 0) / 3.
        assertClose(Array(gradient[6..<9]), [1.0 / 3, -1.0 / 3, 0], absolute: 1e-7, "saturated row")
    }

    func testCrossEntropyBackward() {
        let (rows, classes) = (4, 19)
        let targets: [Int32] = [3, 0, 18, 3]
        func forward(_ logits: [Float]) -> (loss: Float, statistics: [Float]) {
            var statistics = [Float](repeating: 0, count: 2 * rows)
            let loss = crossEntropyForward(logits: logits, targets: targets, statistics: &statistics, rows: rows, classes: classes)
            return (loss, statistics)
        }
        checkGradients(inputs: [randomFloats(rows * classes, seed: 10, in: -3..<3)], forward: { [forward($0[0]).loss] }, backward: { inputs, dy, gradients in
            crossEntropyBackward(logits: inputs[0], targets: targets, statistics: forward(inputs[0]).statistics,
                                 dlogits: gradients[0], rows: rows, classes: classes, scale: dy[0])
        })
    }

    func testCrossEntropyGradientRowsSumToZero() {
        // softmax - one-hot sums to 0 per row, whatever the scale.
        let (rows, classes) = (3, 40)
        let logits = randomFloats(rows * classes, seed: 11, in: -20..<20)
        let targets: [Int32] = [39, 0, 17]
        var statistics = [Float](repeating: 0, count: 2 * rows), gradient = [Float](repeating: 0, count: rows * classes)
        _ = crossEntropyForward(logits: logits, targets: targets, statistics: &statistics, rows: rows, classes: classes)
        crossEntropyBackward(logits: logits, targets: targets, statistics: statistics, dlogits: &gradient, rows: rows, classes: classes, scale: 6)
        for r in 0..<rows {
            XCTAssertEqual(gradient[(r * classes)..<((r + 1) * classes)].reduce(0, +), 0, accuracy: 1e-6)
            XCTAssertLessThan(gradient[r * classes + Int(targets[r])], 0)
        }
    }
}
