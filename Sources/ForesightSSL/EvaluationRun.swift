// Evaluation of a trained model file's image encoder, as `foresight eval` does it: rebuilds the
// encoder from the file's backbone specification and input shape, loads its parameters by name,
// and on two labelled image folders scores a linear probe or k-nearest neighbours on the frozen
// features, or fine-tunes the encoder with a linear head (FineTuning.swift).
// Not for methods that learn no image encoder (text, audio).

import Foundation
import ForesightCore
import ForesightNN
import ForesightIO

/// The classifier scored on the encoder: on its frozen embeddings, or trained with it.
public enum ProbeKind: String, Sendable, CaseIterable {
    /// `LinearProbe`: a linear layer trained on the standardised features.
    case linear
    /// `KNearestNeighbors` with k = 5, cosine similarity.
    case knn
    /// `FineTuner`: the encoder and a linear head trained end to end with cross-entropy.
    case finetune
}

/// The score of one probe on a test set.
public struct EvaluationResult: Sendable, Equatable {
    public var probe: ProbeKind
    /// Fraction of the test images classified correctly.
    public var accuracy: Double
    public var trainCount: Int
    public var testCount: Int
    public var classCount: Int
    /// The same probe on the same architecture at its random initialisation, when asked for
    /// (for `finetune`, the same training from the random initialisation: supervised training from scratch).
    public var randomAccuracy: Double?

    /// One JSON object: {"probe", "accuracy", "n_train", "n_test"} and "random_accuracy" when measured.
    public var json: String {
        var object: [String: Any] = ["probe": probe.rawValue, "accuracy": accuracy, "n_train": trainCount, "n_test": testCount]
        if let randomAccuracy { object["random_accuracy"] = randomAccuracy }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// One readable line.
    public var line: String {
        let name = probe == .finetune ? "fine-tuned encoder" : probe.rawValue + " probe"
        var text = String(format: "%@: %.2f%% of %d test images correct (%d training images, %d classes)",
                          name, 100 * accuracy, testCount, trainCount, classCount)
        if let randomAccuracy { text += String(format: "; the random encoder: %.2f%%", 100 * randomAccuracy) }
        return text
    }
}

/// Probing or fine-tuning of a model file's image encoder on labelled image folders.
///
/// ```swift
/// let result = try EvaluationRun.evaluate(model: "simclr.safetensors", probe: .linear, train: "digits/train", test: "digits/test")
/// print(result.json)   // {"accuracy":0.93,"n_test":540,"n_train":1257,"probe":"linear"}
/// let tuned = try EvaluationRun.evaluate(model: "simclr.safetensors", probe: .finetune, train: "digits/train", test: "digits/test",
///                                        fineTuning: FineTuningSettings(steps: 500))
/// ```
public enum EvaluationRun {
    /// The model file at `path`, the image backbone its metadata describes and its input shape [C, H, W];
    /// a clear error when it has none.
    public static func backbone(model path: String) throws -> (file: ModelFile, backbone: any ImageBackbone, input: [Int]) {
        let file = try ModelFile(path: path)
        let method = file.metadata[TrainingMetadata.method] ?? file.metadata["architecture"] ?? "unknown"
        guard let specification = file.metadata[TrainingMetadata.backbone] else {
            throw TrainingError.unsuitableModel(path: path, message: "\(path) (method \(method)) holds no image backbone; eval probes image encoders")
        }
        let input = (file.metadata[TrainingMetadata.input] ?? "").split(separator: ",").compactMap { Int($0) }
        guard input.count == 3, input.allSatisfy({ $0 > 0 }), input[0] == 1 || input[0] == 3 else {
            throw TrainingError.unsuitableModel(path: path, message: "\(path): input shape '\(file.metadata[TrainingMetadata.input] ?? "")' is not C,H,W with 1 or 3 channels")
        }
        return (file, try ImageBackbones.parse(specification), input)
    }

    /// The frozen encoder a model file describes, with its parameters loaded (or left at the
    /// random initialisation of `seed` when `loadParameters` is false), and its input shape [C, H, W].
    public static func encoder(model path: String, loadParameters: Bool = true, seed: UInt64 = 0) throws -> (encoder: FrozenEncoder, input: [Int]) {
        let (file, backbone, input) = try backbone(model: path)
        return (try frozenEncoder(backbone: backbone, input: input, parameters: loadParameters ? file : nil, seed: seed), input)
    }

    /// `backbone` frozen on images `input` [C, H, W], with its parameters from `parameters`, or at
    /// the random initialisation of `seed` when that is nil.
    static func frozenEncoder(backbone: any ImageBackbone, input: [Int], parameters file: ModelFile?, seed: UInt64) throws -> FrozenEncoder {
        let encoder = try FrozenEncoder(backbone: backbone, channels: input[0], height: input[1], width: input[2],
                                        batch: 64, seed: seed)
        if let file {
            for id in encoder.program.parameters {
                let tensor = encoder.program.tensor(id)
                guard file.tensors[tensor.name] != nil else {
                    throw TrainingError.unsuitableModel(path: file.path, message: "\(file.path) has no \(tensor.name), which the backbone '\(backbone.specification)' needs")
                }
                try file.load(tensor.name, into: tensor)
            }
        }
        return encoder
    }

