// The continuous learner: reads frames as a sensor delivers them, predicts each frame before
// training on it (prequential evaluation against the copy-last-frame baseline), and takes one
// training step per frame on the newest clip mixed with a reservoir of older ones. Everything
// is sized at start-up and checked against the memory budget; checkpoints are atomic; a
// non-finite or exploding loss rolls back to the last good state with a lower learning rate;
// predictions far worse than copy-last stop the run without a checkpoint (diverged); a source
// silent for too long stops it with one.

import Foundation
import ForesightCore
import ForesightNN
import ForesightSensors
import ForesightIO
import ForesightSSL

/// What a live learner learns and with how much memory. Its initial values are the defaults of
/// `foresight learn` (a device profile sets the model, objective, threads and budget).
public struct LiveLearnerConfiguration: Sendable {
    /// The network that predicts frames.
    public enum Model: String, Sendable, CaseIterable {
        /// The 64 x 64 convolutional encoder-decoder of `Models.pc64` (the only one for now).
        case pc64
    }

    public enum Objective: String, Sendable, CaseIterable {
        /// The last frame warped by a predicted motion field plus a residual (the default).
        case motion
        /// The next frame's pixels directly.
        case nextFrame = "next-frame"
    }

    public var model = Model.pc64
    public var objective = Objective.motion
    public var batch = 8
    public var pastFrames = 4
    public var size = 64
    public var learningRate: Float = 1e-3
    /// Older clips kept for replay (8-bit), sampled uniformly from the whole stream.
    public var replayClips = 512
    /// Newest clips of each batch; the rest come from the reservoir.
    public var newestPerBatch = 2
    public var threads = 1
    public var seed: UInt64 = 1
    /// Bytes the whole plan may take (nil: no limit).
    public var budget: Int?
    /// Where to keep checkpoints (nil: none), and how often (training steps).
    public var checkpointPath: String?
    public var checkpointEvery = 500
    /// Seconds over which the reported errors are averaged.
    public var evaluationWindow: Double = 10
    /// Gradient-norm clipping.
    public var clipGradientNorm: Float? = 1
    /// Values of the action the source delivers with each frame (0: none). With actions the
    /// model predicts each frame from the past frames and the command applied since the last
    /// of them (`Models.pc64(actions:)`).
    public var actions = 0
    /// Predict and score every frame without training on it, and write no checkpoint: how a
    /// model learned elsewhere does on this stream (`foresight learn --frozen`).
    public var frozen = false
    /// Folder for PNG snapshot strips (nil: none), and how often (frames).
    public var snapshotDirectory: String?
    public var snapshotEvery = 150

    /// The defaults.
    public init() {}

    /// The defaults, written once: `foresight learn` reads its options' defaults from here.
    public static let defaults = LiveLearnerConfiguration()

    /// Checks the numbers a user gives (`foresight learn`'s options, a device profile) against
    /// their ranges before anything is allocated; the error names the option and its range. The
    /// replay reservoir must fit in the budget, or without one in this machine's memory.
    public func validate() throws {
        func refuse(_ name: String, _ text: String) -> LiveLearningError { .invalidSetting(name: name, message: text) }
        if let problem = ThreadLimit.problem(threads, option: "--threads") { throw refuse("--threads", problem) }
        guard (1...1024).contains(batch) else { throw refuse("--batch", "--batch must be 1 to 1024 clips (got \(batch))") }
        guard learningRate.isFinite, learningRate > 0, learningRate <= 1 else {
            throw refuse("--learning-rate", "--learning-rate must be above 0 and at most 1 (got \(learningRate))")
        }
        guard checkpointEvery >= 1, snapshotEvery >= 1 else {
            throw refuse("--checkpoint-every", "--checkpoint-every and --snapshot-every must be at least 1 (got \(checkpointEvery) and \(snapshotEvery))")
        }
        guard (0...64).contains(actions) else { throw refuse("--actions", "a live model takes 0 to 64 action values (got \(actions))") }
        guard evaluationWindow.isFinite, evaluationWindow > 0 else { throw refuse("evaluation window", "the evaluation window must be positive seconds (got \(evaluationWindow))") }
        let clipBytes = (pastFrames + 1) * size * size
        let memory = max(1, sysconf(Int32(_SC_PHYS_PAGES))) * max(1, sysconf(Int32(_SC_PAGESIZE)))
        let limit = budget ?? memory
        let fitting = limit / max(clipBytes, 1)
        guard replayClips >= 1, replayClips <= fitting else {
            let place = budget == nil ? "this machine's memory" : "the memory budget"
            throw refuse("--replay", "--replay must be 1 to \(fitting) clips: \(replayClips) clips of \(clipBytes) bytes would take \(replayClips.multipliedReportingOverflow(by: clipBytes).overflow ? "more than \(Int.max) bytes" : "\(replayClips * clipBytes >> 20) MiB"), more than \(place) (\(limit >> 20) MiB)")
        }
    }
}

