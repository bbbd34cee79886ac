// What `foresight learn` learns from and with: options over the device profile over the
// defaults, every profile field reaching the run, conflicts named; and the command itself
// opening the profile's camera, letting options override it, and naming a profile's typo.

import Foundation
import XCTest
@testable import ForesightIO
@testable import ForesightSensors
@testable import ForesightSSL
@testable import ForesightLive

final class LiveSetupTests: XCTestCase {
    private let robot = DeviceProfile(
        name: "test robot", cores: 3, memoryBudgetMiB: 96,
        camera: .init(device: "/dev/video5", width: 320, height: 240, framesPerSecond: 15),
        microphone: .init(device: "plughw:2,0", sampleRate: 22_050), model: "pc64", objective: "next-frame")
    private var robotMode: CameraMode { CameraMode(width: 320, height: 240, framesPerSecond: 15) }

    func testProfileSetsTheLearnersModelObjectiveThreadsAndBudget() throws {
        let settings = try LiveLearnerConfiguration(profile: robot)
        XCTAssertEqual(settings.model, .pc64)
        XCTAssertEqual(settings.objective, .nextFrame)
        XCTAssertEqual(settings.threads, 3)
        XCTAssertEqual(settings.budget, 96 << 20)
        // Everything a profile does not speak of keeps its default.
        XCTAssertEqual(settings.batch, LiveLearnerConfiguration.defaults.batch)
        XCTAssertEqual(settings.learningRate, LiveLearnerConfiguration.defaults.learningRate)
        XCTAssertNil(LiveLearnerConfiguration.defaults.budget)
    }

    func testProfileNamesAreTheLearnersChoices() {
        XCTAssertEqual(DeviceProfile.knownModels, LiveLearnerConfiguration.Model.allCases.map(\.rawValue))
        XCTAssertEqual(DeviceProfile.knownObjectives, LiveLearnerConfiguration.Objective.allCases.map(\.rawValue))
    }

    func testWithoutProfileOrSourceTheDefaultSceneIsLearned() throws {
        let inputs = try LiveInputs()
        XCTAssertEqual(inputs.video, .scene(LiveInputs.defaultScene))
        XCTAssertNil(inputs.sound)
        XCTAssertEqual(inputs.sampleRate, AudioCPCConfiguration().sampleRate)
        XCTAssertEqual(try LiveInputs(camera: "/dev/video1").video, .camera(path: "/dev/video1", mode: .standard))
    }

    func testProfileSensorsFillWhatTheOptionsLeaveOpen() throws {
        let board = try LiveInputs(profile: robot)
        XCTAssertEqual(board.video, .camera(path: "/dev/video5", mode: robotMode))
        XCTAssertNil(board.sound)
        XCTAssertEqual(board.sampleRate, 22_050)

        let listening = try LiveInputs(listen: true, profile: robot)
        XCTAssertEqual(listening.video, .camera(path: "/dev/video5", mode: robotMode))
        XCTAssertEqual(listening.sound, .microphone(name: "plughw:2,0"))
    }

    func testOptionsOverrideTheProfile() throws {
        XCTAssertEqual(try LiveInputs(camera: "/dev/video9", profile: robot).video, .camera(path: "/dev/video9", mode: robotMode))
        XCTAssertEqual(try LiveInputs(video: "walk.y4m", profile: robot).video, .recording(path: "walk.y4m"))
        XCTAssertEqual(try LiveInputs(scene: .movingDigits, profile: robot).video, .scene(.movingDigits))
        // A sound source alone means sound alone, as without a profile.
        let hearing = try LiveInputs(mic: "hw:0", profile: robot)
        XCTAssertNil(hearing.video)
        XCTAssertEqual(hearing.sound, .microphone(name: "hw:0"))
        XCTAssertEqual(try LiveInputs(audio: "a.wav", profile: robot).sound, .recording(path: "a.wav"))
        XCTAssertEqual(try LiveInputs(scene: .movingShapes, mic: "hw:0").video, .scene(.movingShapes))
    }

