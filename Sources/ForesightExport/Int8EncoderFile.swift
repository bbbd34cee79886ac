// int8 encoder files: the pc64 encoder quantized after training (activation ranges calibrated
// on frames of a recording or a synthetic scene), written as safetensors holding int8 weight
// codes, per-output-channel scales, int32 biases and the uint8 activations' scales and zero
// points, and loaded back with every value checked before it reaches a kernel.
// Not quantization-aware training (ForesightNN/Quantization/Int8Training.swift) and not the
// float32 encoder file (EncoderExport.swift).

import Foundation
import ForesightCore
import ForesightNN
import ForesightSensors
import ForesightIO

/// A pc64 encoder running in int8: [N, 4, 64, 64] grey frames in [0, 1] (float32) are
/// quantized to uint8, run through e1..e3 as int8 convolutions with fused ReLU, and the
/// result dequantized to [N, 32, 16, 16] float32.
///
/// File layout (all tensors little-endian; scalars have shape [1]):
/// - `input.scale` F32, `input.zero_point` U8: how frames become uint8;
/// - per layer L in e1, e2, e3: `L.weight` I8 [F, C, 3, 3] codes in [-127, 127],
///   `L.weight_scale` F32 [F], `L.bias` I32 [F] at scale input scale x weight scale with zero
///   point 0 (ONNX's QLinearConv convention), `L.output_scale` F32, `L.output_zero_point` U8.
///
/// ```swift
/// let samples = Int8EncoderModel.calibrationSamples(try Int8EncoderModel.calibrationFrames(source: "moving-shapes"))
/// let float = try EncoderModel(path: "encoder.safetensors", batch: 1)
/// let int8 = try Int8EncoderModel(quantizing: float, calibration: samples, method: .minMax, batch: 8)
/// try int8.write(to: "encoder-int8.safetensors")
/// let loaded = try Int8EncoderModel(path: "encoder-int8.safetensors", batch: 8)
/// loaded.input.update(from: x, count: 8 * EncoderModel.inputElements)
/// loaded.run()                  // loaded.output: [8, 32, 16, 16]
/// ```
public final class Int8EncoderModel: FrameEmbedder {
    /// The `architecture` metadata of an int8 encoder file.
    public static let architecture = "pc64-encoder-int8"
    /// Version of the int8 tensor layout above (metadata `int8.format`).
    public static let int8Format = "1"
    /// The convolutions: name, input and output channels, stride (all 3x3, padding 1, ReLU).
    static let layers: [(name: String, inChannels: Int, outChannels: Int, stride: Int)] = [
        ("e1", 4, 16, 2), ("e2", 16, 32, 2), ("e3", 32, 32, 1),
    ]

    /// Samples per run.
    public let batch: Int
    /// The int8 runtime.
    public let model: Int8Model
    /// How float32 inputs become uint8.
    public let inputQuantization: ActivationQuantization
    /// e1..e3 as stored.
    public let convolutions: [Int8StoredConvolution]
    /// Input [batch, 4, 64, 64] float32.
    public let input: UnsafeMutablePointer<Float>
    /// Output [batch, 32, 16, 16] float32 (dequantized), valid after `run()`.
    public let output: UnsafeMutablePointer<Float>
    /// The file's metadata when loaded from one (empty otherwise).
    public let metadata: [String: String]

    public var inputPointer: UnsafeMutablePointer<Float> { input }
    public var outputPointer: UnsafePointer<Float> { UnsafePointer(output) }

