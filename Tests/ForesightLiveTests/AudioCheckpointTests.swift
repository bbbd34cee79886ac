// Learning from sound keeps what it learned: `learn --audio/--mic --checkpoint` writes the sound
// model (parameters, optimizer state, band statistics) and `--resume` continues from it; with
// pictures and sound, the sound model is kept beside the video checkpoint.

import Foundation
import XCTest
import ForesightTestSupport
import ForesightCore
@testable import ForesightIO
import ForesightSensors
@testable import ForesightSSL
@testable import ForesightLive

final class AudioCheckpointTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryFolder("foresight-audio-checkpoint") }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// `seconds` of a random sound scene at 16 kHz.
    private func sound(seconds: Int, seed: UInt64) -> [Float] {
        var scene = SoundScene(sampleRate: 16_000, seed: seed)
        var samples = [Float](repeating: 0, count: seconds * 16_000)
        samples.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!, count: $0.count) }
        return samples
    }

    func testTheTrainerResumesItsParametersOptimizerAndBandStatistics() throws {
        let first = try AudioPredictiveCodingTrainer(seed: 4)
        first.append(sound(seconds: 3, seed: 1))
        for _ in 0..<3 { _ = try first.step() }
        let path = folder.appendingPathComponent("sound.safetensors").path
        try first.saveCheckpoint(to: path)

        let second = try AudioPredictiveCodingTrainer(seed: 9)
        XCTAssertNotEqual(second.bandMean, first.bandMean)
        try second.resume(from: path)
        XCTAssertEqual(second.stepsDone, 3)
        XCTAssertEqual(second.bandMean, first.bandMean)
        XCTAssertEqual(second.bandVariance, first.bandVariance)
        for (mine, theirs) in zip(second.trainingState, first.trainingState) {
            XCTAssertEqual(mine.name, theirs.name)
            XCTAssertEqual(mine.tensor.toArray(), theirs.tensor.toArray(), mine.name)
        }
        // A sound model of another shape is refused, naming both.
        var other = AudioCPCConfiguration()
        other.melBands = 32
        XCTAssertThrowsError(try AudioPredictiveCodingTrainer(configuration: other).resume(from: path)) { error in
            XCTAssertTrue("\(error)".contains("40 mel bands") && "\(error)".contains("32 mel bands"), "\(error)")
        }
    }

    func testLearnFromSoundWritesAndResumesItsCheckpoint() throws {
        let wav = folder.appendingPathComponent("room.wav").path
        try Data(WAV.encode(AudioClip(sampleRate: 16_000, channels: 1, samples: sound(seconds: 6, seed: 2)))).write(to: URL(fileURLWithPath: wav))
        let checkpoint = folder.appendingPathComponent("sound.safetensors").path

        let first = try runForesight(["learn", "--audio", wav, "--as-fast-as-possible", "--checkpoint", checkpoint, "--checkpoint-every", "7"])
        XCTAssertEqual(first.status, 0, first.output)
        let written = try Checkpoint(path: checkpoint)
        XCTAssertTrue(written.architecture.hasPrefix("audio-cpc"), written.architecture)
        XCTAssertGreaterThan(written.steps, 7)
        XCTAssertNotNil(try ModelFile(path: checkpoint).tensors["audio.band_mean"])
        XCTAssertTrue(first.output.contains("checkpoint: \(checkpoint)"), first.output)

        let second = try runForesight(["learn", "--audio", wav, "--as-fast-as-possible", "--checkpoint", checkpoint, "--resume"])
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("resumed the sound model from \(checkpoint) at step \(written.steps)"), second.output)
        XCTAssertGreaterThan(try Checkpoint(path: checkpoint).steps, written.steps, "resumed learning continues the step count")

        // Resuming a file that is not there is an error, not a fresh start.
        let missing = folder.appendingPathComponent("missing.safetensors").path
        let third = try runForesight(["learn", "--audio", wav, "--as-fast-as-possible", "--checkpoint", missing, "--resume"])
        XCTAssertEqual(third.status, 1, third.output)
        XCTAssertTrue(third.output.contains(missing), third.output)
    }

    func testPicturesAndSoundKeepBothModels() throws {
        let wav = folder.appendingPathComponent("room.wav").path
        try Data(WAV.encode(AudioClip(sampleRate: 16_000, channels: 1, samples: sound(seconds: 8, seed: 3)))).write(to: URL(fileURLWithPath: wav))
        let checkpoint = folder.appendingPathComponent("live.safetensors").path
        let run = try runForesight(["learn", "--audio", wav, "--scene", "moving-digits", "--as-fast-as-possible", "--seconds", "6",
                                    "--checkpoint", checkpoint])
        XCTAssertEqual(run.status, 0, run.output)
        let soundPath = folder.appendingPathComponent("live.audio.safetensors").path
        XCTAssertTrue(try Checkpoint(path: checkpoint).architecture.hasPrefix("pc64"))
        XCTAssertTrue(try Checkpoint(path: soundPath).architecture.hasPrefix("audio-cpc"))
        XCTAssertTrue(run.output.contains("audio checkpoint: \(soundPath)"), run.output)
    }
}
