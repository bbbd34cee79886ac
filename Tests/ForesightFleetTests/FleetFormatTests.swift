// The hand-written parts of a Flower node checked without a server: .npy arrays written and
// read back (and refused when broken), object ids the same as Flower's own, and parameter
// messages that do not fit the model refused with a clear error, leaving its arrays untouched.

import Foundation
import XCTest
import ForesightTestSupport
@testable import ForesightFleet

final class NpyTests: XCTestCase {
    func testRoundTripOfEachElementType() throws {
        let values: [Float] = [0, 1, -2.5, 3.25, 1e-3, 65504]
        for element in Npy.Element.allCases {
            let bytes = Npy.encode(values, shape: [2, 3], as: element)
            XCTAssertEqual(bytes.count % 64, (6 * element.byteCount) % 64, "the data starts at a multiple of 64 bytes")
            let (shape, decoded) = try Npy.decode(bytes)
            XCTAssertEqual(shape, [2, 3])
            for (a, b) in zip(values, decoded) { XCTAssertEqual(a, b, accuracy: element == .float16 ? 1e-3 * max(1, abs(a)) : 0) }
        }
        XCTAssertEqual(try Npy.decode(Npy.encode([7], shape: [1])).shape, [1])
        XCTAssertEqual(try Npy.decode(Npy.encode([7], shape: [])).values, [7], "a scalar has shape ()")
    }

    func testBrokenFilesAreRefusedWithTheReason() {
        let good = Npy.encode([1, 2, 3, 4, 5, 6], shape: [2, 3])
        func refusal(_ bytes: [UInt8]) -> String {
            do { _ = try Npy.decode(bytes); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal(Array(good.dropLast(4))).contains("needs 24 data bytes, the file holds 20"), refusal(Array(good.dropLast(4))))
        XCTAssertTrue(refusal([1, 2, 3] + good.dropFirst(3)).contains("magic"))
        XCTAssertTrue(refusal(Array(good.prefix(9))).contains("magic"), "a file shorter than the fixed part")
        // The header is ASCII after the magic's first byte (0x93): edited as text behind it.
        let text = String(decoding: good.dropFirst(), as: UTF8.self)
        func edited(_ from: String, _ to: String) -> [UInt8] { [good[0]] + Array(text.replacingOccurrences(of: from, with: to).utf8) }
        XCTAssertTrue(refusal(edited("'<f4'", "'>f4'")).contains("element type >f4"))
        XCTAssertTrue(refusal(edited("'<f4'", "'|O1'")).contains("element type |O1"))
        XCTAssertTrue(refusal(edited("False", "True ")).contains("Fortran"))
        XCTAssertTrue(refusal(edited("(2, 3)", "(2, x)")).contains("not a size"))
        XCTAssertTrue(refusal(edited("(2, 3)", "(3, 3)")).contains("needs 36 data bytes"))
        var future = good
        future[6] = 9
        XCTAssertTrue(refusal(future).contains("version 9.0"))
        var long = good
        long[8] = 0xFF; long[9] = 0xFF
        XCTAssertTrue(refusal(long).contains("runs past the end"))
    }
}

final class FlowerObjectTests: XCTestCase {
    /// The records of Tests/Peers/flower_objects.py, written here.
    func records() throws -> (array: FlowerObject, arrays: FlowerObject, metrics: FlowerObject, content: FlowerObject, bundle: ObjectBundle) {
        var bundle = ObjectBundle()
        let w = ObjectWriter.array(npy: Npy.encode([0, 1, 2, 3, 4, 5], shape: [2, 3]), dtype: "float32", shape: [2, 3], into: &bundle)
        let b = ObjectWriter.array(npy: Npy.encode([0.5, -1.5, 2.25], shape: [3]), dtype: "float32", shape: [3], into: &bundle)
        let arrays = ObjectWriter.record("ArrayRecord", [("w", w), ("b", b)], into: &bundle)
        let metrics = try ObjectWriter.metricRecord([("num-examples", .integer(3))], into: &bundle)
        let content = ObjectWriter.record("RecordDict", [("arrays", arrays), ("metrics", metrics)], into: &bundle)
        return (w, arrays, metrics, content, bundle)
    }

