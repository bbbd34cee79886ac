// The token plumbing of small transformers as graph operations: embedding of int32 ids, learned
// positions, image patches as tokens, mask tokens, mean pooling over tokens, row gathering and
// reshaping. Plain loops: each touches every element once. Not attention (AttentionOperations.swift)
// and not a general indexing library: each operation does the one rearrangement it names.
//
// Symbols: N batch, T tokens, D features per token, V vocabulary, C, H, W image extents, P patch side.

import ForesightCore

/// Rows of a table picked by int32 ids: ids [...] (any shape), table [V, D] -> [..., D].
/// Backward adds each output row's gradient into its id's table row. An id outside 0..<V traps
/// with the id and its position (the caller writes the ids, so a bad one is a programmer error).
public final class TokenEmbeddingOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("token embedding") }
    private var tokens = 0, vocabulary = 0, dimension = 0
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 2, "token embedding", expected: "ids and table", got: "\(inputs.count) operands")
        try require(dtypes[0] == .int32, "token embedding", expected: "int32 ids", got: "\(dtypes[0]) \(inputs[0])")
        try require(dtypes[1] == .float32 && inputs[1].rank == 2, "token embedding", expected: "a float32 table [V, D]", got: "\(dtypes[1]) \(inputs[1])")
        tokens = inputs[0].count; vocabulary = inputs[1][0]; dimension = inputs[1][1]
        return try Shape(inputs[0].dims + [dimension])
    }

    public var forwardCost: Int { tokens * dimension }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let b = binding!, ids = b.inputs[0].int32s, table = b.inputs[1].floatPointer, y = b.output.floatPointer
        for token in 0..<tokens {
            let id = Int(ids[token])
            precondition(id >= 0 && id < vocabulary, "token embedding: id \(id) at position \(token) is outside 0..<\(vocabulary)")
            (y + token * dimension).update(from: table + id * dimension, count: dimension)
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dtable = b.inputGradients[1]?.floatPointer else { return }
        let ids = b.inputs[0].int32s, dy = b.outputGradient!.floatPointer
        for token in 0..<tokens { axpy(1, dy + token * dimension, dtable + Int(ids[token]) * dimension, dimension) }
    }
}

/// Learned positions added to every item: x [N, T, D], positions [T, D] -> [N, T, D].
public final class AddPositionsOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("position embedding") }
    private var items = 0, block = 0
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "add positions")
        try require(inputs.count == 2 && inputs[0].rank == 3, "add positions", expected: "x [N, T, D] and positions [T, D]", got: "\(inputs)")
        let x = inputs[0]
        try require(inputs[1].dims == [x[1], x[2]], "add positions", expected: "positions [\(x[1]), \(x[2])]", got: "\(inputs[1])")
        items = x[0]; block = x[1] * x[2]
        return x
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { items * block }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let b = binding!, x = b.inputs[0].floatPointer, positions = b.inputs[1].floatPointer, y = b.output.floatPointer
        for item in 0..<items {
            let offset = item * block
            for i in 0..<block { y[offset + i] = x[offset + i] + positions[i] }
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!, dy = b.outputGradient!.floatPointer
        for item in 0..<items {
            if let dx = b.inputGradients[0]?.floatPointer { axpy(1, dy + item * block, dx + item * block, block) }
            if let dpositions = b.inputGradients[1]?.floatPointer { axpy(1, dy + item * block, dpositions, block) }
        }
    }
}

/// Non-overlapping P x P patches of an image as tokens: images [N, C, H, W] ->
/// [N, (H / P) (W / P), C P P], patches in row-major order, each patch's values ordered
/// (channel, row, column). H and W must be multiples of P. A pure rearrangement: a linear layer
/// after it makes the patch embedding (the strided convolution of a vision transformer).
public final class PatchifyOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("patch tokens") }
    public let patch: Int
    private var extents = (batch: 0, channels: 0, height: 0, width: 0)

    private var binding: Binding?

    public init(patch: Int) { self.patch = patch }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "patchify")
        try require(inputs.count == 1 && inputs[0].rank == 4, "patchify", expected: "one operand [N, C, H, W]", got: "\(inputs)")
        let x = inputs[0]
        try require(patch >= 1 && x[2] % patch == 0 && x[3] % patch == 0, "patchify",
                    expected: "height and width multiples of the patch side \(patch)", got: "\(x)")
        extents = (x[0], x[1], x[2], x[3])
        return try Shape(x[0], (x[2] / patch) * (x[3] / patch), x[1] * patch * patch)
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { extents.batch * extents.channels * extents.height * extents.width }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let b = binding!
        visit { imageIndex, tokenIndex in b.output.floatPointer[tokenIndex] = b.inputs[0].floatPointer[imageIndex] }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dx = b.inputGradients[0]?.floatPointer else { return }
        let dy = b.outputGradient!.floatPointer
        visit { imageIndex, tokenIndex in dx[imageIndex] += dy[tokenIndex] }
    }

    /// Calls `body(image offset, token offset)` for every pixel.
    @inline(__always)
    private func visit(_ body: (Int, Int) -> Void) {
        let e = extents, P = patch
        let columns = e.width / P, patchValues = e.channels * P * P
        let tokens = (e.height / P) * columns
        for n in 0..<e.batch {
            for c in 0..<e.channels {
                for y in 0..<e.height {
                    for x in 0..<e.width {
                        let token = (y / P) * columns + x / P
                        let value = (c * P + y % P) * P + x % P
                        body(((n * e.channels + c) * e.height + y) * e.width + x, (n * tokens + token) * patchValues + value)
                    }
                }
            }
        }
    }
}

