// Runs the `foresight` tool built next to the test bundle, for tests of the command line.

import Foundation
import XCTest

/// The `foresight` tool built next to the tests; nil when it was not built.
func foresightTool() -> URL? {
    let candidates = Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        + [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    return candidates.map { $0.appendingPathComponent("foresight") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

/// Runs `foresight arguments...` to the end; its exit status and what it printed (both streams).
func runForesight(_ arguments: [String]) throws -> (status: Int32, output: String) {
    guard let tool = foresightTool() else { throw XCTSkip("the foresight tool was not built next to the tests (run `swift build` first)") }
    let process = Process()
    process.executableURL = tool
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
