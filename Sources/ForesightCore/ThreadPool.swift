// A fixed pool of kernel worker threads started once. Not a task scheduler: one parallel
// region at a time, cut into chunks that the threads (the caller included) claim one by one
// from a shared counter, so a thread the OS deschedules (camera capture, another process)
// simply claims fewer chunks instead of holding up the region. `run` with a `ParallelWork`
// object allocates nothing (training steps use it); `parallelFor` with a closure is the
// convenient form and allocates one small box per call on several threads.

import Foundation
import Synchronization

/// An object whose work splits into chunks that any thread may run, in any order and at once.
///
/// `work(chunk:of:thread:)` does chunk `chunk` of `chunks`; `thread` (in `0..<threadCount`)
/// names the running thread only so that it can use that thread's scratch memory. Chunks must
/// write disjoint memory, and what a chunk computes must not depend on which thread runs it:
/// then results are the same whatever the timing.
public protocol ParallelWork: AnyObject {
    func work(chunk: Int, of chunks: Int, thread: Int)
}

/// A fixed set of worker threads that run parallel regions.
///
/// ```swift
/// let pool = ThreadPool(threads: 2)
/// pool.parallelFor(8) { sample, thread in process(sample, scratch: scratch[thread]) }
/// ```
public final class ThreadPool: @unchecked Sendable {
    /// Threads that execute a region, the caller included.
    public let threadCount: Int

    /// Chunks per thread that regions aim for: enough that a thread that loses its core for a
    /// while leaves only a small share to the others.
    public static let chunksPerThread = 4

    /// Most chunks one region may have (the claim counter packs them into 20 bits).
    public static let maximumChunks = 1 << 20 - 1

    /// Polls of the shared counters before a waiting thread sleeps (about a millisecond): a
    /// training step issues its parallel regions back to back, and a sleeping worker takes
    /// tens of microseconds to wake.
    static let spinLimit = 1_000_000

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The region being run: written by the caller before it publishes the region, read by a
    /// thread only after it has claimed a chunk of it (so it cannot change meanwhile).
    private var job: ((Int, Int) -> Void)?
    private var jobCount = 0
    private var work: (any ParallelWork)?
    /// Generation (bits 40...63), chunk count (bits 20...39), next chunk to claim (bits 0...19).
    private let claims = Atomic<UInt64>(0)
    /// Chunks of the current region that have finished.
    private let completed = Atomic<Int>(0)
    /// Whether the caller sleeps on `done` (the thread that finishes the last chunk then signals).
    private var callerSleeps = false
    private var generation: UInt64 = 0
    private var stopping = false
    private var threads: [pthread_t] = []

