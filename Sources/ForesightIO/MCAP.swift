// MCAP, the container of ROS 2 bags: a streaming reader of its messages, record by record and
// chunk by chunk, with the chunk and data-section CRCs checked; memory is the largest chunk (and
// its records decoded, when compressed), not the file. Not a writer, not an indexed
// (random-access) reader, and not a decompressor itself: zstd and lz4 chunks are decoded by the
// system's libraries (MCAPCompression.swift). Message payloads are left to their decoders
// (ROS2Image.swift for camera images).

import Glibc

/// A channel of an MCAP file: a topic, its message encoding and its schema's name.
///
/// ```swift
/// MCAPChannel(id: 1, topic: "/camera/image_raw", messageEncoding: "cdr", schemaName: "sensor_msgs/msg/Image")
/// ```
public struct MCAPChannel: Equatable, Sendable {
    /// The channel's id within the file.
    public var id: UInt16
    /// The topic, e.g. "/camera/image_raw".
    public var topic: String
    /// How messages are serialised ("cdr" for ROS 2).
    public var messageEncoding: String
    /// The schema's name, e.g. "sensor_msgs/msg/Image"; empty without a schema.
    public var schemaName: String

    public init(id: UInt16, topic: String, messageEncoding: String, schemaName: String) {
        self.id = id
        self.topic = topic
        self.messageEncoding = messageEncoding
        self.schemaName = schemaName
    }
}

/// One message of an MCAP file.
public struct MCAPMessage {
    /// The channel it was published on.
    public var channel: MCAPChannel
    /// When it was recorded, in nanoseconds of the recorder's clock.
    public var logTime: UInt64
    /// Its serialised bytes (a view into the reader's buffer: decode it before the next read).
    public var data: ArraySlice<UInt8>
    /// The byte offset of `data` in the file, for error messages; in a compressed chunk, the
    /// offset it would have were the chunk's records stored uncompressed.
    public var offset: Int
}

/// What the summary section (or, without one, a scan of the whole file) says of the channels.
public struct MCAPSummary: Sendable {
    /// Every channel, by id order.
    public var channels: [MCAPChannel]
    /// Messages per channel id, from the Statistics record; nil when the file has none.
    public var messageCounts: [UInt16: Int]?
}

/// Reads the messages of an MCAP file in file order, from a file or from bytes in memory.
/// The file must end with its footer and magic (a recording cut off is a `truncated` error at
/// once); every record's length is checked against the bytes left and `maximumRecordBytes`
/// before anything is allocated.
///
/// ```swift
/// let reader = try MCAPReader(path: "walk.mcap")
/// while let message = try reader.nextMessage() { print(message.channel.topic, message.logTime) }
/// ```
public final class MCAPReader {
    /// The eight bytes an MCAP file starts and ends with (major version 0).
    public static let magic: [UInt8] = [0x89, 0x4D, 0x43, 0x41, 0x50, 0x30, 0x0D, 0x0A]
    /// The largest chunk or message read into memory, and the largest size a compressed
    /// chunk's records may declare; larger is an `unsupported` error.
    public static let maximumRecordBytes = 256 << 20
    /// The largest schema, channel or summary record read into memory.
    static let maximumSmallRecordBytes = 16 << 20

    /// The file's length in bytes.
    public let length: Int
    /// The Header record's profile ("ros2" for ROS 2 bags).
    public private(set) var profile = ""
    /// The channels met so far, by id.
    public private(set) var channels: [UInt16: MCAPChannel] = [:]

    private let file: MCAPBytes
    private var schemaNames: [UInt16: String] = [:]
    private var position = 0                 // next top-level record
    private var dataCRC = CRC32()            // of every byte before `position`, up to Data End
    private var chunk: ArraySlice<UInt8> = []  // the current chunk's records, as read or decoded
    private var chunkOffset = 0                // file offset of chunk index 0 (as if uncompressed)
    private var chunkPosition = 0, chunkEnd = 0
    private var ended = false

    /// Opens the file at `path`: checks both magics and the footer, and reads the Header.
    public convenience init(path: String) throws(IOError) {
        try self.init(file: MCAPBytes(path: path))
    }

