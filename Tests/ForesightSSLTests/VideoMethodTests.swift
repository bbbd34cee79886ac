// The video methods learn on synthetic video and on a Y4M file written by the test: next-frame
// and motion prediction beat copying the last frame on held-out clips; video CPC's loss falls
// and its InfoNCE accuracy on held-out clips is far above chance. Plus the gradient of the
// frames-to-sequence operation and of the whole CPC stack, and clear errors for clip sizes.

import CAllocationCounter
import Foundation
import XCTest
import ForesightCore
import ForesightNN
import ForesightSensors
@testable import ForesightSSL
@testable import ForesightIO

final class VideoMethodTests: XCTestCase {
    // MARK: gradients

    /// The CPC stack in small, with tanh for the frame encoder's ReLU (whose kinks the 1e-2 finite
    /// differences would straddle): a strided convolution, a projection of its flattened maps,
    /// the convolutional GRU on the maps, both reshaped to sequences, InfoNCE; every parameter.
    func testVideoCPCStackGradient() throws {
        let graph = Graph()
        let frames = try graph.input("frames", [2 * 4, 1, 4, 4])
        let maps = try graph.tanh(try graph.conv2d(frames, outChannels: 2, kernel: 3, stride: 2, padding: 1, name: "encoder"))
        let perFrame = try graph.linear(try graph.reshape(maps, [8, 2 * 2 * 2]), outFeatures: 3, name: "projection")
        let encodings = try graph.reshape(perFrame, [2, 4, 3], name: "encodings")
        let states = try graph.convGRU(maps, steps: 4, hidden: 2, name: "context")
        let context = try graph.reshape(states, [2, 4, 2 * 2 * 2], name: "context.sequence")
        // Scaled so that the small default weights give gradients above the check's floor; the
        // squared error on the encodings reaches the projection's bias, to which InfoNCE is blind.
        let (contrastive, _) = try graph.infoNCELoss(context: try graph.scale(context, by: 4), encodings: try graph.scale(encodings, by: 4),
                                                     predictionSteps: 2, name: "cpc")
        let anchor = try graph.mseLoss(encodings, try graph.input("target", [2, 4, 3]), name: "anchor")
        try checkParameterGradients(graph, loss: try graph.add(contrastive, anchor, name: "loss"), seed: 3)
    }