/// What a live run reports, live and at the end.
public struct LiveReport: Sendable {
    public var frames = 0
    public var dropped = 0
    public var steps = 0
    public var seconds: Double = 0
    /// Mean next-frame errors over the evaluation window: the model's and copying the last frame's.
    public var modelError: Double = 0
    public var copyLastError: Double = 0
    public var peakResidentMiB: Double = 0
    public var residentMiBAt10Seconds: Double?
    public var residentMiBAtEnd: Double = 0
    public var rollbacks = 0
    /// Frames skipped because they held NaN or infinite values.
    public var rejectedFrames = 0
    /// Times the source stopped delivering and said why (a camera unplugged).
    public var interruptions = 0
    /// Values per action the model took with each frame (0: none), and the frames that came
    /// without one (before a recording's first action row), learned with zeros.
    public var actions = 0
    public var missingActions = 0
    public var learningRate: Float = 0
    /// The step count this run started from (a resumed checkpoint's steps, otherwise 0).
    public var resumedSteps = 0

    /// Training steps per second of this run (steps of a resumed checkpoint not counted).
    public var stepsPerSecond: Double { seconds > 0 ? Double(steps - resumedSteps) / seconds : 0 }
    public var ratio: Double { copyLastError > 0 ? modelError / copyLastError : 0 }

    /// The summary object of `foresight learn --json`.
    public var json: [String: Any] {
        [
            "frames": frames, "dropped": dropped, "steps": steps, "steps_per_s": (stepsPerSecond * 100).rounded() / 100,
            "mse_model": modelError, "mse_copy_last": copyLastError, "peak_rss_mib": (peakResidentMiB * 10).rounded() / 10,
            "rss_mib_at_10s": residentMiBAt10Seconds.map { ($0 * 10).rounded() / 10 } ?? NSNull(),
            "rss_mib_at_end": (residentMiBAtEnd * 10).rounded() / 10, "rollbacks": rollbacks, "rejected_frames": rejectedFrames, "seconds": (seconds * 100).rounded() / 100,
            "interruptions": interruptions, "actions": actions, "missing_actions": missingActions,
        ]
    }
}

/// Learns to predict a stream of frames while it arrives.
///
/// ```swift
/// let learner = try LiveLearner(LiveLearnerConfiguration())
/// let source = PacedFrameProducer.synthetic(.egoMotion)
/// let report = try learner.run(source, seconds: 60) { print($0.ratio) }
/// ```
public final class LiveLearner {
    public let configuration: LiveLearnerConfiguration
    /// Rewritten after every training step with the steps done and those in the checkpoint
    /// (nil: none). `foresight learn --heartbeat FILE`.
    public var heartbeat: Heartbeat?
    /// The steps the checkpoint on disk holds (0 before the first one).
    public private(set) var savedSteps = 0
    /// The frame-prediction trainer it feeds, the same that `train --method next-frame|motion`
    /// builds: the learner writes each batch into its inputs and finishes its steps.
    public let trainer: FramePredictionTrainer
    public var model: FramePredictionModel { trainer.model }
    public var program: Program { trainer.program }
    /// Bytes of everything sized at start: the program's arena, the replay reservoir, the frame
    /// history, the scores and the rollback copy.
    public let plannedBytes: Int
    public private(set) var report = LiveReport()
    /// Where the learner shows what it sees and expects (the live view, /metrics): each frame's
    /// numbers and every `publishEvery`-th frame's images, without ever waiting for a reader.
    public var publication: LivePublication?
    public var publishEvery = 2

