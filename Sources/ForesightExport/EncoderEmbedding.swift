// Running an exported encoder (float32 or int8) over recorded inputs: Y4M video and still images turned into
// 64x64 grey frames, stacked four at a time, embedded in batches, and NPY (v1.0) output.
// Not a live path (cameras go through LiveLearner) and not an NPY reader beyond its header.

import Foundation
import ForesightCore
import ForesightSensors
import ForesightIO

/// The one error ForesightExport throws (besides the lower layers' errors, which pass through):
/// an input of `foresight embed` or of int8 calibration that cannot be used. The case says what
/// kind of failure it is; `description` names the input and what to give instead.
public enum EncoderInputError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Nothing is at `path`; `takes` says what may be given there.
    case missing(path: String, takes: String)
    /// The input at `path` holds no frame (an empty folder, a recording without frames).
    case noFrames(path: String, problem: String)
    /// `--calibration-method` names no calibration method.
    case unknownCalibrationMethod(String)
    /// The camera at `path` could not be opened, or stopped delivering, while calibrating.
    case camera(path: String, problem: String)

    public var description: String {
        switch self {
        case let .missing(path, takes): "input \(path): \(takes)"
        case let .noFrames(path, problem), let .camera(path, problem): "input \(path): \(problem)"
        case let .unknownCalibrationMethod(text):
            "--calibration-method \(text) is not a calibration method: use minmax, percentile or percentile:P with 50 < P <= 100"
        }
    }
}

/// Grey 64 x 64 frames in [0, 1] read from recordings and images, in order.
///
/// ```swift
/// let frames = try EncoderFrames.read(["walk.y4m"])   // one [64 * 64] array per video frame
/// ```
public enum EncoderFrames {
    /// Side of the frames the encoder takes.
    public static let size = 64

    /// Reads every frame of every input: a `.y4m` file (its Y plane), a folder of PNG/PGM/PPM
    /// images (sorted by name), or single image files; each is area-resized to 64 x 64.
    public static func read(_ inputs: [String]) throws -> [[Float]] {
        var frames: [[Float]] = []
        func resized(_ grey: [Float], width: Int, height: Int) -> [Float] {
            var frame = [Float](repeating: 0, count: size * size)
            grey.withUnsafeBufferPointer { source in
                frame.withUnsafeMutableBufferPointer {
                    areaResize(source.baseAddress!, width: width, height: height, into: $0.baseAddress!, width: size, height: size)
                }
            }
            return frame
        }
        for input in inputs {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) else {
                throw EncoderInputError.missing(path: input, takes: "does not exist (embed takes .y4m videos, image folders or PNG/PGM/PPM files)")
            }
            if isFolder.boolValue {
                let folder = try ImageFolder(path: input)
                guard folder.count > 0 else { throw EncoderInputError.noFrames(path: input, problem: "is a folder without .png, .pgm or .ppm images") }
                for path in folder.paths { frames.append(try imageFrame(ByteImage.read(path: path), resized)) }
            } else if input.lowercased().hasSuffix(".y4m") {
                let reader = try Y4MReader(path: input)
                let header = reader.header
                var frame = Y4MFrame(for: header)
                let pixels = header.width * header.height
                while try reader.readFrame(into: &frame) {
                    let luma = frame.planes.prefix(pixels).map { Float($0) * (1 / 255) }
                    frames.append(resized(luma, width: header.width, height: header.height))
                }
            } else {
                frames.append(try imageFrame(ByteImage.read(path: input), resized))
            }
        }
        return frames
    }

    /// An image's grey values (BT.601 luma for RGB) / 255, resized.
    private static func imageFrame(_ image: ByteImage, _ resized: ([Float], Int, Int) -> [Float]) -> [Float] {
        let pixels = image.width * image.height
        var grey = [Float](repeating: 0, count: pixels)
        if image.channels == 1 {
            for i in 0..<pixels { grey[i] = Float(image.pixels[i]) * (1 / 255) }
        } else {
            for i in 0..<pixels {
                let red = Float(image.pixels[3 * i]), green = Float(image.pixels[3 * i + 1]), blue = Float(image.pixels[3 * i + 2])
                grey[i] = (0.299 * red + 0.587 * green + 0.114 * blue) * (1 / 255)
            }
        }
        return resized(grey, image.width, image.height)
    }

    /// Writes sample `index`'s input [4, 64, 64] into `sample`: frames index-3 ... index,
    /// oldest first, where a frame before the first repeats the first.
    public static func stack(_ frames: [[Float]], index: Int, into sample: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < frames.count, "frame index \(index) outside 0..<\(frames.count)")
        let plane = size * size
        for slot in 0..<4 {
            let source = max(0, index - 3 + slot)
            frames[source].withUnsafeBufferPointer { (sample + slot * plane).update(from: $0.baseAddress!, count: plane) }
        }
    }
}

