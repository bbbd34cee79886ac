// Post-training quantization of a chain of graph operations (convolutions with fused ReLU,
// depthwise convolutions, nearest 2x upsampling, 2x2 pooling, a final sigmoid kept in float32):
// calibration over N inputs, conversion to int8 layers, int8 inference that allocates nothing,
// a per-layer error report against float32, and the chain's convolutions stored and rebuilt
// (int8 model files). Not a general graph compiler: the chain must be
// linear from one input to one output, and other operations are refused with their name.

import Foundation
import ForesightCore


/// One int8 convolution (3x3 or any square kernel, one group, optional fused ReLU) as a model
/// file stores it: int8 weight codes, per-output-channel scales, int32 biases and the output's
/// uint8 parameters. The bias is quantized as ONNX's QLinearConv takes it: scale
/// `input.scale * weightScales[f]`, zero point 0 (the input zero point is not folded in).
///
/// ```swift
/// let stored = model.storedConvolutions!          // from a calibrated Int8Model
/// let loaded = try Int8Model(inputShape: [4, 64, 64], input: model.inputQuantization,
///                            convolutions: stored, batch: 8)
/// ```
public struct Int8StoredConvolution: Sendable, Equatable {
    public let name: String
    public let outChannels, kernel, stride, padding: Int
    public let relu: Bool
    /// Weight codes [F, C, K, K] in [-127, 127].
    public let weightCodes: [Int8]
    /// Per-output-channel weight scales [F].
    public let weightScales: [Float]
    /// Biases [F] in units of input scale x weight scale.
    public let bias: [Int32]
    /// Parameters of the layer's uint8 output.
    public let output: ActivationQuantization

    public init(name: String, outChannels: Int, kernel: Int, stride: Int, padding: Int, relu: Bool,
                weightCodes: [Int8], weightScales: [Float], bias: [Int32], output: ActivationQuantization) {
        self.name = name; self.outChannels = outChannels; self.kernel = kernel; self.stride = stride; self.padding = padding
        self.relu = relu; self.weightCodes = weightCodes; self.weightScales = weightScales; self.bias = bias; self.output = output
    }

    /// The int32 bias of a float bias for an accumulator of scale `inputScale * weightScale`
    /// (the rounding Int8Conv2d applies), saturated.
    public static func quantizeBias(_ bias: Float, inputScale: Float, weightScale: Float) -> Int32 {
        let value = (Double(bias) / (Double(inputScale) * Double(weightScale))).rounded()
        return Int32(min(max(value, Double(Int32.min)), Double(Int32.max)))
    }

    /// The float bias that quantizes back to `code` (for Int8Conv2d, which folds float biases).
    static func floatBias(_ code: Int32, inputScale: Float, weightScale: Float) -> Float {
        Float(Double(code) * (Double(inputScale) * Double(weightScale)))
    }
}

/// One operation of a chain, with its float32 parameters.
package enum ChainOperation {
    case conv(Conv2dGeometry, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool)
    case upsampleNearest
    case pool(maximum: Bool)
    case sigmoid
}

/// One step of a chain: the operation, the shapes around it ([N, C, H, W]), its name and the
/// names of its parameters (weight, then bias) in the graph.
package struct ChainStage {
    package let name: String
    package let operation: ChainOperation
    package let inputShape: [Int]
    package let outputShape: [Int]
    package let parameterNames: [String]
    package var outputCount: Int { outputShape.reduce(1, *) }
}

