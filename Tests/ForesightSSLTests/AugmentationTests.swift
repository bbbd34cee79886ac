// Tests of the view augmentations (what each does to known images) and of the two-view
// training steps' promise to allocate nothing.

import CAllocationCounter
import XCTest
import ForesightCore
@testable import ForesightSSL

final class AugmentationTests: XCTestCase {
    func testShiftMovesPixelsAndFillsZeros() {
        var image = [Float](repeating: 0, count: 16), shifted = image
        image[1 * 4 + 1] = 1 // a single lit pixel at (1, 1) of a 4x4 image
        var random = SeededRandom(seed: 4)
        var seen = Set<Int>()
        for _ in 0..<50 {
            randomShift(image, &shifted, channels: 1, height: 4, width: 4, maximum: 1, random: &random)
            XCTAssertEqual(shifted.reduce(0, +), 1)
            let position = shifted.firstIndex(of: 1)!
            XCTAssert(abs(position / 4 - 1) <= 1 && abs(position % 4 - 1) <= 1, "moved to \(position)")
            seen.insert(position)
        }
        XCTAssertEqual(seen.count, 9, "every shift in -1...1 x -1...1 should occur in 50 draws")
    }

    func testCutoutZeroesOneClippedSquare() {
        var random = SeededRandom(seed: 2)
        for _ in 0..<20 {
            var image = [Float](repeating: 1, count: 2 * 8 * 8)
            cutout(&image, channels: 2, height: 8, width: 8, size: 3, random: &random)
            let zeros = image[0..<64].filter { $0 == 0 }.count
            XCTAssert([4, 6, 9].contains(zeros), "\(zeros) zeros: a 3x3 square clipped at most on two sides")
            XCTAssertEqual(Array(image[0..<64]), Array(image[64...]), "both channels cut alike")
        }
    }

    func testResizedCropKeepsConstantsAndRange() {
        var random = SeededRandom(seed: 7)
        let constant = [Float](repeating: 0.25, count: 64)
        var out = [Float](repeating: 0, count: 64)
        randomResizedCrop(constant, &out, channels: 1, height: 8, width: 8, scale: 0.3...1, random: &random)
        for value in out { XCTAssertEqual(value, 0.25, accuracy: 1e-6) }
        let ramp = (0..<64).map { Float($0 % 8) / 7 }
        for _ in 0..<20 {
            randomResizedCrop(ramp, &out, channels: 1, height: 8, width: 8, scale: 0.3...1, random: &random)
            XCTAssert(out.allSatisfy { $0 >= 0 && $0 <= 1 })
            // A horizontal ramp stays a non-decreasing horizontal ramp, the same on every row.
            for y in 0..<8 { for x in 1..<8 { XCTAssertGreaterThanOrEqual(out[y * 8 + x], out[y * 8 + x - 1] - 1e-6) } }
            for y in 1..<8 { for x in 0..<8 { XCTAssertEqual(out[y * 8 + x], out[x], accuracy: 1e-5) } }
        }
    }

    func testNoiseHasTheRequestedDeviation() {
        var random = SeededRandom(seed: 9)
        var values = [Float](repeating: 0, count: 20_000)
        addGaussianNoise(&values, count: values.count, deviation: 0.1, random: &random)
        let variance = values.map { Double($0 * $0) }.reduce(0, +) / Double(values.count)
        XCTAssertEqual(variance.squareRoot(), 0.1, accuracy: 0.003)
    }
}

final class TwoViewAllocationTests: XCTestCase {
    func testTrainingStepAllocatesNothing() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let train = Digits.split.train
        for objective in [TwoViewObjective.simclr(temperature: 0.2), .vicreg(invariance: 25, variance: 25, covariance: 1)] {
            let trainer = try TwoViewTrainer(objective: objective, data: train, backbone: SmallResNet(width: 8), batch: 8, seed: 3)
            for _ in 0..<3 { try trainer.step() }
            let before = foresight_allocation_count()
            for _ in 0..<10 { try trainer.step() }
            let allocations = foresight_allocation_count() - before
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps of \(objective)")
        }
    }

    func testPretextStepAllocatesNothing() throws {
        let train = Digits.split.train
        for objective in [PretextObjective.autoencoder, .denoising(noiseDeviation: 0.2), .rotation] {
            let trainer = try PretextTrainer(objective: objective, data: train, backbone: SmallResNet(width: 8), batch: 8, seed: 3)
            for _ in 0..<3 { try trainer.step() }
            let before = foresight_allocation_count()
            for _ in 0..<10 { try trainer.step() }
            let allocations = foresight_allocation_count() - before
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps of \(objective)")
        }
    }
}
