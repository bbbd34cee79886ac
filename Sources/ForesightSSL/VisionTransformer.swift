// The transformer family of the self-supervised methods: a tiny vision transformer (patch
// embedding, learned positions, pre-norm blocks, final layer norm, mean-pooled tokens) usable
// wherever a `SmallResNet` is, and a byte-level transformer for text (causal for next-byte
// prediction, bidirectional for masked bytes). Not a model zoo: no class token, no dropout,
// no relative positions; sizes are fields so that model files can rebuild the graph.

import ForesightCore
import ForesightNN

/// A small vision transformer: patch embedding (patch x patch -> dimension), learned positions,
/// `depth` pre-norm blocks of multi-head self-attention (`heads` heads) and a GELU MLP
/// (4 x dimension hidden), a final layer norm, and the mean of the tokens as features.
/// Images [N, C, H, W] (H, W multiples of `patch`) -> features [N, dimension].
///
/// ```swift
/// let backbone = TinyViT(dimension: 32, depth: 2, heads: 4, patch: 2)
/// let features = try backbone.build(graph, images, name: "backbone")   // [N, 1, 8, 8] -> [N, 32]
/// ```
public struct TinyViT: ImageBackbone {
    /// Features per token and per image.
    public let dimension: Int
    /// Transformer blocks.
    public let depth: Int
    /// Attention heads (divides `dimension`).
    public let heads: Int
    /// Side of the square patches.
    public let patch: Int

    public init(dimension: Int = 32, depth: Int = 2, heads: Int = 4, patch: Int = 2) {
        precondition(dimension > 0 && depth > 0 && heads > 0 && patch > 0 && dimension % heads == 0,
                     "TinyViT needs positive sizes and dimension \(dimension) divisible by heads \(heads) (depth \(depth), patch \(patch))")
        self.dimension = dimension
        self.depth = depth
        self.heads = heads
        self.patch = patch
    }

    public var featureCount: Int { dimension }

    public var specification: String { "vit dim=\(dimension) depth=\(depth) heads=\(heads) patch=\(patch)" }

    /// Adds the backbone on `images` [N, C, H, W]; parameters are named `name.*`. Returns [N, dimension].
    public func build(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID {
        try graph.meanTokens(try tokens(graph, images, name: name), name: name + ".pool")
    }

    /// The encoded tokens before pooling: images [N, C, H, W] -> [N, T, dimension] after the final
    /// layer norm, T = (H / patch) (W / patch).
    public func tokens(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID {
        try encode(graph, try embeddedPatches(graph, images, name: name), name: name)
    }

    /// The patches embedded with their positions, before any block: images [N, C, H, W] ->
    /// [N, T, dimension]. A masked autoencoder keeps some of these rows and `encode`s only them.
    public func embeddedPatches(_ graph: Graph, _ images: TensorID, name: String) throws -> TensorID {
        let h = try graph.patchEmbedding(images, patch: patch, dimension: dimension, name: name + ".patch")
        return try graph.positionalEmbedding(h, name: name + ".positions")
    }

    /// The blocks and final layer norm on tokens [N, T', dimension] (any T'): [N, T', dimension].
    public func encode(_ graph: Graph, _ tokens: TensorID, name: String) throws -> TensorID {
        var h = tokens
        for block in 1...depth {
            h = try graph.transformerBlock(h, heads: heads, hidden: 4 * dimension, name: name + ".block\(block)")
        }
        return try graph.layerNorm(h, name: name + ".norm")
    }
}

/// A byte-level transformer: token embedding (vocabulary -> dimension), learned positions over
/// `context` tokens, `depth` pre-norm blocks (causal or bidirectional), final layer norm and a
/// linear head to logits over the vocabulary. Ids [N, context] (int32) -> logits [N context, vocabulary],
/// one row per position, ready for `crossEntropyLoss`.
///
/// ```swift
/// let model = TextTransformer(vocabulary: 256, context: 32, dimension: 64, depth: 2, heads: 4, causal: true)
/// let logits = try model.build(graph, ids, name: "gpt")   // [16, 32] -> [512, 256]
/// ```
public struct TextTransformer: Sendable {
    /// Distinct token ids (256 for bytes, more with special tokens).
    public let vocabulary: Int
    /// Tokens per sequence.
    public let context: Int
    /// Features per token.
    public let dimension: Int
    /// Transformer blocks.
    public let depth: Int
    /// Attention heads (divides `dimension`).
    public let heads: Int
    /// Whether token i sees only tokens 0...i (next-token prediction) or all (masked tokens).
    public let causal: Bool

    public init(vocabulary: Int = 256, context: Int = 32, dimension: Int = 64, depth: Int = 2, heads: Int = 4, causal: Bool) {
        precondition(vocabulary > 0 && context > 0 && dimension > 0 && depth > 0 && heads > 0 && dimension % heads == 0,
                     "TextTransformer needs positive sizes and dimension \(dimension) divisible by heads \(heads)")
        self.vocabulary = vocabulary
        self.context = context
        self.dimension = dimension
        self.depth = depth
        self.heads = heads
        self.causal = causal
    }

    /// One line naming the sizes, as model files store it.
    public var specification: String {
        "text vocabulary=\(vocabulary) context=\(context) dim=\(dimension) depth=\(depth) heads=\(heads) causal=\(causal ? 1 : 0)"
    }

    /// Adds the model on int32 `ids` [N, context]; parameters named `name.*`. Returns logits
    /// [N context, vocabulary], or with int32 `rows` [M] (indices into the N context positions)
    /// only those positions' logits [M, vocabulary]: the head then runs on M rows alone.
    public func build(_ graph: Graph, _ ids: TensorID, name: String, rows: TensorID? = nil) throws -> TensorID {
        let idShape = graph.shape(ids)
        guard idShape.dims.count == 2, idShape[1] == context else {
            throw ModelError.invalidOperation(name: name, reason: "text transformer needs ids [N, \(context)]; got \(idShape)")
        }
        var h = try graph.tokenEmbedding(ids, vocabulary: vocabulary, dimension: dimension, name: name + ".embed")
        h = try graph.positionalEmbedding(h, name: name + ".positions")
        for block in 1...depth {
            h = try graph.transformerBlock(h, heads: heads, hidden: 4 * dimension, causal: causal, name: name + ".block\(block)")
        }
        h = try graph.layerNorm(h, name: name + ".norm")
        h = try graph.reshape(h, [idShape[0] * context, dimension], name: name + ".rows")
        if let rows { h = try graph.gatherRows(h, rows, name: name + ".picked") }
        return try graph.linear(h, outFeatures: vocabulary, name: name + ".head")
    }
}
