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

/// The profiles compiled into the binary, and where a profile name is looked up.
final class DeviceProfileLookupTests: XCTestCase {
    /// The repository's devices/ folder, found from this file's place in the repository.
    private var devicesFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("devices")
    }

    func testBuiltInProfilesAreTheFilesInDevices() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: devicesFolder.path).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertFalse(files.isEmpty, "no profiles in \(devicesFolder.path)")
        XCTAssertEqual(DeviceProfile.builtIn.map(\.name).sorted(), files.map { String($0.dropLast(5)) },
                       "every file of devices/ must be compiled in (Sources/ForesightIO/BuiltInDeviceProfiles.swift), and nothing else")
        for (name, json) in DeviceProfile.builtIn {
            let text = try String(contentsOf: devicesFolder.appendingPathComponent(name + ".json"), encoding: .utf8)
            XCTAssertEqual(json, text, "the compiled-in \(name) differs from devices/\(name).json: copy the file's text into BuiltInDeviceProfiles.swift")
            XCTAssertNoThrow(try DeviceProfile.decode(Data(json.utf8), source: name))
        }
    }

    func testNameIsLookedUpInDevicesThenTheConfigFolderThenBuiltIn() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-profiles-\(getpid())")
        let configured = folder.appendingPathComponent("foresight/devices")
        try FileManager.default.createDirectory(at: configured, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let pi5 = try XCTUnwrap(DeviceProfile.builtIn.first { $0.name == "raspberry-pi-5" }).json
        try pi5.replacingOccurrences(of: #""cores": 4"#, with: #""cores": 2"#)
            .write(to: configured.appendingPathComponent("raspberry-pi-5.json"), atomically: true, encoding: .utf8)
        try pi5.replacingOccurrences(of: #""cores": 4"#, with: #""cores": 3"#)
            .write(to: configured.appendingPathComponent("my-robot.json"), atomically: true, encoding: .utf8)
        let environment = ["XDG_CONFIG_HOME": folder.path, "HOME": "/nonexistent"]
        XCTAssertEqual(DeviceProfile.searchFolders(environment: environment).last, configured.path)
        // ./devices comes first (the tests run from the repository's root, which has one)...
        let repository = FileManager.default.currentDirectoryPath
        if FileManager.default.fileExists(atPath: repository + "/devices/raspberry-pi-5.json") {
            XCTAssertEqual(try DeviceProfile.load(named: "raspberry-pi-5", environment: environment).cores, 4)
        }
        // ...then the config folder, over the built-in profile of the same name; it adds its own names.
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(folder.path))
        defer { FileManager.default.changeCurrentDirectoryPath(repository) }
        XCTAssertEqual(try DeviceProfile.load(named: "raspberry-pi-5", environment: environment).cores, 2)
        XCTAssertEqual(try DeviceProfile.load(named: "my-robot", environment: environment).cores, 3)
        XCTAssertTrue(DeviceProfile.availableProfiles(environment: environment).contains("my-robot"))
        // Without XDG_CONFIG_HOME the folder is ~/.config/foresight/devices.
        XCTAssertEqual(DeviceProfile.searchFolders(environment: ["HOME": "/home/robot"]).last, "/home/robot/.config/foresight/devices")
        // Built in: found wherever the program runs.
        let elsewhere = ["XDG_CONFIG_HOME": folder.appendingPathComponent("empty").path]
        XCTAssertEqual(try DeviceProfile.load(named: "raspberry-pi-zero-2w", environment: elsewhere).name,
                       try DeviceProfile.decode(Data(DeviceProfile.builtIn.first { $0.name == "raspberry-pi-zero-2w" }!.json.utf8), source: "").name)
        // An unknown name lists the known names and the places searched.
        XCTAssertThrowsError(try DeviceProfile.load(named: "raspbery-pi-5", environment: environment)) { error in
            let message = "\(error)"
            for part in ["raspberry-pi-4", "raspberry-pi-5", "x86-64-laptop", "my-robot", configured.path, "/devices", "built-in"] {
                XCTAssertTrue(message.contains(part), "\(part) missing from: \(message)")
            }
        }
        // A path that does not exist is named as such.
        XCTAssertThrowsError(try DeviceProfile.load(named: folder.appendingPathComponent("none.json").path)) {
            XCTAssertTrue("\($0)".contains("none.json"), "\($0)")
        }
    }
}
