// The convolutional GRU: finite-difference gradients through several frames and two stacked
// layers, the forward pass against its equations evaluated in Double, bad shapes, allocation-free
// steps, and a layer that learns a motion direction it can only know by remembering.

import CAllocationCounter
import Foundation
import XCTest
@testable import ForesightCore
@testable import ForesightNN

final class ConvGRUTests: XCTestCase {
    /// Two stacked layers over 2 clips of 4 frames: the first on parameter frames (their
    /// gradient is checked), the second (kernel 1) on the first's states; all weights and biases.
    func testConvGRUGradientsThroughTime() throws {
        let graph = Graph()
        let frames = try graph.parameter("frames", [2 * 4, 2, 4, 3], initializer: .uniform(bound: 1))
        let first = try graph.convGRU(frames, steps: 4, hidden: 2, name: "first")
        let second = try graph.convGRU(first, steps: 4, hidden: 2, kernel: 1, name: "second")
        let loss = try graph.mseLoss(try graph.scale(second, by: 4), try graph.input("target", [8, 2, 4, 3]), name: "loss")
        let program = try makeProgram(graph, loss: loss, seed: 5)
        // Larger weights than the default so that gates saturate partly and every path matters.
        var random = SeededRandom(seed: 78)
        for id in program.parameters where graph[id].name != "frames" {
            let values = program.tensor(id).floats
            for i in values.indices { values[i] = random.nextFloat(in: -0.8..<0.8) }
        }
        checkGradients(program)
    }

    /// The same check with two threads: the convolutions' per-thread gradient sums must add up.
    func testConvGRUGradientsWithTwoThreads() throws {
        let graph = Graph()
        let frames = try graph.parameter("frames", [3 * 3, 1, 5, 5], initializer: .uniform(bound: 1))
        let states = try graph.convGRU(frames, steps: 3, hidden: 3, name: "gru")
        let loss = try graph.mseLoss(try graph.scale(states, by: 4), try graph.input("target", [9, 3, 5, 5]), name: "loss")
        let program = try Program(graph, loss: loss, optimizer: SGD(learningRate: 0.1), threads: 2, seed: 6)
        var random = SeededRandom(seed: 79)
        for id in graph.inputs { let v = program.tensor(id).floats; for i in v.indices { v[i] = random.nextFloat(in: -1..<1) } }
        for id in program.parameters {
            let values = program.tensor(id).floats
            for i in values.indices { values[i] = random.nextFloat(in: -0.8..<0.8) }
        }
        checkGradients(program)
    }

    /// The output against the gate equations, with convolutions written out, in Double.
    func testConvGRUForwardMatchesItsEquations() throws {
        let (clips, steps, channels, hidden, height, width, k) = (2, 3, 2, 3, 4, 5, 3)
        let graph = Graph()
        let x = try graph.input("x", [clips * steps, channels, height, width])
        let h = try graph.convGRU(x, steps: steps, hidden: hidden, name: "gru")
        let program = try makeProgram(graph, loss: try graph.mseLoss(h, try graph.input("target", [clips * steps, hidden, height, width]), name: "loss"))
        program.forward()
        func values(_ name: String) -> [Double] { program.tensor(graph.tensor(named: name)!).toArray().map(Double.init) }
        let wx = values("gru.weight_x"), wh = values("gru.weight_h"), bx = values("gru.bias_x"), bh = values("gru.bias_h")
        let input = program.tensor(x).toArray().map(Double.init), output = program.tensor(h).toArray()
        let plane = height * width
        /// Filter `row` of `weight` [3F, inChannels, k, k] convolved with `source` [inChannels, H, W] at (yy, xx), padding k/2.
        func convolve(_ weight: [Double], _ row: Int, _ source: [Double], _ inChannels: Int, _ yy: Int, _ xx: Int) -> Double {
            var total = 0.0
            for c in 0..<inChannels {
                for ky in 0..<k {
                    for kx in 0..<k {
                        let sy = yy + ky - k / 2, sx = xx + kx - k / 2
                        guard sy >= 0, sy < height, sx >= 0, sx < width else { continue }
                        total += weight[((row * inChannels + c) * k + ky) * k + kx] * source[c * plane + sy * width + sx]
                    }
                }
            }
            return total
        }
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        for n in 0..<clips {
            var state = [Double](repeating: 0, count: hidden * plane)
            for t in 0..<steps {
                let frame = Array(input[((n * steps + t) * channels * plane)..<((n * steps + t + 1) * channels * plane)])
                var next = state
                for f in 0..<hidden {
                    for yy in 0..<height {
                        for xx in 0..<width {
                            func gate(_ g: Int) -> (Double, Double) {
                                let row = g * hidden + f
                                return (bx[row] + convolve(wx, row, frame, channels, yy, xx), bh[row] + convolve(wh, row, state, hidden, yy, xx))
                            }
                            let (ri, rh) = gate(0), (zi, zh) = gate(1), (ni, nh) = gate(2)
                            let r = sigmoid(ri + rh), z = sigmoid(zi + zh), candidate = Foundation.tanh(ni + r * nh)
                            let unit = f * plane + yy * width + xx
                            next[unit] = (1 - z) * candidate + z * state[unit]
                        }
                    }
                }
                state = next
                for unit in 0..<hidden * plane {
                    XCTAssertEqual(Double(output[(n * steps + t) * hidden * plane + unit]), state[unit], accuracy: 1e-5, "clip \(n) frame \(t) unit \(unit)")
                }
            }
        }
    }

