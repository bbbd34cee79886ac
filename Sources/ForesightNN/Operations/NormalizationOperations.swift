// Softmax, layer norm and group norm as graph operations over the normalization kernels.
// Not batch norm (no running statistics) and no normalization over axes other than those named here.

import ForesightCore

/// Softmax over the last axis: x [..., D] -> [..., D], each of the count / D rows summing to 1.
public final class SoftmaxOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("softmax") }
    private var rows = 0, columns = 0
    // Bound once by `bind`.
    private var x: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>?
    private var dx: UnsafeMutablePointer<Float>?, dy: UnsafeMutablePointer<Float>?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 1, "softmax", expected: "one operand", got: "\(inputs.count)")
        try require(dtypes[0] == .float32, "softmax", expected: "float32 input", got: "\(dtypes[0]) \(inputs[0])")
        columns = inputs[0][-1]
        rows = inputs[0].count / columns
        return inputs[0]
    }

    public var backwardReadsInputs: Bool { false }
    public var backwardReadsOutput: Bool { true }
    public var forwardCost: Int { rows * columns }

    public func bind(_ binding: Binding) {
        x = binding.inputs[0].floatPointer
        y = binding.output.floatPointer
        dx = binding.inputGradients[0]?.floatPointer
        dy = binding.outputGradient?.floatPointer
    }

    public func forward(pool: ThreadPool) { softmaxForward(x!, y!, rows: rows, columns: columns) }

    public func backward(pool: ThreadPool) {
        guard let dx else { return }
        softmaxBackward(y: y!, dy: dy!, dx: dx, rows: rows, columns: columns)
    }
}

/// Layer norm over the last axis with a learned scale and shift:
/// x [..., D], gamma [D], beta [D] -> [..., D]. Saves (mean, 1 / std) per row.
public final class LayerNormOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("layer normalisation") }
    public let epsilon: Float
    private var rows = 0, columns = 0
    // Bound once by `bind`.
    private var x: UnsafeMutablePointer<Float>?, gamma: UnsafeMutablePointer<Float>?, beta: UnsafeMutablePointer<Float>?
    private var y: UnsafeMutablePointer<Float>?, statistics: UnsafeMutablePointer<Float>?
    private var dx: UnsafeMutablePointer<Float>?, dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?
    private var dy: UnsafeMutablePointer<Float>?, unused: UnsafeMutablePointer<Float>?

    public init(epsilon: Float = 1e-5) { self.epsilon = epsilon }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 3, "layer norm", expected: "x, gamma and beta", got: "\(inputs.count) operands")
        try require(epsilon >= 0 && epsilon.isFinite, "layer norm", expected: "epsilon >= 0", got: "\(epsilon)")
        try require(dtypes.allSatisfy { $0 == .float32 }, "layer norm", expected: "float32 operands", got: "\(dtypes)")
        let x = inputs[0]
        try require(inputs[1].dims == [x[-1]] && inputs[2].dims == [x[-1]], "layer norm",
                    expected: "gamma and beta [\(x[-1])], the size of the last axis of x \(x)", got: "gamma \(inputs[1]), beta \(inputs[2])")
        columns = x[-1]
        rows = x.count / columns
        return x
    }

    public var savedFloats: Int { 2 * rows }
    /// Stand-ins for gradients the graph does not need: gamma's, beta's and one row of x's.
    public func scratchFloats(threads: Int) -> Int { 3 * columns }
    public var forwardCost: Int { rows * columns }

    public func bind(_ binding: Binding) {
        x = binding.inputs[0].floatPointer; gamma = binding.inputs[1].floatPointer; beta = binding.inputs[2].floatPointer
        y = binding.output.floatPointer; statistics = binding.saved
        dx = binding.inputGradients[0]?.floatPointer
        dgamma = binding.inputGradients[1]?.floatPointer; dbeta = binding.inputGradients[2]?.floatPointer
        dy = binding.outputGradient?.floatPointer; unused = binding.scratch
    }

    public func forward(pool: ThreadPool) {
        layerNormForward(x!, y!, gamma: gamma!, beta: beta!, statistics: statistics!, rows: rows, columns: columns, epsilon: epsilon)
    }

    public func backward(pool: ThreadPool) {
        let unused = self.unused!, x = self.x!, dy = self.dy!, statistics = self.statistics!
        if dx == nil || self.dgamma == nil || self.dbeta == nil { unused.update(repeating: 0, count: 3 * columns) }
        let dgamma = self.dgamma ?? unused, dbeta = self.dbeta ?? unused + columns
        if let dx {
            layerNormBackward(x: x, gamma: gamma!, statistics: statistics, dy: dy, dx: dx, dgamma: dgamma, dbeta: dbeta,
                              rows: rows, columns: columns)
            return
        }
        // x needs no gradient (a graph input): one row at a time, its dx into a stand-in row.
        for row in 0..<rows {
            layerNormBackward(x: x + row * columns, gamma: gamma!, statistics: statistics + 2 * row, dy: dy + row * columns,
                              dx: unused + 2 * columns, dgamma: dgamma, dbeta: dbeta, rows: 1, columns: columns)
        }
    }
}

