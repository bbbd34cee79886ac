// Float32 2-D convolution over NCHW tensors, forward and backward, in chunks of samples that
// the thread pool's threads claim. The general path is im2col + packed GEMM per sample and
// group (any stride, padding, groups, depthwise included). Two shortcuts where im2col wastes
// most: layers with few output channels (F <= 4, stride 1) run directly over a zero-padded
// copy of the input, and the input gradient of stride-1 layers is the forward convolution of
// the output gradient with flipped weights (no scatter). Not Winograd or FFT.
//
// Symbols: N batch, C input channels, H x W input size, F output channels ("filters"),
// OH x OW output size, KH x KW kernel, G groups; K = C/G * KH * KW is the im2col depth.

/// The sizes of one convolution; checked once when a layer is built.
///
/// ```swift
/// let geometry = try Conv2dGeometry(batch: 8, inChannels: 4, height: 64, width: 64,
///                                   outChannels: 16, kernel: 3, stride: 2, padding: 1)
/// geometry.outHeight   // 32
/// ```
public struct Conv2dGeometry: Sendable, Equatable {
    public let batch, inChannels, height, width: Int
    public let outChannels, kernelHeight, kernelWidth, stride, padding, groups: Int
    public let outHeight, outWidth: Int

    public init(
        batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int,
        kernel: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1
    ) throws(CoreError) {
        let operation = "conv2d"
        guard batch > 0, inChannels > 0, height > 0, width > 0, outChannels > 0 else {
            throw .shapeMismatch(operation: operation, expected: "positive batch, channels and size",
                            got: "batch \(batch), in \(inChannels), \(height)x\(width), out \(outChannels)")
        }
        guard kernel > 0, stride > 0, padding >= 0 else {
            throw .shapeMismatch(operation: operation, expected: "kernel >= 1, stride >= 1, padding >= 0",
                            got: "kernel \(kernel), stride \(stride), padding \(padding)")
        }
        guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
            throw .shapeMismatch(operation: operation, expected: "groups dividing input (\(inChannels)) and output (\(outChannels)) channels",
                            got: "groups \(groups)")
        }
        let outHeight = (height + 2 * padding - kernel) / stride + 1
        let outWidth = (width + 2 * padding - kernel) / stride + 1
        guard height + 2 * padding >= kernel, width + 2 * padding >= kernel else {
            throw .shapeMismatch(operation: operation, expected: "a padded input at least as large as the \(kernel)x\(kernel) kernel",
                            got: "\(height)x\(width) with padding \(padding)")
        }
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; self.kernelHeight = kernel; self.kernelWidth = kernel
        self.stride = stride; self.padding = padding; self.groups = groups
        self.outHeight = outHeight; self.outWidth = outWidth
    }

    /// Input channels per group.
    public var groupInChannels: Int { inChannels / groups }
    /// Output channels per group.
    public var groupOutChannels: Int { outChannels / groups }
    /// im2col rows per group (K).
    public var columnRows: Int { groupInChannels * kernelHeight * kernelWidth }
    /// im2col columns (OH * OW).
    public var columnCount: Int { outHeight * outWidth }
    /// Weight shape [F, C/G, KH, KW].
    public var weightShape: [Int] { [outChannels, groupInChannels, kernelHeight, kernelWidth] }
    /// Output shape [N, F, OH, OW].
    public var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
    /// Whether the input itself is its im2col matrix (1x1, stride 1, no padding).
    public var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }
    /// Few output channels, stride 1, one group: computed directly, without im2col.
    public var usesDirectPath: Bool { outChannels <= 4 && stride == 1 && groups == 1 && !isPointwise }
    /// Stride 1, one group: the input gradient is a convolution of the output gradient.
    public var usesTransposedInputGradient: Bool { stride == 1 && groups == 1 && !isPointwise && padding <= kernelHeight - 1 }
    /// Padded input extents of the direct path.
    var paddedHeight: Int { height + 2 * padding }
    var paddedWidth: Int { width + 2 * padding }
    /// The convolution whose forward pass is this one's input gradient (stride 1, one group):
    /// F input channels, C output channels, padding K - 1 - padding, over the output grid.
    var transposed: Conv2dGeometry {
        try! Conv2dGeometry(batch: 1, inChannels: outChannels, height: outHeight, width: outWidth, outChannels: inChannels,
                            kernel: kernelHeight, stride: 1, padding: kernelHeight - 1 - padding)
    }

    /// Multiply-adds of one forward pass.
    public var multiplyAdds: Int { batch * outChannels * columnCount * columnRows }

    /// Chunks of the backward pass: groups of samples, each summing its weight and bias
    /// gradients privately; the sums are then added in chunk order. Fixed by the batch, not by
    /// the thread count, so that gradients are the same for any number of threads.
    public var backwardChunks: Int { min(batch, conv2dBackwardChunkLimit) }
}