    func testConflictingSourcesAreNamed() {
        let cases: [(make: () throws -> LiveInputs, named: String)] = [
            ({ try LiveInputs(camera: "/dev/video0", video: "a.y4m") }, "--camera or --video"),
            ({ try LiveInputs(mic: "hw:0", audio: "a.wav") }, "--mic or --audio"),
            ({ try LiveInputs(mic: "hw:0", listen: true, profile: self.robot) }, "--listen"),
            ({ try LiveInputs(listen: true) }, "--profile"),
        ]
        for (make, named) in cases {
            XCTAssertThrowsError(try make()) { error in
                XCTAssertTrue("\(error)".contains(named), "\(error)")
                guard case .conflictingOptions? = error as? LiveLearningError else { return XCTFail("not a conflict of options: \(error)") }
            }
        }
    }

    func testOpenedSourcesFollowTheChoice() throws {
        let scene = try XCTUnwrap(try LiveInputs(scene: .movingShapes).openVideo(size: 32, paced: false, seed: 1))
        XCTAssertEqual(scene.label, "synthetic moving-shapes")
        XCTAssertEqual(scene.ring.slotCapacity, 32 * 32)
        XCTAssertNil(try LiveInputs(mic: "hw:0").openVideo(size: 32, paced: false, seed: 1))
        XCTAssertNil(try LiveInputs().openSound(paced: false))
        XCTAssertThrowsError(try LiveInputs(camera: "/dev/video-none").openVideo(size: 32, paced: false, seed: 1)) {
            XCTAssertTrue("\($0)".contains("/dev/video-none"), "\($0)")
        }
    }

    // MARK: the command

    /// Writes a profile naming `camera` to a temporary file; `edit` may break its text.
    private func profileFile(camera: String, edit: (String) -> String = { $0 }) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-profile-\(getpid())-\(UUID().uuidString).json").path
        let text = #"{"name":"test robot","cores":1,"memoryBudgetMiB":128,"camera":{"device":"CAMERA","width":320,"height":240,"framesPerSecond":15},"microphone":{"device":"default","sampleRate":16000},"model":"pc64","objective":"next-frame"}"#
        try edit(text.replacingOccurrences(of: "CAMERA", with: camera)).write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testLearnOpensTheProfilesCameraUnlessAnotherSourceIsNamed() throws {
        let profile = try profileFile(camera: "/dev/video-foresight-none")
        let board = try runForesight(["learn", "--profile", profile, "--frames", "1"])
        XCTAssertNotEqual(board.status, 0, board.output)
        XCTAssertTrue(board.output.contains("/dev/video-foresight-none"), "the profile's camera was not opened: \(board.output)")

        let scene = try runForesight(["learn", "--profile", profile, "--scene", "moving-shapes", "--frames", "6", "--as-fast-as-possible"])
        XCTAssertEqual(scene.status, 0, scene.output)
        XCTAssertTrue(scene.output.contains("learning pc64-next-frame k4 64x64 from synthetic moving-shapes"), "the profile's objective: \(scene.output)")
        XCTAssertTrue(scene.output.contains("1 thread(s)"), "the profile's cores: \(scene.output)")

        let overridden = try runForesight(["learn", "--profile", profile, "--scene", "moving-shapes", "--objective", "motion",
                                           "--threads", "2", "--frames", "6", "--as-fast-as-possible"])
        XCTAssertEqual(overridden.status, 0, overridden.output)
        XCTAssertTrue(overridden.output.contains("learning pc64-motion k4 64x64"), overridden.output)
        XCTAssertTrue(overridden.output.contains("2 thread(s)"), overridden.output)
    }

    func testLearnNamesTheFieldOfABrokenProfile() throws {
        let typo = try profileFile(camera: "/dev/video0") { $0.replacingOccurrences(of: "\"height\"", with: "\"heigth\"") }
        let broken = try runForesight(["learn", "--profile", typo, "--frames", "1"])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(broken.output.contains("unknown key \"heigth\" in \"camera\"; did you mean \"height\""), broken.output)

        let bad = try profileFile(camera: "video0")
        let badDevice = try runForesight(["learn", "--profile", bad, "--frames", "1"])
        XCTAssertNotEqual(badDevice.status, 0)
        XCTAssertTrue(badDevice.output.contains("camera.device must be a device path"), badDevice.output)

        let listen = try runForesight(["learn", "--listen", "--frames", "1"])
        XCTAssertNotEqual(listen.status, 0)
        XCTAssertTrue(listen.output.contains("--profile"), listen.output)
    }
}
