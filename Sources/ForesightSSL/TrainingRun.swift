// One training run of any registered method, as `foresight train` does it: builds the trainer
// from the registry, steps it, reports progress, writes atomic checkpoints (model files with
// the method, backbone, input shape and steps done), resumes from one, and stops at a
// non-finite loss keeping the last good checkpoint. Not a scheduler: a fixed learning rate.

import Foundation
import ForesightCore
import ForesightNN
import ForesightIO

/// Model-file metadata keys a training run writes besides the checkpoint's own
/// (`Checkpoint.Key`: architecture, steps, optimizer steps, learning rate).
public enum TrainingMetadata {
    /// The method's short name ("simclr").
    public static let method = "ssl.method"
    /// The backbone specification ("resnet width=16 groups=4"), for image methods.
    public static let backbone = "ssl.backbone"
    /// The input shape of one image, "C,H,W", for image methods.
    public static let input = "ssl.input"
    /// Images (or clips, or sequences) per step.
    public static let batch = "ssl.batch"
    /// The method's settings, "name=value ..." (`train --set`), for methods that have some.
    public static let settings = "ssl.settings"
    /// The seed of the run.
    public static let seed = "ssl.seed"
}

/// Where a training run is, after each step.
public struct TrainingProgress: Sendable {
    /// Steps done, including those of a resumed checkpoint.
    public var step: Int
    /// Steps the run will have done at its end.
    public var totalSteps: Int
    public var loss: Float
    /// Steps per second in this process.
    public var stepsPerSecond: Double
    /// Estimated seconds to the last step.
    public var secondsRemaining: Double { stepsPerSecond > 0 ? Double(totalSteps - step) / stepsPerSecond : .infinity }
}

/// What a finished run did.
public struct TrainingRunReport: Sendable {
    /// Steps done at the end, including those of a resumed checkpoint.
    public var steps: Int
    /// Mean loss of the first and of the last tenth of this run's steps.
    public var firstLoss: Float, lastLoss: Float
    public var seconds: Double
    /// Checkpoints written (the final one included).
    public var checkpoints: Int
}

/// A trainer of one registered method with its checkpoint state.
///
/// ```swift
/// let run = try TrainingRun(method: "simclr", dataPath: "frames/", options: options)
/// let report = try run.train(steps: 500, checkpointEvery: 100, output: "simclr.safetensors") { print($0.step, $0.loss) }
/// ```
public final class TrainingRun {
    public let method: String
    public let trainer: any SelfSupervisedTrainer
    public let options: TrainingOptions
    /// The method's settings, resolved and written as model files store them ("" without settings).
    public let settings: String
    /// One image's shape [C, H, W] for image methods, else nil.
    public let inputShape: [Int]?
    /// Steps per pass over the data: for image methods ceil(count / batch) (the whole folder's
    /// count when it comes in chunks), else the trainer's `stepsPerPass` (nil for a synthetic source).
    public let stepsPerEpoch: Int?
    /// The image folder in chunks, when it is too large to decode whole within
    /// `options.imageMemoryBytes`: chunks of half that, so that the next one can be decoded
    /// while the last is still in use. Nil otherwise.
    public let chunks: ImageFolderChunks?
    /// Steps on each chunk (about one pass over it) before the next is decoded; nil without chunks.
    public let stepsPerChunk: Int?
    /// The chunk the trainer draws from now.
    public private(set) var currentChunk = 0
    /// The chunk after it, decoding on a background queue while the current one trains.
    private var prefetched: ChunkPrefetch?
    /// Steps done, including those of a resumed checkpoint.
    public private(set) var stepsDone = 0
    /// The checkpoint this run resumed from and its steps.
    private var resumed: (path: String, steps: Int)?
    /// The trainer's `trainingState`, listed once: what checkpoints hold.
    private let state: [(name: String, tensor: Tensor)]

