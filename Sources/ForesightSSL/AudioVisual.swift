// CLIP-style contrastive learning between what the camera sees and what the microphone hears
// at the same moment: an image encoder (SmallResNet) and an audio encoder (an MLP on log-mel
// windows), each projected into a shared space, trained with a symmetric InfoNCE so that the
// image and the sound of one moment match each other better than any other pair of the batch.
// Not a learned temperature (it is fixed) and not a text model.
//
// Symbols: B pairs per batch, P shared features, tau the temperature, u and v the normalised
// image and audio projections.

import Foundation
import ForesightCore
import ForesightNN

/// The symmetric InfoNCE of CLIP (Radford et al. 2021): image projections [B, P] and audio
/// projections [B, P] -> a scalar. Rows are L2-normalised to u and v; logits
/// s_ij = u_i . v_j / tau; the loss is the mean of the cross-entropy of each image over the
/// sounds (its positive is j = i) and of each sound over the images. After each forward,
/// `accuracy` is the fraction of the 2B rows whose own partner has the largest logit.
///
/// ```swift
/// let loss = try graph.apply(CLIPLossOperation(temperature: 0.1), [imageProjections, audioProjections], name: "clip")
/// ```
public final class CLIPLossOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    /// tau: logits are cosine similarities divided by it.
    public let temperature: Float
    /// Fraction of rows (images and sounds) whose partner was the most similar, in the last forward pass.
    public private(set) var accuracy: Float = 0
    private var rows = 0, features = 0
    private var binding: Binding?

    public init(temperature: Float = 0.1) {
        precondition(temperature > 0 && temperature.isFinite, "CLIP temperature must be positive and finite, got \(temperature)")
        self.temperature = temperature
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        guard inputs.count == 2, inputs[0].rank == 2, inputs[0] == inputs[1], dtypes.allSatisfy({ $0 == .float32 }), inputs[0][0] >= 2 else {
            throw CoreError.shapeMismatch(operation: "clipLoss", expected: "two float32 inputs of one shape [B, P] with B >= 2", got: "\(inputs) \(dtypes)")
        }
        rows = inputs[0][0]; features = inputs[0][1]
        return [1]
    }

    /// u, v [B, P], inverse norms [2B], row-softmax (image -> sound) and column-softmax
    /// (sound -> image) probabilities [B, B] each.
    public var savedFloats: Int { 2 * rows * features + 2 * rows + 2 * rows * rows }
    /// du, dv [B, P].
    public func scratchFloats(threads: Int) -> Int { 2 * rows * features }
    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { rows * rows * features }
    public func bind(_ binding: Binding) { self.binding = binding }

    private var memory: (u: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, inverseNorms: UnsafeMutablePointer<Float>,
                         imageToSound: UnsafeMutablePointer<Float>, soundToImage: UnsafeMutablePointer<Float>) {
        let base = binding!.saved!, bp = rows * features
        return (base, base + bp, base + 2 * bp, base + 2 * bp + 2 * rows, base + 2 * bp + 2 * rows + rows * rows)
    }

    /// Writes the L2-normalised rows of x [B, P] to `unit` and their inverse norms to `inverseNorms`.
    private func normalise(_ x: UnsafePointer<Float>, _ unit: UnsafeMutablePointer<Float>, _ inverseNorms: UnsafeMutablePointer<Float>) {
        let p = features
        for i in 0..<rows {
            var norm: Float = 0
            for k in 0..<p { norm += x[i * p + k] * x[i * p + k] }
            let inverse = 1 / max(norm.squareRoot(), 1e-8)
            inverseNorms[i] = inverse
            for k in 0..<p { unit[i * p + k] = x[i * p + k] * inverse }
        }
    }

    /// Turns logits [B, B] in place into a softmax along rows (stride 1 within a row, `rowStride`
    /// between rows) or along columns (swap the strides); returns the summed cross-entropy of the
    /// diagonal and how many rows had their diagonal largest.
    private func softmaxCrossEntropy(_ logits: UnsafeMutablePointer<Float>, rowStride: Int, columnStride: Int) -> (Double, Int) {
        var total: Double = 0
        var correct = 0
        for i in 0..<rows {
            let row = logits + i * rowStride
            var maximum = -Float.infinity
            for j in 0..<rows { maximum = max(maximum, row[j * columnStride]) }
            let own = row[i * columnStride]
            if own >= maximum { correct += 1 }
            var sum: Float = 0
            for j in 0..<rows { let e = expf(row[j * columnStride] - maximum); row[j * columnStride] = e; sum += e }
            total += Double(logf(sum) - (own - maximum))
            let inverse = 1 / sum
            for j in 0..<rows { row[j * columnStride] *= inverse }
        }
        return (total, correct)
    }

    public func forward(pool: ThreadPool) {
        let memory = memory, n = rows, p = features
        normalise(binding!.inputs[0].floatPointer, memory.u, memory.inverseNorms)
        normalise(binding!.inputs[1].floatPointer, memory.v, memory.inverseNorms + n)
        let inverseTemperature = 1 / temperature
        for i in 0..<n {
            for j in 0..<n {
                var s: Float = 0
                for k in 0..<p { s += memory.u[i * p + k] * memory.v[j * p + k] }
                memory.imageToSound[i * n + j] = s * inverseTemperature
            }
        }
        memory.soundToImage.update(from: memory.imageToSound, count: n * n)
        let (imageLoss, imageCorrect) = softmaxCrossEntropy(memory.imageToSound, rowStride: n, columnStride: 1)
        let (soundLoss, soundCorrect) = softmaxCrossEntropy(memory.soundToImage, rowStride: 1, columnStride: n)
        accuracy = Float(imageCorrect + soundCorrect) / Float(2 * n)
        binding!.output.floatPointer[0] = Float((imageLoss + soundLoss) / Double(2 * n))
    }

    public func backward(pool: ThreadPool) {
        let imageGradient = binding!.inputGradients[0]?.floatPointer, soundGradient = binding!.inputGradients[1]?.floatPointer
        if imageGradient == nil && soundGradient == nil { return }
        let memory = memory, n = rows, p = features
        let du = binding!.scratch!, dv = du + n * p
        let g = binding!.outputGradient!.floatPointer[0] / Float(2 * n) / temperature
        du.update(repeating: 0, count: 2 * n * p)
        // dloss/ds_ij = g (rowSoftmax_ij + columnSoftmax_ij - 2 [i = j]); s_ij = u_i . v_j / tau.
        for i in 0..<n {
            for j in 0..<n {
                let d = g * (memory.imageToSound[i * n + j] + memory.soundToImage[i * n + j] - (i == j ? 2 : 0))
                for k in 0..<p {
                    du[i * p + k] += d * memory.v[j * p + k]
                    dv[j * p + k] += d * memory.u[i * p + k]
                }
            }
        }
        // Through the normalisation: dx = (du - u (u . du)) / |x|.
        if let imageGradient { normaliseBackward(du, memory.u, memory.inverseNorms, into: imageGradient) }
        if let soundGradient { normaliseBackward(dv, memory.v, memory.inverseNorms + n, into: soundGradient) }
    }

    /// Adds (dunit - unit (unit . dunit)) * inverseNorm to `gradient`, row by row ([B, P]).
    private func normaliseBackward(_ unitGradient: UnsafeMutablePointer<Float>, _ unit: UnsafeMutablePointer<Float>,
                                   _ inverseNorms: UnsafeMutablePointer<Float>, into gradient: UnsafeMutablePointer<Float>) {
        let p = features
        for i in 0..<rows {
            var projection: Float = 0
            for k in 0..<p { projection += unit[i * p + k] * unitGradient[i * p + k] }
            for k in 0..<p { gradient[i * p + k] += (unitGradient[i * p + k] - unit[i * p + k] * projection) * inverseNorms[i] }
        }
    }
}

