// Exported encoders: the pc64 encoder (e1..e3) taken out of a live-learning checkpoint and
// written as its own self-describing model file, and loaded back into a forward-only program.
// Float32 only: the int8 encoder file is Int8EncoderFile.swift.

import Foundation
import ForesightCore
import ForesightNN
import ForesightIO

/// A pc64 encoder ready to run: [N, 4, 64, 64] grey frames in [0, 1] -> [N, 32, 16, 16].
///
/// ```swift
/// let encoder = try EncoderModel(path: "encoder.safetensors", batch: 8)
/// encoder.input.floatPointer.update(from: frames, count: 8 * EncoderModel.inputElements)
/// encoder.run()
/// let embeddings = encoder.output   // [8, 32, 16, 16]
/// ```
public final class EncoderModel: FrameEmbedder {
    /// The `architecture` metadata of an exported encoder file.
    public static let architecture = "pc64-encoder"
    /// Input of one sample: past frames stacked as channels, oldest first (K = 4, 64 x 64).
    public static let inputShape = [4, 64, 64]
    /// Output of one sample: [32, 16, 16].
    public static let outputShape = [32, 16, 16]
    /// Floats in one sample's input (4 * 64 * 64).
    public static let inputElements = 4 * 64 * 64
    /// Floats in one sample's embedding (32 * 16 * 16).
    public static let outputElements = 32 * 16 * 16
    /// The encoder's parameters with their shapes, in file order.
    public static let parameters: [(name: String, shape: [Int])] = [
        ("e1.weight", [16, 4, 3, 3]), ("e1.bias", [16]),
        ("e2.weight", [32, 16, 3, 3]), ("e2.bias", [32]),
        ("e3.weight", [32, 32, 3, 3]), ("e3.bias", [32]),
    ]
    /// How inputs are made from pixels, written into every exported file.
    public static let preprocessing = """
        grey: the Y plane of Y4M video, BT.601 luma of colour images, each divided by 255; \
        area (box-filter) resized to 64x64; each frame stacked with its 3 predecessors as the 4 \
        channels, oldest first (the first frames of a sequence repeat its first frame)
        """

    /// Samples per run.
    public let batch: Int
    /// The forward-only program of the encoder.
    public let program: Program
    /// The input tensor [batch, 4, 64, 64].
    public let input: Tensor
    /// The embedding tensor [batch, 32, 16, 16], valid after `run()`.
    public var output: Tensor { program.tensor(outputID) }
    let outputID: TensorID
    public var inputPointer: UnsafeMutablePointer<Float> { input.floatPointer }
    public var outputPointer: UnsafePointer<Float> { UnsafePointer(output.floatPointer) }

    /// Builds the encoder program for `batch` samples with `threads` kernel workers; its
    /// weights are PyTorch-style random until `load(from:)`.
    public init(batch: Int, threads: Int = 1) throws {
        precondition(batch >= 1, "batch must be at least 1, got \(batch)")
        let graph = Graph()
        let frames = try graph.input("frames", [batch] + EncoderModel.inputShape)
        outputID = try Models.encoder(graph, frames)
        program = try Program(graph, threads: threads)
        program.initializeParameters(seed: 1)
        input = program.tensor(frames)
        self.batch = batch
    }

    /// Loads an exported encoder file (see `export(checkpoint:to:)`).
    public convenience init(path: String, batch: Int, threads: Int = 1) throws {
        let file = try ModelFile(path: path)
        try EncoderModel.checkEncoderFile(file)
        try self.init(batch: batch, threads: threads)
        try load(from: file)
    }

    /// Copies e1..e3 from `file` (an encoder file or a checkpoint), checking every shape.
    public func load(from file: ModelFile) throws {
        for (name, _) in EncoderModel.parameters {
            guard let id = program.graph.tensor(named: name) else { preconditionFailure("encoder graph lacks \(name)") }
            try file.load(name, into: program.tensor(id))
        }
    }

    /// Runs the encoder on `input`; the result is in `output`.
    public func run() { program.forward() }

