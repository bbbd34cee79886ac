// The MCAP reader and the ROS 2 image decoder on bags written by an independent writer
// (Tests/Peers/write_bag.py, the `mcap` and `mcap-ros2-support` packages): messages, fields and
// pixels as written, zstd and lz4 chunks read as the same bag uncompressed, and broken bags
// (truncated, bad magic, CRC mismatches, damaged or lying compressed chunks, unknown
// compressions, absurd lengths, random mutations) that give typed one-line errors, never a crash.

import Foundation
import ForesightTestSupport
import XCTest
@testable import ForesightIO

final class MCAPTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder("mcap")
    }

    override func tearDown() {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    /// A bag written by the peer writer with `options`; skips when its Python packages are missing.
    private func bag(_ name: String, _ options: [String] = []) throws -> String {
        let path = folder.appendingPathComponent(name).path
        guard try PeerBag.write(path, options) else {
            throw XCTSkip("the peer bag writer needs its Python packages: \(PeerBag.pipCommand)")
        }
        return path
    }

    /// Every message of `reader`, with its bytes copied.
    private func messages(_ reader: MCAPReader) throws -> [(topic: String, time: UInt64, data: [UInt8], offset: Int)] {
        var found: [(String, UInt64, [UInt8], Int)] = []
        while let message = try reader.nextMessage() { found.append((message.channel.topic, message.logTime, Array(message.data), message.offset)) }
        return found
    }

    /// The error reading all of `bytes` gives, or nil when they read.
    private func readError(_ bytes: [UInt8]) -> IOError? {
        do {
            let reader = try MCAPReader(bytes: bytes)
            while let message = try reader.nextMessage() {
                if message.channel.schemaName == ROS2Image.schemaName { _ = try ROS2Image(cdr: message.data, offset: message.offset) }
            }
            return nil
        } catch {
            return error
        }
    }

    func testMessagesFieldsAndPixelsAreThoseWritten() throws {
        let path = try bag("mono8.mcap", ["--encoding", "mono8", "--frames", "4", "--width", "16", "--height", "12", "--padding", "3"])
        let found = try messages(MCAPReader(path: path))
        let camera = found.filter { $0.topic == "/camera/image_raw" }
        XCTAssertEqual(camera.count, 4)
        XCTAssertEqual(found.filter { $0.topic == "/camera/depth" }.count, 4)
        // Logged at 30 frames/s from 1 s.
        XCTAssertEqual(camera.map(\.time), (0..<4).map { UInt64(1_000_000_000 + $0 * 1_000_000_000 / 30) })
        for (t, message) in camera.enumerated() {
            let image = try ROS2Image(cdr: message.data[...], offset: message.offset)
            XCTAssertEqual([image.width, image.height, image.step], [16, 12, 19])
            XCTAssertEqual(image.encoding, "mono8")
            XCTAssertEqual(image.frameID, "camera")
            XCTAssertEqual(Int(image.stampSeconds), 1)
            XCTAssertEqual(image.pixels.count, 12 * 19)
            for y in 0..<12 {
                for x in 0..<16 {
                    XCTAssertEqual(Int(message.data[image.pixels.lowerBound + y * 19 + x]), (7 * x + 13 * y + 29 * t) % 256, "frame \(t) at \(x), \(y)")
                }
                XCTAssertEqual(message.data[image.pixels.lowerBound + y * 19 + 16], 0xEE, "row padding")
            }
        }
    }

    func testSummaryListsTheChannelsAndTheirCounts() throws {
        let path = try bag("two.mcap", ["--frames", "5"])
        let summary = try MCAPReader.summary(path: path)
        XCTAssertEqual(summary.channels.map(\.topic).sorted(), ["/camera/depth", "/camera/image_raw"])
        XCTAssertEqual(Set(summary.channels.map(\.schemaName)), [ROS2Image.schemaName])
        XCTAssertEqual(Set(summary.channels.map(\.messageEncoding)), ["cdr"])
        XCTAssertEqual(summary.messageCounts?.values.sorted(), [5, 5])
    }

    func testTheDataSectionCRCIsCheckedWhenWritten() throws {
        let path = try bag("crc.mcap", ["--data-crc"])
        XCTAssertEqual(try messages(MCAPReader(path: path)).count, 8, "the writer's data-section CRC matches ours")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The Header's library string: covered by the data-section CRC only.
        let library = Array("write_bag".utf8)
        let at = try XCTUnwrap((0..<200).first { Array(bytes[$0..<($0 + library.count)]) == library })
        bytes[at] ^= 0x20
        let error = try XCTUnwrap(readError(bytes))
        XCTAssertEqual(error.kind, .malformed)
        XCTAssertTrue(error.description.contains("data section's CRC does not match"), error.description)
    }

    func testAFlippedByteInAChunkIsACRCError() throws {
        let path = try bag("flip.mcap")
        let first = try XCTUnwrap(messages(MCAPReader(path: path)).first)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[first.offset + 40] ^= 0x01
        let error = try XCTUnwrap(readError(bytes))
        XCTAssertEqual(error.kind, .malformed)
        XCTAssertTrue(error.description.contains("CRC of the Chunk at byte"), error.description)
        XCTAssertTrue(error.description.contains("the file is damaged"), error.description)
    }

    func testTruncatedBagsAreTruncationErrors() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bag("cut.mcap"))))
        for length in [0, 5, 8, 30, 100, bytes.count / 2, bytes.count - 9, bytes.count - 1] {
            let error = try XCTUnwrap(readError(Array(bytes.prefix(length))), "cut at \(length)")
            XCTAssertEqual(error.kind, .truncated, "cut at \(length): \(error)")
            XCTAssertEqual(error.format, "MCAP")
            XCTAssertFalse(error.description.contains("\n"))
        }
        XCTAssertTrue(readError(Array(bytes.prefix(100)))!.description.contains("cut off or is still being written"))
        // Bytes missing from the middle, the footer kept: a record runs past the end.
        let spliced = Array(bytes.prefix(bytes.count / 3)) + Array(bytes.suffix(60))
        let error = try XCTUnwrap(readError(spliced))
        XCTAssertTrue([.truncated, .malformed].contains(error.kind), "\(error)")
    }

    func testABadMagicIsNotAnMCAPFile() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bag("magic.mcap"))))
        bytes[1] = UInt8(ascii: "X")
        let error = try XCTUnwrap(readError(bytes))
        XCTAssertEqual(error.kind, .malformed)
        XCTAssertEqual(error.offset, 0)
        XCTAssertTrue(error.description.contains("not an MCAP file"), error.description)
    }

    /// Skips when the library that decodes `compression` is not installed, naming its package.
    private func requireLibrary(_ compression: String) throws {
        if let missing = MCAPCompression.missingLibrary(compression) { throw XCTSkip("\(missing)") }
    }

    func testCompressedChunksReadAsTheUncompressedBag() throws {
        let options = ["--encoding", "rgb8", "--frames", "6", "--width", "32", "--height", "24", "--chunk-size", "2000"]
        let plain = try messages(MCAPReader(path: bag("none.mcap", options)))
        XCTAssertEqual(plain.count, 12)
        for compression in ["zstd", "lz4"] {
            try requireLibrary(compression)
            let path = try bag("\(compression).mcap", options + ["--compression", compression])
            let chunks = try chunkRecords([UInt8](Data(contentsOf: URL(fileURLWithPath: path)))).map { PeerChunk($0.content) }
            XCTAssertGreaterThan(chunks.count, 1, compression)
            XCTAssertEqual(Set(chunks.map(\.compression)), [compression])
            XCTAssertLessThan(chunks.reduce(0) { $0 + $1.records.count }, chunks.reduce(0) { $0 + Int($1.uncompressedSize) } / 2,
                              "\(compression): the writer compressed the chunks")
            let found = try messages(MCAPReader(path: path))
            XCTAssertEqual(found.map(\.topic), plain.map(\.topic), compression)
            XCTAssertEqual(found.map(\.time), plain.map(\.time), compression)
            XCTAssertEqual(found.map(\.data), plain.map(\.data), "\(compression): the same message bytes")
            XCTAssertEqual(try MCAPReader.summary(path: path).messageCounts, try MCAPReader.summary(path: bag("none.mcap", options)).messageCounts)
        }
    }

    func testDamagedCompressedChunksAreClearErrors() throws {
        for compression in ["zstd", "lz4"] {
            try requireLibrary(compression)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bag("\(compression)-damaged.mcap", ["--frames", "3", "--compression", compression]))))
            XCTAssertNil(readError(bytes), compression)
            let chunkAt = try XCTUnwrap(chunkRecords(bytes).first).at
            let original = PeerChunk(try XCTUnwrap(chunkRecords(bytes).first).content)
            var state: UInt64 = 0x2545_F491_4F6C_DD1D
            let garbage = (0..<original.records.count).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            let cases: [(String, (inout PeerChunk) -> Void, IOError.FileProblem, String)] = [
                ("cut in half", { $0.records.removeLast($0.records.count / 2) }, .malformed, "does not decode to the"),
                ("replaced by noise", { $0.records = garbage }, .malformed, "does not decode to the"),
                ("its last byte flipped", { $0.records[$0.records.count - 1] ^= 0x5A }, .malformed, "Chunk at byte \(chunkAt)"),
                ("a CRC that is not its records'", { $0.crc ^= 1 }, .malformed, "CRC of the Chunk at byte \(chunkAt) does not match its records"),
                ("one byte more declared", { $0.uncompressedSize += 1 }, .malformed, "decodes to \(original.uncompressedSize) bytes of records; it declares \(original.uncompressedSize + 1)"),
                ("one byte fewer declared", { $0.uncompressedSize -= 1 }, .malformed, "does not decode to the \(original.uncompressedSize - 1) bytes it declares"),
                ("200 MiB declared", { $0.uncompressedSize = 200 << 20 }, .malformed, "compressed bytes decode to at most"),
                ("1 TiB declared", { $0.uncompressedSize = 1 << 40 }, .unsupported, "this reader decodes chunks of up to 256 MiB"),
                ("an unknown compression", { $0.compression = "brotli" }, .unsupported, "is compressed with \"brotli\"; this reader decodes zstd and lz4"),
            ]
            for (name, change, kind, phrase) in cases {
                let error = try XCTUnwrap(readError(changingFirstChunk(bytes, change)), "\(compression), \(name): read")
                XCTAssertEqual(error.kind, kind, "\(compression), \(name): \(error)")
                XCTAssertEqual(error.format, "MCAP")
                XCTAssertTrue(error.description.contains(phrase), "\(compression), \(name): \(error)")
                XCTAssertTrue(error.description.contains("Chunk at byte \(chunkAt)"), "\(compression), \(name): \(error)")
                XCTAssertFalse(error.description.contains("\n"))
            }
        }
    }

    func testAnAbsurdLengthIsAnErrorNotAnAllocation() throws {
        // Magic, a Header, a Chunk announcing 2^62 bytes, the Footer and the magic.
        func record(_ opcode: UInt8, _ content: [UInt8], length: UInt64? = nil) -> [UInt8] {
            let count = length ?? UInt64(content.count)
            return [opcode] + (0..<8).map { UInt8(truncatingIfNeeded: count >> (8 * UInt64($0))) } + content
        }
        let header = record(0x01, [0, 0, 0, 0, 0, 0, 0, 0])
        let footer = record(0x02, [UInt8](repeating: 0, count: 20))
        let huge = MCAPReader.magic + header + record(0x06, [1, 2, 3], length: 1 << 62) + footer + MCAPReader.magic
        let error = try XCTUnwrap(readError(huge))
        XCTAssertEqual(error.kind, .truncated)
        XCTAssertTrue(error.description.contains("announces 4611686018427387904 bytes"), error.description)
        // A chunk whose records field claims more than the chunk holds.
        var chunk = [UInt8](repeating: 0, count: 28) + [0, 0, 0, 0]
        chunk += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(1 << 40) >> (8 * UInt64($0))) }
        let inside = MCAPReader.magic + header + record(0x06, chunk) + footer + MCAPReader.magic
        XCTAssertEqual(try XCTUnwrap(readError(inside)).kind, .malformed)
    }

    func testRandomMutationsNeverCrash() throws {
        let valid = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bag("mutate.mcap", ["--frames", "3", "--width", "8", "--height", "6", "--chunk-size", "300"]))))
        XCTAssertNil(readError(valid))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var refused = 0
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0...random(4) {
                switch random(4) {
                case 0: bytes[random(bytes.count)] ^= UInt8(1 << random(8))
                case 1: bytes[random(bytes.count)] = [0x00, 0xFF, 0x7F, 0x80][random(4)]
                case 2: bytes.removeSubrange(random(bytes.count)..<bytes.count)
                default:
                    let at = random(bytes.count)
                    for index in at..<min(bytes.count, at + 8) { bytes[index] = 0xFF }
                }
                if bytes.isEmpty { break }
            }
            if readError(bytes) != nil { refused += 1 }
        }
        XCTAssertGreaterThan(refused, 1000, "most mutations are caught (CRCs, lengths)")
    }

    // MARK: - Chunks, taken apart and put back as the peer wrote them

    /// The top-level Chunk records of `bytes`: each record's offset and content.
    private func chunkRecords(_ bytes: [UInt8]) throws -> [(at: Int, content: [UInt8])] {
        var found: [(Int, [UInt8])] = []
        var position = MCAPReader.magic.count
        while position + 9 <= bytes.count - MCAPReader.magic.count {
            let length = Int(MCAPFields.uint64(bytes[...], position + 1))
            if bytes[position] == 0x06 { found.append((position, Array(bytes[(position + 9)..<(position + 9 + length)]))) }
            position += 9 + length
        }
        return found
    }

    /// `bytes` with its first Chunk record rewritten after `change`: the records after it move,
    /// so that only the reader's streaming pass (not the summary) still finds them.
    private func changingFirstChunk(_ bytes: [UInt8], _ change: (inout PeerChunk) -> Void) throws -> [UInt8] {
        let first = try XCTUnwrap(chunkRecords(bytes).first)
        var chunk = PeerChunk(first.content)
        change(&chunk)
        let content = chunk.content
        return Array(bytes[..<first.at]) + [0x06] + littleEndian(UInt64(content.count)) + content
            + Array(bytes[(first.at + 9 + first.content.count)...])
    }
}

/// A Chunk record's fields, as the MCAP specification lays them out.
private struct PeerChunk {
    var startTime: UInt64, endTime: UInt64, uncompressedSize: UInt64, crc: UInt32
    var compression: String
    var records: [UInt8]

    init(_ content: [UInt8]) {
        startTime = MCAPFields.uint64(content[...], 0)
        endTime = MCAPFields.uint64(content[...], 8)
        uncompressedSize = MCAPFields.uint64(content[...], 16)
        crc = MCAPFields.uint32(content[...], 24)
        let nameLength = Int(MCAPFields.uint32(content[...], 28))
        compression = String(decoding: content[32..<(32 + nameLength)], as: UTF8.self)
        records = Array(content[(32 + nameLength + 8)...])
    }

    var content: [UInt8] {
        let crcBytes: [UInt8] = Array(littleEndian(UInt64(crc)).prefix(4))
        let nameLength: [UInt8] = Array(littleEndian(UInt64(compression.utf8.count)).prefix(4))
        let times: [UInt8] = littleEndian(startTime) + littleEndian(endTime) + littleEndian(uncompressedSize)
        return times + crcBytes + nameLength + Array(compression.utf8) + littleEndian(UInt64(records.count)) + records
    }
}

private func littleEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
