// A fixed pool of kernel worker threads started once. Not a task scheduler: one parallel
// region at a time, cut into chunks that the threads (the caller included) claim one by one.
// Each thread has a home share of the chunks (the same share in every region, so a sample's
// data stays in the cache of the core that made it) and claims from its front; a thread whose
// share is done takes chunks from the back of the others' shares, so a thread the OS
// deschedules (camera capture, another process) simply runs fewer chunks instead of holding
// up the region. While the machine has more runnable threads than cores, regions run on the
// caller alone. `run` with a `ParallelWork`
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

    /// What the workers share with the caller. The workers hold only this, not the pool, so
    /// a pool nobody uses any more stops and joins its threads.
    let regions: Regions
    private var workers: [JoinableThread] = []

    /// Starts `threads - 1` workers; the caller is the remaining one.
    public init(threads count: Int) {
        precondition(count >= 1, "a thread pool needs at least one thread, got \(count)")
        threadCount = count
        let regions = Regions(threads: count)
        self.regions = regions
        workers = (1..<count).map { index in
            JoinableThread(name: "foresight-pool\(index)") { regions.workerLoop(index: index) }
        }
    }

    deinit {
        regions.stop()
        for worker in workers { worker.join() }
    }

    /// Regions so far that ran on the calling thread alone because the machine had more
    /// runnable threads than cores (benchmarks report it beside their figures).
    public var regionsRunAlone: Int { regions.regionsOnCaller }

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
        if threadCount == 1 || chunks <= 1 || regions.runsOnCaller() {
            for chunk in 0..<chunks { work.work(chunk: chunk, of: chunks, thread: 0) }
            return
        }
        regions.work = work
        regions.run(chunks: chunks)
        regions.work = nil
    }

    /// Runs `body(i, thread)` for every `i` in `0..<count`; consecutive indices form chunks
    /// that the threads claim as they become free. Returns when all are done. Loops must not nest.
    public func parallelFor(_ count: Int, _ body: (_ index: Int, _ thread: Int) -> Void) {
        if threadCount == 1 || count <= 1 || regions.runsOnCaller() {
            for index in 0..<count { body(index, 0) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            regions.job = escapable
            regions.jobCount = count
            regions.run(chunks: min(count, ThreadPool.chunksPerThread * threadCount))
            regions.job = nil
        }
    }
}

/// One thread's home share of a region's chunks: generation (bits 40...63), next chunk to
/// claim from the front (bits 20...39), end of the share (bits 0...19). The owner claims at the
/// front, other threads take from the end; both by compare-and-swap, which fails once the
/// region has been replaced by the next one. Padded to its own cache lines.
final class Share: @unchecked Sendable {
    let word = Atomic<UInt64>(0)
    private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    static func pack(generation: UInt64, next: Int, end: Int) -> UInt64 {
        generation << 40 | UInt64(next) << 20 | UInt64(end)
    }

    /// Claims the share's first unclaimed chunk (`fromEnd` false) or its last one, or nil
    /// when the share is empty or belongs to another region.
    @inline(__always)
    func claim(generation: UInt64, fromEnd: Bool) -> Int? {
        var current = word.load(ordering: .acquiring)
        while true {
            guard current >> 40 == generation else { return nil }
            let next = Int(current >> 20 & 0xF_FFFF), end = Int(current & 0xF_FFFF)
            guard next < end else { return nil }
            let desired = fromEnd ? current - 1 : current + (1 << 20)
            let (exchanged, original) = word.compareExchange(expected: current, desired: desired, ordering: .acquiringAndReleasing)
            if exchanged { return fromEnd ? end - 1 : next }
            current = original
        }
    }
}

