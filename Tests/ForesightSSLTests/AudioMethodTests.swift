// Audio: the SpecAugment-style augmentations do exactly what they say on small spectrograms,
// and audio CPC trained from a WAV file (written here from a synthetic sound scene) through
// the stream lowers its InfoNCE loss and rises above chance; a WAV at the wrong rate is a
// clear error.

import CAllocationCounter
import Foundation
import XCTest
import ForesightCore
import ForesightSensors
@testable import ForesightSSL
@testable import ForesightIO

final class AudioMethodTests: XCTestCase {
    // MARK: augmentations

    /// A spectrogram [frames, bands] whose value at (f, b) is 100 f + b + 1 (never 0).
    private func spectrogram(frames: Int, bands: Int) -> [Float] {
        (0..<frames * bands).map { Float(100 * ($0 / bands) + $0 % bands + 1) }
    }

    func testTimeShiftRollsFramesCircularly() {
        for shift in [0, 1, 3, -2, 7, 12] {
            var values = spectrogram(frames: 5, bands: 3)
            let original = values
            values.withUnsafeMutableBufferPointer { timeShift($0.baseAddress!, frames: 5, bands: 3, by: shift) }
            for frame in 0..<5 {
                let source = ((frame - shift) % 5 + 5) % 5
                XCTAssertEqual(Array(values[frame * 3..<frame * 3 + 3]), Array(original[source * 3..<source * 3 + 3]), "shift \(shift), frame \(frame)")
            }
        }
    }

    func testTimeMaskBlanksWholeFramesWithinTheWidth() {
        var random = SeededRandom(seed: 4)
        var sawMask = false
        for _ in 0..<50 {
            var values = spectrogram(frames: 20, bands: 4)
            values.withUnsafeMutableBufferPointer { timeMask($0.baseAddress!, frames: 20, bands: 4, maxWidth: 5, random: &random) }
            let blank = (0..<20).filter { frame in values[frame * 4..<frame * 4 + 4].allSatisfy { $0 == 0 } }
            let touched = (0..<20).filter { frame in values[frame * 4..<frame * 4 + 4].contains(0) }
            XCTAssertEqual(blank, touched, "a frame is masked whole or not at all")
            XCTAssertLessThanOrEqual(blank.count, 5)
            if let first = blank.first { XCTAssertEqual(blank, Array(first..<first + blank.count), "one contiguous span"); sawMask = true }
        }
        XCTAssertTrue(sawMask)
    }

    func testFrequencyMaskBlanksBandsInEveryFrame() {
        var random = SeededRandom(seed: 5)
        var widths = Set<Int>()
        for _ in 0..<50 {
            var values = spectrogram(frames: 6, bands: 16)
            values.withUnsafeMutableBufferPointer {
                frequencyMask($0.baseAddress!, frames: 6, bands: 16, maxWidth: 4, value: -1, random: &random)
            }
            let masked = (0..<16).filter { band in (0..<6).allSatisfy { values[$0 * 16 + band] == -1 } }
            let touched = (0..<16).filter { band in (0..<6).contains { values[$0 * 16 + band] == -1 } }
            XCTAssertEqual(masked, touched, "a band is masked in every frame or in none")
            XCTAssertLessThanOrEqual(masked.count, 4)
            if let first = masked.first { XCTAssertEqual(masked, Array(first..<first + masked.count)) }
            widths.insert(masked.count)
        }
        XCTAssertEqual(widths, [0, 1, 2, 3, 4], "widths are drawn from 0...maxWidth")
    }

    // MARK: audio CPC