    private let plane: Int
    /// The last K + newestPerBatch frames, a ring of planes [historyFrames, H, W]: a frame is
    /// copied here once from the sensor's ring and from here into the model's input, so every
    /// clip of the newest ones is read in place.
    private let history: UnsafeMutablePointer<Float>
    private let historyFrames: Int
    /// The slot of the newest frame, and the frames the ring holds (at most `historyFrames`).
    private var newest = -1, historyCount = 0
    private let replay: UnsafeMutablePointer<UInt8>         // [replayClips, K + 1, H, W]
    /// With actions: each history frame's action [historyFrames, A], and each replayed clip's
    /// (that of its last past frame) [replayClips, A].
    private let actionHistory: UnsafeMutablePointer<Float>
    private let replayActions: UnsafeMutablePointer<Float>
    private let actionCount: Int
    private var replayStored = 0
    private var clipsSeen = 0
    private var rng: SeededRandom
    private let goodState: UnsafeMutablePointer<Float>
    private let goodStateCount: Int
    /// Everything training changes: each parameter and its optimizer state ("optimizer.<name>"),
    /// as views fixed at start (what checkpoints hold and rollbacks restore).
    private let trainedState: [(name: String, tensor: Tensor)]
    /// The step whose parameters and optimizer state a rollback returns to.
    private(set) var goodStep = 0
    /// Running average of the loss over the steps this process has trained, and how many
    /// steps went into it: a jump is judged only once the average has seen enough steps, so
    /// a resumed run (whose step count starts high) builds its own average first.
    private var lossAverage: Double = 0
    private var averagedSteps = 0
    /// Set when the learner stopped because the loss kept diverging: what it holds then is not
    /// written over the last checkpoint.
    private var diverged = false
    /// The model's and copy-last's errors averaged over about the last 10 frames (`recentSteps`
    /// of them since the start or the last rollback), and the first frame's ratio of the two:
    /// the weights this run started from. A model far worse than both has diverged.
    private var recentModelError: Double = 0
    private var recentCopyLastError: Double = 0
    private var recentSteps = 0
    private var startingRatio: Double?
    /// Each scored frame's time and its model's and copy-last's errors, a ring of
    /// `scoreCapacity` sized at start: the evaluation window averages the newest of them.
    private let scores: UnsafeMutablePointer<Score>
    private static let scoreCapacity = 1 << 14
    /// One scored frame: when it came, and the model's and copy-last's errors on it.
    typealias Score = (time: Double, model: Float, copyLast: Float)
    /// The slot the next score goes to, and the scores the ring holds.
    private var nextScore = 0, scoreCount = 0
    private let snapshots: SnapshotWriter?

    public init(_ configuration: LiveLearnerConfiguration) throws {
        let c = configuration
        guard c.batch >= 1, c.pastFrames >= 1, c.size >= 16, c.size % 4 == 0, c.newestPerBatch >= 1, c.newestPerBatch <= c.batch,
              c.replayClips >= 1, c.threads >= 1 else {
            throw LiveLearningError.invalidSetting(name: "settings", message: "invalid live-learning settings: batch \(c.batch), past frames \(c.pastFrames), size \(c.size) (a multiple of 4, at least 16), newest per batch \(c.newestPerBatch), replay \(c.replayClips), threads \(c.threads)")
        }
        self.configuration = c
        switch c.model {
        case .pc64:
            // pc64 keeps its sigmoid here: live frames are whole scenes, not sparse shapes on black.
            trainer = try FramePredictionTrainer(c.objective == .motion ? .motion : .nextFrame, output: .sigmoid, batch: c.batch,
                                                 pastFrames: c.pastFrames, size: c.size, learningRate: c.learningRate,
                                                 threads: c.threads, seed: c.seed, actions: c.actions)
        }
        let program = trainer.program
        plane = c.size * c.size
        historyFrames = c.pastFrames + c.newestPerBatch
        let clip = (c.pastFrames + 1) * plane
        let replayBytes = c.replayClips * clip
        let trainedState = program.trainingState
        self.trainedState = trainedState
        goodStateCount = trainedState.reduce(0) { $0 + $1.tensor.count }
        actionCount = c.actions
        let scoreBytes = LiveLearner.scoreCapacity * MemoryLayout<Score>.stride
        let otherBytes = replayBytes + historyFrames * plane * 4 + goodStateCount * 4 + (historyFrames + c.replayClips) * c.actions * 4
            + scoreBytes
        plannedBytes = program.memory.total + otherBytes
        if let budget = c.budget, plannedBytes > budget {
            throw LiveLearningError.overBudget(plannedBytes: plannedBytes, budgetBytes: budget, breakdown: """
                  model arena       \(formatBytes(program.memory.total)) (batch \(c.batch), \(c.size)x\(c.size) frames)
                  replay reservoir  \(formatBytes(replayBytes)) (\(c.replayClips) clips)
                  frame history, scores and rollback copy \(formatBytes(otherBytes - replayBytes))
                """)
        }
        program.clipGradientNorm = c.clipGradientNorm
        history = .allocate(capacity: historyFrames * plane)
        replay = .allocate(capacity: replayBytes)
        goodState = .allocate(capacity: goodStateCount)
        actionHistory = .allocate(capacity: historyFrames * c.actions)
        replayActions = .allocate(capacity: c.replayClips * c.actions)
        scores = .allocate(capacity: LiveLearner.scoreCapacity)
        scores.initialize(repeating: (0, 0, 0), count: LiveLearner.scoreCapacity)
        actionHistory.initialize(repeating: 0, count: historyFrames * c.actions)
        replayActions.initialize(repeating: 0, count: c.replayClips * c.actions)
        // Touch every page now, so that the resident memory is what it will stay.
        history.initialize(repeating: 0, count: historyFrames * plane)
        replay.initialize(repeating: 0, count: replayBytes)
        goodState.initialize(repeating: 0, count: goodStateCount)
        rng = SeededRandom(seed: c.seed &+ 17)
        snapshots = try c.snapshotDirectory.map { try SnapshotWriter(directory: $0, size: c.size, maxMotion: 4) }
        saveGoodState()
    }

