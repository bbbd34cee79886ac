// Learning the consequences of actions: on the commanded scene, whose camera follows random
// commands, the model given the commands predicts the next frame better than the same model
// without them; sources and models that disagree on actions are refused; --actions is checked.

import Foundation
import XCTest
import CAllocationCounter
import ForesightTestSupport
import ForesightCore
import ForesightSensors
@testable import ForesightIO
@testable import ForesightLive

final class ActionLearningTests: XCTestCase {
    /// model/copy-last over a whole run of `frames` frames on the commanded scene (the untrained
    /// start included), with or without the scene's actions.
    private func ratio(actions: Bool, seed: UInt64, frames: Int = 900) throws -> (ratio: Double, report: LiveReport) {
        var settings = LiveLearnerConfiguration()
        settings.threads = 2
        settings.seed = seed
        settings.actions = actions ? EgoMotionScene.actionCount : 0
        settings.evaluationWindow = 1e9   // the whole run, whatever the machine's speed
        let learner = try LiveLearner(settings)
        let source = PacedFrameProducer.synthetic(.commanded, paced: false, frameLimit: frames, seed: seed, actions: actions)
        let report = try learner.run(source)
        XCTAssertEqual(report.frames, frames)
        return (report.ratio, report)
    }

    func testTheCommandsHelpPredictTheNextFrame() throws {
        var lines: [String] = []
        for seed: UInt64 in [1, 2] {
            let with = try ratio(actions: true, seed: seed), without = try ratio(actions: false, seed: seed)
            lines.append(String(format: "seed %d: model/copy-last %.3f with actions, %.3f without", seed, with.ratio, without.ratio))
            XCTAssertLessThan(without.ratio, 1, "without actions the model still beats copy-last (seed \(seed))")
            XCTAssertLessThan(with.ratio, 0.85 * without.ratio, "the commands help (seed \(seed)): \(lines.last!)")
        }
        print("commanded scene, 900 frames, whole run: " + lines.joined(separator: "; "))
    }

    func testSourceAndModelMustAgreeOnActions() throws {
        var settings = LiveLearnerConfiguration()
        settings.actions = EgoMotionScene.actionCount
        let withActions = try LiveLearner(settings)
        XCTAssertTrue(withActions.architecture.hasSuffix("actions 4"), withActions.architecture)
        XCTAssertThrowsError(try withActions.run(PacedFrameProducer.synthetic(.commanded, paced: false, frameLimit: 10))) { error in
            XCTAssertTrue("\(error)".contains("takes actions of 4 values") && "\(error)".contains("delivers none"), "\(error)")
        }
        let blind = try LiveLearner(LiveLearnerConfiguration())
        XCTAssertThrowsError(try blind.run(PacedFrameProducer.synthetic(.commanded, paced: false, frameLimit: 10, actions: true))) { error in
            XCTAssertTrue("\(error)".contains("the model takes none"), "\(error)")
        }
        settings.actions = 65
        XCTAssertThrowsError(try settings.validate())
    }

    func testTheActionsOptionIsChecked() throws {
        XCTAssertEqual(try LiveInputs(scene: .commanded, actions: "scene").actionCount, 4)
        XCTAssertEqual(try LiveInputs(actions: "scene").actions, .scene, "the default scene (ego-motion) publishes its motion")
        XCTAssertEqual(try LiveInputs(scene: .commanded).actionCount, 0)
        for (inputs, expected) in [({ try LiveInputs(scene: .movingDigits, actions: "scene") }, "no camera motion"),
                                   ({ try LiveInputs(video: "walk.y4m", actions: "scene") }, "with a camera or a recording there is none"),
                                   ({ try LiveInputs(scene: .commanded, actions: "scenes") }, "for a built-in scene give --actions scene")] as [(() throws -> LiveInputs, String)] {
            XCTAssertThrowsError(try inputs()) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
        }
    }

