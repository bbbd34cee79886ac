// The momentum (EMA) target network shared by MoCo, BYOL and the latent predictor, and the
// trainer of MoCo and BYOL on an in-memory image set. The target is a second, forward-only
// program whose parameters follow the online program's by name; its outputs are copied into
// an input of the online program, which is what stops the gradient. Not a general
// teacher-student framework: one target per trainer, updated after each online step.

import Foundation
import ForesightCore
import ForesightNN

/// A forward-only program whose parameters are an exponential moving average of the
/// parameters of the same names in an online program: after each online step,
/// target = momentum * target + (1 - momentum) * online. It starts as a copy of the online
/// parameters. Every parameter of the target's graph must exist, with the same shape, online.
///
/// ```swift
/// let target = try MomentumTarget(graph: targetGraph, following: online, momentum: 0.99)
/// target.program.tensor(targetViews).copy(from: ...)
/// target.program.forward()
/// target.copy(targetProjections, into: onlineTargets, of: online)   // the stop-gradient
/// try online.step()
/// target.update()
/// ```
public final class MomentumTarget {
    /// The target program (no loss, no optimizer).
    public let program: Program
    /// Weight of the target's own value in each update, in [0, 1].
    public var momentum: Float {
        didSet { precondition(momentum >= 0 && momentum <= 1, "momentum must be in [0, 1], got \(momentum)") }
    }
    /// (target parameter, online parameter, element count), matched by name once.
    private let pairs: [(target: UnsafeMutablePointer<Float>, online: UnsafePointer<Float>, count: Int)]

    /// Builds the target program from `graph` and copies the online parameters into it.
    public init(graph: Graph, following online: Program, momentum: Float, threads: Int = 1) throws {
        guard momentum >= 0 && momentum <= 1 else { throw TrainingError.invalidSetting(name: "momentum", message: "momentum must be in [0, 1], got \(momentum)") }
        program = try Program(graph, threads: threads)
        var pairs: [(target: UnsafeMutablePointer<Float>, online: UnsafePointer<Float>, count: Int)] = []
        for id in program.parameters {
            let name = graph[id].name
            guard let source = online.graph.tensor(named: name), online.parameters.contains(source) else {
                throw TrainingError.unsuitableModel(path: nil, message: "the target's parameter \(name) has no online parameter of that name")
            }
            guard online.graph[source].shape == graph[id].shape else {
                throw TrainingError.unsuitableModel(path: nil, message: "\(name) is \(graph[id].shape) in the target but \(online.graph[source].shape) online")
            }
            pairs.append((program.tensor(id).floatPointer, UnsafePointer(online.tensor(source).floatPointer), graph[id].shape.count))
        }
        self.pairs = pairs
        self.momentum = momentum
        for pair in pairs { pair.target.update(from: pair.online, count: pair.count) }
    }

    /// The target's parameters under "target." + name: state a checkpoint holds beside the online program's.
    public var trainingState: [(name: String, tensor: Tensor)] {
        program.parameters.map { ("target." + program.graph[$0].name, program.tensor($0)) }
    }

    /// Moves every target parameter toward its online counterpart by (1 - momentum).
    public func update() {
        let keep = momentum, take = 1 - momentum
        for pair in pairs {
            for i in 0..<pair.count { pair.target[i] = keep * pair.target[i] + take * pair.online[i] }
        }
    }

    /// Copies the target's tensor `output` [rows, ...] into `input` of `online` (same shape).
    /// With `swappingHalves`, row i goes to row (i + rows/2) mod rows: each view gets the
    /// other view's target.
    public func copy(_ output: TensorID, into input: TensorID, of online: Program, swappingHalves: Bool = false) {
        let source = program.tensor(output), destination = online.tensor(input)
        precondition(source.shape == destination.shape, "target output \(source.shape) does not fit input \(destination.shape)")
        guard swappingHalves else {
            destination.floatPointer.update(from: source.floatPointer, count: source.count)
            return
        }
        let rows = source.shape[0], half = rows / 2, rowSize = source.count / rows
        precondition(rows % 2 == 0, "swapping halves needs an even number of rows, got \(rows)")
        destination.floatPointer.update(from: source.floatPointer + half * rowSize, count: half * rowSize)
        (destination.floatPointer + half * rowSize).update(from: source.floatPointer, count: half * rowSize)
    }
}

