// Audio CPC learns on speech: on spoken English (Fixtures/speech.wav, made by make_speech.sh
// with espeak-ng), the InfoNCE accuracy of picking the true future among every encoding of the
// batch rises far above chance, also on held-out audio. Plus the trainer's framing, errors and
// allocation-free steps. The operations' gradients are checked in RecurrentTests.

import CAllocationCounter
import Foundation
import XCTest
@testable import ForesightCore
@testable import ForesightNN
import ForesightSensors
@testable import ForesightIO
@testable import ForesightSSL
@testable import ForesightExport

final class AudioCPCTests: XCTestCase {
    /// The fixture: 21 s of five sentences in four voices, 16 kHz mono.
    private func speech() throws -> AudioClip {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "speech", withExtension: "wav", subdirectory: "Fixtures")
            ?? Bundle.module.url(forResource: "speech", withExtension: "wav"), "speech.wav is not in the test bundle")
        return try WAV.read(path: url.path)
    }

    /// Trains on the first 70% of the speech (400 steps) and measures on the last 30% (the end
    /// of one sentence and another in a voice the training part has, but other words), with
    /// the trained parameters and input statistics copied into a second trainer. Chance is
    /// 1 / 256: every one of the batch's 8 x 32 encodings is a candidate.
    func testAccuracyRisesFarAboveChanceOnSpeech() throws {
        let clip = try speech()
        XCTAssertEqual(clip.sampleRate, 16_000)
        let split = clip.samples.count * 7 / 10
        let training = AudioClip(sampleRate: clip.sampleRate, channels: 1, samples: Array(clip.samples[..<split]))
        let heldOut = AudioClip(sampleRate: clip.sampleRate, channels: 1, samples: Array(clip.samples[split...]))
        let configuration = AudioCPCConfiguration()
        let trainer = try AudioPredictiveCodingTrainer(clip: training, configuration: configuration, threads: 2, seed: 1)
        let evaluator = try AudioPredictiveCodingTrainer(clip: heldOut, configuration: configuration, threads: 2, seed: 2)
        func heldOutResult() throws -> AudioPredictiveCodingTrainer.StepResult {
            for (source, target) in zip(trainer.program.parameters, evaluator.program.parameters) {
                evaluator.program.tensor(target).floats.update(from: trainer.program.tensor(source).floats)
            }
            evaluator.bandMean = trainer.bandMean
            evaluator.bandVariance = trainer.bandVariance
            return try evaluator.evaluate(batches: 8)
        }
        let chance = configuration.chance
        XCTAssertEqual(chance, 1 / 256)
        let before = try heldOutResult()
        var accuracies: [Float] = []
        for _ in 0..<400 { accuracies.append(try trainer.step().accuracy) }
        let first = accuracies.prefix(20).reduce(0, +) / 20, last = accuracies.suffix(50).reduce(0, +) / 50
        let after = try heldOutResult()
        let perStep = evaluator.model.objective.stepAccuracy.map { String(format: "%.3f", $0) }.joined(separator: ", ")
        print("audio CPC, chance \(chance): training accuracy \(first) (first 20 steps) -> \(last) (last 50); held-out \(before.accuracy) -> \(after.accuracy) (per step ahead, last batch: \(perStep)), held-out loss \(before.loss) -> \(after.loss)")
        XCTAssertLessThan(before.accuracy, 4 * chance, "an untrained model should be near chance")
        XCTAssertGreaterThan(last, 100 * chance, "accuracy on the training audio")
        XCTAssertGreaterThan(after.accuracy, 15 * chance, "accuracy on held-out audio")
    }

    /// Samples fed in odd-sized pieces make the same frames, statistics and batches as one feed.
    func testAppendingInPiecesMatchesOneAppend() throws {
        var configuration = AudioCPCConfiguration()
        configuration.batch = 2
        configuration.steps = 8
        var sound = SoundScene(seed: 3)
        var samples = [Float](repeating: 0, count: 16_000)
        samples.withUnsafeMutableBufferPointer { sound.render(into: $0.baseAddress!, count: $0.count) }
        let whole = try AudioPredictiveCodingTrainer(configuration: configuration, historySeconds: 2, seed: 5)
        let pieces = try AudioPredictiveCodingTrainer(configuration: configuration, historySeconds: 2, seed: 5)
        whole.append(samples)
        var offset = 0, size = 1
        while offset < samples.count {
            let end = min(samples.count, offset + size)
            pieces.append(Array(samples[offset..<end]))
            offset = end
            size = size * 3 % 1_001 + 7
        }
        // 1 s: (16000 - 400) / 160 + 1 frames.
        XCTAssertEqual(whole.framesReceived, 98)
        XCTAssertEqual(pieces.framesReceived, 98)
        XCTAssertEqual(pieces.bandMean, whole.bandMean)
        XCTAssertEqual(pieces.bandVariance, whole.bandVariance)
        try whole.loadBatch()
        try pieces.loadBatch()
        XCTAssertEqual(pieces.program.tensor(pieces.model.frames).toArray(), whole.program.tensor(whole.model.frames).toArray())
        // The first frame's values are the spectrogram's, normalised.
        let reference = LogMelSpectrogram().spectrogram(samples)
        XCTAssertEqual(reference.frames, 98)
        let mean = (0..<40).map { band in (0..<98).map { Double(reference.values[$0 * 40 + band]) }.reduce(0, +) / 98 }
        for band in 0..<40 { XCTAssertEqual(Double(whole.bandMean[band]), mean[band], accuracy: 1e-3 * max(1, abs(mean[band]))) }
    }

    func testTooLittleAudioIsAClearError() throws {
        let short = AudioClip(sampleRate: 16_000, channels: 1, samples: [Float](repeating: 0.1, count: 8_000))
        XCTAssertThrowsError(try AudioPredictiveCodingTrainer(clip: short)) { error in
            XCTAssertEqual(error as? TrainingError, .notEnoughAudio(frames: 48, needed: 66), "\(error)")
        }
        XCTAssertThrowsError(try AudioPredictiveCodingTrainer(historySeconds: 0.5)) { error in
            XCTAssertTrue("\(error)".contains("one window needs 66"), "\(error)")
        }
        let empty = try AudioPredictiveCodingTrainer(historySeconds: 1)
        XCTAssertThrowsError(try empty.step()) { XCTAssertTrue("\($0)".contains("feed more samples"), "\($0)") }
        XCTAssertThrowsError(try AudioPredictiveCodingTrainer(wavPath: "/nonexistent/speech.wav"))
    }

    /// Feeding a capture period and training allocate nothing once running.
    func testAppendAndStepDoNotAllocate() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        var configuration = AudioCPCConfiguration()
        configuration.batch = 2
        configuration.steps = 12
        configuration.inputNoise = 0.1
        let trainer = try AudioPredictiveCodingTrainer(configuration: configuration, historySeconds: 2, threads: 2)
        var sound = SoundScene(seed: 9)
        var period = [Float](repeating: 0, count: 1_600)
        for _ in 0..<10 {
            period.withUnsafeMutableBufferPointer { sound.render(into: $0.baseAddress!, count: $0.count) }
            trainer.append(period)
        }
        for _ in 0..<3 { _ = try trainer.step() }
        let allocations = try quietestWindowAllocations(pool: trainer.program.pool) {
            period.withUnsafeMutableBufferPointer { buffer in
                sound.render(into: buffer.baseAddress!, count: buffer.count)
                trainer.append(UnsafeBufferPointer(buffer))
            }
            _ = try trainer.step()
        }
        XCTAssertEqual(allocations, 0, "heap allocations while appending and training")
    }
}
