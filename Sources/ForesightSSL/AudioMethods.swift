// Contrastive predictive coding on audio as a `SelfSupervisedTrainer`: the
// AudioPredictiveCodingTrainer (log-mel encoder, GRU context, InfoNCE) fed from a WAV stream
// (or a synthetic sound scene) a chunk per step, so that a long recording is never held
// whole: the trainer keeps a fixed history of log-mel frames and draws its windows from it.
// Optional SpecAugment-style masks on the model's input. Not a speech recogniser.

import ForesightCore
import ForesightNN
import ForesightSensors
import ForesightIO

/// Mono audio from a synthetic sound scene (tones, chirps, noise bursts), in windows of S samples.
///
/// ```swift
/// let audio = SoundSceneStream(windowSamples: 1_600, seed: 3)
/// ```
public final class SoundSceneStream: SampleStream {
    public typealias Element = Float
    public let windowSamples: Int
    public var sampleRate: Int { scene.sampleRate }
    private var scene: SoundScene

    public init(sampleRate: Int = 16_000, windowSamples: Int, seed: UInt64) {
        precondition(windowSamples >= 1, "an audio window needs at least one sample, got \(windowSamples)")
        self.windowSamples = windowSamples
        scene = SoundScene(sampleRate: sampleRate, seed: seed)
    }

    public var sampleCount: Int { windowSamples }
    public func next(into destination: UnsafeMutablePointer<Float>) { scene.render(into: destination, count: windowSamples) }
}

/// Mono audio held in memory (already read, e.g. by the command line), in windows of S
/// samples taken in order and starting again at the end.
///
/// ```swift
/// let audio = try SampleArrayStream(samples: clip.samples, windowSamples: 8_000)
/// ```
public final class SampleArrayStream: SampleStream {
    public typealias Element = Float
    public let samples: [Float]
    public let windowSamples: Int
    private var position = 0

    public init(samples: [Float], windowSamples: Int) throws {
        guard windowSamples >= 1, samples.count >= windowSamples else {
            throw TrainingError.notEnoughData(available: samples.count, needed: windowSamples, message: "audio windows of \(windowSamples) samples need at least that many samples; got \(samples.count)")
        }
        self.samples = samples
        self.windowSamples = windowSamples
    }

    public var sampleCount: Int { windowSamples }
    public func next(into destination: UnsafeMutablePointer<Float>) {
        if position + windowSamples > samples.count { position = 0 }
        samples.withUnsafeBufferPointer { destination.update(from: $0.baseAddress! + position, count: windowSamples) }
        position += windowSamples
    }
}

/// SpecAugment-style masking of the audio model's input, per window.
public struct AudioMasking: Sendable, Equatable {
    /// Longest run of encoder steps set to the mean (0 after normalisation), and how many runs.
    public var maxTimeSteps: Int, timeMasks: Int
    /// Longest run of mel bands set to the mean, and how many runs.
    public var maxBands: Int, bandMasks: Int

    public init(maxTimeSteps: Int = 2, timeMasks: Int = 1, maxBands: Int = 6, bandMasks: Int = 1) {
        precondition(maxTimeSteps >= 0 && timeMasks >= 0 && maxBands >= 0 && bandMasks >= 0, "mask sizes and counts must not be negative")
        self.maxTimeSteps = maxTimeSteps; self.timeMasks = timeMasks
        self.maxBands = maxBands; self.bandMasks = bandMasks
    }
}

/// Audio CPC (van den Oord et al. 2018) trained from a stream: each step appends the stream's
/// next chunk to the trainer's fixed history of log-mel frames, draws N windows from it,
/// optionally masks them, and trains once. Memory: the program, the history
/// (`historySeconds`) and one chunk, whatever the recording's length.
///
/// ```swift
/// let trainer = try AudioCPCTrainer(wavPath: "street.wav", threads: 2)
/// for _ in 0..<500 { try trainer.step() }
/// print(trainer.lastAccuracy, trainer.configuration.chance)
/// ```
public final class AudioCPCTrainer: SelfSupervisedTrainer {
    public let trainer: AudioPredictiveCodingTrainer
    public var program: Program { trainer.program }
    public var imageBackbone: (any ImageBackbone)? { nil }
    public var configuration: AudioCPCConfiguration { trainer.configuration }
    public var trainingState: [(name: String, tensor: Tensor)] { trainer.trainingState }
    public let audio: any SampleStream<Float>
    public let masking: AudioMasking?
    /// InfoNCE accuracy of the last step (chance: `configuration.chance`).
    public private(set) var lastAccuracy: Float = 0
    private var chunk: [Float]
    private var random: SeededRandom

    /// Trains on `audio`, mono samples at `configuration.sampleRate`, a chunk of `audio.sampleCount`
    /// samples per step; the history starts with `historySeconds / 2` of it (at least one window).
    public init(audio: any SampleStream<Float>, configuration: AudioCPCConfiguration = AudioCPCConfiguration(),
                historySeconds: Double = 30, masking: AudioMasking? = nil, learningRate: Float = 2e-3,
                threads: Int = 1, seed: UInt64 = 1) throws {
        trainer = try AudioPredictiveCodingTrainer(configuration: configuration, historySeconds: historySeconds, threads: threads,
                                                   learningRate: learningRate, seed: seed)
        self.audio = audio
        self.masking = masking
        chunk = [Float](repeating: 0, count: audio.sampleCount)
        random = SeededRandom(seed: seed &+ 0x5EED)
        let windowSamples = configuration.windowFrames * configuration.hopLength + configuration.windowLength
        let warmUp = max(windowSamples, Int(historySeconds / 2 * Double(configuration.sampleRate)))
        var fed = 0
        while fed < warmUp {
            try feedChunk()
            fed += chunk.count
        }
    }

