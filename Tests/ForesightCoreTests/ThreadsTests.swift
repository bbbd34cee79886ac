// The threading toolkit: a thread runs, is named and joins; a stoppable thread runs until
// stopped, or is let go; the lock excludes and wakes its waiters; a latch releases a waiter; the clocks never go back. No test here depends on how
// long anything takes: each outcome is forced by the order the primitives impose.

import ForesightCore
import Foundation
import XCTest

/// A counter that the lock under test guards (and nothing else does).
private final class Unguarded: @unchecked Sendable {
    var total = 0
    var inside = 0
    var overlaps = 0
}

final class ThreadsTests: XCTestCase {
    func testThreadRunsItsClosureUnderItsNameAndJoins() {
        let seen = Locked<(runs: Int, name: String)>((0, ""))
        let thread = JoinableThread(name: "foresight.test-thread-name") {
            let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            seen.withLock { $0.runs += 1; $0.name = name.trimmingCharacters(in: .newlines) }
        }
        thread.join()
        thread.join()   // a second join returns at once
        let (runs, name) = seen.withLock { $0 }
        XCTAssertEqual(runs, 1)
        XCTAssertEqual(name, "foresight.test-", "the system keeps the first 15 bytes of the name")
        XCTAssertEqual(thread.name, "foresight.test-thread-name")
    }

    func testLockExcludesOtherThreads() {
        let lock = Locked(())
        let counter = Unguarded()
        let threads = (0..<4).map { index in
            JoinableThread(name: "exclude.\(index)") {
                for _ in 0..<20_000 {
                    lock.withLock { _ in
                        counter.inside += 1
                        if counter.inside != 1 { counter.overlaps += 1 }
                        let before = counter.total   // read, then write: a lost update without the lock
                        counter.total = before + 1
                        counter.inside -= 1
                    }
                }
            }
        }
        for thread in threads { thread.join() }
        XCTAssertEqual(counter.overlaps, 0)
        XCTAssertEqual(counter.total, 4 * 20_000)
    }

    func testWaiterWakesWhenTheValueMeetsItsCondition() {
        let count = Locked(0)
        let producer = JoinableThread(name: "producer") {
            for _ in 0..<10 { count.withLock { $0 += 1 } }
        }
        // The producer stops at 10, so a waiter released by the condition sees exactly 10.
        let seen = count.withLock(when: { $0 >= 10 }, deadline: nil) { $0 }
        producer.join()
        XCTAssertEqual(seen, 10)
    }

    func testDeadlineAlreadyPassedReturnsWithoutTheCondition() {
        let value = Locked(0)
        let seen = value.withLock(when: { $0 > 0 }, deadline: MonotonicClock.nanoseconds()) { $0 }
        XCTAssertEqual(seen, 0)
    }

    func testLatchReleasesAWaiter() {
        let latch = Latch()
        let released = Locked(false)
        let waiter = JoinableThread(name: "waiter") {
            latch.wait()
            released.withLock { $0 = true }
        }
        // The waiter can pass only after `open()`, whenever it is scheduled.
        XCTAssertFalse(released.withLock { $0 })
        XCTAssertFalse(latch.isOpen)
        latch.open()
        waiter.join()
        XCTAssertTrue(released.withLock { $0 })
        XCTAssertTrue(latch.isOpen)
        latch.open()   // opening twice changes nothing
        XCTAssertTrue(latch.isOpen)
    }

    func testLatchWaitWithADeadlineSaysWhetherItOpened() {
        let latch = Latch()
        XCTAssertFalse(latch.wait(deadline: MonotonicClock.nanoseconds()), "closed, and the deadline has passed")
        let opener = JoinableThread(name: "opener") { latch.open() }
        XCTAssertTrue(latch.wait(deadline: UInt64.max), "open before the (unreachable) deadline")
        opener.join()
        XCTAssertTrue(latch.wait(deadline: 0), "an open latch returns at once whatever the deadline")
    }

    func testAStoppableThreadRunsUntilStoppedAndStopReturnsAfterItsBody() {
        let thread = StoppableThread(name: "stoppable")
        XCTAssertFalse(thread.isStarted)
        thread.stop()   // never started: returns at once
        let state = Locked<(turns: Int, returned: Bool)>((0, false))
        let stoppable = StoppableThread(name: "foresight.loop")
        stoppable.start { [stop = stoppable.stopRequested] in
            while !stop.isOpen { state.withLock { $0.turns += 1 } }
            state.withLock { $0.returned = true }
        }
        XCTAssertTrue(stoppable.isStarted)
        // It keeps going until asked: wait for some turns, then stop.
        _ = state.withLock(when: { $0.turns >= 3 }, deadline: nil) { $0.turns }
        XCTAssertFalse(state.withLock { $0.returned })
        stoppable.stop()
        XCTAssertTrue(state.withLock { $0.returned }, "stop() returns only after the body has")
        XCTAssertFalse(stoppable.isStarted)
        XCTAssertTrue(stoppable.stopRequested.isOpen)
    }

    func testAStoppableThreadLetGoRunsToItsEndWithoutBeingWaitedFor() {
        let gate = Latch(), finished = Latch()
        let blocked = StoppableThread(name: "blocked")
        blocked.start { gate.wait(); finished.open() }   // blind to its stop request, like a read from a silent pipe
        blocked.requestStop()
        blocked.letGo()
        XCTAssertFalse(blocked.isStarted)
        XCTAssertFalse(finished.isOpen, "its body still waits")
        gate.open()
        finished.wait()
    }

    func testClocksNeverGoBack() {
        var previous = MonotonicClock.nanoseconds()
        var previousCPU = MonotonicClock.threadCPUNanoseconds()
        for _ in 0..<100_000 {
            let now = MonotonicClock.nanoseconds(), cpu = MonotonicClock.threadCPUNanoseconds()
            XCTAssertGreaterThanOrEqual(now, previous)
            XCTAssertGreaterThanOrEqual(cpu, previousCPU)
            previous = now
            previousCPU = cpu
        }
        XCTAssertGreaterThanOrEqual(MonotonicClock.seconds(since: previous), 0)
    }
}
