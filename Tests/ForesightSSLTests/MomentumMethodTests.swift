// The momentum methods (MoCo, BYOL), latent prediction, SimSiam and Barlow Twins learn on the
// digits: the loss falls, and the linear probe on the frozen encoder beats the same probe on the
// same encoder left at its random initialisation. Also the accuracy bar: SimCLR's frozen
// encoder reaches 96.5% linear-probe accuracy within the default test run.

import Foundation
import XCTest
import ForesightCore
import ForesightNN
@testable import ForesightSSL

/// Steps `trainer` `steps` times and returns (the first loss, mean of the first tenth of the losses,
/// mean of the last tenth, probe accuracy of the trained encoder, probe accuracy of the random encoder).
func measureLearning(_ trainer: any SelfSupervisedTrainer, backbone: SmallResNet, steps: Int, label: String,
                     afterStep: (Int) -> Void = { _ in }) throws -> (first: Float, early: Float, late: Float, trained: Double, random: Double) {
    let (train, test) = Digits.split
    let encoder = try FrozenEncoder(backbone: backbone, channels: 1, height: 8, width: 8, batch: 128)
    encoder.copyParameters(from: trainer.program)
    let probe = LinearProbe()
    let randomAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
    var losses: [Float] = []
    for step in 0..<steps {
        losses.append(try trainer.step())
        afterStep(step)
    }
    XCTAssertEqual(encoder.copyParameters(from: trainer.program), encoder.program.parameters.count)
    let trainedAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
    let window = max(1, steps / 10)
    let early = losses.prefix(window).reduce(0, +) / Float(window), late = losses.suffix(window).reduce(0, +) / Float(window)
    print("\(label): loss \(losses[0]), \(early) -> \(late), probe \(trainedAccuracy) (random encoder \(randomAccuracy))")
    return (losses[0], early, late, trainedAccuracy, randomAccuracy)
}

