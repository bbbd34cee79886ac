// Training of the two-view methods (SimCLR, VICReg, SimSiam, Barlow Twins) on an in-memory image set: each step
// draws a batch, writes two augmented views of it into the program's input and takes one
// optimizer step. Not a data loader for sets larger than memory.

import Foundation
import ForesightCore
import ForesightNN

/// What a two-view method minimises on its projections z [2B, P].
public enum TwoViewObjective: Sendable {
    /// SimCLR's NT-Xent with temperature tau.
    case simclr(temperature: Float)
    /// VICReg with its three weights (the paper's: 25, 25, 1).
    case vicreg(invariance: Float, variance: Float, covariance: Float)
    /// SimSiam: the projections are batch-standardised, and a predictor (linear to a bottleneck,
    /// batch standardisation, ReLU, linear) on each view's projection predicts the other view's
    /// projection, held constant (2 - 2 cos, symmetrised; no momentum network).
    case simsiam
    /// Barlow Twins: the cross-correlation of the two views' standardised projections is pulled
    /// toward the identity; lambda weighs the off-diagonal terms.
    case barlow(offDiagonalWeight: Float)
}

/// Backbone -> projector (linear, ReLU, linear) [-> predictor for SimSiam] -> objective, on two augmented views of a batch:
/// views [2B, C, H, W] (rows 0..<B the first views, B..<2B the second, of the same images).
/// The step allocates nothing.
///
/// ```swift
/// let trainer = try TwoViewTrainer(objective: .simclr(temperature: 0.2), data: train, batch: 128)
/// for _ in 0..<200 { try trainer.step() }
/// let encoder = try FrozenEncoder(backbone: trainer.backbone, channels: 1, height: 8, width: 8)
/// encoder.copyParameters(from: trainer.program)
/// ```
public final class TwoViewTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let backbone: SmallResNet
    public var imageBackbone: (any ImageBackbone)? { backbone }
    public let augmentation: ViewAugmentation
    /// Images per step (B); the program sees 2B views.
    public let batch: Int
    /// The loss operation, for its diagnostics (NT-Xent accuracy, VICReg and Barlow Twins terms, SimSiam's mean cosine).
    public let objective: any GraphOperation
    /// The learning rate of the first step.
    public let baseLearningRate: Float
    /// Steps over which the learning rate rises linearly to `baseLearningRate` (0: none).
    public let warmupSteps: Int
    /// When set, the learning rate (after the warm-up) follows half a cosine from
    /// `baseLearningRate` to 0 over this many steps and stays at 0 after; when nil it stays constant.
    public let cosineDecaySteps: Int?
    /// Steps taken so far.
    public private(set) var stepCount = 0
    private var data: LabeledImages
    private let views: TensorID
    private var random: SeededRandom
    private let scratch: UnsafeMutablePointer<Float>

    /// `projection`: hidden and output features of the projector.
    public init(objective: TwoViewObjective, data: LabeledImages, backbone: SmallResNet = SmallResNet(), batch: Int = 128,
                projection: Int = 64, augmentation: ViewAugmentation = ViewAugmentation(), learningRate: Float = 2e-3,
                weightDecay: Float = 1e-4, warmupSteps: Int = 0, cosineDecaySteps: Int? = nil, threads: Int = 1, seed: UInt64 = 0) throws {
        if let cosineDecaySteps, cosineDecaySteps < 1 {
            throw TrainingError.invalidSetting(name: "cosineDecaySteps", message: "cosineDecaySteps must be at least 1, got \(cosineDecaySteps)")
        }
        guard warmupSteps >= 0 else { throw TrainingError.invalidSetting(name: "warmupSteps", message: "warmupSteps must not be negative, got \(warmupSteps)") }
        precondition(batch >= 2 && data.count >= batch, "a batch of \(batch) needs at least 2 images and at most the set's \(data.count)")
        let graph = Graph()
        views = try graph.input("views", [2 * batch, data.channels, data.height, data.width])
        let features = try backbone.build(graph, views, name: "backbone")
        let hidden = try graph.relu(try graph.linear(features, outFeatures: projection, name: "projector.1"))
        let projections = try graph.linear(hidden, outFeatures: projection, name: "projector.2")
        let operation: any GraphOperation
        let loss: TensorID
        switch objective {
        case let .simclr(temperature):
            operation = NTXentOperation(temperature: temperature)
            loss = try graph.apply(operation, [projections], name: "loss")
        case let .vicreg(invariance, variance, covariance):
            operation = VICRegOperation(invarianceWeight: invariance, varianceWeight: variance, covarianceWeight: covariance)
            loss = try graph.apply(operation, [projections], name: "loss")
        case .simsiam:
            // Batch standardisation (batch norm without its affine) on the projections and in the
            // predictor's bottleneck (projection / 4 wide), as the paper's batch norms; without
            // them this small network collapses to one output within a few hundred steps.
            let standardized = try graph.apply(BatchStandardizeOperation(), [projections], name: "projector.norm")
            let bottleneck = try graph.linear(standardized, outFeatures: max(1, projection / 4), name: "predictor.1")
            let predicted = try graph.relu(try graph.apply(BatchStandardizeOperation(), [bottleneck], name: "predictor.norm"))
            let predictions = try graph.linear(predicted, outFeatures: projection, name: "predictor.2")
            operation = CosinePredictionLossOperation(pairing: .otherView)
            loss = try graph.apply(operation, [predictions, standardized], name: "loss")
        case let .barlow(offDiagonalWeight):
            guard offDiagonalWeight >= 0 && offDiagonalWeight.isFinite else {
                throw TrainingError.invalidSetting(name: "offDiagonalWeight", message: "Barlow Twins' off-diagonal weight must be finite and not negative, got \(offDiagonalWeight)")
            }
            operation = BarlowTwinsOperation(offDiagonalWeight: offDiagonalWeight)
            loss = try graph.apply(operation, [projections], name: "loss")
        }
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: weightDecay), threads: threads, seed: seed)
        self.objective = operation
        self.backbone = backbone
        self.augmentation = augmentation
        self.batch = batch
        self.baseLearningRate = learningRate
        self.warmupSteps = warmupSteps
        self.cosineDecaySteps = cosineDecaySteps
        self.data = data
        random = SeededRandom(seed: seed &+ 1)
        scratch = .allocate(capacity: data.imageSize)
    }

    deinit { scratch.deallocate() }

    /// Draws B images (with replacement), writes their two views and trains once; returns the loss.
    @discardableResult
    public func step() throws -> Float {
        augmentation.writeTwoViews(of: data, batch: batch, into: program.tensor(views).floatPointer, scratch: scratch, random: &random)
        if stepCount < warmupSteps {
            program.optimizer!.learningRate = baseLearningRate * Float(stepCount + 1) / Float(warmupSteps)
        } else if let cosineDecaySteps {
            let progress = Float(min(stepCount - warmupSteps, cosineDecaySteps)) / Float(cosineDecaySteps)
            program.optimizer!.learningRate = max(baseLearningRate * 0.5 * (1 + cosf(Float.pi * progress)), 1e-9)
        }
        stepCount += 1
        return try program.step()
    }
}

extension TwoViewTrainer: ImageSetTrainer {
    public var imageSet: LabeledImages { data }

    public func replaceImages(_ images: LabeledImages) throws {
        try checkReplacement(images, for: data)
        data = images
    }
}
