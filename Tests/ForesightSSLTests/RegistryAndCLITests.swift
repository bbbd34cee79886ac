// Tests of the method registry (a trainer for each method, clear errors for data of the wrong
// kind and unknown names), of reading --data folders, and of the train -> model file -> eval
// path the `train` and `eval` commands take, on the digits written out as PGM images.

import Foundation
import XCTest
import ForesightCore
import ForesightNN
import ForesightSensors
@testable import ForesightSSL
@testable import ForesightIO
import ForesightExport

/// A fresh temporary folder, removed when the test ends.
private func temporaryFolder(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "foresight-registry-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Writes `set` as 8-bit PGM files, `folder/<label>/<index>.pgm` (one sub-folder per class).
func writeLabelledFolder(_ set: LabeledImages, to folder: String) throws {
    for index in 0..<set.count {
        let classFolder = folder + "/\(set.labels[index])"
        try FileManager.default.createDirectory(atPath: classFolder, withIntermediateDirectories: true)
        let pixels = set.pixels[index * set.imageSize..<(index + 1) * set.imageSize].map { UInt8(($0 * 255).rounded()) }
        try ByteImage(width: set.width, height: set.height, channels: 1, pixels: pixels)
            .write(path: classFolder + String(format: "/%04d.pgm", index))
    }
}

final class MethodRegistryTests: XCTestCase {
    static let imageMethods = ["simclr", "moco", "byol", "simsiam", "vicreg", "barlow", "jepa", "autoencoder", "denoising", "rotation",
                               "jigsaw", "inpainting"]

    func testTheImageMethodsTrainOnImagesOnly() {
        for name in Self.imageMethods { XCTAssertEqual(try MethodRegistry.method(named: name).dataKinds, [.images], name) }
    }

    func testDataKindFollowsThePath() throws {
        let folder = try temporaryFolder(self)
        XCTAssertEqual(TrainingDataKind.of(path: folder), .images)
        XCTAssertEqual(TrainingDataKind.of(path: "notes.txt"), .text)
        XCTAssertEqual(TrainingDataKind.of(path: "street.WAV"), .audio)
        XCTAssertEqual(TrainingDataKind.of(path: "walk.y4m"), .video)
        XCTAssertNil(TrainingDataKind.of(path: "weights.bin"))
    }

    func testMakeTrainerBuildsEachImageMethodAndItSteps() throws {
        var options = TrainingOptions(batch: 8, seed: 2, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)
        options.threads = 1
        let data = TrainingData.images(Digits.split.train)
        for name in Self.imageMethods {
            let trainer = try MethodRegistry.makeTrainer(method: name, data: data, options: options)
            XCTAssertEqual(trainer.imageBackbone?.specification, "resnet width=8 groups=4", name)
            let loss = try trainer.step()
            XCTAssert(loss.isFinite && loss > 0, "\(name): first loss \(loss)")
        }
    }

    func testTheViewAugmentationReachesTheTwoViewAndMomentumTrainers() throws {
        var options = TrainingOptions(batch: 8, seed: 2, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)
        options.augmentation = TrainingOptions.colourAugmentation
        let data = TrainingData.images(Digits.split.train)
        let simclr = try XCTUnwrap(try MethodRegistry.makeTrainer(method: "simclr", data: data, options: options) as? TwoViewTrainer)
        XCTAssertEqual(simclr.augmentation.flipProbability, 0.5)
        XCTAssertEqual(simclr.augmentation.blurProbability, 0.5)
        XCTAssert(try simclr.step().isFinite)
        let byol = try XCTUnwrap(try MethodRegistry.makeTrainer(method: "byol", data: data, options: options) as? MomentumTrainer)
        XCTAssert(try byol.step().isFinite)
    }

    func testMakeTrainerBuildsTheTransformerAndTextMethods() throws {
        var options = TrainingOptions(batch: 8, seed: 2, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "mae", data: .images(Digits.split.train), options: options)) { error in
            XCTAssert("\(error)".contains("mae trains a vit backbone"), "\(error)")
        }
        options.backbone = try ImageBackbones.parse(try MethodRegistry.method(named: "mae").defaultBackbone)
        let mae = try MethodRegistry.makeTrainer(method: "mae", data: .images(Digits.split.train), options: options)
        XCTAssertEqual(mae.imageBackbone?.specification, options.backbone.specification)
        XCTAssert(try mae.step().isFinite)
        let text = TrainingData.text(Array(String(repeating: "the robot sees the door. ", count: 20).utf8))
        for name in ["gpt", "bert"] {
            let trainer = try MethodRegistry.makeTrainer(method: name, data: text, options: options)
            XCTAssertNil(trainer.imageBackbone, name)
            let loss = try trainer.step()
            XCTAssert(loss.isFinite && loss > 0, "\(name): first loss \(loss)")
        }
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "gpt", data: .images(Digits.split.train), options: options)) { error in
            XCTAssert("\(error)".hasPrefix("gpt trains on text; the data ("), "\(error)")
        }
        // clip reads the sound from the WAV file beside the video, and says so when it is missing.
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "clip", data: .video(path: "/nonexistent/walk.y4m"), options: options)) { error in
            XCTAssert("\(error)".contains("it needs /nonexistent/walk.wav beside /nonexistent/walk.y4m"), "\(error)")
        }
    }

    func testMakeTrainerBuildsTheVideoAndAudioMethods() throws {
        let folder = try temporaryFolder(self)
        // 24 grey 16x16 frames of a bright square moving right.
        let video = folder + "/walk.y4m"
        let writer = try Y4MWriter(path: video, header: Y4MHeader(width: 16, height: 16))
        for frame in 0..<24 {
            let luma = (0..<256).map { i -> UInt8 in (i / 16 >= 6 && i / 16 < 10 && (i % 16 - frame % 12) >= 0 && (i % 16 - frame % 12) < 4) ? 220 : 20 }
            try luma.withUnsafeBytes { try writer.writeGray(luma: $0) }
        }
        writer.close()
        let options = TrainingOptions(batch: 4, seed: 2, imageSize: 16)
        for name in ["next-frame", "motion"] {
            let trainer = try MethodRegistry.makeTrainer(method: name, data: .video(path: video), options: options)
            XCTAssert(try trainer.step().isFinite, name)
        }
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "motion", data: .images(Digits.split.test), options: options)) { error in
            XCTAssert("\(error)".hasPrefix("motion trains on video; the data ("), "\(error)")
        }
        // The prediction models' encoder goes into their model files, and eval rebuilds it (pc64's e1..e3).
        for name in ["next-frame", "motion"] {
            let run = try TrainingRun(method: name, dataPath: video, options: options)
            XCTAssertEqual(run.inputShape, [1, 16, 16])
            _ = try run.train(steps: 2, output: folder + "/\(name).safetensors")
            let (file, backbone, _) = try EvaluationRun.backbone(model: folder + "/\(name).safetensors")
            XCTAssertEqual(backbone.specification, "pc64-encoder past=4", name)
            XCTAssertEqual(file.metadata[TrainingMetadata.method], name)
            let (encoder, input) = try EvaluationRun.encoder(model: folder + "/\(name).safetensors")
            XCTAssertEqual(input, [1, 16, 16])
            XCTAssertEqual(encoder.program.parameters.count, 6, name)
        }
        // It is not a backbone any method trains.
        var pc64Backbone = options
        pc64Backbone.backbone = try ImageBackbones.parse("pc64-encoder past=4")
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "simclr", data: .images(Digits.split.test), options: pc64Backbone)) { error in
            XCTAssert("\(error)".contains("no method trains it as its backbone"), "\(error)")
        }
        // Video CPC learns a frame encoder: its model file carries the frame shape, and eval rebuilds it.
        let run = try TrainingRun(method: "cpc", dataPath: video, options: options)
        XCTAssertEqual(run.inputShape, [1, 16, 16])
        _ = try run.train(steps: 2, output: folder + "/cpc.safetensors")
        let (encoder, input) = try EvaluationRun.encoder(model: folder + "/cpc.safetensors")
        XCTAssertEqual(input, [1, 16, 16])
        XCTAssertGreaterThan(encoder.program.parameters.count, 0)
        // cpc takes audio as well as video; a tone with a wandering pitch, 3 s at 8 kHz (resampled to the model's rate).
        let samples = (0..<24_000).map { i -> Float in 0.5 * sinf(Float(i) * (0.2 + 0.1 * sinf(Float(i) / 4000))) }
        let audio = try MethodRegistry.makeTrainer(method: "cpc", data: .audio(samples: samples, sampleRate: 8000), options: options)
        XCTAssertNil(audio.imageBackbone)
        XCTAssert(try audio.step().isFinite)
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "cpc", data: .text([1, 2, 3]), options: options)) { error in
            XCTAssert("\(error)".hasPrefix("cpc trains on audio or video; the data ("), "\(error)")
        }
    }

    func testDataOfTheWrongKindIsRefusedByName() throws {
        let options = TrainingOptions(batch: 8, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)
        let wrong: [TrainingData] = [.audio(samples: [Float](repeating: 0, count: 16_000), sampleRate: 16_000), .text(Array("abc".utf8)),
                                     .video(path: "walk.y4m")]
        for data in wrong {
            XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "rotation", data: data, options: options)) { error in
                XCTAssertEqual(error as? TrainingError,
                               .wrongData(method: "rotation", needs: [.images], got: data.kind, source: "the data (\(data.summary))"))
                XCTAssert("\(error)".hasPrefix("rotation trains on images; the data (") && "\(error)".contains("is \(data.kind.rawValue)"), "\(error)")
            }
        }
        // From a path, the check comes before reading: the file need not exist.
        XCTAssertThrowsError(try TrainingRun(method: "rotation", dataPath: "x.wav", options: options)) { error in
            XCTAssertEqual("\(error)", "rotation trains on images; --data x.wav is audio: give an image folder, or choose a method that trains on audio: cpc")
        }
        XCTAssertThrowsError(try TrainingRun(method: "simclr", dataPath: "/nonexistent/x.bin", options: options)) { error in
            XCTAssertEqual("\(error)", "--data /nonexistent/x.bin does not exist; check the path")
        }
        let folder = try temporaryFolder(self)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: folder + "/x.bin"))
        XCTAssertThrowsError(try TrainingRun(method: "simclr", dataPath: folder + "/x.bin", options: options)) { error in
            XCTAssert("\(error)".contains("neither an image folder nor a .txt, .wav, .y4m or .mcap file"), "\(error)")
        }
    }

    func testUnknownMethodListsTheKnownOnes() {
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "simclear", data: .images(Digits.split.test), options: TrainingOptions())) { error in
            let message = "\(error)"
            XCTAssert(message.hasPrefix("unknown method 'simclear'; known methods: "), message)
            for name in MethodRegistry.names { XCTAssert(message.contains(name), "\(name) missing from: \(message)") }
        }
    }

    /// `train --set`: defaults, typos, ranges and whole numbers are checked by name, and the
    /// values reach the trainers.
    func testMethodSettingsAreCheckedAndReachTheTrainer() throws {
        let moco = try MethodRegistry.method(named: "moco")
        XCTAssertEqual(try moco.resolvedSettings([:]), ["temperature": 0.2, "queue": 512, "momentum": 0.99])
        XCTAssertEqual(moco.describe(try moco.resolvedSettings(["queue": 64])), "temperature=0.2 queue=64 momentum=0.99")
        XCTAssertEqual(try MethodSetting.parse("temperature=0.2 queue=64".split(separator: " ").map(String.init)),
                       ["temperature": 0.2, "queue": 64])
        XCTAssertThrowsError(try moco.resolvedSettings(["temprature": 0.1])) {
            XCTAssertEqual("\($0)", "moco has no setting 'temprature'; its settings: temperature (default 0.2), queue (default 512), momentum (default 0.99)")
        }
        XCTAssertThrowsError(try MethodRegistry.method(named: "rotation").resolvedSettings(["noise": 0.1])) {
            XCTAssertEqual("\($0)", "rotation has no setting 'noise'; it has none")
        }
        XCTAssertThrowsError(try moco.resolvedSettings(["queue": 0])) { XCTAssert("\($0)".contains("queue=0 is outside 1...65536"), "\($0)") }
        XCTAssertThrowsError(try moco.resolvedSettings(["queue": 10.5])) { XCTAssert("\($0)".contains("must be a whole number"), "\($0)") }
        XCTAssertThrowsError(try moco.resolvedSettings(["temperature": .nan])) { XCTAssert("\($0)".contains("is outside"), "\($0)") }
        XCTAssertThrowsError(try MethodSetting.parse(["temperature"])) {
            XCTAssertEqual("\($0)", "a method setting is NAME=NUMBER, got 'temperature'")
        }
        for setting in MethodRegistry.methods.flatMap(\.settings) { XCTAssert(setting.range.contains(setting.defaultValue), setting.name) }

        var options = TrainingOptions(batch: 8, backbone: TinyViT(dimension: 16, depth: 1, heads: 2, patch: 2), imageSize: 8)
        options.settings = ["mask-ratio": 0.5]
        let mae = try XCTUnwrap(try MethodRegistry.makeTrainer(method: "mae", data: .images(Digits.split.test), options: options) as? MaskedAutoencoderTrainer)
        XCTAssertEqual([mae.patchCount, mae.hiddenPerImage], [16, 8])
        options.backbone = SmallResNet(width: 8, groups: 4)
        options.settings = ["queue": 24]
        let queued = try MethodRegistry.makeTrainer(method: "moco", data: .images(Digits.split.test), options: options)
        XCTAssertEqual(queued.program.graph.shape(try XCTUnwrap(queued.program.graph.tensor(named: "queue")))[0], 24)
        options.settings = ["block": 9]
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "jepa", data: .images(Digits.split.test), options: options)) {
            XCTAssert("\($0)".contains("block size 9"), "\($0)")
        }
    }

    /// `--epochs` counts passes over text, audio and video as over images; a synthetic source has no end.
    func testEpochsCountPassesOverEveryKindOfData() throws {
        let folder = try temporaryFolder(self)
        let text = folder + "/text.txt"
        try Data([UInt8](repeating: 97, count: 5_000)).write(to: URL(fileURLWithPath: text))
        let gpt = try TrainingRun(method: "gpt", dataPath: text, options: TrainingOptions(batch: 16))
        XCTAssertEqual(gpt.stepsPerEpoch, 5_000 / (16 * 32))
        XCTAssertEqual(try gpt.steps(forEpochs: 3), 3 * (5_000 / (16 * 32)))

        // 40 frames make 8 clips of 5 (4 past frames and the next): 2 steps of 4 clips.
        let video = folder + "/clip.y4m"
        let writer = try Y4MWriter(path: video, header: Y4MHeader(width: 16, height: 16))
        for frame in 0..<40 { try [UInt8](repeating: UInt8(frame), count: 384).withUnsafeBytes { try writer.writeFrame(planes: $0) } }
        writer.close()
        XCTAssertEqual(try TrainingRun(method: "next-frame", dataPath: video, options: TrainingOptions(batch: 4, imageSize: 16)).stepsPerEpoch, 2)

        // 3 s of audio at 16 kHz in chunks of 0.5 s: 6 steps.
        let audio = try MethodRegistry.makeTrainer(method: "cpc", data: .audio(samples: [Float](repeating: 0, count: 48_000), sampleRate: 16_000),
                                                   options: TrainingOptions(batch: 8))
        XCTAssertEqual(audio.stepsPerPass, 6)

        let synthetic = try VideoCPCTrainer(clips: SyntheticClipStream(frames: 8, size: 16, seed: 1))
        XCTAssertNil(synthetic.stepsPerPass)
    }

    func testBatchLargerThanTheDataIsAClearError() throws {
        let few = Digits.split.test.subset(Array(0..<5))
        let options = TrainingOptions(batch: 8, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)
        XCTAssertThrowsError(try MethodRegistry.makeTrainer(method: "simclr", data: .images(few), options: options)) { error in
            XCTAssert("\(error)".contains("a batch of 8"), "\(error)")
        }
    }
}