    /// Writes `seconds` of a random sound scene (tones, chirps, noise bursts) as a 16-bit WAV.
    private func writeScene(_ path: String, seconds: Int, sampleRate: Int = 16_000, seed: UInt64) throws {
        var scene = SoundScene(sampleRate: sampleRate, seed: seed)
        var samples = [Float](repeating: 0, count: seconds * sampleRate)
        samples.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!, count: $0.count) }
        try WAV.write(AudioClip(sampleRate: sampleRate, channels: 1, samples: samples), to: path)
    }

    func testAudioCPCLossFallsOnAWAVStream() throws {
        let folder = NSTemporaryDirectory() + "foresight-audio-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "scene.wav"
        try writeScene(path, seconds: 40, seed: 3)
        var configuration = AudioCPCConfiguration()
        configuration.steps = 16
        configuration.encoderWidth = 64
        configuration.encodingFeatures = 32
        configuration.contextFeatures = 48
        let trainer = try AudioCPCTrainer(wavPath: path, configuration: configuration, chunkSeconds: 0.25, historySeconds: 10,
                                          masking: AudioMasking(maxTimeSteps: 1, maxBands: 4), threads: 2, seed: 1)
        XCTAssertLessThanOrEqual(trainer.trainer.historyBytes, 10 * 100 * 40 * 4 + 400 * 4, "the history is what was asked, not the file")
        var losses: [Float] = [], accuracies: [Float] = []
        for _ in 0..<200 {
            losses.append(try trainer.step())
            accuracies.append(trainer.lastAccuracy)
        }
        let early = losses.prefix(20).reduce(0, +) / 20, late = losses.suffix(20).reduce(0, +) / 20
        let accuracy = accuracies.suffix(20).reduce(0, +) / 20, chance = configuration.chance
        print("audio CPC on a WAV stream, chance \(chance): loss \(early) -> \(late), accuracy (last 20 steps) \(accuracy)")
        XCTAssertLessThan(late, 0.8 * early, "the InfoNCE loss should fall")
        XCTAssertGreaterThan(accuracy, 5 * chance)
    }

    /// Reading the next chunk from the file, masking and training allocate nothing.
    func testStepsFromAWAVStreamDoNotAllocate() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let folder = NSTemporaryDirectory() + "foresight-audio-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "scene.wav"
        try writeScene(path, seconds: 4, seed: 6)
        var configuration = AudioCPCConfiguration()
        configuration.batch = 2
        configuration.steps = 8
        let trainer = try AudioCPCTrainer(wavPath: path, configuration: configuration, chunkSeconds: 0.1, historySeconds: 2,
                                          masking: AudioMasking(), threads: 2, seed: 1)
        for _ in 0..<2 { try trainer.step() }
        // The quietest of three windows of 50 steps (5 s of chunks each: the file, 4 s, starts
        // again in every one): a thread another test left running may allocate during one window,
        // while an allocation of the step itself shows in all three.
        let allocations = try (0..<3).map { _ in
            let before = foresight_allocation_count()
            for _ in 0..<50 { try trainer.step() }
            return foresight_allocation_count() - before
        }.min()!
        XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 50 steps")
    }

    func testWrongSampleRateIsAClearError() throws {
        let folder = NSTemporaryDirectory() + "foresight-audio-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "fast.wav"
        try writeScene(path, seconds: 2, sampleRate: 44_100, seed: 1)
        XCTAssertThrowsError(try AudioCPCTrainer(wavPath: path)) { XCTAssertTrue("\($0)".contains("44100 Hz"), "\($0)") }
        XCTAssertThrowsError(try AudioMethods.trainer("wav2vec", wavPath: nil)) { XCTAssertTrue("\($0)".contains("known: cpc"), "\($0)") }
        XCTAssertThrowsError(try AudioMethods.trainer("cpc", samples: [0.1, 0.2], sampleRate: 16_000)) {
            XCTAssertTrue("\($0)".contains("need at least that many samples"), "\($0)")
        }
    }

    /// Samples already in memory at another rate are resampled and train.
    func testInMemorySamplesTrainThroughTheFactory() throws {
        var scene = SoundScene(sampleRate: 8_000, seed: 2)
        var samples = [Float](repeating: 0, count: 4 * 8_000)
        samples.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!, count: $0.count) }
        let trainer = try AudioMethods.trainer("cpc", samples: samples, sampleRate: 8_000, threads: 2, seed: 1)
        var losses: [Float] = []
        for _ in 0..<3 { losses.append(try trainer.step()) }
        XCTAssertTrue(losses.allSatisfy { $0.isFinite && $0 > 0 }, "\(losses)")
        XCTAssertNil(trainer.imageBackbone)
    }
}
