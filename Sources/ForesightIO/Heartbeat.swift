import Foundation

/// A small text file a long run rewrites after every step, for a supervisor or watchdog on the
/// robot: `step N saved M`, where N is the steps done (a resumed checkpoint's included) and M
/// the steps the checkpoint on disk holds (0 before the first one). The numbers are padded to a
/// fixed width and written in place, so each beat is one `pwrite` of a buffer made once: no
/// allocation per step. The file's modification time says when the last step ended.
///
/// ```swift
/// let heartbeat = try Heartbeat(path: "/run/foresight/heartbeat")
/// heartbeat.beat(steps: 120, saved: 100)   // the file reads "step          120 saved          100\n"
/// let (steps, saved) = try Heartbeat.read("/run/foresight/heartbeat")
/// ```
public final class Heartbeat {
    public let path: String
    private let descriptor: Int32
    private let line: UnsafeMutableBufferPointer<UInt8>
    /// Set when a write failed (a full disk); later beats are skipped, the run goes on.
    public private(set) var failure: String?

    private static let width = 12
    private static let stepText = Array("step ".utf8), savedText = Array(" saved ".utf8)
    private static var length: Int { stepText.count + width + savedText.count + width + 1 }

    /// Opens (or empties) the file at `path`; an error names the path and why it cannot be written.
    public init(path: String) throws(IOError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw IOError.file("heartbeat", .io, at: 0, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.descriptor = descriptor
        line = .allocate(capacity: Self.length)
        line.initialize(repeating: UInt8(ascii: " "))
        for (index, byte) in Self.stepText.enumerated() { line[index] = byte }
        for (index, byte) in Self.savedText.enumerated() { line[Self.stepText.count + Self.width + index] = byte }
        line[Self.length - 1] = UInt8(ascii: "\n")
        beat(steps: 0, saved: 0)
    }

    deinit {
        close(descriptor)
        line.deallocate()
    }

    /// Writes the line for `steps` done and `saved` in the checkpoint. Numbers wider than the
    /// field are clamped to its largest value.
    public func beat(steps: Int, saved: Int) {
        guard failure == nil else { return }
        put(steps, endingAt: Self.stepText.count + Self.width)
        put(saved, endingAt: Self.length - 1)
        let written = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        if written != Self.length {
            failure = "the heartbeat file \(path) could not be written (\(written < 0 ? String(cString: strerror(errno)) : "a short write")); it is no longer updated"
        }
    }

    private func put(_ value: Int, endingAt end: Int) {
        var rest = min(max(value, 0), 999_999_999_999)
        var index = end - 1
        repeat {
            line[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        } while rest > 0 && index >= end - Self.width
        while index >= end - Self.width { line[index] = UInt8(ascii: " "); index -= 1 }
    }

    /// The steps and saved steps a heartbeat file holds; an error for a file that is not one.
    public static func read(_ path: String) throws(IOError) -> (steps: Int, saved: Int) {
        let bytes = try readWholeFile(path, format: "heartbeat")
        let words = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.count == 4, words[0] == "step", words[2] == "saved", let steps = Int(words[1]), let saved = Int(words[3]) else {
            throw IOError.file("heartbeat", .malformed, at: 0, "\(path) does not read \"step N saved M\"")
        }
        return (steps, saved)
    }
}
