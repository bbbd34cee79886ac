// The one trainer of ForesightNN's frame-prediction models (pc64: the next frame's pixels;
// pc64-motion: a motion field and residual that warp the last frame into the next), for
// offline and live training alike. Offline, each step draws its clips from a clip stream (a
// Y4M file, a synthetic scene); live, the learner writes each batch into `frames` and
// `target` itself (the newest clips and replayed ones) and steps. Either way a batch is scored
// against copying the last frame. Not the live learner's pacing, replay or rollback
// (ForesightLive) and not the models (ForesightNN's Models).
//
// Symbols: N clips per batch, K past frames, S x S frame size.

import ForesightCore
import ForesightNN
import ForesightSensors
import ForesightIO

/// What a frame-prediction trainer predicts.
public enum VideoPredictionObjective: String, Sendable, CaseIterable {
    /// The next frame's pixels (pc64).
    case nextFrame = "next-frame"
    /// A motion field and residual that warp the last frame into the next (pc64-motion).
    case motion
}

/// Trains pc64 or pc64-motion on batches of N clips of K past frames and the frame to predict.
/// A step allocates nothing itself (synthetic clips allocate nothing; a Y4M file a little
/// per frame read).
///
/// ```swift
/// // Offline, from a recording:
/// let clips = try Y4MClipStream(path: "walk.y4m", frames: 5, height: 32, width: 32)
/// let trainer = try FramePredictionTrainer(.motion, clips: clips, batch: 8)
/// for _ in 0..<500 { try trainer.step() }
/// print(try trainer.evaluate(clips: heldOut, batches: 4))   // model error vs copy-last-frame error
///
/// // Live: the caller fills the inputs, then steps.
/// let live = try FramePredictionTrainer(.nextFrame, output: .sigmoid, batch: 8, pastFrames: 4, size: 64)
/// live.frames.update(from: newestClips, count: 8 * 4 * 64 * 64); live.target.update(from: nextFrames, count: 8 * 64 * 64)
/// try live.step()
/// ```
public final class FramePredictionTrainer: SelfSupervisedTrainer {
    public let objective: VideoPredictionObjective
    public let model: FramePredictionModel
    public let program: Program
    /// pc64's encoder on still images (`FramePredictionEncoder`), what eval probes.
    public var imageBackbone: (any ImageBackbone)? { FramePredictionEncoder(pastFrames: pastFrames) }
    /// Clips per step (N) and past frames per clip (K).
    public let batch: Int, pastFrames: Int
    /// Frame size (S).
    public let size: Int
    /// Where steps draw their clips from; nil when the caller writes each batch (live learning).
    public let clips: (any VideoClipStream)?
    /// One clip read from a stream, K + 1 frames, before it is split into past frames and
    /// target; empty until a trainer without clips of its own evaluates on a stream (a live
    /// learner's trainer reads none).
    private var clip: [Float]

    /// Errors of a batch: the model's squared error and that of repeating the last frame.
    public struct Evaluation: Sendable, Equatable {
        public let predictionError: Float
        public let copyLastError: Float
        /// predictionError / copyLastError: below 1 beats the baseline.
        public var ratio: Float { predictionError / copyLastError }
    }

    /// The trainer of `objective` on N clips of K past frames at S x S (S divisible by 4, at
    /// least 16 for pc64's pooling), drawing each step's clips from `clips` (K + 1 frames of
    /// S x S) or, without, stepping on what the caller wrote into `frames` and `target`.
    /// `output` is pc64's last layer for next-frame prediction (linear by default: a sigmoid
    /// saturates on sparse scenes; the live model keeps the sigmoid); motion ignores it. With
    /// `actions` > 0 the model also takes each clip's action, written by the caller into
    /// `actionPlanes` (live learning; clip streams carry no actions).
    public init(_ objective: VideoPredictionObjective, output: FramePredictionOutput = .linear, batch: Int = 8, pastFrames: Int = 4,
                size: Int = 64, clips: (any VideoClipStream)? = nil, learningRate: Float = 1e-3, threads: Int = 1, seed: UInt64 = 1,
                budget: Int? = nil, actions: Int = 0) throws {
        guard actions >= 0, actions <= 64, actions == 0 || clips == nil else {
            throw TrainingError.invalidSetting(name: "actions", message: "an action-conditioned model takes 1 to 64 action values from its caller, not from a clip stream; got \(actions)\(clips == nil ? "" : " with a clip stream")")
        }
        guard batch >= 1, pastFrames >= 1, size >= 4, size % 4 == 0 else {
            throw TrainingError.invalidSetting(name: "clips", message: "frame prediction needs batch >= 1, at least 1 past frame and a frame size divisible by 4; got batch \(batch), \(pastFrames) past frames, \(size)x\(size)")
        }
        if let clips, clips.frames != pastFrames + 1 || clips.height != size || clips.width != size {
            throw TrainingError.mismatchedData(message: "frame prediction on \(pastFrames) past frames of \(size)x\(size) needs clips of \(pastFrames + 1) frames of that size; got \(clips.frames) frames of \(clips.height)x\(clips.width)")
        }
        self.objective = objective
        self.batch = batch
        self.pastFrames = pastFrames
        self.size = size
        self.clips = clips
        model = switch objective {
        case .nextFrame: try Models.pc64(batch: batch, pastFrames: pastFrames, size: size, output: output, actions: actions)
        case .motion: try Models.pc64Motion(batch: batch, pastFrames: pastFrames, size: size, actions: actions)
        }
        let program = try Program(model.graph, loss: model.loss, optimizer: Adam(learningRate: learningRate), threads: threads,
                                  budget: budget, seed: seed)
        self.program = program
        actionPlanes = model.actions.map { program.tensor($0).floatPointer }
        actionCount = actions
        clip = clips == nil ? [] : [Float](repeating: 0, count: (pastFrames + 1) * size * size)
    }

