// Encoder export: a checkpoint from a short live run exported, loaded back and run; broken
// encoder files are clear errors; NPY headers; embed equals the encoder program run directly.
// Not the ONNX Runtime comparison: Tests/Peers/check_onnx.py does that in CI.

import Foundation
import XCTest
@testable import ForesightCore
import ForesightNN
import ForesightSensors
@testable import ForesightIO
@testable import ForesightSSL
@testable import ForesightExport
@testable import ForesightLive

final class ExportTests: XCTestCase {
    private func temporaryPath(_ name: String) -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-export-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent(name).path
    }

    /// A checkpoint written by a short live run on moving shapes (30 frames, 26 steps).
    private func liveCheckpoint() throws -> (path: String, learner: LiveLearner) {
        let path = temporaryPath("live.safetensors")
        var settings = LiveLearnerConfiguration()
        settings.checkpointPath = path
        settings.checkpointEvery = 10
        settings.replayClips = 16
        let learner = try LiveLearner(settings)
        _ = try learner.run(PacedFrameProducer.synthetic(.movingShapes, paced: false, frameLimit: 30, seed: 1))
        return (path, learner)
    }

    /// `count` frames of the moving-shapes scene, 64 x 64.
    private func sceneFrames(_ count: Int) -> [[Float]] {
        var scene = MovingShapes(width: 64, height: 64, seed: 5)
        return (0..<count).map { _ in
            var frame = [Float](repeating: 0, count: 64 * 64)
            frame.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!) }
            scene.advance()
            return frame
        }
    }

    func testExportFromALiveCheckpointKeepsOnlyTheEncoder() throws {
        let (checkpoint, learner) = try liveCheckpoint()
        let path = temporaryPath("encoder.safetensors")
        try EncoderModel.export(checkpoint: checkpoint, to: path)
        let file = try ModelFile(path: path)
        XCTAssertEqual(file.metadata["architecture"], "pc64-encoder")
        XCTAssertEqual(file.metadata["input.shape"], "N,4,64,64")
        XCTAssertEqual(file.metadata["output.shape"], "N,32,16,16")
        XCTAssertEqual(file.metadata["source.architecture"], learner.architecture)
        XCTAssertEqual(file.metadata["foresight.format"], ModelFile.formatVersion)
        XCTAssertNotNil(file.metadata["preprocessing"])
        XCTAssertEqual(Set(file.tensors.keys), Set(EncoderModel.parameters.map(\.name)))
        for (name, shape) in EncoderModel.parameters {
            XCTAssertEqual(file.tensors[name]?.shape, shape, name)
        }
        // The weights are the learner's, bit for bit.
        let encoder = try EncoderModel(path: path, batch: 2)
        for (name, tensor) in encoder.namedParameters {
            let id = learner.program.graph.tensor(named: name)!
            XCTAssertEqual(tensor.toArray(), learner.program.tensor(id).toArray(), name)
        }
        // Only the encoder: far smaller than the checkpoint with its decoder and Adam state.
        let encoderBytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let checkpointBytes = try FileManager.default.attributesOfItem(atPath: checkpoint)[.size] as! Int
        XCTAssertLessThan(encoderBytes, checkpointBytes / 2)
    }

    func testEmbedEqualsTheEncoderProgramRunDirectly() throws {
        let (checkpoint, _) = try liveCheckpoint()
        let path = temporaryPath("encoder-embed.safetensors")
        try EncoderModel.export(checkpoint: checkpoint, to: path)
        // Batch 3 over 7 frames: two full runs and a partial one.
        let frames = sceneFrames(7)
        let encoder = try EncoderModel(path: path, batch: 3, threads: 2)
        var outputs = [Float](repeating: .nan, count: 7 * EncoderModel.outputElements)
        var inputs = [Float](repeating: .nan, count: 7 * EncoderModel.inputElements)
        outputs.withUnsafeMutableBufferPointer { out in
            inputs.withUnsafeMutableBufferPointer { encoder.embed(frames, outputs: out.baseAddress!, inputs: $0.baseAddress!) }
        }
        // Reference: the pc64 encoder graph built afresh, weights from the checkpoint, one frame at a time.
        let graph = Graph()
        let input = try graph.input("frames", [1, 4, 64, 64])
        let embedding = try Models.encoder(graph, input)
        let program = try Program(graph)
        let file = try ModelFile(path: checkpoint)
        for id in program.parameters { try file.load(program.tensor(id).name, into: program.tensor(id)) }
        for index in 0..<7 {
            let expectedInput = (0..<4).flatMap { frames[max(0, index - 3 + $0)] }
            XCTAssertEqual(Array(inputs[(index * EncoderModel.inputElements)..<((index + 1) * EncoderModel.inputElements)]), expectedInput)
            program.tensor(input).copy(from: expectedInput)
            program.forward()
            let expected = program.tensor(embedding).toArray()
            let got = outputs[(index * EncoderModel.outputElements)..<((index + 1) * EncoderModel.outputElements)]
            let scale = max(1e-6, expected.map(abs).max()!)
            let worst = zip(got, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst / scale, 1e-5, "frame \(index)")
            XCTAssertGreaterThan(expected.filter { $0 > 0 }.count, 0, "frame \(index): an all-zero embedding tests nothing")
        }
    }

    func testWrongArchitectureMissingTensorsAndBrokenFilesAreClearErrors() throws {
        let (checkpoint, _) = try liveCheckpoint()
        // A checkpoint is not an encoder file.
        XCTAssertThrowsError(try EncoderModel(path: checkpoint, batch: 1)) { error in
            XCTAssertTrue("\(error)".contains("holds architecture pc64-"), "\(error)")
            XCTAssertTrue("\(error)".contains("export it first"), "\(error)")
        }
        let path = temporaryPath("encoder-broken.safetensors")
        let encoder = try EncoderModel.export(checkpoint: checkpoint, to: path)
        // Exporting an encoder file again is refused.
        XCTAssertThrowsError(try EncoderModel.export(checkpoint: path, to: temporaryPath("again.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("export takes a pc64 checkpoint"), "\(error)")
        }
        // Missing e3: named.
        let partial = temporaryPath("encoder-partial.safetensors")
        try ModelFile.write(to: partial, metadata: ["architecture": "pc64-encoder"],
                            tensors: encoder.namedParameters.filter { !$0.name.hasPrefix("e3") })
        XCTAssertThrowsError(try EncoderModel(path: partial, batch: 1)) { XCTAssertTrue("\($0)".contains("has no tensor e3.weight"), "\($0)") }
        // A wrong shape: named with both shapes.
        let wrongShape = temporaryPath("encoder-shape.safetensors")
        var swapped = encoder.namedParameters
        swapped[0] = ("e1.weight", swapped[2].tensor)
        try ModelFile.write(to: wrongShape, metadata: ["architecture": "pc64-encoder"], tensors: swapped)
        XCTAssertThrowsError(try EncoderModel(path: wrongShape, batch: 1)) { XCTAssertTrue("\($0)".contains("e1.weight as float32 [32, 16, 3, 3]"), "\($0)") }
        // Truncated at several points, and one flipped data byte.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for keep in [0, 5, 8, 100, bytes.count / 2, bytes.count - 1] {
            try bytes.prefix(keep).write(to: URL(fileURLWithPath: path + ".cut"))
            XCTAssertThrowsError(try EncoderModel(path: path + ".cut", batch: 1), "kept \(keep) bytes") { error in
                XCTAssertTrue(error is IOError, "\(error)")
            }
        }
        var flipped = bytes
        flipped[bytes.count - 10] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: path + ".flip"))
        XCTAssertThrowsError(try EncoderModel(path: path + ".flip", batch: 1)) { XCTAssertTrue("\($0)".contains("checksum"), "\($0)") }
    }

    func testFuzzedEncoderFilesNeverCrashOrLoadWrongWeights() throws {
        let path = temporaryPath("encoder-fuzz.safetensors")
        let original = try EncoderModel(batch: 1)
        try original.write(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        var random = SeededRandom(seed: 7)
        var loaded = 0, refused = 0
        try forEachFuzzedCopy(of: bytes, at: path, headerBytes: 1200, random: &random) { trial, fuzzed in
            do {
                let encoder = try EncoderModel(path: fuzzed, batch: 1)
                // Only metadata text is outside the checksum: the weights must be intact.
                for ((name, got), (_, expected)) in zip(encoder.namedParameters, original.namedParameters) {
                    XCTAssertEqual(got.toArray(), expected.toArray(), "trial \(trial): \(name) loaded wrong")
                }
                loaded += 1
            } catch is IOError {
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 250, "loaded \(loaded), refused \(refused)")
    }

    func testNPYHeaderIsVersionOneAndAligned() throws {
        for shape in [[3, 8192], [7], [2, 4, 64, 64]] {
            let header = NPY.header(shape: shape)
            XCTAssertEqual(Array(header.prefix(8)), [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
            let length = Int(header[8]) | Int(header[9]) << 8
            XCTAssertEqual(header.count, 10 + length)
            XCTAssertEqual(header.count % 64, 0)
            XCTAssertEqual(header.last, 0x0A)
            let text = String(decoding: header[10...], as: UTF8.self)
            let dims = shape.count == 1 ? "(7,)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
            XCTAssertTrue(text.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }"), text)
        }
        let path = temporaryPath("values.npy")
        let values: [Float] = [1, -2.5, 3, 4, 5, 6]
        try values.withUnsafeBufferPointer { try NPY.write(path: path, shape: [2, 3], values: $0) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(bytes.count, NPY.header(shape: [2, 3]).count + 24)
        let stored = bytes.suffix(24).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(stored, values)
    }

    func testONNXExportHasTheEncoderNodesAndWeights() throws {
        let encoder = try EncoderModel(batch: 1)
        let bytes = try encoder.onnxModel(metadata: ["architecture": "pc64-encoder"])
        let model = try Onnx_ModelProto(serializedBytes: bytes)
        XCTAssertEqual(model.opsetImport.first?.version, 13)
        XCTAssertEqual(model.graph.node.map(\.opType), ["Conv", "Relu", "Conv", "Relu", "Conv", "Relu"])
        XCTAssertEqual(model.graph.node[2].attribute.first { $0.name == "strides" }?.ints, [2, 2])
        XCTAssertEqual(model.graph.node[4].attribute.first { $0.name == "strides" }?.ints, [1, 1])
        XCTAssertEqual(model.graph.output.first?.name, "embedding")
        for (initializer, (name, tensor)) in zip(model.graph.initializer, encoder.namedParameters) {
            XCTAssertEqual(initializer.name, name)
            XCTAssertEqual(initializer.dims, tensor.shape.dims.map(Int64.init))
            XCTAssertEqual(initializer.rawData, Data(bytes: tensor.data, count: tensor.byteCount))
        }
    }
}
