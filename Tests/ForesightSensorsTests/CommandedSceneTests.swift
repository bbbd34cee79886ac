// The scenes' actions: the commanded scene's camera follows random piecewise-constant commands
// and moves as they say; the fixed-motion scene publishes its own velocities; producers carry
// the action after each frame in its ring slot.

import XCTest
import ForesightCore
@testable import ForesightSensors

final class CommandedSceneTests: XCTestCase {
    func testTheCameraMovesAsTheCommandSays() {
        var scene = EgoMotionScene.commanded(seed: 11)
        XCTAssertTrue(scene.isCommanded)
        let step: Float = 1 / 30, scale = EgoMotionScene.commandScale
        var changes = 0, previous = scene.action
        for _ in 0..<300 {
            let before = scene.pose, action = scene.action
            for index in 0..<4 { XCTAssertTrue((-1...1).contains(action[index]), "\(action)") }
            if action != previous { changes += 1 }
            previous = action
            scene.advance()
            let after = scene.pose
            // Pan in the camera's own frame, at 40 frame pixels per second at action 1.
            let right = (after.x - before.x) * cos(before.angle) + (after.y - before.y) * sin(before.angle)
            let down = -(after.x - before.x) * sin(before.angle) + (after.y - before.y) * cos(before.angle)
            XCTAssertEqual(right * before.zoom, action[0] * scale.pan * step, accuracy: 1e-3)
            XCTAssertEqual(down * before.zoom, action[1] * scale.pan * step, accuracy: 1e-3)
            XCTAssertEqual(log(after.zoom / before.zoom), action[2] * scale.zoom * step, accuracy: 1e-4)
            XCTAssertEqual(after.angle - before.angle, action[3] * scale.turn * step, accuracy: 1e-5)
            XCTAssertTrue((0.55...1.75).contains(after.zoom), "zoom \(after.zoom) left its range")
        }
        // Commands are held for 0.2 to 1 s: over 10 s, between 10 and 50 changes.
        XCTAssertTrue((10...50).contains(changes), "\(changes) command changes in 300 frames")
        // The same seed gives the same commands; another seed, others.
        var again = EgoMotionScene.commanded(seed: 11), other = EgoMotionScene.commanded(seed: 12)
        for _ in 0..<300 { again.advance(); other.advance() }
        XCTAssertEqual(again.action, scene.action)
        XCTAssertNotEqual(other.action, scene.action)
    }

    func testTheFixedMotionPublishesItsOwnVelocities() {
        var scene = EgoMotionScene(seed: 3)
        XCTAssertFalse(scene.isCommanded)
        let scale = EgoMotionScene.commandScale
        for _ in 0..<90 {
            let before = scene.pose, action = scene.action
            scene.advance()
            let after = scene.pose
            XCTAssertEqual((after.x - before.x) * 30, action[0] * scale.pan, accuracy: 1e-2)
            XCTAssertEqual((after.y - before.y) * 30, action[1] * scale.pan, accuracy: 1e-2)
            // Rates at the frame, against the change over the next frame: close, not equal.
            XCTAssertEqual(log(after.zoom / before.zoom) * 30, action[2] * scale.zoom, accuracy: 0.02)
            XCTAssertEqual((after.angle - before.angle) * 30, action[3] * scale.turn, accuracy: 0.02)
        }
    }

    func testAProducerCarriesEachFramesActionAfterItsPixels() {
        let source = PacedFrameProducer.synthetic(.commanded, size: 32, paced: false, frameLimit: 20, seed: 5, actions: true)
        XCTAssertEqual(source.actionCount, EgoMotionScene.actionCount)
        XCTAssertEqual(source.ring.slotCapacity, 32 * 32 + 4)
        var scene = EgoMotionScene.commanded(width: 32, height: 32, seed: 5)
        var expected = [Float](repeating: 0, count: 32 * 32)
        source.start()
        defer { source.stop() }
        for index in 0..<20 {
            var slot: [Float] = []
            while source.ring.waitOldest(timeoutNanoseconds: 1_000_000_000, { values, _ in slot = Array(values) }) == nil {}
            expected.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!) }
            XCTAssertEqual(Array(slot.prefix(32 * 32)), expected, "frame \(index)")
            XCTAssertEqual(Array(slot.suffix(4)), [scene.action[0], scene.action[1], scene.action[2], scene.action[3]], "frame \(index)")
            scene.advance()
        }
        // Without actions the slots hold the frame alone, and scenes without a camera publish none.
        XCTAssertEqual(PacedFrameProducer.synthetic(.commanded, size: 32).actionCount, 0)
        XCTAssertFalse(SyntheticScene.movingDigits.publishesActions)
        XCTAssertFalse(SyntheticScene.movingShapes.publishesActions)
    }
}
