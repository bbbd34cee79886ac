// The static graph a program is built from: tensors (inputs, parameters, activations) and
// the operations between them, in execution order. Building checks every shape; nothing
// here owns memory (the `Program` plans and binds it).

import ForesightCore

/// A tensor of a graph, by index.
public struct TensorID: Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public var description: String { "%\(index)" }
}

/// What a tensor of a graph is.
public enum TensorRole: Sendable, Equatable {
    /// Written by the caller before each run (frames, targets, labels).
    case input
    /// Learned; initialised once, updated by the optimizer.
    case parameter(Initializer)
    /// Produced by an operation.
    case activation
}

/// How a parameter starts.
public enum Initializer: Sendable, Equatable {
    case zeros
    case ones
    /// Uniform in [-bound, bound].
    case uniform(bound: Float)
    /// Normal with mean 0.
    case normal(standardDeviation: Float)
    /// PyTorch's default for conv and linear layers: uniform with bound 1/sqrt(fanIn).
    case fanIn(Int)
}

/// One tensor's description in a graph.
public struct TensorInfo: Sendable {
    public let name: String
    public let shape: Shape
    public let dtype: DType
    public let role: TensorRole
    /// The operation that produces it (activations only).
    public internal(set) var producer: Int?
    /// Whether gradients flow into it (parameters and whatever depends on them).
    public let requiresGradient: Bool
}

/// One operation of a graph with its operands.
public struct Node {
    public let operation: any GraphOperation
    public let inputs: [TensorID]
    public let output: TensorID
    public let name: String
}

/// A graph under construction. Layers are added in execution order.
///
/// ```swift
/// let graph = Graph()
/// let x = try graph.input("frames", [8, 4, 64, 64])
/// var h = try graph.conv2d(x, outChannels: 16, kernel: 3, stride: 2, padding: 1, name: "e1")
/// h = try graph.relu(h)
/// ```
public final class Graph {
    public private(set) var tensors: [TensorInfo] = []
    public private(set) var nodes: [Node] = []
    private var names: Set<String> = []

    public init() {}

    /// Describes a tensor by id.
    public subscript(id: TensorID) -> TensorInfo { tensors[id.index] }

    /// Shape of a tensor.
    public func shape(_ id: TensorID) -> Shape { tensors[id.index].shape }

    /// Adds an input the caller fills before each run.
    public func input(_ name: String, _ dims: [Int], dtype: DType = .float32) throws -> TensorID {
        try add(TensorInfo(name: name, shape: Shape(dims), dtype: dtype, role: .input, producer: nil, requiresGradient: false))
    }

    /// Adds a learned parameter.
    public func parameter(_ name: String, _ dims: [Int], initializer: Initializer) throws -> TensorID {
        try add(TensorInfo(name: name, shape: Shape(dims), dtype: .float32, role: .parameter(initializer), producer: nil, requiresGradient: true))
    }

    /// Appends `operation` on `inputs`; its output shape comes from the operation's own check.
    @discardableResult
    public func apply(_ operation: any GraphOperation, _ inputs: [TensorID], name: String) throws -> TensorID {
        for input in inputs {
            guard input.index < tensors.count else { throw ModelError.unknownTensor(input.index, operation: name) }
        }
        let shapes = inputs.map { tensors[$0.index].shape }
        let outputShape: Shape
        do {
            outputShape = try operation.outputShape(shapes, dtypes: inputs.map { tensors[$0.index].dtype })
        } catch {
            throw ModelError.invalidOperation(name: name, reason: "\(error)")
        }
        let requiresGradient = inputs.contains { tensors[$0.index].requiresGradient }
        let output = try add(TensorInfo(name: name, shape: outputShape, dtype: .float32, role: .activation,
                                        producer: nodes.count, requiresGradient: requiresGradient))
        nodes.append(Node(operation: operation, inputs: inputs, output: output, name: name))
        return output
    }

    /// A name not used yet, from a stem ("relu" -> "relu.3").
    public func uniqueName(_ stem: String) -> String {
        if !names.contains(stem) { return stem }
        var index = 1
        while names.contains("\(stem).\(index)") { index += 1 }
        return "\(stem).\(index)"
    }

    private func add(_ info: TensorInfo) throws -> TensorID {
        guard !names.contains(info.name) else { throw ModelError.duplicateName(info.name) }
        names.insert(info.name)
        tensors.append(info)
        return TensorID(index: tensors.count - 1)
    }

    /// Ids of all parameters, in creation order.
    public var parameters: [TensorID] {
        tensors.indices.filter { if case .parameter = tensors[$0].role { true } else { false } }.map { TensorID(index: $0) }
    }

    /// Ids of all inputs, in creation order.
    public var inputs: [TensorID] {
        tensors.indices.filter { tensors[$0].role == .input }.map { TensorID(index: $0) }
    }

    /// The id of the tensor called `name`.
    public func tensor(named name: String) -> TensorID? {
        tensors.firstIndex { $0.name == name }.map { TensorID(index: $0) }
    }
}