    /// Reads the labelled folders `train` and `test` (one sub-folder per class) as the model's
    /// encoder takes them and scores `probe`: `linear` and `knn` on the frozen encoder's
    /// embeddings, `finetune` by training the encoder and a linear head with `fineTuning`
    /// (`progress` is called after each of its steps). With `compareRandom`, the same probe on
    /// the same architecture at its random initialisation too.
    public static func evaluate(model path: String, probe: ProbeKind, train: String, test: String,
                                compareRandom: Bool = false, seed: UInt64 = 0, fineTuning: FineTuningSettings = FineTuningSettings(),
                                progress: ((TrainingProgress) -> Void)? = nil) throws -> EvaluationResult {
        if probe == .finetune { try fineTuning.validate() }
        let (file, backbone, input) = try backbone(model: path)
        let (trainSet, classes) = try ImageLoading.labelledFolder(train, channels: input[0], height: input[1], width: input[2])
        let (testSet, _) = try ImageLoading.labelledFolder(test, classes: classes, channels: input[0], height: input[1], width: input[2])
        /// The score of `probe` with the model's parameters, or at the random initialisation of `randomSeed`.
        func score(randomSeed: UInt64?) throws -> Double {
            if probe == .finetune {
                var settings = fineTuning
                if let randomSeed { settings.seed = randomSeed }
                let tuner = try FineTuner(backbone: backbone, data: trainSet, classes: classes.count, settings: settings)
                if randomSeed == nil { try tuner.loadBackbone(from: file) }
                try tuner.train(progress: progress)
                return try tuner.accuracy(on: testSet)
            }
            let encoder = try frozenEncoder(backbone: backbone, input: input, parameters: randomSeed == nil ? file : nil, seed: randomSeed ?? 0)
            let trainEmbeddings = encoder.embed(trainSet), testEmbeddings = encoder.embed(testSet)
            switch probe {
            case .linear: return try LinearProbe(seed: seed).accuracy(train: trainEmbeddings, test: testEmbeddings, classes: classes.count)
            case .knn: return KNearestNeighbors(k: 5).accuracy(train: trainEmbeddings, test: testEmbeddings, classes: classes.count)
            case .finetune: preconditionFailure("fine-tuning is scored above")
            }
        }
        var result = EvaluationResult(probe: probe, accuracy: try score(randomSeed: nil), trainCount: trainSet.count, testCount: testSet.count,
                                      classCount: classes.count)
        if compareRandom {
            let seedOfRun = UInt64(file.metadata[TrainingMetadata.seed] ?? "") ?? seed
            result.randomAccuracy = try score(randomSeed: seedOfRun)
        }
        return result
    }

    /// The features of the model file's frozen encoder for every image of `inputs` (image files,
    /// or folders read recursively, in order), each resized to the encoder's input shape:
    /// [images, dimension], decoded and embedded `chunk` images at a time. A `.y4m` input is
    /// refused: the encoder takes still images.
    ///
    /// ```swift
    /// let (features, count, dimension) = try EvaluationRun.embedImages(model: "simclr.safetensors", inputs: ["frames/"])
    /// ```
    public static func embedImages(model path: String, inputs: [String], chunk: Int = 256) throws -> (features: [Float], count: Int, dimension: Int) {
        precondition(chunk >= 1, "images are embedded at least one at a time, got \(chunk)")
        let (encoder, input) = try encoder(model: path)
        var files: [String] = []
        for item in inputs {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: item, isDirectory: &isFolder) else { throw TrainingError.unreadableData(path: item, message: "\(item) does not exist") }
            if isFolder.boolValue {
                let found = try ImageLoading.imageFiles(under: item)
                guard !found.isEmpty else { throw TrainingError.unreadableData(path: item, message: "\(item): the folder holds no .png, .pgm or .ppm image") }
                files += found
            } else if item.lowercased().hasSuffix(".y4m") {
                throw TrainingError.mismatchedData(message: "\(item): the encoder of \(path) embeds still images (give image files or folders), not video")
            } else {
                files.append(item)
            }
        }
        let dimension = encoder.featureCount
        var features: [Float] = []
        features.reserveCapacity(files.count * dimension)
        for start in stride(from: 0, to: files.count, by: chunk) {
            let names = Array(files[start..<min(start + chunk, files.count)])
            let pixels = try ImageLoading.load(names, channels: input[0], height: input[1], width: input[2])
            let set = LabeledImages(pixels: pixels, labels: [Int32](repeating: 0, count: names.count), channels: input[0],
                                    height: input[1], width: input[2], classCount: 1)
            features += encoder.embed(set).features
        }
        return (features, files.count, dimension)
    }
}
