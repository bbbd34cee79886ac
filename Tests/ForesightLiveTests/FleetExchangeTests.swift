// The parameters a learner shares with a federation (`--fleet`): global arrays adopted at a step
// boundary, copies handed to the client, nothing allocated per step while rounds come and go.

import Foundation
import XCTest
import CAllocationCounter
import ForesightCore
import ForesightLive
import ForesightSensors

final class FleetExchangeTests: XCTestCase {
    func testGlobalsAreAdoptedAndCopiesTakenAtStepBoundaries() throws {
        let learner = try LiveLearner(LiveLearnerConfiguration())
        let program = learner.program
        let exchange = FleetExchange(parameters: program.parameters.map(program.tensor), examplesPerStep: 8)
        XCTAssertEqual(exchange.names.count, program.parameters.count)
        XCTAssertEqual(exchange.totalCount, program.parameters.reduce(0) { $0 + program.tensor($1).count })
        let first = program.tensor(program.parameters[0])

        let global = [Float](repeating: 0.25, count: exchange.totalCount)
        global.withUnsafeBufferPointer { exchange.offer($0, relativeToSnapshot: false) }
        XCTAssertTrue(exchange.status.globalWaiting)
        XCTAssertNotEqual(first.floats[0], 0.25, "nothing changes before the learner's step boundary")
        exchange.stepBoundary(steps: 7)
        XCTAssertFalse(exchange.status.globalWaiting)
        XCTAssertEqual(exchange.status.adoptedAtStep, 7)
        XCTAssertTrue(program.parameters.allSatisfy { program.tensor($0).floats.allSatisfy { $0 == 0.25 } })

        var copy = [Float](repeating: 0, count: exchange.totalCount)
        exchange.requestSnapshot()
        XCTAssertNil(copy.withUnsafeMutableBufferPointer { exchange.takeSnapshot(into: $0) }, "no copy before the next boundary")
        first.floats[0] = 9
        exchange.stepBoundary(steps: 9)
        XCTAssertEqual(copy.withUnsafeMutableBufferPointer { exchange.takeSnapshot(into: $0) }, 9)
        XCTAssertEqual(copy[0], 9)
        XCTAssertEqual(copy[1], 0.25)

        // Relative to the copy sent (copy[0] = 9, the rest 0.25): the learner moved on to
        // first[0] = 10; an average of 1 everywhere makes it 10 + (1 - 9) = 2, the rest 1.
        first.floats[0] = 10
        let average = [Float](repeating: 1, count: exchange.totalCount)
        average.withUnsafeBufferPointer { exchange.offer($0, relativeToSnapshot: true) }
        exchange.stepBoundary(steps: 12)
        XCTAssertEqual(first.floats[0], 2)
        XCTAssertEqual(first.floats[1], 1)
        XCTAssertEqual(exchange.status.adoptions, 2)

        exchange.close()
        global.withUnsafeBufferPointer { exchange.offer($0, relativeToSnapshot: false) }
        XCTAssertFalse(exchange.status.globalWaiting, "a stopped learner adopts nothing")
        first.floats[0] = 5
        exchange.requestSnapshot()
        XCTAssertEqual(copy.withUnsafeMutableBufferPointer { exchange.takeSnapshot(into: $0) }, 12, "a stopped learner's parameters are copied as they are")
        XCTAssertEqual(copy[0], 5)
    }

    /// Heap allocations, on the learner's thread, of a live run of `frames` frames that adopts
    /// a global every 10 frames and hands a copy over every 10 (the client's calls made from
    /// the same boundary). Counted on this thread: event loops left by earlier fleet tests in
    /// the same process may still allocate on theirs.
    private func allocations(frames: Int) throws -> UInt64 {
        var settings = LiveLearnerConfiguration()
        settings.replayClips = 64
        let learner = try LiveLearner(settings)
        let program = learner.program
        let exchange = FleetExchange(parameters: program.parameters.map(program.tensor), examplesPerStep: settings.batch)
        let global = UnsafeMutableBufferPointer<Float>.allocate(capacity: exchange.totalCount)
        let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: exchange.totalCount)
        defer { global.deallocate(); copy.deallocate() }
        copy.initialize(repeating: 0)
        exchange.requestSnapshot()
        exchange.stepBoundary(steps: 0)
        _ = exchange.takeSnapshot(into: global)   // the learner's own starting parameters as the "average"
        let source = PacedFrameProducer.synthetic(.egoMotion, paced: false, frameLimit: frames)
        var boundaries = 0
        let before = foresight_thread_allocation_count()
        _ = try learner.run(source, shouldStop: {
            exchange.stepBoundary(steps: learner.report.steps)
            boundaries += 1
            if boundaries % 10 == 0 { exchange.offer(UnsafeBufferPointer(global), relativeToSnapshot: boundaries % 20 == 0) }
            if boundaries % 10 == 5 { exchange.requestSnapshot() }
            if boundaries % 10 == 7 { _ = exchange.takeSnapshot(into: copy) }
            return false
        })
        let count = foresight_thread_allocation_count() - before
        XCTAssertGreaterThan(exchange.status.adoptions, frames / 20, "globals were adopted during the run")
        return count
    }

    func testRoundsCostNoAllocationPerStep() throws {
        let short = try allocations(frames: 50)
        let long = try allocations(frames: 200)
        XCTAssertLessThanOrEqual(Int(long) - Int(short), 15, "150 frames (15 adoptions, 15 copies) more took \(long - short) allocations")
    }
}
