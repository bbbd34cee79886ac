// Programs: memory planning, budgets, bad graphs, non-finite losses and the promise that a
// training step allocates nothing.

import CAllocationCounter
import XCTest
@testable import ForesightCore
@testable import ForesightNN
@testable import ForesightIO
@testable import ForesightSSL
@testable import ForesightExport

final class ProgramTests: XCTestCase {
    func testPlannerNeverOverlapsLiveBlocks() {
        var rng = SeededRandom(seed: 3)
        for _ in 0..<50 {
            var blocks: [LiveBlock] = (0..<30).map { _ in
                let first = rng.nextInt(below: 20)
                return LiveBlock(bytes: 64 * (1 + rng.nextInt(below: 10)), first: first, last: first + rng.nextInt(below: 10))
            }
            let extent = planOffsets(&blocks)
            for i in blocks.indices {
                XCTAssertLessThanOrEqual(blocks[i].offset + blocks[i].bytes, extent)
                for j in blocks.indices where j > i {
                    let alive = blocks[i].first <= blocks[j].last && blocks[j].first <= blocks[i].last
                    let overlap = blocks[i].offset < blocks[j].offset + blocks[j].bytes && blocks[j].offset < blocks[i].offset + blocks[i].bytes
                    XCTAssertFalse(alive && overlap, "blocks \(i) and \(j) share bytes while both alive")
                }
            }
            XCTAssertLessThanOrEqual(extent, blocks.reduce(0) { $0 + $1.bytes })
        }
    }

    func testPlanningReusesActivationMemory() throws {
        let model = try Models.pc64(batch: 8)
        let program = try Program(model.graph, loss: model.loss, optimizer: Adam())
        XCTAssertLessThan(program.memory.activations, program.memory.activationsUnplanned)
        XCTAssertEqual(program.memory.total, program.arena.capacity)
        // Parameters of pc64: e1 16*4*9+16, e2 32*16*9+32, e3 32*32*9+32, d1 16*32*9+16, d2 1*16*9+1.
        XCTAssertEqual(program.parameterCount, 592 + 4640 + 9248 + 4624 + 145)
    }

    func testOverBudgetSaysWhatTakesTheSpace() throws {
        let model = try Models.pc64(batch: 8)
        XCTAssertThrowsError(try Program(model.graph, loss: model.loss, optimizer: Adam(), budget: 1 << 20)) { error in
            guard case let ModelError.overBudget(budget, report) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(budget, 1 << 20)
            XCTAssertGreaterThan(report.total, budget)
            let message = "\(error)"
            XCTAssertTrue(message.contains("activations"), message)
            XCTAssertTrue(message.contains("shrink"), message)
        }
    }

