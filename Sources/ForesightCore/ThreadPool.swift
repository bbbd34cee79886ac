// A fixed pool of kernel worker threads started once. Not a task scheduler: one parallel
// region at a time, split statically, with the calling thread taking part. `run` with a
// `ParallelWork` object allocates nothing (training steps use it); `parallelFor` with a
// closure is the convenient form and allocates one small box per call on several threads.

import Foundation
import Synchronization

/// An object whose work splits over threads: `work(thread:threads:)` does share `thread` of `threads`.
public protocol ParallelWork: AnyObject {
    func work(thread: Int, threads: Int)
}

/// A fixed set of worker threads that run parallel regions.
///
/// ```swift
/// let pool = ThreadPool(threads: 2)
/// pool.parallelFor(8) { sample in process(sample) }   // samples 0, 2, 4, 6 on one thread
/// ```
public final class ThreadPool: @unchecked Sendable {
    /// Threads that execute a loop, the caller included.
    public let threadCount: Int

    /// Polls of the shared counters before a waiting thread sleeps (about a millisecond): a
    /// training step issues its parallel regions back to back, and a sleeping worker takes
    /// tens of microseconds to wake.
    static let spinLimit = 1_000_000

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var job: ((Int) -> Void)?
    private var work: (any ParallelWork)?
    private var taskCount = 0
    private var generation = 0
    private var running = 0
    private var stopping = false
    private let published = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
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

    /// Runs `work.work(thread: t, threads: threadCount)` for every thread t, the caller's
    /// included, and returns when all are done. Allocates nothing.
    public func run(_ work: any ParallelWork) {
        if threadCount == 1 { work.work(thread: 0, threads: 1); return }
        publish(job: nil, work: work, count: threadCount)
        work.work(thread: 0, threads: threadCount)
        waitForWorkers()
        pthread_mutex_lock(mutex)
        self.work = nil
        pthread_mutex_unlock(mutex)
    }

    /// Runs `body(i)` for every `i` in `0..<count`; thread `t` takes `t, t + threads, ...`.
    /// Returns when all are done. Loops must not nest.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if threadCount == 1 || count <= 1 {
            for index in 0..<count { body(index) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            publish(job: escapable, work: nil, count: count)
            var index = 0
            while index < count { escapable(index); index += threadCount }
            waitForWorkers()
            pthread_mutex_lock(mutex)
            job = nil
            pthread_mutex_unlock(mutex)
        }
    }

    private func publish(job: ((Int) -> Void)?, work: (any ParallelWork)?, count: Int) {
        pthread_mutex_lock(mutex)
        self.job = job
        self.work = work
        taskCount = count
        running = threadCount - 1
        generation += 1
        published.store(generation, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
    }

    /// Spins briefly (regions are short and come back to back), then sleeps until the workers finish.
    private func waitForWorkers() {
        var spins = 0
        while finished.load(ordering: .acquiring) != generation && spins < ThreadPool.spinLimit { spins += 1 }
        pthread_mutex_lock(mutex)
        while running > 0 { pthread_cond_wait(done, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Takes the published loop (the mutex is held on entry, released inside) and runs this
    /// worker's share; the loop body is released before the caller is told it is done.
    @inline(never)
    private func runTasks(worker: Int) {
        if let work {
            pthread_mutex_unlock(mutex)
            work.work(thread: worker, threads: threadCount)
            return
        }
        let body = job!
        let count = taskCount
        pthread_mutex_unlock(mutex)
        var task = worker
        while task < count { body(task); task += threadCount }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            // Spin a little for the next loop before sleeping: steps issue loops back to back.
            var spins = 0
            while published.load(ordering: .acquiring) == seen && spins < ThreadPool.spinLimit { spins += 1 }
            pthread_mutex_lock(mutex)
            while generation == seen && !stopping { pthread_cond_wait(wake, mutex) }
            if stopping { pthread_mutex_unlock(mutex); return }
            seen = generation
            runTasks(worker: index)

            pthread_mutex_lock(mutex)
            running -= 1
            if running == 0 {
                finished.store(seen, ordering: .releasing)
                pthread_cond_signal(done)
            }
            pthread_mutex_unlock(mutex)
        }
    }
}

private final class WorkerStart {
    let pool: ThreadPool
    let index: Int
    init(pool: ThreadPool, index: Int) { self.pool = pool; self.index = index }
}
