// Finite-difference checks of the SSL operations' backward passes (global and masked average pool,
// NT-Xent, VICReg) inside small graphs, and their forward values against direct formulas.

import XCTest
import ForesightCore
import ForesightNN
@testable import ForesightSSL

/// Central differences (h = 1e-2) of the float32 loss against `backward()` for every parameter
/// element; an element passes within 2e-4 + 1e-2 * max(|analytic|, |numeric|), as in
/// ForesightNNTests' graph checks. Float inputs are uniform in [-1, 1).
func checkParameterGradients(_ graph: Graph, loss: TensorID, seed: UInt64 = 1, file: StaticString = #filePath, line: UInt = #line) throws {
    try checkGradients(graph, loss: loss, seed: seed, file: file, line: line)
}

/// Central differences (h = 1e-2) of the loss against `backward()` for every parameter element,
/// with int32 inputs (ids, indices) and chosen float inputs (masks) written from `values` by
/// name; other float inputs are uniform in [-1, 1).
func checkGradients(_ graph: Graph, loss: TensorID, integers: [String: [Int32]] = [:], floats: [String: [Float]] = [:],
                    seed: UInt64 = 1, file: StaticString = #filePath, line: UInt = #line) throws {
    let program = try Program(graph, loss: loss, optimizer: SGD(learningRate: 0.1), seed: seed)
    var random = SeededRandom(seed: seed + 1000)
    for id in graph.inputs {
        let name = graph[id].name
        if let values = integers[name] {
            _ = program.tensor(id).int32s.update(fromContentsOf: values)
        } else if let values = floats[name] {
            program.tensor(id).copy(from: values)
        } else {
            for i in program.tensor(id).floats.indices { program.tensor(id).floats[i] = random.nextFloat(in: -1..<1) }
        }
    }
    program.forward()
    program.backward()
    var failures: [String] = []
    for id in program.parameters {
        let analytic = program.gradient(id)!.toArray(), values = program.tensor(id).floats
        var largest = 0.0
        for element in values.indices {
            let original = values[element]
            values[element] = original + 1e-2; program.forward(); let above = Double(program.lossValue)
            values[element] = original - 1e-2; program.forward(); let below = Double(program.lossValue)
            values[element] = original
            let numeric = (above - below) / 2e-2
            largest = max(largest, abs(numeric))
            if !(abs(Double(analytic[element]) - numeric) <= 2e-4 + 1e-2 * max(abs(Double(analytic[element])), abs(numeric))) {
                failures.append("\(graph[id].name)[\(element)]: analytic \(analytic[element]), numeric \(numeric)")
            }
        }
        if largest < 2e-3 { failures.append("\(graph[id].name): largest gradient \(largest) is too small to check") }
    }
    XCTAssert(failures.isEmpty, "\(failures.count) gradient mismatches: \(failures.prefix(6).joined(separator: "; "))", file: file, line: line)
}

