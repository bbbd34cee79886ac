// The libraries opened at run time (alsa-lib, libpng, libv4l2, libzstd, liblz4, libturbojpeg):
// a missing one gives one line naming the Debian package, never a crash; an installed one
// loads; and V4L2 through the kernel names a missing or wrong device node. PNG's own case is in
// ImageTests; compressed MCAP chunks and JPEG frames in MCAPTests and MCAPFrameTests.

@testable import ForesightSensors
import Glibc
import XCTest
@testable import ForesightIO

final class RuntimeLibraryTests: XCTestCase {
    func testMissingLibraryFilesGiveOneLineNamingThePackage() {
        guard case .failure(let alsa) = ALSA.load(file: "libasound-foresight-missing.so.2"),
              case .failure(let v4l2) = LibV4L2.load(file: "libv4l2-foresight-missing.so.0"),
              case .failure(let png) = PNG.load(file: "libpng16-foresight-missing.so.16") else {
            return XCTFail("a library file that does not exist loaded")
        }
        XCTAssertEqual(SensorError.alsaLibraryMissing(alsa).description,
                       "microphones need ALSA's library libasound-foresight-missing.so.2: apt install libasound2 (libasound2t64 on Debian 13)")
        XCTAssertEqual(SensorError.conversionLibraryMissing(path: "/dev/video3", offered: ["MJPG", "H264"], v4l2).description,
                       "camera /dev/video3 offers only MJPG, H264: converting other camera formats (e.g. MJPEG) needs libv4l2's library "
                       + "libv4l2-foresight-missing.so.0: apt install libv4l-0 (libv4l-0t64 on Debian 13)")
        XCTAssertTrue(png.description.hasSuffix("apt install libpng16-16 (libpng16-16t64 on Debian 13)"), png.description)
        for missing in [alsa, v4l2, png] { XCTAssertFalse(missing.description.contains("\n"), missing.description) }
    }

    func testMissingDecodersOfBagsNameTheirPackages() {
        guard case .failure(let zstd) = MCAPCompression.loadZstd(file: "libzstd-foresight-missing.so.1"),
              case .failure(let lz4) = MCAPCompression.loadLZ4(file: "liblz4-foresight-missing.so.1"),
              case .failure(let jpeg) = JPEGDecoder.load(file: "libturbojpeg-foresight-missing.so.0") else {
            return XCTFail("a library file that does not exist loaded")
        }
        // Packages Debian 13 did not rename: no "t64" alternative.
        XCTAssertEqual(IOError.missingLibrary(zstd).description,
                       "MCAP chunks compressed with zstd need zstd's library libzstd-foresight-missing.so.1: apt install libzstd1")
        XCTAssertEqual(IOError.missingLibrary(lz4).description,
                       "MCAP chunks compressed with lz4 need LZ4's library liblz4-foresight-missing.so.1: apt install liblz4-1")
        XCTAssertEqual(IOError.missingLibrary(jpeg).description,
                       "JPEG images need libjpeg-turbo's TurboJPEG library libturbojpeg-foresight-missing.so.0: apt install libturbojpeg0")
    }

    func testAFileThatIsNotALibraryIsNamedWithDlopensReason() {
        guard case .failure(let missing) = ALSA.load(file: "/etc/hostname") else { return XCTFail("/etc/hostname loaded as a library") }
        XCTAssertTrue(missing.description.contains("which did not load ("), missing.description)
        XCTAssertTrue(missing.description.hasSuffix("apt install libasound2 (libasound2t64 on Debian 13)"), missing.description)
    }

    func testInstalledLibrariesLoad() throws {
        // Each check skips by itself when its library is absent, naming the package.
        var absent: [String] = []
        for (name, missing) in [("alsa-lib", Microphone.missingLibrary), ("libpng", PNG.missingLibrary),
                                ("libv4l2", Camera.missingConversionLibrary), ("libzstd", MCAPCompression.missingLibrary("zstd")),
                                ("liblz4", MCAPCompression.missingLibrary("lz4")), ("libturbojpeg", JPEGDecoder.missingLibrary)] {
            if let missing { absent.append("\(missing)") } else { XCTAssertNil(missing, name) }
        }
        if case .success(let alsa) = ALSA.shared {
            XCTAssertEqual(String(cString: alsa.snd_strerror(-EPIPE)), "Broken pipe")
        }
        if !absent.isEmpty { throw XCTSkip(absent.joined(separator: "; ")) }
    }

    func testWithoutALSAOpeningAMicrophoneThrowsTheLibraryError() throws {
        guard let missing = Microphone.missingLibrary else { throw XCTSkip("libasound.so.2 is installed: its absence is checked on a machine without it") }
        XCTAssertThrowsError(try ALSAStream(capture: "default")) { XCTAssertEqual($0 as? SensorError, .alsaLibraryMissing(missing)) }
        XCTAssertThrowsError(try Microphone.enumerate()) { XCTAssertEqual($0 as? SensorError, .alsaLibraryMissing(missing)) }
        Microphone.reloadConfiguration()  // nothing to reload, and no crash
    }

    func testV4L2OpenOfAMissingOrWrongNodeNamesIt() {
        XCTAssertThrowsError(try V4L2Camera(path: "/dev/video-foresight-none", width: 64, height: 48)) { error in
            XCTAssertEqual(error as? SensorError, .noSuchCamera(path: "/dev/video-foresight-none"))
            XCTAssertEqual("\(error)", "no camera at /dev/video-foresight-none: check the cable and `foresight devices`")
        }
        // A node that answers no V4L2 request (ENOTTY).
        XCTAssertThrowsError(try Camera.describe(path: "/dev/null")) { error in
            XCTAssertEqual(error as? SensorError, .notACaptureDevice(path: "/dev/null"))
        }
        XCTAssertThrowsError(try V4L2Camera(path: "/dev/null", width: 64, height: 48)) { error in
            XCTAssertEqual(error as? SensorError, .notACaptureDevice(path: "/dev/null"))
        }
    }
}
