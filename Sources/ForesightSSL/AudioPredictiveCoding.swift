// Contrastive predictive coding on audio (van den Oord et al. 2018): log-mel frames -> a strided
// 1-D convolution over time (a linear layer over stacked frames) and a pointwise layer -> a GRU
// context -> InfoNCE over K steps ahead; and a trainer on random windows of a fixed-size
// history of frames fed from samples. Not the live loop (no capture thread, no checkpoints).

import ForesightCore
import ForesightNN
import ForesightSensors
import ForesightIO

/// Sizes of the audio CPC model and its input framing.
///
/// ```swift
/// var configuration = AudioCPCConfiguration()      // 16 kHz, 25 ms / 10 ms log-mel, 40 bands
/// configuration.predictionSteps = 8
/// ```
public struct AudioCPCConfiguration: Sendable, Equatable {
    /// Samples per second the trainer expects (other rates are resampled when a clip is given).
    public var sampleRate = 16_000
    /// Log-mel analysis: window and hop in samples (25 ms and 10 ms at 16 kHz), FFT length (a
    /// power of two), bands.
    public var windowLength = 400, hopLength = 160, fftSize = 512, melBands = 40
    /// Log-mel frames one encoder step sees (the convolution's kernel) and frames between
    /// steps (its stride): 4 and 2 give one step of 55 ms of audio every 20 ms.
    public var encoderKernel = 4, encoderStride = 2
    /// Hidden channels of the encoder, and E, the features of an encoding z.
    public var encoderWidth = 128, encodingFeatures = 64
    /// Hidden units of the GRU context c.
    public var contextFeatures = 96
    /// K: encoder steps ahead the context predicts (1...K), 20 to 80 ms with the default framing.
    public var predictionSteps = 4
    /// N windows per batch and T encoder steps per window.
    public var batch = 8, steps = 32
    /// Standard deviation of Gaussian noise added to the normalised log-mel input while training
    /// (0: none), a simple augmentation. (On the 15 s test recording it did not reduce memorising.)
    public var inputNoise: Float = 0

    public init() {}

    /// Log-mel frames one window covers: (T - 1) * stride + kernel.
    public var windowFrames: Int { (steps - 1) * encoderStride + encoderKernel }
    /// Features of one encoder input row: kernel * melBands.
    public var stackedFeatures: Int { encoderKernel * melBands }
    /// Accuracy of guessing the true future: 1 / (N * T), every encoding of the batch being a candidate.
    public var chance: Float { 1 / Float(batch * steps) }
}

/// The built audio CPC graph: where to write inputs and what to read.
public struct AudioCPCModel {
    public let graph: Graph
    /// Normalised log-mel frames stacked per encoder step: [N, T, kernel * melBands]; row t holds
    /// frames t * stride ..< t * stride + kernel of the window, frame after frame.
    public let frames: TensorID
    /// Encodings z: [N, T, E].
    public let encodings: TensorID
    /// Context c from the GRU: [N, T, contextFeatures].
    public let context: TensorID
    /// The InfoNCE loss, a scalar.
    public let loss: TensorID
    /// The loss operation; its `accuracy` is valid after each forward pass.
    public let objective: InfoNCEOperation

    /// Builds encoder (`enc1`, `enc2`), context (`context`) and loss (`cpc`) for `configuration`.
    ///
    /// ```swift
    /// let model = try AudioCPCModel(AudioCPCConfiguration())
    /// let program = try Program(model.graph, loss: model.loss, optimizer: Adam(learningRate: 2e-3))
    /// ```
    public init(_ configuration: AudioCPCConfiguration) throws {
        let c = configuration
        let graph = Graph()
        frames = try graph.input("frames", [c.batch, c.steps, c.stackedFeatures])
        let hidden = try graph.relu(try graph.linear(frames, outFeatures: c.encoderWidth, name: "enc1"))
        encodings = try graph.relu(try graph.linear(hidden, outFeatures: c.encodingFeatures, name: "enc2"))
        context = try graph.gru(encodings, hidden: c.contextFeatures, name: "context")
        (loss, objective) = try graph.infoNCELoss(context: context, encodings: encodings, predictionSteps: c.predictionSteps, name: "cpc")
        self.graph = graph
    }
}

/// Trains the audio CPC model on random windows of the most recent audio it was given.
/// All memory is sized at init: the program's arena, a ring of `historyFrames` log-mel frames,
/// one analysis window of pending samples. `append` and `step` allocate nothing.
///
/// ```swift
/// let trainer = try AudioPredictiveCodingTrainer(wavPath: "speech.wav", threads: 2)
/// for _ in 0..<500 { let result = try trainer.step(); print(result.loss, result.accuracy) }
/// print(trainer.configuration.chance)
/// ```
public final class AudioPredictiveCodingTrainer {
    public let configuration: AudioCPCConfiguration
    public let model: AudioCPCModel
    public let program: Program
    /// Log-mel frames the history keeps (the oldest are overwritten).
    public let historyFrames: Int
    /// Log-mel frames made since the start (the history holds the last `historyFrames` of them).
    public private(set) var framesReceived = 0
    /// Frames the normalising statistics average over, at most (about a minute at a 10 ms hop).
    public let normalizationFrames = 6_000