    deinit {
        history.deallocate(); replay.deallocate(); goodState.deallocate()
        actionHistory.deallocate(); replayActions.deallocate(); scores.deallocate()
    }

    /// Runs until `seconds` or `frames` are reached, the source ends, or `shouldStop()` says so.
    /// `progress` is called about once a second. A source that delivers no frame for
    /// `stallSeconds` (nil: wait for ever) ends the run with a `LiveLearningError`, after the
    /// checkpoint is written; so does divergence, which writes none. `notice` hears, once
    /// each, that the source was interrupted (a camera unplugged) and that it delivers again
    /// (see `InterruptionWatch`). With `actions`, each frame's action is the command in force
    /// at the frame's time stamp (the source then delivers none of its own).
    public func run(_ source: LiveFrameSource, seconds: Double? = nil, frames: Int? = nil, stallSeconds: Double? = nil,
                    actions feed: LiveActionFeed? = nil, shouldStop: () -> Bool = { false }, notice: (String) -> Void = { _ in },
                    progress: (LiveReport) -> Void = { _ in }) throws -> LiveReport {
        if let feed {
            guard source.actionCount == 0, feed.count == actionCount else {
                throw LiveLearningError.actionMismatch(message: "the model takes actions of \(actionCount) values; \(feed.label) gives \(feed.count)\(source.actionCount > 0 ? " and \(source.label) gives its own" : "")")
            }
        } else if source.actionCount != actionCount {
            throw LiveLearningError.actionMismatch(message: actionCount == 0
                ? "\(source.label) delivers actions of \(source.actionCount) values, but the model takes none (give it actions, or a source without them)"
                : "the model takes actions of \(actionCount) values, but \(source.label) delivers \(source.actionCount == 0 ? "none" : "\(source.actionCount)")")
        }
        let start = MonotonicClock.nanoseconds()
        var lastProgress = start
        source.start()
        defer { source.stop() }
        var stopError: Error?
        var waitingSince: UInt64?   // when the learner began waiting for the frame it still waits for
        var watch = InterruptionWatch(source)
        while true {
            let elapsed = MonotonicClock.seconds(since: start)
            if let seconds, elapsed >= seconds { break }
            if let frames, report.frames >= frames { break }
            if shouldStop() { break }
            // The frame goes straight into the history slot after the newest (its one copy there);
            // a rejected frame leaves the slot to the next one.
            let incoming = history + ((newest + 1) % historyFrames) * plane
            let incomingAction = actionHistory + ((newest + 1) % historyFrames) * actionCount
            let got = source.ring.waitOldest(timeoutNanoseconds: 50_000_000) { slot, info -> Bool in
                incoming.update(from: slot.baseAddress!, count: plane)
                if let feed { feed.action(at: info.timestampNanoseconds, into: incomingAction) }
                else { incomingAction.update(from: slot.baseAddress! + plane, count: actionCount) }
                return true
            }
            if got == nil {
                if source.finished && source.ring.statistics.waiting == 0 { break }
                let now = MonotonicClock.nanoseconds()
                waitingSince = waitingSince ?? now
                report.interruptions += watch.look(at: source, stallSeconds: stallSeconds, notice: notice)
                if let stallSeconds, Double(now - waitingSince!) * 1e-9 >= stallSeconds {
                    stopError = LiveLearningError.sourceStalled(source: source.label, seconds: stallSeconds)
                    break
                }
                continue
            }
            report.interruptions += watch.look(at: source, stallSeconds: stallSeconds, notice: notice)
            waitingSince = nil
            report.frames += 1
            guard isFinite(incoming, count: plane), isFinite(incomingAction, count: actionCount) else {
                report.rejectedFrames += 1
                continue
            }
            do { try learnNewestFrame(at: MonotonicClock.seconds(since: start)) } catch { stopError = error; break }
            report.dropped = Int(source.ring.statistics.dropped)
            publication?.publish(status(seconds: MonotonicClock.seconds(since: start)))
            if report.residentMiBAt10Seconds == nil && elapsed >= 10 { report.residentMiBAt10Seconds = residentMiB() }
            if MonotonicClock.nanoseconds() - lastProgress >= 1_000_000_000 {
                lastProgress = MonotonicClock.nanoseconds()
                update(elapsed: Double(lastProgress - start) / 1e9)
                publication?.addPoint(.init(seconds: report.seconds, modelError: report.modelError, copyLastError: report.copyLastError,
                                            loss: Double(program.lossValue)))
                progress(report)
            }
        }
        update(elapsed: MonotonicClock.seconds(since: start))
        report.dropped = Int(source.ring.statistics.dropped)
        report.actions = actionCount
        report.missingActions = source.missingActions + (feed?.missing ?? 0)
        report.residentMiBAtEnd = residentMiB()
        report.peakResidentMiB = peakResidentMiB()
        publication?.finish(status(seconds: report.seconds))
        // Stopped before a rollback could undo it (a short run): the diverged model is not kept.
        if let reason = predictionDivergence(), !diverged {
            diverged = true
            stopError = stopError ?? divergedError(reason)
        }
        // A run stopped by divergence keeps the last checkpoint as it is (the learning rate
        // was cut on every rollback); any other stop saves what was learned.
        if configuration.checkpointPath != nil && !diverged && !configuration.frozen { try saveCheckpoint() }
        if let stopError { throw stopError }
        return report
    }

