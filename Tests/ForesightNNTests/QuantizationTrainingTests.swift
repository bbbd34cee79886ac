// Quantization-aware training (fake quantization, straight-through gradients) and int8
// training (int8 forward, int8 x int8 -> int32 backward): each trains pc64 on moving squares
// and is compared with float32 training from the same start on the same clips.

import CAllocationCounter
import Foundation
import XCTest
@testable import ForesightCore
@testable import ForesightNN
@testable import ForesightSensors
@testable import ForesightIO

/// Clips of moving squares written straight into a program's inputs, reproducible from a seed.
struct SceneBatches {
    var scenes: [MovingShapes]
    let pastFrames = 4, size = 64

    init(batch: Int, seed: UInt64) {
        scenes = (0..<batch).map { MovingShapes(width: 64, height: 64, seed: seed &* 31 &+ UInt64($0)) }
    }

    /// Writes the next clip of every scene into frames [N, 4, 64, 64] and target [N, 1, 64, 64].
    mutating func load(frames: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        let plane = size * size
        for sample in scenes.indices {
            for frame in 0..<pastFrames {
                scenes[sample].render(into: frames + (sample * pastFrames + frame) * plane)
                scenes[sample].advance()
            }
            scenes[sample].render(into: target + sample * plane)
        }
    }
}

/// Trains `model` for `steps` steps with Adam (lr 1e-3) from parameter seed 5 on clips from
/// seed 9 and returns the program and the mean loss over 8 fresh evaluation batches.
func trainPC64(_ model: FramePredictionModel, steps: Int, int8Masters: Bool = false,
               evaluate: (Program) -> Void = { _ in }) throws -> (program: Program, loss: Float) {
    let program = try Program(model.graph, loss: model.loss, optimizer: Adam(learningRate: 1e-3), seed: 5)
    var clips = SceneBatches(batch: program.tensor(model.frames).shape[0], seed: 9)
    let masters = int8Masters ? Int8MasterWeights(program, seed: 2) : nil
    masters?.apply()
    let start = MonotonicClock.nanoseconds()
    for _ in 0..<steps {
        clips.load(frames: program.tensor(model.frames).floatPointer, target: program.tensor(model.target).floatPointer)
        try program.step()
        masters?.apply()
    }
    // Informative only (the machine is shared): how long a step took.
    print(String(format: "  %d training steps: %.1f ms per step", steps, MonotonicClock.seconds(since: start) * 1e3 / Double(steps)))
    evaluate(program)
    var evaluation = SceneBatches(batch: program.tensor(model.frames).shape[0], seed: 1234)
    var total: Float = 0
    for _ in 0..<8 {
        evaluation.load(frames: program.tensor(model.frames).floatPointer, target: program.tensor(model.target).floatPointer)
        program.forward()
        total += program.lossValue
    }
    return (program, total / 8)
}

