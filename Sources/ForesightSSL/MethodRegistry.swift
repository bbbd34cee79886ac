// The one table that maps a method's short name to the data it trains on and to the call that
// builds its trainer, plus the reading of `--data PATH` (an image folder, a .txt, a .wav or a
// .y4m file) into that data. Not a training loop (TrainingRun.swift) and not the method
// descriptions (SSLMethod.all in Methods.swift): a new method is one `MethodRegistry.Entry` here.

import Foundation
import ForesightCore
import ForesightSensors
import ForesightIO

/// The kinds of data a method can train on.
public enum TrainingDataKind: String, Sendable, CaseIterable {
    case images, text, audio, video

    /// The kind a `--data` path holds, by its form: a folder is images, then by extension
    /// (.txt text, .wav audio, .y4m video); nil for anything else.
    public static func of(path: String) -> TrainingDataKind? {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { return .images }
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "txt": return .text
        case "wav": return .audio
        case "y4m": return .video
        default: return nil
        }
    }

    /// Why `path` is no kind of training data: missing, or of a form not read.
    static func unknownMessage(_ path: String) -> String {
        FileManager.default.fileExists(atPath: path) ? "--data \(path) is neither an image folder nor a .txt, .wav or .y4m file"
            : "--data \(path) does not exist"
    }
}

/// The data a trainer draws its batches from.
///
/// ```swift
/// let data = try TrainingData.load(path: "frames/", options: TrainingOptions())   // .images([N, 1, 32, 32])
/// ```
public enum TrainingData: Sendable {
    /// Images [count, C, H, W] in [0, 1]; labels are ignored by every trainer (all zero when unlabelled).
    case images(LabeledImages)
    /// Bytes of a text.
    case text([UInt8])
    /// Mono samples in [-1, 1].
    case audio(samples: [Float], sampleRate: Int)
    /// A Y4M recording, read by the trainer itself.
    case video(path: String)

    /// Which kind this is.
    public var kind: TrainingDataKind {
        switch self {
        case .images: .images
        case .text: .text
        case .audio: .audio
        case .video: .video
        }
    }

    /// One line for messages: "1797 images of 1x8x8", "12 KiB of text", "3.0 s of audio at 16000 Hz".
    public var summary: String {
        switch self {
        case let .images(set): "\(set.count) images of \(set.channels)x\(set.height)x\(set.width)"
        case let .text(bytes): "\(bytes.count) bytes of text"
        case let .audio(samples, rate): String(format: "%.1f s of audio at %d Hz", Double(samples.count) / Double(rate), rate)
        case let .video(path): "the recording \(path)"
        }
    }

    /// Every image file under the folder `path`; an error naming it when there is none.
    static func imageFiles(folder path: String) throws -> [String] {
        let files = try ImageLoading.imageFiles(under: path)
        guard !files.isEmpty else { throw TrainingDataError("--data \(path): the folder holds no .png, .pgm or .ppm image") }
        return files
    }

    /// `files` decoded, unlabelled, at `options.imageSize`, grey or RGB by `options.colour`.
    static func images(_ files: [String], options: TrainingOptions) throws -> TrainingData {
        let channels = options.colour ? 3 : 1
        let pixels = try ImageLoading.load(files, channels: channels, height: options.imageSize, width: options.imageSize)
        return .images(LabeledImages(pixels: pixels, labels: [Int32](repeating: 0, count: files.count), channels: channels,
                                     height: options.imageSize, width: options.imageSize, classCount: 1))
    }

    /// Reads `path` as the kind `TrainingDataKind.of(path:)` names: every PNG/PGM/PPM image
    /// under a folder (sub-folders included, unlabelled), resized to `options.imageSize` and
    /// made grey or RGB by `options.colour` (when they would take more than
    /// `options.imageMemoryBytes`, a seeded uniform sample of as many as fit); a text file's bytes; a WAV file mixed to mono;
    /// a Y4M file's path.
    public static func load(path: String, options: TrainingOptions) throws -> TrainingData {
        guard let kind = TrainingDataKind.of(path: path) else { throw TrainingDataError(TrainingDataKind.unknownMessage(path)) }
        switch kind {
        case .images:
            let files = try imageFiles(folder: path)
            let kept = ImageLoading.sample(files, count: options.imagesFitting(channels: options.colour ? 3 : 1), seed: options.seed)
            return try images(kept, options: options)
        case .text:
            guard let bytes = FileManager.default.contents(atPath: path) else { throw TrainingDataError("--data \(path): cannot read the file") }
            guard !bytes.isEmpty else { throw TrainingDataError("--data \(path): the text file is empty") }
            return .text([UInt8](bytes))
        case .audio:
            let clip = try WAV.read(path: path).mixedToMono()
            guard !clip.samples.isEmpty else { throw TrainingDataError("--data \(path): the WAV file holds no samples") }
            return .audio(samples: clip.samples, sampleRate: clip.sampleRate)
        case .video:
            guard FileManager.default.isReadableFile(atPath: path) else { throw TrainingDataError("--data \(path): cannot read the file") }
            return .video(path: path)
        }
    }
}

