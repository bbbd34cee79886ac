// The CPU cost of the capture thread's own work per 640x480 frame (YUYV to grey, area
// resize to 64x64, ring handoff), measured as thread CPU time on the host. The kernel's
// part (poll, DQBUF, QBUF) is measured on vivid inside the VM (InsideVMTests).

import ForesightCore
import ForesightSensors
import Glibc
import XCTest
@testable import ForesightIO

final class CaptureCostTests: XCTestCase {
    func threadCPUSeconds() -> Double { Double(MonotonicClock.threadCPUNanoseconds()) * 1e-9 }

    func testConversionResizeAndRingStayUnderFivePercentOfACoreAt30FPS() {
        let width = 640, height = 480, frames = 90
        let camera = [UInt8](repeating: 0, count: width * height * 2).enumerated().map { UInt8(truncatingIfNeeded: $0.offset * 7 + $0.offset / 1280) }
        var scratch = [Float](repeating: 0, count: width * height)
        let ring = FrameRing<Float>(slotCount: 8, slotCapacity: 64 * 64)
        let start = threadCPUSeconds()
        camera.withUnsafeBytes { bytes in
            scratch.withUnsafeMutableBufferPointer { scratch in
                for index in 0..<frames {
                    convertToGray(.yuyv, source: bytes.baseAddress!, width: width, height: height, gray: scratch.baseAddress!)
                    let slot = ring.beginWrite()
                    areaResize(scratch.baseAddress!, width: width, height: height, into: slot.baseAddress!, width: 64, height: 64)
                    ring.commitWrite(count: slot.count, timestampNanoseconds: UInt64(index))
                }
            }
        }
        let perFrame = (threadCPUSeconds() - start) / Double(frames)
        let share = perFrame * 30
        print(String(format: "measured capture work: %.3f ms CPU per 640x480 YUYV frame = %.2f%% of one core at 30 fps", perFrame * 1000, share * 100))
        XCTAssertLessThan(share, 0.05, "capture work takes \(perFrame * 1000) ms per frame")
        XCTAssertEqual(ring.statistics.written, UInt64(frames))
    }
}
