// A fixed-size ring of frame slots between one capture thread (producer) and one learner
// (consumer): the producer fills a slot in place, the consumer reads the oldest unread one;
// when the learner falls behind, the oldest unread frame is dropped and counted. All memory
// is allocated in `init`. Not a multi-producer queue, and never a blocking point for the
// producer: the lock only guards a few slot indices, never a copy.

import ForesightCore

/// What the ring knows about one frame.
public struct FrameInfo: Sendable, Equatable {
    /// 0 for the first frame the producer committed, then +1 per frame (gaps are drops).
    public var sequence: UInt64
    /// The producer's time stamp in nanoseconds (e.g. the V4L2 buffer time).
    public var timestampNanoseconds: UInt64
    /// Elements of the slot that hold data.
    public var count: Int
}

/// Counters of a ring, read together under its lock.
public struct FrameRingStatistics: Sendable, Equatable {
    /// Frames the producer committed.
    public var written: UInt64
    /// Frames the consumer read.
    public var read: UInt64
    /// Frames overwritten before the consumer read them.
    public var dropped: UInt64
    /// Frames waiting to be read.
    public var waiting: Int

    /// Counters as given.
    public init(written: UInt64, read: UInt64, dropped: UInt64, waiting: Int) {
        self.written = written
        self.read = read
        self.dropped = dropped
        self.waiting = waiting
    }
}

/// A single-producer, single-consumer ring of `slotCount` slots of `slotCapacity` elements.
///
/// ```swift
/// let ring = FrameRing<Float>(slotCount: 4, slotCapacity: 64 * 64)
/// // capture thread
/// let slot = ring.beginWrite(); render(into: slot.baseAddress!); ring.commitWrite(count: slot.count, timestampNanoseconds: t)
/// // learner
/// ring.readOldest { pixels, info in copy(pixels, into: batch) }
/// ```
public final class FrameRing<Element: BitwiseCopyable>: @unchecked Sendable {
    /// Number of slots (at least 3: one being written, one being read, one or more queued).
    public let slotCount: Int
    /// Elements per slot.
    public let slotCapacity: Int

    private let storage: UnsafeMutablePointer<Element>   // [slotCount, slotCapacity]
    private let infos: UnsafeMutablePointer<FrameInfo>   // [slotCount]
    private let queue: UnsafeMutablePointer<Int>         // FIFO of committed slot indices
    private let freeSlots: UnsafeMutablePointer<Int>     // stack of free slot indices
    /// Which slot is where, and the counters; `queue` and `freeSlots` are touched under it too.
    private let slots: Locked<Slots>

    private struct Slots {
        var queueHead = 0, queueCount = 0, freeCount: Int
        var writingSlot = -1, readingSlot = -1
        var written: UInt64 = 0, readCount: UInt64 = 0, dropped: UInt64 = 0
        var closed = false
    }

    /// A ring whose slots start zero-filled.
    public init(slotCount: Int, slotCapacity: Int, zero: Element) {
        precondition(slotCount >= 3, "a frame ring needs at least 3 slots, got \(slotCount)")
        precondition(slotCapacity >= 1, "slot capacity must be positive, got \(slotCapacity)")
        self.slotCount = slotCount
        self.slotCapacity = slotCapacity
        storage = .allocate(capacity: slotCount * slotCapacity)
        storage.initialize(repeating: zero, count: slotCount * slotCapacity)
        infos = .allocate(capacity: slotCount)
        infos.initialize(repeating: FrameInfo(sequence: 0, timestampNanoseconds: 0, count: 0), count: slotCount)
        queue = .allocate(capacity: slotCount)
        queue.initialize(repeating: -1, count: slotCount)
        freeSlots = .allocate(capacity: slotCount)
        for index in 0..<slotCount { (freeSlots + index).initialize(to: slotCount - 1 - index) }
        slots = Locked(Slots(freeCount: slotCount))
    }

    deinit {
        storage.deallocate(); infos.deallocate(); queue.deallocate(); freeSlots.deallocate()
    }

    /// Producer: a slot to fill. If no slot is free, the oldest unread frame is dropped (and
    /// counted) to make room: the producer never waits for the consumer.
    public func beginWrite() -> UnsafeMutableBufferPointer<Element> {
        let slot = slots.withLock { state -> Int in
            precondition(state.writingSlot < 0, "beginWrite called twice without commitWrite")
            if state.freeCount > 0 {
                state.freeCount -= 1
                state.writingSlot = freeSlots[state.freeCount]
            } else {
                // free + queued + writing + reading == slotCount and slotCount >= 3, so a frame waits.
                state.writingSlot = queue[state.queueHead]
                state.queueHead = (state.queueHead + 1) % slotCount
                state.queueCount -= 1
                state.dropped += 1
            }
            return state.writingSlot
        }
        return UnsafeMutableBufferPointer(start: storage + slot * slotCapacity, count: slotCapacity)
    }

