// The masked autoencoder learns on the digits with a TinyViT: the loss over the hidden patches
// falls, and the linear probe on the frozen encoder beats the same probe on the same encoder
// left at its random initialisation.

import Foundation
import XCTest
import ForesightCore
import ForesightNN
@testable import ForesightSSL

final class MaskedAutoencoderTests: XCTestCase {
    func testMaskedAutoencoderLearnsDigits() throws {
        let (train, test) = Digits.split
        let backbone = TinyViT(dimension: 32, depth: 2, heads: 4, patch: 2)
        let trainer = try MaskedAutoencoderTrainer(data: train, backbone: backbone, maskRatio: 0.75, batch: 64, learningRate: 3e-3, seed: 1)
        XCTAssertEqual([trainer.patchCount, trainer.hiddenPerImage], [16, 12])
        let encoder = try FrozenEncoder(backbone: backbone, channels: 1, height: 8, width: 8, batch: 128)
        XCTAssertEqual(encoder.copyParameters(from: trainer.program), encoder.program.parameters.count)
        let probe = LinearProbe()
        let randomAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        let steps = 800
        var losses: [Float] = []
        for _ in 0..<steps { losses.append(try trainer.step()) }
        encoder.copyParameters(from: trainer.program)
        let trainedAccuracy = try probe.accuracy(train: encoder.embed(train), test: encoder.embed(test), classes: 10)
        let window = steps / 10
        let early = losses.prefix(window).reduce(0, +) / Float(window), late = losses.suffix(window).reduce(0, +) / Float(window)
        print("mae: loss \(early) -> \(late), probe \(trainedAccuracy) (random encoder \(randomAccuracy))")
        XCTAssertLessThan(late, 0.8 * early)
        XCTAssertGreaterThan(trainedAccuracy, randomAccuracy + 0.03)
    }

    func testMaskedAutoencoderRefusesBadSettings() {
        let (train, _) = Digits.split
        XCTAssertThrowsError(try MaskedAutoencoderTrainer(data: train, backbone: TinyViT(patch: 3)))
        XCTAssertThrowsError(try MaskedAutoencoderTrainer(data: train, maskRatio: 1))
        XCTAssertThrowsError(try MaskedAutoencoderTrainer(data: train, decoderDimension: 30, decoderHeads: 4))
    }
}
