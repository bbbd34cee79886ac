// Quantization-aware training: fake quantization as graph operations (round to the int8 grid in
// the forward pass, straight-through gradient in the backward pass), so that a model trained on
// the robot survives int8 export. Activations: per-tensor uint8 with a moving min/max range;
// weights: per-output-channel symmetric int8. Not int8 arithmetic (Int8Training.swift).

import ForesightCore

/// y = dequantize(quantize(x)); dx = dy where x lies inside the representable range, else 0.
///
/// ```swift
/// let w = try graph.parameter("c.weight", [16, 4, 3, 3], initializer: .fanIn(36))
/// let wq = try graph.apply(FakeQuantizeOperation(.weightsPerChannel), [w], name: "c.weight.fq")
/// ```
public final class FakeQuantizeOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .identity }
    /// Which grid.
    public enum Mode: Sendable, Equatable {
        /// Per-tensor uint8 [0, 255] with a zero point; the range follows the batches' min/max
        /// with `momentum` (the first batch sets it).
        case activations(momentum: Float)
        /// Symmetric int8 [-127, 127] per output channel (axis 0), scale = max |w| / 127.
        case weightsPerChannel
    }

    /// The grid this operation rounds to.
    public let mode: Mode
    /// Whether forward passes update the activation range (turn off to evaluate or export).
    public var observing = true
    /// The activation range seen so far (min, max); nil before the first batch.
    public private(set) var range: (min: Float, max: Float)?
    private var count = 0, channels = 1
    private var binding: Binding?

    /// A fake quantizer of `mode`; x [any shape] -> same shape.
    public init(_ mode: Mode) { self.mode = mode }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "fake quantize")
        try require(inputs.count == 1, "fake quantize", expected: "one operand", got: "\(inputs.count)")
        count = inputs[0].count
        channels = mode == .weightsPerChannel ? inputs[0][0] : 1
        return inputs[0]
    }

    public var forwardCost: Int { count }
    public func bind(_ binding: Binding) { self.binding = binding }

    /// The activation quantization of the current range (after at least one batch).
    public func quantization(tensor: String) throws(CoreError) -> ActivationQuantization {
        guard let range else { throw .invalidRange(tensor: tensor, min: .nan, max: .nan) }
        return try ActivationQuantization(min: range.min, max: range.max, tensor: tensor)
    }

    public func forward(pool: ThreadPool) {
        let b = binding!
        let x = b.inputs[0].floatPointer, y = b.output.floatPointer
        switch mode {
        case let .activations(momentum):
            if observing {
                var low = Float.infinity, high = -Float.infinity
                for i in 0..<count { low = min(low, x[i]); high = max(high, x[i]) }
                if let old = range, low.isFinite, high.isFinite {
                    range = (old.min + (1 - momentum) * (low - old.min), old.max + (1 - momentum) * (high - old.max))
                } else if low.isFinite && high.isFinite {
                    range = (low, high)
                }
            }
            guard let range, let q = try? ActivationQuantization(min: range.min, max: range.max, tensor: "fake quantize") else {
                y.update(from: x, count: count)
                return
            }
            let inverse = 1 / q.scale, zero = Float(q.zeroPoint), scale = q.scale
            for i in 0..<count {
                let code = min(max((x[i] * inverse).rounded(.toNearestOrEven) + zero, 0), 255)
                y[i] = (code - zero) * scale
            }
        case .weightsPerChannel:
            let perChannel = count / channels
            for channel in 0..<channels {
                let row = x + channel * perChannel, out = y + channel * perChannel
                var largest: Float = 0
                for i in 0..<perChannel { largest = max(largest, abs(row[i])) }
                let scale = largest > 0 ? largest / 127 : 1, inverse = 1 / scale
                for i in 0..<perChannel { out[i] = min(max((row[i] * inverse).rounded(.toNearestOrEven), -127), 127) * scale }
            }
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!
        guard let dx = b.inputGradients[0]?.floatPointer else { return }
        let dy = b.outputGradient!.floatPointer, x = b.inputs[0].floatPointer
        switch mode {
        case .activations:
            guard let range, let q = try? ActivationQuantization(min: range.min, max: range.max, tensor: "fake quantize") else {
                for i in 0..<count { dx[i] += dy[i] }
                return
            }
            let low = q.range.lowerBound, high = q.range.upperBound
            for i in 0..<count where x[i] >= low && x[i] <= high { dx[i] += dy[i] }
        case .weightsPerChannel:
            // Every weight lies inside its channel's range by construction.
            for i in 0..<count { dx[i] += dy[i] }
        }
    }
}

