// Streaming training data inside a fixed memory budget: video clips from Y4M files, ROS 2
// bags (MCAP) or a synthetic scene, mono audio windows from WAV files, byte windows from text files, images
// from a folder read one at a time, and a bounded shuffling reservoir over any of them. Every
// stream sizes its buffers once, reads on demand and starts again at the end of its file.
// Truncated or malformed files are errors naming the file and the byte offset. Not a
// data-loading framework: no background threads, no prefetch, no decoding of compressed video.
//
// Symbols: T frames per clip, H x W the model's frame size, S samples per audio window.

import Glibc
import ForesightCore
import ForesightSensors
import ForesightIO

/// A stream of fixed-size samples (a clip, an audio window, a text window, an image).
///
/// ```swift
/// let clips = try Y4MClipStream(path: "walk.y4m", frames: 8, height: 32, width: 32)
/// var clip = [Float](repeating: 0, count: clips.sampleCount)
/// try clip.withUnsafeMutableBufferPointer { try clips.next(into: $0.baseAddress!) }
/// ```
public protocol SampleStream<Element>: AnyObject {
    /// What one sample holds (Float for pixels and audio, Int32 for text bytes).
    associatedtype Element
    /// Elements of one sample.
    var sampleCount: Int { get }
    /// Writes the next sample into `destination` (`sampleCount` elements).
    func next(into destination: UnsafeMutablePointer<Element>) throws
}

/// A stream of video clips: T consecutive grey frames [T, H, W] with values in [0, 1].
public protocol VideoClipStream: SampleStream where Element == Float {
    /// T, frames per clip.
    var frames: Int { get }
    /// Frame size.
    var height: Int { get }
    var width: Int { get }
    /// Clips in about one pass over the source (a file's frames over T), or nil when it has no end.
    var clipsPerPass: Int? { get }
}

extension VideoClipStream {
    public var clipsPerPass: Int? { nil }
}

// MARK: - Files read on demand

/// A file read with `pread`, which never holds more than the caller's buffer.
final class RandomAccessFile {
    let path: String
    let size: Int
    private let descriptor: Int32

    init(path: String, format: String) throws(IOError) {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw IOError.file(format, .io, at: 0, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw IOError.file(format, .io, at: 0, "cannot read the size of \(path): \(message)")
        }
        self.path = path
        size = Int(status.st_size)
    }

    deinit { Glibc.close(descriptor) }