    /// Builds `method`'s trainer on `data`; with `chunks`, `data` is their chunk 0 and training
    /// moves on to the next chunk every `stepsPerChunk` steps.
    public init(method: String, data: TrainingData, options: TrainingOptions, chunks: ImageFolderChunks? = nil) throws {
        guard options.batch >= 1, options.threads >= 1, options.imageSize >= 1,
              options.learningRate > 0, options.learningRate.isFinite else {
            throw TrainingError.invalidSetting(name: "options", message: "batch (\(options.batch)), threads (\(options.threads)) and image size (\(options.imageSize)) must be at least 1 and the learning rate (\(options.learningRate)) positive")
        }
        self.method = method
        self.options = options
        let registered = try MethodRegistry.method(named: method)
        settings = registered.describe(try registered.resolvedSettings(options.settings))
        trainer = try MethodRegistry.makeTrainer(method: method, data: data, options: options)
        self.chunks = chunks
        if let chunks {
            guard trainer is any ImageSetTrainer else { throw TrainingError.invalidSetting(name: "--image-memory", message: "\(method) cannot take an image folder in chunks") }
            stepsPerChunk = max(1, (chunks.files.count / chunks.chunksPerPass + options.batch - 1) / options.batch)
        } else {
            stepsPerChunk = nil
        }
        if case let .images(set) = data {
            inputShape = [set.channels, set.height, set.width]
            stepsPerEpoch = ((chunks?.files.count ?? set.count) + options.batch - 1) / options.batch
        } else {
            inputShape = trainer.imageBackbone == nil ? nil : registered.imageShape(options: options)
            stepsPerEpoch = trainer.stepsPerPass
        }
        state = trainer.trainingState
    }

    /// Checks that `method` trains on what `dataPath` holds, then reads the data and builds the
    /// trainer. An image folder whose decoded images would take more than
    /// `options.imageMemoryBytes` is taken in chunks of half that (see `chunks`).
    public convenience init(method: String, dataPath: String, options: TrainingOptions) throws {
        guard let kind = TrainingDataKind.of(path: dataPath) else { throw TrainingError.unreadableData(path: dataPath, message: TrainingDataKind.unknownMessage(dataPath)) }
        try MethodRegistry.check(method: method, trainsOn: kind, source: "--data \(dataPath)")
        guard kind == .images else {
            try self.init(method: method, data: TrainingData.load(path: dataPath, options: options), options: options)
            return
        }
        let files = try TrainingData.imageFiles(folder: dataPath)
        let channels = options.colour ? 3 : 1, fitting = options.imagesFitting(channels: channels)
        if files.count > fitting {
            let chunks = try ImageFolderChunks(files: files, capacity: max(1, fitting / 2), channels: channels, size: options.imageSize, seed: options.seed)
            guard chunks.smallestChunk >= options.batch else {
                throw TrainingError.notEnoughData(available: chunks.smallestChunk, needed: options.batch, message: "--data \(dataPath): \(files.count) images do not fit in the image memory (\(fitting) of \(channels)x\(options.imageSize)x\(options.imageSize) do), so they are taken in chunks of \(chunks.smallestChunk), fewer than a batch of \(options.batch): raise the image memory or lower the batch")
            }
            try self.init(method: method, data: .images(try chunks.chunk(0)), options: options, chunks: chunks)
        } else {
            try self.init(method: method, data: TrainingData.images(files, options: options), options: options)
        }
    }

    /// The checkpoint of this run as it stands: the steps done, the optimizer's state, and
    /// what identifies the run (method, backbone, input shape, settings) with its batch and seed.
    public var checkpoint: Checkpoint {
        var details = [
            TrainingMetadata.method: method,
            TrainingMetadata.batch: String(options.batch),
            TrainingMetadata.seed: String(options.seed),
        ]
        if let backbone = trainer.imageBackbone { details[TrainingMetadata.backbone] = backbone.specification }
        if let inputShape { details[TrainingMetadata.input] = inputShape.map(String.init).joined(separator: ",") }
        if !settings.isEmpty { details[TrainingMetadata.settings] = settings }
        return Checkpoint(architecture: "ssl-" + method, steps: stepsDone, optimizer: trainer.program.optimizer, details: details)
    }

