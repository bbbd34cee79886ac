// Finite-difference checks of the transformer operations' backward passes (attention, token
// embedding, positions, patches, mask tokens, mean over tokens, gathered rows, reshape, a whole
// pre-norm block), attention's forward against a direct formula, the causal mask, the TinyViT
// backbone specification, and allocation-free steps of the GPT, BERT and masked-autoencoder trainers.

import CAllocationCounter
import Foundation
import XCTest
import ForesightCore
import ForesightNN
@testable import ForesightSSL

final class TransformerGradientTests: XCTestCase {
    func testAttentionGradient() throws {
        for causal in [false, true] {
            let graph = Graph()
            let x = try graph.input("x", [2, 5, 4])
            // Scaled so that the attention is far from uniform and the scores' gradients are large.
            let qkv = try graph.scale(try graph.linear(x, outFeatures: 3 * 6, name: "qkv"), by: 2)
            let heads = try graph.apply(MultiHeadAttentionOperation(heads: 2, causal: causal), [qkv], name: "attention")
            let target = try graph.input("target", [2, 5, 6])
            try checkGradients(graph, loss: try graph.mseLoss(heads, target, name: "loss"))
        }
    }

    func testTokenEmbeddingAndPositionsGradient() throws {
        let graph = Graph()
        let ids = try graph.input("ids", [2, 4], dtype: .int32)
        let embedded = try graph.tokenEmbedding(ids, vocabulary: 6, dimension: 3, name: "embed")
        let h = try graph.positionalEmbedding(embedded, name: "positions")
        let target = try graph.input("target", [2, 4, 3])
        // Id 1 appears three times (its gradient sums); ids 0 and 5 do not appear (theirs stays zero).
        try checkGradients(graph, loss: try graph.mseLoss(try graph.scale(h, by: 10), target, name: "loss"),
                           integers: ["ids": [1, 2, 3, 1, 4, 1, 2, 3]])
    }

    func testPatchifyGradient() throws {
        let graph = Graph()
        let images = try graph.input("images", [2, 2, 4, 6])
        let mixed = try graph.conv2d(images, outChannels: 2, kernel: 1, name: "mix")
        let tokens = try graph.patchEmbedding(mixed, patch: 2, dimension: 3, name: "patches")
        XCTAssertEqual(graph.shape(tokens).dims, [2, 6, 3])
        let target = try graph.input("target", [2, 6, 3])
        try checkGradients(graph, loss: try graph.mseLoss(tokens, target, name: "loss"))
    }

    func testMaskTokensAndMeanGradient() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 4, 3])
        let h = try graph.linear(x, outFeatures: 5, name: "proj")
        let hidden = try graph.input("hidden", [2, 4])
        let masked = try graph.maskTokens(h, mask: hidden, name: "mask")
        let pooled = try graph.meanTokens(masked)
        let target = try graph.input("target", [2, 5])
        try checkGradients(graph, loss: try graph.mseLoss(try graph.scale(pooled, by: 4), target, name: "loss"),
                           floats: ["hidden": [1, 0, 0, 1, 0, 1, 1, 0]])
    }

    func testReshapeGatherAndCrossEntropyGradient() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 4])
        let logits = try graph.linear(x, outFeatures: 5, name: "head")
        let rows = try graph.reshape(logits, [6, 5])
        let indices = try graph.input("indices", [4], dtype: .int32)
        let labels = try graph.input("labels", [4], dtype: .int32)
        let picked = try graph.gatherRows(rows, indices)
        // Row 2 is picked twice.
        try checkGradients(graph, loss: try graph.crossEntropyLoss(picked, labels, name: "loss"),
                           integers: ["indices": [5, 2, 0, 2], "labels": [1, 4, 0, 3]])
    }

    func testTransformerBlockGradient() throws {
        for causal in [false, true] {
            let graph = Graph()
            let x = try graph.input("x", [2, 4, 8])
            let h = try graph.transformerBlock(x, heads: 2, hidden: 8, causal: causal, name: "block")
            let target = try graph.input("target", [2, 4, 8])
            try checkGradients(graph, loss: try graph.mseLoss(h, target, name: "loss"))
        }
    }
}

