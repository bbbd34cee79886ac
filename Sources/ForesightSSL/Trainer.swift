// What every self-supervised method's trainer and every image backbone offers, so that the
// command line, checkpoints and the probes treat all methods alike. Not a training loop:
// each method's trainer owns its data handling and its step.

import ForesightCore
import ForesightNN

/// An image encoder family: builds its graph on images [N, C, H, W] and yields features [N, featureCount].
/// `specification` names the family and its sizes in one line ("resnet width=16 groups=4") and
/// is what model files store, so that `ImageBackbones.parse` rebuilds the same graph.
public protocol ImageBackbone: Sendable {
    /// Features per image.
    var featureCount: Int { get }
    /// One line, `family key=value ...`, that `ImageBackbones.parse` turns back into this backbone.
    var specification: String { get }
    /// Adds the backbone on `images` [N, C, H, W]; parameters are named `name.*`. Returns [N, featureCount].
    func build(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID
}

/// A self-supervised method's trainer: a program with a loss, stepped on data it draws itself.
public protocol SelfSupervisedTrainer: AnyObject {
    /// The training program; its parameters are what checkpoints store.
    var program: Program { get }
    /// The image encoder this method learns, under the parameter prefix "backbone", or nil
    /// when it learns no image encoder (text and audio models).
    var imageBackbone: (any ImageBackbone)? { get }
    /// Trains once on the next batch; returns the loss.
    @discardableResult func step() throws -> Float
    /// Steps for about one pass over the trainer's data (what `--epochs` counts), or nil when
    /// the data has no end (a synthetic scene) or the run counts it (image folders).
    var stepsPerPass: Int? { get }
    /// Everything training changes, as named views: what a checkpoint holds. By default the
    /// program's `trainingState` (parameters and optimizer state); a trainer with more state
    /// (a momentum target, a queue of keys) adds it.
    var trainingState: [(name: String, tensor: Tensor)] { get }
}

extension SelfSupervisedTrainer {
    public var stepsPerPass: Int? { nil }
    public var trainingState: [(name: String, tensor: Tensor)] { program.trainingState }
}

/// A trainer that draws its batches from an image set in memory, which another set of the
/// same image shape can replace: the next chunk of a folder too large to decode whole.
///
/// ```swift
/// try trainer.replaceImages(try chunks.chunk(1))   // the following steps draw from chunk 1
/// ```
public protocol ImageSetTrainer: SelfSupervisedTrainer {
    /// Images per step.
    var batch: Int { get }
    /// The set the next steps draw from.
    var imageSet: LabeledImages { get }
    /// Draws from `images` from the next step on. Throws, changing nothing, when their shape
    /// differs from the current set's or they are fewer than a batch.
    func replaceImages(_ images: LabeledImages) throws
}

extension ImageSetTrainer {
    /// The check `replaceImages` makes before it swaps `current` for `replacement`.
    func checkReplacement(_ replacement: LabeledImages, for current: LabeledImages) throws {
        guard [replacement.channels, replacement.height, replacement.width] == [current.channels, current.height, current.width] else {
            throw TrainingError.mismatchedData(message: "replacement images are \(replacement.channels)x\(replacement.height)x\(replacement.width); the trainer takes \(current.channels)x\(current.height)x\(current.width)")
        }
        guard replacement.count >= batch else {
            throw TrainingError.notEnoughData(available: replacement.count, needed: batch, message: "a replacement set of \(replacement.count) images is smaller than a batch of \(batch)")
        }
    }
}

/// Parsing of backbone specifications ("resnet width=16 groups=4").
public enum ImageBackbones {
    /// Splits "family key=value ..." into its family and integer fields.
    public static func fields(_ specification: String) throws -> (family: String, values: [String: Int]) {
        let words = specification.split(separator: " ").map(String.init)
        guard let family = words.first else { throw TrainingError.malformedBackbone(specification: specification, message: "empty backbone specification") }
        var values: [String: Int] = [:]
        for word in words.dropFirst() {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Int(parts[1]) else {
                throw TrainingError.malformedBackbone(specification: specification, message: "backbone specification '\(specification)': '\(word)' is not key=integer")
            }
            values[parts[0]] = value
        }
        return (family, values)
    }

    /// The backbone `specification` describes; a clear error for an unknown family or a missing or bad size.
    public static func parse(_ specification: String) throws -> any ImageBackbone {
        let (family, values) = try fields(specification)
        func value(_ key: String) throws -> Int {
            guard let v = values[key], v > 0 else { throw TrainingError.malformedBackbone(specification: specification, message: "backbone '\(specification)' needs a positive \(key)=") }
            return v
        }
        switch family {
        case "resnet":
            let width = try value("width"), groups = try value("groups")
            guard width % groups == 0 else { throw TrainingError.malformedBackbone(specification: specification, message: "resnet width \(width) is not a multiple of groups \(groups)") }
            return SmallResNet(width: width, groups: groups)
        case "vit":
            let dimension = try value("dim"), depth = try value("depth"), heads = try value("heads"), patch = try value("patch")
            guard dimension % heads == 0 else { throw TrainingError.malformedBackbone(specification: specification, message: "vit dim \(dimension) is not a multiple of heads \(heads)") }
            return TinyViT(dimension: dimension, depth: depth, heads: heads, patch: patch)
        case "frames":
            return FrameEncoder(width: try value("width"), features: try value("features"))
        case "pc64-encoder":
            return FramePredictionEncoder(pastFrames: try value("past"))
        default:
            throw TrainingError.malformedBackbone(specification: specification, message: "unknown backbone family '\(family)' in '\(specification)'; known: resnet, vit, frames, pc64-encoder")
        }
    }
}