/// Most chunks of a convolution's backward pass: each holds a private copy of the weight gradient.
public let conv2dBackwardChunkLimit = 16

/// Scratch of a convolution: the private weight and bias gradients of each backward chunk and
/// the flipped weights all backward chunks read, then, per thread, an im2col matrix, padded
/// planes and a GEMM workspace.
public struct Conv2dScratch: @unchecked Sendable {
    /// Floats a convolution on `threads` threads needs.
    public static func floatCount(_ g: Conv2dGeometry, threads: Int) -> Int {
        sharedFloats(g) + threads * layout(g).total
    }

    /// Floats before the threads' parts: the chunks' gradients, then the flipped weights.
    static func sharedFloats(_ g: Conv2dGeometry) -> Int {
        g.backwardChunks * gradientFloats(g) + flippedFloats(g)
    }

    /// Floats of the flipped weights [C, F, K, K] of the input gradient (0 when it does not use them).
    static func flippedFloats(_ g: Conv2dGeometry) -> Int {
        g.usesTransposedInputGradient ? Arena.roundUp(g.outChannels * g.columnRows * 4) / 4 : 0
    }

    /// The flipped weights, written by `conv2dBackwardPrepare` and read by every backward chunk.
    static func flippedWeights(_ g: Conv2dGeometry, memory: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        memory + g.backwardChunks * gradientFloats(g)
    }

    /// Floats of one backward chunk's private weight and bias gradients.
    static func gradientFloats(_ g: Conv2dGeometry) -> Int {
        Arena.roundUp((g.outChannels * g.columnRows + g.outChannels) * 4) / 4
    }

    /// Backward chunk `chunk`'s private weight gradient [F, K], followed by its bias gradient [F].
    static func gradientPartial(_ g: Conv2dGeometry, memory: UnsafeMutablePointer<Float>, chunk: Int) -> UnsafeMutablePointer<Float> {
        memory + chunk * gradientFloats(g)
    }

    /// Offsets (in floats) of one thread's parts: columns (im2col of the input or of the output
    /// gradient), the zero-padded planes that im2col and the direct path read, row offsets, the
    /// GEMM workspace.
    private static func layout(_ g: Conv2dGeometry) -> (padded: Int, offsets: Int, gemm: Int, total: Int) {
        func rounded(_ floats: Int) -> Int { Arena.roundUp(floats * 4) / 4 }
        var columns = g.columnRows * g.columnCount
        var padded = g.isPointwise ? 0 : g.inChannels * g.paddedHeight * g.paddedWidth
        if g.usesTransposedInputGradient {
            let t = g.transposed
            columns = max(columns, t.columnRows * t.columnCount)
            padded = max(padded, t.inChannels * t.paddedHeight * t.paddedWidth)
        }
        let paddedStart = rounded(columns)
        let offsetsStart = paddedStart + rounded(padded)
        let offsets = g.columnRows + (g.usesTransposedInputGradient ? g.transposed.columnRows : 0)
        let gemmStart = offsetsStart + rounded(offsets)
        return (paddedStart, offsetsStart, gemmStart, gemmStart + GemmWorkspace.floatCount)
    }

