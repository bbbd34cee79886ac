// An MCAP writer for runs going out (`foresight learn --record-mcap`): the header, schemas
// and channels as they are added, messages unchunked and uncompressed, then on `finish` the
// data-end record with the data section's CRC, a summary (schemas, channels, statistics) and
// the footer. Written straight to its file, so a run cut short still leaves every message
// before the cut readable by a reader that scans linearly.

#if canImport(Glibc)
import Glibc
#endif

/// Writes an MCAP file: `addSchema`, `addChannel`, then `write` messages, then `finish`.
///
/// ```swift
/// let writer = try MCAPWriter(path: "run.mcap")
/// let schema = try writer.addSchema(name: "foxglove.RawImage", encoding: "jsonschema", data: Array(schemaJSON.utf8))
/// let channel = try writer.addChannel(topic: "/camera", schema: schema, messageEncoding: "json")
/// try writer.write(channel: channel, logTime: nanoseconds, data: Array(messageJSON.utf8))
/// try writer.finish()
/// ```
public final class MCAPWriter {
    public let path: String
    private var file: UnsafeMutablePointer<FILE>?
    private var written = 0
    private var crc = CRC32()
    private var record: [UInt8] = []
    private var schemas: [(id: UInt16, name: String, encoding: String, data: [UInt8])] = []
    private var channels: [(id: UInt16, schema: UInt16, topic: String, encoding: String)] = []
    private var counts: [UInt16: UInt64] = [:]
    private var sequence: UInt32 = 0
    private var firstTime = UInt64.max, lastTime: UInt64 = 0
    /// Messages written so far.
    public private(set) var messageCount = 0

    /// Creates (or replaces) the file and writes the magic and the header.
    public init(path: String, profile: String = "", library: String = "foresight") throws(IOError) {
        self.path = path
        guard let file = fopen(path, "wb") else {
            throw IOError.file("MCAP", .io, at: 0, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        try put(MCAPReader.magic, counted: true)
        begin(0x01); string(profile); string(library); try end()
    }

    deinit { if let file { fclose(file) } }

    /// Adds a schema; its id.
    public func addSchema(name: String, encoding: String, data: [UInt8]) throws(IOError) -> UInt16 {
        let id = UInt16(schemas.count + 1)
        schemas.append((id, name, encoding, data))
        try writeSchema(schemas[schemas.count - 1])
        return id
    }

    /// Adds a channel on `topic` whose messages follow `schema`; its id.
    public func addChannel(topic: String, schema: UInt16, messageEncoding: String) throws(IOError) -> UInt16 {
        let id = UInt16(channels.count)
        channels.append((id, schema, topic, messageEncoding))
        try writeChannel(channels[channels.count - 1])
        return id
    }

    /// Writes one message; `logTime` and `publishTime` in nanoseconds since the Unix epoch.
    public func write(channel: UInt16, logTime: UInt64, publishTime: UInt64? = nil, data: [UInt8]) throws(IOError) {
        precondition(Int(channel) < channels.count, "channel \(channel) was not added")
        begin(0x05)
        integer(channel); integer(sequence); integer(logTime); integer(publishTime ?? logTime)
        record.append(contentsOf: data)
        try end()
        sequence &+= 1
        counts[channel, default: 0] += 1
        messageCount += 1
        firstTime = min(firstTime, logTime)
        lastTime = max(lastTime, logTime)
    }

    /// Ends the data section and writes the summary and the footer; the file is complete.
    public func finish() throws(IOError) {
        guard let open = file else { return }
        begin(0x0F); integer(crc.value); try end()
        let summaryStart = written
        for schema in schemas { try writeSchema(schema) }
        for channel in channels { try writeChannel(channel) }
        begin(0x0B)
        integer(UInt64(messageCount)); integer(UInt16(schemas.count)); integer(UInt32(channels.count))
        integer(UInt32(0)); integer(UInt32(0)); integer(UInt32(0))
        integer(messageCount > 0 ? firstTime : 0); integer(lastTime)
        integer(UInt32(counts.count * 10))
        for (channel, count) in counts.sorted(by: { $0.key < $1.key }) { integer(channel); integer(count) }
        try end()
        // Footer: summary start, no summary-offset section, no summary CRC.
        begin(0x02); integer(UInt64(summaryStart)); integer(UInt64(0)); integer(UInt32(0)); try end()
        try put(MCAPReader.magic, counted: false)
        let closed = fclose(open)
        file = nil
        guard closed == 0 else { throw IOError.file("MCAP", .io, at: written, "cannot finish \(path): \(String(cString: strerror(errno)))") }
    }

    // MARK: Records

    private func writeSchema(_ schema: (id: UInt16, name: String, encoding: String, data: [UInt8])) throws(IOError) {
        begin(0x03); integer(schema.id); string(schema.name); string(schema.encoding)
        integer(UInt32(schema.data.count)); record.append(contentsOf: schema.data)
        try end()
    }

    private func writeChannel(_ channel: (id: UInt16, schema: UInt16, topic: String, encoding: String)) throws(IOError) {
        begin(0x04); integer(channel.id); integer(channel.schema); string(channel.topic); string(channel.encoding)
        integer(UInt32(0))   // no metadata
        try end()
    }

    private func begin(_ opcode: UInt8) {
        record.removeAll(keepingCapacity: true)
        record.append(opcode)
        integer(UInt64(0))   // the length, filled in by `end`
    }

    private func end() throws(IOError) {
        let length = UInt64(record.count - 9)
        for i in 0..<8 { record[1 + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
        // The data section's CRC covers everything up to the data-end record's content.
        try put(record, counted: record[0] != 0x0F && !dataEnded)
        if record[0] == 0x0F { dataEnded = true }
    }
    /// Whether the data-end record is written (the summary that follows is outside the CRC).
    private var dataEnded = false

    private func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { record.append(contentsOf: $0) }
    }

    private func string(_ text: String) {
        integer(UInt32(text.utf8.count))
        record.append(contentsOf: text.utf8)
    }

    private func put(_ bytes: [UInt8], counted: Bool) throws(IOError) {
        guard let file else { throw IOError.file("MCAP", .io, at: written, "\(path) is already finished") }
        let done = bytes.withUnsafeBytes { raw in raw.baseAddress.map { fwrite($0, 1, raw.count, file) } ?? 0 }
        guard done == bytes.count else {
            throw IOError.file("MCAP", .io, at: written, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        if counted { crc.update(bytes) }
        written += bytes.count
    }
}