/// Tokens replaced by a learned mask token where a mask says so:
/// x [N, T, D], mask [N, T] (1 = replace, 0 = keep; float32 input), token [D] -> [N, T, D],
/// y = (1 - m) x + m token. Masks between 0 and 1 blend.
public final class MaskTokensOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("token masking") }
    private var tokens = 0, dimension = 0
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "mask tokens")
        try require(inputs.count == 3 && inputs[0].rank == 3, "mask tokens", expected: "x [N, T, D], mask [N, T] and token [D]", got: "\(inputs)")
        let x = inputs[0]
        try require(inputs[1].dims == [x[0], x[1]], "mask tokens", expected: "mask [\(x[0]), \(x[1])]", got: "\(inputs[1])")
        try require(inputs[2].dims == [x[2]], "mask tokens", expected: "token [\(x[2])]", got: "\(inputs[2])")
        tokens = x[0] * x[1]; dimension = x[2]
        return x
    }

    public var forwardCost: Int { tokens * dimension }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let b = binding!, x = b.inputs[0].floatPointer, mask = b.inputs[1].floatPointer
        let token = b.inputs[2].floatPointer, y = b.output.floatPointer
        for t in 0..<tokens {
            let m = mask[t], row = t * dimension
            for d in 0..<dimension { y[row + d] = (1 - m) * x[row + d] + m * token[d] }
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!, mask = b.inputs[1].floatPointer, dy = b.outputGradient!.floatPointer
        let dx = b.inputGradients[0]?.floatPointer, dtoken = b.inputGradients[2]?.floatPointer
        for t in 0..<tokens {
            let m = mask[t], row = dy + t * dimension
            if let dx { axpy(1 - m, row, dx + t * dimension, dimension) }
            if let dtoken, m != 0 { axpy(m, row, dtoken, dimension) }
        }
    }
}

/// Mean over the tokens of each item: x [N, T, D] -> [N, D].
public final class MeanTokensOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("token averaging") }
    private var items = 0, tokens = 0, dimension = 0
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "mean tokens")
        try require(inputs.count == 1 && inputs[0].rank == 3, "mean tokens", expected: "one operand [N, T, D]", got: "\(inputs)")
        items = inputs[0][0]; tokens = inputs[0][1]; dimension = inputs[0][2]
        return try Shape(items, dimension)
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { items * tokens * dimension }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let b = binding!, x = b.inputs[0].floatPointer, y = b.output.floatPointer
        let weight = 1 / Float(tokens)
        y.update(repeating: 0, count: items * dimension)
        for item in 0..<items {
            for t in 0..<tokens { axpy(weight, x + (item * tokens + t) * dimension, y + item * dimension, dimension) }
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dx = b.inputGradients[0]?.floatPointer else { return }
        let dy = b.outputGradient!.floatPointer, weight = 1 / Float(tokens)
        for item in 0..<items {
            for t in 0..<tokens { axpy(weight, dy + item * dimension, dx + (item * tokens + t) * dimension, dimension) }
        }
    }
}

/// Rows of a matrix picked by int32 indices: x [R, D], indices [M] -> [M, D] (an index may
/// repeat). Backward adds each picked row's gradient back into its source row. An index
/// outside 0..<R traps with the index and its position.
public final class GatherRowsOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("row gathering") }
    private var rows = 0, picked = 0, dimension = 0
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 2, "gather rows", expected: "x [R, D] and indices [M]", got: "\(inputs.count) operands")
        try require(dtypes[0] == .float32 && inputs[0].rank == 2, "gather rows", expected: "float32 x [R, D]", got: "\(dtypes[0]) \(inputs[0])")
        try require(dtypes[1] == .int32 && inputs[1].rank == 1, "gather rows", expected: "int32 indices [M]", got: "\(dtypes[1]) \(inputs[1])")
        rows = inputs[0][0]; dimension = inputs[0][1]; picked = inputs[1][0]
        return try Shape(picked, dimension)
    }

    public var forwardCost: Int { picked * dimension }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let b = binding!, x = b.inputs[0].floatPointer, indices = b.inputs[1].int32s, y = b.output.floatPointer
        for i in 0..<picked {
            let row = Int(indices[i])
            precondition(row >= 0 && row < rows, "gather rows: index \(row) at position \(i) is outside 0..<\(rows)")
            (y + i * dimension).update(from: x + row * dimension, count: dimension)
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dx = b.inputGradients[0]?.floatPointer else { return }
        let indices = b.inputs[1].int32s, dy = b.outputGradient!.floatPointer
        for i in 0..<picked { axpy(1, dy + i * dimension, dx + Int(indices[i]) * dimension, dimension) }
    }
}

/// The same values with another shape of the same element count (row-major order kept), as a
/// copy: the planner gives every activation its own memory.
public final class ReshapeOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("reshaping") }
    public let dims: [Int]
    private var count = 0
    private var binding: Binding?

    public init(_ dims: [Int]) { self.dims = dims }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "reshape")
        try require(inputs.count == 1, "reshape", expected: "one operand", got: "\(inputs.count)")
        let shape = try Shape(dims)
        try require(shape.count == inputs[0].count, "reshape", expected: "\(inputs[0].count) elements as in \(inputs[0])", got: "\(shape) of \(shape.count)")
        count = shape.count
        return shape
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { count }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        binding!.output.floatPointer.update(from: binding!.inputs[0].floatPointer, count: count)
    }

    public func backward(pool: ThreadPool) {
        guard let dx = binding!.inputGradients[0]?.floatPointer else { return }
        axpy(1, binding!.outputGradient!.floatPointer, dx, count)
    }
}
