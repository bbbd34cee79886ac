// A recording's actions: a CSV file of `time, a1, ..., an` rows (time in seconds of the video's
// clock, each value the command in [-1, 1] in force from that time on), read whole and checked
// once, then looked up by time without allocating. Not a general CSV reader: numbers only,
// comma-separated, an optional header line and `#` comments.

import Foundation

/// The actions that go with a recording, from a CSV file.
///
/// ```swift
/// // time,pan_x,pan_y
/// // 0.0,0.5,0
/// // 1.5,-1,0.25
/// let track = try ActionTrack(path: "walk.actions.csv")
/// var action = [Float](repeating: 0, count: track.count)
/// track.action(at: 2.0, into: &action)   // [-1, 0.25]: the row at 1.5 s is in force
/// ```
public struct ActionTrack: Sendable, Equatable {
    /// Values per action (n).
    public let count: Int
    /// Row times in seconds, ascending.
    public let times: [Double]
    /// Row values, [rows, count], each in [-1, 1].
    public let values: [Float]
    /// Rows skipped because a field was not a finite number, or they had another number of
    /// fields than the first row.
    public let malformedRows: Int
    /// Rows skipped because their time was earlier than the row before.
    public let lateRows: Int
    /// Values outside [-1, 1], clamped to it.
    public let outOfRangeValues: Int

    /// The largest file read (64 MiB: days of commands at 30 rows a second).
    public static let maximumBytes = 64 << 20
    /// The most values per action.
    public static let maximumCount = 64

    /// Reads and checks the CSV file at `path`.
    public init(path: String) throws(IOError) {
        try self.init(bytes: try readWholeFile(path, format: "actions CSV", limit: ActionTrack.maximumBytes), name: path)
    }

    /// Parses CSV text: `#` comments and blank lines are skipped, a first line whose first
    /// field is not a number is a header. A file with no valid row is an error naming `name`.
    public init(bytes: [UInt8], name: String = "the actions") throws(IOError) {
        guard bytes.count <= ActionTrack.maximumBytes else {
            throw IOError.file("actions CSV", .unsupported, at: ActionTrack.maximumBytes, "\(name) is longer than \(ActionTrack.maximumBytes >> 20) MiB")
        }
        var times: [Double] = [], values: [Float] = []
        var count = 0, malformed = 0, late = 0, outOfRange = 0
        var firstLine = true, lineStart = 0
        var fields: [Double] = []
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            var line = bytes[lineStart..<lineEnd]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            defer { firstLine = false }
            fields.removeAll(keepingCapacity: true)
            for part in parts {
                guard let number = Double(part), number.isFinite else { break }
                fields.append(number)
            }
            if firstLine && fields.isEmpty { continue }   // a header
            guard fields.count == parts.count, fields.count >= 2, fields.count - 1 <= ActionTrack.maximumCount,
                  count == 0 || fields.count - 1 == count else {
                if count == 0 && fields.count == parts.count && fields.count - 1 > ActionTrack.maximumCount {
                    throw IOError.file("actions CSV", .unsupported, at: lineStart, "\(name): \(fields.count - 1) values per action, more than \(ActionTrack.maximumCount)")
                }
                malformed += 1
                continue
            }
            if let last = times.last, fields[0] < last { late += 1; continue }
            count = fields.count - 1
            times.append(fields[0])
            for value in fields.dropFirst() {
                let clamped = min(1, max(-1, value))
                if clamped != value { outOfRange += 1 }
                values.append(Float(clamped))
            }
        }
        guard count > 0 else {
            throw IOError.file("actions CSV", .malformed, at: 0, "\(name) holds no row of `time, a1, ..., an` numbers (\(malformed) malformed)")
        }
        self.count = count
        self.times = times
        self.values = values
        malformedRows = malformed
        lateRows = late
        outOfRangeValues = outOfRange
    }

    /// Writes the action in force at `time` (the last row at or before it) into
    /// `destination[0..<count]`; false, with zeros written, before the first row.
    @discardableResult
    public func action(at time: Double, into destination: UnsafeMutablePointer<Float>) -> Bool {
        // The last row whose time is <= time.
        var low = 0, high = times.count
        while low < high {
            let middle = (low + high) / 2
            if times[middle] <= time { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else {
            destination.update(repeating: 0, count: count)
            return false
        }
        values.withUnsafeBufferPointer { destination.update(from: $0.baseAddress! + (low - 1) * count, count: count) }
        return true
    }

    /// One line on what was read and skipped.
    public var summary: String {
        var text = "\(times.count) row(s) of \(count) value(s)"
        var skipped: [String] = []
        if malformedRows > 0 { skipped.append("\(malformedRows) malformed row(s) skipped") }
        if lateRows > 0 { skipped.append("\(lateRows) row(s) out of time order skipped") }
        if outOfRangeValues > 0 { skipped.append("\(outOfRangeValues) value(s) outside [-1, 1] clamped") }
        if !skipped.isEmpty { text += "; " + skipped.joined(separator: ", ") }
        return text
    }
}
