// The float32 twin of Int8Conv2d for encoder inference: NHWC images with a border, an implicit
// GEMM whose tile reads receptive fields in place, bias and ReLU fused in the store. It lets an
// exported encoder run in float32 and int8 through the same structure (and `bench enc` compare
// them). 3x3 stride-1 layers with channels in multiples of 16 use Winograd F(2x2, 3x3): 16
// products per 2x2 output tile instead of 36, as 16 small GEMMs over the same tile. Not the
// training convolution (Kernels/Conv2d.swift, NCHW, with gradients).
//
// Symbols as in Int8Conv2d.swift: C, H x W, F, OH x OW, K kernel, s stride, p padding, b border.

import CKernels

/// How a float32 image [N, H, W, C] sits in memory: NHWC with a zero border of `border` pixels.
public struct FloatImageLayout: Sendable, Equatable {
    /// Extents of the interior and the border width, in pixels.
    public let height, width, channels, border: Int

    /// A layout; extents must be positive, the border not negative.
    public init(height: Int, width: Int, channels: Int, border: Int) {
        precondition(height > 0 && width > 0 && channels > 0 && border >= 0, "float image \(height)x\(width)x\(channels) border \(border)")
        self.height = height; self.width = width; self.channels = channels; self.border = border
    }

    /// Floats of one stored row, border included.
    public var rowFloats: Int { (width + 2 * border) * channels }
    /// Floats of one sample, border included.
    public var sampleFloats: Int { (height + 2 * border) * rowFloats }
    /// Float offset of pixel (y, x), channel 0; y and x may reach into the border.
    @inline(__always)
    public func offset(y: Int, x: Int) -> Int { (y + border) * rowFloats + (x + border) * channels }
}

/// NCHW [N, C, H, W] -> NHWC image (interior only).
public func nchwToNHWC(_ x: UnsafePointer<Float>, batch: Int, _ layout: FloatImageLayout, into y: UnsafeMutablePointer<Float>) {
    let plane = layout.height * layout.width, channels = layout.channels
    for sample in 0..<batch {
        for row in 0..<layout.height {
            let out = y + sample * layout.sampleFloats + layout.offset(y: row, x: 0)
            if channels == 4 {
                // Four planes interleave into one SIMD4 per pixel (the compiler turns this into shuffles).
                let p0 = x + sample * 4 * plane + row * layout.width, p1 = p0 + plane, p2 = p1 + plane, p3 = p2 + plane
                let raw = UnsafeMutableRawPointer(out)
                for column in 0..<layout.width {
                    raw.storeBytes(of: SIMD4<Float>(p0[column], p1[column], p2[column], p3[column]), toByteOffset: 16 * column, as: SIMD4<Float>.self)
                }
                continue
            }
            for c in 0..<channels {
                let source = x + (sample * channels + c) * plane + row * layout.width
                for column in 0..<layout.width { out[column * channels + c] = source[column] }
            }
        }
    }
}

/// NHWC image -> NCHW [N, C, H, W].
public func nhwcToNCHW(_ x: UnsafePointer<Float>, batch: Int, _ layout: FloatImageLayout, into y: UnsafeMutablePointer<Float>) {
    let plane = layout.height * layout.width, channels = layout.channels
    for sample in 0..<batch {
        for row in 0..<layout.height {
            let input = x + sample * layout.sampleFloats + layout.offset(y: row, x: 0)
            var c0 = 0
            // 16 channels of a pixel at a time: one vector load, 16 stores into the planes.
            while c0 + 16 <= channels {
                let out = y + (sample * channels + c0) * plane + row * layout.width
                for column in 0..<layout.width {
                    let v = UnsafeRawPointer(input + column * channels + c0).loadUnaligned(as: SIMD16<Float>.self)
                    for lane in 0..<16 { out[lane * plane + column] = v[lane] }
                }
                c0 += 16
            }
            for c in c0..<channels {
                let out = y + (sample * channels + c) * plane + row * layout.width
                for column in 0..<layout.width { out[column] = input[column * channels + c] }
            }
        }
    }
}

/// An implementation of the float32 tile.
public enum FloatKernelPath: String, CaseIterable, Sendable {
    /// Swift, any CPU (fused multiply-adds in the same order: bit-identical results).
    case portable
    /// x86-64 AVX-512F.
    case avx512

    /// Whether this CPU runs the path.
    public var isAvailable: Bool {
        switch self {
        case .portable: true
        case .avx512: Int8KernelPath.avx512vnni.isAvailable   // every CPU with VNNI-512 has AVX-512F
        }
    }

    /// Paths this CPU runs, slowest first.
    public static let available: [FloatKernelPath] = allCases.filter(\.isAvailable)
    /// The fastest path this CPU runs.
    public static let best: FloatKernelPath = available.last!

