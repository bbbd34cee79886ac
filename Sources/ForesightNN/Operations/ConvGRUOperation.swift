// A convolutional GRU over video clips as one graph operation: the GRU's matrix products
// become KxK convolutions (padding K/2, stride 1), so the state is a feature map that keeps its
// spatial layout. Forward and full backpropagation through time. Not a cell library: one
// layer, one direction, zero initial state; stack layers in the graph for depth.
//
// Symbols: N clips, T frames per clip, C input channels, F hidden channels, H x W frame size,
// U = F*H*W units per frame. Frames are stored clip-major in the batch axis, x [N*T, C, H, W]
// (frame t of clip n at row n*T + t), so the per-frame convolutions before and after the GRU
// need no reshape. Gates follow PyTorch's GRU with convolutions for products:
//   r = σ(W_xr * x_t + b_xr + W_hr * h_{t-1} + b_hr)
//   z = σ(W_xz * x_t + b_xz + W_hz * h_{t-1} + b_hz)
//   n = tanh(W_xn * x_t + b_xn + r ⊙ (W_hn * h_{t-1} + b_hn))
//   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
// The input-side convolution of all N*T frames runs once; each step convolves the N previous
// states. Backward keeps r, z, n and W_hn * h + b_hn of every frame (`savedFloats`), overwrites
// them with the pre-activation gradients while stepping back in time, then forms the
// input-side weight and input gradients with one convolution backward over all frames.

import ForesightCore

/// A convolutional GRU layer: x [N*T, C, H, W] (N clips of T frames, clip-major), weightX
/// [3F, C, K, K], weightH [3F, F, K, K], biasX [3F], biasH [3F] -> states [N*T, F, H, W].
/// Gate blocks in the weight rows in the order r, z, n; the state starts at zero in every clip.
///
/// ```swift
/// let states = try graph.apply(ConvGRUOperation(steps: 8), [frames, wx, wh, bx, bh], name: "convgru")
/// ```
public final class ConvGRUOperation: GraphOperation, ParallelWork {
    public var inferenceForm: InferenceForm { .notLowered("a convolutional GRU (recurrent state)") }
    /// Frames per clip (T).
    public let steps: Int
    private var clips = 0, inChannels = 0, hidden = 0, height = 0, width = 0, kernel = 0
    private var inputGeometry: Conv2dGeometry?
    private var stateGeometry: Conv2dGeometry?
    private var binding: Binding?
    private var convolutionFloats = 0
    /// The convolution the pool runs next (one of the two geometries, forward or backward) and its memory.
    private var convolution = Convolution(geometry: nil, backward: false, x: nil, weight: nil, bias: nil, y: nil, dx: nil, dweight: nil)
    private struct Convolution {
        var geometry: Conv2dGeometry?
        var backward: Bool
        var x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?, bias: UnsafeMutablePointer<Float>?
        var y: UnsafeMutablePointer<Float>?, dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?
    }

    /// `steps`: frames per clip, at least 1.
    public init(steps: Int) {
        precondition(steps >= 1, "a convolutional GRU needs at least one frame per clip, got \(steps)")
        self.steps = steps
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        let name = "convGRU"
        try requireFloat(dtypes, name)
        try require(inputs.count == 5, name, expected: "x, weight_x, weight_h, bias_x and bias_h", got: "\(inputs.count) operands")
        let x = inputs[0], weightH = inputs[2]
        try require(x.rank == 4 && x[0] % steps == 0, name, expected: "frames [N*\(steps), C, H, W] (clips of \(steps) frames)", got: "\(x)")
        try require(weightH.rank == 4 && weightH[0] == 3 * weightH[1] && weightH[2] == weightH[3] && weightH[2] % 2 == 1, name,
                    expected: "weight_h [3*F, F, K, K] with K odd", got: "\(weightH)")
        let f = weightH[1], k = weightH[2]
        try require(inputs[1].dims == [3 * f, x[1], k, k], name, expected: "weight_x [\(3 * f), \(x[1]), \(k), \(k)]", got: "\(inputs[1])")
        try require(inputs[3].dims == [3 * f], name, expected: "bias_x [\(3 * f)]", got: "\(inputs[3])")
        try require(inputs[4].dims == [3 * f], name, expected: "bias_h [\(3 * f)]", got: "\(inputs[4])")
        clips = x[0] / steps; inChannels = x[1]; height = x[2]; width = x[3]; hidden = f; kernel = k
        inputGeometry = try Conv2dGeometry(batch: clips * steps, inChannels: inChannels, height: height, width: width,
                                           outChannels: 3 * f, kernel: k, stride: 1, padding: k / 2)
        stateGeometry = try Conv2dGeometry(batch: clips, inChannels: f, height: height, width: width,
                                           outChannels: 3 * f, kernel: k, stride: 1, padding: k / 2)
        return try Shape(clips * steps, f, height, width)
    }