/// Finds the linear chain from `input` to `output` in `graph` and rebuilds its shapes for
/// `batch`, lowering each operation from its `inferenceForm`.
package func parseChain(_ graph: Graph, from input: TensorID, to output: TensorID, batch: Int,
                        parameter: (TensorID) -> UnsafePointer<Float>) throws -> [ChainStage] {
    var stages: [ChainStage] = []
    var current = input
    var shape = graph.shape(input).dims
    guard shape.count == 4 else { throw ModelError.unsupported(node: graph[input].name, reason: "the input must be [N, C, H, W], not \(graph.shape(input))") }
    shape[0] = batch
    let nodes = graph.nodes
    /// `id` itself, or the float parameter behind it when a fake quantizer produces it.
    func unquantized(_ id: TensorID) -> TensorID {
        if let producer = graph[id].producer, nodes[producer].operation.inferenceForm == .identity { return nodes[producer].inputs[0] }
        return id
    }
    while current != output {
        guard let index = nodes.firstIndex(where: { $0.inputs.first == current }) else {
            throw ModelError.notAChain(from: graph[input].name, to: graph[output].name)
        }
        let node = nodes[index]
        var produced = node.output
        let operation: ChainOperation
        var outputShape = shape
        var parameterNames: [String] = []
        switch node.operation.inferenceForm {
        case .identity:          // quantization-aware graphs: the int8 model quantizes for real
            current = node.output
            continue
        case let .convolution(stride, padding, groups):
            let weightShape = graph.shape(node.inputs[1])
            let g = try Conv2dGeometry(batch: batch, inChannels: shape[1], height: shape[2], width: shape[3], outChannels: weightShape[0],
                                       kernel: weightShape[2], stride: stride, padding: padding, groups: groups)
            guard groups == 1 || (groups == shape[1] && weightShape[0] == shape[1]) else {
                throw ModelError.unsupported(node: node.name, reason: "grouped convolutions other than depthwise")
            }
            var relu = false
            if node.output != output, let next = nodes.first(where: { $0.inputs.first == node.output }),
               next.operation.inferenceForm == .activation(.relu) {
                relu = true
                produced = next.output
            }
            // A weight fake-quantizer stands for its float parameter (Int8Conv2d rounds it the same way).
            let weight = unquantized(node.inputs[1])
            let bias = node.inputs.count == 3 ? unquantized(node.inputs[2]) : nil
            parameterNames = [graph[weight].name] + (bias.map { [graph[$0].name] } ?? [])
            operation = .conv(g, weight: parameter(weight), bias: bias.map(parameter), relu: relu)
            outputShape = g.outputShape
        case .upsample2x(nearest: true):
            operation = .upsampleNearest
            outputShape = [shape[0], shape[1], 2 * shape[2], 2 * shape[3]]
        case .pool2d(let maximum, kernel: 2, stride: 2, padding: 0):
            operation = .pool(maximum: maximum)
            outputShape = [shape[0], shape[1], shape[2] / 2, shape[3] / 2]
        case .activation(.sigmoid) where node.output == output:
            operation = .sigmoid
        case .activation, .upsample2x, .pool2d:
            throw ModelError.unsupported(node: node.name, reason: "\(node.operation.inferenceForm) has no int8 form here (supported: conv2d with ReLU, depthwise conv2d, nearest 2x upsampling, 2x2 pooling, a final sigmoid)")
        case .trainingOnly:
            throw ModelError.unsupported(node: node.name, reason: "\(type(of: node.operation)) exists only for training; end the chain before it")
        case let .notLowered(what):
            throw ModelError.unsupported(node: node.name, reason: "\(what) has no inference lowering yet (supported: conv2d with ReLU, depthwise conv2d, nearest 2x upsampling, 2x2 pooling, a final sigmoid)")
        }
        stages.append(ChainStage(name: graph[produced].name, operation: operation, inputShape: shape, outputShape: outputShape,
                                 parameterNames: parameterNames))
        shape = outputShape
        current = produced
    }
    return stages
}

/// The float32 twin of a chain: runs every stage and keeps every stage's output (calibration,
/// error reports, and float parts of a mixed model). Allocates its buffers once.
final class FloatChain {
    let stages: [ChainStage]
    let batch: Int
    /// Output of each stage, [N, C, H, W] float32.
    let outputs: [UnsafeMutablePointer<Float>]
    private let scratch: UnsafeMutablePointer<Float>
    private let indices: UnsafeMutablePointer<Int32>

