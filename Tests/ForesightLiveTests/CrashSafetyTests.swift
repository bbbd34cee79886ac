// Kill -9 while `foresight learn` writes checkpoints: the checkpoint on disk is always a
// complete, loadable file, and learning resumes from it.

import Foundation
import XCTest
@testable import ForesightIO
@testable import ForesightSensors
@testable import ForesightSSL
@testable import ForesightLive

final class CrashSafetyTests: XCTestCase {
    func testKillDuringCheckpointsLosesOnlyRecentSteps() throws {
        guard let tool = foresightTool() else { throw XCTSkip("the foresight tool was not built next to the tests (run `swift build` first)") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-kill-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("live.safetensors").path
        var lastSteps = 0
        for round in 0..<4 {
            let process = Process()
            process.executableURL = tool
            process.arguments = ["learn", "--as-fast-as-possible", "--checkpoint", checkpoint, "--checkpoint-every", "3",
                                 "--replay", "32", "--seconds", "30", "--json"] + (round > 0 ? ["--resume"] : [])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Let it write several checkpoints, then kill it at an arbitrary moment.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if let steps = try? Checkpoint(path: checkpoint).steps, steps >= lastSteps + 9 { break }
                usleep(20_000)
            }
            usleep(UInt32(1000 * (round * 7 % 23)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let steps = try Checkpoint(path: checkpoint).steps   // complete and consistent, whatever the moment of the kill
            XCTAssertGreaterThanOrEqual(steps, lastSteps, "round \(round): resumed learning must not go back")
            lastSteps = steps
        }
        XCTAssertGreaterThan(lastSteps, 9)
    }
}
