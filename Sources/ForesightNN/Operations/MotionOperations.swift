// The operations of motion prediction: a bounded motion head (per-channel scaled tanh),
// the warp of the last frame by the predicted motion plus a residual, and a smoothness
// penalty on the motion field. Not an optical-flow estimator: motion is learned only
// through how well the warped frame predicts the next one.

import ForesightCore

/// y[:, c] = scales[c] * tanh(x[:, c]) for NCHW tensors: bounds each channel (e.g. motion to
/// a few pixels, the residual to a small correction).
public final class ScaledTanhOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("scaled tanh") }
    public let scales: [Float]
    private var dims = (batch: 0, channels: 0, plane: 0)
    private var binding: Binding?

    public init(scales: [Float]) {
        precondition(scales.allSatisfy { $0 > 0 && $0.isFinite }, "scaled tanh needs positive finite scales, got \(scales)")
        self.scales = scales
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "scaled tanh")
        try require(inputs.count == 1 && inputs[0].rank == 4 && inputs[0][1] == scales.count, "scaled tanh",
                    expected: "one operand [N, \(scales.count), H, W]", got: "\(inputs)")
        dims = (inputs[0][0], inputs[0][1], inputs[0][2] * inputs[0][3])
        return inputs[0]
    }

    public var backwardReadsInputs: Bool { false }
    public var backwardReadsOutput: Bool { true }
    public var forwardCost: Int { dims.batch * dims.channels * dims.plane }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let x = binding!.inputs[0].floatPointer, y = binding!.output.floatPointer
        tanhForward(x, y, count: forwardCost)
        forEachPlane { plane, channel in scaleForward(y + plane, y + plane, count: dims.plane, factor: scales[channel]) }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dx = b.inputGradients[0]?.floatPointer else { return }
        let y = b.output.floatPointer, dy = b.outputGradient!.floatPointer
        // y = s * t with t = tanh(x): dx += dy * s * (1 - t^2) = dy * (s - y^2 / s).
        forEachPlane { plane, channel in
            let scale = scales[channel], inverse = 1 / scale
            for i in plane..<(plane + dims.plane) { dx[i] += dy[i] * (scale - y[i] * y[i] * inverse) }
        }
    }

    @inline(__always)
    private func forEachPlane(_ body: (Int, Int) -> Void) {
        for n in 0..<dims.batch { for c in 0..<dims.channels { body((n * dims.channels + c) * dims.plane, c) } }
    }
}

/// prediction = warp(frames[:, last], motion[:, 0..<2]) + motion[:, 2]: the last frame moved
/// by the motion field, plus a residual. Operands: motion [N, 3, H, W], frames [N, K, H, W].
public final class WarpPredictionOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("motion warping") }
    private var dims = (batch: 0, frames: 0, height: 0, width: 0)
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "warp prediction")
        try require(inputs.count == 2 && inputs[0].rank == 4 && inputs[1].rank == 4, "warp prediction",
                    expected: "motion [N, 3, H, W] and frames [N, K, H, W]", got: "\(inputs)")
        let motion = inputs[0], frames = inputs[1]
        try require(motion[1] == 3 && motion[0] == frames[0] && motion[2] == frames[2] && motion[3] == frames[3], "warp prediction",
                    expected: "motion [\(frames[0]), 3, \(frames[2]), \(frames[3])] for frames \(frames)", got: "\(motion)")
        dims = (frames[0], frames[1], frames[2], frames[3])
        return try Shape(frames[0], 1, frames[2], frames[3])
    }

    public var forwardCost: Int { dims.batch * dims.height * dims.width * 8 }
    public func bind(_ binding: Binding) { self.binding = binding }

    private var plane: Int { dims.height * dims.width }

    public func forward(pool: ThreadPool) {
        let b = binding!
        let motion = b.inputs[0].floatPointer, lastFrame = b.inputs[1].floatPointer + (dims.frames - 1) * plane
        let y = b.output.floatPointer
        for n in 0..<dims.batch {
            let flow = motion + n * 3 * plane
            warpBilinearForward(image: lastFrame + n * dims.frames * plane, imageBatchStride: dims.frames * plane, flow: flow,
                                out: y + n * plane, batch: 1, channels: 1, height: dims.height, width: dims.width)
            axpy(1, flow + 2 * plane, y + n * plane, plane)
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dmotion = b.inputGradients[0]?.floatPointer else { return }
        let motion = b.inputs[0].floatPointer, lastFrame = b.inputs[1].floatPointer + (dims.frames - 1) * plane
        let dy = b.outputGradient!.floatPointer
        let dframes = b.inputGradients[1].map { $0.floatPointer + (dims.frames - 1) * plane }
        for n in 0..<dims.batch {
            let flow = motion + n * 3 * plane, dflow = dmotion + n * 3 * plane
            warpBilinearBackward(image: lastFrame + n * dims.frames * plane, imageBatchStride: dims.frames * plane, flow: flow,
                                 dy: dy + n * plane, dflow: dflow, dimage: dframes.map { $0 + n * dims.frames * plane },
                                 batch: 1, channels: 1, height: dims.height, width: dims.width)
            axpy(1, dy + n * plane, dflow + 2 * plane, plane)
        }
    }
}

/// Mean squared difference between horizontally and vertically neighbouring motion vectors
/// (channels 0 and 1 of [N, C, H, W]): a scalar that keeps the motion field smooth.
public final class MotionSmoothnessOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    private var dims = (batch: 0, channels: 0, height: 0, width: 0)
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "motion smoothness")
        try require(inputs.count == 1 && inputs[0].rank == 4 && inputs[0][1] >= 2 && inputs[0][2] >= 2 && inputs[0][3] >= 2,
                    "motion smoothness", expected: "motion [N, >=2, >=2, >=2]", got: "\(inputs)")
        dims = (inputs[0][0], inputs[0][1], inputs[0][2], inputs[0][3])
        return [1]
    }

    /// Number of neighbour differences averaged over.
    private var pairs: Int { dims.batch * 2 * ((dims.height - 1) * dims.width + dims.height * (dims.width - 1)) }
    public var forwardCost: Int { pairs }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        var total: Double = 0
        visitPairs { a, b, motion in let d = Double(motion[a] - motion[b]); total += d * d }
        binding!.output.floatPointer[0] = Float(total / Double(pairs))
    }

    public func backward(pool: ThreadPool) {
        guard let dmotion = binding!.inputGradients[0]?.floatPointer else { return }
        let factor = 2 * binding!.outputGradient!.floatPointer[0] / Float(pairs)
        visitPairs { a, b, motion in
            let g = factor * (motion[a] - motion[b])
            dmotion[a] += g
            dmotion[b] -= g
        }
    }

    @inline(__always)
    private func visitPairs(_ body: (Int, Int, UnsafePointer<Float>) -> Void) {
        let motion = UnsafePointer(binding!.inputs[0].floatPointer)
        let width = dims.width, plane = dims.height * dims.width
        for n in 0..<dims.batch {
            for channel in 0..<2 {
                let base = (n * dims.channels + channel) * plane
                for y in 0..<dims.height {
                    for x in 0..<width {
                        let index = base + y * width + x
                        if x + 1 < width { body(index, index + 1, motion) }
                        if y + 1 < dims.height { body(index, index + width, motion) }
                    }
                }
            }
        }
    }
}
