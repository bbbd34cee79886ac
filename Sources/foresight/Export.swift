// `foresight export`: takes the pc64 encoder out of a live-learning checkpoint and writes it
// as an encoder model file and, with --onnx, as float32 ONNX. Not int8 yet: --int8 and
// --calibrate are accepted and refused with a message until the int8 export lands.

import ArgumentParser
import Foundation
import ForesightLearn

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a checkpoint's encoder as a compact model file (and ONNX).",
        discussion: """
            foresight export live.safetensors --encoder -o encoder.safetensors
            foresight export live.safetensors --encoder --onnx encoder.onnx -o encoder.safetensors
            """
    )

    @Argument(help: "A checkpoint written by `foresight learn --checkpoint` (pc64-motion or pc64-next-frame).")
    var checkpoint: String

    @Flag(help: "Export the encoder (e1..e3); the only export for now.")
    var encoder = false

    @Flag(help: "int8 export (not available yet: waits for the int8 model file).")
    var int8 = false

    @Option(help: "Calibration frames for --int8 (not available yet).")
    var calibrate: String?

    @Option(help: "Also write the encoder as float32 ONNX (opset 13) to this path.")
    var onnx: String?

    @Option(name: .shortAndLong, help: "The encoder model file to write (.safetensors).")
    var output: String

    func validate() throws {
        guard encoder else { throw ValidationError("say what to export: --encoder (the only export for now)") }
        if int8 || calibrate != nil {
            throw ValidationError("int8 export is not available yet (it waits for the int8 model file); export float32 without --int8/--calibrate")
        }
    }

    func run() throws {
        let model = try EncoderModel.export(checkpoint: checkpoint, to: output)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print("wrote \(output): \(EncoderModel.architecture), float32, \(bytes) bytes")
        if let onnx {
            let file = try ModelFile(path: output)
            var metadata: [String: String] = [:]
            for key in ["architecture", "preprocessing", "input", "output", "source.architecture", "source.live.steps"] { metadata[key] = file.metadata[key] }
            try model.writeONNX(to: onnx, metadata: metadata)
            let onnxBytes = (try? FileManager.default.attributesOfItem(atPath: onnx)[.size] as? Int) ?? 0
            print("wrote \(onnx): ONNX opset \(EncoderModel.onnxOpset), float32, \(onnxBytes) bytes")
        }
    }
}
