// The one error of ForesightIO (broken files, model files, device profiles, missing system
// libraries) and the bounded byte readers the file parsers share. Not an I/O layer: files are
// read with plain POSIX calls.

import Glibc

/// Why a file, a model file, a device profile or a system library cannot be used: the one
/// error of ForesightIO. A broken file says where: its format, the kind of problem and the
/// byte offset where the parser found it, so that `xxd -s OFFSET` shows the culprit.
///
/// ```swift
/// do { _ = try WAV.decode(bytes) } catch let error as IOError { print(error.offset ?? 0) }
/// ```
public enum IOError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What kind of problem a file parser met.
    public enum FileProblem: String, Sendable {
        /// The file ends before a structure it announced.
        case truncated
        /// A field holds a value the format does not allow.
        case malformed
        /// A valid file in a variant this reader does not handle (e.g. 10-bit Y4M).
        case unsupported
        /// The operating system refused to open, read or write the file.
        case io
    }

    /// A Y4M, WAV, PNM, PNG or heartbeat file that does not parse, or cannot be read or
    /// written: the format, the kind of problem, the byte offset and what is wrong.
    case badFile(format: String, problem: FileProblem, offset: Int, message: String)
    /// A model file or checkpoint that cannot be read, written or used, and why.
    case modelFile(path: String, problem: String)
    /// A device profile that cannot be found, read or used: which one, and why.
    case deviceProfile(source: String, problem: String)
    /// A system library that did not load, with the package to install.
    case missingLibrary(MissingLibrary)

    /// A broken file of `format` at `offset`.
    public static func file(_ format: String, _ problem: FileProblem, at offset: Int, _ message: String) -> IOError {
        .badFile(format: format, problem: problem, offset: offset, message: message)
    }

    /// One line a user can act on.
    public var description: String {
        switch self {
        case let .badFile(format, problem, offset, message): "\(format) file \(problem.rawValue) at byte \(offset): \(message)"
        case let .modelFile(path, problem): "model file \(path): \(problem)"
        case let .deviceProfile(source, problem): "device profile \(source) \(problem)"
        case let .missingLibrary(missing): missing.description
        }
    }

    /// A broken file's format ("Y4M", "WAV", "PNM", "PNG"); nil for the other cases.
    public var format: String? { if case let .badFile(format, _, _, _) = self { format } else { nil } }
    /// A broken file's kind of problem; nil for the other cases.
    public var kind: FileProblem? { if case let .badFile(_, problem, _, _) = self { problem } else { nil } }
    /// The byte offset where a broken file's problem was found; nil for the other cases.
    public var offset: Int? { if case let .badFile(_, _, offset, _) = self { offset } else { nil } }
    /// What is wrong, without the format and offset (a broken file) or the path (a model file).
    public var message: String {
        switch self {
        case let .badFile(_, _, _, message): message
        case let .modelFile(_, problem), let .deviceProfile(_, problem): problem
        case let .missingLibrary(missing): missing.description
        }
    }
    /// The model file's path; nil for the other cases.
    public var path: String? { if case let .modelFile(path, _) = self { path } else { nil } }
}

/// Reads a whole file into memory; errors name the path. A file longer than `limit` bytes is
/// refused before more than that is read.
func readWholeFile(_ path: String, format: String, limit: Int = .max) throws(IOError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw IOError.file(format, .io, at: 0, "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw IOError.file(format, .io, at: bytes.count, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if count == 0 { return bytes }
        guard bytes.count + count <= limit else {
            throw IOError.file(format, .unsupported, at: limit, "\(path) is longer than the \(limit >> 20) MiB this reader takes")
        }
        bytes.append(contentsOf: chunk[0..<count])
    }
}

/// Writes `bytes` to `path` (created or truncated).
func writeWholeFile(_ path: String, _ bytes: [UInt8], format: String) throws(IOError) {
    let file = try OutputFile(path, format: format)
    defer { file.close() }
    try file.write(bytes)
}

/// A file opened for writing, with EINTR-safe full writes and typed errors.
final class OutputFile {
    let descriptor: Int32
    let path: String
    let format: String
    private(set) var offset = 0

