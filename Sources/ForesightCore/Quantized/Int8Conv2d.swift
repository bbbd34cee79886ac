// int8 2-D convolution over NHWC uint8 images with a border: per-output-channel symmetric int8
// weights, per-tensor asymmetric uint8 activations, int32 accumulation, the input zero point
// folded into an int32 bias, Q31 requantization and fused ReLU in the tile's store step.
// Implicit GEMM: the tile reads receptive fields in place (quad offsets), no im2col. Depthwise
// convolution has its own loop (Swift SIMD). Not NCHW and not grouped (other than depthwise).
//
// Symbols: N batch, C input channels (Cs: padded to 4 in memory), H x W input, F output
// channels, OH x OW output, K kernel, s stride, p padding, b border of a stored image.

import CKernels

/// How an int8 image [N, H, W, C] sits in memory: NHWC, channels padded to a multiple of 4,
/// a border of `border` pixels on every side (holding the zero point, so that a convolution
/// with padding <= border reads real zeros).
///
/// ```swift
/// let layout = Int8ImageLayout(height: 64, width: 64, channels: 4, border: 1)
/// layout.sampleBytes     // 66 * 66 * 4
/// ```
public struct Int8ImageLayout: Sendable, Equatable {
    /// Extents of the interior and the border width, in pixels.
    public let height, width, channels, border: Int

    /// A layout; extents must be positive, the border not negative.
    public init(height: Int, width: Int, channels: Int, border: Int) {
        precondition(height > 0 && width > 0 && channels > 0 && border >= 0,
                     "int8 image \(height)x\(width)x\(channels) with border \(border) is not valid")
        self.height = height; self.width = width; self.channels = channels; self.border = border
    }

    /// Bytes from one pixel to the next (channels rounded up to 4).
    public var channelStride: Int { (channels + 3) / 4 * 4 }
    /// Bytes of one stored row, border included.
    public var rowBytes: Int { (width + 2 * border) * channelStride }
    /// Bytes of one sample, border included.
    public var sampleBytes: Int { (height + 2 * border) * rowBytes }
    /// Byte offset of pixel (y, x), channel 0, within a sample; y and x may reach into the border.
    @inline(__always)
    public func offset(y: Int, x: Int) -> Int { (y + border) * rowBytes + (x + border) * channelStride }
}

/// Quantized float32 NCHW [N, C, H, W] -> int8 image (interior only; fill the border once
/// with the zero point). Rows are quantized plane by plane (contiguous, vectorised by the
/// compiler) into a small stack buffer, then interleaved into pixels.
public func quantizeImage(_ x: UnsafePointer<Float>, batch: Int, _ layout: Int8ImageLayout,
                          _ q: ActivationQuantization, into y: UnsafeMutablePointer<UInt8>) {
    let plane = layout.height * layout.width, width = layout.width, channels = layout.channels
    let inverse = 1 / q.scale, zero = Float(q.zeroPoint)
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: channels * width) { rowCodes in
        let codes = rowCodes.baseAddress!
        for sample in 0..<batch {
            let source = x + sample * channels * plane
            let target = y + sample * layout.sampleBytes
            for row in 0..<layout.height {
                for c in 0..<channels {
                    let values = source + c * plane + row * width, out = codes + c * width
                    for column in 0..<width {
                        out[column] = UInt8(min(max((values[column] * inverse).rounded(.toNearestOrEven) + zero, 0), 255))
                    }
                }
                let pixels = target + layout.offset(y: row, x: 0)
                if channels == 4 && layout.channelStride == 4 {
                    let raw = UnsafeMutableRawPointer(pixels)
                    for column in 0..<width {
                        let word = UInt32(codes[column]) | UInt32(codes[width + column]) << 8
                            | UInt32(codes[2 * width + column]) << 16 | UInt32(codes[3 * width + column]) << 24
                        raw.storeBytes(of: word, toByteOffset: 4 * column, as: UInt32.self)
                    }
                } else {
                    for column in 0..<width {
                        for c in 0..<channels { pixels[column * layout.channelStride + c] = codes[c * width + column] }
                    }
                }
            }
        }
    }
}