final class TransformerForwardTests: XCTestCase {
    /// Attention against the formula in Double: per head, softmax(Q K^T / sqrt(E)) V.
    func testAttentionMatchesTheFormula() throws {
        let (N, T, D, H) = (2, 5, 8, 2), E = D / H
        for causal in [false, true] {
            let graph = Graph()
            let qkv = try graph.input("qkv", [N, T, 3 * D])
            let out = try graph.apply(MultiHeadAttentionOperation(heads: H, causal: causal), [qkv], name: "attention")
            let program = try Program(graph)
            var random = SeededRandom(seed: 3)
            let values = (0..<(N * T * 3 * D)).map { _ in random.nextFloat(in: -2..<2) }
            program.tensor(qkv).copy(from: values)
            program.forward()
            let result = program.tensor(out).toArray()
            var largestError = 0.0
            for n in 0..<N {
                for h in 0..<H {
                    func at(_ t: Int, _ part: Int, _ e: Int) -> Double { Double(values[(n * T + t) * 3 * D + part * D + h * E + e]) }
                    for i in 0..<T {
                        let visible = causal ? i + 1 : T
                        let scores = (0..<visible).map { j in (0..<E).reduce(0.0) { $0 + at(i, 0, $1) * at(j, 1, $1) } / Double(E).squareRoot() }
                        let maximum = scores.max()!
                        let weights = scores.map { Foundation.exp($0 - maximum) }, total = weights.reduce(0, +)
                        for e in 0..<E {
                            let expected = (0..<visible).reduce(0.0) { $0 + weights[$1] / total * at($1, 2, e) }
                            largestError = max(largestError, abs(expected - Double(result[(n * T + i) * D + h * E + e])))
                        }
                    }
                }
            }
            XCTAssertLessThan(largestError, 1e-5, "causal \(causal)")
        }
    }

    /// With the causal mask, changing the last tokens leaves the outputs at earlier positions
    /// exactly as they were; without it, they change.
    func testCausalMaskHidesLaterTokens() throws {
        for causal in [true, false] {
            let model = TextTransformer(vocabulary: 16, context: 8, dimension: 16, depth: 2, heads: 4, causal: causal)
            let graph = Graph()
            let ids = try graph.input("ids", [1, 8], dtype: .int32)
            let logits = try model.build(graph, ids, name: "model")
            let program = try Program(graph, seed: 5)
            _ = program.tensor(ids).int32s.update(fromContentsOf: [1, 2, 3, 4, 5, 6, 7, 8] as [Int32])
            program.forward()
            let before = program.tensor(logits).toArray()
            _ = program.tensor(ids).int32s.update(fromContentsOf: [1, 2, 3, 4, 5, 9, 10, 11] as [Int32])
            program.forward()
            let after = program.tensor(logits).toArray()
            let earlier = 5 * 16
            let earlierChanged = zip(before.prefix(earlier), after.prefix(earlier)).contains { $0 != $1 }
            let laterChanged = zip(before.suffix(3 * 16), after.suffix(3 * 16)).contains { $0 != $1 }
            XCTAssertTrue(laterChanged, "the changed positions' own outputs must change")
            XCTAssertEqual(earlierChanged, !causal, causal ? "a later token changed an earlier output" : "bidirectional attention must see later tokens")
        }
    }

    func testTinyViTShapesAndSpecification() throws {
        let backbone = TinyViT(dimension: 16, depth: 1, heads: 2, patch: 2)
        XCTAssertEqual(backbone.specification, "vit dim=16 depth=1 heads=2 patch=2")
        let parsed = try XCTUnwrap(ImageBackbones.parse(backbone.specification) as? TinyViT)
        XCTAssertEqual([parsed.dimension, parsed.depth, parsed.heads, parsed.patch], [16, 1, 2, 2])
        XCTAssertThrowsError(try ImageBackbones.parse("vit dim=10 depth=1 heads=4 patch=2"))
        XCTAssertThrowsError(try ImageBackbones.parse("vit dim=16 depth=1 patch=2"))
        let graph = Graph()
        let images = try graph.input("images", [3, 1, 8, 8])
        XCTAssertEqual(graph.shape(try backbone.build(graph, images, name: "backbone")).dims, [3, 16])
        let odd = Graph()
        XCTAssertThrowsError(try backbone.build(odd, try odd.input("images", [3, 1, 7, 8]), name: "backbone"))
    }
}

final class TransformerTrainerStepTests: XCTestCase {
    func testTrainerStepsAllocateNothing() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let text = Array(TextFixture.bytes.prefix(2000))
        let trainers: [any SelfSupervisedTrainer] = [
            try GPTTrainer(text: text, context: 8, dimension: 16, depth: 1, heads: 2, batch: 4, seed: 3),
            try BERTTrainer(text: text, context: 8, dimension: 16, depth: 1, heads: 2, batch: 4, seed: 3),
            try MaskedAutoencoderTrainer(data: Digits.split.train, backbone: TinyViT(dimension: 16, depth: 1, heads: 2, patch: 2),
                                         decoderDimension: 8, decoderHeads: 2, batch: 8, seed: 3),
        ]
        for trainer in trainers {
            for _ in 0..<3 { try trainer.step() }
            let allocations = try fewestAllocations { try trainer.step() }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps of \(type(of: trainer))")
        }
    }
}