    /// The frame encoder as an image backbone: pooled maps without CPC's head, shapes, parameter
    /// names, a clear error for sizes not divisible by 4.
    func testFrameEncoderIsAnImageBackbone() throws {
        let encoder = FrameEncoder(width: 8, features: 12)
        XCTAssertEqual(encoder.specification, "frames width=8 features=12")
        XCTAssertEqual(encoder.featureCount, 8)
        let graph = Graph()
        let images = try graph.input("images", [5, 1, 16, 12])
        let features = try encoder.build(graph, images, name: "backbone")
        XCTAssertEqual(graph.shape(features).dims, [5, 8])
        XCTAssertEqual(Set(graph.parameters.map { graph[$0].name }), ["backbone.1.weight", "backbone.1.bias", "backbone.2.weight", "backbone.2.bias"])
        // With CPC's head: the same convolutions and a projection to the latents.
        let headed = Graph()
        let frames = try headed.input("images", [5, 1, 16, 12])
        let (maps, latents) = try encoder.buildWithMaps(headed, frames, name: "backbone")
        XCTAssertEqual(headed.shape(maps).dims, [5, 8, 4, 3])
        XCTAssertEqual(headed.shape(latents).dims, [5, 12])
        XCTAssertEqual(Set(headed.parameters.map { headed[$0].name }).subtracting(graph.parameters.map { graph[$0].name }),
                       ["backbone.projection.weight", "backbone.projection.bias"])
        // The backbone's features are the maps' spatial means, for the same weights and images.
        let means = try headed.apply(GlobalAveragePoolOperation(), [maps], name: "means")
        let pooled = try Program(graph, seed: 2), full = try Program(headed, seed: 2)
        for id in pooled.parameters {
            let source = full.tensor(headed.tensor(named: graph[id].name)!)
            _ = pooled.tensor(id).floats.update(fromContentsOf: source.floats)
        }
        var random = SeededRandom(seed: 3)
        let pixels = (0..<5 * 16 * 12).map { _ in random.nextFloat(in: 0..<1) }
        pooled.tensor(images).copy(from: pixels)
        full.tensor(frames).copy(from: pixels)
        pooled.forward()
        full.forward()
        let expected = Array(full.tensor(means).floats), actual = Array(pooled.tensor(features).floats)
        XCTAssertEqual(actual.count, 5 * 8)
        XCTAssertGreaterThan(expected.max()!, 0)
        for (a, b) in zip(actual, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertThrowsError(try encoder.build(graph, try graph.input("odd", [5, 1, 10, 12]), name: "odd")) {
            XCTAssertTrue("\($0)".contains("divisible by 4"), "\($0)")
        }
        let trainer = try VideoCPCTrainer(clips: SyntheticClipStream(frames: 8, size: 16, seed: 1))
        XCTAssertEqual(trainer.imageBackbone?.specification, "frames width=16 features=32")
    }

    // MARK: prediction

    /// Trains on moving shapes and compares with copy-last on clips from scenes never trained on.
    private func checkPredictionBeatsCopyLast(_ objective: VideoPredictionObjective, steps: Int) throws {
        let training = SyntheticClipStream(frames: 5, size: 32, lanes: 8, seed: 1)
        let trainer = try FramePredictionTrainer(objective, clips: training, batch: 8, learningRate: 2e-3, threads: 2, seed: 2)
        let before = try trainer.evaluate(clips: SyntheticClipStream(frames: 5, size: 32, lanes: 8, seed: 77), batches: 3)
        var losses: [Float] = []
        for _ in 0..<steps { losses.append(try trainer.step()) }
        let after = try trainer.evaluate(clips: SyntheticClipStream(frames: 5, size: 32, lanes: 8, seed: 77), batches: 3)
        let early = losses.prefix(10).reduce(0, +) / 10, late = losses.suffix(10).reduce(0, +) / 10
        print("\(objective.rawValue): loss \(early) -> \(late); held-out error \(before.predictionError) -> \(after.predictionError), copy-last \(after.copyLastError), ratio \(before.ratio) -> \(after.ratio)")
        XCTAssertLessThan(late, early, "the training loss should fall")
        XCTAssertLessThan(after.ratio, 0.8, "held-out prediction error \(after.predictionError) vs copy-last \(after.copyLastError)")
        XCTAssertLessThan(after.ratio, before.ratio, "training should improve on the untrained model")
    }

    func testNextFramePredictionBeatsCopyingTheLastFrame() throws {
        try checkPredictionBeatsCopyLast(.nextFrame, steps: 250)
    }

    func testMotionPredictionBeatsCopyingTheLastFrame() throws {
        try checkPredictionBeatsCopyLast(.motion, steps: 200)
    }

    // MARK: contrastive predictive coding

    func testVideoCPCPredictsHeldOutFuturesFarAboveChance() throws {
        let configuration = VideoCPCConfiguration()
        let trainer = try VideoCPCTrainer(clips: SyntheticClipStream(frames: configuration.frames, size: configuration.size, lanes: 16, seed: 1),
                                          configuration: configuration, threads: 2, seed: 3)
        func heldOut() throws -> VideoCPCTrainer.Result {
            try trainer.evaluate(clips: SyntheticClipStream(frames: configuration.frames, size: configuration.size, lanes: 8, seed: 99), batches: 3)
        }
        let before = try heldOut()
        var losses: [Float] = []
        for _ in 0..<300 { losses.append(try trainer.step()) }
        let after = try heldOut()
        let early = losses.prefix(20).reduce(0, +) / 20, late = losses.suffix(20).reduce(0, +) / 20
        let chance = configuration.chance
        print("video CPC, chance \(chance): loss \(early) -> \(late); held-out accuracy \(before.accuracy) -> \(after.accuracy), held-out loss \(before.loss) -> \(after.loss)")
        XCTAssertLessThan(late, 0.7 * early, "the InfoNCE loss should fall")
        XCTAssertLessThan(before.accuracy, 5 * chance, "an untrained model should be near chance")
        XCTAssertGreaterThan(after.accuracy, 10 * chance, "held-out accuracy")
    }

    /// Both methods train from a Y4M file (written here from moving shapes) through the factory.
    func testTrainersRunOnAY4MFile() throws {
        let folder = NSTemporaryDirectory() + "foresight-video-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "shapes.y4m"
        let writer = try Y4MWriter(path: path, header: Y4MHeader(width: 64, height: 48, chroma: .mono))
        var scene = MovingShapes(width: 64, height: 48, seed: 5)
        var frame = [Float](repeating: 0, count: 64 * 48)
        for _ in 0..<80 {
            scene.render(into: &frame)
            scene.advance()
            try writer.writeFrame(planes: frame.map { UInt8(max(0, min(255, $0 * 255))) })
        }
        writer.close()
        for method in ["next-frame", "cpc"] {
            let trainer = try VideoMethods.trainer(method, y4mPath: path, size: 16, seed: 1)
            var losses: [Float] = []
            for _ in 0..<30 { losses.append(try trainer.step()) }
            print("\(method) on a Y4M file: loss \(losses[0]) -> \(losses.suffix(5).reduce(0, +) / 5)")
            XCTAssertTrue(losses.allSatisfy(\.isFinite))
            XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, losses.prefix(5).reduce(0, +) / 5, "\(method) loss should fall")
        }
        XCTAssertThrowsError(try VideoMethods.trainer("optical-flow", y4mPath: nil)) { XCTAssertTrue("\($0)".contains("known: next-frame, motion, cpc"), "\($0)") }
    }

