// `foresight bench live`: continuous learning on the synthetic 64x64 ego-motion stream at
// 30 frames/s with the default model, reported with the keys of `foresight learn --json`.

import Foundation
import ForesightIO
import ForesightLive
import ForesightSSL
import ForesightSensors
import ForesightExport

extension Bench {
    func benchLive() throws {
        var settings = LiveLearnerConfiguration()
        settings.threads = threads
        let learner = try LiveLearner(settings)
        let source = PacedFrameProducer.synthetic(.egoMotion, seed: 1)
        let seconds = liveSeconds
        if !json { print("live: \(learner.architecture) on synthetic ego-motion at 30 frames/s for \(Int(seconds)) s, \(threads) thread(s)") }
        let report = try learner.run(source, seconds: seconds)
        var object = report.json
        object["workload"] = "live"
        object["threads"] = threads
        let steady = report.residentMiBAt10Seconds.map { abs(report.residentMiBAtEnd - $0) <= 2 } ?? false
        object["memory_flat"] = steady
        if json {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: """
                frames %d (dropped %d), %d steps (%.1f/s)
                next-frame MSE over the last 10 s: model %.6f, copy-last %.6f (%.2fx)
                memory: %.1f MiB at 10 s, %.1f MiB at the end (%@), peak %.1f MiB
                """, report.frames, report.dropped, report.steps, report.stepsPerSecond, report.modelError, report.copyLastError,
                report.ratio, report.residentMiBAt10Seconds ?? 0, report.residentMiBAtEnd, steady ? "flat" : "not flat", report.peakResidentMiB))
        }
    }
}