    init(_ stages: [ChainStage]) {
        self.stages = stages
        batch = stages.first?.inputShape[0] ?? 1
        outputs = stages.map { .allocate(capacity: $0.outputCount) }
        var scratchFloats = 1, largest = 1
        for stage in stages {
            largest = max(largest, stage.outputCount)
            if case let .conv(g, _, _, _) = stage.operation { scratchFloats = max(scratchFloats, Conv2dScratch.floatCount(g, threads: 1)) }
        }
        scratch = .allocate(capacity: scratchFloats)
        indices = .allocate(capacity: largest)
    }

    deinit {
        for output in outputs { output.deallocate() }
        scratch.deallocate(); indices.deallocate()
    }

    /// Runs the chain on `input` [N, C, H, W].
    func run(_ input: UnsafePointer<Float>) {
        var x = input
        for (index, stage) in stages.enumerated() {
            let y = outputs[index]
            let s = stage.inputShape
            switch stage.operation {
            case let .conv(g, weight, bias, relu):
                conv2dForward(g, x: x, weight: weight, bias: bias, y: y, scratch: scratch, chunk: 0, of: 1)
                if relu { reluForward(y, y, count: stage.outputCount) }
            case .upsampleNearest:
                upsampleNearest2xForward(x, y, batch: s[0], channels: s[1], height: s[2], width: s[3])
            case let .pool(maximum):
                if maximum {
                    maxPool2dForward(x, y, argmax: indices, batch: s[0], channels: s[1], height: s[2], width: s[3], kernelSize: 2, stride: 2, padding: 0)
                } else {
                    avgPool2dForward(x, y, batch: s[0], channels: s[1], height: s[2], width: s[3], kernelSize: 2, stride: 2, padding: 0)
                }
            case .sigmoid:
                sigmoidForward(x, y, count: stage.outputCount)
            }
            x = UnsafePointer(y)
        }
    }
}

/// One layer's error in int8 against float32 (both from the same float input, so errors accumulate along the chain).
public struct Int8LayerReport: Sendable, CustomStringConvertible {
    public let name: String
    public let quantization: ActivationQuantization
    /// rms(int8 - float32) / rms(float32).
    public let relativeError: Double
    /// Largest |int8 - float32| in output steps.
    public let maximumErrorSteps: Double
    /// Signal-to-quantization-noise ratio in dB.
    public var sqnrDecibels: Double { -20 * log10(max(relativeError, 1e-12)) }

    public var description: String {
        name.padding(toLength: 16, withPad: " ", startingAt: 0)
            + String(format: " scale %.5f zero %3d  rel. error %6.3f%%  SQNR %5.1f dB  max %5.2f steps",
                     quantization.scale, quantization.zeroPoint, relativeError * 100, sqnrDecibels, maximumErrorSteps)
    }
}

/// A chain of a graph converted to int8: quantize the float input, run int8 layers, dequantize
/// (and apply a final sigmoid in float32). `run` allocates nothing.
///
/// ```swift
/// let model = try Int8Model(graph: graph, from: frames, to: encoded, batch: 1,
///                           parameter: { program.tensor($0).floatPointer }, calibration: batches)
/// model.run(input: x, output: y)
/// print(model.errorReport(inputs: batches).map(\.description).joined(separator: "\n"))
/// ```
public final class Int8Model: ParallelWork, @unchecked Sendable {
    /// One int8 step.
    enum Layer {
        case conv(Int8Conv2d)
        case depthwise(Int8DepthwiseConv2d)
        case upsample
        case pool(maximum: Bool)
    }

