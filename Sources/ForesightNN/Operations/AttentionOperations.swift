// Multi-head scaled dot-product self-attention as one graph operation, with an optional causal
// mask. The projections around it are ordinary linear layers (LayersTransformer.swift builds
// them); this operation takes the projected queries, keys and values and returns the heads'
// outputs side by side. Not flash attention: the probabilities [T, T] of every head are kept
// from forward to backward, which is what a small context on a small device can afford.
//
// Symbols: N batch, T tokens, D model features, H heads, E = D / H features per head.
// Per item and head, with Q, K, V [T, E] the head's columns of qkv:
//   S = Q K^T / sqrt(E) (entries j > i set to -inf when causal), P = softmax of each row of S,
//   O = P V.
// Backward: dP = dO V^T, dV += P^T dO, dS = P * (dP - rowsum(dP * P)), dQ += dS K / sqrt(E),
//   dK += dS^T Q / sqrt(E). Each product is a GEMM of the package (ForesightCore Kernels/Gemm).

import Foundation
import ForesightCore

/// Self-attention of H heads: qkv [N, T, 3D] (queries, keys, values, each D wide, heads of
/// E = D / H consecutive features) -> [N, T, D] (the heads' outputs, head h in features
/// h E ..< (h + 1) E). With `causal`, token i attends only to tokens 0...i, so no output depends
/// on a later token. Saves the probabilities [N, H, T, T].
///
/// ```swift
/// let qkv = try graph.linear(x, outFeatures: 3 * 64, name: "attn.qkv")          // [8, 32, 192]
/// let heads = try graph.apply(MultiHeadAttentionOperation(heads: 4, causal: true), [qkv], name: "attn")  // [8, 32, 64]
/// ```
public final class MultiHeadAttentionOperation: GraphOperation, ParallelWork {
    public var inferenceForm: InferenceForm { .notLowered("attention") }
    public let heads: Int
    public let causal: Bool
    private var items = 0, tokens = 0, dimension = 0
    private var headFeatures: Int { dimension / heads }
    private var binding: Binding?
    private var backwardPass = false

