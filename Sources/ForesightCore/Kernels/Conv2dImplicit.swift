// Stride-1 convolution as an implicit GEMM: the unfolded matrix is never written; the GEMM's
// micro-kernel reads each of its rows straight from the zero-padded input through a table of
// offsets, and the weight gradient is a set of dot products over the same shifted rows.
// Not general: it needs output rows that are whole SIMD16 vectors (OW % 16 == 0); other
// shapes take the im2col path.
//
// Symbols: F output channels, C input channels, K = C * KH * KW, OH x OW output size,
// PW the padded row length; B[k, n] = padded[offset(k) + OHoffset(n)] is the unfolded matrix,
// offset(k) = (c * PH + kh) * PW + kw and OHoffset(n) = oy * PW + ox for n = oy * OW + ox.

extension Conv2dGeometry {
    /// Whether this convolution can run as an implicit GEMM: stride 1, one group, output rows
    /// of whole vectors and a whole number of NR-column panels.
    public var supportsImplicitGemm: Bool {
        stride == 1 && groups == 1 && !isPointwise && outWidth % 16 == 0 && columnCount % gemmNR == 0
    }
}

/// Writes offset(k) for every row k of the unfolded matrix: offsets[K].
@inline(__always)
func unfoldedRowOffsets(_ g: Conv2dGeometry, _ offsets: UnsafeMutablePointer<Int32>) {
    let planeSize = g.paddedHeight * g.paddedWidth
    var row = 0
    for channel in 0..<g.groupInChannels {
        for kernelRow in 0..<g.kernelHeight {
            for kernelColumn in 0..<g.kernelWidth {
                offsets[row] = Int32(channel * planeSize + kernelRow * g.paddedWidth + kernelColumn)
                row += 1
            }
        }
    }
}

/// output[F, OH*OW] (+)= weights[F, K] * B[K, OH*OW], B read in place from `padded`.
/// padded: [C, OH + KH - 1, OW + KW - 1] (the input with its zero border); offsets from `unfoldedRowOffsets`.
func implicitGemmForward(
    _ g: Conv2dGeometry, weights: UnsafePointer<Float>, padded: UnsafePointer<Float>, offsets: UnsafePointer<Int32>,
    output: UnsafeMutablePointer<Float>, accumulate: Bool, workspace: GemmWorkspace
) {
    let m = g.outChannels, k = g.columnRows, n = g.columnCount
    let outWidth = g.outWidth, paddedWidth = g.paddedWidth
    var depthStart = 0
    while depthStart < k {
        let kc = min(gemmKC, k - depthStart)
        let accumulateBlock = accumulate || depthStart > 0
        let blockOffsets = offsets + depthStart
        var rowStart = 0
        while rowStart < m {
            let mc = min(gemmMC, m - rowStart)
            packA(false, weights, k, rowStart, mc, depthStart, kc, workspace.packedA)
            var column = 0
            while column < n {
                // The two 16-column halves of a 32-column panel (x86-64) each lie inside one output row;
                // an 8-column panel (aarch64) lies inside one.
                let first = UnsafeRawPointer(padded + (column / outWidth) * paddedWidth + column % outWidth)
                let second = UnsafeRawPointer(padded + ((column + 16) / outWidth) * paddedWidth + (column + 16) % outWidth)
                let secondHalf = second - first
                var row = 0
                while row < mc {
                    let rows = min(gemmMR, mc - row)
                    let target = output + (rowStart + row) * n + column
                    let panelA = workspace.packedA + row * kc
                    if rows == gemmMR {
                        microKernel(kc, panelA, target, n, accumulateBlock, secondHalf: secondHalf) { first + Int(blockOffsets[$0]) * 4 }
                    } else {
                        microKernel(kc, panelA, workspace.tile, gemmNR, false, secondHalf: secondHalf) { first + Int(blockOffsets[$0]) * 4 }
                        storeEdgeTile(workspace.tile, target, n, rows: rows, columns: gemmNR, accumulate: accumulateBlock)
                    }
                    row += gemmMR
                }
                column += gemmNR
            }
            rowStart += mc
        }
        depthStart += kc
    }
}

