// int8 matrix multiply with int32 results: C[M,N] (+)= A[M,K] * B[K,N], A uint8 (activations),
// B int8 (weights), row-major with leading dimensions, as ONNX's MatMulInteger with zero
// points 0. Blocks of B are packed into panels, rows of A are read in place by the tile.
// `int8GemmReference` is the triple loop the tests hold it to. Not requantizing: layers use
// the tile's uint8 output directly (Int8Conv2d.swift).
//
// Symbols: M, N, K extents; KC x NC the packed block of B; tiles of 8 rows x 32 columns.

import CKernels

/// Depth of a packed block of B (a multiple of 4).
public let int8GemmKC = 256
/// Columns of a packed block of B (a multiple of 32).
public let int8GemmNC = 1024

/// Scratch of one int8 GEMM: a packed KC x NC block of B and the quad offsets of a block.
public struct Int8GemmWorkspace: @unchecked Sendable {
    /// Bytes a workspace needs.
    public static let byteCount = int8GemmKC * int8GemmNC + int8GemmKC

    let packed: UnsafeMutablePointer<Int8>
    let offsets: UnsafeMutablePointer<Int32>

    /// A workspace over `byteCount` bytes at `memory` (64-byte aligned).
    public init(memory: UnsafeMutableRawPointer) {
        packed = memory.assumingMemoryBound(to: Int8.self)
        offsets = (memory + int8GemmKC * int8GemmNC).assumingMemoryBound(to: Int32.self)
    }
}

/// C[M,N] = A[M,K] * B[K,N] (or += when `accumulate`), int32 results; A uint8, B int8.
///
/// ```swift
/// int8Gemm(m: 512, n: 512, k: 512, a: a, lda: 512, b: b, ldb: 512, c: c, ldc: 512, workspace: ws)
/// ```
public func int8Gemm(
    m: Int, n: Int, k: Int, a: UnsafePointer<UInt8>, lda: Int, b: UnsafePointer<Int8>, ldb: Int,
    c: UnsafeMutablePointer<Int32>, ldc: Int, accumulate: Bool = false, workspace: Int8GemmWorkspace,
    path: Int8KernelPath = .best
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "int8Gemm extents must not be negative: m \(m) n \(n) k \(k)")
    precondition(path.isAvailable, "int8 kernel path \(path) does not run on this CPU")
    if m == 0 || n == 0 { return }
    let tile = path.tile
    let wholeDepth = k / 4 * 4
    if wholeDepth == 0 && !accumulate {
        for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
    }
    var t = fs_qtile()
    t.a_row_stride = lda
    t.quad_offsets = UnsafePointer(workspace.offsets)
    t.ldc = ldc
    var depth = 0
    while depth < wholeDepth {
        let kc = min(int8GemmKC, wholeDepth - depth)
        let quads = kc / 4
        for q in 0..<quads { workspace.offsets[q] = Int32(depth + 4 * q) }
        t.quads = Int32(quads)
        t.accumulate = accumulate || depth > 0 ? 1 : 0
        var column0 = 0
        while column0 < n {
            let nc = min(int8GemmNC, n - column0)
            packInt8Block(b + depth * ldb + column0, ldb: ldb, quads: quads, columns: nc, into: workspace.packed)
            let panels = (nc + 15) / 16
            var row = 0
            while row < m {
                t.a = a + row * lda
                t.rows = Int32(min(int8TileRows, m - row))
                var panel = 0
                while panel < panels {
                    t.b = UnsafePointer(workspace.packed + panel * quads * 64)
                    t.panels = Int32(min(2, panels - panel))
                    t.columns = Int32(min(32, nc - panel * 16))
                    t.c = c + row * ldc + column0 + panel * 16
                    withUnsafePointer(to: &t) { tile($0) }
                    panel += 2
                }
                row += int8TileRows
            }
            column0 += nc
        }
        depth += kc
    }
    // The last k % 4 depth steps.
    if wholeDepth < k {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Int32 = 0
                for p in wholeDepth..<k { sum &+= Int32(a[i * lda + p]) * Int32(b[p * ldb + j]) }
                let target = c + i * ldc + j
                target.pointee = (accumulate || wholeDepth > 0) ? target.pointee &+ sum : sum
            }
        }
    }
}