    public let batch: Int
    /// Names of the int8 layers, in order.
    public let layerNames: [String]
    /// Parameters of the input and of each int8 layer's output.
    public let inputQuantization: ActivationQuantization
    public let layerQuantizations: [ActivationQuantization]
    /// Output shape [N, C, H, W] (float32).
    public let outputShape: [Int]
    /// Whether the last operation (sigmoid) runs in float32 after dequantization.
    public let floatSigmoid: Bool
    /// The kernel path the convolutions use.
    public var path = Int8KernelPath.best

    let stages: [ChainStage]
    /// Each convolution's int32 bias as a model file stores it (empty for other layers).
    private let storedBiases: [[Int32]]
    private let layers: [Layer]
    private let layouts: [Int8ImageLayout]          // input, then each layer's output
    private let buffers: [UnsafeMutablePointer<UInt8>]
    private let memory: UnsafeMutableRawPointer
    private let pool: ThreadPool
    private var current = 0

    /// Converts the chain `from` -> `to` of `graph` (parameters read through `parameter`),
    /// calibrating activations on `calibration` batches ([batch, C, H, W] float32 each).
    public convenience init(graph: Graph, from input: TensorID, to output: TensorID, batch: Int,
                            parameter: (TensorID) -> UnsafePointer<Float>, calibration: [[Float]],
                            method: CalibrationMethod = .minMax, threads: Int = 1) throws {
        guard !calibration.isEmpty else { throw ModelError.noCalibrationData }
        let stages = try parseChain(graph, from: input, to: output, batch: batch, parameter: parameter)
        let floatSigmoid = { if case .sigmoid = stages.last?.operation { true } else { false } }()
        let integerStages = floatSigmoid ? Array(stages.dropLast()) : stages
        guard !integerStages.isEmpty else { throw ModelError.unsupported(node: graph[output].name, reason: "nothing to run in int8") }

        // Calibrate: observe the input and every int8 stage's output over the batches.
        let reference = FloatChain(integerStages)
        var inputObserver = ActivationObserver(name: graph[input].name)
        var observers = integerStages.map { ActivationObserver(name: $0.name) }
        let inputCount = integerStages[0].inputShape.reduce(1, *)
        for sample in calibration {
            precondition(sample.count == inputCount, "calibration batch of \(sample.count) values for an input of \(inputCount)")
            sample.withUnsafeBufferPointer { buffer in
                inputObserver.observe(buffer)
                reference.run(buffer.baseAddress!)
            }
            for index in integerStages.indices {
                observers[index].observe(UnsafeBufferPointer(start: reference.outputs[index], count: integerStages[index].outputCount))
            }
        }
        let inputQuantization = try inputObserver.quantization(method)

        // Layers, with borders sized for the convolution that reads each image.
        func border(after index: Int) -> Int {
            guard index + 1 < integerStages.count, case let .conv(g, _, _, _) = integerStages[index + 1].operation else { return 0 }
            return g.padding
        }
        func layout(_ shape: [Int], border: Int) -> Int8ImageLayout {
            Int8ImageLayout(height: shape[2], width: shape[3], channels: shape[1], border: border)
        }
        var layers: [Layer] = [], quantizations: [ActivationQuantization] = []
        var storedBiases = [[Int32]](repeating: [], count: integerStages.count)
        var layouts = [layout(integerStages[0].inputShape, border: border(after: -1))]
        var previous = inputQuantization
        for (index, stage) in integerStages.enumerated() {
            var q = try observers[index].quantization(method)
            switch stage.operation {
            case let .conv(g, weight, bias, relu):
                if g.groups == 1 {
                    let conv = try Int8Conv2d(g, weights: weight, bias: bias, input: previous, output: q, relu: relu,
                                              outputBorder: border(after: index), name: stage.name)
                    layers.append(.conv(conv))
                    // The int32 biases a model file stores, taken now: `bias` points into the caller's program.
                    storedBiases[index] = (0..<g.outChannels).map { channel in
                        bias.map { Int8StoredConvolution.quantizeBias($0[channel], inputScale: previous.scale, weightScale: conv.weightScales[channel]) } ?? 0
                    }
                } else {
                    layers.append(.depthwise(try Int8DepthwiseConv2d(g, weights: weight, bias: bias, input: previous, output: q, relu: relu,
                                                                     outputBorder: border(after: index), name: stage.name)))
                }
            case .upsampleNearest:
                layers.append(.upsample); q = previous
            case let .pool(maximum):
                layers.append(.pool(maximum: maximum)); q = previous
            case .sigmoid:
                preconditionFailure("a sigmoid inside the chain is refused by parseChain")
            }
            layouts.append(layout(stage.outputShape, border: border(after: index)))
            quantizations.append(q)
            previous = q
        }
        self.init(batch: batch, stages: stages, layers: layers, layouts: layouts, inputQuantization: inputQuantization,
                  layerQuantizations: quantizations, layerNames: integerStages.map(\.name), outputShape: stages.last!.outputShape,
                  floatSigmoid: floatSigmoid, storedBiases: storedBiases, threads: threads)
    }