    /// The metadata a checkpoint of this run stores now.
    public var metadata: [String: String] { checkpoint.metadata }

    /// Writes the trained state and the checkpoint's metadata to `path` atomically.
    public func save(to path: String) throws {
        try checkpoint.write(to: path, state: state)
    }

    /// Continues from the checkpoint at `path`: it must be of the same method, backbone, input shape and settings.
    public func resume(from path: String) throws {
        let stored = try Checkpoint(path: path)
        let current = checkpoint.details
        var storedDetails = stored.details
        // Model files written before methods had settings trained with the defaults.
        if storedDetails[TrainingMetadata.settings] == nil, let registered = try? MethodRegistry.method(named: method),
           let defaults = try? registered.resolvedSettings([:]) {
            storedDetails[TrainingMetadata.settings] = defaults.isEmpty ? nil : registered.describe(defaults)
        }
        for key in [TrainingMetadata.method, TrainingMetadata.backbone, TrainingMetadata.input, TrainingMetadata.settings]
        where storedDetails[key] != current[key] {
            throw TrainingError.checkpointMismatch(path: path, key: key, stored: storedDetails[key], current: current[key])
        }
        try stored.load(into: state)
        trainer.program.optimizer?.stepCount = stored.optimizerSteps
        stepsDone = stored.steps
        resumed = (path, stepsDone)
    }