/// int8 image -> float32 NCHW [N, C, H, W].
public func dequantizeImage(_ x: UnsafePointer<UInt8>, batch: Int, _ layout: Int8ImageLayout,
                            _ q: ActivationQuantization, into y: UnsafeMutablePointer<Float>) {
    let plane = layout.height * layout.width
    let zero = Int32(q.zeroPoint), scale = q.scale
    for sample in 0..<batch {
        let source = x + sample * layout.sampleBytes
        let target = y + sample * layout.channels * plane
        for row in 0..<layout.height {
            let input = source + layout.offset(y: row, x: 0)
            var c0 = 0
            // 16 channels of a pixel at a time: one vector load, 16 stores into the planes.
            while c0 + 16 <= layout.channels {
                for column in 0..<layout.width {
                    let codes = input + column * layout.channelStride + c0
                    let out = target + c0 * plane + row * layout.width + column
                    for lane in 0..<16 { out[lane * plane] = scale * Float(Int32(codes[lane]) - zero) }
                }
                c0 += 16
            }
            for c in c0..<layout.channels {
                let out = target + c * plane + row * layout.width
                for column in 0..<layout.width {
                    out[column] = scale * Float(Int32(input[column * layout.channelStride + c]) - zero)
                }
            }
        }
    }
}

/// An int8 convolution layer (one group, square kernel), ready to run: packed weights, folded
/// bias and per-channel requantization, made once from float32 weights.
///
/// ```swift
/// let conv = try Int8Conv2d(geometry, weights: w, bias: b, input: qIn, output: qOut, relu: true, outputBorder: 1)
/// conv.forward(x: image, y: next, path: .best, chunk: 0, of: 1)
/// ```
public final class Int8Conv2d: @unchecked Sendable {
    /// Sizes (groups 1).
    public let geometry: Conv2dGeometry
    /// Parameters of the uint8 input and output images.
    public let input: ActivationQuantization
    public let output: ActivationQuantization
    /// Per-output-channel weight scales [F].
    public let weightScales: [Float]
    /// The int8 weights [F, C, K, K] (for reports and model files).
    public let weightCodes: [Int8]
    /// Whether a ReLU is fused (outputs clamp at the zero point).
    public let relu: Bool
    /// Where the input is read (border = padding) and where the output goes.
    public let inputLayout: Int8ImageLayout
    public let outputLayout: Int8ImageLayout

    private let packed: UnsafeMutablePointer<Int8>
    private let quadOffsets: UnsafeMutablePointer<Int32>
    private let quads: Int
    /// Per padded output channel: folded bias, Q31 multiplier, shift.
    private let bias: UnsafeMutablePointer<Int32>
    private let multiplier: UnsafeMutablePointer<Int32>
    private let shift: UnsafeMutablePointer<Int32>

    /// Quantizes float32 weights [F, C, K, K] (per output channel) and bias [F]; the input is
    /// read from images with border `geometry.padding`, the output written with `outputBorder`.
    public convenience init(_ geometry: Conv2dGeometry, weights: UnsafePointer<Float>, bias floatBias: UnsafePointer<Float>?,
                            input: ActivationQuantization, output: ActivationQuantization, relu: Bool, outputBorder: Int,
                            name: String = "conv") throws(CoreError) {
        let perChannel = geometry.groupInChannels * geometry.kernelHeight * geometry.kernelWidth
        let (codes, scales) = quantizeWeightsPerChannel(UnsafeBufferPointer(start: weights, count: geometry.outChannels * perChannel),
                                                        channels: geometry.outChannels)
        try self.init(geometry, weightCodes: codes, weightScales: scales,
                      bias: floatBias.map { Array(UnsafeBufferPointer(start: $0, count: geometry.outChannels)) },
                      input: input, output: output, relu: relu, outputBorder: outputBorder, name: name)
    }

