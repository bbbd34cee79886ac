// Runs the `foresight` tool built next to the test bundle, for tests of the command line.

import Foundation
import ForesightTestSupport
import XCTest

/// The `foresight` tool built next to the tests; nil when it was not built.
func foresightTool() -> URL? { builtProgram("foresight") }

/// Runs `foresight arguments...` to the end; its exit status and what it printed (both streams).
/// Skips the test when the tool was not built. `directory` is its working directory (nil: the tests').
func runForesight(_ arguments: [String], in directory: URL? = nil) throws -> (status: Int32, output: String) {
    guard let tool = foresightTool() else { throw XCTSkip("the foresight tool was not built next to the tests (run `swift build` first)") }
    return try runToEnd(tool, arguments, in: directory)
}
