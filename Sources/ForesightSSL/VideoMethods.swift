// Self-supervised methods on video clips: next-frame prediction and motion-field prediction
// (ForesightNN's pc64 and pc64-motion models; their trainer is FramePredictionTrainer.swift), and contrastive
// predictive coding with a per-frame convolutional encoder (an `ImageBackbone`), a
// convolutional GRU context and InfoNCE on the latents k frames ahead; the prediction models'
// encoder is an `ImageBackbone` too (`FramePredictionEncoder`), so probes can freeze either. Each trainer draws its clips from a `VideoClipStream`
// (a Y4M file, or a synthetic scene when none is given). Not a video classifier: no labels.
//
// Symbols: N clips per batch, T frames per clip, K past frames (T = K + 1 for prediction),
// S x S frame size, E encoding features, D context features.

import ForesightCore
import ForesightNN
import ForesightSensors
import ForesightIO

/// The per-frame image encoder video CPC learns: two stride-2 3x3 convolutions with ReLU
/// (`name.1`, `name.2`) give feature maps [N, width, H/4, W/4]; for CPC a linear map
/// (`name.projection`) turns them into the latent z [N, features] that the context predicts.
/// As an `ImageBackbone` (what checkpoints store, probes freeze and fine-tuning trains,
/// "frames width=16 features=32") its features are the maps averaged over space, [N, width]:
/// the projection is CPC's head and stays out, as SimCLR leaves out its projection head. The
/// head is shaped by the objective (telling frames apart spends it on where things are); the
/// convolutions under it learn what things look like.
///
/// ```swift
/// let encoder = FrameEncoder(width: 16, features: 32)
/// let features = try encoder.build(graph, images, name: "backbone")                  // [64, 1, 16, 16] -> [64, 16]
/// let (maps, latents) = try encoder.buildWithMaps(graph, frames, name: "backbone")   // [64, 16, 4, 4], [64, 32]
/// ```
public struct FrameEncoder: ImageBackbone, Equatable {
    /// Channels of both convolutions, and the features of the backbone.
    public let width: Int
    /// Features of CPC's latent z (E), the projection's outputs.
    public let features: Int

    public init(width: Int = 16, features: Int = 32) {
        precondition(width >= 1 && features >= 1, "a frame encoder needs width and features >= 1, got \(width), \(features)")
        self.width = width
        self.features = features
    }

    /// The pooled maps' channels: `width`.
    public var featureCount: Int { width }
    public var specification: String { "frames width=\(width) features=\(features)" }

