// Graph-level gradient checks: small graphs built through `Graph` and run by `Program`, every
// parameter gradient (and one early activation's) against central differences of the program's
// own loss; bad shapes as thrown errors; a small classifier that learns. Kernel-level checks are
// in ForesightCoreTests.

import CAllocationCounter
import XCTest
@testable import ForesightCore
@testable import ForesightNN

final class GraphGradientTests: XCTestCase {
    // MARK: existing operations

    /// Strided grouped (im2col, scattered input gradient), direct few-channel stride-1 (flipped-
    /// weight input gradient) and pointwise convolutions, with and without bias.
    func testConv2dGradients() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 4, 7, 7])
        let pointwise = try graph.conv2d(x, outChannels: 4, kernel: 1, name: "pointwise")
        var h = try graph.gelu(pointwise)
        h = try graph.tanh(try graph.conv2d(h, outChannels: 6, kernel: 3, stride: 2, padding: 1, groups: 2, name: "strided"))
        h = try graph.sigmoid(try graph.conv2d(h, outChannels: 3, kernel: 3, padding: 1, bias: false, name: "direct"))
        h = try graph.conv2d(h, outChannels: 2, kernel: 1, bias: false, name: "last")
        h = try graph.scale(h, by: 8)                          // gradients of PyTorch-initialised layers are small
        let loss = try graph.mseLoss(h, try graph.input("target", [2, 2, 4, 4]), name: "loss")
        checkGradients(try makeProgram(graph, loss: loss), activation: pointwise)
    }

    func testLinearOnRank3InputGradients() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 5])
        let first = try graph.linear(x, outFeatures: 4, name: "fc1")
        let h = try graph.linear(try graph.sigmoid(first), outFeatures: 3, bias: false, name: "fc2")
        let loss = try graph.mseLoss(h, try graph.input("target", [2, 3, 3]), name: "loss")
        checkGradients(try makeProgram(graph, loss: loss), activation: first)
    }

    /// Each activation straight on a parameter, so perturbing one element never crosses a kink
    /// (values are at least 0.1 from 0).
    func testActivationGradients() throws {
        let kinds: [Activation] = [.relu, .leakyRelu(slope: 0.1), .gelu, .sigmoid, .tanh]
        for (index, kind) in kinds.enumerated() {
            let graph = Graph()
            let p = try graph.parameter("p", [3, 7], initializer: .zeros)
            let y = try graph.activation(p, kind, name: "y")
            let loss = try graph.mseLoss(y, try graph.input("target", [3, 7]), name: "loss")
            let program = try makeProgram(graph, loss: loss, seed: UInt64(index))
            var random = SeededRandom(seed: 50 + UInt64(index))
            let values = program.tensor(p).floats
            for i in values.indices { values[i] = (random.nextFloat() < 0.5 ? -1 : 1) * random.nextFloat(in: 0.1..<1.5) }
            checkGradients(program, activation: y)
        }
    }

    func testUpsampleGradients() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 2, 3, 3])
        let h = try graph.conv2d(x, outChannels: 3, kernel: 1, name: "conv")
        let nearest = try graph.upsampleNearest2x(h, name: "nearest")
        let bilinear = try graph.upsampleBilinear2x(nearest, name: "bilinear")
        let loss = try graph.mseLoss(bilinear, try graph.input("target", [2, 3, 12, 12]), name: "loss")
        checkGradients(try makeProgram(graph, loss: loss), activation: h)
    }

    /// L1 with every target at least 0.1 away from its prediction; cross-entropy from int32 labels.
    func testL1AndCrossEntropyGradients() throws {
        let l1Graph = Graph()
        let p = try l1Graph.parameter("p", [4, 5], initializer: .fanIn(1))
        let target = try l1Graph.input("target", [4, 5])
        let l1 = try makeProgram(l1Graph, loss: try l1Graph.l1Loss(p, target, name: "loss"))
        var random = SeededRandom(seed: 8)
        for i in 0..<20 {
            l1.tensor(target).floats[i] = l1.tensor(p).floats[i] + (random.nextFloat() < 0.5 ? -1 : 1) * random.nextFloat(in: 0.1..<1)
        }
        checkGradients(l1)

        let graph = Graph()
        let x = try graph.input("x", [6, 5])
        let labels = try graph.input("labels", [6], dtype: .int32)
        let logits = try graph.linear(x, outFeatures: 4, name: "fc")
        let program = try makeProgram(graph, loss: try graph.crossEntropyLoss(logits, labels, name: "loss"))
        for (i, label) in [0, 3, 1, 2, 3, 0].enumerated() { program.tensor(labels).int32s[i] = Int32(label) }
        checkGradients(program, activation: logits)
    }

    // MARK: pooling and normalization

    /// Max and average pooling of one parameter with overlapping, padded windows; its values are
    /// distinct and 0.05 apart, so a step of h never changes which one is a window's maximum.
    func testPoolingGradients() throws {
        let graph = Graph()
        let p = try graph.parameter("p", [2, 2, 5, 5], initializer: .zeros)
        let maximum = try graph.maxPool2d(p, kernel: 3, stride: 2, padding: 1)
        let average = try graph.avgPool2d(p, kernel: 3, stride: 2, padding: 1)
        let loss = try graph.mseLoss(try graph.add(maximum, average), try graph.input("target", [2, 2, 3, 3]), name: "loss")
        let program = try makeProgram(graph, loss: loss)
        var random = SeededRandom(seed: 4)
        let ranks = Array(0..<100).shuffled(using: &random)
        for (i, rank) in ranks.enumerated() { program.tensor(p).floats[i] = Float(rank) * 0.05 - 2.5 }
        checkGradients(program)

        // Average pooling's input gradient, with default stride, after a convolution.
        let second = Graph()
        let x = try second.input("x", [2, 2, 6, 6])
        let h = try second.conv2d(x, outChannels: 3, kernel: 3, padding: 1, name: "conv")
        let pooled = try second.tanh(try second.avgPool2d(h, kernel: 2))
        let secondLoss = try second.mseLoss(pooled, try second.input("target", [2, 3, 3, 3]), name: "loss")
        checkGradients(try makeProgram(second, loss: secondLoss), activation: h)
    }

    /// Softmax over the last axis of a rank-3 tensor, scaled up so its gradients are not tiny.
    func testSoftmaxGradients() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 4])
        let logits = try graph.linear(x, outFeatures: 5, name: "fc")
        let probabilities = try graph.scale(try graph.softmax(logits), by: 4)
        let loss = try graph.mseLoss(probabilities, try graph.input("target", [2, 3, 5]), name: "loss")
        checkGradients(try makeProgram(graph, loss: loss), activation: logits)
    }

    /// Layer norm straight on an input (no input gradient: the operation's stand-in path) and
    /// after a linear layer (its input gradient, checked through the linear layer's output).
    func testLayerNormGradients() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 8])
        let normalized = try graph.layerNorm(x, name: "ln")
        checkGradients(try makeProgram(graph, loss: try graph.mseLoss(normalized, try graph.input("target", [2, 3, 8]), name: "loss")))

        let second = Graph()
        let features = try second.linear(try second.input("x", [2, 3, 6]), outFeatures: 8, name: "fc")
        let h = try second.gelu(try second.layerNorm(features, name: "ln"))
        let loss = try second.mseLoss(h, try second.input("target", [2, 3, 8]), name: "loss")
        checkGradients(try makeProgram(second, loss: loss), activation: features)
    }

    /// Group norm straight on an input (stand-in path) and after a convolution.
    func testGroupNormGradients() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 4, 3, 3])
        let normalized = try graph.groupNorm(x, groups: 2, name: "gn")
        checkGradients(try makeProgram(graph, loss: try graph.mseLoss(normalized, try graph.input("target", [2, 4, 3, 3]), name: "loss")))

        let second = Graph()
        let h = try second.conv2d(try second.input("x", [2, 3, 4, 4]), outChannels: 6, kernel: 3, padding: 1, name: "conv")
        let y = try second.tanh(try second.groupNorm(h, groups: 3, name: "gn"))
        let loss = try second.mseLoss(y, try second.input("target", [2, 6, 4, 4]), name: "loss")
        checkGradients(try makeProgram(second, loss: loss), activation: h)
    }

    // MARK: element-wise and concatenation

    /// Add, multiply and scale: one side an input (no gradient), the same tensor on both sides,
    /// and a parameter used by several operations.
    func testElementwiseGradients() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 4])
        let p = try graph.parameter("p", [2, 3, 4], initializer: .fanIn(1))
        let q = try graph.parameter("q", [2, 3, 4], initializer: .fanIn(1))
        let first = try graph.add(p, x)                        // one-sided add
        var h = try graph.multiply(first, q)
        h = try graph.multiply(x, h)                           // one-sided multiply, input first
        h = try graph.add(x, try graph.multiply(h, x))         // and input second; one-sided add, input first
        h = try graph.add(h, h)                                // x + x
        h = try graph.multiply(h, h)                           // x * x
        h = try graph.add(h, try graph.multiply(q, q))
        h = try graph.add(h, try graph.add(p, p))
        h = try graph.scale(h, by: 0.5)
        let loss = try graph.mseLoss(h, try graph.input("target", [2, 3, 4]), name: "loss")
        checkGradients(try makeProgram(graph, loss: loss), activation: first)
    }

    /// Concatenation with one side an input, the other side an input, and both sides one tensor.
    func testConcatChannelsGradients() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 2, 3, 3])
        let h = try graph.conv2d(x, outChannels: 3, kernel: 1, name: "conv")
        let left = try graph.concatChannels(h, x)              // second needs no gradient
        let right = try graph.concatChannels(x, h)             // first needs no gradient
        let both = try graph.concatChannels(try graph.add(left, right), try graph.add(left, right))
        let p = try graph.parameter("p", [2, 1, 3, 3], initializer: .fanIn(1))
        let twice = try graph.concatChannels(p, p)             // the same tensor on both sides
        var y = try graph.concatChannels(both, twice)          // [2, 12, 3, 3]
        y = try graph.scale(try graph.tanh(try graph.conv2d(y, outChannels: 2, kernel: 1, name: "mix")), by: 4)
        let loss = try graph.mseLoss(y, try graph.input("target", [2, 2, 3, 3]), name: "loss")
        checkGradients(try makeProgram(graph, loss: loss), activation: h)
    }

    // MARK: bad input

    /// The motion objective: scaled tanh head, warp of the last frame plus residual, smoothness.
    func testMotionPredictionGradients() throws {
        let graph = Graph()
        let frames = try graph.input("frames", [2, 3, 8, 8])
        let head = try graph.conv2d(frames, outChannels: 3, kernel: 3, padding: 1, name: "head")
        let motion = try graph.scaledTanh(head, scales: [0.4, 0.4, 0.5], name: "motion")
        let prediction = try graph.warpPrediction(motion: motion, frames: frames, name: "prediction")
        let error = try graph.mseLoss(prediction, try graph.input("target", [2, 1, 8, 8]), name: "error")
        let loss = try graph.add(error, try graph.scale(try graph.motionSmoothness(motion, name: "rough"), by: 0.5), name: "loss")
        let program = try makeProgram(graph, loss: loss)
        // Frames in [0, 1] with structure, so that the warp has gradients to follow.
        let values = program.tensor(frames).floats
        // Frames that are linear ramps: bilinear sampling of a plane has no kinks at whole-pixel
        // positions, so finite differences stay exact (the kernel test covers textured images).
        for i in values.indices {
            let plane = i / 64, x = Float(i % 8), y = Float((i % 64) / 8)
            values[i] = 0.1 + 0.05 * x * Float(1 + plane % 3) + 0.04 * y
        }
        checkGradients(program, activation: head)
    }

    func testMotionModelStartsAsCopyLast() throws {
        let model = try Models.pc64Motion(batch: 2)
        let program = try Program(model.graph, loss: model.loss, optimizer: Adam(), seed: 4)
        var random = SeededRandom(seed: 5)
        let frames = program.tensor(model.frames).floats
        for i in frames.indices { frames[i] = random.nextFloat() }
        program.forward()
        let plane = 64 * 64
        let prediction = program.tensor(model.prediction).floats
        for n in 0..<2 {
            for i in 0..<plane { XCTAssertEqual(prediction[n * plane + i], frames[(n * 4 + 3) * plane + i]) }
        }
    }

    func testBadShapesAreClearErrors() throws {
        let graph = Graph()
        let a = try graph.input("a", [2, 3])
        let b = try graph.input("b", [2, 4])
        XCTAssertThrowsError(try graph.add(a, b)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("same shape") && message.contains("[2x3]") && message.contains("[2x4]"), message)
        }
        XCTAssertThrowsError(try graph.multiply(a, b)) { XCTAssertTrue("\($0)".contains("same shape"), "\($0)") }

        let tokens = try graph.input("tokens", [2, 5, 8])
        let gamma = try graph.parameter("gamma", [4], initializer: .ones)
        let beta = try graph.parameter("beta", [4], initializer: .zeros)
        XCTAssertThrowsError(try graph.apply(LayerNormOperation(), [tokens, gamma, beta], name: "ln")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("last axis") && message.contains("[8]") && message.contains("gamma [4]"), message)
        }

        let large = try graph.input("large", [2, 3, 8, 8])
        let small = try graph.input("small", [2, 3, 4, 4])
        XCTAssertThrowsError(try graph.concatChannels(large, small)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("height and width") && message.contains("[2x3x4x4]"), message)
        }

        XCTAssertThrowsError(try graph.groupNorm(large, groups: 2, name: "gn")) { XCTAssertTrue("\($0)".contains("divisible into 2 groups"), "\($0)") }
        XCTAssertThrowsError(try graph.groupNorm(a, groups: 1, name: "gn2")) { XCTAssertTrue("\($0)".contains("[N, C, H, W]"), "\($0)") }
        XCTAssertThrowsError(try graph.maxPool2d(small, kernel: 7)) { XCTAssertTrue("\($0)".contains("height and width of at least 7"), "\($0)") }
        XCTAssertThrowsError(try graph.avgPool2d(small, kernel: 2, padding: 2)) { XCTAssertTrue("\($0)".contains("padding"), "\($0)") }
        let labels = try graph.input("labels", [2], dtype: .int32)
        XCTAssertThrowsError(try graph.softmax(labels)) { XCTAssertTrue("\($0)".contains("float32"), "\($0)") }
    }

    // MARK: training

    func testNewOperationsStepWithoutAllocating() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 8, 8])
        var h = try graph.leakyRelu(try graph.groupNorm(try graph.conv2d(x, outChannels: 4, kernel: 3, padding: 1, name: "conv"), groups: 2, name: "gn"))
        h = try graph.avgPool2d(try graph.maxPool2d(h, kernel: 2), kernel: 3, stride: 1, padding: 1)   // [2, 4, 4, 4]
        h = try graph.concatChannels(h, try graph.avgPool2d(x, kernel: 2))                            // [2, 7, 4, 4]
        h = try graph.multiply(try graph.add(h, h), try graph.scale(h, by: 0.5))
        h = try graph.softmax(try graph.gelu(try graph.layerNorm(h, name: "ln")))
        let loss = try graph.mseLoss(try graph.tanh(h), try graph.input("target", [2, 7, 4, 4]), name: "loss")
        for threads in [1, 2] {
            let program = try Program(graph, loss: loss, optimizer: Adam(), threads: threads)
            program.tensor(x).fill(0.3)
            for _ in 0..<3 { try program.step() }
            let allocations = try quietestWindowAllocations(pool: program.pool) { try program.step() }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps with \(threads) thread(s)")
        }
    }

    /// linear -> gelu -> linear -> cross-entropy separates a disk from the ring around it (not
    /// linearly separable, so the hidden layer has to learn).
    func testSmallClassifierLearnsSeparableClasses() throws {
        let count = 128
        let graph = Graph()
        let points = try graph.input("points", [count, 2])
        let labels = try graph.input("labels", [count], dtype: .int32)
        let hidden = try graph.gelu(try graph.linear(points, outFeatures: 16, name: "fc1"))
        let logits = try graph.linear(hidden, outFeatures: 2, name: "fc2")
        let loss = try graph.crossEntropyLoss(logits, labels, name: "loss")
        let program = try Program(graph, loss: loss, optimizer: Adam(learningRate: 0.03), seed: 2)
        var random = SeededRandom(seed: 11)
        for i in 0..<count {
            let label = i % 2
            let radius = label == 0 ? random.nextFloat(in: 0..<0.5) : random.nextFloat(in: 0.8..<1.2)
            let angle = random.nextFloat(in: 0..<(2 * .pi))
            program.tensor(points).floats[2 * i] = radius * cos(angle)
            program.tensor(points).floats[2 * i + 1] = radius * sin(angle)
            program.tensor(labels).int32s[i] = Int32(label)
        }
        for _ in 0..<300 { try program.step() }
        program.forward()
        let scores = program.tensor(logits).floats
        let correct = (0..<count).filter { (scores[2 * $0 + 1] > scores[2 * $0] ? 1 : 0) == $0 % 2 }.count
        XCTAssertGreaterThan(Double(correct) / Double(count), 0.95, "accuracy \(correct)/\(count), loss \(program.lossValue)")
    }
}
