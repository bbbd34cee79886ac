// Self-supervised text models on raw bytes: GPT-style next-byte prediction with a causal
// transformer (and seeded sampling from a prompt), and BERT-style masked-byte prediction with a
// bidirectional one. Each step draws windows of the text at random, writes ids and targets into
// the program and takes one optimizer step; losses are cross-entropies in nats per predicted
// byte. Not a tokenizer and not a language-model library: bytes are the tokens, the context is
// fixed, and sampling reruns the whole window for each new byte (no key/value cache).

import Foundation
import ForesightCore
import ForesightNN
import ForesightIO

/// Draws one byte from `logits` [count] at `temperature` (<= 0: the most likely byte).
func sampleIndex(_ logits: UnsafePointer<Float>, count: Int, temperature: Float, random: inout SeededRandom) -> Int {
    var best = 0
    for i in 1..<count where logits[i] > logits[best] { best = i }
    guard temperature > 0 else { return best }
    var total: Double = 0
    for i in 0..<count { total += exp(Double((logits[i] - logits[best]) / temperature)) }
    var threshold = Double(random.nextFloat()) * total
    for i in 0..<count {
        threshold -= exp(Double((logits[i] - logits[best]) / temperature))
        if threshold <= 0 { return i }
    }
    return best
}

/// Next-byte prediction (GPT): a causal `TextTransformer` over windows of `context` bytes learns
/// to predict each byte from the bytes before it. Ids [B, context] -> logits [B context, 256]
/// against the next bytes [B context]; the loss is nats per byte. The step allocates nothing.
///
/// ```swift
/// let gpt = try GPTTrainer(text: Array(prose.utf8), context: 32, batch: 16)
/// for _ in 0..<300 { try gpt.step() }
/// let continuation = gpt.sample(prompt: Array("The ".utf8), count: 80, temperature: 0.8, seed: 1)
/// ```
public final class GPTTrainer: SelfSupervisedTrainer {
    public let program: Program
    public let model: TextTransformer
    public var imageBackbone: (any ImageBackbone)? { nil }
    /// Windows per step.
    public let batch: Int
    private let text: [UInt8]
    private let ids: TensorID, targets: TensorID
    private var random: SeededRandom
    /// A forward-only copy with one window, built at the first `sample`.
    private var sampler: (program: Program, ids: TensorID, logits: TensorID)?

    /// A model of `depth` blocks of `dimension` features and `heads` heads over `context` bytes,
    /// trained with AdamW at `learningRate` on `batch` windows per step drawn from `text`.
    /// Throws when the text is shorter than one window plus its next byte.
    public init(text: [UInt8], context: Int = 32, dimension: Int = 64, depth: Int = 2, heads: Int = 4, batch: Int = 16,
                learningRate: Float = 3e-3, threads: Int = 1, seed: UInt64 = 0) throws {
        guard text.count > context + 1 else {
            throw TrainingError.notEnoughData(available: text.count, needed: context + 1, message: "a text of \(text.count) bytes is too short for windows of \(context) bytes and their next bytes")
        }
        guard batch >= 1 else { throw TrainingError.invalidSetting(name: "batch", message: "batch must be at least 1, got \(batch)") }
        model = TextTransformer(vocabulary: 256, context: context, dimension: dimension, depth: depth, heads: heads, causal: true)
        let graph = Graph()
        ids = try graph.input("bytes", [batch, context], dtype: .int32)
        targets = try graph.input("next", [batch * context], dtype: .int32)
        let logits = try model.build(graph, ids, name: "gpt")
        let loss = try graph.crossEntropyLoss(logits, targets, name: "loss")
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)
        program.clipGradientNorm = 1
        self.batch = batch
        self.text = text
        random = SeededRandom(seed: seed &+ 1)
    }

    /// Draws B windows, writes their bytes and next bytes, and trains once; returns the loss in nats per byte.
    /// Windows of the text's length in steps of `batch` windows (windows start anywhere, so a
    /// pass is as many bytes as the text holds, not every byte once).
    public var stepsPerPass: Int? { max(1, text.count / (batch * model.context)) }

    @discardableResult
    public func step() throws -> Float {
        fillWindows(random: &random)
        return try program.step()
    }

    /// Mean loss (nats per byte) over `batches` batches of windows drawn with `seed`, without training.
    public func meanLoss(batches: Int, seed: UInt64) -> Float {
        meanForwardLoss(program, batches: batches, seed: seed) { fillWindows(random: &$0) }
    }

    private func fillWindows(random: inout SeededRandom) {
        let input = program.tensor(ids).int32s, next = program.tensor(targets).int32s, T = model.context
        for b in 0..<batch {
            let start = random.nextInt(below: text.count - T)
            for t in 0..<T {
                input[b * T + t] = Int32(text[start + t])
                next[b * T + t] = Int32(text[start + t + 1])
            }
        }
    }

    /// `count` bytes continuing `prompt` (not empty), each drawn from the model's next-byte
    /// distribution at `temperature` (0: the most likely byte) with a generator seeded by `seed`.
    /// The model sees the last `context` bytes; shorter windows are right-padded, which a causal
    /// model cannot see.
    public func sample(prompt: [UInt8], count: Int, temperature: Float, seed: UInt64) -> [UInt8] {
        precondition(!prompt.isEmpty, "sampling needs a prompt of at least one byte")
        let sampler = try! samplingProgram()
        copyParameters(into: sampler.program)
        var generator = SeededRandom(seed: seed)
        var bytes = prompt
        let input = sampler.program.tensor(sampler.ids).int32s, logits = sampler.program.tensor(sampler.logits).floatPointer
        let T = model.context
        for _ in 0..<count {
            let window = bytes.suffix(T)
            input.update(repeating: 0)
            for (t, byte) in window.enumerated() { input[t] = Int32(byte) }
            sampler.program.forward()
            let last = logits + (window.count - 1) * 256
            bytes.append(UInt8(sampleIndex(last, count: 256, temperature: temperature, random: &generator)))
        }
        return Array(bytes.suffix(count))
    }

    private func samplingProgram() throws -> (program: Program, ids: TensorID, logits: TensorID) {
        if let sampler { return sampler }
        let graph = Graph()
        let ids = try graph.input("bytes", [1, model.context], dtype: .int32)
        let logits = try model.build(graph, ids, name: "gpt")
        let built = (try Program(graph), ids, logits)
        sampler = built
        return built
    }

    private func copyParameters(into other: Program) {
        for id in other.parameters {
            let source = program.graph.tensor(named: other.graph[id].name)!
            _ = other.tensor(id).floats.update(fromContentsOf: program.tensor(source).floats)
        }
    }
}

