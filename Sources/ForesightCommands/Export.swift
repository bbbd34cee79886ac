// `foresight export`: takes the pc64 encoder out of a live-learning checkpoint (or a next-frame
// or motion model file of `foresight train`) and writes it
// as an encoder model file, float32 or (with --int8) quantized after training with activation
// ranges calibrated on a recording, a camera or a synthetic scene; with --onnx also as ONNX (float32, or
// QDQ for int8). Not quantization-aware training (that happens while learning, if at all).

import ArgumentParser
import Foundation
import ForesightNN
import ForesightIO
import ForesightLive
import ForesightSSL
import ForesightSensors
import ForesightExport

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a checkpoint's encoder as a compact model file (and ONNX), float32 or int8.",
        discussion: """
            foresight export live.safetensors --encoder -o encoder.safetensors
            foresight export live.safetensors --encoder --onnx encoder.onnx -o encoder.safetensors
            foresight export live.safetensors --encoder --int8 --calibrate walk.y4m -o encoder-int8.safetensors
            foresight export live.safetensors --encoder --int8 --calibrate moving-shapes \\
                --calibration-method percentile:99.99 --onnx encoder-int8.onnx -o encoder-int8.safetensors
            """
    )

    @Argument(help: "A checkpoint written by `foresight learn --checkpoint` (pc64-motion or pc64-next-frame) or a model file of `foresight train --method next-frame|motion`; with --int8 also a float32 encoder file.")
    var checkpoint: String

    @Flag(help: "Export the encoder (e1..e3); the only export for now.")
    var encoder = false

    @Flag(help: "Quantize the encoder to int8 (uint8 activations, int8 per-channel weights, int32 biases).")
    var int8 = false

    /// What --int8 calibrates on, and how, when the options do not say.
    static let defaultCalibration = (source: SyntheticScene.egoMotion.rawValue, method: "minmax")

    @Option(help: "--int8 calibration frames: a .y4m video, an image folder or file, a camera (/dev/videoN), or a scene (\(SyntheticScene.allCases.map(\.rawValue).joined(separator: ", "))).")
    var calibrate = defaultCalibration.source

    @Option(help: "--int8 calibration of activation ranges: minmax, percentile (99.99) or percentile:P.")
    var calibrationMethod = defaultCalibration.method

    @Option(parsing: .unconditional, help: "--int8: frames to calibrate on (spread evenly over a recording; rendered for a scene).")
    var calibrationFrames = Int8EncoderModel.defaultCalibrationFrames

    @Option(help: "Also write the encoder as ONNX (opset 13; QDQ for --int8) to this path.")
    var onnx: String?

    @Option(name: .shortAndLong, help: "The encoder model file to write (.safetensors).")
    var output: String

    func validate() throws {
        guard encoder else { throw ValidationError("say what to export: --encoder (the only export for now)") }
        try OptionRange.check(calibrationFrames, "--calibration-frames", 1...100_000)
        if !int8 && (calibrationMethod != Self.defaultCalibration.method || calibrate != Self.defaultCalibration.source) {
            throw ValidationError("--calibrate and --calibration-method belong to --int8 export")
        }
        if int8 {
            do { _ = try Int8EncoderModel.calibrationMethod(calibrationMethod) } catch let error as EncoderInputError {
                throw ValidationError(error.description)
            }
        }
    }

    func run() throws {
        let model: any FrameEmbedder
        if int8 {
            let method = try Int8EncoderModel.calibrationMethod(calibrationMethod)
            let frames = try Int8EncoderModel.calibrationFrames(source: calibrate, count: calibrationFrames)
            let samples = Int8EncoderModel.calibrationSamples(frames, count: calibrationFrames)
            model = try Int8EncoderModel.export(checkpoint: checkpoint, to: output, calibration: samples, method: method, source: calibrate)
        } else {
            model = try EncoderModel.export(checkpoint: checkpoint, to: output)
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        let file = try ModelFile(path: output)
        print("wrote \(output): \(file.metadata["architecture"] ?? "?"), \(int8 ? "int8 (calibrated on \(calibrate), \(file.metadata["calibration.method"] ?? "?"))" : "float32"), \(bytes) bytes")
        if let trained = file.metadata["source.ssl.input"], trained != "1,64,64" {
            let size = trained.split(separator: ",").last.map(String.init) ?? trained
            FileHandle.standardError.write(Data("note: the encoder was trained on \(size)x\(size) frames and the encoder file takes 64x64 ones; its convolutions run at any size, but things will look \(size == "32" ? "twice" : "64/\(size) times") as large as in training (train with --size 64 to match)\n".utf8))
        }
        if let onnx {
            var metadata: [String: String] = [:]
            for key in ["architecture", "preprocessing", "input", "output", "quantization", "calibration.method", "calibration.source",
                        "source.architecture", "source.steps", "source.live.steps"] { metadata[key] = file.metadata[key] }
            if let int8Model = model as? Int8EncoderModel {
                try int8Model.writeONNX(to: onnx, metadata: metadata)
            } else if let floatModel = model as? EncoderModel {
                try floatModel.writeONNX(to: onnx, metadata: metadata)
            }
            let onnxBytes = (try? FileManager.default.attributesOfItem(atPath: onnx)[.size] as? Int) ?? 0
            print("wrote \(onnx): ONNX opset \(EncoderModel.onnxOpset), \(int8 ? "int8 QDQ" : "float32"), \(onnxBytes) bytes")
        }
    }
}
