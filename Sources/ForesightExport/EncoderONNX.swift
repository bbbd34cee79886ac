// ONNX export of a pc64 encoder at opset 13, written with the messages generated from
// ONNX/onnx-trimmed.proto: float32 as Conv + Relu with weights as initializers, int8 in QDQ
// form (QuantizeLinear/DequantizeLinear around float Conv + Relu, int8 weights per channel,
// int32 biases), which ONNX Runtime fuses into integer kernels. Not an ONNX importer.

import Foundation
import ForesightCore
import SwiftProtobuf
import ForesightIO
import ForesightNN

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
        guard let frames = program.graph.tensor(named: "frames") else { preconditionFailure("encoder graph lacks its input") }
        let stages = try parseChain(program.graph, from: frames, to: outputID, batch: batch,
                                    parameter: { UnsafePointer(program.tensor($0).floatPointer) })
        Self.lower(stages, from: "frames", to: "embedding", into: &graph)
        return try Self.serialize(graph, doc: "pc64 encoder, float32. Input: " + EncoderModel.preprocessing, metadata: metadata)
    }

    /// Appends the float32 ONNX form of a chain to `graph`: parameters as initializers (named
    /// as in the training graph), one node per operation, `input` -> `output`. The switch is
    /// exhaustive, so a chain operation added to ForesightNN compiles only once it lowers here.
    static func lower(_ stages: [ChainStage], from input: String, to output: String, into graph: inout Onnx_GraphProto) {
        func initializer(_ name: String, _ dims: [Int], _ values: UnsafePointer<Float>) {
            graph.addInitializer(name, .float, dims, Data(bytes: values, count: dims.reduce(1, *) * MemoryLayout<Float>.size))
        }
        func node(_ type: String, _ name: String, _ inputs: [String], _ output: String, _ attributes: [Onnx_AttributeProto] = []) {
            graph.addNode(type, name, inputs, output, attributes)
        }
        var previous = input
        for (index, stage) in stages.enumerated() {
            let result = index == stages.count - 1 ? output : stage.name
            switch stage.operation {
            case let .conv(g, weight, bias, relu):
                let weightName = stage.parameterNames[0]
                let layer = weightName.hasSuffix(".weight") ? String(weightName.dropLast(7)) : stage.name
                initializer(weightName, [g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth], weight)
                if let bias { initializer(stage.parameterNames[1], [g.outChannels], bias) }
                node("Conv", layer, [previous, weightName] + (bias == nil ? [] : [stage.parameterNames[1]]), relu ? layer + ".conv" : result,
                     [ints("kernel_shape", [g.kernelHeight, g.kernelWidth]), ints("pads", [g.padding, g.padding, g.padding, g.padding]),
                      ints("strides", [g.stride, g.stride]), ints("dilations", [1, 1]), int("group", g.groups)])
                if relu { node("Relu", layer + ".relu", [layer + ".conv"], result) }
            case .upsampleNearest:
                let scales = stage.name + ".scales"
                var tensor = Onnx_TensorProto()
                tensor.name = scales
                tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
                tensor.dims = [4]
                tensor.floatData = [1, 1, 2, 2]
                graph.initializer.append(tensor)
                var mode = Onnx_AttributeProto()
                mode.name = "mode"
                mode.type = .string
                mode.s = Data("nearest".utf8)
                node("Resize", stage.name, [previous, "", scales], result, [mode])
            case let .pool(maximum):
                node(maximum ? "MaxPool" : "AveragePool", stage.name, [previous], result,
                     [ints("kernel_shape", [2, 2]), ints("strides", [2, 2]), ints("pads", [0, 0, 0, 0])])
            case .sigmoid:
                node("Sigmoid", stage.name, [previous], result)
            }
            previous = result
        }
    }

    /// `graph` as a serialized opset-13 model with `metadata` as metadata_props.
    static func serialize(_ graph: Onnx_GraphProto, doc: String, metadata: [String: String]) throws -> Data {
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = EncoderModel.onnxOpset
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.opsetImport = [opset]
        model.producerName = "foresight"
        model.producerVersion = ModelFile.formatVersion
        model.docString = doc
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
        try writeONNXFile(try onnxModel(metadata: metadata), to: path)
    }

    /// A float32 tensor value [N, dims...] with N symbolic.
    static func valueInfo(_ name: String, _ dims: [Int]) -> Onnx_ValueInfoProto {
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

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values.map(Int64.init)
        return attribute
    }

    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }
}

