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