    /// Adds the convolutions on `images` [N, C, H, W] (H and W divisible by 4) and averages
    /// their maps over space: [N, width]. No projection parameters.
    public func build(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID {
        try graph.apply(GlobalAveragePoolOperation(), [try maps(graph, images, name: name)], name: name + ".pool")
    }

    /// Adds the encoder with CPC's head on `images` [N, C, H, W] (H and W divisible by 4); returns
    /// its feature maps [N, width, H/4, W/4] and latents [N, features].
    public func buildWithMaps(_ graph: Graph, _ images: TensorID, name: String) throws -> (maps: TensorID, features: TensorID) {
        let maps = try maps(graph, images, name: name)
        let shape = graph.shape(maps)
        let flat = try graph.reshape(maps, [shape[0], shape[1] * shape[2] * shape[3]], name: name + ".flat")
        return (maps, try graph.linear(flat, outFeatures: features, name: name + ".projection"))
    }

    private func maps(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID {
        let shape = graph.shape(images)
        guard shape.rank == 4, shape[2] % 4 == 0, shape[3] % 4 == 0 else {
            throw ModelError.invalidOperation(name: name, reason: "a frame encoder needs images [N, C, H, W] with H and W divisible by 4; got \(shape)")
        }
        let hidden = try graph.relu(try graph.conv2d(images, outChannels: width, kernel: 3, stride: 2, padding: 1, name: name + ".1"))
        return try graph.relu(try graph.conv2d(hidden, outChannels: width, kernel: 3, stride: 2, padding: 1, name: name + ".2"))
    }
}

// MARK: - The prediction models' encoder

/// The encoder a video prediction trainer learns (pc64's `e1`..`e3`, `Models.encoder`) as an
/// `ImageBackbone`, for probing it on still images: an image [N, 1, H, W] is repeated over the
/// K past-frame channels (a scene that does not move), encoded to [N, 32, H/4, W/4] and
/// averaged over space to features [N, 32]. Its parameters keep pc64's names (`e1.*`,
/// `e2.*`, `e3.*`), whatever `name` is, so that `FrozenEncoder.copyParameters` takes them
/// from the trainer's program; `name` only prefixes the repeat and pool nodes. It is the
/// prediction trainers' `imageBackbone` and `ImageBackbones.parse`'s "pc64-encoder past=K".
///
/// ```swift
/// let trainer = try FramePredictionTrainer(.nextFrame, clips: SyntheticClipStream(frames: 5, size: 32, seed: 1))
/// let encoder = try FrozenEncoder(backbone: FramePredictionEncoder(pastFrames: trainer.pastFrames), channels: 1, height: 32, width: 32)
/// encoder.copyParameters(from: trainer.program)   // e1..e3: 6 tensors
/// let features = encoder.embed(digits)             // [count, 32]
/// ```
public struct FramePredictionEncoder: ImageBackbone, Equatable {
    /// K, the past frames the encoder was trained on (the channels of e1's input).
    public let pastFrames: Int

    public init(pastFrames: Int = 4) {
        precondition(pastFrames >= 1, "a frame prediction encoder needs pastFrames >= 1, got \(pastFrames)")
        self.pastFrames = pastFrames
    }

    /// e3's channels.
    public var featureCount: Int { 32 }
    public var specification: String { "pc64-encoder past=\(pastFrames)" }

    /// Adds the encoder on `images` [N, 1, H, W] (H and W divisible by 4); returns [N, 32].
    public func build(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID {
        let shape = graph.shape(images)
        guard shape.rank == 4, shape[1] == 1, shape[2] % 4 == 0, shape[3] % 4 == 0 else {
            throw ModelError.invalidOperation(name: name, reason: "a frame prediction encoder needs greyscale images [N, 1, H, W] with H and W divisible by 4; got \(shape)")
        }
        // [N, 1, H, W] -> [N, K, H, W], one copy at a time.
        var stacked = images
        for copies in 1..<pastFrames { stacked = try graph.concatChannels(stacked, images, name: name + ".repeat\(copies + 1)") }
        return try graph.apply(GlobalAveragePoolOperation(), [try Models.encoder(graph, stacked)], name: name + ".pool")
    }
}

// MARK: - Contrastive predictive coding on video

/// Sizes of the video CPC model.
///
/// ```swift
/// var configuration = VideoCPCConfiguration()   // 8 clips of 8 frames at 16x16
/// configuration.predictionSteps = 3
/// ```
public struct VideoCPCConfiguration: Sendable, Equatable {
    /// N clips per batch and T frames per clip.
    public var batch = 8, frames = 8
    /// Frame size S (divisible by 4).
    public var size = 16
    /// The per-frame encoder: channels of its convolutions (the second's maps are the GRU's
    /// input) and E, the features of an encoding z.
    public var encoder = FrameEncoder(width: 16, features: 32)
    /// Hidden channels of the convolutional GRU context.
    public var contextChannels = 16
    /// Frames ahead the context predicts (1...K).
    public var predictionSteps = 2

    public init() {}

    /// Accuracy of guessing: every frame of the batch is a candidate, 1 / (N * T).
    public var chance: Float { 1 / Float(batch * frames) }
}

/// Contrastive predictive coding on video (van den Oord, Li, Vinyals 2018): each frame goes
/// through the `FrameEncoder` and its head (`backbone.*`) to an encoding z_t [E]; a convolutional GRU
/// (`context`) runs over the encoder's feature maps and its flattened state c_t predicts,
/// through one linear map per step ahead, which of the batch's N*T encodings is z_{t+k}.
/// The step allocates nothing itself (nor do synthetic clips; Y4MReader does, a little per frame).
///
/// ```swift
/// let trainer = try VideoCPCTrainer(clips: SyntheticClipStream(frames: 8, size: 16, seed: 1))
/// for _ in 0..<300 { try trainer.step() }
/// let heldOut = try trainer.evaluate(clips: SyntheticClipStream(frames: 8, size: 16, seed: 99), batches: 4)
/// print(heldOut.accuracy, trainer.configuration.chance)
/// ```
public final class VideoCPCTrainer: SelfSupervisedTrainer {
    public let configuration: VideoCPCConfiguration
    public let program: Program
    /// The per-frame encoder, under "backbone".
    public var imageBackbone: (any ImageBackbone)? { configuration.encoder }
    /// Frames [N*T, 1, S, S], clip-major.
    public let frames: TensorID
    /// Encodings z [N, T, E] and context c [N, T, D].
    public let encodings: TensorID, context: TensorID
    /// The InfoNCE loss operation; its `accuracy` is valid after each forward pass.
    public let objective: InfoNCEOperation
    public let clips: any VideoClipStream

    /// Loss and accuracy of a batch.
    public struct Result: Sendable, Equatable {
        public let loss: Float
        /// Fraction of predictions whose true future scored highest (chance: `configuration.chance`).
        public let accuracy: Float
    }

    /// `clips` must give frames of `configuration.size` squared and `configuration.frames` per clip.
    public init(clips: any VideoClipStream, configuration: VideoCPCConfiguration = VideoCPCConfiguration(),
                learningRate: Float = 2e-3, threads: Int = 1, seed: UInt64 = 1) throws {
        let c = configuration
        guard clips.frames == c.frames, clips.height == c.size, clips.width == c.size, c.size % 4 == 0,
              c.frames > c.predictionSteps, c.batch >= 1 else {
            throw TrainingError.invalidSetting(name: "clips", message: "video CPC needs clips of \(c.frames) frames of \(c.size)x\(c.size) (size divisible by 4, more frames than the \(c.predictionSteps) steps ahead); got \(clips.frames) frames of \(clips.height)x\(clips.width)")
        }
        self.configuration = c
        self.clips = clips
        let graph = Graph()
        frames = try graph.input("frames", [c.batch * c.frames, 1, c.size, c.size])
        let (maps, perFrame) = try c.encoder.buildWithMaps(graph, frames, name: "backbone")
        encodings = try graph.reshape(perFrame, [c.batch, c.frames, c.encoder.features], name: "encodings")
        let states = try graph.convGRU(maps, steps: c.frames, hidden: c.contextChannels, name: "context")
        context = try graph.reshape(states, [c.batch, c.frames, c.contextChannels * (c.size / 4) * (c.size / 4)], name: "context.sequence")
        let loss: TensorID
        (loss, objective) = try graph.infoNCELoss(context: context, encodings: encodings, predictionSteps: c.predictionSteps, name: "cpc")
        program = try Program(graph, loss: loss, optimizer: Adam(learningRate: learningRate), threads: threads, seed: seed)
    }

    private func loadBatch(from stream: any VideoClipStream) throws {
        let input = program.tensor(frames).floatPointer, clipFloats = stream.sampleCount
        for n in 0..<configuration.batch { try stream.next(into: input + n * clipFloats) }
    }

    /// About a pass over the clips' file, in steps of N clips.
    public var stepsPerPass: Int? { clips.clipsPerPass.map { max(1, ($0 + configuration.batch - 1) / configuration.batch) } }

    /// Trains once on the next N clips; returns the InfoNCE loss (before the update).
    @discardableResult
    public func step() throws -> Float {
        try loadBatch(from: clips)
        return try program.step()
    }

    /// Accuracy of the last step's predictions.
    public var accuracy: Float { objective.accuracy }

    /// Mean loss and accuracy over `batches` batches of `stream` (held-out clips), without training.
    public func evaluate(clips stream: any VideoClipStream, batches: Int) throws -> Result {
        guard stream.frames == clips.frames, stream.height == clips.height, stream.width == clips.width, batches >= 1 else {
            throw TrainingError.mismatchedData(message: "evaluation clips must match the training clips (\(clips.frames) frames of \(clips.height)x\(clips.width)); got \(stream.frames) of \(stream.height)x\(stream.width), \(batches) batches")
        }
        var loss: Float = 0, accuracy: Float = 0
        for _ in 0..<batches {
            try loadBatch(from: stream)
            program.forward()
            loss += program.lossValue
            accuracy += objective.accuracy
        }
        return Result(loss: loss / Float(batches), accuracy: accuracy / Float(batches))
    }
}

// MARK: - Trainer factory

/// The trainers of the video methods (next-frame, motion, cpc), by name; their descriptions
/// are `NextFrameMethod`, `MotionMethod` and `CPCMethod` under Methods/.
public enum VideoMethods {
    /// The trainer for `method` ("next-frame", "motion" or "cpc") on clips of `y4mPath`
    /// (shuffled in a reservoir of 64 clips), or on moving shapes when it is nil. A path ending
    /// in .mcap is a ROS 2 bag, its frames the images of `topic` (nil: its only image topic). Prediction
    /// uses 4 past frames at `size` (default 32) and `batch` clips (default 8); CPC the default
    /// `VideoCPCConfiguration` (8 clips of 8 frames at 16x16) unless `size` or `batch` are given.
    /// `learningRate` nil keeps each trainer's default.
    ///
    /// ```swift
    /// let trainer = try VideoMethods.trainer("motion", y4mPath: "walk.y4m", threads: 2)
    /// ```
    public static func trainer(_ method: String, y4mPath: String?, topic: String? = nil, size: Int? = nil, batch: Int? = nil,
                               learningRate: Float? = nil, threads: Int = 1, seed: UInt64 = 1) throws -> any SelfSupervisedTrainer {
        func clips(frames: Int, size: Int, lanes: Int) throws -> any VideoClipStream {
            guard let y4mPath else { return SyntheticClipStream(frames: frames, size: size, lanes: lanes, seed: seed) }
            if y4mPath.lowercased().hasSuffix(".mcap") {
                return try ShuffleReservoir(BagClipStream(path: y4mPath, topic: topic, frames: frames, height: size, width: size), capacity: 64, seed: seed)
            }
            return try ShuffleReservoir(Y4MClipStream(path: y4mPath, frames: frames, height: size, width: size), capacity: 64, seed: seed)
        }
        switch method {
        case "next-frame", "motion":
            let objective = VideoPredictionObjective(rawValue: method)!
            let batch = batch ?? 8
            return try FramePredictionTrainer(objective, clips: try clips(frames: 5, size: size ?? 32, lanes: batch), batch: batch,
                                              learningRate: learningRate ?? 1e-3, threads: threads, seed: seed)
        case "cpc":
            var configuration = VideoCPCConfiguration()
            if let size { configuration.size = size }
            if let batch { configuration.batch = batch }
            return try VideoCPCTrainer(clips: try clips(frames: configuration.frames, size: configuration.size, lanes: configuration.batch),
                                       configuration: configuration, learningRate: learningRate ?? 2e-3, threads: threads, seed: seed)
        default:
            throw TrainingError.unknownMethod(method, known: ["next-frame", "motion", "cpc"], family: "video")
        }
    }
}

/// A shuffled clip stream is still a clip stream.
extension ShuffleReservoir: VideoClipStream where Source: VideoClipStream {
    public var clipsPerPass: Int? { source.clipsPerPass }
    public var frames: Int { source.frames }
    public var height: Int { source.height }
    public var width: Int { source.width }
}