    /// Reads an MCAP file held in memory.
    public convenience init(bytes: [UInt8]) throws(IOError) {
        try self.init(file: MCAPBytes(bytes: bytes))
    }

    init(file: MCAPBytes) throws(IOError) {
        self.file = file
        length = file.count
        let smallest = 2 * Self.magic.count + 9 + MCAPReader.footerBytes
        guard length >= Self.magic.count else {
            throw IOError.file("MCAP", .truncated, at: length, "file of \(length) bytes ends inside the magic")
        }
        let head = try file.read(at: 0, count: Self.magic.count)
        guard head == Self.magic else {
            throw IOError.file("MCAP", .malformed, at: 0, "not an MCAP file: it does not start with the MCAP magic (\\x89MCAP0\\r\\n)")
        }
        guard length >= smallest, try file.read(at: length - Self.magic.count, count: Self.magic.count) == Self.magic else {
            throw IOError.file("MCAP", .truncated, at: length,
                               "the file does not end with the MCAP footer and magic: the recording was cut off or is still being written (`mcap recover` repairs a cut-off file)")
        }
        dataCRC.update(head)
        position = Self.magic.count
        guard let (opcode, content, offset) = try readTopLevel(), opcode == Opcode.header.rawValue else {
            throw IOError.file("MCAP", .malformed, at: Self.magic.count, "the first record is not a Header")
        }
        var fields = MCAPFields(content, offset: offset)
        profile = try fields.string("Header profile")
    }

    /// The next message on any channel, or nil after the last one (at the Data End record).
    public func nextMessage() throws(IOError) -> MCAPMessage? {
        while !ended {
            if chunkPosition < chunkEnd {
                if let found = try nextInChunk() { return found }
                continue
            }
            guard let (opcode, content, offset) = try readTopLevel() else { ended = true; break }
            switch Opcode(rawValue: opcode) {
            case .schema?: try readSchema(content, offset: offset)
            case .channel?: try readChannel(content, offset: offset)
            case .message?:
                if let found = try readMessage(content, offset: offset) { return found }
            case .chunk?: try openChunk(content, offset: offset)
            case .dataEnd?: ended = true
            case .footer?: ended = true
            default: break
            }
        }
        return nil
    }

    /// The channels and message counts of the file at `path`: from its summary section when it
    /// has one (a read of the end of the file), else from a scan of the whole file.
    public static func summary(path: String) throws(IOError) -> MCAPSummary {
        try summary(of: MCAPReader(path: path))
    }

    /// `summary(path:)` of a file held in memory.
    public static func summary(bytes: [UInt8]) throws(IOError) -> MCAPSummary {
        try summary(of: MCAPReader(bytes: bytes))
    }

    static func summary(of reader: MCAPReader) throws(IOError) -> MCAPSummary {
        if let found = try reader.readSummarySection() { return found }
        while try reader.nextMessage() != nil {}
        return MCAPSummary(channels: reader.channels.values.sorted { $0.id < $1.id }, messageCounts: nil)
    }

    // MARK: - Records

    enum Opcode: UInt8 {
        case header = 0x01, footer = 0x02, schema = 0x03, channel = 0x04, message = 0x05, chunk = 0x06
        case messageIndex = 0x07, chunkIndex = 0x08, attachment = 0x09, attachmentIndex = 0x0A
        case statistics = 0x0B, metadata = 0x0C, metadataIndex = 0x0D, summaryOffset = 0x0E, dataEnd = 0x0F
    }

    /// Footer content: summary_start, summary_offset_start, summary_crc.
    static let footerBytes = 20

    private static func name(_ opcode: UInt8) -> String {
        if let known = Opcode(rawValue: opcode) { return "\(known)" }
        return opcode >= 0x80 ? "private record 0x\(String(opcode, radix: 16))" : "record 0x\(String(opcode, radix: 16))"
    }

