// Training of the two-view methods (SimCLR, VICReg) on an in-memory image set: each step
// draws a batch, writes two augmented views of it into the program's input and takes one
// optimizer step. Not a data loader for sets larger than memory.

import ForesightCore
import ForesightNN

/// What a two-view method minimises on its projections z [2B, P].
public enum TwoViewObjective: Sendable {
    /// SimCLR's NT-Xent with temperature tau.
    case simclr(temperature: Float)
    /// VICReg with its three weights (the paper's: 25, 25, 1).
    case vicreg(invariance: Float, variance: Float, covariance: Float)
}

/// Backbone -> projector (linear, ReLU, linear) -> objective, on two augmented views of a batch:
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
    /// The loss operation, for its diagnostics (NT-Xent accuracy, VICReg terms).
    public let objective: any ForesightNN.Operation
    private let data: LabeledImages
    private let views: TensorID
    private var random: SeededRandom
    private let scratch: UnsafeMutablePointer<Float>

    /// `projection`: hidden and output features of the projector.
    public init(objective: TwoViewObjective, data: LabeledImages, backbone: SmallResNet = SmallResNet(), batch: Int = 128,
                projection: Int = 64, augmentation: ViewAugmentation = ViewAugmentation(), learningRate: Float = 2e-3,
                threads: Int = 1, seed: UInt64 = 0) throws {
        precondition(batch >= 2 && data.count >= batch, "a batch of \(batch) needs at least 2 images and at most the set's \(data.count)")
        let graph = Graph()
        views = try graph.input("views", [2 * batch, data.channels, data.height, data.width])
        let features = try backbone.build(graph, views, name: "backbone")
        let hidden = try graph.relu(try graph.linear(features, outFeatures: projection, name: "projector.1"))
        let projections = try graph.linear(hidden, outFeatures: projection, name: "projector.2")
        let operation: any ForesightNN.Operation = switch objective {
        case let .simclr(temperature): NTXentOperation(temperature: temperature)
        case let .vicreg(invariance, variance, covariance):
            VICRegOperation(invarianceWeight: invariance, varianceWeight: variance, covarianceWeight: covariance)
        }
        let loss = try graph.apply(operation, [projections], name: "loss")
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)
        self.objective = operation
        self.backbone = backbone
        self.augmentation = augmentation
        self.batch = batch
        self.data = data
        random = SeededRandom(seed: seed &+ 1)
        scratch = .allocate(capacity: data.imageSize)
    }

    deinit { scratch.deallocate() }

    /// Draws B images (with replacement), writes their two views and trains once; returns the loss.
    @discardableResult
    public func step() throws -> Float {
        let input = program.tensor(views).floatPointer, size = data.imageSize
        data.pixels.withUnsafeBufferPointer { pixels in
            for i in 0..<batch {
                let image = pixels.baseAddress! + random.nextInt(below: data.count) * size
                for view in 0..<2 {
                    augmentation.apply(image, into: input + (view * batch + i) * size, scratch: scratch,
                                       channels: data.channels, height: data.height, width: data.width, random: &random)
                }
            }
        }
        return try program.step()
    }
}