    let columns: UnsafeMutablePointer<Float>
    let padded: UnsafeMutablePointer<Float>
    /// Row offsets of the implicit GEMM: the layer's, then its input gradient's.
    let offsets: UnsafeMutablePointer<Int32>
    let transposedOffsets: UnsafeMutablePointer<Int32>
    let flippedWeights: UnsafeMutablePointer<Float>
    let gemmWorkspace: GemmWorkspace

    /// Carves thread `thread`'s scratch out of `memory` (`floatCount(g, threads:)` floats).
    public init(_ g: Conv2dGeometry, memory: UnsafeMutablePointer<Float>, thread: Int) {
        let parts = Conv2dScratch.layout(g)
        let base = memory + Conv2dScratch.sharedFloats(g) + thread * parts.total
        columns = base
        padded = base + parts.padded
        offsets = UnsafeMutableRawPointer(base + parts.offsets).assumingMemoryBound(to: Int32.self)
        transposedOffsets = offsets + g.columnRows
        flippedWeights = Conv2dScratch.flippedWeights(g, memory: memory)
        gemmWorkspace = GemmWorkspace(memory: base + parts.gemm)
    }
}

/// y = conv(x, weight) + bias, all threads of `pool`.
/// x: [N, C, H, W], weight: [F, C/G, KH, KW], bias: [F] or nil, y: [N, F, OH, OW];
/// scratch: `Conv2dScratch.floatCount(g, threads: pool.threadCount)` floats.
public func conv2dForward(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, pool: ThreadPool
) {
    let chunks = pool.chunks(items: g.batch)
    pool.parallelFor(chunks) { chunk, thread in
        conv2dForward(g, x: x, weight: weight, bias: bias, y: y, scratch: scratch, chunk: chunk, of: chunks, thread: thread)
    }
}

/// Chunk `chunk` of `chunks` of `conv2dForward` (an even share of the samples), on thread
/// `thread`'s scratch.
public func conv2dForward(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, chunk: Int, of chunks: Int, thread: Int = 0
) {
    let inputSize = g.inChannels * g.height * g.width
    let outputSize = g.outChannels * g.columnCount
    let work = Conv2dScratch(g, memory: scratch, thread: thread)
    let samples = ThreadPool.range(chunk: chunk, of: chunks, items: g.batch)
    guard !samples.isEmpty else { return }
    if g.supportsImplicitGemm { unfoldedRowOffsets(g, work.offsets) }
    for sample in samples {
        let input = x + sample * inputSize
        let output = y + sample * outputSize
        if g.usesDirectPath {
            padPlanes(g, input, channels: g.inChannels, work.padded)
            directForward(g, work.padded, weight, bias, output)
            continue
        }
        if g.supportsImplicitGemm {
            padPlanes(g, input, channels: g.inChannels, work.padded)
            implicitGemmForward(g, weights: weight, padded: work.padded, offsets: work.offsets, output: output,
                                accumulate: false, workspace: work.gemmWorkspace)
            if let bias {
                for filter in 0..<g.outChannels { addScalar(bias[filter], output + filter * g.columnCount, g.columnCount) }
            }
            continue
        }
        for group in 0..<g.groups {
            let groupInput = input + group * g.groupInChannels * g.height * g.width
            let columns: UnsafePointer<Float>
            if g.isPointwise {
                columns = UnsafePointer(groupInput)
            } else {
                im2col(g, groupInput, work.columns, padded: work.padded)
                columns = UnsafePointer(work.columns)
            }
            gemm(m: g.groupOutChannels, n: g.columnCount, k: g.columnRows,
                 a: weight + group * g.groupOutChannels * g.columnRows, lda: g.columnRows,
                 b: columns, ldb: g.columnCount,
                 c: output + group * g.groupOutChannels * g.columnCount, ldc: g.columnCount,
                 workspace: work.gemmWorkspace)
        }
        if let bias {
            for filter in 0..<g.outChannels {
                addScalar(bias[filter], output + filter * g.columnCount, g.columnCount)
            }
        }
    }
}