    /// Reads the next top-level record: its opcode, its content (empty for the records skipped
    /// unread) and the content's offset; nil at the end of the file. Chunks and messages are
    /// read up to `maximumRecordBytes`, schemas and channels up to `maximumSmallRecordBytes`;
    /// every other record is read in blocks only for the data-section CRC.
    private func readTopLevel() throws(IOError) -> (UInt8, ArraySlice<UInt8>, Int)? {
        let recordOffset = position
        guard length - position > Self.magic.count else { return nil }
        guard length - position - Self.magic.count >= 9 else {
            throw IOError.file("MCAP", .truncated, at: length - Self.magic.count, "the file ends inside the record header at byte \(recordOffset)")
        }
        let prefix = try file.read(at: position, count: 9)
        let opcode = prefix[0]
        guard opcode != 0 else { throw IOError.file("MCAP", .malformed, at: recordOffset, "record opcode 0x00 is not valid") }
        let declared = MCAPFields.uint64(prefix[...], 1)
        let available = length - Self.magic.count - recordOffset - 9
        guard declared <= UInt64(available) else {
            throw IOError.file("MCAP", .truncated, at: recordOffset,
                               "\(Self.name(opcode)) at byte \(recordOffset) announces \(declared) bytes; the file has \(available) before its closing magic")
        }
        let contentLength = Int(declared), contentOffset = recordOffset + 9
        let kept: Int
        switch Opcode(rawValue: opcode) {
        case .chunk?, .message?: kept = Self.maximumRecordBytes
        case .header?, .schema?, .channel?, .dataEnd?, .footer?: kept = Self.maximumSmallRecordBytes
        default: kept = 0
        }
        guard kept == 0 || contentLength <= kept else {
            throw IOError.file("MCAP", .unsupported, at: recordOffset,
                               "\(Self.name(opcode)) at byte \(recordOffset) holds \(contentLength >> 20) MiB; this reader takes records up to \(kept >> 20) MiB")
        }
        if opcode == Opcode.dataEnd.rawValue {
            let dataEnd = try file.read(at: contentOffset, count: contentLength)
            try checkDataCRC(dataEnd[...], recordOffset: recordOffset)
            position = contentOffset + contentLength
            return (opcode, dataEnd[...], contentOffset)
        }
        dataCRC.update(prefix)
        position = contentOffset + contentLength
        guard kept > 0 else {
            try file.skim(at: contentOffset, count: contentLength) { dataCRC.update($0) }
            return (opcode, [], contentOffset)
        }
        let content = try file.read(at: contentOffset, count: contentLength)
        dataCRC.update(content)
        return (opcode, content[...], contentOffset)
    }

    /// At Data End: its stored CRC of every byte before it, when not zero, must match.
    private func checkDataCRC(_ content: ArraySlice<UInt8>, recordOffset: Int) throws(IOError) {
        guard content.count >= 4 else {
            throw IOError.file("MCAP", .malformed, at: recordOffset, "Data End record of \(content.count) bytes; it holds a 4-byte CRC")
        }
        let stored = MCAPFields.uint32(content, content.startIndex)
        let computed = dataCRC.value
        guard stored == 0 || stored == computed else {
            throw IOError.file("MCAP", .malformed, at: recordOffset + 9,
                               "the data section's CRC does not match its bytes (stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))): the file is damaged")
        }
    }

    private func readSchema(_ content: ArraySlice<UInt8>, offset: Int) throws(IOError) {
        var fields = MCAPFields(content, offset: offset)
        let id = try fields.uint16("Schema id")
        let name = try fields.string("Schema name")
        if id != 0 { schemaNames[id] = name }
    }

    private func readChannel(_ content: ArraySlice<UInt8>, offset: Int) throws(IOError) {
        var fields = MCAPFields(content, offset: offset)
        let id = try fields.uint16("Channel id")
        let schema = try fields.uint16("Channel schema id")
        let topic = try fields.string("Channel topic")
        let encoding = try fields.string("Channel message encoding")
        channels[id] = MCAPChannel(id: id, topic: topic, messageEncoding: encoding, schemaName: schemaNames[schema] ?? "")
    }

