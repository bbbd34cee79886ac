// SIGKILL at random moments: `foresight learn` and `foresight train`, each started again with
// --resume after every kill, are killed while they start, load, learn and write checkpoints.
// After every kill the checkpoint on disk must be a whole file that loads and holds no fewer
// steps than any checkpoint seen before, and at most one checkpoint interval fewer than the
// killed run had done (its --heartbeat file says how many); the next run must resume from
// exactly those steps. A fifth of the kills wait for a checkpoint's temporary file to appear,
// to land inside a write.
//
// FORESIGHT_CHAOS_KILLS sets the kills per command (default 50), FORESIGHT_CHAOS_SEED the
// moments (default: a new seed, printed with any failure).

import Foundation
import XCTest
import ForesightTestSupport
import ForesightCore
@testable import ForesightIO

final class ChaosTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder("foresight-chaos")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Steps between checkpoints: at most this many may be lost by a kill.
    private let interval = 2
    private var heartbeat: String { folder.appendingPathComponent("heartbeat").path }

    private var kills: Int { ProcessInfo.processInfo.environment["FORESIGHT_CHAOS_KILLS"].flatMap { Int($0) } ?? 50 }

    func testLearnSurvivesRandomKills() throws {
        let checkpoint = folder.appendingPathComponent("live.safetensors").path
        try survivesRandomKills(checkpoint: checkpoint, resumedLine: "resumed from \(checkpoint) at step ") { resume in
            ["learn", "--as-fast-as-possible", "--checkpoint", checkpoint, "--checkpoint-every", "\(interval)", "--replay", "32", "--seconds", "60",
             "--heartbeat", heartbeat]
                + (resume ? ["--resume"] : [])
        }
    }

    func testTrainSurvivesRandomKills() throws {
        let clip = folder.appendingPathComponent("clip.y4m")
        var data = Data("YUV4MPEG2 W32 H32 F30:1 Ip A1:1 Cmono\n".utf8)
        for index in 0..<48 {
            data.append(Data("FRAME\n".utf8))
            data.append(Data((0..<(32 * 32)).map { UInt8(truncatingIfNeeded: ($0 % 32 + index) * 5 + $0 / 32) }))
        }
        try data.write(to: clip)
        let model = folder.appendingPathComponent("next-frame.safetensors").path
        try survivesRandomKills(checkpoint: model, resumedLine: "resumed from \(model) at step ") { resume in
            ["train", "--method", "next-frame", "--data", clip.path, "--steps", "1000000", "--checkpoint-every", "\(interval)", "-o", model,
             "--heartbeat", heartbeat]
                + (resume ? ["--resume"] : [])
        }
    }

    /// Starts `command(resume)` `kills` times, each killed at a random moment, resuming when a
    /// checkpoint exists; checks the file after each kill and the resumed step of each start.
    private func survivesRandomKills(checkpoint: String, resumedLine: String, command: (Bool) -> [String]) throws {
        let seed = ProcessInfo.processInfo.environment["FORESIGHT_CHAOS_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        var random = SeededRandom(seed: seed)
        let context = "seed \(seed) (FORESIGHT_CHAOS_SEED)"
        let folderPath = (checkpoint as NSString).deletingLastPathComponent
        let partialPrefix = "." + (checkpoint as NSString).lastPathComponent + ".partial-"
        var savedSteps: Int? = nil     // the checkpoint's steps after the last kill (nil: none yet)
        var insideWrites = 0, resumes = 0, mostSteps = 0, mostLost = 0, lostMeasured = 0
        for round in 0..<kills {
            let resume = savedSteps != nil
            let run = try RunningForesight(command(resume))
            let pid = run.process.processIdentifier
            var highest = savedSteps ?? 0   // the most steps a checkpoint held while this run ran
            if round % 5 == 4 {
                // Kill inside a write: as soon as this run's temporary checkpoint file exists.
                let partial = folderPath + "/" + partialPrefix + "\(pid)"
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline && access(partial, F_OK) != 0 && run.process.isRunning { usleep(200) }
                if access(partial, F_OK) == 0 { insideWrites += 1 }
            } else {
                // Anywhere from starting up to several checkpoints in: 0 to 1.5 s.
                let deadline = Date().addingTimeInterval(Double(random.next() % 1500) / 1000)
                while Date() < deadline {
                    if let steps = try? Checkpoint(path: checkpoint).steps { highest = max(highest, steps) }
                    usleep(5_000)
                }
            }
            XCTAssertTrue(run.process.isRunning, "round \(round), \(context): the run ended before it was killed: \(run.output)")
            kill(pid, SIGKILL)
            run.process.waitUntilExit()
            XCTAssertEqual(run.process.terminationReason, .uncaughtSignal, "round \(round), \(context)")

            // A started run resumed from exactly the steps on disk.
            if resume, let line = run.output.split(separator: "\n").first(where: { $0.hasPrefix(resumedLine) }) {
                XCTAssertEqual(Int(line.dropFirst(resumedLine.count)), savedSteps, "round \(round), \(context): \(run.output)")
                resumes += 1
            }
            // The file on disk is whole (its checksum is checked) and not older than any seen.
            guard FileManager.default.fileExists(atPath: checkpoint) else {
                XCTAssertNil(savedSteps, "round \(round), \(context): the checkpoint disappeared")
                continue
            }
            let steps: Int
            do { steps = try Checkpoint(path: checkpoint).steps } catch {
                XCTFail("round \(round), \(context): the checkpoint does not load after the kill: \(error)")
                return
            }
            XCTAssertGreaterThanOrEqual(steps, highest, "round \(round), \(context): the checkpoint went back")
            // The steps the killed run had done, from its heartbeat (none when it was killed before
            // its first beat): at most one interval of them may be missing from the checkpoint.
            if let beat = try? Heartbeat.read(heartbeat) {
                let lost = beat.steps - steps
                XCTAssertLessThanOrEqual(lost, interval, "round \(round), \(context): \(lost) steps lost (heartbeat \(beat), checkpoint \(steps))")
                XCTAssertLessThanOrEqual(beat.saved, steps, "round \(round), \(context): the heartbeat says more was saved than the file holds")
                mostLost = max(mostLost, lost)
                lostMeasured += 1
            }
            savedSteps = steps
            mostSteps = max(mostSteps, steps)
        }
        // Partial files of the killed runs are removed by the next start; only the last run's may remain.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folderPath).filter { $0.hasPrefix(partialPrefix) }
        XCTAssertLessThanOrEqual(leftovers.count, 1, "\(context): \(leftovers)")
        XCTAssertGreaterThan(insideWrites, 0, "\(context): no kill landed inside a checkpoint write")
        XCTAssertGreaterThan(resumes, kills / 2, "\(context): too few runs got as far as resuming")
        XCTAssertGreaterThan(mostSteps, 10, "\(context): learning made no progress across the kills")
        XCTAssertGreaterThan(lostMeasured, kills / 2, "\(context): too few kills found a heartbeat to measure the steps lost")
        print("chaos \(command(false).first!): \(kills) kills, \(insideWrites) inside checkpoint writes, \(resumes) resumed, \(mostSteps) steps at the end; steps lost per kill at most \(mostLost) (checkpoint every \(interval), measured on \(lostMeasured) kills), \(context)")
    }
}