final class TrainingDataLoadingTests: XCTestCase {
    func testImageFolderIsReadRecursivelyResizedAndGreyed() throws {
        if let missing = PNG.missingLibrary { throw XCTSkip("\(missing)") }
        let folder = try temporaryFolder(self)
        try FileManager.default.createDirectory(atPath: folder + "/nested", withIntermediateDirectories: true)
        // A 16x16 RGB image of one colour, and an 8x8 grey image: left half 0, right half 255.
        try ByteImage(width: 16, height: 16, channels: 3, pixels: [UInt8]((0..<256).flatMap { _ in [200, 100, 50] as [UInt8] }))
            .write(path: folder + "/a.ppm")
        try ByteImage(width: 8, height: 8, channels: 1, pixels: (0..<64).map { $0 % 8 < 4 ? 0 : 255 }).write(path: folder + "/nested/b.png")
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/readme.md"))

        let grey = try TrainingData.load(path: folder, options: TrainingOptions(imageSize: 4))
        guard case let .images(set) = grey else { return XCTFail("a folder should load as images, got \(grey.kind)") }
        XCTAssertEqual([set.count, set.channels, set.height, set.width], [2, 1, 4, 4])
        let luma: Double = (0.299 * 200.0 + 0.587 * 100.0 + 0.114 * 50.0) / 255.0
        for value in set.pixels[0..<16] { XCTAssertEqual(Double(value), luma, accuracy: 1e-5) }
        for y in 0..<4 { XCTAssertEqual(Array(set.pixels[16 + y * 4..<16 + y * 4 + 4]), [0, 0, 1, 1]) }

        let colour = try TrainingData.load(path: folder, options: TrainingOptions(imageSize: 2, colour: true))
        guard case let .images(rgb) = colour else { return XCTFail("a folder should load as images") }
        XCTAssertEqual([rgb.count, rgb.channels, rgb.height, rgb.width], [2, 3, 2, 2])
        XCTAssertEqual(Array(rgb.pixels[0..<12]), [Float](repeating: 200 / 255, count: 4) + [Float](repeating: 100 / 255, count: 4)
                       + [Float](repeating: 50 / 255, count: 4))
        XCTAssertEqual(Array(rgb.pixels[12..<16]), [0, 1, 0, 1], "grey is repeated into each channel")
    }