    /// A message on a known channel; nil for one on a channel no record defined.
    private func readMessage(_ content: ArraySlice<UInt8>, offset: Int) throws(IOError) -> MCAPMessage? {
        var fields = MCAPFields(content, offset: offset)
        let id = try fields.uint16("Message channel id")
        _ = try fields.uint32("Message sequence")
        let logTime = try fields.uint64("Message log time")
        _ = try fields.uint64("Message publish time")
        guard let channel = channels[id] else { return nil }
        return MCAPMessage(channel: channel, logTime: logTime, data: fields.rest, offset: offset + (fields.position - content.startIndex))
    }

    /// Checks a Chunk's fields, decodes its records when compressed, checks their CRC, and
    /// makes them the next ones read.
    private func openChunk(_ content: ArraySlice<UInt8>, offset: Int) throws(IOError) {
        var fields = MCAPFields(content, offset: offset)
        _ = try fields.uint64("Chunk message start time")
        _ = try fields.uint64("Chunk message end time")
        let uncompressedSize = try fields.uint64("Chunk uncompressed size")
        let storedCRC = try fields.uint32("Chunk uncompressed CRC")
        let compression = try fields.string("Chunk compression")
        let recordsLength = try fields.uint64("Chunk records length")
        let recordsOffset = offset + (fields.position - content.startIndex)
        guard recordsLength <= UInt64(fields.rest.count) else {
            throw IOError.file("MCAP", .malformed, at: recordsOffset - 8,
                               "Chunk at byte \(offset - 9) announces \(recordsLength) bytes of records; it holds \(fields.rest.count)")
        }
        let stored = fields.rest.prefix(Int(recordsLength))
        let records: ArraySlice<UInt8>
        if compression.isEmpty {
            guard uncompressedSize == recordsLength else {
                throw IOError.file("MCAP", .malformed, at: offset - 9,
                                   "uncompressed Chunk at byte \(offset - 9) says its records take \(uncompressedSize) bytes; they take \(recordsLength)")
            }
            records = stored
        } else {
            records = try MCAPCompression.decode(stored, with: compression, uncompressedSize: uncompressedSize, chunkAt: offset - 9)[...]
        }
        if storedCRC != 0 {
            var crc = CRC32()
            crc.update(records)
            guard crc.value == storedCRC else {
                throw IOError.file("MCAP", .malformed, at: offset - 9,
                                   "CRC of the Chunk at byte \(offset - 9) does not match its records (stored 0x\(String(storedCRC, radix: 16)), computed 0x\(String(crc.value, radix: 16))): the file is damaged")
            }
        }
        chunk = records
        chunkOffset = recordsOffset - records.startIndex
        chunkPosition = records.startIndex
        chunkEnd = records.endIndex
    }

    /// The next record inside the current chunk; a message on a known channel, else nil.
    private func nextInChunk() throws(IOError) -> MCAPMessage? {
        let recordOffset = chunkOffset + chunkPosition
        guard chunkEnd - chunkPosition >= 9 else {
            throw IOError.file("MCAP", .malformed, at: recordOffset, "a Chunk's records end inside a record header at byte \(recordOffset)")
        }
        let opcode = chunk[chunkPosition]
        let declared = MCAPFields.uint64(chunk, chunkPosition + 1)
        let start = chunkPosition + 9
        guard declared <= UInt64(chunkEnd - start) else {
            throw IOError.file("MCAP", .malformed, at: recordOffset,
                               "\(Self.name(opcode)) at byte \(recordOffset) announces \(declared) bytes; its Chunk has \(chunkEnd - start) left")
        }
        let end = start + Int(declared)
        chunkPosition = end
        let content = chunk[start..<end]
        switch Opcode(rawValue: opcode) {
        case .schema?: try readSchema(content, offset: chunkOffset + start)
        case .channel?: try readChannel(content, offset: chunkOffset + start)
        case .message?: return try readMessage(content, offset: chunkOffset + start)
        case nil where opcode == 0: throw IOError.file("MCAP", .malformed, at: recordOffset, "record opcode 0x00 is not valid")
        default: break
        }
        return nil
    }