    /// Producer: publishes the slot from `beginWrite` with `count` valid elements.
    public func commitWrite(count: Int, timestampNanoseconds: UInt64) {
        precondition(count >= 0 && count <= slotCapacity, "commit of \(count) elements into slots of \(slotCapacity)")
        slots.withLock { state in
            precondition(state.writingSlot >= 0, "commitWrite without beginWrite")
            infos[state.writingSlot] = FrameInfo(sequence: state.written, timestampNanoseconds: timestampNanoseconds, count: count)
            queue[(state.queueHead + state.queueCount) % slotCount] = state.writingSlot
            state.queueCount += 1
            state.writingSlot = -1
            state.written += 1
        }
    }

    /// Producer: gives back the slot from `beginWrite` unpublished (e.g. after a read error).
    public func abandonWrite() {
        slots.withLock { state in
            if state.writingSlot >= 0 { freeSlots[state.freeCount] = state.writingSlot; state.freeCount += 1; state.writingSlot = -1 }
        }
    }

    /// Producer: copies `elements` into a slot and publishes it.
    public func write(_ elements: UnsafeBufferPointer<Element>, timestampNanoseconds: UInt64) {
        precondition(elements.count <= slotCapacity, "\(elements.count) elements do not fit slots of \(slotCapacity)")
        let slot = beginWrite()
        if let source = elements.baseAddress { slot.baseAddress!.update(from: source, count: elements.count) }
        commitWrite(count: elements.count, timestampNanoseconds: timestampNanoseconds)
    }

    /// Consumer: takes the oldest unread frame if there is one (never waits); the slot is
    /// lent to `body` and is not overwritten while it runs. Returns nil when none is waiting.
    public func readOldest<Result>(_ body: (UnsafeBufferPointer<Element>, FrameInfo) throws -> Result) rethrows -> Result? {
        guard let slot = slots.withLock({ takeOldest(&$0) }) else { return nil }
        defer { release(slot) }
        let info = infos[slot]
        return try body(UnsafeBufferPointer(start: storage + slot * slotCapacity, count: info.count), info)
    }

    /// Consumer: like `readOldest`, but waits up to `timeoutNanoseconds` for a frame.
    /// Returns nil on timeout or after `close()`.
    public func waitOldest<Result>(timeoutNanoseconds: UInt64,
                                   _ body: (UnsafeBufferPointer<Element>, FrameInfo) throws -> Result) rethrows -> Result? {
        let deadline = MonotonicClock.nanoseconds() + timeoutNanoseconds
        let taken = slots.withLock(when: { $0.queueCount > 0 || $0.closed }, deadline: deadline) { takeOldest(&$0) }
        guard let slot = taken else { return nil }
        defer { release(slot) }
        let info = infos[slot]
        return try body(UnsafeBufferPointer(start: storage + slot * slotCapacity, count: info.count), info)
    }

    /// Wakes a consumer blocked in `waitOldest` for good (the producer has stopped).
    public func close() {
        slots.withLock { $0.closed = true }
    }

    /// The counters, consistent with each other.
    public var statistics: FrameRingStatistics {
        slots.withLock { FrameRingStatistics(written: $0.written, read: $0.readCount, dropped: $0.dropped, waiting: $0.queueCount) }
    }

    /// The oldest committed slot, now being read; nil when none waits. Under the lock.
    private func takeOldest(_ state: inout Slots) -> Int? {
        guard state.queueCount > 0 else { return nil }
        precondition(state.readingSlot < 0, "a second read while the first is still running (one consumer only)")
        state.readingSlot = queue[state.queueHead]
        state.queueHead = (state.queueHead + 1) % slotCount
        state.queueCount -= 1
        state.readCount += 1
        return state.readingSlot
    }

    private func release(_ slot: Int) {
        slots.withLock { state in
            freeSlots[state.freeCount] = slot
            state.freeCount += 1
            state.readingSlot = -1
        }
    }
}

extension FrameRing where Element: FloatingPoint {
    /// A ring of zero-filled floating-point slots.
    public convenience init(slotCount: Int, slotCapacity: Int) {
        self.init(slotCount: slotCount, slotCapacity: slotCapacity, zero: 0)
    }
}
