// Element-wise add, multiply and scale, and channel concatenation, as graph operations over
// the element-wise kernels. Not broadcasting: operand shapes must match exactly.

import ForesightCore

/// Checks two float32 operands of one shape and returns it.
private func sameShape(_ inputs: [Shape], _ dtypes: [DType], _ operation: String) throws -> Shape {
    try require(inputs.count == 2, operation, expected: "two operands", got: "\(inputs.count)")
    try require(dtypes[0] == .float32 && dtypes[1] == .float32, operation, expected: "float32 operands", got: "\(dtypes[0]) and \(dtypes[1])")
    try require(inputs[0] == inputs[1], operation, expected: "operands of the same shape", got: "\(inputs[0]) and \(inputs[1])")
    return inputs[0]
}

/// y = a + b: a, b, y of one shape. `a` and `b` may be the same tensor.
public final class AddOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("element-wise addition of two tensors (chains have one path)") }
    private var count = 0
    // Bound once by `bind`.
    private var a: UnsafeMutablePointer<Float>?, b: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>?
    private var da: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?, dy: UnsafeMutablePointer<Float>?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        let shape = try sameShape(inputs, dtypes, "add")
        count = shape.count
        return shape
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { count }

    public func bind(_ binding: Binding) {
        a = binding.inputs[0].floatPointer; b = binding.inputs[1].floatPointer; y = binding.output.floatPointer
        da = binding.inputGradients[0]?.floatPointer; db = binding.inputGradients[1]?.floatPointer
        dy = binding.outputGradient?.floatPointer
    }

    public func forward(pool: ThreadPool) { addForward(a!, b!, y!, count: count) }

    public func backward(pool: ThreadPool) {
        let dy = self.dy!
        switch (da, db) {
        case let (da?, db?): addBackward(dy: dy, da: da, db: db, count: count)  // da may be db: x + x
        case let (da?, nil): scaleBackward(dy: dy, dx: da, count: count, factor: 1)
        case let (nil, db?): scaleBackward(dy: dy, dx: db, count: count, factor: 1)
        case (nil, nil): break
        }
    }
}

/// y = a * b, element-wise: a, b, y of one shape. `a` and `b` may be the same tensor.
public final class MultiplyOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("element-wise product of two tensors (chains have one path)") }
    private var count = 0
    // Bound once by `bind`.
    private var a: UnsafeMutablePointer<Float>?, b: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>?
    private var da: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?, dy: UnsafeMutablePointer<Float>?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        let shape = try sameShape(inputs, dtypes, "multiply")
        count = shape.count
        return shape
    }

    public var forwardCost: Int { count }

    public func bind(_ binding: Binding) {
        a = binding.inputs[0].floatPointer; b = binding.inputs[1].floatPointer; y = binding.output.floatPointer
        da = binding.inputGradients[0]?.floatPointer; db = binding.inputGradients[1]?.floatPointer
        dy = binding.outputGradient?.floatPointer
    }

    public func forward(pool: ThreadPool) { mulForward(a!, b!, y!, count: count) }

    public func backward(pool: ThreadPool) {
        let a = self.a!, b = self.b!, dy = self.dy!
        switch (da, db) {
        case let (da?, db?): mulBackward(a: a, b: b, dy: dy, da: da, db: db, count: count)  // a may be b: x * x
        case let (da?, nil): Self.accumulateProduct(dy, b, into: da, count: count)
        case let (nil, db?): Self.accumulateProduct(dy, a, into: db, count: count)
        case (nil, nil): break
        }
    }

    /// gradient[i] += dy[i] * other[i]: the one-sided backward (a mask or input times a learned
    /// tensor), which the kernels do not provide; a plain loop.
    private static func accumulateProduct(_ dy: UnsafePointer<Float>, _ other: UnsafePointer<Float>,
                                          into gradient: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { gradient[i] += dy[i] * other[i] }
    }
}

