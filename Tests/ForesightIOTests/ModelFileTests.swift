// Model files: round trip, readable layout, and every kind of damage a clear error, never a crash.

import Foundation
import XCTest
@testable import ForesightCore
@testable import ForesightIO

final class ModelFileTests: XCTestCase {
    private var folder: URL!

    override func setUp() {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-modelfile-\(getpid())-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    private func writeSample(_ name: String) throws -> (path: String, arena: Arena, weights: Tensor) {
        let arena = try Arena(capacity: 4096)
        let weights = try arena.allocate(Shape(3, 4), name: "layer.weight")
        for i in 0..<12 { weights.floats[i] = Float(i) * 0.5 - 1 }
        let counts = try arena.allocate(Shape(5), dtype: .int32, name: "counts")
        for i in 0..<5 { counts.int32s[i] = Int32(i * 1000) }
        let path = folder.appendingPathComponent(name).path
        try ModelFile.write(to: path, metadata: ["architecture": "test"], tensors: [("layer.weight", weights), ("counts", counts)])
        return (path, arena, weights)
    }

    func testRoundTripAndLayout() throws {
        let (path, arena, weights) = try writeSample("round.safetensors")
        let file = try ModelFile(path: path)
        XCTAssertEqual(file.metadata["architecture"], "test")
        XCTAssertEqual(file.tensors["layer.weight"]?.shape, [3, 4])
        let copy = try arena.allocate(Shape(3, 4), name: "copy")
        try file.load("layer.weight", into: copy)
        XCTAssertEqual(copy.toArray(), weights.toArray())
        XCTAssertThrowsError(try file.load("counts", into: copy)) { XCTAssertTrue("\($0)".contains("int32"), "\($0)") }
        XCTAssertThrowsError(try file.load("missing", into: copy)) { XCTAssertTrue("\($0)".contains("missing"), "\($0)") }
        // The safetensors layout: little-endian header length, then a JSON header.
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as! [String: Any]
        XCTAssertEqual((header["layer.weight"] as? [String: Any])?["dtype"] as? String, "F32")
        XCTAssertEqual((8 + length) % 8, 0)
    }

    /// A file whose checksum is right but whose weights are NaN or infinite (a run that
    /// diverged, a writer elsewhere) is refused on load, naming the tensor and the element.
    func testNonFiniteWeightsAreRefusedNamingTheTensor() throws {
        for (index, bad) in [(7, Float.nan), (0, Float.infinity), (11, -Float.infinity)] {
            let arena = try Arena(capacity: 4096)
            let weights = try arena.allocate(Shape(3, 4), name: "e2.weight")
            for i in 0..<12 { weights.floats[i] = Float(i) * 0.25 }
            weights.floats[index] = bad
            let codes = try arena.allocate(Shape(2), dtype: .int32, name: "steps")
            let path = folder.appendingPathComponent("nonfinite-\(index).safetensors").path
            try ModelFile.write(to: path, metadata: ["architecture": "test"], tensors: [("e2.weight", weights), ("steps", codes)])
            XCTAssertThrowsError(try ModelFile(path: path)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("tensor e2.weight holds \(bad) at element \(index)") && message.contains("finite"), message)
            }
        }
        let (path, _, _) = try writeSample("finite.safetensors")
        XCTAssertNoThrow(try ModelFile(path: path), "finite weights load")
    }

    func testDamageIsNamed() throws {
        let (path, _, _) = try writeSample("damaged.safetensors")
        let good = [UInt8](FileManager.default.contents(atPath: path)!)
        func check(_ bytes: [UInt8], mentions word: String, line: UInt = #line) {
            let damaged = folder.appendingPathComponent("d.safetensors").path
            FileManager.default.createFile(atPath: damaged, contents: Data(bytes))
            XCTAssertThrowsError(try ModelFile(path: damaged), line: line) { XCTAssertTrue("\($0)".contains(word), "\($0)", line: line) }
        }
        check(Array(good.prefix(5)), mentions: "too short")
        check(Array(good.prefix(good.count - 3)), mentions: "truncated")
        var flipped = good
        flipped[good.count - 1] ^= 0x40
        check(flipped, mentions: "checksum")
        var version = good
        let key = Array("\"foresight.format\":\"1\"".utf8)
        let at = (0...(good.count - key.count)).first { Array(good[$0..<($0 + key.count)]) == key }!
        version[at + key.count - 2] = UInt8(ascii: "9")
        check(version, mentions: "version 9")
        check(Array(repeating: 0xFF, count: 64), mentions: "header")
        check([16, 0, 0, 0, 0, 0, 0, 0] + Array("not json, just text".utf8), mentions: "JSON")
        // A changed metadata value keeps the JSON valid: only the checksum can tell.
        var renamed = good
        let architecture = Array("\"architecture\":\"test\"".utf8)
        let place = (0...(good.count - architecture.count)).first { Array(good[$0..<($0 + architecture.count)]) == architecture }!
        renamed[place + architecture.count - 2] = UInt8(ascii: "x")
        check(renamed, mentions: "checksum")
        XCTAssertThrowsError(try ModelFile(path: folder.appendingPathComponent("absent").path)) { XCTAssertTrue("\($0)".contains("cannot be read"), "\($0)") }
    }

    func testRandomDamageNeverCrashes() throws {
        let (path, _, _) = try writeSample("fuzz.safetensors")
        let good = [UInt8](FileManager.default.contents(atPath: path)!)
        var rng = SeededRandom(seed: 99)
        let damaged = folder.appendingPathComponent("fuzzed.safetensors").path
        var rejected = 0
        for round in 0..<400 {
            var bytes = good
            if round % 2 == 0 {
                bytes = Array(bytes.prefix(rng.nextInt(below: bytes.count)))
            } else {
                for _ in 0...rng.nextInt(below: 4) { bytes[rng.nextInt(below: bytes.count)] ^= UInt8(1 << rng.nextInt(below: 8)) }
            }
            FileManager.default.createFile(atPath: damaged, contents: Data(bytes))
            do { _ = try ModelFile(path: damaged) } catch { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, 390, "almost every damaged file must be rejected")
    }
}

/// The temporary files of atomic writes that a killed writer leaves behind.
final class StalePartialFileTests: XCTestCase {
    func testOnlyPartialFilesOfDeadWritersOfThatPathAreRemoved() throws {
        guard kill(999_999, 0) != 0 else { throw XCTSkip("a process 999999 runs here") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-partials-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.safetensors").path
        XCTAssertEqual(ModelFile.partialPath(of: path, processID: 42), folder.path + "/.model.safetensors.partial-42")
        let dead = ModelFile.partialPath(of: path, processID: 999_999)
        let alive = ModelFile.partialPath(of: path, processID: getpid())
        let parent = ModelFile.partialPath(of: path, processID: getppid())
        let kept = [alive, parent, folder.path + "/.other.safetensors.partial-999999", folder.path + "/.model.safetensors.partial-x1",
                    folder.path + "/model.safetensors"]
        for file in [dead] + kept { XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1]))) }
        XCTAssertEqual(ModelFile.removeStalePartials(of: path), [dead])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead))
        for file in kept { XCTAssertTrue(FileManager.default.fileExists(atPath: file), "\(file) was removed") }
        XCTAssertEqual(ModelFile.removeStalePartials(of: folder.appendingPathComponent("missing/none.safetensors").path), [])
    }
}
