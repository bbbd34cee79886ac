// Live learning from sound: samples from a microphone, or a WAV file replayed in real time,
// feed the audio predictive-coding trainer (log-mel frames, conv encoder, GRU context,
// InfoNCE over the next steps), one training step per chunk once enough audio has arrived.

import Foundation
import ForesightCore
import ForesightSensors
import ForesightIO
import ForesightSSL

/// What a live audio run reports.
public struct LiveAudioReport: Sendable {
    public var audioSeconds: Double = 0
    public var chunks = 0
    public var dropped = 0
    public var steps = 0
    public var seconds: Double = 0
    /// Mean InfoNCE loss and accuracy of the last 50 steps.
    public var loss: Double = 0
    public var accuracy: Double = 0
    public var chance: Double = 0
    public var peakResidentMiB: Double = 0
    /// Steps of the checkpoint the run resumed from (0 for a fresh start); `steps` counts this run's.
    public var resumedSteps = 0
    /// Checkpoints written in this run.
    public var checkpoints = 0
    /// Why the run ended early when its source stopped delivering (nil otherwise).
    public var stalled: String?
    /// A microphone's overruns and the samples they lost.
    public var overruns = 0, lostSamples = 0

    public var json: [String: Any] {
        ["audio_seconds": (audioSeconds * 100).rounded() / 100, "chunks": chunks, "dropped": dropped, "steps": steps,
         "steps_per_s": seconds > 0 ? (Double(steps) / seconds * 100).rounded() / 100 : 0,
         "infonce_loss": loss, "infonce_accuracy": accuracy, "chance": chance, "peak_rss_mib": (peakResidentMiB * 10).rounded() / 10,
         "resumed_steps": resumedSteps, "checkpoints": checkpoints, "stalled": stalled ?? NSNull(),
         "overruns": overruns, "lost_samples": lostSamples]
    }
}

/// A source of mono audio chunks at the trainer's sample rate, delivered into a ring.
public final class LiveAudioSource: @unchecked Sendable {
    public let ring: FrameRing<Float>
    public let label: String
    private let startSource: () -> Void
    private let stopSource: () -> Void
    private let isFinished: () -> Bool
    private let capturing: () -> (overruns: Int, lostSamples: Int, failure: String?)

    private init(ring: FrameRing<Float>, label: String, start: @escaping () -> Void, stop: @escaping () -> Void, finished: @escaping () -> Bool,
                 capturing: @escaping () -> (overruns: Int, lostSamples: Int, failure: String?) = { (0, 0, nil) }) {
        self.ring = ring; self.label = label; startSource = start; stopSource = stop; isFinished = finished; self.capturing = capturing
    }

    /// A microphone's overruns (the capture fell behind and the device's buffer overflowed),
    /// the samples they lost, and the error that stopped its capture (an unplugged device);
    /// all 0 and nil for a recording.
    public var captureState: (overruns: Int, lostSamples: Int, failure: String?) { capturing() }

    /// Chunks a recording delivers per second (100 ms each; a microphone delivers one a period,
    /// more often).
    public static let chunksPerSecond = 10.0

    public func start() { startSource() }
    public func stop() { stopSource() }
    public var finished: Bool { isFinished() }

    /// A capture device (`default`, `hw:X,Y`, `plughw:X,Y`), mono at `sampleRate`.
    public static func microphone(_ name: String, sampleRate: Int = 16_000) throws -> LiveAudioSource {
        let capture = try MicrophoneCapture(name: name, sampleRate: sampleRate, channels: 1)
        return LiveAudioSource(ring: capture.ring, label: name, start: { capture.start() }, stop: { capture.stop() }, finished: { false },
                               capturing: { let status = capture.status; return (status.overruns, status.lostFrames, status.lastError.map { "\($0)" }) })
    }

    /// A WAV file, mixed to mono and resampled to `sampleRate` as it is read, replayed in
    /// chunks of 100 ms in real time (or as fast as the learner takes them); memory is a chunk,
    /// whatever the file's length.
    public static func recording(path: String, sampleRate: Int = 16_000, paced: Bool = true) throws -> LiveAudioSource {
        let sound = try WAVMonoReader(path: path, sampleRate: sampleRate)
        let chunk = sampleRate / Int(chunksPerSecond)
        let producer = PacedFrameProducer(size: 1, framesPerSecond: chunksPerSecond, label: path, paced: paced, slots: 16, slotCapacity: chunk) { target in
            try sound.read(into: UnsafeMutableBufferPointer(start: target, count: chunk)) == chunk
        }
        return LiveAudioSource(ring: producer.ring, label: path, start: { producer.start() }, stop: { producer.stop() }, finished: { producer.finished })
    }
}

