// Planning with a learned model of actions: the cross-entropy method picks the command whose
// imagined outcome comes closest to a goal view, re-planned at every frame (model-predictive
// control); and closed-loop episodes in the commanded scene that measure how often it reaches
// random goals against random commands. Not a learner: the model's weights are only read.

import Foundation
import ForesightCore
import ForesightSensors

/// How the planner searches.
public struct PlanningSettings: Sendable {
    /// Candidate commands imagined at once (the model's batch).
    public var candidates = 16
    /// The best candidates each round refits the search to.
    public var elites = 3
    /// Rounds of the cross-entropy method per frame.
    public var rounds = 2
    /// Frames each candidate command is held for in imagination.
    public var horizon = 2
    public var seed: UInt64 = 1

    public init() {}
}

/// Picks commands that bring the view toward a goal, with a checkpoint's model of actions.
///
/// ```swift
/// let planner = try Planner(checkpoint: "live.safetensors")
/// let command = planner.plan(past: lastFrames, goal: goalView)   // 4 values in [-1, 1]
/// ```
public final class Planner {
    public let settings: PlanningSettings
    /// One row per candidate command.
    private let imagination: Imagination
    /// Past frames (K), frame side (S) and values per command (A) of the model.
    public var pastFrames: Int { imagination.pastFrames }
    public var size: Int { imagination.size }
    public var actionCount: Int { imagination.actionCount }
    private var rng: SeededRandom
    private var mean: [Float], deviation: [Float]
    private var samples: [Float], costs: [Float], order: [Int]

    public init(checkpoint path: String, settings: PlanningSettings = PlanningSettings(), threads: Int = 1) throws {
        guard settings.candidates >= 2, (1...settings.candidates).contains(settings.elites), settings.rounds >= 1, settings.horizon >= 1 else {
            throw LiveLearningError.invalidSetting(name: "planning", message: "planning needs at least 2 candidates, 1 to that many elites, 1 round and a horizon of 1 frame")
        }
        imagination = try Imagination(checkpoint: path, batch: settings.candidates, threads: threads)
        guard imagination.actionCount > 0 else {
            throw LiveLearningError.unsuitableCheckpoint(path: path, message: "holds a model without actions (\(imagination.architecture)); planning needs one learned with --actions")
        }
        self.settings = settings
        let actionCount = imagination.actionCount
        rng = SeededRandom(seed: settings.seed)
        mean = [Float](repeating: 0, count: actionCount)
        deviation = mean
        samples = [Float](repeating: 0, count: settings.candidates * actionCount)
        costs = [Float](repeating: 0, count: settings.candidates)
        order = Array(0..<settings.candidates)
    }

    /// Convolution work of planning one frame, in FLOP: every candidate imagined for `horizon`
    /// frames in each round (for board estimates).
    public var flopsPerFrame: Double {
        Double(imagination.flopsPerAdvance) * Double(settings.horizon * settings.rounds)
    }

    /// The command to apply now: of candidates held for `horizon` frames from `past` ([K, S, S],
    /// oldest first), the one whose imagined last frame is nearest `goal` ([S, S]) in mean
    /// squared error, found by refitting a Gaussian to the best ones each round.
    public func plan(past: UnsafePointer<Float>, goal: UnsafePointer<Float>) -> [Float] {
        let n = settings.candidates, a = actionCount
        for index in 0..<a { mean[index] = 0; deviation[index] = 0.6 }
        var best = [Float](repeating: 0, count: a), bestCost = Float.infinity
        for _ in 0..<settings.rounds {
            for candidate in 0..<n {
                for index in 0..<a {
                    // The first candidate keeps the current mean, so a round never loses it.
                    let value = candidate == 0 ? mean[index] : mean[index] + deviation[index] * rng.nextGaussian()
                    samples[candidate * a + index] = min(1, max(-1, value))
                }
            }
            imagine(past: past, goal: goal)
            order.sort { costs[$0] < costs[$1] }
            if costs[order[0]] < bestCost {
                bestCost = costs[order[0]]
                for index in 0..<a { best[index] = samples[order[0] * a + index] }
            }
            let elites = settings.elites
            for index in 0..<a {
                var sum: Float = 0, squares: Float = 0
                for rank in 0..<elites { let value = samples[order[rank] * a + index]; sum += value; squares += value * value }
                mean[index] = sum / Float(elites)
                deviation[index] = max(0.05, (max(0, squares / Float(elites) - mean[index] * mean[index])).squareRoot())
            }
        }
        return best
    }

