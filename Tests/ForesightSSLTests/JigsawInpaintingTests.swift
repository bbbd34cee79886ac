// The jigsaw permutation set, patch cutting and standardising, and the inpainting mask on
// small hand-made images, clear errors for tasks that do not fit the images, a 3x3 jigsaw
// that learns on 12x12 images, and a zero-allocation check of the jigsaw and inpainting steps.
// Learning on the digits is in MethodTests (PretextMethodTests).

import Foundation
import XCTest
import CAllocationCounter
import ForesightCore
import ForesightNN
@testable import ForesightSSL

final class JigsawInpaintingTests: XCTestCase {
    func testTwoByTwoSetIsEveryOrderStartingWithTheIdentity() throws {
        let set = try JigsawPermutations(grid: 2, count: 24)
        XCTAssertEqual(set.count, 24)
        XCTAssertEqual(Set(set.order).count, 24)
        XCTAssertEqual(set.order[0], [0, 1, 2, 3])
        for order in set.order { XCTAssertEqual(order.sorted(), [0, 1, 2, 3]) }
        // Greedy by distance: after the identity come the four orders that move every patch.
        XCTAssertEqual(set.order[1...].prefix(3).map { zip($0, [0, 1, 2, 3]).filter { $0 != $1 }.count }, [4, 4, 4])
        XCTAssertEqual(set.minimumDistance, 2)
    }

    func testThreeByThreeSetIsFarApartAndDeterministic() throws {
        let set = try JigsawPermutations(grid: 3, count: 30)
        XCTAssertEqual(set.count, 30)
        var smallest = Int.max
        for a in 0..<set.count {
            XCTAssertEqual(set.order[a].sorted(), Array(0..<9))
            for b in 0..<a { smallest = min(smallest, zip(set.order[a], set.order[b]).filter { $0 != $1 }.count) }
        }
        XCTAssertEqual(smallest, set.minimumDistance)
        XCTAssertGreaterThanOrEqual(smallest, 7) // random pairs of 3x3 orders differ in about 8 of 9 places
        XCTAssertEqual(try JigsawPermutations(grid: 3, count: 30), set)
    }

    func testBadJigsawSetsAreErrors() {
        XCTAssertThrowsError(try JigsawPermutations(grid: 4, count: 10)) { XCTAssert("\($0)".contains("2 or 3")) }
        XCTAssertThrowsError(try JigsawPermutations(grid: 2, count: 25)) { XCTAssert("\($0)".contains("24 orders")) }
        XCTAssertThrowsError(try JigsawPermutations(grid: 2, count: 1))
        let tiny = LabeledImages(pixels: [Float](repeating: 0, count: 4 * 16), labels: [0, 1, 0, 1], channels: 1, height: 4, width: 4)
        XCTAssertThrowsError(try PretextTrainer(objective: .jigsaw(grid: 3, permutations: 10), data: tiny, batch: 2)) {
            XCTAssert("\($0)".contains("at least 6x6"), "\($0)")
        }
        XCTAssertThrowsError(try PretextTrainer(objective: .inpainting(regionFraction: 1), data: tiny, batch: 2))
        XCTAssertThrowsError(try PretextTrainer(objective: .inpainting(regionFraction: 0.05), data: tiny, batch: 2))
    }

    func testGridSuitsTheImageSize() {
        guard case .jigsaw(2, 24) = PretextObjective.jigsaw(height: 8, width: 8) else { return XCTFail("8x8 digits take a 2x2 grid") }
        guard case .jigsaw(3, 30) = PretextObjective.jigsaw(height: 32, width: 24) else { return XCTFail("32x24 takes a 3x3 grid") }
    }

    func testPatchesAreCutInTheOrderAndTheRemainderLeftOut() {
        // 2 channels of 5x4: a 2x2 grid of 2x2 patches; row 4 lies outside the grid.
        let image = (0..<40).map(Float.init)
        var patches = [Float](repeating: -1, count: 4 * 2 * 4)
        cutPatches(image, &patches, channels: 2, height: 5, width: 4, grid: 2, order: [3, 0, 1, 2])
        // Channel 0 rows: [0 1 2 3] [4 5 6 7] [8 9 10 11] [12 13 14 15] [16 17 18 19]; channel 1 adds 20.
        XCTAssertEqual(patches, [10, 11, 14, 15, 30, 31, 34, 35,   // source patch 3 (bottom right)
                                 0, 1, 4, 5, 20, 21, 24, 25,       // source patch 0
                                 2, 3, 6, 7, 22, 23, 26, 27,       // source patch 1
                                 8, 9, 12, 13, 28, 29, 32, 33])    // source patch 2
    }

    func testStandardisedPatchesHaveZeroMeanAndUnitVariance() {
        var patches: [Float] = [1, 2, 3, 4, 0, 0, 0, 0, 5, 5, 9, 9]
        standardisePatches(&patches, count: 3, size: 4)
        // [1, 2, 3, 4]: mean 2.5, variance 1.25; a blank patch stays 0; [5, 5, 9, 9]: mean 7, variance 4.
        let first = 1 / Float(1.26).squareRoot(), third = 2 / Float(4.01).squareRoot()
        XCTAssertEqual(patches[0..<4].map { $0 }, [-1.5 * first, -0.5 * first, 0.5 * first, 1.5 * first])
        XCTAssertEqual(patches[4..<8].map { $0 }, [0, 0, 0, 0])
        for (value, expected) in zip(patches[8..<12], [-third, -third, third, third]) { XCTAssertEqual(value, expected, accuracy: 1e-6) }
    }

