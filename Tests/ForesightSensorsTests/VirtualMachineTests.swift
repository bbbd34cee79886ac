// Tests on real kernel drivers: the host side boots ../shared/tools/vm-sensors.sh with this
// test bundle, which runs `InsideVMTests` next to vivid (camera) and snd-aloop (sound).
// When no VM can start here, the host test says why and is skipped.

import Foundation
import ForesightCore
import ForesightTestSupport
@testable import ForesightSensors
import Glibc
import XCTest
@testable import ForesightIO

/// True inside the VM (vm-sensors.sh passes FORESIGHT_IN_VM=1).
let insideVM = ProcessInfo.processInfo.environment["FORESIGHT_IN_VM"] == "1"

final class VirtualMachineTests: XCTestCase {
    func testRealDriversInsideTheVM() throws {
        try XCTSkipIf(insideVM, "already inside the VM")
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/tools/vm-sensors.sh").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: script), "no VM runner at \(script)")
        let environment = ProcessInfo.processInfo.environment
        let kernelRoot = environment["VM_ROOT"] ?? "/"
        let kernels = (try? FileManager.default.contentsOfDirectory(atPath: kernelRoot + "/boot"))?.filter { $0.hasPrefix("vmlinuz-") } ?? []
        try XCTSkipIf(kernels.isEmpty, "no kernel for the VM: set VM_ROOT to an extracted linux-image package (see .ci/run)")
        // The VM's software CPU has AVX2 but no AVX-512, while the package builds its numeric
        // modules for the host CPU: .ci/run builds a second bundle with FORESIGHT_TARGET_CPU=haswell.
        guard let bundle = environment["FORESIGHT_VM_TEST_BUNDLE"] else {
            throw XCTSkip("set FORESIGHT_VM_TEST_BUNDLE to a test bundle built with FORESIGHT_TARGET_CPU=haswell (see .ci/run)")
        }
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: bundle), "no test bundle at \(bundle)")

        // alsa-lib and libv4l2 are opened at run time, so ldd does not list them: include them.
        // The foresight tool built beside the bundle, for the tests of `learn` on the devices.
        let tool = URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("foresight").path
        let toolFiles = FileManager.default.isExecutableFile(atPath: tool) ? ["-i", tool] : []
        let arguments = [script, "-t", "900", "-e", "FORESIGHT_IN_VM=1"] + runtimeLibraryFiles().flatMap { ["-i", $0] } + toolFiles
            + [bundle, "ForesightSensorsTests.InsideVMTests"]
        let (status, text) = try runToEnd(URL(fileURLWithPath: "/bin/bash"), arguments)
        // Show what happened inside (the capture cost line among it) in the host's log.
        for line in text.split(separator: "\n") where line.contains("InsideVMTests") || line.contains("vm-sensors") || line.contains("measured") {
            print("VM| \(line)")
        }
        if status == 125 {
            throw XCTSkip("the VM could not start here: \(text.split(separator: "\n").suffix(5).joined(separator: " | "))")
        }
        XCTAssertEqual(status, 0, "tests inside the VM failed:\n\(text.suffix(6000))")
        // Eight tests, none failed (the libv4l2 one skips when the host has no libv4l2 to bring
        // along, the two of `learn` when the tool was not built).
        XCTAssertTrue(text.contains("Executed 8 tests, with ") && text.contains(" 0 failures"), "the VM did not run all eight tests:\n\(text.suffix(3000))")
    }

    /// The host's alsa-lib and libv4l2, by the file names dlopen asks for, when installed.
    func runtimeLibraryFiles() -> [String] {
        _ = (ALSA.shared, LibV4L2.shared)
        // Read to the end (a /proc file reports size 0).
        let maps = String(decoding: (try? readWholeFile("/proc/self/maps", format: "maps")) ?? [], as: UTF8.self)
        var files: [String] = []
        for line in maps.split(separator: "\n") {
            guard let path = line.split(separator: " ").last, path.hasPrefix("/") else { continue }
            let url = URL(fileURLWithPath: String(path))
            for soname in [ALSA.library.file, LibV4L2.library.file] where url.lastPathComponent.hasPrefix(soname) {
                let file = url.deletingLastPathComponent().appendingPathComponent(soname).path
                if !files.contains(file) { files.append(file) }
            }
        }
        return files
    }
}

