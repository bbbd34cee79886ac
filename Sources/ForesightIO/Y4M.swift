// YUV4MPEG2 (.y4m) video: a streaming reader and writer of 8-bit progressive frames in the
// chroma layouts 420jpeg/420mpeg2/420paldv/420, 422, 444 and mono. Not a converter between
// chroma sitings (the 4:2:0 variants differ only in siting and share one plane layout), and
// not a reader of interlaced or high-bit-depth files (those are an `unsupported` error).

import Glibc

/// The chroma layout of a Y4M stream (the `C` header tag).
public enum Y4MChroma: String, CaseIterable, Sendable {
    case c420jpeg = "420jpeg", c420mpeg2 = "420mpeg2", c420paldv = "420paldv", c420 = "420"
    case c422 = "422", c444 = "444", mono = "mono"

    /// Bytes of one frame (all planes) at `width` x `height`.
    ///
    /// ```swift
    /// Y4MChroma.c420jpeg.frameBytes(width: 64, height: 48)  // 4608
    /// ```
    public func frameBytes(width: Int, height: Int) -> Int {
        let (chromaWidth, chromaHeight) = chromaSize(width: width, height: height)
        return width * height + 2 * chromaWidth * chromaHeight
    }

    /// Width and height of each chroma plane (0 x 0 for mono).
    public func chromaSize(width: Int, height: Int) -> (width: Int, height: Int) {
        switch self {
        case .c420jpeg, .c420mpeg2, .c420paldv, .c420: return ((width + 1) / 2, (height + 1) / 2)
        case .c422: return ((width + 1) / 2, height)
        case .c444: return (width, height)
        case .mono: return (0, 0)
        }
    }
}

/// What a Y4M stream header says: size, frame rate, aspect, chroma, and tags kept verbatim.
public struct Y4MHeader: Equatable, Sendable {
    /// Luma width in pixels.
    public var width: Int
    /// Luma height in pixels.
    public var height: Int
    /// Frames per second as a fraction (`F30000:1001` is 30000/1001).
    public var frameRate: (numerator: Int, denominator: Int)
    /// Pixel aspect ratio (`A1:1`), 0:0 when unknown.
    public var pixelAspect: (numerator: Int, denominator: Int)
    /// Chroma layout; a header without `C` means 420jpeg.
    public var chroma: Y4MChroma
    /// `X` tags (without the X), written back unchanged.
    public var extensions: [String]

    /// A progressive header; `frameRate` defaults to 30 fps.
    public init(width: Int, height: Int, frameRate: (Int, Int) = (30, 1), chroma: Y4MChroma = .c420jpeg,
                pixelAspect: (Int, Int) = (1, 1), extensions: [String] = []) {
        precondition(width > 0 && height > 0, "Y4M size must be positive, got \(width)x\(height)")
        precondition(frameRate.0 > 0 && frameRate.1 > 0, "Y4M frame rate must be positive, got \(frameRate.0):\(frameRate.1)")
        self.width = width
        self.height = height
        self.frameRate = (frameRate.0, frameRate.1)
        self.pixelAspect = (pixelAspect.0, pixelAspect.1)
        self.chroma = chroma
        self.extensions = extensions
    }

    /// Bytes of one frame's planes.
    public var frameBytes: Int { chroma.frameBytes(width: width, height: height) }

    /// The header line, newline included.
    public var line: String {
        var text = "YUV4MPEG2 W\(width) H\(height) F\(frameRate.numerator):\(frameRate.denominator) Ip"
        text += " A\(pixelAspect.numerator):\(pixelAspect.denominator) C\(chroma.rawValue)"
        for tag in extensions { text += " X\(tag)" }
        return text + "\n"
    }

    /// Equal when every field and tag is equal.
    public static func == (a: Y4MHeader, b: Y4MHeader) -> Bool {
        a.width == b.width && a.height == b.height && a.frameRate == b.frameRate
            && a.pixelAspect == b.pixelAspect && a.chroma == b.chroma && a.extensions == b.extensions
    }
}

/// One frame's planes in one buffer: Y (width x height), then Cb and Cr (chroma size each).
public struct Y4MFrame: Sendable {
    /// The planes, Y then Cb then Cr, each row-major without padding.
    public var planes: [UInt8]
    /// The frame's own parameters (text after `FRAME`, without the leading space), usually empty.
    public var parameters: String

    /// A frame of zero bytes sized for `header`.
    public init(for header: Y4MHeader) {
        planes = [UInt8](repeating: 0, count: header.frameBytes)
        parameters = ""
    }

    /// An empty frame; `Y4MReader.readFrame(into:)` sizes it on first use.
    public init() {
        planes = []
        parameters = ""
    }
}

