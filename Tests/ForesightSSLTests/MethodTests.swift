// The two-view methods learn on the digits: the loss falls, and the linear probe on the frozen
// encoder beats the same probe on the same encoder left at its random initialisation.

import Foundation
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
        let nearest = KNearestNeighbors(k: 5).accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        let window = max(1, steps / 10)
        let early = losses.prefix(window).reduce(0, +) / Float(window), late = losses.suffix(window).reduce(0, +) / Float(window)
        print("\(objective): loss \(early) -> \(late), probe \(trainedAccuracy) (random encoder \(randomAccuracy)), 5-NN \(nearest)")
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

    /// Opt-in longer runs of both methods at width 32: set FORESIGHT_SSL_LONG_STEPS (e.g. 1500);
    /// skipped otherwise. The >= 96.5% bar itself is checked by default in ProbeAccuracyBarTests.
    func testLongRunsReportProbeAccuracy() throws {
        guard let steps = ProcessInfo.processInfo.environment["FORESIGHT_SSL_LONG_STEPS"].flatMap(Int.init) else {
            throw XCTSkip("set FORESIGHT_SSL_LONG_STEPS to run")
        }
        for objective in [TwoViewObjective.simclr(temperature: 0.2), .vicreg(invariance: 25, variance: 25, covariance: 1)] {
            let result = try train(objective, steps: steps, batch: 128, width: 32)
            XCTAssertGreaterThan(result.trained, result.random)
        }
    }
}

final class PretextMethodTests: XCTestCase {
    func train(_ objective: PretextObjective, steps: Int) throws -> (early: Float, late: Float, trained: Double, random: Double) {
        let (train, test) = Digits.split
        let backbone = SmallResNet(width: 16)
        let trainer = try PretextTrainer(objective: objective, data: train, backbone: backbone, batch: 64, seed: 1)
        let encoder = try FrozenEncoder(backbone: backbone, channels: 1, height: 8, width: 8, batch: 128)
        encoder.copyParameters(from: trainer.program)
        let probe = LinearProbe()
        let randomAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        var losses: [Float] = []
        for _ in 0..<steps { losses.append(try trainer.step()) }
        encoder.copyParameters(from: trainer.program)
        let trainedAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        let window = max(1, steps / 10)
        let early = losses.prefix(window).reduce(0, +) / Float(window), late = losses.suffix(window).reduce(0, +) / Float(window)
        print("\(objective): loss \(early) -> \(late), probe \(trainedAccuracy) (random encoder \(randomAccuracy))")
        return (early, late, trainedAccuracy, randomAccuracy)
    }

    func testAutoencoderLearnsDigits() throws {
        let result = try train(.autoencoder, steps: 150)
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testDenoisingAutoencoderLearnsDigits() throws {
        let result = try train(.denoising(noiseDeviation: 0.2), steps: 150)
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testRotationPredictionLearnsDigits() throws {
        let result = try train(.rotation, steps: 150)
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testJigsawLearnsDigits() throws {
        let result = try train(.jigsaw(grid: 2, permutations: 24), steps: 150)
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testInpaintingLearnsDigits() throws {
        let result = try train(.inpainting(regionFraction: 0.5), steps: 150)
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testRotationIsAQuarterTurnAndFourMakeACircle() {
        let image = (0..<9).map(Float.init) // [[0,1,2],[3,4,5],[6,7,8]]
        var once = [Float](repeating: 0, count: 9), back = once
        rotateQuarterTurns(image, &once, channels: 1, size: 3, quarterTurns: 1)
        XCTAssertEqual(once, [2, 5, 8, 1, 4, 7, 0, 3, 6]) // counter-clockwise
        rotateQuarterTurns(once, &back, channels: 1, size: 3, quarterTurns: 3)
        XCTAssertEqual(back, image)
    }
}