    func testACheckpointKeepsItsActions() throws {
        let folder = try makeTemporaryFolder("foresight-actions")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("live.safetensors").path
        let first = try runForesight(["learn", "--scene", "commanded", "--actions", "scene", "--as-fast-as-possible", "--frames", "40",
                                      "--checkpoint", checkpoint])
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(try Checkpoint(path: checkpoint).architecture.hasSuffix("actions 4"))
        let resumed = try runForesight(["learn", "--scene", "commanded", "--actions", "scene", "--as-fast-as-possible", "--frames", "20",
                                        "--checkpoint", checkpoint, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        // The same file without actions is another model: refused, and kept.
        let blind = try runForesight(["learn", "--scene", "commanded", "--as-fast-as-possible", "--frames", "20", "--checkpoint", checkpoint, "--resume"])
        XCTAssertEqual(blind.status, 1, blind.output)
        XCTAssertTrue(blind.output.contains("actions 4"), blind.output)
        XCTAssertTrue(try Checkpoint(path: checkpoint).architecture.hasSuffix("actions 4"))
        // Its encoder leaves the robot like any other: the actions join after it.
        let encoder = folder.appendingPathComponent("encoder.safetensors").path
        let export = try runForesight(["export", checkpoint, "--encoder", "--int8", "--calibrate", "commanded", "-o", encoder])
        XCTAssertEqual(export.status, 0, export.output)
        XCTAssertTrue(export.output.contains("pc64-encoder-int8"), export.output)
    }
}

final class RecordedActionTests: XCTestCase {
    /// A recording of the commanded scene at 96x96 and its commands as a CSV log: a row at each
    /// change of command only, from 0.5 s on, with a header, a comment and two broken rows.
    private func record(in folder: URL, frames: Int, seed: UInt64) throws -> (video: String, actions: String) {
        let video = folder.appendingPathComponent("walk.y4m").path, actions = folder.appendingPathComponent("walk.csv").path
        var scene = EgoMotionScene.commanded(width: 96, height: 96, seed: seed)
        let writer = try Y4MWriter(path: video, header: Y4MHeader(width: 96, height: 96, chroma: .mono))
        var pixels = [Float](repeating: 0, count: 96 * 96)
        var csv = "time,pan_right,pan_down,zoom_in,turn\n# commanded scene, seed \(seed)\n0.2,oops,0,0,0\n"
        var last: SIMD4<Float>? = nil
        for index in 0..<frames {
            pixels.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!) }
            try writer.writeFrame(planes: pixels.map { UInt8(min(255, max(0, $0 * 255 + 0.5))) })
            let time = Double(index) / 30
            if time >= 0.5 && scene.action != last {
                csv += "\(time),\(scene.action[0]),\(scene.action[1]),\(scene.action[2]),\(scene.action[3])\n"
                last = scene.action
            }
            if index == frames / 2 { csv += "1e9,1,1\n" }
            scene.advance()
        }
        writer.close()
        try csv.write(toFile: actions, atomically: true, encoding: .utf8)
        return (video, actions)
    }

    func testARecordingsActionsHelpPredictIt() throws {
        let folder = try makeTemporaryFolder("foresight-recorded-actions")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (video, csv) = try record(in: folder, frames: 900, seed: 7)
        let track = try ActionTrack(path: csv)
        XCTAssertEqual(track.count, 4)
        XCTAssertEqual(track.malformedRows, 2)
        func run(_ actions: ActionTrack?) throws -> LiveReport {
            var settings = LiveLearnerConfiguration()
            settings.threads = 2
            settings.evaluationWindow = 1e9
            settings.actions = actions?.count ?? 0
            return try LiveLearner(settings).run(try PacedFrameProducer.recording(path: video, paced: false, actions: actions))
        }
        let with = try run(track), without = try run(nil)
        print(String(format: "recorded commanded scene (96x96 -> 64x64, 900 frames, seed 7), whole run: model/copy-last %.3f with actions, %.3f without",
                     with.ratio, without.ratio))
        XCTAssertEqual(with.missingActions, 15, "the frames before 0.5 s")
        XCTAssertEqual(with.actions, 4)
        XCTAssertLessThan(without.ratio, 1)
        XCTAssertLessThan(with.ratio, 0.85 * without.ratio)

        // The command line reads the same files and says what it read.
        let line = try runForesight(["learn", "--video", video, "--actions", csv, "--as-fast-as-possible", "--frames", "30"])
        XCTAssertEqual(line.status, 0, line.output)
        XCTAssertTrue(line.output.contains("actions from \(csv):") && line.output.contains("2 malformed row(s) skipped"), line.output)
        XCTAssertTrue(line.output.contains("15 frame(s) came before the first action and"), line.output)
        let misplaced = try runForesight(["learn", "--scene", "commanded", "--actions", csv, "--frames", "5"])
        XCTAssertEqual(misplaced.status, 1, misplaced.output)
        XCTAssertTrue(misplaced.output.contains("goes with a recording"), misplaced.output)
        let missing = try runForesight(["learn", "--video", video, "--actions", csv + ".gone", "--frames", "5"])
        XCTAssertNotEqual(missing.status, 0, missing.output)
        XCTAssertTrue(missing.output.contains("there is no file"), missing.output)
    }
}

