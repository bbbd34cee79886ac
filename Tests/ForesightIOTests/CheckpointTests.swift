// Checkpoints: one set of keys for every kind of run, files written before the step count was
// shared still read, and a checkpoint of another architecture refused before anything loads.

import Foundation
import XCTest
import ForesightCore
import ForesightNN
@testable import ForesightIO

final class CheckpointTests: XCTestCase {
    private var folder: URL!

    override func setUp() {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-checkpoint-\(getpid())-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func testRoundTripKeepsStateOptimizerAndDetails() throws {
        let arena = try Arena(capacity: 4096)
        let weight = try arena.allocate(Shape(2, 3), name: "w")
        for i in 0..<6 { weight.floats[i] = Float(i) - 2.5 }
        let optimizer = try Adam(learningRate: 3e-4)
        optimizer.stepCount = 41
        let path = folder.appendingPathComponent("run.safetensors").path
        try Checkpoint(architecture: "test-net", steps: 40, optimizer: optimizer, details: ["ssl.method": "simclr"])
            .write(to: path, state: [("w", weight)])

        let read = try Checkpoint(path: path)
        XCTAssertEqual(read.architecture, "test-net")
        XCTAssertEqual(read.steps, 40)
        XCTAssertEqual(read.optimizerSteps, 41)
        XCTAssertEqual(read.learningRate, 3e-4)
        // Details hold the run's own keys only; the shared ones are fields.
        XCTAssertEqual(read.details["ssl.method"], "simclr")
        XCTAssertNil(read.details[Checkpoint.Key.steps])
        XCTAssertNil(read.details[Checkpoint.Key.architecture])
        let file = try ModelFile(path: path)
        XCTAssertEqual(file.metadata[Checkpoint.Key.steps], "40")
        XCTAssertEqual(file.metadata[Checkpoint.Key.optimizerSteps], "41")

        let copy = try arena.allocate(Shape(2, 3), name: "copy")
        try read.load(into: [("w", copy)])
        XCTAssertEqual(copy.toArray(), weight.toArray())
        // A tensor the file lacks is named.
        XCTAssertThrowsError(try read.load(into: [("missing", copy)])) { XCTAssertTrue("\($0)".contains("missing"), "\($0)") }
    }

    func testFilesWithTheEarlierStepKeysStillResume() throws {
        let arena = try Arena(capacity: 1024)
        let weight = try arena.allocate(Shape(4), name: "w")
        for (index, key) in ["live.steps", "ssl.steps"].enumerated() {
            let path = folder.appendingPathComponent("old-\(index).safetensors").path
            try ModelFile.write(to: path, metadata: ["architecture": "old", key: "1234", "optimizer.steps": "1234", "learning_rate": "0.001"],
                                tensors: [("w", weight)])
            let read = try Checkpoint(path: path)
            XCTAssertEqual(read.steps, 1234, key)
            XCTAssertEqual(read.optimizerSteps, 1234, key)
            XCTAssertEqual(read.learningRate, 0.001, key)
        }
    }

    func testAnotherArchitectureIsRefusedNamingBoth() throws {
        let arena = try Arena(capacity: 1024)
        let weight = try arena.allocate(Shape(4), name: "w")
        let path = folder.appendingPathComponent("other.safetensors").path
        try Checkpoint(architecture: "pc64-motion k3 64x64", steps: 5, optimizer: nil).write(to: path, state: [("w", weight)])
        let read = try Checkpoint(path: path)
        XCTAssertNil(read.learningRate, "written without an optimizer: no learning rate to restore")
        XCTAssertNoThrow(try read.require(architecture: "pc64-motion k3 64x64"))
        XCTAssertThrowsError(try read.require(architecture: "pc64-next-frame k3 64x64")) { error in
            XCTAssertTrue("\(error)".contains("pc64-motion k3 64x64") && "\(error)".contains("pc64-next-frame k3 64x64"), "\(error)")
        }
    }
}