/// Gradients of `conv2dForward`, accumulated: dweight += ..., dbias += ..., dx += ... (dx may be nil).
/// x: [N, C, H, W], weight: [F, C/G, KH, KW], dy: [N, F, OH, OW]; scratch as for the forward pass.
public func conv2dBackward(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
    scratch: UnsafeMutablePointer<Float>, pool: ThreadPool
) {
    conv2dBackwardPrepare(g, weight: weight, inputGradient: dx != nil, scratch: scratch)
    pool.parallelFor(g.backwardChunks) { chunk, thread in
        conv2dBackward(g, x: x, weight: weight, dy: dy, dx: dx, dweight: dweight, dbias: dbias,
                       scratch: scratch, chunk: chunk, thread: thread)
    }
    let reduceChunks = conv2dBackwardReduceChunks(g, pool: pool)
    pool.parallelFor(reduceChunks) { chunk, _ in
        conv2dBackwardReduce(g, dweight: dweight, dbias: dbias, scratch: scratch, chunk: chunk, of: reduceChunks)
    }
}

/// What every chunk of a backward pass reads and none writes, made once before them: the
/// flipped weights of the input gradient (when `inputGradient` is asked for and the geometry
/// computes it as a transposed convolution).
public func conv2dBackwardPrepare(_ g: Conv2dGeometry, weight: UnsafePointer<Float>, inputGradient: Bool, scratch: UnsafeMutablePointer<Float>) {
    if inputGradient && g.usesTransposedInputGradient { flipWeights(g, weight, Conv2dScratch.flippedWeights(g, memory: scratch)) }
}