    func testMaskCoversTheSquareInEveryChannel() {
        var image = [Float](repeating: 0.5, count: 2 * 4 * 5), mask = [Float](repeating: 7, count: 40)
        maskRegion(&image, mask: &mask, channels: 2, height: 4, width: 5, top: 1, left: 2, size: 2, fill: -1)
        for c in 0..<2 {
            for y in 0..<4 {
                for x in 0..<5 {
                    let inside = (1...2).contains(y) && (2...3).contains(x), i = c * 20 + y * 5 + x
                    XCTAssertEqual(mask[i], inside ? 1 : 0, "mask at c\(c) y\(y) x\(x)")
                    XCTAssertEqual(image[i], inside ? -1 : 0.5, "image at c\(c) y\(y) x\(x)")
                }
            }
        }
    }

    /// The step masks one square per image; the loss is the mean squared error over masked
    /// pixels alone: a decoder that outputs the target inside the square has zero loss whatever
    /// it outputs outside.
    func testInpaintingMasksASquareAndScoresOnlyIt() throws {
        let (train, _) = Digits.split
        let trainer = try PretextTrainer(objective: .inpainting(regionFraction: 0.5), data: train, batch: 4, seed: 3)
        let graph = trainer.program.graph, program = trainer.program
        let mask = program.tensor(graph.tensor(named: "mask")!).floats
        let target = program.tensor(graph.tensor(named: "target")!).floats
        let images = program.tensor(graph.tensor(named: "images")!).floats
        try trainer.step()
        XCTAssertEqual(mask.reduce(0, +), 4 * 16) // a 4x4 square in each of 4 images
        let fill = train.pixels.reduce(0, +) / Float(train.pixels.count)
        for i in target.indices where mask[i] == 1 { XCTAssertEqual(images[i], fill, accuracy: 1e-6) }
        for i in target.indices where mask[i] == 0 { XCTAssertEqual(target[i], 0) }
        // The same square in every row; a decoder (weights 0) whose bias is the target inside, noise outside.
        var scratch = [Float](repeating: 0, count: 64), square = [Float](repeating: 0, count: 64)
        maskRegion(&scratch, mask: &square, channels: 1, height: 8, width: 8, top: 3, left: 1, size: 4, fill: 0)
        for row in 0..<4 { for j in 0..<64 { mask[row * 64 + j] = square[j]; target[row * 64 + j] = square[j] * Float(j) / 64 } }
        program.tensor(graph.tensor(named: "decoder.2.weight")!).floats.update(repeating: 0)
        let bias = program.tensor(graph.tensor(named: "decoder.2.bias")!).floats
        for j in 0..<64 { bias[j] = square[j] == 1 ? Float(j) / 64 : Float(j % 5) }
        program.forward()
        XCTAssertEqual(program.lossValue, 0, accuracy: 1e-6)
        let first = square.firstIndex(of: 1)!
        bias[first] += 1 // one masked pixel off by 1 in each of 4 images: 4 / (4 * 16 masked pixels)
        program.forward()
        XCTAssertEqual(program.lossValue, 4.0 / 64, accuracy: 1e-5)
    }

    /// A 3x3 jigsaw (30 orders) on 12x12 images, the digits padded by 2 pixels: the loss falls
    /// from about log(30).
    func testThreeByThreeJigsawLearnsOnLargerImages() throws {
        let digits = Digits.split.train
        var padded = [Float](repeating: 0, count: digits.count * 144)
        for i in 0..<digits.count { for y in 0..<8 { for x in 0..<8 { padded[i * 144 + (y + 2) * 12 + x + 2] = digits.pixels[i * 64 + y * 8 + x] } } }
        let images = LabeledImages(pixels: padded, labels: digits.labels, channels: 1, height: 12, width: 12)
        let objective = PretextObjective.jigsaw(height: 12, width: 12)
        guard case .jigsaw(3, 30) = objective else { return XCTFail("12x12 images take a 3x3 grid of 30 orders") }
        let trainer = try PretextTrainer(objective: objective, data: images, backbone: SmallResNet(width: 8), batch: 32, seed: 1)
        XCTAssertEqual(trainer.program.graph.shape(trainer.program.graph.tensor(named: "patches")!), [32 * 9, 1, 4, 4])
        XCTAssertEqual(trainer.program.graph.shape(trainer.program.graph.tensor(named: "head.patches")!), [32, 9 * 16])
        var losses: [Float] = []
        for _ in 0..<100 { losses.append(try trainer.step()) }
        let early = losses.prefix(10).reduce(0, +) / 10, late = losses.suffix(10).reduce(0, +) / 10
        print("jigsaw 3x3 on 12x12: loss \(early) -> \(late) (log 30 = \(log(30.0)))")
        XCTAssertEqual(Double(early), log(30.0), accuracy: 0.5)
        XCTAssertLessThan(late, 0.8 * early)
    }

    func testJigsawAndInpaintingStepsAllocateNothing() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let (train, _) = Digits.split
        for objective in [PretextObjective.jigsaw(grid: 2, permutations: 24), .inpainting(regionFraction: 0.5)] {
            let trainer = try PretextTrainer(objective: objective, data: train, backbone: SmallResNet(width: 8), batch: 16, seed: 2)
            try trainer.step()
            let allocations = try fewestAllocations { try trainer.step() }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps of \(objective)")
        }
    }
}