final class SSLGradientTests: XCTestCase {
    func testGlobalAveragePoolGradient() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 3, 3])
        let h = try graph.conv2d(x, outChannels: 4, kernel: 3, padding: 1, name: "conv")
        let pooled = try graph.apply(GlobalAveragePoolOperation(), [h], name: "pool")
        let target = try graph.input("target", [2, 4])
        try checkParameterGradients(graph, loss: try graph.mseLoss(pooled, target, name: "loss"))
    }

    /// Weights of 0, 1 and 2 (and an item whose weights are all 0, which pools to 0).
    func testMaskedAveragePoolGradientAndValue() throws {
        let graph = Graph()
        let x = try graph.input("x", [3, 2, 3, 3])
        let h = try graph.conv2d(x, outChannels: 4, kernel: 3, padding: 1, name: "conv")
        let weights = try graph.input("weights", [3, 1, 3, 3])
        let pooled = try graph.apply(MaskedAveragePoolOperation(), [h, weights], name: "pool")
        let loss = try graph.mseLoss(pooled, try graph.input("target", [3, 4]), name: "loss")
        var weightValues = [Float](repeating: 0, count: 27)
        for i in [0, 4, 8] { weightValues[i] = 1 }
        for i in [10, 11] { weightValues[i] = 2 }
        weightValues[12] = 1
        try checkGradients(graph, loss: loss, floats: ["weights": weightValues])

        let direct = Graph()
        let maps = try direct.input("maps", [3, 2, 3, 3]), cells = try direct.input("cells", [3, 1, 3, 3])
        let region = try direct.apply(MaskedAveragePoolOperation(), [maps, cells], name: "region")
        let program = try Program(direct)
        let values = (0..<54).map { Float($0) }
        program.tensor(maps).copy(from: values)
        program.tensor(cells).copy(from: weightValues.enumerated().map { $0.offset >= 18 ? 0 : $0.element })
        program.forward()
        let expected: [Float] = [(0 + 4 + 8) / 3, (9 + 13 + 17) / 3, (2 * 19 + 2 * 20 + 21) / 5, (2 * 28 + 2 * 29 + 30) / 5, 0, 0]
        for (actual, wanted) in zip(Array(program.tensor(region).floats), expected) { XCTAssertEqual(actual, wanted, accuracy: 1e-4) }
        XCTAssertThrowsError(try direct.apply(MaskedAveragePoolOperation(), [maps, maps], name: "bad")) {
            XCTAssertTrue("\($0)".contains("weights [N, 1, H, W]"), "\($0)")
        }
    }

    func testNTXentGradient() throws {
        for temperature: Float in [0.5, 1] {
            let graph = Graph()
            let x = try graph.input("x", [8, 6])
            let z = try graph.linear(x, outFeatures: 5, name: "projection")
            try checkParameterGradients(graph, loss: try graph.apply(NTXentOperation(temperature: temperature), [z], name: "loss"))
        }
    }

    func testVICRegGradient() throws {
        let graph = Graph()
        let x = try graph.input("x", [10, 6])
        // No bias: a shift of every row changes neither the differences nor the centred views.
        let z = try graph.linear(x, outFeatures: 5, bias: false, name: "projection")
        try checkParameterGradients(graph, loss: try graph.apply(VICRegOperation(), [z], name: "loss"))
    }

    /// Deviations above 1 switch the variance hinge off; the gradient must follow.
    func testVICRegGradientWithWideFeatures() throws {
        let graph = Graph()
        let x = try graph.input("x", [10, 6])
        let z = try graph.scale(try graph.linear(x, outFeatures: 5, bias: false, name: "projection"), by: 4)
        try checkParameterGradients(graph, loss: try graph.apply(VICRegOperation(), [z], name: "loss"))
    }

    /// NT-Xent of two rows pairs against the formula: with B = 2 and u the normalised rows,
    /// loss_i = -log(exp(s_ip / tau) / sum_{j != i} exp(s_ij / tau)).
    func testNTXentValue() throws {
        let rows: [[Float]] = [[1, 0], [0, 1], [1, 0.1], [1, -1]]
        let graph = Graph()
        let z = try graph.input("z", [4, 2])
        let operation = NTXentOperation(temperature: 0.5)
        let loss = try graph.apply(operation, [z], name: "loss")
        let program = try Program(graph)
        program.tensor(z).copy(from: rows.flatMap { $0 })
        program.forward()
        let u = rows.map { row in row.map { Double($0) / (Double(row[0] * row[0] + row[1] * row[1])).squareRoot() } }
        var expected = 0.0
        for i in 0..<4 {
            let s = (0..<4).map { j in (u[i][0] * u[j][0] + u[i][1] * u[j][1]) / 0.5 }
            let denominator = (0..<4).filter { $0 != i }.map { exp(s[$0]) }.reduce(0, +)
            expected += -log(exp(s[(i + 2) % 4]) / denominator) / 4
        }
        XCTAssertEqual(Double(program.tensor(loss).floats[0]), expected, accuracy: 1e-5)
        XCTAssertEqual(operation.accuracy, 0.5) // rows 0 and 2 find each other; 1 and 3 do not
    }

    /// Identical views with unit-deviation, uncorrelated features cost almost nothing in VICReg.
    func testVICRegValueOfIdealEmbeddings() throws {
        let graph = Graph()
        let z = try graph.input("z", [8, 2])
        let operation = VICRegOperation()
        let loss = try graph.apply(operation, [z], name: "loss")
        let program = try Program(graph)
        // One view: 4 rows of (+-a, +-a) in all sign combinations: deviations a sqrt(4/3), zero covariance.
        let a = Float((3.0 / 4.0).squareRoot()) * 1.5
        let view: [Float] = [a, a, a, -a, -a, a, -a, -a]
        program.tensor(z).copy(from: view + view)
        program.forward()
        XCTAssertEqual(program.tensor(loss).floats[0], 0, accuracy: 1e-6)
        program.tensor(z).copy(from: view + view.map { $0 * 0.1 })
        program.forward()
        XCTAssertGreaterThan(operation.terms.invariance, 0.5)
        XCTAssertGreaterThan(operation.terms.variance, 0.5)
    }
}
