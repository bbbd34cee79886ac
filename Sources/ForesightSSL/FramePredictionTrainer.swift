// Trains a frame-prediction model on clips drawn from a synthetic scene and scores it
// against the copy-last-frame baseline. Not the live learner: clips here are independent
// draws, so the whole step (drawing included) is repeatable from a seed.

import ForesightCore
import ForesightNN
import ForesightSensors
import ForesightIO

/// pc64 trained on moving squares, one batch of fresh clips per step.
///
/// ```swift
/// let trainer = try FramePredictionTrainer(threads: 1, seed: 1)
/// let result = try trainer.step()   // loss and copy-last error of this batch
/// ```
public final class FramePredictionTrainer {
    public let model: FramePredictionModel
    public let program: Program
    public let batch: Int
    public let pastFrames: Int
    public let size: Int
    private var scenes: [MovingShapes]
    private var nextSeed: UInt64

    /// Errors of one step.
    public struct StepResult: Sendable {
        /// Model's mean squared error on this batch (before the update).
        public let loss: Float
        /// Mean squared error of repeating the last input frame.
        public let copyLast: Float
    }

    public init(batch: Int = 8, pastFrames: Int = 4, size: Int = 64, threads: Int = 1, learningRate: Float = 1e-3,
                seed: UInt64 = 1, budget: Int? = nil) throws {
        self.batch = batch
        self.pastFrames = pastFrames
        self.size = size
        model = try Models.pc64(batch: batch, pastFrames: pastFrames, size: size)
        program = try Program(model.graph, loss: model.loss, optimizer: Adam(learningRate: learningRate),
                              threads: threads, budget: budget, seed: seed)
        nextSeed = seed &* 7919
        scenes = []
        for _ in 0..<batch {
            nextSeed &+= 1
            scenes.append(MovingShapes(width: size, height: size, seed: nextSeed))
        }
    }

    /// Writes the next clip of every scene into the program's inputs and returns the copy-last error of the batch.
    public func loadBatch() -> Float {
        let frames = program.tensor(model.frames).floatPointer
        let target = program.tensor(model.target).floatPointer
        let plane = size * size
        var copyLast: Float = 0
        for sample in 0..<batch {
            let clip = frames + sample * pastFrames * plane
            for frame in 0..<pastFrames {
                scenes[sample].render(into: clip + frame * plane)
                scenes[sample].advance()
            }
            scenes[sample].render(into: target + sample * plane)
            copyLast += meanSquaredDifference(clip + (pastFrames - 1) * plane, target + sample * plane, count: plane)
        }
        return copyLast / Float(batch)
    }

    /// Loads a batch and takes one training step.
    public func step() throws -> StepResult {
        let copyLast = loadBatch()
        let loss = try program.step()
        return StepResult(loss: loss, copyLast: copyLast)
    }

    /// Model and copy-last error on `batches` fresh batches, without training.
    public func evaluate(batches: Int) -> StepResult {
        var loss: Float = 0, copyLast: Float = 0
        for _ in 0..<batches {
            copyLast += loadBatch()
            program.forward()
            loss += program.lossValue
        }
        return StepResult(loss: loss / Float(batches), copyLast: copyLast / Float(batches))
    }
}
