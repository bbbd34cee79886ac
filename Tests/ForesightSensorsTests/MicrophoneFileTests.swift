// The microphone path on the host, against a real ALSA capture PCM fed by alsa-lib's file
// plugin (no sound card needed): samples arrive exactly, in S16 and float, through the
// capture thread and ring too; bad names give typed errors.

import Foundation
import ForesightSensors
import ForesightTestSupport
import Glibc
import XCTest
@testable import ForesightIO

final class MicrophoneFileTests: XCTestCase {
    var directory = ""
    var expected: [Int16] = []

    override func setUpWithError() throws {
        try skipUnlessInstalled(Microphone.missingLibrary)
        directory = temporaryDirectory("alsa")
        // 3 s of a chirp: longer than any capture below (past the end the plugin repeats
        // stale data).
        var sound = SoundScene(sampleRate: 16_000, events: [.chirp(from: 100, to: 4000, amplitude: 0.6, duration: 3)])
        var samples = [Float](repeating: 0, count: 48_000)
        samples.withUnsafeMutableBufferPointer { sound.render(into: $0.baseAddress!, count: $0.count) }
        expected = samples.map { Int16(($0 * 32767).rounded()) }
        configure(.s16)
    }

    /// Points `default` at a file PCM whose slave format is `format`. The file must be in the
    /// slave's format: when `plug` converts, the file plugin reads whole buffers per period
    /// and skips data, so each capture format gets its own file.
    func configure(_ format: AudioSampleFormat) {
        let raw = format == .s16 ? expected.withUnsafeBytes { Array($0) }
            : expected.map { Float($0) / 32768 }.withUnsafeBytes { Array($0) }
        let config = """
            pcm.filemic {
                type file
                slave.pcm { type null }
                file "/dev/null"
                infile "\(directory)/in.raw"
                format "raw"
            }
            pcm.!default {
                type plug
                slave { pcm "filemic" format \(format.rawValue) rate 16000 channels 1 }
            }
            """
        let rawFile = fopen(directory + "/in.raw", "wb")!
        _ = raw.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, rawFile) }
        fclose(rawFile)
        let configFile = fopen(directory + "/asound.conf", "w")!
        fputs(config, configFile)
        fclose(configFile)
        setenv("ALSA_CONFIG_PATH", directory + "/asound.conf", 1)
        Microphone.reloadConfiguration()
    }

    override func tearDown() {
        guard !directory.isEmpty else { return }
        unsetenv("ALSA_CONFIG_PATH")
        Microphone.reloadConfiguration()
        removeTree(directory)
    }

    func capture(_ format: AudioSampleFormat, frames: Int) throws -> [Float] {
        let stream = try ALSAStream(capture: "default", sampleRate: 16_000, channels: 1, format: format)
        XCTAssertEqual(stream.sampleRate, 16_000)
        XCTAssertEqual(stream.periodFrames, 160)
        var samples = [Float](repeating: .nan, count: frames)
        var filled = 0
        while filled < frames {
            filled += try samples.withUnsafeMutableBufferPointer { try stream.read(into: UnsafeMutableBufferPointer(rebasing: $0[filled...])) }
        }
        XCTAssertEqual(stream.overruns, 0)
        return samples
    }

    func testCapturesTheFileSampleExactlyInS16AndFloat() throws {
        for format in AudioSampleFormat.allCases {
            configure(format)
            let samples = try capture(format, frames: 16_000)
            for index in 0..<16_000 where samples[index] != Float(expected[index]) / 32768 {
                XCTFail("\(format) sample \(index): \(samples[index] * 32768) vs \(expected[index])")
                break
            }
        }
    }

    func testCaptureThreadFillsTheRingInOrder() throws {
        let capture = try MicrophoneCapture(name: "default", chunkFrames: 400, slots: 200)
        capture.start()
        var received: [Float] = []
        while received.count < 16_000 {
            guard let chunk = capture.ring.waitOldest(timeoutNanoseconds: 5_000_000_000, { samples, _ in Array(samples) }) else {
                XCTFail("no audio within 5 s"); break
            }
            received += chunk
        }
        capture.stop()
        XCTAssertNil(capture.status.lastError)
        // The file plugin delivers as fast as it can read: the ring may have dropped chunks,
        // but what arrived is a run of whole chunks of the file, in order.
        let dropped = capture.ring.statistics.dropped
        if dropped == 0 {
            XCTAssertEqual(received.prefix(16_000).map { Int16($0 * 32768) }, Array(expected.prefix(16_000)))
        } else {
            XCTAssertEqual(received.count % 400, 0)
        }
        XCTAssertGreaterThanOrEqual(capture.status.framesCaptured, 16_000)
    }

    func testBadDeviceNamesGiveTypedErrors() {
        XCTAssertThrowsError(try ALSAStream(capture: "hw:97,0")) { error in
            guard case .noSuchMicrophone = error as? SensorError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try ALSAStream(capture: "nosuchpcmname")) { error in
            guard case .noSuchMicrophone = error as? SensorError else { return XCTFail("\(error)") }
        }
        XCTAssertTrue(try Microphone.enumerate().contains { $0.name == "default" })
    }

    /// Runs the `foresight` binary built beside this test bundle; skips the test when there is none.
    func runForesight(_ arguments: [String]) throws -> (status: Int32, output: String) {
        guard let tool = builtProgram("foresight") else { throw XCTSkip("no foresight binary beside the test bundle (run `swift build` first)") }
        return try runToEnd(tool, arguments)
    }

    func testRecordCommandWritesTheMicrophoneToWAVAndNamesBadCameras() throws {
        let path = directory + "/mic.wav"
        let (status, output) = try runForesight(["record", "--mic", "default", "--frames", "8000", path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("-> \(path)"), output)
        let clip = try WAV.read(path: path)
        XCTAssertEqual(clip.sampleRate, 16_000)
        XCTAssertEqual(clip.frameCount, 8000)
        XCTAssertEqual(clip.samples.map { Int16($0 * 32768) }, Array(expected.prefix(8000)))

        let missing = try runForesight(["record", "--camera", "/dev/video-none", "--frames", "1", directory + "/x.y4m"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("no camera at /dev/video-none"), missing.output)
        let wrongExtension = try runForesight(["record", "--mic", "default", directory + "/x.y4m"])
        XCTAssertNotEqual(wrongExtension.status, 0)
        XCTAssertTrue(wrongExtension.output.contains(".wav"), wrongExtension.output)
    }
}