    private func update(elapsed: Double) {
        report.seconds = elapsed
        let means = LiveLearner.means(of: UnsafeBufferPointer(start: scores, count: LiveLearner.scoreCapacity), next: nextScore,
                                      count: scoreCount, since: elapsed - configuration.evaluationWindow)
        report.modelError = means.model
        report.copyLastError = means.copyLast
        report.learningRate = program.optimizer!.learningRate
    }

    /// The mean errors of the scores at `start` or later in a ring of `scores` whose next slot
    /// is `next` and which holds `count` of them, summed from the newest back (0 when none is).
    static func means(of scores: UnsafeBufferPointer<Score>, next: Int, count: Int,
                      since start: Double) -> (model: Double, copyLast: Double) {
        var model = 0.0, copyLast = 0.0, taken = 0
        while taken < count {
            let score = scores[(next - 1 - taken + scores.count) % scores.count]
            guard score.time >= start else { break }
            model += Double(score.model); copyLast += Double(score.copyLast); taken += 1
        }
        return taken == 0 ? (0, 0) : (model / Double(taken), copyLast / Double(taken))
    }

    /// The run's numbers, for whoever watches (no allocation; a publication is skipped while a reader copies).
    private func status(seconds: Double) -> LivePublication.Status {
        var status = LivePublication.Status()
        status.steps = report.steps
        status.frames = report.frames
        status.dropped = report.dropped
        status.seconds = seconds
        status.modelError = report.modelError
        status.copyLastError = report.copyLastError
        status.loss = Double(program.lossValue)
        status.learningRate = Double(program.optimizer!.learningRate)
        status.stepsPerSecond = seconds > 0 ? Double(report.steps - report.resumedSteps) / seconds : 0
        status.rollbacks = report.rollbacks
        return status
    }