/// Why training data could not be read or does not suit a method.
public struct TrainingDataError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Settings every method's trainer takes; each method reads the ones it uses.
///
/// ```swift
/// var options = TrainingOptions()
/// options.backbone = try ImageBackbones.parse("resnet width=8 groups=4")
/// options.imageSize = 8
/// ```
public struct TrainingOptions: Sendable {
    /// Images (or clips, or sequences) per step.
    public var batch: Int
    public var learningRate: Float
    /// Kernel worker threads.
    public var threads: Int
    /// Seed of the weights and of the batches.
    public var seed: UInt64
    /// The image encoder of image methods.
    public var backbone: any ImageBackbone
    /// Height and width images are resized to.
    public var imageSize: Int
    /// Keep images in RGB (3 channels) instead of greyscale (1).
    public var colour: Bool
    /// The views of the two-view and momentum methods.
    public var augmentation: ViewAugmentation
    /// The most memory an image folder's decoded pixels may take (default 256 MiB). A
    /// `TrainingRun` takes a larger folder in chunks of half this (`ImageFolderChunks`);
    /// `TrainingData.load` samples it down to what fits.
    public var imageMemoryBytes: Int = 256 << 20
    /// Method settings by name (`train --set temperature=0.1`); a method's others keep their
    /// defaults. `MethodRegistry.makeTrainer` refuses a name the method does not have.
    public var settings: [String: Double] = [:]

    /// The value of the method setting `name`, once `MethodRegistry.makeTrainer` has resolved
    /// the settings (every setting of the method is then present).
    public func setting(_ name: String) -> Double {
        guard let value = settings[name] else { preconditionFailure("method setting '\(name)' was not resolved") }
        return value
    }

    /// How many decoded images of `channels` x imageSize x imageSize floats fit in `imageMemoryBytes` (at least one).
    public func imagesFitting(channels: Int) -> Int {
        max(1, imageMemoryBytes / (channels * imageSize * imageSize * MemoryLayout<Float>.stride))
    }

    public init(batch: Int = 64, learningRate: Float = 2e-3, threads: Int = 1, seed: UInt64 = 0,
                backbone: any ImageBackbone = SmallResNet(width: 16, groups: 4), imageSize: Int = 32, colour: Bool = false,
                augmentation: ViewAugmentation = ViewAugmentation()) {
        self.batch = batch
        self.learningRate = learningRate
        self.threads = threads
        self.seed = seed
        self.backbone = backbone
        self.imageSize = imageSize
        self.colour = colour
        self.augmentation = augmentation
    }

    /// SimCLR's colour and geometry set on top of the defaults: flip (0.5), colour jitter 0.4
    /// (probability 0.8), greyscale (0.2) and blur (0.5, deviation 0.1 to 1 pixel).
    public static let colourAugmentation = ViewAugmentation(flipProbability: 0.5, brightness: 0.4, contrast: 0.4, saturation: 0.4,
                                                            greyscaleProbability: 0.2, blurProbability: 0.5)

    /// The backbone as the small ResNet the current image trainers build on.
    func smallResNet(for method: String) throws -> SmallResNet {
        guard let resnet = backbone as? SmallResNet else {
            throw TrainingDataError("\(method) trains a resnet backbone; '\(backbone.specification)' is not one")
        }
        return resnet
    }

    /// The recording's path when `data` is video; `method` names the caller in errors.
    func videoPath(_ data: TrainingData, for method: String) throws -> String {
        guard case let .video(path) = data else {
            throw TrainingDataError("\(method) trains on video; the data is \(data.kind.rawValue) (\(data.summary))")
        }
        return path
    }