/// Runs inside the VM only: vivid is /dev/video0, ALSA card 0 is the loopback.
final class InsideVMTests: XCTestCase {
    override func setUp() async throws {
        try XCTSkipUnless(insideVM, "runs inside the VM started by VirtualMachineTests")
    }

    func testA_EnumeratesVividAndTheLoopback() throws {
        let cameras = Camera.enumerate()
        let vivid = try XCTUnwrap(cameras.first { $0.driver == "vivid" }, "cameras: \(cameras)")
        XCTAssertEqual(vivid.path, "/dev/video0")
        let yuyv = try XCTUnwrap(vivid.formats.first { $0.fourCC == "YUYV" })
        let vga = try XCTUnwrap(yuyv.sizes.first { $0.width == 640 && $0.height == 480 })
        XCTAssertFalse(vga.framesPerSecond.isEmpty)
        let microphones = try Microphone.enumerate()
        XCTAssertTrue(microphones.contains { $0.name == "hw:0,1" }, "\(microphones)")
    }

    func testB_CapturesFramesInThreePixelFormats() throws {
        for format in [PixelFormat.yuyv, .yuv420, .rgb24] {
            let camera = try V4L2Camera(path: "/dev/video0", width: 640, height: 480, framesPerSecond: 25, formats: [format])
            XCTAssertEqual(camera.pixelFormat, format)
            XCTAssertEqual(camera.width, 640)
            XCTAssertEqual(camera.height, 480)
            try camera.start()
            var previous: [Float] = []
            var changed = 0, sequences: [UInt32] = []
            var gray = [Float](repeating: 0, count: 640 * 480)
            for _ in 0..<8 {
                try camera.readFrame(timeoutMilliseconds: 5000) { bytes, info in
                    XCTAssertGreaterThanOrEqual(bytes.count, format.frameBytes(width: 640, height: 480))
                    sequences.append(info.sequence)
                    gray.withUnsafeMutableBufferPointer {
                        convertToGray(format, source: bytes.baseAddress!, width: 640, height: 480, bytesPerLine: camera.bytesPerLine, gray: $0.baseAddress!)
                    }
                }
                if !previous.isEmpty && previous != gray { changed += 1 }
                previous = gray
            }
            camera.stop()
            // vivid draws a test pattern with a running time stamp: content changes every frame.
            XCTAssertGreaterThanOrEqual(changed, 5, "\(format): frames did not change")
            XCTAssertEqual(sequences, sequences.sorted(), "\(format)")
            let mean = gray.reduce(0, +) / Float(gray.count)
            XCTAssert(mean > 0.05 && mean < 0.95, "\(format): mean grey \(mean) looks wrong")
            print("InsideVMTests: \(format) 640x480 ok, sequences \(sequences)")
        }
    }

