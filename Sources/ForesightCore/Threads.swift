// The threading toolkit of every module: a named thread started with a closure and joined (and
// one that runs until asked to stop), a value behind a lock that threads can also wait on, a
// latch that opens once, and the monotonic clock. Not a scheduler or a task system: the kernel ThreadPool keeps its own
// workers, and everything else runs on threads of its own started here.

import Glibc

/// A POSIX thread that runs one closure under a name (shown by `top -H`, `ps -L` and
/// debuggers); `join()` waits for the closure to return.
///
/// ```swift
/// let capture = JoinableThread(name: "foresight.camera") { readUntilStopped() }
/// stop.open()
/// capture.join()
/// ```
///
/// A thread that is never joined is detached when its `JoinableThread` goes away, and runs to
/// the end of its closure.
public final class JoinableThread: @unchecked Sendable {
    /// The name given at start; the system keeps its first 15 bytes.
    public let name: String
    private var thread = pthread_t()
    /// Touched only by the thread that joins (one thread does).
    private var joined = false

    private final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) { self.name = name; self.body = body }
    }

    /// Starts a thread running `body`.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        self.name = name
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        let status = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            JoinableThread.nameCallingThread(start.name)
            start.body()
            return nil
        }, start)
        precondition(status == 0, "pthread_create for thread \(name) failed with error \(status)")
    }

    deinit {
        if !joined { pthread_detach(thread) }
    }

    /// Names the calling thread, best effort, through `/proc` (glibc's `pthread_setname_np` is
    /// not visible to Swift); Linux keeps the first 15 bytes.
    private static func nameCallingThread(_ name: String) {
        let descriptor = open("/proc/thread-self/comm", O_WRONLY)
        guard descriptor >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }

    /// Waits until the closure has returned; later calls return at once. Only one thread joins.
    public func join() {
        guard !joined else { return }
        let status = pthread_join(thread, nil)
        precondition(status == 0, "pthread_join of thread \(name) failed with error \(status)")
        joined = true
    }
}

/// A named thread whose body runs until it is asked to stop: the body looks at, or waits on,
/// `stopRequested`, and `stop()` opens it and waits for the body to return. The sensors'
/// capture threads, the command feed, the recorder and the background audio learner are such
/// threads.
///
/// ```swift
/// let capture = StoppableThread(name: "foresight.camera")
/// capture.start { [stop = capture.stopRequested] in while !stop.isOpen { readFrame() } }
/// capture.stop()
/// ```
public final class StoppableThread: @unchecked Sendable {
    /// The thread's name.
    public let name: String
    /// Opened by `stop()` or `requestStop()`; the body returns soon after.
    public let stopRequested = Latch()
    /// Touched by the owner only.
    private var thread: JoinableThread?

    /// A thread not yet started.
    public init(name: String) { self.name = name }

    /// Whether the thread was started and has been neither joined nor let go.
    public var isStarted: Bool { thread != nil }

    /// Starts `body` on the thread; starting it while it runs is a programming error.
    public func start(_ body: @escaping @Sendable () -> Void) {
        precondition(thread == nil, "thread \(name) started twice")
        thread = JoinableThread(name: name, body)
    }

    /// Asks the body to stop and waits until it has returned (returns at once if it never started).
    public func stop() {
        requestStop()
        join()
    }

    /// Asks the body to stop, without waiting.
    public func requestStop() { stopRequested.open() }

    /// Waits until the body has returned.
    public func join() {
        thread?.join()
        thread = nil
    }

    /// Stops waiting for the body: it runs to its end on its own (a body blocked where it
    /// cannot see the request, such as a read from a silent pipe).
    public func letGo() { thread = nil }
}

/// A value shared by threads, behind a lock. A thread may also wait, with or without a
/// deadline, until the value meets a condition: waiters check it again after every change
/// made through `withLock`.
///
/// ```swift
/// let frames = Locked(0)
/// frames.withLock { $0 += 1 }                                         // producer
/// let seen = frames.withLock(when: { $0 >= 10 }, deadline: nil) { $0 }   // consumer sleeps until 10
/// ```
public final class Locked<Value> {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: Value