    /// Each pass over a folder in chunks takes every file once, in a new order, in chunks of
    /// nearly equal size within the capacity; a chunk is the same whenever it is asked for.
    func testImageFolderChunksTakeEveryFileOncePerPass() throws {
        let folder = try temporaryFolder(self)
        try writeLabelledFolder(Digits.split.test.subset(Array(0..<50)), to: folder)
        let files = try ImageLoading.imageFiles(under: folder)
        let chunks = try ImageFolderChunks(files: files, capacity: 16, channels: 1, size: 8, seed: 5)
        XCTAssertEqual([chunks.chunksPerPass, chunks.smallestChunk], [4, 12])
        for pass in 0..<2 {
            let taken = (0..<4).map { chunks.files(ofChunk: pass * 4 + $0) }
            XCTAssert(taken.allSatisfy { (12...13).contains($0.count) }, "\(taken.map(\.count))")
            XCTAssertEqual(taken.flatMap { $0 }.sorted(), files.sorted(), "pass \(pass) takes every file once")
        }
        XCTAssertNotEqual(chunks.files(ofChunk: 0), chunks.files(ofChunk: 4), "each pass shuffles anew")
        XCTAssertEqual(chunks.files(ofChunk: 6), chunks.files(ofChunk: 6))
        let decoded = try chunks.chunk(1)
        XCTAssertEqual([decoded.count, decoded.channels, decoded.height, decoded.width], [chunks.files(ofChunk: 1).count, 1, 8, 8])
        XCTAssertEqual(decoded.pixels, try ImageLoading.load(chunks.files(ofChunk: 1), channels: 1, height: 8, width: 8))
        XCTAssertThrowsError(try ImageFolderChunks(files: [], capacity: 4, channels: 1, size: 8, seed: 0))
    }

