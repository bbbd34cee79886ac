// x2 upsampling (nearest and bilinear) as a graph operation. Pooling, concatenation and
// element-wise arithmetic are in their own files.

import ForesightCore

/// x2 upsampling of NCHW tensors: [N, C, H, W] -> [N, C, 2H, 2W].
public final class Upsample2xOperation: GraphOperation, ParallelWork {
    public var inferenceForm: InferenceForm { .upsample2x(nearest: mode == .nearest) }
    public enum Mode: Sendable { case nearest, bilinear }
    public let mode: Mode
    private var dims = (batch: 0, channels: 0, height: 0, width: 0)
    private var binding: Binding?
    private var backwardPass = false

    public init(_ mode: Mode) { self.mode = mode }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "upsample")
        try require(inputs.count == 1 && inputs[0].rank == 4, "upsample", expected: "one operand [N, C, H, W]", got: "\(inputs)")
        let x = inputs[0]
        dims = (x[0], x[1], x[2], x[3])
        return try Shape(x[0], x[1], 2 * x[2], 2 * x[3])
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { 4 * dims.batch * dims.channels * dims.height * dims.width }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        backwardPass = false
        run(pool)
    }

    public func backward(pool: ThreadPool) {
        guard binding!.inputGradients[0] != nil else { return }
        backwardPass = true
        run(pool)
    }

    private func run(_ pool: ThreadPool) {
        if pool.threadCount == 1 || forwardCost < parallelElementThreshold {
            work(chunk: 0, of: 1, thread: 0)
        } else {
            pool.run(self, chunks: pool.chunks(items: dims.batch * dims.channels))
        }
    }

    /// Chunks of whole planes: the [N * C] planes split evenly.
    public func work(chunk: Int, of chunks: Int, thread: Int) {
        let planes = ThreadPool.range(chunk: chunk, of: chunks, items: dims.batch * dims.channels)
        let first = planes.lowerBound, last = planes.upperBound
        guard first < last else { return }
        let inputPlane = dims.height * dims.width
        let b = binding!
        let x = b.inputs[0].floatPointer + first * inputPlane, y = b.output.floatPointer + first * 4 * inputPlane
        let count = last - first
        if !backwardPass {
            switch mode {
            case .nearest: upsampleNearest2xForward(x, y, batch: 1, channels: count, height: dims.height, width: dims.width)
            case .bilinear: upsampleBilinear2xForward(x, y, batch: 1, channels: count, height: dims.height, width: dims.width)
            }
            return
        }
        let dx = b.inputGradients[0]!.floatPointer + first * inputPlane, dy = b.outputGradient!.floatPointer + first * 4 * inputPlane
        switch mode {
        case .nearest: upsampleNearest2xBackward(dy: dy, dx: dx, batch: 1, channels: count, height: dims.height, width: dims.width)
        case .bilinear: upsampleBilinear2xBackward(dy: dy, dx: dx, batch: 1, channels: count, height: dims.height, width: dims.width)
        }
    }
}
