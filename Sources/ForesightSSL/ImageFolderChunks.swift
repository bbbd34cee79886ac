// A folder of images too large to decode whole, taken in turn in chunks that fit the memory
// budget: each pass over the folder shuffles its files (seeded by the pass), splits them into
// chunks of nearly equal size, and decodes one chunk at a time. Chunk i is the same whenever
// it is asked for. Decoding happens here when asked; `TrainingRun` asks for the next chunk on a
// background queue while the current one trains.
//
// Symbols: F files in the folder, K chunks per pass, C channels, S x S image size.

/// The images of a folder in chunks of at most `capacity` images, [count, C, S, S] each.
///
/// ```swift
/// let chunks = try ImageFolderChunks(files: try ImageLoading.imageFiles(under: "frames/"), capacity: 4096,
///                                    channels: 1, size: 32, seed: 0)
/// let first = try chunks.chunk(0)   // LabeledImages, every label 0
/// ```
public final class ImageFolderChunks: Sendable {
    public let files: [String]
    /// The most images a chunk holds.
    public let capacity: Int
    public let channels: Int, size: Int
    /// K, chunks per pass over the files; every chunk holds F / K images, give or take one.
    public let chunksPerPass: Int
    private let seed: UInt64

    /// `capacity` images at most per chunk; throws when there are no files or no room for one image.
    public init(files: [String], capacity: Int, channels: Int, size: Int, seed: UInt64) throws {
        guard !files.isEmpty else { throw TrainingError.notEnoughData(available: 0, needed: 1, message: "an image folder in chunks needs at least one image") }
        guard capacity >= 1, channels == 1 || channels == 3, size >= 1 else {
            throw TrainingError.invalidSetting(name: "capacity", message: "image chunks need room for an image and 1 or 3 channels of a positive size; got capacity \(capacity), \(channels) channels, size \(size)")
        }
        self.files = files
        self.capacity = capacity
        self.channels = channels
        self.size = size
        self.seed = seed
        chunksPerPass = (files.count + capacity - 1) / capacity
    }

    /// The fewest images any chunk holds (F / K rounded down).
    public var smallestChunk: Int { files.count / chunksPerPass }

    /// The files of chunk `index` (counted over all passes), in the order of that pass's shuffle.
    public func files(ofChunk index: Int) -> [String] {
        precondition(index >= 0, "chunk index \(index) is negative")
        let pass = index / chunksPerPass, k = index % chunksPerPass
        var order = Array(files.indices)
        var random = SplitMix(seed: seed &+ 0x9E37 &* UInt64(pass + 1))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        // Chunk k takes positions [k F / K, (k + 1) F / K) of the shuffled order.
        let start = k * files.count / chunksPerPass, end = (k + 1) * files.count / chunksPerPass
        return order[start..<end].map { files[$0] }
    }

    /// Decodes chunk `index`: its images resized to S x S, grey or RGB, labels all 0. A file
    /// that cannot be read is an error naming it.
    public func chunk(_ index: Int) throws -> LabeledImages {
        let names = files(ofChunk: index)
        let pixels = try ImageLoading.load(names, channels: channels, height: size, width: size)
        return LabeledImages(pixels: pixels, labels: [Int32](repeating: 0, count: names.count), channels: channels,
                             height: size, width: size, classCount: 1)
    }
}