    /// A folder larger than the image memory trains in chunks of half of it, moving to the next
    /// chunk after about a pass over the last; an epoch counts the whole folder.
    func testLargeFolderTrainsInChunksWithinTheImageMemory() throws {
        let folder = try temporaryFolder(self)
        try writeLabelledFolder(Digits.split.test.subset(Array(0..<50)), to: folder + "/images")
        var options = TrainingOptions(batch: 4, seed: 2, backbone: SmallResNet(width: 4, groups: 2), imageSize: 8)
        options.imageMemoryBytes = 20 * 64 * MemoryLayout<Float>.stride   // 20 images of 1x8x8
        let run = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)
        let chunks = try XCTUnwrap(run.chunks)
        XCTAssertEqual([chunks.capacity, chunks.chunksPerPass], [10, 5])
        XCTAssertEqual(run.stepsPerChunk, 3)
        XCTAssertEqual(run.stepsPerEpoch, 13)
        let trainer = try XCTUnwrap(run.trainer as? any ImageSetTrainer)
        XCTAssertEqual(trainer.imageSet.pixels, try chunks.chunk(0).pixels)
        var chunkOfStep: [Int] = []
        _ = try run.train(steps: 16) { _ in chunkOfStep.append(run.currentChunk) }
        XCTAssertEqual(chunkOfStep, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5])
        XCTAssertEqual(trainer.imageSet.pixels, try chunks.chunk(5).pixels)
        XCTAssertLessThanOrEqual(trainer.imageSet.pixels.count * MemoryLayout<Float>.stride, options.imageMemoryBytes / 2)

        // A resumed run goes on with the chunk its steps point at.
        let saved = folder + "/chunked.safetensors"
        _ = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options).train(steps: 7, output: saved)
        let resumed = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)
        try resumed.resume(from: saved)
        var resumedChunks: [Int] = []
        _ = try resumed.train(steps: 10) { _ in resumedChunks.append(resumed.currentChunk) }
        XCTAssertEqual(resumedChunks, [2, 2, 3])
        XCTAssertEqual(try XCTUnwrap(resumed.trainer as? any ImageSetTrainer).imageSet.pixels, try chunks.chunk(3).pixels)

        // A chunk that cannot be read stops the run with the file named, after saving the steps done.
        let later = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)
        let broken = try XCTUnwrap(later.chunks).files(ofChunk: 1)[0]
        try Data("P5\n8 8\n255\n".utf8).write(to: URL(fileURLWithPath: broken))   // a header without its pixels
        let model = folder + "/ae.safetensors"
        XCTAssertThrowsError(try later.train(steps: 10, checkpointEvery: 100, output: model)) { error in
            XCTAssert("\(error)".contains("chunk 2 of the image folder could not be read at step 3"), "\(error)")
            XCTAssert("\(error)".contains(broken), "\(error)")
        }
        XCTAssertEqual(try Checkpoint(path: model).steps, 3)

        // Chunks smaller than a batch are refused up front.
        options.batch = 16
        XCTAssertThrowsError(try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)) { error in
            XCTAssert("\(error)".contains("fewer than a batch of 16: raise the image memory or lower the batch"), "\(error)")
        }
    }

    /// A trainer takes a replacement set only of its image shape and at least a batch.
    func testReplacingATrainersImagesChecksTheSet() throws {
        let set = Digits.split.test
        let trainer = try TwoViewTrainer(objective: .simclr(temperature: 0.2), data: set.subset(Array(0..<20)), backbone: SmallResNet(width: 4, groups: 2), batch: 8)
        XCTAssertThrowsError(try trainer.replaceImages(set.subset(Array(0..<7)))) { XCTAssert("\($0)".contains("smaller than a batch of 8"), "\($0)") }
        let wide = LabeledImages(pixels: [Float](repeating: 0, count: 8 * 64 * 2), labels: [Int32](repeating: 0, count: 8), channels: 1, height: 8, width: 16)
        XCTAssertThrowsError(try trainer.replaceImages(wide)) { XCTAssert("\($0)".contains("the trainer takes 1x8x8"), "\($0)") }
        XCTAssertEqual(trainer.imageSet.count, 20, "a refused set changes nothing")
        try trainer.replaceImages(set.subset(Array(100..<110)))
        XCTAssertEqual(trainer.imageSet.pixels, set.subset(Array(100..<110)).pixels)
        XCTAssert(try trainer.step().isFinite)
    }

    func testFolderLargerThanTheImageMemoryIsSampledToFit() throws {
        let folder = try temporaryFolder(self)
        // Ten 4x4 grey images; image i is filled with the value 10 i.
        for i in 0..<10 {
            try ByteImage(width: 4, height: 4, channels: 1, pixels: [UInt8](repeating: UInt8(10 * i), count: 16)).write(path: folder + "/\(i).pgm")
        }
        var options = TrainingOptions(seed: 3, imageSize: 4)
        options.imageMemoryBytes = 4 * 16 * MemoryLayout<Float>.stride + 7   // room for 4 images, not 5
        XCTAssertEqual(options.imagesFitting(channels: 1), 4)
        func values(_ data: TrainingData) -> [Float] {
            guard case let .images(set) = data else { XCTFail("a folder should load as images"); return [] }
            return (0..<set.count).map { set.pixels[$0 * set.imageSize] }
        }
        let first = values(try TrainingData.load(path: folder, options: options))
        XCTAssertEqual(first.count, 4)
        XCTAssertEqual(Set(first).count, 4, "four different images")
        XCTAssertEqual(values(try TrainingData.load(path: folder, options: options)), first, "the same seed keeps the same sample")
        options.seed = 4
        XCTAssertNotEqual(values(try TrainingData.load(path: folder, options: options)), first, "another seed samples other images")
        options.imageMemoryBytes = 256 << 20
        XCTAssertEqual(values(try TrainingData.load(path: folder, options: options)).count, 10, "a folder that fits is read whole")
    }

    func testEmptyFolderAndBrokenImageAreClearErrors() throws {
        let folder = try temporaryFolder(self)
        XCTAssertThrowsError(try TrainingData.load(path: folder, options: TrainingOptions())) { error in
            XCTAssert("\(error)".contains("holds no .png, .pgm or .ppm image"), "\(error)")
        }
        try Data("P5\n8 8\n255\nshort".utf8).write(to: URL(fileURLWithPath: folder + "/broken.pgm"))
        XCTAssertThrowsError(try TrainingData.load(path: folder, options: TrainingOptions())) { error in
            XCTAssert("\(error)".contains("broken.pgm"), "the error should name the file: \(error)")
        }
    }

    func testTextAndAudioFilesLoadAsTheirKinds() throws {
        let folder = try temporaryFolder(self)
        try Data("hello robot".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        guard case let .text(bytes) = try TrainingData.load(path: folder + "/notes.txt", options: TrainingOptions()) else {
            return XCTFail("a .txt file should load as text")
        }
        XCTAssertEqual(bytes, Array("hello robot".utf8))
        let stereo = AudioClip(sampleRate: 8000, channels: 2, samples: (0..<200).map { $0 % 2 == 0 ? 0.5 : -0.25 })
        try WAV.write(stereo, to: folder + "/sound.wav")
        guard case let .audio(samples, rate) = try TrainingData.load(path: folder + "/sound.wav", options: TrainingOptions()) else {
            return XCTFail("a .wav file should load as audio")
        }
        XCTAssertEqual(rate, 16_000, "audio is resampled to the audio methods' rate as it is read")
        XCTAssertEqual(samples.count, 200, "stereo is mixed to mono, 100 frames at 8 kHz are 200 at 16 kHz")
        XCTAssertEqual(samples[100], 0.125, accuracy: 2e-2)
    }
}

