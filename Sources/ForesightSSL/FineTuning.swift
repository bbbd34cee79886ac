// Fine-tuning evaluation: an image backbone (a trained model's, parameters copied in) with a
// linear head on its features, trained end to end with cross-entropy on labelled images, then
// scored on a test set. Not a probe: the encoder's weights change. Not a training recipe for a
// deployed classifier either (no augmentation, one learning rate for backbone and head).

import Foundation
import ForesightCore
import ForesightNN
import ForesightIO

/// How a fine-tuning run trains: AdamW with one learning rate for backbone and head, decayed
/// by half a cosine to 0 over `steps`; batches are the training set in a seeded shuffled order,
/// reshuffled every epoch.
///
/// ```swift
/// let settings = FineTuningSettings(steps: 300, batch: 64, learningRate: 3e-3)
/// ```
public struct FineTuningSettings: Sendable, Equatable {
    /// Optimizer steps (one batch each).
    public var steps: Int
    /// Images per step; a training set smaller than this is used whole in every step.
    public var batch: Int
    /// AdamW's learning rate at the first step.
    public var learningRate: Float
    /// AdamW's decoupled weight decay.
    public var weightDecay: Float
    /// Threads of the program's kernels.
    public var threads: Int
    /// Seed of the head's initialisation and of the batch order.
    public var seed: UInt64

    public init(steps: Int = 300, batch: Int = 64, learningRate: Float = 3e-3, weightDecay: Float = 1e-4, threads: Int = 1,
                seed: UInt64 = 0) {
        self.steps = steps
        self.batch = batch
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.threads = threads
        self.seed = seed
    }

    /// Throws a `TrainingError.invalidSetting` naming the first setting out of range.
    public func validate() throws {
        guard steps >= 1 else { throw TrainingError.invalidSetting(name: "steps", message: "fine-tuning needs at least 1 step, got \(steps)") }
        guard batch >= 1 else { throw TrainingError.invalidSetting(name: "batch", message: "the fine-tuning batch must be at least 1 image, got \(batch)") }
        guard learningRate > 0 && learningRate.isFinite else {
            throw TrainingError.invalidSetting(name: "learningRate", message: "the fine-tuning learning rate must be positive and finite, got \(learningRate)")
        }
        guard weightDecay >= 0 && weightDecay.isFinite else {
            throw TrainingError.invalidSetting(name: "weightDecay", message: "the fine-tuning weight decay must be finite and not negative, got \(weightDecay)")
        }
        guard threads >= 1 else { throw TrainingError.invalidSetting(name: "threads", message: "fine-tuning needs at least 1 thread, got \(threads)") }
    }
}

/// A backbone and a linear head trained together on labelled images:
/// images [B, C, H, W] -> backbone (parameters "backbone.*", or pc64's "e1.*".."e3.*") -> features [B, F]
/// -> linear "head" -> logits [B, classes] -> cross-entropy with labels [B].
/// The step allocates nothing: it copies a batch into the program's inputs and trains once.
///
/// ```swift
/// let tuner = try FineTuner(backbone: SmallResNet(width: 16), data: train, settings: FineTuningSettings(steps: 300))
/// tuner.copyParameters(from: trainer.program)        // or try tuner.loadBackbone(from: ModelFile(path: ...))
/// try tuner.train()
/// let accuracy = try tuner.accuracy(on: test)        // fraction of test images classified correctly
/// ```
public final class FineTuner {
    public let program: Program
    public let backbone: any ImageBackbone
    public let settings: FineTuningSettings
    /// Images per step: the settings' batch, or the whole training set when it is smaller.
    public let batch: Int
    public let classCount: Int
    /// Steps taken so far.
    public private(set) var stepCount = 0
    private let data: LabeledImages
    private let images: TensorID, labels: TensorID, logits: TensorID
    /// The training set's indices in this epoch's order, and the position of the next batch in it.
    private var order: [Int]
    private var position: Int
    private var random: SeededRandom

