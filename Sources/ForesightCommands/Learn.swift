// `foresight learn`: live learning from a camera, a recording or the built-in synthetic
// scene, with the model's next-frame error reported beside the copy-last-frame baseline.

import ArgumentParser
import Foundation
import ForesightCore
import ForesightNN
import ForesightSensors
import Synchronization
import ForesightIO
import ForesightLive
import ForesightSSL
import ForesightExport

/// Set by SIGINT, SIGTERM and SIGHUP: the learner stops at the next frame, checkpoints and
/// reports. An atomic, not a `Latch`: a signal handler may not take a lock.
let stopRequested = Atomic<Bool>(false)

/// Makes SIGINT (Ctrl-C), SIGTERM (systemd, kill) and SIGHUP (the ssh session closed) request
/// a clean stop, and ignores SIGPIPE, so that a progress line printed into a pipe nobody reads
/// any more does not end the run before its checkpoint.
func stopOnSignals() {
    for number in [SIGINT, SIGTERM, SIGHUP] { signal(number) { _ in stopRequested.store(true, ordering: .relaxed) } }
    signal(SIGPIPE, SIG_IGN)
}

/// One line on standard error (notes, and what `learn` tells of its sources: a camera gone and back, an overrun).
private func tell(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

/// Removes the temporary files of checkpoint writes to `path` left by runs that were killed,
/// and says so in one line on standard error.
func removeStalePartials(of path: String) {
    let removed = ModelFile.removeStalePartials(of: path)
    guard !removed.isEmpty else { return }
    let names = removed.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")
    tell("removed \(removed.count) unfinished checkpoint file(s) of stopped runs: \(names)")
}

struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn to predict what the robot will see next, while it sees it.",
        discussion: """
            Reads frames from a camera (--camera), a Y4M recording (--video), the camera images of a ROS 2 \
            bag in MCAP form (--bag, its sensor_msgs/msg/Image or JPEG or PNG CompressedImage topic chosen with --topic), a built-in synthetic scene \
            (--scene) or, with --profile and no source named, the profile's camera; without either, the \
            \(LiveInputs.defaultScene.rawValue) scene. Predicts every frame before training on it, and reports \
            the model's error beside the error of repeating the last frame (a ratio below 1 means the model \
            has learned something about motion). Options given here override the profile. Ctrl-C, SIGTERM \
            and SIGHUP stop, write the checkpoint and print the summary. A camera, recording or microphone \
            that delivers nothing for --stall-timeout ends the run with an error (exit status 1) after \
            writing the checkpoint; with pictures and sound, a silent microphone ends only the sound learning. \
            A non-finite or exploding loss rolls back and halves the learning rate; predictions far worse \
            than copy-last (learning diverged: the learning rate is too high) stop the run with an error \
            and write no checkpoint over the last one.
            """
    )

    private static let defaults = LiveLearnerConfiguration.defaults

    @Option(help: "Camera device, e.g. /dev/video0 (with --profile and no other source: the profile's camera.device).")
    var camera: String?

    @Option(help: "Y4M recording to learn from, replayed at its frame rate.")
    var video: String?

    @Option(help: "ROS 2 bag (MCAP) to learn from: the sensor_msgs/msg/Image messages of --topic (mono8, mono16, rgb8, bgr8, yuv422 or yuv422_yuy2/yuyv) or its JPEG or PNG CompressedImage, in chunks uncompressed or compressed with zstd or lz4, replayed at their log times.")
    var bag: String?

    @Option(help: "The bag's image topic, e.g. /camera/image_raw (default: the bag's only image topic).")
    var topic: String?

    @Option(help: "Microphone to learn from (audio predictive coding): default, hw:X,Y or plughw:X,Y.")
    var mic: String?

    @Option(help: "WAV recording to learn from (audio predictive coding), replayed in real time.")
    var audio: String?

    @Flag(help: "Also learn from sound, from the profile's microphone (microphone.device); needs --profile.")
    var listen = false

    @Option(help: "Built-in scene when no camera or video is given: \(SyntheticScene.allCases.map(\.rawValue).joined(separator: ", ")) (default: \(LiveInputs.defaultScene.rawValue) when there is no profile; with --mic or --audio, give it to learn from both).")
    var scene: SyntheticScene?

    @Option(help: "The robot's actions, learned with the frames: `scene` takes the built-in scene's camera motion (pan, zoom, turn; --scene ego-motion, or commanded, whose camera follows random commands); FILE.csv a recording's log of `time, a1, ..., an` rows (time in seconds of the video, or of a bag from its first image; values in [-1, 1]); `stdin:N` lines of N values on standard input, each in force from its arrival. The model then predicts each frame from the past frames and the command applied since.")
    var actions: String?

    @Flag(help: "Replay a recording, bag or scene as fast as the learner takes frames instead of in real time.")
    var asFastAsPossible = false

    @Option(help: "The model: \(LiveLearnerConfiguration.Model.allCases.map(\.rawValue).joined(separator: ", ")) (default: the profile's model, else \(defaults.model.rawValue)).")
    var model: LiveLearnerConfiguration.Model?

    @Option(help: "What to predict: \(LiveLearnerConfiguration.Objective.allCases.map(\.rawValue).joined(separator: ", ")) (default: the profile's objective, else \(defaults.objective.rawValue)).")
    var objective: LiveLearnerConfiguration.Objective?

    @Option(parsing: .unconditional, help: "Stop after this many seconds (default: until Ctrl-C or the end of the recording).")
    var seconds: Double?

    @Option(parsing: .unconditional, help: "Stop after this many frames.")
    var frames: Int?

    @Option(parsing: .unconditional, help: "Seconds a source may deliver nothing (while opening, or between frames) before the run ends with an error (default: \(Int(Self.defaultStallSeconds)) s, or three frame intervals of a slower source).")
    var stallTimeout: Double?

    @Option(parsing: .unconditional, help: "Kernel worker threads (default: the profile's cores, else \(defaults.threads)).")
    var threads: Int?

    @Option(help: "Device profile: a board name (\(DeviceProfile.builtIn.map(\.name).joined(separator: ", ")), or a NAME.json of your own), looked up in ./devices, then $XDG_CONFIG_HOME/foresight/devices (~/.config/foresight/devices), then the profiles built in; or a path to a profile file. It sets the camera, microphone, model, objective, threads and memory budget that options here do not.")
    var profile: String?

    @Option(help: "Checkpoint file (safetensors), written atomically every --checkpoint-every steps and at the end. Learning from sound alone, it holds the sound model; from pictures and sound, the sound model goes beside it (live.safetensors -> live.audio.safetensors).")
    var checkpoint: String?

    @Option(parsing: .unconditional, help: "Training steps between checkpoints.")
    var checkpointEvery = defaults.checkpointEvery

    @Flag(help: "Continue from the checkpoint given with --checkpoint.")
    var resume = false

    @Option(help: "A file rewritten after every training step with \"step N saved M\": the steps done and those the checkpoint holds, for a supervisor or watchdog (its modification time is the last step's). From pictures and sound, it follows the picture model.")
    var heartbeat: String?

    @Option(help: "Folder for PNG strips of past frames, prediction, truth and motion, every --snapshot-every frames.")
    var snapshots: String?

    @Option(parsing: .unconditional, help: "Frames between snapshots.")
    var snapshotEvery = defaults.snapshotEvery

    @Option(parsing: .unconditional, help: "Adam learning rate.")
    var learningRate = defaults.learningRate

    @Option(parsing: .unconditional, help: "Clips per training batch.")
    var batch = defaults.batch

    @Option(parsing: .unconditional, help: "Clips kept in the replay reservoir.")
    var replay = defaults.replayClips

    @Option(parsing: .unconditional, help: "Seed for weights, scene and replay.")
    var seed = defaults.seed

    @Option(help: ServeAddress.help(showing: "the last frames, the prediction, the truth, the motion and the error against copy-last over time"))
    var serve: ServeAddress?

    @Option(help: "Record the run into this MCAP file as it goes, for Foxglove: the frames, predictions, truths and motion fields as foxglove.RawImage (/foresight/frame, /prediction, /truth, /motion) and the numbers about once a second (/foresight/metrics).")
    var recordMcap: String?

    @Flag(help: "Predict and score every frame without learning from it, and write no checkpoint: how the model of --checkpoint (with --resume) does on this stream.")
    var frozen = false

    @OptionGroup var fleetOptions: FleetOptions

    @Flag(help: "Print one JSON summary object at the end instead of progress lines.")
    var json = false

    func validate() throws {
        if let frames { try OptionRange.check(frames, "--frames", 1...OptionRange.maximumCount) }
        if let seconds { try OptionRange.checkPositive(seconds, "--seconds", maximum: OptionRange.maximumSeconds, unit: " s") }
        if let stallTimeout { try OptionRange.checkPositive(stallTimeout, "--stall-timeout", maximum: OptionRange.maximumSeconds, unit: " s") }
        if resume && checkpoint == nil { throw ValidationError("--resume needs --checkpoint PATH") }
        if frozen && fleetOptions.fleet != nil { throw ValidationError("--frozen does not learn, so it has nothing to share with --fleet") }
        // The learner's ranges (threads, learning rate, batch, replay within this machine's memory); `run`
        // checks again with the device profile's budget.
        do { try settings(profile: nil).validate() } catch let error as LiveLearningError { throw ValidationError(error.description) }
        // Sources that cannot go together are refused before anything is read; --listen is
        // checked with the profile, in `run`.
        do { _ = try LiveInputs(camera: camera, video: video, scene: scene, mic: mic, audio: audio, bag: bag, topic: topic) } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Seconds without a frame before a run ends, unless --stall-timeout says otherwise.
    static let defaultStallSeconds: Double = 10

    /// --stall-timeout, else the default or three frame intervals of a source slower than it.
    func stallSeconds(framesPerSecond: Double) -> Double {
        stallTimeout ?? max(Self.defaultStallSeconds, framesPerSecond > 0 ? 3 / framesPerSecond : 0)
    }

    /// The learner's settings: the profile's over the defaults, the options' over both.
    func settings(profile device: DeviceProfile?) throws -> LiveLearnerConfiguration {
        var settings = try device.map { try LiveLearnerConfiguration(profile: $0) } ?? Self.defaults
        if let model { settings.model = model }
        if let objective { settings.objective = objective }
        if let threads { settings.threads = threads }
        settings.learningRate = learningRate
        settings.batch = batch
        settings.replayClips = replay
        settings.seed = seed
        settings.checkpointPath = checkpoint
        settings.checkpointEvery = checkpointEvery
        settings.snapshotDirectory = snapshots
        settings.snapshotEvery = snapshotEvery
        settings.frozen = frozen
        return settings
    }

    func run() throws {
        let device = try profile.map { try DeviceProfile.load(named: $0) }
        let inputs = try LiveInputs(camera: camera, video: video, scene: scene, mic: mic, audio: audio, listen: listen, profile: device,
                                    actions: actions, bag: bag, topic: topic)
        stopOnSignals()
        if let checkpoint {
            // A checkpoint that cannot be written is refused now, not at the first save an hour in.
            try ModelFile.checkWritable(checkpoint)
            removeStalePartials(of: checkpoint)
        }
        let beats = try heartbeat.map { try Heartbeat(path: $0) }
        if inputs.video == nil {
            if serve != nil || recordMcap != nil || fleetOptions.fleet != nil {
                throw CommandFailure("--serve, --record-mcap and --fleet show, record and share video learning; this run learns from sound only")
            }
            return try learnAudio(inputs, device: device, heartbeat: beats)
        }
        // Both senses: sound is learned on a thread of its own beside the video learner.
        let audioCheckpoint = checkpoint.map(Learn.soundCheckpoint(beside:))
        let background = try makeAudioLearning(inputs, device: device, checkpoint: audioCheckpoint).map {
            BackgroundAudioLearning(trainer: $0.trainer, source: $0.source, checkpoint: audioCheckpoint, checkpointEvery: checkpointEvery,
                                    stallSeconds: stallSeconds(framesPerSecond: LiveAudioSource.chunksPerSecond))
        }
        background?.start(externalStop: { stopRequested.load(ordering: .relaxed) },
                          notice: tell)
        defer {
            if let background {
                do {
                    let report = try background.finish()
                    if json {
                        let data = (try? JSONSerialization.data(withJSONObject: report.json, options: [.sortedKeys])) ?? Data()
                        print(String(decoding: data, as: UTF8.self))
                    } else {
                        print(String(format: "audio: %.1f s, %d steps; InfoNCE accuracy %.3f (chance %.4f)", report.audioSeconds,
                                     report.steps, report.accuracy, report.chance))
                        if let audioCheckpoint, report.checkpoints > 0 { print("audio checkpoint: \(audioCheckpoint)") }
                    }
                    if let stalled = report.stalled { tell("audio learning stopped: \(stalled)") }
                } catch {
                    tell("audio learning stopped: \(error)")
                }
            }
        }
        var settings = try settings(profile: device)
        settings.actions = inputs.actionCount
        try settings.validate()
        let learner = try LiveLearner(settings)
        learner.heartbeat = beats
        if resume, let checkpoint {
            try learner.resume(from: checkpoint)
            if !json { print("resumed from \(checkpoint) at step \(learner.report.steps)") }
        }

        let source: LiveFrameSource
        // Opening waits, for a named pipe, on its writer: bounded by --stall-timeout and --seconds.
        let openingWait = min(stallSeconds(framesPerSecond: 0), seconds ?? .infinity)
        switch try inputs.openVideo(size: settings.size, paced: !asFastAsPossible, seed: seed, waitingAtMost: openingWait,
                                    shouldStop: { stopRequested.load(ordering: .relaxed) }) {
        case let .opened(opened): source = opened!
        case .stopped:
            try learner.saveCheckpoint()
            if !json { print("stopped before the video source opened; no frames" + (checkpoint.map { "; checkpoint: \($0)" } ?? "")) }
            return
        case .timedOut:
            throw CommandFailure("the video source sent nothing for \(String(format: "%g", openingWait)) s while opening (a named pipe with no writer?); stopped")
        }

        if !json {
            if let device { print("profile: \(device.name), \(device.cores) cores, budget \(device.memoryBudgetMiB) MiB") }
            if let profile, let board = BoardEstimate.forProfile(named: profile) {
                let flops = Double(learner.program.convolutionFLOPsPerTrainingStep)
                let milliseconds = board.millisecondsPerStep(flops: flops, threads: settings.threads)
                let fps = source.framesPerSecond
                let verdict = board.keepsUp(flopsPerStep: flops, threads: settings.threads, framesPerSecond: fps) ? "keeps up with" : "does not keep up with"
                print(String(format: "estimate for %@ (%d x %@ at %.1f GHz, llvm-mca kernel rate %.1f GFLOP/s on %d thread(s)): %.1f MFLOP per step, %.1f ms per step, so the model %@ %.0f frames/s (a step per frame); an upper bound, not a measurement",
                             board.profile, board.cores, board.core, board.clockGHz, flops / milliseconds / 1e6, min(settings.threads, board.cores),
                             flops / 1e6, milliseconds, verdict, fps))
            }
            print("learning \(learner.architecture) from \(source.label) at \(String(format: "%.0f", source.framesPerSecond)) frames/s; \(settings.threads) thread(s); plan \(formatBytes(learner.plannedBytes))")
            switch inputs.actions {
            case .scene?: print("actions: the scene's camera motion (pan right, pan down, zoom in, turn clockwise), with each frame")
            case let .file(path, track)?: print("actions from \(path): \(track.summary)")
            case let .standardInput(count)?: print("actions: lines of \(count) value(s) on standard input, each in force from its arrival")
            case nil: break
            }
            print("   time   frames  dropped   steps  model MSE  copy-last MSE  ratio")
        }
        // What a viewer or the recording reads: the learner publishes into it without waiting.
        let publication = serve == nil && recordMcap == nil ? nil
            : LivePublication(kind: .live, title: "\(learner.architecture) from \(source.label)", size: settings.size, motion: learner.model.motion != nil)
        learner.publication = publication
        if fleetOptions.fleet != nil { publication?.fleetRounds.store(0, ordering: .relaxed) }
        let server = try serve.map { try LiveViewHost.start(publication!, at: $0) }
        defer { server?.stop() }
        // Started last: nothing after it can fail before the run, which finishes its file.
        let recording = try recordMcap.map { path in
            do { return try LiveRecording(publication!, path: path) } catch { throw CommandFailure("cannot record into \(path): \(error)") }
        }
        /// Completes the recording's file and says what it holds.
        func finishRecording() throws {
            guard let recording, let recordMcap else { return }
            let (sets, metrics) = try recording.finish()
            tell("recorded \(sets) image sets and \(metrics) metrics messages into \(recordMcap)")
        }
        // --fleet: the model's parameters are exchanged with the federation at step boundaries.
        let fleet = try fleetOptions.join(learner.program, examplesPerStep: settings.batch)
        defer { if let fleet { tell(fleet.end()) } }
        let interactive = isatty(STDOUT_FILENO) == 1
        let feed: LiveActionFeed? = if case let .standardInput(count)? = inputs.actions { LiveActionFeed(count: count) } else { nil }
        feed?.start()
        defer {
            feed?.stop()
            if let feed, !json { print(feed.summary) }
        }
        let report: LiveReport
        var adoptedRounds = 0
        do {
            report = try learner.run(source, seconds: seconds, frames: frames, stallSeconds: stallSeconds(framesPerSecond: source.framesPerSecond),
                                     actions: feed, shouldStop: {
                                         if let rounds = fleet?.exchange.stepBoundary(steps: learner.report.steps), rounds > adoptedRounds {
                                             // A new average: a rollback from now on returns to it, not to before it.
                                             adoptedRounds = rounds
                                             learner.keepForRollback()
                                             publication?.fleetRounds.store(rounds, ordering: .relaxed)
                                         }
                                         return stopRequested.load(ordering: .relaxed)
                                     },
                                     notice: { tell((interactive ? "\n" : "") + $0) }) { report in
                guard !json else { return }
                let line = String(format: "%6.0fs  %7d  %7d  %6d  %9.5f  %13.5f  %5.2f", report.seconds, report.frames, report.dropped,
                                  report.steps, report.modelError, report.copyLastError, report.ratio)
                if interactive { FileHandle.standardOutput.write(Data(("\r" + line).utf8)) } else { print(line) }
            }
        } catch {
            // A stalled source, divergence or a checkpoint that cannot be written: the summary
            // of what was learned, then the reason in one line (exit status 1).
            do { try finishRecording() } catch let recordingError { tell("\(recordingError)") }
            try summarize(learner.report, settings: settings, interactive: interactive, checkpointWritten: false)
            if let error = error as? IOError, case let .modelFile(path, problem) = error, path == checkpoint {
                throw CommandFailure("cannot write the checkpoint \(path): \(problem); the previous checkpoint is kept")
            }
            throw error
        }
        try finishRecording()
        // An empty or header-only recording is a failure, not a run of 0 frames.
        guard report.frames > 0 || stopRequested.load(ordering: .relaxed) else {
            throw CommandFailure("no frames in \(source.label): the recording is empty or holds only its header, or the source delivered nothing")
        }
        try summarize(report, settings: settings, interactive: interactive, checkpointWritten: true)
    }

    /// The end of a run: one JSON object with --json, else the summary lines.
    func summarize(_ report: LiveReport, settings: LiveLearnerConfiguration, interactive: Bool, checkpointWritten: Bool) throws {
        if json {
            let data = try JSONSerialization.data(withJSONObject: report.json, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            if interactive { print("") }
            print(String(format: "done: %d frames (%d dropped), %d steps (%.1f/s); over the last %.0f s the model's MSE was %.5f against %.5f for copy-last (%.2fx); memory %.1f MiB at 10 s, %.1f MiB at the end, peak %.1f MiB",
                         report.frames, report.dropped, report.steps, report.stepsPerSecond, settings.evaluationWindow, report.modelError,
                         report.copyLastError, report.ratio, report.residentMiBAt10Seconds ?? report.residentMiBAtEnd, report.residentMiBAtEnd,
                         report.peakResidentMiB))
            if report.rollbacks > 0 { print("rolled back \(report.rollbacks) time(s); learning rate now \(report.learningRate)") }
            if report.missingActions > 0 { print("\(report.missingActions) frame(s) came before the first action and were learned with zero actions") }
            if let checkpoint, checkpointWritten { print("checkpoint: \(checkpoint)") }
        }
    }
}

extension Learn {
    /// Where the sound model is kept when a run learns from pictures and sound: beside the
    /// video checkpoint, "live.safetensors" -> "live.audio.safetensors".
    static func soundCheckpoint(beside path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let stem = url.pathExtension == "safetensors" ? url.deletingPathExtension().path : path
        return stem + ".audio.safetensors"
    }

    /// Audio predictive coding from the microphone or WAV file of `inputs`; nil without sound.
    /// With --resume it continues from `checkpoint`: a run on sound alone needs the file; a run
    /// on both senses starts its sound model afresh, with a note, when there is none yet.
    func makeAudioLearning(_ inputs: LiveInputs, device: DeviceProfile?, checkpoint: String?) throws -> (trainer: AudioPredictiveCodingTrainer, source: LiveAudioSource)? {
        guard let source = try inputs.openSound(paced: !asFastAsPossible) else { return nil }
        var configuration = AudioCPCConfiguration()
        configuration.sampleRate = inputs.sampleRate
        let trainer = try AudioPredictiveCodingTrainer(configuration: configuration, seed: seed, budget: device?.memoryBudget)
        if resume, let checkpoint {
            if inputs.video != nil && !FileManager.default.fileExists(atPath: checkpoint) {
                tell("note: no sound checkpoint at \(checkpoint) yet; the sound model starts afresh")
            } else {
                try trainer.resume(from: checkpoint)
                if !json { print("resumed the sound model from \(checkpoint) at step \(trainer.stepsDone)") }
            }
        }
        return (trainer, source)
    }

    func learnAudio(_ inputs: LiveInputs, device: DeviceProfile?, heartbeat: Heartbeat?) throws {
        let (trainer, source) = try makeAudioLearning(inputs, device: device, checkpoint: checkpoint)!
        let configuration = trainer.configuration
        if !json {
            print("learning audio predictive coding (log-mel, conv encoder, GRU, InfoNCE \(configuration.predictionSteps) steps ahead) from \(source.label); chance accuracy \(String(format: "%.4f", configuration.chance))")
            print("   time   audio s   steps  InfoNCE loss  accuracy")
        }
        let report = try trainer.runLive(source, seconds: seconds, stallSeconds: stallSeconds(framesPerSecond: LiveAudioSource.chunksPerSecond),
                                         checkpoint: checkpoint, checkpointEvery: checkpointEvery, heartbeat: heartbeat,
                                         shouldStop: { stopRequested.load(ordering: .relaxed) },
                                         notice: tell) { report in
            guard !json else { return }
            print(String(format: "%6.0fs  %8.1f  %6d  %12.3f  %8.3f", report.seconds, report.audioSeconds, report.steps, report.loss, report.accuracy))
        }
        guard report.chunks > 0 || stopRequested.load(ordering: .relaxed) else {
            throw CommandFailure("no audio in \(source.label): the recording holds less than a 0.1 s chunk of sound, or the source delivered nothing")
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: report.json, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "done: %.1f s of audio, %d steps; InfoNCE accuracy %.3f over the last steps (chance %.4f, %.0fx); peak memory %.1f MiB",
                         report.audioSeconds, report.steps, report.accuracy, report.chance, report.accuracy / max(report.chance, 1e-9), report.peakResidentMiB))
            if let checkpoint, report.checkpoints > 0 { print("checkpoint: \(checkpoint) (step \(trainer.stepsDone))") }
        }
        if let stalled = report.stalled { throw CommandFailure(stalled) }
    }
}

extension SyntheticScene: ExpressibleByArgument {}
extension LiveLearnerConfiguration.Model: ExpressibleByArgument {}
extension LiveLearnerConfiguration.Objective: ExpressibleByArgument {}