final class TrainAndEvaluateTests: XCTestCase {
    /// The digits as labelled PGM folders: root/train/<class>, root/test/<class>.
    func digitFolders() throws -> (train: String, test: String) {
        let root = try temporaryFolder(self)
        let (train, test) = Digits.split
        try writeLabelledFolder(train, to: root + "/train")
        try writeLabelledFolder(test, to: root + "/test")
        return (root + "/train", root + "/test")
    }

    func testTrainSaveLoadEvaluateBeatsTheRandomEncoder() throws {
        let (trainFolder, testFolder) = try digitFolders()
        let model = try temporaryFolder(self) + "/simclr.safetensors"
        let options = TrainingOptions(batch: 64, seed: 1, backbone: SmallResNet(width: 16, groups: 4), imageSize: 8)
        // Training reads the training folder unlabelled (every image under it).
        let run = try TrainingRun(method: "simclr", dataPath: trainFolder, options: options)
        XCTAssertEqual(run.inputShape, [1, 8, 8])
        XCTAssertEqual(run.stepsPerEpoch, (1258 + 63) / 64)
        var seen: [Int] = []
        let report = try run.train(steps: 150, checkpointEvery: 50, output: model) { seen.append($0.step) }
        XCTAssertEqual(seen, Array(1...150))
        XCTAssertEqual(report.checkpoints, 3)
        XCTAssertLessThan(report.lastLoss, 0.8 * report.firstLoss)

        let file = try ModelFile(path: model)
        XCTAssertEqual(file.metadata[TrainingMetadata.method], "simclr")
        XCTAssertEqual(file.metadata[TrainingMetadata.backbone], "resnet width=16 groups=4")
        XCTAssertEqual(file.metadata[TrainingMetadata.input], "1,8,8")
        XCTAssertEqual(file.metadata[Checkpoint.Key.steps], "150")

        let linear = try EvaluationRun.evaluate(model: model, probe: .linear, train: trainFolder, test: testFolder, compareRandom: true)
        let nearest = try EvaluationRun.evaluate(model: model, probe: .knn, train: trainFolder, test: testFolder)
        print("simclr via model file: loss \(report.firstLoss) -> \(report.lastLoss); linear probe \(linear.accuracy) (random encoder \(linear.randomAccuracy!)), 5-NN \(nearest.accuracy)")
        XCTAssertEqual(linear.trainCount, Digits.split.train.count)
        XCTAssertEqual(linear.testCount, Digits.split.test.count)
        XCTAssertGreaterThan(linear.accuracy, linear.randomAccuracy! + 0.01)
        XCTAssertGreaterThan(nearest.accuracy, 0.5)

        // The JSON line is exactly one object with the four keys (and the random score when asked).
        let object = try JSONSerialization.jsonObject(with: Data(nearest.json.utf8)) as? [String: Any]
        XCTAssertEqual(Set(object?.keys.map { $0 } ?? []), ["probe", "accuracy", "n_train", "n_test"])
        XCTAssertEqual(object?["probe"] as? String, "knn")
        XCTAssertEqual(object?["accuracy"] as? Double ?? -1, nearest.accuracy, accuracy: 1e-12)
        XCTAssertFalse(nearest.json.contains("\n"))
    }