    /// Units per frame (U = F*H*W).
    private var units: Int { hidden * height * width }

    /// Per frame: r, z, n [3U] (the input-side convolution's output, then the gates), then W_hn * h + b_hn [U].
    public var savedFloats: Int { clips * steps * 4 * units }
    /// Convolution scratch, then the N previous states [N, U], their convolution [N, 3U] and dh [N, U].
    public func scratchFloats(threads: Int) -> Int {
        max(Conv2dScratch.floatCount(inputGeometry!, threads: threads), Conv2dScratch.floatCount(stateGeometry!, threads: threads))
            + clips * 5 * units
    }
    public var backwardReadsOutput: Bool { true }
    public var forwardCost: Int { inputGeometry!.multiplyAdds + steps * stateGeometry!.multiplyAdds }

    public func bind(_ binding: Binding) {
        self.binding = binding
        convolutionFloats = max(Conv2dScratch.floatCount(inputGeometry!, threads: binding.scratchThreads),
                                Conv2dScratch.floatCount(stateGeometry!, threads: binding.scratchThreads))
    }

    public func forward(pool: ThreadPool) {
        let b = binding!, u = units, frames = clips * steps
        let weightH = b.inputs[2].floatPointer, biasH = b.inputs[4].floatPointer
        let y = b.output.floatPointer, saved = b.saved!, scratch = b.scratch!
        let gates = saved, hiddenSides = saved + frames * 3 * u
        let previous = scratch + convolutionFloats, projection = previous + clips * u
        // gates[n*T + t] = W_x * x + b_x for every frame at once.
        convolve(pool, Convolution(geometry: inputGeometry, backward: false, x: b.inputs[0].floatPointer, weight: b.inputs[1].floatPointer,
                                   bias: b.inputs[3].floatPointer, y: gates, dx: nil, dweight: nil))
        let plane = height * width
        for t in 0..<steps {
            // projection[n] = W_h * h_{t-1} + b_h (only b_h at t = 0, where h_{-1} = 0).
            if t == 0 {
                for n in 0..<clips {
                    for channel in 0..<3 * hidden {
                        (projection + n * 3 * u + channel * plane).update(repeating: biasH[channel], count: plane)
                    }
                }
            } else {
                for n in 0..<clips { previous.advanced(by: n * u).update(from: y + (n * steps + t - 1) * u, count: u) }
                convolve(pool, Convolution(geometry: stateGeometry, backward: false, x: previous, weight: weightH, bias: biasH,
                                           y: projection, dx: nil, dweight: nil))
            }
            for n in 0..<clips {
                let frame = n * steps + t
                convGRUStepForward(gates: gates + frame * 3 * u, hiddenSide: hiddenSides + frame * u,
                                   projection: projection + n * 3 * u,
                                   previous: t > 0 ? UnsafePointer(previous + n * u) : nil,
                                   state: y + frame * u, units: u)
            }
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!, u = units, frames = clips * steps
        let weightH = b.inputs[2].floatPointer
        let y = b.output.floatPointer, dy = b.outputGradient!.floatPointer, saved = b.saved!, scratch = b.scratch!
        let gates = saved, hiddenSides = saved + frames * 3 * u
        let previous = scratch + convolutionFloats, projectionGradient = previous + clips * u, dh = projectionGradient + clips * 3 * u
        dh.update(repeating: 0, count: clips * u)
        // Back through time: each frame's gates become their pre-activation gradients and dh the
        // gradient of h_{t-1}.
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for n in 0..<clips {
                let frame = n * steps + t
                let previousState: UnsafePointer<Float>? = t > 0 ? UnsafePointer(y + (frame - 1) * u) : nil
                convGRUStepBackward(gates: gates + frame * 3 * u, hiddenSide: hiddenSides + frame * u, previous: previousState,
                                    outputGradient: dy + frame * u, dh: dh + n * u, units: u)
            }
            guard t > 0 else {
                // h_{-1} = 0: the state side at t = 0 is b_h alone, which collects dr, dz and dn ⊙ r.
                if let dbias = b.inputGradients[4]?.floatPointer {
                    let plane = height * width
                    for n in 0..<clips {
                        let frame = n * steps
                        for channel in 0..<3 * hidden {
                            let block = channel < 2 * hidden ? gates + frame * 3 * u + channel * plane
                                                             : hiddenSides + frame * u + (channel - 2 * hidden) * plane
                            dbias[channel] += sum(block, plane)
                        }
                    }
                }
                continue
            }
            // The state side: its pre-activation gradients are dr, dz and dn ⊙ r.
            for n in 0..<clips {
                let frame = n * steps + t
                let destination = projectionGradient + n * 3 * u
                destination.update(from: gates + frame * 3 * u, count: 2 * u)
                (destination + 2 * u).update(from: hiddenSides + frame * u, count: u)
                previous.advanced(by: n * u).update(from: y + (frame - 1) * u, count: u)
            }
            // dh += W_h^T * dG_h; dW_h and db_h accumulate.
            convolve(pool, Convolution(geometry: stateGeometry, backward: true, x: previous, weight: weightH, bias: b.inputGradients[4]?.floatPointer,
                                       y: projectionGradient, dx: dh, dweight: b.inputGradients[2]!.floatPointer))
        }
        // The input side of every frame at once: dx, dW_x and db_x from dr, dz, dn.
        convolve(pool, Convolution(geometry: inputGeometry, backward: true, x: b.inputs[0].floatPointer, weight: b.inputs[1].floatPointer,
                                   bias: b.inputGradients[3]?.floatPointer, y: gates, dx: b.inputGradients[0]?.floatPointer,
                                   dweight: b.inputGradients[1]!.floatPointer))
    }