/// Masked-byte prediction (BERT): in each window of `context` bytes a fixed share
/// (`maskFraction`, at least one byte) of positions is chosen; of those, 80% become the mask id
/// 256, 10% a random byte and 10% stay; a bidirectional `TextTransformer` (vocabulary 257)
/// predicts the original bytes at the chosen positions only. The loss is nats per chosen byte.
/// The step allocates nothing.
///
/// ```swift
/// let bert = try BERTTrainer(text: Array(prose.utf8), context: 32, batch: 16)
/// for _ in 0..<300 { try bert.step() }
/// ```
public final class BERTTrainer: SelfSupervisedTrainer {
    /// The id that hides a byte.
    public static let maskID: Int32 = 256
    public let program: Program
    public let model: TextTransformer
    public var imageBackbone: (any ImageBackbone)? { nil }
    /// Windows per step.
    public let batch: Int
    /// Positions predicted per window.
    public let maskedPerWindow: Int
    private let text: [UInt8]
    private let ids: TensorID, positions: TensorID, targets: TensorID
    private var random: SeededRandom
    private var order: [Int]
    private var sampler: (program: Program, ids: TensorID, logits: TensorID)?

    /// A model of `depth` blocks of `dimension` features and `heads` heads over `context` bytes,
    /// trained with AdamW at `learningRate` on `batch` windows per step drawn from `text`.
    /// Throws when the text is shorter than one window or `maskFraction` is outside (0, 1).
    public init(text: [UInt8], context: Int = 32, maskFraction: Double = 0.15, dimension: Int = 64, depth: Int = 2, heads: Int = 4,
                batch: Int = 16, learningRate: Float = 3e-3, threads: Int = 1, seed: UInt64 = 0) throws {
        guard text.count > context else { throw TrainingError.notEnoughData(available: text.count, needed: context + 1, message: "a text of \(text.count) bytes is too short for windows of \(context) bytes") }
        guard maskFraction > 0 && maskFraction < 1 else { throw TrainingError.invalidSetting(name: "maskFraction", message: "the masked fraction must lie in (0, 1), got \(maskFraction)") }
        guard batch >= 1 else { throw TrainingError.invalidSetting(name: "batch", message: "batch must be at least 1, got \(batch)") }
        model = TextTransformer(vocabulary: 257, context: context, dimension: dimension, depth: depth, heads: heads, causal: false)
        maskedPerWindow = max(1, Int((maskFraction * Double(context)).rounded()))
        let graph = Graph()
        ids = try graph.input("bytes", [batch, context], dtype: .int32)
        positions = try graph.input("masked", [batch * maskedPerWindow], dtype: .int32)
        targets = try graph.input("original", [batch * maskedPerWindow], dtype: .int32)
        let logits = try model.build(graph, ids, name: "bert", rows: positions)
        let loss = try graph.crossEntropyLoss(logits, targets, name: "loss")
        program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: 1e-4), threads: threads, seed: seed)
        program.clipGradientNorm = 1
        self.batch = batch
        self.text = text
        order = Array(0..<context)
        random = SeededRandom(seed: seed &+ 1)
    }

    /// Windows of the text's length in steps of `batch` windows.
    public var stepsPerPass: Int? { max(1, text.count / (batch * model.context)) }

    /// Draws B windows, hides their chosen bytes and trains once; returns the loss in nats per masked byte.
    @discardableResult
    public func step() throws -> Float {
        fillWindows(random: &random)
        return try program.step()
    }

    /// Mean masked loss (nats per masked byte) over `batches` batches drawn with `seed`, without training.
    public func meanLoss(batches: Int, seed: UInt64) -> Float {
        meanForwardLoss(program, batches: batches, seed: seed) { fillWindows(random: &$0) }
    }

    private func fillWindows(random: inout SeededRandom) {
        let input = program.tensor(ids).int32s, picked = program.tensor(positions).int32s, original = program.tensor(targets).int32s
        let T = model.context, M = maskedPerWindow
        for b in 0..<batch {
            let start = random.nextInt(below: text.count - T + 1)
            for t in 0..<T { input[b * T + t] = Int32(text[start + t]) }
            // The first M entries of a partial Fisher-Yates shuffle: M distinct positions.
            for i in 0..<M {
                order.swapAt(i, i + random.nextInt(below: T - i))
                let t = order[i], row = b * M + i
                picked[row] = Int32(b * T + t)
                original[row] = input[b * T + t]
                let choice = random.nextFloat()
                if choice < 0.8 {
                    input[b * T + t] = Self.maskID
                } else if choice < 0.9 {
                    input[b * T + t] = Int32(random.nextInt(below: 256))
                }
            }
        }
    }

    /// `count` bytes continuing `prompt` (not empty), one at a time: the window is the last
    /// context - 1 bytes so far followed by one mask id (mask ids also fill the left of a short
    /// window), and the masked byte is drawn at `temperature`
    /// (0: the most likely byte) with a generator seeded by `seed`. A masked-byte model is not
    /// trained for this; it shows what it has learnt rather than writing well.
    public func sample(prompt: [UInt8], count: Int, temperature: Float, seed: UInt64) -> [UInt8] {
        precondition(!prompt.isEmpty, "sampling needs a prompt of at least one byte")
        let sampler = try! samplingProgram()
        for id in sampler.program.parameters {
            let source = program.graph.tensor(named: sampler.program.graph[id].name)!
            _ = sampler.program.tensor(id).floats.update(fromContentsOf: program.tensor(source).floats)
        }
        var generator = SeededRandom(seed: seed)
        var bytes = prompt
        let input = sampler.program.tensor(sampler.ids).int32s, logits = sampler.program.tensor(sampler.logits).floatPointer
        let T = model.context
        for _ in 0..<count {
            // The last T - 1 bytes end just before the masked last position; mask ids fill the left of a short window.
            let window = bytes.suffix(T - 1), first = T - 1 - window.count
            input.update(repeating: Self.maskID)
            for (t, byte) in window.enumerated() { input[first + t] = Int32(byte) }
            sampler.program.forward()
            // Bytes only: the mask id is never a sample.
            let row = logits + (T - 1) * 257
            bytes.append(UInt8(sampleIndex(row, count: 256, temperature: temperature, random: &generator)))
        }
        return Array(bytes.suffix(count))
    }

    private func samplingProgram() throws -> (program: Program, ids: TensorID, logits: TensorID) {
        if let sampler { return sampler }
        let graph = Graph()
        let ids = try graph.input("bytes", [1, model.context], dtype: .int32)
        let logits = try model.build(graph, ids, name: "bert")
        let built = (try Program(graph), ids, logits)
        sampler = built
        return built
    }
}

