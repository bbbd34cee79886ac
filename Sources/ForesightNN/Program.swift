// A graph made runnable: one arena sized once (parameters, gradients, optimizer state,
// planned activations and scratch), checked against a memory budget before anything runs,
// and a training step that allocates nothing. Not an interpreter: the schedule is fixed.

import Foundation
import ForesightCore

/// What a program's arena holds, by category, for budget checks and reports.
public struct MemoryReport: Sendable, CustomStringConvertible {
    public var parameters = 0
    public var gradients = 0
    public var optimizerState = 0
    public var inputs = 0
    /// Activations and their gradients after lifetime planning.
    public var activations = 0
    /// What activations would take without planning (every tensor its own bytes).
    public var activationsUnplanned = 0
    public var saved = 0
    public var scratch = 0
    /// The largest planned tensors, for "what to shrink" messages.
    public var largest: [(name: String, bytes: Int)] = []

    /// Bytes of the whole arena.
    public var total: Int { parameters + gradients + optimizerState + inputs + activations + saved + scratch }

    public var description: String {
        var lines = [
            "  parameters       \(formatBytes(parameters))",
            "  gradients        \(formatBytes(gradients))",
            "  optimizer state  \(formatBytes(optimizerState))",
            "  inputs           \(formatBytes(inputs))",
            "  activations      \(formatBytes(activations)) (planned; \(formatBytes(activationsUnplanned)) without reuse)",
            "  saved for backward \(formatBytes(saved))",
            "  scratch          \(formatBytes(scratch))",
            "  total            \(formatBytes(total))",
        ]
        if !largest.isEmpty {
            lines.append("  largest tensors: " + largest.prefix(4).map { "\($0.name) \(formatBytes($0.bytes))" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}


/// A planned, bound graph: run `forward()` for inference or `step()` to train.
///
/// ```swift
/// let program = try Program(graph, loss: loss, optimizer: Adam(learningRate: 1e-3), threads: 1)
/// program.tensor(frames).copy(from: batch)
/// let value = try program.step()
/// ```
public final class Program: @unchecked Sendable {
    public let graph: Graph
    public let arena: Arena
    public let memory: MemoryReport
    public let pool: ThreadPool
    public let optimizer: (any Optimizer)?
    /// Global gradient-norm clipping (nil: off).
    public var clipGradientNorm: Float? {
        didSet { precondition(clipGradientNorm.map { $0 > 0 && $0.isFinite } ?? true, "\(ModelError.invalidClipNorm(clipGradientNorm!))") }
    }
    /// The scalar loss trained by `step()`.
    public let loss: TensorID?

    private var values: [Tensor?]
    private var gradients: [Tensor?]
    private var optimizerStates: [UnsafeMutablePointer<Float>?]
    private let parameterIDs: [TensorID]
    /// Gradients to zero before each backward node runs (by node index), planned once.
    let gradientsToClear: [GradientClearing]
    /// Nodes whose operation runs inside the node before it (an activation that is the only
    /// reader of a convolution's output), by node index: the schedule skips them.
    let fused: [Bool]

    /// Plans and binds `graph`. With an optimizer and a loss the program can train;
    /// without, it only runs forward. `budget` (bytes) bounds the arena.
    public convenience init(_ graph: Graph, loss: TensorID? = nil, optimizer: (any Optimizer)? = nil, threads: Int = 1,
                            budget: Int? = nil, seed: UInt64 = 0) throws {
        try self.init(graph, loss: loss, optimizer: optimizer, threads: threads, budget: budget, seed: seed, fusing: true)
    }

    /// As above; `fusing: false` runs every activation as a pass of its own (to compare with).
    init(_ graph: Graph, loss: TensorID?, optimizer: (any Optimizer)?, threads: Int, budget: Int?, seed: UInt64, fusing: Bool) throws {
        precondition(threads >= 1, "threads must be at least 1, got \(threads)")
        if let loss, graph[loss].shape.count != 1 { throw ModelError.lossNotScalar(graph[loss].name, graph[loss].shape) }
        self.graph = graph
        self.loss = loss
        self.optimizer = optimizer
        let training = loss != nil
        let nodes = graph.nodes
        let nodeCount = nodes.count
        let tensorCount = graph.tensors.count
        // Schedule positions: forward of node i at i, its backward at 2n - 1 - i.
        func backwardTime(_ node: Int) -> Int { 2 * nodeCount - 1 - node }
        let end = training ? 2 * nodeCount : nodeCount

        var report = MemoryReport()
        var permanentBytes = 0
        var permanentLayout: [(id: Int, gradient: Bool, offset: Int)] = []
        func placePermanent(_ id: Int, gradient: Bool, bytes: Int) {
            permanentLayout.append((id, gradient, permanentBytes))
            permanentBytes += Arena.roundUp(bytes)
        }
        let parameterIDs = graph.parameters
        self.parameterIDs = parameterIDs
        for id in parameterIDs {
            let bytes = graph[id].shape.count * 4
            placePermanent(id.index, gradient: false, bytes: bytes)
            report.parameters += Arena.roundUp(bytes)
            if training {
                placePermanent(id.index, gradient: true, bytes: bytes)
                report.gradients += Arena.roundUp(bytes)
            }
        }
        let statePerElement = training ? (optimizer?.stateFloatsPerElement ?? 0) : 0
        var stateOffsets: [Int: Int] = [:]
        for id in parameterIDs where statePerElement > 0 {
            let bytes = Arena.roundUp(graph[id].shape.count * 4 * statePerElement)
            stateOffsets[id.index] = permanentBytes
            permanentBytes += bytes
            report.optimizerState += bytes
        }
        for id in graph.inputs {
            let bytes = graph[id].shape.count * graph[id].dtype.byteSize
            placePermanent(id.index, gradient: false, bytes: bytes)
            report.inputs += Arena.roundUp(bytes)
        }
        var savedOffsets: [Int] = []
        for node in nodes {
            savedOffsets.append(permanentBytes)
            let bytes = Arena.roundUp(node.operation.savedFloats * 4)
            permanentBytes += bytes
            report.saved += bytes
        }

        // Lifetimes of activations and their gradients.
        var blocks: [LiveBlock] = []
        var blockOf: [(id: Int, gradient: Bool)] = []
        var consumers = [[Int]](repeating: [], count: tensorCount)
        for (index, node) in nodes.enumerated() { for input in node.inputs { consumers[input.index].append(index) } }
        // An activation right after the convolution whose output only it reads runs inside that
        // convolution's passes (`host`): its tensors live from the convolution's forward to the
        // convolution's backward, where it now runs.
        let host: [Int?] = nodes.indices.map { index in
            guard fusing, index > 0, nodes[index].operation is ActivationOperation, nodes[index - 1].operation is Conv2dOperation,
                  nodes[index].inputs == [nodes[index - 1].output], consumers[nodes[index - 1].output.index] == [index], nodes[index - 1].output != loss else { return nil }
            return index - 1
        }
        for (index, node) in nodes.enumerated() {
            if let conv = node.operation as? Conv2dOperation {
                conv.activation = index + 1 < nodeCount && host[index + 1] == index ? (nodes[index + 1].operation as! ActivationOperation) : nil
            }
        }
        fused = host.map { $0 != nil }
        // Where node `node` really runs: its host's steps for a fused activation.
        func runsForwardAt(_ node: Int) -> Int { host[node] ?? node }
        func runsBackwardAt(_ node: Int) -> Int { backwardTime(host[node] ?? node) }
        for (id, info) in graph.tensors.enumerated() where info.role == .activation {
            let producer = info.producer!
            var last = runsForwardAt(producer)
            for consumer in consumers[id] {
                last = max(last, runsForwardAt(consumer))
                if training && nodes[consumer].operation.backwardReadsInputs && graph[nodes[consumer].output].requiresGradient {
                    last = max(last, runsBackwardAt(consumer))
                }
            }
            if training && info.requiresGradient && nodes[producer].operation.backwardReadsOutput { last = max(last, runsBackwardAt(producer)) }
            if TensorID(index: id) == loss || consumers[id].isEmpty { last = end }
            let bytes = Arena.roundUp(info.shape.count * 4)
            blocks.append(LiveBlock(bytes: bytes, first: runsForwardAt(producer), last: last))
            blockOf.append((id, false))
            report.activationsUnplanned += bytes
            if training && info.requiresGradient {
                let first = consumers[id].map(runsBackwardAt).min() ?? runsBackwardAt(producer)
                blocks.append(LiveBlock(bytes: bytes, first: min(first, runsBackwardAt(producer)), last: runsBackwardAt(producer)))
                blockOf.append((id, true))
                report.activationsUnplanned += bytes
            }
        }
        let activationBytes = planOffsets(&blocks)
        report.activations = activationBytes
        report.largest = graph.tensors.filter { $0.role == .activation }
            .map { ($0.name, $0.shape.count * 4) }.sorted { $0.1 > $1.1 }.prefix(4).map { ($0.0, $0.1) }
        let scratchBytes = Arena.roundUp((nodes.map { $0.operation.scratchFloats(threads: threads) }.max() ?? 0) * 4)
        report.scratch = scratchBytes
        self.memory = report
        if let budget, report.total > budget { throw ModelError.overBudget(budget: budget, report: report) }

        let arena = try Arena(capacity: report.total)
        self.arena = arena
        var values = [Tensor?](repeating: nil, count: tensorCount)
        var gradients = [Tensor?](repeating: nil, count: tensorCount)
        for placement in permanentLayout {
            let info = graph.tensors[placement.id]
            let tensor = try arena.tensor(at: placement.offset, info.shape, dtype: info.dtype,
                                          name: placement.gradient ? info.name + ".grad" : info.name)
            if placement.gradient { gradients[placement.id] = tensor } else { values[placement.id] = tensor }
        }
        for (block, owner) in zip(blocks, blockOf) {
            let info = graph.tensors[owner.id]
            let tensor = try arena.tensor(at: permanentBytes + block.offset, info.shape, name: owner.gradient ? info.name + ".grad" : info.name)
            if owner.gradient { gradients[owner.id] = tensor } else { values[owner.id] = tensor }
        }
        let scratch = scratchBytes > 0 ? (arena.base + permanentBytes + activationBytes).assumingMemoryBound(to: Float.self) : nil
        self.values = values
        self.gradients = gradients
        self.optimizerStates = (0..<tensorCount).map { stateOffsets[$0].map { (arena.base + $0).assumingMemoryBound(to: Float.self) } }

        // Activation gradients are zeroed right before the first backward node that adds into them.
        var clear = [[Tensor]](repeating: [], count: nodeCount)
        if training {
            for (id, info) in graph.tensors.enumerated() where info.role == .activation && info.requiresGradient {
                let firstWriter = consumers[id].max() ?? info.producer!
                if let gradient = gradients[id] { clear[host[firstWriter] ?? firstWriter].append(gradient) }
            }
        }
        gradientsToClear = clear.map(GradientClearing.init)
        pool = ThreadPool(threads: threads)

        for (index, node) in nodes.enumerated() {
            let saved = node.operation.savedFloats > 0 ? (arena.base + savedOffsets[index]).assumingMemoryBound(to: Float.self) : nil
            node.operation.bind(Binding(
                inputs: node.inputs.map { values[$0.index]! },
                output: values[node.output.index]!,
                inputGradients: node.inputs.map { training ? gradients[$0.index] : nil },
                outputGradient: training ? gradients[node.output.index] : nil,
                saved: saved,
                scratch: scratch,
                scratchThreads: threads
            ))
        }
        initializeParameters(seed: seed)
    }

    /// Sets every parameter from its initializer, reproducibly from `seed`, and clears optimizer state.
    public func initializeParameters(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for id in parameterIDs {
            guard case let .parameter(initializer) = graph[id].role else { continue }
            let values = tensor(id).floats
            switch initializer {
            case .zeros: values.update(repeating: 0)
            case .ones: values.update(repeating: 1)
            case let .uniform(bound): for i in values.indices { values[i] = rng.nextFloat(in: -bound..<bound) }
            case let .normal(deviation): for i in values.indices { values[i] = rng.nextGaussian() * deviation }
            case let .fanIn(fanIn):
                let bound = 1 / Float(max(1, fanIn)).squareRoot()
                for i in values.indices { values[i] = rng.nextFloat(in: -bound..<bound) }
            }
            if let state = optimizerStates[id.index], let optimizer {
                state.update(repeating: 0, count: values.count * optimizer.stateFloatsPerElement)
            }
        }
        optimizer?.stepCount = 0
    }

    /// The value of a tensor (inputs are written through it).
    public func tensor(_ id: TensorID) -> Tensor { values[id.index]! }

    /// The gradient of a tensor after `backward()` (nil when it has none). Activation gradients
    /// share memory with others once their lifetime ends; read parameter gradients freely.
    public func gradient(_ id: TensorID) -> Tensor? { gradients[id.index] }

    /// The optimizer state of a parameter (nil without optimizer).
    public func optimizerState(_ id: TensorID) -> UnsafeMutableBufferPointer<Float>? {
        guard let state = optimizerStates[id.index], let optimizer else { return nil }
        return UnsafeMutableBufferPointer(start: state, count: graph[id].shape.count * optimizer.stateFloatsPerElement)
    }

    /// Parameter ids in creation order.
    public var parameters: [TensorID] { parameterIDs }

    /// Everything a training step changes, as named views of the program's memory: each
    /// parameter under its own name, followed by its optimizer state under "optimizer." + name
    /// (none without an optimizer). What checkpoints hold and what a rollback restores.
    public var trainingState: [(name: String, tensor: Tensor)] {
        var state: [(name: String, tensor: Tensor)] = []
        for id in parameterIDs {
            let value = tensor(id)
            state.append((value.name, value))
            if let moments = optimizerState(id) {
                let name = "optimizer." + value.name
                state.append((name, Tensor(data: UnsafeMutableRawPointer(moments.baseAddress!), shape: Shape(arrayLiteral: moments.count),
                                           dtype: .float32, name: name)))
            }
        }
        return state
    }

    /// Runs every operation forward.
    public func forward() {
        for (index, node) in graph.nodes.enumerated() where !fused[index] { node.operation.forward(pool: pool) }
    }

    /// Runs every operation backward from d(loss) = 1; parameter gradients are overwritten.
    public func backward() {
        guard let loss, let seed = gradients[loss.index] else { preconditionFailure("backward() needs a program built with a loss") }
        for id in parameterIDs { gradients[id.index]!.zero() }
        for index in stride(from: graph.nodes.count - 1, through: 0, by: -1) { backward(node: index, loss: loss, seed: seed) }
    }

    /// Node `index`'s part of the backward pass: clears the gradients whose life starts here,
    /// seeds d(loss) = 1 at the loss, and runs the operation's backward if its output needs it.
    @inline(__always)
    func backward(node index: Int, loss: TensorID, seed: Tensor) {
        let node = graph.nodes[index]
        gradientsToClear[index].run(pool: pool)
        if node.output == loss { seed.floats[0] = 1 }
        if graph[node.output].requiresGradient && !fused[index] { node.operation.backward(pool: pool) }
    }

    /// The loss value after `forward()`.
    public var lossValue: Float { values[loss!.index]!.floats[0] }

    /// One training step: forward, loss check, backward, clipping, optimizer update.
    /// Returns the loss before the update. A non-finite loss throws and changes nothing.
    @discardableResult
    public func step() throws -> Float {
        forward()
        return try finishStep()
    }

    /// The rest of a step after `forward()` (whose outputs a caller may read in between, as
    /// live learning does to score its prediction before training on it): loss check,
    /// backward, clipping, optimizer update. A non-finite loss throws and changes nothing.
    @discardableResult
    public func finishStep() throws -> Float {
        guard let optimizer else { preconditionFailure("finishStep() needs a program built with an optimizer") }
        let value = lossValue
        guard value.isFinite else { throw ModelError.nonFiniteLoss(step: optimizer.stepCount + 1, value: value) }
        backward()
        clipAndUpdate(optimizer)
        return value
    }

    /// Scales the gradients down to `clipGradientNorm` if they exceed it, then lets the optimizer update every parameter.
    func clipAndUpdate(_ optimizer: any Optimizer) {
        if let limit = clipGradientNorm {
            let norm = gradientNorm()
            if norm > limit {
                let scale = limit / norm
                for id in parameterIDs {
                    let gradient = gradients[id.index]!.floats
                    for i in gradient.indices { gradient[i] *= scale }
                }
            }
        }
        optimizer.beginStep()
        for id in parameterIDs {
            let gradient = gradients[id.index]!
            optimizer.update(parameter: values[id.index]!.floatPointer, gradient: gradient.floatPointer,
                             state: optimizerStates[id.index] ?? gradient.floatPointer, count: gradient.count)
        }
    }

    /// Euclidean norm of all parameter gradients together.
    public func gradientNorm() -> Float {
        var total: Double = 0
        for id in parameterIDs {
            let gradient = gradients[id.index]!
            total += Double(dot(gradient.floatPointer, gradient.floatPointer, gradient.count))
        }
        return Float(total.squareRoot())
    }

    /// Bytes of parameters and elements of parameters.
    public var parameterCount: Int { parameterIDs.reduce(0) { $0 + graph[$1].shape.count } }
}

extension Program {
    /// Time spent per operation over `steps` training steps (forward and backward, seconds
    /// per step), in graph order: where a step's time goes. An activation that runs inside
    /// the convolution before it shows 0, its time in the convolution's.
    public func profile(steps: Int) throws -> [(name: String, forward: Double, backward: Double)] {
        guard let optimizer, let loss, let seed = gradient(loss) else { preconditionFailure("profile() needs a training program") }
        let nodes = graph.nodes
        var forwardTimes = [UInt64](repeating: 0, count: nodes.count), backwardTimes = forwardTimes
        for _ in 0..<steps {
            for (index, node) in nodes.enumerated() where !fused[index] {
                let start = MonotonicClock.nanoseconds()
                node.operation.forward(pool: pool)
                forwardTimes[index] += MonotonicClock.nanoseconds() - start
            }
            guard lossValue.isFinite else { throw ModelError.nonFiniteLoss(step: optimizer.stepCount + 1, value: lossValue) }
            for id in parameters { gradient(id)!.zero() }
            for index in stride(from: nodes.count - 1, through: 0, by: -1) {
                let start = MonotonicClock.nanoseconds()
                backward(node: index, loss: loss, seed: seed)
                backwardTimes[index] += MonotonicClock.nanoseconds() - start
            }
            clipAndUpdate(optimizer)
        }
        return nodes.indices.map { (nodes[$0].name, Double(forwardTimes[$0]) / 1e9 / Double(steps), Double(backwardTimes[$0]) / 1e9 / Double(steps)) }
    }
}

/// The activation gradients one backward node adds into first, zeroed before it runs: as one
/// parallel region split over all their bytes when they are large enough to be worth it.
final class GradientClearing: ParallelWork {
    private let buffers: [(start: UnsafeMutableRawPointer, bytes: Int)]
    /// Bytes before each buffer when they are laid end to end.
    private let offsets: [Int]
    let byteCount: Int

    init(_ gradients: [Tensor]) {
        buffers = gradients.map { ($0.data, $0.byteCount) }
        offsets = buffers.reduce(into: [0]) { $0.append($0.last! + $1.bytes) }
        byteCount = offsets.last!
    }

    func run(pool: ThreadPool) {
        guard byteCount > 0 else { return }
        runSplit(self, count: byteCount / MemoryLayout<Float>.stride, pool: pool)
    }

    /// Zeroes bytes [byteCount * chunk / chunks, byteCount * (chunk + 1) / chunks) of the buffers laid end to end.
    func work(chunk: Int, of chunks: Int, thread: Int) {
        let range = ThreadPool.range(chunk: chunk, of: chunks, items: byteCount)
        for (index, buffer) in buffers.enumerated() {
            let low = max(range.lowerBound, offsets[index]), high = min(range.upperBound, offsets[index + 1])
            if low < high { (buffer.start + (low - offsets[index])).initializeMemory(as: UInt8.self, repeating: 0, count: high - low) }
        }
    }
}