final class MomentumMethodTests: XCTestCase {
    func testBYOLLearnsDigits() throws {
        let backbone = SmallResNet(width: 16)
        let trainer = try MomentumTrainer(objective: .byol, data: Digits.split.train, backbone: backbone, batch: 64, seed: 1)
        let result = try measureLearning(trainer, backbone: backbone, steps: 150, label: "byol")
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testMoCoLearnsDigits() throws {
        let backbone = SmallResNet(width: 16)
        let trainer = try MomentumTrainer(objective: .moco(temperature: 0.2, queueSize: 512), data: Digits.split.train,
                                          backbone: backbone, batch: 32, seed: 1)
        let objective = try XCTUnwrap(trainer.objective as? QueueInfoNCEOperation)
        var accuracies: [Float] = []
        let result = try measureLearning(trainer, backbone: backbone, steps: 150, label: "moco") { _ in accuracies.append(objective.accuracy) }
        // Accuracy: the fraction of queries whose own key beats all 512 queued keys, over the first and the last 15 steps.
        let early = accuracies.prefix(15).reduce(0, +) / 15, late = accuracies.suffix(15).reduce(0, +) / 15
        print("moco: key found among the queue by \(early) of the queries early, \(late) late")
        // The queue starts full of the untrained target's keys, so the first step is InfoNCE at its hardest.
        XCTAssertLessThan(result.late, 0.95 * result.first)
        XCTAssertGreaterThan(late, early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testLatentPredictionLearnsDigits() throws {
        let backbone = SmallResNet(width: 16)
        let trainer = try LatentPredictionTrainer(data: Digits.split.train, backbone: backbone, batch: 64, blockSize: 4, seed: 1)
        let result = try measureLearning(trainer, backbone: backbone, steps: 150, label: "jepa")
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testBadSettingsAreRejected() {
        XCTAssertThrowsError(try MomentumTrainer(objective: .moco(temperature: 0.2, queueSize: 0), data: Digits.split.train, batch: 8))
        XCTAssertThrowsError(try LatentPredictionTrainer(data: Digits.split.train, batch: 8, blockSize: 8))
    }
}

/// SimSiam and Barlow Twins (objectives of `TwoViewTrainer`) learn on the digits like SimCLR and VICReg.
final class NonContrastiveMethodTests: XCTestCase {
    func train(_ objective: TwoViewObjective, label: String, learningRate: Float = 2e-3) throws
        -> (first: Float, early: Float, late: Float, trained: Double, random: Double) {
        let backbone = SmallResNet(width: 16)
        let trainer = try TwoViewTrainer(objective: objective, data: Digits.split.train, backbone: backbone, batch: 64,
                                         learningRate: learningRate, seed: 1)
        return try measureLearning(trainer, backbone: backbone, steps: 150, label: label)
    }

    func testSimSiamLearnsDigits() throws {
        // At 2e-3 the probe peaks near step 75 and then falls back to the random encoder's level.
        let result = try train(.simsiam, label: "simsiam", learningRate: 5e-4)
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }

    func testBarlowTwinsLearnsDigits() throws {
        let result = try train(.barlow(offDiagonalWeight: 0.02), label: "barlow")
        XCTAssertLessThan(result.late, 0.8 * result.early)
        XCTAssertGreaterThan(result.trained, result.random + 0.01)
    }
}

/// The accuracy bar of the issue, in the default run: SimCLR's frozen encoder reaches at least
/// 96.5% linear-probe accuracy on the digits' 30% test split (logistic regression on the raw
/// pixels gets about 95.7-96.5%). Width 32, batch 128, learning rate 2e-3 decayed to 0 along
/// half a cosine over 600 steps, two threads; the probe takes 1000 full-batch steps. Measured:
/// 97.4% (seed 1), 97.4% (seed 2), 97.0% (seed 3); at 4e-3 the same run falls to 93.7% with seed 1.
/// About 100 s of CPU in a debug build.
final class ProbeAccuracyBarTests: XCTestCase {
    static func simclrProbeAccuracy(seed: UInt64, steps: Int = 600) throws -> Double {
        let (train, test) = Digits.split
        let backbone = SmallResNet(width: 32)
        let trainer = try TwoViewTrainer(objective: .simclr(temperature: 0.2), data: train, backbone: backbone, batch: 128,
                                         learningRate: 2e-3, cosineDecaySteps: steps, threads: 2, seed: seed)
        for _ in 0..<steps { try trainer.step() }
        let encoder = try FrozenEncoder(backbone: backbone, channels: 1, height: 8, width: 8, batch: 128)
        XCTAssertEqual(encoder.copyParameters(from: trainer.program), encoder.program.parameters.count)
        let probe = LinearProbe(steps: 1000, learningRate: 0.03, weightDecay: 0.1)
        let accuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        print("simclr width 32, \(steps) steps, seed \(seed): linear probe \(accuracy)")
        return accuracy
    }

    func testSimCLRLinearProbeReachesTheBar() throws {
        XCTAssertGreaterThanOrEqual(try Self.simclrProbeAccuracy(seed: 1), 0.965)
    }

    /// Opt-in: the same run for other seeds, e.g. FORESIGHT_SSL_BAR_SEEDS=2,3 (not in CI's budget).
    func testOtherSeedsReachTheBar() throws {
        guard let list = ProcessInfo.processInfo.environment["FORESIGHT_SSL_BAR_SEEDS"] else {
            throw XCTSkip("set FORESIGHT_SSL_BAR_SEEDS to run")
        }
        for seed in list.split(separator: ",").compactMap({ UInt64($0) }) {
            XCTAssertGreaterThanOrEqual(try Self.simclrProbeAccuracy(seed: seed), 0.965, "seed \(seed)")
        }
    }
}

final class LearningRateScheduleTests: XCTestCase {
    /// Linear warm-up over 2 steps, then half a cosine over 4 steps down to (almost) 0.
    func testWarmupThenCosineDecay() throws {
        let trainer = try TwoViewTrainer(objective: .simclr(temperature: 0.5), data: Digits.split.train, backbone: SmallResNet(width: 4, groups: 2),
                                         batch: 2, learningRate: 1e-3, warmupSteps: 2, cosineDecaySteps: 4, seed: 1)
        var rates: [Float] = []
        for _ in 0..<8 {
            try trainer.step()
            rates.append(trainer.program.optimizer!.learningRate)
        }
        let expected: [Float] = [0.5, 1, 1, 0.5 * (1 + (0.5 as Float).squareRoot()), 0.5, 0.5 * (1 - (0.5 as Float).squareRoot()), 0, 0].map { $0 * 1e-3 }
        for (rate, wanted) in zip(rates, expected) { XCTAssertEqual(rate, wanted, accuracy: 1e-8) }
        XCTAssertThrowsError(try TwoViewTrainer(objective: .simsiam, data: Digits.split.train, batch: 2, warmupSteps: -1))
        XCTAssertThrowsError(try TwoViewTrainer(objective: .simsiam, data: Digits.split.train, batch: 2, cosineDecaySteps: 0))
    }
}
