// Layer builders on `Graph`: each adds its parameters (PyTorch's default initialisation)
// and operations, and returns the output tensor. Thin by design: the work is in the operations.

import ForesightCore

extension Graph {
    /// 2-D convolution with a square kernel: x [N, C, H, W] -> [N, outChannels, OH, OW].
    ///
    /// ```swift
    /// let h = try graph.conv2d(x, outChannels: 16, kernel: 3, stride: 2, padding: 1, name: "e1")
    /// ```
    /// `initializer` replaces PyTorch's default for weights and bias (e.g. `.zeros` for a head
    /// that must start as the identity).
    public func conv2d(_ x: TensorID, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                       groups: Int = 1, bias: Bool = true, initializer: Initializer? = nil, name: String) throws -> TensorID {
        let inChannels = shape(x).rank == 4 ? shape(x)[1] : 0
        guard inChannels > 0, groups > 0, inChannels % groups == 0, outChannels > 0 else {
            throw ModelError.invalidOperation(name: name, reason: "conv2d needs an input [N, C, H, W] with C divisible by groups (\(groups)); got \(shape(x))")
        }
        let fanIn = inChannels / groups * kernel * kernel
        let weight = try parameter(name + ".weight", [outChannels, inChannels / groups, kernel, kernel], initializer: initializer ?? .fanIn(fanIn))
        var operands = [x, weight]
        if bias { operands.append(try parameter(name + ".bias", [outChannels], initializer: initializer ?? .fanIn(fanIn))) }
        return try apply(Conv2dOperation(stride: stride, padding: padding, groups: groups), operands, name: name)
    }

    /// Fully connected layer on the last axis: x [..., in] -> [..., outFeatures].
    public func linear(_ x: TensorID, outFeatures: Int, bias: Bool = true, name: String) throws -> TensorID {
        let inFeatures = shape(x)[-1]
        let weight = try parameter(name + ".weight", [outFeatures, inFeatures], initializer: .fanIn(inFeatures))
        var operands = [x, weight]
        if bias { operands.append(try parameter(name + ".bias", [outFeatures], initializer: .fanIn(inFeatures))) }
        return try apply(LinearOperation(), operands, name: name)
    }

    /// Element-wise nonlinearity.
    public func activation(_ x: TensorID, _ kind: Activation, name: String? = nil) throws -> TensorID {
        try apply(ActivationOperation(kind), [x], name: name ?? uniqueName("\(self[x].name).\(kind)"))
    }

    /// ReLU.
    public func relu(_ x: TensorID) throws -> TensorID { try activation(x, .relu, name: uniqueName(self[x].name + ".relu")) }
    /// Sigmoid.
    public func sigmoid(_ x: TensorID) throws -> TensorID { try activation(x, .sigmoid, name: uniqueName(self[x].name + ".sigmoid")) }
}

extension Graph {
    /// Nearest-neighbour x2 upsampling: [N, C, H, W] -> [N, C, 2H, 2W].
    public func upsampleNearest2x(_ x: TensorID, name: String) throws -> TensorID {
        try apply(Upsample2xOperation(.nearest), [x], name: name)
    }

    /// Bilinear x2 upsampling (align_corners=false): [N, C, H, W] -> [N, C, 2H, 2W].
    public func upsampleBilinear2x(_ x: TensorID, name: String) throws -> TensorID {
        try apply(Upsample2xOperation(.bilinear), [x], name: name)
    }

    /// Mean squared error of `prediction` against `target` (same shapes): a scalar.
    public func mseLoss(_ prediction: TensorID, _ target: TensorID, name: String) throws -> TensorID {
        try apply(LossOperation(.meanSquaredError), [prediction, target], name: name)
    }

    /// Mean absolute error of `prediction` against `target` (same shapes): a scalar.
    public func l1Loss(_ prediction: TensorID, _ target: TensorID, name: String) throws -> TensorID {
        try apply(LossOperation(.meanAbsoluteError), [prediction, target], name: name)
    }

    /// Cross-entropy of logits [N, classes] against int32 labels [N]: a scalar.
    public func crossEntropyLoss(_ logits: TensorID, _ labels: TensorID, name: String) throws -> TensorID {
        try apply(LossOperation(.crossEntropy), [logits, labels], name: name)
    }
}

extension Graph {
    /// y[:, c] = scales[c] * tanh(x[:, c]) on [N, C, H, W].
    public func scaledTanh(_ x: TensorID, scales: [Float], name: String) throws -> TensorID {
        try apply(ScaledTanhOperation(scales: scales), [x], name: name)
    }

    /// The last of `frames` [N, K, H, W] warped by motion[:, 0..<2] plus the residual motion[:, 2]: [N, 1, H, W].
    public func warpPrediction(motion: TensorID, frames: TensorID, name: String) throws -> TensorID {
        try apply(WarpPredictionOperation(), [motion, frames], name: name)
    }

    /// Mean squared difference of neighbouring motion vectors (channels 0 and 1): a scalar.
    public func motionSmoothness(_ motion: TensorID, name: String) throws -> TensorID {
        try apply(MotionSmoothnessOperation(), [motion], name: name)
    }
}
