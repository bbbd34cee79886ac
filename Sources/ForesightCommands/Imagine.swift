// `foresight imagine`: a live checkpoint's model rolled ahead open-loop from a recording or a
// built-in scene, under the recording's logged (or the scene's own) actions; the error at
// each horizon against holding the last true frame, the first rollout as Y4M and a PNG strip.

import ArgumentParser
import Foundation
import ForesightCore
import ForesightIO
import ForesightSensors
import ForesightLive

struct Imagine: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Roll a live model ahead open-loop and compare its imagined frames with what came.",
        discussion: """
            The model of a `foresight learn` checkpoint predicts --steps frames ahead from --past frames of \
            the source, each prediction becoming the newest past frame, under the actions the source \
            logged (a recording's --actions CSV, a scene's own camera motion). It does so --rollouts times \
            over consecutive windows and prints, for each horizon, the model's mean squared error and that \
            of holding the last true frame. -o writes the first rollout's frames as Y4M and beside it a PNG \
            strip: the truth above, the imagined frames below.
            """)

    @Argument(help: "A checkpoint written by `foresight learn`.")
    var checkpoint: String

    @Option(help: "Frames to imagine from: a .y4m recording or a built-in scene (\(SyntheticScene.allCases.map(\.rawValue).joined(separator: ", "))).")
    var from: String

    @Option(help: "The recording's actions as a CSV file of `time, a1, ..., an` rows (time in seconds of the video), for a model of actions.")
    var actions: String?

    @Option(parsing: .unconditional, help: "Frames to imagine per rollout.")
    var steps = 8

    @Option(parsing: .unconditional, help: "Rollouts, over consecutive windows of the source.")
    var rollouts = 1

    @Option(parsing: .unconditional, help: "Source frames to skip before the first window.")
    var start = 0

    @Option(parsing: .unconditional, help: "Seed of a built-in scene.")
    var seed: UInt64 = 1

    @Option(name: .shortAndLong, help: "The first rollout's imagined frames as a Y4M file; a PNG strip of truth and imagination goes beside it.")
    var output: String?

    func validate() throws {
        try OptionRange.check(steps, "--steps", 1...1000, unit: " frames")
        try OptionRange.check(rollouts, "--rollouts", 1...100_000)
        try OptionRange.check(start, "--start", 0...OptionRange.maximumCount, unit: " frames")
    }

    func run() throws {
        let imagination = try Imagination(checkpoint: checkpoint)
        let k = imagination.pastFrames, size = imagination.size, plane = size * size, a = imagination.actionCount
        let window = k + steps
        var source = try ImagineSource(from, size: size, seed: seed, actions: actions, actionCount: a)
        defer { source.stop() }
        print("imagining with \(imagination.architecture) (\(imagination.steps) steps trained) from \(source.label): \(rollouts) rollout(s) of \(steps) frame(s) after \(k) past frame(s)")

        // One window of frames and their actions, filled from the source; every buffer made here, once.
        let frames = UnsafeMutablePointer<Float>.allocate(capacity: window * plane)
        let frameActions = UnsafeMutablePointer<Float>.allocate(capacity: max(1, window * a))
        let predictions = UnsafeMutablePointer<Float>.allocate(capacity: steps * plane)
        defer { frames.deallocate(); frameActions.deallocate(); predictions.deallocate() }
        for _ in 0..<start { guard source.next(frame: frames, action: frameActions) else { break } }
        var errors = HorizonErrors(steps: steps)
        rolling: for rollout in 0..<rollouts {
            for index in 0..<window {
                guard source.next(frame: frames + index * plane, action: frameActions + index * a) else { break rolling }
            }
            // Step j's action is the one logged with the frame before it: past frame K - 1 + j.
            imagination.rollout(past: frames, actions: a > 0 ? UnsafePointer(frameActions + (k - 1) * a) : nil, steps: steps, into: predictions)
            errors.add(predictions: predictions, truth: frames + k * plane, last: frames + (k - 1) * plane, plane: plane)
            if rollout == 0, let output { try write(output, truth: frames + k * plane, imagined: predictions, size: size) }
        }
        guard errors.rollouts > 0 else {
            throw CommandFailure("\(source.label) holds \(source.delivered) frame(s); after --start \(start) a rollout needs \(window) (\(k) past, \(steps) imagined)")
        }
        print("horizon  model MSE  hold-last MSE  ratio")
        for horizon in 1...steps {
            let (model, hold, ratio) = errors.at(horizon)
            print(String(format: "%7d  %9.5f  %13.5f  %5.2f", horizon, model, hold, ratio))
        }
        print("\(errors.rollouts) rollout(s)" + (errors.rollouts < rollouts ? " (the source ended before the rest)" : ""))
        if let output { print("wrote \(output) and \(Self.stripPath(output))") }
    }

    static func stripPath(_ output: String) -> String {
        (output.hasSuffix(".y4m") ? String(output.dropLast(4)) : output) + ".png"
    }

    /// The imagined frames as Y4M, and the PNG strip: truth above, imagination below, 3x.
    private func write(_ output: String, truth: UnsafePointer<Float>, imagined: UnsafePointer<Float>, size: Int) throws {
        let plane = size * size
        let writer = try Y4MWriter(path: output, header: Y4MHeader(width: size, height: size, chroma: .mono))
        for step in 0..<steps {
            try writer.writeFrame(planes: (0..<plane).map { UInt8(min(255, max(0, imagined[step * plane + $0] * 255 + 0.5))) })
        }
        writer.close()
        let zoom = 3, tile = size * zoom, gap = 2
        let width = steps * tile + (steps - 1) * gap, height = 2 * tile + gap
        var pixels = [UInt8](repeating: 40, count: width * height)
        for row in 0..<2 {
            let images = row == 0 ? truth : imagined
            for step in 0..<steps {
                for y in 0..<tile {
                    for x in 0..<tile {
                        let value = images[step * plane + (y / zoom) * size + x / zoom]
                        pixels[(row * (tile + gap) + y) * width + step * (tile + gap) + x] = UInt8(min(255, max(0, value * 255 + 0.5)))
                    }
                }
            }
        }
        let strip = Self.stripPath(output)
        guard FileManager.default.createFile(atPath: strip, contents: Data(try PNG.encode(ByteImage(width: width, height: height, channels: 1, pixels: pixels)))) else {
            throw CommandFailure("cannot write \(strip)")
        }
    }
}

