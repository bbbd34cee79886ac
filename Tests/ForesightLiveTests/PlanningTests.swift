// Planning with a learned model of actions: on goals it never saw, the planner drives the
// commanded scene's camera to the goal view far more often than random commands do.

import Foundation
import XCTest
import ForesightTestSupport
import ForesightCore
import ForesightSensors
@testable import ForesightLive

final class PlanningTests: XCTestCase {
    func testThePlannerReachesGoalsThatRandomCommandsMiss() throws {
        let folder = try makeTemporaryFolder("foresight-plan")
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = LiveLearnerConfiguration()
        settings.threads = 2
        settings.actions = EgoMotionScene.actionCount
        settings.checkpointPath = folder.appendingPathComponent("live.safetensors").path
        _ = try LiveLearner(settings).run(PacedFrameProducer.synthetic(.commanded, paced: false, frameLimit: 1500, seed: 1, actions: true))

        let planner = try Planner(checkpoint: settings.checkpointPath!, threads: 2)
        let episodes = PlanningEpisodes()
        var random = SeededRandom(seed: 5)
        var planned = 0, byChance = 0
        var lines: [String] = []
        for episode in 0..<10 {
            let seed = 1001 + UInt64(episode)   // starts and goals of their own
            let withPlanner = episodes.run(seed: seed, pastFrames: planner.pastFrames) { planner.plan(past: $0, goal: $1) }
            let withChance = episodes.run(seed: seed, pastFrames: planner.pastFrames) { _, _ in (0..<4).map { _ in random.nextFloat(in: -1..<1) } }
            XCTAssertEqual(withPlanner.startError, withChance.startError, "the same episode for both")
            if withPlanner.reached { planned += 1 }
            if withChance.reached { byChance += 1 }
            lines.append(String(format: "%.4f->%.4f%@", withPlanner.startError, withPlanner.endError, withPlanner.reached ? "" : " (missed)"))
        }
        print("planning on 10 unseen goals: planner \(planned)/10, random \(byChance)/10; planner's error to the goal: " + lines.joined(separator: ", "))
        XCTAssertGreaterThanOrEqual(planned, 7, lines.joined(separator: ", "))
        XCTAssertLessThanOrEqual(byChance, 3)
    }

    func testAModelWithoutActionsCannotPlan() throws {
        let folder = try makeTemporaryFolder("foresight-plan")
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = LiveLearnerConfiguration()
        settings.checkpointPath = folder.appendingPathComponent("blind.safetensors").path
        _ = try LiveLearner(settings).run(PacedFrameProducer.synthetic(.commanded, paced: false, frameLimit: 10))
        XCTAssertThrowsError(try Planner(checkpoint: settings.checkpointPath!)) { error in
            XCTAssertTrue("\(error)".contains("planning needs one learned with --actions"), "\(error)")
        }
        var bad = PlanningSettings()
        bad.elites = 0
        XCTAssertThrowsError(try Planner(checkpoint: settings.checkpointPath!, settings: bad))
    }
}