/// Packs rows [0, 4 * quads) x columns [0, columns) of row-major int8 B (row stride `ldb`) into
/// panels [ceil(columns/16)][quads][16][4], zero past the last column.
@inline(__always)
func packInt8Block(_ b: UnsafePointer<Int8>, ldb: Int, quads: Int, columns: Int, into packed: UnsafeMutablePointer<Int8>) {
    let panels = (columns + 15) / 16
    let raw = UnsafeMutableRawPointer(packed)
    for panel in 0..<panels {
        let width = min(16, columns - panel * 16)
        for q in 0..<quads {
            let r0 = UnsafeRawPointer(b + 4 * q * ldb + panel * 16)
            let r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb
            let out = raw + (panel * quads + q) * 64
            if width == 16 {
                for j in 0..<16 {
                    let word = UInt32(r0.load(fromByteOffset: j, as: UInt8.self))
                        | UInt32(r1.load(fromByteOffset: j, as: UInt8.self)) << 8
                        | UInt32(r2.load(fromByteOffset: j, as: UInt8.self)) << 16
                        | UInt32(r3.load(fromByteOffset: j, as: UInt8.self)) << 24
                    out.storeBytes(of: word, toByteOffset: 4 * j, as: UInt32.self)
                }
            } else {
                for j in 0..<16 {
                    var word: UInt32 = 0
                    if j < width {
                        word = UInt32(r0.load(fromByteOffset: j, as: UInt8.self))
                            | UInt32(r1.load(fromByteOffset: j, as: UInt8.self)) << 8
                            | UInt32(r2.load(fromByteOffset: j, as: UInt8.self)) << 16
                            | UInt32(r3.load(fromByteOffset: j, as: UInt8.self)) << 24
                    }
                    out.storeBytes(of: word, toByteOffset: 4 * j, as: UInt32.self)
                }
            }
        }
    }
}

/// The plain reference: C (+)= A * B in int32 (wrapping, as the kernels).
public func int8GemmReference(
    m: Int, n: Int, k: Int, a: UnsafePointer<UInt8>, lda: Int, b: UnsafePointer<Int8>, ldb: Int,
    c: UnsafeMutablePointer<Int32>, ldc: Int, accumulate: Bool = false
) {
    for i in 0..<m {
        for j in 0..<n {
            var sum: Int32 = 0
            for p in 0..<k { sum &+= Int32(a[i * lda + p]) &* Int32(b[p * ldb + j]) }
            c[i * ldc + j] = accumulate ? c[i * ldc + j] &+ sum : sum
        }
    }
}

/// An int8 GEMM whose rows of C are cut into chunks of whole tiles that the pool's threads
/// claim, each thread with its own workspace; made once and reused, so that repeated calls
/// allocate nothing.
public final class Int8GemmTask: ParallelWork, @unchecked Sendable {
    /// Operands as for `int8Gemm`: C[M,N] (+)= A[M,K] (uint8) * B[K,N] (int8).
    public var m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0, accumulate = false
    public var a: UnsafePointer<UInt8>?, b: UnsafePointer<Int8>?, c: UnsafeMutablePointer<Int32>?
    /// The tile implementation.
    public var path = Int8KernelPath.best
    /// One workspace per thread.
    public let workspaces: [Int8GemmWorkspace]

    /// A task over `threads` workspaces carved from `memory` (`threads * Int8GemmWorkspace.byteCount` bytes).
    public init(memory: UnsafeMutableRawPointer, threads: Int) {
        workspaces = (0..<threads).map { Int8GemmWorkspace(memory: memory + $0 * Int8GemmWorkspace.byteCount) }
    }

    /// Runs on `pool` (one thread when the product is small). A chunk holds at least two tiles
    /// of rows: each chunk packs its own copy of B.
    public func run(on pool: ThreadPool) {
        if pool.threadCount == 1 || m < 2 * int8TileRows || m * n * k < 1 << 20 {
            work(chunk: 0, of: 1, thread: 0)
        } else {
            pool.run(self, chunks: pool.chunks(items: (m + int8TileRows - 1) / int8TileRows, minimumPerChunk: 2))
        }
    }

    /// Rows in whole tiles: tiles [tiles * chunk / chunks, tiles * (chunk + 1) / chunks).
    public func work(chunk: Int, of chunks: Int, thread: Int) {
        let tiles = ThreadPool.range(chunk: chunk, of: chunks, items: (m + int8TileRows - 1) / int8TileRows)
        let first = min(m, tiles.lowerBound * int8TileRows)
        let last = min(m, tiles.upperBound * int8TileRows)
        guard first < last else { return }
        int8Gemm(m: last - first, n: n, k: k, a: a! + first * lda, lda: lda, b: b!, ldb: ldb, c: c! + first * ldc, ldc: ldc,
                 accumulate: accumulate, workspace: workspaces[thread], path: path)
    }
}
