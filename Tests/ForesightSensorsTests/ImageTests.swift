// PGM/PPM and PNG round trips, image folders, and broken image files.

@testable import ForesightSensors
import XCTest
@testable import ForesightIO

final class ImageTests: XCTestCase {
    func testPNMAndPNGRoundTripGreyAndRGB() throws {
        try skipUnlessInstalled(PNG.missingLibrary)
        let directory = temporaryDirectory("images")
        defer { removeTree(directory) }
        let grey = ByteImage(width: 5, height: 3, channels: 1, pixels: randomBytes(15, seed: 3))
        let rgb = ByteImage(width: 4, height: 6, channels: 3, pixels: randomBytes(72, seed: 4))
        for (index, image) in [grey, rgb].enumerated() {
            for ext in ["png", "pgm"] {
                let path = directory + "/\(index).\(ext)"
                try image.write(path: path)
                XCTAssertEqual(try ByteImage.read(path: path), image, "\(ext)")
            }
        }
        let folder = try ImageFolder(path: directory)
        XCTAssertEqual(folder.count, 4)
        XCTAssertEqual(try folder.image(at: 0), grey)  // 0.pgm sorts first
    }

    func testSixteenBitAndCommentedPNM() throws {
        let bytes = Array("P5 # a comment\n2 1\n# another\n65535\n".utf8) + [0xFF, 0xFF, 0x80, 0x00]
        XCTAssertEqual(try PNM.decode(bytes).pixels, [255, 128])
        let low = Array("P5\n2 1\n15\n".utf8) + [15, 0]
        XCTAssertEqual(try PNM.decode(low).pixels, [255, 0])
    }

    func error(_ body: () throws -> Void) -> IOError? {
        do { try body(); return nil } catch { return error as? IOError }
    }

    func testBrokenImagesNameTheOffset() {
        XCTAssertEqual(error { _ = try PNM.decode(Array("P5\n4 4\n255\nab".utf8)) }?.offset, 13)
        XCTAssertEqual(error { _ = try PNM.decode(Array("P5\n4 x\n255\n".utf8)) }?.offset, 5)
        XCTAssertEqual(error { _ = try PNM.decode(Array("P5\n4 4\n0\n".utf8)) }?.kind, .malformed)
        XCTAssertEqual(error { _ = try PNM.decode(Array("P3\n".utf8)) }?.kind, .unsupported)
    }

    func testBrokenPNGsNameTheOffset() throws {
        try skipUnlessInstalled(PNG.missingLibrary)
        let png = try PNG.encode(ByteImage(width: 8, height: 8, channels: 3, pixels: randomBytes(192, seed: 9)))
        let cut = error { _ = try PNG.decode(Array(png.prefix(png.count - 20))) }
        XCTAssertEqual(cut?.kind, .truncated)
        XCTAssertEqual(cut?.offset, png.count - 20)
        // Flip a byte inside the compressed image data: the chunk's CRC no longer matches.
        let imageData = (0..<png.count - 4).first { png[$0..<$0 + 4].elementsEqual("IDAT".utf8) }! - 4
        let dataLength = png[imageData..<imageData + 4].reduce(0) { $0 << 8 | Int($1) }
        var corrupt = png
        corrupt[imageData + 10] ^= 0xFF
        let crc = error { _ = try PNG.decode(corrupt) }
        XCTAssertEqual(crc?.kind, .malformed)
        XCTAssertEqual(crc?.offset, imageData + 8 + dataLength)
        XCTAssertEqual(error { _ = try PNG.decode(Array(png.prefix(5))) }?.kind, .truncated)
        // Valid chunks but a broken zlib stream: libpng's own error, located at the first IDAT.
        XCTAssertEqual(error { _ = try PNG.decode(PNGTestFiles.validChunksBadZlib()) }?.offset, 33)
    }

    func testPNGWithoutLibpngThrowsAnErrorNamingThePackage() throws {
        // The message, whatever is installed here: a library file that does not exist.
        guard case .failure(let missing) = PNG.load(file: "libpng16-foresight-missing.so.16") else { return XCTFail("a missing file loaded") }
        let refusal = PNG.missingLibraryError(missing)
        XCTAssertEqual(refusal.format, "PNG")
        XCTAssertEqual(refusal.description,
                       "PNG file unsupported at byte 0: PNG files need libpng's library libpng16-foresight-missing.so.16: "
                       + "apt install libpng16-16 (libpng16-16t64 on Debian 13)")
        // Without libpng itself: reading and writing throw that error, never crash.
        guard let absent = PNG.missingLibrary else { throw XCTSkip("libpng16.so.16 is installed: its absence is checked on a machine without it") }
        let directory = temporaryDirectory("nopng")
        defer { removeTree(directory) }
        let image = ByteImage(width: 2, height: 2, channels: 1, pixels: [0, 1, 2, 3])
        XCTAssertEqual(error { try image.write(path: directory + "/a.png") }, PNG.missingLibraryError(absent))
        XCTAssertEqual(error { _ = try PNG.decode(PNGTestFiles.validChunksBadZlib()) }, PNG.missingLibraryError(absent))
        XCTAssertTrue(absent.description.contains("apt install libpng16-16"), absent.description)
    }
}

/// Hand-built PNG files for the error paths that only libpng can see.
enum PNGTestFiles {
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let crc = PNG.crc32(body[...])
        return withUnsafeBytes(of: UInt32(data.count).bigEndian) { Array($0) } + body + withUnsafeBytes(of: crc.bigEndian) { Array($0) }
    }

    /// A 2x2 grey image whose IDAT holds bytes that are not a zlib stream.
    static func validChunksBadZlib() -> [UInt8] {
        let header: [UInt8] = [0, 0, 0, 2, 0, 0, 0, 2, 8, 0, 0, 0, 0]
        return PNG.signature + chunk("IHDR", header) + chunk("IDAT", [0x12, 0x34, 0x56, 0x78, 0x9A]) + chunk("IEND", [])
    }
}
