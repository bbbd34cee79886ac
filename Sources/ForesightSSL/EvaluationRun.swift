// Evaluation of a trained model file's image encoder, as `foresight eval` does it: rebuilds the
// frozen encoder from the file's backbone specification and input shape, loads its parameters
// by name, embeds two labelled image folders and scores a linear probe or k-nearest neighbours.
// Not fine-tuning, and not for methods that learn no image encoder (text, audio).

import Foundation
import ForesightCore
import ForesightNN
import ForesightLearn

/// The classifier scored on frozen embeddings.
public enum ProbeKind: String, Sendable, CaseIterable {
    /// `LinearProbe`: a linear layer trained on the standardised features.
    case linear
    /// `KNearestNeighbors` with k = 5, cosine similarity.
    case knn
}

/// The score of one probe on a test set.
public struct EvaluationResult: Sendable, Equatable {
    public var probe: ProbeKind
    /// Fraction of the test images classified correctly.
    public var accuracy: Double
    public var trainCount: Int
    public var testCount: Int
    public var classCount: Int
    /// The same probe on the same architecture at its random initialisation, when asked for.
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
        var text = String(format: "%@ probe: %.2f%% of %d test images correct (%d training images, %d classes)",
                          probe.rawValue, 100 * accuracy, testCount, trainCount, classCount)
        if let randomAccuracy { text += String(format: "; the random encoder: %.2f%%", 100 * randomAccuracy) }
        return text
    }
}

/// Probing of a model file's frozen image encoder on labelled image folders.
///
/// ```swift
/// let result = try EvaluationRun.evaluate(model: "simclr.safetensors", probe: .linear, train: "digits/train", test: "digits/test")
/// print(result.json)   // {"accuracy":0.93,"n_test":540,"n_train":1257,"probe":"linear"}
/// ```
public enum EvaluationRun {
    /// The frozen encoder a model file describes, with its parameters loaded (or left at the
    /// random initialisation of `seed` when `loadParameters` is false), and its input shape [C, H, W].
    public static func encoder(model path: String, loadParameters: Bool = true, seed: UInt64 = 0) throws -> (encoder: FrozenEncoder, input: [Int]) {
        let file = try ModelFile(path: path)
        let method = file.metadata[TrainingMetadata.method] ?? file.metadata["architecture"] ?? "unknown"
        guard let specification = file.metadata[TrainingMetadata.backbone] else {
            throw TrainingRunError("\(path) (method \(method)) holds no image backbone; eval probes image encoders")
        }
        let input = (file.metadata[TrainingMetadata.input] ?? "").split(separator: ",").compactMap { Int($0) }
        guard input.count == 3, input.allSatisfy({ $0 > 0 }), input[0] == 1 || input[0] == 3 else {
            throw TrainingRunError("\(path): input shape '\(file.metadata[TrainingMetadata.input] ?? "")' is not C,H,W with 1 or 3 channels")
        }
        let encoder = try FrozenEncoder(backbone: try ImageBackbones.parse(specification), channels: input[0], height: input[1], width: input[2],
                                        batch: 64, seed: seed)
        if loadParameters {
            for id in encoder.program.parameters {
                let tensor = encoder.program.tensor(id)
                guard file.tensors[tensor.name] != nil else {
                    throw TrainingRunError("\(path) has no \(tensor.name), which the backbone '\(specification)' needs")
                }
                try file.load(tensor.name, into: tensor)
            }
        }
        return (encoder, input)
    }

    /// Embeds the labelled folders `train` and `test` (one sub-folder per class) with the model's
    /// frozen encoder and scores `probe`; with `compareRandom`, the same probe on the random encoder too.
    public static func evaluate(model path: String, probe: ProbeKind, train: String, test: String,
                                compareRandom: Bool = false, seed: UInt64 = 0) throws -> EvaluationResult {
        let (encoder, input) = try encoder(model: path)
        let (trainSet, classes) = try ImageLoading.labelledFolder(train, channels: input[0], height: input[1], width: input[2])
        let (testSet, _) = try ImageLoading.labelledFolder(test, classes: classes, channels: input[0], height: input[1], width: input[2])
        func score(_ encoder: FrozenEncoder) throws -> Double {
            let trainEmbeddings = encoder.embed(trainSet), testEmbeddings = encoder.embed(testSet)
            switch probe {
            case .linear: return try LinearProbe(seed: seed).accuracy(train: trainEmbeddings, test: testEmbeddings, classes: classes.count)
            case .knn: return KNearestNeighbors(k: 5).accuracy(train: trainEmbeddings, test: testEmbeddings, classes: classes.count)
            }
        }
        var result = EvaluationResult(probe: probe, accuracy: try score(encoder), trainCount: trainSet.count, testCount: testSet.count,
                                      classCount: classes.count)
        if compareRandom {
            let seedOfRun = UInt64(try ModelFile(path: path).metadata[TrainingMetadata.seed] ?? "") ?? seed
            result.randomAccuracy = try score(try EvaluationRun.encoder(model: path, loadParameters: false, seed: seedOfRun).encoder)
        }
        return result
    }
}
