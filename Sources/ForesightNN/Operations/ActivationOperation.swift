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
public final class ActivationOperation: Operation {
    public let activation: Activation
    private var count = 0
    private var binding: Binding?

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
        let x = binding!.inputs[0].floatPointer, y = binding!.output.floatPointer
        switch activation {
        case .relu: reluForward(x, y, count: count)
        case let .leakyRelu(slope): leakyReluForward(x, y, count: count, slope: slope)
        case .gelu: geluForward(x, y, count: count)
        case .sigmoid: sigmoidForward(x, y, count: count)
        case .tanh: tanhForward(x, y, count: count)
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dx = b.inputGradients[0]?.floatPointer else { return }
        let x = b.inputs[0].floatPointer, y = b.output.floatPointer, dy = b.outputGradient!.floatPointer
        switch activation {
        case .relu: reluBackward(x: x, dy: dy, dx: dx, count: count)
        case let .leakyRelu(slope): leakyReluBackward(x: x, dy: dy, dx: dx, count: count, slope: slope)
        case .gelu: geluBackward(x: x, dy: dy, dx: dx, count: count)
        case .sigmoid: sigmoidBackward(y: y, dy: dy, dx: dx, count: count)
        case .tanh: tanhBackward(y: y, dy: dy, dx: dx, count: count)
        }
    }
}
