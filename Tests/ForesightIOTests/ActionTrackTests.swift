// The actions CSV: rows in force from their time on, bad rows counted and skipped, bounds.

import Foundation
import XCTest
@testable import ForesightIO

final class ActionTrackTests: XCTestCase {
    private func track(_ text: String) throws -> ActionTrack { try ActionTrack(bytes: Array(text.utf8), name: "test.csv") }

    private func action(_ track: ActionTrack, at time: Double) -> (found: Bool, values: [Float]) {
        var values = [Float](repeating: .nan, count: track.count)
        let found = values.withUnsafeMutableBufferPointer { track.action(at: time, into: $0.baseAddress!) }
        return (found, values)
    }

    func testRowsAreInForceFromTheirTimeOn() throws {
        let actions = try track("time,pan,turn\n# a comment\n\n0.5, 0.25, -1\n1.5,1,0\r\n3,0,0.5\n")
        XCTAssertEqual(actions.count, 2)
        XCTAssertEqual(actions.times, [0.5, 1.5, 3])
        XCTAssertEqual(action(actions, at: 0.49).found, false)
        XCTAssertEqual(action(actions, at: 0.49).values, [0, 0], "before the first row: zeros")
        XCTAssertEqual(action(actions, at: 0.5).values, [0.25, -1])
        XCTAssertEqual(action(actions, at: 1.49).values, [0.25, -1])
        XCTAssertEqual(action(actions, at: 1.5).values, [1, 0])
        XCTAssertEqual(action(actions, at: 100).values, [0, 0.5])
        XCTAssertEqual(actions.summary, "3 row(s) of 2 value(s)")
    }

    func testBadRowsAreCountedAndSkipped() throws {
        let actions = try track("""
            0,0,0
            1,nan,0
            2,0
            3,0,0,0
            4,x,1
            5,2,-7
            2.5,1,1
            6,0.5,0.5
            """)
        XCTAssertEqual(actions.times, [0, 5, 6])
        XCTAssertEqual(actions.malformedRows, 4, "NaN, too few, too many, not a number")
        XCTAssertEqual(actions.lateRows, 1)
        XCTAssertEqual(actions.outOfRangeValues, 2)
        XCTAssertEqual(action(actions, at: 5.5).values, [1, -1], "clamped to [-1, 1]")
        XCTAssertTrue(actions.summary.contains("4 malformed") && actions.summary.contains("1 row(s) out of time order") && actions.summary.contains("2 value(s) outside"), actions.summary)
    }

    func testFilesWithoutRowsOrTooWideAreRefused() {
        for text in ["", "time,a\n", "# nothing\n", "0\n1\n", "a,b\nc,d\n"] {
            XCTAssertThrowsError(try track(text), text.debugDescription) { XCTAssertTrue("\($0)".contains("no row"), "\($0)") }
        }
        let wide = "0" + String(repeating: ",0", count: 65) + "\n"
        XCTAssertThrowsError(try track(wide)) { XCTAssertTrue("\($0)".contains("more than 64"), "\($0)") }
        XCTAssertThrowsError(try ActionTrack(path: "/nonexistent/actions.csv")) { XCTAssertTrue("\($0)".contains("/nonexistent/actions.csv"), "\($0)") }
    }

    func testRandomBytesGiveATrackOrAnError() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789.,-+e\n\r# abnaif".utf8)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            guard let actions = try? ActionTrack(bytes: bytes) else { continue }
            XCTAssertEqual(actions.values.count, actions.times.count * actions.count)
            XCTAssertTrue(actions.values.allSatisfy { (-1...1).contains($0) })
            XCTAssertEqual(actions.times, actions.times.sorted())
        }
    }
}