    /// What `foresight train --method next-frame|motion --data rec.y4m` then `foresight eval
    /// --compare-random` do, with each method's default learning rate: a recording of moving
    /// digits (30 scenes of 40 frames, 32x32) trains pc64's encoder, and its model file's
    /// encoder probes the digits (centred at the recording's scale) better than its random one.
    func testPredictionEncodersFromARecordingBeatTheRandomEncoder() throws {
        let folder = try temporaryFolder(self)
        let video = folder + "/digits.y4m"
        let writer = try Y4MWriter(path: video, header: Y4MHeader(width: 32, height: 32))
        var frame = [Float](repeating: 0, count: 32 * 32)
        for scene in 0..<30 {
            var digits = MovingDigits(width: 32, height: 32, seed: UInt64(scene + 1))
            for _ in 0..<40 {
                frame.withUnsafeMutableBufferPointer { digits.render(into: $0.baseAddress!) }
                digits.advance()
                let luma = frame.map { UInt8(($0 * 255).rounded()) }
                try luma.withUnsafeBytes { try writer.writeGray(luma: $0) }
            }
        }
        writer.close()
        let (train, test) = VideoProbeTests.centredDigits
        try writeLabelledFolder(train, to: folder + "/train")
        try writeLabelledFolder(test, to: folder + "/test")
        for method in ["next-frame", "motion"] {
            var options = TrainingOptions(batch: 8, threads: 2, seed: 1, imageSize: 32)
            options.learningRate = try MethodRegistry.method(named: method).defaultLearningRate
            let run = try TrainingRun(method: method, dataPath: video, options: options)
            let report = try run.train(steps: 1500, output: folder + "/\(method).safetensors")
            let linear = try EvaluationRun.evaluate(model: folder + "/\(method).safetensors", probe: .linear,
                                                    train: folder + "/train", test: folder + "/test", compareRandom: true)
            print("\(method) from a recording: loss \(report.firstLoss) -> \(report.lastLoss); linear probe \(linear.accuracy) (random encoder \(linear.randomAccuracy!))")
            XCTAssertLessThan(report.lastLoss, report.firstLoss, method)
            XCTAssertGreaterThan(linear.accuracy, linear.randomAccuracy! + 0.01, method)
        }
    }

