// `learn --heartbeat` and `train --heartbeat`: the file follows the steps and the checkpoint.

import Foundation
import XCTest
import ForesightTestSupport
import ForesightCore
@testable import ForesightIO
import ForesightSensors

final class HeartbeatCommandTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryFolder("foresight-heartbeat") }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func testLearnFromPicturesBeatsWithTheCheckpointsSteps() throws {
        let checkpoint = path("live.safetensors"), heartbeat = path("heartbeat")
        let run = try runForesight(["learn", "--as-fast-as-possible", "--frames", "40", "--checkpoint", checkpoint,
                                    "--checkpoint-every", "7", "--heartbeat", heartbeat])
        XCTAssertEqual(run.status, 0, run.output)
        let beat = try Heartbeat.read(heartbeat), saved = try Checkpoint(path: checkpoint).steps
        XCTAssertGreaterThan(beat.steps, 7)
        XCTAssertEqual(beat.steps, saved, "the run ends with its checkpoint written")
        XCTAssertEqual(beat.saved, saved)

        // Resumed, the heartbeat starts from the checkpoint's steps and goes on.
        let again = try runForesight(["learn", "--as-fast-as-possible", "--frames", "20", "--checkpoint", checkpoint,
                                      "--resume", "--heartbeat", heartbeat])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertGreaterThan(try Heartbeat.read(heartbeat).steps, saved)
        XCTAssertEqual(try Heartbeat.read(heartbeat).saved, try Checkpoint(path: checkpoint).steps)
    }

    func testLearnFromSoundBeats() throws {
        var scene = SoundScene(sampleRate: 16_000, seed: 5)
        var samples = [Float](repeating: 0, count: 4 * 16_000)
        samples.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!, count: $0.count) }
        let wav = path("room.wav"), checkpoint = path("sound.safetensors"), heartbeat = path("heartbeat")
        try Data(WAV.encode(AudioClip(sampleRate: 16_000, channels: 1, samples: samples))).write(to: URL(fileURLWithPath: wav))
        let run = try runForesight(["learn", "--audio", wav, "--as-fast-as-possible", "--checkpoint", checkpoint,
                                    "--checkpoint-every", "5", "--heartbeat", heartbeat])
        XCTAssertEqual(run.status, 0, run.output)
        let beat = try Heartbeat.read(heartbeat), saved = try Checkpoint(path: checkpoint).steps
        XCTAssertGreaterThan(beat.steps, 5)
        XCTAssertEqual(beat.steps, saved)
        XCTAssertEqual(beat.saved, saved)
    }

    func testTrainBeatsAndStopsWithItsModelFile() throws {
        let clip = path("clip.y4m"), model = path("model.safetensors"), heartbeat = path("heartbeat")
        var data = Data("YUV4MPEG2 W32 H32 F30:1 Ip A1:1 Cmono\n".utf8)
        for index in 0..<24 {
            data.append(Data("FRAME\n".utf8))
            data.append(Data((0..<(32 * 32)).map { UInt8(truncatingIfNeeded: ($0 % 32 + index) * 5 + $0 / 32) }))
        }
        try data.write(to: URL(fileURLWithPath: clip))
        let run = try runForesight(["train", "--method", "next-frame", "--data", clip, "--steps", "9", "--checkpoint-every", "4",
                                    "-o", model, "--heartbeat", heartbeat])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(try Heartbeat.read(heartbeat).steps, 9)
        XCTAssertEqual(try Heartbeat.read(heartbeat).saved, 9)

        let bad = try runForesight(["train", "--method", "next-frame", "--data", clip, "--steps", "2", "-o", model,
                                    "--heartbeat", path("missing/heartbeat")])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.output.contains(path("missing/heartbeat")), bad.output)
    }
}
