// A source that stops delivering and says why (a camera unplugged and being reopened): the
// learner tells once that it stopped and once that it delivers again, counts the
// interruption, and goes on learning from the frames that come after it.

import Foundation
import XCTest
import ForesightCore
import ForesightSensors
@testable import ForesightLive

/// Frames of the moving-digits scene, written by a thread of its own: `before` frames, then
/// nothing for `gap` seconds while `interruption` says why, then `after` frames and the end.
private final class InterruptedSource: LiveFrameSource, @unchecked Sendable {
    let ring = FrameRing<Float>(slotCount: 8, slotCapacity: 64 * 64)
    let framesPerSecond = 30.0
    let label = "test camera"
    private let state = Locked((delivered: UInt64(0), finished: false, interruption: String?.none, recovered: 0))
    private let before: Int, after: Int, gap: Double
    private var thread: JoinableThread?
    private let stopping = Latch()

    init(before: Int, after: Int, gap: Double) { self.before = before; self.after = after; self.gap = gap }

    var framesDelivered: UInt64 { state.withLock { $0.delivered } }
    var finished: Bool { state.withLock { $0.finished } }
    var interruption: String? { state.withLock { $0.interruption } }
    var recoveries: Int { state.withLock { $0.recovered } }

    func start() {
        thread = JoinableThread(name: "test.source") { [self] in
            var scene = MovingDigits(width: 64, height: 64, seed: 7)
            func deliver(_ count: Int) {
                for _ in 0..<count {
                    // Wait for room (every frame reaches the learner), or for the stop.
                    while ring.statistics.waiting >= ring.slotCount - 1 {
                        if stopping.isOpen { return }
                        usleep(1_000)
                    }
                    let slot = ring.beginWrite()
                    scene.render(into: slot.baseAddress!)
                    scene.advance()
                    ring.commitWrite(count: slot.count, timestampNanoseconds: MonotonicClock.nanoseconds())
                    state.withLock { $0.delivered += 1 }
                }
            }
            deliver(before)
            state.withLock { $0.interruption = "camera /dev/video9 disappeared while streaming; reopening it every 0.5 s" }
            if stopping.wait(deadline: MonotonicClock.nanoseconds() + UInt64(gap * 1e9)) { return }
            state.withLock { $0.interruption = nil; $0.recovered += 1 }
            deliver(after)
            state.withLock { $0.finished = true }
        }
    }

    func stop() { stopping.open(); thread?.join(); thread = nil; ring.close() }
}

final class SourceInterruptionTests: XCTestCase {
    func testAnInterruptedSourceIsAnnouncedOnceAndLearningGoesOn() throws {
        var settings = LiveLearnerConfiguration()
        settings.threads = 1
        let learner = try LiveLearner(settings)
        var notices: [String] = []
        let report = try learner.run(InterruptedSource(before: 40, after: 40, gap: 0.6), stallSeconds: 5, notice: { notices.append($0) })
        XCTAssertEqual(report.frames, 80, "the frames after the interruption were learned")
        XCTAssertEqual(report.interruptions, 1)
        XCTAssertEqual(notices.count, 2, "\(notices)")
        XCTAssertTrue(notices.first?.hasPrefix("test camera stopped delivering: camera /dev/video9 disappeared") == true, "\(notices)")
        XCTAssertTrue(notices.first?.contains("the run ends if it is not back within 5 s") == true, "\(notices)")
        XCTAssertTrue(notices.last?.hasPrefix("test camera delivers again after ") == true, "\(notices)")
    }

    func testAnInterruptionLongerThanTheStallTimeoutEndsTheRun() throws {
        var settings = LiveLearnerConfiguration()
        settings.threads = 1
        let learner = try LiveLearner(settings)
        var notices: [String] = []
        XCTAssertThrowsError(try learner.run(InterruptedSource(before: 20, after: 20, gap: 2), stallSeconds: 0.5, notice: { notices.append($0) })) { error in
            XCTAssertTrue("\(error)".contains("test camera delivered no frame for 0.5 s"), "\(error)")
            XCTAssertEqual(error as? LiveLearningError, .sourceStalled(source: "test camera", seconds: 0.5))
        }
        XCTAssertEqual(notices.count, 1, "\(notices)")
        XCTAssertEqual(learner.report.frames, 20)
    }
}

final class InterruptionWatchTests: XCTestCase {
    /// A source whose state the test sets between two looks.
    private final class Source: LiveFrameSource {
        let ring = FrameRing<Float>(slotCount: 4, slotCapacity: 1)
        let framesPerSecond = 30.0, label = "cam", framesDelivered: UInt64 = 0, finished = false
        var interruption: String?
        var recoveries = 0
        func start() {}
        func stop() {}
    }

    func testTellsEachChangeOnceAndAnInterruptionMissedBetweenLooks() {
        let source = Source()
        var watch = InterruptionWatch(source)
        var notices: [String] = []
        func look() -> Int { watch.look(at: source, stallSeconds: nil, notice: { notices.append($0) }) }
        XCTAssertEqual(look(), 0)
        source.interruption = "unplugged"
        XCTAssertEqual(look() + look(), 1, "told once")
        source.interruption = nil
        source.recoveries = 1
        XCTAssertEqual(look() + look(), 0)
        XCTAssertEqual(notices.count, 2, "\(notices)")
        XCTAssertEqual(notices.first, "cam stopped delivering: unplugged")
        XCTAssertTrue(notices.last?.hasPrefix("cam delivers again after ") == true, "\(notices)")
        // Gone and back while nobody looked: one line, counted.
        source.recoveries = 3
        XCTAssertEqual(look(), 2)
        XCTAssertEqual(notices.last, "cam was interrupted and recovered 2 time(s) while the learner was busy")
        XCTAssertEqual(look(), 0)
        XCTAssertEqual(notices.count, 3)
    }
}
