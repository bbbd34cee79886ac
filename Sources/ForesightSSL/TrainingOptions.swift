// The settings every method's trainer takes (batch, learning rate, backbone, image size, seed,
// ...), with their defaults written once. Not a method's own settings (MethodSettings.swift) and
// not the reading of data (TrainingData.swift).

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
    /// The image topic read when the video data is a ROS 2 bag (.mcap); nil takes the bag's
    /// only image topic.
    public var topic: String? = nil

    /// The options when none is changed: the one place the defaults are written, for the
    /// command line's defaults and the methods' (`SelfSupervisedMethod.defaultBatch`, ...).
    public static let `default` = TrainingOptions()

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
}
