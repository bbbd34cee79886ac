// Finite-difference checks of the momentum and non-contrastive losses' backward passes (cosine
// prediction, Barlow Twins, InfoNCE against a queue, batch standardisation) inside small graphs, their forward values
// against direct formulas, and the momentum target's update.

import XCTest
import ForesightCore
import ForesightNN
@testable import ForesightSSL

final class NonContrastiveGradientTests: XCTestCase {
    func testCosinePredictionLossGradient() throws {
        for pairing in [CosinePredictionLossOperation.Pairing.sameRow, .otherView] {
            let graph = Graph()
            let x = try graph.input("x", [6, 5])
            let p = try graph.linear(x, outFeatures: 4, name: "prediction")
            let targets = try graph.input("targets", [6, 4])
            try checkParameterGradients(graph, loss: try graph.apply(CosinePredictionLossOperation(pairing: pairing), [p, targets], name: "loss"))
        }
    }

    /// SimSiam's use: predictions and targets from the same program; the targets' branch gets no gradient.
    func testCosinePredictionLossStopsTheTargetGradient() throws {
        let graph = Graph()
        let x = try graph.input("x", [6, 5])
        let z = try graph.linear(x, outFeatures: 4, name: "projection")
        let p = try graph.linear(z, outFeatures: 4, name: "predictor")
        let loss = try graph.apply(CosinePredictionLossOperation(pairing: .otherView), [p, z], name: "loss")
        let program = try Program(graph, loss: loss, optimizer: SGD(learningRate: 0.1), seed: 3)
        var random = SeededRandom(seed: 4)
        for i in program.tensor(x).floats.indices { program.tensor(x).floats[i] = random.nextFloat(in: -1..<1) }
        program.forward()
        program.backward()
        // The projection's gradient then comes only through the predictor, so it equals the
        // gradient of the same graph with the targets copied into a constant input.
        let constantGraph = Graph()
        let cx = try constantGraph.input("x", [6, 5])
        let cz = try constantGraph.linear(cx, outFeatures: 4, name: "projection")
        let cp = try constantGraph.linear(cz, outFeatures: 4, name: "predictor")
        let targets = try constantGraph.input("targets", [6, 4])
        let constantLoss = try constantGraph.apply(CosinePredictionLossOperation(pairing: .otherView), [cp, targets], name: "loss")
        let constant = try Program(constantGraph, loss: constantLoss, optimizer: SGD(learningRate: 0.1), seed: 3)
        constant.tensor(cx).copy(from: program.tensor(x).toArray())
        constant.tensor(targets).copy(from: program.tensor(z).toArray())
        constant.forward()
        constant.backward()
        XCTAssertEqual(program.lossValue, constant.lossValue, accuracy: 1e-6)
        for name in ["projection.weight", "predictor.weight"] {
            let a = program.gradient(graph.tensor(named: name)!)!.toArray()
            let b = constant.gradient(constantGraph.tensor(named: name)!)!.toArray()
            for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-6, name) }
        }
    }

    func testCosinePredictionLossValue() throws {
        let graph = Graph()
        let p = try graph.input("p", [2, 2]), t = try graph.input("t", [2, 2])
        let operation = CosinePredictionLossOperation(pairing: .otherView)
        let loss = try graph.apply(operation, [p, t], name: "loss")
        let program = try Program(graph)
        program.tensor(p).copy(from: [3, 0, 0, 2])
        program.tensor(t).copy(from: [1, 1, 5, 0])   // row 0 meets target row 1 (same direction), row 1 meets row 0 (45 degrees)
        program.forward()
        let cosine = (1 + (0.5).squareRoot()) / 2
        XCTAssertEqual(Double(program.tensor(loss).floats[0]), 2 - 2 * cosine, accuracy: 1e-6)
        XCTAssertEqual(Double(operation.meanCosine), cosine, accuracy: 1e-6)
    }

    func testBarlowTwinsGradient() throws {
        for weight: Float in [5e-3, 0.5] {
            let graph = Graph()
            let x = try graph.input("x", [12, 5])
            // No bias: the standardisation of each column removes any shift.
            let z = try graph.linear(x, outFeatures: 4, bias: false, name: "projection")
            try checkParameterGradients(graph, loss: try graph.apply(BarlowTwinsOperation(offDiagonalWeight: weight), [z], name: "loss"))
        }
    }

    /// Two identical views with standardised, uncorrelated columns give C = I and a loss of 0;
    /// a view against its negation gives C = -I: (1 - (-1))^2 per feature.
    func testBarlowTwinsValue() throws {
        let graph = Graph()
        let z = try graph.input("z", [8, 2])
        let operation = BarlowTwinsOperation(offDiagonalWeight: 0.1)
        let loss = try graph.apply(operation, [z], name: "loss")
        let program = try Program(graph)
        let view: [Float] = [1, 1, 1, -1, -1, 1, -1, -1]
        program.tensor(z).copy(from: view + view)
        program.forward()
        XCTAssertEqual(program.tensor(loss).floats[0], 0, accuracy: 1e-4)
        program.tensor(z).copy(from: view + view.map { -$0 })
        program.forward()
        XCTAssertEqual(program.tensor(loss).floats[0], 8, accuracy: 1e-3)
        XCTAssertEqual(operation.terms.redundancy, 0, accuracy: 1e-6)
    }

    func testBatchStandardizeGradient() throws {
        let graph = Graph()
        let x = try graph.input("x", [6, 4])
        let h = try graph.apply(BatchStandardizeOperation(), [try graph.linear(x, outFeatures: 3, bias: false, name: "layer")], name: "norm")
        // A fixed weighting of the outputs (the standardised columns' plain sum is always 0).
        let weights = try graph.input("weights", [6, 3])
        try checkParameterGradients(graph, loss: try graph.mseLoss(h, weights, name: "loss"))
    }

    func testBatchStandardizeValue() throws {
        let graph = Graph()
        let x = try graph.input("x", [4, 1])
        let y = try graph.apply(BatchStandardizeOperation(), [x], name: "norm")
        let program = try Program(graph)
        program.tensor(x).copy(from: [1, 3, 5, 7])   // mean 4, biased variance 5
        program.forward()
        let expected = [-3, -1, 1, 3].map { Float($0) / (5 + 1e-5).squareRoot() }
        for (value, wanted) in zip(program.tensor(y).toArray(), expected) { XCTAssertEqual(value, wanted, accuracy: 1e-5) }
    }

    func testQueueInfoNCEGradient() throws {
        for temperature: Float in [0.5, 1] {
            let graph = Graph()
            let x = try graph.input("x", [4, 5])
            let q = try graph.linear(x, outFeatures: 3, name: "query")
            let keys = try graph.input("keys", [4, 3]), queue = try graph.input("queue", [6, 3])
            try checkParameterGradients(graph, loss: try graph.apply(QueueInfoNCEOperation(temperature: temperature), [q, keys, queue], name: "loss"))
        }
    }

    /// One query, its key and two queued keys, against -log softmax written out.
    func testQueueInfoNCEValue() throws {
        let graph = Graph()
        let q = try graph.input("q", [1, 2]), k = try graph.input("k", [1, 2]), queue = try graph.input("queue", [2, 2])
        let operation = QueueInfoNCEOperation(temperature: 0.5)
        let loss = try graph.apply(operation, [q, k, queue], name: "loss")
        let program = try Program(graph)
        program.tensor(q).copy(from: [2, 0])
        program.tensor(k).copy(from: [1, 1])
        program.tensor(queue).copy(from: [0, 3, -1, 0])
        program.forward()
        let logits = [(0.5).squareRoot() / 0.5, 0, -1 / 0.5]
        let expected = -log(exp(logits[0]) / logits.map(exp).reduce(0, +))
        XCTAssertEqual(Double(program.tensor(loss).floats[0]), expected, accuracy: 1e-5)
        XCTAssertEqual(operation.accuracy, 1)
    }

    func testMomentumTargetFollowsTheOnlineParameters() throws {
        let online = Graph()
        let x = try online.input("x", [2, 3])
        let loss = try online.mseLoss(try online.linear(x, outFeatures: 2, name: "layer"), try online.input("y", [2, 2]), name: "loss")
        let onlineProgram = try Program(online, loss: loss, optimizer: SGD(learningRate: 0.1), seed: 5)
        let targetGraph = Graph()
        _ = try targetGraph.linear(try targetGraph.input("x", [2, 3]), outFeatures: 2, name: "layer")
        let target = try MomentumTarget(graph: targetGraph, following: onlineProgram, momentum: 0.75)
        let weight = onlineProgram.tensor(online.tensor(named: "layer.weight")!)
        let targetWeight = target.program.tensor(targetGraph.tensor(named: "layer.weight")!)
        XCTAssertEqual(targetWeight.toArray(), weight.toArray())
        let before = weight.toArray()
        for i in weight.floats.indices { weight.floats[i] += 1 }
        target.update()
        for (value, old) in zip(targetWeight.toArray(), before) { XCTAssertEqual(value, old + 0.25, accuracy: 1e-6) }

        let other = Graph()
        _ = try other.linear(try other.input("x", [2, 3]), outFeatures: 2, name: "elsewhere")
        XCTAssertThrowsError(try MomentumTarget(graph: other, following: onlineProgram, momentum: 0.9))
        XCTAssertThrowsError(try MomentumTarget(graph: targetGraph, following: onlineProgram, momentum: 1.5))
    }
}
