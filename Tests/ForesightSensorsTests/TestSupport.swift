// Helpers shared by the sensor tests: temporary paths and a seeded byte generator. Not a
// test framework.

import ForesightCore
import ForesightSensors
import Glibc
import XCTest

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

/// `count` seeded random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// Runs `body`, which must either succeed or throw a `FileFormatError` (never anything else).
func expectParsesOrFileError(_ what: String, _ body: () throws -> Void) {
    do { try body() } catch is FileFormatError {
    } catch { XCTFail("\(what): unexpected error type \(error)") }
}
