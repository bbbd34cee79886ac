// A small labelled image set held in memory (the evaluation data of the probes), its reader
// for the committed digits file, and a seeded stratified split. Not a streaming loader: a
// set this size (about 100 KB) is read whole.

import Foundation

/// Labelled greyscale or colour images in memory: pixels [count, channels, height, width]
/// (row-major, values in [0, 1]) and one class index per image.
///
/// ```swift
/// let digits = try LabeledImages(digitsFile: data)            // 1797 x [1, 8, 8], 10 classes
/// let (train, test) = digits.split(trainFraction: 0.7, seed: 0)
/// ```
public struct LabeledImages: Sendable {
    /// Pixels, [count, channels, height, width], in [0, 1].
    public let pixels: [Float]
    /// Class of each image, [count], in 0..<classCount.
    public let labels: [Int32]
    public let channels: Int
    public let height: Int
    public let width: Int
    /// Number of classes (one more than the largest label).
    public let classCount: Int

    /// Images in the set.
    public var count: Int { labels.count }
    /// Floats of one image: channels * height * width.
    public var imageSize: Int { channels * height * width }

    /// Wraps pixels [labels.count, channels, height, width] and labels [count].
    public init(pixels: [Float], labels: [Int32], channels: Int, height: Int, width: Int, classCount: Int? = nil) {
        precondition(channels > 0 && height > 0 && width > 0, "image size \(channels)x\(height)x\(width) must be positive")
        precondition(pixels.count == labels.count * channels * height * width,
                     "\(pixels.count) pixels do not make \(labels.count) images of \(channels)x\(height)x\(width)")
        precondition(labels.allSatisfy { $0 >= 0 }, "labels must not be negative")
        self.pixels = pixels
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount ?? Int((labels.max() ?? -1) + 1)
    }

    /// The images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> LabeledImages {
        var subsetPixels = [Float]()
        subsetPixels.reserveCapacity(indices.count * imageSize)
        for index in indices { subsetPixels += pixels[index * imageSize..<(index + 1) * imageSize] }
        return LabeledImages(pixels: subsetPixels, labels: indices.map { labels[$0] }, channels: channels,
                             height: height, width: width, classCount: classCount)
    }

    /// A stratified split: within each class, a seeded shuffle puts round(trainFraction * n)
    /// images in `train` and the rest in `test`; both keep the original order.
    public func split(trainFraction: Double, seed: UInt64) -> (train: LabeledImages, test: LabeledImages) {
        precondition(trainFraction > 0 && trainFraction < 1, "trainFraction must be in (0, 1), got \(trainFraction)")
        var random = SplitMix(seed: seed)
        var train: [Int] = [], test: [Int] = []
        for label in 0..<Int32(classCount) {
            var members = labels.indices.filter { labels[$0] == label }
            for i in stride(from: members.count - 1, to: 0, by: -1) {
                members.swapAt(i, Int(random.next() % UInt64(i + 1)))
            }
            let trainCount = Int((trainFraction * Double(members.count)).rounded())
            train += members[..<trainCount]
            test += members[trainCount...]
        }
        return (subset(train.sorted()), subset(test.sorted()))
    }
}

extension LabeledImages {
    /// Reads the digits file made by Tests/ForesightSSLTests/Fixtures/make_digits.py:
    /// "DIGITS01", uint32 count, height, width (little-endian), then per image height*width
    /// pixel bytes in 0...16 and a label byte. Pixels become value / 16: [count, 1, height, width].
    public init(digitsFile data: Data) throws {
        let bytes = [UInt8](data)
        let headerSize = 8 + 12
        guard bytes.count >= headerSize, bytes[0..<8].elementsEqual("DIGITS01".utf8) else {
            throw TrainingError.unreadableData(path: nil, message: "not a digits file: it must start with DIGITS01 and a 12-byte header (\(bytes.count) bytes)")
        }
        func word(_ offset: Int) -> Int {
            (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        let count = word(8), height = word(12), width = word(16)
        guard count > 0, (1...1024).contains(height), (1...1024).contains(width) else {
            throw TrainingError.unreadableData(path: nil, message: "digits file header gives \(count) images of \(height)x\(width); expected at least one image of at most 1024x1024")
        }
        let record = height * width + 1
        guard bytes.count == headerSize + count * record else {
            throw TrainingError.unreadableData(path: nil, message: "digits file has \(bytes.count) bytes; a header and \(count) images of \(height)x\(width) need \(headerSize + count * record)")
        }
        var pixels = [Float](repeating: 0, count: count * height * width)
        var labels = [Int32](repeating: 0, count: count)
        for image in 0..<count {
            let start = headerSize + image * record
            for i in 0..<height * width {
                let value = bytes[start + i]
                guard value <= 16 else {
                    throw TrainingError.unreadableData(path: nil, message: "digits file: image \(image) has pixel value \(value); pixels are 0...16")
                }
                pixels[image * height * width + i] = Float(value) / 16
            }
            let label = bytes[start + height * width]
            guard label <= 9 else { throw TrainingError.unreadableData(path: nil, message: "digits file: image \(image) has label \(label); labels are 0...9") }
            labels[image] = Int32(label)
        }
        self.init(pixels: pixels, labels: labels, channels: 1, height: height, width: width, classCount: 10)
    }
}

/// SplitMix64: a tiny seeded generator for shuffles that must not change when ForesightCore's does.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
