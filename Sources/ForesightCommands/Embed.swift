// `foresight embed`: runs an exported encoder over videos or images and writes one embedding
// row per input frame as NPY (optionally also the exact inputs), or the encoder of a
// `foresight train` model file over images (one feature row per image). Float32 and int8
// encoder files; audio inputs are not embedded yet.

import ArgumentParser
import Foundation
import ForesightCore
import ForesightSSL
import ForesightIO
import ForesightLive
import ForesightSensors
import ForesightExport

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed video frames or images with an exported encoder (NPY output).",
        discussion: """
            foresight embed encoder.safetensors walk.y4m -o walk.npy
            foresight embed encoder.safetensors frames/ a.png b.pgm -o out.npy --save-inputs in.npy
            Each frame is stacked with its 3 predecessors (oldest first); the output has one
            row per frame: the flattened [32, 16, 16] embedding (float32).
            foresight embed simclr.safetensors photos/ -o features.npy
            A model file of `foresight train` embeds images (files, or folders read recursively), each
            resized to the encoder's input: one row of its features per image.
            """
    )

    @Argument(help: "An encoder file written by `foresight export --encoder` (float32 or --int8), or a model file of `foresight train` with an image encoder.")
    var model: String

    @Argument(help: "Inputs in order: .y4m videos, folders of PNG/PGM/PPM images, or image files.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "The embeddings to write (.npy, [frames, 8192] float32).")
    var output: String

    @Option(help: "Also write the encoder's inputs ([frames, 4, 64, 64] float32) to this .npy.")
    var saveInputs: String?

    @Option(parsing: .unconditional, help: "Kernel worker threads (default: the device profile's cores, else 1).")
    var threads: Int?

    @Option(help: "Device profile for the default thread count.")
    var device: String?

    @Option(parsing: .unconditional, help: "Frames per encoder run.")
    var batch: Int = 8

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one input (.y4m, image folder or image file)") }
        if let threads { try OptionRange.checkThreads(threads) }
        try OptionRange.check(batch, "--batch", 1...256, unit: " frames")
    }

    func run() throws {
        let file = try ModelFile(path: model)
        if let method = file.metadata[TrainingMetadata.method], file.metadata[TrainingMetadata.backbone] == nil {
            throw ValidationError("\(model) is a model file of \(method), which learns no image encoder; embed takes an encoder file or the model file of a method that learns one")
        }
        if file.metadata[TrainingMetadata.backbone] != nil {
            guard saveInputs == nil else { throw ValidationError("--save-inputs belongs to exported encoder files") }
            let start = MonotonicClock.nanoseconds()
            let (features, count, dimension) = try EvaluationRun.embedImages(model: model, inputs: inputs)
            let seconds = MonotonicClock.seconds(since: start)
            try features.withUnsafeBufferPointer { try NPY.write(path: output, shape: [count, dimension], values: $0) }
            print("embedded \(count) images in \(String(format: "%.3f", seconds)) s -> \(output) [\(count), \(dimension)]")
            return
        }
        let threadCount = try threads ?? device.map { try DeviceProfile.load(named: $0).cores } ?? 1
        let encoder = try EncoderFiles.open(model, batch: batch, threads: threadCount)
        let frames = try EncoderFrames.read(inputs)
        guard !frames.isEmpty else { throw ValidationError("the inputs hold no frames") }
        let outputs = UnsafeMutableBufferPointer<Float>.allocate(capacity: frames.count * EncoderModel.outputElements)
        defer { outputs.deallocate() }
        let savedInputs = saveInputs.map { _ in UnsafeMutableBufferPointer<Float>.allocate(capacity: frames.count * EncoderModel.inputElements) }
        defer { savedInputs?.deallocate() }
        let start = MonotonicClock.nanoseconds()
        encoder.embed(frames, outputs: outputs.baseAddress!, inputs: savedInputs?.baseAddress)
        let seconds = MonotonicClock.seconds(since: start)
        try NPY.write(path: output, shape: [frames.count, EncoderModel.outputElements], values: UnsafeBufferPointer(outputs))
        if let saveInputs, let savedInputs {
            try NPY.write(path: saveInputs, shape: [frames.count] + EncoderModel.inputShape, values: UnsafeBufferPointer(savedInputs))
        }
        print("embedded \(frames.count) frames in \(String(format: "%.3f", seconds)) s (\(threadCount) thread(s)) -> \(output) [\(frames.count), \(EncoderModel.outputElements)]")
    }
}