    func testC_CaptureThreadCostAndRingAt640x480() throws {
        let capture = try CameraCapture(path: "/dev/video0", cameraWidth: 640, cameraHeight: 480, framesPerSecond: 30,
                                        outputWidth: 64, outputHeight: 64, formats: [.yuyv])
        capture.start()
        var frames = 0
        let started = MonotonicClock.nanoseconds()
        while frames < 60 {
            guard capture.ring.waitOldest(timeoutNanoseconds: 5_000_000_000, { pixels, _ in XCTAssertEqual(pixels.count, 64 * 64) }) != nil else {
                XCTFail("no frame within 5 s: \(capture.status)"); break
            }
            frames += 1
        }
        let seconds = Double(MonotonicClock.nanoseconds() - started) * 1e-9
        capture.stop()
        let status = capture.status
        let cpu = Double(status.cpuNanoseconds) * 1e-9
        print(String(format: "InsideVMTests: measured capture thread CPU %.3f s for %d frames in %.2f s wall = %.1f%% of one core (%.2f ms/frame, YUYV 640x480 -> 64x64 grey, software-emulated VM)",
                     cpu, Int(status.framesCaptured), seconds, 100 * cpu / seconds, 1000 * cpu / Double(max(1, status.framesCaptured))))
        XCTAssertNil(status.lastError)
        XCTAssertGreaterThanOrEqual(status.framesCaptured, 60)

        // RGB output: three channels per pixel, in [0, 1], from vivid's native RGB3.
        let colour = try CameraCapture(path: "/dev/video0", cameraWidth: 320, cameraHeight: 180, outputWidth: 32, outputHeight: 18, rgb: true)
        XCTAssertEqual(colour.status.pixelFormat, .rgb24)
        colour.start()
        let pixels = colour.ring.waitOldest(timeoutNanoseconds: 5_000_000_000) { pixels, _ in Array(pixels) }
        colour.stop()
        XCTAssertEqual(pixels?.count, 32 * 18 * 3)
        XCTAssert(pixels?.allSatisfy { $0 >= 0 && $0 <= 1 } ?? false)
        // vivid's colour bars: some pixel is far from grey.
        XCTAssert((0..<32 * 18).contains { abs(pixels![3 * $0] - pixels![3 * $0 + 2]) > 0.3 }, "no colour in the RGB frame")

        // The kernel's share alone: the same stream, frames dequeued and queued untouched.
        let camera = try V4L2Camera(path: "/dev/video0", width: 640, height: 480, framesPerSecond: 30, formats: [.yuyv])
        try camera.start()
        let cpuBefore = MonotonicClock.threadCPUNanoseconds()
        for _ in 0..<30 { try camera.readFrame(timeoutMilliseconds: 5000) { _, _ in } }
        let kernelOnly = Double(MonotonicClock.threadCPUNanoseconds() - cpuBefore) * 1e-6 / 30
        print(String(format: "InsideVMTests: measured poll+DQBUF+QBUF alone %.2f ms/frame (software-emulated VM)", kernelOnly))
    }

    func testD_LoopbackAudioIsRecoveredAndOverrunsAreCounted() throws {
        // Play a seeded noise-and-chirp signal into one end, capture the other end.
        var sound = SoundScene(sampleRate: 16_000, seed: 9)
        var played = [Float](repeating: 0, count: 16_000)
        played.withUnsafeMutableBufferPointer { sound.render(into: $0.baseAddress!, count: $0.count) }
        let signal = played
        let playback = try ALSAStream(playback: "hw:Loopback,0,0", periodFrames: 160, periods: 8)
        let capture = try ALSAStream(capture: "hw:Loopback,1,0", periodFrames: 160, periods: 8)
        var captured = [Float](repeating: 0, count: 32_000)
        try capture.start()
        let player = JoinableThread(name: "loopback.play") {
            var silence = [Float](repeating: 0, count: 1600)
            try? silence.withUnsafeMutableBufferPointer { try playback.write(UnsafeBufferPointer($0)) }
            try? signal.withUnsafeBufferPointer { try playback.write($0) }
            silence = [Float](repeating: 0, count: 8000)
            try? silence.withUnsafeBufferPointer { try playback.write($0) }
            playback.drain()
        }
        var filled = 0
        while filled < captured.count {
            filled += try captured.withUnsafeMutableBufferPointer { try capture.read(into: UnsafeMutableBufferPointer(rebasing: $0[filled...])) }
        }
        player.join()
        // The delay: the first loud sample of each, refined by the best correlation nearby.
        let playedOnset = played.firstIndex { abs($0) > 0.05 }!
        let capturedOnset = try XCTUnwrap(captured.firstIndex { abs($0) > 0.05 }, "nothing arrived at the capture end")
        var bestLag = 0, best = -Double.infinity
        for lag in max(0, capturedOnset - playedOnset - 64)...min(captured.count - played.count, capturedOnset - playedOnset + 64) {
            var dot = 0.0
            for i in stride(from: 0, to: played.count, by: 8) { dot += Double(played[i]) * Double(captured[lag + i]) }
            if dot > best { best = dot; bestLag = lag }
        }
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<played.count {
            let x = Double(played[i]), y = Double(captured[bestLag + i])
            sxy += x * y; sxx += x * x; syy += y * y
        }
        let correlation = sxy / (sxx * syy).squareRoot()
        print("InsideVMTests: measured loopback correlation \(correlation) at a delay of \(bestLag) samples")
        XCTAssertGreaterThan(correlation, 0.99)

        // Overrun: stop reading for three buffer lengths, then read again.
        let idle = try ALSAStream(capture: "hw:Loopback,1,1", periodFrames: 160, periods: 4)
        var chunk = [Float](repeating: 0, count: 160)
        _ = try chunk.withUnsafeMutableBufferPointer { try idle.read(into: $0) }
        usleep(UInt32(3 * idle.bufferFrames * 1_000_000 / idle.sampleRate))
        for _ in 0..<4 { _ = try chunk.withUnsafeMutableBufferPointer { try idle.read(into: $0) } }
        print("InsideVMTests: measured overruns \(idle.overruns), lost frames \(idle.lostFrames) (buffer \(idle.bufferFrames))")
        XCTAssertGreaterThanOrEqual(idle.overruns, 1)
        // At least the three buffer lengths slept (sleep never returns early), and not wildly more.
        XCTAssertGreaterThanOrEqual(idle.lostFrames, 3 * idle.bufferFrames - idle.periodFrames)
        XCTAssertLessThan(idle.lostFrames, 100 * idle.bufferFrames)
    }

