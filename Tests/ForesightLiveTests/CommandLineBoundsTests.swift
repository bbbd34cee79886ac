// The command line on extreme numbers, empty recordings and Foundation file errors: every case
// ends with a message naming what is wrong and a failing exit status, never a trap, a fatal
// allocation, or a summary that looks like success.

import Foundation
import XCTest
@testable import ForesightIO

final class CommandLineBoundsTests: XCTestCase {
    /// Runs `foresight arguments...` and checks it was refused with exit status `status` (64:
    /// a bad option; 1: a failure while running), printing every one of `phrases`.
    private func expectRefusal(_ arguments: [String], status: Int32 = 64, mentions phrases: [String],
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try runForesight(arguments)
        let command = arguments.joined(separator: " ")
        XCTAssertEqual(result.status, status, "foresight \(command): \(result.output)", file: file, line: line)
        for phrase in phrases {
            XCTAssertTrue(result.output.contains(phrase), "foresight \(command) should say \"\(phrase)\": \(result.output)", file: file, line: line)
        }
        XCTAssertFalse(result.output.contains("Missing value"), "foresight \(command): \(result.output)", file: file, line: line)
    }

    func testNonFiniteAndHugeNumbersAreRefusedNamingTheOptionAndRange() throws {
        try expectRefusal(["bench", "live", "--live-seconds", "nan"], mentions: ["--live-seconds must be above 0", "(got nan)"])
        try expectRefusal(["bench", "live", "--live-seconds", "inf"], mentions: ["--live-seconds must be above 0"])
        try expectRefusal(["bench", "gemm", "--shape", "100000,100000,100000"], mentions: ["--shape", "each 1 to 65536"])
        try expectRefusal(["bench", "gemm", "--shape", "60000,60000,60000"], mentions: ["--shape 60000,60000,60000 needs", "the plan allows 1024 MiB"])
        try expectRefusal(["learn", "--replay", "100000000", "--frames", "1"], mentions: ["--replay must be 1 to", "more than this machine's memory"])
        try expectRefusal(["learn", "--threads", "1000", "--frames", "1"], mentions: ["--threads must be 1 to", "at most 64; got 1000"])
        try expectRefusal(["bench", "pc64", "--threads", "1000"], mentions: ["--threads must be 1 to"])
        try expectRefusal(["bench", "pc64", "--scaling"], mentions: ["--scaling compares pc64 at 1 thread and at --threads", "N of 2 or more"])
        try expectRefusal(["bench", "gemm", "--scaling", "--threads", "2"], mentions: ["--scaling compares pc64"])
        try expectRefusal(["learn", "--seconds", "nan"], mentions: ["--seconds must be above 0"])
        try expectRefusal(["learn", "--learning-rate", "inf"], mentions: ["--learning-rate must be above 0 and at most 1"])
        try expectRefusal(["train", "--method", "simclr", "--data", "x", "--steps", "1", "--batch", "100000", "-o", "x.safetensors"],
                          mentions: ["--batch must be 1 to 4096"])
        try expectRefusal(["record", "--mic", "default", "--rate", "1", "x.wav"], mentions: ["--rate must be 1000 to 384000 Hz (got 1)"])
        // Edge values of the option fuzz target's seeds (Tests/Fuzz/corpus/options), each refused by its command's validate().
        try expectRefusal(["record", "--camera", "/dev/video0", "--fps", "nan", "x.y4m"], mentions: ["--fps must be above 0", "(got nan)"])
        try expectRefusal(["sample", "m.safetensors", "--temperature", "nan"], mentions: ["--temperature must be a number from 0.0 to 100.0 (got nan)"])
        try expectRefusal(["eval", "m.safetensors", "--probe", "finetune", "--finetune-learning-rate", "nan", "--train", "a", "--test", "b"],
                          mentions: ["--finetune-learning-rate must be above 0"])
        try expectRefusal(["learn", "--frames", "9223372036854775807"], mentions: ["--frames must be 1 to 1000000000 (got 9223372036854775807)"])
        try expectRefusal(["bench", "gemm", "--shape", "9223372036854775807,2,2"], mentions: ["--shape takes M,N,K (each 1 to 65536)"])
        try expectRefusal(["export", "live.safetensors", "--encoder", "--int8", "--calibration-method", "percentile:nan", "-o", "e.safetensors"],
                          mentions: ["--calibration-method percentile:nan is not a calibration method", "50 < P <= 100"])
    }