/// y = factor * x, any shape.
public final class ScaleOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("scaling by a constant") }
    public let factor: Float
    private var count = 0
    // Bound once by `bind`.
    private var x: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>?
    private var dx: UnsafeMutablePointer<Float>?, dy: UnsafeMutablePointer<Float>?

    public init(factor: Float) { self.factor = factor }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 1, "scale", expected: "one operand", got: "\(inputs.count)")
        try require(dtypes[0] == .float32, "scale", expected: "float32 input", got: "\(dtypes[0]) \(inputs[0])")
        try require(factor.isFinite, "scale", expected: "a finite factor", got: "\(factor)")
        count = inputs[0].count
        return inputs[0]
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { count }

    public func bind(_ binding: Binding) {
        x = binding.inputs[0].floatPointer; y = binding.output.floatPointer
        dx = binding.inputGradients[0]?.floatPointer; dy = binding.outputGradient?.floatPointer
    }

    public func forward(pool: ThreadPool) { scaleForward(x!, y!, count: count, factor: factor) }

    public func backward(pool: ThreadPool) {
        guard let dx else { return }
        scaleBackward(dy: dy!, dx: dx, count: count, factor: factor)
    }
}

/// Channel concatenation of NCHW tensors: first [N, C1, H, W], second [N, C2, H, W] ->
/// [N, C1 + C2, H, W]. `first` and `second` may be the same tensor.
public final class ConcatChannelsOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("channel concatenation (chains have one path)") }
    private var extents = (batch: 0, firstChannels: 0, secondChannels: 0, height: 0, width: 0)
    // Bound once by `bind`.
    private var first: UnsafeMutablePointer<Float>?, second: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>?
    private var dfirst: UnsafeMutablePointer<Float>?, dsecond: UnsafeMutablePointer<Float>?, dy: UnsafeMutablePointer<Float>?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 2, "concat channels", expected: "two operands", got: "\(inputs.count)")
        try require(dtypes[0] == .float32 && dtypes[1] == .float32, "concat channels", expected: "float32 operands", got: "\(dtypes[0]) and \(dtypes[1])")
        let first = inputs[0], second = inputs[1]
        try require(first.rank == 4 && second.rank == 4, "concat channels", expected: "two [N, C, H, W] operands", got: "\(first) and \(second)")
        try require(first[0] == second[0], "concat channels", expected: "the same batch size", got: "\(first) and \(second)")
        try require(first[2] == second[2] && first[3] == second[3], "concat channels",
                    expected: "the same height and width", got: "\(first) and \(second)")
        extents = (first[0], first[1], second[1], first[2], first[3])
        return try Shape(first[0], first[1] + second[1], first[2], first[3])
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { extents.batch * (extents.firstChannels + extents.secondChannels) * extents.height * extents.width }

    public func bind(_ binding: Binding) {
        first = binding.inputs[0].floatPointer; second = binding.inputs[1].floatPointer; y = binding.output.floatPointer
        dfirst = binding.inputGradients[0]?.floatPointer; dsecond = binding.inputGradients[1]?.floatPointer
        dy = binding.outputGradient?.floatPointer
    }

    public func forward(pool: ThreadPool) {
        let e = extents
        concatChannelsForward(first!, second!, y!, batch: e.batch, firstChannels: e.firstChannels, secondChannels: e.secondChannels,
                              height: e.height, width: e.width)
    }

    public func backward(pool: ThreadPool) {
        let e = extents, dy = self.dy!
        if let dfirst, let dsecond {
            // dfirst may be dsecond: concat(x, x) adds both halves into x's gradient.
            concatChannelsBackward(dy: dy, dfirst: dfirst, dsecond: dsecond, batch: e.batch, firstChannels: e.firstChannels,
                                   secondChannels: e.secondChannels, height: e.height, width: e.width)
            return
        }
        // One side needs no gradient: pass its half of each item's dy on to the other.
        let planeSize = e.height * e.width
        let firstItem = e.firstChannels * planeSize, secondItem = e.secondChannels * planeSize
        for item in 0..<e.batch {
            let itemGradient = dy + item * (firstItem + secondItem)
            if let dfirst { scaleBackward(dy: itemGradient, dx: dfirst + item * firstItem, count: firstItem, factor: 1) }
            if let dsecond { scaleBackward(dy: itemGradient + firstItem, dx: dsecond + item * secondItem, count: secondItem, factor: 1) }
        }
    }
}