/// What a momentum method minimises.
public enum MomentumObjective: Sendable {
    /// MoCo: InfoNCE of each view's query against the other view's momentum key and a FIFO
    /// queue of `queueSize` past keys (filled with keys of the untrained target at the start).
    case moco(temperature: Float, queueSize: Int)
    /// BYOL: the online prediction of each view against the momentum projection of the other
    /// (2 - 2 cos, symmetrised).
    case byol
}

/// MoCo and BYOL on two augmented views of a batch: the online program is backbone ->
/// projector (linear, ReLU, linear) [-> predictor of the same form for BYOL, whose hidden
/// layers are batch-standardised] -> loss, the momentum target is
/// backbone -> projector with the same parameter names. Views [2B, C, H, W] (rows 0..<B the
/// first views, B..<2B the second). The step allocates nothing.
///
/// ```swift
/// let trainer = try MomentumTrainer(objective: .byol, data: train, batch: 64)
/// for _ in 0..<200 { try trainer.step() }
/// let encoder = try FrozenEncoder(backbone: trainer.backbone, channels: 1, height: 8, width: 8)
/// encoder.copyParameters(from: trainer.program)
/// ```
public final class MomentumTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let backbone: SmallResNet
    public var imageBackbone: (any ImageBackbone)? { backbone }
    /// The online program's state, the target's parameters and, for MoCo, the queue of keys ("moco.queue").
    public var trainingState: [(name: String, tensor: Tensor)] {
        program.trainingState + target.trainingState + (queue.map { [("moco.queue", program.tensor($0))] } ?? [])
    }
    /// The EMA network (backbone and projector).
    public let target: MomentumTarget
    public let augmentation: ViewAugmentation
    /// Images per step (B); the programs see 2B views.
    public let batch: Int
    /// The loss operation, for its diagnostics (InfoNCE accuracy, mean cosine).
    public let objective: any GraphOperation
    private var data: LabeledImages
    private let views: TensorID, targetViews: TensorID, targetProjections: TensorID, targets: TensorID
    /// MoCo's queue input [K, P] and the next row to overwrite.
    private let queue: TensorID?
    private var queueStart = 0
    private var random: SeededRandom
    private let scratch: UnsafeMutablePointer<Float>

    /// `projection`: hidden and output features of the projector (and of BYOL's predictor);
    /// `momentum`: of the target network.
    public init(objective: MomentumObjective, data: LabeledImages, backbone: SmallResNet = SmallResNet(), batch: Int = 64,
                projection: Int = 64, momentum: Float = 0.99, augmentation: ViewAugmentation = ViewAugmentation(),
                learningRate: Float = 2e-3, threads: Int = 1, seed: UInt64 = 0) throws {
        guard batch >= 2 && data.count >= batch else {
            throw TrainingError.batch(batch, minimum: 2, available: data.count, "a batch of \(batch) needs at least 2 images and at most the set's \(data.count)")
        }
        let viewShape = [2 * batch, data.channels, data.height, data.width]
        // BYOL's projector and predictor standardise their hidden layer over the batch (the
        // paper's batch norm, without its affine); without it this small network collapses.
        let standardizeHidden: Bool = if case .byol = objective { true } else { false }
        func mlp(_ graph: Graph, _ x: TensorID, name: String) throws -> TensorID {
            var hidden = try graph.linear(x, outFeatures: projection, name: name + ".1")
            if standardizeHidden { hidden = try graph.apply(BatchStandardizeOperation(), [hidden], name: name + ".norm") }
            return try graph.linear(try graph.relu(hidden), outFeatures: projection, name: name + ".2")
        }
        func projector(_ graph: Graph, _ images: TensorID) throws -> TensorID {
            try mlp(graph, try backbone.build(graph, images, name: "backbone"), name: "projector")
        }
        let graph = Graph()
        views = try graph.input("views", viewShape)
        let projections = try projector(graph, views)
        targets = try graph.input("targets", [2 * batch, projection])
        let loss: TensorID
        switch objective {
        case let .moco(temperature, queueSize):
            guard queueSize >= 1 else { throw TrainingError.invalidSetting(name: "queueSize", message: "MoCo's queue needs at least one key, got \(queueSize)") }
            let queue = try graph.input("queue", [queueSize, projection])
            let operation = QueueInfoNCEOperation(temperature: temperature)
            loss = try graph.apply(operation, [projections, targets, queue], name: "loss")
            self.queue = queue
            self.objective = operation
        case .byol:
            let predictions = try mlp(graph, projections, name: "predictor")
            let operation = CosinePredictionLossOperation(pairing: .otherView)
            loss = try graph.apply(operation, [predictions, targets], name: "loss")
            queue = nil
            self.objective = operation
        }
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)

        let targetGraph = Graph()
        targetViews = try targetGraph.input("views", viewShape)
        targetProjections = try projector(targetGraph, targetViews)
        target = try MomentumTarget(graph: targetGraph, following: program, momentum: momentum, threads: threads)

        self.backbone = backbone
        self.augmentation = augmentation
        self.batch = batch
        self.data = data
        random = SeededRandom(seed: seed &+ 1)
        scratch = .allocate(capacity: data.imageSize)
        if let queue {
            // MoCo's queue starts full of keys of the untrained target (not random directions,
            // which the first queries would tell apart from real keys at no cost).
            for _ in 0..<((program.tensor(queue).shape[0] + 2 * batch - 1) / (2 * batch)) {
                drawViews()
                target.program.forward()
                enqueueKeys(queue)
            }
        }
    }

    deinit { scratch.deallocate() }

    /// Draws B images (with replacement), writes their two views, runs the target on them,
    /// trains the online program once, moves the target and (MoCo) enqueues the new keys.
    /// Returns the loss.
    @discardableResult
    public func step() throws -> Float {
        drawViews()
        target.program.forward()
        // BYOL's loss pairs each prediction with the other view's target itself; MoCo's rows must line up.
        target.copy(targetProjections, into: targets, of: program, swappingHalves: queue != nil)
        let loss = try program.step()
        target.update()
        if let queue { enqueueKeys(queue) }
        return loss
    }

    /// Writes two views of B images drawn with replacement to the online and the target program.
    private func drawViews() {
        let input = program.tensor(views).floatPointer, size = data.imageSize
        augmentation.writeTwoViews(of: data, batch: batch, into: input, scratch: scratch, random: &random)
        target.program.tensor(targetViews).floatPointer.update(from: input, count: 2 * batch * size)
    }

    /// Overwrites the oldest 2B rows of the queue (FIFO, wrapping) with this step's keys.
    private func enqueueKeys(_ queue: TensorID) {
        let keys = target.program.tensor(targetProjections), rows = keys.shape[0], width = keys.shape[1]
        let destination = program.tensor(queue).floatPointer, capacity = program.tensor(queue).shape[0]
        for row in 0..<rows {
            (destination + queueStart * width).update(from: keys.floatPointer + row * width, count: width)
            queueStart = (queueStart + 1) % capacity
        }
    }
}

extension MomentumTrainer: ImageSetTrainer {
    public var imageSet: LabeledImages { data }

    public func replaceImages(_ images: LabeledImages) throws {
        try checkReplacement(images, for: data)
        data = images
    }
}