    /// "-5" is a value, not an unknown option: the range is stated, not "Missing value".
    func testNegativeNumbersGetTheRangeNotMissingValue() throws {
        try expectRefusal(["learn", "--threads", "-5", "--frames", "1"], mentions: ["--threads must be 1 to", "got -5"])
        try expectRefusal(["learn", "--replay", "-1", "--frames", "1"], mentions: ["--replay must be 1 to"])
        try expectRefusal(["learn", "--seconds", "-2"], mentions: ["--seconds must be above 0", "got -2"])
        try expectRefusal(["bench", "gemm", "--steps", "-3"], mentions: ["--steps must be 1 to 1000000 (got -3)"])
        try expectRefusal(["sample", "m.safetensors", "--bytes", "-10"], mentions: ["--bytes must be 1 to"])
    }

    /// A Y4M recording with a header and no frame is an error naming the file, not "0 frames".
    func testAHeaderOnlyRecordingIsAnError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-empty-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = folder.appendingPathComponent("empty.y4m").path
        try Data("YUV4MPEG2 W64 H64 F30:1 Ip A1:1 Cmono\n".utf8).write(to: URL(fileURLWithPath: video))
        let result = try runForesight(["learn", "--video", video, "--as-fast-as-possible", "--seconds", "20"])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("no frames in \(video)"), result.output)
        XCTAssertFalse(result.output.contains("done:"), "no summary that looks like success: \(result.output)")
        let sound = folder.appendingPathComponent("empty.wav").path
        try Data(WAV.encode(AudioClip(sampleRate: 16_000, channels: 1, samples: []))).write(to: URL(fileURLWithPath: sound))
        let audio = try runForesight(["learn", "--audio", sound, "--as-fast-as-possible", "--seconds", "20"])
        XCTAssertEqual(audio.status, 1, audio.output)
        XCTAssertTrue(audio.output.contains("no audio in \(sound)"), audio.output)
    }

    /// `bench pc64 --scaling` times both thread counts in turns and reports each turn's
    /// speed-up: the median lies between the middle half's bounds, and the times are those
    /// of real steps (positive, the same model on both sides). Speeds are not asserted.
    func testScalingTimesBothThreadCountsInTurns() throws {
        let result = try runForesight(["bench", "pc64", "--scaling", "--threads", "2", "--steps", "4", "--json"])
        XCTAssertEqual(result.status, 0, result.output)
        let line = try XCTUnwrap(result.output.split(separator: "\n").last { $0.hasPrefix("{") }, result.output)
        let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        XCTAssertEqual(figures["workload"] as? String, "pc64-scaling")
        XCTAssertEqual(figures["turns"] as? Int, 15)
        XCTAssertEqual(figures["steps_per_turn"] as? Int, 1)
        let one = try XCTUnwrap(figures["ms_per_step_1"] as? Double), two = try XCTUnwrap(figures["ms_per_step_n"] as? Double)
        let speedUp = try XCTUnwrap(figures["speedup"] as? Double)
        let low = try XCTUnwrap(figures["speedup_low"] as? Double), high = try XCTUnwrap(figures["speedup_high"] as? Double)
        XCTAssertGreaterThan(one, 0); XCTAssertGreaterThan(two, 0)
        XCTAssertTrue(low <= speedUp && speedUp <= high && low > 0, "\(figures)")
    }
}
