// `foresight inspect`: prints a model file's metadata, its tensors (dtype, shape, bytes) and
// whether its checksum and format version hold; for encoder files (float32 or int8), whether
// every tensor and quantization parameter is usable. Read-only; not a tensor dump.

import ArgumentParser
import Foundation
import ForesightIO
import ForesightLive
import ForesightSSL
import ForesightSensors
import ForesightExport

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model file's metadata, tensors and checksum status.",
        discussion: "foresight inspect encoder.safetensors"
    )

    @Argument(help: "A model file (.safetensors) written by Foresight.")
    var file: String

    func run() throws {
        let model: ModelFile
        do {
            model = try ModelFile(path: file)
        } catch let error as IOError {
            print("checksum/format: FAILED: \(error.message)")
            throw ExitCode.failure
        }
        print("\(file): format \(model.metadata["foresight.format"] ?? "?"), checksum \(model.metadata["foresight.checksum"] ?? "?") OK")
        print("metadata:")
        for key in model.metadata.keys.sorted() where !key.hasPrefix("foresight.") {
            print("  \(key): \(model.metadata[key]!)")
        }
        print("tensors:")
        let tensors = model.tensors.values.sorted { $0.offset < $1.offset }
        let width = tensors.map(\.name.count).max() ?? 0
        for tensor in tensors {
            let name = tensor.name.padding(toLength: width, withPad: " ", startingAt: 0)
            print("  \(name)  \(tensor.dtype)  \(tensor.shape)  \(tensor.byteCount) bytes")
        }
        print("total: \(tensors.count) tensors, \(tensors.reduce(0) { $0 + $1.byteCount }) bytes of data")
        let architecture = model.metadata["architecture"]
        if architecture == EncoderModel.architecture || architecture == Int8EncoderModel.architecture {
            do {
                if architecture == EncoderModel.architecture {
                    try EncoderModel.checkEncoderFile(model)
                } else {
                    try Int8EncoderModel.checkFile(model)
                    let int8 = try Int8EncoderModel(file: model, batch: 1)
                    let input = int8.inputQuantization
                    print("int8: input scale \(input.scale) zero point \(input.zeroPoint)")
                    for layer in int8.convolutions {
                        let scales = layer.weightScales
                        print("  \(layer.name): output scale \(layer.output.scale) zero point \(layer.output.zeroPoint), "
                              + "weight scales \(scales.min()!)...\(scales.max()!), bias \(layer.bias.min()!)...\(layer.bias.max()!)")
                    }
                }
                print("encoder: complete (runs with `foresight embed`)")
            } catch let error as IOError {
                print("encoder: INCOMPLETE: \(error.message)")
                throw ExitCode.failure
            }
        }
    }
}