extension Graph {
    /// Fake-quantizes an activation to uint8 with a moving range: x -> same shape.
    public func fakeQuantizeActivations(_ x: TensorID, momentum: Float = 0.99, name: String? = nil) throws -> TensorID {
        try apply(FakeQuantizeOperation(.activations(momentum: momentum)), [x], name: name ?? uniqueName(self[x].name + ".fq"))
    }

    /// 2-D convolution whose weights are fake-quantized per output channel (int8) before use;
    /// parameters are named as in `conv2d`, so checkpoints move between the two.
    public func conv2dQuantizationAware(_ x: TensorID, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                                        name: String) throws -> TensorID {
        let inChannels = shape(x)[1]
        let fanIn = inChannels * kernel * kernel
        let weight = try parameter(name + ".weight", [outChannels, inChannels, kernel, kernel], initializer: .fanIn(fanIn))
        let bias = try parameter(name + ".bias", [outChannels], initializer: .fanIn(fanIn))
        let quantized = try apply(FakeQuantizeOperation(.weightsPerChannel), [weight], name: name + ".weight.fq")
        return try apply(Conv2dOperation(stride: stride, padding: padding, groups: 1), [x, quantized, bias], name: name)
    }

    /// Turns range observation of every activation fake-quantizer on or off.
    public func setFakeQuantizationObserving(_ observing: Bool) {
        for node in nodes { (node.operation as? FakeQuantizeOperation)?.observing = observing }
    }
}

extension Models {
    /// pc64 (same layers and parameter names) trained quantization-aware: the input, every
    /// ReLU output and the last convolution's output are fake-quantized to uint8, every
    /// convolution's weights to per-channel int8, as `Int8Model` will run them.
    public static func pc64QuantizationAware(batch: Int, pastFrames: Int = 4, size: Int = 64) throws -> FramePredictionModel {
        let graph = Graph()
        let frames = try graph.input("frames", [batch, pastFrames, size, size])
        let target = try graph.input("target", [batch, 1, size, size])
        var h = try graph.fakeQuantizeActivations(frames, name: "frames.fq")
        for (name, channels, stride) in [("e1", 16, 2), ("e2", 32, 2), ("e3", 32, 1)] {
            h = try graph.fakeQuantizeActivations(try graph.relu(try graph.conv2dQuantizationAware(h, outChannels: channels, kernel: 3, stride: stride, padding: 1, name: name)))
        }
        h = try graph.upsampleNearest2x(h, name: "d1.upsample")
        h = try graph.fakeQuantizeActivations(try graph.relu(try graph.conv2dQuantizationAware(h, outChannels: 16, kernel: 3, padding: 1, name: "d1")))
        h = try graph.upsampleNearest2x(h, name: "d2.upsample")
        h = try graph.fakeQuantizeActivations(try graph.conv2dQuantizationAware(h, outChannels: 1, kernel: 3, padding: 1, name: "d2"))
        let prediction = try graph.sigmoid(h)
        let loss = try graph.mseLoss(prediction, target, name: "loss")
        return FramePredictionModel(graph: graph, frames: frames, target: target, prediction: prediction, loss: loss,
                                    predictionError: loss, motion: nil)
    }
}