final class QuantizationAwareTrainingTests: XCTestCase {
    func testFakeQuantizationRoundsToTheGridAndPassesGradientsStraightThrough() throws {
        let arena = try Arena(capacity: 1 << 16)
        let x = try arena.allocate(Shape(2, 4), name: "x"), y = try arena.allocate(Shape(2, 4), name: "y")
        let dx = try arena.allocate(Shape(2, 4), name: "dx"), dy = try arena.allocate(Shape(2, 4), name: "dy")
        let operation = FakeQuantizeOperation(.activations(momentum: 0.5))
        _ = try operation.outputShape([x.shape], dtypes: [.float32])
        operation.bind(Binding(inputs: [x], output: y, inputGradients: [dx], outputGradient: dy, saved: nil, scratch: nil, scratchThreads: 1))
        x.copy(from: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0])
        operation.forward(pool: ThreadPool(threads: 1))
        let q = try operation.quantization(tensor: "x")
        for (value, rounded) in zip(x.toArray(), y.toArray()) {
            XCTAssertEqual(rounded, q.dequantize(q.quantize(value)))
            XCTAssertEqual(rounded, value, accuracy: q.scale / 2 + 1e-6)
        }
        // A batch with a larger value moves the range half way (momentum 0.5); values outside get no gradient.
        x.copy(from: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 3.0])
        operation.forward(pool: ThreadPool(threads: 1))
        XCTAssertEqual(operation.range!.max, 2.0, accuracy: 1e-6)
        XCTAssertEqual(y.floats[7], q.scale * 0 + (try operation.quantization(tensor: "x")).range.upperBound, accuracy: 1e-6)
        dy.fill(1); dx.fill(0)
        operation.backward(pool: ThreadPool(threads: 1))
        XCTAssertEqual(dx.toArray(), [1, 1, 1, 1, 1, 1, 1, 0])

        let weights = FakeQuantizeOperation(.weightsPerChannel)
        _ = try weights.outputShape([x.shape], dtypes: [.float32])
        weights.bind(Binding(inputs: [x], output: y, inputGradients: [dx], outputGradient: dy, saved: nil, scratch: nil, scratchThreads: 1))
        x.copy(from: [0.5, -1, 0.25, 0.3, 0, 0, 0, 0])
        weights.forward(pool: ThreadPool(threads: 1))
        XCTAssertEqual(y.floats[1], -1)
        XCTAssertEqual(y.floats[2], 32 / 127, accuracy: 1e-7)
        XCTAssertEqual(Array(y.toArray()[4...]), [0, 0, 0, 0])
        dx.fill(0)
        weights.backward(pool: ThreadPool(threads: 1))
        XCTAssertEqual(dx.toArray(), [Float](repeating: 1, count: 8))
    }

    func testQuantizationAwareTrainingSurvivesInt8Export() throws {
        let steps = 300
        let float = try trainPC64(try Models.pc64(batch: 8), steps: steps)
        let qatModel = try Models.pc64QuantizationAware(batch: 8)
        let qat = try trainPC64(qatModel, steps: steps) { _ in qatModel.graph.setFakeQuantizationObserving(false) }
        // Export the QAT model to int8 (calibrated on training clips) and score it on the evaluation clips.
        let program = qat.program
        var clips = SceneBatches(batch: 8, seed: 77)
        var calibration: [[Float]] = []
        for _ in 0..<8 {
            clips.load(frames: program.tensor(qatModel.frames).floatPointer, target: program.tensor(qatModel.target).floatPointer)
            calibration.append(program.tensor(qatModel.frames).toArray())
        }
        let int8 = try Int8Model(graph: qatModel.graph, from: qatModel.frames, to: qatModel.prediction, batch: 8,
                                 parameter: { UnsafePointer(program.tensor($0).floatPointer) }, calibration: calibration)
        var evaluation = SceneBatches(batch: 8, seed: 1234)
        var target = [Float](repeating: 0, count: 8 * 4096), frames = [Float](repeating: 0, count: 8 * 4 * 4096)
        var prediction = target
        var int8Loss: Double = 0
        for _ in 0..<8 {
            evaluation.load(frames: &frames, target: &target)
            int8.run(input: frames, output: &prediction)
            int8Loss += zip(prediction, target).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(target.count)
        }
        int8Loss /= 8
        print(String(format: "pc64 after %d steps: float32 %.6f, quantization-aware (fake int8) %.6f, its int8 export %.6f", steps, float.loss, qat.loss, int8Loss))
        XCTAssertLessThanOrEqual(qat.loss, float.loss * 1.10, "quantization-aware training is more than 10% worse than float32")
        XCTAssertLessThanOrEqual(int8Loss, Double(qat.loss) * 1.05, "the int8 export loses more than 5% against its fake-quantized model")
    }
}

final class Int8TrainingTests: XCTestCase {
    /// Two stacked convolutions and an MSE loss, with float32 or int8-trained convolutions.
    private func twoLayers(int8: Bool) throws -> (graph: Graph, x: TensorID, target: TensorID, loss: TensorID) {
        let graph = Graph()
        let x = try graph.input("x", [2, 5, 12, 10])
        let target = try graph.input("target", [2, 3, 6, 5])
        var h = int8 ? try graph.conv2dInt8Training(x, outChannels: 8, kernel: 3, stride: 1, padding: 1, name: "c1")
                     : try graph.conv2d(x, outChannels: 8, kernel: 3, stride: 1, padding: 1, name: "c1")
        h = try graph.relu(h)
        h = int8 ? try graph.conv2dInt8Training(h, outChannels: 3, kernel: 3, stride: 2, padding: 1, name: "c2")
                 : try graph.conv2d(h, outChannels: 3, kernel: 3, stride: 2, padding: 1, name: "c2")
        return (graph, x, target, try graph.mseLoss(h, target, name: "loss"))
    }