/// dweight[F, K] += dy[F, OH*OW] * B[K, OH*OW]^T: blocks of 4 x 4 dot products, each summed
/// row segment by row segment (a segment of dy is one output row; of B, one padded input row).
func implicitWeightGradient(
    _ g: Conv2dGeometry, dy: UnsafePointer<Float>, padded: UnsafePointer<Float>, offsets: UnsafePointer<Int32>,
    dweight: UnsafeMutablePointer<Float>
) {
    typealias V = SIMD16<Float>
    let m = g.outChannels, k = g.columnRows, n = g.columnCount
    let outWidth = g.outWidth, outHeight = g.outHeight, paddedRow = g.paddedWidth * 4
    let rawPadded = UnsafeRawPointer(padded)
    func finish(_ i: Int, _ j: Int, _ sum: V) { dweight[i * k + j] += horizontalSum(sum) }
    var j = 0
    while j < k {
        let columns = min(4, k - j)
        // Fewer than four rows of B at the edge repeat the last one; its sums are not stored.
        let b0 = rawPadded + Int(offsets[j]) * 4
        let b1 = rawPadded + Int(offsets[j + min(1, columns - 1)]) * 4
        let b2 = rawPadded + Int(offsets[j + min(2, columns - 1)]) * 4
        let b3 = rawPadded + Int(offsets[j + min(3, columns - 1)]) * 4
        var i = 0
        while i < m {
            let rows = min(4, m - i)
            let a0 = UnsafeRawPointer(dy + i * n), a1 = UnsafeRawPointer(dy + (i + min(1, rows - 1)) * n)
            let a2 = UnsafeRawPointer(dy + (i + min(2, rows - 1)) * n), a3 = UnsafeRawPointer(dy + (i + min(3, rows - 1)) * n)
            var s00 = V(), s01 = V(), s02 = V(), s03 = V(), s10 = V(), s11 = V(), s12 = V(), s13 = V()
            var s20 = V(), s21 = V(), s22 = V(), s23 = V(), s30 = V(), s31 = V(), s32 = V(), s33 = V()
            for outY in 0..<outHeight {
                let aRow = outY * outWidth * 4, bRow = outY * paddedRow
                var x = 0
                while x < outWidth * 4 {
                    let x0 = a0.loadUnaligned(fromByteOffset: aRow + x, as: V.self), x1 = a1.loadUnaligned(fromByteOffset: aRow + x, as: V.self)
                    let x2 = a2.loadUnaligned(fromByteOffset: aRow + x, as: V.self), x3 = a3.loadUnaligned(fromByteOffset: aRow + x, as: V.self)
                    var y = b0.loadUnaligned(fromByteOffset: bRow + x, as: V.self)
                    s00.addProduct(x0, y); s10.addProduct(x1, y); s20.addProduct(x2, y); s30.addProduct(x3, y)
                    y = b1.loadUnaligned(fromByteOffset: bRow + x, as: V.self)
                    s01.addProduct(x0, y); s11.addProduct(x1, y); s21.addProduct(x2, y); s31.addProduct(x3, y)
                    y = b2.loadUnaligned(fromByteOffset: bRow + x, as: V.self)
                    s02.addProduct(x0, y); s12.addProduct(x1, y); s22.addProduct(x2, y); s32.addProduct(x3, y)
                    y = b3.loadUnaligned(fromByteOffset: bRow + x, as: V.self)
                    s03.addProduct(x0, y); s13.addProduct(x1, y); s23.addProduct(x2, y); s33.addProduct(x3, y)
                    x += 64
                }
            }
            finish(i, j, s00)
            if columns > 1 { finish(i, j + 1, s01) }
            if columns > 2 { finish(i, j + 2, s02) }
            if columns > 3 { finish(i, j + 3, s03) }
            if rows > 1 {
                finish(i + 1, j, s10)
                if columns > 1 { finish(i + 1, j + 1, s11) }
                if columns > 2 { finish(i + 1, j + 2, s12) }
                if columns > 3 { finish(i + 1, j + 3, s13) }
            }
            if rows > 2 {
                finish(i + 2, j, s20)
                if columns > 1 { finish(i + 2, j + 1, s21) }
                if columns > 2 { finish(i + 2, j + 2, s22) }
                if columns > 3 { finish(i + 2, j + 3, s23) }
            }
            if rows > 3 {
                finish(i + 3, j, s30)
                if columns > 1 { finish(i + 3, j + 1, s31) }
                if columns > 2 { finish(i + 3, j + 2, s32) }
                if columns > 3 { finish(i + 3, j + 3, s33) }
            }
            i += 4
        }
        j += 4
    }
}
