// Training of the single-view methods on the same backbone: autoencoder, denoising
// autoencoder and rotation prediction. Each step draws a batch, writes its inputs and targets
// into the program and takes one optimizer step. Not a convolutional decoder: the
// autoencoders reconstruct the pixels from the pooled features through a small MLP.

import ForesightCore
import ForesightNN

/// What a single-view method learns from.
public enum PretextObjective: Sendable {
    /// Reconstruct the image from its features (mean squared error).
    case autoencoder
    /// Reconstruct the clean image from a copy with Gaussian noise and cutout.
    case denoising(noiseDeviation: Float)
    /// Classify which of the four quarter-turns was applied (cross-entropy over 4 classes).
    case rotation
}

/// Rotates a square image [C, S, S] by `quarterTurns` x 90 degrees counter-clockwise into
/// `destination` (distinct memory).
public func rotateQuarterTurns(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, channels: Int, size: Int, quarterTurns: Int) {
    for c in 0..<channels {
        let plane = source + c * size * size, out = destination + c * size * size
        for y in 0..<size {
            for x in 0..<size {
                let (sy, sx) = switch ((quarterTurns % 4) + 4) % 4 {
                case 0: (y, x)
                case 1: (x, size - 1 - y)
                case 2: (size - 1 - y, size - 1 - x)
                default: (size - 1 - x, y)
                }
                out[y * size + x] = plane[sy * size + sx]
            }
        }
    }
}

/// Backbone -> head -> loss for one view per image: images [B, C, H, W]; the autoencoders'
/// head is linear (2 width -> hidden), ReLU, linear (-> C*H*W) against targets [B, C*H*W];
/// rotation's is linear (2 width -> 4) against int32 labels [B]. The step allocates nothing.
///
/// ```swift
/// let trainer = try PretextTrainer(objective: .rotation, data: train, batch: 64)
/// for _ in 0..<200 { try trainer.step() }
/// ```
public final class PretextTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let backbone: SmallResNet
    public var imageBackbone: (any ImageBackbone)? { backbone }
    public let objective: PretextObjective
    /// Images per step.
    public let batch: Int
    private let data: LabeledImages
    private let images: TensorID, target: TensorID
    private var random: SeededRandom

    public init(objective: PretextObjective, data: LabeledImages, backbone: SmallResNet = SmallResNet(), batch: Int = 64,
                hidden: Int = 128, learningRate: Float = 2e-3, threads: Int = 1, seed: UInt64 = 0) throws {
        precondition(batch >= 1 && data.count >= batch, "a batch of \(batch) needs at least one image and at most the set's \(data.count)")
        if case .rotation = objective { precondition(data.height == data.width, "rotation prediction needs square images, got \(data.height)x\(data.width)") }
        let graph = Graph()
        images = try graph.input("images", [batch, data.channels, data.height, data.width])
        let features = try backbone.build(graph, images, name: "backbone")
        let loss: TensorID
        switch objective {
        case .autoencoder, .denoising:
            target = try graph.input("target", [batch, data.imageSize])
            let h = try graph.relu(try graph.linear(features, outFeatures: hidden, name: "decoder.1"))
            loss = try graph.mseLoss(try graph.linear(h, outFeatures: data.imageSize, name: "decoder.2"), target, name: "loss")
        case .rotation:
            target = try graph.input("rotations", [batch], dtype: .int32)
            loss = try graph.crossEntropyLoss(try graph.linear(features, outFeatures: 4, name: "head"), target, name: "loss")
        }
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)
        self.objective = objective
        self.backbone = backbone
        self.batch = batch
        self.data = data
        random = SeededRandom(seed: seed &+ 1)
    }

    /// Draws B images (with replacement), writes inputs and targets and trains once; returns the loss.
    @discardableResult
    public func step() throws -> Float {
        let input = program.tensor(images).floatPointer, size = data.imageSize
        let targetTensor = program.tensor(target)
        data.pixels.withUnsafeBufferPointer { pixels in
            for i in 0..<batch {
                let image = pixels.baseAddress! + random.nextInt(below: data.count) * size
                let view = input + i * size
                switch objective {
                case .autoencoder:
                    view.update(from: image, count: size)
                    targetTensor.floatPointer.advanced(by: i * size).update(from: image, count: size)
                case let .denoising(deviation):
                    view.update(from: image, count: size)
                    addGaussianNoise(view, count: size, deviation: deviation, random: &random)
                    cutout(view, channels: data.channels, height: data.height, width: data.width, size: max(1, data.height / 3), random: &random)
                    targetTensor.floatPointer.advanced(by: i * size).update(from: image, count: size)
                case .rotation:
                    let turns = random.nextInt(below: 4)
                    rotateQuarterTurns(image, view, channels: data.channels, size: data.height, quarterTurns: turns)
                    targetTensor.int32s[i] = Int32(turns)
                }
            }
        }
        return try program.step()
    }
}
