// Tests of the view augmentations (what each does to known images), of the pipeline's
// defaults being unchanged by the optional switches, and of the training steps' and the
// augmentations' promise to allocate nothing.

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

final class ColourAndGeometryAugmentationTests: XCTestCase {
    func testFlipMirrorsRowsAndTwiceIsIdentity() {
        let original = (0..<2 * 3 * 5).map(Float.init)  // [2, 3, 5]
        var image = original
        horizontalFlip(&image, channels: 2, height: 3, width: 5)
        XCTAssertEqual(Array(image[0..<5]), [4, 3, 2, 1, 0])
        XCTAssertEqual(Array(image[25..<30]), [29, 28, 27, 26, 25])
        horizontalFlip(&image, channels: 2, height: 3, width: 5)
        XCTAssertEqual(image, original)
    }

    func testGreyscaleGivesLumaInEveryChannelAndLeavesGreyAlone() {
        var rgb: [Float] = [1, 0, 0.5, 0.5, /* green */ 0, 1, 0.5, 0.5, /* blue */ 0, 0, 0.5, 1]  // [3, 2, 2]
        greyscale(&rgb, channels: 3, height: 2, width: 2)
        let expected: [Float] = [0.299, 0.587, 0.5, 0.299 * 0.5 + 0.587 * 0.5 + 0.114]
        for c in 0..<3 { for i in 0..<4 { XCTAssertEqual(rgb[c * 4 + i], expected[i], accuracy: 1e-6) } }
        var grey: [Float] = [0.1, 0.9, 0.3, 0.7]
        greyscale(&grey, channels: 1, height: 2, width: 2)
        XCTAssertEqual(grey, [0.1, 0.9, 0.3, 0.7])
    }

    func testBrightnessScalesAllValuesByOneFactorInRange() {
        var random = SeededRandom(seed: 5)
        var factors: [Float] = []
        for _ in 0..<200 {
            let original: [Float] = [0.1, 0.2, 0.3, 0.4]
            var image = original
            colourJitter(&image, channels: 1, height: 2, width: 2, brightness: 0.5, contrast: 0, saturation: 0, random: &random)
            let factor = image[0] / original[0]
            for i in 0..<4 { XCTAssertEqual(image[i], original[i] * factor, accuracy: 1e-6) }
            factors.append(factor)
        }
        XCTAssert(factors.allSatisfy { $0 >= 0.5 - 1e-6 && $0 <= 1.5 + 1e-6 })
        XCTAssertLessThan(factors.min()!, 0.6)
        XCTAssertGreaterThan(factors.max()!, 1.4)
    }

    func testContrastKeepsTheMeanAndScalesDeviations() {
        var random = SeededRandom(seed: 6)
        for _ in 0..<50 {
            let original: [Float] = [0.4, 0.45, 0.55, 0.6]  // mean 0.5; no clipping for factors in [0.5, 1.5]
            var image = original
            colourJitter(&image, channels: 1, height: 2, width: 2, brightness: 0, contrast: 0.5, saturation: 0, random: &random)
            XCTAssertEqual(image.reduce(0, +) / 4, 0.5, accuracy: 1e-6)
            let factor = (image[3] - 0.5) / 0.1
            XCTAssert(factor >= 0.5 - 1e-4 && factor <= 1.5 + 1e-4, "contrast factor \(factor)")
            XCTAssertEqual(image[0] - 0.5, -factor * 0.1, accuracy: 1e-5)
        }
    }

    func testSaturationKeepsGreyPixelsAndLumaAndStaysInRange() {
        var random = SeededRandom(seed: 8)
        for _ in 0..<50 {
            var image: [Float] = [0.3, 0.9, /* green */ 0.3, 0.2, /* blue */ 0.3, 0.1]  // [3, 1, 2]: a grey and a red-ish pixel
            let lumaBefore = 0.299 * image[1] + 0.587 * image[3] + 0.114 * image[5]
            colourJitter(&image, channels: 3, height: 1, width: 2, brightness: 0, contrast: 0, saturation: 0.9, random: &random)
            XCTAssertEqual([image[0], image[2], image[4]], [0.3, 0.3, 0.3])
            XCTAssert(image.allSatisfy { $0 >= 0 && $0 <= 1 })
            if image[1] < 1 && image[5] > 0 { // not clipped: the luma is kept
                XCTAssertEqual(0.299 * image[1] + 0.587 * image[3] + 0.114 * image[5], lumaBefore, accuracy: 1e-5)
            }
        }
    }

