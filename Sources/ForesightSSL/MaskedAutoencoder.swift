// Masked image modelling on a `TinyViT`: most patches of each image are hidden, and a light
// transformer decoder reconstructs their pixels from the encoder's tokens; the loss is the mean
// squared error over the hidden patches only. Not MAE's asymmetric encoder: the encoder here
// sees every position, hidden patches replaced by a learned mask token (as SimMIM does), which
// keeps the graph static; the decoder is one block, as in MAE's lightest setting.

import ForesightCore
import ForesightNN

/// Why a masked autoencoder could not be set up.
public struct MaskedAutoencoderError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Masked autoencoder on image patches: per image, `maskRatio` of the T patches (at least one,
/// at most T - 1) are chosen at random and replaced by the mask token `mae.mask.token`; the
/// backbone's tokens [B, T, D] go through linear (D -> decoderDimension), learned positions, one
/// pre-norm block, layer norm and linear (-> C patch^2); the loss is the MSE between predicted
/// and true pixels of the hidden patches. Images [B, C, H, W]. The step allocates nothing.
///
/// ```swift
/// let trainer = try MaskedAutoencoderTrainer(data: train, backbone: TinyViT(dimension: 32, depth: 2, heads: 4, patch: 2))
/// for _ in 0..<200 { try trainer.step() }
/// let encoder = try FrozenEncoder(backbone: trainer.backbone, channels: 1, height: 8, width: 8)
/// encoder.copyParameters(from: trainer.program)
/// ```
public final class MaskedAutoencoderTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let backbone: TinyViT
    public var imageBackbone: (any ImageBackbone)? { backbone }
    /// Images per step.
    public let batch: Int
    /// Patches per image, and hidden patches per image.
    public let patchCount: Int, hiddenPerImage: Int
    private let data: LabeledImages
    private let images: TensorID, mask: TensorID, hiddenRows: TensorID
    private var random: SeededRandom
    private var order: [Int]

    /// Throws when the images do not split into whole patches, the batch does not fit the set, or
    /// `maskRatio` is outside (0, 1).
    public init(data: LabeledImages, backbone: TinyViT = TinyViT(), maskRatio: Double = 0.75, decoderDimension: Int = 32,
                decoderHeads: Int = 4, batch: Int = 64, learningRate: Float = 2e-3, threads: Int = 1, seed: UInt64 = 0) throws {
        let P = backbone.patch
        guard data.height % P == 0 && data.width % P == 0 else {
            throw MaskedAutoencoderError("images \(data.height)x\(data.width) do not split into \(P)x\(P) patches")
        }
        guard batch >= 1 && batch <= data.count else { throw MaskedAutoencoderError("a batch of \(batch) needs between 1 and the set's \(data.count) images") }
        guard maskRatio > 0 && maskRatio < 1 else { throw MaskedAutoencoderError("the mask ratio must lie in (0, 1), got \(maskRatio)") }
        guard decoderHeads >= 1 && decoderDimension % decoderHeads == 0 else {
            throw MaskedAutoencoderError("decoder dimension \(decoderDimension) is not a multiple of its \(decoderHeads) heads")
        }
        let T = (data.height / P) * (data.width / P), patchValues = data.channels * P * P
        patchCount = T
        hiddenPerImage = min(T - 1, max(1, Int((maskRatio * Double(T)).rounded())))
        let graph = Graph()
        images = try graph.input("images", [batch, data.channels, data.height, data.width])
        mask = try graph.input("mask", [batch, T])
        hiddenRows = try graph.input("hidden", [batch * hiddenPerImage], dtype: .int32)
        let encoded = try backbone.tokens(graph, images, name: "backbone", mask: mask, maskName: "mae.mask")
        var h = try graph.linear(encoded, outFeatures: decoderDimension, name: "mae.decoder.in")
        h = try graph.positionalEmbedding(h, name: "mae.decoder.positions")
        h = try graph.transformerBlock(h, heads: decoderHeads, hidden: 4 * decoderDimension, name: "mae.decoder.block")
        h = try graph.layerNorm(h, name: "mae.decoder.norm")
        let prediction = try graph.reshape(try graph.linear(h, outFeatures: patchValues, name: "mae.decoder.out"), [batch * T, patchValues])
        let target = try graph.reshape(try graph.patchify(images, patch: P, name: "mae.target"), [batch * T, patchValues])
        let loss = try graph.mseLoss(try graph.gatherRows(prediction, hiddenRows, name: "mae.predicted"),
                                     try graph.gatherRows(target, hiddenRows, name: "mae.true"), name: "loss")
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)
        program.clipGradientNorm = 1
        self.backbone = backbone
        self.batch = batch
        self.data = data
        order = Array(0..<T)
        random = SeededRandom(seed: seed &+ 1)
    }

    /// Draws B images (with replacement), hides a fresh random set of patches in each and trains
    /// once; returns the MSE over the hidden patches.
    @discardableResult
    public func step() throws -> Float {
        let input = program.tensor(images).floatPointer, size = data.imageSize
        let hidden = program.tensor(mask).floatPointer, rows = program.tensor(hiddenRows).int32s
        let T = patchCount, M = hiddenPerImage
        hidden.update(repeating: 0, count: batch * T)
        data.pixels.withUnsafeBufferPointer { pixels in
            for b in 0..<batch {
                (input + b * size).update(from: pixels.baseAddress! + random.nextInt(below: data.count) * size, count: size)
                // The first M entries of a partial Fisher-Yates shuffle: M distinct patches.
                for i in 0..<M {
                    order.swapAt(i, i + random.nextInt(below: T - i))
                    hidden[b * T + order[i]] = 1
                    rows[b * M + i] = Int32(b * T + order[i])
                }
            }
        }
        return try program.step()
    }
}