    var tile: @convention(c) (UnsafePointer<fs_ftile>?) -> Void {
        switch self {
        case .portable: floatTilePortable
        case .avx512: fs_ftile_avx512
        }
    }
}

/// The portable twin of the float tiles.
func floatTilePortable(_ pointer: UnsafePointer<fs_ftile>?) {
    let t = pointer!.pointee
    let depth = Int(t.depth)
    for i in 0..<Int(t.rows) {
        let row = t.a + i * t.a_row_stride
        for j in 0..<Int(t.columns) {
            let w = t.b + (j / 16) * depth * 16 + j % 16
            var sum: Float = 0
            for k in 0..<depth { sum = sum.addingProduct(row[Int(t.k_offsets[k])], w[16 * k]) }
            let target = t.c + i * t.ldc + j
            var value = sum
            if t.accumulate != 0 { value = target.pointee + value }
            if let bias = t.bias { value = value + bias[j] }
            if t.relu != 0 && !(value > 0) { value = 0 }
            target.pointee = value
        }
    }
}

/// A float32 convolution layer (one group) over NHWC images, weights packed once.
///
/// ```swift
/// let conv = FloatConv2dNHWC(geometry, weights: w, bias: b, relu: true, outputBorder: 1)
/// conv.forward(x: image, y: next, path: .best, chunk: 0, of: 1)
/// ```
public final class FloatConv2dNHWC: @unchecked Sendable {
    /// Sizes (one group).
    public let geometry: Conv2dGeometry
    /// Whether a ReLU is fused into the store.
    public let relu: Bool
    /// Where the input is read (border = padding) and where the output goes.
    public let inputLayout: FloatImageLayout
    public let outputLayout: FloatImageLayout
    private let packed: UnsafeMutablePointer<Float>
    private let offsets: UnsafeMutablePointer<Int32>
    private let bias: UnsafeMutablePointer<Float>
    private let depth: Int
    /// Winograd F(2x2, 3x3): transformed weights [16][panels][C][16], transformed inputs
    /// [16][tiles][C] and products [16][tiles][F] for all samples, channel offsets 0..<C.
    public let usesWinograd: Bool
    /// Turn off to run the direct convolution on an eligible layer (tests compare the two).
    public var winogradEnabled = true
    private let winogradWeights: UnsafeMutablePointer<Float>?
    private let winogradInputs: UnsafeMutablePointer<Float>?
    private let winogradProducts: UnsafeMutablePointer<Float>?
    private let channelOffsets: UnsafeMutablePointer<Int32>

    /// Weights [F, C, K, K] and bias [F] (copied and packed); the input is read with border = padding.
    public init(_ geometry: Conv2dGeometry, weights: UnsafePointer<Float>, bias floatBias: UnsafePointer<Float>?, relu: Bool, outputBorder: Int) {
        precondition(geometry.groups == 1, "FloatConv2dNHWC takes one group")
        let g = geometry
        self.geometry = g; self.relu = relu
        inputLayout = FloatImageLayout(height: g.height, width: g.width, channels: g.inChannels, border: g.padding)
        outputLayout = FloatImageLayout(height: g.outHeight, width: g.outWidth, channels: g.outChannels, border: outputBorder)
        depth = g.kernelHeight * g.kernelWidth * g.inChannels
        offsets = .allocate(capacity: depth)
        let panels = (g.outChannels + 15) / 16
        packed = .allocate(capacity: panels * depth * 16)
        packed.initialize(repeating: 0, count: panels * depth * 16)
        bias = .allocate(capacity: panels * 16)
        bias.initialize(repeating: 0, count: panels * 16)
        for ky in 0..<g.kernelHeight {
            for kx in 0..<g.kernelWidth {
                for c in 0..<g.inChannels {
                    let k = (ky * g.kernelWidth + kx) * g.inChannels + c
                    offsets[k] = Int32(ky * inputLayout.rowFloats + kx * g.inChannels + c)
                    for f in 0..<g.outChannels {
                        packed[(f / 16) * depth * 16 + k * 16 + f % 16] = weights[((f * g.inChannels + c) * g.kernelHeight + ky) * g.kernelWidth + kx]
                    }
                }
            }
        }
        if let floatBias { for f in 0..<g.outChannels { bias[f] = floatBias[f] } }
        channelOffsets = .allocate(capacity: g.inChannels)
        for c in 0..<g.inChannels { channelOffsets[c] = Int32(c) }
        usesWinograd = g.kernelHeight == 3 && g.stride == 1 && g.padding == 1 && g.inChannels % 16 == 0 && g.outChannels % 16 == 0
            && g.outHeight % 2 == 0 && g.outWidth % 2 == 0
        if usesWinograd {
            // U = G g G^T per (f, c), G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].
            let G: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
            let transformed = UnsafeMutablePointer<Float>.allocate(capacity: 16 * panels * g.inChannels * 16)
            for f in 0..<g.outChannels {
                for c in 0..<g.inChannels {
                    let kernel = weights + (f * g.inChannels + c) * 9
                    for xi in 0..<4 {
                        for nu in 0..<4 {
                            var value = 0.0
                            for i in 0..<3 { for j in 0..<3 { value += G[xi][i] * Double(kernel[i * 3 + j]) * G[nu][j] } }
                            transformed[((xi * 4 + nu) * panels + f / 16) * g.inChannels * 16 + c * 16 + f % 16] = Float(value)
                        }
                    }
                }
            }
            winogradWeights = transformed
            let tiles = g.batch * (g.outHeight / 2) * (g.outWidth / 2)
            winogradInputs = .allocate(capacity: 16 * (tiles * g.inChannels + 16))
            winogradProducts = .allocate(capacity: 16 * (tiles * g.outChannels + 16))
        } else {
            winogradWeights = nil; winogradInputs = nil; winogradProducts = nil
        }
    }