    func testInvalidShapesAreClearErrors() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 8, 8])
        XCTAssertThrowsError(try graph.conv2d(x, outChannels: 4, kernel: 3, groups: 2, name: "bad")) { error in
            XCTAssertTrue("\(error)".contains("divisible"), "\(error)")
        }
        XCTAssertThrowsError(try graph.conv2d(x, outChannels: 4, kernel: 11, name: "huge")) { error in
            XCTAssertTrue("\(error)".contains("kernel"), "\(error)")
        }
        let target = try graph.input("t", [2, 1, 8, 8])
        XCTAssertThrowsError(try graph.mseLoss(x, target, name: "loss")) { error in
            XCTAssertTrue("\(error)".contains("shape"), "\(error)")
        }
        XCTAssertThrowsError(try graph.input("x", [1])) {
            guard case .duplicateName("x")? = $0 as? ModelError else { return XCTFail("unexpected \($0)") }
        }
        XCTAssertThrowsError(try graph.input("negative", [2, -1]))
    }

    func testNonFiniteLossThrowsAndKeepsParameters() throws {
        let model = try Models.pc64(batch: 2)
        let program = try Program(model.graph, loss: model.loss, optimizer: Adam())
        program.tensor(model.frames).fill(0.5)
        program.tensor(model.target).fill(0.5)
        try program.step()
        let weight = model.graph.tensor(named: "e1.weight")!
        let before = program.tensor(weight).toArray()
        program.tensor(model.target).floats[0] = .nan
        XCTAssertThrowsError(try program.step()) { error in
            guard case ModelError.nonFiniteLoss = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue("\(error)".contains("nan"), "\(error)")
        }
        XCTAssertEqual(program.tensor(weight).toArray(), before)
    }

    /// pc64's activations (four ReLUs and the sigmoid) run inside the convolutions before
    /// them, sample by sample: losses, parameters and every activation are the same bits as
    /// when each activation is a pass of its own, in training and in a forward-only program.
    func testActivationsInsideTheirConvolutionGiveTheSameBits() throws {
        for threads in [1, 2] {
            var runs: [(losses: [Float], values: [[Float]])] = []
            for fusing in [false, true] {
                let model = try Models.pc64(batch: 4, size: 32)
                let program = try Program(model.graph, loss: model.loss, optimizer: Adam(), threads: threads, budget: nil, seed: 7, fusing: fusing)
                XCTAssertEqual(program.fused.filter { $0 }.count, fusing ? 5 : 0)
                var rng = SeededRandom(seed: 21)
                var losses: [Float] = []
                for _ in 0..<3 {
                    for id in [model.frames, model.target] {
                        let values = program.tensor(id).floats
                        for i in values.indices { values[i] = rng.nextFloat() }
                    }
                    losses.append(try program.step())
                }
                program.forward()
                runs.append((losses, (program.parameters + [model.prediction]).map { program.tensor($0).toArray() }))
            }
            XCTAssertEqual(runs[0].losses, runs[1].losses, "\(threads) thread(s)")
            for (index, (plain, fused)) in zip(runs[0].values, runs[1].values).enumerated() {
                let differing = zip(plain, fused).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                XCTAssertEqual(differing, 0, "tensor \(index) of the parameters and prediction, \(threads) thread(s)")
            }

            var outputs: [[Float]] = []
            for fusing in [false, true] {
                let model = try Models.pc64(batch: 4, size: 32)
                let program = try Program(model.graph, loss: nil, optimizer: nil, threads: threads, budget: nil, seed: 7, fusing: fusing)
                var rng = SeededRandom(seed: 22)
                let frames = program.tensor(model.frames).floats
                for i in frames.indices { frames[i] = rng.nextFloat() }
                program.forward()
                outputs.append(program.tensor(model.prediction).toArray())
            }
            XCTAssertEqual(outputs[0], outputs[1], "forward only, \(threads) thread(s)")
        }
    }

    /// A convolution output that another node also reads keeps its activation as a pass of
    /// its own (the other reader must see the convolution's output, not the activation's).
    func testAnActivationIsNotFusedWhenItsOperandHasAnotherReader() throws {
        let graph = Graph()
        let x = try graph.input("x", [2, 3, 8, 8])
        let convolved = try graph.conv2d(x, outChannels: 3, kernel: 3, padding: 1, name: "c")
        let activated = try graph.relu(convolved)
        let sum = try graph.add(activated, convolved, name: "sum")
        let program = try Program(graph)
        XCTAssertEqual(program.fused, [false, false, false])
        program.tensor(x).fill(-1)
        program.forward()
        let c = program.tensor(convolved).toArray(), out = program.tensor(sum).toArray()
        for i in c.indices { XCTAssertEqual(out[i], max(c[i], 0) + c[i]) }
    }

    /// Counting on a pool's threads sees the allocations of its regions, and none made
    /// meanwhile by a thread outside the pool (what an earlier test's event loop would be).
    func testCountingOnAPoolSeesItsRegionsAndNoOtherThread() throws {
        final class Allocating: ParallelWork, @unchecked Sendable {
            func work(chunk: Int, of chunks: Int, thread: Int) { withExtendedLifetime([Int](repeating: chunk, count: 64 + chunk)) {} }
        }
        let pool = ThreadPool(threads: 2)
        let work = Allocating()
        XCTAssertGreaterThanOrEqual(quietestWindowAllocations(pool: pool) { pool.run(work, chunks: 8) }, 10 * 8)

        let outsider = JoinableThread(name: "outsider") {
            for index in 0..<2_000 { withExtendedLifetime([Int](repeating: index, count: 64)) {} ; usleep(100) }
        }
        let processBefore = foresight_allocation_count()
        let (marked, poolOnly) = quietestWindowAllocationsSayingWhatCounted(pool: pool) { usleep(2_000) }
        outsider.join()
        XCTAssertGreaterThan(foresight_allocation_count() - processBefore, 0, "the outsider allocated on its own thread")
        try XCTSkipUnless(poolOnly, "the machine is so crowded that the pool ran every region on the caller: the whole process was counted")
        XCTAssertEqual(marked, 0)
    }

    func testTrainingStepAllocatesNothing() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        for threads in [1, 2] {
            let trainer = try FramePredictionTrainer(threads: threads, seed: 5)
            for _ in 0..<3 { _ = try trainer.step() }
            let allocations = try quietestWindowAllocations(pool: trainer.program.pool) { _ = try trainer.step() }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 10 steps with \(threads) thread(s)")
        }
    }

    /// Parallel regions are cut into chunks whatever the thread count, and gradients summed
    /// over the batch per fixed chunk of samples in chunk order: parameters after several
    /// steps are the same bits on 1, 2, 3 or 4 threads (and whichever thread ran which chunk).
    func testTrainingIsBitIdenticalForAnyThreadCount() throws {
        var reference: [[Float]] = []
        var referenceLosses: [Float] = []
        for threads in 1...4 {
            let trainer = try FramePredictionTrainer(batch: 8, threads: threads, seed: 11)
            let losses = try (0..<4).map { _ in try trainer.step() }
            let parameters = trainer.program.parameters.map { trainer.program.tensor($0).toArray() }
            if threads == 1 {
                reference = parameters
                referenceLosses = losses
                continue
            }
            XCTAssertEqual(losses, referenceLosses, "losses with \(threads) threads")
            XCTAssertEqual(parameters.count, reference.count)
            for (index, (value, expected)) in zip(parameters, reference).enumerated() {
                XCTAssertEqual(value, expected, "parameter \(index) after 4 steps with \(threads) threads")
            }
        }
    }

    /// The gradients a backward node adds into are zeroed as one region split over all their
    /// bytes: every chunk split leaves each buffer all zero and the bytes around them untouched.
    func testGradientClearingZeroesEveryBufferAndNothingElse() throws {
        let sizes = [3, 40_000, 1, 17, 70_001]
        let guardBytes = 64
        let total = sizes.reduce(0) { $0 + $1 * 4 + guardBytes }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: total + guardBytes, alignment: 64)
        defer { memory.deallocate() }
        var tensors: [Tensor] = []
        var offset = guardBytes
        for (index, size) in sizes.enumerated() {
            tensors.append(Tensor(data: memory + offset, shape: Shape(arrayLiteral: size), dtype: .float32, name: "g\(index)"))
            offset += size * 4 + guardBytes
        }
        let clearing = GradientClearing(tensors)
        XCTAssertEqual(clearing.byteCount, sizes.reduce(0, +) * 4)
        for threads in [1, 2, 3] {
            let pool = ThreadPool(threads: threads)
            for chunks in [1, 2, 7, 64] {
                memory.initializeMemory(as: UInt8.self, repeating: 0xAB, count: total + guardBytes)
                if chunks == 1 { clearing.run(pool: pool) } else { pool.run(clearing, chunks: chunks) }
                var position = 0
                for size in sizes {
                    let before = (memory + position).assumingMemoryBound(to: UInt8.self)
                    XCTAssertTrue((0..<guardBytes).allSatisfy { before[$0] == 0xAB }, "bytes before a buffer changed (\(threads) threads, \(chunks) chunks)")
                    position += guardBytes
                    let floats = (memory + position).assumingMemoryBound(to: Float.self)
                    XCTAssertTrue((0..<size).allSatisfy { floats[$0] == 0 }, "a buffer of \(size) not all zero (\(threads) threads, \(chunks) chunks)")
                    position += size * 4
                }
                let after = (memory + position).assumingMemoryBound(to: UInt8.self)
                XCTAssertTrue((0..<guardBytes).allSatisfy { after[$0] == 0xAB }, "bytes after the last buffer changed")
            }
        }
    }

    func testSameSeedSameTraining() throws {
        let first = try FramePredictionTrainer(batch: 2, seed: 9)
        let second = try FramePredictionTrainer(batch: 2, seed: 9)
        for _ in 0..<3 {
            XCTAssertEqual(try first.step(), try second.step())
        }
    }
}

final class OperandTypeTests: XCTestCase {
    func testIntegerOperandsAreRejectedAtBuildTime() throws {
        let graph = Graph()
        let labels = try graph.input("labels", [4], dtype: .int32)
        XCTAssertThrowsError(try graph.relu(labels)) { XCTAssertTrue("\($0)".contains("float32"), "\($0)") }
        XCTAssertThrowsError(try graph.linear(labels, outFeatures: 2, name: "fc")) { XCTAssertTrue("\($0)".contains("float32"), "\($0)") }
        let image = try graph.input("image", [1, 1, 4, 4], dtype: .int8)
        XCTAssertThrowsError(try graph.conv2d(image, outChannels: 1, kernel: 3, name: "c")) { XCTAssertTrue("\($0)".contains("float32"), "\($0)") }
        XCTAssertThrowsError(try graph.upsampleNearest2x(image, name: "u")) { XCTAssertTrue("\($0)".contains("float32"), "\($0)") }
    }
}
