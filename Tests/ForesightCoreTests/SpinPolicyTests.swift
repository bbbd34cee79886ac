// How the thread pool decides to poll or sleep: /proc/loadavg parsing and the contended verdict.

import Foundation
import Synchronization
import XCTest
@testable import ForesightCore

final class SpinPolicyTests: XCTestCase {
    private func runnable(_ text: String) -> Int? {
        Array(text.utf8).withUnsafeBytes { SpinPolicy.runnableThreads(loadavg: $0) }
    }

    func testReadsTheRunnableFieldOfLoadavg() {
        XCTAssertEqual(runnable("0.05 0.70 0.57 1/106 17233\n"), 1)
        XCTAssertEqual(runnable("12.00 8.10 3.00 37/1204 99\n"), 37)
    }

    func testRefusesMalformedLoadavg() {
        XCTAssertNil(runnable(""))
        XCTAssertNil(runnable("0.05 0.70 0.57"))
        XCTAssertNil(runnable("0.05 0.70 0.57 x/106 1"))
        XCTAssertNil(runnable("0.05 0.70 0.57 12"))
        XCTAssertNil(runnable("0.05 0.70 0.57 99999999999999999999/1 1"))
    }

    func testThisMachineReportsAtLeastTheCallingThread() throws {
        let text = try String(contentsOfFile: "/proc/loadavg", encoding: .utf8)
        let count = try XCTUnwrap(runnable(text), "unparsed /proc/loadavg: \(text)")
        XCTAssertGreaterThanOrEqual(count, 1)
    }

    func testPollsBrieflyOnceCrowdedAndLongAgainAfterCalmSamples() {
        let policy = SpinPolicy(cores: 2)
        XCTAssertEqual(policy.current, SpinPolicy.long)
        policy.record(runnable: 2)
        XCTAssertEqual(policy.current, SpinPolicy.long, "as many runnable threads as cores is not contention")
        for _ in 1..<SpinPolicy.crowdedSamples {
            policy.record(runnable: 3)
            XCTAssertEqual(policy.current, SpinPolicy.long, "a moment of contention must not send the workers to sleep after every region")
        }
        policy.record(runnable: 3)
        XCTAssertTrue(policy.isCrowded)
        XCTAssertEqual(policy.current, SpinPolicy.short)
        for _ in 1..<SpinPolicy.calmSamples {
            policy.record(runnable: 1)
            XCTAssertEqual(policy.current, SpinPolicy.short, "one calm sample must not end the contended mode")
        }
        policy.record(runnable: 1)
        XCTAssertEqual(policy.current, SpinPolicy.long)
    }

    func testCrowdedUntilCalmSamplesThenSharedAgain() {
        let policy = SpinPolicy(cores: 2)
        XCTAssertFalse(policy.isCrowded)
        policy.record(runnable: 2)
        XCTAssertFalse(policy.isCrowded, "as many runnable threads as cores is not crowded")
        for _ in 1..<SpinPolicy.crowdedSamples {
            policy.record(runnable: 3)
            XCTAssertFalse(policy.isCrowded, "a moment of contention must not take the threads away")
        }
        policy.record(runnable: 2)
        policy.record(runnable: 3)
        XCTAssertFalse(policy.isCrowded, "contended samples count only in a row")
        for _ in 1..<SpinPolicy.crowdedSamples { policy.record(runnable: 3) }
        XCTAssertTrue(policy.isCrowded)
        for _ in 1..<SpinPolicy.calmSamples {
            policy.record(runnable: 2)
            XCTAssertTrue(policy.isCrowded, "one calm sample must not end the crowded mode")
        }
        policy.record(runnable: 2)
        XCTAssertFalse(policy.isCrowded)
    }

    /// On a crowded machine every chunk runs on the caller (thread 0), with the same results;
    /// the regions still count towards the policy's samples, so a calm machine is noticed again.
    func testACrowdedPoolRunsRegionsOnTheCaller() {
        let pool = ThreadPool(threads: 2)
        for _ in 0..<SpinPolicy.crowdedSamples { pool.regions.spin.record(runnable: 64) }
        var threads = [Int](repeating: -1, count: 16)
        var sums = [Int](repeating: 0, count: 16)
        threads.withUnsafeMutableBufferPointer { threadOf in
            sums.withUnsafeMutableBufferPointer { sum in
                let threadBase = threadOf.baseAddress!, sumBase = sum.baseAddress!
                pool.parallelFor(16) { index, thread in
                    threadBase[index] = thread
                    sumBase[index] += index
                }
            }
        }
        XCTAssertEqual(threads, [Int](repeating: 0, count: 16))
        XCTAssertEqual(sums, Array(0..<16))
        for _ in 0..<SpinPolicy.calmSamples { pool.regions.spin.record(runnable: 1) }
        XCTAssertFalse(pool.regions.spin.isCrowded)
    }

    func testSamplingInsideRegionsKeepsResultsExact() {
        // Many regions: the policy samples /proc/loadavg every `period` regions; sums stay exact.
        let pool = ThreadPool(threads: 2)
        var sums = [Int](repeating: 0, count: 8)
        for round in 0..<(SpinPolicy.period * 4) {
            sums.withUnsafeMutableBufferPointer { buffer in
                let base = buffer.baseAddress!
                pool.parallelFor(8) { index, _ in base[index] += index + round }
            }
        }
        let rounds = SpinPolicy.period * 4
        for index in 0..<8 { XCTAssertEqual(sums[index], index * rounds + rounds * (rounds - 1) / 2) }
    }
}

final class ThreadPoolLifetimeTests: XCTestCase {
    /// Threads of this process, from /proc/self/task.
    private func processThreads() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
    }

    func testAPoolNobodyHoldsStopsAndJoinsItsWorkers() throws {
        let before = try processThreads()
        for _ in 0..<5 {
            let pool = ThreadPool(threads: 3)
            let total = Atomic<Int>(0)
            pool.parallelFor(12) { index, _ in total.add(index, ordering: .relaxed) }
            XCTAssertEqual(total.load(ordering: .relaxed), 66)
        }
        // Five pools of two workers each: 10 threads if they outlived their pools.
        XCTAssertLessThan(try processThreads() - before, 2)
    }
}