    /// The encoder's parameters as named tensors, in file order.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        EncoderModel.parameters.map { ($0.name, program.tensor(program.graph.tensor(named: $0.name)!)) }
    }

    /// Writes this encoder as an encoder file with its architecture, input and output specs.
    public func write(to path: String, extraMetadata: [String: String] = [:]) throws {
        var metadata = extraMetadata
        metadata["architecture"] = EncoderModel.architecture
        metadata["input"] = "frames [N, 4, 64, 64] float32, grey in [0, 1]"
        metadata["input.shape"] = "N,4,64,64"
        metadata["output"] = "embedding [N, 32, 16, 16] float32 (ReLU of e3)"
        metadata["output.shape"] = "N,32,16,16"
        metadata["preprocessing"] = EncoderModel.preprocessing
        metadata["quantization"] = "none (float32)"
        try ModelFile.write(to: path, metadata: metadata, tensors: namedParameters)
    }

    /// Checks that `file` is an exported pc64 encoder: architecture, specs and every tensor.
    public static func checkEncoderFile(_ file: ModelFile) throws {
        func fail(_ problem: String) -> IOError { IOError.modelFile(path: file.path, problem: problem) }
        guard let found = file.metadata["architecture"] else {
            throw fail("has no architecture entry: not an exported encoder")
        }
        guard found == architecture else {
            let hint = found == Int8EncoderModel.architecture ? " (an int8 encoder file: load it with Int8EncoderModel or EncoderFiles.open)"
                : found.hasPrefix("pc64") ? " (a checkpoint: export it first with `foresight export CHECKPOINT --encoder`)" : ""
            throw fail("holds architecture \(found), but an encoder file must be \(architecture)\(hint)")
        }
        if let spec = file.metadata["input.shape"], spec != "N,4,64,64" {
            throw fail("declares input shape \(spec); this Foresight runs pc64 encoders on N,4,64,64")
        }
        try checkTensors(file)
    }

    /// Checks that `file` holds e1..e3 as float32 with the encoder's shapes.
    static func checkTensors(_ file: ModelFile) throws {
        for (name, shape) in parameters {
            guard let stored = file.tensors[name] else {
                throw IOError.modelFile(path: file.path, problem: "has no tensor \(name): the pc64 encoder needs \(parameters.map(\.name).joined(separator: ", "))")
            }
            guard stored.dtype == .float32, stored.shape == shape else {
                throw IOError.modelFile(path: file.path, problem: "stores \(name) as \(stored.dtype) \(stored.shape), but the pc64 encoder needs float32 \(shape)")
            }
        }
    }

    /// Whether a model file of `architecture` holds a pc64 encoder to export: a live-learning
    /// checkpoint (pc64-next-frame, pc64-motion) or a model file of `foresight train --method
    /// next-frame|motion` (ssl-next-frame, ssl-motion), not an encoder file itself.
    static func holdsExportableEncoder(_ architecture: String) -> Bool {
        (architecture.hasPrefix("pc64") && architecture != EncoderModel.architecture && architecture != Int8EncoderModel.architecture)
            || architecture == "ssl-next-frame" || architecture == "ssl-motion"
    }

    /// The source model file's facts an exported encoder keeps, as "source.KEY" metadata.
    static func provenance(of file: ModelFile, checkpoint: String) -> [String: String] {
        var provenance = ["source.architecture": file.metadata["architecture"] ?? "unknown",
                          "source.checkpoint": (checkpoint as NSString).lastPathComponent]
        // (live.steps and ssl.steps: files written before checkpoints shared the `steps` key.)
        for key in ["objective", Checkpoint.Key.steps, "live.steps", "live.frames", Checkpoint.Key.optimizerSteps, "ssl.method", "ssl.steps", "ssl.input"] {
            provenance["source." + key] = file.metadata[key]
        }
        return provenance
    }

    /// Takes the encoder out of `checkpoint` (a live-learning checkpoint, or a next-frame or
    /// motion model file trained with 4 past frames) and writes it to `path`; returns the
    /// written encoder.
    ///
    /// ```swift
    /// let encoder = try EncoderModel.export(checkpoint: "live.safetensors", to: "encoder.safetensors")
    /// ```
    @discardableResult
    public static func export(checkpoint: String, to path: String, threads: Int = 1) throws -> EncoderModel {
        let file = try ModelFile(path: checkpoint)
        let source = file.metadata["architecture"] ?? "unknown"
        guard holdsExportableEncoder(source) else {
            throw IOError.modelFile(path: checkpoint, problem: "holds architecture \(source); export takes a pc64 checkpoint (pc64-motion or pc64-next-frame) or a next-frame or motion model file")
        }
        try checkTensors(file)
        let encoder = try EncoderModel(batch: 1, threads: threads)
        try encoder.load(from: file)
        try encoder.write(to: path, extraMetadata: provenance(of: file, checkpoint: checkpoint))
        return encoder
    }
}
