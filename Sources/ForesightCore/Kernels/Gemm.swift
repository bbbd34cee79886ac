// Float32 matrix multiply: C[M,N] (+)= op(A)[M,K] * op(B)[K,N], row-major with leading
// dimensions. The fast path packs panels (blocks KC x NC of B, MC x KC of A) and runs a
// register-blocked micro-kernel sized for the architecture's vector registers (8 x 32 of
// SIMD16 on x86-64, 8 x 8 of SIMD4 on aarch64); `gemmReference` is the plain triple loop the
// tests hold it to. Not a BLAS: no alpha/beta scaling other than overwrite/accumulate.
//
// Symbols: M, N, K are the matrix extents; MR x NR the micro-kernel tile; MC, KC, NC the
// cache blocks. op(A) = A or A^T as `transA` says; A[i, p] lives at a[i*lda + p] (or
// a[p*lda + i] when transposed), likewise B.

#if arch(arm64)
// NEON has 32 registers of 4 floats. An 8 x 8 tile keeps 16 accumulators, 2 vectors of B and
// 2 of A (whose lanes feed `fmla v.4s, v.4s, v.s[i]` directly, no broadcast): 20 registers.
// 12 x 8 (24 accumulators) reaches the same llvm-mca estimate in its inner loop (100% of the
// FMA pipes on Cortex-A72 and A76, Tests/KernelMCA) but computes 24 rows for the 16 output
// channels of pc64's layers; 8 x 12 would break the 16-column rows of the implicit GEMM.
/// Register tile rows.
public let gemmMR = 8
/// Register tile columns (two SIMD4 vectors).
public let gemmNR = 8
/// Cache block along K: a KC x NR panel of B (8 KiB) and an MR x KC panel of A (8 KiB) stay in L1.
public let gemmKC = 256
/// Cache block along M: an MC x KC block of A (128 KiB) stays in L2.
public let gemmMC = 128
/// Cache block along N: a KC x NC block of B (512 KiB) fits the Pi 4's shared 1 MiB L2.
public let gemmNC = 512
#else
// AVX-512 has 32 registers of 16 floats: an 8 x 32 tile keeps 16 accumulators.
/// Register tile rows.
public let gemmMR = 8
/// Register tile columns (two SIMD16 vectors).
public let gemmNR = 32
/// Cache block along K: a KC x NR panel of B (24 KiB) stays in L1 across the rows of A.
public let gemmKC = 192
/// Cache block along M: an MC x KC block of A (96 KiB) stays in L2.
public let gemmMC = 128
/// Cache block along N.
public let gemmNC = 1024
#endif

/// Scratch memory for one thread's GEMM: packed panels of A and B and one edge tile.
public struct GemmWorkspace: @unchecked Sendable {
    /// Floats a workspace needs.
    public static let floatCount = gemmMC * gemmKC + gemmKC * gemmNC + gemmMR * gemmNR

    let packedA: UnsafeMutablePointer<Float>
    let packedB: UnsafeMutablePointer<Float>
    let tile: UnsafeMutablePointer<Float>

    /// A workspace over `floatCount` floats at `memory` (64-byte aligned).
    public init(memory: UnsafeMutablePointer<Float>) {
        packedA = memory
        packedB = memory + gemmMC * gemmKC
        tile = packedB + gemmKC * gemmNC
    }
}

