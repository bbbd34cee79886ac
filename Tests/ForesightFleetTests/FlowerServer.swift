// Flower's own server for the tests: Sources/ForesightFleet/FlowerApp/serve.py (a SuperLink and
// the repository's ServerApp) on 127.0.0.1 with free ports, skipped when flwr is not installed.

import Foundation
import XCTest
import ForesightCore

/// A running serve.py.
final class FlowerServer: @unchecked Sendable {
    static let pipCommand = "python3 -m pip install flwr==1.39.0"
    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/ForesightFleet/FlowerApp/serve.py")
    }

    let process = Process()
    let logPath: String
    let resultPath: String
    /// The Fleet API's "127.0.0.1:PORT".
    private(set) var fleetAddress = ""

    /// Skips the test when flwr 1.39.0 is missing.
    static func requireFlower() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import importlib.metadata as m, sys; sys.exit(0 if m.version('flwr') == '1.39.0' else 3)"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        if check.terminationStatus != 0 { throw XCTSkip("Flower's server (flwr 1.39.0) is not installed: \(pipCommand)") }
    }

    /// Starts serve.py with `options` and waits until its Fleet API listens at `fleet` (a free port by default).
    init(_ options: [String], folder: URL, fleet: String = "127.0.0.1:0") throws {
        logPath = folder.appendingPathComponent("serve.log").path
        resultPath = folder.appendingPathComponent("result.json").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", Self.script.path, "--fleet", fleet, "--result", resultPath] + options
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Fleet API at ") }) {
                fleetAddress = String(line.dropFirst("Fleet API at ".count).split(separator: ";")[0])
                return
            }
            guard process.isRunning else { throw ServerFailure(description: "serve.py exited: \(text)") }
            Thread.sleep(forTimeInterval: 0.2)
        }
        stop()
        throw ServerFailure(description: "serve.py did not start its SuperLink within 90 s: \(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits for the run to end (at most `seconds`); its exit status, nil if it is still running.
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// The result file: the final arrays by name, with their values.
    func result() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: resultPath))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func stop() {
        if process.isRunning { process.interrupt() }
        if wait(seconds: 15) == nil { process.terminate() }
    }

    struct ServerFailure: Error, CustomStringConvertible { let description: String }
}
