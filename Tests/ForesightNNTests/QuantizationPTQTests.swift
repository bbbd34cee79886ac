// Post-training quantization of pc64: a trained model keeps its next-frame loss in int8, the
// per-layer report names every layer, calibration handles outliers and broken values, int8
// inference allocates nothing, and operations without an int8 form are refused by name.

import CAllocationCounter
import XCTest
@testable import ForesightCore
@testable import ForesightNN
@testable import ForesightIO
@testable import ForesightSSL
@testable import ForesightExport

final class QuantizationPTQTests: XCTestCase {
    /// pc64 trained for `steps` steps on moving squares (shared by the tests of this class).
    nonisolated(unsafe) private static var trained: FramePredictionTrainer?

    private func trainedPC64() throws -> FramePredictionTrainer {
        if let trainer = Self.trained { return trainer }
        let trainer = try FramePredictionTrainer(batch: 8, threads: 2, seed: 21)
        for _ in 0..<300 { _ = try trainer.step() }
        Self.trained = trainer
        return trainer
    }

    /// Fresh batches of the trainer's scenes: (frames, target) as arrays.
    private func batches(_ trainer: FramePredictionTrainer, count: Int) -> [(frames: [Float], target: [Float])] {
        (0..<count).map { _ in
            _ = trainer.loadBatch()
            return (trainer.program.tensor(trainer.model.frames).toArray(), trainer.program.tensor(trainer.model.target).toArray())
        }
    }

    private func meanSquaredError(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(a.count)
    }

    func testTrainedPC64KeepsItsLossInInt8() throws {
        let trainer = try trainedPC64()
        let program = trainer.program, model = trainer.model, graph = model.graph
        let parameter: (TensorID) -> UnsafePointer<Float> = { UnsafePointer(program.tensor($0).floatPointer) }
        let calibration = batches(trainer, count: 16).map(\.frames)
        let evaluation = batches(trainer, count: 8)
        let encoded = graph.tensor(named: "e3.relu")!

        // Encoder in int8, decoder in float32 (an exported encoder feeding a float head).
        let encoder = try Int8Model(graph: graph, from: model.frames, to: encoded, batch: 8, parameter: parameter, calibration: calibration)
        let decoder = FloatChain(try parseChain(graph, from: encoded, to: model.prediction, batch: 8, parameter: parameter))
        // The whole predictor in int8 (sigmoid in float32 after the last dequantization).
        let whole = try Int8Model(graph: graph, from: model.frames, to: model.prediction, batch: 8, parameter: parameter, calibration: calibration)

        var floatLoss = 0.0, encoderLoss = 0.0, wholeLoss = 0.0
        var code = [Float](repeating: 0, count: encoder.outputShape.reduce(1, *))
        var prediction = [Float](repeating: 0, count: whole.outputShape.reduce(1, *))
        for (frames, target) in evaluation {
            program.tensor(model.frames).copy(from: frames)
            program.tensor(model.target).copy(from: target)
            program.forward()
            floatLoss += Double(program.lossValue)
            frames.withUnsafeBufferPointer { encoder.run(input: $0.baseAddress!, output: &code) }
            code.withUnsafeBufferPointer { decoder.run($0.baseAddress!) }
            encoderLoss += meanSquaredError(Array(UnsafeBufferPointer(start: decoder.outputs.last!, count: target.count)), target)
            frames.withUnsafeBufferPointer { whole.run(input: $0.baseAddress!, output: &prediction) }
            wholeLoss += meanSquaredError(prediction, target)
        }
        print(String(format: "pc64 next-frame loss: float32 %.7f, int8 encoder %.7f (%+.3f%%), int8 encoder+decoder %.7f (%+.3f%%)",
                     floatLoss / 8, encoderLoss / 8, (encoderLoss / floatLoss - 1) * 100, wholeLoss / 8, (wholeLoss / floatLoss - 1) * 100))
        for line in whole.errorReport(inputs: Array(calibration.prefix(4))) { print("  \(line)") }
        XCTAssertLessThanOrEqual(encoderLoss, floatLoss * 1.05, "int8 encoder loses more than 5%")
        XCTAssertLessThanOrEqual(wholeLoss, floatLoss * 1.10, "int8 encoder and decoder lose more than 10%")
    }

