// Helpers shared by the sensor tests: temporary paths and a seeded byte generator. Not a
// test framework.

import ForesightCore
import ForesightSensors
import Glibc
import XCTest
@testable import ForesightIO

/// A fresh temporary directory for one test, removed by the caller with `removeTree`.
func temporaryDirectory(_ name: String) -> String {
    var template = Array("/tmp/foresight-sensors-\(name)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil, "mkdtemp failed")
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Removes a directory made by `temporaryDirectory` and the files in it.
func removeTree(_ path: String) {
    if let directory = opendir(path) {
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { unlink(path + "/" + name) }
        }
        closedir(directory)
    }
    rmdir(path)
}

/// Skips the test when a library it needs at run time is not installed, naming the package.
func skipUnlessInstalled(_ missing: MissingLibrary?) throws {
    if let missing { throw XCTSkip("\(missing)") }
}

/// `count` seeded random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// Runs `body`, which must either succeed or throw a `IOError` (never anything else).
func expectParsesOrFileError(_ what: String, _ body: () throws -> Void) {
    do { try body() } catch is IOError {
    } catch { XCTFail("\(what): unexpected error type \(error)") }
}

/// Asserts two float arrays have the same length and agree element-wise within `tolerance`.
func assertClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-6, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
    for (index, (a, b)) in zip(actual, expected).enumerated() where !(abs(a - b) <= tolerance) {
        XCTFail("\(message) element \(index): \(a) vs \(b)", file: file, line: line)
        return
    }
}