    /// Loss and accuracy of one step, measured before the update.
    public struct StepResult: Sendable {
        /// InfoNCE loss, the mean cross-entropy over every prediction.
        public let loss: Float
        /// Fraction of predictions whose true future scored highest (chance: `configuration.chance`).
        public let accuracy: Float
    }

    private let logMel: LogMelSpectrogram
    /// Raw log-mel frames, a ring: [historyFrames, melBands].
    private var history: [Float]
    /// Samples of the analysis window being filled: [windowLength].
    private var pending: [Float]
    private var pendingCount = 0
    /// Running mean and variance of each log-mel band, which normalise the model's input
    /// ([melBands] each, in `statistics`); part of the model when it is saved or evaluated elsewhere.
    public internal(set) var bandMean: [Float] {
        get { Array(UnsafeBufferPointer(start: mean, count: configuration.melBands)) }
        set { precondition(newValue.count == configuration.melBands); mean.update(from: newValue, count: newValue.count) }
    }
    public internal(set) var bandVariance: [Float] {
        get { Array(UnsafeBufferPointer(start: variance, count: configuration.melBands)) }
        set { precondition(newValue.count == configuration.melBands); variance.update(from: newValue, count: newValue.count) }
    }
    /// The band statistics' memory: "audio.band_mean" and "audio.band_variance".
    private let statistics: Arena
    private let mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>
    private let statisticsState: [(name: String, tensor: Tensor)]
    private var random: SeededRandom

    /// A trainer whose history keeps `historySeconds` of audio (at the configured hop).
    public init(configuration: AudioCPCConfiguration = AudioCPCConfiguration(), historySeconds: Double = 60, threads: Int = 1,
                learningRate: Float = 2e-3, seed: UInt64 = 1, budget: Int? = nil) throws {
        let c = configuration
        self.configuration = c
        historyFrames = Int(historySeconds * Double(c.sampleRate) / Double(c.hopLength))
        guard historyFrames >= c.windowFrames else { throw TrainingError.invalidSetting(name: "historySeconds", message: "the audio history holds \(historyFrames) log-mel frames but one window needs \(c.windowFrames); give a longer history") }
        model = try AudioCPCModel(c)
        program = try Program(model.graph, loss: model.loss, optimizer: Adam(learningRate: learningRate),
                              threads: threads, budget: budget, seed: seed)
        logMel = LogMelSpectrogram(sampleRate: c.sampleRate, fftSize: c.fftSize, windowLength: c.windowLength,
                                   hopLength: c.hopLength, melBands: c.melBands)
        history = [Float](repeating: 0, count: historyFrames * c.melBands)
        pending = [Float](repeating: 0, count: c.windowLength)
        statistics = try Arena(capacity: 2 * c.melBands * MemoryLayout<Float>.size + 256)
        let meanTensor = try statistics.allocate(Shape([c.melBands]), name: "audio.band_mean")
        let varianceTensor = try statistics.allocate(Shape([c.melBands]), name: "audio.band_variance")
        mean = meanTensor.floatPointer
        variance = varianceTensor.floatPointer
        mean.initialize(repeating: 0, count: c.melBands)
        variance.initialize(repeating: 0, count: c.melBands)
        statisticsState = [(meanTensor.name, meanTensor), (varianceTensor.name, varianceTensor)]
        random = SeededRandom(seed: seed &* 0x9E37_79B9 &+ 17)
    }

    /// A trainer on one clip (mixed to mono and resampled as needed) whose history holds all of it.
    public convenience init(clip: AudioClip, configuration: AudioCPCConfiguration = AudioCPCConfiguration(), threads: Int = 1,
                            learningRate: Float = 2e-3, seed: UInt64 = 1, budget: Int? = nil) throws {
        let mono = clip.mixedToMono().resampled(to: configuration.sampleRate)
        // Room for the whole clip, and for one window however short the clip (which then throws below).
        let frames = max(mono.samples.count / configuration.hopLength + 1, configuration.windowFrames)
        let seconds = Double(frames * configuration.hopLength) / Double(configuration.sampleRate)
        try self.init(configuration: configuration, historySeconds: seconds, threads: threads, learningRate: learningRate,
                      seed: seed, budget: budget)
        append(mono.samples)
        guard framesReceived >= configuration.windowFrames else {
            throw TrainingError.notEnoughAudio(frames: framesReceived, needed: configuration.windowFrames)
        }
    }