/// Reads a Y4M stream frame by frame, from a file or from bytes in memory.
///
/// ```swift
/// let reader = try Y4MReader(path: "clip.y4m")
/// var frame = Y4MFrame(for: reader.header)
/// while try reader.readFrame(into: &frame) { /* frame.planes[0..<w*h] is the luma */ }
/// ```
public final class Y4MReader {
    /// The stream header.
    public let header: Y4MHeader
    /// Frames read so far.
    public private(set) var framesRead = 0
    private let stream: ByteStream

    /// Longest header or frame line accepted; longer is a malformed file, not a big allocation.
    static let maximumLineBytes = 4096
    /// Largest frame size accepted, to turn absurd headers into errors (16384 x 16384).
    static let maximumPixels = 16384 * 16384

    /// Opens the file at `path` and parses its header.
    public convenience init(path: String) throws(IOError) {
        try self.init(stream: ByteStream(path: path, format: "Y4M"))
    }

    /// Parses a stream held in memory.
    public convenience init(bytes: [UInt8]) throws(IOError) {
        try self.init(stream: ByteStream(bytes: bytes))
    }

    init(stream: ByteStream) throws(IOError) {
        self.stream = stream
        let (line, lineOffset) = try Y4MReader.readLine(stream, what: "stream header")
        header = try Y4MReader.parseHeader(line, at: lineOffset)
    }

    /// Reads the next frame into `frame` (resized if its buffer is wrong). Returns false at a
    /// clean end of the stream; throws when the stream ends inside a frame.
    @discardableResult
    public func readFrame(into frame: inout Y4MFrame) throws(IOError) -> Bool {
        if stream.atEnd() { return false }
        let (line, lineOffset) = try Y4MReader.readLine(stream, what: "frame \(framesRead) header")
        guard line.starts(with: Array("FRAME".utf8)), line.count == 5 || line[5] == UInt8(ascii: " ") else {
            throw IOError.file("Y4M", .malformed, at: lineOffset,
                                  "frame \(framesRead) does not start with FRAME (found \"\(Y4MReader.printable(line.prefix(16)))\")")
        }
        frame.parameters = line.count > 6 ? String(decoding: line[6...], as: UTF8.self) : ""
        let size = header.frameBytes
        if let length = stream.knownLength, length - stream.offset < size {  // fail before allocating
            throw IOError.file("Y4M", .truncated, at: length,
                                  "frame \(framesRead) needs \(size) bytes from byte \(stream.offset), the file has \(length - stream.offset)")
        }
        if frame.planes.count != size { frame.planes = [UInt8](repeating: 0, count: size) }
        let dataOffset = stream.offset
        let got = frame.planes.withUnsafeMutableBytes { stream.read(into: $0.baseAddress!, count: size) }
        guard got == size else {
            throw IOError.file("Y4M", .truncated, at: dataOffset + got,
                                  "frame \(framesRead) has \(got) of its \(size) bytes")
        }
        framesRead += 1
        return true
    }

    /// Reads one '\n'-terminated line (without the newline) and the offset where it starts.
    private static func readLine(_ stream: ByteStream, what: String) throws(IOError) -> ([UInt8], Int) {
        let lineOffset = stream.offset
        var line: [UInt8] = []
        while true {
            guard let byte = stream.readByte() else {
                throw IOError.file("Y4M", .truncated, at: stream.offset, "file ends inside the \(what)")
            }
            if byte == UInt8(ascii: "\n") { return (line, lineOffset) }
            line.append(byte)
            if line.count > maximumLineBytes {
                throw IOError.file("Y4M", .malformed, at: lineOffset, "\(what) is longer than \(maximumLineBytes) bytes")
            }
        }
    }

