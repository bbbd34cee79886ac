// `foresight learn` when the world misbehaves, run as the built tool: a source of pictures or
// sound that stops sending (a named pipe) or never opens, signals while it waits, divergence, leftovers of
// killed runs, a full disk, a checkpoint that cannot be written, an installed binary away from the repository, output into a pipe.
// Bounds on time are generous ceilings a correct program meets with a wide margin; what is
// asserted is the exit status, the output and the files.

import Foundation
import XCTest
import ForesightTestSupport
@testable import ForesightIO

/// The `foresight` tool running in the background, its output (both streams) collected as it
/// arrives.
final class RunningForesight: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var collected = Data()

    init(_ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil) throws {
        guard let tool = foresightTool() else { throw XCTSkip("the foresight tool was not built next to the tests (run `swift build` first)") }
        process.executableURL = tool
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            // At the end of the output the handler would be called again and again: stop it.
            if data.isEmpty { handle.readabilityHandler = nil; return }
            lock.withLock { collected.append(data) }
        }
        try process.run()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// What it printed so far.
    var output: String { lock.withLock { String(decoding: collected, as: UTF8.self) } }

    /// Waits at most `seconds` until `condition` holds for the output; whether it does.
    func wait(seconds: Double, until condition: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(output) { return true }
            usleep(20_000)
        }
        return condition(output)
    }

    /// Waits at most `seconds` for the process to end; whether it ended (if not, it is killed).
    func waitForExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        process.waitUntilExit()
        usleep(100_000)  // the last output
        return true
    }
}