    /// Reads `count` bytes at `offset` into `destination`; returns how many were read (fewer at the end).
    func read(at offset: Int, count: Int, into destination: UnsafeMutableRawPointer, format: String) throws(IOError) -> Int {
        var done = 0
        while done < count {
            let got = pread(descriptor, destination + done, count - done, off_t(offset + done))
            if got < 0 {
                if errno == EINTR { continue }
                throw IOError.file(format, .io, at: offset + done, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            done += got
        }
        return done
    }
}

// MARK: - Video

/// Clips of T consecutive frames from a Y4M file, the luma plane scaled to [0, 1] and
/// area-resized to H x W. Clips follow each other without overlap; at the end of the file the
/// stream starts again from the first frame. Memory: one file frame and one luma plane in
/// floats, whatever the file's length.
///
/// ```swift
/// let clips = try Y4MClipStream(path: "walk.y4m", frames: 5, height: 32, width: 32)  // samples [5, 32, 32]
/// ```
public final class Y4MClipStream: VideoClipStream {
    public typealias Element = Float
    public let path: String
    public let frames: Int, height: Int, width: Int
    /// The file's header.
    public let header: Y4MHeader
    /// Clips delivered so far.
    public private(set) var clipsRead = 0
    private var reader: Y4MReader
    private var frame: Y4MFrame
    private var luma: [Float]

    /// Opens `path`; a clear error if it is not a Y4M file or has fewer than `frames` frames
    /// (found when the first clip is read).
    public init(path: String, frames: Int, height: Int, width: Int) throws {
        guard frames >= 1, height >= 1, width >= 1 else {
            throw TrainingError.invalidSetting(name: "frames", message: "a clip needs at least one frame of at least 1x1 pixels; got \(frames) frames of \(height)x\(width)")
        }
        self.path = path
        self.frames = frames; self.height = height; self.width = width
        do { reader = try Y4MReader(path: path) } catch { throw TrainingError.unreadableData(path: path, message: "\(path): \(error)") }
        header = reader.header
        frame = Y4MFrame(for: header)
        luma = [Float](repeating: 0, count: header.width * header.height)
    }

    /// Bytes this stream holds besides the caller's clip: one file frame and its luma as floats.
    public var bufferBytes: Int { frame.planes.count + luma.count * 4 }

    /// The file's frames over T, from its size (frames with parameters make this a slight overestimate).
    public var clipsPerPass: Int? {
        var status = stat()
        let fileBytes = stat(path, &status) == 0 ? Int(status.st_size) : 0
        let framesInFile = max(0, fileBytes - header.line.utf8.count - 1) / ("FRAME\n".utf8.count + header.frameBytes)
        return max(1, framesInFile / frames)
    }

    public var sampleCount: Int { frames * height * width }

    /// Writes the next clip [T, H, W]; restarts at the file's first frame when it ends.
    public func next(into destination: UnsafeMutablePointer<Float>) throws {
        let plane = height * width
        for t in 0..<frames {
            try readFrame(restartingAtEnd: true)
            convert(into: destination + t * plane)
        }
        clipsRead += 1
    }

    private func readFrame(restartingAtEnd: Bool) throws {
        do {
            if try reader.readFrame(into: &frame) { return }
            let framesInFile = reader.framesRead
            guard restartingAtEnd, framesInFile >= frames else {
                throw TrainingError.notEnoughData(available: framesInFile, needed: frames, message: "\(path) holds \(framesInFile) frame(s) but a clip needs \(frames)")
            }
            reader = try Y4MReader(path: path)
            guard try reader.readFrame(into: &frame) else { throw TrainingError.unreadableData(path: path, message: "\(path) has no frames left after reopening") }
        } catch let error as IOError {
            throw TrainingError.unreadableData(path: path, message: "\(path): \(error)")
        }
    }

    private func convert(into destination: UnsafeMutablePointer<Float>) {
        let count = luma.count
        frame.planes.withUnsafeBufferPointer { planes in
            luma.withUnsafeMutableBufferPointer { luma in
                for i in 0..<count { luma[i] = Float(planes[i]) * (1 / 255) }
                areaResize(luma.baseAddress!, width: header.width, height: header.height, into: destination, width: width, height: height)
            }
        }
    }
}

/// Clips of T consecutive frames of one image topic of a ROS 2 bag (MCAP): each image grey in
/// [0, 1] and area-resized to H x W (`BagFrames`). Clips follow each other without overlap; at
/// the end of the bag the stream starts again from its first frame. Memory: the bag's largest
/// chunk and one image in floats, whatever the bag's length.
///
/// ```swift
/// let clips = try BagClipStream(path: "walk.mcap", topic: "/camera/image_raw", frames: 5, height: 32, width: 32)
/// ```
public final class BagClipStream: VideoClipStream {
    public typealias Element = Float
    public let path: String
    public let frames: Int, height: Int, width: Int
    /// Clips delivered so far.
    public private(set) var clipsRead = 0
    private let reader: BagFrames

    /// Opens `path` and its image `topic` (nil: the bag's only image topic); a clear error
    /// naming the bag's image topics when there is no such topic, and one when the topic has
    /// fewer than `frames` images (found when the first clip is read).
    public init(path: String, topic: String?, frames: Int, height: Int, width: Int) throws {
        guard frames >= 1, height >= 1, width >= 1 else {
            throw TrainingError.invalidSetting(name: "frames", message: "a clip needs at least one frame of at least 1x1 pixels; got \(frames) frames of \(height)x\(width)")
        }
        self.path = path
        self.frames = frames; self.height = height; self.width = width
        do { reader = try BagFrames(path: path, topic: topic, width: width, height: height) } catch {
            throw TrainingError.unreadableData(path: path, message: "\(path): \(error)")
        }
    }

    /// The topic's images over T, when the bag's summary counts them.
    public var clipsPerPass: Int? { reader.messageCount.map { max(1, $0 / frames) } }

    public var sampleCount: Int { frames * height * width }

    /// Writes the next clip [T, H, W]; restarts at the bag's first frame when it ends.
    public func next(into destination: UnsafeMutablePointer<Float>) throws {
        let plane = height * width
        do {
            for t in 0..<frames {
                if try reader.next(into: destination + t * plane) != nil { continue }
                let framesInBag = reader.framesRead
                guard framesInBag >= frames else {
                    throw TrainingError.notEnoughData(available: framesInBag, needed: frames, message: "\(reader.topic) in \(path) holds \(framesInBag) image(s) but a clip needs \(frames)")
                }
                try reader.rewind()
                guard try reader.next(into: destination + t * plane) != nil else {
                    throw TrainingError.unreadableData(path: path, message: "\(path) has no images left after reopening")
                }
            }
        } catch let error as IOError {
            throw TrainingError.unreadableData(path: path, message: "\(path): \(error)")
        }
        clipsRead += 1
    }
}

/// Which synthetic scene a `SyntheticClipStream` renders.
public enum SyntheticClipScene: String, Sendable, CaseIterable {
    /// Bright squares moving and bouncing (ForesightSensors' MovingShapes).
    case shapes
    /// Digits moving and bouncing (MovingDigits); frames of at least 32x32.
    case digits
}

/// Clips from `lanes` independent synthetic scenes taken in turn: each clip is the next T
/// frames of one scene, so a batch of `lanes` clips shows `lanes` different scenes.
///
/// ```swift
/// let clips = SyntheticClipStream(scene: .shapes, frames: 5, size: 32, lanes: 8, seed: 1)
/// ```
public final class SyntheticClipStream: VideoClipStream {
    public typealias Element = Float
    public let frames: Int, height: Int, width: Int
    private var shapes: [MovingShapes] = []
    private var digits: [MovingDigits] = []
    private var lane = 0
    private let lanes: Int

    public init(scene: SyntheticClipScene = .shapes, frames: Int, size: Int, lanes: Int = 8, seed: UInt64) {
        let smallest = scene == .shapes ? 8 : 32
        precondition(frames >= 1 && size >= smallest && lanes >= 1,
                     "synthetic \(scene.rawValue) clips need frames >= 1, size >= \(smallest) and lanes >= 1; got \(frames), \(size), \(lanes)")
        self.frames = frames; height = size; width = size
        self.lanes = lanes
        for index in 0..<lanes {
            let laneSeed = seed &* 7919 &+ UInt64(index) &+ 1
            switch scene {
            case .shapes: shapes.append(MovingShapes(width: size, height: size, seed: laneSeed))
            case .digits: digits.append(MovingDigits(width: size, height: size, seed: laneSeed))
            }
        }
    }

    public var sampleCount: Int { frames * height * width }

    public func next(into destination: UnsafeMutablePointer<Float>) {
        let plane = height * width
        for t in 0..<frames {
            if shapes.isEmpty {
                digits[lane].render(into: destination + t * plane)
                digits[lane].advance()
            } else {
                shapes[lane].render(into: destination + t * plane)
                shapes[lane].advance()
            }
        }
        lane = (lane + 1) % lanes
    }
}

// MARK: - Audio

/// Mono windows of S samples from a WAV file (16-bit PCM or 32-bit float, any channel count,
/// channels averaged), read on demand: the next window starts `hop` samples after the last;
/// at the end of the file the stream starts again. The header is checked at init: a data
/// chunk that announces more bytes than the file holds is a truncation error. Memory: one
/// window of file bytes, whatever the file's length.
///
/// ```swift
/// let windows = try WAVWindowStream(path: "street.wav", windowSamples: 16_000, hop: 8_000)
/// ```
public final class WAVWindowStream: SampleStream {
    public typealias Element = Float
    public let path: String
    public let windowSamples: Int, hop: Int
    /// The file's sample rate (not resampled here).
    public let sampleRate: Int
    public let channels: Int
    /// Sample frames (one sample per channel) in the file.
    public let frameCount: Int
    private let file: RandomAccessFile
    private let dataOffset: Int, bytesPerSample: Int, isFloat: Bool
    private var bytes: [UInt8]
    private var position = 0

    public init(path: String, windowSamples: Int, hop: Int? = nil) throws {
        guard windowSamples >= 1, (hop ?? windowSamples) >= 1 else {
            throw TrainingError.invalidSetting(name: "windowSamples", message: "audio windows need at least one sample and a hop of at least one; got \(windowSamples), hop \(hop ?? windowSamples)")
        }
        self.path = path
        self.windowSamples = windowSamples
        self.hop = hop ?? windowSamples
        file = try RandomAccessFile(path: path, format: "WAV")
        let format = try WAVWindowStream.readHeader(file)
        (sampleRate, channels, dataOffset, bytesPerSample, isFloat) = (format.rate, format.channels, format.dataOffset, format.bytesPerSample, format.isFloat)
        frameCount = format.dataBytes / (bytesPerSample * channels)
        guard frameCount >= windowSamples else {
            throw TrainingError.notEnoughData(available: frameCount, needed: windowSamples, message: "\(path) holds \(frameCount) samples per channel but a window needs \(windowSamples)")
        }
        bytes = [UInt8](repeating: 0, count: windowSamples * channels * bytesPerSample)
    }

    public var sampleCount: Int { windowSamples }
    /// Bytes this stream holds: one window of file bytes.
    public var bufferBytes: Int { bytes.count }

    /// Writes the next window [S] in [-1, 1].
    public func next(into destination: UnsafeMutablePointer<Float>) throws {
        if position + windowSamples > frameCount { position = 0 }
        let frameBytes = channels * bytesPerSample, count = bytes.count
        let got = try bytes.withUnsafeMutableBytes { raw in
            try file.read(at: dataOffset + position * frameBytes, count: count, into: raw.baseAddress!, format: "WAV")
        }
        guard got == count else {
            throw IOError.file("WAV", .truncated, at: dataOffset + position * frameBytes + got,
                                  "\(path) ended while reading samples it announced (it changed since it was opened?)")
        }
        let channels = self.channels, scale = 1 / Float(channels)
        bytes.withUnsafeBytes { raw in
            for i in 0..<windowSamples {
                var total: Float = 0
                for channel in 0..<channels {
                    let offset = (i * channels + channel) * bytesPerSample
                    if isFloat {
                        total += Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                    } else {
                        total += Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int16.self))) * (1 / 32768)
                    }
                }
                destination[i] = total * scale
            }
        }
        position += hop
    }

    /// The header as `WAVReader` reads and checks it (bounded reads, fields in range).
    private static func readHeader(_ file: RandomAccessFile)
        throws -> (rate: Int, channels: Int, dataOffset: Int, dataBytes: Int, bytesPerSample: Int, isFloat: Bool) {
        let reader: WAVReader
        do { reader = try WAVReader(path: file.path) } catch {
            guard case let .badFile(format, problem, offset, message) = error else { throw error }
            throw IOError.file(format, problem, at: offset, "\(file.path): \(message)")
        }
        let format = reader.format
        guard let frames = reader.frameCount else {
            throw IOError.file("WAV", .unsupported, at: reader.dataOffset, "\(file.path) is not a regular file; training reads WAV files whose length is known")
        }
        return (format.sampleRate, format.channels, reader.dataOffset, frames * format.frameBytes, format.sample == .pcm16 ? 2 : 4, format.sample == .float32)
    }
}

