// `foresight learn --serve`: the live view, its numbers and images and /metrics answer while
// the learner runs; a taken port or a bad address is a clear error; and a real headless
// browser (Chromium, when installed) shows images that change and an error curve with points.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
import ForesightCore
import ForesightTestSupport

/// A `foresight` run in the background whose live view the test reads.
private final class ServingRun: @unchecked Sendable {
    let process = Process()
    private let errors = Locked("")
    private let reading = Latch()
    let url: String

    init(_ arguments: [String]) throws {
        guard let tool = foresightTool() else { throw XCTSkip("the foresight tool was not built next to the tests (run `swift build` first)") }
        process.executableURL = tool
        process.arguments = arguments
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let errors = self.errors, reading = self.reading
        Thread.detachNewThread {
            let handle = errorPipe.fileHandleForReading
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                errors.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
            reading.open()
        }
        // The URL is told on standard error once the server listens.
        let deadline = MonotonicClock.nanoseconds() + 60_000_000_000
        var found: String?
        while found == nil && MonotonicClock.nanoseconds() < deadline && process.isRunning {
            found = errors.withLock { text in
                text.range(of: #"live view at (http://\S+/)"#, options: .regularExpression)
                    .map { String(text[$0].dropFirst("live view at ".count)) }
            }
            if found == nil { usleep(20_000) }
        }
        guard let found else {
            if process.isRunning { process.terminate() }
            throw ServingError(text: "no live view URL; the tool said: \(errors.withLock { $0 })")
        }
        url = found
    }

    /// What the tool wrote on standard error so far.
    var errorText: String { errors.withLock { $0 } }

    /// Waits for the run to end; its exit status.
    func finish() -> Int32 {
        process.waitUntilExit()
        _ = reading.wait(deadline: MonotonicClock.nanoseconds() + 10_000_000_000)
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate() } }
}

private struct ServingError: Error, CustomStringConvertible { let text: String; var description: String { text } }

/// GET `url`: the status code, the Content-Type and the body.
private func get(_ url: String) throws -> (status: Int, type: String, body: Data) {
    let result = Locked<Result<(Int, String, Data), Error>?>(nil)
    let task = URLSession.shared.dataTask(with: URL(string: url)!) { data, response, error in
        let http = response as? HTTPURLResponse
        result.withLock {
            $0 = error.map { .failure($0) }
                ?? .success((http?.statusCode ?? 0, http?.value(forHTTPHeaderField: "Content-Type") ?? "", data ?? Data()))
        }
    }
    task.resume()
    let outcome = result.withLock(when: { $0 != nil }, deadline: MonotonicClock.nanoseconds() + 30_000_000_000) { $0 }
    guard let outcome else { task.cancel(); throw ServingError(text: "GET \(url) did not answer within 30 s") }
    return try outcome.get()
}

/// The samples of a Prometheus text exposition: name -> value (labels are not used here).
private func samples(_ text: String) -> [String: Double] {
    var values: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
    }
    return values
}

final class LiveViewCommandTests: XCTestCase {
    func testServesPageNumbersImagesAndMetricsWhileLearning() throws {
        let run = try ServingRun(["learn", "--seconds", "8", "--serve", "127.0.0.1:0"])
        XCTAssertTrue(run.url.hasPrefix("http://127.0.0.1:"), run.url)

        let page = try get(run.url)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.type.hasPrefix("text/html"), page.type)
        XCTAssertTrue(String(decoding: page.body, as: UTF8.self).contains("<canvas"))

