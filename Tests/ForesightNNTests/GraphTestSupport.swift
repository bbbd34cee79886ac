// Shared helpers of the graph-level gradient tests: a training program with random inputs,
// and central differences of the program's loss against its backward pass.

import XCTest
@testable import ForesightCore
@testable import ForesightNN

/// Tolerances of `checkGradients`.
///
/// The numeric gradient is (L(v + h) - L(v - h)) / 2h of the program's float32 loss, h = 1e-2.
/// Its truncation error is about h^2 / 6 |L'''| (~2e-5 of a unit-scale gradient); rounding a
/// float32 loss of size ~1 costs 6e-8 / 2h = 3e-6 per ulp, ~3e-5 for the ten-odd ulps a graph's
/// sums lose. An element passes when |analytic - numeric| <= 2e-4 + 1e-2 * max(|analytic|, |numeric|).
/// The losses here are means over tens of elements, so gradients are ~1e-3 to 1e-1: the
/// absolute floor is below the kernel tests' 1e-3, which would let a wrong term in a 1e-2-size
/// gradient pass. Kinked operations (ReLU, max pool, L1) get values farther than h from their kinks.
enum Tolerance {
    static let step: Float = 1e-2
    static let absolute = 2e-4
    static let relative = 1e-2
}

/// A training program for `graph` with plain SGD: float inputs uniform in [-1, 1), parameters
/// made with `.ones` / `.zeros` (norm gamma, beta) moved to [0.5, 1.5) / [-0.5, 0.5) so that a
/// gradient that forgets them shows. Int32 inputs stay 0 for the test to fill.
func makeProgram(_ graph: Graph, loss: TensorID, seed: UInt64 = 1) throws -> Program {
    let program = try Program(graph, loss: loss, optimizer: SGD(learningRate: 0.1), seed: seed)
    var random = SeededRandom(seed: seed + 1000)
    for id in graph.inputs where graph[id].dtype == .float32 {
        let values = program.tensor(id).floats
        for i in values.indices { values[i] = random.nextFloat(in: -1..<1) }
    }
    for id in graph.parameters {
        let values = program.tensor(id).floats
        switch graph[id].role {
        case .parameter(.ones): for i in values.indices { values[i] = random.nextFloat(in: 0.5..<1.5) }
        case .parameter(.zeros): for i in values.indices { values[i] = random.nextFloat(in: -0.5..<0.5) }
        default: break
        }
    }
    return program
}

/// Compares `program.backward()` with central differences of `program.forward()`'s loss for
/// every parameter element and, if given, every element of `activation`. An activation is
/// perturbed right after its producer runs, then the nodes after it run. Its gradient
/// is read after the whole backward pass, so it must be the first activation that carries one
/// (a later-written gradient could otherwise reuse its memory).
func checkGradients(_ program: Program, activation: TensorID? = nil, file: StaticString = #filePath, line: UInt = #line) {
    let graph = program.graph
    program.forward()
    program.backward()
    var checked = program.parameters.map { (id: $0, analytic: program.gradient($0)!.toArray()) }
    if let activation {
        let producer = graph[activation].producer!
        precondition(graph.nodes[..<producer].allSatisfy { !graph[$0.output].requiresGradient },
                     "\(graph[activation].name) is not the first activation with a gradient")
        checked.append((activation, program.gradient(activation)!.toArray()))
    }
    var failures: [String] = []
    for (id, analytic) in checked {
        let values = program.tensor(id).floats
        // A parameter is set, then everything runs; an activation is set once its producer has run.
        let setAfter = id == activation ? graph[id].producer! + 1 : 0
        func runUpToSet() { for node in graph.nodes[..<setAfter] { node.operation.forward(pool: program.pool) } }
        func loss(element: Int, value: Float) -> Double {
            runUpToSet()
            values[element] = value
            for node in graph.nodes[setAfter...] { node.operation.forward(pool: program.pool) }
            return Double(program.lossValue)
        }
        var largest = 0.0
        for element in values.indices {
            runUpToSet()
            let original = values[element]
            let above = original + Tolerance.step, below = original - Tolerance.step
            let numeric = (loss(element: element, value: above) - loss(element: element, value: below)) / (Double(above) - Double(below))
            values[element] = original
            let difference = abs(Double(analytic[element]) - numeric)
            if !(difference <= Tolerance.absolute + Tolerance.relative * max(abs(Double(analytic[element])), abs(numeric))) {
                failures.append("\(graph[id].name)[\(element)]: analytic \(analytic[element]), numeric \(numeric)")
            }
            largest = max(largest, abs(numeric))
        }
        // A tensor whose gradient is ~0 everywhere would pass whatever backward does.
        if largest < 10 * Tolerance.absolute { failures.append("\(graph[id].name): largest gradient \(largest) is too small to check") }
    }
    if !failures.isEmpty {
        XCTFail("\(failures.count) gradient mismatches: \(failures.prefix(6).joined(separator: "; "))", file: file, line: line)
    }
}