extension AudioPredictiveCodingTrainer {
    /// The architecture its checkpoints carry: a checkpoint resumes only a trainer of the same one.
    public var architecture: String {
        let c = configuration
        return "audio-cpc \(c.sampleRate) Hz, \(c.melBands) mel bands, \(c.steps) steps of \(c.encodingFeatures) features, \(c.predictionSteps) ahead"
    }

    /// Steps trained, resumed ones included (the optimizer's count).
    public var stepsDone: Int { program.optimizer?.stepCount ?? 0 }

    /// Writes the trained state (parameters, optimizer state, band statistics) to `path`, atomically.
    public func saveCheckpoint(to path: String) throws {
        try Checkpoint(architecture: architecture, steps: stepsDone, optimizer: program.optimizer,
                       details: ["objective": "audio-cpc", "audio.frames": String(framesReceived)])
            .write(to: path, state: trainingState)
    }

    /// Continues from a checkpoint written by `saveCheckpoint` for the same architecture.
    public func resume(from path: String) throws {
        let checkpoint = try Checkpoint(path: path)
        try checkpoint.require(architecture: architecture)
        try checkpoint.restore(trainingState, optimizer: program.optimizer)
    }

    /// Trains on `source` as it arrives until `seconds` pass, the source ends or `shouldStop()`;
    /// `progress` is called about once a second. A source that delivers nothing for
    /// `stallSeconds` (nil: wait for ever; a pipe gone silent), or whose capture stopped with
    /// an error (a microphone unplugged), ends the run, with the reason in the report's
    /// `stalled`; `notice` hears of overruns, at most once a second. With `checkpoint`, the trained state
    /// is written there every `checkpointEvery` steps and at the end (when any step was taken);
    /// a failed write ends the run with the error and leaves the previous file as it was.
    /// `heartbeat` is rewritten after every step with the steps done and those saved.
    public func runLive(_ source: LiveAudioSource, seconds: Double? = nil, stallSeconds: Double? = nil, checkpoint: String? = nil,
                        checkpointEvery: Int = 500, heartbeat: Heartbeat? = nil, shouldStop: () -> Bool = { false }, notice: (String) -> Void = { _ in },
                        progress: (LiveAudioReport) -> Void = { _ in }) throws -> LiveAudioReport {
        precondition(checkpointEvery >= 1, "checkpointEvery must be at least 1")
        var report = LiveAudioReport()
        report.chance = Double(configuration.chance)
        report.resumedSteps = stepsDone
        var savedSteps = stepsDone   // a resumed checkpoint's, or 0
        heartbeat?.beat(steps: stepsDone, saved: savedSteps)
        var recent: [(loss: Float, accuracy: Float)] = []
        recent.reserveCapacity(50)
        let start = MonotonicClock.nanoseconds()
        var lastProgress = start
        source.start()
        defer { source.stop() }
        func summarize() {
            report.seconds = MonotonicClock.seconds(since: start)
            report.loss = recent.isEmpty ? 0 : recent.map { Double($0.loss) }.reduce(0, +) / Double(recent.count)
            report.accuracy = recent.isEmpty ? 0 : recent.map { Double($0.accuracy) }.reduce(0, +) / Double(recent.count)
            report.dropped = Int(source.ring.statistics.dropped)
            let capture = source.captureState
            report.overruns = capture.overruns
            report.lostSamples = capture.lostSamples
        }
        var overrunsNoticed = 0, lastNotice: UInt64 = 0
        var waitingSince: UInt64?   // when the run began waiting for the chunk it still waits for
        while true {
            if let seconds, MonotonicClock.seconds(since: start) >= seconds { break }
            if shouldStop() { break }
            let samples = source.ring.waitOldest(timeoutNanoseconds: 50_000_000) { chunk, _ -> Int in
                append(chunk)
                return chunk.count
            }
            guard let samples else {
                if source.finished && source.ring.statistics.waiting == 0 { break }
                if let failure = source.captureState.failure {
                    report.stalled = "\(source.label) stopped: \(failure)"
                    break
                }
                let now = MonotonicClock.nanoseconds()
                waitingSince = waitingSince ?? now
                if let stallSeconds, Double(now - waitingSince!) * 1e-9 >= stallSeconds {
                    report.stalled = "\(source.label) delivered no sound for \(String(format: "%g", stallSeconds)) s; stopped (a slower source needs a longer --stall-timeout)"
                    break
                }
                continue
            }
            waitingSince = nil
            let capture = source.captureState
            if capture.overruns > overrunsNoticed && MonotonicClock.nanoseconds() - lastNotice >= 1_000_000_000 {
                notice("\(source.label): \(capture.overruns - overrunsNoticed) overrun(s), \(capture.lostSamples) samples lost in all (the capture fell behind); continuing")
                overrunsNoticed = capture.overruns
                lastNotice = MonotonicClock.nanoseconds()
            }
            report.chunks += 1
            report.audioSeconds += Double(samples) / Double(configuration.sampleRate)
            guard framesAvailable >= configuration.windowFrames else { continue }
            let result: StepResult
            do { result = try step() } catch TrainingError.notEnoughAudio { continue }
            report.steps += 1
            heartbeat?.beat(steps: stepsDone, saved: savedSteps)
            if let checkpoint, stepsDone % checkpointEvery == 0 {
                try saveCheckpoint(to: checkpoint)
                report.checkpoints += 1
                savedSteps = stepsDone
                heartbeat?.beat(steps: stepsDone, saved: savedSteps)
            }
            if recent.count == 50 { recent.removeFirst() }
            recent.append((result.loss, result.accuracy))
            if MonotonicClock.nanoseconds() - lastProgress >= 1_000_000_000 {
                lastProgress = MonotonicClock.nanoseconds()
                summarize()
                progress(report)
            }
        }
        summarize()
        if let checkpoint, report.steps > 0, stepsDone % checkpointEvery != 0 {
            try saveCheckpoint(to: checkpoint)
            report.checkpoints += 1
            heartbeat?.beat(steps: stepsDone, saved: stepsDone)
        }
        report.peakResidentMiB = peakResidentMiB()
        return report
    }
}