// MARK: - Text

/// Windows of bytes from a text (or any) file as Int32 token ids 0...255, read on demand: the
/// next window starts `hop` bytes after the last; at the end the stream starts again.
///
/// ```swift
/// let text = try TextWindowStream(path: "notes.txt", windowBytes: 64)   // samples [64] of byte values
/// ```
public final class TextWindowStream: SampleStream {
    public typealias Element = Int32
    public let path: String
    public let windowBytes: Int, hop: Int
    private let file: RandomAccessFile
    private var bytes: [UInt8]
    private var position = 0

    public init(path: String, windowBytes: Int, hop: Int? = nil) throws {
        guard windowBytes >= 1, (hop ?? windowBytes) >= 1 else {
            throw TrainingError.invalidSetting(name: "windowBytes", message: "text windows need at least one byte and a hop of at least one; got \(windowBytes), hop \(hop ?? windowBytes)")
        }
        self.path = path
        self.windowBytes = windowBytes
        self.hop = hop ?? windowBytes
        file = try RandomAccessFile(path: path, format: "text")
        guard file.size >= windowBytes else { throw TrainingError.notEnoughData(available: file.size, needed: windowBytes, message: "\(path) holds \(file.size) bytes but a window needs \(windowBytes)") }
        bytes = [UInt8](repeating: 0, count: windowBytes)
    }