    /// The channels of the summary section, found through the footer; nil when the file has
    /// no summary section. The summary CRC, when not zero, must match.
    private func readSummarySection() throws(IOError) -> MCAPSummary? {
        let footerStart = length - Self.magic.count - Self.footerBytes - 9
        let footer = try file.read(at: footerStart, count: 9 + Self.footerBytes)
        guard footer[0] == Opcode.footer.rawValue, MCAPFields.uint64(footer[...], 1) == UInt64(Self.footerBytes) else {
            throw IOError.file("MCAP", .malformed, at: footerStart, "no Footer record of \(Self.footerBytes) bytes before the closing magic")
        }
        let summaryStart = MCAPFields.uint64(footer[...], 9)
        let storedCRC = MCAPFields.uint32(footer[...], 25)
        guard summaryStart != 0 else { return nil }
        guard summaryStart >= UInt64(Self.magic.count), summaryStart <= UInt64(footerStart) else {
            throw IOError.file("MCAP", .malformed, at: footerStart + 9, "the Footer puts the summary section at byte \(summaryStart), outside the file's \(footerStart) bytes before it")
        }
        let start = Int(summaryStart), count = footerStart - start
        guard count <= Self.maximumRecordBytes else {
            throw IOError.file("MCAP", .unsupported, at: start, "summary section of \(count >> 20) MiB; this reader takes up to \(Self.maximumRecordBytes >> 20) MiB")
        }
        let section = try file.read(at: start, count: count)
        if storedCRC != 0 {
            var crc = CRC32()
            crc.update(section[...])
            crc.update(footer[0..<25])
            guard crc.value == storedCRC else {
                throw IOError.file("MCAP", .malformed, at: start,
                                   "the summary section's CRC does not match its bytes (stored 0x\(String(storedCRC, radix: 16)), computed 0x\(String(crc.value, radix: 16))): the file is damaged")
            }
        }
        var counts: [UInt16: Int]? = nil
        var cursor = 0
        while cursor < section.count {
            guard section.count - cursor >= 9 else {
                throw IOError.file("MCAP", .malformed, at: start + cursor, "the summary section ends inside a record header")
            }
            let opcode = section[cursor], declared = MCAPFields.uint64(section[...], cursor + 1)
            guard declared <= UInt64(section.count - cursor - 9) else {
                throw IOError.file("MCAP", .malformed, at: start + cursor, "\(Self.name(opcode)) at byte \(start + cursor) runs past the Footer")
            }
            let content = section[(cursor + 9)..<(cursor + 9 + Int(declared))]
            switch Opcode(rawValue: opcode) {
            case .schema?: try readSchema(content, offset: start + cursor + 9)
            case .channel?: try readChannel(content, offset: start + cursor + 9)
            case .statistics?: counts = try Self.channelCounts(content, offset: start + cursor + 9)
            default: break
            }
            cursor += 9 + Int(declared)
        }
        return MCAPSummary(channels: channels.values.sorted { $0.id < $1.id }, messageCounts: counts)
    }

    /// The Statistics record's messages per channel; nil when it leaves the map empty.
    private static func channelCounts(_ content: ArraySlice<UInt8>, offset: Int) throws(IOError) -> [UInt16: Int]? {
        var fields = MCAPFields(content, offset: offset)
        try fields.skip(8 + 2 + 4 * 4 + 8 + 8, "Statistics counts and times")
        let mapLength = Int(try fields.uint32("Statistics channel message counts"))
        guard mapLength > 0 else { return nil }
        guard mapLength <= fields.rest.count, mapLength % 10 == 0 else {
            throw IOError.file("MCAP", .malformed, at: offset, "Statistics channel message counts of \(mapLength) bytes: not whole (uint16, uint64) pairs within the record")
        }
        var counts: [UInt16: Int] = [:]
        for _ in 0..<(mapLength / 10) {
            let id = try fields.uint16("Statistics channel id")
            counts[id] = Int(clamping: try fields.uint64("Statistics message count"))
        }
        return counts
    }
}

// MARK: - Fields