/// Audio learning on a thread of its own, beside the video learner (`learn --camera ... --mic ...`).
public final class BackgroundAudioLearning: @unchecked Sendable {
    private let trainer: AudioPredictiveCodingTrainer
    private let source: LiveAudioSource
    private let checkpoint: String?
    private let checkpointEvery: Int
    private let stallSeconds: Double?
    private let learning = StoppableThread(name: "foresight.audio")
    /// Written by the learning thread; read after joining it.
    private var outcome: Result<LiveAudioReport, any Error>?

    /// With `checkpoint`, the sound model is written there as `runLive` does; a source silent
    /// for `stallSeconds` ends the sound learning (not the pictures') as it does there.
    public init(trainer: AudioPredictiveCodingTrainer, source: LiveAudioSource, checkpoint: String? = nil, checkpointEvery: Int = 500,
                stallSeconds: Double? = nil) {
        self.trainer = trainer
        self.source = source
        self.checkpoint = checkpoint
        self.checkpointEvery = checkpointEvery
        self.stallSeconds = stallSeconds
    }

    /// Starts learning; `externalStop` is polled as well (for Ctrl-C); `notice` hears of
    /// microphone overruns, as in `runLive`.
    public func start(externalStop: @escaping @Sendable () -> Bool, notice: @escaping @Sendable (String) -> Void = { _ in }) {
        learning.start { [self] in
            outcome = Result {
                try trainer.runLive(source, stallSeconds: stallSeconds, checkpoint: checkpoint, checkpointEvery: checkpointEvery,
                                    shouldStop: { self.learning.stopRequested.isOpen || externalStop() }, notice: notice)
            }
        }
    }

    /// Stops, waits, and returns the report (or throws what stopped the learning).
    public func finish() throws -> LiveAudioReport {
        precondition(learning.isStarted, "BackgroundAudioLearning finished before it started")
        learning.stop()
        return try outcome!.get()
    }
}