    public var sampleCount: Int { windowBytes }
    /// Bytes this stream holds: one window.
    public var bufferBytes: Int { bytes.count }

    public func next(into destination: UnsafeMutablePointer<Int32>) throws {
        if position + windowBytes > file.size { position = 0 }
        let count = windowBytes
        let got = try bytes.withUnsafeMutableBytes { try file.read(at: position, count: count, into: $0.baseAddress!, format: "text") }
        guard got == count else {
            throw IOError.file("text", .truncated, at: position + got, "\(path) became shorter while it was read")
        }
        for i in 0..<count { destination[i] = Int32(bytes[i]) }
        position += hop
    }
}

// MARK: - Images

/// The images of a folder (PNG, PGM, PPM) as [C, H, W] in [0, 1], one file read per sample, in
/// a seeded shuffled order that changes every pass. Grey files give C copies of their plane
/// when C = 3; colour files are averaged when C = 1. Memory: one decoded image and one
/// float copy, whatever the folder's size.
///
/// ```swift
/// let images = try ImageFolderStream(path: "photos/", channels: 3, height: 32, width: 32, seed: 1)
/// ```
public final class ImageFolderStream: SampleStream {
    public typealias Element = Float
    public let folder: ImageFolder
    public let channels: Int, height: Int, width: Int
    private var order: [Int]
    private var cursor = 0
    private var random: SeededRandom
    private var source: [Float] = []
    private var resized: [Float]

