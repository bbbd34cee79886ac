// Tests of fine-tuning evaluation on the digits: the encoder trained end to end with a linear
// head beats the linear probe on the same frozen encoder, through the library and through a
// model file as `foresight eval --probe finetune` reads it; with few labels a SimCLR encoder
// fine-tunes better than the random one; batches are seeded; bad settings are clear errors.

import Foundation
import XCTest
import ForesightCore
import ForesightNN
import ForesightSensors
@testable import ForesightSSL
@testable import ForesightIO

final class FineTuningTests: XCTestCase {
    /// A fresh temporary folder, removed when the test ends.
    func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "foresight-finetune-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// A briefly trained SimCLR encoder: fine-tuning it reaches a higher test accuracy than the
    /// linear probe on its frozen features, and its cross-entropy falls.
    func testFineTuningBeatsTheLinearProbeOnTheSameEncoder() throws {
        let (train, test) = Digits.split
        let backbone = SmallResNet(width: 8, groups: 4)
        let simclr = try TwoViewTrainer(objective: .simclr(temperature: 0.2), data: train, backbone: backbone, batch: 64, seed: 1)
        for _ in 0..<40 { try simclr.step() }
        let encoder = try FrozenEncoder(backbone: backbone, channels: 1, height: 8, width: 8, batch: 128)
        XCTAssertEqual(encoder.copyParameters(from: simclr.program), encoder.program.parameters.count)
        let probe = try LinearProbe().accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)