/// Chunk `chunk` of the `g.backwardChunks` chunks of `conv2dBackward` (an even share of the
/// samples), on thread `thread`'s scratch. `conv2dBackwardPrepare` must have run before any
/// chunk. It adds into `dx` directly (its samples' rows are its own) and sums the weight and
/// bias gradients of its samples privately: `conv2dBackwardReduce` must run once all chunks
/// have finished.
public func conv2dBackward(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
    scratch: UnsafeMutablePointer<Float>, chunk: Int, thread: Int = 0
) {
    let inputSize = g.inChannels * g.height * g.width
    let outputSize = g.outChannels * g.columnCount
    let weightCount = g.outChannels * g.columnRows
    let work = Conv2dScratch(g, memory: scratch, thread: thread)
    let weightSum = Conv2dScratch.gradientPartial(g, memory: scratch, chunk: chunk)
    let biasSum = dbias == nil ? nil : weightSum + weightCount
    weightSum.update(repeating: 0, count: weightCount)
    biasSum?.update(repeating: 0, count: g.outChannels)
    let samples = ThreadPool.range(chunk: chunk, of: g.backwardChunks, items: g.batch)
    if dx != nil && g.usesTransposedInputGradient && g.transposed.supportsImplicitGemm {
        unfoldedRowOffsets(g.transposed, work.transposedOffsets)
    }
    if g.supportsImplicitGemm { unfoldedRowOffsets(g, work.offsets) }
    for sample in samples {
        let input = x + sample * inputSize
        let outputGradient = dy + sample * outputSize
        if g.usesDirectPath {
            padPlanes(g, input, channels: g.inChannels, work.padded)
            directWeightGradient(g, work.padded, outputGradient, weightSum)
        } else if g.supportsImplicitGemm {
            padPlanes(g, input, channels: g.inChannels, work.padded)
            implicitWeightGradient(g, dy: outputGradient, padded: work.padded, offsets: work.offsets, dweight: weightSum)
        }
        for group in 0..<g.groups where !g.usesDirectPath && !g.supportsImplicitGemm {
            let groupInput = input + group * g.groupInChannels * g.height * g.width
            let groupGradient = outputGradient + group * g.groupOutChannels * g.columnCount
            let columns: UnsafePointer<Float>
            if g.isPointwise {
                columns = groupInput
            } else {
                im2col(g, groupInput, work.columns, padded: work.padded)
                columns = UnsafePointer(work.columns)
            }
            // dW_g[Fg, K] += dY_g[Fg, OHW] * col[K, OHW]^T
            gemm(transB: true, m: g.groupOutChannels, n: g.columnRows, k: g.columnCount,
                 a: groupGradient, lda: g.columnCount, b: columns, ldb: g.columnCount,
                 c: weightSum + group * g.groupOutChannels * g.columnRows, ldc: g.columnRows,
                 accumulate: true, workspace: work.gemmWorkspace)
        }
        if let dx {
            let sampleGradient = dx + sample * inputSize
            if g.usesTransposedInputGradient {
                // dX[C, HW] += flip(W)[C, F*KK] * im2col(dY)[F*KK, HW]
                let t = g.transposed
                if t.supportsImplicitGemm {
                    padPlanes(t, outputGradient, channels: t.inChannels, work.padded)
                    implicitGemmForward(t, weights: work.flippedWeights, padded: work.padded, offsets: work.transposedOffsets,
                                        output: sampleGradient, accumulate: true, workspace: work.gemmWorkspace)
                } else {
                    im2col(t, outputGradient, work.columns, padded: work.padded)
                    gemm(m: t.outChannels, n: t.columnCount, k: t.columnRows, a: work.flippedWeights, lda: t.columnRows,
                         b: work.columns, ldb: t.columnCount, c: sampleGradient, ldc: t.columnCount, accumulate: true,
                         workspace: work.gemmWorkspace)
                }
            } else {
                for group in 0..<g.groups {
                    let groupGradient = outputGradient + group * g.groupOutChannels * g.columnCount
                    let groupWeight = weight + group * g.groupOutChannels * g.columnRows
                    let inputGradient = sampleGradient + group * g.groupInChannels * g.height * g.width
                    if g.isPointwise {
                        // dX_g[C/G, HW] += W_g^T * dY_g
                        gemm(transA: true, m: g.columnRows, n: g.columnCount, k: g.groupOutChannels,
                             a: groupWeight, lda: g.columnRows, b: groupGradient, ldb: g.columnCount,
                             c: inputGradient, ldc: g.columnCount, accumulate: true, workspace: work.gemmWorkspace)
                    } else {
                        // dcol[K, OHW] = W_g^T * dY_g, then scattered back onto the input grid.
                        gemm(transA: true, m: g.columnRows, n: g.columnCount, k: g.groupOutChannels,
                             a: groupWeight, lda: g.columnRows, b: groupGradient, ldb: g.columnCount,
                             c: work.columns, ldc: g.columnCount, workspace: work.gemmWorkspace)
                        col2imAdd(g, work.columns, inputGradient)
                    }
                }
            }
        }
        if let biasSum {
            for filter in 0..<g.outChannels {
                biasSum[filter] += sum(outputGradient + filter * g.columnCount, g.columnCount)
            }
        }
    }
}

/// Chunks of `conv2dBackwardReduce` worth sharing among `pool`'s threads: at least 4096
/// weights each.
public func conv2dBackwardReduceChunks(_ g: Conv2dGeometry, pool: ThreadPool) -> Int {
    pool.chunks(items: g.outChannels * g.columnRows, minimumPerChunk: 4096)
}

/// Adds the backward chunks' private weight and bias gradients into `dweight`/`dbias`, in
/// chunk order (so the sums do not depend on which thread ran which chunk): the weights of
/// chunk `chunk` of `chunks` even shares of them, and, in chunk 0, the bias.
public func conv2dBackwardReduce(
    _ g: Conv2dGeometry, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
    scratch: UnsafeMutablePointer<Float>, chunk: Int = 0, of chunks: Int = 1
) {
    let weightCount = g.outChannels * g.columnRows
    let weights = ThreadPool.range(chunk: chunk, of: chunks, items: weightCount)
    for part in 0..<g.backwardChunks {
        let partial = Conv2dScratch.gradientPartial(g, memory: scratch, chunk: part)
        axpy(1, partial + weights.lowerBound, dweight + weights.lowerBound, weights.count)
        if let dbias, chunk == 0 { axpy(1, partial + weightCount, dbias, g.outChannels) }
    }
}