    deinit {
        packed.deallocate(); offsets.deallocate(); bias.deallocate(); channelOffsets.deallocate()
        winogradWeights?.deallocate(); winogradInputs?.deallocate(); winogradProducts?.deallocate()
    }

    /// Chunk `chunk` of `chunks` (an even share of the rows of 2x2 tiles of all samples) of the Winograd F(2x2, 3x3) convolution.
    private func forwardWinograd(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, path: FloatKernelPath, chunk: Int, of chunks: Int) {
        typealias V = SIMD16<Float>
        let g = geometry
        let C = g.inChannels, F = g.outChannels, panels = F / 16
        let tilesX = g.outWidth / 2, tilesY = g.outHeight / 2, totalTiles = g.batch * tilesX * tilesY
        // The 16 positions sit one cache line more than a multiple of the tile block apart, so that
        // they do not all fall into the same L1 set (their natural stride is a multiple of 4 KiB).
        let inputStride = totalTiles * C + 16, productStride = totalTiles * F + 16
        let totalRows = g.batch * tilesY
        let first = totalRows * chunk / chunks, last = totalRows * (chunk + 1) / chunks
        let inputs = winogradInputs!, products = winogradProducts!, weights = winogradWeights!
        let tile = path.tile
        let rowFloats = inputLayout.rowFloats
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        var t = fs_ftile()
        t.k_offsets = UnsafePointer(channelOffsets)
        t.depth = Int32(C)
        t.a_row_stride = C
        t.ldc = F
        for tileRow in first..<last {
            let sample = tileRow / tilesY, ty = tileRow % tilesY
            let inputSample = x + sample * inputLayout.sampleFloats
            // V = B^T d B per channel, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
            for tx in 0..<tilesX {
                let index = tileRow * tilesX + tx
                let origin = inputSample + inputLayout.offset(y: 2 * ty - 1, x: 2 * tx - 1)
                var c0 = 0
                while c0 < C {
                    // Row xi of B^T d combines two or three input rows (column by column), then B on the right.
                    @inline(__always) func d(_ i: Int, _ j: Int) -> V { load(origin + i * rowFloats + j * C + c0) }
                    for xi in 0..<4 {
                        let e0: V, e1: V, e2: V, e3: V
                        switch xi {
                        case 0: e0 = d(0, 0) - d(2, 0); e1 = d(0, 1) - d(2, 1); e2 = d(0, 2) - d(2, 2); e3 = d(0, 3) - d(2, 3)
                        case 1: e0 = d(1, 0) + d(2, 0); e1 = d(1, 1) + d(2, 1); e2 = d(1, 2) + d(2, 2); e3 = d(1, 3) + d(2, 3)
                        case 2: e0 = d(2, 0) - d(1, 0); e1 = d(2, 1) - d(1, 1); e2 = d(2, 2) - d(1, 2); e3 = d(2, 3) - d(1, 3)
                        default: e0 = d(1, 0) - d(3, 0); e1 = d(1, 1) - d(3, 1); e2 = d(1, 2) - d(3, 2); e3 = d(1, 3) - d(3, 3)
                        }
                        let target = inputs + 4 * xi * inputStride + index * C + c0, step = inputStride
                        store(e0 - e2, target); store(e1 + e2, target + step)
                        store(e2 - e1, target + 2 * step); store(e1 - e3, target + 3 * step)
                    }
                    c0 += 16
                }
            }
        }
        // M[p] = V[p] * U[p]: 16 GEMMs of [tiles x C] x [C x F]; positions outside, so that
        // each position's transformed weights stay in L1 while the tile rows pass.
        for position in 0..<16 {
            for tileRow in first..<last {
                var tx0 = 0
                while tx0 < tilesX {
                    let index = tileRow * tilesX + tx0
                    t.a = UnsafePointer(inputs + position * inputStride + index * C)
                    t.rows = Int32(min(int8TileRows, tilesX - tx0))
                    var panel = 0
                    while panel < panels {
                        t.b = UnsafePointer(weights + (position * panels + panel) * C * 16)
                        t.panels = Int32(min(2, panels - panel))
                        t.columns = Int32(min(32, F - panel * 16))
                        t.c = products + position * productStride + index * F + panel * 16
                        withUnsafePointer(to: &t) { tile($0) }
                        panel += 2
                    }
                    tx0 += int8TileRows
                }
            }
        }
        for tileRow in first..<last {
            let sample = tileRow / tilesY, ty = tileRow % tilesY
            // Y = A^T M A + bias, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], then ReLU.
            let outputSample = y + sample * outputLayout.sampleFloats
            for tx in 0..<tilesX {
                let index = tileRow * tilesX + tx
                var f0 = 0
                while f0 < F {
                    @inline(__always) func m(_ position: Int) -> V { load(products + position * productStride + index * F + f0) }
                    // Rows: s_j = m(0, j) + m(1, j) + m(2, j), t_j = m(1, j) - m(2, j) - m(3, j).
                    let s0 = m(0) + m(4) + m(8), s1 = m(1) + m(5) + m(9), s2 = m(2) + m(6) + m(10), s3 = m(3) + m(7) + m(11)
                    let t0 = m(4) - m(8) - m(12), t1 = m(5) - m(9) - m(13), t2 = m(6) - m(10) - m(14), t3 = m(7) - m(11) - m(15)
                    let b = load(bias + f0)
                    let topLeft = outputSample + outputLayout.offset(y: 2 * ty, x: 2 * tx) + f0
                    let corners = (topLeft, topLeft + F, topLeft + outputLayout.rowFloats, topLeft + outputLayout.rowFloats + F)
                    store(s0 + s1 + s2 + b, corners.0); store(s1 - s2 - s3 + b, corners.1)
                    store(t0 + t1 + t2 + b, corners.2); store(t1 - t2 - t3 + b, corners.3)
                    if relu {
                        @inline(__always) func clampAtZero(_ p: UnsafeMutablePointer<Float>) { for lane in 0..<16 { p[lane] = p[lane] > 0 ? p[lane] : 0 } }
                        clampAtZero(corners.0); clampAtZero(corners.1); clampAtZero(corners.2); clampAtZero(corners.3)
                    }
                    f0 += 16
                }
            }
        }
    }