extension Int8EncoderModel {
    /// The int8 encoder as ONNX model bytes in QDQ form: input "frames" [N, 4, 64, 64]
    /// float32 -> QuantizeLinear (uint8) -> per layer DequantizeLinear, Conv with int8 weights
    /// (DequantizeLinear, axis 0) and int32 bias (DequantizeLinear at input scale x weight
    /// scale), Relu, QuantizeLinear to the layer's uint8 output -> "embedding" [N, 32, 16, 16]
    /// float32 (e3's output dequantized). Every quantized value is the file's.
    ///
    /// ```swift
    /// try Int8EncoderModel(path: "encoder-int8.safetensors", batch: 1).writeONNX(to: "encoder-int8.onnx")
    /// ```
    public func onnxModel(metadata: [String: String] = [:]) throws -> Data {
        var graph = Onnx_GraphProto()
        graph.name = Int8EncoderModel.architecture
        graph.input = [EncoderModel.valueInfo("frames", EncoderModel.inputShape)]
        graph.output = [EncoderModel.valueInfo("embedding", EncoderModel.outputShape)]
        func initializer(_ name: String, _ type: Onnx_TensorProto.DataType, _ dims: [Int], _ bytes: Data) {
            graph.addInitializer(name, type, dims, bytes)
        }
        func data<T>(_ values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }
        func node(_ type: String, _ name: String, _ inputs: [String], _ output: String, _ attributes: [Onnx_AttributeProto] = []) {
            graph.addNode(type, name, inputs, output, attributes)
        }
        // Scalars (dims []) for per-tensor parameters.
        initializer("input.scale", .float, [], data([inputQuantization.scale]))
        initializer("input.zero_point", .uint8, [], data([UInt8(inputQuantization.zeroPoint)]))
        node("QuantizeLinear", "frames.quantize", ["frames", "input.scale", "input.zero_point"], "frames.q")
        node("DequantizeLinear", "frames.dequantize", ["frames.q", "input.scale", "input.zero_point"], "frames.dq")
        var previous = "frames.dq", inputScale = inputQuantization.scale
        for (index, (layer, stored)) in zip(Int8EncoderModel.layers, convolutions).enumerated() {
            let name = layer.name, channels = layer.outChannels
            initializer(name + ".weight", .int8, [channels, layer.inChannels, 3, 3], data(stored.weightCodes))
            initializer(name + ".weight_scale", .float, [channels], data(stored.weightScales))
            initializer(name + ".weight_zero_point", .int8, [channels], data([Int8](repeating: 0, count: channels)))
            initializer(name + ".bias", .int32, [channels], data(stored.bias))
            initializer(name + ".bias_scale", .float, [channels], data(stored.weightScales.map { inputScale * $0 }))
            initializer(name + ".bias_zero_point", .int32, [channels], data([Int32](repeating: 0, count: channels)))
            initializer(name + ".output_scale", .float, [], data([stored.output.scale]))
            initializer(name + ".output_zero_point", .uint8, [], data([UInt8(stored.output.zeroPoint)]))
            let axis = [EncoderModel.int("axis", 0)]
            node("DequantizeLinear", name + ".weight.dequantize", [name + ".weight", name + ".weight_scale", name + ".weight_zero_point"],
                 name + ".weight.dq", axis)
            node("DequantizeLinear", name + ".bias.dequantize", [name + ".bias", name + ".bias_scale", name + ".bias_zero_point"],
                 name + ".bias.dq", axis)
            node("Conv", name, [previous, name + ".weight.dq", name + ".bias.dq"], name + ".conv",
                 [EncoderModel.ints("kernel_shape", [3, 3]), EncoderModel.ints("pads", [1, 1, 1, 1]),
                  EncoderModel.ints("strides", [layer.stride, layer.stride]), EncoderModel.ints("dilations", [1, 1]),
                  EncoderModel.int("group", 1)])
            node("Relu", name + ".relu", [name + ".conv"], name + ".relu")
            node("QuantizeLinear", name + ".quantize", [name + ".relu", name + ".output_scale", name + ".output_zero_point"], name + ".q")
            let last = index == Int8EncoderModel.layers.count - 1
            node("DequantizeLinear", name + ".dequantize", [name + ".q", name + ".output_scale", name + ".output_zero_point"],
                 last ? "embedding" : name + ".dq")
            previous = name + ".dq"
            inputScale = stored.output.scale
        }
        return try EncoderModel.serialize(graph, doc: "pc64 encoder, int8 (QDQ). Input: " + EncoderModel.preprocessing, metadata: metadata)
    }

    /// Writes `onnxModel(metadata:)` to `path` (through a temporary file and a rename).
    public func writeONNX(to path: String, metadata: [String: String] = [:]) throws {
        try writeONNXFile(try onnxModel(metadata: metadata), to: path)
    }
}

/// Writes serialized ONNX `bytes` to `path` through a temporary file and a rename.
private func writeONNXFile(_ bytes: Data, to path: String) throws {
    do {
        try bytes.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw IOError.modelFile(path: path, problem: "cannot be written: \(error.localizedDescription)")
    }
}

extension Onnx_GraphProto {
    /// Appends an initializer of `type` with raw little-endian `bytes` (as in memory on every supported CPU).
    mutating func addInitializer(_ name: String, _ type: Onnx_TensorProto.DataType, _ dims: [Int], _ bytes: Data) {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(type.rawValue)
        tensor.dims = dims.map(Int64.init)
        tensor.rawData = bytes
        initializer.append(tensor)
    }

    /// Appends a node of operator `type` with one output.
    mutating func addNode(_ type: String, _ name: String, _ inputs: [String], _ output: String, _ attributes: [Onnx_AttributeProto] = []) {
        var node = Onnx_NodeProto()
        node.name = name
        node.opType = type
        node.input = inputs
        node.output = [output]
        node.attribute = attributes
        self.node.append(node)
    }
}
