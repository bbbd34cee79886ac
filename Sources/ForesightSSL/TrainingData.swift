// The kinds of data a method trains on, and the reading of `--data PATH` (an image folder, a
// .txt, a .wav, a .y4m or a ROS 2 bag's .mcap file) into that data. Not the decoding of image files (ImageLoading.swift)
// and not which method takes which kind (each method's `dataKinds`).

import Foundation
import ForesightIO

/// The kinds of data a method can train on.
public enum TrainingDataKind: String, Sendable, CaseIterable {
    case images, text, audio, video

    /// The kind a `--data` path holds, by its form: a folder is images, then by extension
    /// (.txt text, .wav audio, .y4m and .mcap video); nil for anything else.
    public static func of(path: String) -> TrainingDataKind? {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { return .images }
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "txt": return .text
        case "wav": return .audio
        case "y4m", "mcap": return .video
        default: return nil
        }
    }

    /// The `--data` that holds this kind, for messages: "an image folder", "a .wav file".
    var pathDescription: String {
        switch self {
        case .images: "an image folder"
        case .text: "a .txt file"
        case .audio: "a .wav file"
        case .video: "a .y4m or .mcap file"
        }
    }

    /// Why `path` is no kind of training data: missing, or of a form not read.
    static func unknownMessage(_ path: String) -> String {
        FileManager.default.fileExists(atPath: path)
            ? "--data \(path) is neither an image folder nor a .txt, .wav, .y4m or .mcap file; give one of those"
            : "--data \(path) does not exist; check the path"
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
    /// A Y4M recording or a ROS 2 bag (.mcap), read by the trainer itself.
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
        guard !files.isEmpty else {
            throw TrainingError.unreadableData(path: path, message: "--data \(path): the folder holds no .png, .pgm or .ppm image (sub-folders are searched too); add images or give another folder")
        }
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
    /// `options.imageMemoryBytes`, a seeded uniform sample of as many as fit); a text file's
    /// bytes; a WAV file mixed to mono and resampled to the audio methods' 16 kHz as it is read;
    /// a Y4M or MCAP file's path.
    public static func load(path: String, options: TrainingOptions) throws -> TrainingData {
        guard let kind = TrainingDataKind.of(path: path) else { throw TrainingError.unreadableData(path: path, message: TrainingDataKind.unknownMessage(path)) }
        switch kind {
        case .images:
            let files = try imageFiles(folder: path)
            let kept = ImageLoading.sample(files, count: options.imagesFitting(channels: options.colour ? 3 : 1), seed: options.seed)
            return try images(kept, options: options)
        case .text:
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw TrainingError.unreadableData(path: path, message: "--data \(path): cannot read the file; check that it exists and is readable")
            }
            guard !bytes.isEmpty else { throw TrainingError.unreadableData(path: path, message: "--data \(path): the text file is empty; give a text with some bytes in it") }
            return .text([UInt8](bytes))
        case .audio:
            // Mixed and resampled as it is read: memory is the 16 kHz mono result, not the file decoded whole.
            let rate = AudioCPCConfiguration().sampleRate
            let samples = try WAVMonoReader(path: path, sampleRate: rate).readAll()
            guard !samples.isEmpty else { throw TrainingError.unreadableData(path: path, message: "--data \(path): no samples in \(path); give a recording with sound in it") }
            return .audio(samples: samples, sampleRate: rate)
        case .video:
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw TrainingError.unreadableData(path: path, message: "--data \(path): cannot read the file; check that it exists and is readable")
            }
            return .video(path: path)
        }
    }
}
