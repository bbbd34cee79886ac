// Float32 2-D convolution over NCHW tensors, forward and backward, by im2col + packed GEMM
// per sample and group, samples split over the thread pool. Not a direct or Winograd
// convolution: one path for every stride, padding and group count (depthwise included).
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
    ) throws(ShapeError) {
        let operation = "conv2d"
        guard batch > 0, inChannels > 0, height > 0, width > 0, outChannels > 0 else {
            throw .mismatch(operation: operation, expected: "positive batch, channels and size",
                            got: "batch \(batch), in \(inChannels), \(height)x\(width), out \(outChannels)")
        }
        guard kernel > 0, stride > 0, padding >= 0 else {
            throw .mismatch(operation: operation, expected: "kernel >= 1, stride >= 1, padding >= 0",
                            got: "kernel \(kernel), stride \(stride), padding \(padding)")
        }
        guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
            throw .mismatch(operation: operation, expected: "groups dividing input (\(inChannels)) and output (\(outChannels)) channels",
                            got: "groups \(groups)")
        }
        let outHeight = (height + 2 * padding - kernel) / stride + 1
        let outWidth = (width + 2 * padding - kernel) / stride + 1
        guard height + 2 * padding >= kernel, width + 2 * padding >= kernel else {
            throw .mismatch(operation: operation, expected: "a padded input at least as large as the \(kernel)x\(kernel) kernel",
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
    /// Multiply-adds of one forward pass.
    public var multiplyAdds: Int { batch * outChannels * columnCount * columnRows }
}

/// Per-thread scratch of a convolution: an im2col matrix, a GEMM workspace and, for the
/// backward pass, private weight and bias gradients that are summed at the end.
public struct Conv2dScratch: @unchecked Sendable {
    /// Floats one thread needs.
    public static func floatsPerThread(_ geometry: Conv2dGeometry) -> Int {
        let column = Arena.roundUp(geometry.columnRows * geometry.columnCount * 4) / 4
        let gradients = Arena.roundUp((geometry.outChannels * geometry.columnRows + geometry.outChannels) * 4) / 4
        return column + GemmWorkspace.floatCount + gradients
    }

    let columns: UnsafeMutablePointer<Float>
    let gemmWorkspace: GemmWorkspace
    let weightGradient: UnsafeMutablePointer<Float>
    let biasGradient: UnsafeMutablePointer<Float>

    /// Carves thread `thread`'s scratch out of `memory` (`threads * floatsPerThread` floats).
    public init(_ geometry: Conv2dGeometry, memory: UnsafeMutablePointer<Float>, thread: Int) {
        let base = memory + thread * Conv2dScratch.floatsPerThread(geometry)
        columns = base
        let gemmStart = base + Arena.roundUp(geometry.columnRows * geometry.columnCount * 4) / 4
        gemmWorkspace = GemmWorkspace(memory: gemmStart)
        weightGradient = gemmStart + GemmWorkspace.floatCount
        biasGradient = weightGradient + geometry.outChannels * geometry.columnRows
    }
}

/// y = conv(x, weight) + bias, all threads of `pool`.
/// x: [N, C, H, W], weight: [F, C/G, KH, KW], bias: [F] or nil, y: [N, F, OH, OW];
/// scratch: `pool.threadCount * Conv2dScratch.floatsPerThread(g)` floats.
public func conv2dForward(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, pool: ThreadPool
) {
    pool.parallelFor(pool.threadCount) { thread in
        conv2dForward(g, x: x, weight: weight, bias: bias, y: y, scratch: scratch, thread: thread, threads: pool.threadCount)
    }
}

/// Share `thread` of `threads` of `conv2dForward`: samples thread, thread + threads, ...
public func conv2dForward(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, thread: Int, threads: Int
) {
    let inputSize = g.inChannels * g.height * g.width
    let outputSize = g.outChannels * g.columnCount
    let work = Conv2dScratch(g, memory: scratch, thread: thread)
    var sample = thread
    while sample < g.batch {
        let input = x + sample * inputSize
        let output = y + sample * outputSize
        for group in 0..<g.groups {
            let groupInput = input + group * g.groupInChannels * g.height * g.width
            let columns: UnsafePointer<Float>
            if g.isPointwise {
                columns = UnsafePointer(groupInput)
            } else {
                im2col(g, groupInput, work.columns)
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
        sample += threads
    }
}

/// Gradients of `conv2dForward`, accumulated: dweight += ..., dbias += ..., dx += ... (dx may be nil).
/// x: [N, C, H, W], weight: [F, C/G, KH, KW], dy: [N, F, OH, OW]; scratch as for the forward pass.
public func conv2dBackward(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
    scratch: UnsafeMutablePointer<Float>, pool: ThreadPool
) {
    let threads = pool.threadCount
    pool.parallelFor(threads) { thread in
        conv2dBackward(g, x: x, weight: weight, dy: dy, dx: dx, dweight: dweight, dbias: dbias,
                       scratch: scratch, thread: thread, threads: threads)
    }
    conv2dBackwardReduce(g, dweight: dweight, dbias: dbias, scratch: scratch, threads: threads)
}

/// Share `thread` of `threads` of `conv2dBackward`. With one thread the weight and bias
/// gradients go straight to `dweight`/`dbias`; with several, each thread sums its samples
/// privately and `conv2dBackwardReduce` must run once all have finished.
public func conv2dBackward(
    _ g: Conv2dGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
    scratch: UnsafeMutablePointer<Float>, thread: Int, threads: Int
) {
    let inputSize = g.inChannels * g.height * g.width
    let outputSize = g.outChannels * g.columnCount
    let weightCount = g.outChannels * g.columnRows
    let work = Conv2dScratch(g, memory: scratch, thread: thread)
    let weightSum = threads == 1 ? dweight : work.weightGradient
    let biasSum = threads == 1 ? dbias : (dbias == nil ? nil : work.biasGradient)
    if threads > 1 {
        weightSum.update(repeating: 0, count: weightCount)
        biasSum?.update(repeating: 0, count: g.outChannels)
    }
    var sample = thread
    while sample < g.batch {
        let input = x + sample * inputSize
        let outputGradient = dy + sample * outputSize
        for group in 0..<g.groups {
            let groupInput = input + group * g.groupInChannels * g.height * g.width
            let groupGradient = outputGradient + group * g.groupOutChannels * g.columnCount
            let groupWeight = weight + group * g.groupOutChannels * g.columnRows
            let columns: UnsafePointer<Float>
            if g.isPointwise {
                columns = groupInput
            } else {
                im2col(g, groupInput, work.columns)
                columns = UnsafePointer(work.columns)
            }
            // dW_g[Fg, K] += dY_g[Fg, OHW] * col[K, OHW]^T
            gemm(transB: true, m: g.groupOutChannels, n: g.columnRows, k: g.columnCount,
                 a: groupGradient, lda: g.columnCount, b: columns, ldb: g.columnCount,
                 c: weightSum + group * g.groupOutChannels * g.columnRows, ldc: g.columnRows,
                 accumulate: true, workspace: work.gemmWorkspace)
            guard let dx else { continue }
            let inputGradient = dx + sample * inputSize + group * g.groupInChannels * g.height * g.width
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
        if let biasSum {
            for filter in 0..<g.outChannels {
                biasSum[filter] += sum(outputGradient + filter * g.columnCount, g.columnCount)
            }
        }
        sample += threads
    }
}

/// Adds the threads' private weight and bias gradients into `dweight`/`dbias` (several threads only).
public func conv2dBackwardReduce(
    _ g: Conv2dGeometry, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
    scratch: UnsafeMutablePointer<Float>, threads: Int
) {
    guard threads > 1 else { return }
    for thread in 0..<threads {
        let work = Conv2dScratch(g, memory: scratch, thread: thread)
        axpy(1, work.weightGradient, dweight, g.outChannels * g.columnRows)
        if let dbias { axpy(1, work.biasGradient, dbias, g.outChannels) }
    }
}

/// Unfolds one group of one sample into columns[K, OH*OW] (zeros where the kernel hangs over the edge).
/// input: [C/G, H, W].
@inline(__always)
func im2col(_ g: Conv2dGeometry, _ input: UnsafePointer<Float>, _ columns: UnsafeMutablePointer<Float>) {
    let outHeight = g.outHeight, outWidth = g.outWidth, stride = g.stride, padding = g.padding
    for channel in 0..<g.groupInChannels {
        let plane = input + channel * g.height * g.width
        for kernelRow in 0..<g.kernelHeight {
            for kernelColumn in 0..<g.kernelWidth {
                let row = columns + ((channel * g.kernelHeight + kernelRow) * g.kernelWidth + kernelColumn) * outHeight * outWidth
                // Output columns whose input column ox*stride - padding + kernelColumn is inside [0, W).
                let firstX = max(0, (padding - kernelColumn + stride - 1) / stride)
                let lastX = min(outWidth, (g.width + padding - kernelColumn + stride - 1) / stride)
                for outY in 0..<outHeight {
                    let destination = row + outY * outWidth
                    let inputY = outY * stride - padding + kernelRow
                    if inputY < 0 || inputY >= g.height || firstX >= lastX {
                        destination.update(repeating: 0, count: outWidth)
                        continue
                    }
                    if firstX > 0 { destination.update(repeating: 0, count: firstX) }
                    let source = plane + inputY * g.width - padding + kernelColumn
                    if stride == 1 {
                        (destination + firstX).update(from: source + firstX, count: lastX - firstX)
                    } else {
                        var outX = firstX
                        while outX < lastX { destination[outX] = source[outX * stride]; outX += 1 }
                    }
                    if lastX < outWidth { (destination + lastX).update(repeating: 0, count: outWidth - lastX) }
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
    var result = total.sum()
    while i < count { result += x[i]; i += 1 }
    return result
}
