// Latent prediction in the manner of I-JEPA, small: a context encoder sees the image with one
// square block blanked out, and a predictor, told where the block was, predicts the features
// that a momentum (EMA) copy of the encoder gives for that block: its feature maps of the whole
// image, averaged over the block's region. The loss lives in feature space, never in pixels.
// Not I-JEPA's transformer with patch tokens and several target blocks: one block per image,
// and its features pooled to one vector rather than predicted token by token.

import Foundation
import ForesightCore
import ForesightNN

/// Trains a backbone by latent prediction. Online program: masked images [B, C, H, W] ->
/// backbone (prefix "backbone") -> features [B, F]; with the block's position as a one-hot
/// [B, (H - s + 1)(W - s + 1)] -> predictor (linear on features + linear on position, ReLU,
/// linear) -> predictions [B, F] -> 2 - 2 cos against the target features [B, F] (an input,
/// so no gradient reaches the target). Target program: full images -> the same backbone's
/// feature maps, its parameters an EMA of the online ones -> the mean over the map cells the
/// block covers -> batch standardisation of each feature. The step allocates nothing.
///
/// ```swift
/// let trainer = try LatentPredictionTrainer(data: train, batch: 64, blockSize: 4)
/// for _ in 0..<200 { try trainer.step() }
/// let encoder = try FrozenEncoder(backbone: trainer.backbone, channels: 1, height: 8, width: 8)
/// encoder.copyParameters(from: trainer.program)
/// ```
public final class LatentPredictionTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let backbone: SmallResNet
    public var imageBackbone: (any ImageBackbone)? { backbone }
    /// The online program's state and the target's parameters.
    public var trainingState: [(name: String, tensor: Tensor)] { program.trainingState + target.trainingState }
    /// The EMA backbone that encodes the full images.
    public let target: MomentumTarget
    /// Images per step (B).
    public let batch: Int
    /// Side s of the square block hidden from the context encoder.
    public let blockSize: Int
    /// Optional augmentation of each drawn image before masking (context and target see the same view).
    public let augmentation: ViewAugmentation?
    /// The loss operation (its `meanCosine` tells how well the targets are predicted).
    public let objective: CosinePredictionLossOperation
    private var data: LabeledImages
    private let context: TensorID, positions: TensorID, targets: TensorID
    private let targetImages: TensorID, targetFeatures: TensorID, blockCells: TensorID
    /// The size of the backbone's feature maps.
    private let mapHeight: Int, mapWidth: Int
    private var random: SeededRandom
    private let scratch: UnsafeMutablePointer<Float>

    /// `hidden`: width of the predictor's hidden layer; `momentum`: of the target encoder.
    public init(data: LabeledImages, backbone: SmallResNet = SmallResNet(), batch: Int = 64, blockSize: Int = 4, hidden: Int = 128,
                momentum: Float = 0.99, augmentation: ViewAugmentation? = nil, learningRate: Float = 2e-3,
                threads: Int = 1, seed: UInt64 = 0) throws {
        guard batch >= 1 && data.count >= batch else {
            throw TrainingError.batch(batch, minimum: 1, available: data.count, "a batch of \(batch) needs at least 1 image and at most the set's \(data.count)")
        }
        guard blockSize >= 1 && blockSize < min(data.height, data.width) else {
            throw TrainingError.invalidSetting(name: "blockSize", message: "block size \(blockSize) must be at least 1 and smaller than the \(data.height)x\(data.width) image")
        }
        let imageShape = [batch, data.channels, data.height, data.width]
        let placements = (data.height - blockSize + 1) * (data.width - blockSize + 1)
        let graph = Graph()
        context = try graph.input("context", imageShape)
        positions = try graph.input("positions", [batch, placements])
        let features = try backbone.build(graph, context, name: "backbone")
        let mixed = try graph.add(try graph.linear(features, outFeatures: hidden, name: "predictor.context"),
                                  try graph.linear(positions, outFeatures: hidden, bias: false, name: "predictor.position"))
        let predictions = try graph.linear(try graph.relu(mixed), outFeatures: backbone.featureCount, name: "predictor.output")
        targets = try graph.input("targets", [batch, backbone.featureCount])
        objective = CosinePredictionLossOperation(pairing: .sameRow)
        let loss = try graph.apply(objective, [predictions, targets], name: "loss")
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)

        let targetGraph = Graph()
        targetImages = try targetGraph.input("images", imageShape)
        let maps = try backbone.maps(targetGraph, targetImages, name: "backbone")
        mapHeight = targetGraph.shape(maps)[2]; mapWidth = targetGraph.shape(maps)[3]
        blockCells = try targetGraph.input("block", [batch, 1, mapHeight, mapWidth])
        let region = try targetGraph.apply(MaskedAveragePoolOperation(), [maps, blockCells], name: "targets.region")
        // The targets are standardised over the batch (no parameters: nothing for the EMA to
        // follow), so a constant prediction cannot match them and collapse does not pay.
        targetFeatures = try targetGraph.apply(BatchStandardizeOperation(), [region], name: "targets.norm")
        target = try MomentumTarget(graph: targetGraph, following: program, momentum: momentum, threads: threads)

        self.backbone = backbone
        self.batch = batch
        self.blockSize = blockSize
        self.augmentation = augmentation
        self.data = data
        random = SeededRandom(seed: seed &+ 1)
        scratch = .allocate(capacity: data.imageSize)
    }

    deinit { scratch.deallocate() }

    /// Draws B images (with replacement), writes the full images and the block's map cells to
    /// the target and the masked images with their block positions to the online program, trains
    /// once and moves the target. Returns the loss.
    @discardableResult
    public func step() throws -> Float {
        let full = target.program.tensor(targetImages).floatPointer, masked = program.tensor(context).floatPointer
        let code = program.tensor(positions).floatPointer, cells = target.program.tensor(blockCells).floatPointer
        let size = data.imageSize, height = data.height, width = data.width, channels = data.channels
        let columns = width - blockSize + 1, placements = (height - blockSize + 1) * columns
        code.update(repeating: 0, count: batch * placements)
        cells.update(repeating: 0, count: batch * mapHeight * mapWidth)
        // A map cell covers (height / mapHeight) x (width / mapWidth) pixels (rounded up at the edge).
        let cellRows = (height + mapHeight - 1) / mapHeight, cellColumns = (width + mapWidth - 1) / mapWidth
        data.pixels.withUnsafeBufferPointer { pixels in
            for i in 0..<batch {
                let image = pixels.baseAddress! + random.nextInt(below: data.count) * size, view = full + i * size
                if let augmentation {
                    augmentation.apply(image, into: view, scratch: scratch, channels: channels, height: height, width: width, random: &random)
                } else {
                    view.update(from: image, count: size)
                }
                let placement = random.nextInt(below: placements), top = placement / columns, left = placement % columns
                code[i * placements + placement] = 1
                for y in (top / cellRows)...((top + blockSize - 1) / cellRows) {
                    for x in (left / cellColumns)...((left + blockSize - 1) / cellColumns) { cells[(i * mapHeight + y) * mapWidth + x] = 1 }
                }
                let out = masked + i * size
                out.update(from: view, count: size)
                for c in 0..<channels {
                    for y in top..<(top + blockSize) {
                        (out + (c * height + y) * width + left).update(repeating: 0, count: blockSize)
                    }
                }
            }
        }
        target.program.forward()
        target.copy(targetFeatures, into: targets, of: program)
        let loss = try program.step()
        target.update()
        return loss
    }
}

extension LatentPredictionTrainer: ImageSetTrainer {
    public var imageSet: LabeledImages { data }

    public func replaceImages(_ images: LabeledImages) throws {
        try checkReplacement(images, for: data)
        data = images
    }
}
