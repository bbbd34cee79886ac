// Reading image files (PNG, PGM, PPM) into float pixels [count, C, H, W]: finding them under a
// folder, sampling a folder down to what fits, labelled folders (one sub-folder per class).
// Not the choice of what `--data` holds (TrainingData.swift) and not the file formats (ForesightIO).

import Foundation
import ForesightCore
import ForesightSensors
import ForesightIO

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
            throw TrainingError.unreadableData(path: folder, message: "cannot open the folder \(folder); check that it exists and is readable")
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
            throw TrainingError.unreadableData(path: folder, message: "\(folder) has no class sub-folders; a labelled set is one sub-folder of images per class (for example cat/1.png, dog/2.png)")
        }
        let classes = fixed ?? subfolders
        var files: [String] = [], labels: [Int32] = []
        for name in subfolders {
            guard let label = classes.firstIndex(of: name) else {
                throw TrainingError.mismatchedData(message: "\(folder): class '\(name)' is not among the training classes \(classes.joined(separator: ", ")); rename or remove that sub-folder")
            }
            let found = try imageFiles(under: folder + separator + name)
            files += found
            labels += [Int32](repeating: Int32(label), count: found.count)
        }
        guard !files.isEmpty else { throw TrainingError.unreadableData(path: folder, message: "\(folder): the class sub-folders hold no .png, .pgm or .ppm image; put each class's images in its sub-folder") }
        let pixels = try load(files, channels: channels, height: height, width: width)
        return (LabeledImages(pixels: pixels, labels: labels, channels: channels, height: height, width: width, classCount: classes.count), classes)
    }

    /// Reads `files` into [files.count, channels, height, width] in [0, 1]: greyscale by luma
    /// (0.299 R + 0.587 G + 0.114 B) or grey repeated into RGB, then area-resized.
    public static func load(_ files: [String], channels: Int, height: Int, width: Int) throws -> [Float] {
        precondition(channels == 1 || channels == 3, "images load as 1 or 3 channels, got \(channels)")
        precondition(height > 0 && width > 0, "image size \(height)x\(width) must be positive")
        var pixels = [Float](repeating: 0, count: files.count * channels * height * width)
        var interleaved: [Float] = [], resized = [Float](repeating: 0, count: height * width * channels)
        for (index, file) in files.enumerated() {
            let image: ByteImage
            do { image = try ByteImage.read(path: file) } catch { throw TrainingError.unreadableData(path: file, message: "\(file): \(error)") }
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
            interleaved.withUnsafeBufferPointer { source in
                resized.withUnsafeMutableBufferPointer {
                    areaResize(source.baseAddress!, width: image.width, height: image.height, channels: channels,
                               into: $0.baseAddress!, width: width, height: height)
                }
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
