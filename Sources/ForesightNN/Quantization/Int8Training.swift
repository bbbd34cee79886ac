// int8 training of convolutions for the live loop, after on-device training under 256 KB
// (Lin et al., NeurIPS 2022): the forward pass multiplies uint8 activations by per-channel int8
// weights, the backward pass computes weight gradients as int8 output gradients x uint8
// activations and input gradients as int8 output gradients x int8 weights, all accumulated in
// int32 by the int8 GEMM. Scales are set per batch (activations asymmetric min/max, gradients
// symmetric max |g|). Weights keep a float32 master copy that the optimizer updates: with it,
// quantization-aware scaling of the weight gradient (QAS: G_Wq * s^-2 for int8 weights
// Wq = W / s) reduces exactly to the float gradient G_W, which is what is produced here.
// Not fused: outputs and gradients between layers stay float32 so that every other operation
// of the graph works unchanged.
//
// Symbols: per sample P = OH * OW output positions, K = C * KH * KW (padded to Kp, a multiple
// of 4), F output channels; x [N, C, H, W], weight [F, C, KH, KW], y [N, F, OH, OW].

import ForesightCore

/// A convolution (one group) trained in int8: operands x [N, C, H, W], weight [F, C, K, K]
/// (float32 master), bias [F]; output [N, F, OH, OW] float32.
public final class Int8TrainingConv2dOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .convolution(stride: stride, padding: padding, groups: 1) }
    public let stride: Int, padding: Int
    private(set) var geometry: Conv2dGeometry?
    private var binding: Binding?
    /// The input quantization of the last forward pass (reused by backward).
    public private(set) var inputQuantization: ActivationQuantization?
    /// The int8 kernel path (tests pin it).
    public var path = Int8KernelPath.best

    public init(stride: Int, padding: Int) { self.stride = stride; self.padding = padding }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "int8 conv2d")
        try require(inputs.count == 3, "int8 conv2d", expected: "x, weight and bias", got: "\(inputs.count) operands")
        let x = inputs[0], weight = inputs[1]
        try require(x.rank == 4 && weight.rank == 4 && weight[2] == weight[3] && weight[1] == x[1], "int8 conv2d",
                    expected: "x [N, C, H, W] and weight [F, C, K, K]", got: "\(x), \(weight)")
        let g = try Conv2dGeometry(batch: x[0], inChannels: x[1], height: x[2], width: x[3], outChannels: weight[0],
                                   kernel: weight[2], stride: stride, padding: padding)
        try require(inputs[2].dims == [weight[0]], "int8 conv2d", expected: "bias [\(weight[0])]", got: "\(inputs[2])")
        geometry = g
        return try Shape(g.outputShape)
    }

    /// Scratch byte layout of one call.
    private struct Layout {
        let positions: Int, depth: Int, paddedDepth: Int, filters: Int
        var codes: Int { 0 }                                       // uint8 x of one sample [C, H, W]
        let columns: Int                                           // uint8 [Kp, P]
        let columnsT: Int                                          // uint8 [P, Kp]
        let weights: Int                                           // int8 [F, Kp]
        let weightsT: Int                                          // int8 [Kp, F]
        let gradient: Int                                          // int8 [P, F] (dy), uint8 [P, F] (g + 128)
        let shifted: Int
        let sums: Int                                              // int32 [max(P*F, Kp*F, P*Kp)]
        let scales: Int                                            // float [F] weight scales, int32 [F] code sums, int32 [Kp] column sums
        let workspace: Int
        let total: Int

        init(_ g: Conv2dGeometry) {
            func round(_ bytes: Int) -> Int { Arena.roundUp(bytes) }
            positions = g.columnCount; depth = g.columnRows; paddedDepth = (depth + 3) / 4 * 4; filters = g.outChannels
            let P = positions, Kp = paddedDepth, F = filters
            columns = round(g.inChannels * g.height * g.width)
            columnsT = columns + round(Kp * P)
            weights = columnsT + round(P * Kp)
            weightsT = weights + round(F * Kp)
            gradient = weightsT + round(Kp * F)
            shifted = gradient + round(P * F)
            sums = shifted + round(P * F)
            scales = sums + round(4 * max(P * F, Kp * F, P * Kp))
            workspace = scales + round(4 * (2 * F + Kp))
            total = workspace + Int8GemmWorkspace.byteCount
        }
    }

    public func scratchFloats(threads: Int) -> Int { Layout(geometry!).total / 4 + 16 }
    public var forwardCost: Int { geometry!.multiplyAdds }
    public func bind(_ binding: Binding) { self.binding = binding }

    /// Quantizes the float master weights per output channel into [F, Kp] and [Kp, F] codes,
    /// their scales and per-channel code sums; returns pointers into the scratch.
    private func quantizeWeights(_ base: UnsafeMutableRawPointer, _ l: Layout, _ weight: UnsafePointer<Float>)
        -> (codes: UnsafeMutablePointer<Int8>, transposed: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
            sums: UnsafeMutablePointer<Int32>, columnSums: UnsafeMutablePointer<Int32>) {
        let codes = (base + l.weights).assumingMemoryBound(to: Int8.self)
        let transposed = (base + l.weightsT).assumingMemoryBound(to: Int8.self)
        let scales = (base + l.scales).assumingMemoryBound(to: Float.self)
        let sums = (base + l.scales + 4 * l.filters).assumingMemoryBound(to: Int32.self)
        let columnSums = (base + l.scales + 8 * l.filters).assumingMemoryBound(to: Int32.self)
        columnSums.update(repeating: 0, count: l.paddedDepth)
        for f in 0..<l.filters {
            let row = weight + f * l.depth
            var largest: Float = 0
            for k in 0..<l.depth { largest = max(largest, abs(row[k])) }
            let scale = largest > 0 ? largest / 127 : 1, inverse = 1 / scale
            scales[f] = scale
            var sum: Int32 = 0
            for k in 0..<l.paddedDepth {
                let code = k < l.depth ? Int8(min(max((row[k] * inverse).rounded(.toNearestOrEven), -127), 127)) : 0
                codes[f * l.paddedDepth + k] = code
                transposed[k * l.filters + f] = code
                sum += Int32(code)
                columnSums[k] += Int32(code)
            }
            sums[f] = sum
        }
        return (codes, transposed, scales, sums, columnSums)
    }

    /// Quantizes sample `x` [C, H, W] with `q` and unfolds it into columns [Kp, P] (`transposed`
    /// false, for the weight gradient) or [P, Kp] (true, for the forward pass); positions outside
    /// the image hold the zero point, padded depth rows hold zero.
    private func unfold(_ g: Conv2dGeometry, _ l: Layout, _ x: UnsafePointer<Float>, _ q: ActivationQuantization,
                        _ base: UnsafeMutableRawPointer, transposed: Bool) {
        let codes = (base + l.codes).assumingMemoryBound(to: UInt8.self)
        let count = g.inChannels * g.height * g.width
        let inverse = 1 / q.scale, zero = Float(q.zeroPoint)
        for i in 0..<count { codes[i] = UInt8(min(max((x[i] * inverse).rounded(.toNearestOrEven) + zero, 0), 255)) }
        let P = l.positions, Kp = l.paddedDepth, zeroCode = UInt8(q.zeroPoint)
        let K = g.kernelHeight, W = g.width, H = g.height
        if transposed {
            // One row of Kp bytes per output position: 3 x 3 windows of every channel, in weight order.
            let columnsT = (base + l.columnsT).assumingMemoryBound(to: UInt8.self)
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let out = columnsT + (oy * g.outWidth + ox) * Kp
                    let y0 = oy * g.stride - g.padding, x0 = ox * g.stride - g.padding
                    let inside = y0 >= 0 && x0 >= 0 && y0 + K <= H && x0 + K <= W
                    var k = 0
                    if inside {
                        // Whole window inside the image: K bytes per kernel row, no checks.
                        for c in 0..<g.inChannels {
                            let window = codes + c * H * W + y0 * W + x0
                            for ky in 0..<K {
                                (out + k).update(from: window + ky * W, count: K)
                                k += K
                            }
                        }
                        for pad in k..<Kp { out[pad] = 0 }
                        continue
                    }
                    for c in 0..<g.inChannels {
                        let plane = codes + c * H * W
                        for ky in 0..<K {
                            let iy = y0 + ky
                            for kx in 0..<K {
                                let ix = x0 + kx
                                out[k] = inside || (iy >= 0 && iy < H && ix >= 0 && ix < W) ? plane[iy * W + ix] : zeroCode
                                k += 1
                            }
                        }
                    }
                    for pad in k..<Kp { out[pad] = 0 }
                }
            }
            return
        }
        let columns = (base + l.columns).assumingMemoryBound(to: UInt8.self)
        for k in 0..<Kp {
            let row = columns + k * P
            guard k < l.depth else { row.update(repeating: 0, count: P); continue }
            let c = k / (K * K), ky = (k / K) % K, kx = k % K
            let plane = codes + c * H * W
            for oy in 0..<g.outHeight {
                let iy = oy * g.stride - g.padding + ky
                let out = row + oy * g.outWidth
                guard iy >= 0 && iy < H else { out.update(repeating: zeroCode, count: g.outWidth); continue }
                let source = plane + iy * W
                for ox in 0..<g.outWidth {
                    let ix = ox * g.stride - g.padding + kx
                    out[ox] = ix >= 0 && ix < W ? source[ix] : zeroCode
                }
            }
        }
    }

    /// Per-tensor uint8 parameters of the whole batch x (dynamic min/max).
    private func batchQuantization(_ x: UnsafePointer<Float>, count: Int) -> ActivationQuantization {
        var low = Float.infinity, high = -Float.infinity
        for i in 0..<count { low = min(low, x[i]); high = max(high, x[i]) }
        return (try? ActivationQuantization(min: low, max: high, tensor: "int8 conv2d input"))
            ?? (try! ActivationQuantization(scale: 1, zeroPoint: 0, tensor: "int8 conv2d input"))
    }

    public func forward(pool: ThreadPool) {
        let g = geometry!, b = binding!, l = Layout(g)
        let base = UnsafeMutableRawPointer(b.scratch!)
        let x = b.inputs[0].floatPointer, bias = b.inputs[2].floatPointer, y = b.output.floatPointer
        let inputSize = g.inChannels * g.height * g.width
        let q = batchQuantization(x, count: g.batch * inputSize)
        inputQuantization = q
        let weights = quantizeWeights(base, l, b.inputs[1].floatPointer)
        let sums = (base + l.sums).assumingMemoryBound(to: Int32.self)
        let workspace = Int8GemmWorkspace(memory: base + l.workspace)
        let P = l.positions, F = l.filters
        for sample in 0..<g.batch {
            unfold(g, l, x + sample * inputSize, q, base, transposed: true)
            // acc[P, F] = columnsT[P, Kp] * weightsT[Kp, F]
            int8Gemm(m: P, n: F, k: l.paddedDepth, a: (base + l.columnsT).assumingMemoryBound(to: UInt8.self), lda: l.paddedDepth,
                     b: weights.transposed, ldb: F, c: sums, ldc: F, workspace: workspace, path: path)
            let out = y + sample * F * P
            for f in 0..<F {
                let scale = q.scale * weights.scales[f], offset = Int32(q.zeroPoint) * weights.sums[f], shift = bias[f]
                let plane = out + f * P
                for p in 0..<P { plane[p] = scale * Float(sums[p * F + f] - offset) + shift }
            }
        }
    }

    public func backward(pool: ThreadPool) {
        let g = geometry!, b = binding!, l = Layout(g), q = inputQuantization!
        let base = UnsafeMutableRawPointer(b.scratch!)
        let x = b.inputs[0].floatPointer, dy = b.outputGradient!.floatPointer
        let inputSize = g.inChannels * g.height * g.width
        let P = l.positions, F = l.filters, Kp = l.paddedDepth
        let weights = quantizeWeights(base, l, b.inputs[1].floatPointer)
        let sums = (base + l.sums).assumingMemoryBound(to: Int32.self)
        let gradient = (base + l.gradient).assumingMemoryBound(to: Int8.self)
        let shifted = (base + l.shifted).assumingMemoryBound(to: UInt8.self)
        let workspace = Int8GemmWorkspace(memory: base + l.workspace)
        // Batch-wide symmetric scales: of dy (weight gradient) and of dy * weight scale (input gradient).
        var largest: Float = 0, largestScaled: Float = 0
        for f in 0..<F {
            var channel: Float = 0
            for sample in 0..<g.batch {
                let plane = dy + (sample * F + f) * P
                for p in 0..<P { channel = max(channel, abs(plane[p])) }
            }
            largest = max(largest, channel)
            largestScaled = max(largestScaled, channel * weights.scales[f])
        }
        let gradientScale = largest > 0 ? largest / 127 : 1, scaledScale = largestScaled > 0 ? largestScaled / 127 : 1
        let dweight = b.inputGradients[1]!.floatPointer
        for sample in 0..<g.batch {
            let outputGradient = dy + sample * F * P
            if let dbias = b.inputGradients[2]?.floatPointer {
                for f in 0..<F { dbias[f] += sum(outputGradient + f * P, P) }
            }
            // Weight gradient: dW^T[Kp, F] = columns[Kp, P] * dyq[P, F], less the input zero point times sum_P dyq.
            unfold(g, l, x + sample * inputSize, q, base, transposed: false)
            let inverse = 1 / gradientScale
            for f in 0..<F {
                let plane = outputGradient + f * P
                for p in 0..<P { gradient[p * F + f] = Int8(min(max((plane[p] * inverse).rounded(.toNearestOrEven), -127), 127)) }
            }
            int8Gemm(m: Kp, n: F, k: P, a: (base + l.columns).assumingMemoryBound(to: UInt8.self), lda: P,
                     b: gradient, ldb: F, c: sums, ldc: F, workspace: workspace, path: path)
            let weightScale = gradientScale * q.scale
            for f in 0..<F {
                var gradientSum: Int32 = 0
                for p in 0..<P { gradientSum += Int32(gradient[p * F + f]) }
                let offset = Int32(q.zeroPoint) * gradientSum
                let row = dweight + f * l.depth
                for k in 0..<l.depth { row[k] += weightScale * Float(sums[k * F + f] - offset) }
            }
            // Input gradient: dcolumns^T[P, Kp] = (g + 128)[P, F] * Wq[F, Kp] - 128 * sum_F Wq, g = dy * s_w quantized.
            guard let dx = b.inputGradients[0]?.floatPointer else { continue }
            let scaledInverse = 1 / scaledScale
            for f in 0..<F {
                let plane = outputGradient + f * P, factor = weights.scales[f] * scaledInverse
                for p in 0..<P {
                    shifted[p * F + f] = UInt8(Int32(min(max((plane[p] * factor).rounded(.toNearestOrEven), -127), 127)) + 128)
                }
            }
            int8Gemm(m: P, n: Kp, k: F, a: shifted, lda: F, b: weights.codes, ldb: Kp, c: sums, ldc: Kp, workspace: workspace, path: path)
            // Fold the columns back onto the input grid, position by position (rows of sums are contiguous).
            let inputGradient = dx + sample * inputSize
            let K = g.kernelHeight, H = g.height, W = g.width
            let columnSums = weights.columnSums
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let row = sums + (oy * g.outWidth + ox) * Kp
                    let y0 = oy * g.stride - g.padding, x0 = ox * g.stride - g.padding
                    var k = 0
                    if y0 >= 0 && x0 >= 0 && y0 + K <= H && x0 + K <= W {
                        // Whole window inside: no checks.
                        for c in 0..<g.inChannels {
                            let window = inputGradient + c * H * W + y0 * W + x0
                            for ky in 0..<K {
                                let line = window + ky * W
                                for kx in 0..<K { line[kx] += scaledScale * Float(row[k + kx] &- 128 &* columnSums[k + kx]) }
                                k += K
                            }
                        }
                        continue
                    }
                    for c in 0..<g.inChannels {
                        let plane = inputGradient + c * H * W
                        for ky in 0..<K {
                            let iy = y0 + ky
                            for kx in 0..<K {
                                let ix = x0 + kx
                                if iy >= 0 && iy < H && ix >= 0 && ix < W {
                                    plane[iy * W + ix] += scaledScale * Float(row[k] - 128 * columnSums[k])
                                }
                                k += 1
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How a model's convolutions are trained.
public enum TrainingPrecision: String, Sendable, CaseIterable {
    /// Float32 throughout.
    case float32
    /// Float32 arithmetic with fake quantization (export to int8 afterwards).
    case quantizationAware
    /// int8 forward and backward GEMMs with float32 master weights.
    case int8
}

extension Graph {
    /// A 2-D convolution (one group, with bias) trained in int8; parameters are named as in
    /// `conv2d`, so checkpoints move between the two.
    public func conv2dInt8Training(_ x: TensorID, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                                   name: String) throws -> TensorID {
        let inChannels = shape(x)[1]
        let fanIn = inChannels * kernel * kernel
        let weight = try parameter(name + ".weight", [outChannels, inChannels, kernel, kernel], initializer: .fanIn(fanIn))
        let bias = try parameter(name + ".bias", [outChannels], initializer: .fanIn(fanIn))
        return try apply(Int8TrainingConv2dOperation(stride: stride, padding: padding), [x, weight, bias], name: name)
    }
}

extension Models {
    /// pc64 with its training precision selectable: `.float32` is `pc64`, `.quantizationAware`
    /// is `pc64QuantizationAware`, `.int8` trains every convolution in int8. Same layers, same
    /// parameter names.
    public static func pc64(batch: Int, pastFrames: Int = 4, size: Int = 64, precision: TrainingPrecision) throws -> FramePredictionModel {
        switch precision {
        case .float32: return try pc64(batch: batch, pastFrames: pastFrames, size: size)
        case .quantizationAware: return try pc64QuantizationAware(batch: batch, pastFrames: pastFrames, size: size)
        case .int8:
            let graph = Graph()
            let frames = try graph.input("frames", [batch, pastFrames, size, size])
            let target = try graph.input("target", [batch, 1, size, size])
            var h = frames
            for (name, channels, stride) in [("e1", 16, 2), ("e2", 32, 2), ("e3", 32, 1)] {
                h = try graph.relu(try graph.conv2dInt8Training(h, outChannels: channels, kernel: 3, stride: stride, padding: 1, name: name))
            }
            h = try graph.upsampleNearest2x(h, name: "d1.upsample")
            h = try graph.relu(try graph.conv2dInt8Training(h, outChannels: 16, kernel: 3, padding: 1, name: "d1"))
            h = try graph.upsampleNearest2x(h, name: "d2.upsample")
            let prediction = try graph.sigmoid(try graph.conv2dInt8Training(h, outChannels: 1, kernel: 3, padding: 1, name: "d2"))
            let loss = try graph.mseLoss(prediction, target, name: "loss")
            return FramePredictionModel(graph: graph, frames: frames, target: target, prediction: prediction, loss: loss,
                                        predictionError: loss, motion: nil)
        }
    }
}

/// int8 master weights for int8 training: after each optimizer step, the weights of every
/// int8-trained convolution are put back on an int8 grid (per-channel scale max |w| / 127) by
/// stochastic rounding, so that between steps a weight holds no more than its int8 code and
/// its channel's scale (the optimizer's state stays float32). Use it to measure whether the
/// float32 master copy is needed; it allocates nothing.
///
/// ```swift
/// let masters = Int8MasterWeights(program, seed: 1)
/// try program.step(); masters.apply()
/// ```
public final class Int8MasterWeights {
    private let weights: [(values: UnsafeMutablePointer<Float>, channels: Int, perChannel: Int)]
    private var rng: SeededRandom

    public init(_ program: Program, seed: UInt64) {
        var found: [(UnsafeMutablePointer<Float>, Int, Int)] = []
        for node in program.graph.nodes where node.operation is Int8TrainingConv2dOperation {
            let tensor = program.tensor(node.inputs[1])
            found.append((tensor.floatPointer, tensor.shape[0], tensor.count / tensor.shape[0]))
        }
        weights = found
        rng = SeededRandom(seed: seed)
    }

    /// Projects the weights onto their int8 grids (stochastic rounding: unbiased on average).
    public func apply() {
        for (values, channels, perChannel) in weights {
            for channel in 0..<channels {
                let row = values + channel * perChannel
                var largest: Float = 0
                for i in 0..<perChannel { largest = max(largest, abs(row[i])) }
                guard largest > 0 else { continue }
                let scale = largest / 127, inverse = 1 / scale
                for i in 0..<perChannel {
                    let code = (row[i] * inverse + rng.nextFloat()).rounded(.down)
                    row[i] = min(max(code, -127), 127) * scale
                }
            }
        }
    }
}