    func testObjectIDsAreFlowersOwn() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Peers/flower_objects.py")
        let (status, output) = try runToEnd(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script.path])
        if status == 2 || status == 127 { throw XCTSkip("Flower is not installed: python3 -m pip install flwr==1.39.0") }
        XCTAssertEqual(status, 0, output)
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
        let flower = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], output)
        let ours = try records()
        XCTAssertEqual(Npy.encode([0, 1, 2, 3, 4, 5], shape: [2, 3]).map { String(format: "%02x", $0) }.joined(), flower["npy"], "numpy's own .npy bytes")
        XCTAssertEqual(ours.array.id, flower["array"])
        XCTAssertEqual(ours.arrays.id, flower["arrays"])
        XCTAssertEqual(ours.metrics.id, flower["metrics"])
        XCTAssertEqual(ours.content.id, flower["content"])
    }

    func testObjectsAreCheckedAgainstTheirIDs() throws {
        let object = FlowerObject(type: "ArrayChunk", children: [], body: [1, 2, 3])
        XCTAssertEqual(String(decoding: object.content.prefix(13), as: UTF8.self), "ArrayChunk  3")
        XCTAssertNoThrow(try FlowerObject(content: object.content, expectedID: object.id))
        var tampered = object.content
        tampered[tampered.count - 1] = 9
        XCTAssertThrowsError(try FlowerObject(content: tampered, expectedID: object.id)) { XCTAssertTrue("\($0)".contains("hashes to")) }
        func parse(_ text: String) -> String {
            let bytes = Array(text.utf8)
            do { _ = try FlowerObject(content: bytes, expectedID: FlowerObject.hexDigest(bytes)); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(parse("ArrayChunk  3").contains("no header"))
        XCTAssertTrue(parse("ArrayChunk  4\0abc").contains("says 4 body bytes"))
        XCTAssertTrue(parse("Pickle  3\0abc").contains("unknown type"))
        XCTAssertTrue(parse("Array xyz 3\0abc").contains("not a SHA-256"))
        XCTAssertTrue(parse("ArrayChunk 3\0abc").contains("TYPE CHILDREN LENGTH"))
    }

    /// A train message with `arrays` (name, shape, values, or raw .npy bytes) as a node pulls it.
    func trainMessage(_ arrays: [(String, [Int], [UInt8])], dtype: String = "float32") throws -> PulledMessage {
        var bundle = ObjectBundle()
        let children = arrays.map { name, shape, npy in (name, ObjectWriter.array(npy: npy, dtype: dtype, shape: shape, into: &bundle)) }
        let record = ObjectWriter.record("ArrayRecord", children, into: &bundle)
        let content = ObjectWriter.record("RecordDict", [("arrays", record)], into: &bundle)
        var metadata = Flwr_Proto_Metadata()
        metadata.messageType = "train"
        let root = try ObjectWriter.message(metadata, content: content, error: nil, into: &bundle)
        return try PulledMessage(tree: bundle.tree(of: root.id), objects: bundle.objects, metadata: metadata)
    }

    func testParametersThatDoNotFitAreRefusedAndTheArraysKept() throws {
        let layout = [FleetArraySpec(name: "w", shape: [2, 3]), FleetArraySpec(name: "b", shape: [3])]
        let arrays = FleetArrays(layout: layout)
        let w = Npy.encode([1, 2, 3, 4, 5, 6], shape: [2, 3]), b = Npy.encode([7, 8, 9], shape: [3])
        let good = try trainMessage([("w", [2, 3], w), ("b", [3], b)])
        try arrays.read(good.arrays(of: good.firstRecord(ofType: "ArrayRecord")!.object))
        XCTAssertEqual(Array(arrays.storage), [1, 2, 3, 4, 5, 6, 7, 8, 9])

        let reference = FleetArrays(layout: layout)   // what a refusal must leave the model with
        reference.copy(from: arrays)
        func refusal(_ message: PulledMessage) -> String {
            let scratch = FleetArrays(layout: layout)
            do { try scratch.read(message.arrays(of: message.firstRecord(ofType: "ArrayRecord")!.object)); return "accepted" } catch { return "\(error)" }
        }
        let cases: [(String, PulledMessage)] = [
            ("missing b", try trainMessage([("w", [2, 3], w)])),
            ("unknown bias", try trainMessage([("w", [2, 3], w), ("bias", [3], b)])),
            ("has shape [3, 2], this model's is [2, 3]", try trainMessage([("w", [3, 2], Npy.encode([1, 2, 3, 4, 5, 6], shape: [3, 2])), ("b", [3], b)])),
            ("holds nan at element 1", try trainMessage([("w", [2, 3], Npy.encode([1, .nan, 3, 4, 5, 6], shape: [2, 3])), ("b", [3], b)])),
            ("holds inf at element 2", try trainMessage([("w", [2, 3], w), ("b", [3], Npy.encode([7, 8, .infinity], shape: [3]))])),
            ("array w: a .npy array: it does not start with the .npy magic", try trainMessage([("w", [2, 3], Array("not an array".utf8)), ("b", [3], b)])),
            ("its .npy holds float32 [2, 3], its metadata says float64", try trainMessage([("w", [2, 3], w), ("b", [3], b)].map { ($0.0, $0.1, $0.2) }, dtype: "float64")),
        ]
        for (expected, message) in cases {
            let text = refusal(message)
            XCTAssertTrue(text.contains(expected), "expected \"\(expected)\" in: \(text)")
            XCTAssertTrue(text.hasPrefix("parameters refused") || text.hasPrefix("malformed"), text)
        }
        XCTAssertEqual(Array(arrays.storage), Array(reference.storage), "the node's arrays are untouched by refused messages")
    }

    func testPythonJSONEscapesAsPython() {
        XCTAssertEqual(PythonJSON.object([("a\"b", "c\\d"), ("é\n", "\u{1F600}")]), #"{"a\"b": "c\\d", "\u00e9\n": "\ud83d\ude00"}"#)
    }
}
