// The board estimates' arithmetic: kernel rate x clock x cores, and the frame-rate verdict.

import XCTest
@testable import ForesightIO

final class BoardEstimateTests: XCTestCase {
    let board = BoardEstimate(profile: "test-board", core: "cortex-a72", clockGHz: 2, cores: 4,
                              float32FlopsPerCycle: 6, float32PeakPerCycle: 8, int8OpsPerCycle: 8)

    func testRatesAreCoresTimesClockTimesKernelRate() {
        XCTAssertEqual(board.float32GFLOPS, 48, accuracy: 1e-12)
        XCTAssertEqual(board.int8GOPS!, 64, accuracy: 1e-12)
        XCTAssertEqual(board.float32Efficiency, 0.75, accuracy: 1e-12)
    }

    func testMillisecondsPerStepUseAtMostTheBoardsCores() {
        // 480 MFLOP at 48 GFLOP/s is 10 ms; one thread is a quarter of the rate.
        XCTAssertEqual(board.millisecondsPerStep(flops: 480e6, threads: 4), 10, accuracy: 1e-9)
        XCTAssertEqual(board.millisecondsPerStep(flops: 480e6, threads: 8), 10, accuracy: 1e-9)
        XCTAssertEqual(board.millisecondsPerStep(flops: 480e6, threads: 1), 40, accuracy: 1e-9)
    }

    func testKeepsUpWhenAStepFitsTheFrameInterval() {
        XCTAssertTrue(board.keepsUp(flopsPerStep: 480e6, threads: 4, framesPerSecond: 30))    // 10 ms <= 33.3 ms
        XCTAssertFalse(board.keepsUp(flopsPerStep: 480e6, threads: 1, framesPerSecond: 30))   // 40 ms > 33.3 ms
        XCTAssertTrue(board.keepsUp(flopsPerStep: 480e6, threads: 1, framesPerSecond: 25))    // 40 ms <= 40 ms
    }

    func testEveryBoardIsFoundByProfileNameOrPath() {
        for row in BoardEstimate.boards {
            XCTAssertEqual(BoardEstimate.forProfile(named: row.profile), row)
            XCTAssertEqual(BoardEstimate.forProfile(named: "devices/\(row.profile).json"), row)
            XCTAssertLessThanOrEqual(row.float32FlopsPerCycle, row.float32PeakPerCycle)
        }
        XCTAssertNil(BoardEstimate.forProfile(named: "x86-64-laptop"))
        // pc64's 453 MFLOP per step on the Pi 4 row: 4 x 1.5 GHz x 128/16.1 FLOP/cycle.
        let pi4 = BoardEstimate.forProfile(named: "raspberry-pi-4")!
        XCTAssertEqual(pi4.millisecondsPerStep(flops: 453e6, threads: 4), 453e6 / (6e9 * 128 / 16.1) * 1000, accuracy: 1e-9)
    }
}