    func testD2_CapturesThroughLibV4L2() throws {
        try skipUnlessInstalled(Camera.missingConversionLibrary)
        let camera = try V4L2Camera(path: "/dev/video0", width: 640, height: 480, framesPerSecond: 25, formats: [.rgb24], bufferCount: 4,
                                    alwaysThroughLibV4L2: true)
        XCTAssertEqual(camera.pixelFormat, .rgb24)
        try camera.start()
        var means: [Float] = []
        var gray = [Float](repeating: 0, count: 640 * 480)
        for _ in 0..<4 {
            try camera.readFrame(timeoutMilliseconds: 5000) { bytes, _ in
                XCTAssertGreaterThanOrEqual(bytes.count, PixelFormat.rgb24.frameBytes(width: 640, height: 480))
                gray.withUnsafeMutableBufferPointer {
                    convertToGray(.rgb24, source: bytes.baseAddress!, width: 640, height: 480, bytesPerLine: camera.bytesPerLine, gray: $0.baseAddress!)
                }
            }
            means.append(gray.reduce(0, +) / Float(gray.count))
        }
        camera.stop()
        XCTAssert(means.allSatisfy { $0 > 0.05 && $0 < 0.95 }, "mean grey \(means) looks wrong")
        let converted = Camera.enumerate().first { $0.path == "/dev/video0" }?.formats.filter(\.emulated).map(\.fourCC) ?? []
        print("InsideVMTests: RGB3 640x480 through libv4l2 ok, means \(means); formats libv4l2 adds: \(converted)")
    }

    func testE_DeviceRemovalGivesTheTypedErrorAndCaptureRecovers() throws {
        let unbind = "/sys/bus/platform/drivers/vivid/unbind", bind = "/sys/bus/platform/drivers/vivid/bind"
        func waitFor(_ what: String, seconds: Double, _ condition: () -> Bool) {
            let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
            while !condition() {
                if MonotonicClock.nanoseconds() > deadline { XCTFail("waited \(seconds) s for \(what)"); return }
                usleep(20_000)
            }
        }

        // A streaming camera whose driver is unbound mid-stream reports deviceGone.
        var camera: V4L2Camera? = try V4L2Camera(path: "/dev/video0", width: 320, height: 180, formats: [.yuyv])
        try camera!.start()
        try camera!.readFrame(timeoutMilliseconds: 5000) { _, _ in }
        try "vivid.0".write(toFile: unbind, atomically: false, encoding: .utf8)
        var failure: SensorError? = nil
        for _ in 0..<50 {
            do throws(SensorError) {
                try camera!.readFrame(timeoutMilliseconds: 200) { _, _ in }
            } catch .cameraTimeout {
                continue
            } catch {
                failure = error
                break
            }
        }
        XCTAssertEqual(failure, .cameraGone(path: "/dev/video0"))
        camera = nil  // close, so that the node number is free again
        XCTAssertThrowsError(try V4L2Camera(path: "/dev/video0", width: 320, height: 180)) { error in
            XCTAssertEqual(error as? SensorError, .noSuchCamera(path: "/dev/video0"))
        }
        try "vivid.0".write(toFile: bind, atomically: false, encoding: .utf8)
        waitFor("/dev/video0 to come back", seconds: 10) { access("/dev/video0", F_OK) == 0 }

        // The capture thread notices the loss, and picks the camera up again when it returns.
        let capture = try CameraCapture(path: "/dev/video0", cameraWidth: 320, cameraHeight: 180, formats: [.yuyv], reconnectInterval: 0.2)
        capture.start()
        waitFor("3 frames", seconds: 10) { capture.status.framesCaptured >= 3 }
        try "vivid.0".write(toFile: unbind, atomically: false, encoding: .utf8)
        waitFor("the capture thread to see the loss", seconds: 10) { capture.status.lastError == .cameraGone(path: "/dev/video0") }
        let before = capture.status.framesCaptured
        try "vivid.0".write(toFile: bind, atomically: false, encoding: .utf8)
        waitFor("the capture thread to reconnect", seconds: 15) { capture.status.reconnects >= 1 && capture.status.framesCaptured >= before + 3 }
        capture.stop()
        print("InsideVMTests: device removal gave deviceGone; capture reconnected \(capture.status.reconnects) time(s)")
    }