    /// Rebuilds a chain of stored int8 convolutions (a model file, see `storedConvolutions`)
    /// for inputs [batch] + `inputShape` ([C, H, W]) quantized with `input`. Runs the same
    /// kernels on the same integers as the model the layers came from, so its outputs are
    /// bit for bit the same. Inconsistent layers (codes, scales or biases of the wrong count,
    /// codes of -128, scales that are not positive and finite, a bias that does not survive
    /// the round trip) throw naming the tensor.
    public convenience init(inputShape: [Int], input inputQuantization: ActivationQuantization,
                            convolutions: [Int8StoredConvolution], batch: Int, threads: Int = 1) throws {
        precondition(batch >= 1 && threads >= 1, "batch \(batch) and threads \(threads) must be at least 1")
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError.invalidStoredLayer(tensor: "input", problem: "shape \(inputShape) is not [C, H, W]")
        }
        guard !convolutions.isEmpty else { throw ModelError.invalidStoredLayer(tensor: "model", problem: "holds no layers") }
        var shape = [batch] + inputShape
        var layers: [Layer] = [], quantizations: [ActivationQuantization] = []
        var layouts = [Int8ImageLayout(height: shape[2], width: shape[3], channels: shape[1], border: convolutions[0].padding)]
        var previous = inputQuantization
        for (index, stored) in convolutions.enumerated() {
            func fail(_ tensor: String, _ problem: String) -> ModelError { .invalidStoredLayer(tensor: stored.name + "." + tensor, problem: problem) }
            let g: Conv2dGeometry
            do {
                g = try Conv2dGeometry(batch: batch, inChannels: shape[1], height: shape[2], width: shape[3], outChannels: stored.outChannels,
                                       kernel: stored.kernel, stride: stored.stride, padding: stored.padding)
            } catch {
                throw fail("weight", "kernel \(stored.kernel), stride \(stored.stride), padding \(stored.padding) do not fit the input \(shape): \(error)")
            }
            guard g.outHeight > 0, g.outWidth > 0 else { throw fail("weight", "the convolution leaves no output for input \(shape)") }
            guard stored.weightCodes.count == g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth else {
                throw fail("weight", "holds \(stored.weightCodes.count) codes; \(g.weightShape) needs \(g.weightShape.reduce(1, *))")
            }
            guard stored.weightScales.count == g.outChannels else { throw fail("weight_scale", "holds \(stored.weightScales.count) scales for \(g.outChannels) output channels") }
            guard stored.bias.count == g.outChannels else { throw fail("bias", "holds \(stored.bias.count) values for \(g.outChannels) output channels") }
            for (channel, scale) in stored.weightScales.enumerated() where !(scale.isFinite && scale > 0) {
                throw fail("weight_scale", "scale \(scale) of output channel \(channel) is not positive and finite")
            }
            if let bad = stored.weightCodes.firstIndex(of: -128) {
                throw fail("weight", "code -128 at element \(bad) is outside the symmetric int8 range [-127, 127]")
            }
            // Int8Conv2d takes float biases and rounds them to the accumulator scale: the stored
            // integer must come back exactly.
            var floatBias = [Float](repeating: 0, count: g.outChannels)
            for channel in 0..<g.outChannels {
                let code = stored.bias[channel], scale = stored.weightScales[channel]
                floatBias[channel] = Int8StoredConvolution.floatBias(code, inputScale: previous.scale, weightScale: scale)
                guard floatBias[channel].isFinite,
                      Int8StoredConvolution.quantizeBias(floatBias[channel], inputScale: previous.scale, weightScale: scale) == code else {
                    throw fail("bias", "value \(code) of output channel \(channel) is too large for its scale")
                }
            }
            let border = index + 1 < convolutions.count ? convolutions[index + 1].padding : 0
            layers.append(.conv(try Int8Conv2d(g, weightCodes: stored.weightCodes, weightScales: stored.weightScales, bias: floatBias,
                                               input: previous, output: stored.output, relu: stored.relu, outputBorder: border, name: stored.name)))
            shape = g.outputShape
            layouts.append(Int8ImageLayout(height: shape[2], width: shape[3], channels: shape[1], border: border))
            quantizations.append(stored.output)
            previous = stored.output
        }
        self.init(batch: batch, stages: [], layers: layers, layouts: layouts, inputQuantization: inputQuantization,
                  layerQuantizations: quantizations, layerNames: convolutions.map(\.name), outputShape: shape,
                  floatSigmoid: false, storedBiases: convolutions.map(\.bias), threads: threads)
    }

    private init(batch: Int, stages: [ChainStage], layers: [Layer], layouts: [Int8ImageLayout], inputQuantization: ActivationQuantization,
                 layerQuantizations quantizations: [ActivationQuantization], layerNames: [String], outputShape: [Int],
                 floatSigmoid: Bool, storedBiases: [[Int32]], threads: Int) {
        self.batch = batch
        self.storedBiases = storedBiases
        self.stages = stages
        self.layers = layers
        self.layouts = layouts
        self.inputQuantization = inputQuantization
        layerQuantizations = quantizations
        self.layerNames = layerNames
        self.outputShape = outputShape
        self.floatSigmoid = floatSigmoid

        // One block for all images; borders hold their zero point for good.
        let sizes = layouts.map { Arena.roundUp(batch * $0.sampleBytes) }
        memory = .allocate(byteCount: sizes.reduce(0, +), alignment: Arena.alignment)
        var offset = 0, buffers: [UnsafeMutablePointer<UInt8>] = []
        for (index, size) in sizes.enumerated() {
            let buffer = (memory + offset).assumingMemoryBound(to: UInt8.self)
            let zero = index == 0 ? inputQuantization.zeroPoint : quantizations[index - 1].zeroPoint
            buffer.initialize(repeating: UInt8(zero), count: size)
            buffers.append(buffer)
            offset += size
        }
        self.buffers = buffers
        pool = ThreadPool(threads: threads)
    }

    deinit { memory.deallocate() }

    /// Runs the model: input [N, C, H, W] float32 -> output `outputShape` float32. Allocates nothing.
    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        quantizeImage(input, batch: batch, layouts[0], inputQuantization, into: buffers[0])
        runLayers()
        let last = layers.count
        dequantizeImage(buffers[last], batch: batch, layouts[last], layerQuantizations[last - 1], into: output)
        if floatSigmoid { sigmoidForward(output, output, count: outputShape.reduce(1, *)) }
    }

    private func runLayers() {
        for index in layers.indices {
            current = index
            switch layers[index] {
            case .conv, .depthwise:
                pool.run(self, chunks: pool.chunks(items: batch * layouts[index + 1].height))
            case .upsample:
                int8UpsampleNearest2x(buffers[index], layouts[index], into: buffers[index + 1], layouts[index + 1], batch: batch)
            case let .pool(maximum):
                int8Pool2x2(buffers[index], layouts[index], into: buffers[index + 1], layouts[index + 1], batch: batch, maximum: maximum)
            }
        }
    }

    /// Chunk `chunk` of `chunks`: an even share of the layer's output rows of all samples.
    public func work(chunk: Int, of chunks: Int, thread: Int) {
        let index = current
        switch layers[index] {
        case let .conv(layer): layer.forward(x: buffers[index], y: buffers[index + 1], path: path, chunk: chunk, of: chunks)
        case let .depthwise(layer): layer.forward(x: buffers[index], y: buffers[index + 1], chunk: chunk, of: chunks)
        default: break
        }
    }

    /// The int8 output of layer `index` after `run`, dequantized to [N, C, H, W] float32.
    public func layerOutput(_ index: Int) -> [Float] {
        let l = layouts[index + 1]
        var values = [Float](repeating: 0, count: batch * l.channels * l.height * l.width)
        dequantizeImage(buffers[index + 1], batch: batch, l, layerQuantizations[index], into: &values)
        return values
    }

    /// Each int8 layer's error against float32 over `inputs` (batches as for calibration).
    public func errorReport(inputs: [[Float]]) -> [Int8LayerReport] {
        precondition(!stages.isEmpty, "errorReport needs the float32 chain: this model was rebuilt from stored int8 layers")
        let reference = FloatChain(Array(stages.prefix(layers.count)))
        var squaredError = [Double](repeating: 0, count: layers.count), squaredSignal = squaredError, worst = squaredError
        var scratch = [Float](repeating: 0, count: outputShape.reduce(1, *))
        for input in inputs {
            input.withUnsafeBufferPointer { reference.run($0.baseAddress!) }
            run(input: input, output: &scratch)
            for index in layers.indices {
                let int8 = layerOutput(index), float = reference.outputs[index]
                let step = Double(layerQuantizations[index].scale)
                for i in int8.indices {
                    let difference = Double(int8[i]) - Double(float[i])
                    squaredError[index] += difference * difference
                    squaredSignal[index] += Double(float[i]) * Double(float[i])
                    worst[index] = max(worst[index], abs(difference) / step)
                }
            }
        }
        return layers.indices.map {
            Int8LayerReport(name: layerNames[$0], quantization: layerQuantizations[$0],
                            relativeError: (squaredError[$0] / max(squaredSignal[$0], 1e-30)).squareRoot(), maximumErrorSteps: worst[$0])
        }
    }

    /// The layers as a model file stores them, or nil when the chain holds anything but
    /// convolutions (one group, square kernel) or ends in a float32 sigmoid.
    public var storedConvolutions: [Int8StoredConvolution]? {
        guard !floatSigmoid else { return nil }
        var stored: [Int8StoredConvolution] = []
        for (index, layer) in layers.enumerated() {
            guard case let .conv(conv) = layer else { return nil }
            let g = conv.geometry
            guard g.kernelHeight == g.kernelWidth else { return nil }
            let bias = storedBiases[index]
            stored.append(Int8StoredConvolution(name: layerNames[index], outChannels: g.outChannels, kernel: g.kernelHeight, stride: g.stride,
                                                padding: g.padding, relu: conv.relu, weightCodes: conv.weightCodes,
                                                weightScales: conv.weightScales, bias: bias, output: conv.output))
        }
        return stored
    }

    /// Per-channel weight scales and int8 codes of each convolution (for model files and peers).
    public var convolutions: [(name: String, weightScales: [Float], weightCodes: [Int8])] {
        zip(layerNames, layers).compactMap { name, layer in
            if case let .conv(conv) = layer { return (name, conv.weightScales, conv.weightCodes) }
            return nil
        }
    }
}