    /// The bytes of `data` when it is text; `method` names the caller in errors.
    func text(_ data: TrainingData, for method: String) throws -> [UInt8] {
        guard case let .text(bytes) = data else {
            throw TrainingDataError("\(method) trains on text; the data is \(data.kind.rawValue) (\(data.summary))")
        }
        return bytes
    }

    /// The image set of `data`, checked to fill a batch; `method` names the caller in errors.
    func images(_ data: TrainingData, for method: String) throws -> LabeledImages {
        guard case let .images(set) = data else {
            throw TrainingDataError("\(method) trains on images; the data is \(data.kind.rawValue) (\(data.summary))")
        }
        guard batch >= 2, set.count >= batch else {
            throw TrainingDataError("\(method): a batch of \(batch) needs at least 2 and at most \(set.count) images (the data has \(set.count)); lower --batch")
        }
        return set
    }
}

/// Why a method's trainer could not be made.
public enum MethodRegistryError: Error, CustomStringConvertible, Equatable {
    /// No method of that name; the known names follow.
    case unknownMethod(String, known: [String])
    /// The method trains on other kinds of data.
    case wrongData(method: String, needs: [TrainingDataKind], got: TrainingDataKind, source: String)

    public var description: String {
        switch self {
        case let .unknownMethod(name, known):
            "unknown method '\(name)'; known methods: \(known.joined(separator: ", "))"
        case let .wrongData(method, needs, got, source):
            "\(method) trains on \(needs.map(\.rawValue).joined(separator: " or ")); \(source) is \(got.rawValue)"
        }
    }
}

/// Every trainable method: its data kind and how its trainer is built.
///
/// ```swift
/// let trainer = try MethodRegistry.makeTrainer(method: "simclr", data: .images(set), options: TrainingOptions())
/// for _ in 0..<100 { try trainer.step() }
/// ```
public enum MethodRegistry {
    /// One method: the kinds of data it trains on and the call that builds its trainer.
    public struct Entry: Sendable {
        public let name: String
        public let kinds: [TrainingDataKind]
        /// The backbone specification used when none is given.
        public let defaultBackbone: String
        /// Images, clips or windows per step when none is given.
        public let defaultBatch: Int
        /// AdamW learning rate when none is given.
        public let defaultLearningRate: Float
        /// The image shape [C, H, W] its encoder sees, for methods that learn an image encoder
        /// from data that is not an image folder (nil: the image set's shape, or no image encoder);
        /// used only when the trainer has an image backbone.
        public let imageShape: (@Sendable (TrainingOptions) -> [Int])?
        /// The method's own settings (`train --set NAME=VALUE`), with their defaults.
        public let settings: [MethodSetting]
        /// Builds the trainer; `TrainingOptions.setting(_:)` gives each of `settings` (resolved).
        public let make: @Sendable (TrainingData, TrainingOptions) throws -> any SelfSupervisedTrainer

        public init(_ name: String, trainsOn kinds: TrainingDataKind..., defaultBackbone: String = "resnet width=16 groups=4",
                    defaultBatch: Int = 64, defaultLearningRate: Float = 2e-3, imageShape: (@Sendable (TrainingOptions) -> [Int])? = nil,
                    settings: [MethodSetting] = [],
                    make: @escaping @Sendable (TrainingData, TrainingOptions) throws -> any SelfSupervisedTrainer) {
            self.name = name
            self.kinds = kinds
            self.settings = settings
            self.defaultBackbone = defaultBackbone
            self.defaultBatch = defaultBatch
            self.defaultLearningRate = defaultLearningRate
            self.imageShape = imageShape
            self.make = make
        }
    }