    public init(path: String, channels: Int = 1, height: Int, width: Int, seed: UInt64 = 0) throws {
        guard channels == 1 || channels == 3, height >= 1, width >= 1 else {
            throw TrainingError.invalidSetting(name: "channels", message: "images need 1 or 3 channels and a positive size; got \(channels) channels, \(height)x\(width)")
        }
        folder = try ImageFolder(path: path)
        guard folder.count > 0 else { throw TrainingError.unreadableData(path: path, message: "\(path) holds no .png, .pgm or .ppm files") }
        self.channels = channels; self.height = height; self.width = width
        order = Array(0..<folder.count)
        resized = [Float](repeating: 0, count: channels * height * width)
        random = SeededRandom(seed: seed)
        order.shuffle(using: &random)
    }

    public var sampleCount: Int { channels * height * width }

    /// Writes the next image [C, H, W]; a broken file is an error naming it.
    public func next(into destination: UnsafeMutablePointer<Float>) throws {
        if cursor == order.count {
            cursor = 0
            order.shuffle(using: &random)
        }
        let path = folder.paths[order[cursor]]
        cursor += 1
        let image: ByteImage
        do { image = try ByteImage.read(path: path) } catch { throw TrainingError.unreadableData(path: path, message: "\(path): \(error)") }
        if source.count != image.width * image.height * channels {
            source = [Float](repeating: 0, count: image.width * image.height * channels)
        }
        let pixels = image.width * image.height
        // source: [H, W, C] as areaResize wants; then transposed to [C, H, W].
        for i in 0..<pixels {
            if image.channels == channels {
                for c in 0..<channels { source[i * channels + c] = Float(image.pixels[i * channels + c]) * (1 / 255) }
            } else if channels == 1 {
                source[i] = (Float(image.pixels[3 * i]) + Float(image.pixels[3 * i + 1]) + Float(image.pixels[3 * i + 2])) * (1 / 765)
            } else {
                for c in 0..<3 { source[i * 3 + c] = Float(image.pixels[i]) * (1 / 255) }
            }
        }
        resized.withUnsafeMutableBufferPointer { resized in
            source.withUnsafeBufferPointer {
                areaResize($0.baseAddress!, width: image.width, height: image.height, channels: channels,
                           into: resized.baseAddress!, width: width, height: height)
            }
            // [H, W, C] -> [C, H, W]
            let plane = height * width
            for c in 0..<channels {
                for i in 0..<plane { destination[c * plane + i] = resized[i * channels + c] }
            }
        }
    }
}

// MARK: - Shuffling

/// A bounded shuffling buffer over any stream: holds `capacity` samples, hands out a random one
/// and refills its slot from the stream, so that consecutive samples are not consecutive in
/// the file. Memory: exactly `capacity * sampleCount` elements, allocated at init.
///
/// ```swift
/// let shuffled = try ShuffleReservoir(Y4MClipStream(path: "walk.y4m", frames: 8, height: 32, width: 32), capacity: 64, seed: 1)
/// ```
public final class ShuffleReservoir<Source: SampleStream>: SampleStream where Source.Element: BitwiseCopyable {
    public typealias Element = Source.Element
    public let source: Source
    /// Samples the buffer holds at most.
    public let capacity: Int
    /// Samples it holds now (the buffer fills on the first `capacity` draws).
    public private(set) var buffered = 0
    private let storage: UnsafeMutablePointer<Element>
    private var random: SeededRandom

    public init(_ source: Source, capacity: Int, seed: UInt64 = 0) throws {
        guard capacity >= 1 else { throw TrainingError.invalidSetting(name: "capacity", message: "a shuffle reservoir needs a capacity of at least one sample, got \(capacity)") }
        self.source = source
        self.capacity = capacity
        storage = .allocate(capacity: capacity * source.sampleCount)
        random = SeededRandom(seed: seed)
    }

    deinit { storage.deallocate() }

    public var sampleCount: Int { source.sampleCount }
    /// Elements allocated for the buffer: `capacity * sampleCount`, never more.
    public var bufferElements: Int { capacity * source.sampleCount }

    /// Fills the buffer up to its capacity, then copies out a random buffered sample and reads a fresh one into its slot.
    public func next(into destination: UnsafeMutablePointer<Element>) throws {
        let count = source.sampleCount
        while buffered < capacity {
            try source.next(into: storage + buffered * count)
            buffered += 1
        }
        let slot = storage + random.nextInt(below: capacity) * count
        destination.update(from: slot, count: count)
        try source.next(into: slot)
    }
}