/// Copies `channels` planes [H, W] into padded[channels, H + 2p, W + 2p] with a zero border.
@inline(__always)
func padPlanes(_ g: Conv2dGeometry, _ input: UnsafePointer<Float>, channels: Int, _ padded: UnsafeMutablePointer<Float>) {
    let paddedWidth = g.paddedWidth, paddedHeight = g.paddedHeight, padding = g.padding
    for channel in 0..<channels {
        let plane = padded + channel * paddedHeight * paddedWidth
        fillShort(plane, 0, padding * paddedWidth)
        for row in 0..<g.height {
            let destination = plane + (row + padding) * paddedWidth
            fillShort(destination, 0, padding)
            copyShort(input + (channel * g.height + row) * g.width, destination + padding, g.width)
            fillShort(destination + padding + g.width, 0, padding)
        }
        fillShort(plane + (padding + g.height) * paddedWidth, 0, padding * paddedWidth)
    }
}

/// Direct stride-1 convolution of one sample over its padded input, 16 output columns at a
/// time held in a register: y[f, oy, ox] = bias[f] + sum_{c,kh,kw} w[f,c,kh,kw] * padded[c, oy+kh, ox+kw].
@inline(__always)
func directForward(
    _ g: Conv2dGeometry, _ padded: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>
) {
    typealias V = SIMD16<Float>
    let paddedWidth = g.paddedWidth, planeSize = g.paddedHeight * g.paddedWidth
    let kernelHeight = g.kernelHeight, kernelWidth = g.kernelWidth, channels = g.inChannels
    for filter in 0..<g.outChannels {
        let filterWeights = weight + filter * g.columnRows
        let start = bias?[filter] ?? 0
        for outY in 0..<g.outHeight {
            let outputRow = output + (filter * g.outHeight + outY) * g.outWidth
            var outX = 0
            while outX + 16 <= g.outWidth {
                var accumulator = V(repeating: start)
                var tap = 0
                for channel in 0..<channels {
                    let window = UnsafeRawPointer(padded + channel * planeSize + outY * paddedWidth + outX)
                    for kernelRow in 0..<kernelHeight {
                        let row = window + kernelRow * paddedWidth * 4
                        for kernelColumn in 0..<kernelWidth {
                            accumulator.addProduct(V(repeating: filterWeights[tap]), row.loadUnaligned(fromByteOffset: kernelColumn * 4, as: V.self))
                            tap += 1
                        }
                    }
                }
                UnsafeMutableRawPointer(outputRow + outX).storeBytes(of: accumulator, as: V.self)
                outX += 16
            }
            while outX < g.outWidth {
                var total = start
                var tap = 0
                for channel in 0..<channels {
                    for kernelRow in 0..<kernelHeight {
                        let row = padded + channel * planeSize + (outY + kernelRow) * paddedWidth + outX
                        for kernelColumn in 0..<kernelWidth { total += filterWeights[tap] * row[kernelColumn]; tap += 1 }
                    }
                }
                outputRow[outX] = total
                outX += 1
            }
        }
    }
}

/// Weight gradient of the direct path for one sample: dw[f,c,kh,kw] += sum_{oy,ox} dy[f,oy,ox] * padded[c, oy+kh, ox+kw].
@inline(__always)
func directWeightGradient(
    _ g: Conv2dGeometry, _ padded: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dweight: UnsafeMutablePointer<Float>
) {
    let paddedWidth = g.paddedWidth, planeSize = g.paddedHeight * g.paddedWidth
    for filter in 0..<g.outChannels {
        let gradientPlane = dy + filter * g.columnCount
        var tap = 0
        for channel in 0..<g.inChannels {
            for kernelRow in 0..<g.kernelHeight {
                for kernelColumn in 0..<g.kernelWidth {
                    let window = padded + channel * planeSize + kernelRow * paddedWidth + kernelColumn
                    var total: Float = 0
                    for outY in 0..<g.outHeight {
                        total += dot(gradientPlane + outY * g.outWidth, window + outY * paddedWidth, g.outWidth)
                    }
                    dweight[filter * g.columnRows + tap] += total
                    tap += 1
                }
            }
        }
    }
}

