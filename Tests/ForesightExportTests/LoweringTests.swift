// Lowering of graph operations to inference forms: the ONNX exporter and the int8 and float32
// chains read each operation's `inferenceForm`, and refuse with the node's name what has none.

import Foundation
import XCTest
import ForesightCore
import ForesightNN
@testable import ForesightExport

final class LoweringTests: XCTestCase {
    /// frames [1, 2, 8, 8] -> conv + ReLU -> 2x2 max pool -> nearest 2x -> conv -> sigmoid.
    private func chainGraph() throws -> (Graph, TensorID, TensorID) {
        let graph = Graph()
        let frames = try graph.input("frames", [1, 2, 8, 8])
        var h = try graph.relu(try graph.conv2d(frames, outChannels: 3, kernel: 3, padding: 1, name: "c1"))
        h = try graph.maxPool2d(h, kernel: 2, name: "pool")
        h = try graph.upsampleNearest2x(h, name: "up")
        h = try graph.conv2d(h, outChannels: 1, kernel: 1, name: "c2")
        return (graph, frames, try graph.sigmoid(h))
    }

    func testEveryChainOperationLowersToONNXNodesAndNamedInitializers() throws {
        let (graph, frames, output) = try chainGraph()
        let program = try Program(graph)
        program.initializeParameters(seed: 3)
        let stages = try parseChain(graph, from: frames, to: output, batch: 1, parameter: { UnsafePointer(program.tensor($0).floatPointer) })
        var onnx = Onnx_GraphProto()
        EncoderModel.lower(stages, from: "x", to: "y", into: &onnx)
        XCTAssertEqual(onnx.node.map(\.opType), ["Conv", "Relu", "MaxPool", "Resize", "Conv", "Sigmoid"])
        XCTAssertEqual(onnx.node.first?.input, ["x", "c1.weight", "c1.bias"])
        XCTAssertEqual(onnx.node.last?.output, ["y"])
        // Each node reads what the one before it wrote.
        for (previous, node) in zip(onnx.node, onnx.node.dropFirst()) { XCTAssertEqual(node.input.first, previous.output.first) }
        let weight = try XCTUnwrap(onnx.initializer.first { $0.name == "c1.weight" })
        XCTAssertEqual(weight.dims, [3, 2, 3, 3])
        let id = try XCTUnwrap(graph.tensor(named: "c1.weight"))
        XCTAssertEqual(weight.rawData, Data(bytes: program.tensor(id).data, count: program.tensor(id).byteCount))
        XCTAssertEqual(onnx.initializer.first { $0.name == "c2.weight" }?.dims, [1, 3, 1, 1])
        XCTAssertEqual(onnx.initializer.first { $0.name.hasSuffix(".scales") }?.floatData, [1, 1, 2, 2])
    }

    func testAnOperationWithoutALoweringIsRefusedByName() throws {
        let graph = Graph()
        let frames = try graph.input("frames", [1, 2, 8, 8])
        let conv = try graph.conv2d(frames, outChannels: 4, kernel: 3, padding: 1, name: "c1")
        let normalised = try graph.groupNorm(conv, groups: 2, name: "norm")
        let program = try Program(graph)
        XCTAssertThrowsError(try FloatInferenceModel(graph: graph, from: frames, to: normalised, batch: 1,
                                                     parameter: { UnsafePointer(program.tensor($0).floatPointer) })) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("norm") && message.contains("group normalisation") && message.contains("no inference lowering"), message)
        }
    }

    func testATrainingOnlyOperationEndsTheChainWithAnError() throws {
        let graph = Graph()
        let frames = try graph.input("frames", [1, 1, 4, 4])
        let target = try graph.input("target", [1, 1, 4, 4])
        let conv = try graph.conv2d(frames, outChannels: 1, kernel: 1, name: "c1")
        let loss = try graph.mseLoss(conv, target, name: "loss")
        let program = try Program(graph)
        XCTAssertThrowsError(try parseChain(graph, from: frames, to: loss, batch: 1, parameter: { UnsafePointer(program.tensor($0).floatPointer) })) { error in
            XCTAssertTrue(String(describing: error).contains("only for training"), String(describing: error))
        }
    }

    func testTheInferenceFormsOfTheChainOperations() throws {
        let (graph, _, _) = try chainGraph()
        let forms = graph.nodes.map(\.operation.inferenceForm)
        XCTAssertEqual(forms, [.convolution(stride: 1, padding: 1, groups: 1), .activation(.relu),
                               .pool2d(maximum: true, kernel: 2, stride: 2, padding: 0), .upsample2x(nearest: true),
                               .convolution(stride: 1, padding: 0, groups: 1), .activation(.sigmoid)])
    }
}