/// An encoder that embeds batches of [4, 64, 64] inputs into [32, 16, 16]: the float32
/// `EncoderModel` and the int8 `Int8EncoderModel`.
///
/// ```swift
/// let encoder = try EncoderFiles.open("encoder.safetensors", batch: 8)   // either kind
/// encoder.embed(frames, outputs: buffer)
/// ```
public protocol FrameEmbedder: AnyObject {
    /// Samples per run.
    var batch: Int { get }
    /// Input [batch, 4, 64, 64] float32.
    var inputPointer: UnsafeMutablePointer<Float> { get }
    /// Output [batch, 32, 16, 16] float32, valid after `run()`.
    var outputPointer: UnsafePointer<Float> { get }
    /// Runs the encoder on the input.
    func run()
}

extension FrameEmbedder {
    /// Embeds every frame of `frames` (each with its 3 predecessors): `outputs` receives
    /// [frames.count, 32, 16, 16], and `inputs`, if given, [frames.count, 4, 64, 64] exactly
    /// as fed to the encoder.
    public func embed(_ frames: [[Float]], outputs: UnsafeMutablePointer<Float>, inputs: UnsafeMutablePointer<Float>? = nil) {
        let inputPointer = inputPointer
        var start = 0
        while start < frames.count {
            let rows = min(batch, frames.count - start)
            for row in 0..<rows {
                EncoderFrames.stack(frames, index: start + row, into: inputPointer + row * EncoderModel.inputElements)
            }
            // Rows past the end of the last batch are zeros; their outputs are dropped.
            if rows < batch {
                (inputPointer + rows * EncoderModel.inputElements).update(repeating: 0, count: (batch - rows) * EncoderModel.inputElements)
            }
            run()
            (outputs + start * EncoderModel.outputElements).update(from: outputPointer, count: rows * EncoderModel.outputElements)
            inputs.map { ($0 + start * EncoderModel.inputElements).update(from: inputPointer, count: rows * EncoderModel.inputElements) }
            start += rows
        }
    }
}

/// Opens encoder files of either kind.
public enum EncoderFiles {
    /// The float32 or int8 encoder in `path`, chosen by its `architecture` metadata.
    public static func open(_ path: String, batch: Int, threads: Int = 1) throws -> any FrameEmbedder {
        let file = try ModelFile(path: path)
        if file.metadata["architecture"] == Int8EncoderModel.architecture {
            return try Int8EncoderModel(file: file, batch: batch, threads: threads)
        }
        try EncoderModel.checkEncoderFile(file)
        let encoder = try EncoderModel(batch: batch, threads: threads)
        try encoder.load(from: file)
        return encoder
    }
}

/// NumPy's `.npy` format, version 1.0, for little-endian float32 arrays in C order.
///
/// ```swift
/// try NPY.write(path: "out.npy", shape: [10, 8192], values: buffer)
/// ```
public enum NPY {
    /// The magic string, version and header of a float32 array of `shape`: the whole
    /// preamble is a multiple of 64 bytes and the header dict ends in a newline.
    public static func header(shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }".utf8)
        let preamble = 10  // magic (6), version (2), header length (2)
        while (preamble + dict.count + 1) % 64 != 0 { dict.append(0x20) }
        dict.append(0x0A)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.count & 0xFF), UInt8(dict.count >> 8)] + dict
    }

    /// Writes `values` (C order, `shape`'s product of elements) as a `.npy` file.
    public static func write(path: String, shape: [Int], values: UnsafeBufferPointer<Float>) throws {
        precondition(shape.reduce(1, *) == values.count, "NPY shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        var bytes = Data(header(shape: shape))
        bytes.append(UnsafeBufferPointer(start: UnsafeRawPointer(values.baseAddress)?.assumingMemoryBound(to: UInt8.self), count: values.count * 4))
        do {
            try bytes.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw IOError.modelFile(path: path, problem: "cannot be written: \(error.localizedDescription)")
        }
    }
}