    func testErrorReportNamesEveryLayerWithSmallErrors() throws {
        let trainer = try trainedPC64()
        let graph = trainer.model.graph, program = trainer.program
        let calibration = batches(trainer, count: 4).map(\.frames)
        let model = try Int8Model(graph: graph, from: trainer.model.frames, to: trainer.model.prediction, batch: 8,
                                  parameter: { UnsafePointer(program.tensor($0).floatPointer) }, calibration: calibration, method: .percentile(99.99))
        let report = model.errorReport(inputs: calibration)
        XCTAssertEqual(report.map(\.name), ["e1.relu", "e2.relu", "e3.relu", "d1.upsample", "d1.relu", "d2.upsample", "d2"])
        for layer in report {
            XCTAssertLessThan(layer.relativeError, 0.1, "\(layer)")
            XCTAssertGreaterThan(layer.sqnrDecibels, 20, "\(layer)")
        }
    }

    func testInt8InferenceAllocatesNothing() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let graph = Graph()
        let frames = try graph.input("frames", [2, 4, 32, 32])
        let encoded = try Models.encoder(graph, frames)
        let program = try Program(graph, seed: 3)
        var rng = SeededRandom(seed: 4)
        let input = (0..<(2 * 4 * 32 * 32)).map { _ in rng.nextFloat() }
        for threads in [1, 2] {
            let model = try Int8Model(graph: graph, from: frames, to: encoded, batch: 2,
                                      parameter: { UnsafePointer(program.tensor($0).floatPointer) }, calibration: [input], threads: threads)
            let output = UnsafeMutablePointer<Float>.allocate(capacity: model.outputShape.reduce(1, *))
            defer { output.deallocate() }
            input.withUnsafeBufferPointer { buffer in
                for _ in 0..<3 { model.run(input: buffer.baseAddress!, output: output) }
                let allocations = quietestWindowAllocations { model.run(input: buffer.baseAddress!, output: output) }
                XCTAssertEqual(allocations, 0, "int8 inference allocated with \(threads) thread(s)")
            }
        }
    }

    func testUnsupportedOperationsAreRefusedByName() throws {
        let graph = Graph()
        let x = try graph.input("x", [1, 4, 8, 8])
        let h = try graph.conv2d(x, outChannels: 8, kernel: 3, padding: 1, name: "c1")
        let y = try graph.activation(h, .tanh, name: "squash")
        let program = try Program(graph)
        XCTAssertThrowsError(try Int8Model(graph: graph, from: x, to: y, batch: 1, parameter: { UnsafePointer(program.tensor($0).floatPointer) },
                                           calibration: [[Float](repeating: 0.5, count: 256)])) { error in
            XCTAssertTrue("\(error)".contains("squash"), "\(error)")
        }
        XCTAssertThrowsError(try Int8Model(graph: graph, from: x, to: h, batch: 1, parameter: { UnsafePointer(program.tensor($0).floatPointer) },
                                           calibration: [])) { error in
            XCTAssertTrue("\(error)".contains("calibration"), "\(error)")
        }
    }

    func testPercentileCalibrationIgnoresOutliersAndNaNIsAnError() throws {
        var observer = ActivationObserver(name: "act")
        var values = (0..<100_000).map { Float($0 % 1000) / 1000 }
        values[777] = 500
        values.withUnsafeBufferPointer { observer.observe($0) }
        XCTAssertEqual(observer.range(.minMax).max, 500)
        XCTAssertEqual(observer.range(.percentile(99.99)).max, 1, accuracy: 0.01)
        XCTAssertLessThan(try observer.quantization(.percentile(99.99)).scale, 0.01)
        var broken = ActivationObserver(name: "broken")
        [Float(1), .nan, 2].withUnsafeBufferPointer { broken.observe($0) }
        XCTAssertThrowsError(try broken.quantization(.minMax)) { error in
            XCTAssertTrue("\(error)".contains("broken"), "\(error)")
        }
        XCTAssertThrowsError(try ActivationObserver(name: "empty").quantization(.minMax))
    }
}