/// flipped[c, f, kh, kw] = weight[f, c, K-1-kh, K-1-kw]: the weights of the convolution that maps
/// the output gradient to the input gradient (stride 1, one group).
@inline(__always)
func flipWeights(_ g: Conv2dGeometry, _ weight: UnsafePointer<Float>, _ flipped: UnsafeMutablePointer<Float>) {
    let kernelHeight = g.kernelHeight, kernelWidth = g.kernelWidth
    for filter in 0..<g.outChannels {
        for channel in 0..<g.inChannels {
            for kernelRow in 0..<kernelHeight {
                for kernelColumn in 0..<kernelWidth {
                    let source = ((filter * g.inChannels + channel) * kernelHeight + kernelRow) * kernelWidth + kernelColumn
                    let destination = ((channel * g.outChannels + filter) * kernelHeight + (kernelHeight - 1 - kernelRow)) * kernelWidth + (kernelWidth - 1 - kernelColumn)
                    flipped[destination] = weight[source]
                }
            }
        }
    }
}

/// Unfolds one group of one sample into columns[K, OH*OW] (zeros where the kernel hangs over
/// the edge). The group's planes are first copied with a zero border into `padded`, so every
/// row of the unfolded matrix is a plain copy (stride 1) or an even-lane gather (stride 2)
/// with no edge cases. input: [C/G, H, W].
@inline(__always)
func im2col(_ g: Conv2dGeometry, _ input: UnsafePointer<Float>, _ columns: UnsafeMutablePointer<Float>, padded: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    padPlanes(g, input, channels: g.groupInChannels, padded)
    let outHeight = g.outHeight, outWidth = g.outWidth, stride = g.stride
    let paddedWidth = g.paddedWidth, planeSize = g.paddedHeight * g.paddedWidth
    for channel in 0..<g.groupInChannels {
        let plane = padded + channel * planeSize
        for kernelRow in 0..<g.kernelHeight {
            for kernelColumn in 0..<g.kernelWidth {
                let row = columns + ((channel * g.kernelHeight + kernelRow) * g.kernelWidth + kernelColumn) * outHeight * outWidth
                for outY in 0..<outHeight {
                    let destination = row + outY * outWidth
                    let source = plane + (outY * stride + kernelRow) * paddedWidth + kernelColumn
                    if stride == 1 {
                        copyShort(source, destination, outWidth)
                    } else if stride == 2 {
                        let rawSource = UnsafeRawPointer(source), rawDestination = UnsafeMutableRawPointer(destination)
                        var outX = 0
                        // The last vector reads up to 31 floats past the row start; keep it inside the plane row.
                        while outX + 16 <= outWidth && 2 * outX + 32 <= paddedWidth - kernelColumn {
                            let pair = SIMD32<Float>(lowHalf: rawSource.loadUnaligned(fromByteOffset: 8 * outX, as: V.self),
                                                     highHalf: rawSource.loadUnaligned(fromByteOffset: 8 * outX + 64, as: V.self))
                            rawDestination.storeBytes(of: pair.evenHalf, toByteOffset: 4 * outX, as: V.self)
                            outX += 16
                        }
                        while outX < outWidth { destination[outX] = source[2 * outX]; outX += 1 }
                    } else {
                        for outX in 0..<outWidth { destination[outX] = source[outX * stride] }
                    }
                }
            }
        }
    }
}

