// A GPT model written by a training run samples the same text after it is loaded back, and
// files of other methods are refused by name.

import Foundation
import XCTest
@testable import ForesightSSL

final class GPTModelFileTests: XCTestCase {
    func testLoadedGPTSamplesAsTheTrainedOne() throws {
        let url = Bundle.module.url(forResource: "gpl-3", withExtension: "txt", subdirectory: "Fixtures/text")!
        let text = [UInt8](try Data(contentsOf: url))
        let run = try TrainingRun(method: "gpt", data: .text(text), options: TrainingOptions(batch: 8, learningRate: 3e-3, seed: 2))
        let path = NSTemporaryDirectory() + "foresight-gpt-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try run.train(steps: 40, checkpointEvery: 40, output: path)
        let trained = try XCTUnwrap(run.trainer as? GPTTrainer)
        let loaded = try GPTTrainer.load(modelFile: path)
        let prompt = Array("The ".utf8)
        let expected = trained.sample(prompt: prompt, count: 60, temperature: 0.8, seed: 5)
        XCTAssertEqual(loaded.sample(prompt: prompt, count: 60, temperature: 0.8, seed: 5), expected)
        // A fresh model samples something else: the parameters really came from the file.
        let untrained = try GPTTrainer(text: text, batch: 1)
        XCTAssertNotEqual(untrained.sample(prompt: prompt, count: 60, temperature: 0.8, seed: 5), expected)
    }

    func testOtherModelFilesAreRefusedByMethod() throws {
        let (train, _) = Digits.split
        let run = try TrainingRun(method: "rotation", data: .images(train), options: TrainingOptions(batch: 16))
        let path = NSTemporaryDirectory() + "foresight-rotation-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try run.save(to: path)
        XCTAssertThrowsError(try GPTTrainer.load(modelFile: path)) {
            XCTAssertTrue("\($0)".contains("a rotation model") && "\($0)".contains("--method gpt"), "\($0)")
        }
        XCTAssertThrowsError(try GPTTrainer.load(modelFile: path + ".missing"))
    }
}
