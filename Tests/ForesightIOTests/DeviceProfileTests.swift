// Device profiles: the shipped ones load, and typos or bad values are named clearly.

import Foundation
import XCTest
@testable import ForesightIO

final class DeviceProfileTests: XCTestCase {
    func testShippedProfilesLoad() throws {
        let names = DeviceProfile.availableProfiles()
        for required in ["raspberry-pi-4", "raspberry-pi-5", "raspberry-pi-zero-2w", "x86-64-laptop"] {
            XCTAssertTrue(names.contains(required), "devices/\(required).json is missing (found \(names))")
            let profile = try DeviceProfile.load(named: required)
            XCTAssertGreaterThanOrEqual(profile.cores, 1)
            XCTAssertGreaterThanOrEqual(profile.memoryBudget, 8 << 20)
        }
    }

    func testTypoIsNamedWithASuggestion() {
        let text = #"{"name":"x","cores":4,"memoryBudgetMB":64,"camera":{"device":"/dev/video0","width":64,"height":64,"framesPerSecond":30},"microphone":{"device":"default","sampleRate":16000},"model":"pc64","objective":"motion"}"#
        XCTAssertThrowsError(try DeviceProfile.decode(Data(text.utf8), source: "typo.json")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("memoryBudgetMB"), message)
            XCTAssertTrue(message.contains("did you mean \"memoryBudgetMiB\""), message)
        }
    }

    func testNestedTypoMissingKeyAndBadValues() {
        let camera = #""camera":{"device":"/dev/video0","widht":64,"height":64,"framesPerSecond":30}"#
        let base = #"{"name":"x","cores":4,"memoryBudgetMiB":64,CAMERA,"microphone":{"device":"default","sampleRate":16000},"model":"pc64","objective":"motion"}"#
        XCTAssertThrowsError(try DeviceProfile.decode(Data(base.replacingOccurrences(of: "CAMERA", with: camera).utf8), source: "p")) {
            XCTAssertTrue("\($0)".contains("\"widht\" in \"camera\""), "\($0)")
        }
        let good = #""camera":{"device":"/dev/video0","width":64,"height":64,"framesPerSecond":30}"#
        let valid = base.replacingOccurrences(of: "CAMERA", with: good)
        XCTAssertNoThrow(try DeviceProfile.decode(Data(valid.utf8), source: "p"))
        XCTAssertThrowsError(try DeviceProfile.decode(Data(valid.replacingOccurrences(of: #""cores":4"#, with: #""cores":0"#).utf8), source: "p")) {
            XCTAssertTrue("\($0)".contains("cores"), "\($0)")
        }
        XCTAssertThrowsError(try DeviceProfile.decode(Data(valid.replacingOccurrences(of: #""model":"pc64","#, with: "").utf8), source: "p")) {
            XCTAssertTrue("\($0)".contains("model"), "\($0)")
        }
        XCTAssertThrowsError(try DeviceProfile.decode(Data(valid.replacingOccurrences(of: #""objective":"motion""#, with: #""objective":"moton""#).utf8), source: "p")) {
            XCTAssertTrue("\($0)".contains("did you mean \"motion\""), "\($0)")
        }
        XCTAssertThrowsError(try DeviceProfile.decode(Data("{not json".utf8), source: "p")) {
            XCTAssertTrue("\($0)".contains("not valid JSON"), "\($0)")
        }
        XCTAssertThrowsError(try DeviceProfile.load(named: "no-such-board")) {
            XCTAssertTrue("\($0)".contains("raspberry-pi-4"), "\($0)")
        }
    }
}

final class DeviceProfileFieldTests: XCTestCase {
    /// A valid profile; `replacing` swaps one piece of its text for another.
    private func decode(replacing old: String, with new: String) throws -> DeviceProfile {
        let valid = #"{"name":"x","cores":4,"memoryBudgetMiB":64,"camera":{"device":"/dev/video2","width":320,"height":240,"framesPerSecond":15},"microphone":{"device":"plughw:1,0","sampleRate":16000},"model":"pc64","objective":"next-frame"}"#
        XCTAssertTrue(valid.contains(old), "the test's profile lacks \(old)")
        return try DeviceProfile.decode(Data(valid.replacingOccurrences(of: old, with: new).utf8), source: "robot.json")
    }

    func testEveryFieldIsRead() throws {
        let profile = try decode(replacing: #""name":"x""#, with: #""name":"x""#)
        XCTAssertEqual(profile.camera, DeviceProfile.Camera(device: "/dev/video2", width: 320, height: 240, framesPerSecond: 15))
        XCTAssertEqual(profile.microphone, DeviceProfile.Microphone(device: "plughw:1,0", sampleRate: 16000))
        XCTAssertEqual(profile.model, "pc64")
        XCTAssertEqual(profile.objective, "next-frame")
    }

    func testABadValueIsAnErrorNamingItsField() {
        let cases: [(old: String, new: String, named: String)] = [
            (#""width":320"#, #""width":0"#, "camera.width must be positive (got 0)"),
            (#""framesPerSecond":15"#, #""framesPerSecond":-1"#, "camera.framesPerSecond must be positive"),
            (#""device":"/dev/video2""#, #""device":"video2""#, "camera.device must be a device path"),
            (#""device":"plughw:1,0""#, #""device":"""#, "microphone.device must name an ALSA capture device"),
            (#""sampleRate":16000"#, #""sampleRate":800"#, "microphone.sampleRate must be at least 8000 (got 800)"),
            (#""cores":4"#, #""cores":"four""#, "wrong type at \"cores\" (a number expected)"),
            (#""width":320"#, #""width":"320""#, "wrong type at \"camera.width\""),
            (#""model":"pc64""#, #""model":"pc46""#, "model \"pc46\", which Foresight does not know; did you mean \"pc64\""),
            (#""objective":"next-frame""#, #""objective":null"#, "null at \"objective\""),
            (#""sampleRate":16000"#, #""sampleRat":16000"#, "unknown key \"sampleRat\" in \"microphone\"; did you mean \"sampleRate\""),
            (#","model":"pc64""#, "", "lacks the key \"model\""),
        ]
        for (old, new, named) in cases {
            XCTAssertThrowsError(try decode(replacing: old, with: new), "\(new)") { error in
                XCTAssertTrue("\(error)".contains("robot.json"), "\(error)")
                XCTAssertTrue("\(error)".contains(named), "\(new): \(error)")
            }
        }
    }

    func testShippedProfilesNameUsableSensorsAndModels() throws {
        for name in DeviceProfile.availableProfiles() {
            let profile = try DeviceProfile.load(named: name)
            XCTAssertTrue(profile.camera.device.hasPrefix("/dev/video"), "\(name): \(profile.camera.device)")
            XCTAssertFalse(profile.microphone.device.isEmpty, name)
            XCTAssertTrue(DeviceProfile.knownModels.contains(profile.model), name)
            XCTAssertTrue(DeviceProfile.knownObjectives.contains(profile.objective), name)
        }
    }
}
