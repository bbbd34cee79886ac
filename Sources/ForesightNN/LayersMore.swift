// More layer builders on `Graph`: pooling, softmax and norms, element-wise arithmetic, channel
// concatenation and the remaining activations. Thin like Layers.swift: the work is in the operations.

import ForesightCore

extension Graph {
    /// Max pooling with a square window: x [N, C, H, W] -> [N, C, OH, OW],
    /// OH = (H + 2 padding - kernel) / stride + 1 (likewise OW); `stride` defaults to `kernel`.
    ///
    /// ```swift
    /// let pooled = try graph.maxPool2d(h, kernel: 2)        // [8, 16, 32, 32] -> [8, 16, 16, 16]
    /// ```
    public func maxPool2d(_ x: TensorID, kernel: Int, stride: Int? = nil, padding: Int = 0, name: String? = nil) throws -> TensorID {
        try apply(Pool2dOperation(.max, kernel: kernel, stride: stride ?? kernel, padding: padding), [x],
                  name: name ?? uniqueName(self[x].name + ".maxpool"))
    }

    /// Average pooling with a square window, padded zeros counted: x [N, C, H, W] -> [N, C, OH, OW],
    /// OH = (H + 2 padding - kernel) / stride + 1 (likewise OW); `stride` defaults to `kernel`.
    ///
    /// ```swift
    /// let pooled = try graph.avgPool2d(h, kernel: 3, stride: 2, padding: 1)   // [8, 16, 32, 32] -> [8, 16, 16, 16]
    /// ```
    public func avgPool2d(_ x: TensorID, kernel: Int, stride: Int? = nil, padding: Int = 0, name: String? = nil) throws -> TensorID {
        try apply(Pool2dOperation(.average, kernel: kernel, stride: stride ?? kernel, padding: padding), [x],
                  name: name ?? uniqueName(self[x].name + ".avgpool"))
    }

    /// Softmax over the last axis, any rank: x [..., D] -> [..., D], each row summing to 1.
    ///
    /// ```swift
    /// let attention = try graph.softmax(scores)             // [2, 4, 16, 16] rows of 16
    /// ```
    public func softmax(_ x: TensorID, name: String? = nil) throws -> TensorID {
        try apply(SoftmaxOperation(), [x], name: name ?? uniqueName(self[x].name + ".softmax"))
    }

    /// Layer norm over the last axis with parameters `name.weight` (gamma, ones) and
    /// `name.bias` (beta, zeros), as PyTorch's `LayerNorm(D)`: x [..., D] -> [..., D].
    ///
    /// ```swift
    /// let normalized = try graph.layerNorm(tokens, name: "ln1")   // [8, 16, 64], gamma and beta [64]
    /// ```
    public func layerNorm(_ x: TensorID, name: String) throws -> TensorID {
        let features = shape(x)[-1]
        let gamma = try parameter(name + ".weight", [features], initializer: .ones)
        let beta = try parameter(name + ".bias", [features], initializer: .zeros)
        return try apply(LayerNormOperation(), [x, gamma, beta], name: name)
    }

    /// Group norm with `groups` groups of consecutive channels and per-channel parameters
    /// `name.weight` (gamma, ones) and `name.bias` (beta, zeros), as PyTorch's
    /// `GroupNorm(groups, C)`: x [N, C, H, W] -> [N, C, H, W]; C must be divisible by `groups`.
    ///
    /// ```swift
    /// let normalized = try graph.groupNorm(h, groups: 8, name: "gn1")   // [8, 32, 16, 16]
    /// ```
    public func groupNorm(_ x: TensorID, groups: Int, name: String) throws -> TensorID {
        let xShape = shape(x)
        guard xShape.rank == 4 else {
            throw ModelError.invalidOperation(name: name, reason: "group norm needs an input [N, C, H, W]; got \(xShape)")
        }
        let gamma = try parameter(name + ".weight", [xShape[1]], initializer: .ones)
        let beta = try parameter(name + ".bias", [xShape[1]], initializer: .zeros)
        return try apply(GroupNormOperation(groups: groups), [x, gamma, beta], name: name)
    }
}

extension Graph {
    /// Element-wise sum of two tensors of one shape (no broadcasting): [...] + [...] -> [...].
    /// `a` and `b` may be the same tensor.
    ///
    /// ```swift
    /// let residual = try graph.add(h, skip)
    /// ```
    public func add(_ a: TensorID, _ b: TensorID, name: String? = nil) throws -> TensorID {
        try apply(AddOperation(), [a, b], name: name ?? uniqueName(self[a].name + ".add"))
    }

    /// Element-wise product of two tensors of one shape (no broadcasting): [...] * [...] -> [...].
    /// `a` and `b` may be the same tensor.
    ///
    /// ```swift
    /// let gated = try graph.multiply(h, try graph.sigmoid(gate))
    /// ```
    public func multiply(_ a: TensorID, _ b: TensorID, name: String? = nil) throws -> TensorID {
        try apply(MultiplyOperation(), [a, b], name: name ?? uniqueName(self[a].name + ".multiply"))
    }

    /// A tensor times a constant: [...] -> [...].
    ///
    /// ```swift
    /// let half = try graph.scale(h, by: 0.5)
    /// ```
    public func scale(_ x: TensorID, by factor: Float, name: String? = nil) throws -> TensorID {
        try apply(ScaleOperation(factor: factor), [x], name: name ?? uniqueName(self[x].name + ".scale"))
    }

    /// The channels of `first` followed by those of `second`:
    /// [N, C1, H, W] and [N, C2, H, W] -> [N, C1 + C2, H, W].
    ///
    /// ```swift
    /// let merged = try graph.concatChannels(decoded, skip)   // U-Net skip connection
    /// ```
    public func concatChannels(_ first: TensorID, _ second: TensorID, name: String? = nil) throws -> TensorID {
        try apply(ConcatChannelsOperation(), [first, second], name: name ?? uniqueName(self[first].name + ".concat"))
    }
}

extension Graph {
    /// Leaky ReLU, element-wise: x for x > 0, slope * x otherwise; any shape.
    ///
    /// ```swift
    /// let h = try graph.leakyRelu(conv, slope: 0.1)
    /// ```
    public func leakyRelu(_ x: TensorID, slope: Float = 0.01) throws -> TensorID {
        try activation(x, .leakyRelu(slope: slope), name: uniqueName(self[x].name + ".leakyRelu"))
    }

    /// GELU, element-wise; any shape.
    ///
    /// ```swift
    /// let h = try graph.gelu(try graph.linear(x, outFeatures: 64, name: "fc1"))
    /// ```
    public func gelu(_ x: TensorID) throws -> TensorID {
        try activation(x, .gelu, name: uniqueName(self[x].name + ".gelu"))
    }

    /// Hyperbolic tangent, element-wise; any shape.
    ///
    /// ```swift
    /// let h = try graph.tanh(h)
    /// ```
    public func tanh(_ x: TensorID) throws -> TensorID {
        try activation(x, .tanh, name: uniqueName(self[x].name + ".tanh"))
    }
}
