// The two-view methods learn on the digits: the loss falls, and the linear probe on the frozen
// encoder beats the same probe on the same encoder left at its random initialisation.

import XCTest
import ForesightCore
import ForesightNN
@testable import ForesightSSL

final class TwoViewMethodTests: XCTestCase {
    /// Trains `objective` for `steps`, returns (first losses, last losses, probe accuracy of the
    /// trained encoder, probe accuracy of the random encoder).
    func train(_ objective: TwoViewObjective, steps: Int, batch: Int = 64, width: Int = 16) throws
        -> (early: Float, late: Float, trained: Double, random: Double) {
        let (train, test) = Digits.split
        let backbone = SmallResNet(width: width)
        let trainer = try TwoViewTrainer(objective: objective, data: train, backbone: backbone, batch: batch, seed: 1)
        let encoder = try FrozenEncoder(backbone: backbone, channels: 1, height: 8, width: 8, batch: 128)
        encoder.copyParameters(from: trainer.program)
        let probe = LinearProbe()
        let randomAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        var losses: [Float] = []
        for _ in 0..<steps { losses.append(try trainer.step()) }
        XCTAssertEqual(encoder.copyParameters(from: trainer.program), encoder.program.parameters.count)
        let trainedAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        let window = max(1, steps / 10)
        let early = losses.prefix(window).reduce(0, +) / Float(window), late = losses.suffix(window).reduce(0, +) / Float(window)
        print("\(objective): loss \(early) -> \(late), probe \(trainedAccuracy) (random encoder \(randomAccuracy))")
        return (early, late, trainedAccuracy, randomAccuracy)
    }

    func testSimCLRLearnsDigits() throws {
        let result = try train(.simclr(temperature: 0.2), steps: 150)
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testVICRegLearnsDigits() throws {
        let result = try train(.vicreg(invariance: 25, variance: 25, covariance: 1), steps: 150)
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }
}
