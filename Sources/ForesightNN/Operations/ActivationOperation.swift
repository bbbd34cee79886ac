// Element-wise activations as graph operations (ReLU, leaky ReLU, GELU, sigmoid, tanh).

import ForesightCore

/// Which element-wise nonlinearity.
public enum Activation: Sendable, Equatable {
    case relu
    case leakyRelu(slope: Float)
    case gelu
    case sigmoid
    case tanh
}

/// y = f(x), element-wise, any shape.
public final class ActivationOperation: GraphOperation, ParallelWork {
    public var inferenceForm: InferenceForm { .activation(activation) }
    public let activation: Activation
    private var count = 0
    private var binding: Binding?
    private var backwardPass = false

    public init(_ activation: Activation) { self.activation = activation }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "\(activation)")
        try require(inputs.count == 1, "\(activation)", expected: "one operand", got: "\(inputs.count)")
        count = inputs[0].count
        return inputs[0]
    }

    public var backwardReadsInputs: Bool {
        switch activation {
        case .sigmoid, .tanh: false
        default: true
        }
    }
    public var backwardReadsOutput: Bool { !backwardReadsInputs }
    public var forwardCost: Int { count }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        backwardPass = false
        runSplit(self, count: count, pool: pool)
    }

    public func backward(pool: ThreadPool) {
        guard binding!.inputGradients[0] != nil else { return }
        backwardPass = true
        runSplit(self, count: count, pool: pool)
    }

    public func work(chunk: Int, of chunks: Int, thread: Int) {
        let (start, length) = splitRange(count, chunk: chunk, of: chunks)
        if backwardPass { backward(elements: start, count: length) } else { forward(elements: start, count: length) }
    }

    /// The forward pass over elements [start, start + count): one chunk's, or one sample's
    /// when the activation runs inside the convolution that produces its operand.
    func forward(elements start: Int, count length: Int) {
        guard length > 0 else { return }
        let b = binding!
        let x = b.inputs[0].floatPointer + start, y = b.output.floatPointer + start
        switch activation {
        case .relu: reluForward(x, y, count: length)
        case let .leakyRelu(slope): leakyReluForward(x, y, count: length, slope: slope)
        case .gelu: geluForward(x, y, count: length)
        case .sigmoid: sigmoidForward(x, y, count: length)
        case .tanh: tanhForward(x, y, count: length)
        }
    }

    /// The backward pass over elements [start, start + count) (nothing without an operand gradient).
    func backward(elements start: Int, count length: Int) {
        let b = binding!
        guard length > 0, let inputGradient = b.inputGradients[0], let outputGradient = b.outputGradient else { return }
        let x = b.inputs[0].floatPointer + start, y = b.output.floatPointer + start
        let dx = inputGradient.floatPointer + start, dy = outputGradient.floatPointer + start
        switch activation {
        case .relu: reluBackward(x: x, dy: dy, dx: dx, count: length)
        case let .leakyRelu(slope): leakyReluBackward(x: x, dy: dy, dx: dx, count: length, slope: slope)
        case .gelu: geluBackward(x: x, dy: dy, dx: dx, count: length)
        case .sigmoid: sigmoidBackward(y: y, dy: dy, dx: dx, count: length)
        case .tanh: tanhBackward(y: y, dy: dy, dx: dx, count: length)
        }
    }
}
