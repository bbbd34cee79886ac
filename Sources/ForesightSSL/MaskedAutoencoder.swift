// Masked image modelling on a `TinyViT`, as MAE does it: most patches of each image are hidden,
// the encoder sees only the visible ones, and a light transformer decoder, given the encoded
// visible tokens and a learned mask token at every hidden position, reconstructs the hidden
// patches' pixels; the loss is the mean squared error over the hidden patches only. The graph
// stays static: the visible count is fixed, and which patches are visible is an index input
// rewritten every step. The decoder is one block, as in MAE's lightest setting.

import ForesightCore
import ForesightNN

/// Masked autoencoder on image patches (He et al. 2022): per image, `maskRatio` of the T patches
/// (at least one, at most T - 1) are hidden at random. The backbone embeds every patch with
/// its position but encodes only the V visible ones ([B, V, D]); the decoder maps them to
/// `decoderDimension`, puts each back at its place among the T positions, fills the hidden
/// places with the mask token `mae.decoder.mask.token`, adds its own learned positions and runs
/// one pre-norm block, layer norm and linear (-> C patch^2); the loss is the MSE between
/// predicted and true pixels of the hidden patches. Images [B, C, H, W]. The step allocates nothing.
///
/// ```swift
/// let trainer = try MaskedAutoencoderTrainer(data: train, backbone: TinyViT(dimension: 32, depth: 2, heads: 4, patch: 2))
/// for _ in 0..<200 { try trainer.step() }
/// let encoder = try FrozenEncoder(backbone: trainer.backbone, channels: 1, height: 8, width: 8)
/// encoder.copyParameters(from: trainer.program)   // the encoder then sees all T patches
/// ```
public final class MaskedAutoencoderTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let backbone: TinyViT
    public var imageBackbone: (any ImageBackbone)? { backbone }
    /// Images per step.
    public let batch: Int
    /// Patches per image, and hidden patches per image.
    public let patchCount: Int, hiddenPerImage: Int
    private var data: LabeledImages
    private let images: TensorID, mask: TensorID, hiddenRows: TensorID, visibleRows: TensorID, places: TensorID
    private var random: SeededRandom
    private var order: [Int]

    /// Throws when the images do not split into whole patches, the batch does not fit the set, or
    /// `maskRatio` is outside (0, 1).
    public init(data: LabeledImages, backbone: TinyViT = TinyViT(), maskRatio: Double = 0.75, decoderDimension: Int = 32,
                decoderHeads: Int = 4, batch: Int = 64, learningRate: Float = 2e-3, threads: Int = 1, seed: UInt64 = 0) throws {
        let P = backbone.patch
        guard data.height % P == 0 && data.width % P == 0 else {
            throw TrainingError.mismatchedData(message: "images \(data.height)x\(data.width) do not split into \(P)x\(P) patches")
        }
        guard batch >= 1 && batch <= data.count else { throw TrainingError.batch(batch, minimum: 1, available: data.count, "a batch of \(batch) needs between 1 and the set's \(data.count) images") }
        guard maskRatio > 0 && maskRatio < 1 else { throw TrainingError.invalidSetting(name: "maskRatio", message: "the mask ratio must lie in (0, 1), got \(maskRatio)") }
        guard decoderHeads >= 1 && decoderDimension % decoderHeads == 0 else {
            throw TrainingError.invalidSetting(name: "decoderDimension", message: "decoder dimension \(decoderDimension) is not a multiple of its \(decoderHeads) heads")
        }
        let T = (data.height / P) * (data.width / P), patchValues = data.channels * P * P
        patchCount = T
        hiddenPerImage = min(T - 1, max(1, Int((maskRatio * Double(T)).rounded())))
        let graph = Graph()
        let V = T - hiddenPerImage, D = backbone.dimension
        images = try graph.input("images", [batch, data.channels, data.height, data.width])
        mask = try graph.input("mask", [batch, T])
        hiddenRows = try graph.input("hidden", [batch * hiddenPerImage], dtype: .int32)
        visibleRows = try graph.input("visible", [batch * V], dtype: .int32)
        places = try graph.input("places", [batch * T], dtype: .int32)
        // Encoder: the visible patches' rows of the embedded patches [B*T, D], then the blocks.
        let embedded = try graph.reshape(try backbone.embeddedPatches(graph, images, name: "backbone"), [batch * T, D])
        let visible = try graph.reshape(try graph.gatherRows(embedded, visibleRows, name: "mae.visible"), [batch, V, D])
        let encoded = try backbone.encode(graph, visible, name: "backbone")
        // Decoder: each encoded token back at its place (`places` points hidden places at any
        // row), hidden places replaced by the mask token, which also stops their gradient.
        let narrowed = try graph.reshape(try graph.linear(encoded, outFeatures: decoderDimension, name: "mae.decoder.in"), [batch * V, decoderDimension])
        let placed = try graph.reshape(try graph.gatherRows(narrowed, places, name: "mae.decoder.placed"), [batch, T, decoderDimension])
        var h = try graph.maskTokens(placed, mask: mask, name: "mae.decoder.mask")
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
        let visible = program.tensor(visibleRows).int32s, place = program.tensor(places).int32s
        let T = patchCount, M = hiddenPerImage, V = T - M
        hidden.update(repeating: 0, count: batch * T)
        data.pixels.withUnsafeBufferPointer { pixels in
            for b in 0..<batch {
                (input + b * size).update(from: pixels.baseAddress! + random.nextInt(below: data.count) * size, count: size)
                // A partial Fisher-Yates shuffle: the first M patches are hidden, the rest visible.
                for i in 0..<M {
                    order.swapAt(i, i + random.nextInt(below: T - i))
                    hidden[b * T + order[i]] = 1
                    rows[b * M + i] = Int32(b * T + order[i])
                    place[b * T + order[i]] = Int32(b * V)
                }
                for k in 0..<V {
                    visible[b * V + k] = Int32(b * T + order[M + k])
                    place[b * T + order[M + k]] = Int32(b * V + k)
                }
            }
        }
        return try program.step()
    }
}

extension MaskedAutoencoderTrainer: ImageSetTrainer {
    public var imageSet: LabeledImages { data }

    public func replaceImages(_ images: LabeledImages) throws {
        try checkReplacement(images, for: data)
        data = images
    }
}
