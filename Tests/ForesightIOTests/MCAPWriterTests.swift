// The MCAP writer: what it writes reads back through the reader (records, topics, times and
// bytes; the data-section CRC checked; the summary's channels and counts), a file cut short
// still yields the messages before the cut, and an unwritable path is a clear error.

import Foundation
import ForesightTestSupport
import XCTest
@testable import ForesightIO

final class MCAPWriterTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryFolder("mcap-writer") }
    override func tearDown() { if let folder { try? FileManager.default.removeItem(at: folder) } }

    private func written(_ messages: Int) throws -> String {
        let path = folder.appendingPathComponent("out.mcap").path
        let writer = try MCAPWriter(path: path)
        let schema = try writer.addSchema(name: "test.Thing", encoding: "jsonschema", data: Array(#"{"type":"object"}"#.utf8))
        let a = try writer.addChannel(topic: "/a", schema: schema, messageEncoding: "json")
        let b = try writer.addChannel(topic: "/b", schema: schema, messageEncoding: "json")
        for i in 0..<messages {
            try writer.write(channel: i % 3 == 0 ? b : a, logTime: 1_000 + UInt64(i) * 10, data: Array(#"{"i":\#(i)}"#.utf8))
        }
        XCTAssertEqual(writer.messageCount, messages)
        try writer.finish()
        return path
    }

    func testWrittenFileReadsBackWithItsSummary() throws {
        let path = try written(10)
        let reader = try MCAPReader(path: path)
        var seen: [(String, UInt64, String)] = []
        while let message = try reader.nextMessage() {
            seen.append((message.channel.topic, message.logTime, String(decoding: message.data, as: UTF8.self)))
        }
        XCTAssertEqual(seen.count, 10)
        for (i, message) in seen.enumerated() {
            XCTAssertEqual(message.0, i % 3 == 0 ? "/b" : "/a")
            XCTAssertEqual(message.1, 1_000 + UInt64(i) * 10)
            XCTAssertEqual(message.2, #"{"i":\#(i)}"#)
        }
        XCTAssertEqual(reader.channels.values.map(\.schemaName), ["test.Thing", "test.Thing"])
        let summary = try MCAPReader.summary(path: path)
        XCTAssertEqual(Set(summary.channels.map(\.topic)), ["/a", "/b"])
        XCTAssertEqual(summary.messageCounts?.values.reduce(0, +), 10)
    }

    func testAChangedByteIsACRCMismatch() throws {
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: try written(5))))
        // A byte of a message's JSON: lengths stay valid, only the CRC can tell.
        let at = try XCTUnwrap(bytes.indices.first { bytes[$0] == UInt8(ascii: "i") && bytes[$0 + 2] == UInt8(ascii: ":") })
        bytes[at] = UInt8(ascii: "j")
        XCTAssertThrowsError(try { let reader = try MCAPReader(bytes: bytes); while try reader.nextMessage() != nil {} }()) { error in
            XCTAssertTrue("\(error)".contains("CRC"), "\(error)")
        }
    }

    func testUnwritablePathIsAClearError() {
        XCTAssertThrowsError(try MCAPWriter(path: folder.appendingPathComponent("missing/out.mcap").path)) { error in
            XCTAssertTrue("\(error)".contains("cannot create"), "\(error)")
        }
    }
}