    static func printable<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes.map { $0 >= 32 && $0 < 127 ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    static func parseHeader(_ line: [UInt8], at lineOffset: Int) throws(IOError) -> Y4MHeader {
        let magic = Array("YUV4MPEG2".utf8)
        guard line.starts(with: magic) else {
            throw IOError.file("Y4M", .malformed, at: lineOffset, "not a Y4M file: it does not start with YUV4MPEG2")
        }
        var width = -1, height = -1
        var rate = (0, 0), aspect = (0, 0)
        var chroma = Y4MChroma.c420jpeg
        var extensions: [String] = []
        var position = magic.count
        while position < line.count {
            if line[position] == UInt8(ascii: " ") { position += 1; continue }
            let tokenStart = position
            while position < line.count && line[position] != UInt8(ascii: " ") { position += 1 }
            let token = line[tokenStart..<position]
            let offset = lineOffset + tokenStart
            let value = String(decoding: token.dropFirst(), as: UTF8.self)
            switch token.first! {
            case UInt8(ascii: "W"): width = try integer(value, "width", at: offset)
            case UInt8(ascii: "H"): height = try integer(value, "height", at: offset)
            case UInt8(ascii: "F"):
                rate = try ratio(value, "frame rate", at: offset)
                guard rate.0 > 0 && rate.1 > 0 else {
                    throw IOError.file("Y4M", .malformed, at: offset, "frame rate F\(value) must be positive")
                }
            case UInt8(ascii: "A"): aspect = try ratio(value, "pixel aspect", at: offset)
            case UInt8(ascii: "I"):
                guard value == "p" || value == "?" else {
                    throw IOError.file("Y4M", .unsupported, at: offset,
                                          "interlacing I\(value): only progressive (Ip) video is read")
                }
            case UInt8(ascii: "C"):
                guard let known = Y4MChroma(rawValue: value) else {
                    throw IOError.file("Y4M", .unsupported, at: offset,
                                          "chroma C\(value): supported are \(Y4MChroma.allCases.map { "C" + $0.rawValue }.joined(separator: ", "))")
                }
                chroma = known
            case UInt8(ascii: "X"): extensions.append(value)
            default:
                throw IOError.file("Y4M", .malformed, at: offset, "unknown header tag \"\(printable(token.prefix(16)))\"")
            }
        }
        guard width > 0 && height > 0 else {
            throw IOError.file("Y4M", .malformed, at: lineOffset, "header lacks a positive width (W) and height (H)")
        }
        guard width <= 16384 && height <= 16384 && width * height <= maximumPixels else {
            throw IOError.file("Y4M", .malformed, at: lineOffset, "frame size \(width)x\(height) is beyond 16384x16384")
        }
        guard rate.0 > 0 else {
            throw IOError.file("Y4M", .malformed, at: lineOffset, "header lacks a frame rate (F)")
        }
        return Y4MHeader(width: width, height: height, frameRate: rate, chroma: chroma, pixelAspect: aspect, extensions: extensions)
    }

    private static func integer(_ text: String, _ what: String, at offset: Int) throws(IOError) -> Int {
        guard text.count <= 9, let value = Int(text), value >= 0 else {
            throw IOError.file("Y4M", .malformed, at: offset, "\(what) \"\(text.prefix(16))\" is not a number up to 9 digits")
        }
        return value
    }

    private static func ratio(_ text: String, _ what: String, at offset: Int) throws(IOError) -> (Int, Int) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw IOError.file("Y4M", .malformed, at: offset, "\(what) \"\(text.prefix(16))\" is not N:D")
        }
        return (try integer(String(parts[0]), what, at: offset), try integer(String(parts[1]), what, at: offset))
    }
}

/// Writes a Y4M stream frame by frame.
///
/// ```swift
/// let writer = try Y4MWriter(path: "out.y4m", header: Y4MHeader(width: 64, height: 64, chroma: .mono))
/// try writer.writeFrame(planes: luma)   // 64*64 bytes
/// writer.close()
/// ```
public final class Y4MWriter {
    /// The header written at the start.
    public let header: Y4MHeader
    /// Frames written so far.
    public private(set) var framesWritten = 0
    private let file: OutputFile
    private var neutralChroma: [UInt8]
    private static let frameLine = Array("FRAME\n".utf8)

    /// Creates (or truncates) `path` and writes the stream header.
    public init(path: String, header: Y4MHeader) throws(IOError) {
        self.header = header
        file = try OutputFile(path, format: "Y4M")
        let (chromaWidth, chromaHeight) = header.chroma.chromaSize(width: header.width, height: header.height)
        neutralChroma = [UInt8](repeating: 128, count: 2 * chromaWidth * chromaHeight)
        try file.write(Array(header.line.utf8))
    }

    /// Appends one frame given as all of its planes (`header.frameBytes` bytes).
    public func writeFrame(planes: UnsafeRawBufferPointer) throws(IOError) {
        precondition(planes.count == header.frameBytes, "Y4M frame needs \(header.frameBytes) bytes, got \(planes.count)")
        try file.write(Y4MWriter.frameLine)
        try file.write(planes)
        framesWritten += 1
    }

    /// Appends one frame given as all of its planes.
    public func writeFrame(planes: [UInt8]) throws(IOError) {
        precondition(planes.count == header.frameBytes, "Y4M frame needs \(header.frameBytes) bytes, got \(planes.count)")
        try file.write(Y4MWriter.frameLine)
        try file.write(planes)
        framesWritten += 1
    }

    /// Appends a grey frame: `luma` (width x height bytes) with neutral chroma planes.
    public func writeGray(luma: UnsafeRawBufferPointer) throws(IOError) {
        precondition(luma.count == header.width * header.height, "Y4M luma needs \(header.width * header.height) bytes, got \(luma.count)")
        try file.write(Y4MWriter.frameLine)
        try file.write(luma)
        try file.write(neutralChroma)
        framesWritten += 1
    }

    /// Closes the file.
    public func close() { file.close() }
}