    /// One entry per trainable method.
    public static let entries: [Entry] = [
        Entry("simclr", trainsOn: .images, settings: [.temperature]) { data, o in
            try TwoViewTrainer(objective: .simclr(temperature: Float(o.setting("temperature"))), data: o.images(data, for: "simclr"), backbone: o.smallResNet(for: "simclr"),
                               batch: o.batch, augmentation: o.augmentation, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("vicreg", trainsOn: .images, settings: [
            MethodSetting("invariance", 25, 0...1e4, "weight of the views' squared distance"),
            MethodSetting("variance", 25, 0...1e4, "weight of the per-feature deviation hinge"),
            MethodSetting("covariance", 1, 0...1e4, "weight of the off-diagonal covariances"),
        ]) { data, o in
            try TwoViewTrainer(objective: .vicreg(invariance: Float(o.setting("invariance")), variance: Float(o.setting("variance")),
                                                  covariance: Float(o.setting("covariance"))), data: o.images(data, for: "vicreg"),
                               backbone: o.smallResNet(for: "vicreg"), batch: o.batch, augmentation: o.augmentation, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("moco", trainsOn: .images, defaultBatch: 32, settings: [
            .temperature, MethodSetting("queue", 512, 1...65_536, "keys kept as negatives", integer: true), .momentum,
        ]) { data, o in
            try MomentumTrainer(objective: .moco(temperature: Float(o.setting("temperature")), queueSize: Int(o.setting("queue"))), data: o.images(data, for: "moco"),
                                backbone: o.smallResNet(for: "moco"), batch: o.batch, momentum: Float(o.setting("momentum")), augmentation: o.augmentation,
                                learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("byol", trainsOn: .images, settings: [.momentum]) { data, o in
            try MomentumTrainer(objective: .byol, data: o.images(data, for: "byol"), backbone: o.smallResNet(for: "byol"),
                                batch: o.batch, momentum: Float(o.setting("momentum")), augmentation: o.augmentation, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("simsiam", trainsOn: .images, defaultLearningRate: 5e-4) { data, o in
            try TwoViewTrainer(objective: .simsiam, data: o.images(data, for: "simsiam"), backbone: o.smallResNet(for: "simsiam"),
                               batch: o.batch, augmentation: o.augmentation, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("barlow", trainsOn: .images, settings: [MethodSetting("off-diagonal", 0.02, 0...10, "weight of the cross-correlation's off-diagonal terms")]) { data, o in
            try TwoViewTrainer(objective: .barlow(offDiagonalWeight: Float(o.setting("off-diagonal"))), data: o.images(data, for: "barlow"),
                               backbone: o.smallResNet(for: "barlow"), batch: o.batch, augmentation: o.augmentation, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("jepa", trainsOn: .images, settings: [MethodSetting("block", 4, 1...4096, "side in pixels of the hidden square block", integer: true), .momentum]) { data, o in
            try LatentPredictionTrainer(data: o.images(data, for: "jepa"), backbone: o.smallResNet(for: "jepa"), batch: o.batch,
                                        blockSize: Int(o.setting("block")), momentum: Float(o.setting("momentum")), learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("clip", trainsOn: .video, imageShape: { [1, $0.imageSize, $0.imageSize] }) { data, o in
            guard case let .video(path) = data else { throw TrainingDataError("clip trains on a video; the data is \(data.kind.rawValue)") }
            let sound = URL(fileURLWithPath: path).deletingPathExtension().appendingPathExtension("wav").path
            guard FileManager.default.fileExists(atPath: sound) else {
                throw TrainingDataError("clip pairs frames with the sound heard at the same time: it needs \(sound) beside \(path)")
            }
            let pairs = try AudioVisualPairs.recording(videoPath: path, audioPath: sound, height: o.imageSize, width: o.imageSize)
            return try AudioVisualTrainer(pairs: pairs, backbone: o.smallResNet(for: "clip"), batch: o.batch, learningRate: o.learningRate,
                                          threads: o.threads, seed: o.seed)
        },
        Entry("mae", trainsOn: .images, defaultBackbone: TinyViT().specification,
              settings: [MethodSetting("mask-ratio", 0.75, 0.01...0.99, "fraction of the patches hidden")]) { data, o in
            guard let vit = o.backbone as? TinyViT else {
                throw TrainingDataError("mae trains a vit backbone; '\(o.backbone.specification)' is not one (try --backbone \"\(TinyViT().specification)\")")
            }
            return try MaskedAutoencoderTrainer(data: o.images(data, for: "mae"), backbone: vit, maskRatio: o.setting("mask-ratio"), batch: o.batch, learningRate: o.learningRate,
                                                threads: o.threads, seed: o.seed)
        },
        Entry("next-frame", trainsOn: .video, defaultBatch: 8, defaultLearningRate: 5e-4, imageShape: { [1, $0.imageSize, $0.imageSize] }) { data, o in
            try VideoMethods.trainer("next-frame", y4mPath: o.videoPath(data, for: "next-frame"), size: o.imageSize, batch: o.batch,
                                     learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("motion", trainsOn: .video, defaultBatch: 8, defaultLearningRate: 5e-4, imageShape: { [1, $0.imageSize, $0.imageSize] }) { data, o in
            try VideoMethods.trainer("motion", y4mPath: o.videoPath(data, for: "motion"), size: o.imageSize, batch: o.batch,
                                     learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("cpc", trainsOn: .audio, .video, defaultBatch: 8, imageShape: { [1, $0.imageSize, $0.imageSize] }) { data, o in
            if case let .audio(samples, rate) = data {
                return try AudioMethods.trainer("cpc", samples: samples, sampleRate: rate, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
            }
            return try VideoMethods.trainer("cpc", y4mPath: o.videoPath(data, for: "cpc"), size: o.imageSize, batch: o.batch,
                                            learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("gpt", trainsOn: .text, defaultBatch: 16, settings: [.context]) { data, o in
            try GPTTrainer(text: o.text(data, for: "gpt"), context: Int(o.setting("context")), batch: o.batch, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("bert", trainsOn: .text, defaultBatch: 16, settings: [.context, MethodSetting("mask-ratio", 0.15, 0.01...0.99, "fraction of the bytes hidden")]) { data, o in
            try BERTTrainer(text: o.text(data, for: "bert"), context: Int(o.setting("context")), maskFraction: o.setting("mask-ratio"), batch: o.batch, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("autoencoder", trainsOn: .images) { data, o in
            try PretextTrainer(objective: .autoencoder, data: o.images(data, for: "autoencoder"), backbone: o.smallResNet(for: "autoencoder"),
                               batch: o.batch, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("denoising", trainsOn: .images, settings: [MethodSetting("noise", 0.2, 0...10, "standard deviation of the added Gaussian noise")]) { data, o in
            try PretextTrainer(objective: .denoising(noiseDeviation: Float(o.setting("noise"))), data: o.images(data, for: "denoising"),
                               backbone: o.smallResNet(for: "denoising"), batch: o.batch, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("rotation", trainsOn: .images) { data, o in
            try PretextTrainer(objective: .rotation, data: o.images(data, for: "rotation"), backbone: o.smallResNet(for: "rotation"),
                               batch: o.batch, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("jigsaw", trainsOn: .images) { data, o in
            let set = try o.images(data, for: "jigsaw")
            return try PretextTrainer(objective: .jigsaw(height: set.height, width: set.width), data: set, backbone: o.smallResNet(for: "jigsaw"),
                                      batch: o.batch, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
        Entry("inpainting", trainsOn: .images, settings: [MethodSetting("region", 0.5, 0.05...0.95, "side of the hidden square as a fraction of the image's")]) { data, o in
            try PretextTrainer(objective: .inpainting(regionFraction: Float(o.setting("region"))), data: o.images(data, for: "inpainting"),
                               backbone: o.smallResNet(for: "inpainting"), batch: o.batch, learningRate: o.learningRate, threads: o.threads, seed: o.seed)
        },
    ]

    /// Names of every trainable method.
    public static var names: [String] { entries.map(\.name) }

    /// The entry called `method`, or an error listing the known names.
    public static func entry(_ method: String) throws -> Entry {
        guard let entry = entries.first(where: { $0.name == method }) else {
            throw MethodRegistryError.unknownMethod(method, known: names)
        }
        return entry
    }

    /// Checks that `method` trains on `kind` before any data is read; `source` names the data
    /// in the error ("--data x.wav").
    public static func check(method: String, trainsOn kind: TrainingDataKind, source: String) throws {
        let entry = try entry(method)
        guard entry.kinds.contains(kind) else { throw MethodRegistryError.wrongData(method: method, needs: entry.kinds, got: kind, source: source) }
    }

    /// The trainer of `method` on `data`; a clear error for an unknown name or data of the wrong kind.
    public static func makeTrainer(method: String, data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try check(method: method, trainsOn: data.kind, source: "the data (\(data.summary))")
        let entry = try entry(method)
        var options = options
        options.settings = try entry.resolvedSettings(options.settings)
        if options.backbone is FramePredictionEncoder {
            throw TrainingDataError("'\(options.backbone.specification)' is the encoder the next-frame and motion methods learn; eval reads it from their model files, but no method trains it as its backbone (try \"\(SmallResNet().specification)\")")
        }
        return try entry.make(data, options)
    }
}

/// Reading image files into float pixels [count, C, H, W]: grey or RGB, area-resized.
public enum ImageLoading {
    /// `files` when there are at most `count`; otherwise a seeded uniform sample of `count` of
    /// them, in their original order.
    public static func sample(_ files: [String], count: Int, seed: UInt64) -> [String] {
        guard files.count > count else { return files }
        var random = SeededRandom(seed: seed &+ 0x5EED)
        var indices = Array(files.indices)
        for i in 0..<count { indices.swapAt(i, i + random.nextInt(below: files.count - i)) }
        return indices[..<count].sorted().map { files[$0] }
    }

    /// Every .png, .pgm and .ppm file under `folder`, sub-folders included, sorted by path.
    public static func imageFiles(under folder: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw TrainingDataError("cannot open folder \(folder)")
        }
        let separator = folder.hasSuffix("/") ? "" : "/"
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            if ImageFolder.isImageName(relative) { files.append(folder + separator + relative) }
        }
        return files.sorted()
    }

    /// A labelled folder: one sub-folder per class (classes sorted by name, label = index),
    /// every image under each. `classes` fixes the names and their order (a test folder uses
    /// its training folder's); a sub-folder not among them is an error.
    public static func labelledFolder(_ folder: String, classes fixed: [String]? = nil, channels: Int, height: Int,
                                      width: Int) throws -> (images: LabeledImages, classes: [String]) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let separator = folder.hasSuffix("/") ? "" : "/"
        let subfolders = entries.filter { name in
            var isFolder: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: folder + separator + name, isDirectory: &isFolder) && isFolder.boolValue
        }.sorted()
        guard !subfolders.isEmpty else {
            throw TrainingDataError("\(folder) has no class sub-folders; a labelled set is one sub-folder of images per class")
        }
        let classes = fixed ?? subfolders
        var files: [String] = [], labels: [Int32] = []
        for name in subfolders {
            guard let label = classes.firstIndex(of: name) else {
                throw TrainingDataError("\(folder): class '\(name)' is not among the training classes \(classes.joined(separator: ", "))")
            }
            let found = try imageFiles(under: folder + separator + name)
            files += found
            labels += [Int32](repeating: Int32(label), count: found.count)
        }
        guard !files.isEmpty else { throw TrainingDataError("\(folder): the class sub-folders hold no .png, .pgm or .ppm image") }
        let pixels = try load(files, channels: channels, height: height, width: width)
        return (LabeledImages(pixels: pixels, labels: labels, channels: channels, height: height, width: width, classCount: classes.count), classes)
    }

    /// Reads `files` into [files.count, channels, height, width] in [0, 1]: greyscale by luma
    /// (0.299 R + 0.587 G + 0.114 B) or grey repeated into RGB, then area-resized.
    public static func load(_ files: [String], channels: Int, height: Int, width: Int) throws -> [Float] {
        precondition(channels == 1 || channels == 3, "images load as 1 or 3 channels, got \(channels)")
        precondition(height > 0 && width > 0, "image size \(height)x\(width) must be positive")
        var pixels = [Float](repeating: 0, count: files.count * channels * height * width)
        var resizers: [String: AreaResizer] = [:]
        var interleaved: [Float] = [], resized = [Float](repeating: 0, count: height * width * channels)
        for (index, file) in files.enumerated() {
            let image: ByteImage
            do { image = try ByteImage.read(path: file) } catch { throw TrainingDataError("\(file): \(error)") }
            // Source [h, w, channels] in [0, 1], in the wanted channel count.
            interleaved.removeAll(keepingCapacity: true)
            let sourcePixels = image.width * image.height
            for p in 0..<sourcePixels {
                if image.channels == channels {
                    for c in 0..<channels { interleaved.append(Float(image.pixels[p * channels + c]) / 255) }
                } else if channels == 1 {
                    let r = Float(image.pixels[3 * p]), g = Float(image.pixels[3 * p + 1]), b = Float(image.pixels[3 * p + 2])
                    interleaved.append((0.299 * r + 0.587 * g + 0.114 * b) / 255)
                } else {
                    let grey = Float(image.pixels[p]) / 255
                    interleaved += [grey, grey, grey]
                }
            }
            let key = "\(image.width)x\(image.height)"
            let resizer = resizers[key] ?? AreaResizer(sourceWidth: image.width, sourceHeight: image.height,
                                                       targetWidth: width, targetHeight: height, channels: channels)
            resizers[key] = resizer
            interleaved.withUnsafeBufferPointer { source in
                resized.withUnsafeMutableBufferPointer { resizer.resize(source.baseAddress!, into: $0.baseAddress!) }
            }
            // [H, W, C] -> [C, H, W].
            let base = index * channels * height * width
            for c in 0..<channels {
                for i in 0..<height * width { pixels[base + c * height * width + i] = resized[i * channels + c] }
            }
        }
        return pixels
    }
}