    init(_ path: String, format: String) throws(IOError) {
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        self.path = path
        self.format = format
        guard descriptor >= 0 else {
            throw IOError.file(format, .io, at: 0, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        if let failure = writeAll(bytes) { throw failure }
    }

    func write(_ bytes: [UInt8]) throws(IOError) {
        if let failure = bytes.withUnsafeBytes({ writeAll($0) }) { throw failure }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> IOError? {
        var done = 0
        while done < bytes.count {
            let count = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 {
                if errno == EINTR { continue }
                return IOError.file(format, .io, at: offset + done, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            done += count
        }
        offset += done
        return nil
    }

    /// Overwrites bytes at an absolute position (for sizes patched in a header), then returns
    /// to the end of the file.
    func patch(at position: Int, _ bytes: [UInt8]) throws(IOError) {
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(position)) }
        guard written == bytes.count else {
            throw IOError.file(format, .io, at: position, "cannot update the header of \(path): \(String(cString: strerror(errno)))")
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}

/// A source of bytes with a known position: a file read in blocks, or a buffer in memory.
/// Parsers use it to read streams (Y4M) without holding the whole file.
final class ByteStream {
    private let descriptor: Int32  // -1 for a memory stream
    private var buffer: [UInt8]
    private var start = 0  // next unread byte in buffer
    private var end = 0    // one past the last valid byte in buffer
    /// Bytes consumed from the start of the stream.
    private(set) var offset = 0
    private let ownsDescriptor: Bool
    /// Length of the whole stream when it is known (memory, regular files), else nil.
    let knownLength: Int?

    /// A stream over bytes already in memory.
    init(bytes: [UInt8]) {
        descriptor = -1
        buffer = bytes
        end = bytes.count
        ownsDescriptor = false
        knownLength = bytes.count
    }

    /// A stream over a file.
    init(path: String, format: String) throws(IOError) {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw IOError.file(format, .io, at: 0, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        buffer = [UInt8](repeating: 0, count: 1 << 16)
        ownsDescriptor = true
        var status = stat()
        knownLength = fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG ? Int(status.st_size) : nil
    }

    deinit { if ownsDescriptor { close(descriptor) } }

    /// Refills the buffer; returns false at the end of the stream.
    private func refill() -> Bool {
        guard descriptor >= 0 else { return false }
        if start == end { start = 0; end = 0 }
        if end == buffer.count {  // move the unread tail to the front
            let unread = end - start
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: unread)
            }
            start = 0; end = unread
        }
        while true {
            let capacity = buffer.count - end
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + end, capacity) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return false }
            end += count
            return true
        }
    }

    /// The next byte, or nil at the end of the stream.
    func readByte() -> UInt8? {
        if start == end && !refill() { return nil }
        let byte = buffer[start]
        start += 1; offset += 1
        return byte
    }

    /// True when no byte is left.
    func atEnd() -> Bool { start == end && !refill() }

    /// Skips `count` bytes; returns how many it could (less only at the end of the stream).
    @discardableResult
    func skip(_ count: Int) -> Int {
        var done = 0
        while done < count {
            if start == end && !refill() { break }
            let take = min(count - done, end - start)
            start += take; done += take; offset += take
        }
        return done
    }

    /// Reads exactly `count` bytes into `destination`; returns how many it got (less only at
    /// the end of the stream).
    func read(into destination: UnsafeMutableRawPointer, count: Int) -> Int {
        var done = 0
        while done < count {
            if start == end {
                // Large reads go straight from the file into the destination.
                if descriptor >= 0 && count - done >= buffer.count {
                    let got = Glibc.read(descriptor, destination + done, count - done)
                    if got < 0 && errno == EINTR { continue }
                    if got <= 0 { break }
                    done += got; offset += got
                    continue
                }
                if !refill() { break }
            }
            let take = min(count - done, end - start)
            buffer.withUnsafeBytes { raw in (destination + done).copyMemory(from: raw.baseAddress! + start, byteCount: take) }
            start += take; done += take; offset += take
        }
        return done
    }
}

/// Little-endian field reads from a byte array with bounds checks that throw.
struct LittleEndianReader {
    let bytes: [UInt8]
    let format: String

    func require(_ offset: Int, _ count: Int, _ what: String) throws(IOError) {
        guard offset >= 0, count >= 0, offset <= bytes.count - count else {
            throw IOError.file(format, .truncated, at: min(max(offset, 0), bytes.count),
                                  "file ends (\(bytes.count) bytes) inside \(what), which needs \(count) bytes here")
        }
    }

    func uint16(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }

    func uint32(_ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    func tag(_ offset: Int) -> String {
        String(decoding: bytes[offset..<offset + 4].map { $0 >= 32 && $0 < 127 ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }
}