    public init(heads: Int, causal: Bool = false) {
        self.heads = heads
        self.causal = causal
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "attention")
        try require(inputs.count == 1 && inputs[0].rank == 3, "attention", expected: "one operand qkv [N, T, 3D]", got: "\(inputs)")
        let qkv = inputs[0]
        try require(heads >= 1 && qkv[2] % (3 * heads) == 0, "attention",
                    expected: "a last axis of 3 D with D divisible by \(heads) heads", got: "\(qkv)")
        items = qkv[0]; tokens = qkv[1]; dimension = qkv[2] / 3
        return try Shape(items, tokens, dimension)
    }

    public var savedFloats: Int { items * heads * tokens * tokens }
    /// Per thread: a GEMM workspace and one [T, T] matrix (dP, then dS).
    public func scratchFloats(threads: Int) -> Int { threads * perThreadScratch }
    private var perThreadScratch: Int { GemmWorkspace.floatCount + (tokens * tokens + 15) / 16 * 16 }
    public var forwardCost: Int { 2 * items * heads * tokens * tokens * headFeatures }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        backwardPass = false
        run(pool)
    }

    public func backward(pool: ThreadPool) {
        guard binding!.inputGradients[0] != nil else { return }
        backwardPass = true
        run(pool)
    }

    private func run(_ pool: ThreadPool) {
        if pool.threadCount == 1 || binding!.scratchThreads < pool.threadCount || items * heads == 1 {
            work(chunk: 0, of: 1, thread: 0)
        } else {
            pool.run(self, chunks: pool.chunks(items: items * heads))
        }
    }

    /// Chunk `chunk` of `chunks`: an even share of the (item, head) pairs, each writing only its own rows.
    public func work(chunk: Int, of chunks: Int, thread: Int) {
        let scratch = binding!.scratch! + thread * perThreadScratch
        let workspace = GemmWorkspace(memory: scratch)
        let square = scratch + GemmWorkspace.floatCount
        for pair in ThreadPool.range(chunk: chunk, of: chunks, items: items * heads) {
            if backwardPass {
                backwardHead(item: pair / heads, head: pair % heads, workspace: workspace, gradientOfScores: square)
            } else {
                forwardHead(item: pair / heads, head: pair % heads, workspace: workspace)
            }
        }
    }

    /// S = Q K^T / sqrt(E), masked, softmax into P (saved); O = P V.
    private func forwardHead(item: Int, head: Int, workspace: GemmWorkspace) {
        let b = binding!, T = tokens, D = dimension, E = headFeatures
        let q = b.inputs[0].floatPointer + item * T * 3 * D + head * E, k = q + D, v = q + 2 * D
        let p = b.saved! + (item * heads + head) * T * T
        let out = b.output.floatPointer + item * T * D + head * E
        // S[T, T] = Q[T, E] K[T, E]^T
        gemm(transB: true, m: T, n: T, k: E, a: q, lda: 3 * D, b: k, ldb: 3 * D, c: p, ldc: T, workspace: workspace)
        let scale = 1 / Float(E).squareRoot()
        for i in 0..<T {
            let row = p + i * T, visible = causal ? i + 1 : T
            var maximum = -Float.infinity
            for j in 0..<visible { row[j] *= scale; maximum = max(maximum, row[j]) }
            var sum: Float = 0
            for j in 0..<visible { row[j] = expf(row[j] - maximum); sum += row[j] }
            let inverse = 1 / sum
            for j in 0..<visible { row[j] *= inverse }
            for j in visible..<T { row[j] = 0 }
        }
        // O[T, E] = P[T, T] V[T, E]
        gemm(m: T, n: E, k: T, a: p, lda: T, b: v, ldb: 3 * D, c: out, ldc: D, workspace: workspace)
    }

    private func backwardHead(item: Int, head: Int, workspace: GemmWorkspace, gradientOfScores ds: UnsafeMutablePointer<Float>) {
        let b = binding!, T = tokens, D = dimension, E = headFeatures
        let offset = item * T * 3 * D + head * E
        let q = b.inputs[0].floatPointer + offset, k = q + D, v = q + 2 * D
        let dq = b.inputGradients[0]!.floatPointer + offset, dk = dq + D, dv = dq + 2 * D
        let p = b.saved! + (item * heads + head) * T * T
        let dout = b.outputGradient!.floatPointer + item * T * D + head * E
        // dP[T, T] = dO[T, E] V[T, E]^T
        gemm(transB: true, m: T, n: T, k: E, a: dout, lda: D, b: v, ldb: 3 * D, c: ds, ldc: T, workspace: workspace)
        // dV[T, E] += P[T, T]^T dO[T, E]
        gemm(transA: true, m: T, n: E, k: T, a: p, lda: T, b: dout, ldb: D, c: dv, ldc: 3 * D, accumulate: true, workspace: workspace)
        // dS = P * (dP - sum_j dP_ij P_ij), times 1 / sqrt(E) for both products below.
        let scale = 1 / Float(E).squareRoot()
        for i in 0..<T {
            let probabilities = p + i * T, row = ds + i * T
            let weighted = dot(probabilities, row, T)
            for j in 0..<T { row[j] = scale * probabilities[j] * (row[j] - weighted) }
        }
        // dQ[T, E] += dS[T, T] K[T, E];  dK[T, E] += dS[T, T]^T Q[T, E]
        gemm(m: T, n: E, k: T, a: ds, lda: T, b: k, ldb: 3 * D, c: dq, ldc: 3 * D, accumulate: true, workspace: workspace)
        gemm(transA: true, m: T, n: E, k: T, a: ds, lda: T, b: q, ldb: 3 * D, c: dk, ldc: 3 * D, accumulate: true, workspace: workspace)
    }
}
