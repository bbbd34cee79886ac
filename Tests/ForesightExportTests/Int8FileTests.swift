// int8 encoder files: size against the float32 file, a loaded file runs bit for bit like the
// in-memory int8 model it came from, every broken parameter is a clear error, random damage
// never crashes, and the QDQ ONNX graph carries the file's values.
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

final class Int8FileTests: XCTestCase {
    private func temporaryPath(_ name: String) -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-int8-file-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent(name).path
    }

    /// 24 calibration samples of the moving-shapes scene and a float32 encoder (seeded weights).
    private func floatEncoderAndSamples() throws -> (EncoderModel, [[Float]]) {
        let encoder = try EncoderModel(batch: 1)
        let frames = try Int8EncoderModel.calibrationFrames(source: SyntheticScene.movingShapes.rawValue, count: 24)
        return (encoder, Int8EncoderModel.calibrationSamples(frames))
    }

    /// An int8 encoder file written from a freshly quantized encoder; returns its path.
    private func int8File(_ name: String) throws -> (path: String, model: Int8EncoderModel) {
        let (encoder, samples) = try floatEncoderAndSamples()
        let model = try Int8EncoderModel(quantizing: encoder, calibration: samples, batch: 1)
        let path = temporaryPath(name)
        try model.write(to: path, extraMetadata: ["calibration.method": "min-max"])
        return (path, model)
    }

    /// `count` moving-digits inputs [4, 64, 64], unlike the calibration scene.
    private func inputs(_ count: Int) -> [Float] {
        var scene = MovingDigits(width: 64, height: 64, seed: 9)
        let frames: [[Float]] = (0..<(count + 3)).map { _ in
            var frame = [Float](repeating: 0, count: 64 * 64)
            frame.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!) }
            scene.advance()
            return frame
        }
        return Int8EncoderModel.calibrationSamples(frames).suffix(count).flatMap { $0 }
    }

    func testInt8FileIsSmallAndLoadsToTheSameOutputsBitForBit() throws {
        let (encoder, samples) = try floatEncoderAndSamples()
        let floatPath = temporaryPath("float.safetensors")
        try encoder.write(to: floatPath)
        // The in-memory int8 model, as `foresight bench enc` runs it.
        let calibrated = try Int8EncoderModel.calibrated(encoder, calibration: samples)
        let model = try Int8EncoderModel(quantizing: encoder, calibration: samples, batch: 1)
        let path = temporaryPath("int8.safetensors")
        // With the provenance `foresight export --int8` adds.
        try model.write(to: path, extraMetadata: ["source.architecture": "pc64-next-frame", "source.checkpoint": "live.safetensors",
                                                  "calibration.method": "percentile 99.99", "calibration.source": "walk-through-the-garden.y4m",
                                                  "calibration.samples": "64", "source.live.steps": "100000", "source.live.frames": "100003",
                                                  "source.optimizer.steps": "100000", "source.objective": "next-frame"])

        let floatBytes = try FileManager.default.attributesOfItem(atPath: floatPath)[.size] as! Int
        let int8Bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        print("float32 file \(floatBytes) bytes, int8 file \(int8Bytes) bytes (\(String(format: "%.1f", 100 * Double(int8Bytes) / Double(floatBytes)))%)")
        XCTAssertLessThanOrEqual(Double(int8Bytes), 0.30 * Double(floatBytes))

        let file = try ModelFile(path: path)
        XCTAssertEqual(file.metadata["architecture"], Int8EncoderModel.architecture)
        XCTAssertEqual(file.metadata["int8.format"], Int8EncoderModel.int8Format)
        XCTAssertEqual(file.tensors["e2.weight"]?.dtype, .int8)
        XCTAssertEqual(file.tensors["e2.weight"]?.shape, [32, 16, 3, 3])
        XCTAssertEqual(file.tensors["e2.bias"]?.dtype, .int32)
        XCTAssertEqual(file.tensors["input.zero_point"]?.dtype, .uint8)

        // Loaded with batch 3 (and 2 threads): each sample equals the batch-1 in-memory model bit for bit.
        let loaded = try Int8EncoderModel(path: path, batch: 3, threads: 2)
        let inMemory = try XCTUnwrap(calibrated.storedConvolutions)
        for (fromFile, expected) in zip(loaded.convolutions, inMemory) {
            XCTAssertEqual(fromFile.weightCodes, expected.weightCodes, fromFile.name)
            XCTAssertEqual(fromFile.weightScales, expected.weightScales, fromFile.name)
            XCTAssertEqual(fromFile.bias, expected.bias, fromFile.name)
            XCTAssertEqual(fromFile.output, expected.output, fromFile.name)
            XCTAssertEqual([fromFile.stride, fromFile.padding, fromFile.kernel], [expected.stride, expected.padding, expected.kernel], fromFile.name)
            XCTAssertEqual(fromFile.relu, expected.relu, fromFile.name)
        }
        let x = inputs(3)
        loaded.input.update(from: x, count: x.count)
        loaded.run()
        var single = [Float](repeating: .nan, count: EncoderModel.outputElements)
        var floatOutput = [Float](repeating: 0, count: EncoderModel.outputElements)
        var squaredError = 0.0, squaredSignal = 0.0
        for sample in 0..<3 {
            let sampleInput = Array(x[(sample * EncoderModel.inputElements)..<((sample + 1) * EncoderModel.inputElements)])
            sampleInput.withUnsafeBufferPointer { calibrated.run(input: $0.baseAddress!, output: &single) }
            let fromFile = Array(UnsafeBufferPointer(start: loaded.output + sample * EncoderModel.outputElements, count: EncoderModel.outputElements))
            XCTAssertEqual(fromFile.map(\.bitPattern), single.map(\.bitPattern), "sample \(sample)")
            // And int8 stays close to float32 (a wrong scale or bias would not).
            encoder.input.copy(from: sampleInput)
            encoder.run()
            floatOutput = encoder.output.toArray()
            for (a, b) in zip(fromFile, floatOutput) {
                squaredError += Double(a - b) * Double(a - b)
                squaredSignal += Double(b) * Double(b)
            }
        }
        let relative = (squaredError / squaredSignal).squareRoot()
        print("int8 vs float32 on moving digits: relative rms error \(String(format: "%.4f", relative))")
        XCTAssertGreaterThan(squaredSignal, 0)
        XCTAssertLessThan(relative, 0.1)
        // Embedding through either kind of file gives the encoder's own outputs.
        let opened = try EncoderFiles.open(path, batch: 2)
        XCTAssertTrue(opened is Int8EncoderModel)
        XCTAssertTrue(try EncoderFiles.open(floatPath, batch: 2) is EncoderModel)
    }

    func testBrokenInt8FilesAreClearErrorsNamingTheTensor() throws {
        let (path, _) = try int8File("int8-broken.safetensors")
        let file = try ModelFile(path: path)
        let names = file.tensors.values.sorted { $0.offset < $1.offset }.map(\.name)
        /// Rewrites the file (valid checksum) with one change, and returns the load error.
        func loadError(metadata change: (inout [String: String]) -> Void = { _ in },
                       _ edit: (inout [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])]) -> Void) throws -> String {
            var arrays = try names.map { (name: $0, dtype: file.tensors[$0]!.dtype, shape: file.tensors[$0]!.shape, bytes: try file.bytes($0)) }
            edit(&arrays)
            var metadata = file.metadata
            metadata["foresight.checksum"] = nil
            change(&metadata)
            let broken = temporaryPath("int8-edited.safetensors")
            try ModelFile.write(to: broken, metadata: metadata, arrays: arrays)
            do {
                _ = try Int8EncoderModel(path: broken, batch: 1)
            } catch let error as IOError {
                // inspect reports the same problem.
                XCTAssertThrowsError(try Int8EncoderModel.checkFile(try ModelFile(path: broken)))
                return error.message
            }
            XCTFail("the edited file loaded")
            return ""
        }
        func setFloat(_ arrays: inout [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])], _ name: String, index: Int, _ value: Float) {
            let i = arrays.firstIndex { $0.name == name }!
            withUnsafeBytes(of: value) { arrays[i].bytes.replaceSubrange((4 * index)..<(4 * index + 4), with: $0) }
        }
        // Scales that are zero, negative, NaN or infinite.
        for (name, index, value) in [("e2.weight_scale", 5, Float(0)), ("e1.weight_scale", 0, -0.01), ("input.scale", 0, .nan),
                                     ("e3.output_scale", 0, .infinity), ("e1.output_scale", 0, 0)] {
            let problem = try loadError { setFloat(&$0, name, index: index, value) }
            XCTAssertTrue(problem.contains(name) && problem.contains("positive and finite"), "\(name) = \(value): \(problem)")
        }
        // A code tensor of the wrong dtype or shape, and a missing tensor.
        var problem = try loadError { arrays in
            let i = arrays.firstIndex { $0.name == "e1.weight" }!
            arrays[i].dtype = .uint8
        }
        XCTAssertTrue(problem.contains("stores e1.weight as uint8 [16, 4, 3, 3]") && problem.contains("needs int8 [16, 4, 3, 3]"), problem)
        problem = try loadError { arrays in
            let i = arrays.firstIndex { $0.name == "e3.weight" }!
            arrays[i].shape = [32, 32, 9]
        }
        XCTAssertTrue(problem.contains("stores e3.weight as int8 [32, 32, 9]"), problem)
        problem = try loadError { $0.removeAll { $0.name == "e2.bias" } }
        XCTAssertTrue(problem.contains("has no tensor e2.bias"), problem)
        problem = try loadError { arrays in
            let i = arrays.firstIndex { $0.name == "e2.bias" }!
            arrays[i].dtype = .float32
        }
        XCTAssertTrue(problem.contains("stores e2.bias as float32"), problem)
        // A code of -128 (outside the symmetric range the kernels assume).
        problem = try loadError { arrays in
            let i = arrays.firstIndex { $0.name == "e2.weight" }!
            arrays[i].bytes[17] = 0x80
        }
        XCTAssertTrue(problem.contains("e2.weight") && problem.contains("-128 at element 17"), problem)
        // Versions and architectures.
        problem = try loadError(metadata: { $0["int8.format"] = "2" }) { _ in }
        XCTAssertTrue(problem.contains("int8 format version 2"), problem)
        problem = try loadError(metadata: { $0["int8.format"] = nil }) { _ in }
        XCTAssertTrue(problem.contains("no int8.format"), problem)
        problem = try loadError(metadata: { $0["architecture"] = EncoderModel.architecture }) { _ in }
        XCTAssertTrue(problem.contains("pc64-encoder-int8") && problem.contains("float32 encoder file"), problem)
        // A float32 file where an int8 one is expected, and the other way round.
        let floatPath = temporaryPath("float-for-int8.safetensors")
        try EncoderModel(batch: 1).write(to: floatPath)
        XCTAssertThrowsError(try Int8EncoderModel(path: floatPath, batch: 1)) { XCTAssertTrue("\($0)".contains("float32 encoder file"), "\($0)") }
        XCTAssertThrowsError(try EncoderModel(path: path, batch: 1)) { XCTAssertTrue("\($0)".contains("pc64-encoder-int8"), "\($0)") }
        // The foresight format version is checked before anything else.
        var arrays = try names.map { (name: $0, dtype: file.tensors[$0]!.dtype, shape: file.tensors[$0]!.shape, bytes: try file.bytes($0)) }
        arrays.removeAll { $0.name == "input.scale" }
        let unversioned = temporaryPath("int8-version.safetensors")
        try ModelFile.write(to: unversioned, metadata: ["architecture": Int8EncoderModel.architecture], arrays: arrays)
        var text = try String(contentsOfFile: unversioned, encoding: .isoLatin1)
        text = text.replacingOccurrences(of: "\"foresight.format\":\"1\"", with: "\"foresight.format\":\"9\"")
        try text.write(toFile: unversioned, atomically: true, encoding: .isoLatin1)
        XCTAssertThrowsError(try Int8EncoderModel(path: unversioned, batch: 1)) { XCTAssertTrue("\($0)".contains("format version 9"), "\($0)") }
    }

    /// Scales each positive and finite but extreme together (found by fuzzing int8 files with
    /// the checksum skipped; rewritten here with a valid one): a multiplier far below 2^-63
    /// runs as 0 instead of trapping, and an output scale whose code 255 would dequantize to
    /// infinity is refused naming the tensor.
    func testExtremeScalesRunToFiniteEmbeddingsOrAreRefused() throws {
        let (path, _) = try int8File("int8-extreme.safetensors")
        let file = try ModelFile(path: path)
        func rewritten(_ name: String, _ values: [String: Float]) throws -> String {
            var metadata = file.metadata
            metadata["foresight.checksum"] = nil
            let arrays = try file.tensors.values.sorted { $0.offset < $1.offset }.map { stored in
                var bytes = try file.bytes(stored.name)
                if let value = values[stored.name] {
                    bytes = stored.dtype == .int32 ? [UInt8](repeating: 0, count: bytes.count)
                        : (0..<(bytes.count / 4)).flatMap { _ in withUnsafeBytes(of: value) { Array($0) } }
                }
                return (name: stored.name, dtype: stored.dtype, shape: stored.shape, bytes: bytes)
            }
            let edited = temporaryPath(name)
            try ModelFile.write(to: edited, metadata: metadata, arrays: arrays)
            return edited
        }
        // e2's output scale x e3's weight scale / 1e36: a multiplier of about 1e-40.
        let tiny = try Int8EncoderModel(path: try rewritten("int8-tiny-multiplier.safetensors", ["e3.output_scale": 1e36]), batch: 1)
        for index in 0..<EncoderModel.inputElements { tiny.input[index] = Float(index % 256) / 255 }
        tiny.run()
        XCTAssertTrue((0..<EncoderModel.outputElements).allSatisfy { tiny.output[$0].isFinite })
        // Output scale 1e37 with weight scales 1e38 (a multiplier of a few units, biases 0): code 255 is worth 2.55e39.
        let overflowing = try rewritten("int8-overflowing.safetensors", ["e3.output_scale": 1e37, "e3.weight_scale": 1e38, "e3.bias": 0])
        let huge = try rewritten("int8-huge-output-scale.safetensors", ["e3.output_scale": 3e38])
        for path in [overflowing, huge] {
            XCTAssertThrowsError(try Int8EncoderModel(path: path, batch: 1)) { error in
                XCTAssertTrue("\(error)".contains("e3.output_scale") && "\(error)".contains("at most"), "\(error)")
            }
        }
    }

    func testFuzzedInt8FilesNeverCrashOrLoadWrongValues() throws {
        let (path, original) = try int8File("int8-fuzz.safetensors")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        var random = SeededRandom(seed: 8)
        var loaded = 0, refused = 0
        try forEachFuzzedCopy(of: bytes, at: path, headerBytes: 1500, random: &random) { trial, fuzzed in
            do {
                let model = try Int8EncoderModel(path: fuzzed, batch: 1)
                // Only the checksum's own text is outside the checksum: every value must be intact.
                XCTAssertEqual(model.convolutions, original.convolutions, "trial \(trial)")
                XCTAssertEqual(model.inputQuantization, original.inputQuantization, "trial \(trial)")
                loaded += 1
            } catch is IOError {
                refused += 1
            }
        }
        print("fuzzed int8 files: \(refused) refused, \(loaded) loaded intact")
        XCTAssertGreaterThan(refused, 250, "loaded \(loaded), refused \(refused)")
    }

    func testQDQONNXCarriesTheFileValues() throws {
        let (path, _) = try int8File("int8-onnx.safetensors")
        let model = try Int8EncoderModel(path: path, batch: 1)
        let onnx = try Onnx_ModelProto(serializedBytes: try model.onnxModel(metadata: ["architecture": Int8EncoderModel.architecture]))
        XCTAssertEqual(onnx.opsetImport.first?.version, 13)
        let types = onnx.graph.node.map(\.opType)
        XCTAssertEqual(Array(types.prefix(2)), ["QuantizeLinear", "DequantizeLinear"])
        XCTAssertEqual(types.filter { $0 == "Conv" }.count, 3)
        XCTAssertEqual(types.filter { $0 == "QuantizeLinear" }.count, 4)
        XCTAssertEqual(types.filter { $0 == "DequantizeLinear" }.count, 10)
        XCTAssertEqual(onnx.graph.node.last?.output, ["embedding"])
        let file = try ModelFile(path: path)
        let initializers = Dictionary(uniqueKeysWithValues: onnx.graph.initializer.map { ($0.name, $0) })
        for (name, stored) in file.tensors {
            let initializer = try XCTUnwrap(initializers[name], name)
            XCTAssertEqual(initializer.rawData, Data(try file.bytes(name)), name)
            let expected: Onnx_TensorProto.DataType = switch stored.dtype {
            case .float32: .float
            case .int8: .int8
            case .uint8: .uint8
            case .int32: .int32
            }
            XCTAssertEqual(initializer.dataType, Int32(expected.rawValue), name)
        }
        // Bias scales are input scale x weight scale, per channel (axis 0).
        let e2Scales = try file.values("e2.weight_scale", as: Float.self, dtype: .float32)
        let e1Output = try file.values("e1.output_scale", as: Float.self, dtype: .float32)[0]
        let biasScales = initializers["e2.bias_scale"]!.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(biasScales, e2Scales.map { e1Output * $0 })
    }

    func testCalibrationMethodsAndSources() throws {
        XCTAssertEqual(try Int8EncoderModel.calibrationMethod("minmax"), .minMax)
        XCTAssertEqual(try Int8EncoderModel.calibrationMethod("percentile"), .percentile(99.99))
        XCTAssertEqual(try Int8EncoderModel.calibrationMethod("percentile:99.9"), .percentile(99.9))
        XCTAssertThrowsError(try Int8EncoderModel.calibrationMethod("percentile:20")) { XCTAssertTrue("\($0)".contains("50 < P <= 100"), "\($0)") }
        XCTAssertThrowsError(try Int8EncoderModel.calibrationFrames(source: "no-such-scene")) {
            XCTAssertTrue("\($0)".contains("neither a file nor a scene"), "\($0)")
            guard case .missing(path: "no-such-scene", _)? = $0 as? EncoderInputError else { return XCTFail("not a missing input: \($0)") }
        }
        XCTAssertEqual(try? Int8EncoderModel.calibrationMethod("percentile:99"), .percentile(99))
        XCTAssertThrowsError(try Int8EncoderModel.calibrationMethod("median")) {
            XCTAssertEqual($0 as? EncoderInputError, .unknownCalibrationMethod("median"))
        }
        // A camera that is not there (unplugged) is named, not a crash or an empty calibration.
        XCTAssertThrowsError(try Int8EncoderModel.calibrationFrames(source: "/dev/video97", count: 4)) {
            XCTAssertTrue("\($0)".contains("/dev/video97") && "\($0)".contains("cannot be opened for calibration"), "\($0)")
        }
        // Percentiles clip outliers: ranges no wider than min/max.
        let (encoder, samples) = try floatEncoderAndSamples()
        let minMax = try Int8EncoderModel.calibrated(encoder, calibration: samples, method: .minMax)
        let percentile = try Int8EncoderModel.calibrated(encoder, calibration: samples, method: .percentile(99.0))
        for (a, b) in zip(minMax.layerQuantizations, percentile.layerQuantizations) { XCTAssertLessThanOrEqual(b.scale, a.scale) }
        XCTAssertLessThan(percentile.layerQuantizations.last!.scale, minMax.layerQuantizations.last!.scale)
        // A recording: frames of a Y4M video, thinned evenly.
        let video = temporaryPath("calibration.y4m")
        var bytes = Data("YUV4MPEG2 W32 H32 F30:1 Ip A1:1 Cmono\n".utf8)
        for frame in 0..<10 { bytes += Data("FRAME\n".utf8) + Data((0..<(32 * 32)).map { UInt8(truncatingIfNeeded: $0 * 7 + frame * 13) }) }
        try bytes.write(to: URL(fileURLWithPath: video))
        let frames = try Int8EncoderModel.calibrationFrames(source: video)
        XCTAssertEqual(frames.count, 10)
        XCTAssertEqual(Int8EncoderModel.calibrationSamples(frames, count: 4).count, 4)
    }
}
