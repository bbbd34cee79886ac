// The README's action examples run as written: each line of its `actions-example` block, with
// `swift run -c release foresight` replaced by the tool built next to the tests.

import Foundation
import XCTest
import ForesightTestSupport

final class ActionExampleTests: XCTestCase {
    func testTheReadmeExamplesRunAsWritten() throws {
        guard let tool = foresightTool() else { throw XCTSkip("the foresight tool was not built next to the tests") }
        var readme = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: readme.appendingPathComponent("README.md").path) { readme.deleteLastPathComponent() }
        let text = try String(contentsOf: readme.appendingPathComponent("README.md"), encoding: .utf8)
        let block = try XCTUnwrap(text.components(separatedBy: "# actions-example\n").dropFirst().first?.components(separatedBy: "```").first)
        let lines = block.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 4, block)
        let folder = try makeTemporaryFolder("foresight-readme-actions")
        defer { try? FileManager.default.removeItem(at: folder) }
        for line in lines {
            let command = line.replacingOccurrences(of: "swift run -c release foresight", with: "'\(tool.path)'")
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/sh")
            shell.arguments = ["-c", command]
            shell.currentDirectoryURL = folder
            let output = Pipe()
            shell.standardOutput = output
            shell.standardError = output
            try shell.run()
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            shell.waitUntilExit()
            XCTAssertEqual(shell.terminationStatus, 0, "\(line)\n\(printed)")
            if line.contains(" plan ") { XCTAssertTrue(printed.contains("reached the goal"), printed) }
            if line.contains(" imagine ") { XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("rollout.png").path), printed) }
            if line.contains("stdin:4") { XCTAssertTrue(printed.contains("actions from standard input: 2 command(s)"), printed) }
        }
    }
}