    /// A layer from stored int8 weights [F, C, K, K] and their per-channel scales [F] (a model
    /// file): a zero, negative or NaN scale, or a code outside [-127, 127], throws naming the tensor.
    public init(_ geometry: Conv2dGeometry, weightCodes codes: [Int8], weightScales scales: [Float], bias floatBias: [Float]?,
                input: ActivationQuantization, output: ActivationQuantization, relu: Bool, outputBorder: Int,
                name: String = "conv") throws(CoreError) {
        precondition(geometry.groups == 1, "Int8Conv2d takes one group; use Int8DepthwiseConv2d for depthwise layers")
        let g = geometry
        let perChannel = g.inChannels * g.kernelHeight * g.kernelWidth
        precondition(codes.count == g.outChannels * perChannel && scales.count == g.outChannels && (floatBias?.count ?? g.outChannels) == g.outChannels,
                     "\(name): \(codes.count) weight codes, \(scales.count) scales and \(floatBias?.count ?? 0) biases for \(g.weightShape)")
        for (channel, scale) in scales.enumerated() { try validateScale(scale, tensor: "\(name).weight_scale[\(channel)]") }
        if let bad = codes.firstIndex(of: -128) { throw .invalidWeightCode(tensor: "\(name).weight", index: bad) }
        // Everything that can fail is checked before memory is taken (a throwing init still runs deinit).
        var multipliers: [FixedPointMultiplier] = []
        for filter in 0..<g.outChannels {
            multipliers.append(try FixedPointMultiplier(Double(input.scale) * Double(scales[filter]) / Double(output.scale), tensor: name))
        }
        self.geometry = g; self.input = input; self.output = output; self.relu = relu
        inputLayout = Int8ImageLayout(height: g.height, width: g.width, channels: g.inChannels, border: g.padding)
        outputLayout = Int8ImageLayout(height: g.outHeight, width: g.outWidth, channels: g.outChannels, border: outputBorder)
        weightCodes = codes; weightScales = scales
        let channelQuads = inputLayout.channelStride / 4
        quads = g.kernelHeight * g.kernelWidth * channelQuads
        quadOffsets = .allocate(capacity: quads)
        for ky in 0..<g.kernelHeight {
            for kx in 0..<g.kernelWidth {
                for cq in 0..<channelQuads {
                    quadOffsets[(ky * g.kernelWidth + kx) * channelQuads + cq] = Int32(ky * inputLayout.rowBytes + kx * inputLayout.channelStride + 4 * cq)
                }
            }
        }
        let panels = (g.outChannels + 15) / 16
        packed = .allocate(capacity: panels * quads * 64)
        let kernelArea = g.kernelHeight * g.kernelWidth, kernelWidth = g.kernelWidth, inChannels = g.inChannels
        let channelStride = inputLayout.channelStride
        packInt8Weights(k: quads * 4, n: g.outChannels, into: packed) { depth, filter in
            let position = depth / channelStride, channel = depth % channelStride
            guard channel < inChannels else { return 0 }
            let ky = position / kernelWidth, kx = position % kernelWidth
            return codes[filter * perChannel + channel * kernelArea + ky * kernelWidth + kx]
        }
        let padded = panels * 16
        bias = .allocate(capacity: padded); multiplier = .allocate(capacity: padded); shift = .allocate(capacity: padded)
        bias.initialize(repeating: 0, count: padded); multiplier.initialize(repeating: 0, count: padded); shift.initialize(repeating: 0, count: padded)
        for filter in 0..<g.outChannels {
            let accumulatorScale = Double(input.scale) * Double(scales[filter])
            var codeSum: Int64 = 0
            for i in 0..<perChannel { codeSum += Int64(codes[filter * perChannel + i]) }
            let realBias = floatBias.map { Double($0[filter]) / accumulatorScale } ?? 0
            let folded = realBias.rounded() - Double(input.zeroPoint) * Double(codeSum)
            bias[filter] = Int32(folded.clamped(to: Double(Int32.min)...Double(Int32.max)))
            multiplier[filter] = multipliers[filter].multiplier
            shift[filter] = multipliers[filter].shift
        }
    }

