// Live learning: the learner beats copy-last on moving digits while frames arrive, keeps its
// memory flat, rolls back from a NaN, resumes from checkpoints, and its budget check speaks.

import Foundation
import XCTest
@testable import ForesightCore
import ForesightSensors
@testable import ForesightIO
@testable import ForesightSSL
@testable import ForesightLive

final class LiveLearnerTests: XCTestCase {
    private func temporaryPath(_ name: String) -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent(name).path
    }

    func testLearnsMovingDigitsBetterThanCopyingTheLastFrame() throws {
        var settings = LiveLearnerConfiguration()
        settings.threads = 2
        settings.evaluationWindow = 1e9  // average over the last frames by count below
        let learner = try LiveLearner(settings)
        let source = PacedFrameProducer.synthetic(.movingDigits, paced: false, frameLimit: 700, seed: 3)
        let report = try learner.run(source)
        XCTAssertEqual(report.frames, 700)
        XCTAssertEqual(report.dropped, 0, "an unpaced source waits for the learner instead of dropping")
        XCTAssertEqual(report.steps, 700 - settings.pastFrames)
        // The whole-run average includes the untrained start; it must still beat copy-last clearly.
        XCTAssertLessThan(report.ratio, 0.8, "model \(report.modelError), copy-last \(report.copyLastError)")
        XCTAssertGreaterThan(report.copyLastError, 0.01, "moving digits change from frame to frame")
    }

    func testTheEvaluationWindowAveragesTheScoresOfItsSecondsAcrossTheRingsEnd() {
        // A ring of 4 that has taken 6 scores at seconds 1 to 6: slots hold 5, 6, 3, 4 and the next is slot 2.
        var scores: [LiveLearner.Score] = [(0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)]
        for second in 1...6 { scores[(second - 1) % 4] = (Double(second), Float(second), Float(10 * second)) }
        scores.withUnsafeBufferPointer { ring in
            let lastThree = LiveLearner.means(of: ring, next: 2, count: 4, since: 3.5)
            XCTAssertEqual(lastThree.model, 5)          // 4, 5, 6
            XCTAssertEqual(lastThree.copyLast, 50)
            XCTAssertEqual(LiveLearner.means(of: ring, next: 2, count: 4, since: 0).model, 4.5, "only the 4 kept: 3 to 6")
            XCTAssertEqual(LiveLearner.means(of: ring, next: 2, count: 4, since: 6.5).model, 0, "none in the window")
            XCTAssertEqual(LiveLearner.means(of: ring, next: 2, count: 2, since: 0).model, 5.5, "a ring not yet full: 5 and 6")
        }
    }

    func testBudgetTooSmallSaysWhatToShrink() {
        var settings = LiveLearnerConfiguration()
        settings.budget = 8 << 20
        XCTAssertThrowsError(try LiveLearner(settings)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("replay reservoir"), message)
            XCTAssertTrue(message.contains("shrink"), message)
            guard case let .overBudget(planned, budget, _)? = error as? LiveLearningError else { return XCTFail("not over budget: \(error)") }
            XCTAssertEqual(budget, 8 << 20)
            XCTAssertGreaterThan(planned, budget)
        }
    }

    func testCheckpointRoundTripAndResume() throws {
        let path = temporaryPath("resume.safetensors")
        var settings = LiveLearnerConfiguration()
        settings.checkpointPath = path
        settings.checkpointEvery = 10
        settings.replayClips = 16
        let first = try LiveLearner(settings)
        _ = try first.run(PacedFrameProducer.synthetic(.movingShapes, paced: false, frameLimit: 30, seed: 1))
        let file = try ModelFile(path: path)
        XCTAssertEqual(file.metadata["architecture"], first.architecture)
        XCTAssertEqual(file.metadata[Checkpoint.Key.steps], "26")
        let second = try LiveLearner(settings)
        try second.resume(from: path)
        XCTAssertEqual(second.report.steps, 26)
        XCTAssertEqual(second.program.optimizer!.stepCount, 26)
        for id in first.program.parameters {
            XCTAssertEqual(first.program.tensor(id).toArray(), second.program.tensor(id).toArray(), "\(first.program.graph[id].name)")
        }
        var other = settings
        other.objective = .nextFrame
        XCTAssertThrowsError(try LiveLearner(other).resume(from: path)) { XCTAssertTrue("\($0)".contains("architecture"), "\($0)") }
    }

    /// A checkpoint well past the loss check's warm-up resumes and keeps learning: no rollback from
    /// a running average that restarts at zero, and the file's learning rate is not cut.
    func testResumePastWarmUpKeepsLearningAndLeavesTheLearningRate() throws {
        let path = temporaryPath("resume-long.safetensors")
        var settings = LiveLearnerConfiguration()
        settings.checkpointPath = path
        settings.checkpointEvery = 50
        settings.replayClips = 16
        settings.threads = 2
        let warmUp = 200  // well past the loss check's warm-up (LiveLearner.warmUpSteps)
        let first = try LiveLearner(settings)
        let firstReport = try first.run(PacedFrameProducer.synthetic(.movingShapes, paced: false, frameLimit: warmUp + 40, seed: 1))
        XCTAssertGreaterThan(firstReport.steps, warmUp)
        let savedRate = try XCTUnwrap(ModelFile(path: path).metadata["learning_rate"])
        XCTAssertEqual(savedRate, String(settings.learningRate))

        for attempt in 1...2 {
            let resumed = try LiveLearner(settings)
            try resumed.resume(from: path)
            let before = resumed.report.steps
            let report = try resumed.run(PacedFrameProducer.synthetic(.movingShapes, paced: false, frameLimit: 60, seed: UInt64(1 + attempt)))
            XCTAssertEqual(report.rollbacks, 0, "attempt \(attempt): a resumed run rolled back")
            XCTAssertEqual(report.steps, before + 60 - settings.pastFrames, "attempt \(attempt)")
            XCTAssertEqual(report.stepsPerSecond * report.seconds, Double(60 - settings.pastFrames), accuracy: 1e-6,
                           "steps per second count this run's steps only")
            let file = try ModelFile(path: path)
            XCTAssertEqual(file.metadata["learning_rate"], savedRate, "attempt \(attempt): the checkpoint's learning rate changed")
            XCTAssertEqual(file.metadata[Checkpoint.Key.steps], String(report.steps))
        }
    }

    /// `frames` unpaced frames of moving shapes of `seed`; `meddle(n, frame)` runs on the n-th
    /// frame (from 1) once it is drawn, to spoil it or the learner's weights.
    private func shapes(seed: UInt64, frames: Int, label: String, meddle: @escaping (Int, UnsafeMutablePointer<Float>) -> Void) -> PacedFrameProducer {
        var scene = MovingShapes(width: 64, height: 64, seed: seed)
        var delivered = 0
        return PacedFrameProducer(size: 64, framesPerSecond: 30, label: label, paced: false, frameLimit: frames, slots: 4) { frame in
            scene.render(into: frame); scene.advance()
            delivered += 1
            meddle(delivered, frame)
            return true
        }
    }

    /// A run stopped because its loss keeps diverging leaves the last checkpoint as it was.
    func testDivergedRunLeavesTheCheckpointIntact() throws {
        let path = temporaryPath("diverged.safetensors")
        var settings = LiveLearnerConfiguration()
        settings.checkpointPath = path
        settings.checkpointEvery = 10
        settings.replayClips = 16
        _ = try LiveLearner(settings).run(PacedFrameProducer.synthetic(.movingShapes, paced: false, frameLimit: 24, seed: 1))
        let saved = try Data(contentsOf: URL(fileURLWithPath: path))

        let learner = try LiveLearner(settings)
        try learner.resume(from: path)
        let weight = learner.program.graph.tensor(named: "e2.weight")!
        // Every frame after the 10th poisons a weight, as an update that diverges each time would.
        let source = shapes(seed: 4, frames: 200, label: "diverging") { delivered, _ in
            if delivered > 10 { learner.program.tensor(weight).floats[7] = .nan }
        }
        XCTAssertThrowsError(try learner.run(source)) { error in
            XCTAssertTrue("\(error)".contains("20 rollbacks"), "\(error)")
            guard case .rollbacksExhausted(_, 20)? = error as? LiveLearningError else { return XCTFail("not out of rollbacks: \(error)") }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), saved, "a diverged run wrote over the checkpoint")
    }

    /// Parameters changed from outside between steps (a fleet's average) and kept with
    /// `keepForRollback()` are what a later rollback returns to, not the state before them.
    func testARollbackReturnsToParametersKeptBetweenSteps() throws {
        var settings = LiveLearnerConfiguration()
        settings.replayClips = 16
        let learner = try LiveLearner(settings)
        let weight = learner.program.graph.tensor(named: "e2.weight")!
        let source = shapes(seed: 3, frames: 60, label: "poisoned") { delivered, _ in
            if delivered == 45 { learner.program.tensor(weight).floats[7] = .nan }
        }
        var keptAt: Int?
        let report = try learner.run(source, shouldStop: {
            if keptAt == nil && learner.report.steps >= 20 {
                learner.program.tensor(weight).floats[3] += 0.25   // an average adopted
                learner.keepForRollback()
                keptAt = learner.report.steps
            }
            return false
        })
        XCTAssertGreaterThanOrEqual(report.rollbacks, 1)
        XCTAssertEqual(learner.goodStep, try XCTUnwrap(keptAt), "the rollback went back past the kept parameters")
    }

    func testNonFiniteLossRollsBackAndLowersTheLearningRate() throws {
        var settings = LiveLearnerConfiguration()
        settings.replayClips = 16
        let learner = try LiveLearner(settings)
        let weight = learner.program.graph.tensor(named: "e2.weight")!
        // A source whose 30th frame holds a NaN (rejected), and which poisons a weight once
        // (as a diverging update would): the loss turns NaN and the learner must roll back.
        let source = shapes(seed: 2, frames: 60, label: "poisoned") { delivered, frame in
            if delivered == 30 { frame[100] = .nan }
            if delivered == 40 { learner.program.tensor(weight).floats[7] = .nan }
        }
        let before = learner.program.optimizer!.learningRate
        let report = try learner.run(source)
        XCTAssertEqual(report.rejectedFrames, 1)
        XCTAssertGreaterThanOrEqual(report.rollbacks, 1)
        XCTAssertEqual(learner.program.optimizer!.learningRate, before / Float(1 << report.rollbacks))
        for id in learner.program.parameters {
            XCTAssertTrue(learner.program.tensor(id).toArray().allSatisfy(\.isFinite), "\(learner.program.graph[id].name) holds a non-finite value")
        }
    }

    func testSnapshotsShowPastPredictionTruthAndMotion() throws {
        if let missing = PNG.missingLibrary { throw XCTSkip("\(missing)") }
        let folder = temporaryPath("snapshots")
        var settings = LiveLearnerConfiguration()
        settings.replayClips = 16
        settings.snapshotDirectory = folder
        settings.snapshotEvery = 20
        let learner = try LiveLearner(settings)
        _ = try learner.run(PacedFrameProducer.synthetic(.movingDigits, paced: false, frameLimit: 41, seed: 5))
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        XCTAssertEqual(files, ["snapshot-0000020.png", "snapshot-0000040.png"])
        let image = try ByteImage.read(path: folder + "/" + files[0])
        // Four past frames, prediction, truth and motion, each 64 x 3 pixels wide, 2-pixel gaps.
        XCTAssertEqual(image.width, 7 * 192 + 6 * 2)
        XCTAssertEqual(image.height, 192)
        XCTAssertEqual(image.channels, 3)
        settings.snapshotDirectory = folder + "/" + files[0]
        XCTAssertThrowsError(try LiveLearner(settings)) { XCTAssertTrue("\($0)".contains("not a folder"), "\($0)") }
    }
}