    /// Trains until `steps` steps are done in all (resumed ones included), writing a checkpoint
    /// to `output` every `checkpointEvery` steps and at the end. A checkpoint is written only
    /// when its parameters give a finite loss on the last batch; a non-finite loss stops the run
    /// with an error, and the file on disk is the last good checkpoint.
    /// `shouldStop` is asked before each step: when it says so, the run writes its checkpoint
    /// and returns early (Ctrl-C in `foresight train`). `heartbeat` is rewritten after every
    /// step and every checkpoint with the steps done and those saved.
    public func train(steps: Int, checkpointEvery: Int? = nil, output: String? = nil, heartbeat: Heartbeat? = nil,
                      progress: (TrainingProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> TrainingRunReport {
        guard steps >= 1 else { throw TrainingError.invalidSetting(name: "steps", message: "the number of steps must be at least 1 (got \(steps))") }
        if let checkpointEvery, checkpointEvery < 1 { throw TrainingError.invalidSetting(name: "--checkpoint-every", message: "--checkpoint-every must be at least 1 (got \(checkpointEvery))") }
        // Every loss of this run, in memory sized before the first step.
        var losses = [Float](repeating: 0, count: max(0, steps - stepsDone))
        var checkpoints = 0
        var lastCheckpoint = resumed.flatMap { $0.path == output ? $0.steps : nil }
        heartbeat?.beat(steps: stepsDone, saved: lastCheckpoint ?? 0)
        func kept(_ step: Int?) -> String {
            if let step { return "the last good checkpoint (step \(step)) is kept in \(output ?? "")" }
            return output.map { "no checkpoint was written in this run (\($0) is as it was)" } ?? "no checkpoint was asked for"
        }
        /// Writes the checkpoint if the parameters after the last update give a finite loss on its batch.
        func checkpoint(_ output: String) throws {
            trainer.program.forward()
            let check = trainer.program.lossValue
            guard check.isFinite else {
                throw TrainingError.nonFiniteLoss(method: method, step: stepsDone, message: "\(method): the loss became \(check) after step \(stepsDone); \(kept(lastCheckpoint)). Lower --learning-rate and resume")
            }
            try save(to: output)
            checkpoints += 1
            lastCheckpoint = stepsDone
            heartbeat?.beat(steps: stepsDone, saved: stepsDone)
        }
        let start = MonotonicClock.nanoseconds()
        var taken = 0
        if let chunks, let stepsPerChunk, prefetched == nil {
            // The chunk needed next: the one after the current, or (resumed) the one the steps done point at.
            let due = stepsDone / stepsPerChunk
            prefetched = ChunkPrefetch(chunks, index: due == currentChunk ? due + 1 : due)
        }
        while stepsDone < steps {
            if shouldStop() {
                if let output, taken > 0, lastCheckpoint != stepsDone { try checkpoint(output) }
                break
            }
            if let chunks, let stepsPerChunk, stepsDone / stepsPerChunk != currentChunk, let imageTrainer = trainer as? any ImageSetTrainer {
                let wanted = stepsDone / stepsPerChunk
                do {
                    let next = try prefetched.flatMap { $0.index == wanted ? try $0.wait() : nil } ?? chunks.chunk(wanted)
                    prefetched = nil
                    try imageTrainer.replaceImages(next)
                    prefetched = ChunkPrefetch(chunks, index: wanted + 1)
                } catch {
                    if let output, taken > 0, lastCheckpoint != stepsDone { try checkpoint(output) }
                    throw TrainingError.unreadableData(path: nil, message: "\(method): chunk \(wanted + 1) of the image folder could not be read at step \(stepsDone): \(error); \(kept(lastCheckpoint))")
                }
                currentChunk = wanted
            }
            let loss = try trainer.step()
            guard loss.isFinite else {
                throw TrainingError.nonFiniteLoss(method: method, step: stepsDone + 1, message: "\(method): the loss became \(loss) at step \(stepsDone + 1); \(kept(lastCheckpoint)). Lower --learning-rate and resume")
            }
            stepsDone += 1
            heartbeat?.beat(steps: stepsDone, saved: lastCheckpoint ?? 0)
            losses[taken] = loss
            taken += 1
            if let output, stepsDone == steps || checkpointEvery.map({ stepsDone % $0 == 0 }) == true { try checkpoint(output) }
            let seconds = MonotonicClock.seconds(since: start)
            progress(TrainingProgress(step: stepsDone, totalSteps: steps, loss: loss, stepsPerSecond: seconds > 0 ? Double(taken) / seconds : 0))
        }
        let window = max(1, taken / 10)
        let firstLoss = taken > 0 ? losses[0..<min(window, taken)].reduce(0, +) / Float(min(window, taken)) : 0
        let lastLoss = taken > 0 ? losses[max(0, taken - window)..<taken].reduce(0, +) / Float(min(window, taken)) : 0
        return TrainingRunReport(steps: stepsDone, firstLoss: firstLoss, lastLoss: lastLoss,
                                 seconds: MonotonicClock.seconds(since: start), checkpoints: checkpoints)
    }

    /// Steps for `epochs` passes over the data; an error for data without a size in images.
    public func steps(forEpochs epochs: Int) throws -> Int {
        guard epochs >= 1 else { throw TrainingError.invalidSetting(name: "--epochs", message: "--epochs must be at least 1 (got \(epochs))") }
        guard let stepsPerEpoch else { throw TrainingError.invalidSetting(name: "--epochs", message: "\(method) trains on a source without an end; give --steps instead of --epochs") }
        return epochs * stepsPerEpoch
    }
}

/// One chunk of an image folder decoded on a thread of its own: at most the chunk in use and
/// this one are in memory, the budget `ImageFolderChunks` is sized for. A prefetch dropped
/// unused finishes its decoding in the background.
private final class ChunkPrefetch {
    let index: Int
    private let decoded = Locked<Result<LabeledImages, any Error>?>(nil)
    private let thread: JoinableThread

    init(_ chunks: ImageFolderChunks, index: Int) {
        self.index = index
        thread = JoinableThread(name: "foresight.chunk") { [decoded] in
            let result = Result { try chunks.chunk(index) }
            decoded.withLock { $0 = result }
        }
    }

    /// The decoded chunk, once it is ready; the decoding error if it failed.
    func wait() throws -> LabeledImages {
        thread.join()
        return try decoded.withLock { $0! }.get()
    }
}