/// Group norm of NCHW tensors: the C channels split into `groups` groups of consecutive
/// channels, each (item, group) normalised over its channels and pixels, then scaled and
/// shifted per channel: x [N, C, H, W], gamma [C], beta [C] -> [N, C, H, W].
/// Saves (mean, 1 / std) per item and group.
public final class GroupNormOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("group normalisation") }
    public let groups: Int
    public let epsilon: Float
    private var extents = (batch: 0, channels: 0, height: 0, width: 0)
    private var channelsPerGroup: Int { extents.channels / groups }
    private var groupBlock: Int { channelsPerGroup * extents.height * extents.width }
    // Bound once by `bind`.
    private var x: UnsafeMutablePointer<Float>?, gamma: UnsafeMutablePointer<Float>?, beta: UnsafeMutablePointer<Float>?
    private var y: UnsafeMutablePointer<Float>?, statistics: UnsafeMutablePointer<Float>?
    private var dx: UnsafeMutablePointer<Float>?, dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?
    private var dy: UnsafeMutablePointer<Float>?, unused: UnsafeMutablePointer<Float>?

    public init(groups: Int, epsilon: Float = 1e-5) { self.groups = groups; self.epsilon = epsilon }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 3, "group norm", expected: "x, gamma and beta", got: "\(inputs.count) operands")
        try require(epsilon >= 0 && epsilon.isFinite, "group norm", expected: "epsilon >= 0", got: "\(epsilon)")
        try require(dtypes.allSatisfy { $0 == .float32 }, "group norm", expected: "float32 operands", got: "\(dtypes)")
        let x = inputs[0]
        try require(x.rank == 4, "group norm", expected: "x [N, C, H, W]", got: "\(x)")
        try require(groups >= 1 && x[1] % groups == 0, "group norm", expected: "channels divisible into \(groups) groups", got: "\(x[1]) channels")
        try require(inputs[1].dims == [x[1]] && inputs[2].dims == [x[1]], "group norm",
                    expected: "gamma and beta [\(x[1])], one per channel of x \(x)", got: "gamma \(inputs[1]), beta \(inputs[2])")
        extents = (x[0], x[1], x[2], x[3])
        return x
    }

    public var savedFloats: Int { 2 * extents.batch * groups }
    /// Stand-ins for gradients the graph does not need: gamma's, beta's and one group of x's.
    public func scratchFloats(threads: Int) -> Int { 2 * extents.channels + groupBlock }
    public var forwardCost: Int { extents.batch * extents.channels * extents.height * extents.width }

    public func bind(_ binding: Binding) {
        x = binding.inputs[0].floatPointer; gamma = binding.inputs[1].floatPointer; beta = binding.inputs[2].floatPointer
        y = binding.output.floatPointer; statistics = binding.saved
        dx = binding.inputGradients[0]?.floatPointer
        dgamma = binding.inputGradients[1]?.floatPointer; dbeta = binding.inputGradients[2]?.floatPointer
        dy = binding.outputGradient?.floatPointer; unused = binding.scratch
    }

    public func forward(pool: ThreadPool) {
        let e = extents
        groupNormForward(x!, y!, gamma: gamma!, beta: beta!, statistics: statistics!,
                         batch: e.batch, channels: e.channels, height: e.height, width: e.width, groups: groups, epsilon: epsilon)
    }

    public func backward(pool: ThreadPool) {
        let e = extents, unused = self.unused!, x = self.x!, gamma = self.gamma!, dy = self.dy!, statistics = self.statistics!
        if dx == nil || self.dgamma == nil || self.dbeta == nil { unused.update(repeating: 0, count: 2 * e.channels + groupBlock) }
        let dgamma = self.dgamma ?? unused, dbeta = self.dbeta ?? unused + e.channels
        if let dx {
            groupNormBackward(x: x, gamma: gamma, statistics: statistics, dy: dy, dx: dx, dgamma: dgamma, dbeta: dbeta,
                              batch: e.batch, channels: e.channels, height: e.height, width: e.width, groups: groups)
            return
        }
        // x needs no gradient (a graph input): one (item, group) at a time, as a one-group norm of
        // its consecutive channels, its dx into a stand-in block.
        let perGroup = channelsPerGroup, block = groupBlock
        for item in 0..<e.batch {
            for group in 0..<groups {
                let offset = (item * groups + group) * block, firstChannel = group * perGroup
                groupNormBackward(x: x + offset, gamma: gamma + firstChannel, statistics: statistics + 2 * (item * groups + group),
                                  dy: dy + offset, dx: unused + 2 * e.channels,
                                  dgamma: dgamma + firstChannel, dbeta: dbeta + firstChannel,
                                  batch: 1, channels: perGroup, height: e.height, width: e.width, groups: 1)
            }
        }
    }
}
