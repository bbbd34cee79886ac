// GRU, LSTM and InfoNCE: graph-level finite-difference gradient checks through several time
// steps, a check of the GRU against its equations stepped by hand, bad shapes, allocation-free
// steps, and a GRU that learns running parity. The audio CPC model is in AudioCPCTests.

import CAllocationCounter
import XCTest
@testable import ForesightCore
@testable import ForesightNN

final class RecurrentTests: XCTestCase {
    // MARK: gradients

    /// Two stacked layers over 5 steps: the first on a parameter sequence (its input gradient
    /// is checked), the second on the first's output; all weights and biases.
    private func checkStackedRecurrentGradients(_ cell: RecurrentCell) throws {
        let graph = Graph()
        let sequence = try graph.parameter("sequence", [2, 5, 3], initializer: .uniform(bound: 1))
        let build = cell == .gru ? graph.gru : graph.lstm
        let first = try build(sequence, 4, "first")
        let second = try build(first, 3, "second")
        // The recurrent outputs are below 1 and the PyTorch initialisation small: scale so that
        // gradients are well above the tolerance floor.
        let loss = try graph.mseLoss(try graph.scale(second, by: 4), try graph.input("target", [2, 5, 3]), name: "loss")
        let program = try makeProgram(graph, loss: loss, seed: cell == .gru ? 3 : 4)
        // Larger weights than PyTorch's ±1/sqrt(H) so that gates saturate partly and every path matters.
        var random = SeededRandom(seed: 77)
        for id in program.parameters where graph[id].name != "sequence" {
            let values = program.tensor(id).floats
            for i in values.indices { values[i] = random.nextFloat(in: -1..<1) }
        }
        checkGradients(program)
    }

    func testGRUGradientsThroughTime() throws { try checkStackedRecurrentGradients(.gru) }

    func testLSTMGradientsThroughTime() throws { try checkStackedRecurrentGradients(.lstm) }

    /// InfoNCE on parameter context and encodings (their gradients are checked) over 3 steps ahead.
    func testInfoNCEGradients() throws {
        let graph = Graph()
        let context = try graph.parameter("context", [2, 6, 3], initializer: .uniform(bound: 1))
        let encodings = try graph.parameter("encodings", [2, 6, 4], initializer: .uniform(bound: 1))
        let (loss, objective) = try graph.infoNCELoss(context: context, encodings: encodings, predictionSteps: 3, name: "cpc")
        let program = try makeProgram(graph, loss: loss)
        checkGradients(program)
        XCTAssertEqual(objective.predictionCount, 2 * (5 + 4 + 3))
        XCTAssertEqual(objective.chance, 1 / 12)
    }

    /// The whole CPC stack: a linear encoder, a GRU context, InfoNCE; input gradient through all.
    func testCPCStackGradients() throws {
        let graph = Graph()
        let frames = try graph.parameter("frames", [2, 5, 3], initializer: .uniform(bound: 1))
        let encodings = try graph.tanh(try graph.linear(frames, outFeatures: 4, name: "encoder"))
        let context = try graph.gru(encodings, hidden: 3, name: "context")
        let (loss, _) = try graph.infoNCELoss(context: context, encodings: encodings, predictionSteps: 2, name: "cpc")
        let program = try makeProgram(graph, loss: loss)
        var random = SeededRandom(seed: 5)
        for id in program.parameters where graph[id].name != "frames" {
            let values = program.tensor(id).floats
            for i in values.indices { values[i] = random.nextFloat(in: -1.5..<1.5) }
        }
        checkGradients(program)
    }

    // MARK: forward against the equations

    /// The GRU output against PyTorch's equations evaluated step by step in Double.
    func testGRUForwardMatchesItsEquations() throws {
        let (batch, steps, inputs, hidden) = (2, 4, 3, 5)
        let graph = Graph()
        let x = try graph.input("x", [batch, steps, inputs])
        let h = try graph.gru(x, hidden: hidden, name: "gru")
        let program = try makeProgram(graph, loss: try graph.mseLoss(h, try graph.input("target", [batch, steps, hidden]), name: "loss"))
        program.forward()
        func values(_ name: String) -> [Double] { program.tensor(graph.tensor(named: name)!).toArray().map(Double.init) }
        let wih = values("gru.weight_ih"), whh = values("gru.weight_hh"), bih = values("gru.bias_ih"), bhh = values("gru.bias_hh")
        let input = program.tensor(x).toArray().map(Double.init), output = program.tensor(h).toArray()
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        for n in 0..<batch {
            var state = [Double](repeating: 0, count: hidden)
            for t in 0..<steps {
                func project(_ gate: Int, _ unit: Int) -> (Double, Double) {
                    let row = gate * hidden + unit
                    var fromInput = bih[row], fromState = bhh[row]
                    for i in 0..<inputs { fromInput += wih[row * inputs + i] * input[(n * steps + t) * inputs + i] }
                    for j in 0..<hidden { fromState += whh[row * hidden + j] * state[j] }
                    return (fromInput, fromState)
                }
                var next = state
                for unit in 0..<hidden {
                    let (ri, rh) = project(0, unit), (zi, zh) = project(1, unit), (ni, nh) = project(2, unit)
                    let r = sigmoid(ri + rh), z = sigmoid(zi + zh), candidate = Foundation.tanh(ni + r * nh)
                    next[unit] = (1 - z) * candidate + z * state[unit]
                }
                state = next
                for unit in 0..<hidden {
                    XCTAssertEqual(Double(output[(n * steps + t) * hidden + unit]), state[unit], accuracy: 1e-5, "n \(n) t \(t) unit \(unit)")
                }
            }
        }
    }

