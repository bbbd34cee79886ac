// The most kernel worker threads any part of Foresight starts: a few per core helps when
// threads wait; hundreds only thrash. Not a scheduler: ThreadPool runs what it is given.

import Glibc

/// Bounds of a thread count given by a user (command line, device profile).
///
/// ```swift
/// if let problem = ThreadLimit.problem(threads, option: "--threads") { throw ... }   // 1...min(4 x cores, 64)
/// ```
public enum ThreadLimit {
    /// Online cores of this machine (at least 1).
    public static var cores: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The most threads accepted: 4 per core, and never more than 64.
    public static var maximum: Int { min(64, 4 * cores) }

    /// The thread counts accepted: 1 up to `maximum`.
    public static var range: ClosedRange<Int> { 1...maximum }

    /// Why `threads` is refused, naming `option` and the range; nil when it is accepted.
    public static func problem(_ threads: Int, option: String) -> String? {
        range.contains(threads) ? nil
            : "\(option) must be 1 to \(maximum) (4 per core on this \(cores)-core machine, at most 64; got \(threads))"
    }
}