    func testBadShapesAreClearErrors() throws {
        let graph = Graph()
        let frames = try graph.input("frames", [6, 2, 4, 4])
        XCTAssertThrowsError(try graph.convGRU(frames, steps: 4, hidden: 3, name: "uneven")) { XCTAssertTrue("\($0)".contains("[N*steps, C, H, W]"), "\($0)") }
        XCTAssertThrowsError(try graph.convGRU(frames, steps: 3, hidden: 3, kernel: 2, name: "even")) { XCTAssertTrue("\($0)".contains("odd kernel"), "\($0)") }
        let wrong = try graph.parameter("wrong", [9, 3, 3, 3], initializer: .zeros)
        let wh = try graph.parameter("wh", [9, 3, 3, 3], initializer: .zeros)
        let bias = try graph.parameter("bias", [9], initializer: .zeros)
        XCTAssertThrowsError(try graph.apply(ConvGRUOperation(steps: 3), [frames, wrong, wh, bias, bias], name: "bad")) { error in
            XCTAssertTrue("\(error)".contains("weight_x [9, 2, 3, 3]") && "\(error)".contains("[9x3x3x3]"), "\(error)")
        }
    }

    func testConvGRUStepsDoNotAllocate() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let graph = Graph()
        let x = try graph.input("x", [2 * 5, 1, 8, 8])
        let states = try graph.convGRU(x, steps: 5, hidden: 4, name: "gru")
        let loss = try graph.mseLoss(states, try graph.input("target", [10, 4, 8, 8]), name: "loss")
        for threads in [1, 2] {
            let program = try Program(graph, loss: loss, optimizer: Adam(), threads: threads)
            program.tensor(x).fill(0.3)
            for _ in 0..<2 { try program.step() }
            let allocations = try quietestWindowAllocations(pool: program.pool) { try program.step() }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps with \(threads) thread(s)")
        }
    }

    /// A dot moves one pixel per frame, left or right at random, on a ring of 8 columns. The next
    /// position depends on the direction, which a single frame does not show: a model without
    /// memory cannot beat 50% on it, the convolutional GRU must carry the previous position.
    func testConvGRULearnsDirectionOfMotion() throws {
        let (clips, steps, size) = (16, 6, 8)
        let graph = Graph()
        let frames = try graph.input("frames", [clips * steps, 1, 1, size])
        let target = try graph.input("next", [clips * steps, 1, 1, size])
        let states = try graph.convGRU(frames, steps: steps, hidden: 8, name: "gru")
        let prediction = try graph.conv2d(states, outChannels: 1, kernel: 3, padding: 1, name: "readout")
        let loss = try graph.mseLoss(prediction, target, name: "loss")
        let program = try Program(graph, loss: loss, optimizer: Adam(learningRate: 0.01), seed: 3)
        var random = SeededRandom(seed: 12)
        var positions = [Int](repeating: 0, count: clips * steps)
        func drawBatch() {
            let x = program.tensor(frames).floats, y = program.tensor(target).floats
            for i in x.indices { x[i] = 0; y[i] = 0 }
            for n in 0..<clips {
                var position = random.nextInt(below: size)
                let direction = random.nextInt(below: 2) == 0 ? -1 : 1
                for t in 0..<steps {
                    x[(n * steps + t) * size + position] = 1
                    position = (position + direction + size) % size
                    y[(n * steps + t) * size + position] = 1
                    positions[n * steps + t] = position
                }
            }
        }
        /// Fraction of frames after the first (where the direction is visible) whose brightest predicted pixel is the dot.
        func accuracy() -> Double {
            var correct = 0, total = 0
            for _ in 0..<4 {
                drawBatch()
                program.forward()
                let p = program.tensor(prediction).floats
                for n in 0..<clips {
                    for t in 1..<steps {
                        let row = (n * steps + t) * size
                        let best = (0..<size).max { p[row + $0] < p[row + $1] }!
                        correct += best == positions[n * steps + t] ? 1 : 0
                        total += 1
                    }
                }
            }
            return Double(correct) / Double(total)
        }
        let before = accuracy()
        for _ in 0..<300 {
            drawBatch()
            try program.step()
        }
        let after = accuracy()
        print("convolutional GRU, next position of a moving dot: accuracy \(before) -> \(after) (0.5 without memory)")
        XCTAssertLessThan(before, 0.5, "an untrained layer should not know the direction")
        XCTAssertGreaterThan(after, 0.9, "next-position accuracy \(before) -> \(after); without memory the best is 0.5")
    }
}
