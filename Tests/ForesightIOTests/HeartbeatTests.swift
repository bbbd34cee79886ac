// The heartbeat file: one fixed-width line rewritten in place, read back by supervisors and tests.

import Foundation
import XCTest
import CAllocationCounter
@testable import ForesightIO

final class HeartbeatTests: XCTestCase {
    private var path: String!

    override func setUp() {
        path = NSTemporaryDirectory() + "foresight-heartbeat-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    override func tearDown() { unlink(path) }

    func testBeatsRewriteOneLineInPlace() throws {
        let heartbeat = try Heartbeat(path: path)
        XCTAssertEqual(try Heartbeat.read(path).steps, 0, "a new heartbeat reads step 0 at once")
        heartbeat.beat(steps: 1234, saved: 1000)
        var (steps, saved) = try Heartbeat.read(path)
        XCTAssertEqual(steps, 1234)
        XCTAssertEqual(saved, 1000)
        heartbeat.beat(steps: 7, saved: 3)   // shorter numbers leave no digits of the longer ones
        (steps, saved) = try Heartbeat.read(path)
        XCTAssertEqual(steps, 7)
        XCTAssertEqual(saved, 3)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 1, text)
        XCTAssertTrue(text.hasPrefix("step ") && text.hasSuffix("\n"), text)
        // Out-of-range numbers are clamped to the field, never spill over.
        heartbeat.beat(steps: Int.max, saved: -5)
        (steps, saved) = try Heartbeat.read(path)
        XCTAssertEqual(steps, 999_999_999_999)
        XCTAssertEqual(saved, 0)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8).utf8.count, text.utf8.count)
        XCTAssertNil(heartbeat.failure)
    }

    func testABeatAllocatesNothing() throws {
        let heartbeat = try Heartbeat(path: path)
        heartbeat.beat(steps: 1, saved: 0)
        let counts = (0..<3).map { round -> UInt64 in
            let before = foresight_allocation_count()
            for step in 0..<100 { heartbeat.beat(steps: round * 100 + step, saved: step / 10 * 10) }
            return foresight_allocation_count() - before
        }
        XCTAssertEqual(counts.min(), 0, "allocations per 100 beats: \(counts)")
    }

    func testAFileThatCannotBeWrittenIsRefusedWithItsPath() {
        let missing = NSTemporaryDirectory() + "no-such-folder-\(getpid())/heartbeat"
        XCTAssertThrowsError(try Heartbeat(path: missing)) { error in
            XCTAssertTrue("\(error)".contains(missing) && "\(error)".contains("No such file"), "\(error)")
        }
        XCTAssertThrowsError(try Heartbeat(path: NSTemporaryDirectory())) { error in
            XCTAssertTrue("\(error)".contains("cannot write"), "\(error)")
        }
    }

    func testReadingSomethingElseIsAnError() throws {
        for text in ["", "step 5\n", "step x saved 3\n", "steps 5 saved 3\n", "step 5 saved 3 extra\n"] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Heartbeat.read(path), "\(text.debugDescription) was read") { error in
                XCTAssertTrue("\(error)".contains("step N saved M"), "\(error)")
            }
        }
    }
}