    /// A lock around `value`.
    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
        // Deadlines are read on the monotonic clock, which setting the wall clock cannot move.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(changed, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(changed); changed.deallocate()
        pthread_mutex_destroy(mutex); mutex.deallocate()
    }

    /// Runs `body` on the value while holding the lock, then wakes the threads waiting on it.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }

    /// Runs `body` on the value if the lock is free now, and returns its result; returns nil
    /// at once, without waiting, when another thread holds it.
    public func withLockIfFree<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer {
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }

    /// Waits until `condition` holds for the value, or until the monotonic clock reaches
    /// `deadline` (a time of `MonotonicClock.nanoseconds()`; nil: no deadline), and then runs
    /// `body` on the value under the lock. `body` runs in both cases; it can ask the value why.
    public func withLock<Result>(when condition: (Value) -> Bool, deadline: UInt64?,
                                 _ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        if let deadline {
            var until = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            while !condition(value) {
                if pthread_cond_timedwait(changed, mutex, &until) == ETIMEDOUT { break }
            }
        } else {
            while !condition(value) { pthread_cond_wait(changed, mutex) }
        }
        return try body(&value)
    }
}

extension Locked: @unchecked Sendable where Value: Sendable {}

/// A one-time signal: closed at first, opened once by any thread, then open for good. Threads
/// poll it, or sleep on it until it opens or a deadline passes, so that a sleeping thread
/// wakes as soon as it is told to stop.
///
/// ```swift
/// let stop = Latch()
/// // worker: waits for the next frame time, but returns at once when stopped
/// while !stop.wait(deadline: nextFrame) { render(); nextFrame += period }
/// // owner
/// stop.open()
/// ```
public final class Latch: Sendable {
    private let opened = Locked(false)

    /// A closed latch.
    public init() {}

    /// Opens the latch and wakes every thread waiting for it; opening it again does nothing.
    public func open() { opened.withLock { $0 = true } }

    /// Whether the latch has been opened.
    public var isOpen: Bool { opened.withLock { $0 } }

    /// Waits until the latch is open.
    public func wait() { opened.withLock(when: { $0 }, deadline: nil) { _ in } }

    /// Waits until the latch is open or the monotonic clock reaches `deadline` (a time of
    /// `MonotonicClock.nanoseconds()`), and returns whether it is open.
    @discardableResult
    public func wait(deadline: UInt64) -> Bool { opened.withLock(when: { $0 }, deadline: deadline) { $0 } }
}

/// A fixed number of places that threads or tasks take and give back, never waiting: a taker
/// finds a place or is told at once that all are taken (a server's bound on requests or
/// sessions at once, so that many clients cannot make it hold unbounded memory).
///
/// ```swift
/// let sessions = Places(8)
/// guard sessions.take() else { return refuse("busy") }
/// defer { sessions.giveBack() }
/// ```
public final class Places: Sendable {
    /// How many there are.
    public let count: Int
    private let taken = Locked(0)

    public init(_ count: Int) {
        precondition(count >= 0, "a negative number of places: \(count)")
        self.count = count
    }

    /// Takes a place if one is free; false when all `count` are taken.
    public func take() -> Bool {
        taken.withLock { taken in
            guard taken < count else { return false }
            taken += 1
            return true
        }
    }

    /// Gives back a place taken with `take()`.
    public func giveBack() {
        taken.withLock { taken in
            precondition(taken > 0, "a place given back that was not taken")
            taken -= 1
        }
    }

    /// Places taken now.
    public var inUse: Int { taken.withLock { $0 } }
}

/// The monotonic clock (`CLOCK_MONOTONIC`, the clock of V4L2 and ALSA time stamps): it never
/// jumps when the wall clock is set, so every duration, rate and deadline is read from it.
/// Also the CPU time of the calling thread.
///
/// ```swift
/// let start = MonotonicClock.nanoseconds()
/// step()
/// print(MonotonicClock.seconds(since: start))
/// ```
public enum MonotonicClock {
    /// Nanoseconds since a fixed moment (the boot).
    public static func nanoseconds() -> UInt64 { read(CLOCK_MONOTONIC) }

    /// Seconds since `start`, an earlier reading of `nanoseconds()`.
    public static func seconds(since start: UInt64) -> Double { Double(nanoseconds() - start) * 1e-9 }

    /// Sleeps the calling thread for at least `nanoseconds`; a signal does not cut it short.
    public static func sleep(nanoseconds: UInt64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// CPU time the calling thread has used, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
    public static func threadCPUNanoseconds() -> UInt64 { read(CLOCK_THREAD_CPUTIME_ID) }

    private static func read(_ clock: clockid_t) -> UInt64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