    /// The trainer of `objective` on `clips` (square frames of a size divisible by 4, at least
    /// two frames per clip: K = frames - 1).
    public convenience init(_ objective: VideoPredictionObjective, clips: any VideoClipStream, batch: Int = 8, learningRate: Float = 1e-3,
                            threads: Int = 1, seed: UInt64 = 1) throws {
        guard clips.height == clips.width, clips.height % 4 == 0, clips.frames >= 2, batch >= 1 else {
            throw TrainingError.invalidSetting(name: "clips", message: "video prediction needs square clips of a size divisible by 4 with at least 2 frames, and batch >= 1; got \(clips.frames) frames of \(clips.height)x\(clips.width), batch \(batch)")
        }
        try self.init(objective, batch: batch, pastFrames: clips.frames - 1, size: clips.height, clips: clips, learningRate: learningRate,
                      threads: threads, seed: seed)
    }

    /// pc64 (sigmoid output) on moving squares, one scene per clip of the batch: the model and
    /// data of `foresight bench pc64`.
    public convenience init(batch: Int = 8, pastFrames: Int = 4, size: Int = 64, threads: Int = 1, learningRate: Float = 1e-3,
                            seed: UInt64 = 1, budget: Int? = nil) throws {
        try self.init(.nextFrame, output: .sigmoid, batch: batch, pastFrames: pastFrames, size: size,
                      clips: SyntheticClipStream(scene: .shapes, frames: pastFrames + 1, size: size, lanes: batch, seed: seed),
                      learningRate: learningRate, threads: threads, seed: seed, budget: budget)
    }

    /// The model's input, [N, K, S, S]: what a step trains on.
    public var frames: UnsafeMutablePointer<Float> { program.tensor(model.frames).floatPointer }
    /// Action-conditioned models: each clip's action as constant planes, [N, A, S/4, S/4]; nil without actions.
    public let actionPlanes: UnsafeMutablePointer<Float>?
    /// Values per action (A; 0 without actions).
    public let actionCount: Int

    /// Writes `action` (A values) as batch row `row`'s constant action planes; nothing for a
    /// model without actions. Allocates nothing.
    public func writeAction(row: Int, _ action: UnsafePointer<Float>) {
        guard let actionPlanes else { return }
        let area = (size / 4) * (size / 4)
        for a in 0..<actionCount { (actionPlanes + (row * actionCount + a) * area).update(repeating: action[a], count: area) }
    }
    /// The frames to predict, [N, 1, S, S].
    public var target: UnsafeMutablePointer<Float> { program.tensor(model.target).floatPointer }
    /// The model's prediction of `target` after a forward pass, [N, 1, S, S].
    public var prediction: UnsafeMutablePointer<Float> { program.tensor(model.prediction).floatPointer }

    /// Writes the next N clips of the trainer's own stream into `frames` and `target`; returns
    /// the batch's copy-last-frame error.
    @discardableResult
    public func loadBatch() throws -> Float {
        guard let clips else { preconditionFailure("loadBatch() needs a trainer made with clips; without, write frames and target") }
        return try loadBatch(from: clips)
    }

    /// Writes the next N clips of `stream` into `frames` and `target`; returns the batch's copy-last-frame error.
    private func loadBatch(from stream: any VideoClipStream) throws -> Float {
        let frames = self.frames, target = self.target
        let plane = size * size, past = pastFrames * plane
        var copyLast: Float = 0
        if clip.isEmpty { clip = [Float](repeating: 0, count: (pastFrames + 1) * plane) }
        try clip.withUnsafeMutableBufferPointer { clip in
            let clip = clip.baseAddress!
            for n in 0..<batch {
                try stream.next(into: clip)
                (frames + n * past).update(from: clip, count: past)
                (target + n * plane).update(from: clip + past, count: plane)
                copyLast += meanSquaredDifference(clip + past - plane, clip + past, count: plane)
            }
        }
        return copyLast / Float(batch)
    }

    /// About a pass over the clips' file, in steps of `batch` clips.
    public var stepsPerPass: Int? { clips?.clipsPerPass.map { max(1, ($0 + batch - 1) / batch) } }

    /// Trains once: on the next batch of the trainer's clips, or on what the caller wrote into
    /// `frames` and `target` when it has none. Returns the loss (for motion, error plus smoothness penalty).
    @discardableResult
    public func step() throws -> Float {
        if clips != nil { try loadBatch() }
        return try program.step()
    }

    /// Mean prediction and copy-last errors over `batches` batches of `stream` (held-out clips), without training.
    public func evaluate(clips stream: any VideoClipStream, batches: Int) throws -> Evaluation {
        guard stream.frames == pastFrames + 1, stream.height == size, stream.width == size, batches >= 1 else {
            throw TrainingError.mismatchedData(message: "evaluation clips must match the training clips (\(pastFrames + 1) frames of \(size)x\(size)); got \(stream.frames) of \(stream.height)x\(stream.width), \(batches) batches")
        }
        var error: Float = 0, copyLast: Float = 0
        for _ in 0..<batches {
            copyLast += try loadBatch(from: stream)
            program.forward()
            // From the prediction itself: it lives until the loss's backward, unlike the scalar error.
            error += meanSquaredDifference(prediction, target, count: batch * size * size)
        }
        return Evaluation(predictionError: error / Float(batches), copyLastError: copyLast / Float(batches))
    }

    /// The same over the next `batches` batches of the trainer's own clips.
    public func evaluate(batches: Int) throws -> Evaluation {
        guard let clips else { preconditionFailure("evaluate(batches:) needs a trainer made with clips") }
        return try evaluate(clips: clips, batches: batches)
    }
}
