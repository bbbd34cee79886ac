// Max and average 2-D pooling of NCHW tensors as graph operations over the pooling kernels.
// Not ceil mode, dilation or adaptive pooling; average pooling counts padded zeros (PyTorch's default).

import ForesightCore

/// 2-D pooling with a square window: x [N, C, H, W] -> [N, C, OH, OW] with
/// OH = (H + 2 padding - kernel) / stride + 1, likewise OW (PyTorch, ceil_mode = false).
/// Max pooling keeps the position of every window's maximum, one Int32 per output element,
/// in its saved memory for the backward pass.
public final class Pool2dOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .pool2d(maximum: mode == .max, kernel: kernel, stride: stride, padding: padding) }
    /// Which reduction over a window.
    public enum Mode: Sendable, Equatable { case max, average }
    public let mode: Mode
    public let kernel: Int, stride: Int, padding: Int
    private var extents = (batch: 0, channels: 0, height: 0, width: 0)
    private var outputCount = 0
    // Bound once by `bind`.
    private var x: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>?
    private var dx: UnsafeMutablePointer<Float>?, dy: UnsafeMutablePointer<Float>?
    private var argmax: UnsafeMutablePointer<Int32>?

    public init(_ mode: Mode, kernel: Int, stride: Int, padding: Int) {
        self.mode = mode; self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    private var operationName: String { mode == .max ? "max pool" : "average pool" }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 1, operationName, expected: "one operand", got: "\(inputs.count)")
        try require(inputs[0].rank == 4 && dtypes[0] == .float32, operationName, expected: "float32 [N, C, H, W]", got: "\(dtypes[0]) \(inputs[0])")
        try require(kernel >= 1 && stride >= 1, operationName, expected: "kernel >= 1 and stride >= 1", got: "kernel \(kernel), stride \(stride)")
        try require(padding >= 0 && 2 * padding <= kernel, operationName,
                    expected: "padding from 0 to half the kernel (\(kernel / 2))", got: "padding \(padding)")
        let x = inputs[0]
        try require(x[2] + 2 * padding >= kernel && x[3] + 2 * padding >= kernel, operationName,
                    expected: "height and width of at least \(kernel - 2 * padding) for a \(kernel)x\(kernel) window with padding \(padding)",
                    got: "\(x)")
        try require(mode == .average || x[2] * x[3] <= Int(Int32.max), operationName,
                    expected: "a plane of at most \(Int32.max) pixels (Int32 argmax)", got: "\(x[2]) x \(x[3])")
        extents = (x[0], x[1], x[2], x[3])
        let output = try Shape(x[0], x[1],
                               poolOutputExtent(input: x[2], kernelSize: kernel, stride: stride, padding: padding),
                               poolOutputExtent(input: x[3], kernelSize: kernel, stride: stride, padding: padding))
        outputCount = output.count
        return output
    }

    /// Max pooling saves one Int32 argmax per output element (4 bytes each, like a Float).
    public var savedFloats: Int { mode == .max ? outputCount : 0 }
    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { outputCount * kernel * kernel }

    public func bind(_ binding: Binding) {
        x = binding.inputs[0].floatPointer
        y = binding.output.floatPointer
        dx = binding.inputGradients[0]?.floatPointer
        dy = binding.outputGradient?.floatPointer
        if mode == .max {
            argmax = UnsafeMutableRawPointer(binding.saved!).bindMemory(to: Int32.self, capacity: outputCount)
        }
    }

    public func forward(pool: ThreadPool) {
        let e = extents
        switch mode {
        case .max:
            maxPool2dForward(x!, y!, argmax: argmax!, batch: e.batch, channels: e.channels, height: e.height, width: e.width,
                             kernelSize: kernel, stride: stride, padding: padding)
        case .average:
            avgPool2dForward(x!, y!, batch: e.batch, channels: e.channels, height: e.height, width: e.width,
                             kernelSize: kernel, stride: stride, padding: padding)
        }
    }

    public func backward(pool: ThreadPool) {
        guard let dx, let dy else { return }
        let e = extents
        switch mode {
        case .max:
            maxPool2dBackward(dy: dy, argmax: argmax!, dx: dx, batch: e.batch, channels: e.channels, height: e.height, width: e.width,
                              kernelSize: kernel, stride: stride, padding: padding)
        case .average:
            avgPool2dBackward(dy: dy, dx: dx, batch: e.batch, channels: e.channels, height: e.height, width: e.width,
                              kernelSize: kernel, stride: stride, padding: padding)
        }
    }
}