/// Adds columns[K, OH*OW] back onto the input grid: the transpose of `im2col`. gradient: [C/G, H, W].
@inline(__always)
func col2imAdd(_ g: Conv2dGeometry, _ columns: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>) {
    let outHeight = g.outHeight, outWidth = g.outWidth, stride = g.stride, padding = g.padding
    for channel in 0..<g.groupInChannels {
        let plane = gradient + channel * g.height * g.width
        for kernelRow in 0..<g.kernelHeight {
            for kernelColumn in 0..<g.kernelWidth {
                let row = columns + ((channel * g.kernelHeight + kernelRow) * g.kernelWidth + kernelColumn) * outHeight * outWidth
                let firstX = max(0, (padding - kernelColumn + stride - 1) / stride)
                let lastX = min(outWidth, (g.width + padding - kernelColumn + stride - 1) / stride)
                guard firstX < lastX else { continue }
                for outY in 0..<outHeight {
                    let inputY = outY * stride - padding + kernelRow
                    if inputY < 0 || inputY >= g.height { continue }
                    let source = row + outY * outWidth
                    let destination = plane + inputY * g.width - padding + kernelColumn
                    if stride == 1 {
                        axpy(1, source + firstX, destination + firstX, lastX - firstX)
                    } else {
                        var outX = firstX
                        while outX < lastX { destination[outX * stride] += source[outX]; outX += 1 }
                    }
                }
            }
        }
    }
}

/// Plain direct convolution for tests: y = conv(x, weight) + bias, accumulated in Double.
public func conv2dReference(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>
) {
    for n in 0..<g.batch {
        for filter in 0..<g.outChannels {
            let group = filter / g.groupOutChannels
            for outY in 0..<g.outHeight {
                for outX in 0..<g.outWidth {
                    var total = Double(bias?[filter] ?? 0)
                    for channel in 0..<g.groupInChannels {
                        let inputChannel = group * g.groupInChannels + channel
                        for kernelRow in 0..<g.kernelHeight {
                            for kernelColumn in 0..<g.kernelWidth {
                                let inputY = outY * g.stride - g.padding + kernelRow
                                let inputX = outX * g.stride - g.padding + kernelColumn
                                guard inputY >= 0, inputY < g.height, inputX >= 0, inputX < g.width else { continue }
                                let value = x[((n * g.inChannels + inputChannel) * g.height + inputY) * g.width + inputX]
                                let w = weight[((filter * g.groupInChannels + channel) * g.kernelHeight + kernelRow) * g.kernelWidth + kernelColumn]
                                total += Double(value) * Double(w)
                            }
                        }
                    }
                    y[((n * g.outChannels + filter) * g.outHeight + outY) * g.outWidth + outX] = Float(total)
                }
            }
        }
    }
}

/// Copies `count` floats with inline SIMD16 moves: rows of a few dozen floats, where a call to
/// memmove per row would cost more than the copy.
@inline(__always)
func copyShort(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, _ count: Int) {
    let rawSource = UnsafeRawPointer(source), rawDestination = UnsafeMutableRawPointer(destination)
    var i = 0
    while i + 16 <= count {
        rawDestination.storeBytes(of: rawSource.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count { destination[i] = source[i]; i += 1 }
}

/// Sets `count` floats to `value` with inline SIMD16 stores (see `copyShort`).
@inline(__always)
func fillShort(_ destination: UnsafeMutablePointer<Float>, _ value: Float, _ count: Int) {
    let raw = UnsafeMutableRawPointer(destination)
    let splat = SIMD16<Float>(repeating: value)
    var i = 0
    while i + 16 <= count { raw.storeBytes(of: splat, toByteOffset: i * 4, as: SIMD16<Float>.self); i += 16 }
    while i < count { destination[i] = value; i += 1 }
}

/// x[i] += value over `count` elements.
@inline(__always)
func addScalar(_ value: Float, _ x: UnsafeMutablePointer<Float>, _ count: Int) {
    let raw = UnsafeMutableRawPointer(x)
    let splat = SIMD16<Float>(repeating: value)
    var i = 0
    while i + 16 <= count {
        raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) + splat, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count { x[i] += value; i += 1 }
}

/// Sum of `count` elements, SIMD16 body and scalar tail.
@inline(__always)
public func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    let raw = UnsafeRawPointer(x)
    var total = SIMD16<Float>()
    var i = 0
    while i + 16 <= count { total += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self); i += 16 }
    var result = horizontalSum(total)
    while i < count { result += x[i]; i += 1 }
    return result
}
