// Learning is tested by learning: pc64 beats the copy-last-frame baseline on moving squares,
// and each optimizer follows its published update rule.

import XCTest
@testable import ForesightCore
@testable import ForesightNN
@testable import ForesightIO
@testable import ForesightSSL
@testable import ForesightExport

final class TrainingTests: XCTestCase {
    func testPC64LearnsToBeatCopyingTheLastFrame() throws {
        let trainer = try FramePredictionTrainer(batch: 8, threads: 2, seed: 3)
        let before = try trainer.evaluate(batches: 4)
        var first: Float = 0
        for step in 0..<400 {
            let loss = try trainer.step()
            if step == 0 { first = loss }
        }
        let after = try trainer.evaluate(batches: 4)
        XCTAssertLessThan(after.predictionError, first / 3, "loss went from \(first) to \(after.predictionError)")
        // Well below the baseline: a model that only copied the last frame would score 1.0.
        XCTAssertLessThan(after.ratio, 0.75, "model \(after.predictionError), copy-last \(after.copyLastError)")
        XCTAssertGreaterThan(before.ratio, 1.0, "an untrained model should not beat copy-last already")
    }

    /// One parameter, known gradient: the update must match the formula computed by hand.
    private func oneStep(_ optimizer: any Optimizer, parameter: Float, gradient: Float, steps: Int) -> Float {
        var value = [parameter], state = [Float](repeating: 0, count: max(1, optimizer.stateFloatsPerElement))
        let g = [gradient]
        for _ in 0..<steps {
            optimizer.beginStep()
            optimizer.update(parameter: &value, gradient: g, state: &state, count: 1)
        }
        return value[0]
    }

    func testAdamMatchesItsFormula() throws {
        // Two steps with a constant gradient g: m_t, v_t bias-corrected give exactly lr * sign(g) per step (up to eps).
        let adam = try Adam(learningRate: 0.1)
        let result = oneStep(adam, parameter: 1, gradient: 0.5, steps: 2)
        XCTAssertEqual(result, 1 - 0.2, accuracy: 1e-5)
        let decayed = oneStep(try AdamW(learningRate: 0.1, weightDecay: 0.5), parameter: 1, gradient: 0, steps: 1)
        XCTAssertEqual(decayed, 1 * (1 - 0.1 * 0.5), accuracy: 1e-6)
    }

    func testAdamVectorAndScalarPathsAgree() throws {
        let count = 37
        var rng = SeededRandom(seed: 4)
        let start = (0..<count).map { _ in rng.nextFloat(in: -1..<1) }
        let gradient = (0..<count).map { _ in rng.nextFloat(in: -1..<1) }
        let adam = try Adam(learningRate: 0.01)
        var parameters = start, state = [Float](repeating: 0, count: 2 * count)
        for _ in 0..<3 {
            adam.beginStep()
            adam.update(parameter: &parameters, gradient: gradient, state: &state, count: count)
        }
        for i in 0..<count {
            let single = oneStep(try Adam(learningRate: 0.01), parameter: start[i], gradient: gradient[i], steps: 3)
            XCTAssertEqual(parameters[i], single, accuracy: 1e-6, "element \(i)")
        }
    }

    func testSGDMomentumMatchesPyTorchsRule() throws {
        // buf1 = g, p1 = p - lr*g; buf2 = mu*buf1 + g, p2 = p1 - lr*buf2.
        let sgd = try SGD(learningRate: 0.1, momentum: 0.9)
        let result = oneStep(sgd, parameter: 1, gradient: 1, steps: 2)
        XCTAssertEqual(result, 1 - 0.1 - 0.1 * 1.9, accuracy: 1e-6)
    }

    func testBadHyperParametersAreRejected() {
        XCTAssertThrowsError(try Adam(learningRate: -1)) { XCTAssertTrue("\($0)".contains("learning rate")) }
        XCTAssertThrowsError(try Adam(beta1: 1))
        XCTAssertThrowsError(try SGD(learningRate: .nan))
        XCTAssertThrowsError(try SGD(learningRate: 0.1, momentum: 1.5))
        XCTAssertThrowsError(try AdamW(weightDecay: -0.1))
    }

    func testGradientClippingBoundsTheGlobalNorm() throws {
        let model = try Models.pc64(batch: 2)
        let program = try Program(model.graph, loss: model.loss, optimizer: SGD(learningRate: 1e-9))
        program.tensor(model.frames).fill(0.9)
        program.tensor(model.target).fill(0)
        program.forward()
        program.backward()
        let unclipped = program.gradientNorm()
        XCTAssertGreaterThan(unclipped, 1e-4)
        program.clipGradientNorm = unclipped / 10
        try program.step()
        XCTAssertEqual(program.gradientNorm(), unclipped / 10, accuracy: unclipped * 1e-3)
    }

    /// The linear output has the sigmoid model's parameters (so checkpoints and encoders carry
    /// over) and predicts d2's output itself: a large d2 bias gives values above 1, where the
    /// sigmoid's stay below, and the squared error is taken on those values.
    func testPC64LinearOutputIsD2Unsquashed() throws {
        let sigmoid = try Models.pc64(batch: 2, pastFrames: 3, size: 16), linear = try Models.pc64(batch: 2, pastFrames: 3, size: 16, output: .linear)
        func parameters(_ model: FramePredictionModel) -> [String: [Int]] {
            Dictionary(uniqueKeysWithValues: model.graph.parameters.map { (model.graph[$0].name, model.graph[$0].shape.dims) })
        }
        XCTAssertEqual(parameters(sigmoid), parameters(linear))
        XCTAssertEqual(linear.graph.nodes.count, sigmoid.graph.nodes.count - 1, "one node fewer: no sigmoid")
        var results: [(prediction: [Float], loss: Float)] = []
        for model in [sigmoid, linear] {
            let program = try Program(model.graph, seed: 4)
            program.tensor(model.graph.tensor(named: "d2.bias")!).fill(5)
            program.tensor(model.frames).fill(0.5)
            program.tensor(model.target).fill(0)
            program.forward()
            let prediction = Array(program.tensor(model.prediction).floats)
            let loss = program.tensor(model.loss).floats[0]
            XCTAssertEqual(loss, prediction.map { $0 * $0 }.reduce(0, +) / Float(prediction.count), accuracy: loss * 1e-4)
            results.append((prediction, loss))
        }
        XCTAssertLessThan(results[0].prediction.max()!, 1)
        XCTAssertGreaterThan(results[1].prediction.min()!, 1)
        XCTAssertGreaterThan(results[1].loss, results[0].loss)
    }
}