/// Little-endian fields read in order from a record's content; reading past its end is a
/// `malformed` error naming the field (the record's length was checked, its fields were not).
struct MCAPFields {
    let content: ArraySlice<UInt8>
    let offset: Int  // file offset of content.startIndex
    private(set) var position: Int

    init(_ content: ArraySlice<UInt8>, offset: Int) {
        self.content = content
        self.offset = offset
        position = content.startIndex
    }

    var rest: ArraySlice<UInt8> { content[position...] }

    mutating func skip(_ count: Int, _ what: String) throws(IOError) {
        guard content.endIndex - position >= count else {
            throw IOError.file("MCAP", .malformed, at: offset + (position - content.startIndex),
                               "the record ends inside its \(what) (\(count) bytes, \(content.endIndex - position) left)")
        }
        position += count
    }

    mutating func uint16(_ what: String) throws(IOError) -> UInt16 {
        try skip(2, what)
        return UInt16(content[position - 2]) | UInt16(content[position - 1]) << 8
    }

    mutating func uint32(_ what: String) throws(IOError) -> UInt32 {
        try skip(4, what)
        return Self.uint32(content, position - 4)
    }

    mutating func uint64(_ what: String) throws(IOError) -> UInt64 {
        try skip(8, what)
        return Self.uint64(content, position - 8)
    }

    /// A uint32 length and that many bytes of UTF-8.
    mutating func string(_ what: String) throws(IOError) -> String {
        let count = Int(try uint32("\(what)'s length"))
        try skip(count, what)
        return String(decoding: content[(position - count)..<position], as: UTF8.self)
    }

    static func uint32(_ bytes: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[at + index]) << (8 * UInt32(index)) }
        return value
    }

    static func uint64(_ bytes: ArraySlice<UInt8>, _ at: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[at + index]) << (8 * UInt64(index)) }
        return value
    }
}

/// The bytes of an MCAP file: a file read with `pread`, or an array in memory.
final class MCAPBytes {
    private let descriptor: Int32  // -1 in memory
    private let bytes: [UInt8]
    private let path: String
    let count: Int

    init(path: String) throws(IOError) {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw IOError.file("MCAP", .io, at: 0, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(descriptor)
            throw IOError.file("MCAP", .io, at: 0, "\(path) is not a regular file; MCAP is read from files whose length is known")
        }
        self.path = path
        bytes = []
        count = Int(status.st_size)
    }

    init(bytes: [UInt8]) {
        descriptor = -1
        self.bytes = bytes
        path = "memory"
        count = bytes.count
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    /// `count` bytes at `offset`, which the caller has checked lie inside the file.
    func read(at offset: Int, count: Int) throws(IOError) -> [UInt8] {
        precondition(offset >= 0 && count >= 0 && offset <= self.count - count, "MCAP read of \(count) bytes at \(offset) outside \(self.count)")
        guard descriptor >= 0 else { return Array(bytes[offset..<(offset + count)]) }
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = result.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                let reason = got < 0 ? String(cString: strerror(errno)) : "the file became shorter while it was read"
                throw IOError.file("MCAP", got < 0 ? .io : .truncated, at: offset + done, "cannot read \(path): \(reason)")
            }
            done += got
        }
        return result
    }

    /// Hands `count` bytes at `offset` to `body` in blocks of at most 64 KiB.
    func skim(at offset: Int, count: Int, _ body: (ArraySlice<UInt8>) -> Void) throws(IOError) {
        var done = 0
        while done < count {
            let block = min(count - done, 1 << 16)
            body(try read(at: offset + done, count: block)[...])
            done += block
        }
    }
}

/// The CRC-32 of zlib (and MCAP), a byte at a time through a table.
struct CRC32 {
    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        return crc
    }
    private var state: UInt32 = 0xFFFF_FFFF

    /// The CRC of every byte given so far.
    var value: UInt32 { state ^ 0xFFFF_FFFF }

    mutating func update(_ bytes: [UInt8]) { update(bytes[...]) }

    mutating func update(_ bytes: ArraySlice<UInt8>) {
        var crc = state
        Self.table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        state = crc
    }
}