    /// `foresight learn` (built beside this bundle) running in the background with both output
    /// streams in a file; its exit status and output once it ends (killed after `seconds`).
    private func learn(_ arguments: [String], seconds: Double, meanwhile: (pid_t) throws -> Void) throws -> (status: Int32, output: String) {
        guard let tool = builtProgram("foresight") else { throw XCTSkip("the foresight tool was not brought into the VM") }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("learn-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = tool
        process.arguments = ["learn"] + arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try meanwhile(process.processIdentifier)
        let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
        while process.isRunning && MonotonicClock.nanoseconds() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try output.close()
        return (process.terminationStatus, String(decoding: try Data(contentsOf: log), as: UTF8.self))
    }

    func testF_LearnSaysTheCameraWentAndLearnsOnWhenItReturns() throws {
        let unbind = "/sys/bus/platform/drivers/vivid/unbind", bind = "/sys/bus/platform/drivers/vivid/bind"
        // Unplugged for 6 s: in the software-emulated VM a training step takes seconds, so the
        // learner may see the camera gone and back, or only that it came back.
        let (status, output) = try learn(["--camera", "/dev/video0", "--seconds", "24", "--stall-timeout", "20"], seconds: 120) { _ in
            sleep(5)
            try "vivid.0".write(toFile: unbind, atomically: false, encoding: .utf8)
            sleep(6)
            try "vivid.0".write(toFile: bind, atomically: false, encoding: .utf8)
        }
        let lines = output.split(separator: "\n")
        for line in lines where line.contains("/dev/video0 ") || line.hasPrefix("done:") { print("InsideVMTests: learn said: \(line)") }
        XCTAssertEqual(status, 0, output)
        let gone = lines.filter { $0.contains("/dev/video0 stopped delivering: camera /dev/video0 disappeared") }.count
        let back = lines.filter { $0.contains("/dev/video0 delivers again after") }.count
        let between = lines.filter { $0.contains("/dev/video0 was interrupted and recovered 1 time(s)") }.count
        XCTAssertTrue((gone == 1 && back == 1 && between == 0) || (gone == 0 && back == 0 && between == 1), output)
        XCTAssertTrue(output.contains("done:"), output)
    }

    func testG_LearnFromTheMicrophoneSurvivesAnOverrun() throws {
        // The process stopped for half a second: the device's buffer (80 ms) overflows.
        let (status, output) = try learn(["--mic", "hw:Loopback,1,0", "--seconds", "8"], seconds: 120) { pid in
            sleep(4)
            kill(pid, SIGSTOP)
            usleep(500_000)
            kill(pid, SIGCONT)
        }
        for line in output.split(separator: "\n") where line.contains("overrun") || line.hasPrefix("done:") {
            print("InsideVMTests: learn said: \(line)")
        }
        XCTAssertEqual(status, 0, output)
        XCTAssertGreaterThanOrEqual(output.split(separator: "\n").filter { $0.contains("hw:Loopback,1,0: ") && $0.contains("overrun(s)") && $0.contains("continuing") }.count, 1, output)
        XCTAssertTrue(output.contains("done:"), output)
    }
}
