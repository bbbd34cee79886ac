// ONNX export of a float32 pc64 encoder: Conv + Relu nodes at opset 13, weights as
// initializers, written with the messages generated from ONNX/onnx-trimmed.proto.
// Not an ONNX importer, and not int8 (QDQ/QLinearConv export waits for the int8 file).

import Foundation
import ForesightCore
import SwiftProtobuf

extension EncoderModel {
    /// The ONNX opset the export targets.
    public static let onnxOpset: Int64 = 13

    /// The encoder as ONNX model bytes: input "frames" [N, 4, 64, 64] (N symbolic), output
    /// "embedding" [N, 32, 16, 16].
    ///
    /// ```swift
    /// try encoder.onnxModel().write(to: URL(fileURLWithPath: "encoder.onnx"))
    /// ```
    public func onnxModel(metadata: [String: String] = [:]) throws -> Data {
        var graph = Onnx_GraphProto()
        graph.name = EncoderModel.architecture
        graph.input = [Self.valueInfo("frames", EncoderModel.inputShape)]
        graph.output = [Self.valueInfo("embedding", EncoderModel.outputShape)]
        for (name, tensor) in namedParameters {
            var initializer = Onnx_TensorProto()
            initializer.name = name
            initializer.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            initializer.dims = tensor.shape.dims.map(Int64.init)
            // raw_data is little-endian float32, as the tensor is in memory on every supported CPU.
            initializer.rawData = Data(bytes: tensor.data, count: tensor.byteCount)
            graph.initializer.append(initializer)
        }
        // (layer, stride) for e1..e3; every convolution is 3x3 with padding 1, followed by ReLU.
        var previous = "frames"
        for (index, (layer, stride)) in [("e1", 2), ("e2", 2), ("e3", 1)].enumerated() {
            var conv = Onnx_NodeProto()
            conv.name = layer
            conv.opType = "Conv"
            conv.input = [previous, layer + ".weight", layer + ".bias"]
            conv.output = [layer + ".conv"]
            conv.attribute = [Self.ints("kernel_shape", [3, 3]), Self.ints("pads", [1, 1, 1, 1]),
                              Self.ints("strides", [stride, stride]), Self.ints("dilations", [1, 1]), Self.int("group", 1)]
            var relu = Onnx_NodeProto()
            relu.name = layer + ".relu"
            relu.opType = "Relu"
            relu.input = conv.output
            relu.output = [index == 2 ? "embedding" : layer + ".relu"]
            graph.node += [conv, relu]
            previous = relu.output[0]
        }
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = EncoderModel.onnxOpset
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.opsetImport = [opset]
        model.producerName = "foresight"
        model.producerVersion = ModelFile.formatVersion
        model.docString = "pc64 encoder, float32. Input: " + EncoderModel.preprocessing
        model.graph = graph
        model.metadataProps = metadata.sorted { $0.key < $1.key }.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return try model.serializedData()
    }

    /// Writes `onnxModel(metadata:)` to `path` (through a temporary file and a rename).
    public func writeONNX(to path: String, metadata: [String: String] = [:]) throws {
        let bytes = try onnxModel(metadata: metadata)
        do {
            try bytes.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ModelFileError(path: path, problem: "cannot be written: \(error.localizedDescription)")
        }
    }

    /// A float32 tensor value [N, dims...] with N symbolic.
    private static func valueInfo(_ name: String, _ dims: [Int]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "N"
        shape.dim = [batch] + dims.map { extent in
            var dimension = Onnx_TensorShapeProto.Dimension()
            dimension.dimValue = Int64(extent)
            return dimension
        }
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensorType.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensorType
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }

    private static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values.map(Int64.init)
        return attribute
    }

    private static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }
}
