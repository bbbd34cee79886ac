// Transformer layer builders on `Graph`: token and patch embeddings, learned positions,
// multi-head self-attention with its projections, the pre-norm block (attention and a GELU MLP,
// each with a residual), and the token plumbing (mask tokens, mean pooling, gathering rows,
// reshaping). Thin like Layers.swift: the work is in AttentionOperations.swift and
// TokenOperations.swift. Not a model: whole networks are built in the modules that train them.

import ForesightCore

extension Graph {
    /// Vectors of int32 token ids from a learned table `name.weight` [vocabulary, dimension]
    /// (normal, deviation 0.02): ids [...] -> [..., dimension].
    ///
    /// ```swift
    /// let ids = try graph.input("bytes", [16, 32], dtype: .int32)
    /// let x = try graph.tokenEmbedding(ids, vocabulary: 256, dimension: 64, name: "embed")   // [16, 32, 64]
    /// ```
    public func tokenEmbedding(_ ids: TensorID, vocabulary: Int, dimension: Int, name: String) throws -> TensorID {
        let table = try parameter(name + ".weight", [vocabulary, dimension], initializer: .normal(standardDeviation: 0.02))
        return try apply(TokenEmbeddingOperation(), [ids, table], name: name)
    }

    /// Adds a learned position vector `name.weight` [T, D] (normal, deviation 0.02) to every
    /// item: x [N, T, D] -> [N, T, D].
    ///
    /// ```swift
    /// let h = try graph.positionalEmbedding(x, name: "positions")
    /// ```
    public func positionalEmbedding(_ x: TensorID, name: String) throws -> TensorID {
        let xShape = shape(x)
        guard xShape.rank == 3 else {
            throw ModelError.invalidOperation(name: name, reason: "positional embedding needs tokens [N, T, D]; got \(xShape)")
        }
        let positions = try parameter(name + ".weight", [xShape[1], xShape[2]], initializer: .normal(standardDeviation: 0.02))
        return try apply(AddPositionsOperation(), [x, positions], name: name)
    }

    /// Non-overlapping `patch` x `patch` patches projected to `dimension` features (the strided
    /// convolution of a vision transformer, as patchify + linear `name.proj`):
    /// images [N, C, H, W] -> tokens [N, (H / patch) (W / patch), dimension].
    ///
    /// ```swift
    /// let tokens = try graph.patchEmbedding(images, patch: 2, dimension: 32, name: "patches")   // [64, 1, 8, 8] -> [64, 16, 32]
    /// ```
    public func patchEmbedding(_ images: TensorID, patch: Int, dimension: Int, name: String) throws -> TensorID {
        let patches = try patchify(images, patch: patch, name: name + ".patches")
        return try linear(patches, outFeatures: dimension, name: name + ".proj")
    }

    /// Patches as token vectors without a projection: [N, C, H, W] -> [N, (H / patch) (W / patch), C patch^2]
    /// (each patch's values ordered channel, row, column).
    public func patchify(_ images: TensorID, patch: Int, name: String) throws -> TensorID {
        try apply(PatchifyOperation(patch: patch), [images], name: name)
    }

    /// Multi-head self-attention with its projections: linear `name.qkv` (D -> 3D), attention of
    /// `heads` heads (causal when asked), linear `name.out` (D -> D): x [N, T, D] -> [N, T, D].
    ///
    /// ```swift
    /// let attended = try graph.selfAttention(x, heads: 4, causal: true, name: "block1.attn")
    /// ```
    public func selfAttention(_ x: TensorID, heads: Int, causal: Bool = false, name: String) throws -> TensorID {
        let xShape = shape(x)
        guard xShape.rank == 3, heads >= 1, xShape[2] % heads == 0 else {
            throw ModelError.invalidOperation(name: name, reason: "self-attention needs tokens [N, T, D] with D divisible by \(heads) heads; got \(xShape)")
        }
        let qkv = try linear(x, outFeatures: 3 * xShape[2], name: name + ".qkv")
        let heads = try apply(MultiHeadAttentionOperation(heads: heads, causal: causal), [qkv], name: name + ".heads")
        return try linear(heads, outFeatures: xShape[2], name: name + ".out")
    }

    /// One pre-norm transformer block: h = x + attention(layerNorm(x)), y = h + mlp(layerNorm(h)),
    /// the MLP linear (D -> hidden), GELU, linear (hidden -> D). x [N, T, D] -> [N, T, D].
    /// Parameters under `name`: `ln1`, `attn.qkv`, `attn.out`, `ln2`, `mlp.1`, `mlp.2`.
    ///
    /// ```swift
    /// var h = try graph.positionalEmbedding(try graph.tokenEmbedding(ids, vocabulary: 256, dimension: 64, name: "embed"), name: "positions")
    /// h = try graph.transformerBlock(h, heads: 4, hidden: 256, causal: true, name: "block1")
    /// ```
    public func transformerBlock(_ x: TensorID, heads: Int, hidden: Int, causal: Bool = false, name: String) throws -> TensorID {
        let attended = try selfAttention(try layerNorm(x, name: name + ".ln1"), heads: heads, causal: causal, name: name + ".attn")
        let h = try add(x, attended, name: name + ".residual1")
        var m = try linear(try layerNorm(h, name: name + ".ln2"), outFeatures: hidden, name: name + ".mlp.1")
        m = try linear(try gelu(m), outFeatures: shape(x)[2], name: name + ".mlp.2")
        return try add(h, m, name: name + ".residual2")
    }

    /// Tokens replaced by a learned token `name.token` [D] (normal, deviation 0.02) where `mask` [N, T] is 1:
    /// x [N, T, D] -> [N, T, D].
    ///
    /// ```swift
    /// let visible = try graph.maskTokens(tokens, mask: hidden, name: "mask")
    /// ```
    public func maskTokens(_ x: TensorID, mask: TensorID, name: String) throws -> TensorID {
        let token = try parameter(name + ".token", [shape(x)[-1]], initializer: .normal(standardDeviation: 0.02))
        return try apply(MaskTokensOperation(), [x, mask, token], name: name)
    }

    /// Mean over the tokens of each item: x [N, T, D] -> [N, D].
    public func meanTokens(_ x: TensorID, name: String? = nil) throws -> TensorID {
        try apply(MeanTokensOperation(), [x], name: name ?? uniqueName(self[x].name + ".mean"))
    }

    /// Rows of x [R, D] picked by int32 `indices` [M]: [M, D].
    ///
    /// ```swift
    /// let masked = try graph.gatherRows(logits, maskedPositions)   // [512, 257] -> [76, 257]
    /// ```
    public func gatherRows(_ x: TensorID, _ indices: TensorID, name: String? = nil) throws -> TensorID {
        try apply(GatherRowsOperation(), [x, indices], name: name ?? uniqueName(self[x].name + ".gather"))
    }

    /// The same values with another shape of the same element count: x -> dims.
    ///
    /// ```swift
    /// let rows = try graph.reshape(logits, [16 * 32, 256])   // [16, 32, 256] -> [512, 256]
    /// ```
    public func reshape(_ x: TensorID, _ dims: [Int], name: String? = nil) throws -> TensorID {
        try apply(ReshapeOperation(dims), [x], name: name ?? uniqueName(self[x].name + ".reshape"))
    }
}