    /// Runs one convolution on the pool (through `work`, no closure to allocate). Backward: `y`
    /// is the output gradient, `bias` the bias gradient, and gradients accumulate.
    private func convolve(_ pool: ThreadPool, _ call: Convolution) {
        convolution = call
        if call.backward {
            conv2dBackwardPrepare(call.geometry!, weight: call.weight!, inputGradient: call.dx != nil, scratch: binding!.scratch!)
            pool.run(self, chunks: call.geometry!.backwardChunks)
            conv2dBackwardReduce(call.geometry!, dweight: call.dweight!, dbias: call.bias, scratch: binding!.scratch!)
        } else {
            pool.run(self, chunks: pool.chunks(items: call.geometry!.batch))
        }
    }

    public func work(chunk: Int, of chunks: Int, thread: Int) {
        let call = convolution, scratch = binding!.scratch!
        if call.backward {
            conv2dBackward(call.geometry!, x: call.x!, weight: call.weight!, dy: call.y!, dx: call.dx, dweight: call.dweight!, dbias: call.bias,
                           scratch: scratch, chunk: chunk, thread: thread)
        } else {
            conv2dForward(call.geometry!, x: call.x!, weight: call.weight!, bias: call.bias, y: call.y!, scratch: scratch,
                          chunk: chunk, of: chunks, thread: thread)
        }
    }
}

/// One convolutional GRU step of one clip. On entry `gates` [3U] holds W_x * x_t + b_x and
/// `projection` [3U] holds W_h * h_{t-1} + b_h; on exit `gates` holds r, z, n, `hiddenSide` [U]
/// holds W_hn * h_{t-1} + b_hn and `state` [U] h_t. `previous` [U] is h_{t-1}, nil at t = 0.
@inline(__always)
func convGRUStepForward(gates: UnsafeMutablePointer<Float>, hiddenSide: UnsafeMutablePointer<Float>, projection: UnsafePointer<Float>,
                        previous: UnsafePointer<Float>?, state: UnsafeMutablePointer<Float>, units: Int) {
    let u = units
    for j in 0..<2 * u { gates[j] += projection[j] }
    sigmoidForward(gates, gates, count: 2 * u)
    for j in 0..<u {
        hiddenSide[j] = projection[2 * u + j]
        gates[2 * u + j] += gates[j] * hiddenSide[j]
    }
    tanhForward(gates + 2 * u, gates + 2 * u, count: u)
    for j in 0..<u {
        let z = gates[u + j]
        state[j] = (1 - z) * gates[2 * u + j] + z * (previous?[j] ?? 0)
    }
}

/// The step backward: with d = dh + dy (the gradient of h_t), writes into `gates` the
/// pre-activation gradients dr, dz, dn (input side), into `hiddenSide` dn ⊙ r (the gradient of
/// W_hn * h + b_hn), and leaves in `dh` the direct part d ⊙ z of the gradient of h_{t-1}.
///
/// gates: [3U] (r, z, n on entry); hiddenSide, previous, outputGradient, dh: [U]
@inline(__always)
func convGRUStepBackward(gates: UnsafeMutablePointer<Float>, hiddenSide: UnsafeMutablePointer<Float>, previous: UnsafePointer<Float>?,
                         outputGradient: UnsafePointer<Float>, dh: UnsafeMutablePointer<Float>, units: Int) {
    let u = units
    for j in 0..<u {
        let d = dh[j] + outputGradient[j]
        let r = gates[j], z = gates[u + j], candidate = gates[2 * u + j]
        let dCandidate = d * (1 - z) * (1 - candidate * candidate)
        gates[u + j] = d * ((previous?[j] ?? 0) - candidate) * z * (1 - z)
        gates[j] = dCandidate * hiddenSide[j] * r * (1 - r)
        gates[2 * u + j] = dCandidate
        hiddenSide[j] = dCandidate * r
        dh[j] = d * z
    }
}