/// Mean loss of `program` over `batches` batches that `fill` writes with a generator seeded
/// `seed`, forward only (no training).
func meanForwardLoss(_ program: Program, batches: Int, seed: UInt64, fill: (inout SeededRandom) -> Void) -> Float {
    var random = SeededRandom(seed: seed)
    var total: Float = 0
    for _ in 0..<batches {
        fill(&random)
        program.forward()
        total += program.lossValue
    }
    return total / Float(batches)
}

extension GPTTrainer {
    /// The GPT model that `foresight train --method gpt` wrote to `path`, ready to `sample`. A
    /// file of another method, or one whose tensors do not fit the model, is a clear error.
    ///
    /// ```swift
    /// let gpt = try GPTTrainer.load(modelFile: "gpt.safetensors")
    /// print(String(decoding: gpt.sample(prompt: Array("The ".utf8), count: 200, temperature: 0.8, seed: 0), as: UTF8.self))
    /// ```
    public static func load(modelFile path: String, threads: Int = 1) throws -> GPTTrainer {
        let file = try ModelFile(path: path)
        guard let method = file.metadata[TrainingMetadata.method], method == "gpt" else {
            let what = file.metadata[TrainingMetadata.method].map { "a \($0) model" } ?? "not a model trained by foresight train"
            throw TrainingError.unsuitableModel(path: path, message: "\(path) is \(what); sampling needs one trained with --method gpt")
        }
        // The windows' text is never read when sampling; one of spaces satisfies the trainer.
        let gpt = try GPTTrainer(text: [UInt8](repeating: 0x20, count: 256), batch: 1, threads: threads)
        for id in gpt.program.parameters { try file.load(gpt.program.graph[id].name, into: gpt.program.tensor(id)) }
        return gpt
    }
}