final class ReliabilityTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder("foresight-reliability")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A grey 32 x 32 Y4M stream: its header at `rate` and `frames` frames.
    private func y4m(rate: String = "30:1", frames: Int) -> Data {
        var data = Data("YUV4MPEG2 W32 H32 F\(rate) Ip A1:1 Cmono\n".utf8)
        for index in 0..<frames {
            data.append(Data("FRAME\n".utf8))
            data.append(Data((0..<(32 * 32)).map { UInt8(truncatingIfNeeded: $0 * 3 + index * 7) }))
        }
        return data
    }

    /// A named pipe holding a Y4M header and six frames, whose writer (this test) then sends
    /// nothing more; the descriptor stays open until the test ends.
    private func silentPipe() throws -> (path: String, writer: Int32) {
        let path = folder.appendingPathComponent("camera.y4m").path
        guard mkfifo(path, 0o600) == 0 else { throw XCTSkip("mkfifo failed: \(String(cString: strerror(errno)))") }
        let writer = open(path, O_RDWR)  // on Linux, opening a FIFO read-write does not wait for a reader
        XCTAssertGreaterThanOrEqual(writer, 0)
        let bytes = y4m(frames: 6)
        XCTAssertEqual(bytes.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }, bytes.count)
        return (path, writer)
    }

    private func isProgressLine(_ line: Substring) -> Bool {
        line.range(of: #"^ *\d+s +\d+ +\d+ +\d+ "#, options: .regularExpression) != nil
    }

    // MARK: a stalled source

    func testSignalsStopLearnWhileThePipeIsSilent() throws {
        for signal in [SIGTERM, SIGINT, SIGHUP] {
            let pipe = try silentPipe()
            defer { close(pipe.writer); unlink(pipe.path) }
            let checkpoint = folder.appendingPathComponent("live-\(signal).safetensors").path
            let run = try RunningForesight(["learn", "--video", pipe.path, "--checkpoint", checkpoint])
            // Started, and waiting: the header line is printed once the recording is open.
            XCTAssertTrue(run.wait(seconds: 60) { $0.contains("learning pc64") }, "signal \(signal): \(run.output)")
            usleep(500_000)
            kill(run.process.processIdentifier, signal)
            XCTAssertTrue(run.waitForExit(seconds: 20), "signal \(signal): learn did not stop while its source was silent")
            XCTAssertEqual(run.process.terminationStatus, 0, "signal \(signal): \(run.output)")
            XCTAssertEqual(run.process.terminationReason, .exit, "signal \(signal) ended the process instead of stopping it")
            XCTAssertTrue(run.output.contains("done: 6 frames"), "signal \(signal): \(run.output)")
            XCTAssertNoThrow(try ModelFile(path: checkpoint), "signal \(signal): no checkpoint")
        }
    }

    func testSecondsAreHonouredWhileThePipeIsSilent() throws {
        let pipe = try silentPipe()
        defer { close(pipe.writer) }
        let run = try RunningForesight(["learn", "--video", pipe.path, "--seconds", "2"])
        XCTAssertTrue(run.waitForExit(seconds: 30), "--seconds 2 was not honoured while waiting for a frame: \(run.output)")
        XCTAssertEqual(run.process.terminationStatus, 0, run.output)
        XCTAssertTrue(run.output.contains("done: 6 frames"), run.output)
    }

    func testSilentPipeEndsTheRunAfterTheStallTimeout() throws {
        let pipe = try silentPipe()
        defer { close(pipe.writer) }
        let checkpoint = folder.appendingPathComponent("live.safetensors").path
        let run = try RunningForesight(["learn", "--video", pipe.path, "--stall-timeout", "1", "--checkpoint", checkpoint])
        XCTAssertTrue(run.waitForExit(seconds: 30), "a silent source did not end the run: \(run.output)")
        XCTAssertEqual(run.process.terminationStatus, 1, run.output)
        XCTAssertTrue(run.output.contains("done: 6 frames"), "the summary is missing: \(run.output)")
        let errorLines = run.output.split(separator: "\n").filter { $0.contains("delivered no frame for 1 s") }
        XCTAssertEqual(errorLines.count, 1, run.output)
        XCTAssertNoThrow(try ModelFile(path: checkpoint), "what was learned must be kept")
    }

    func testPipeWithoutWriterStopsOnSIGTERMAndTimesOut() throws {
        let path = folder.appendingPathComponent("nobody.y4m").path
        guard mkfifo(path, 0o600) == 0 else { throw XCTSkip("mkfifo failed") }
        // Nobody opens the other end: opening it waits for ever. SIGTERM still stops learn.
        let waiting = try RunningForesight(["learn", "--video", path])
        usleep(1_500_000)
        XCTAssertTrue(waiting.process.isRunning, waiting.output)
        kill(waiting.process.processIdentifier, SIGTERM)
        XCTAssertTrue(waiting.waitForExit(seconds: 20), "learn did not stop while opening a pipe nobody writes")
        XCTAssertEqual(waiting.process.terminationStatus, 0, waiting.output)
        XCTAssertTrue(waiting.output.contains("stopped before the video source opened"), waiting.output)
        // Without a signal, the stall timeout ends it with an error.
        let timed = try RunningForesight(["learn", "--video", path, "--stall-timeout", "1"])
        XCTAssertTrue(timed.waitForExit(seconds: 30), "a pipe nobody writes did not time out")
        XCTAssertEqual(timed.process.terminationStatus, 1, timed.output)
        XCTAssertTrue(timed.output.contains("sent nothing for 1 s while opening"), timed.output)
    }

    func testSlowRecordingStopsOnSIGTERM() throws {
        // One frame per 1000 s: the learner waits for the second frame until the signal.
        let path = folder.appendingPathComponent("slow.y4m")
        try y4m(rate: "1:1000", frames: 2).write(to: path)
        let run = try RunningForesight(["learn", "--video", path.path])
        XCTAssertTrue(run.wait(seconds: 60) { $0.contains("learning pc64") }, run.output)
        usleep(500_000)
        kill(run.process.processIdentifier, SIGTERM)
        XCTAssertTrue(run.waitForExit(seconds: 20), "learn did not stop between two frames 1000 s apart")
        XCTAssertEqual(run.process.terminationStatus, 0, run.output)
        XCTAssertTrue(run.output.contains("done: 1 frames"), run.output)
    }

    /// A named pipe holding a WAV header (8 kHz mono, 16-bit, a data size far beyond what
    /// comes) and `seconds` of sound, whose writer (this test) then sends nothing more.
    private func silentSoundPipe(seconds: Int) throws -> (path: String, writer: Int32) {
        let path = folder.appendingPathComponent("microphone.wav").path
        guard mkfifo(path, 0o600) == 0 else { throw XCTSkip("mkfifo failed: \(String(cString: strerror(errno)))") }
        let writer = open(path, O_RDWR)
        XCTAssertGreaterThanOrEqual(writer, 0)
        let rate = 8000
        var samples = Data()
        for index in 0..<(rate * seconds) {
            let value = Int16(6000 * sin(Double(index) * 0.05) + 2000 * sin(Double(index) * 0.31))
            withUnsafeBytes(of: value.littleEndian) { samples.append(contentsOf: $0) }
        }
        func le32(_ value: Int) -> Data { withUnsafeBytes(of: UInt32(value).littleEndian) { Data($0) } }
        func le16(_ value: Int) -> Data { withUnsafeBytes(of: UInt16(value).littleEndian) { Data($0) } }
        let promised = samples.count * 100
        var bytes = Data("RIFF".utf8) + le32(36 + promised) + Data("WAVEfmt ".utf8) + le32(16) + le16(1) + le16(1)
        bytes += le32(rate) + le32(rate * 2) + le16(2) + le16(16) + Data("data".utf8) + le32(promised) + samples
        XCTAssertLessThan(bytes.count, 65_536, "more than a pipe holds without a reader")
        XCTAssertEqual(bytes.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }, bytes.count)
        return (path, writer)
    }

    func testSilentSoundPipeEndsTheRunAfterTheStallTimeout() throws {
        let pipe = try silentSoundPipe(seconds: 3)
        defer { close(pipe.writer) }
        let checkpoint = folder.appendingPathComponent("sound.safetensors").path
        let run = try RunningForesight(["learn", "--audio", pipe.path, "--stall-timeout", "1", "--checkpoint", checkpoint])
        XCTAssertTrue(run.waitForExit(seconds: 60), "a silent sound source did not end the run: \(run.output)")
        XCTAssertEqual(run.process.terminationStatus, 1, run.output)
        // What the pipe held, but the last part of a read piece (the reader waits to fill it).
        XCTAssertTrue(run.output.contains("done: 2.5 s of audio") || run.output.contains("done: 3.0 s of audio"), "the summary is missing: \(run.output)")
        let errorLines = run.output.split(separator: "\n").filter { $0.contains("delivered no sound for 1 s") }
        XCTAssertEqual(errorLines.count, 1, run.output)
        XCTAssertNoThrow(try ModelFile(path: checkpoint), "what was learned must be kept")
    }

    func testSIGTERMStopsSoundLearningWhileThePipeIsSilent() throws {
        let pipe = try silentSoundPipe(seconds: 2)
        defer { close(pipe.writer) }
        let checkpoint = folder.appendingPathComponent("sound.safetensors").path
        let run = try RunningForesight(["learn", "--audio", pipe.path, "--checkpoint", checkpoint])
        XCTAssertTrue(run.wait(seconds: 60) { $0.contains("learning audio") }, run.output)
        usleep(3_500_000)  // the two seconds arrive, then silence (under the 10 s default timeout)
        kill(run.process.processIdentifier, SIGTERM)
        XCTAssertTrue(run.waitForExit(seconds: 20), "learn did not stop while its microphone was silent")
        XCTAssertEqual(run.process.terminationStatus, 0, run.output)
        XCTAssertTrue(run.output.contains("done: 1.5 s of audio") || run.output.contains("done: 2.0 s of audio"), run.output)
        XCTAssertNoThrow(try ModelFile(path: checkpoint))
    }

    func testSilentSoundEndsOnlyTheSoundLearningBesidePictures() throws {
        let pipe = try silentSoundPipe(seconds: 1)
        defer { close(pipe.writer) }
        let run = try RunningForesight(["learn", "--scene", "ego-motion", "--audio", pipe.path, "--stall-timeout", "1", "--seconds", "4"])
        XCTAssertTrue(run.waitForExit(seconds: 60), run.output)
        XCTAssertEqual(run.process.terminationStatus, 0, "the pictures should have been learned to the end: \(run.output)")
        XCTAssertTrue(run.output.contains("done:"), run.output)
        XCTAssertEqual(run.output.split(separator: "\n").filter { $0.contains("audio learning stopped: ") && $0.contains("delivered no sound for 1 s") }.count,
                       1, run.output)
    }

    // MARK: divergence

    func testDivergenceStopsTheRunAndKeepsTheLastCheckpoint() throws {
        let checkpoint = folder.appendingPathComponent("live.safetensors").path
        let healthy = try runForesight(["learn", "--frames", "20", "--as-fast-as-possible", "--checkpoint", checkpoint])
        XCTAssertEqual(healthy.status, 0, healthy.output)
        let saved = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        // At a learning rate of 0.1 the model's predictions become far worse than copying the
        // last frame within a few dozen steps; the run must say so and fail, not end 47x worse.
        let diverging = try runForesight(["learn", "--frames", "300", "--as-fast-as-possible", "--learning-rate", "0.1",
                                          "--checkpoint", checkpoint, "--checkpoint-every", "5"])
        XCTAssertNotEqual(diverging.status, 0, diverging.output)
        XCTAssertTrue(diverging.output.contains("learning diverged"), diverging.output)
        XCTAssertTrue(diverging.output.contains("done:"), "the summary is missing: \(diverging.output)")
        XCTAssertFalse(diverging.output.contains("done: 300 frames"), "divergence was not caught early: \(diverging.output)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: checkpoint)), saved, "the diverged weights were written over the last checkpoint")
    }

    // MARK: leftovers of killed runs, a full disk

    func testStalePartialCheckpointsAreRemovedAtStart() throws {
        guard kill(999_999, 0) != 0 else { throw XCTSkip("a process 999999 runs here") }
        let checkpoint = folder.appendingPathComponent("live.safetensors").path
        let stale = folder.appendingPathComponent(".live.safetensors.partial-999999").path
        let running = folder.appendingPathComponent(".live.safetensors.partial-\(getpid())").path  // this test process: alive
        let other = folder.appendingPathComponent(".other.safetensors.partial-999999").path
        for path in [stale, running, other] { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: 100))) }
        let result = try runForesight(["learn", "--frames", "20", "--as-fast-as-possible", "--checkpoint", checkpoint])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "the partial file of a dead process is still there")
        XCTAssertTrue(FileManager.default.fileExists(atPath: running), "the partial file of a running process was removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: other), "another checkpoint's partial file was removed")
        XCTAssertEqual(result.output.split(separator: "\n").filter { $0.contains("removed 1 unfinished checkpoint file") }.count, 1, result.output)
        XCTAssertNoThrow(try ModelFile(path: checkpoint))
    }

    func testFullDiskEndsTheRunWithASummaryAndKeepsTheCheckpoint() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a small tmpfs needs root") }
        let mountPoint = folder.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        // Room for one checkpoint (about 231 KiB) but not for a second beside it.
        guard (try? runToEndQuietly("/bin/mount", ["-t", "tmpfs", "-o", "size=400k", "tmpfs", mountPoint.path])) == 0 else {
            throw XCTSkip("cannot mount a tmpfs here")
        }
        defer { _ = try? runToEndQuietly("/bin/umount", [mountPoint.path]) }
        let checkpoint = mountPoint.appendingPathComponent("live.safetensors").path
        let result = try runForesight(["learn", "--frames", "60", "--as-fast-as-possible", "--checkpoint", checkpoint, "--checkpoint-every", "10"])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("done:"), "the summary is missing: \(result.output)")
        XCTAssertEqual(result.output.split(separator: "\n").filter { $0.contains("No space left on device") }.count, 1, result.output)
        XCTAssertTrue(result.output.contains("the previous checkpoint is kept"), result.output)
        let file = try ModelFile(path: checkpoint)
        XCTAssertEqual(file.metadata[Checkpoint.Key.steps], "10")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: mountPoint.path).filter { $0.contains(".partial-") }
        XCTAssertEqual(leftovers, [])
    }

    func testUnwritableCheckpointIsRefusedAtStart() throws {
        // A read-only folder: a read-only tmpfs as root (root writes into any folder of a
        // writable file system), a folder without write permission otherwise.
        let readOnly = folder.appendingPathComponent("read-only")
        try FileManager.default.createDirectory(at: readOnly, withIntermediateDirectories: true)
        if getuid() == 0 {
            guard (try? runToEndQuietly("/bin/mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", readOnly.path])) == 0 else {
                throw XCTSkip("cannot mount a tmpfs here")
            }
        } else {
            XCTAssertEqual(chmod(readOnly.path, 0o555), 0)
        }
        defer {
            if getuid() == 0 { _ = try? runToEndQuietly("/bin/umount", [readOnly.path]) } else { chmod(readOnly.path, 0o755) }
        }
        let clip = folder.appendingPathComponent("clip.y4m")
        try y4m(frames: 40).write(to: clip)
        let cases: [(arguments: [String], problem: String)] = [
            (["learn", "--seconds", "600", "--checkpoint", readOnly.appendingPathComponent("live.safetensors").path],
             getuid() == 0 ? "Read-only file system" : "Permission denied"),
            (["train", "--method", "next-frame", "--data", clip.path, "--steps", "100000", "-o", readOnly.appendingPathComponent("rotation.safetensors").path],
             getuid() == 0 ? "Read-only file system" : "Permission denied"),
            (["learn", "--seconds", "600", "--checkpoint", folder.appendingPathComponent("missing/live.safetensors").path], "No such file or directory"),
            (["learn", "--seconds", "600", "--checkpoint", folder.path], "is a folder, not a file"),
        ]
        for (arguments, problem) in cases {
            let run = try RunningForesight(arguments)
            // Refused before learning starts: within the time it takes to start, not after --seconds.
            XCTAssertTrue(run.waitForExit(seconds: 60), "\(arguments) was not refused at start: \(run.output)")
            XCTAssertEqual(run.process.terminationStatus, 1, "\(arguments): \(run.output)")
            XCTAssertTrue(run.output.contains(problem), "\(arguments): \(run.output)")
            XCTAssertFalse(run.output.contains("done:"), "\(arguments) learned before refusing: \(run.output)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: readOnly.path), [])
    }

    func testTrainResumesAFramePredictionModel() throws {
        let clip = folder.appendingPathComponent("clip.y4m")
        try y4m(frames: 40).write(to: clip)
        let model = folder.appendingPathComponent("motion.safetensors").path
        for method in ["next-frame", "motion"] {
            let first = try runForesight(["train", "--method", method, "--data", clip.path, "--steps", "3", "-o", model])
            XCTAssertEqual(first.status, 0, first.output)
            let resumed = try runForesight(["train", "--method", method, "--data", clip.path, "--steps", "5", "--resume", "-o", model])
            XCTAssertEqual(resumed.status, 0, "\(method): \(resumed.output)")
            XCTAssertTrue(resumed.output.contains("resumed from \(model) at step 3"), resumed.output)
            XCTAssertEqual(try Checkpoint(path: model).steps, 5, method)
        }
    }

    private func runToEndQuietly(_ program: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    // MARK: an installed binary, output into a pipe

    func testBoardProfileIsFoundAwayFromTheRepository() throws {
        let empty = folder.appendingPathComponent("config")
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CONFIG_HOME"] = empty.path
        let run = try RunningForesight(["learn", "--profile", "raspberry-pi-5", "--scene", "ego-motion", "--frames", "5", "--as-fast-as-possible"],
                                       in: folder, environment: environment)
        XCTAssertTrue(run.waitForExit(seconds: 120))
        XCTAssertEqual(run.process.terminationStatus, 0, run.output)
        XCTAssertTrue(run.output.contains("profile: Raspberry Pi 5"), run.output)
        XCTAssertTrue(run.output.contains("estimate for raspberry-pi-5"), run.output)
        // An unknown name lists the known ones and where it looked.
        let unknown = try RunningForesight(["learn", "--profile", "raspbery-pi-5", "--frames", "5"], in: folder, environment: environment)
        XCTAssertTrue(unknown.waitForExit(seconds: 60))
        XCTAssertNotEqual(unknown.process.terminationStatus, 0)
        for part in ["raspberry-pi-4", "raspberry-pi-5", "raspberry-pi-zero-2w", "x86-64-laptop", empty.path + "/foresight/devices", "built-in"] {
            XCTAssertTrue(unknown.output.contains(part), "\(part) missing: \(unknown.output)")
        }
    }

    func testProgressLinesArriveThroughAPipeWhileRunning() throws {
        let run = try RunningForesight(["learn", "--seconds", "600"])
        let seen = run.wait(seconds: 60) { output in output.split(separator: "\n").contains { self.isProgressLine($0) } }
        XCTAssertTrue(seen, "no progress line came through the pipe while learn ran: \(run.output)")
        XCTAssertTrue(run.process.isRunning, "learn ended before the test stopped it: \(run.output)")
        kill(run.process.processIdentifier, SIGINT)
        XCTAssertTrue(run.waitForExit(seconds: 20))
        XCTAssertEqual(run.process.terminationStatus, 0, run.output)
        XCTAssertTrue(run.output.contains("done:"), run.output)
    }
}