    /// Builds backbone and head for images shaped like `data`'s and `classes` classes (the
    /// data's class count when nil); the head and, until parameters are copied in, the
    /// backbone start at the random initialisation of `settings.seed`.
    public init(backbone: any ImageBackbone, data: LabeledImages, classes: Int? = nil, settings: FineTuningSettings = FineTuningSettings()) throws {
        try settings.validate()
        let classCount = classes ?? data.classCount
        guard classCount >= 2 else { throw TrainingError.invalidSetting(name: "classes", message: "fine-tuning needs at least 2 classes, got \(classCount)") }
        guard data.count > 0 else { throw TrainingError.notEnoughData(available: 0, needed: 1, message: "fine-tuning needs labelled training images; the set is empty") }
        if let label = data.labels.max(), Int(label) >= classCount {
            throw TrainingError.mismatchedData(message: "training label \(label) is not among the \(classCount) classes")
        }
        let batch = min(settings.batch, data.count)
        let graph = Graph()
        images = try graph.input("images", [batch, data.channels, data.height, data.width])
        labels = try graph.input("labels", [batch], dtype: .int32)
        let features = try backbone.build(graph, images, name: "backbone")      // [B, F]
        logits = try graph.linear(features, outFeatures: classCount, name: "head")  // [B, classes]
        let loss = try graph.crossEntropyLoss(logits, labels, name: "loss")
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: settings.learningRate, weightDecay: settings.weightDecay),
                              threads: settings.threads, seed: settings.seed)
        self.backbone = backbone
        self.settings = settings
        self.batch = batch
        self.classCount = classCount
        self.data = data
        random = SeededRandom(seed: settings.seed &+ 1)
        order = Array(0..<data.count)
        position = data.count          // the first step shuffles
    }

    /// Every parameter but the head's.
    private var backboneParameters: [TensorID] { program.parameters.filter { !program.graph[$0].name.hasPrefix("head.") } }

    /// Copies every backbone parameter from `other` (a trainer's program), by name; returns how
    /// many were copied. Parameters `other` lacks keep their values.
    @discardableResult
    public func copyParameters(from other: Program) -> Int {
        var copied = 0
        for id in backboneParameters {
            guard let source = other.graph.tensor(named: program.graph[id].name) else { continue }
            precondition(other.graph[source].shape == program.graph[id].shape, "\(program.graph[id].name) differs in shape")
            _ = program.tensor(id).floats.update(fromContentsOf: other.tensor(source).floats)
            copied += 1
        }
        return copied
    }

    /// Loads every backbone parameter from a model file; a parameter the file lacks is an error naming it.
    public func loadBackbone(from file: ModelFile) throws {
        for id in backboneParameters {
            let tensor = program.tensor(id)
            guard file.tensors[tensor.name] != nil else {
                throw TrainingError.unsuitableModel(path: file.path, message: "\(file.path) has no \(tensor.name), which the backbone '\(backbone.specification)' needs")
            }
            try file.load(tensor.name, into: tensor)
        }
    }

    /// Trains once on the next batch of the shuffled training set; returns the loss before the update.
    @discardableResult
    public func step() throws -> Float {
        let input = program.tensor(images).floats, target = program.tensor(labels).int32s
        let imageSize = data.imageSize
        for row in 0..<batch {
            if position == order.count {
                order.shuffle(using: &random)
                position = 0
            }
            let index = order[position]
            position += 1
            for i in 0..<imageSize { input[row * imageSize + i] = data.pixels[index * imageSize + i] }
            target[row] = data.labels[index]
        }
        let progress = Float(min(stepCount, settings.steps)) / Float(settings.steps)
        program.optimizer!.learningRate = max(settings.learningRate * 0.5 * (1 + cosf(Float.pi * progress)), 1e-9)
        stepCount += 1
        return try program.step()
    }

    /// Takes the settings' steps (those not yet taken); `progress` is called after each.
    /// Returns the mean loss of the first and of the last tenth of the steps taken here.
    @discardableResult
    public func train(progress: ((TrainingProgress) -> Void)? = nil) throws -> (firstLoss: Float, lastLoss: Float) {
        let remaining = max(0, settings.steps - stepCount)
        let window = max(1, remaining / 10)
        var first: Float = 0, last = [Float](repeating: 0, count: window)
        let start = MonotonicClock.nanoseconds()
        for index in 0..<remaining {
            let loss = try step()
            if index < window { first += loss }
            last[index % window] = loss
            if let progress {
                let seconds = MonotonicClock.seconds(since: start)
                progress(TrainingProgress(step: stepCount, totalSteps: settings.steps, loss: loss,
                                          stepsPerSecond: seconds > 0 ? Double(index + 1) / seconds : 0))
            }
        }
        let taken = min(window, remaining)
        guard taken > 0 else { return (.nan, .nan) }
        return (first / Float(taken), last.prefix(taken).reduce(0, +) / Float(taken))
    }

    /// The fraction of `test` whose largest logit is its label; a forward pass per batch (the
    /// last padded with zeros), parameters unchanged.
    public func accuracy(on test: LabeledImages) throws -> Double {
        guard test.channels == data.channels, test.height == data.height, test.width == data.width else {
            throw TrainingError.mismatchedData(message: "test images are \(test.channels)x\(test.height)x\(test.width); the fine-tuned backbone takes \(data.channels)x\(data.height)x\(data.width)")
        }
        guard test.count > 0 else { throw TrainingError.notEnoughData(available: 0, needed: 1, message: "no test images to score") }
        if let label = test.labels.max(), Int(label) >= classCount {
            throw TrainingError.mismatchedData(message: "test label \(label) is not among the \(classCount) classes")
        }
        let input = program.tensor(images).floats, target = program.tensor(labels).int32s, output = program.tensor(logits).floats
        var correct = 0, start = 0
        while start < test.count {
            let taken = min(batch, test.count - start)
            input.update(repeating: 0)
            target.update(repeating: 0)
            for i in 0..<taken * test.imageSize { input[i] = test.pixels[start * test.imageSize + i] }
            program.forward()
            for row in 0..<taken {
                var best = 0
                for c in 1..<classCount where output[row * classCount + c] > output[row * classCount + best] { best = c }
                if Int32(best) == test.labels[start + row] { correct += 1 }
            }
            start += taken
        }
        return Double(correct) / Double(test.count)
    }
}
