// Run-time choice of the int8 register tile (CKernels: AVX2, AVX-512 VNNI, NEON, NEON dot
// product) and its portable Swift twin. Not the blocking: Int8Gemm.swift and Int8Conv2d.swift
// walk the tiles. Every path computes exactly the same integers (tests hold them bit-exact).

import CKernels
import Foundation

/// Rows of one int8 tile.
public let int8TileRows = Int(FS_QTILE_ROWS)
/// Columns of one packed weight panel.
public let int8PanelColumns = Int(FS_QTILE_PANEL)

/// An implementation of the int8 tile.
///
/// ```swift
/// let path = Int8KernelPath.best          // .avx512vnni on this machine
/// for path in Int8KernelPath.available { ... }   // tests run them all
/// ```
public enum Int8KernelPath: String, CaseIterable, Sendable {
    /// Swift, any CPU.
    case portable
    /// x86-64 AVX2 (16-bit widening multiply-adds).
    case avx2
    /// x86-64 AVX-512 with VNNI (vpdpbusd).
    case avx512vnni
    /// aarch64 NEON (Cortex-A72 and up).
    case neon
    /// aarch64 NEON with the ARMv8.2 dot-product instructions (Cortex-A76, Raspberry Pi 5).
    case neonDotProduct

    private static let features = fs_cpu_features()

    /// Whether this CPU runs the path.
    public var isAvailable: Bool {
        switch self {
        case .portable: true
        case .avx2: Int8KernelPath.features & Int32(FS_CPU_AVX2) != 0
        case .avx512vnni: Int8KernelPath.features & Int32(FS_CPU_AVX512_VNNI) != 0
        case .neon: Int8KernelPath.features & Int32(FS_CPU_NEON) != 0
        case .neonDotProduct: Int8KernelPath.features & Int32(FS_CPU_NEON_DOTPROD) != 0
        }
    }

    /// Paths this CPU runs, slowest first.
    public static let available: [Int8KernelPath] = allCases.filter(\.isAvailable)

    /// The fastest path this CPU runs; `FORESIGHT_INT8_PATH=<name>` picks another available one.
    public static let best: Int8KernelPath = {
        if let name = getenv("FORESIGHT_INT8_PATH").map({ String(cString: $0) }),
           let path = Int8KernelPath(rawValue: name), path.isAvailable {
            return path
        }
        return available.last!
    }()

    /// The tile function.
    var tile: @convention(c) (UnsafePointer<fs_qtile>?) -> Void {
        switch self {
        case .portable: int8TilePortable
        case .avx2: fs_qtile_avx2
        case .avx512vnni: fs_qtile_avx512vnni
        case .neon: fs_qtile_neon
        case .neonDotProduct: fs_qtile_neondot
        }
    }
}

/// The portable twin of the C tiles: the same sums and the same store rules, in Swift.
/// Rows past `rows` are not computed (the C tiles compute and drop them).
func int8TilePortable(_ pointer: UnsafePointer<fs_qtile>?) {
    let t = pointer!.pointee
    let quads = Int(t.quads), panels = Int(t.panels), columns = Int(t.columns)
    for i in 0..<Int(t.rows) {
        let row = t.a + i * t.a_row_stride
        var sums = (SIMD16<Int32>(), SIMD16<Int32>())
        for q in 0..<quads {
            let x = row + Int(t.quad_offsets[q])
            let x0 = Int32(x[0]), x1 = Int32(x[1]), x2 = Int32(x[2]), x3 = Int32(x[3])
            for panel in 0..<panels {
                let w = t.b + (panel * quads + q) * 64
                var part = SIMD16<Int32>()
                for j in 0..<16 {
                    part[j] = x0 * Int32(w[4 * j]) + x1 * Int32(w[4 * j + 1]) + x2 * Int32(w[4 * j + 2]) + x3 * Int32(w[4 * j + 3])
                }
                if panel == 0 { sums.0 &+= part } else { sums.1 &+= part }
            }
        }
        for j in 0..<columns {
            let sum = j < 16 ? sums.0[j] : sums.1[j - 16]
            if let c = t.c {
                let target = c + i * t.ldc + j
                target.pointee = t.accumulate != 0 ? target.pointee &+ sum : sum
            } else {
                t.out[i * t.out_row_stride + j] = UInt8(truncatingIfNeeded: requantize(
                    sum, bias: t.bias[j], multiplier: t.multiplier[j], shift: t.shift[j],
                    zeroPoint: t.zero_point, min: t.qmin, max: t.qmax))
            }
        }
    }
}

/// Bytes of `k x n` weights packed in panels: ceil(n / 16) panels of ceil(k / 4) quads of 64 bytes.
public func int8PackedByteCount(k: Int, n: Int) -> Int {
    (n + int8PanelColumns - 1) / int8PanelColumns * ((k + 3) / 4) * 64
}

/// Packs int8 weights B[k, n] (B[p, j] = `element(p, j)`) into tile panels
/// [ceil(n/16)][ceil(k/4)][16][4], zero past the edges. For one-time packing (layers); the GEMM
/// packs row-major blocks with `packInt8Block`.
public func packInt8Weights(k: Int, n: Int, into packed: UnsafeMutablePointer<Int8>, element: (Int, Int) -> Int8) {
    let quads = (k + 3) / 4
    let panels = (n + int8PanelColumns - 1) / int8PanelColumns
    for panel in 0..<panels {
        for q in 0..<quads {
            let out = packed + (panel * quads + q) * 64
            for j in 0..<16 {
                for r in 0..<4 {
                    let depth = 4 * q + r, column = panel * 16 + j
                    out[4 * j + r] = depth < k && column < n ? element(depth, column) : 0
                }
            }
        }
    }
}

/// Runs one tile on `path` from Swift values (tests and tools): rows of `a` at `rowStride`
/// bytes, quads at `offsets`, packed weights `b` of `panels` panels; writes int32 sums into
/// `c` (row stride `ldc`) or, when `c` is nil, requantized bytes into `out` (row stride `outStride`).
func runInt8Tile(
    path: Int8KernelPath, a: UnsafePointer<UInt8>, rowStride: Int, offsets: [Int32], rows: Int,
    b: UnsafePointer<Int8>, panels: Int, columns: Int,
    c: UnsafeMutablePointer<Int32>?, ldc: Int, accumulate: Bool,
    out: UnsafeMutablePointer<UInt8>?, outStride: Int, bias: [Int32], multiplier: [Int32], shift: [Int32],
    zeroPoint: Int32, qmin: Int32, qmax: Int32
) {
    offsets.withUnsafeBufferPointer { offsetBuffer in
        bias.withUnsafeBufferPointer { biasBuffer in
            multiplier.withUnsafeBufferPointer { multiplierBuffer in
                shift.withUnsafeBufferPointer { shiftBuffer in
                    var t = fs_qtile()
                    t.a = a; t.a_row_stride = rowStride; t.quad_offsets = offsetBuffer.baseAddress
                    t.quads = Int32(offsets.count); t.rows = Int32(rows); t.b = b
                    t.panels = Int32(panels); t.columns = Int32(columns)
                    t.c = c; t.ldc = ldc; t.accumulate = accumulate ? 1 : 0
                    t.out = out; t.out_row_stride = outStride
                    t.bias = biasBuffer.baseAddress; t.multiplier = multiplierBuffer.baseAddress; t.shift = shiftBuffer.baseAddress
                    t.zero_point = zeroPoint; t.qmin = qmin; t.qmax = qmax
                    withUnsafePointer(to: &t) { path.tile($0) }
                }
            }
        }
    }
}
