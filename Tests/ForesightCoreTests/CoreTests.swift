// Shapes, arenas and the thread pool: the invariants and the errors users meet.

import XCTest
@testable import ForesightCore

final class CoreTests: XCTestCase {
    func testShapeRejectsBadExtents() {
        XCTAssertThrowsError(try Shape([])) { XCTAssertEqual($0 as? ShapeError, .empty) }
        XCTAssertThrowsError(try Shape(2, 0, 3)) { error in
            XCTAssertEqual(error as? ShapeError, .nonPositiveExtent(dims: [2, 0, 3], axis: 1))
            XCTAssertTrue("\(error)".contains("axis 1"))
        }
        XCTAssertThrowsError(try Shape(1 << 40, 1 << 40))
        let shape = try! Shape(8, 4, 64, 64)
        XCTAssertEqual(shape.count, 131_072)
        XCTAssertEqual(shape.strides, [16384, 4096, 64, 1])
        XCTAssertEqual(shape[-1], 64)
    }

    func testArenaRunsOutWithAClearError() throws {
        let arena = try Arena(capacity: 1000)
        let first = try arena.allocate(Shape(100), name: "first")
        XCTAssertEqual(Int(bitPattern: first.data) % Arena.alignment, 0)
        XCTAssertEqual(arena.used, 448)
        XCTAssertThrowsError(try arena.allocate(Shape(200), name: "second")) { error in
            guard case let .outOfSpace(name, requested, used, capacity) = error as? ArenaError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(name, "second")
            XCTAssertEqual(requested, 832)
            XCTAssertEqual(used, 448)
            XCTAssertEqual(capacity, 1000)
            XCTAssertTrue("\(error)".contains("second"))
        }
        XCTAssertThrowsError(try Arena(capacity: -1))
    }

    func testTensorsOfAnArenaDoNotOverlap() throws {
        let arena = try Arena(capacity: 4096)
        let a = try arena.allocate(Shape(10), name: "a")
        let b = try arena.allocate(Shape(10), name: "b")
        a.fill(1)
        b.fill(2)
        XCTAssertEqual(a.toArray(), [Float](repeating: 1, count: 10))
        XCTAssertEqual(b.toArray(), [Float](repeating: 2, count: 10))
    }

    func testThreadPoolVisitsEveryIndexOnce() {
        for threads in 1...3 {
            let pool = ThreadPool(threads: threads)
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: 101)
            counts.initialize(repeating: 0, count: 101)
            for _ in 0..<50 { pool.parallelFor(101) { counts[$0] += 1 } }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: 101)), [Int](repeating: 50, count: 101))
            counts.deallocate()
        }
    }

    func testSeededRandomIsReproducible() {
        var first = SeededRandom(seed: 7), second = SeededRandom(seed: 7), other = SeededRandom(seed: 8)
        let a = (0..<5).map { _ in first.next() }
        XCTAssertEqual(a, (0..<5).map { _ in second.next() })
        XCTAssertNotEqual(a, (0..<5).map { _ in other.next() })
        var rng = SeededRandom(seed: 1)
        let samples = (0..<20000).map { _ in rng.nextGaussian() }
        let mean = samples.reduce(0, +) / Float(samples.count)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(samples.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }
}