    deinit {
        packed.deallocate(); quadOffsets.deallocate(); bias.deallocate(); multiplier.deallocate(); shift.deallocate()
    }

    /// Chunk `chunk` of `chunks` (an even share of the output rows of all samples) of y = requantize(conv(x)).
    /// x: int8 images in `inputLayout`, y: int8 images in `outputLayout` (only the interior is written).
    public func forward(x: UnsafePointer<UInt8>, y: UnsafeMutablePointer<UInt8>, path: Int8KernelPath, chunk: Int, of chunks: Int) {
        let g = geometry
        let totalRows = g.batch * g.outHeight
        let first = totalRows * chunk / chunks, last = totalRows * (chunk + 1) / chunks
        let tile = path.tile
        var t = fs_qtile()
        t.quad_offsets = UnsafePointer(quadOffsets)
        t.quads = Int32(quads)
        t.a_row_stride = g.stride * inputLayout.channelStride
        t.out_row_stride = outputLayout.channelStride
        t.zero_point = output.zeroPoint
        t.qmin = relu ? output.zeroPoint : 0
        t.qmax = 255
        let panels = (g.outChannels + 15) / 16
        for outputRow in first..<last {
            let sample = outputRow / g.outHeight, oy = outputRow % g.outHeight
            let inputSample = x + sample * inputLayout.sampleBytes
            let outputSample = y + sample * outputLayout.sampleBytes
            var ox = 0
            while ox < g.outWidth {
                t.a = inputSample + inputLayout.offset(y: oy * g.stride - g.padding, x: ox * g.stride - g.padding)
                t.rows = Int32(min(int8TileRows, g.outWidth - ox))
                var panel = 0
                while panel < panels {
                    t.b = UnsafePointer(packed + panel * quads * 64)
                    t.panels = Int32(min(2, panels - panel))
                    t.columns = Int32(min(32, g.outChannels - panel * 16))
                    t.out = outputSample + outputLayout.offset(y: oy, x: ox) + panel * 16
                    t.bias = UnsafePointer(bias + panel * 16)
                    t.multiplier = UnsafePointer(multiplier + panel * 16)
                    t.shift = UnsafePointer(shift + panel * 16)
                    withUnsafePointer(to: &t) { tile($0) }
                    panel += 2
                }
                ox += int8TileRows
            }
        }
    }
}

/// An int8 depthwise convolution (groups = C = F, square kernel) over NHWC images; channels
/// are the SIMD lanes (16 at a time). Portable Swift: depthwise layers are memory-bound.
public final class Int8DepthwiseConv2d: @unchecked Sendable {
    /// Sizes (groups = C = F).
    public let geometry: Conv2dGeometry
    /// Parameters of the uint8 input and output images.
    public let input: ActivationQuantization
    public let output: ActivationQuantization
    /// Per-channel weight scales [C].
    public let weightScales: [Float]
    /// Whether a ReLU is fused (outputs clamp at the zero point).
    public let relu: Bool
    /// Where the input is read (border = padding) and where the output goes.
    public let inputLayout: Int8ImageLayout
    public let outputLayout: Int8ImageLayout
    /// Weights as int32, [K * K][Cp16] (channels padded to 16), zero-point folded bias and requantization per channel.
    private let weights: [Int32]
    private let bias: [Int32], multiplier: [Int32], shift: [Int32]
    private let lanes: Int

