// `foresight learn`: trains the frame predictor and reports it against the copy-last-frame
// baseline as it goes.

import ArgumentParser
import Foundation
import ForesightCore
import ForesightLearn
import ForesightNN

struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn to predict the next frame of a video (default: the built-in synthetic scene).",
        discussion: "Prints the model's next-frame error beside the error of repeating the last frame; a ratio below 1 means the model has learned something about motion."
    )

    @Option(help: "Stop after this many seconds.")
    var seconds: Double?

    @Option(help: "Stop after this many training steps.")
    var steps: Int?

    @Option(help: "Kernel worker threads (default: the profile's cores, else 1).")
    var threads: Int?

    @Option(help: "Device profile: a name from devices/ (e.g. raspberry-pi-5) or a path to a profile file.")
    var profile: String?

    @Option(help: "Adam learning rate.")
    var learningRate: Float = 1e-3

    @Option(help: "Seed for weights and scene.")
    var seed: UInt64 = 1

    @Flag(help: "Print one JSON summary object at the end instead of progress lines.")
    var json = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1 (got \(steps))") }
        if let seconds, !(seconds > 0) { throw ValidationError("--seconds must be positive (got \(seconds))") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive (got \(learningRate))") }
    }

    func run() throws {
        let device = try profile.map { try DeviceProfile.load(named: $0) }
        let threads = self.threads ?? device?.cores ?? 1
        let trainer = try FramePredictionTrainer(threads: threads, learningRate: learningRate, seed: seed, budget: device?.memoryBudget)
        if !json {
            if let device { print("profile: \(device.name), \(device.cores) cores, budget \(device.memoryBudgetMiB) MiB") }
            print("pc64 on the synthetic moving-squares scene: batch \(trainer.batch), \(threads) thread(s), \(trainer.program.parameterCount) parameters")
            print("memory plan:\n\(trainer.program.memory)")
            print("   step   model MSE   copy-last MSE   ratio   steps/s")
        }
        let start = Date()
        var lastReport = start
        var window: (loss: Float, copyLast: Float, count: Int) = (0, 0, 0)
        var stepCount = 0
        var recent: (loss: Float, copyLast: Float) = (0, 0)
        while true {
            if let steps, stepCount >= steps { break }
            if let seconds, Date().timeIntervalSince(start) >= seconds { break }
            let result = try trainer.step()
            stepCount += 1
            window.loss += result.loss; window.copyLast += result.copyLast; window.count += 1
            let now = Date()
            if now.timeIntervalSince(lastReport) >= 1 || (steps.map { stepCount == $0 } ?? false) {
                recent = (window.loss / Float(window.count), window.copyLast / Float(window.count))
                if !json {
                    print(String(format: "%7d   %9.5f   %13.5f   %5.2f   %7.1f", stepCount, recent.loss, recent.copyLast,
                                 recent.loss / recent.copyLast, Double(window.count) / now.timeIntervalSince(lastReport)))
                }
                window = (0, 0, 0)
                lastReport = now
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        let evaluation = trainer.evaluate(batches: 8)
        if json {
            let summary: [String: Any] = [
                "steps": stepCount, "seconds": rounded(elapsed, 2), "steps_per_s": rounded(Double(stepCount) / elapsed, 2),
                "mse_model": Double(evaluation.loss), "mse_copy_last": Double(evaluation.copyLast),
                "peak_rss_mib": rounded(peakResidentMiB(), 1),
            ]
            let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "done: %d steps in %.1f s; on 8 fresh batches the model's MSE is %.5f against %.5f for copy-last (%.2fx); peak memory %.1f MiB",
                         stepCount, elapsed, evaluation.loss, evaluation.copyLast, evaluation.loss / evaluation.copyLast, peakResidentMiB()))
        }
    }
}

/// Times pc64 training steps on one fixed batch (bench pc64).
final class PC64Benchmark {
    let trainer: FramePredictionTrainer

    init(threads: Int) throws {
        trainer = try FramePredictionTrainer(threads: threads, seed: 1)
        _ = trainer.loadBatch()
    }

    func step() throws { try trainer.program.step() }
}