    /// A next-frame model file's encoder exports as the live checkpoints' does (float32 and
    /// int8), with its weights and where it came from; video CPC's frame encoder is not pc64's.
    func testNextFrameModelFileExportsItsEncoder() throws {
        let folder = try temporaryFolder(self)
        let video = folder + "/clip.y4m"
        let writer = try Y4MWriter(path: video, header: Y4MHeader(width: 32, height: 32))
        var frame = [Float](repeating: 0, count: 32 * 32)
        var digits = MovingDigits(width: 32, height: 32, seed: 4)
        for _ in 0..<40 {
            frame.withUnsafeMutableBufferPointer { digits.render(into: $0.baseAddress!) }
            digits.advance()
            try frame.map { UInt8(($0 * 255).rounded()) }.withUnsafeBytes { try writer.writeGray(luma: $0) }
        }
        writer.close()
        let run = try TrainingRun(method: "next-frame", dataPath: video, options: TrainingOptions(batch: 4, seed: 2, imageSize: 32))
        _ = try run.train(steps: 3, output: folder + "/next-frame.safetensors")

        let encoder = try EncoderModel.export(checkpoint: folder + "/next-frame.safetensors", to: folder + "/encoder.safetensors")
        for (name, tensor) in encoder.namedParameters {
            let trained = run.trainer.program.tensor(try XCTUnwrap(run.trainer.program.graph.tensor(named: name)))
            XCTAssertEqual(tensor.toArray(), trained.toArray(), name)
        }
        let file = try ModelFile(path: folder + "/encoder.safetensors")
        XCTAssertEqual(file.metadata["source.architecture"], "ssl-next-frame")
        XCTAssertEqual(file.metadata["source.ssl.input"], "1,32,32")
        XCTAssertNoThrow(try EncoderModel(path: folder + "/encoder.safetensors", batch: 1))
        let frames = try Int8EncoderModel.calibrationFrames(source: video, count: 8)
        _ = try Int8EncoderModel.export(checkpoint: folder + "/next-frame.safetensors", to: folder + "/encoder-int8.safetensors",
                                        calibration: Int8EncoderModel.calibrationSamples(frames, count: 8), method: .minMax, source: video)
        XCTAssertEqual(try ModelFile(path: folder + "/encoder-int8.safetensors").metadata["source.ssl.method"], "next-frame")

        let cpc = try TrainingRun(method: "cpc", dataPath: video, options: TrainingOptions(batch: 2, seed: 2, imageSize: 16))
        _ = try cpc.train(steps: 1, output: folder + "/cpc.safetensors")
        XCTAssertThrowsError(try EncoderModel.export(checkpoint: folder + "/cpc.safetensors", to: folder + "/no.safetensors")) {
            XCTAssert("\($0)".contains("holds architecture ssl-cpc; export takes a pc64 checkpoint"), "\($0)")
        }
    }

    /// `foresight embed MODEL images...` with a model file of `train`: one feature row per image,
    /// in the order given, as the frozen encoder gives them; video and missing inputs refused.
    func testModelFileEmbedsImageFilesAndFolders() throws {
        let folder = try temporaryFolder(self)
        try writeLabelledFolder(Digits.split.test.subset(Array(0..<12)), to: folder + "/images")
        let options = TrainingOptions(batch: 4, seed: 1, backbone: SmallResNet(width: 4, groups: 2), imageSize: 8)
        let run = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)
        _ = try run.train(steps: 2, output: folder + "/ae.safetensors")
        let files = try ImageLoading.imageFiles(under: folder + "/images")
        let (features, count, dimension) = try EvaluationRun.embedImages(model: folder + "/ae.safetensors", inputs: [files[3], folder + "/images"], chunk: 5)
        XCTAssertEqual([count, dimension], [13, 8])
        let (encoder, _) = try EvaluationRun.encoder(model: folder + "/ae.safetensors")
        let order = [files[3]] + files
        let expected = encoder.embed(LabeledImages(pixels: try ImageLoading.load(order, channels: 1, height: 8, width: 8),
                                                   labels: [Int32](repeating: 0, count: 13), channels: 1, height: 8, width: 8)).features
        XCTAssertEqual(features.count, expected.count)
        for (a, b) in zip(features, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertEqual(Array(features[0..<8]), Array(features[(4 * 8)..<(5 * 8)]), "the file given alone and within its folder embed alike")
        XCTAssertThrowsError(try EvaluationRun.embedImages(model: folder + "/ae.safetensors", inputs: [folder + "/walk.y4m"])) {
            XCTAssert("\($0)".contains("does not exist"), "\($0)")
        }
        try Data().write(to: URL(fileURLWithPath: folder + "/walk.y4m"))
        XCTAssertThrowsError(try EvaluationRun.embedImages(model: folder + "/ae.safetensors", inputs: [folder + "/walk.y4m"])) {
            XCTAssert("\($0)".contains("embeds still images"), "\($0)")
        }
        try FileManager.default.createDirectory(atPath: folder + "/empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try EvaluationRun.embedImages(model: folder + "/ae.safetensors", inputs: [folder + "/empty"])) {
            XCTAssert("\($0)".contains("holds no .png"), "\($0)")
        }
    }

