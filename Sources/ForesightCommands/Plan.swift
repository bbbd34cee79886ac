// `foresight plan`: closed-loop episodes in the commanded scene, the camera driven by the
// planner (cross-entropy method over commands, re-planned every frame, with a checkpoint's
// model of actions) toward random goal views; the same episodes with random commands beside.

import ArgumentParser
import Foundation
import ForesightCore
import ForesightIO
import ForesightLive

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive the commanded scene's camera to goal views with a learned model of actions.",
        discussion: """
            Each episode starts the commanded scene (without moving objects) at a random place, takes as \
            its goal the view some random commands away, and lets the planner command the camera frame by \
            frame: it imagines --candidates commands held for --horizon frames with the checkpoint's model \
            (learned with --actions), keeps the best, and refits for --rounds rounds. An episode succeeds \
            when the view's mean squared error to the goal falls below --threshold within --max-steps \
            frames. The same episodes are run with random commands, for comparison.
            """)

    @Argument(help: "A checkpoint of `foresight learn --actions ...`.")
    var checkpoint: String

    @Option(parsing: .unconditional, help: "Episodes, each with its own start and goal.")
    var episodes = 50

    @Option(parsing: .unconditional, help: "Frames of one random command between the start and the goal view.")
    var goalSteps = 10

    @Option(parsing: .unconditional, help: "Frames an episode may take.")
    var maxSteps = 30

    @Option(parsing: .unconditional, help: "Mean squared error to the goal view that counts as reached.")
    var threshold: Float = 0.002

    @Option(parsing: .unconditional, help: "Commands imagined at once.")
    var candidates = 16

    @Option(parsing: .unconditional, help: "Frames each command is held for in imagination.")
    var horizon = 2

    @Option(parsing: .unconditional, help: "Rounds of the cross-entropy method per frame.")
    var rounds = 2

    @Option(parsing: .unconditional, help: "Seed of the first episode (the others follow).")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Kernel worker threads.")
    var threads = 1

    func validate() throws {
        try OptionRange.check(episodes, "--episodes", 1...100_000)
        try OptionRange.check(goalSteps, "--goal-steps", 1...1000, unit: " frames")
        try OptionRange.check(maxSteps, "--max-steps", 1...10_000, unit: " frames")
        try OptionRange.check(candidates, "--candidates", 2...1024)
        try OptionRange.check(horizon, "--horizon", 1...100, unit: " frames")
        try OptionRange.check(rounds, "--rounds", 1...100)
        guard threshold.isFinite, threshold > 0 else { throw ValidationError("--threshold must be a positive number (got \(threshold))") }
        if let problem = ThreadLimit.problem(threads, option: "--threads") { throw ValidationError(problem) }
    }

    func run() throws {
        var settings = PlanningSettings()
        settings.candidates = candidates
        settings.elites = max(1, candidates / 5)
        settings.rounds = rounds
        settings.horizon = horizon
        settings.seed = seed
        let planner = try Planner(checkpoint: checkpoint, settings: settings, threads: threads)
        var setup = PlanningEpisodes()
        setup.goalSteps = goalSteps
        setup.maximumSteps = maxSteps
        setup.threshold = threshold
        setup.size = planner.size
        var random = SeededRandom(seed: seed &+ 99)
        var planned = 0, byChance = 0, plannedSteps = 0
        let start = MonotonicClock.nanoseconds()
        var frames = 0
        for episode in 0..<episodes {
            let episodeSeed = seed &+ UInt64(episode)
            let withPlanner = setup.run(seed: episodeSeed, pastFrames: planner.pastFrames) { past, goal in
                frames += 1
                return planner.plan(past: past, goal: goal)
            }
            let withChance = setup.run(seed: episodeSeed, pastFrames: planner.pastFrames) { _, _ in
                (0..<4).map { _ in random.nextFloat(in: -1..<1) }
            }
            if withPlanner.reached { planned += 1; plannedSteps += withPlanner.steps }
            if withChance.reached { byChance += 1 }
            print(String(format: "episode %3d: planner %@ in %2d frames (error %.5f -> %.5f); random %@", episode + 1,
                         withPlanner.reached ? "reached" : "missed ", withPlanner.steps, withPlanner.startError, withPlanner.endError,
                         withChance.reached ? "reached" : "missed"))
        }
        let milliseconds = MonotonicClock.seconds(since: start) * 1000 / Double(max(frames, 1))
        print(String(format: "reached the goal (error below %g within %d frames): planner %d/%d (%.0f%%, %.1f frames on average), random commands %d/%d (%.0f%%); %.1f ms of planning per frame on %d thread(s) (%d candidates x %d frames x %d rounds)",
                     threshold, maxSteps, planned, episodes, 100 * Double(planned) / Double(episodes), Double(plannedSteps) / Double(max(planned, 1)),
                     byChance, episodes, 100 * Double(byChance) / Double(episodes), milliseconds, threads, candidates, horizon, rounds))
        for board in BoardEstimate.boards {
            let estimate = board.millisecondsPerStep(flops: planner.flopsPerFrame, threads: board.cores)
            print(String(format: "estimate for %@ (%d cores, llvm-mca kernel rate; a best case, not measured): %.1f MFLOP of planning per frame, %.1f ms, so it %@ 30 frames/s",
                         board.profile, board.cores, planner.flopsPerFrame / 1e6, estimate, estimate <= 1000.0 / 30 ? "keeps up with" : "does not keep up with"))
        }
    }
}
