// What the live view's requests answer, made from a copy of the publication: the numbers and
// the error curve as JSON, the images as RGBA bytes a browser canvas takes as they are, and
// the metrics in Prometheus' text format.

import Foundation
import ForesightCore
import ForesightLive
import Prometheus

/// Reads the publication and encodes it for the web; one per server, shared by its requests.
final class LiveViewContent: @unchecked Sendable {
    let publication: LivePublication
    let metrics: LiveMetrics

    init(publication: LivePublication) {
        self.publication = publication
        metrics = LiveMetrics(publication: publication)
    }

    /// {"kind", "title", "status": {...}, "points": [[seconds, model, copyLast, loss], ...], "memoryMiB"}.
    func statusJSON() -> [UInt8] {
        let (status, points) = publication.read()
        let object: [String: Any] = [
            "kind": publication.kind.rawValue,
            "title": publication.title,
            "size": publication.size,
            "motion": publication.hasMotion,
            "memoryMiB": residentMiB(),
            "status": [
                "steps": status.steps, "totalSteps": status.totalSteps, "frames": status.frames, "dropped": status.dropped,
                "seconds": finite(status.seconds), "modelError": finite(status.modelError), "copyLastError": finite(status.copyLastError),
                "loss": finite(status.loss), "learningRate": finite(status.learningRate), "stepsPerSecond": finite(status.stepsPerSecond),
                "rollbacks": status.rollbacks, "imageVersion": status.imageVersion, "finished": status.finished,
            ] as [String: Any],
            "points": points.map { [finite($0.seconds), finite($0.modelError), finite($0.copyLastError), finite($0.loss)] },
        ]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    /// JSON has no NaN or infinity: such a value goes out as 0.
    private func finite(_ value: Double) -> Double { value.isFinite ? value : 0 }

    /// The images: a header of 8 bytes (side, panel count, version as little-endian UInt16,
    /// UInt16, UInt32), then each panel as side x side RGBA: the newest past frame, the
    /// prediction, the truth and (when published) the motion colour-coded.
    func imageBytes() -> [UInt8] {
        var planes = [Float]()
        let version = publication.readImages(into: &planes)
        let side = publication.size, plane = side * side
        let panels = publication.panelCount
        var bytes = [UInt8](repeating: 255, count: 8 + panels * plane * 4)
        bytes[0] = UInt8(side & 0xff); bytes[1] = UInt8(side >> 8)
        bytes[2] = UInt8(panels); bytes[3] = 0
        for i in 0..<4 { bytes[4 + i] = UInt8((version >> (8 * i)) & 0xff) }
        for panel in 0..<panels {
            for i in 0..<plane {
                let (r, g, b) = publication.colour(ofPanel: panel, pixel: i, in: planes)
                let at = 8 + (panel * plane + i) * 4
                bytes[at] = r; bytes[at + 1] = g; bytes[at + 2] = b
            }
        }
        return bytes
    }
}

/// The run's numbers as Prometheus metrics, brought up to date from the publication at each
/// scrape. Names follow Prometheus' conventions: a `foresight_` prefix, `_total` on counters,
/// base units (seconds, bytes). A live run exposes frames, drops, rollbacks and errors; a
/// training run its progress; both the steps, the loss, the rate, the time and the memory.
final class LiveMetrics: @unchecked Sendable {
    private let publication: LivePublication
    private let registry = PrometheusCollectorRegistry()
    private let steps: Counter, loss: Gauge, stepsPerSecond: Gauge, uptime: Gauge, resident: Gauge
    /// Live runs only.
    private let live: (frames: Counter, dropped: Counter, rollbacks: Counter, modelError: Gauge, copyLastError: Gauge, ratio: Gauge,
                       learningRate: Gauge)?
    /// Training runs only.
    private let progress: Gauge?
    /// Runs in a federation only.
    private let fleetRounds: Counter?
    /// What the counters have been told so far (a counter only goes up by the difference).
    private let counted = Locked((steps: 0, frames: 0, dropped: 0, rollbacks: 0, fleetRounds: 0))

    init(publication: LivePublication) {
        self.publication = publication
        // A name is foresight_<metric>[_<unit>]; counters end in _total.
        let registry = self.registry
        func counter(_ metric: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: .init(namespace: "foresight", metricName: metric, unitName: "total", helpText: help))
        }
        func gauge(_ metric: String, unit: String = "", _ help: String) -> Gauge {
            registry.makeGauge(descriptor: .init(namespace: "foresight", metricName: metric, unitName: unit, helpText: help))
        }
        steps = counter("training_steps", "Training steps taken by this run.")
        loss = gauge("loss", "The last training step's loss.")
        stepsPerSecond = gauge("training_steps_per_second", "Training steps per second since the run started.")
        uptime = gauge("run", unit: "seconds", "Seconds since the run started.")
        resident = gauge("resident_memory", unit: "bytes", "Resident memory of the process.")
        switch publication.kind {
        case .live:
            live = (counter("frames", "Frames the learner received."),
                    counter("frames_dropped", "Frames the source dropped because the learner was busy."),
                    counter("rollbacks", "Times the learner rolled back to its last good state after a loss spike."),
                    gauge("prediction_error", "Mean squared error of the model's predicted next frame, over the evaluation window."),
                    gauge("copy_last_error", "Mean squared error of copying the last frame, over the evaluation window."),
                    gauge("prediction_error", unit: "ratio", "The model's error over copy-last's (below 1: the model predicts better)."),
                    gauge("learning_rate", "The optimizer's step size."))
            progress = nil
        case .train:
            live = nil
            progress = gauge("progress", unit: "ratio", "Fraction of the run's steps done.")
        }
        fleetRounds = publication.fleetRounds.load(ordering: .relaxed) >= 0
            ? counter("fleet_rounds", "Federation rounds whose average this robot adopted (--fleet).") : nil
    }

    /// The metrics as of now, in Prometheus' text format.
    func scrape() -> [UInt8] {
        let (status, _) = publication.read()
        counted.withLock { counted in
            steps.increment(by: Int64(max(0, status.steps - counted.steps)))
            if let live {
                live.frames.increment(by: Int64(max(0, status.frames - counted.frames)))
                live.dropped.increment(by: Int64(max(0, status.dropped - counted.dropped)))
                live.rollbacks.increment(by: Int64(max(0, status.rollbacks - counted.rollbacks)))
            }
            let rounds = publication.fleetRounds.load(ordering: .relaxed)
            fleetRounds?.increment(by: Int64(max(0, rounds - counted.fleetRounds)))
            counted = (max(counted.steps, status.steps), max(counted.frames, status.frames), max(counted.dropped, status.dropped),
                       max(counted.rollbacks, status.rollbacks), max(counted.fleetRounds, rounds))
        }
        loss.set(to: status.loss)
        stepsPerSecond.set(to: status.stepsPerSecond)
        uptime.set(to: status.seconds)
        resident.set(to: residentMiB() * 1024 * 1024)
        if let live {
            live.modelError.set(to: status.modelError)
            live.copyLastError.set(to: status.copyLastError)
            live.ratio.set(to: status.copyLastError > 0 ? status.modelError / status.copyLastError : 0)
            live.learningRate.set(to: status.learningRate)
        }
        progress?.set(to: status.totalSteps > 0 ? Double(status.steps) / Double(status.totalSteps) : 0)
        return registry.emitToBuffer()
    }
}
