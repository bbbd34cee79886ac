// `foresight train`: trains one self-supervised method (see `foresight methods`) on an image
// folder, a text, a WAV, a Y4M or a ROS 2 bag's MCAP file, with a progress bar on stderr and atomic checkpoints.
// The work is ForesightSSL's TrainingRun; this file only reads the command line and prints.

import ArgumentParser
import Foundation
import ForesightSSL
import Synchronization
import ForesightIO
import ForesightLive
import ForesightSensors
import ForesightExport

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a self-supervised method and write the model file.",
        discussion: """
            foresight train --method simclr --data images/ --size 32 --steps 2000 -o simclr.safetensors
            foresight train --method rotation --data images/ --backbone "resnet width=32 groups=8" --epochs 5 -o rotation.safetensors
            foresight train --method simclr --data images/ --steps 4000 --resume -o simclr.safetensors
            foresight train --method moco --data images/ --set temperature=0.1 --set queue=1024 --steps 2000 -o moco.safetensors
            foresight train --method next-frame --data walk.mcap --topic /camera/image_raw --steps 2000 -o next-frame.safetensors
            An image folder (every .png/.pgm/.ppm under it) is resized to --size and made grey unless --rgb \
            is given; one larger than --image-memory is taken in chunks that fit. The model file is written every --checkpoint-every steps and at the end; \
            --resume continues from it. Ctrl-C stops after the current step and writes the model file; a loss \
            that becomes NaN stops the run and keeps the last good checkpoint.
            """
    )

    @Option(help: "The method's short name (see `foresight methods`).")
    var method: String

    @Option(help: "An image folder, a .txt, a .wav, a .y4m file, or a ROS 2 bag's .mcap file (its sensor_msgs/msg/Image topic --topic, for the video methods).")
    var data: String

    @Option(help: "The image topic of a ROS 2 bag given with --data FILE.mcap, e.g. /camera/image_raw (default: the bag's only image topic).")
    var topic: String?

    @Option(help: "The image backbone, `family key=value ...`: resnet width= groups=, or vit dim= depth= heads= patch= (default: \(methodDefaults(\.defaultBackbone)); the checkpoint's with --resume).")
    var backbone: String?

    @Option(parsing: .unconditional, help: "Passes over the data: an image folder, a text, a recording (give --epochs or --steps; a synthetic source needs --steps).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Training steps in all, resumed ones included (give --epochs or --steps).")
    var steps: Int?

    @Option(parsing: .unconditional, help: "Images (or clips, or text windows) per step (default: \(methodDefaults { String($0.defaultBatch) }); the checkpoint's with --resume).")
    var batch: Int?

    @Option(parsing: .unconditional, help: "Kernel worker threads.")
    var threads = TrainingOptions.default.threads

    @Option(parsing: .unconditional, help: "AdamW learning rate (default: \(methodDefaults { String($0.defaultLearningRate) })).")
    var learningRate: Float?

    @Option(name: .customLong("set"), help: ArgumentHelp("A method setting, NAME=VALUE, repeatable: e.g. temperature=0.1 for simclr (see `foresight methods`; the checkpoint's with --resume).", valueName: "name=value"))
    var settings: [String] = []

    @Option(parsing: .unconditional, help: "Seed of the weights and the batches.")
    var seed = TrainingOptions.default.seed

    @Option(parsing: .unconditional, help: "Height and width images are resized to (default: \(TrainingOptions.default.imageSize), or the checkpoint's with --resume).")
    var size: Int?

    @Flag(help: "Keep images in RGB instead of greyscale.")
    var rgb = false

    @Option(parsing: .unconditional, help: "The most memory (MiB) an image folder's decoded images may take; a larger folder is taken in chunks of half that, one after another, each shuffled pass over the folder anew.")
    var imageMemory = TrainingOptions.default.imageMemoryBytes >> 20

    @Flag(help: "Two-view and momentum methods: add flips, colour jitter, greyscale and blur to the views (for camera images; off for digits-like data).")
    var colourAugmentations = false

    @Option(parsing: .unconditional, help: "Steps between checkpoints.")
    var checkpointEvery = 500

    @Flag(help: "Continue from the model file given with -o.")
    var resume = false

    @Option(help: "A file rewritten after every step with \"step N saved M\": the steps done and those the model file holds, for a supervisor or watchdog.")
    var heartbeat: String?

    @Option(help: ServeAddress.help(showing: "the loss curve, the progress, steps/s and memory"))
    var serve: ServeAddress?

    @Option(name: .shortAndLong, help: "The model file to write (.safetensors).")
    var output: String

    @OptionGroup var fleetOptions: FleetOptions

    func validate() throws {
        guard (epochs == nil) != (steps == nil) else { throw ValidationError("give exactly one of --epochs N and --steps N") }
        if let epochs { try OptionRange.check(epochs, "--epochs", 1...1_000_000) }
        if let steps { try OptionRange.check(steps, "--steps", 1...OptionRange.maximumCount) }
        if let size { try OptionRange.check(size, "--size", 1...1024, unit: " pixels") }
        if let batch { try OptionRange.check(batch, "--batch", 1...4096) }
        try OptionRange.checkThreads(threads)
        try OptionRange.check(checkpointEvery, "--checkpoint-every", 1...OptionRange.maximumCount, unit: " steps")
        try OptionRange.check(imageMemory, "--image-memory", 1...(1 << 20), unit: " MiB")
        if let learningRate { try OptionRange.checkPositive(Double(learningRate), "--learning-rate", maximum: 1) }
        if topic != nil && !data.lowercased().hasSuffix(".mcap") {
            throw ValidationError("--topic names the image topic of a ROS 2 bag: give the bag with --data FILE.mcap")
        }
    }

    func run() throws {
        // With --resume, the checkpoint's backbone and image size are the defaults.
        let checkpoint = resume ? try Checkpoint(path: output) : nil
        let chosen = try MethodRegistry.method(named: method)
        // A next-frame or motion model file names the pc64 encoder those methods always learn;
        // it is where the file came from, not a backbone to choose.
        let storedBackbone = try checkpoint?.details[TrainingMetadata.backbone].flatMap { stored in
            try ImageBackbones.parse(stored) is FramePredictionEncoder ? nil : stored
        }
        let specification = backbone ?? storedBackbone ?? chosen.defaultBackbone
        let storedInput = (checkpoint?.details[TrainingMetadata.input] ?? "").split(separator: ",").compactMap { Int($0) }
        var options = TrainingOptions()
        options.backbone = try ImageBackbones.parse(specification)
        options.batch = batch ?? checkpoint?.details[TrainingMetadata.batch].flatMap { Int($0) } ?? chosen.defaultBatch
        options.threads = threads
        options.learningRate = learningRate ?? chosen.defaultLearningRate
        options.seed = resume ? seed &+ UInt64(clamping: checkpoint?.steps ?? 0) : seed
        options.imageSize = size ?? (storedInput.count == 3 ? storedInput[1] : TrainingOptions.default.imageSize)
        options.colour = rgb || (size == nil && storedInput.first == 3)
        if colourAugmentations { options.augmentation = TrainingOptions.colourAugmentation }
        guard imageMemory >= 1 else { throw ValidationError("--image-memory must be at least 1 MiB (got \(imageMemory))") }
        options.imageMemoryBytes = imageMemory << 20
        options.topic = topic
        let stored = (checkpoint?.details[TrainingMetadata.settings] ?? "").split(separator: " ").map(String.init)
        options.settings = try MethodSetting.parse(stored).merging(MethodSetting.parse(settings)) { $1 }
        try ModelFile.checkWritable(output)   // refused now, not at the first checkpoint
        removeStalePartials(of: output)
        let beats = try heartbeat.map { try Heartbeat(path: $0) }
        let run = try TrainingRun(method: method, dataPath: data, options: options)
        if let chunks = run.chunks {
            FileHandle.standardError.write(Data("\(data) holds \(chunks.files.count) images, more than fit in --image-memory \(imageMemory) MiB; training takes them in \(chunks.chunksPerPass) chunks of about \(chunks.smallestChunk), the next decoded while the current one trains\n".utf8))
        }
        if resume {
            try run.resume(from: output)
            FileHandle.standardError.write(Data("resumed from \(output) at step \(run.stepsDone)\n".utf8))
        }
        let total = try steps ?? run.steps(forEpochs: epochs!)
        let bar = ProgressBar()
        let publisher = serve.map { _ in TrainingPublisher(title: "\(method) on \((data as NSString).lastPathComponent)") }
        let server = try serve.map { try LiveViewHost.start(publisher!.publication, at: $0) }
        defer { server?.stop() }
        // --fleet: the model's parameters are exchanged with the federation at step boundaries.
        let fleet = try fleetOptions.join(run.trainer.program, examplesPerStep: options.batch)
        defer { if let fleet { FileHandle.standardError.write(Data((fleet.end() + "\n").utf8)) } }
        let report: TrainingRunReport
        do {
            stopOnSignals()
            report = try run.train(steps: total, checkpointEvery: checkpointEvery, output: output, heartbeat: beats,
                                   progress: { bar.show($0); publisher?.show($0) },
                                   shouldStop: {
                                       fleet?.exchange.stepBoundary(steps: run.stepsDone)
                                       return stopRequested.load(ordering: .relaxed)
                                   })
        } catch {
            bar.finish()
            publisher?.finish()
            throw error
        }
        bar.finish()
        publisher?.finish()
        let stopped = report.steps < total ? " (stopped early; --resume continues)" : ""
        print(String(format: "%@: %d steps in %.1f s; loss %.4f -> %.4f; wrote %@%@", method, report.steps, report.seconds,
                     report.firstLoss, report.lastLoss, output, stopped))
    }
}