    /// The frame `back` frames before the newest (0: the newest) in the history ring.
    private func frame(back: Int) -> UnsafeMutablePointer<Float> {
        history + ((newest - back + historyFrames) % historyFrames) * plane
    }

    /// The action of the frame `back` frames before the newest: the command applied from it to the next.
    private func action(back: Int) -> UnsafeMutablePointer<Float> {
        actionHistory + ((newest - back + historyFrames) % historyFrames) * actionCount
    }

    /// One frame, just written into the slot after the newest: score the prediction of it,
    /// train on it, remember it.
    private func learnNewestFrame(at time: Double) throws {
        newest = (newest + 1) % historyFrames
        historyCount = min(historyCount + 1, historyFrames)
        let k = configuration.pastFrames
        guard historyCount > k else { return }   // not yet K past frames before it
        let frame = UnsafePointer(self.frame(back: 0))
        fillBatch()
        program.forward()
        let prediction = trainer.prediction
        let modelError = meanSquaredDifference(prediction, frame, count: plane)
        let copyLastError = meanSquaredDifference(self.frame(back: 1), frame, count: plane)
        scores[nextScore] = (time, modelError, copyLastError)
        nextScore = (nextScore + 1) % LiveLearner.scoreCapacity
        scoreCount = min(scoreCount + 1, LiveLearner.scoreCapacity)
        noteErrors(model: Double(modelError), copyLast: Double(copyLastError))
        if let snapshots, report.frames % configuration.snapshotEvery == 0 {
            try snapshots.write(frame: report.frames, past: (0..<k).map { UnsafePointer(self.frame(back: k - $0)) },
                                prediction: prediction, truth: frame,
                                motion: model.motion.map { UnsafePointer(program.tensor($0).floatPointer) })
        }
        if let publication, report.frames % publishEvery == 0 {
            publication.publish(past: self.frame(back: 1), prediction: prediction, truth: frame,
                                motion: model.motion.map { UnsafePointer(program.tensor($0).floatPointer) })
        }
        guard !configuration.frozen else { return }
        try trainStep()
        storeInReplay()
    }

    /// Batch rows: the newest clips first (read in place from the history), then random
    /// reservoir clips (repeating the newest ones while the reservoir is still empty).
    private func fillBatch() {
        let k = configuration.pastFrames
        let frames = trainer.frames, target = trainer.target
        let clip = (k + 1) * plane
        let newestClips = min(configuration.newestPerBatch, historyCount - k)
        for row in 0..<configuration.batch {
            let rowFrames = frames + row * k * plane, rowTarget = target + row * plane
            if row < newestClips || replayStored == 0 {
                let back = row % newestClips   // the clip whose target is `back` frames before the newest
                for t in 0..<k { (rowFrames + t * plane).update(from: frame(back: back + k - t), count: plane) }
                rowTarget.update(from: frame(back: back), count: plane)
                trainer.writeAction(row: row, action(back: back + 1))
            } else {
                let index = rng.nextInt(below: replayStored), stored = replay + index * clip
                for i in 0..<(k * plane) { rowFrames[i] = Float(stored[i]) * (1 / 255) }
                for i in 0..<plane { rowTarget[i] = Float(stored[k * plane + i]) * (1 / 255) }
                trainer.writeAction(row: row, replayActions + index * actionCount)
            }
        }
    }

    /// Reservoir sampling: every clip of the stream has the same chance to be in the reservoir.
    private func storeInReplay() {
        clipsSeen += 1
        let capacity = configuration.replayClips, clip = (configuration.pastFrames + 1) * plane
        let slot: Int
        if replayStored < capacity {
            slot = replayStored
            replayStored += 1
        } else {
            let candidate = rng.nextInt(below: clipsSeen)
            guard candidate < capacity else { return }
            slot = candidate
        }
        let destination = replay + slot * clip
        (replayActions + slot * actionCount).update(from: action(back: 1), count: actionCount)
        let k = configuration.pastFrames
        for t in 0...k {
            let source = frame(back: k - t), row = destination + t * plane
            for i in 0..<plane { row[i] = UInt8(min(255, max(0, source[i] * 255 + 0.5))) }
        }
    }

