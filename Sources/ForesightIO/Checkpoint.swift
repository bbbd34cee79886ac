// A training checkpoint, for live and offline training alike: the trained state (a program's
// `trainingState`, plus what a trainer adds to it) and the metadata a run needs to continue,
// under one set of keys. Written and read as a model file (ModelFile.swift: atomic, checked).
// Not what a kind of run records about itself (its `details`: the method, the objective, ...).

import ForesightCore
import ForesightNN

/// A model file that a training run continues from.
///
/// ```swift
/// try Checkpoint(architecture: "pc64-motion k3 64x64", steps: 1200, optimizer: program.optimizer)
///     .write(to: "live.safetensors", state: program.trainingState)
/// let checkpoint = try Checkpoint(path: "live.safetensors")
/// try checkpoint.require(architecture: "pc64-motion k3 64x64")
/// try checkpoint.load(into: program.trainingState)
/// ```
public struct Checkpoint: Sendable {
    /// The metadata keys every checkpoint holds.
    public enum Key {
        /// What was trained; a run continues only from its own architecture.
        public static let architecture = "architecture"
        /// Training steps done.
        public static let steps = "steps"
        /// The optimizer's own step count (its bias corrections).
        public static let optimizerSteps = "optimizer.steps"
        /// The optimizer's step size when the checkpoint was written.
        public static let learningRate = "learning_rate"
        /// Where files written before `steps` was shared keep the step count.
        static let earlierSteps = ["live.steps", "ssl.steps"]
        /// Every key above (a run's `details` must not use them).
        static let all: Set<String> = [architecture, steps, optimizerSteps, learningRate]
    }

    public var architecture: String
    public var steps: Int
    public var optimizerSteps: Int
    /// Nil when the file does not say (written without an optimizer).
    public var learningRate: Float?
    /// What the kind of run records besides (method, backbone, frames seen, ...), by its own keys.
    public var details: [String: String]
    /// The file read, when the checkpoint came from one.
    private let file: ModelFile?

    /// A checkpoint to write: `optimizer` gives the optimizer's step count and learning rate.
    public init(architecture: String, steps: Int, optimizer: (any Optimizer)?, details: [String: String] = [:]) {
        precondition(details.keys.allSatisfy { !Key.all.contains($0) }, "details use a checkpoint key: \(details.keys.sorted())")
        self.architecture = architecture
        self.steps = steps
        optimizerSteps = optimizer?.stepCount ?? 0
        learningRate = optimizer?.learningRate
        self.details = details
        file = nil
    }

    /// Reads the checkpoint at `path` (checked as every model file is).
    public init(path: String) throws {
        let file = try ModelFile(path: path)
        var details = file.metadata
        for key in Key.all { details[key] = nil }
        architecture = file.metadata[Key.architecture] ?? "unknown"
        steps = (([Key.steps] + Key.earlierSteps).lazy.compactMap { file.metadata[$0].flatMap { Int($0) } }.first) ?? 0
        optimizerSteps = file.metadata[Key.optimizerSteps].flatMap { Int($0) } ?? 0
        learningRate = file.metadata[Key.learningRate].flatMap { Float($0) }.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
        self.details = details
        self.file = file
    }

    /// The path it was read from ("" for one not read from a file).
    public var path: String { file?.path ?? "" }

    /// All metadata as the file stores it.
    public var metadata: [String: String] {
        var values = details
        values[Key.architecture] = architecture
        values[Key.steps] = String(steps)
        values[Key.optimizerSteps] = String(optimizerSteps)
        if let learningRate { values[Key.learningRate] = String(learningRate) }
        return values
    }

    /// Writes `state` with this metadata to `path`, atomically.
    public func write(to path: String, state: [(name: String, tensor: Tensor)]) throws {
        try ModelFile.write(to: path, metadata: metadata, tensors: state)
    }

    /// Refuses a checkpoint of another architecture, naming both.
    public func require(architecture expected: String) throws {
        guard architecture == expected else {
            throw IOError.modelFile(path: path, problem: "holds architecture \(architecture), but this run is \(expected)")
        }
    }

    /// Loads every tensor of `state` from the file; an error names a tensor missing or of
    /// another shape, and then `state` may be partly loaded.
    public func load(into state: [(name: String, tensor: Tensor)]) throws {
        guard let file else { throw IOError.modelFile(path: path, problem: "was not read from a file") }
        for (name, tensor) in state { try file.load(name, into: tensor) }
    }

    /// Loads `state` and gives `optimizer` the checkpoint's step count and (when stored) its
    /// learning rate: a run continues exactly where this one stopped. (A run that takes its
    /// learning rate from its options loads and sets the step count itself.)
    public func restore(_ state: [(name: String, tensor: Tensor)], optimizer: (any Optimizer)?) throws {
        try load(into: state)
        optimizer?.stepCount = optimizerSteps
        if let learningRate { optimizer?.learningRate = learningRate }
    }
}