    /// An encoder from stored layers (checked by Int8Model) for `batch` samples.
    public init(input inputQuantization: ActivationQuantization, convolutions: [Int8StoredConvolution], batch: Int,
                threads: Int = 1, metadata: [String: String] = [:]) throws {
        precondition(batch >= 1, "batch must be at least 1, got \(batch)")
        model = try Int8Model(inputShape: EncoderModel.inputShape, input: inputQuantization, convolutions: convolutions,
                              batch: batch, threads: threads)
        guard model.outputShape == [batch] + EncoderModel.outputShape else {
            throw ModelError.invalidStoredLayer(tensor: "e3", problem: "the layers produce \(model.outputShape), not [N, 32, 16, 16]")
        }
        self.batch = batch
        self.inputQuantization = inputQuantization
        self.convolutions = convolutions
        self.metadata = metadata
        input = .allocate(capacity: batch * EncoderModel.inputElements)
        input.initialize(repeating: 0, count: batch * EncoderModel.inputElements)
        output = .allocate(capacity: batch * EncoderModel.outputElements)
        output.initialize(repeating: 0, count: batch * EncoderModel.outputElements)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// Quantizes a float32 encoder, calibrating activation ranges on `calibration` samples
    /// ([4 * 64 * 64] each, as `calibrationSamples` makes them).
    public convenience init(quantizing encoder: EncoderModel, calibration: [[Float]], method: CalibrationMethod = .minMax,
                            batch: Int, threads: Int = 1) throws {
        let calibrated = try Int8EncoderModel.calibrated(encoder, calibration: calibration, method: method)
        guard let stored = calibrated.storedConvolutions else { preconditionFailure("the pc64 encoder is a chain of convolutions") }
        try self.init(input: calibrated.inputQuantization, convolutions: stored, batch: batch, threads: threads)
    }

    /// The in-memory int8 model of `encoder` (batch 1) that files are made from.
    public static func calibrated(_ encoder: EncoderModel, calibration: [[Float]], method: CalibrationMethod = .minMax,
                                  threads: Int = 1) throws -> Int8Model {
        let graph = encoder.program.graph
        guard let frames = graph.tensor(named: "frames") else { preconditionFailure("encoder graph lacks its input") }
        return try Int8Model(graph: graph, from: frames, to: encoder.outputID, batch: 1,
                             parameter: { UnsafePointer(encoder.program.tensor($0).floatPointer) },
                             calibration: calibration, method: method, threads: threads)
    }

    /// Loads an int8 encoder file, checking every tensor and parameter.
    public convenience init(path: String, batch: Int, threads: Int = 1) throws {
        try self.init(file: try ModelFile(path: path), batch: batch, threads: threads)
    }

    /// Builds the encoder from a read model file; anything missing, mistyped, misshaped or out
    /// of range throws a `IOError` naming the tensor.
    public convenience init(file: ModelFile, batch: Int, threads: Int = 1) throws {
        let (inputQuantization, convolutions) = try Int8EncoderModel.read(file)
        do {
            try self.init(input: inputQuantization, convolutions: convolutions, batch: batch, threads: threads, metadata: file.metadata)
        } catch let error as ModelError {
            throw IOError.modelFile(path: file.path, problem: "\(error)")
        } catch let error as CoreError {
            throw IOError.modelFile(path: file.path, problem: "\(error)")
        }
    }

    /// Checks that `file` is a complete int8 encoder file (what `foresight inspect` reports).
    public static func checkFile(_ file: ModelFile) throws {
        let (inputQuantization, convolutions) = try read(file)
        do {
            _ = try Int8Model(inputShape: EncoderModel.inputShape, input: inputQuantization, convolutions: convolutions, batch: 1)
        } catch {
            throw IOError.modelFile(path: file.path, problem: "\(error)")
        }
    }

    /// Reads and checks the stored parameters of `file`.
    static func read(_ file: ModelFile) throws -> (ActivationQuantization, [Int8StoredConvolution]) {
        func fail(_ problem: String) -> IOError { IOError.modelFile(path: file.path, problem: problem) }
        guard let found = file.metadata["architecture"] else { throw fail("has no architecture entry: not an exported encoder") }
        guard found == architecture else {
            let hint = found == EncoderModel.architecture ? " (a float32 encoder file)"
                : found.hasPrefix("pc64") ? " (a checkpoint: export it first with `foresight export CHECKPOINT --encoder --int8`)" : ""
            throw fail("holds architecture \(found), but an int8 encoder file must be \(architecture)\(hint)")
        }
        guard let version = file.metadata["int8.format"] else { throw fail("has no int8.format entry: its int8 layout is unknown") }
        guard version == int8Format else {
            throw fail("is int8 format version \(version); this Foresight reads int8 format \(int8Format)")
        }
        if let spec = file.metadata["input.shape"], spec != "N,4,64,64" {
            throw fail("declares input shape \(spec); this Foresight runs pc64 encoders on N,4,64,64")
        }
        func array<T: BitwiseCopyable>(_ name: String, _ dtype: DType, _ shape: [Int], as type: T.Type) throws -> [T] {
            guard let stored = file.tensors[name] else {
                throw fail("has no tensor \(name): an int8 pc64 encoder needs input.scale, input.zero_point and weight, weight_scale, bias, output_scale, output_zero_point of e1, e2, e3")
            }
            guard stored.dtype == dtype, stored.shape == shape else {
                throw fail("stores \(name) as \(stored.dtype) \(stored.shape), but the int8 encoder needs \(dtype) \(shape)")
            }
            return try file.values(name, as: T.self, dtype: dtype)
        }
        func scale(_ name: String) throws -> Float {
            let value = try array(name, .float32, [1], as: Float.self)[0]
            guard value.isFinite, value > 0 else { throw fail("\(name) is \(value); a quantization scale must be positive and finite") }
            return value
        }
        func activation(_ prefix: String) throws -> ActivationQuantization {
            let scaleName = prefix + (prefix == "input" ? ".scale" : ".output_scale")
            let zeroName = prefix + (prefix == "input" ? ".zero_point" : ".output_zero_point")
            let value = try scale(scaleName)
            let zero = try array(zeroName, .uint8, [1], as: UInt8.self)[0]
            do {
                return try ActivationQuantization(scale: value, zeroPoint: Int32(zero), tensor: scaleName)
            } catch {
                throw fail("\(error)")
            }
        }
        let inputQuantization = try activation("input")
        var convolutions: [Int8StoredConvolution] = []
        for layer in layers {
            let codes = try array(layer.name + ".weight", .int8, [layer.outChannels, layer.inChannels, 3, 3], as: Int8.self)
            if let bad = codes.firstIndex(of: -128) {
                throw fail("\(layer.name).weight holds code -128 at element \(bad), outside the symmetric int8 range [-127, 127]")
            }
            let scales = try array(layer.name + ".weight_scale", .float32, [layer.outChannels], as: Float.self)
            for (channel, value) in scales.enumerated() where !(value.isFinite && value > 0) {
                throw fail("\(layer.name).weight_scale[\(channel)] is \(value); a quantization scale must be positive and finite")
            }
            let bias = try array(layer.name + ".bias", .int32, [layer.outChannels], as: Int32.self)
            convolutions.append(Int8StoredConvolution(name: layer.name, outChannels: layer.outChannels, kernel: 3, stride: layer.stride,
                                                      padding: 1, relu: true, weightCodes: codes, weightScales: scales, bias: bias,
                                                      output: try activation(layer.name)))
        }
        return (inputQuantization, convolutions)
    }

    /// Writes the encoder as an int8 encoder file (metadata: architecture, int8 layout
    /// version, quantization scheme, input and output specs, preprocessing, plus `extraMetadata`).
    public func write(to path: String, extraMetadata: [String: String] = [:]) throws {
        var metadata = extraMetadata
        metadata["architecture"] = Int8EncoderModel.architecture
        metadata["int8.format"] = Int8EncoderModel.int8Format
        metadata["input"] = "frames [N, 4, 64, 64] float32, grey in [0, 1] (quantized with input.scale, input.zero_point)"
        metadata["input.shape"] = "N,4,64,64"
        metadata["output"] = "embedding [N, 32, 16, 16] float32 (e3's uint8 output dequantized)"
        metadata["output.shape"] = "N,32,16,16"
        metadata["preprocessing"] = EncoderModel.preprocessing
        metadata["quantization"] = "int8: uint8 activations per tensor, int8 weights per output channel (symmetric, [-127, 127]), int32 biases at input scale x weight scale, ReLU fused"
        func scalar<T>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
        func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }
        var arrays: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])] = [
            ("input.scale", .float32, [1], scalar(inputQuantization.scale)),
            ("input.zero_point", .uint8, [1], [UInt8(inputQuantization.zeroPoint)]),
        ]
        for (layer, stored) in zip(Int8EncoderModel.layers, convolutions) {
            arrays += [
                (layer.name + ".weight", .int8, [layer.outChannels, layer.inChannels, 3, 3], bytes(stored.weightCodes)),
                (layer.name + ".weight_scale", .float32, [layer.outChannels], bytes(stored.weightScales)),
                (layer.name + ".bias", .int32, [layer.outChannels], bytes(stored.bias)),
                (layer.name + ".output_scale", .float32, [1], scalar(stored.output.scale)),
                (layer.name + ".output_zero_point", .uint8, [1], [UInt8(stored.output.zeroPoint)]),
            ]
        }
        try ModelFile.write(to: path, metadata: metadata, arrays: arrays)
    }

    /// Runs the encoder on `input`; the result is in `output`. Allocates nothing.
    public func run() { model.run(input: input, output: output) }

    /// Takes the encoder out of live-learning checkpoint `checkpoint`, quantizes it with
    /// activation ranges from `calibration` samples and writes it to `path`.
    ///
    /// ```swift
    /// let samples = Int8EncoderModel.calibrationSamples(try Int8EncoderModel.calibrationFrames(source: "walk.y4m"))
    /// try Int8EncoderModel.export(checkpoint: "live.safetensors", to: "encoder-int8.safetensors",
    ///                             calibration: samples, method: .percentile(99.99), source: "walk.y4m")
    /// ```
    @discardableResult
    public static func export(checkpoint: String, to path: String, calibration: [[Float]], method: CalibrationMethod,
                              source: String) throws -> Int8EncoderModel {
        let file = try ModelFile(path: checkpoint)
        let architecture = file.metadata["architecture"] ?? "unknown"
        let float = try EncoderModel(batch: 1)
        if architecture == EncoderModel.architecture {
            try EncoderModel.checkEncoderFile(file)
        } else {
            guard EncoderModel.holdsExportableEncoder(architecture) else {
                throw IOError.modelFile(path: checkpoint, problem: "holds architecture \(architecture); int8 export takes a pc64 checkpoint, a next-frame or motion model file, or a float32 encoder file")
            }
            try EncoderModel.checkTensors(file)
        }
        try float.load(from: file)
        let int8 = try Int8EncoderModel(quantizing: float, calibration: calibration, method: method, batch: 1)
        var metadata = EncoderModel.provenance(of: file, checkpoint: checkpoint)
        metadata["calibration.method"] = describe(method)
        metadata["calibration.source"] = (source as NSString).lastPathComponent
        metadata["calibration.samples"] = String(calibration.count)
        try int8.write(to: path, extraMetadata: metadata)
        return int8
    }

    /// "min-max" or "percentile P".
    public static func describe(_ method: CalibrationMethod) -> String {
        switch method {
        case .minMax: "min-max"
        case let .percentile(p): "percentile \(p)"
        }
    }

    /// Parses `minmax` / `min-max`, `percentile` (99.99) or `percentile:P` (50 < P <= 100).
    public static func calibrationMethod(_ text: String) throws -> CalibrationMethod {
        let lowered = text.lowercased()
        if lowered == "minmax" || lowered == "min-max" { return .minMax }
        if lowered == "percentile" { return .percentile(99.99) }
        if lowered.hasPrefix("percentile:"), let p = Double(lowered.dropFirst("percentile:".count)), p > 50, p <= 100 {
            return .percentile(p)
        }
        throw EncoderInputError.unknownCalibrationMethod(text)
    }

    /// Frames calibrated on when nothing else is said.
    public static let defaultCalibrationFrames = 64

    /// Frames (64 x 64 grey in [0, 1]) to calibrate on: `count` frames of a synthetic scene
    /// (`ego-motion`, `moving-shapes`, `moving-digits`), or every frame of a recording read as
    /// `foresight embed` reads it (Y4M, image folder, image file).
    public static func calibrationFrames(source: String, count: Int = defaultCalibrationFrames, seed: UInt64 = 11) throws -> [[Float]] {
        precondition(count >= 1, "calibration needs at least one frame")
        let size = EncoderFrames.size
        func render(_ draw: (UnsafeMutablePointer<Float>) -> Void) -> [[Float]] {
            (0..<count).map { _ in
                var frame = [Float](repeating: 0, count: size * size)
                frame.withUnsafeMutableBufferPointer { draw($0.baseAddress!) }
                return frame
            }
        }
        switch SyntheticScene(rawValue: source) {
        case .egoMotion:
            var world = EgoMotionScene(width: size, height: size, seed: seed)
            return render { world.render(into: $0); world.advance() }
        case .commanded:
            var world = EgoMotionScene.commanded(width: size, height: size, seed: seed)
            return render { world.render(into: $0); world.advance() }
        case .movingShapes:
            var world = MovingShapes(width: size, height: size, seed: seed)
            return render { world.render(into: $0); world.advance() }
        case .movingDigits:
            var world = MovingDigits(width: size, height: size, seed: seed)
            return render { world.render(into: $0); world.advance() }
        case nil where source.hasPrefix("/dev/video"):
            return try cameraFrames(path: source, count: count)
        case nil:
            guard FileManager.default.fileExists(atPath: source) else {
                throw EncoderInputError.missing(path: source, takes: "is neither a file nor a scene (\(SyntheticScene.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let frames = try EncoderFrames.read([source])
            guard !frames.isEmpty else { throw EncoderInputError.noFrames(path: source, problem: "holds no frames to calibrate on") }
            return frames
        }
    }

    /// `count` consecutive frames from the camera at `path` (V4L2), greyscale and resized to the
    /// encoder's size by the capture thread; a camera that cannot be opened, or that delivers no
    /// frame within 5 seconds, is a clear error naming the device.
    static func cameraFrames(path: String, count: Int) throws -> [[Float]] {
        let capture: CameraCapture
        do { capture = try CameraCapture(path: path, outputWidth: EncoderFrames.size, outputHeight: EncoderFrames.size) }
        catch { throw EncoderInputError.camera(path: path, problem: "cannot be opened for calibration: \(error)") }
        capture.start()
        defer { capture.stop() }
        var frames: [[Float]] = []
        while frames.count < count {
            let frame = capture.ring.waitOldest(timeoutNanoseconds: 5_000_000_000) { pixels, _ in Array(pixels) }
            guard let frame else {
                throw EncoderInputError.camera(path: path, problem: "delivered \(frames.count) of \(count) calibration frames, then none for 5 s (\(capture.status.lastError.map { "\($0)" } ?? "no error reported"))")
            }
            frames.append(frame)
        }
        return frames
    }

    /// Encoder inputs [4 * 64 * 64] from at most `count` frames spread evenly over `frames`,
    /// each stacked with its 3 predecessors.
    public static func calibrationSamples(_ frames: [[Float]], count: Int = defaultCalibrationFrames) -> [[Float]] {
        precondition(!frames.isEmpty && count >= 1, "calibration needs at least one frame")
        let picked = frames.count <= count ? Array(frames.indices) : (0..<count).map { $0 * (frames.count - 1) / max(1, count - 1) }
        return picked.map { index in
            var sample = [Float](repeating: 0, count: EncoderModel.inputElements)
            sample.withUnsafeMutableBufferPointer { EncoderFrames.stack(frames, index: index, into: $0.baseAddress!) }
            return sample
        }
    }
}