    /// Quantizes float32 weights [C, 1, K, K] and bias [C].
    public init(_ geometry: Conv2dGeometry, weights floatWeights: UnsafePointer<Float>, bias floatBias: UnsafePointer<Float>?,
                input: ActivationQuantization, output: ActivationQuantization, relu: Bool, outputBorder: Int,
                name: String = "depthwise") throws(CoreError) {
        let g = geometry
        precondition(g.groups == g.inChannels && g.outChannels == g.inChannels, "Int8DepthwiseConv2d needs groups = in = out channels")
        self.geometry = g; self.input = input; self.output = output; self.relu = relu
        inputLayout = Int8ImageLayout(height: g.height, width: g.width, channels: g.inChannels, border: g.padding)
        outputLayout = Int8ImageLayout(height: g.outHeight, width: g.outWidth, channels: g.outChannels, border: outputBorder)
        let area = g.kernelHeight * g.kernelWidth
        let (codes, scales) = quantizeWeightsPerChannel(UnsafeBufferPointer(start: floatWeights, count: g.outChannels * area), channels: g.outChannels)
        weightScales = scales
        lanes = (g.outChannels + 15) / 16 * 16
        var packed = [Int32](repeating: 0, count: area * lanes)
        var bias = [Int32](repeating: 0, count: lanes), multiplier = bias, shift = bias
        for c in 0..<g.outChannels {
            var codeSum: Int64 = 0
            for tap in 0..<area {
                packed[tap * lanes + c] = Int32(codes[c * area + tap])
                codeSum += Int64(codes[c * area + tap])
            }
            let accumulatorScale = Double(input.scale) * Double(scales[c])
            let realBias = floatBias.map { Double($0[c]) / accumulatorScale } ?? 0
            bias[c] = Int32((realBias.rounded() - Double(input.zeroPoint) * Double(codeSum)).clamped(to: Double(Int32.min)...Double(Int32.max)))
            let fixed = try FixedPointMultiplier(accumulatorScale / Double(output.scale), tensor: name)
            multiplier[c] = fixed.multiplier; shift[c] = fixed.shift
        }
        weights = packed; self.bias = bias; self.multiplier = multiplier; self.shift = shift
    }

    /// Chunk `chunk` of `chunks` (an even share of the output rows of all samples) of y = requantize(depthwise(x)).
    public func forward(x: UnsafePointer<UInt8>, y: UnsafeMutablePointer<UInt8>, chunk: Int, of chunks: Int) {
        let g = geometry
        let totalRows = g.batch * g.outHeight
        let first = totalRows * chunk / chunks, last = totalRows * (chunk + 1) / chunks
        let channels = g.outChannels, qmin = relu ? output.zeroPoint : 0
        weights.withUnsafeBufferPointer { weights in
            for outputRow in first..<last {
                let sample = outputRow / g.outHeight, oy = outputRow % g.outHeight
                let inputSample = x + sample * inputLayout.sampleBytes
                let outputSample = y + sample * outputLayout.sampleBytes
                for ox in 0..<g.outWidth {
                    let origin = inputSample + inputLayout.offset(y: oy * g.stride - g.padding, x: ox * g.stride - g.padding)
                    let out = outputSample + outputLayout.offset(y: oy, x: ox)
                    var c0 = 0
                    while c0 < channels {
                        var sum = SIMD16<Int32>()
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                let pixel = origin + ky * inputLayout.rowBytes + kx * inputLayout.channelStride + c0
                                let w = UnsafeRawPointer(weights.baseAddress! + (ky * g.kernelWidth + kx) * lanes + c0)
                                var values = SIMD16<Int32>()
                                let count = min(16, inputLayout.channelStride - c0)
                                if count == 16 {
                                    values = SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(pixel).loadUnaligned(as: SIMD16<UInt8>.self))
                                } else {
                                    for lane in 0..<count { values[lane] = Int32(pixel[lane]) }
                                }
                                sum &+= values &* w.loadUnaligned(as: SIMD16<Int32>.self)
                            }
                        }
                        for lane in 0..<min(16, channels - c0) {
                            let c = c0 + lane
                            out[c] = UInt8(truncatingIfNeeded: requantize(sum[lane], bias: bias[c], multiplier: multiplier[c], shift: shift[c],
                                                                          zeroPoint: output.zeroPoint, min: qmin, max: 255))
                        }
                        c0 += 16
                    }
                }
            }
        }
    }
}