    /// Trains on the WAV file at `wavPath` (16-bit PCM or float, channels averaged), read a
    /// chunk of `chunkSeconds` per step; its rate must be `configuration.sampleRate`.
    public convenience init(wavPath: String, configuration: AudioCPCConfiguration = AudioCPCConfiguration(), chunkSeconds: Double = 0.5,
                            historySeconds: Double = 30, masking: AudioMasking? = nil, learningRate: Float = 2e-3,
                            threads: Int = 1, seed: UInt64 = 1) throws {
        let chunkSamples = max(1, Int(chunkSeconds * Double(configuration.sampleRate)))
        let stream = try WAVWindowStream(path: wavPath, windowSamples: chunkSamples)
        guard stream.sampleRate == configuration.sampleRate else {
            throw TrainingError.mismatchedData(message: "\(wavPath) is sampled at \(stream.sampleRate) Hz; audio CPC expects \(configuration.sampleRate) Hz (resample it, e.g. sox in.wav -r \(configuration.sampleRate) out.wav)")
        }
        try self.init(audio: stream, configuration: configuration, historySeconds: historySeconds, masking: masking,
                      learningRate: learningRate, threads: threads, seed: seed)
    }

    private func feedChunk() throws {
        try chunk.withUnsafeMutableBufferPointer { chunk in
            try audio.next(into: chunk.baseAddress!)
            trainer.append(UnsafeBufferPointer(chunk))
        }
    }

    /// Chunks in a pass over the recording (a step appends one), or nil for a synthetic scene.
    public var stepsPerPass: Int? {
        if let array = audio as? SampleArrayStream { return max(1, array.samples.count / array.windowSamples) }
        if let file = audio as? WAVWindowStream { return max(1, file.frameCount / file.hop) }
        return nil
    }

    /// Appends the next chunk, draws and (optionally) masks a batch of windows, trains once; returns the InfoNCE loss.
    @discardableResult
    public func step() throws -> Float {
        try feedChunk()
        try trainer.loadBatch()
        if let masking { mask(masking) }
        let loss = try program.step()
        lastAccuracy = trainer.model.objective.accuracy
        return loss
    }

    /// Masks each window of the input [N, T, kernel * bands]: runs of encoder steps, and runs of
    /// mel bands in every stacked frame (the window's frames are [T * kernel, bands] in a row).
    private func mask(_ masking: AudioMasking) {
        let c = configuration, input = program.tensor(trainer.model.frames).floatPointer
        let windowFloats = c.steps * c.stackedFeatures
        for n in 0..<c.batch {
            let window = input + n * windowFloats
            timeMask(window, frames: c.steps, bands: c.stackedFeatures, maxWidth: masking.maxTimeSteps, count: masking.timeMasks, random: &random)
            frequencyMask(window, frames: c.steps * c.encoderKernel, bands: c.melBands, maxWidth: masking.maxBands,
                          count: masking.bandMasks, random: &random)
        }
    }
}

/// The audio method and the trainer the command line makes for it.
public enum AudioMethods {
    /// The trainer for "cpc" on samples already in memory (mixed to mono), resampled to the
    /// model's 16 kHz when needed; fed to the trainer half a second per step.
    ///
    /// ```swift
    /// let clip = try WAV.read(path: "street.wav").mixedToMono()
    /// let trainer = try AudioMethods.trainer("cpc", samples: clip.samples, sampleRate: clip.sampleRate)
    /// ```
    public static func trainer(_ method: String, samples: [Float], sampleRate: Int, masking: AudioMasking? = AudioMasking(),
                               learningRate: Float = 2e-3, threads: Int = 1, seed: UInt64 = 1) throws -> any SelfSupervisedTrainer {
        guard method == "cpc" else { throw TrainingError.unknownMethod(method, known: ["cpc"], family: "audio") }
        let configuration = AudioCPCConfiguration()
        let mono = sampleRate == configuration.sampleRate
            ? samples : AudioClip(sampleRate: sampleRate, channels: 1, samples: samples).resampled(to: configuration.sampleRate).samples
        let seconds = Double(mono.count) / Double(configuration.sampleRate)
        return try AudioCPCTrainer(audio: try SampleArrayStream(samples: mono, windowSamples: configuration.sampleRate / 2),
                                   configuration: configuration, historySeconds: min(30, max(2, seconds)), masking: masking,
                                   learningRate: learningRate, threads: threads, seed: seed)
    }

    /// The trainer for "cpc" on audio: the WAV file at `wavPath`, or a synthetic sound scene when nil.
    ///
    /// ```swift
    /// let trainer = try AudioMethods.trainer("cpc", wavPath: "street.wav", threads: 2)
    /// ```
    public static func trainer(_ method: String, wavPath: String?, masking: AudioMasking? = AudioMasking(),
                               threads: Int = 1, seed: UInt64 = 1) throws -> any SelfSupervisedTrainer {
        guard method == "cpc" else { throw TrainingError.unknownMethod(method, known: ["cpc"], family: "audio") }
        if let wavPath { return try AudioCPCTrainer(wavPath: wavPath, masking: masking, threads: threads, seed: seed) }
        let configuration = AudioCPCConfiguration()
        return try AudioCPCTrainer(audio: SoundSceneStream(sampleRate: configuration.sampleRate, windowSamples: configuration.sampleRate / 2, seed: seed),
                                   configuration: configuration, masking: masking, threads: threads, seed: seed)
    }
}