/// The audio encoder of the audio-visual method: log-mel windows [N, F * M] -> linear (hidden),
/// ReLU, linear (hidden), ReLU -> features [N, hidden]. Parameters are named `name.*`.
///
/// ```swift
/// let sound = try AudioMLP(hidden: 64).build(graph, windows, name: "audio")   // [64, 320] -> [64, 64]
/// ```
public struct AudioMLP: Sendable {
    /// Features of each hidden layer and of the output.
    public let hidden: Int

    public init(hidden: Int = 64) {
        precondition(hidden > 0, "the audio encoder needs a positive width, got \(hidden)")
        self.hidden = hidden
    }

    /// Adds the encoder on `windows` [N, F * M]; returns [N, hidden].
    public func build(_ graph: Graph, _ windows: TensorID, name: String) throws -> TensorID {
        let h = try graph.relu(try graph.linear(windows, outFeatures: hidden, name: name + ".1"))
        return try graph.relu(try graph.linear(h, outFeatures: hidden, name: name + ".2"))
    }
}

/// Image backbone -> linear projection (P) and audio MLP -> linear projection (P), trained with
/// the symmetric InfoNCE on B pairs taken at the same moments: images [B, C, H, W], windows
/// [B, F * M]. Batches walk through a seeded shuffle of the pairs (no pair twice in a batch);
/// audio is standardised with the mean and deviation of the training pairs, and training
/// batches get Gaussian noise on it. The step allocates nothing.
///
/// ```swift
/// let pairs = AudioVisualPairs.toneDigits(train)
/// let trainer = try AudioVisualTrainer(pairs: pairs, batch: 64)
/// for _ in 0..<200 { try trainer.step() }
/// let (exact, sameClass) = trainer.retrieval(heldOut)      // audio -> image top-1, chance 1 / 64
/// ```
public final class AudioVisualTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let backbone: SmallResNet
    public var imageBackbone: (any ImageBackbone)? { backbone }
    public let audioEncoder: AudioMLP
    /// The loss operation, for its accuracy.
    public let objective: CLIPLossOperation
    /// Pairs per step (B).
    public let batch: Int
    /// Mean and deviation of the training pairs' log-mel values, applied to every window written.
    public let audioMean: Float, audioDeviation: Float
    /// Deviation of the Gaussian noise added to the standardised audio of each training batch
    /// (not to retrieval), so that the audio encoder cannot learn the pairs by heart.
    public let audioNoise: Float
    private let pairs: AudioVisualPairs
    private let images: TensorID, windows: TensorID, imageProjections: TensorID, audioProjections: TensorID
    private var order: [Int]
    private var position: Int
    private var random: SeededRandom

    /// `projection`: P, the shared space's features; `temperature`: tau; `audioNoise`: see the
    /// property (on the tone digits after 600 steps, 1 keeps same-class retrieval at 0.99 where
    /// none lets it fall to 0.81).
    public init(pairs: AudioVisualPairs, backbone: SmallResNet = SmallResNet(), audioEncoder: AudioMLP = AudioMLP(),
                batch: Int = 64, projection: Int = 32, temperature: Float = 0.1, audioNoise: Float = 1, learningRate: Float = 2e-3,
                threads: Int = 1, seed: UInt64 = 0) throws {
        guard batch >= 2 && pairs.count >= batch else {
            throw TrainingError.batch(batch, minimum: 2, available: pairs.count, "a batch of \(batch) pairs needs at least 2 and at most the \(pairs.count) pairs given")
        }
        guard audioNoise >= 0 && audioNoise.isFinite else {
            throw TrainingError.invalidSetting(name: "audioNoise", message: "the audio noise deviation must be finite and not negative, got \(audioNoise)")
        }
        let data = pairs.images
        let graph = Graph()
        images = try graph.input("images", [batch, data.channels, data.height, data.width])
        windows = try graph.input("audio", [batch, pairs.audioSize])
        imageProjections = try graph.linear(try backbone.build(graph, images, name: "backbone"), outFeatures: projection, name: "imageProjection")
        audioProjections = try graph.linear(try audioEncoder.build(graph, windows, name: "audio"), outFeatures: projection, name: "audioProjection")
        objective = CLIPLossOperation(temperature: temperature)
        let loss = try graph.apply(objective, [imageProjections, audioProjections], name: "loss")
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)
        let mean = pairs.audio.reduce(0, +) / Float(pairs.audio.count)
        let variance = pairs.audio.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(pairs.audio.count)
        audioMean = mean
        audioDeviation = max(variance.squareRoot(), 1e-6)
        self.audioNoise = audioNoise
        self.backbone = backbone
        self.audioEncoder = audioEncoder
        self.batch = batch
        self.pairs = pairs
        order = Array(0..<pairs.count)
        position = pairs.count
        random = SeededRandom(seed: seed &+ 1)
    }

    /// Writes pair `index` of `set` into row `row` of the image and audio inputs.
    private func write(_ set: AudioVisualPairs, _ index: Int, row: Int) {
        let imageSize = set.images.imageSize, audioSize = set.audioSize
        let image = program.tensor(images).floatPointer + row * imageSize, window = program.tensor(windows).floatPointer + row * audioSize
        set.images.pixels.withUnsafeBufferPointer { (image).update(from: $0.baseAddress! + index * imageSize, count: imageSize) }
        let scale = 1 / audioDeviation
        set.audio.withUnsafeBufferPointer { audio in
            for k in 0..<audioSize { window[k] = (audio[index * audioSize + k] - audioMean) * scale }
        }
    }

    /// A pass over the pairs in steps of `batch` (the last partial batch left to the next shuffle).
    public var stepsPerPass: Int? { max(1, order.count / batch) }

    /// Takes the next B pairs of the shuffle (reshuffled when fewer than B remain), writes them
    /// and trains once; returns the loss.
    @discardableResult
    public func step() throws -> Float {
        if position + batch > order.count {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, random.nextInt(below: i + 1)) }
            position = 0
        }
        for row in 0..<batch { write(pairs, order[position + row], row: row) }
        if audioNoise > 0 {
            addGaussianNoise(program.tensor(windows).floatPointer, count: batch * pairs.audioSize, deviation: audioNoise, random: &random)
        }
        position += batch
        return try program.step()
    }

    /// Audio -> image retrieval on `set` (pairs the trainer has not seen, of the training pairs'
    /// sizes), in consecutive groups of B pairs (a last partial group is left out): for each
    /// sound, the image of its group whose projection is the most cosine-similar. Returns the
    /// fraction that found their own image (chance 1 / B) and the fraction that found an image
    /// of the same class (meaningful when the labels are classes).
    public func retrieval(_ set: AudioVisualPairs) -> (exact: Double, sameClass: Double) {
        precondition(set.images.imageSize == pairs.images.imageSize && set.audioSize == pairs.audioSize,
                     "retrieval pairs must have the training pairs' image and audio sizes")
        let imageOut = program.tensor(imageProjections).floatPointer, audioOut = program.tensor(audioProjections).floatPointer
        let p = program.graph.shape(imageProjections)[1]
        var exact = 0, sameClass = 0, asked = 0
        var group = 0
        while (group + 1) * batch <= set.count {
            for row in 0..<batch { write(set, group * batch + row, row: row) }
            program.forward()
            for a in 0..<batch {
                var best = -1, bestSimilarity = -Float.infinity
                for i in 0..<batch {
                    var dot: Float = 0, imageNorm: Float = 0
                    for k in 0..<p { dot += audioOut[a * p + k] * imageOut[i * p + k]; imageNorm += imageOut[i * p + k] * imageOut[i * p + k] }
                    let similarity = dot / max(imageNorm.squareRoot(), 1e-8)
                    if similarity > bestSimilarity { bestSimilarity = similarity; best = i }
                }
                if best == a { exact += 1 }
                if set.images.labels[group * batch + best] == set.images.labels[group * batch + a] { sameClass += 1 }
                asked += 1
            }
            group += 1
        }
        precondition(asked > 0, "retrieval needs at least one group of \(batch) pairs, got \(set.count)")
        return (Double(exact) / Double(asked), Double(sameClass) / Double(asked))
    }
}