    private func gradients(int8: Bool, path: Int8KernelPath = .best) throws -> (loss: Float, gradients: [String: [Float]]) {
        let (graph, x, target, loss) = try twoLayers(int8: int8)
        for node in graph.nodes { (node.operation as? Int8TrainingConv2dOperation)?.path = path }
        let program = try Program(graph, loss: loss, optimizer: Adam(), seed: 3)
        var rng = SeededRandom(seed: 8)
        program.tensor(x).copy(from: (0..<(2 * 5 * 12 * 10)).map { _ in rng.nextFloat(in: 0..<1) })
        program.tensor(target).copy(from: (0..<(2 * 3 * 6 * 5)).map { _ in rng.nextFloat(in: -1..<1) })
        program.forward()
        program.backward()
        var result: [String: [Float]] = [:]
        for id in program.parameters { result[graph[id].name] = program.gradient(id)!.toArray() }
        return (program.lossValue, result)
    }

    func testInt8GradientsFollowFloatGradients() throws {
        let float = try gradients(int8: false), int8 = try gradients(int8: true)
        XCTAssertEqual(int8.loss, float.loss, accuracy: float.loss * 0.02)
        for (name, expected) in float.gradients {
            let got = int8.gradients[name]!
            let dot = zip(expected, got).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let norms = (expected.reduce(0.0) { $0 + Double($1 * $1) } * got.reduce(0.0) { $0 + Double($1 * $1) }).squareRoot()
            let error = (zip(expected, got).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / expected.reduce(0.0) { $0 + Double($1 * $1) }).squareRoot()
            XCTAssertGreaterThan(dot / norms, 0.995, "\(name): cosine \(dot / norms)")
            XCTAssertLessThan(error, 0.08, "\(name): relative error \(error)")
        }
        // Every kernel path computes the same integers, so the same gradients.
        let reference = try gradients(int8: true, path: .portable)
        for path in Int8KernelPath.available {
            XCTAssertEqual(try gradients(int8: true, path: path).gradients, reference.gradients, "\(path)")
        }
    }

    func testInt8TrainingOfPC64StaysWithinTenPercentOfFloat() throws {
        let steps = 300
        let float = try trainPC64(try Models.pc64(batch: 8, precision: .float32), steps: steps)
        let int8 = try trainPC64(try Models.pc64(batch: 8, precision: .int8), steps: steps)
        // The same with the weights themselves held as int8 between steps (no float32 master copy).
        let int8Masters = try trainPC64(try Models.pc64(batch: 8, precision: .int8), steps: steps, int8Masters: true)
        print(String(format: "pc64 after %d steps: float32 training %.6f, int8 training %.6f (%+.2f%%), int8 training with int8 master weights %.6f (%+.2f%%)",
                     steps, float.loss, int8.loss, (int8.loss / float.loss - 1) * 100, int8Masters.loss, (int8Masters.loss / float.loss - 1) * 100))
        XCTAssertLessThanOrEqual(int8.loss, float.loss * 1.10)
        XCTAssertLessThanOrEqual(int8Masters.loss, float.loss * 1.25, "int8 master weights lose more than 25%")
    }

    func testInt8TrainingStepAllocatesNothing() throws {
        let model = try Models.pc64(batch: 2, precision: .int8)
        let program = try Program(model.graph, loss: model.loss, optimizer: Adam(), seed: 1)
        var clips = SceneBatches(batch: 2, seed: 4)
        func step() throws {
            clips.load(frames: program.tensor(model.frames).floatPointer, target: program.tensor(model.target).floatPointer)
            try program.step()
        }
        for _ in 0..<2 { try step() }
        let before = foresight_allocation_count()
        for _ in 0..<3 { try step() }
        XCTAssertEqual(foresight_allocation_count() - before, 0)
    }
}
