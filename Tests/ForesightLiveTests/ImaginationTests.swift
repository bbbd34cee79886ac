// Imagined futures: a live model rolled ahead open-loop under the scene's commands stays below
// holding the last frame at every horizon up to 8, and the commands are what keep it there;
// `foresight imagine` writes the rollout and refuses what does not fit.

import Foundation
import XCTest
import ForesightTestSupport
import ForesightCore
import ForesightSensors
@testable import ForesightIO
@testable import ForesightLive

final class ImaginationTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryFolder("foresight-imagine") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// A checkpoint of 900 frames of the commanded scene (seed 1), with or without its commands.
    private func learned(actions: Bool) throws -> String {
        var settings = LiveLearnerConfiguration()
        settings.threads = 2
        settings.actions = actions ? EgoMotionScene.actionCount : 0
        settings.checkpointPath = folder.appendingPathComponent(actions ? "with.safetensors" : "without.safetensors").path
        let learner = try LiveLearner(settings)
        _ = try learner.run(PacedFrameProducer.synthetic(.commanded, paced: false, frameLimit: 900, seed: 1, actions: actions))
        return settings.checkpointPath!
    }

    /// Horizon errors of 20 rollouts of 8 frames on the commanded scene with seed 9 (not learned from).
    private func horizons(_ checkpoint: String) throws -> HorizonErrors {
        let imagination = try Imagination(checkpoint: checkpoint)
        let k = imagination.pastFrames, plane = 64 * 64, a = imagination.actionCount, steps = 8
        var scene = EgoMotionScene.commanded(seed: 9)
        var frames = [Float](repeating: 0, count: (k + steps) * plane), actions = [Float](repeating: 0, count: (k + steps) * 4)
        var predictions = [Float](repeating: 0, count: steps * plane)
        var errors = HorizonErrors(steps: steps)
        for _ in 0..<20 {
            for index in 0..<(k + steps) {
                frames.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress! + index * plane) }
                actions.withUnsafeMutableBufferPointer { scene.action(into: $0.baseAddress! + index * 4) }
                scene.advance()
            }
            frames.withUnsafeBufferPointer { frames in
                actions.withUnsafeBufferPointer { actions in
                    predictions.withUnsafeMutableBufferPointer { predictions in
                        imagination.rollout(past: frames.baseAddress!, actions: a > 0 ? actions.baseAddress! + (k - 1) * 4 : nil, steps: steps,
                                            into: predictions.baseAddress!)
                        errors.add(predictions: predictions.baseAddress!, truth: frames.baseAddress! + k * plane,
                                   last: frames.baseAddress! + (k - 1) * plane, plane: plane)
                    }
                }
            }
        }
        return errors
    }

    func testImaginedFramesBeatHoldingTheLastOneAtEveryHorizonUpToEight() throws {
        let with = try horizons(try learned(actions: true)), without = try horizons(try learned(actions: false))
        let table = (1...8).map { String(format: "k=%d %.2f/%.2f", $0, with.at($0).ratio, without.at($0).ratio) }.joined(separator: ", ")
        print("imagined/hold-last on an unseen commanded scene, with/without commands: " + table)
        for k in 1...8 { XCTAssertLessThan(with.at(k).ratio, 1, "horizon \(k): \(table)") }
        XCTAssertLessThan(with.at(8).ratio, 0.85 * without.at(8).ratio, "the commands keep long rollouts on track: \(table)")
        // Errors grow with the horizon: the rollout feeds on its own predictions.
        XCTAssertLessThan(with.at(1).model, with.at(8).model)
    }

    func testArchitectureNamesAreReadBackOrRefused() throws {
        let plain = try LiveLearnerConfiguration(architecture: "pc64-motion k4 64x64")
        XCTAssertEqual(plain.objective, .motion)
        XCTAssertEqual(plain.pastFrames, 4)
        XCTAssertEqual(plain.actions, 0)
        let acting = try LiveLearnerConfiguration(architecture: "pc64-next-frame k3 32x32 actions 2")
        XCTAssertEqual(acting.objective, .nextFrame)
        XCTAssertEqual(acting.size, 32)
        XCTAssertEqual(acting.actions, 2)
        for name in ["", "pc64", "pc64-motion k4", "pc64-motion k4 64x32", "pc64-walk k4 64x64", "pc64-motion k0 64x64",
                     "pc64-motion k4 64x64 actions", "pc64-motion k4 64x64 actions 99", "audio-cpc k4 64x64", "pc64-motion k4 66x66"] {
            XCTAssertThrowsError(try LiveLearnerConfiguration(architecture: name), name)
        }
    }

    func testTheCommandWritesTheRolloutAndRefusesWhatDoesNotFit() throws {
        var settings = LiveLearnerConfiguration()
        settings.actions = 4
        settings.checkpointPath = folder.appendingPathComponent("small.safetensors").path
        _ = try LiveLearner(settings).run(PacedFrameProducer.synthetic(.commanded, paced: false, frameLimit: 20, actions: true))
        let checkpoint = settings.checkpointPath!, output = folder.appendingPathComponent("rollout.y4m").path
        let run = try runForesight(["imagine", checkpoint, "--from", "commanded", "--steps", "5", "--rollouts", "3", "-o", output])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("horizon  model MSE") && run.output.contains("3 rollout(s)"), run.output)
        let reader = try Y4MReader(path: output)
        var frame = Y4MFrame(for: reader.header), count = 0
        while try reader.readFrame(into: &frame) { count += 1 }
        XCTAssertEqual(count, 5)
        let strip = try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: folder.appendingPathComponent("rollout.png").path))))
        XCTAssertEqual(strip.width, 5 * 192 + 4 * 2)
        XCTAssertEqual(strip.height, 2 * 192 + 2)

        // A recording without its actions, a scene without camera motion, a recording too short.
        let clip = folder.appendingPathComponent("short.y4m").path
        let writer = try Y4MWriter(path: clip, header: Y4MHeader(width: 64, height: 64, chroma: .mono))
        for _ in 0..<6 { try writer.writeFrame(planes: [UInt8](repeating: 100, count: 64 * 64)) }
        writer.close()
        for (arguments, expected) in [(["--from", clip], "give the recording's --actions"),
                                      (["--from", "moving-digits"], "the moving-digits scene has none"),
                                      (["--from", "nowhere.y4m"], "neither a file nor a scene")] {
            let refused = try runForesight(["imagine", checkpoint] + arguments)
            XCTAssertNotEqual(refused.status, 0, refused.output)
            XCTAssertTrue(refused.output.contains(expected), refused.output)
        }
        let csv = folder.appendingPathComponent("short.csv").path
        try "0,0,0,0,0\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let short = try runForesight(["imagine", checkpoint, "--from", clip, "--actions", csv, "--steps", "8"])
        XCTAssertEqual(short.status, 1, short.output)
        XCTAssertTrue(short.output.contains("holds 6 frame(s)") && short.output.contains("a rollout needs 12"), short.output)
    }
}