    /// Rolls every candidate `horizon` frames ahead at once and scores its last frame against `goal`.
    private func imagine(past: UnsafePointer<Float>, goal: UnsafePointer<Float>) {
        imagination.begin(from: past)
        samples.withUnsafeBufferPointer { samples in
            for row in 0..<settings.candidates { imagination.setAction(row: row, samples.baseAddress! + row * actionCount) }
        }
        for _ in 0..<settings.horizon { imagination.advance() }
        for row in 0..<settings.candidates { costs[row] = meanSquaredDifference(imagination.newest(row: row), goal, count: size * size) }
    }
}

/// Closed-loop episodes in the commanded scene without moving objects: from a random start, a
/// goal view some random commands away; the controller commands the camera frame by frame until
/// the view is within `threshold` of the goal (mean squared error) or `maximumSteps` pass.
public struct PlanningEpisodes {
    public var goalSteps = 10
    public var maximumSteps = 30
    public var threshold: Float = 0.002
    public var size = 64

    public init() {}

    /// One episode's outcome: reached or not, the frames taken, the view's error to the goal at the start and end.
    public struct Outcome: Sendable {
        public let reached: Bool
        public let steps: Int
        public let startError: Float, endError: Float
    }

    /// Runs episode `seed` with `controller` choosing each command from the last K frames and the goal.
    public func run(seed: UInt64, pastFrames: Int,
                    controller: (_ past: UnsafePointer<Float>, _ goal: UnsafePointer<Float>) -> [Float]) -> Outcome {
        let plane = size * size
        var scene = EgoMotionScene.commanded(width: size, height: size, objects: 0, seed: seed)
        var rng = SeededRandom(seed: seed &* 31 &+ 7)
        // The goal: the view after `goalSteps` frames of one random command.
        var ahead = scene
        ahead.command(SIMD4(rng.nextFloat(in: -1..<1), rng.nextFloat(in: -1..<1), rng.nextFloat(in: -1..<1), rng.nextFloat(in: -1..<1)))
        for _ in 0..<goalSteps { ahead.advance() }
        var goal = [Float](repeating: 0, count: plane)
        goal.withUnsafeMutableBufferPointer { ahead.render(into: $0.baseAddress!) }
        // The past: K frames of a camera at rest.
        scene.command(.zero)
        var past = [Float](repeating: 0, count: pastFrames * plane)
        for index in 0..<pastFrames {
            past.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress! + index * plane) }
            if index < pastFrames - 1 { scene.advance() }
        }
        func error() -> Float {
            past.withUnsafeBufferPointer { past in goal.withUnsafeBufferPointer { meanSquaredDifference(past.baseAddress! + (pastFrames - 1) * plane, $0.baseAddress!, count: plane) } }
        }
        let startError = error()
        for step in 1...maximumSteps {
            let command = past.withUnsafeBufferPointer { past in goal.withUnsafeBufferPointer { controller(past.baseAddress!, $0.baseAddress!) } }
            scene.command(SIMD4(command[0], command[1], command[2], command[3]))
            scene.advance()
            if pastFrames > 1 { past.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: $0.baseAddress! + plane, count: (pastFrames - 1) * plane) } }
            past.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress! + (pastFrames - 1) * plane) }
            let now = error()
            if now < threshold { return Outcome(reached: true, steps: step, startError: startError, endError: now) }
        }
        return Outcome(reached: false, steps: maximumSteps, startError: startError, endError: error())
    }
}