    /// Chunk `chunk` of `chunks` (an even share of the output rows of all samples) of y = conv(x) + bias (ReLU).
    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, path: FloatKernelPath, chunk: Int, of chunks: Int) {
        if usesWinograd && winogradEnabled {
            forwardWinograd(x: x, y: y, path: path, chunk: chunk, of: chunks)
            return
        }
        let g = geometry
        let totalRows = g.batch * g.outHeight
        let first = totalRows * chunk / chunks, last = totalRows * (chunk + 1) / chunks
        let tile = path.tile
        var t = fs_ftile()
        t.k_offsets = UnsafePointer(offsets)
        t.depth = Int32(depth)
        t.a_row_stride = g.stride * g.inChannels
        t.ldc = g.outChannels
        t.relu = relu ? 1 : 0
        let panels = (g.outChannels + 15) / 16
        for outputRow in first..<last {
            let sample = outputRow / g.outHeight, oy = outputRow % g.outHeight
            let inputSample = x + sample * inputLayout.sampleFloats
            let outputSample = y + sample * outputLayout.sampleFloats
            var ox = 0
            while ox < g.outWidth {
                t.a = inputSample + inputLayout.offset(y: oy * g.stride - g.padding, x: ox * g.stride - g.padding)
                t.rows = Int32(min(int8TileRows, g.outWidth - ox))
                var panel = 0
                while panel < panels {
                    t.b = UnsafePointer(packed + panel * depth * 16)
                    t.panels = Int32(min(2, panels - panel))
                    t.columns = Int32(min(32, g.outChannels - panel * 16))
                    t.c = outputSample + outputLayout.offset(y: oy, x: ox) + panel * 16
                    t.bias = UnsafePointer(bias + panel * 16)
                    withUnsafePointer(to: &t) { tile($0) }
                    panel += 2
                }
                ox += int8TileRows
            }
        }
    }
}
