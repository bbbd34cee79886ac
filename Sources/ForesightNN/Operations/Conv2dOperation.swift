// Convolution and fully connected layers as graph operations over the GEMM-based kernels.

import ForesightCore

/// 2-D convolution, NCHW: operands x [N, C, H, W], weight [F, C/G, K, K], optional bias [F].
public final class Conv2dOperation: GraphOperation, ParallelWork {
    public var inferenceForm: InferenceForm { .convolution(stride: stride, padding: padding, groups: groups) }
    public let stride: Int, padding: Int, groups: Int
    private(set) var geometry: Conv2dGeometry?
    private var binding: Binding?
    private var pass = Pass.forward
    private enum Pass { case forward, backward, reduce(chunks: Int) }
    /// The activation that runs inside this convolution's passes, sample by sample, on the
    /// samples a chunk has just computed (forward) or before it reads their output gradient
    /// (backward): set by the program when the activation is the convolution's only reader.
    var activation: ActivationOperation?

    public init(stride: Int, padding: Int, groups: Int) {
        self.stride = stride; self.padding = padding; self.groups = groups
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "conv2d")
        try require(inputs.count == 2 || inputs.count == 3, "conv2d", expected: "x, weight and optional bias", got: "\(inputs.count) operands")
        let x = inputs[0], weight = inputs[1]
        try require(x.rank == 4, "conv2d", expected: "input [N, C, H, W]", got: "\(x)")
        try require(weight.rank == 4 && weight[2] == weight[3], "conv2d", expected: "weight [F, C/G, K, K]", got: "\(weight)")
        let g = try Conv2dGeometry(batch: x[0], inChannels: x[1], height: x[2], width: x[3], outChannels: weight[0],
                                   kernel: weight[2], stride: stride, padding: padding, groups: groups)
        try require(weight.dims == g.weightShape, "conv2d", expected: "weight \(g.weightShape) for \(x[1]) input channels in \(groups) group(s)", got: "\(weight)")
        if inputs.count == 3 { try require(inputs[2].dims == [weight[0]], "conv2d", expected: "bias [\(weight[0])]", got: "\(inputs[2])") }
        geometry = g
        return try Shape(g.outputShape)
    }

    public func scratchFloats(threads: Int) -> Int { Conv2dScratch.floatCount(geometry!, threads: threads) }
    public var forwardCost: Int { geometry!.multiplyAdds }
    public func bind(_ binding: Binding) { self.binding = binding }

    /// Forward: chunks of samples, as many as the pool balances well. Backward: the geometry's
    /// fixed chunks, whose private weight gradients are then added in order, by ranges of weights.
    public func forward(pool: ThreadPool) {
        pass = .forward
        pool.run(self, chunks: pool.chunks(items: geometry!.batch))
    }

    public func backward(pool: ThreadPool) {
        let b = binding!, g = geometry!
        conv2dBackwardPrepare(g, weight: b.inputs[1].floatPointer, inputGradient: b.inputGradients[0] != nil, scratch: b.scratch!)
        pass = .backward
        pool.run(self, chunks: g.backwardChunks)
        let reduceChunks = conv2dBackwardReduceChunks(g, pool: pool)
        pass = .reduce(chunks: reduceChunks)
        pool.run(self, chunks: reduceChunks)
    }

    public func work(chunk: Int, of chunks: Int, thread: Int) {
        let b = binding!
        switch pass {
        case .forward:
            conv2dForward(geometry!, x: b.inputs[0].floatPointer, weight: b.inputs[1].floatPointer,
                          bias: b.inputs.count == 3 ? b.inputs[2].floatPointer : nil,
                          y: b.output.floatPointer, scratch: b.scratch!, chunk: chunk, of: chunks, thread: thread)
            if let activation { runActivation(activation, samples: ThreadPool.range(chunk: chunk, of: chunks, items: geometry!.batch), backward: false) }
        case .backward:
            if let activation {
                runActivation(activation, samples: ThreadPool.range(chunk: chunk, of: geometry!.backwardChunks, items: geometry!.batch), backward: true)
            }
            conv2dBackward(geometry!, x: b.inputs[0].floatPointer, weight: b.inputs[1].floatPointer, dy: b.outputGradient!.floatPointer,
                           dx: b.inputGradients[0]?.floatPointer, dweight: b.inputGradients[1]!.floatPointer,
                           dbias: b.inputGradients.count == 3 ? b.inputGradients[2]?.floatPointer : nil,
                           scratch: b.scratch!, chunk: chunk, thread: thread)
        case let .reduce(chunks):
            conv2dBackwardReduce(geometry!, dweight: b.inputGradients[1]!.floatPointer,
                                 dbias: b.inputGradients.count == 3 ? b.inputGradients[2]?.floatPointer : nil, scratch: b.scratch!,
                                 chunk: chunk, of: chunks)
        }
    }
}