/// C[M,N] = op(A) * op(B), or C += op(A) * op(B) when `accumulate`.
///
/// ```swift
/// // y[M,N] = w[M,K] * x[K,N]
/// gemm(m: M, n: N, k: K, a: w, lda: K, b: x, ldb: N, c: y, ldc: N, workspace: ws)
/// ```
public func gemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false, workspace: GemmWorkspace
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm extents must not be negative: m \(m) n \(n) k \(k)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    // A * B^T with long contiguous rows on both sides: dot products, no packing.
    if transB && !transA && k >= 64 && m <= 64 {
        gemmDotBlocks(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        return
    }
    // Few rows waste most of an 8-row tile: use dot-product or axpy loops instead.
    if m < 4 && !transA {
        if transB {
            gemmRowsDot(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
            return
        }
        gemmRowsAxpy(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        return
    }
    var columnStart = 0
    while columnStart < n {
        let nc = min(gemmNC, n - columnStart)
        var depthStart = 0
        while depthStart < k {
            let kc = min(gemmKC, k - depthStart)
            // With few rows of A each panel of B is used only m / MR times: packing it would cost
            // about as much as using it, so full panels are read in place and only the edge is packed.
            let readBInPlace = !transB && m <= 4 * gemmMR
            if readBInPlace {
                let edge = nc % gemmNR
                if edge != 0 { packB(false, b, ldb, depthStart, kc, columnStart + nc - edge, edge, workspace.packedB) }
            } else {
                packB(transB, b, ldb, depthStart, kc, columnStart, nc, workspace.packedB)
            }
            let accumulateBlock = accumulate || depthStart > 0
            var rowStart = 0
            while rowStart < m {
                let mc = min(gemmMC, m - rowStart)
                packA(transA, a, lda, rowStart, mc, depthStart, kc, workspace.packedA)
                var column = 0
                while column < nc {
                    let nr = min(gemmNR, nc - column)
                    let inPlace = readBInPlace && nr == gemmNR
                    let panelB: UnsafePointer<Float>
                    if inPlace {
                        panelB = b + (depthStart * ldb + columnStart + column)
                    } else {
                        panelB = UnsafePointer(workspace.packedB + (readBInPlace ? 0 : column * kc))
                    }
                    let strideB = inPlace ? ldb : gemmNR
                    var row = 0
                    while row < mc {
                        let mr = min(gemmMR, mc - row)
                        let target = c + (rowStart + row) * ldc + columnStart + column
                        let panelA = workspace.packedA + row * kc
                        if mr == gemmMR && nr == gemmNR {
                            microKernel(kc, panelA, panelB, strideB, target, ldc, accumulateBlock)
                        } else {
                            microKernel(kc, panelA, panelB, strideB, workspace.tile, gemmNR, false)
                            storeEdgeTile(workspace.tile, target, ldc, rows: mr, columns: nr, accumulate: accumulateBlock)
                        }
                        row += gemmMR
                    }
                    column += gemmNR
                }
                rowStart += mc
            }
            depthStart += kc
        }
        columnStart += nc
    }
}

/// A GEMM whose columns of C are cut into chunks of whole register tiles that the pool's
/// threads claim, each thread with its own workspace. Made once and reused (set the operands,
/// then `run(on:)`), it lets training steps run threaded GEMMs without allocating. Every
/// element of C is computed the same way whatever the chunks, so results do not depend on the
/// thread count or timing.
public final class GemmTask: ParallelWork, @unchecked Sendable {
    public var transA = false, transB = false, accumulate = false
    public var m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0
    public var a: UnsafePointer<Float>?, b: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>?
    /// One workspace per thread.
    public let workspaces: [GemmWorkspace]

    /// A task over `threads` workspaces carved from `memory` (`threads * GemmWorkspace.floatCount` floats).
    public init(memory: UnsafeMutablePointer<Float>, threads: Int) {
        workspaces = (0..<threads).map { GemmWorkspace(memory: memory + $0 * GemmWorkspace.floatCount) }
    }

    /// Sets the operands, as for `gemm(...)`.
    public func set(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
        self.transA = transA; self.transB = transB; self.accumulate = accumulate
        self.m = m; self.n = n; self.k = k; self.lda = lda; self.ldb = ldb; self.ldc = ldc
        self.a = a; self.b = b; self.c = c
    }

    /// Runs the GEMM on `pool` (on one thread when it is too small to split). A chunk holds at
    /// least two column panels: each chunk packs its own copy of A.
    public func run(on pool: ThreadPool) {
        precondition(workspaces.count >= pool.threadCount, "gemm needs \(pool.threadCount) workspaces, got \(workspaces.count)")
        if pool.threadCount == 1 || n < 2 * gemmNR || m * n * k < 1 << 19 {
            work(chunk: 0, of: 1, thread: 0)
        } else {
            pool.run(self, chunks: pool.chunks(items: (n + gemmNR - 1) / gemmNR, minimumPerChunk: 2))
        }
    }

    /// Columns of C in whole panels of NR: panels [panels * chunk / chunks, panels * (chunk + 1) / chunks).
    public func work(chunk: Int, of chunks: Int, thread: Int) {
        let panels = ThreadPool.range(chunk: chunk, of: chunks, items: (n + gemmNR - 1) / gemmNR)
        let first = panels.lowerBound * gemmNR
        let last = min(n, panels.upperBound * gemmNR)
        guard first < last else { return }
        let columnsB = transB ? b! + first * ldb : b! + first
        gemm(transA: transA, transB: transB, m: m, n: last - first, k: k, a: a!, lda: lda,
             b: columnsB, ldb: ldb, c: c! + first, ldc: ldc, accumulate: accumulate, workspace: workspaces[thread])
    }
}

/// Multithreaded `gemm` over the pool's threads; `workspaceMemory` holds
/// `pool.threadCount * GemmWorkspace.floatCount` floats. Allocates a small task object per
/// call: in loops, keep a `GemmTask` instead.
public func gemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false,
    workspaceMemory: UnsafeMutablePointer<Float>, pool: ThreadPool
) {
    let task = GemmTask(memory: workspaceMemory, threads: pool.threadCount)
    task.set(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    task.run(on: pool)
}

/// Packs rows [row0, row0+mc) x depth [depth0, depth0+kc) of op(A) into MR-row panels:
/// panel p holds, for each depth step, MR consecutive row values (zero past the edge).
@inline(__always)
func packA(
    _ transposed: Bool, _ a: UnsafePointer<Float>, _ lda: Int,
    _ row0: Int, _ mc: Int, _ depth0: Int, _ kc: Int, _ packed: UnsafeMutablePointer<Float>
) {
    var panel = 0
    while panel < mc {
        let rows = min(gemmMR, mc - panel)
        let out = packed + panel * kc
        if transposed {
            for p in 0..<kc {
                let source = a + (depth0 + p) * lda + row0 + panel
                let destination = out + p * gemmMR
                for r in 0..<rows { destination[r] = source[r] }
                for r in rows..<gemmMR { destination[r] = 0 }
            }
        } else {
            for r in 0..<gemmMR {
                if r < rows {
                    let source = a + (row0 + panel + r) * lda + depth0
                    for p in 0..<kc { out[p * gemmMR + r] = source[p] }
                } else {
                    for p in 0..<kc { out[p * gemmMR + r] = 0 }
                }
            }
        }
        panel += gemmMR
    }
}

/// Packs depth [depth0, depth0+kc) x columns [column0, column0+nc) of op(B) into NR-column
/// panels: panel q holds, for each depth step, NR consecutive column values (zero past the edge).
@inline(__always)
private func packB(
    _ transposed: Bool, _ b: UnsafePointer<Float>, _ ldb: Int,
    _ depth0: Int, _ kc: Int, _ column0: Int, _ nc: Int, _ packed: UnsafeMutablePointer<Float>
) {
    var panel = 0
    while panel < nc {
        let columns = min(gemmNR, nc - panel)
        let out = packed + panel * kc
        if transposed {
            for j in 0..<gemmNR {
                if j < columns {
                    let source = b + (column0 + panel + j) * ldb + depth0
                    for p in 0..<kc { out[p * gemmNR + j] = source[p] }
                } else {
                    for p in 0..<kc { out[p * gemmNR + j] = 0 }
                }
            }
        } else if columns == gemmNR {
            for p in 0..<kc {
                let source = UnsafeRawPointer(b + (depth0 + p) * ldb + column0 + panel)
                let destination = UnsafeMutableRawPointer(out + p * gemmNR)
                #if arch(arm64)
                destination.storeBytes(of: source.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                #else
                destination.storeBytes(of: source.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                (destination + 64).storeBytes(of: source.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                #endif
            }
        } else {
            for p in 0..<kc {
                let source = b + (depth0 + p) * ldb + column0 + panel
                let destination = out + p * gemmNR
                for j in 0..<columns { destination[j] = source[j] }
                for j in columns..<gemmNR { destination[j] = 0 }
            }
        }
        panel += gemmNR
    }
}

/// Copies (or adds) the first `rows` x `columns` of an edge tile computed in full into C.
@inline(__always)
func storeEdgeTile(_ tile: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, rows: Int, columns: Int, accumulate: Bool) {
    for i in 0..<rows {
        let source = tile + i * gemmNR, destination = c + i * ldc
        if accumulate {
            for j in 0..<columns { destination[j] += source[j] }
        } else {
            destination.update(from: source, count: columns)
        }
    }
}

/// C[MR, NR] (+)= Apanel[kc x MR] * B[kc x NR] with B's rows `ldb` floats apart (NR when packed).
@inline(__always)
private func microKernel(
    _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool
) {
    let rawB = UnsafeRawPointer(b)
    microKernel(kc, a, c, ldc, accumulate, secondHalf: 64) { rawB + $0 * ldb * 4 }
}

#if arch(arm64)
/// C[8, 8] (+)= Apanel[kc x 8] * B[kc x 8], where row p of B is the 8 floats at `row(p)`
/// (`secondHalf` is unused: a row is never split); sixteen SIMD4 accumulators, each A value
/// taken as a lane of a loaded vector so that the FMA reads it by index.
@inline(__always)
func microKernel(
    _ kc: Int, _ a: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool,
    secondHalf: Int, row: (Int) -> UnsafeRawPointer
) {
    typealias V = SIMD4<Float>
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
    var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
    let rawA = UnsafeRawPointer(a)
    var p = 0
    while p < kc {
        let rowStart = row(p)
        let b0 = rowStart.loadUnaligned(as: V.self)
        let b1 = rowStart.loadUnaligned(fromByteOffset: 16, as: V.self)
        let low = rawA.loadUnaligned(fromByteOffset: p * 32, as: V.self)
        let high = rawA.loadUnaligned(fromByteOffset: p * 32 + 16, as: V.self)
        c00.addProduct(V(repeating: low[0]), b0); c01.addProduct(V(repeating: low[0]), b1)
        c10.addProduct(V(repeating: low[1]), b0); c11.addProduct(V(repeating: low[1]), b1)
        c20.addProduct(V(repeating: low[2]), b0); c21.addProduct(V(repeating: low[2]), b1)
        c30.addProduct(V(repeating: low[3]), b0); c31.addProduct(V(repeating: low[3]), b1)
        c40.addProduct(V(repeating: high[0]), b0); c41.addProduct(V(repeating: high[0]), b1)
        c50.addProduct(V(repeating: high[1]), b0); c51.addProduct(V(repeating: high[1]), b1)
        c60.addProduct(V(repeating: high[2]), b0); c61.addProduct(V(repeating: high[2]), b1)
        c70.addProduct(V(repeating: high[3]), b0); c71.addProduct(V(repeating: high[3]), b1)
        p += 1
    }
    @inline(__always) func store(_ row: Int, _ left: V, _ right: V) {
        let raw = UnsafeMutableRawPointer(c + row * ldc)
        if accumulate {
            raw.storeBytes(of: raw.loadUnaligned(as: V.self) + left, as: V.self)
            (raw + 16).storeBytes(of: (raw + 16).loadUnaligned(as: V.self) + right, as: V.self)
        } else {
            raw.storeBytes(of: left, as: V.self)
            (raw + 16).storeBytes(of: right, as: V.self)
        }
    }
    store(0, c00, c01); store(1, c10, c11); store(2, c20, c21); store(3, c30, c31)
    store(4, c40, c41); store(5, c50, c51); store(6, c60, c61); store(7, c70, c71)
}
#else
/// C[8, 32] (+)= Apanel[kc x 8] * B[kc x 32], where row p of B starts at `row(p)` (16 floats)
/// and continues at `row(p) + secondHalf` bytes (16 more); sixteen SIMD16 accumulators.
@inline(__always)
func microKernel(
    _ kc: Int, _ a: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool,
    secondHalf: Int, row: (Int) -> UnsafeRawPointer
) {
    typealias V = SIMD16<Float>
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
    var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
    var p = 0
    while p < kc {
        let rowStart = row(p)
        let b0 = rowStart.loadUnaligned(as: V.self)
        let b1 = rowStart.loadUnaligned(fromByteOffset: secondHalf, as: V.self)
        let column = a + p * 8
        var broadcast = V(repeating: column[0])
        c00.addProduct(broadcast, b0); c01.addProduct(broadcast, b1)
        broadcast = V(repeating: column[1])
        c10.addProduct(broadcast, b0); c11.addProduct(broadcast, b1)
        broadcast = V(repeating: column[2])
        c20.addProduct(broadcast, b0); c21.addProduct(broadcast, b1)
        broadcast = V(repeating: column[3])
        c30.addProduct(broadcast, b0); c31.addProduct(broadcast, b1)
        broadcast = V(repeating: column[4])
        c40.addProduct(broadcast, b0); c41.addProduct(broadcast, b1)
        broadcast = V(repeating: column[5])
        c50.addProduct(broadcast, b0); c51.addProduct(broadcast, b1)
        broadcast = V(repeating: column[6])
        c60.addProduct(broadcast, b0); c61.addProduct(broadcast, b1)
        broadcast = V(repeating: column[7])
        c70.addProduct(broadcast, b0); c71.addProduct(broadcast, b1)
        p += 1
    }
    @inline(__always) func store(_ row: Int, _ left: V, _ right: V) {
        let raw = UnsafeMutableRawPointer(c + row * ldc)
        if accumulate {
            raw.storeBytes(of: raw.loadUnaligned(as: V.self) + left, as: V.self)
            (raw + 64).storeBytes(of: (raw + 64).loadUnaligned(as: V.self) + right, as: V.self)
        } else {
            raw.storeBytes(of: left, as: V.self)
            (raw + 64).storeBytes(of: right, as: V.self)
        }
    }
    store(0, c00, c01); store(1, c10, c11); store(2, c20, c21); store(3, c30, c31)
    store(4, c40, c41); store(5, c50, c51); store(6, c60, c61); store(7, c70, c71)
}
#endif

/// C[i, j] (+)= dot(A[i, :], B[j, :]) in blocks of 4 x 4 dot products (sixteen SIMD16
/// accumulators; 8 loads feed 16 FMAs). Blocks of B rows are the outer loop so that they stay
/// in L1 while every row of A passes by.
private func gemmDotBlocks(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    typealias V = SIMD16<Float>
    let vectorEnd = k / 16 * 16
    var j = 0
    while j + 4 <= n {
        let b0 = UnsafeRawPointer(b + j * ldb), b1 = UnsafeRawPointer(b + (j + 1) * ldb)
        let b2 = UnsafeRawPointer(b + (j + 2) * ldb), b3 = UnsafeRawPointer(b + (j + 3) * ldb)
        var i = 0
        while i + 4 <= m {
            let a0 = UnsafeRawPointer(a + i * lda), a1 = UnsafeRawPointer(a + (i + 1) * lda)
            let a2 = UnsafeRawPointer(a + (i + 2) * lda), a3 = UnsafeRawPointer(a + (i + 3) * lda)
            var s00 = V(), s01 = V(), s02 = V(), s03 = V(), s10 = V(), s11 = V(), s12 = V(), s13 = V()
            var s20 = V(), s21 = V(), s22 = V(), s23 = V(), s30 = V(), s31 = V(), s32 = V(), s33 = V()
            var offset = 0
            while offset < vectorEnd * 4 {
                let x0 = a0.loadUnaligned(fromByteOffset: offset, as: V.self), x1 = a1.loadUnaligned(fromByteOffset: offset, as: V.self)
                let x2 = a2.loadUnaligned(fromByteOffset: offset, as: V.self), x3 = a3.loadUnaligned(fromByteOffset: offset, as: V.self)
                var y = b0.loadUnaligned(fromByteOffset: offset, as: V.self)
                s00.addProduct(x0, y); s10.addProduct(x1, y); s20.addProduct(x2, y); s30.addProduct(x3, y)
                y = b1.loadUnaligned(fromByteOffset: offset, as: V.self)
                s01.addProduct(x0, y); s11.addProduct(x1, y); s21.addProduct(x2, y); s31.addProduct(x3, y)
                y = b2.loadUnaligned(fromByteOffset: offset, as: V.self)
                s02.addProduct(x0, y); s12.addProduct(x1, y); s22.addProduct(x2, y); s32.addProduct(x3, y)
                y = b3.loadUnaligned(fromByteOffset: offset, as: V.self)
                s03.addProduct(x0, y); s13.addProduct(x1, y); s23.addProduct(x2, y); s33.addProduct(x3, y)
                offset += 64
            }
            @inline(__always) func finish(_ row: Int, _ column: Int, _ partial: V) {
                var total = horizontalSum(partial)
                let left = a + (i + row) * lda, right = b + (j + column) * ldb
                var p = vectorEnd
                while p < k { total += left[p] * right[p]; p += 1 }
                let index = (i + row) * ldc + j + column
                c[index] = accumulate ? c[index] + total : total
            }
            finish(0, 0, s00); finish(0, 1, s01); finish(0, 2, s02); finish(0, 3, s03)
            finish(1, 0, s10); finish(1, 1, s11); finish(1, 2, s12); finish(1, 3, s13)
            finish(2, 0, s20); finish(2, 1, s21); finish(2, 2, s22); finish(2, 3, s23)
            finish(3, 0, s30); finish(3, 1, s31); finish(3, 2, s32); finish(3, 3, s33)
            i += 4
        }
        if i < m {
            gemmRowsDot(m: m - i, n: 4, k: k, a: a + i * lda, lda: lda, b: b + j * ldb, ldb: ldb, c: c + i * ldc + j, ldc: ldc, accumulate: accumulate)
        }
        j += 4
    }
    if j < n {
        gemmRowsDot(m: m, n: n - j, k: k, a: a, lda: lda, b: b + j * ldb, ldb: ldb, c: c + j, ldc: ldc, accumulate: accumulate)
    }
}

/// C[i, j] (+)= dot(A[i, :], B[j, :]) for few rows of A and transposed B; SIMD16 dot products.
private func gemmRowsDot(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    for i in 0..<m {
        let rowA = a + i * lda
        for j in 0..<n {
            let value = dot(rowA, b + j * ldb, k)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + value : value
        }
    }
}

/// C[i, :] (+)= sum_p A[i, p] * B[p, :] for few rows of A; SIMD16 axpy along the row.
private func gemmRowsAxpy(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    for i in 0..<m {
        let rowC = c + i * ldc
        if !accumulate { rowC.update(repeating: 0, count: n) }
        var p = 0
        while p < k {
            let weight = a[i * lda + p]
            axpy(weight, b + p * ldb, rowC, n)
            p += 1
        }
    }
}

/// Sum of x[i] * y[i] over `count` elements, four SIMD16 accumulators then a scalar tail.
@inline(__always)
public func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
    typealias V = SIMD16<Float>
    let rawX = UnsafeRawPointer(x), rawY = UnsafeRawPointer(y)
    var s0 = V(), s1 = V()
    var i = 0
    while i + 32 <= count {
        s0.addProduct(rawX.loadUnaligned(fromByteOffset: i * 4, as: V.self), rawY.loadUnaligned(fromByteOffset: i * 4, as: V.self))
        s1.addProduct(rawX.loadUnaligned(fromByteOffset: i * 4 + 64, as: V.self), rawY.loadUnaligned(fromByteOffset: i * 4 + 64, as: V.self))
        i += 32
    }
    while i + 16 <= count {
        s0.addProduct(rawX.loadUnaligned(fromByteOffset: i * 4, as: V.self), rawY.loadUnaligned(fromByteOffset: i * 4, as: V.self))
        i += 16
    }
    var total = horizontalSum(s0 + s1)
    while i < count { total += x[i] * y[i]; i += 1 }
    return total
}

/// y[i] += alpha * x[i] over `count` elements; SIMD16 body, scalar tail.
@inline(__always)
public func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    typealias V = SIMD16<Float>
    let rawX = UnsafeRawPointer(x), rawY = UnsafeMutableRawPointer(y)
    let scale = V(repeating: alpha)
    var i = 0
    while i + 16 <= count {
        let updated = rawY.loadUnaligned(fromByteOffset: i * 4, as: V.self).addingProduct(scale, rawX.loadUnaligned(fromByteOffset: i * 4, as: V.self))
        rawY.storeBytes(of: updated, toByteOffset: i * 4, as: V.self)
        i += 16
    }
    while i < count { y[i] += alpha * x[i]; i += 1 }
}

/// Sum of the 16 lanes by halving (the generic `sum()` is not inlined).
@inline(__always)
public func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let eight = v.lowHalf + v.highHalf
    let four = eight.lowHalf + eight.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// The plain reference: C (+)= op(A) * op(B), accumulated in Double.
public func gemmReference(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
) {
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let left = transA ? a[p * lda + i] : a[i * lda + p]
                let right = transB ? b[j * ldb + p] : b[p * ldb + j]
                sum += Double(left) * Double(right)
            }
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + Float(sum) : Float(sum)
        }
    }
}
