// Imagined futures: a live checkpoint's model rolled several frames ahead open-loop, each
// prediction fed back as the newest past frame, under a planned sequence of actions; and the
// error of such rollouts at each horizon against holding the last true frame. Not a planner
// (that chooses the actions) and not training: the weights are read and left as they are.

import Foundation
import ForesightCore
import ForesightIO
import ForesightSensors

extension LiveLearnerConfiguration {
    /// The settings a checkpoint's architecture name implies ("pc64-motion k4 64x64", with
    /// " actions N" for a model of actions), the others at their defaults.
    public init(architecture: String) throws {
        self.init()
        let words = architecture.split(separator: " ")
        let parts = words.first.map { $0.split(separator: "-", maxSplits: 1) } ?? []
        guard parts.count == 2, let model = Model(rawValue: String(parts[0])), let objective = Objective(rawValue: String(parts[1])),
              words.count == 3 || (words.count == 5 && words[3] == "actions"),
              words[1].hasPrefix("k"), let past = Int(words[1].dropFirst()), (1...64).contains(past) else {
            throw LiveLearningError.unsuitableCheckpoint(path: nil, message: "\"\(architecture)\" is not the architecture of a live-learning checkpoint (e.g. \"pc64-motion k4 64x64\")")
        }
        let sides = words[2].split(separator: "x").compactMap { Int($0) }
        guard sides.count == 2, sides[0] == sides[1], (16...1024).contains(sides[0]), sides[0] % 4 == 0 else {
            throw LiveLearningError.unsuitableCheckpoint(path: nil, message: "\"\(architecture)\": frame size \(words[2]) is not a square side of 16 to 1024 divisible by 4")
        }
        let actions = words.count == 5 ? Int(words[4]) : 0
        guard let actions, (0...64).contains(actions) else {
            throw LiveLearningError.unsuitableCheckpoint(path: nil, message: "\"\(architecture)\": \(words.last!) is not a count of 1 to 64 action values")
        }
        self.model = model
        self.objective = objective
        pastFrames = past
        size = sides[0]
        self.actions = actions
    }
}

/// A live checkpoint's model, rolled ahead open-loop: `batch` rows, each its own imagined
/// future (one for `foresight imagine`, one per candidate command for the planner).
///
/// ```swift
/// let imagination = try Imagination(checkpoint: "live.safetensors")
/// // past: K frames of S x S; plan: `steps` actions of A values (nil for a model without actions)
/// imagination.rollout(past: past, actions: plan, steps: 8, into: predictions)
/// ```
public final class Imagination {
    /// Past frames the model takes (K), frame side (S), values per action (A, 0 for none) and rows.
    public let pastFrames: Int, size: Int, actionCount: Int, batch: Int
    /// The checkpoint's architecture and steps trained.
    public let architecture: String, steps: Int
    private let learner: LiveLearner

    /// Loads `checkpoint` (written by `foresight learn`) into a model of `batch` rows.
    public init(checkpoint path: String, batch: Int = 1, threads: Int = 1) throws {
        let checkpoint = try Checkpoint(path: path)
        var settings = try LiveLearnerConfiguration(architecture: checkpoint.architecture)
        settings.batch = batch
        settings.newestPerBatch = 1
        settings.replayClips = 1
        settings.threads = threads
        learner = try LiveLearner(settings)
        try learner.resume(from: path)
        pastFrames = settings.pastFrames
        size = settings.size
        actionCount = settings.actions
        self.batch = batch
        architecture = checkpoint.architecture
        steps = checkpoint.steps
    }

    /// Convolution work of one `advance()`, in FLOP (for board estimates).
    public var flopsPerAdvance: Int { learner.program.convolutionFLOPsPerForward }

    /// Starts every row from `past` ([K, S, S], oldest first).
    public func begin(from past: UnsafePointer<Float>) {
        let frames = learner.trainer.frames, clip = pastFrames * size * size
        for row in 0..<batch { (frames + row * clip).update(from: past, count: clip) }
    }

    /// The command row `row` applies from its newest frame on (A values), until set again.
    public func setAction(row: Int, _ action: UnsafePointer<Float>) { learner.trainer.writeAction(row: row, action) }

    /// One frame further in every row: each row's prediction, clamped to [0, 1], becomes its
    /// newest past frame. Allocates nothing.
    public func advance() {
        let trainer = learner.trainer, plane = size * size, k = pastFrames
        learner.program.forward()
        for row in 0..<batch {
            let clip = trainer.frames + row * k * plane, prediction = trainer.prediction + row * plane
            if k > 1 { clip.update(from: clip + plane, count: (k - 1) * plane) }
            for i in 0..<plane { clip[(k - 1) * plane + i] = min(1, max(0, prediction[i])) }
        }
    }

    /// Row `row`'s newest frame, [S, S]: the last one imagined after an `advance()`.
    public func newest(row: Int) -> UnsafePointer<Float> {
        UnsafePointer(learner.trainer.frames + (row * pastFrames + pastFrames - 1) * size * size)
    }

    /// Predicts `steps` frames after `past` ([K, S, S], oldest first) in row 0, each from the K
    /// frames before it, the predicted ones included, and the action of step k at
    /// `actions + k * A` (the command applied from the frame before it). Writes them, clamped
    /// to [0, 1], to `predictions` ([steps, S, S]). Allocates nothing.
    public func rollout(past: UnsafePointer<Float>, actions: UnsafePointer<Float>?, steps: Int,
                        into predictions: UnsafeMutablePointer<Float>) {
        precondition(actionCount == 0 || actions != nil, "this model takes actions of \(actionCount) values")
        let plane = size * size
        begin(from: past)
        for step in 0..<steps {
            if let actions { setAction(row: 0, actions + step * actionCount) }
            advance()
            (predictions + step * plane).update(from: newest(row: 0), count: plane)
        }
    }
}

/// Mean squared errors of rollouts at each horizon, the model's and holding the last true frame's.
public struct HorizonErrors: Sendable {
    public private(set) var model: [Double], holdLast: [Double]
    public private(set) var rollouts = 0

    public init(steps: Int) {
        model = [Double](repeating: 0, count: steps)
        holdLast = model
    }

    /// Adds one rollout: `predictions` and `truth` [steps, S, S], `last` the last true past frame.
    public mutating func add(predictions: UnsafePointer<Float>, truth: UnsafePointer<Float>, last: UnsafePointer<Float>, plane: Int) {
        for step in model.indices {
            model[step] += Double(meanSquaredDifference(predictions + step * plane, truth + step * plane, count: plane))
            holdLast[step] += Double(meanSquaredDifference(last, truth + step * plane, count: plane))
        }
        rollouts += 1
    }

    /// Horizon `k` (1-based): mean model error, mean hold-last error, their ratio.
    public func at(_ k: Int) -> (model: Double, holdLast: Double, ratio: Double) {
        let count = Double(max(rollouts, 1))
        let m = model[k - 1] / count, h = holdLast[k - 1] / count
        return (m, h, h > 0 ? m / h : 0)
    }
}