    /// Starts `threads - 1` workers; the caller is the remaining one.
    public init(threads count: Int) {
        precondition(count >= 1, "a thread pool needs at least one thread, got \(count)")
        threadCount = count
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        for worker in 1..<count {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: worker))
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.workerLoop(index: start.index)
                return nil
            }, box.toOpaque())
            precondition(status == 0, "pthread_create failed with \(status)")
            threads.append(thread)
        }
    }

    deinit {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for thread in threads { pthread_join(thread, nil) }
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(wake)
        pthread_cond_destroy(done)
        mutex.deallocate()
        wake.deallocate()
        done.deallocate()
    }

    /// A chunk count for `items` units of work of which a chunk should hold at least
    /// `minimumPerChunk`: about `chunksPerThread` per thread, 1 with one thread.
    public func chunks(items: Int, minimumPerChunk: Int = 1) -> Int {
        if threadCount == 1 { return 1 }
        return max(1, min(items / max(1, minimumPerChunk), ThreadPool.chunksPerThread * threadCount, ThreadPool.maximumChunks))
    }

    /// Items `[items * chunk / chunks, items * (chunk + 1) / chunks)`: chunk `chunk` of an even split.
    @inline(__always)
    public static func range(chunk: Int, of chunks: Int, items: Int) -> Range<Int> {
        (items * chunk / chunks)..<(items * (chunk + 1) / chunks)
    }

    /// Runs `work.work(chunk: c, of: chunks, thread: t)` once for every c in `0..<chunks`, on
    /// whichever thread t claims it first, and returns when all are done. Allocates nothing.
    public func run(_ work: any ParallelWork, chunks: Int) {
        precondition(chunks >= 0 && chunks <= ThreadPool.maximumChunks, "a region has 0...\(ThreadPool.maximumChunks) chunks, got \(chunks)")
        if threadCount == 1 || chunks <= 1 {
            for chunk in 0..<chunks { work.work(chunk: chunk, of: chunks, thread: 0) }
            return
        }
        self.work = work
        runRegion(chunks: chunks)
        self.work = nil
    }

    /// Runs `body(i, thread)` for every `i` in `0..<count`; consecutive indices form chunks
    /// that the threads claim as they become free. Returns when all are done. Loops must not nest.
    public func parallelFor(_ count: Int, _ body: (_ index: Int, _ thread: Int) -> Void) {
        if threadCount == 1 || count <= 1 {
            for index in 0..<count { body(index, 0) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            jobCount = count
            runRegion(chunks: min(count, ThreadPool.chunksPerThread * threadCount))
            job = nil
        }
    }

    /// Publishes a region of `chunks` chunks, claims chunks on the calling thread (thread 0)
    /// until none are left, then waits only for chunks that other threads are still running:
    /// a worker that has not woken up yet finds the region gone and is not waited for.
    private func runRegion(chunks: Int) {
        completed.store(0, ordering: .relaxed)
        pthread_mutex_lock(mutex)
        generation = (generation + 1) & 0xFF_FFFF
        claims.store(generation << 40 | UInt64(chunks) << 20, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        runChunks(generation: generation, thread: 0)
        var spins = 0
        while completed.load(ordering: .acquiring) != chunks && spins < ThreadPool.spinLimit { spins += 1 }
        if completed.load(ordering: .acquiring) != chunks {
            pthread_mutex_lock(mutex)
            callerSleeps = true
            while completed.load(ordering: .acquiring) != chunks { pthread_cond_wait(done, mutex) }
            callerSleeps = false
            pthread_mutex_unlock(mutex)
        }
    }

    /// Claims and runs chunks of region `generation` until none are left (or the region is
    /// over). A claim is a compare-and-swap on `claims`, so it fails for a region that has
    /// already been replaced by the next one.
    private func runChunks(generation: UInt64, thread: Int) {
        while true {
            var current = claims.load(ordering: .acquiring)
            var chunk = 0, chunks = 0
            while true {
                guard current >> 40 == generation else { return }
                chunks = Int(current >> 20 & 0xF_FFFF)
                chunk = Int(current & 0xF_FFFF)
                guard chunk < chunks else { return }
                let (exchanged, original) = claims.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
                if exchanged { break }
                current = original
            }
            // The region cannot end before this chunk completes, so its description stays put.
            if let work {
                work.work(chunk: chunk, of: chunks, thread: thread)
            } else {
                let body = job!
                for index in ThreadPool.range(chunk: chunk, of: chunks, items: jobCount) { body(index, thread) }
            }
            if completed.add(1, ordering: .acquiringAndReleasing).newValue == chunks && thread != 0 {
                pthread_mutex_lock(mutex)
                if callerSleeps { pthread_cond_signal(done) }
                pthread_mutex_unlock(mutex)
            }
        }
    }

    private func workerLoop(index: Int) {
        var seen: UInt64 = 0
        while true {
            // Spin a little for the next region before sleeping: steps issue regions back to back.
            var spins = 0
            while claims.load(ordering: .acquiring) >> 40 == seen && spins < ThreadPool.spinLimit { spins += 1 }
            pthread_mutex_lock(mutex)
            while generation == seen && !stopping { pthread_cond_wait(wake, mutex) }
            if stopping { pthread_mutex_unlock(mutex); return }
            seen = generation
            pthread_mutex_unlock(mutex)
            runChunks(generation: seen, thread: index)
        }
    }
}

private final class WorkerStart {
    let pool: ThreadPool
    let index: Int
    init(pool: ThreadPool, index: Int) { self.pool = pool; self.index = index }
}