    /// A trainer on a WAV file (PCM16 or float32, any rate and channel count).
    public convenience init(wavPath: String, configuration: AudioCPCConfiguration = AudioCPCConfiguration(), threads: Int = 1,
                            learningRate: Float = 2e-3, seed: UInt64 = 1, budget: Int? = nil) throws {
        let samples = try WAVMonoReader(path: wavPath, sampleRate: configuration.sampleRate).readAll()
        try self.init(clip: AudioClip(sampleRate: configuration.sampleRate, channels: 1, samples: samples), configuration: configuration, threads: threads,
                      learningRate: learningRate, seed: seed, budget: budget)
    }

    /// Bytes held outside the program's arena: the history ring and the pending samples.
    public var historyBytes: Int { (history.count + pending.count) * MemoryLayout<Float>.size }

    /// Frames in the history that windows are drawn from.
    public var framesAvailable: Int { min(framesReceived, historyFrames) }

    /// Feeds mono samples at `configuration.sampleRate` (any count, e.g. one capture period);
    /// every completed analysis window becomes a log-mel frame in the history.
    public func append(_ samples: UnsafeBufferPointer<Float>) {
        let c = configuration
        let overlap = c.windowLength - c.hopLength
        pending.withUnsafeMutableBufferPointer { pending in
            history.withUnsafeMutableBufferPointer { history in
                for sample in samples {
                    pending[pendingCount] = sample
                    pendingCount += 1
                    guard pendingCount == c.windowLength else { continue }
                    let frame = history.baseAddress! + (framesReceived % historyFrames) * c.melBands
                    logMel.frame(pending.baseAddress!, into: frame)
                    updateStatistics(frame)
                    framesReceived += 1
                    // Keep the overlap with the next window.
                    if overlap > 0 { pending.baseAddress!.update(from: pending.baseAddress! + c.hopLength, count: overlap) }
                    pendingCount = max(0, overlap)
                }
            }
        }
    }

    /// Feeds mono samples from an array.
    public func append(_ samples: [Float]) {
        samples.withUnsafeBufferPointer { append($0) }
    }

    /// Running per-band mean and variance: a plain average over the first `normalizationFrames`
    /// frames, an exponential one after.
    private func updateStatistics(_ frame: UnsafePointer<Float>) {
        let rate = 1 / Float(min(framesReceived + 1, normalizationFrames))
        for band in 0..<configuration.melBands {
            let difference = frame[band] - mean[band]
            mean[band] += rate * difference
            variance[band] += rate * (difference * difference * (1 - rate) - variance[band])
        }
    }

    /// Writes N windows into the model's input. When the history holds N windows, the n-th one
    /// starts at random in the n-th of N equal parts of it, so that windows of one batch do not
    /// overlap (a repeated stretch of audio would be a negative identical to the true future);
    /// otherwise each starts anywhere. `noise` is added to every normalised value.
    public func loadBatch(noise: Float = 0) throws {
        let c = configuration
        let available = framesAvailable
        guard available >= c.windowFrames else { throw TrainingError.notEnoughAudio(frames: available, needed: c.windowFrames) }
        let oldest = framesReceived - available
        let part = available / c.batch
        let input = program.tensor(model.frames).floatPointer
        let mean = self.mean, variance = self.variance
        history.withUnsafeBufferPointer { history in
            for n in 0..<c.batch {
                let start = part >= c.windowFrames
                    ? oldest + n * part + random.nextInt(below: part - c.windowFrames + 1)
                    : oldest + random.nextInt(below: available - c.windowFrames + 1)
                for t in 0..<c.steps {
                    for offset in 0..<c.encoderKernel {
                        let frame = history.baseAddress! + ((start + t * c.encoderStride + offset) % historyFrames) * c.melBands
                        let row = input + ((n * c.steps + t) * c.encoderKernel + offset) * c.melBands
                        for band in 0..<c.melBands {
                            row[band] = (frame[band] - mean[band]) / (variance[band] + 1e-3).squareRoot()
                        }
                        if noise > 0 { for band in 0..<c.melBands { row[band] += noise * random.nextGaussian() } }
                    }
                }
            }
        }
    }

    /// Everything training changes: the program's parameters and optimizer state, and the
    /// band statistics that normalise its input.
    public var trainingState: [(name: String, tensor: Tensor)] { program.trainingState + statisticsState }

    /// Loads a batch of random windows and takes one training step.
    public func step() throws -> StepResult {
        try loadBatch(noise: configuration.inputNoise)
        let loss = try program.step()
        return StepResult(loss: loss, accuracy: model.objective.accuracy)
    }

    /// Mean loss and accuracy over `batches` batches of random windows, without training.
    public func evaluate(batches: Int) throws -> StepResult {
        precondition(batches > 0, "evaluate needs at least one batch, got \(batches)")
        var loss: Float = 0, accuracy: Float = 0
        for _ in 0..<batches {
            try loadBatch()
            program.forward()
            loss += program.lossValue
            accuracy += model.objective.accuracy
        }
        return StepResult(loss: loss / Float(batches), accuracy: accuracy / Float(batches))
    }
}
