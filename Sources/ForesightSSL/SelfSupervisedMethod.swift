// What a self-supervised method is to the rest of the library: its short name, one line on
// what it learns, its paper, the data it trains on, its own settings and defaults, and how its
// trainer is made. Each method is one type conforming to `SelfSupervisedMethod`, in its own file
// under Methods/; `MethodRegistry.methods` lists them. Not a trainer (Trainer.swift).

/// One self-supervised method: what `foresight methods` prints and what `foresight train
/// --method NAME` builds.
///
/// A new method is one type in one file under `Methods/`, and one line in
/// `MethodRegistry.methods`:
///
/// ```swift
/// struct RotationMethod: SelfSupervisedMethod {
///     let name = "rotation"
///     let summary = "pretext: classify which quarter-turn was applied to the image"
///     let reference = "Gidaris, Singh, Komodakis. Unsupervised Representation Learning by Predicting Image Rotations. ICLR 2018"
///     let dataKinds: [TrainingDataKind] = [.images]
///
///     func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
///         try pretextTrainer(.rotation, images(data, options), options)
///     }
/// }
/// ```
public protocol SelfSupervisedMethod: Sendable {
    /// Short name, as on the command line ("simclr"); unique among the methods.
    var name: String { get }
    /// One line on what it learns from, for `foresight methods`.
    var summary: String { get }
    /// The paper it follows: authors, title, venue and year.
    var reference: String { get }
    /// The kinds of data it trains on (at least one).
    var dataKinds: [TrainingDataKind] { get }
    /// Its own settings (`train --set NAME=VALUE`) with their defaults; none by default.
    var settings: [MethodSetting] { get }
    /// The backbone specification used when none is given; `TrainingOptions.default`'s by default.
    var defaultBackbone: String { get }
    /// Images, clips or text windows per step when none is given; `TrainingOptions.default`'s by default.
    var defaultBatch: Int { get }
    /// AdamW learning rate when none is given; `TrainingOptions.default`'s by default.
    var defaultLearningRate: Float { get }
    /// The image shape [C, H, W] its encoder sees, for a method that learns an image encoder
    /// from data that is not an image folder; nil when the images' own shape applies or there is
    /// no image encoder. By default, grey frames at the options' image size for a method that
    /// takes video, nil for the others.
    func imageShape(options: TrainingOptions) -> [Int]?
    /// Its trainer on `data`. `MethodRegistry.makeTrainer` calls it only with data of one of
    /// `dataKinds` and with `options.settings` resolved, so `options.setting(_:)` gives each of
    /// `settings`.
    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer
}

extension SelfSupervisedMethod {
    public var settings: [MethodSetting] { [] }
    public var defaultBackbone: String { TrainingOptions.default.backbone.specification }
    public var defaultBatch: Int { TrainingOptions.default.batch }
    public var defaultLearningRate: Float { TrainingOptions.default.learningRate }
    public func imageShape(options: TrainingOptions) -> [Int]? {
        dataKinds.contains(.video) ? [1, options.imageSize, options.imageSize] : nil
    }
}

// MARK: - What a trainer factory takes from the data and options, with errors naming the method

extension SelfSupervisedMethod {
    /// The image set of `data`, checked to fill a batch of `options.batch`.
    func images(_ data: TrainingData, _ options: TrainingOptions) throws -> LabeledImages {
        guard case let .images(set) = data else { throw wrongKind(data) }
        guard options.batch >= 2, set.count >= options.batch else {
            throw TrainingError.batch(options.batch, minimum: 2, available: set.count, "\(name): a batch of \(options.batch) needs at least 2 and at most \(set.count) images (the data has \(set.count)); lower --batch or add images")
        }
        return set
    }

    /// The bytes of `data`, which must be text.
    func text(_ data: TrainingData) throws -> [UInt8] {
        guard case let .text(bytes) = data else { throw wrongKind(data) }
        return bytes
    }

    /// The recording's path of `data`, which must be video.
    func videoPath(_ data: TrainingData) throws -> String {
        guard case let .video(path) = data else { throw wrongKind(data) }
        return path
    }

    /// The options' backbone as the small ResNet most image trainers build on.
    func smallResNet(_ options: TrainingOptions) throws -> SmallResNet {
        guard let resnet = options.backbone as? SmallResNet else {
            throw TrainingError.invalidSetting(name: "backbone", message: "\(name) trains a resnet backbone; '\(options.backbone.specification)' is not one (try --backbone \"\(SmallResNet().specification)\")")
        }
        return resnet
    }

    /// The trainer of the pretext task `objective` on `set`, with the options' backbone and loop settings.
    func pretextTrainer(_ objective: PretextObjective, _ set: LabeledImages, _ options: TrainingOptions) throws -> PretextTrainer {
        try PretextTrainer(objective: objective, data: set, backbone: smallResNet(options), batch: options.batch,
                           learningRate: options.learningRate, threads: options.threads, seed: options.seed)
    }

    /// The two-view trainer of `objective` on the images of `data`, with the options' backbone,
    /// augmentation and loop settings.
    func twoViewTrainer(_ objective: TwoViewObjective, _ data: TrainingData, _ options: TrainingOptions) throws -> TwoViewTrainer {
        try TwoViewTrainer(objective: objective, data: images(data, options), backbone: smallResNet(options), batch: options.batch,
                           augmentation: options.augmentation, learningRate: options.learningRate, threads: options.threads, seed: options.seed)
    }

    /// The momentum-target trainer of `objective` on the images of `data`, with the `momentum`
    /// setting, the options' backbone, augmentation and loop settings.
    func momentumTrainer(_ objective: MomentumObjective, _ data: TrainingData, _ options: TrainingOptions) throws -> MomentumTrainer {
        try MomentumTrainer(objective: objective, data: images(data, options), backbone: smallResNet(options), batch: options.batch,
                            momentum: Float(options.setting("momentum")), augmentation: options.augmentation,
                            learningRate: options.learningRate, threads: options.threads, seed: options.seed)
    }

    /// This method's video trainer (VideoMethods) on the recording of `data`, at the options'
    /// image size and loop settings.
    func videoTrainer(_ data: TrainingData, _ options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try VideoMethods.trainer(name, y4mPath: videoPath(data), topic: options.topic, size: options.imageSize, batch: options.batch,
                                 learningRate: options.learningRate, threads: options.threads, seed: options.seed)
    }

    /// The error for data of a kind the factory cannot take (`MethodRegistry.makeTrainer` checks
    /// the kind first, so this is for callers of `makeTrainer(data:options:)` itself).
    private func wrongKind(_ data: TrainingData) -> TrainingError {
        .wrongData(method: name, needs: dataKinds, got: data.kind, source: "the data (\(data.summary))")
    }
}
