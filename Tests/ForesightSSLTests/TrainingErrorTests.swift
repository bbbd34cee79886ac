// Tests that representative failures of ForesightSSL come out as the TrainingError case that
// names their kind, with the payload a caller acts on, and that the message still reads as
// before. Not a test of every throw site: those are covered by the tests of each trainer.

import Foundation
import XCTest
import ForesightCore
@testable import ForesightSSL

final class TrainingErrorTests: XCTestCase {
    private let options = TrainingOptions(batch: 8, backbone: SmallResNet(width: 8, groups: 4), imageSize: 8)

    /// The error `body` throws as a TrainingError; a failure when it throws nothing or something else.
    private func trainingError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> TrainingError? {
        do {
            try body()
            XCTFail("no error", file: file, line: line)
        } catch let error as TrainingError {
            return error
        } catch {
            XCTFail("not a TrainingError: \(error)", file: file, line: line)
        }
        return nil
    }

    func testUnknownMethodsCarryTheKnownNames() {
        XCTAssertEqual(trainingError { _ = try MethodRegistry.method(named: "simclear") },
                       .unknownMethod("simclear", known: MethodRegistry.names))
        let video = trainingError { _ = try VideoMethods.trainer("jigsaw", y4mPath: "walk.y4m") }
        XCTAssertEqual(video, .unknownMethod("jigsaw", known: ["next-frame", "motion", "cpc"], family: "video"))
        XCTAssertEqual(video?.description, "unknown video method 'jigsaw'; known: next-frame, motion, cpc")
    }

    func testDataOfAnotherKindIsWrongData() {
        let error = trainingError { try MethodRegistry.check(method: "simclr", trainsOn: .text, source: "--data a.txt") }
        XCTAssertEqual(error, .wrongData(method: "simclr", needs: [.images], got: .text, source: "--data a.txt"))
    }

    func testSettingsOutOfRangeOrUnknownNameTheSetting() throws {
        let simclr = try MethodRegistry.method(named: "simclr")
        let outside = trainingError { _ = try simclr.resolvedSettings(["temperature": 100]) }
        XCTAssertEqual(outside, .settingOutOfRange(method: "simclr", setting: .temperature, value: 100))
        XCTAssertEqual(outside?.description, "simclr setting temperature=100 is outside 0.01...10; give a value in that range")
        guard case let .unknownSetting(method, name, known)? = trainingError({ _ = try simclr.resolvedSettings(["temprature": 0.5]) }) else {
            return XCTFail("not an unknown setting")
        }
        XCTAssertEqual([method, name], ["simclr", "temprature"])
        XCTAssertEqual(known.map(\.name), ["temperature"])
        guard case let .malformedBackbone(specification, _)? = trainingError({ _ = try ImageBackbones.parse("resnet width=wide") }) else {
            return XCTFail("not a malformed backbone")
        }
        XCTAssertEqual(specification, "resnet width=wide")
    }

    func testABatchLargerThanTheDataIsNotEnoughDataAndATooSmallBatchASetting() {
        let set = Digits.split.test.subset(Array(0..<6))
        var large = options
        large.batch = 8
        guard case let .notEnoughData(available, needed, _)? = trainingError({ _ = try MethodRegistry.makeTrainer(method: "simclr", data: .images(set), options: large) }) else {
            return XCTFail("not too little data")
        }
        XCTAssertEqual([available, needed], [6, 8])
        var small = options
        small.batch = 1
        guard case let .invalidSetting(name, _)? = trainingError({ _ = try MethodRegistry.makeTrainer(method: "simclr", data: .images(set), options: small) }) else {
            return XCTFail("not an invalid setting")
        }
        XCTAssertEqual(name, "batch")
    }

    func testResumingFromAnotherRunsCheckpointNamesTheKeyThatDiffers() throws {
        let path = NSTemporaryDirectory() + "foresight-training-error-\(UUID().uuidString).safetensors"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        let data = TrainingData.images(Digits.split.test.subset(Array(0..<16)))
        try TrainingRun(method: "simclr", data: data, options: options).save(to: path)
        var warmer = options
        warmer.settings = ["temperature": 0.5]
        let run = try TrainingRun(method: "simclr", data: data, options: warmer)
        XCTAssertEqual(trainingError { try run.resume(from: path) },
                       .checkpointMismatch(path: path, key: TrainingMetadata.settings, stored: "temperature=0.2", current: "temperature=0.5"))
        XCTAssertEqual(run.stepsDone, 0)
    }
}
