// Stored int8 layers (what model files hold): a calibrated chain with signed activations
// (non-zero zero points), strides and a 1x1 convolution rebuilds bit for bit from its stored
// convolutions, and inconsistent stored layers throw naming the tensor instead of trapping.

import XCTest
@testable import ForesightCore
@testable import ForesightNN

final class Int8FileLayersTests: XCTestCase {
    /// c1 (3x3, no ReLU: signed output) -> c2 (3x3 stride 2, ReLU) -> c3 (1x1, no ReLU), batch 2.
    private func calibratedChain() throws -> (model: Int8Model, program: Program, input: TensorID, output: TensorID, samples: [[Float]]) {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 12, 12])
        var h = try graph.conv2d(x, outChannels: 8, kernel: 3, padding: 1, name: "c1")
        h = try graph.relu(try graph.conv2d(h, outChannels: 5, kernel: 3, stride: 2, padding: 1, name: "c2"))
        h = try graph.conv2d(h, outChannels: 4, kernel: 1, name: "c3")
        let program = try Program(graph, seed: 3)
        var random = SeededRandom(seed: 4)
        let samples: [[Float]] = (0..<5).map { _ in (0..<(2 * 3 * 12 * 12)).map { _ in Float(random.next() % 2001) / 1000 - 1 } }
        let model = try Int8Model(graph: graph, from: x, to: h, batch: 2, parameter: { UnsafePointer(program.tensor($0).floatPointer) },
                                  calibration: Array(samples.prefix(4)))
        return (model, program, x, h, samples)
    }

    func testStoredConvolutionsRebuildTheSameModelBitForBit() throws {
        let (model, program, input, output, samples) = try calibratedChain()
        let stored = try XCTUnwrap(model.storedConvolutions)
        XCTAssertEqual(stored.map(\.kernel), [3, 3, 1])
        XCTAssertEqual(stored.map(\.stride), [1, 2, 1])
        XCTAssertEqual(stored.map(\.relu), [false, true, false])
        XCTAssertTrue(stored[0].output.zeroPoint > 0 && stored[2].output.zeroPoint > 0, "\(stored.map(\.output))")
        XCTAssertTrue(stored.allSatisfy { $0.bias.contains { $0 != 0 } })
        let rebuilt = try Int8Model(inputShape: [3, 12, 12], input: model.inputQuantization, convolutions: stored, batch: 2, threads: 2)
        XCTAssertEqual(rebuilt.outputShape, model.outputShape)
        XCTAssertEqual(rebuilt.storedConvolutions, stored)
        // A sample the calibration did not see.
        let count = model.outputShape.reduce(1, *)
        var original = [Float](repeating: .nan, count: count), again = [Float](repeating: 0, count: count)
        samples[4].withUnsafeBufferPointer { x in
            model.run(input: x.baseAddress!, output: &original)
            rebuilt.run(input: x.baseAddress!, output: &again)
        }
        XCTAssertEqual(again.map(\.bitPattern), original.map(\.bitPattern))
        // And the int8 result is the float32 one within a few output steps.
        program.tensor(input).copy(from: samples[4])
        program.forward()
        let float = program.tensor(output).toArray()
        let step = stored[2].output.scale
        let worst = zip(again, float).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 6 * step, "worst \(worst / step) steps")
    }

    func testInconsistentStoredLayersThrowNamingTheTensor() throws {
        let (model, _, _, _, _) = try calibratedChain()
        let stored = try XCTUnwrap(model.storedConvolutions)
        func rebuildError(_ edit: (inout [Int8StoredConvolution]) -> Void) -> String {
            var layers = stored
            edit(&layers)
            do {
                _ = try Int8Model(inputShape: [3, 12, 12], input: model.inputQuantization, convolutions: layers, batch: 1)
            } catch {
                return "\(error)"
            }
            XCTFail("the edited layers were accepted")
            return ""
        }
        func edited(_ layer: Int8StoredConvolution, codes: [Int8]? = nil, scales: [Float]? = nil, bias: [Int32]? = nil,
                    kernel: Int? = nil) -> Int8StoredConvolution {
            Int8StoredConvolution(name: layer.name, outChannels: layer.outChannels, kernel: kernel ?? layer.kernel, stride: layer.stride,
                                  padding: layer.padding, relu: layer.relu, weightCodes: codes ?? layer.weightCodes,
                                  weightScales: scales ?? layer.weightScales, bias: bias ?? layer.bias, output: layer.output)
        }
        var problem = rebuildError { $0[1] = edited($0[1], codes: Array($0[1].weightCodes.dropLast())) }
        XCTAssertTrue(problem.contains("c2") && problem.contains("weight") && problem.contains("codes"), problem)
        problem = rebuildError { $0[0] = edited($0[0], scales: Array($0[0].weightScales.dropFirst())) }
        XCTAssertTrue(problem.contains("weight_scale") && problem.contains("7 scales for 8"), problem)
        problem = rebuildError { $0[2] = edited($0[2], bias: [1, 2]) }
        XCTAssertTrue(problem.contains("bias") && problem.contains("2 values for 4"), problem)
        for bad: Float in [0, -1, .nan, .infinity] {
            problem = rebuildError { var scales = $0[1].weightScales; scales[3] = bad; $0[1] = edited($0[1], scales: scales) }
            XCTAssertTrue(problem.contains("weight_scale") && problem.contains("output channel 3"), "\(bad): \(problem)")
        }
        problem = rebuildError { var codes = $0[0].weightCodes; codes[5] = -128; $0[0] = edited($0[0], codes: codes) }
        XCTAssertTrue(problem.contains("-128 at element 5"), problem)
        problem = rebuildError { $0[2] = edited($0[2], kernel: 9) }   // 9x9 without padding on a 6x6 input
        XCTAssertTrue(problem.contains("c3"), problem)
        problem = rebuildError { $0 = [] }
        XCTAssertTrue(problem.contains("no layers"), problem)
    }
}
