// Live actions from another process: lines of `a1,...,an` on a file descriptor (standard
// input by default), each the command in force from the moment it arrives. A reader thread
// keeps the latest commands with their arrival times in a fixed ring; the learner asks for
// the action in force at each frame's time stamp. Not a protocol: one line, one command.

import Foundation
import ForesightCore

/// Commands arriving as text lines while the robot learns.
///
/// ```swift
/// // another process: print("0.5,0,0,-0.25")   (pan right, pan down, zoom in, turn)
/// let feed = LiveActionFeed(count: 4)
/// feed.start()
/// let report = try learner.run(camera, actions: feed)
/// feed.stop()
/// print(feed.summary)
/// ```
public final class LiveActionFeed: @unchecked Sendable {
    /// Values per command.
    public let count: Int
    /// Where the lines come from, for messages ("standard input").
    public let label: String
    private let descriptor: Int32
    /// The newest commands: arrival times (monotonic nanoseconds) and values, [capacity, count].
    private let times: UnsafeMutablePointer<UInt64>
    private let values: UnsafeMutablePointer<Float>
    private static let capacity = 256
    /// Longest line taken; a longer one is malformed.
    public static let maximumLineBytes = 4096
    private struct Counters { var stored = 0, received = 0, malformed = 0, outOfRange = 0, missing = 0, ended = false }
    private let state = Locked(Counters())
    private let reader = StoppableThread(name: "foresight.actions")

    /// A feed of `count` values per line read from `descriptor` (not closed by the feed).
    public init(count: Int, descriptor: Int32 = STDIN_FILENO, label: String = "standard input") {
        precondition((1...64).contains(count), "a command holds 1 to 64 values, got \(count)")
        self.count = count
        self.descriptor = descriptor
        self.label = label
        times = .allocate(capacity: Self.capacity)
        values = .allocate(capacity: Self.capacity * count)
        times.initialize(repeating: 0, count: Self.capacity)
        values.initialize(repeating: 0, count: Self.capacity * count)
    }

    deinit {
        stop()
        times.deallocate()
        values.deallocate()
    }

    /// Starts reading lines on a thread of its own.
    public func start() {
        reader.start { [self] in readLines() }
    }

    /// Stops reading (within about 100 ms); the commands received stay.
    public func stop() {
        reader.stop()
    }

    /// Lines taken as commands, lines refused, values clamped to [-1, 1], frames that came
    /// before the first command, and whether the writer closed its end.
    public var received: Int { state.withLock { $0.received } }
    public var malformed: Int { state.withLock { $0.malformed } }
    public var outOfRange: Int { state.withLock { $0.outOfRange } }
    public var missing: Int { state.withLock { $0.missing } }
    public var ended: Bool { state.withLock { $0.ended } }

    /// Writes the command in force at `nanoseconds` (the newest that arrived at or before it)
    /// into `destination[0..<count]`; zeros, counted as missing, before the first one. A frame
    /// older than every command kept (more than 256 commands ago) gets the oldest kept.
    /// Allocates nothing.
    public func action(at nanoseconds: UInt64, into destination: UnsafeMutablePointer<Float>) {
        state.withLock { counters in
            let kept = min(counters.stored, Self.capacity)
            guard kept > 0 else {
                destination.update(repeating: 0, count: count)
                counters.missing += 1
                return
            }
            var chosen = (counters.stored - 1) % Self.capacity
            for back in 0..<kept {
                let slot = (counters.stored - 1 - back) % Self.capacity
                chosen = slot
                if times[slot] <= nanoseconds { break }
            }
            destination.update(from: values + chosen * count, count: count)
        }
    }

    /// One line on what arrived.
    public var summary: String {
        let counters = state.withLock { $0 }
        var text = "actions from \(label): \(counters.received) command(s)"
        if counters.malformed > 0 { text += ", \(counters.malformed) malformed line(s) skipped" }
        if counters.outOfRange > 0 { text += ", \(counters.outOfRange) value(s) outside [-1, 1] clamped" }
        if counters.ended { text += "; the writer closed its end (the last command stayed in force)" }
        return text
    }

    /// Takes one line's bytes: `count` comma- or space-separated finite numbers.
    func take(_ line: ArraySlice<UInt8>, at nanoseconds: UInt64) {
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty || text.hasPrefix("#") { return }
        let parts = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
        var numbers: [Float] = []
        numbers.reserveCapacity(count)
        for part in parts {
            guard let number = Float(part), number.isFinite else { break }
            numbers.append(number)
        }
        state.withLock { counters in
            guard numbers.count == parts.count, numbers.count == count else {
                counters.malformed += 1
                return
            }
            let slot = counters.stored % Self.capacity
            times[slot] = nanoseconds
            for (index, number) in numbers.enumerated() {
                let clamped = min(1, max(-1, number))
                if clamped != number { counters.outOfRange += 1 }
                values[slot * count + index] = clamped
            }
            counters.stored += 1
            counters.received += 1
        }
    }

    private func readLines() {
        var line: [UInt8] = []
        line.reserveCapacity(Self.maximumLineBytes)
        var overlong = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !reader.stopRequested.isOpen {
            var waiter = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&waiter, 1, 100)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { if ready < 0 { break }; continue }
            let got = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard got > 0 else {
                if !line.isEmpty && !overlong { take(line[...], at: MonotonicClock.nanoseconds()) }
                state.withLock { $0.ended = true }
                break
            }
            let now = MonotonicClock.nanoseconds()
            for byte in buffer[0..<got] {
                if byte == UInt8(ascii: "\n") {
                    if overlong { state.withLock { $0.malformed += 1 } } else { take(line[...], at: now) }
                    line.removeAll(keepingCapacity: true)
                    overlong = false
                } else if line.count < Self.maximumLineBytes {
                    line.append(byte)
                } else {
                    overlong = true
                }
            }
        }
    }
}
