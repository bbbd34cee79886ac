// What a learner shows its watchers: the publication fills with the run's frames and numbers,
// a reader that holds the buffers makes the learner skip rather than wait, and publishing
// allocates nothing per frame even with a reader copying out all the time.

import CAllocationCounter
import Foundation
import XCTest
@testable import ForesightCore
import ForesightSensors
@testable import ForesightLive

final class LivePublicationTests: XCTestCase {
    private func learner() throws -> (LiveLearner, LivePublication) {
        var settings = LiveLearnerConfiguration()
        settings.threads = 1
        let learner = try LiveLearner(settings)
        let publication = LivePublication(kind: .live, title: "test", size: settings.size, motion: true)
        learner.publication = publication
        return (learner, publication)
    }

    func testLearnerPublishesFramesNumbersAndTheEnd() throws {
        let (learner, publication) = try learner()
        XCTAssertEqual(publication.read().status.imageVersion, 0)
        let report = try learner.run(PacedFrameProducer.synthetic(.movingShapes, paced: false, frameLimit: 40, seed: 2))
        let (status, _) = publication.read()
        XCTAssertTrue(status.finished)
        XCTAssertEqual(status.steps, report.steps)
        XCTAssertEqual(status.frames, report.frames)
        XCTAssertGreaterThan(status.copyLastError, 0)
        XCTAssertGreaterThan(status.imageVersion, 0)
        var planes = [Float]()
        publication.readImages(into: &planes)
        XCTAssertEqual(planes.count, 5 * publication.size * publication.size)
        let plane = publication.size * publication.size
        // The frame, the prediction and the truth are images, not zeros; the prediction is not the truth.
        for index in 0..<3 {
            let slice = planes[index * plane..<(index + 1) * plane]
            XCTAssertGreaterThan(slice.max()! - slice.min()!, 0.05, "plane \(index) is flat")
        }
        XCTAssertNotEqual(Array(planes[plane..<2 * plane]), Array(planes[2 * plane..<3 * plane]))
        XCTAssertTrue(planes.allSatisfy(\.isFinite))
    }

    func testAReaderHoldingTheBuffersMakesPublishingSkipNotWait() {
        let publication = LivePublication(kind: .live, title: "test", size: 4, motion: false)
        let frame = [Float](repeating: 1, count: 16)
        let held = Latch(), release = Latch(), done = Latch()
        Thread.detachNewThread {
            var planes = [Float]()
            _ = publication.read()
            // Hold the lock as a slow reader would, by reading inside a lock held from outside.
            publication.holdForTesting { held.open(); _ = release.wait(deadline: MonotonicClock.nanoseconds() + 10_000_000_000) }
            publication.readImages(into: &planes)
            done.open()
        }
        XCTAssertTrue(held.wait(deadline: MonotonicClock.nanoseconds() + 10_000_000_000))
        frame.withUnsafeBufferPointer { f in
            publication.publish(past: f.baseAddress!, prediction: f.baseAddress!, truth: f.baseAddress!, motion: nil)
        }
        var status = LivePublication.Status()
        status.steps = 7
        publication.publish(status)
        XCTAssertEqual(publication.skipped, 2, "both publications should have been skipped, not waited for")
        release.open()
        XCTAssertTrue(done.wait(deadline: MonotonicClock.nanoseconds() + 10_000_000_000))
        XCTAssertEqual(publication.read().status.steps, 0)
        publication.publish(status)
        XCTAssertEqual(publication.read().status.steps, 7)
    }

    func testPublishingAllocatesNothingWithAReaderAttached() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let (learner, publication) = try learner()
        // A reader that copies the images out every 0.2 ms (a busy viewer), into a buffer sized once.
        let stop = Locked(false), copies = Locked(0)
        let count = publication.planeCount * publication.size * publication.size
        let finished = Latch(), reading = Latch()
        Thread.detachNewThread {
            var planes = [Float](repeating: 0, count: count)
            reading.open()
            while !stop.withLock({ $0 }) {
                publication.readImages(into: &planes)
                copies.withLock { $0 += 1 }
                usleep(200)
            }
            finished.open()
        }
        // The same learner runs twice as many frames the second time; what the run allocates
        // regardless of its length (threads, the source) cancels out, what it allocates per
        // frame does not.
        XCTAssertTrue(reading.wait(deadline: MonotonicClock.nanoseconds() + 10_000_000_000))
        _ = try learner.run(PacedFrameProducer.synthetic(.movingShapes, paced: false, frameLimit: 30, seed: 1))
        var counts: [UInt64] = []
        for frames in [40, 80] {
            let source = PacedFrameProducer.synthetic(.movingShapes, paced: false, frameLimit: frames, seed: 1)
            let before = foresight_allocation_count()
            _ = try learner.run(source)
            counts.append(foresight_allocation_count() - before)
        }
        stop.withLock { $0 = true }
        XCTAssertTrue(finished.wait(deadline: MonotonicClock.nanoseconds() + 10_000_000_000))
        XCTAssertGreaterThan(copies.withLock { $0 }, 10, "the reader did not run alongside the learner")
        XCTAssertLessThanOrEqual(counts[1], counts[0] + 4, "allocations for 40 frames \(counts[0]), for 80 frames \(counts[1])")
    }
}
