// The frame ring: order, drops counted when the reader falls behind, a producer thread
// against a slow consumer, and no heap allocation after start.

import CAllocationCounter
import ForesightCore
import ForesightSensors
import Glibc
import XCTest
@testable import ForesightIO

final class FrameRingTests: XCTestCase {
    func testKeepsOrderAndDropsTheOldestWhenFull() {
        let ring = FrameRing<Float>(slotCount: 4, slotCapacity: 2)
        for value in 0..<10 {
            let frame: [Float] = [Float(value), Float(-value)]
            frame.withUnsafeBufferPointer { ring.write($0, timestampNanoseconds: UInt64(100 * value)) }
        }
        // Four slots, nobody reading: frames 0-5 were overwritten.
        XCTAssertEqual(ring.statistics, FrameRingStatistics(written: 10, read: 0, dropped: 6, waiting: 4))
        var seen: [Float] = []
        while let value = ring.readOldest({ pixels, info -> Float in
            XCTAssertEqual(info.timestampNanoseconds, UInt64(100 * pixels[0]))
            XCTAssertEqual(info.sequence, UInt64(pixels[0]))
            return pixels[0]
        }) { seen.append(value) }
        XCTAssertEqual(seen, [6, 7, 8, 9])
        XCTAssertNil(ring.readOldest { _, _ in 0 })
        XCTAssertEqual(ring.statistics.read, 4)
    }

    func testASlotBeingReadIsNeverOverwritten() {
        let ring = FrameRing<Int32>(slotCount: 3, slotCapacity: 1, zero: 0)
        for value: Int32 in 0..<2 { [value].withUnsafeBufferPointer { ring.write($0, timestampNanoseconds: 0) } }
        ring.readOldest { pixels, _ in
            // While frame 0 is lent out, the producer cycles through the other two slots.
            for value: Int32 in 2..<20 { [value].withUnsafeBufferPointer { ring.write($0, timestampNanoseconds: 0) } }
            XCTAssertEqual(pixels[0], 0)
        }
        // The two other slots hold the newest frames; 1 and 2..17 were dropped.
        XCTAssertEqual(ring.readOldest { pixels, _ in pixels[0] }, 18)
        XCTAssertEqual(ring.readOldest { pixels, _ in pixels[0] }, 19)
        XCTAssertEqual(ring.statistics.dropped, 17)
    }

    func testProducerThreadAgainstASlowConsumerCountsEveryFrame() {
        let ring = FrameRing<Float>(slotCount: 5, slotCapacity: 64)
        let total = 20_000
        let producer = JoinableThread(name: "ring.producer") {
            for index in 0..<total {
                let slot = ring.beginWrite()
                for i in 0..<slot.count { slot[i] = Float(index) }
                ring.commitWrite(count: slot.count, timestampNanoseconds: UInt64(index))
            }
            ring.close()
        }
        var previous: Int64 = -1, received = 0, corrupted = 0
        while let sequence = ring.waitOldest(timeoutNanoseconds: 5_000_000_000, { pixels, info -> Int64 in
            // Every element of a slot comes from one frame: no torn frames.
            if pixels.contains(where: { $0 != pixels[0] }) || UInt64(pixels[0]) != info.sequence { corrupted += 1 }
            var spin = 0
            for i in 0..<200 { spin &+= i }  // a consumer slower than the producer
            _ = spin
            return Int64(info.sequence)
        }) {
            XCTAssertGreaterThan(sequence, previous)
            previous = sequence
            received += 1
        }
        producer.join()
        let statistics = ring.statistics
        XCTAssertEqual(corrupted, 0)
        XCTAssertEqual(statistics.written, UInt64(total))
        XCTAssertEqual(UInt64(received) + statistics.dropped + UInt64(statistics.waiting), UInt64(total))
        XCTAssertEqual(previous, Int64(total - 1), "the newest frame is never dropped")
    }

    func testNoAllocationAfterStart() {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let ring = FrameRing<Float>(slotCount: 4, slotCapacity: 640 * 480)
        let frame = [Float](repeating: 1, count: 640 * 480)
        frame.withUnsafeBufferPointer { frame in
            ring.write(frame, timestampNanoseconds: 0)
            _ = ring.readOldest { pixels, _ in pixels[0] }
            let before = foresight_allocation_count()
            for index in 0..<100 {
                ring.write(frame, timestampNanoseconds: UInt64(index))
                if index % 3 == 0 { _ = ring.readOldest { pixels, _ in pixels[0] } }
            }
            _ = ring.waitOldest(timeoutNanoseconds: 1000) { pixels, _ in pixels[0] }
            _ = ring.statistics
            XCTAssertEqual(foresight_allocation_count() - before, 0)
        }
        XCTAssertGreaterThan(ring.statistics.dropped, 0)
    }
}