/// A default that depends on the method, as `--help` states it, read from the methods:
/// "the method's: 32 for moco, 16 for bert and gpt, 64 for the others".
private func methodDefaults(_ value: (any SelfSupervisedMethod) -> String) -> String {
    var groups: [(value: String, names: [String])] = []
    for method in MethodRegistry.methods {
        let given = value(method)
        if let index = groups.firstIndex(where: { $0.value == given }) { groups[index].names.append(method.name) } else { groups.append((given, [method.name])) }
    }
    guard let common = groups.max(by: { $0.names.count < $1.names.count }), groups.count > 1 else { return groups.first?.value ?? "" }
    func list(_ names: [String]) -> String { names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names.last! }
    let special = groups.filter { $0.value != common.value }.map { "\($0.value) for \(list($0.names))" }
    return "the method's: " + (special + ["\(common.value) for the others"]).joined(separator: ", ")
}

/// A one-line progress bar on stderr: redrawn in place on a terminal (at most ten times a
/// second), else a plain line about every 10% of the run.
final class ProgressBar {
    private let interactive = isatty(STDERR_FILENO) == 1
    private var lastDrawn = 0.0, lastTenth = -1, drawn = false

    func show(_ progress: TrainingProgress) {
        let now = Date().timeIntervalSince1970
        let fraction = Double(progress.step) / Double(max(progress.totalSteps, 1))
        let tenth = Int(fraction * 10)
        let last = progress.step == progress.totalSteps
        if interactive { guard last || now - lastDrawn >= 0.1 else { return } } else { guard tenth != lastTenth || last else { return } }
        lastDrawn = now
        lastTenth = tenth
        let filled = Int(fraction * 24)
        let remaining = progress.secondsRemaining.isFinite ? Int(progress.secondsRemaining.rounded()) : 0
        let line = String(format: "[%@%@] step %d/%d  loss %.4f  %.1f steps/s  ETA %d:%02d",
                          String(repeating: "#", count: filled), String(repeating: ".", count: 24 - filled),
                          progress.step, progress.totalSteps, progress.loss, progress.stepsPerSecond, remaining / 60, remaining % 60)
        FileHandle.standardError.write(Data((interactive ? "\r" + line : line + "\n").utf8))
        drawn = true
    }

    func finish() {
        if interactive && drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}
