// Range checks of the command line's numeric options, called from each command's `validate()`:
// every number finite and inside a stated range, refused with the option and the range named
// before anything is allocated. Not parsing: ArgumentParser turns the text into numbers.

import ArgumentParser
import ForesightCore

enum OptionRange {
    /// Refuses `value` outside `range`: "--batch must be 1 to 1024 (got 0)".
    static func check(_ value: Int, _ option: String, _ range: ClosedRange<Int>, unit: String = "") throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must be \(range.lowerBound) to \(range.upperBound)\(unit) (got \(value))")
        }
    }

    /// Refuses a NaN, an infinity, or `value` outside `range`.
    static func check(_ value: Double, _ option: String, _ range: ClosedRange<Double>, unit: String = "") throws {
        guard value.isFinite, range.contains(value) else {
            throw ValidationError("\(option) must be a number from \(range.lowerBound) to \(range.upperBound)\(unit) (got \(value))")
        }
    }

    /// Refuses a NaN, an infinity, 0 or less, or more than `maximum`.
    static func checkPositive(_ value: Double, _ option: String, maximum: Double, unit: String = "") throws {
        guard value.isFinite, value > 0, value <= maximum else {
            throw ValidationError("\(option) must be above 0 and at most \(maximum)\(unit) (got \(value))")
        }
    }

    /// Refuses a thread count outside 1...ThreadLimit.maximum (4 per core, at most 64).
    static func checkThreads(_ value: Int, _ option: String = "--threads") throws {
        if let problem = ThreadLimit.problem(value, option: option) { throw ValidationError(problem) }
    }

    /// Longest run a --seconds option takes: a year.
    static let maximumSeconds = 365.0 * 24 * 3600
    /// Most steps, frames or epochs a count option takes.
    static let maximumCount = 1_000_000_000
}