        let tuner = try FineTuner(backbone: backbone, data: train, settings: FineTuningSettings(seed: 1))
        XCTAssertEqual(tuner.copyParameters(from: simclr.program), encoder.program.parameters.count)
        let losses = try tuner.train()
        XCTAssertEqual(tuner.stepCount, tuner.settings.steps)
        let tuned = try tuner.accuracy(on: test)
        print("fine-tuning: cross-entropy \(losses.firstLoss) -> \(losses.lastLoss); test accuracy \(tuned) against the linear probe's \(probe)")
        XCTAssertLessThan(losses.lastLoss, 0.2 * losses.firstLoss)
        XCTAssertGreaterThan(tuned, probe + 0.05)
        XCTAssertGreaterThan(tuned, 0.93)
    }

    /// With few labels (10% of the training images, three draws), fine-tuning a SimCLR encoder
    /// reaches a higher mean test accuracy than the same training from the random initialisation.
    func testPretrainedEncoderFineTunesBetterThanScratchWithFewLabels() throws {
        let (train, test) = Digits.split
        let backbone = SmallResNet(width: 16, groups: 4)
        let simclr = try TwoViewTrainer(objective: .simclr(temperature: 0.2), data: train, backbone: backbone, batch: 64, seed: 1)
        for _ in 0..<150 { try simclr.step() }
        var pretrained: [Double] = [], scratch: [Double] = []
        for seed in [UInt64(1), 2, 3] {
            let few = train.split(trainFraction: 0.1, seed: seed + 10).train
            let settings = FineTuningSettings(steps: 100, batch: 32, seed: seed)
            let fromSimCLR = try FineTuner(backbone: backbone, data: few, classes: 10, settings: settings)
            XCTAssertEqual(fromSimCLR.copyParameters(from: simclr.program), fromSimCLR.program.parameters.count - 2)
            try fromSimCLR.train()
            pretrained.append(try fromSimCLR.accuracy(on: test))
            let fromRandom = try FineTuner(backbone: backbone, data: few, classes: 10, settings: settings)
            try fromRandom.train()
            scratch.append(try fromRandom.accuracy(on: test))
        }
        let meanPretrained = pretrained.reduce(0, +) / 3, meanScratch = scratch.reduce(0, +) / 3
        print("fine-tuning on \(train.split(trainFraction: 0.1, seed: 11).train.count) labels: from SimCLR \(pretrained) (mean \(meanPretrained)), from scratch \(scratch) (mean \(meanScratch))")
        XCTAssertGreaterThan(meanPretrained, meanScratch + 0.005)
    }

    /// The same seed draws the same batches and gives the same losses; another seed other batches.
    func testBatchesAreDrawnSeeded() throws {
        let train = Digits.split.train
        func losses(seed: UInt64) throws -> [Float] {
            let tuner = try FineTuner(backbone: SmallResNet(width: 4, groups: 2), data: train, settings: FineTuningSettings(steps: 4, batch: 16, seed: seed))
            return try (0..<4).map { _ in try tuner.step() }
        }
        XCTAssertEqual(try losses(seed: 3), try losses(seed: 3))
        XCTAssertNotEqual(try losses(seed: 3), try losses(seed: 4))
    }

    /// Through a model file, as `foresight eval --probe finetune` runs: the JSON has the four keys
    /// with "probe":"finetune", and fine-tuning beats the linear probe of the same file.
    func testEvaluationRunFineTunesAModelFile() throws {
        let root = try temporaryFolder()
        let (train, test) = Digits.split
        try writeLabelledFolder(train, to: root + "/train")
        try writeLabelledFolder(test, to: root + "/test")
        let model = root + "/simclr.safetensors"
        let options = TrainingOptions(batch: 64, seed: 1, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)
        _ = try TrainingRun(method: "simclr", dataPath: root + "/train", options: options).train(steps: 40, output: model)

        let linear = try EvaluationRun.evaluate(model: model, probe: .linear, train: root + "/train", test: root + "/test")
        var seen: [Int] = []
        let tuned = try EvaluationRun.evaluate(model: model, probe: .finetune, train: root + "/train", test: root + "/test",
                                               compareRandom: true, fineTuning: FineTuningSettings(steps: 200, seed: 1),
                                               progress: { seen.append($0.step) })
        print("eval of a model file: fine-tuned \(tuned.accuracy) (from scratch \(tuned.randomAccuracy!)), linear probe \(linear.accuracy)")
        // The trained encoder's run, then the random encoder's.
        XCTAssertEqual(seen, Array(1...200) + Array(1...200))
        XCTAssertEqual(tuned.trainCount, train.count)
        XCTAssertEqual(tuned.testCount, test.count)
        XCTAssertGreaterThan(tuned.accuracy, linear.accuracy + 0.03)
        XCTAssertGreaterThan(tuned.randomAccuracy!, 0.5, "training from scratch learns too")
        XCTAssert(tuned.line.hasPrefix("fine-tuned encoder: "), tuned.line)

        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(tuned.json.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["probe", "accuracy", "n_train", "n_test", "random_accuracy"])
        XCTAssertEqual(object["probe"] as? String, "finetune")
        XCTAssertEqual(object["accuracy"] as? Double ?? -1, tuned.accuracy, accuracy: 1e-12)
        XCTAssertEqual(object["n_train"] as? Int, train.count)
        XCTAssertFalse(tuned.json.contains("\n"))

        // Bad settings are refused before any image is read.
        XCTAssertThrowsError(try EvaluationRun.evaluate(model: model, probe: .finetune, train: root + "/train", test: root + "/test",
                                                        fineTuning: FineTuningSettings(steps: 0))) { error in
            XCTAssertEqual("\(error)", "fine-tuning needs at least 1 step, got 0")
        }
    }

    /// Each backbone family eval can rebuild takes every backbone parameter of a frozen encoder
    /// by name, and trains.
    func testEveryBackboneFamilyTakesTheEncodersParameters() throws {
        let train = Digits.split.train
        for specification in ["resnet width=4 groups=2", "vit dim=16 depth=1 heads=2 patch=2", "frames width=4 features=8", "pc64-encoder past=2"] {
            let backbone = try ImageBackbones.parse(specification)
            let encoder = try FrozenEncoder(backbone: backbone, channels: 1, height: 8, width: 8, batch: 8, seed: 5)
            let tuner = try FineTuner(backbone: backbone, data: train, settings: FineTuningSettings(steps: 3, batch: 8, seed: 6))
            XCTAssertEqual(tuner.copyParameters(from: encoder.program), encoder.program.parameters.count, specification)
            XCTAssertEqual(tuner.program.parameters.count, encoder.program.parameters.count + 2, "\(specification): backbone and head weight and bias")
            let losses = try (0..<3).map { _ in try tuner.step() }
            XCTAssert(losses.allSatisfy(\.isFinite), "\(specification): \(losses)")
        }
    }

    func testBadSettingsAndDataAreClearErrors() throws {
        let (train, test) = Digits.split
        let backbone = SmallResNet(width: 4, groups: 2)
        func message(_ settings: FineTuningSettings, data: LabeledImages = Digits.split.train, classes: Int? = nil) -> String {
            do {
                _ = try FineTuner(backbone: backbone, data: data, classes: classes, settings: settings)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message(FineTuningSettings(steps: -1)), "fine-tuning needs at least 1 step, got -1")
        XCTAssertEqual(message(FineTuningSettings(batch: 0)), "the fine-tuning batch must be at least 1 image, got 0")
        XCTAssertEqual(message(FineTuningSettings(learningRate: 0)), "the fine-tuning learning rate must be positive and finite, got 0.0")
        XCTAssertEqual(message(FineTuningSettings(learningRate: .nan)), "the fine-tuning learning rate must be positive and finite, got nan")
        XCTAssertEqual(message(FineTuningSettings(weightDecay: -1)), "the fine-tuning weight decay must be finite and not negative, got -1.0")
        XCTAssertEqual(message(FineTuningSettings(threads: 0)), "fine-tuning needs at least 1 thread, got 0")
        XCTAssertEqual(message(FineTuningSettings(), classes: 1), "fine-tuning needs at least 2 classes, got 1")
        XCTAssertEqual(message(FineTuningSettings(), classes: 5), "training label 9 is not among the 5 classes")

        // A training set smaller than the batch is used whole in every step.
        let few = train.subset(Array(0..<10))
        let small = try FineTuner(backbone: backbone, data: few, classes: 10, settings: FineTuningSettings(steps: 2, batch: 64))
        XCTAssertEqual(small.batch, 10)
        XCTAssert(try small.step().isFinite)

        // Test images of another size, or of an unknown class, are refused by name.
        let tuner = try FineTuner(backbone: backbone, data: train, settings: FineTuningSettings(steps: 1))
        let wide = LabeledImages(pixels: [Float](repeating: 0, count: 2 * 8 * 9), labels: [0, 1], channels: 1, height: 8, width: 9)
        XCTAssertThrowsError(try tuner.accuracy(on: wide)) { error in
            XCTAssertEqual("\(error)", "test images are 1x8x9; the fine-tuned backbone takes 1x8x8")
        }
        let unknown = LabeledImages(pixels: Array(test.pixels.prefix(64)), labels: [12], channels: 1, height: 8, width: 8)
        XCTAssertThrowsError(try tuner.accuracy(on: unknown)) { error in
            XCTAssertEqual("\(error)", "test label 12 is not among the 10 classes")
        }

        // A model file without one of the backbone's parameters names it.
        let path = try temporaryFolder() + "/partial.safetensors"
        let arena = try Arena(capacity: 1 << 16)
        let stem = try arena.allocate(Shape(4, 1, 3, 3), name: "backbone.stem.conv.weight")
        try ModelFile.write(to: path, metadata: [TrainingMetadata.method: "simclr"], tensors: [("backbone.stem.conv.weight", stem)])
        XCTAssertThrowsError(try tuner.loadBackbone(from: ModelFile(path: path))) { error in
            XCTAssert("\(error)".contains("has no backbone.") && "\(error)".contains("resnet width=4 groups=2"), "\(error)")
        }
    }
}
