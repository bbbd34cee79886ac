// The packed GEMM against the plain triple loop, over transposes, edge sizes and threads.

import XCTest
@testable import ForesightCore

final class GemmTests: XCTestCase {
    /// Relative error bound of the fast kernel against the Double-accumulated reference.
    let tolerance: Float = 1e-5

    private func check(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, accumulate: Bool, threads: Int = 1,
                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(m * 1000 + n * 10 + k))
        let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
        let b = (0..<(k * n)).map { _ in rng.nextFloat() - 0.5 }
        let start = (0..<(m * n)).map { _ in rng.nextFloat() }
        var fast = start, reference = start
        let lda = transA ? m : k, ldb = transB ? k : n
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: GemmWorkspace.floatCount * threads)
        defer { memory.deallocate() }
        let pool = ThreadPool(threads: threads)
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
             c: &fast, ldc: n, accumulate: accumulate, workspaceMemory: memory, pool: pool)
        gemmReference(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: &reference, ldc: n, accumulate: accumulate)
        var worst: Float = 0
        for i in 0..<(m * n) {
            worst = max(worst, abs(fast[i] - reference[i]) / max(1, abs(reference[i])))
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "m \(m) n \(n) k \(k) transA \(transA) transB \(transB) accumulate \(accumulate)", file: file, line: line)
    }

    func testMatchesReferenceOverShapesAndTransposes() {
        let shapes = [(1, 1, 1), (3, 17, 5), (8, 32, 192), (9, 33, 193), (16, 1024, 36), (130, 70, 400), (2, 300, 7), (64, 64, 64)]
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    check(m: m, n: n, k: k, transA: transA, transB: transB, accumulate: false)
                    check(m: m, n: n, k: k, transA: transA, transB: transB, accumulate: true)
                }
            }
        }
    }

    func testLargerThanOneCacheBlock() {
        check(m: 150, n: 1100, k: 450, transA: false, transB: false, accumulate: false)
    }

    func testThreadsSplitColumnsWithoutChangingTheResult() {
        check(m: 40, n: 700, k: 100, transA: false, transB: false, accumulate: true, threads: 2)
        check(m: 40, n: 700, k: 100, transA: true, transB: true, accumulate: false, threads: 3)
    }

    func testZeroDepthClearsOrKeeps() {
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: GemmWorkspace.floatCount)
        defer { memory.deallocate() }
        var c: [Float] = [1, 2, 3, 4]
        let empty: [Float] = [0]
        gemm(m: 2, n: 2, k: 0, a: empty, lda: 1, b: empty, ldb: 2, c: &c, ldc: 2, accumulate: true, workspace: GemmWorkspace(memory: memory))
        XCTAssertEqual(c, [1, 2, 3, 4])
        gemm(m: 2, n: 2, k: 0, a: empty, lda: 1, b: empty, ldb: 2, c: &c, ldc: 2, accumulate: false, workspace: GemmWorkspace(memory: memory))
        XCTAssertEqual(c, [0, 0, 0, 0])
    }
}