    // MARK: bad input and memory

    func testBadShapesAreClearErrors() throws {
        let graph = Graph()
        let flat = try graph.input("flat", [4, 3])
        XCTAssertThrowsError(try graph.gru(flat, hidden: 2, name: "gru")) { XCTAssertTrue("\($0)".contains("[N, T, features]"), "\($0)") }
        let x = try graph.input("x", [2, 3, 4])
        let wrong = try graph.parameter("wrong", [8, 4], initializer: .zeros)
        let whh = try graph.parameter("whh", [6, 2], initializer: .zeros)
        let bias = try graph.parameter("bias", [6], initializer: .zeros)
        XCTAssertThrowsError(try graph.apply(RecurrentOperation(.gru), [x, wrong, whh, bias, bias], name: "bad")) { error in
            XCTAssertTrue("\(error)".contains("weight_ih [6, 4]") && "\(error)".contains("[8x4]"), "\(error)")
        }
        let z = try graph.input("z", [2, 4, 5])
        XCTAssertThrowsError(try graph.infoNCELoss(context: x, encodings: z, predictionSteps: 1, name: "cpc")) { error in
            XCTAssertTrue("\(error)".contains("encodings [2, 3, E]"), "\(error)")
        }
        XCTAssertThrowsError(try graph.infoNCELoss(context: x, encodings: try graph.input("z3", [2, 3, 5]), predictionSteps: 3, name: "cpc3")) { error in
            XCTAssertTrue("\(error)".contains("more than 3 time steps"), "\(error)")
        }
    }

    func testRecurrentAndInfoNCEStepsDoNotAllocate() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let graph = Graph()
        let x = try graph.input("x", [4, 12, 10])
        let z = try graph.linear(x, outFeatures: 16, name: "encoder")
        let lstm = try graph.lstm(z, hidden: 16, name: "lstm")
        let context = try graph.gru(lstm, hidden: 20, name: "gru")
        let (loss, _) = try graph.infoNCELoss(context: context, encodings: z, predictionSteps: 3, name: "cpc")
        for threads in [1, 2] {
            let program = try Program(graph, loss: loss, optimizer: Adam(), threads: threads)
            program.tensor(x).fill(0.3)
            for _ in 0..<3 { try program.step() }
            let allocations = try quietestWindowAllocations(pool: program.pool) { try program.step() }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps with \(threads) thread(s)")
        }
    }

    // MARK: learning

    /// Running parity of a random bit stream: output t must be x_0 xor ... xor x_t, which needs
    /// the state to carry one bit through every step. A per-step model without memory scores 50%.
    func testGRULearnsRunningParity() throws {
        let (batch, steps) = (32, 12)
        let graph = Graph()
        let bits = try graph.input("bits", [batch, steps, 1])
        let target = try graph.input("parity", [batch, steps, 1])
        let state = try graph.gru(bits, hidden: 16, name: "gru")
        let prediction = try graph.sigmoid(try graph.linear(state, outFeatures: 1, name: "readout"))
        let loss = try graph.mseLoss(prediction, target, name: "loss")
        let program = try Program(graph, loss: loss, optimizer: Adam(learningRate: 0.01), seed: 7)
        var random = SeededRandom(seed: 21)
        func drawBatch() {
            let x = program.tensor(bits).floats, y = program.tensor(target).floats
            for n in 0..<batch {
                var parity = 0
                for t in 0..<steps {
                    let bit = random.nextInt(below: 2)
                    parity ^= bit
                    x[n * steps + t] = Float(bit)
                    y[n * steps + t] = Float(parity)
                }
            }
        }
        func accuracy() -> Double {
            var correct = 0, total = 0
            for _ in 0..<4 {
                drawBatch()
                program.forward()
                let p = program.tensor(prediction).floats, y = program.tensor(target).floats
                for i in p.indices { correct += (p[i] > 0.5) == (y[i] > 0.5) ? 1 : 0; total += 1 }
            }
            return Double(correct) / Double(total)
        }
        let before = accuracy()
        for _ in 0..<600 {
            drawBatch()
            try program.step()
        }
        let after = accuracy()
        XCTAssertLessThan(before, 0.7, "an untrained GRU should not know parity")
        XCTAssertGreaterThan(after, 0.97, "running parity accuracy \(before) -> \(after)")
    }
}