    /// Steps on synthetic clips, after a warm-up, allocate nothing (one and two threads).
    func testTrainingStepsDoNotAllocate() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        var configuration = VideoCPCConfiguration()
        configuration.batch = 2
        for threads in [1, 2] {
            let trainers: [any SelfSupervisedTrainer] = [
                try VideoCPCTrainer(clips: SyntheticClipStream(frames: 8, size: 16, lanes: 2, seed: 1), configuration: configuration, threads: threads),
                try FramePredictionTrainer(.motion, clips: SyntheticClipStream(frames: 3, size: 16, lanes: 2, seed: 1), batch: 2, threads: threads),
            ]
            for trainer in trainers {
                for _ in 0..<2 { try trainer.step() }
                let allocations = try fewestAllocations { try trainer.step() }
                XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps of \(type(of: trainer)) with \(threads) thread(s)")
            }
        }
    }

    func testMismatchedClipsAreClearErrors() throws {
        XCTAssertThrowsError(try FramePredictionTrainer(.nextFrame, clips: SyntheticClipStream(frames: 1, size: 32, seed: 1))) {
            XCTAssertTrue("\($0)".contains("at least 2 frames"), "\($0)")
        }
        XCTAssertThrowsError(try VideoCPCTrainer(clips: SyntheticClipStream(frames: 8, size: 32, seed: 1))) {
            XCTAssertTrue("\($0)".contains("8 frames of 16x16"), "\($0)")
        }
        let trainer = try FramePredictionTrainer(.nextFrame, clips: SyntheticClipStream(frames: 3, size: 16, seed: 1), batch: 2)
        XCTAssertThrowsError(try trainer.evaluate(clips: SyntheticClipStream(frames: 4, size: 16, seed: 2), batches: 1)) {
            XCTAssertTrue("\($0)".contains("must match"), "\($0)")
        }
    }
}