    func testBlurKeepsConstantsAndTheSumOfAnInnerImpulse() {
        var scratch = [Float](repeating: 0, count: 2 * 9 * 9)
        var constant = [Float](repeating: 0.7, count: 2 * 9 * 9)
        gaussianBlur(&constant, scratch: &scratch, channels: 2, height: 9, width: 9, deviation: 1.5)
        for value in constant { XCTAssertEqual(value, 0.7, accuracy: 1e-5) }
        var peaks: [Float] = []
        for deviation: Float in [0.5, 1, 1.5] {
            var impulse = [Float](repeating: 0, count: 81)
            impulse[4 * 9 + 4] = 1
            gaussianBlur(&impulse, scratch: &scratch, channels: 1, height: 9, width: 9, deviation: deviation)
            XCTAssertEqual(impulse.reduce(0, +), 1, accuracy: 1e-5, "an impulse inside the borders keeps its sum")
            for y in 0..<9 { for x in 0..<9 {
                XCTAssertEqual(impulse[y * 9 + x], impulse[x * 9 + y], accuracy: 1e-6)          // symmetric
                XCTAssertEqual(impulse[y * 9 + x], impulse[y * 9 + 8 - x], accuracy: 1e-6)
            } }
            peaks.append(impulse[40])
        }
        XCTAssert(peaks[0] > peaks[1] && peaks[1] > peaks[2], "a wider blur has a lower peak: \(peaks)")
    }

    func testDefaultPipelineIsTheOriginalOne() {
        // With the new switches at their defaults the pipeline draws the same numbers and
        // writes the same view as crop, shift, noise and cutout alone.
        let image = (0..<64).map { (i: Int) -> Float in Float((i * 37) % 17) / 16 }
        var a = SeededRandom(seed: 11), b = SeededRandom(seed: 11)
        var view = [Float](repeating: 0, count: 64), scratch = view, expected = view, expectedScratch = view
        let defaults = ViewAugmentation()
        for _ in 0..<20 {
            defaults.apply(image, into: &view, scratch: &scratch, channels: 1, height: 8, width: 8, random: &a)
            randomResizedCrop(image, &expectedScratch, channels: 1, height: 8, width: 8, scale: 0.5...1, random: &b)
            randomShift(expectedScratch, &expected, channels: 1, height: 8, width: 8, maximum: 1, random: &b)
            addGaussianNoise(&expected, count: 64, deviation: 0.05, random: &b)
            if b.nextFloat() < 0.5 { cutout(&expected, channels: 1, height: 8, width: 8, size: 3, random: &b) }
            XCTAssertEqual(view, expected)
        }
    }

    func testColourPipelineChangesViewsAndAllocatesNothing() {
        // Without noise and cutout a grey view has exactly equal channels.
        let augmentation = ViewAugmentation(noiseDeviation: 0, cutoutProbability: 0, flipProbability: 0.5, brightness: 0.4, contrast: 0.4,
                                            saturation: 0.4, greyscaleProbability: 0.2, blurProbability: 0.5, blurDeviation: 0.3...1.2)
        let image = (0..<192).map { (i: Int) -> Float in Float((i * 53) % 29) / 28 }
        var view = [Float](repeating: 0, count: image.count), scratch = view
        var random = SeededRandom(seed: 12)
        var greyViews = 0
        image.withUnsafeBufferPointer { source in
            view.withUnsafeMutableBufferPointer { view in
                scratch.withUnsafeMutableBufferPointer { scratch in
                    let before = foresight_allocation_count()
                    for _ in 0..<200 {
                        augmentation.apply(source.baseAddress!, into: view.baseAddress!, scratch: scratch.baseAddress!, channels: 3,
                                           height: 8, width: 8, random: &random)
                        var largest: Float = 0
                        for i in 0..<64 { largest = max(largest, abs(view[i] - view[64 + i]), abs(view[i] - view[128 + i])) }
                        if largest == 0 { greyViews += 1 }
                    }
                    XCTAssertEqual(foresight_allocation_count() - before, 0, "the pipeline allocated")
                }
            }
        }
        XCTAssert((20...60).contains(greyViews), "about a fifth of 200 views should be grey, saw \(greyViews)")
    }
}

/// The fewest heap allocations counted over three windows of 10 calls of `step`. The counter is
/// process-wide, so a thread left by an earlier test may allocate during one window; an
/// allocation inside `step` shows in every window.
func fewestAllocations(_ step: () throws -> Void) rethrows -> UInt64 {
    var fewest = UInt64.max
    for _ in 0..<3 {
        let before = foresight_allocation_count()
        for _ in 0..<10 { try step() }
        fewest = min(fewest, foresight_allocation_count() - before)
    }
    return fewest
}

final class TwoViewAllocationTests: XCTestCase {
    func testTrainingStepAllocatesNothing() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let train = Digits.split.train
        for objective in [TwoViewObjective.simclr(temperature: 0.2), .vicreg(invariance: 25, variance: 25, covariance: 1)] {
            let trainer = try TwoViewTrainer(objective: objective, data: train, backbone: SmallResNet(width: 8), batch: 8, seed: 3)
            for _ in 0..<3 { try trainer.step() }
            let allocations = try fewestAllocations { try trainer.step() }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps of \(objective)")
        }
    }

    func testPretextStepAllocatesNothing() throws {
        let train = Digits.split.train
        for objective in [PretextObjective.autoencoder, .denoising(noiseDeviation: 0.2), .rotation] {
            let trainer = try PretextTrainer(objective: objective, data: train, backbone: SmallResNet(width: 8), batch: 8, seed: 3)
            for _ in 0..<3 { try trainer.step() }
            let allocations = try fewestAllocations { try trainer.step() }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps of \(objective)")
        }
    }
}