/// The region being run and the counters the threads claim and finish its chunks with.
final class Regions: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The region being run: written by the caller before it publishes the region, read by a
    /// thread only after it has claimed a chunk of it (so it cannot change meanwhile).
    var job: ((Int, Int) -> Void)?
    var jobCount = 0
    var work: (any ParallelWork)?
    /// Each thread's share of the current region's chunks.
    private let shares: [Share]
    /// The current region's generation and chunk count (bits 40...63 and 0...19), published
    /// after the shares: what waiting workers poll.
    private let published = Atomic<UInt64>(0)
    /// Chunks of the current region that have finished.
    private let completed = Atomic<Int>(0)
    /// Whether the caller sleeps on `done` (the thread that finishes the last chunk then signals).
    private var callerSleeps = false
    private var generation: UInt64 = 0
    /// How long waiting threads poll before they sleep, and whether regions run on the caller alone.
    let spin = SpinPolicy()
    private var stopping = false

    init(threads: Int) {
        shares = (0..<threads).map { _ in Share() }
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(wake)
        pthread_cond_destroy(done)
        mutex.deallocate()
        wake.deallocate()
        done.deallocate()
    }

    /// Tells the workers to return once they are idle.
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
    }

    /// Whether the next region runs on the calling thread alone: while the machine has more
    /// runnable threads than cores, a region split across threads waits for whichever of them
    /// the OS has descheduled, and ends up slower than one thread doing it all (measured: 10%
    /// slower with a competitor on one of 2 cores). Counts the region for the policy's samples.
    func runsOnCaller() -> Bool {
        guard spin.isCrowded else { return false }
        spin.regionStarted()
        regionsOnCaller += 1
        return true
    }

    /// Regions run on the caller alone because the machine was crowded (the caller's count).
    private(set) var regionsOnCaller = 0

    /// Publishes a region of `chunks` chunks, claims chunks on the calling thread (thread 0)
    /// until none are left, then waits only for chunks that other threads are still running:
    /// a worker that has not woken up yet finds the region gone and is not waited for.
    func run(chunks: Int) {
        spin.regionStarted()
        completed.store(0, ordering: .relaxed)
        generation = (generation + 1) & 0xFF_FFFF
        for (thread, share) in shares.enumerated() {
            let home = ThreadPool.range(chunk: thread, of: shares.count, items: chunks)
            share.word.store(Share.pack(generation: generation, next: home.lowerBound, end: home.upperBound), ordering: .releasing)
        }
        // Polling workers see the region without taking a lock. Sleeping ones are woken under
        // the mutex: a worker going to sleep counts itself before it looks at `published`
        // again, both sides in sequentially consistent order, so either it sees this region or
        // the caller sees it counted and wakes it.
        published.store(generation << 40 | UInt64(chunks), ordering: .sequentiallyConsistent)
        if spin.sleepingWorkers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }
        runChunks(generation: generation, thread: 0)
        var spins = 0
        let spinLimit = spin.current
        while completed.load(ordering: .acquiring) != chunks && spins < spinLimit { spins += 1 }
        if completed.load(ordering: .acquiring) != chunks {
            pthread_mutex_lock(mutex)
            callerSleeps = true
            while completed.load(ordering: .acquiring) != chunks { pthread_cond_wait(done, mutex) }
            callerSleeps = false
            pthread_mutex_unlock(mutex)
        }
    }

    /// Claims and runs chunks of region `generation` until none are left (or the region is
    /// over): first from the front of this thread's share, then from the ends of the others'.
    private func runChunks(generation: UInt64, thread: Int) {
        let chunks = Int(published.load(ordering: .acquiring) & 0xF_FFFF)
        while true {
            var claimed = shares[thread].claim(generation: generation, fromEnd: false)
            var other = thread + 1
            while claimed == nil && other < thread + shares.count {
                claimed = shares[other % shares.count].claim(generation: generation, fromEnd: true)
                other += 1
            }
            guard let chunk = claimed else { return }
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

    func workerLoop(index: Int) {
        var seen: UInt64 = 0
        while true {
            // Poll a little for the next region before sleeping: steps issue regions back to back.
            var spins = 0
            let spinLimit = spin.current
            var current = published.load(ordering: .acquiring) >> 40
            while current == seen && spins < spinLimit {
                spins += 1
                current = published.load(ordering: .acquiring) >> 40
            }
            if current == seen {
                // Nothing new while polling: sleep until the caller publishes a region or stops.
                pthread_mutex_lock(mutex)
                spin.sleepingWorkers.add(1, ordering: .sequentiallyConsistent)
                while published.load(ordering: .sequentiallyConsistent) >> 40 == seen && !stopping { pthread_cond_wait(wake, mutex) }
                spin.sleepingWorkers.subtract(1, ordering: .relaxed)
                if stopping { pthread_mutex_unlock(mutex); return }
                pthread_mutex_unlock(mutex)
                current = published.load(ordering: .acquiring) >> 40
            }
            seen = current
            runChunks(generation: seen, thread: index)
        }
    }
}

/// How long waiting threads poll the shared counters before they sleep.
///
/// A training step issues its parallel regions back to back and a sleeping thread takes tens
/// of microseconds to wake, so while the machine has a core for every runnable thread, a
/// waiting thread polls for about a millisecond. Once it has had more runnable threads than
/// cores (another process, capture threads, more pool threads than free cores) for
/// `crowdedSamples` samples in a row, regions run on the caller alone, since a region split
/// across threads would wait for whichever of them the OS has descheduled, and idle workers
/// poll only a few microseconds before they sleep, leaving their cores to the others. Polling
/// stays long until then: a worker that slept after every region would be counted, between
/// waking and running, both as runnable and as asleep, and the doubled count alone would make
/// the machine look crowded. The caller samples the kernel's count of runnable threads
/// (/proc/loadavg), plus the pool's sleeping workers, every `period` regions; workers read
/// the verdict.
final class SpinPolicy: @unchecked Sendable {
    static let long = 1_000_000
    static let short = 2_000
    static let period = 32
    /// Uncontended samples in a row before polling long again.
    static let calmSamples = 4
    /// Contended samples in a row before regions run on the caller alone: a thread that is
    /// runnable for a moment (a kernel worker, a timer) must not take the pool's threads away.
    static let crowdedSamples = 3

    private let limit = Atomic<Int>(SpinPolicy.long)
    /// Whether the last samples saw more runnable threads than cores (regions then run on the caller).
    private let crowded = Atomic<Bool>(false)
    /// Workers asleep on the pool's condition: they would be runnable if they polled instead.
    let sleepingWorkers = Atomic<Int>(0)
    let cores: Int
    private let buffer = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 8)
    /// /proc/loadavg, opened at the first sample and read again from offset 0 (one pread per
    /// sample); -1 when it cannot be opened, -2 before the first try.
    private var loadavg: Int32 = -2
    private var regions = 0
    private var calm = 0
    private var busy = 0

    init(cores: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))) {
        self.cores = cores
    }

    deinit {
        if loadavg >= 0 { close(loadavg) }
        buffer.deallocate()
    }

    /// The poll budget for the next wait (any thread).
    var current: Int { limit.load(ordering: .relaxed) }

    /// Whether the machine is oversubscribed by the last verdict: then regions run on the caller alone.
    var isCrowded: Bool { crowded.load(ordering: .relaxed) }

    /// Counts a region and, every `period` regions, samples the runnable threads (the caller only).
    func regionStarted() {
        regions += 1
        guard regions >= SpinPolicy.period else { return }
        regions = 0
        guard let runnable = runnableThreads() else { return }
        record(runnable: runnable + sleepingWorkers.load(ordering: .relaxed))
    }

    /// Takes in one sample of the threads that want a core (the caller's thread).
    func record(runnable: Int) {
        if runnable > cores {
            calm = 0
            busy += 1
            if busy >= SpinPolicy.crowdedSamples {
                crowded.store(true, ordering: .relaxed)
                limit.store(SpinPolicy.short, ordering: .relaxed)
            }
        } else {
            busy = 0
            calm += 1
            if calm >= SpinPolicy.calmSamples {
                limit.store(SpinPolicy.long, ordering: .relaxed)
                crowded.store(false, ordering: .relaxed)
            }
        }
    }

    /// The runnable threads of /proc/loadavg, read without allocating.
    private func runnableThreads() -> Int? {
        if loadavg == -2 { loadavg = max(-1, open("/proc/loadavg", O_RDONLY | O_CLOEXEC)) }
        guard loadavg >= 0 else { return nil }
        let count = pread(loadavg, buffer, 127, 0)
        guard count > 0 else { return nil }
        return SpinPolicy.runnableThreads(loadavg: UnsafeRawBufferPointer(start: buffer, count: count))
    }

    /// The fourth field of /proc/loadavg's "1.00 0.50 0.25 RUNNABLE/TOTAL LASTPID", or nil.
    static func runnableThreads(loadavg bytes: UnsafeRawBufferPointer) -> Int? {
        var spaces = 0, value = 0, digits = 0
        for byte in bytes {
            if spaces == 3 {
                if byte >= 0x30 && byte <= 0x39 && digits < 9 {
                    value = value * 10 + Int(byte - 0x30)
                    digits += 1
                } else {
                    return digits > 0 && byte == 0x2F ? value : nil
                }
            } else if byte == 0x20 {
                spaces += 1
            }
        }
        return nil
    }
}