    /// Steps of this run (since its start or its last rollback) before a loss far above its
    /// running average, or predictions far worse than copy-last, count as divergence.
    static let warmUpSteps = 20
    /// How much worse than copy-last (or than the starting weights, when they were worse) the
    /// model's recent predictions may be before they count as diverged...
    static let divergedRatio = 4.0
    /// ...provided their mean squared error is also above this (pixels in [0, 1]), so that a
    /// still scene, where copy-last is nearly exact, cannot trigger it.
    static let divergedErrorFloor = 1e-3

    /// Folds one frame's errors into the recent averages.
    private func noteErrors(model: Double, copyLast: Double) {
        if startingRatio == nil && copyLast > 1e-6 && model.isFinite { startingRatio = model / copyLast }
        guard model.isFinite else { return }
        let weight = recentSteps == 0 ? 1 : 0.1
        recentModelError += weight * (model - recentModelError)
        recentCopyLastError += weight * (copyLast - recentCopyLastError)
        recentSteps += 1
    }

    /// Why the recent predictions count as diverged; nil while they do not, or while fewer
    /// than 3 frames were predicted since the start or the last rollback.
    private func predictionDivergence() -> String? {
        guard recentSteps >= 3, let startingRatio, recentModelError > Self.divergedErrorFloor else { return nil }
        let ratio = recentModelError / max(recentCopyLastError, 1e-12)
        guard ratio > Self.divergedRatio * max(1, startingRatio) else { return nil }
        return String(format: "the model's next-frame error is %.1fx copy-last's (it started at %.1fx)", ratio, startingRatio)
    }

    /// Finishes the step. A non-finite loss, or one far above its running average, rolls back;
    /// predictions far worse than copy-last after the warm-up stop the run (the learning rate
    /// is too high for the stream) without writing the checkpoint. Parameters are kept aside as
    /// the state to roll back to, and checkpoints written, only while the predictions do not
    /// count as diverged.
    private func trainStep() throws {
        let loss = program.lossValue
        let divergence = predictionDivergence()
        if recentSteps > Self.warmUpSteps, let divergence {
            diverged = true
            throw divergedError(divergence)
        }
        let exploding = averagedSteps > Self.warmUpSteps && Double(loss) > 50 * lossAverage
        if !loss.isFinite || exploding {
            try rollBack(reason: loss.isFinite ? "the loss jumped to \(loss) (running average \(String(format: "%.5f", lossAverage)))" : "the loss became \(loss)")
            return
        }
        try program.finishStep()
        report.steps += 1
        heartbeat?.beat(steps: report.steps, saved: savedSteps)
        averagedSteps += 1
        lossAverage = averagedSteps == 1 ? Double(loss) : 0.99 * lossAverage + 0.01 * Double(loss)
        let healthy = divergence == nil
        if report.steps % 100 == 0 && program.gradientNorm().isFinite && healthy { saveGoodState() }
        if let _ = configuration.checkpointPath, report.steps % configuration.checkpointEvery == 0, healthy { try saveCheckpoint() }
    }

    /// The error that ends a diverged run, after `reason` (from `predictionDivergence`).
    private func divergedError(_ reason: String) -> LiveLearningError {
        .diverged(reason: reason, step: report.steps, learningRate: program.optimizer!.learningRate)
    }

    private func rollBack(reason: String) throws {
        guard report.rollbacks < 20 else {
            diverged = true
            throw LiveLearningError.rollbacksExhausted(reason: reason, rollbacks: report.rollbacks)
        }
        restoreGoodState()
        recentSteps = 0   // the restored weights build their own evidence
        let optimizer = program.optimizer!
        optimizer.learningRate *= 0.5
        report.rollbacks += 1
        FileHandle.standardError.write(Data("""
            \(reason) at step \(report.steps); rolled back to step \(goodStep) and lowered the learning rate to \(optimizer.learningRate)\n
            """.utf8))
    }

    /// Copies parameters and optimizer state aside (the state to roll back to).
    private func saveGoodState() {
        copyTrainedState(toGoodState: true)
        goodStep = report.steps
    }

