// The synthetic camera (ego-motion scene) and microphone (sound scene): determinism, value
// ranges, and that the motion and sounds are the ones asked for.

import ForesightSensors
import XCTest
@testable import ForesightIO

final class SyntheticSourceTests: XCTestCase {
    func frames(_ scene: inout EgoMotionScene, count: Int) -> [[Float]] {
        var result: [[Float]] = []
        for _ in 0..<count {
            var frame = [Float](repeating: -1, count: scene.width * scene.height)
            frame.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!) }
            result.append(frame)
            scene.advance()
        }
        return result
    }

    func testEgoMotionSceneIsDeterministicBoundedAndMoving() {
        var a = EgoMotionScene(seed: 3), b = EgoMotionScene(seed: 3), c = EgoMotionScene(seed: 4)
        XCTAssertEqual(a.width, 64)
        XCTAssertEqual(a.framesPerSecond, 30)
        let framesA = frames(&a, count: 5), framesB = frames(&b, count: 5), framesC = frames(&c, count: 1)
        XCTAssertEqual(framesA, framesB)
        XCTAssertNotEqual(framesA[0], framesC[0])
        for frame in framesA {
            XCTAssert(frame.allSatisfy { $0 >= 0 && $0 <= 1 })
            let mean = frame.reduce(0, +) / Float(frame.count)
            let variance = frame.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(frame.count)
            XCTAssertGreaterThan(variance, 1e-3, "the frame should be textured, not flat")
        }
        for index in 1..<5 {
            XCTAssertGreaterThan(meanSquaredDifference(framesA[index], framesA[index - 1], count: 64 * 64), 1e-5)
        }
    }

    func testPanOnlyShiftsTheFrameByTheSpeed() {
        // 30 px/s at 30 fps is one pixel per frame to the right: frame 1 is frame 0 moved left.
        let pan = EgoMotionScene.Motion(panVelocity: (30, 0), zoomAmplitude: 0, rotationAmplitude: 0)
        var scene = EgoMotionScene(width: 32, height: 16, motion: pan, objects: 0, seed: 5)
        let pair = frames(&scene, count: 2)
        var worst: Float = 0
        for y in 0..<16 { for x in 0..<31 { worst = max(worst, abs(pair[1][y * 32 + x] - pair[0][y * 32 + x + 1])) } }
        XCTAssertLessThan(worst, 1e-5)
    }

    func testZoomAndRotationKeepTheCentreAndMoveTheEdges() {
        let zoom = EgoMotionScene.Motion(panVelocity: (0, 0), zoomAmplitude: 0.5, zoomPeriod: 1, rotationAmplitude: 0.5, rotationPeriod: 2)
        var scene = EgoMotionScene(width: 33, height: 33, motion: zoom, objects: 0, seed: 6)
        let pair = frames(&scene, count: 4)
        // An odd size puts a pixel centre half a pixel off the optical axis; compare the
        // centre 2x2 block against the edges.
        let centre = abs(pair[3][16 * 33 + 16] - pair[0][16 * 33 + 16])
        let corner = abs(pair[3][0] - pair[0][0]) + abs(pair[3][32 * 33 + 32] - pair[0][32 * 33 + 32])
        XCTAssertLessThan(centre, corner)
        XCTAssertEqual(scene.pose.zoom, 1 + 0.5 * sin(2 * Float.pi * 4 / 30), accuracy: 1e-5)
    }

    func zeroCrossings(_ samples: ArraySlice<Float>) -> Int {
        zip(samples.dropFirst(), samples).filter { ($0 >= 0) != ($1 >= 0) }.count
    }

    func testSoundEventsHaveTheirFrequencyAndLevel() {
        var sound = SoundScene(sampleRate: 16_000, events: [
            .tone(frequency: 440, amplitude: 0.5, duration: 1),
            .chirp(from: 200, to: 2000, amplitude: 0.5, duration: 1),
            .noiseBurst(amplitude: 0.3, duration: 1),
            .silence(duration: 0.5),
        ])
        var samples = [Float](repeating: 9, count: 56_000)
        // Render in odd-sized pieces: events continue across calls.
        samples.withUnsafeMutableBufferPointer { buffer in
            var done = 0
            while done < buffer.count {
                let count = min(777, buffer.count - done)
                sound.render(into: buffer.baseAddress! + done, count: count)
                done += count
            }
        }
        XCTAssertEqual(samples[0], 0)
        XCTAssertEqual(zeroCrossings(samples[0..<16_000]), 880, accuracy: 2)
        let firstHalf = zeroCrossings(samples[16_000..<24_000]), secondHalf = zeroCrossings(samples[24_000..<32_000])
        // Linear chirp: mean frequency 650 Hz in the first half, 1550 Hz in the second.
        XCTAssertEqual(firstHalf, 650, accuracy: 6)
        XCTAssertEqual(secondHalf, 1550, accuracy: 6)
        let noise = samples[32_400..<47_600]
        let rms = (noise.reduce(0) { $0 + $1 * $1 } / Float(noise.count)).squareRoot()
        XCTAssertEqual(rms, 0.3 / Float(3).squareRoot(), accuracy: 0.01)
        XCTAssert(samples[48_000..<56_000].allSatisfy { $0 == 0 })
        XCTAssert(samples.allSatisfy { abs($0) <= 0.5 })
    }

    func testRandomSoundSceneIsDeterministicAndAudible() {
        func render(seed: UInt64) -> [Float] {
            var sound = SoundScene(seed: seed)
            var samples = [Float](repeating: 0, count: 32_000)
            samples.withUnsafeMutableBufferPointer { sound.render(into: $0.baseAddress!, count: $0.count) }
            return samples
        }
        let a = render(seed: 1)
        XCTAssertEqual(a, render(seed: 1))
        XCTAssertNotEqual(a, render(seed: 2))
        XCTAssertGreaterThan(a.reduce(0) { $0 + $1 * $1 } / 32_000, 1e-3)
        XCTAssert(a.allSatisfy { abs($0) <= 1 })
    }
}

func meanSquaredDifference(_ a: [Float], _ b: [Float], count: Int) -> Float {
    zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Float(count)
}