/// Frames (area-resized to the model's size) and their actions, one at a time, from the same
/// producers live learning reads: a Y4M recording with its CSV log, or a built-in scene with
/// its camera motion, unpaced.
struct ImagineSource {
    let label: String
    private(set) var delivered = 0
    private let producer: PacedFrameProducer
    private let plane: Int, actionCount: Int

    init(_ from: String, size: Int, seed: UInt64, actions: String?, actionCount: Int) throws {
        if let scene = SyntheticScene(rawValue: from) {
            if actions != nil { throw ValidationError("--actions goes with a recording; the \(scene.rawValue) scene gives its own camera motion") }
            if actionCount > 0 && !scene.publishesActions {
                throw CommandFailure("the model takes actions, and the \(scene.rawValue) scene has none: imagine from \(SyntheticScene.allCases.filter(\.publishesActions).map(\.rawValue).joined(separator: " or "))")
            }
            label = "the \(scene.rawValue) scene (seed \(seed))"
            producer = PacedFrameProducer.synthetic(scene, size: size, paced: false, seed: seed, actions: actionCount > 0)
        } else {
            guard FileManager.default.fileExists(atPath: from) else {
                throw ValidationError("--from \(from) is neither a file nor a scene (\(SyntheticScene.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let track = try actions.map { try ActionTrack(path: $0) }
            if actionCount > 0 && track == nil { throw ValidationError("the model takes actions of \(actionCount) values: give the recording's --actions FILE.csv") }
            if let track, track.count != actionCount {
                throw ValidationError("--actions \(actions!) holds \(track.count) value(s) per row; the model takes \(actionCount)")
            }
            label = from
            producer = try PacedFrameProducer.recording(path: from, size: size, paced: false, actions: track)
        }
        plane = size * size
        self.actionCount = actionCount
        producer.start()
    }

    /// The next frame into `frame` and its action into `action`; false at the end.
    mutating func next(frame: UnsafeMutablePointer<Float>, action: UnsafeMutablePointer<Float>) -> Bool {
        while true {
            let got: Bool? = producer.ring.waitOldest(timeoutNanoseconds: 100_000_000) { slot, _ in
                frame.update(from: slot.baseAddress!, count: plane)
                action.update(from: slot.baseAddress! + plane, count: actionCount)
                return true
            }
            if got != nil { delivered += 1; return true }
            if producer.finished && producer.ring.statistics.waiting == 0 { return false }
        }
    }

    func stop() { producer.stop() }
}
