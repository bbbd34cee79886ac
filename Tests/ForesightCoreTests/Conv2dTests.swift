// conv2d: the im2col + GEMM path against the direct reference, and its backward against
// finite differences, over strides, padding, groups (depthwise included) and threads.

import XCTest
@testable import ForesightCore

final class Conv2dTests: XCTestCase {
    private func random(_ count: Int, _ rng: inout SeededRandom) -> [Float] { (0..<count).map { _ in rng.nextFloat(in: -1..<1) } }

    private func run(_ g: Conv2dGeometry, threads: Int, _ body: (UnsafeMutablePointer<Float>, ThreadPool) -> Void) {
        let pool = ThreadPool(threads: threads)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Conv2dScratch.floatCount(g, threads: threads))
        defer { scratch.deallocate() }
        body(scratch, pool)
    }

    private func forward(_ g: Conv2dGeometry, _ x: [Float], _ w: [Float], _ b: [Float], threads: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: g.outputShape.reduce(1, *))
        run(g, threads: threads) { scratch, pool in
            conv2dForward(g, x: x, weight: w, bias: b, y: &y, scratch: scratch, pool: pool)
        }
        return y
    }

    let geometries: [Conv2dGeometry] = [
        try! Conv2dGeometry(batch: 2, inChannels: 3, height: 7, width: 6, outChannels: 4, kernel: 3, stride: 1, padding: 1),
        try! Conv2dGeometry(batch: 3, inChannels: 4, height: 9, width: 8, outChannels: 5, kernel: 3, stride: 2, padding: 1),
        try! Conv2dGeometry(batch: 1, inChannels: 4, height: 6, width: 6, outChannels: 6, kernel: 3, stride: 1, padding: 0, groups: 2),
        try! Conv2dGeometry(batch: 2, inChannels: 6, height: 5, width: 7, outChannels: 6, kernel: 3, stride: 1, padding: 1, groups: 6),
        try! Conv2dGeometry(batch: 2, inChannels: 5, height: 4, width: 4, outChannels: 3, kernel: 1),
        try! Conv2dGeometry(batch: 1, inChannels: 2, height: 5, width: 5, outChannels: 2, kernel: 5, stride: 3, padding: 2),
        // Stride 1 with many filters: input gradient by the flipped-weight convolution.
        try! Conv2dGeometry(batch: 2, inChannels: 3, height: 6, width: 5, outChannels: 8, kernel: 3, stride: 1, padding: 1),
        try! Conv2dGeometry(batch: 1, inChannels: 2, height: 6, width: 7, outChannels: 6, kernel: 3, stride: 1, padding: 0),
        // Few filters: the direct path, with rows wider than one vector.
        try! Conv2dGeometry(batch: 2, inChannels: 2, height: 3, width: 21, outChannels: 1, kernel: 3, stride: 1, padding: 1),
        try! Conv2dGeometry(batch: 1, inChannels: 2, height: 4, width: 18, outChannels: 3, kernel: 5, stride: 1, padding: 2),
        // Rows of whole vectors: the implicit GEMM (forward, weight and input gradients), with
        // a partial tile of filters and, in the last, two depth blocks (K = 275 > KC: 192 on x86-64, 256 on aarch64).
        try! Conv2dGeometry(batch: 2, inChannels: 3, height: 2, width: 16, outChannels: 8, kernel: 3, stride: 1, padding: 1),
        try! Conv2dGeometry(batch: 1, inChannels: 2, height: 3, width: 32, outChannels: 5, kernel: 3, stride: 1, padding: 1),
        try! Conv2dGeometry(batch: 1, inChannels: 11, height: 2, width: 16, outChannels: 12, kernel: 5, stride: 1, padding: 2),
        // Few filters over whole-vector rows: direct forward, implicit input gradient.
        try! Conv2dGeometry(batch: 1, inChannels: 3, height: 2, width: 16, outChannels: 1, kernel: 3, stride: 1, padding: 1),
    ]

    func testGeometriesCoverEveryPath() {
        XCTAssertTrue(geometries.contains { $0.usesDirectPath })
        XCTAssertTrue(geometries.contains { $0.usesTransposedInputGradient && !$0.usesDirectPath })
        XCTAssertTrue(geometries.contains { !$0.usesTransposedInputGradient && !$0.isPointwise })
        XCTAssertTrue(geometries.contains { $0.isPointwise })
        XCTAssertTrue(geometries.contains { $0.supportsImplicitGemm && !$0.usesDirectPath && $0.columnRows > gemmKC })
        XCTAssertTrue(geometries.contains { $0.usesDirectPath && $0.transposed.supportsImplicitGemm })
    }

    func testForwardMatchesDirectReference() {
        var rng = SeededRandom(seed: 11)
        for g in geometries {
            let x = random(g.batch * g.inChannels * g.height * g.width, &rng)
            let w = random(g.weightShape.reduce(1, *), &rng)
            let b = random(g.outChannels, &rng)
            var expected = [Float](repeating: 0, count: g.outputShape.reduce(1, *))
            conv2dReference(g, x: x, weight: w, bias: b, y: &expected)
            for threads in [1, 2] {
                assertClose(forward(g, x, w, b, threads: threads), expected.map(Double.init), absolute: 1e-5, relative: 1e-5, "\(g) threads \(threads)")
            }
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = SeededRandom(seed: 12)
        for g in geometries {
            let inputs = [random(g.batch * g.inChannels * g.height * g.width, &rng), random(g.weightShape.reduce(1, *), &rng), random(g.outChannels, &rng)]
            for threads in [1, 2] {
                checkGradients(inputs: inputs, forward: { forward(g, $0[0], $0[1], $0[2], threads: threads) }) { inputs, dy, gradients in
                    run(g, threads: threads) { scratch, pool in
                        conv2dBackward(g, x: inputs[0], weight: inputs[1], dy: dy, dx: gradients[0], dweight: gradients[1],
                                       dbias: gradients[2], scratch: scratch, pool: pool)
                    }
                }
            }
        }
    }

    /// The weight and bias gradients are summed per chunk of samples and the chunks added in
    /// order, so every thread count (and every timing) gives the same bits.
    func testBackwardIsBitIdenticalForAnyThreadCount() {
        var rng = SeededRandom(seed: 14)
        let shapes = [try! Conv2dGeometry(batch: 8, inChannels: 4, height: 16, width: 16, outChannels: 8, kernel: 3, stride: 2, padding: 1),
                      try! Conv2dGeometry(batch: 5, inChannels: 8, height: 8, width: 16, outChannels: 8, kernel: 3, stride: 1, padding: 1),
                      try! Conv2dGeometry(batch: 20, inChannels: 2, height: 6, width: 16, outChannels: 1, kernel: 3, stride: 1, padding: 1)]
        for g in shapes {
            let x = random(g.batch * g.inChannels * g.height * g.width, &rng), w = random(g.weightShape.reduce(1, *), &rng)
            let dy = random(g.outputShape.reduce(1, *), &rng)
            var results: [[Float]] = []
            for threads in 1...4 {
                var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0.5, count: w.count)
                var db = [Float](repeating: 0.25, count: g.outChannels)
                run(g, threads: threads) { scratch, pool in
                    for _ in 0..<3 {
                        conv2dBackward(g, x: x, weight: w, dy: dy, dx: &dx, dweight: &dw, dbias: &db, scratch: scratch, pool: pool)
                    }
                }
                results.append(dx + dw + db)
            }
            for threads in 2...4 { XCTAssertEqual(results[threads - 1], results[0], "\(g): \(threads) threads against 1") }
        }
    }

    func testBackwardWithoutInputGradientLeavesOthersRight() {
        var rng = SeededRandom(seed: 13)
        let g = geometries[1]
        let inputs = [random(g.batch * g.inChannels * g.height * g.width, &rng), random(g.weightShape.reduce(1, *), &rng), random(g.outChannels, &rng)]
        checkGradients(inputs: inputs, checkedInputs: [1, 2], forward: { forward(g, $0[0], $0[1], $0[2], threads: 1) }) { inputs, dy, gradients in
            run(g, threads: 1) { scratch, pool in
                conv2dBackward(g, x: inputs[0], weight: inputs[1], dy: dy, dx: nil, dweight: gradients[1], dbias: gradients[2], scratch: scratch, pool: pool)
            }
        }
    }

    func testGeometryRejectsImpossibleShapes() {
        XCTAssertThrowsError(try Conv2dGeometry(batch: 1, inChannels: 3, height: 4, width: 4, outChannels: 4, kernel: 3, groups: 2))
        XCTAssertThrowsError(try Conv2dGeometry(batch: 1, inChannels: 3, height: 2, width: 2, outChannels: 4, kernel: 5))
        XCTAssertThrowsError(try Conv2dGeometry(batch: 1, inChannels: 3, height: 4, width: 4, outChannels: 4, kernel: 3, stride: 0))
        XCTAssertThrowsError(try Conv2dGeometry(batch: 0, inChannels: 3, height: 4, width: 4, outChannels: 4, kernel: 3))
        let pc64e1 = try! Conv2dGeometry(batch: 8, inChannels: 4, height: 64, width: 64, outChannels: 16, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual(pc64e1.outputShape, [8, 16, 32, 32])
        XCTAssertEqual(pc64e1.multiplyAdds, 8 * 16 * 1024 * 36)
    }
}
