// Shapes, arenas and the thread pool: the invariants and the errors users meet.

import XCTest
@testable import ForesightCore

final class CoreTests: XCTestCase {
    func testShapeRejectsBadExtents() {
        XCTAssertThrowsError(try Shape([])) { XCTAssertEqual($0 as? CoreError, .emptyShape) }
        XCTAssertThrowsError(try Shape(2, 0, 3)) { error in
            XCTAssertEqual(error as? CoreError, .nonPositiveExtent(dims: [2, 0, 3], axis: 1))
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
            guard case let .arenaOutOfSpace(name, requested, used, capacity) = error as? CoreError else {
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
            for _ in 0..<50 { pool.parallelFor(101) { index, _ in counts[index] += 1 } }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: 101)), [Int](repeating: 50, count: 101))
            counts.deallocate()
        }
    }

    /// Counts, per chunk, how often it ran and on which thread; a chunk can sleep on one thread.
    private final class ChunkCounter: ParallelWork, @unchecked Sendable {
        let runs: UnsafeMutablePointer<Int>
        let threadOfChunk: UnsafeMutablePointer<Int>
        let capacity: Int
        var expectedChunks = 0
        var badArguments = 0
        var sleepingThread = -1
        var sleepMicroseconds: UInt32 = 0

        init(capacity: Int) {
            self.capacity = capacity
            runs = .allocate(capacity: capacity)
            threadOfChunk = .allocate(capacity: capacity)
            reset(chunks: 0)
        }
        deinit { runs.deallocate(); threadOfChunk.deallocate() }

        func reset(chunks: Int) {
            expectedChunks = chunks
            runs.initialize(repeating: 0, count: capacity)
            threadOfChunk.initialize(repeating: -1, count: capacity)
        }

        func work(chunk: Int, of chunks: Int, thread: Int) {
            if chunks != expectedChunks || chunk < 0 || chunk >= capacity { badArguments += 1; return }
            runs[chunk] += 1
            threadOfChunk[chunk] = thread
            if thread == sleepingThread { usleep(sleepMicroseconds) }
        }

        /// Chunks each thread ran, by thread index.
        func chunksPerThread(_ threads: Int) -> [Int] {
            (0..<expectedChunks).reduce(into: [Int](repeating: 0, count: threads)) { counts, chunk in counts[threadOfChunk[chunk]] += 1 }
        }
    }

    func testThreadPoolRunsEveryChunkExactlyOnce() {
        for threads in 1...4 {
            let pool = ThreadPool(threads: threads)
            let counter = ChunkCounter(capacity: 1000)
            // Fewer chunks than threads, as many, many more, none and one.
            for chunks in [0, 1, 2, 3, 4, 5, 7, 8, 16, 33, 1000] {
                for _ in 0..<20 {
                    counter.reset(chunks: chunks)
                    pool.run(counter, chunks: chunks)
                    XCTAssertEqual(counter.badArguments, 0, "\(threads) threads, \(chunks) chunks")
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: counter.runs, count: chunks)), [Int](repeating: 1, count: chunks),
                                   "\(threads) threads, \(chunks) chunks")
                    XCTAssertTrue((0..<chunks).allSatisfy { (0..<threads).contains(counter.threadOfChunk[$0]) })
                }
            }
        }
    }

    func testThreadPoolParallelForCoversEveryIndexUnderManyShapes() {
        for threads in 1...4 {
            let pool = ThreadPool(threads: threads)
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: 5000)
            defer { counts.deallocate() }
            for count in [0, 1, 2, 3, 4, 5, 17, 64, 5000] {
                counts.initialize(repeating: 0, count: 5000)
                var badThread = false
                pool.parallelFor(count) { index, thread in
                    counts[index] += 1
                    if thread < 0 || thread >= threads { badThread = true }
                }
                XCTAssertFalse(badThread)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: count)), [Int](repeating: 1, count: count), "\(threads) threads, \(count) indices")
            }
        }
    }

    func testChunkRangesTileTheItems() {
        for items in [0, 1, 7, 64, 1001] {
            for chunks in [1, 2, 3, 8, 13] {
                let ranges = (0..<chunks).map { ThreadPool.range(chunk: $0, of: chunks, items: items) }
                XCTAssertEqual(ranges.first?.lowerBound, 0)
                XCTAssertEqual(ranges.last?.upperBound, items)
                for (left, right) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(left.upperBound, right.lowerBound) }
            }
        }
        let pool = ThreadPool(threads: 3)
        XCTAssertEqual(pool.chunks(items: 1000), 3 * ThreadPool.chunksPerThread)
        XCTAssertEqual(pool.chunks(items: 5), 5)
        XCTAssertEqual(pool.chunks(items: 0), 1)
        XCTAssertEqual(pool.chunks(items: 100, minimumPerChunk: 40), 2)
        XCTAssertEqual(ThreadPool(threads: 1).chunks(items: 1000), 1)
    }

    /// A thread that loses time (here: each chunk it runs sleeps 20 ms on thread 1) leaves the
    /// chunks it has not claimed to the other thread, instead of holding a fixed share. Counted
    /// in chunks, not in time.
    func testASlowThreadClaimsFewerChunks() {
        let pool = ThreadPool(threads: 2)
        let counter = ChunkCounter(capacity: 64)
        counter.sleepingThread = 1
        counter.sleepMicroseconds = 20_000
        counter.reset(chunks: 64)
        pool.run(counter, chunks: 64)
        let perThread = counter.chunksPerThread(2)
        XCTAssertEqual(perThread.reduce(0, +), 64)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: counter.runs, count: 64)), [Int](repeating: 1, count: 64))
        // A static split would have given each thread 32. Thread 0 runs a chunk in microseconds,
        // thread 1 one per 20 ms: thread 1 gets at most the chunk or two it claimed at the start.
        XCTAssertGreaterThanOrEqual(perThread[0], 60, "chunks per thread \(perThread)")
        XCTAssertLessThanOrEqual(perThread[1], 4, "chunks per thread \(perThread)")
    }

    /// Each thread starts on its own share of the chunks (so a sample stays with the core that
    /// made it from one region to the next) and a thread done with its share takes from the
    /// back of the other's. With thread 1 slow, whatever the timing: thread 1's chunks are the
    /// front of the second half, in one run from chunk 32, and thread 0 ran the whole first
    /// half and the rest of the second.
    func testThreadsStartOnTheirOwnShareAndTakeFromTheBackOfOthers() {
        let pool = ThreadPool(threads: 2)
        let counter = ChunkCounter(capacity: 64)
        counter.sleepingThread = 1
        counter.sleepMicroseconds = 5_000
        for _ in 0..<3 {
            counter.reset(chunks: 64)
            pool.run(counter, chunks: 64)
            let owners = Array(UnsafeBufferPointer(start: counter.threadOfChunk, count: 64))
            XCTAssertEqual(Array(owners[..<32]), [Int](repeating: 0, count: 32), "owners \(owners)")
            let slow = owners[32...].prefix { $0 == 1 }.count
            XCTAssertEqual(Array(owners[(32 + slow)...]), [Int](repeating: 0, count: 32 - slow), "owners \(owners)")
            XCTAssertLessThanOrEqual(slow, 4, "owners \(owners)")
        }
    }

    /// A worker that has gone to sleep between regions (here: 20 ms pauses, far beyond its
    /// polling) is woken by the next region and takes part in it. A lost wake-up would not
    /// change any result (the caller takes the sleeper's chunks too), only leave thread 1
    /// idle from then on, which this counts.
    func testASleepingWorkerIsWokenByTheNextRegion() {
        let pool = ThreadPool(threads: 2)
        let counter = ChunkCounter(capacity: 8)
        counter.sleepingThread = 0
        counter.sleepMicroseconds = 2_000   // the caller's chunks take 2 ms: time for thread 1 to wake
        var joined = 0
        for _ in 0..<12 {
            usleep(20_000)
            counter.reset(chunks: 8)
            pool.run(counter, chunks: 8)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: counter.runs, count: 8)), [Int](repeating: 1, count: 8))
            if counter.chunksPerThread(2)[1] > 0 { joined += 1 }
        }
        XCTAssertGreaterThanOrEqual(joined, 6, "thread 1 ran chunks in \(joined) of 12 regions that followed a pause")
    }

    /// Eight threads ask at once for three places and hold what they get: exactly three get
    /// one. Then they take and give back places in a loop: never more than three holders at a
    /// time, and every place is back at the end.
    func testPlacesAreNeverOverTaken() {
        let places = Places(3)
        let release = Latch()
        let granted = Locked(0), asked = Locked(0)
        var threads = (0..<8).map { index in
            JoinableThread(name: "places.\(index)") {
                let got = places.take()
                granted.withLock { $0 += got ? 1 : 0 }
                asked.withLock { $0 += 1 }
                release.wait()
                if got { places.giveBack() }
            }
        }
        asked.withLock(when: { $0 == 8 }, deadline: nil) { _ in }
        XCTAssertEqual(granted.withLock { $0 }, 3)
        XCTAssertEqual(places.inUse, 3)
        XCTAssertFalse(places.take(), "a fourth place")
        release.open()
        for thread in threads { thread.join() }
        XCTAssertEqual(places.inUse, 0)

        let holders = Locked(0), most = Locked(0), refused = Locked(0)
        threads = (0..<8).map { index in
            JoinableThread(name: "places.loop.\(index)") {
                for _ in 0..<2000 {
                    guard places.take() else { refused.withLock { $0 += 1 }; continue }
                    let now = holders.withLock { $0 += 1; return $0 }
                    most.withLock { $0 = max($0, now) }
                    holders.withLock { $0 -= 1 }
                    places.giveBack()
                }
            }
        }
        for thread in threads { thread.join() }
        XCTAssertLessThanOrEqual(most.withLock { $0 }, 3)
        XCTAssertEqual(places.inUse, 0)
        XCTAssertTrue(Places(0).take() == false, "no places: every taker is refused")
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