        // The numbers grow while the learner runs.
        let first = samples(String(decoding: try get(run.url + "metrics").body, as: UTF8.self))
        usleep(1_500_000)
        let metrics = try get(run.url + "metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.type.hasPrefix("text/plain; version=0.0.4"), metrics.type)
        let text = String(decoding: metrics.body, as: UTF8.self)
        let later = samples(text)
        let steps = try XCTUnwrap(later["foresight_training_steps_total"], text)
        XCTAssertGreaterThan(steps, first["foresight_training_steps_total"] ?? 0, "the step counter did not grow")
        XCTAssertGreaterThan(try XCTUnwrap(later["foresight_frames_total"]), 0)
        XCTAssertGreaterThan(try XCTUnwrap(later["foresight_copy_last_error"]), 0)
        XCTAssertGreaterThan(try XCTUnwrap(later["foresight_resident_memory_bytes"]), 1_048_576)
        for name in ["foresight_frames_dropped_total", "foresight_rollbacks_total", "foresight_prediction_error",
                     "foresight_loss", "foresight_run_seconds", "foresight_training_steps_per_second"] {
            XCTAssertNotNil(later[name], "\(name) missing from\n\(text)")
        }
        // Prometheus' conventions: every sample is declared with HELP and TYPE; counters end in _total; snake case.
        for name in later.keys {
            XCTAssertNotNil(name.range(of: "^foresight_[a-z0-9_]+$", options: .regularExpression), name)
            XCTAssertTrue(text.contains("# HELP \(name) "), "no HELP for \(name)")
            let isCounter = text.contains("# TYPE \(name) counter"), isGauge = text.contains("# TYPE \(name) gauge")
            XCTAssertTrue(isCounter || isGauge, "no TYPE for \(name)")
            XCTAssertEqual(isCounter, name.hasSuffix("_total"), name)
        }

        let status = try get(run.url + "status")
        XCTAssertEqual(status.type, "application/json")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: status.body) as? [String: Any])
        XCTAssertEqual(json["kind"] as? String, "live")
        let numbers = try XCTUnwrap(json["status"] as? [String: Any])
        XCTAssertGreaterThan(numbers["steps"] as? Int ?? 0, 0)
        XCTAssertGreaterThan((json["points"] as? [Any])?.count ?? 0, 0, "no point on the error curve after 2 s")

        // Images: a header (side, panels, version) and RGBA panels; the version moves on.
        let images = try get(run.url + "images").body
        let side = Int(images[0]) | Int(images[1]) << 8, panels = Int(images[2])
        XCTAssertEqual(side, 64)
        XCTAssertEqual(panels, 4, "frame, prediction, truth, motion")
        XCTAssertEqual(images.count, 8 + panels * side * side * 4)
        let version = { (data: Data) in (4..<8).reduce(0) { $0 | Int(data[$1]) << (8 * ($1 - 4)) } }
        usleep(300_000)
        XCTAssertGreaterThan(version(try get(run.url + "images").body), version(images))

        XCTAssertEqual(try get(run.url + "nothing-here").status, 404)
        XCTAssertEqual(run.finish(), 0, run.errorText)
    }

    func testTrainServesTheLossCurveAndProgress() throws {
        let folder = try makeTemporaryFolder("foresight-train-serve")
        defer { try? FileManager.default.removeItem(at: folder) }
        var generator = SeededRandom(seed: 5)
        let words = ["the", "robot", "sees", "a", "red", "ball", "and", "turns", "left", "right"]
        let text = (0..<20_000).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ")
        let data = folder.appendingPathComponent("words.txt"), model = folder.appendingPathComponent("gpt.safetensors")
        try text.write(to: data, atomically: true, encoding: .utf8)
        let run = try ServingRun(["train", "--method", "gpt", "--data", data.path, "--steps", "800", "--serve", "0", "-o", model.path])
        usleep(2_500_000)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: try get(run.url + "status").body) as? [String: Any])
        XCTAssertEqual(json["kind"] as? String, "train")
        let numbers = try XCTUnwrap(json["status"] as? [String: Any])
        XCTAssertEqual(numbers["totalSteps"] as? Int, 800)
        XCTAssertGreaterThan(numbers["steps"] as? Int ?? 0, 0)
        let points = try XCTUnwrap(json["points"] as? [[Double]])
        XCTAssertGreaterThan(points.count, 1, "the loss curve has no points after 2.5 s")
        XCTAssertTrue(points.allSatisfy { $0[3] > 0 && $0[3].isFinite }, "\(points)")
        let text2 = String(decoding: try get(run.url + "metrics").body, as: UTF8.self)
        let metrics = samples(text2)
        let progress = try XCTUnwrap(metrics["foresight_progress_ratio"], text2)
        XCTAssertTrue(progress > 0 && progress <= 1, "\(progress)")
        XCTAssertGreaterThan(try XCTUnwrap(metrics["foresight_loss"]), 0)
        XCTAssertNil(metrics["foresight_frames_total"], "a training run has no frames")
        XCTAssertEqual(run.finish(), 0, run.errorText)
        XCTAssertTrue(FileManager.default.fileExists(atPath: model.path))
    }

    /// Foxglove's WebSocket protocol on the same port, spoken by an independent client
    /// (Tests/Peers/foxglove_client.py with the `websockets` package from PyPI).
    func testFoxgloveWebSocketAdvertisesAndStreamsTheRun() throws {
        let run = try ServingRun(["learn", "--seconds", "8", "--serve", "127.0.0.1:0"])
        let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/foxglove_client.py")
        let socketURL = "ws" + run.url.dropFirst("http".count)
        let (status, output) = try runToEnd(URL(fileURLWithPath: "/usr/bin/env"), ["python3", client.path, socketURL, "3"])
        if status == 127 || status == 2 { throw XCTSkip("the Foxglove client needs its Python package: python3 -m pip install websockets") }
        XCTAssertEqual(status, 0, output)
        let found = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(output.split(separator: "\n").last).utf8)) as? [String: Any], output)
        XCTAssertEqual(found["subprotocol"] as? String, "foxglove.websocket.v1")
        XCTAssertEqual(found["server_op"] as? String, "serverInfo")
        XCTAssertEqual(found["advertise_op"] as? String, "advertise")
        XCTAssertEqual(found["well_formed"] as? Bool, true, output)
        XCTAssertEqual(found["channels"] as? [String: String], [
            "/foresight/frame": "foxglove.RawImage", "/foresight/prediction": "foxglove.RawImage", "/foresight/truth": "foxglove.RawImage",
            "/foresight/motion": "foxglove.RawImage", "/foresight/metrics": "foresight.Metrics",
        ])
        let topics = try XCTUnwrap(found["topics"] as? [String: [String: Any]])
        for topic in ["/foresight/frame", "/foresight/prediction", "/foresight/truth", "/foresight/motion"] {
            let entry = try XCTUnwrap(topics[topic], "nothing received on \(topic): \(output)")
            XCTAssertGreaterThan(entry["count"] as? Int ?? 0, 5, "\(topic): a few images a second expected")
            XCTAssertEqual(entry["width"] as? Int, 64)
            XCTAssertEqual(entry["encoding"] as? String, topic == "/foresight/motion" ? "rgb8" : "mono8")
        }
        let metrics = try XCTUnwrap(topics["/foresight/metrics"]?["last"] as? [String: Any], output)
        XCTAssertGreaterThan(metrics["steps"] as? Int ?? 0, 0)
        // A subscription to a channel that does not exist is answered with a status, not a dropped connection.
        XCTAssertTrue((found["statuses"] as? [String] ?? []).contains { $0.contains("12345") }, output)
        // The plain web page still answers on the same port.
        XCTAssertEqual(try get(run.url).status, 200)
        XCTAssertEqual(run.finish(), 0, run.errorText)
    }

    /// At most 8 Foxglove sessions: eight that subscribe and then never read (slow viewers) are
    /// held open, a ninth is closed at once with 1013 and "busy", one closed makes room for the
    /// next, the learner goes on stepping throughout, and vanished viewers free their places.
    func testFoxgloveSessionsAreBoundedAndSlowViewersDoNotStopTheLearner() throws {
        let run = try ServingRun(["learn", "--seconds", "30", "--serve", "127.0.0.1:0"])
        let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/foxglove_client.py")
        let socketURL = "ws" + run.url.dropFirst("http".count)
        let (status, output) = try runToEnd(URL(fileURLWithPath: "/usr/bin/env"), ["python3", client.path, socketURL, "--hold", "8"])
        if status == 127 || status == 2 { throw XCTSkip("the Foxglove client needs its Python package: python3 -m pip install websockets") }
        XCTAssertEqual(status, 0, output)
        let found = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(output.split(separator: "\n").last).utf8)) as? [String: Any], output)
        XCTAssertEqual(found["opened"] as? Int, 8, output)
        let refusal = try XCTUnwrap(found["extra_refusal"] as? [String: Any], "a ninth session was admitted: \(output)")
        XCTAssertEqual(refusal["code"] as? Int, 1013, "closed with 'try again later': \(output)")
        XCTAssertTrue((refusal["reason"] as? String ?? "").contains("busy: 8 Foxglove sessions"), output)
        XCTAssertTrue(found["after_close_refusal"] is NSNull, "a closed session should make room: \(output)")
        // Eight unread subscriptions for two seconds and more: the learner kept stepping.
        let before = try XCTUnwrap(found["steps_before"] as? Int, output)
        let after = try XCTUnwrap(found["steps_after"] as? Int, output)
        XCTAssertGreaterThan(after, before, output)
        // The web page is not one of the sessions.
        XCTAssertEqual(try get(run.url + "status").status, 200)
        // The probe dropped its sessions without a goodbye (vanished viewers): all eight places are free again.
        let (secondStatus, second) = try runToEnd(URL(fileURLWithPath: "/usr/bin/env"), ["python3", client.path, socketURL, "--hold", "8"])
        XCTAssertEqual(secondStatus, 0, second)
        XCTAssertTrue(second.contains(#""opened": 8"#), second)
        XCTAssertEqual(run.finish(), 0, run.errorText)
    }

    func testTakenPortIsAClearError() throws {
        let first = try ServingRun(["learn", "--seconds", "6", "--serve", "127.0.0.1:0"])
        let port = try XCTUnwrap(URLComponents(string: first.url)?.port)
        let (status, output) = try runForesight(["learn", "--seconds", "2", "--serve", "127.0.0.1:\(port)"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("cannot serve the live view at 127.0.0.1:\(port)"), output)
        XCTAssertTrue(output.contains("Address already in use"), output)
        XCTAssertFalse(output.contains("done:"), "it should not learn without the view it was asked for:\n\(output)")
        XCTAssertEqual(first.finish(), 0)
    }

    func testBadAddressesAreRefusedBeforeAnythingRuns() throws {
        for bad in ["70000", "web", "localhost:", ":8080", "-1", "1.2.3.4:port"] {
            let (status, output) = try runForesight(["learn", "--seconds", "1", "--serve", bad])
            XCTAssertNotEqual(status, 0, bad)
            XCTAssertTrue(output.contains("--serve"), "\(bad): \(output)")
            XCTAssertFalse(output.contains("done:"), bad)
        }
    }

    /// The page in Chromium, as a person would open it: after a few seconds its images have
    /// changed and its error curve has points. The screenshot is kept as an artefact (the folder
    /// in FORESIGHT_TEST_ARTEFACTS, else the temporary directory).
    func testPageInAHeadlessBrowserShowsChangingImagesAndTheErrorCurve() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("Chromium is not installed (apt-get install chromium)")
        }
        let run = try ServingRun(["learn", "--seconds", "12", "--serve", "127.0.0.1:0"])
        usleep(2_500_000)   // the first point of the curve comes after one second
        let browser = URL(fileURLWithPath: chromium)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1100,760", "--virtual-time-budget=4000"]
        let (status, dom) = try runToEnd(browser, common + ["--dump-dom", run.url])
        XCTAssertEqual(status, 0, dom)
        func attribute(_ name: String) -> Int {
            guard let range = dom.range(of: name + #"="\d+""#, options: .regularExpression) else { return -1 }
            return Int(dom[range].dropFirst(name.count + 2).dropLast()) ?? -1
        }
        XCTAssertGreaterThan(attribute("data-updates"), 1, "the page did not poll the numbers:\n\(dom.prefix(2000))")
        XCTAssertGreaterThan(attribute("data-image-versions"), 1, "the page's images did not change")
        XCTAssertGreaterThan(attribute("data-points"), 0, "the error plot has no points")
        XCTAssertTrue(dom.contains("pc64"), "the title is missing")

        let folder = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FORESIGHT_TEST_ARTEFACTS"]
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("foresight-test-artefacts").path)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let screenshot = folder.appendingPathComponent("live-view.png")
        try? FileManager.default.removeItem(at: screenshot)
        _ = try runToEnd(browser, common + ["--screenshot=\(screenshot.path)", run.url])
        let png = try Data(contentsOf: screenshot)
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "the screenshot is not a PNG")
        XCTAssertGreaterThan(png.count, 10_000, "the screenshot looks empty")
        print("live view screenshot: \(screenshot.path)")
        XCTAssertEqual(run.finish(), 0, run.errorText)
    }
}
