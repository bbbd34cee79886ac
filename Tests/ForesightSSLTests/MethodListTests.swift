// The one list of methods (`MethodRegistry.methods`): each method listed once under its own
// name, fully described, and able to build a trainer on every kind of data it claims; an
// unknown name is an error that lists the known ones.

import Foundation
import XCTest
import ForesightCore
@testable import ForesightSSL
@testable import ForesightIO

final class MethodListTests: XCTestCase {
    /// The methods the README and the DocC families describe, in the order `foresight methods`
    /// prints them (a new method may go anywhere among them).
    static let documented = ["simclr", "moco", "clip", "byol", "simsiam", "vicreg", "barlow", "mae", "bert", "gpt",
                         "next-frame", "motion", "cpc", "jepa", "autoencoder", "denoising", "rotation", "jigsaw", "inpainting"]

    func testEachMethodIsListedOnceInTheOrderPrinted() {
        XCTAssertEqual(MethodRegistry.names.filter(Set(Self.documented).contains), Self.documented)
        XCTAssertEqual(Set(MethodRegistry.names).count, MethodRegistry.names.count, "two methods share a name")
    }

    func testEveryListedMethodIsFullyDescribed() {
        for method in MethodRegistry.methods {
            XCTAssert(!method.name.isEmpty && method.name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" },
                      "'\(method.name)' is not a command-line name")
            XCTAssertFalse(method.summary.isEmpty, "\(method.name) has no summary")
            XCTAssertFalse(method.summary.contains("\n"), "\(method.name)'s summary is more than one line")
            XCTAssertFalse(method.reference.isEmpty, "\(method.name) has no reference")
            XCTAssertFalse(method.dataKinds.isEmpty, "\(method.name) trains on no kind of data")
            XCTAssertEqual(Set(method.dataKinds).count, method.dataKinds.count, "\(method.name) lists a data kind twice")
            XCTAssertEqual(Set(method.settings.map(\.name)).count, method.settings.count, "\(method.name) has two settings of one name")
            XCTAssertNoThrow(try ImageBackbones.parse(method.defaultBackbone), method.name)
            XCTAssert(method.defaultBatch >= 1 && method.defaultLearningRate > 0, method.name)
        }
    }

    /// Every listed method's factory makes a trainer that steps, on each kind of data it claims.
    func testEveryListedMethodBuildsATrainerOnEachKindItClaims() throws {
        let folder = NSTemporaryDirectory() + "foresight-methods-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // 3.2 s of a bright square moving right, 16x16 at 10 frames a second, with a tone beside it for clip.
        let video = folder + "/walk.y4m"
        let writer = try Y4MWriter(path: video, header: Y4MHeader(width: 16, height: 16, frameRate: (10, 1)))
        for frame in 0..<32 {
            let luma = (0..<256).map { i -> UInt8 in (i / 16 >= 6 && i / 16 < 10 && (i % 16 - frame % 12) >= 0 && (i % 16 - frame % 12) < 4) ? 220 : 20 }
            try luma.withUnsafeBytes { try writer.writeGray(luma: $0) }
        }
        writer.close()
        let tone = (0..<48_000).map { i -> Float in 0.5 * sinf(Float(i) * (0.2 + 0.1 * sinf(Float(i) / 4000))) }
        try WAV.write(AudioClip(sampleRate: 16_000, channels: 1, samples: tone), to: folder + "/walk.wav")
        let data: [TrainingDataKind: TrainingData] = [
            .images: .images(Digits.split.test),
            .text: .text(Array(String(repeating: "the robot sees the door. ", count: 20).utf8)),
            .audio: .audio(samples: tone, sampleRate: 16_000),
            .video: .video(path: video),
        ]
        for method in MethodRegistry.methods {
            var options = TrainingOptions(batch: 4, seed: 1, imageSize: 16)
            options.backbone = try ImageBackbones.parse(method.defaultBackbone)
            for kind in method.dataKinds {
                let trainer = try MethodRegistry.makeTrainer(method: method.name, data: try XCTUnwrap(data[kind]), options: options)
                let loss = try trainer.step()
                XCTAssert(loss.isFinite, "\(method.name) on \(kind): loss \(loss)")
            }
        }
    }

    func testAnUnknownMethodIsAnErrorNamingTheKnownOnes() {
        XCTAssertThrowsError(try MethodRegistry.method(named: "simclear")) { error in
            XCTAssertEqual(error as? TrainingError, .unknownMethod("simclear", known: MethodRegistry.names))
            XCTAssertEqual("\(error)", "unknown method 'simclear'; known methods: \(MethodRegistry.names.joined(separator: ", ")) (`foresight methods` describes each)")
        }
        // From a path too, before the data is looked at.
        XCTAssertThrowsError(try TrainingRun(method: "simclear", dataPath: NSTemporaryDirectory(), options: TrainingOptions())) { error in
            XCTAssertEqual(error as? TrainingError, .unknownMethod("simclear", known: MethodRegistry.names))
        }
    }
}