extension Conv2dOperation {
    /// The activation over the outputs of `samples`, while they are still in this thread's cache.
    private func runActivation(_ activation: ActivationOperation, samples: Range<Int>, backward: Bool) {
        let perSample = geometry!.outChannels * geometry!.columnCount
        if backward {
            activation.backward(elements: samples.lowerBound * perSample, count: samples.count * perSample)
        } else {
            activation.forward(elements: samples.lowerBound * perSample, count: samples.count * perSample)
        }
    }
}

/// Fully connected layer: x [..., in] times weight [out, in] transposed, plus bias [out].
public final class LinearOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("a fully connected layer (chains are convolutional)") }
    private var rows = 0, inFeatures = 0, outFeatures = 0
    private var binding: Binding?
    private var task: GemmTask?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "linear")
        try require(inputs.count == 2 || inputs.count == 3, "linear", expected: "x, weight and optional bias", got: "\(inputs.count) operands")
        let x = inputs[0], weight = inputs[1]
        try require(weight.rank == 2 && x[-1] == weight[1], "linear", expected: "weight [out, \(x[-1])]", got: "\(weight)")
        if inputs.count == 3 { try require(inputs[2].dims == [weight[0]], "linear", expected: "bias [\(weight[0])]", got: "\(inputs[2])") }
        inFeatures = weight[1]; outFeatures = weight[0]; rows = x.count / inFeatures
        return try Shape(Array(x.dims.dropLast()) + [outFeatures])
    }

    public func scratchFloats(threads: Int) -> Int { threads * GemmWorkspace.floatCount }
    public var forwardCost: Int { rows * inFeatures * outFeatures }

    public func bind(_ binding: Binding) {
        self.binding = binding
        task = GemmTask(memory: binding.scratch!, threads: binding.scratchThreads)
    }

    public func forward(pool: ThreadPool) {
        let b = binding!, task = task!
        let y = b.output.floatPointer
        // y[rows, out] = x[rows, in] * W[out, in]^T
        task.set(transB: true, m: rows, n: outFeatures, k: inFeatures, a: b.inputs[0].floatPointer, lda: inFeatures,
                 b: b.inputs[1].floatPointer, ldb: inFeatures, c: y, ldc: outFeatures)
        task.run(on: pool)
        if b.inputs.count == 3 {
            let bias = b.inputs[2].floatPointer
            for row in 0..<rows { axpy(1, bias, y + row * outFeatures, outFeatures) }
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!, task = task!
        let dy = b.outputGradient!.floatPointer
        if let dx = b.inputGradients[0] {
            // dx[rows, in] += dy[rows, out] * W[out, in]
            task.set(m: rows, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, b: b.inputs[1].floatPointer, ldb: inFeatures,
                     c: dx.floatPointer, ldc: inFeatures, accumulate: true)
            task.run(on: pool)
        }
        if let dweight = b.inputGradients[1] {
            // dW[out, in] += dy^T[out, rows] * x[rows, in]
            task.set(transA: true, m: outFeatures, n: inFeatures, k: rows, a: dy, lda: outFeatures, b: b.inputs[0].floatPointer, ldb: inFeatures,
                     c: dweight.floatPointer, ldc: inFeatures, accumulate: true)
            task.run(on: pool)
        }
        if b.inputGradients.count == 3, let dbias = b.inputGradients[2] {
            for row in 0..<rows { axpy(1, dy + row * outFeatures, dbias.floatPointer, outFeatures) }
        }
    }
}
