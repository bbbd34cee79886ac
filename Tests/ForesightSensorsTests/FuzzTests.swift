// Seeded fuzzing of the Y4M, WAV, PNM and PNG parsers: every truncation, random bit flips
// and absurd header values must give a result or a IOError, never a crash or a hang.

import ForesightCore
@testable import ForesightSensors
import XCTest
@testable import ForesightIO

final class FuzzTests: XCTestCase {
    func parseY4M(_ bytes: [UInt8]) throws {
        let reader = try Y4MReader(bytes: bytes)
        var frame = Y4MFrame()
        var frames = 0
        while try reader.readFrame(into: &frame) { frames += 1; XCTAssertLessThan(frames, 100) }
    }

    func y4mSample() -> [UInt8] {
        var bytes: [UInt8] = []
        for chroma in [Y4MChroma.c420jpeg, .c422, .mono] {
            let header = Y4MHeader(width: 6, height: 4, frameRate: (30, 1), chroma: chroma, extensions: ["A=B"])
            if bytes.isEmpty { bytes = Array(header.line.utf8) } else { continue }
            for index in 0..<3 { bytes += Array("FRAME\n".utf8) + randomBytes(header.frameBytes, seed: UInt64(index)) }
        }
        return bytes
    }

    func wavSample() -> [UInt8] {
        WAV.encode(AudioClip(sampleRate: 16_000, channels: 2, samples: (0..<32).map { Float($0) / 40 }), format: .float32)
    }

    func testEveryTruncationGivesATypedError() throws {
        let y4m = y4mSample(), wav = wavSample()
        // Without libpng, PNG files are only checked chunk by chunk (and then refused by name).
        let png = PNG.missingLibrary == nil ? try PNG.encode(ByteImage(width: 6, height: 5, channels: 1, pixels: randomBytes(30, seed: 2))) : []
        let pnm = PNM.encode(ByteImage(width: 6, height: 5, channels: 3, pixels: randomBytes(90, seed: 2)))
        for length in 0..<y4m.count { expectParsesOrFileError("y4m[..<\(length)]") { try parseY4M(Array(y4m.prefix(length))) } }
        for length in 0..<wav.count {
            let bytes = Array(wav.prefix(length))
            // Any cut before the data ends is an error (a cut inside data is caught by the size check).
            XCTAssertThrowsError(try WAV.decode(bytes), "wav[..<\(length)]") { XCTAssert($0 is IOError) }
        }
        for length in 0..<png.count {
            XCTAssertThrowsError(try PNG.decode(Array(png.prefix(length))), "png[..<\(length)]") { XCTAssert($0 is IOError) }
        }
        for length in 0..<pnm.count {
            XCTAssertThrowsError(try PNM.decode(Array(pnm.prefix(length))), "pnm[..<\(length)]") { XCTAssert($0 is IOError) }
        }
    }

    func testRandomBitFlipsNeverCrash() throws {
        var rng = SeededRandom(seed: 42)
        var samples: [(String, [UInt8], ([UInt8]) throws -> Void)] = [
            ("y4m", y4mSample(), { try self.parseY4M($0) }),
            ("wav", wavSample(), { _ = try WAV.decode($0) }),
            ("pnm", PNM.encode(ByteImage(width: 7, height: 3, channels: 1, pixels: randomBytes(21, seed: 5))), { _ = try PNM.decode($0) }),
        ]
        if PNG.missingLibrary == nil {
            samples.append(("png", try PNG.encode(ByteImage(width: 7, height: 3, channels: 3, pixels: randomBytes(63, seed: 5))), { _ = try PNG.decode($0) }))
        }
        for (name, original, parse) in samples {
            for trial in 0..<1500 {
                var bytes = original
                for _ in 0...rng.nextInt(below: 4) {
                    let position = rng.nextInt(below: min(bytes.count, trial % 3 == 0 ? 64 : bytes.count))
                    bytes[position] ^= UInt8(1) << UInt8(rng.nextInt(below: 8))
                }
                expectParsesOrFileError("\(name) trial \(trial)") { try parse(bytes) }
            }
        }
    }

    func testAbsurdHeaders() {
        let y4mHeaders = [
            "YUV4MPEG2 W16384 H16384 F1:1 C444\nFRAME\n", "YUV4MPEG2 W-5 H4 F1:1\n", "YUV4MPEG2 W4 H4 F1:0\n",
            "YUV4MPEG2 W4 H4 F:\n", "YUV4MPEG2 W4 H4 F1:1 A:\n", "YUV4MPEG2 W4 H4 F1:1 C\n", "YUV4MPEG2 W H F\n",
            "YUV4MPEG2 W4 H4 F1:1\nFRAME" + String(repeating: " ", count: 10_000), "YUV4MPEG2\n", "YUV4MPEG2 W4 H4 F1:1\n\n",
        ]
        for text in y4mHeaders {
            XCTAssertThrowsError(try parseY4M(Array(text.utf8)), text.prefix(40).description) { XCTAssert($0 is IOError) }
        }
        let wav = wavSample()
        func patched(_ offset: Int, _ value: UInt32) -> [UInt8] {
            var bytes = wav
            withUnsafeBytes(of: value.littleEndian) { for i in 0..<4 { bytes[offset + i] = $0[i] } }
            return bytes
        }
        for (offset, value) in [(16, 0xFFFF_FFF0), (16, 2), (24, 0), (24, 0xFFFF_FFFF), (22, 0x3E80_0100), (40, 0x7FFF_FFFF)] {
            XCTAssertThrowsError(try WAV.decode(patched(offset, UInt32(value))), "wav field \(offset) = \(value)") { XCTAssert($0 is IOError) }
        }
        XCTAssertThrowsError(try PNM.decode(Array("P6\n9999999 1\n255\n".utf8))) { XCTAssert($0 is IOError) }
        XCTAssertThrowsError(try PNM.decode(Array("P6\n20000 20000\n255\n".utf8))) { XCTAssert($0 is IOError) }
    }
}