    func testResumeContinuesTheStepsAndRefusesAnotherMethod() throws {
        let folder = try temporaryFolder(self)
        try writeLabelledFolder(Digits.split.test.subset(Array(0..<40)), to: folder + "/images")
        let model = folder + "/ae.safetensors"
        let options = TrainingOptions(batch: 8, seed: 3, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)
        let first = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)
        _ = try first.train(steps: 5, output: model)
        let resumed = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)
        try resumed.resume(from: model)
        XCTAssertEqual(resumed.stepsDone, 5)
        XCTAssertEqual(resumed.trainer.program.optimizer?.stepCount, 5)
        for id in first.trainer.program.parameters {
            XCTAssertEqual(resumed.trainer.program.tensor(id).toArray(), first.trainer.program.tensor(id).toArray(), "\(first.trainer.program.graph[id].name)")
        }
        let report = try resumed.train(steps: 8, output: model)
        XCTAssertEqual(report.steps, 8)
        XCTAssertEqual(try Checkpoint(path: model).steps, 8)

        // Asked to stop, a run writes its checkpoint at the step it reached and returns.
        var asked = 0
        let stopped = try resumed.train(steps: 100, output: model, shouldStop: { asked += 1; return asked > 3 })
        XCTAssertEqual(stopped.steps, 11)
        XCTAssertEqual(stopped.checkpoints, 1)
        XCTAssertEqual(try Checkpoint(path: model).steps, 11)

        // A momentum method's target network is saved and restored with the online one.
        let byol = try TrainingRun(method: "byol", dataPath: folder + "/images", options: options)
        _ = try byol.train(steps: 3, output: folder + "/byol.safetensors")
        let byolAgain = try TrainingRun(method: "byol", dataPath: folder + "/images", options: options)
        try byolAgain.resume(from: folder + "/byol.safetensors")
        let target = try XCTUnwrap((byol.trainer as? MomentumTrainer)?.target.program)
        let targetAgain = try XCTUnwrap((byolAgain.trainer as? MomentumTrainer)?.target.program)
        for id in target.parameters {
            XCTAssertEqual(targetAgain.tensor(id).toArray(), target.tensor(id).toArray(), "target \(target.graph[id].name)")
        }
        // MoCo's queue of keys is state too: written with the checkpoint and restored from it.
        var mocoOptions = options
        mocoOptions.settings = ["queue": 16]
        let moco = try TrainingRun(method: "moco", dataPath: folder + "/images", options: mocoOptions)
        _ = try moco.train(steps: 3, output: folder + "/moco.safetensors")
        let mocoFile = try ModelFile(path: folder + "/moco.safetensors")
        XCTAssertEqual(mocoFile.tensors["moco.queue"]?.shape.first, 16)
        XCTAssertTrue(mocoFile.tensors.keys.contains { $0.hasPrefix("target.") }, "the target network is saved")
        let mocoAgain = try TrainingRun(method: "moco", dataPath: folder + "/images", options: mocoOptions)
        let queue = try XCTUnwrap(moco.trainer.trainingState.first { $0.name == "moco.queue" }?.tensor)
        let queueAgain = try XCTUnwrap(mocoAgain.trainer.trainingState.first { $0.name == "moco.queue" }?.tensor)
        XCTAssertNotEqual(queueAgain.toArray(), queue.toArray(), "a new run starts from its own keys")
        try mocoAgain.resume(from: folder + "/moco.safetensors")
        XCTAssertEqual(queueAgain.toArray(), queue.toArray())

        let other = try TrainingRun(method: "rotation", dataPath: folder + "/images", options: options)
        XCTAssertThrowsError(try other.resume(from: model)) { error in
            XCTAssert("\(error)".contains("ssl.method 'autoencoder'"), "\(error)")
        }

        // Settings are stored, and a resume with other settings is refused.
        var settled = options
        settled.settings = ["noise": 0.3]
        let denoising = try TrainingRun(method: "denoising", dataPath: folder + "/images", options: settled)
        _ = try denoising.train(steps: 2, output: folder + "/denoising.safetensors")
        XCTAssertEqual(try ModelFile(path: folder + "/denoising.safetensors").metadata[TrainingMetadata.settings], "noise=0.3")
        XCTAssertNoThrow(try TrainingRun(method: "denoising", dataPath: folder + "/images", options: settled).resume(from: folder + "/denoising.safetensors"))
        let unsettled = try TrainingRun(method: "denoising", dataPath: folder + "/images", options: options)
        XCTAssertThrowsError(try unsettled.resume(from: folder + "/denoising.safetensors")) { error in
            XCTAssert("\(error)".contains("ssl.settings 'noise=0.3', this run 'noise=0.2'"), "\(error)")
        }
        // A model file from before settings were stored resumes with the defaults, and only with them.
        let file = try ModelFile(path: folder + "/denoising.safetensors")
        var older = file.metadata
        older[TrainingMetadata.settings] = nil
        try ModelFile.write(to: folder + "/older.safetensors", metadata: older, arrays: try file.tensors.keys.sorted().map { name in
            (name, file.tensors[name]!.dtype, file.tensors[name]!.shape, try file.bytes(name))
        })
        XCTAssertNoThrow(try unsettled.resume(from: folder + "/older.safetensors"))
        XCTAssertThrowsError(try denoising.resume(from: folder + "/older.safetensors")) { error in
            XCTAssert("\(error)".contains("ssl.settings 'noise=0.2', this run 'noise=0.3'"), "\(error)")
        }
    }

    func testNonFiniteLossStopsAndKeepsTheLastGoodCheckpoint() throws {
        let folder = try temporaryFolder(self)
        try writeLabelledFolder(Digits.split.test.subset(Array(0..<40)), to: folder + "/images")
        let model = folder + "/ae.safetensors"
        var options = TrainingOptions(batch: 8, seed: 3, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)
        let good = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)
        _ = try good.train(steps: 4, output: model)
        let saved = try Data(contentsOf: URL(fileURLWithPath: model))
        // Resumed with a learning rate this large, the weights reach infinity within a few steps.
        options.learningRate = 1e30
        let run = try TrainingRun(method: "autoencoder", dataPath: folder + "/images", options: options)
        try run.resume(from: model)
        XCTAssertThrowsError(try run.train(steps: 50, checkpointEvery: 1, output: model)) { error in
            let message = "\(error)"
            XCTAssert(message.contains("the loss became") && message.contains("the last good checkpoint (step 4)"), message)
        }
        XCTAssertLessThan(run.stepsDone, 50)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), saved, "the last good checkpoint must stay as it was")
    }

    func testEvaluatingAModelWithoutAnImageBackboneIsRefused() throws {
        let folder = try temporaryFolder(self)
        let path = folder + "/text.safetensors"
        let arena = try Arena(capacity: 1024)
        let weight = try arena.allocate(Shape(2, 2), name: "w")
        try ModelFile.write(to: path, metadata: [TrainingMetadata.method: "gpt"], tensors: [("w", weight)])
        XCTAssertThrowsError(try EvaluationRun.evaluate(model: path, probe: .linear, train: folder, test: folder)) { error in
            XCTAssert("\(error)".contains("holds no image backbone"), "\(error)")
        }
    }
}