    /// Keeps the parameters as they are now as the state a rollback returns to: after they were
    /// changed between two steps from outside (a fleet's average adopted), so that a rollback
    /// soon after does not undo the change. Call it between steps (from `run`'s `shouldStop`).
    public func keepForRollback() { saveGoodState() }

    private func restoreGoodState() { copyTrainedState(toGoodState: false) }

    private func copyTrainedState(toGoodState: Bool) {
        var offset = 0
        for (_, tensor) in trainedState {
            if toGoodState {
                (goodState + offset).update(from: tensor.floatPointer, count: tensor.count)
            } else {
                tensor.floatPointer.update(from: goodState + offset, count: tensor.count)
            }
            offset += tensor.count
        }
    }

    // MARK: checkpoints

    /// The architecture name written into checkpoints.
    public var architecture: String {
        "\(configuration.model.rawValue)-\(configuration.objective.rawValue) k\(configuration.pastFrames) \(configuration.size)x\(configuration.size)"
            + (actionCount > 0 ? " actions \(actionCount)" : "")
    }

    /// Writes parameters, optimizer state and progress to the checkpoint path, atomically.
    public func saveCheckpoint() throws {
        guard let path = configuration.checkpointPath else { return }
        try Checkpoint(architecture: architecture, steps: report.steps, optimizer: program.optimizer, details: [
            "objective": configuration.objective.rawValue,
            "input": "frames [N, \(configuration.pastFrames), \(configuration.size), \(configuration.size)] grayscale in [0, 1]",
            "optimizer": "adam", "live.frames": String(report.frames),
        ]).write(to: path, state: trainedState)
        savedSteps = report.steps
        heartbeat?.beat(steps: report.steps, saved: savedSteps)
    }

    /// Continues from a checkpoint written by `saveCheckpoint` for the same architecture: its
    /// parameters and optimizer state, the optimizer's step count and learning rate, the steps done.
    public func resume(from path: String) throws {
        let checkpoint = try Checkpoint(path: path)
        try checkpoint.require(architecture: architecture)
        try checkpoint.restore(trainedState, optimizer: program.optimizer)
        report.steps = checkpoint.steps
        report.resumedSteps = report.steps
        savedSteps = report.steps
        heartbeat?.beat(steps: report.steps, saved: savedSteps)
        saveGoodState()
    }
}

/// Whether all `count` values are finite.
private func isFinite(_ values: UnsafePointer<Float>, count: Int) -> Bool {
    var total: Float = 0
    for i in 0..<count { total += values[i] * 0 }
    return total == 0
}

/// Current resident set size of this process (VmRSS), in MiB.
public func residentMiB() -> Double { processStatusKiB("VmRSS:") / 1024 }

/// Peak resident set size of this process (VmHWM), in MiB.
public func peakResidentMiB() -> Double { processStatusKiB("VmHWM:") / 1024 }

private func processStatusKiB(_ key: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(key) {
        return Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

/// Follows a source's interruptions for `LiveLearner.run`, which looks after every frame and
/// every wait: it tells once that the source stopped delivering and why, once that it is back,
/// and, in one line, an interruption that began and ended between two looks (a learner busy
/// with a long step on a slow board).
struct InterruptionWatch {
    /// When the ongoing interruption was first seen (nil: none).
    private var since: UInt64?
    /// The source's recoveries already told of.
    private var recoveries: Int

    init(_ source: LiveFrameSource) { recoveries = source.recoveries }

    /// Looks at `source`; tells `notice` what changed; returns the interruptions it began counting.
    mutating func look(at source: LiveFrameSource, stallSeconds: Double?, notice: (String) -> Void) -> Int {
        let reason = source.interruption, recovered = source.recoveries
        switch (since, reason) {
        case (nil, let reason?):
            since = MonotonicClock.nanoseconds()
            notice("\(source.label) stopped delivering: \(reason)"
                   + (stallSeconds.map { "; the run ends if it is not back within \(String(format: "%g", $0)) s" } ?? ""))
            return 1
        case (let start?, nil):
            since = nil
            recoveries = recovered
            notice("\(source.label) delivers again after \(String(format: "%.1f", MonotonicClock.seconds(since: start))) s")
            return 0
        case (nil, nil) where recovered > recoveries:
            let count = recovered - recoveries
            recoveries = recovered
            notice("\(source.label) was interrupted and recovered \(count) time(s) while the learner was busy")
            return count
        default:
            return 0
        }
    }
}
