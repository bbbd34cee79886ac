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
            throw LiveLearningError(description: "\"\(architecture)\" is not the architecture of a live-learning checkpoint (e.g. \"pc64-motion k4 64x64\")")
        }
        let sides = words[2].split(separator: "x").compactMap { Int($0) }
        guard sides.count == 2, sides[0] == sides[1], (16...1024).contains(sides[0]), sides[0] % 4 == 0 else {
            throw LiveLearningError(description: "\"\(architecture)\": frame size \(words[2]) is not a square side of 16 to 1024 divisible by 4")
        }
        let actions = words.count == 5 ? Int(words[4]) : 0
        guard let actions, (0...64).contains(actions) else {
            throw LiveLearningError(description: "\"\(architecture)\": \(words.last!) is not a count of 1 to 64 action values")
        }
        self.model = model
        self.objective = objective
        pastFrames = past
        size = sides[0]
        self.actions = actions
    }
}

/// A live checkpoint's model, rolled ahead open-loop.
///
/// ```swift
/// let imagination = try Imagination(checkpoint: "live.safetensors")
/// // past: K frames of S x S; plan: `steps` actions of A values (nil for a model without actions)
/// imagination.rollout(past: past, actions: plan, steps: 8, into: predictions)
/// ```
public final class Imagination {
    /// Past frames the model takes (K), frame side (S) and values per action (A, 0 for none).
    public let pastFrames: Int, size: Int, actionCount: Int
    /// The checkpoint's architecture and steps trained.
    public let architecture: String, steps: Int
    private let learner: LiveLearner

    /// Loads `checkpoint` (written by `foresight learn`) into a model of batch 1.
    public init(checkpoint path: String, threads: Int = 1) throws {
        let checkpoint = try Checkpoint(path: path)
        var settings = try LiveLearnerConfiguration(architecture: checkpoint.architecture)
        settings.batch = 1
        settings.newestPerBatch = 1
        settings.replayClips = 1
        settings.threads = threads
        learner = try LiveLearner(settings)
        try learner.resume(from: path)
        pastFrames = settings.pastFrames
        size = settings.size
        actionCount = settings.actions
        architecture = checkpoint.architecture
        steps = checkpoint.steps
    }

    /// Predicts `steps` frames after `past` ([K, S, S], oldest first), each from the K frames
    /// before it, the predicted ones included, and the action of step k at `actions + k * A`
    /// (the command applied from the frame before it). Writes them, clamped to [0, 1], to
    /// `predictions` ([steps, S, S]). Allocates nothing.
    public func rollout(past: UnsafePointer<Float>, actions: UnsafePointer<Float>?, steps: Int,
                        into predictions: UnsafeMutablePointer<Float>) {
        precondition(actionCount == 0 || actions != nil, "this model takes actions of \(actionCount) values")
        let trainer = learner.trainer, plane = size * size, k = pastFrames
        let frames = trainer.frames
        frames.update(from: past, count: k * plane)
        let area = (size / 4) * (size / 4)
        for step in 0..<steps {
            if let planes = trainer.actionPlanes, let actions {
                for a in 0..<actionCount { (planes + a * area).update(repeating: actions[step * actionCount + a], count: area) }
            }
            learner.program.forward()
            let output = predictions + step * plane, prediction = trainer.prediction
            for i in 0..<plane { output[i] = min(1, max(0, prediction[i])) }
            // The prediction becomes the newest past frame.
            if k > 1 { frames.update(from: frames + plane, count: (k - 1) * plane) }
            (frames + (k - 1) * plane).update(from: output, count: plane)
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
