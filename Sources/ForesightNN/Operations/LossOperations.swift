// Losses as graph operations: each reduces a prediction and a target to one value, and its
// backward scales by the incoming gradient (1 when the loss is the one being trained).

import ForesightCore

/// Which loss.
public enum LossKind: Sendable, Equatable {
    /// Mean squared error.
    case meanSquaredError
    /// Mean absolute error.
    case meanAbsoluteError
    /// Cross-entropy of logits [N, classes] against int32 class indices [N].
    case crossEntropy
}

/// A scalar loss of (prediction, target).
public final class LossOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    public let kind: LossKind
    private var count = 0, rows = 0, classes = 0
    private var binding: Binding?

    public init(_ kind: LossKind) { self.kind = kind }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 2, "\(kind)", expected: "prediction and target", got: "\(inputs.count) operands")
        switch kind {
        case .meanSquaredError, .meanAbsoluteError:
            try require(inputs[0] == inputs[1], "\(kind)", expected: "target of the prediction's shape \(inputs[0])", got: "\(inputs[1])")
            try require(dtypes[1] == .float32, "\(kind)", expected: "float32 target", got: "\(dtypes[1])")
            count = inputs[0].count
        case .crossEntropy:
            try require(inputs[0].rank == 2, "cross-entropy", expected: "logits [N, classes]", got: "\(inputs[0])")
            try require(inputs[1].dims == [inputs[0][0]] && dtypes[1] == .int32, "cross-entropy",
                        expected: "int32 class indices [\(inputs[0][0])]", got: "\(dtypes[1]) \(inputs[1])")
            rows = inputs[0][0]; classes = inputs[0][1]; count = rows * classes
        }
        return [1]
    }

    public var forwardCost: Int { count }
    /// Cross-entropy keeps (row maximum, log-sum-exp) per row for its backward pass.
    public var savedFloats: Int { kind == .crossEntropy ? 2 * rows : 0 }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let b = binding!
        let prediction = b.inputs[0].floatPointer
        let value: Float
        switch kind {
        case .meanSquaredError: value = meanSquaredErrorForward(prediction, b.inputs[1].floatPointer, count: count)
        case .meanAbsoluteError: value = meanAbsoluteErrorForward(prediction, b.inputs[1].floatPointer, count: count)
        case .crossEntropy: value = crossEntropyForward(logits: prediction, targets: b.inputs[1].int32s.baseAddress!, statistics: b.saved!, rows: rows, classes: classes)
        }
        b.output.floatPointer[0] = value
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dprediction = b.inputGradients[0]?.floatPointer else { return }
        let scale = b.outputGradient!.floatPointer[0]
        let prediction = b.inputs[0].floatPointer
        switch kind {
        case .meanSquaredError:
            meanSquaredErrorBackward(prediction: prediction, target: b.inputs[1].floatPointer, dprediction: dprediction, count: count, scale: scale)
        case .meanAbsoluteError:
            meanAbsoluteErrorBackward(prediction: prediction, target: b.inputs[1].floatPointer, dprediction: dprediction, count: count, scale: scale)
        case .crossEntropy:
            crossEntropyBackward(logits: prediction, targets: b.inputs[1].int32s.baseAddress!, statistics: b.saved!, dlogits: dprediction, rows: rows, classes: classes, scale: scale)
        }
    }
}