final class LiveActionFeedTests: XCTestCase {
    func testLinesBecomeCommandsInForceFromTheirArrival() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let feed = LiveActionFeed(count: 2, descriptor: ends[0], label: "a pipe")
        feed.start()
        var action: [Float] = [9, 9]
        let beforeAny = MonotonicClock.nanoseconds()
        action.withUnsafeMutableBufferPointer { feed.action(at: beforeAny, into: $0.baseAddress!) }
        XCTAssertEqual(action, [0, 0])
        func send(_ text: String) { _ = text.utf8CString.withUnsafeBufferPointer { write(ends[1], $0.baseAddress, $0.count - 1) } }
        func waitFor(received: Int) {
            let deadline = Date().addingTimeInterval(10)
            while feed.received + feed.malformed < received && Date() < deadline { usleep(1000) }
        }
        send("0.5,-0.25\n")
        waitFor(received: 1)
        let afterFirst = MonotonicClock.nanoseconds()
        send("# a comment\n\nnot numbers\n1 2 3\n0.1 7\n" + String(repeating: "1", count: 5000) + "\n")
        waitFor(received: 5)
        action.withUnsafeMutableBufferPointer { feed.action(at: afterFirst, into: $0.baseAddress!) }
        XCTAssertEqual(action, [0.5, -0.25], "the command in force at a time before the second arrived")
        action.withUnsafeMutableBufferPointer { feed.action(at: MonotonicClock.nanoseconds(), into: $0.baseAddress!) }
        XCTAssertEqual(action, [0.1, 1], "the newest, clamped")
        XCTAssertEqual(feed.received, 2)
        XCTAssertEqual(feed.malformed, 3, "not numbers, three values, an overlong line")
        XCTAssertEqual(feed.outOfRange, 1)
        XCTAssertEqual(feed.missing, 1)
        close(ends[1])
        let deadline = Date().addingTimeInterval(10)
        while !feed.ended && Date() < deadline { usleep(1000) }
        XCTAssertTrue(feed.ended)
        feed.stop()
        close(ends[0])
        XCTAssertTrue(feed.summary.contains("2 command(s), 3 malformed line(s) skipped, 1 value(s) outside [-1, 1] clamped"), feed.summary)
    }

    func testTheCommandLineLearnsWithCommandsOnStandardInput() throws {
        guard let tool = foresightTool() else { throw XCTSkip("the foresight tool was not built next to the tests") }
        let process = Process()
        process.executableURL = tool
        process.arguments = ["learn", "--scene", "commanded", "--actions", "stdin:4", "--as-fast-as-possible", "--frames", "40"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data("0.5,0,0,0\n1,2\n0,0,0,-1\n".utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("actions from standard input: 2 command(s), 1 malformed line(s) skipped"), text)
        let refused = try runForesight(["learn", "--actions", "stdin:0", "--frames", "5"])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("from 1 to 64"), refused.output)
    }
}

final class LiveAllocationTests: XCTestCase {
    /// Heap allocations of a run of `frames` frames of the commanded scene, from the learner's
    /// start to its end (the source's thread included).
    private func allocations(frames: Int, actions: Bool, feed: Bool = false) throws -> UInt64 {
        var settings = LiveLearnerConfiguration()
        settings.actions = actions || feed ? 4 : 0
        settings.replayClips = 64
        let learner = try LiveLearner(settings)
        let source = PacedFrameProducer.synthetic(.commanded, paced: false, frameLimit: frames, actions: actions)
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]); close(ends[1]) }
        let commands = feed ? LiveActionFeed(count: 4, descriptor: ends[0], label: "a pipe") : nil
        let before = foresight_allocation_count()
        _ = try learner.run(source, actions: commands)
        return foresight_allocation_count() - before
    }

    func testAFrameAndItsActionCostNoAllocation() throws {
        for (actions, feed) in [(false, false), (true, false), (false, true)] {
            // The same fixed costs (thread start, the summary) in both runs; the 150 frames more cost nothing.
            let short = try allocations(frames: 50, actions: actions, feed: feed)
            let long = try allocations(frames: 200, actions: actions, feed: feed)
            XCTAssertLessThanOrEqual(Int(long) - Int(short), 15, "150 frames more took \(long - short) allocations (actions \(actions), feed \(feed))")
        }
    }
}
