// `foresight learn --record-mcap`: the run's frames, predictions, truths, motion fields and
// numbers, read back by the independent `mcap` reader from PyPI (Tests/Peers/read_recording.py)
// with Foxglove's RawImage schema; a recording that cannot be created stops the run before it
// learns; a sound-only run says it has nothing to record.

import Foundation
import XCTest
import ForesightTestSupport

final class RecordMCAPCommandTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryFolder("record-mcap") }
    override func tearDown() { if let folder { try? FileManager.default.removeItem(at: folder) } }

    /// What read_recording.py finds in `path`; skips when the mcap package is missing.
    private func readBack(_ path: String) throws -> [String: Any] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/read_recording.py")
        let (status, output) = try runToEnd(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script.path, path])
        if status == 127 || status == 2 { throw XCTSkip("the independent MCAP reader needs its Python package: \(PeerBag.pipCommand)") }
        XCTAssertEqual(status, 0, output)
        let line = try XCTUnwrap(output.split(separator: "\n").last, output)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], output)
    }

    func testRecordingHoldsFoxgloveImagesAndMetrics() throws {
        let path = folder.appendingPathComponent("run.mcap").path
        let (status, output) = try runForesight(["learn", "--seconds", "4", "--record-mcap", path])
        XCTAssertEqual(status, 0, output)
        let told = try XCTUnwrap(output.range(of: #"recorded (\d+) image sets and (\d+) metrics messages"#, options: .regularExpression), output)
        let numbers = output[told].split(separator: " ").compactMap { Int($0) }
        let found = try readBack(path)
        XCTAssertEqual(found["images_ok"] as? Bool, true)
        let topics = try XCTUnwrap(found["topics"] as? [String: [String: Any]])
        XCTAssertEqual(Set(topics.keys), ["/foresight/frame", "/foresight/prediction", "/foresight/truth", "/foresight/motion", "/foresight/metrics"])
        for topic in ["/foresight/frame", "/foresight/prediction", "/foresight/truth", "/foresight/motion"] {
            let entry = try XCTUnwrap(topics[topic])
            XCTAssertEqual(entry["schema"] as? String, "foxglove.RawImage", topic)
            XCTAssertEqual(entry["schema_encoding"] as? String, "jsonschema")
            XCTAssertEqual(entry["message_encoding"] as? String, "json")
            XCTAssertEqual(entry["width"] as? Int, 64)
            XCTAssertEqual(entry["height"] as? Int, 64)
            XCTAssertEqual(entry["encoding"] as? String, topic == "/foresight/motion" ? "rgb8" : "mono8")
            XCTAssertEqual(entry["count"] as? Int, numbers[0], "\(topic): the count the tool told")
            XCTAssertGreaterThan(entry["distinct_values"] as? Int ?? 0, 8, "\(topic) is a flat image")
        }
        // About 30 frames/s with every second one published: dozens of sets in 4 s, not a handful.
        XCTAssertGreaterThan(numbers[0], 20)
        let metrics = try XCTUnwrap(topics["/foresight/metrics"])
        XCTAssertEqual(metrics["schema"] as? String, "foresight.Metrics")
        XCTAssertEqual(metrics["count"] as? Int, numbers[1])
        XCTAssertGreaterThanOrEqual(numbers[1], 4)
        let fields = try XCTUnwrap(metrics["fields"] as? [String])
        for field in ["steps", "frames", "dropped", "model_mse", "copy_last_mse", "ratio", "loss", "resident_mib", "timestamp"] {
            XCTAssertTrue(fields.contains(field), "\(field) missing from \(fields)")
        }
        // The last numbers are the run's end: steps taken and a model better than copy-last.
        let last = try XCTUnwrap(metrics["last"] as? [String: Any])
        XCTAssertGreaterThan(last["steps"] as? Int ?? 0, 50)
        XCTAssertLessThan(last["ratio"] as? Double ?? 9, 1)
        XCTAssertEqual(found["summary_messages"] as? Int, numbers[0] * 4 + numbers[1])
    }

    func testUncreatableRecordingStopsBeforeLearning() throws {
        let path = folder.appendingPathComponent("no-such-folder/run.mcap").path
        let (status, output) = try runForesight(["learn", "--seconds", "2", "--record-mcap", path])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("cannot record into \(path)"), output)
        XCTAssertFalse(output.contains("done:"), output)
    }

    func testSoundOnlyRunHasNothingToRecord() throws {
        let path = folder.appendingPathComponent("run.mcap").path
        let (status, output) = try runForesight(["learn", "--audio", "missing.wav", "--seconds", "1", "--record-mcap", path])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("sound only"), output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
