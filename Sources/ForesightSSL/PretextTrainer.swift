// Training of the single-view methods on the same backbone: autoencoder, denoising
// autoencoder, rotation prediction, jigsaw and inpainting. Each step draws a batch, writes its
// inputs and targets into the program and takes one optimizer step. Not a convolutional
// decoder: the autoencoders and inpainting reconstruct the pixels from the pooled features
// through a small MLP. The jigsaw follows the context-free network: the backbone sees each
// patch alone, and only the head sees them together.

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
    /// Classify which of `permutations` fixed orders moved the image's `grid` x `grid` patches
    /// (cross-entropy; the set is `JigsawPermutations(grid:count:)`, e.g. grid 2 and all 24
    /// orders for 8x8 digits, grid 3 and 30 orders for larger images). The image is first moved
    /// by a random shift of up to half a patch (zero fill); each patch is standardised alone.
    case jigsaw(grid: Int, permutations: Int)
    /// Reconstruct a square of side `regionFraction` x the image side, at a random place, that
    /// was filled with the set's mean pixel; the loss is the mean squared error over the masked
    /// pixels only (a context encoder).
    case inpainting(regionFraction: Float)

    /// The jigsaw grid that suits an image: 2x2 patches below 12 pixels a side, 3x3 from there.
    public static func jigsaw(height: Int, width: Int) -> PretextObjective {
        min(height, width) < 12 ? .jigsaw(grid: 2, permutations: 24) : .jigsaw(grid: 3, permutations: 30)
    }
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
/// rotation's is linear (2 width -> 4) against int32 labels [B]. Jigsaw's images are the
/// patches [B * G * G, C, H / G, W / G] of each image in its permutation's order; the backbone
/// embeds each patch, the G * G features of an image are joined ([B, G * G * 2 width]) and
/// the head, linear (-> hidden), ReLU, linear (-> permutations), is trained against int32
/// labels [B]. Inpainting's head is the
/// autoencoders'; its prediction is multiplied by the mask [B, C*H*W] before the squared error
/// against the masked target, scaled so that the loss is the mean over masked pixels. The step
/// allocates nothing.
///
/// ```swift
/// let trainer = try PretextTrainer(objective: .rotation, data: train, batch: 64)
/// for _ in 0..<200 { try trainer.step() }
/// let jigsaw = try PretextTrainer(objective: .jigsaw(grid: 2, permutations: 24), data: train)
/// let inpainting = try PretextTrainer(objective: .inpainting(regionFraction: 0.5), data: train)
/// ```
public final class PretextTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let backbone: SmallResNet
    public var imageBackbone: (any ImageBackbone)? { backbone }
    public let objective: PretextObjective
    /// Images per step.
    public let batch: Int
    private var data: LabeledImages
    private let images: TensorID, target: TensorID
    /// Inpainting's mask input [B, C*H*W] (1 where masked).
    private let mask: TensorID?
    /// Jigsaw's permutation set (empty for the other objectives).
    private let permutations: JigsawPermutations?
    /// Inpainting's square side and fill value (the set's mean pixel).
    private let regionSize: Int, fill: Float
    private var random: SeededRandom
    /// One image [C, H, W] moved before its patches are cut (jigsaw).
    private let shifted: UnsafeMutablePointer<Float>

    public init(objective: PretextObjective, data: LabeledImages, backbone: SmallResNet = SmallResNet(), batch: Int = 64,
                hidden: Int = 128, learningRate: Float = 2e-3, threads: Int = 1, seed: UInt64 = 0) throws {
        precondition(batch >= 1 && data.count >= batch, "a batch of \(batch) needs at least one image and at most the set's \(data.count)")
        if case .rotation = objective { precondition(data.height == data.width, "rotation prediction needs square images, got \(data.height)x\(data.width)") }
        let graph = Graph()
        if case let .jigsaw(grid, _) = objective {
            guard grid >= 1, data.height >= 2 * grid && data.width >= 2 * grid else {
                throw TrainingError.mismatchedData(message: "a \(grid)x\(grid) jigsaw needs images of at least \(2 * grid)x\(2 * grid) pixels, got \(data.height)x\(data.width)")
            }
            images = try graph.input("patches", [batch * grid * grid, data.channels, data.height / grid, data.width / grid])
        } else {
            images = try graph.input("images", [batch, data.channels, data.height, data.width])
        }
        let features = try backbone.build(graph, images, name: "backbone")
        let loss: TensorID
        var mask: TensorID? = nil, permutations: JigsawPermutations? = nil
        var regionSize = 0, fill: Float = 0
        switch objective {
        case .autoencoder, .denoising:
            target = try graph.input("target", [batch, data.imageSize])
            let h = try graph.relu(try graph.linear(features, outFeatures: hidden, name: "decoder.1"))
            loss = try graph.mseLoss(try graph.linear(h, outFeatures: data.imageSize, name: "decoder.2"), target, name: "loss")
        case .rotation:
            target = try graph.input("rotations", [batch], dtype: .int32)
            loss = try graph.crossEntropyLoss(try graph.linear(features, outFeatures: 4, name: "head"), target, name: "loss")
        case let .jigsaw(grid, count):
            permutations = try JigsawPermutations(grid: grid, count: count)
            target = try graph.input("permutations", [batch], dtype: .int32)
            // [B G^2, 2 width] -> [B, G^2 2 width]: an image's patch features side by side.
            let joined = try graph.reshape(features, [batch, grid * grid * backbone.featureCount], name: "head.patches")
            let h = try graph.relu(try graph.linear(joined, outFeatures: hidden, name: "head.1"))
            loss = try graph.crossEntropyLoss(try graph.linear(h, outFeatures: count, name: "head.2"), target, name: "loss")
        case let .inpainting(fraction):
            regionSize = Int((fraction * Float(min(data.height, data.width))).rounded())
            guard fraction > 0 && fraction < 1 && regionSize >= 1 && regionSize < min(data.height, data.width) else {
                throw TrainingError.invalidSetting(name: "fraction", message: "inpainting region fraction \(fraction) of \(data.height)x\(data.width) images must give a square of 1 to \(min(data.height, data.width) - 1) pixels")
            }
            fill = data.pixels.reduce(0, +) / Float(max(1, data.pixels.count))
            target = try graph.input("target", [batch, data.imageSize])
            mask = try graph.input("mask", [batch, data.imageSize])
            let h = try graph.relu(try graph.linear(features, outFeatures: hidden, name: "decoder.1"))
            let masked = try graph.multiply(try graph.linear(h, outFeatures: data.imageSize, name: "decoder.2"), mask!, name: "decoder.masked")
            // mse averages over every pixel; the masked ones are regionSize^2 per channel of each image.
            let perPixel = Float(data.imageSize) / Float(data.channels * regionSize * regionSize)
            loss = try graph.scale(try graph.mseLoss(masked, target, name: "maskedError"), by: perPixel, name: "loss")
        }
        self.mask = mask
        self.permutations = permutations
        self.regionSize = regionSize
        self.fill = fill
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)
        self.objective = objective
        self.backbone = backbone
        self.batch = batch
        self.data = data
        random = SeededRandom(seed: seed &+ 1)
        shifted = .allocate(capacity: data.imageSize)
    }

    deinit { shifted.deallocate() }

    /// Draws B images (with replacement), writes inputs and targets and trains once; returns the loss.
    @discardableResult
    public func step() throws -> Float {
        let input = program.tensor(images).floatPointer, size = data.imageSize
        let targetTensor = program.tensor(target)
        let maskPointer = mask.map { program.tensor($0).floatPointer }
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
                case let .jigsaw(grid, count):
                    // Image i's patches are rows i G^2 ..< (i + 1) G^2 of [B G^2, C, H / G, W / G].
                    let k = random.nextInt(below: count), patchesSize = data.channels * (data.height / grid) * (data.width / grid) * grid * grid
                    // Moving the image by up to half a patch first keeps a patch's place from being read
                    // off where a centred object's ink sits in it, and standardising each patch keeps it
                    // from being read off its brightness (on the digits after 150 steps the probe
                    // reaches 0.89 with both, 0.88 with the shift alone, 0.74 with neither; random
                    // encoder 0.83).
                    randomShift(image, shifted, channels: data.channels, height: data.height, width: data.width,
                                maximum: min(data.height, data.width) / grid / 2, random: &random)
                    cutPatches(shifted, input + i * patchesSize, channels: data.channels, height: data.height, width: data.width,
                               grid: grid, order: permutations!.order[k])
                    standardisePatches(input + i * patchesSize, count: grid * grid, size: patchesSize / (grid * grid))
                    targetTensor.int32s[i] = Int32(k)
                case .inpainting:
                    view.update(from: image, count: size)
                    let top = random.nextInt(below: data.height - regionSize + 1), left = random.nextInt(below: data.width - regionSize + 1)
                    let maskRow = maskPointer! + i * size, targetRow = targetTensor.floatPointer + i * size
                    maskRegion(view, mask: maskRow, channels: data.channels, height: data.height, width: data.width,
                               top: top, left: left, size: regionSize, fill: fill)
                    for j in 0..<size { targetRow[j] = image[j] * maskRow[j] }
                }
            }
        }
        return try program.step()
    }
}

extension PretextTrainer: ImageSetTrainer {
    public var imageSet: LabeledImages { data }

    public func replaceImages(_ images: LabeledImages) throws {
        try checkReplacement(images, for: data)
        data = images
    }
}
