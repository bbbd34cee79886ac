// Y4M reader and writer: round trips in every chroma layout, header parameters, and broken
// files that must give typed errors with byte offsets.

import ForesightCore
@testable import ForesightSensors
import XCTest
@testable import ForesightIO

final class Y4MTests: XCTestCase {
    /// A stream of `frames` frames whose bytes are seeded random.
    func makeStream(_ header: Y4MHeader, frames: Int, seed: UInt64 = 1) -> (bytes: [UInt8], frames: [[UInt8]]) {
        var bytes = Array(header.line.utf8)
        var planes: [[UInt8]] = []
        for index in 0..<frames {
            let frame = randomBytes(header.frameBytes, seed: seed + UInt64(index))
            bytes += Array("FRAME\n".utf8) + frame
            planes.append(frame)
        }
        return (bytes, planes)
    }

    func testEveryChromaRoundTripsThroughAFile() throws {
        let directory = temporaryDirectory("y4m")
        defer { removeTree(directory) }
        for chroma in Y4MChroma.allCases {
            // Odd sizes check the rounding up of subsampled chroma planes.
            let header = Y4MHeader(width: 17, height: 9, frameRate: (30000, 1001), chroma: chroma, extensions: ["COLORRANGE=FULL"])
            let path = directory + "/\(chroma.rawValue).y4m"
            let writer = try Y4MWriter(path: path, header: header)
            let planes = (0..<3).map { randomBytes(header.frameBytes, seed: UInt64($0)) }
            for frame in planes { try writer.writeFrame(planes: frame) }
            writer.close()

            let reader = try Y4MReader(path: path)
            XCTAssertEqual(reader.header, header, "\(chroma)")
            var frame = Y4MFrame()
            var read: [[UInt8]] = []
            while try reader.readFrame(into: &frame) { read.append(frame.planes) }
            XCTAssertEqual(read, planes, "\(chroma)")
        }
        XCTAssertEqual(Y4MChroma.c420paldv.frameBytes(width: 17, height: 9), 17 * 9 + 2 * 9 * 5)
        XCTAssertEqual(Y4MChroma.c422.frameBytes(width: 17, height: 9), 17 * 9 + 2 * 9 * 9)
        XCTAssertEqual(Y4MChroma.c444.frameBytes(width: 17, height: 9), 3 * 17 * 9)
        XCTAssertEqual(Y4MChroma.mono.frameBytes(width: 17, height: 9), 17 * 9)
    }

    func testHeaderDefaultsFrameParametersAndLargeFiles() throws {
        // No C tag means 420jpeg; frame parameters after FRAME are kept.
        let text = "YUV4MPEG2 W4 H2 F25:1 Ip A0:0\nFRAME Ixyz\n" + String(repeating: "a", count: 12)
        let reader = try Y4MReader(bytes: Array(text.utf8))
        XCTAssertEqual(reader.header.chroma, .c420jpeg)
        XCTAssertEqual(reader.header.frameRate.numerator, 25)
        var frame = Y4MFrame()
        XCTAssertTrue(try reader.readFrame(into: &frame))
        XCTAssertEqual(frame.parameters, "Ixyz")
        XCTAssertFalse(try reader.readFrame(into: &frame))

        // A file bigger than the stream's 64 KiB buffer, read in large pieces.
        let header = Y4MHeader(width: 320, height: 240, frameRate: (1, 1), chroma: .c444)
        let stream = makeStream(header, frames: 4)
        let directory = temporaryDirectory("y4m-large")
        defer { removeTree(directory) }
        let file = try OutputFile(directory + "/big.y4m", format: "Y4M")
        try file.write(stream.bytes)
        file.close()
        let fileReader = try Y4MReader(path: directory + "/big.y4m")
        for expected in stream.frames {
            XCTAssertTrue(try fileReader.readFrame(into: &frame))
            XCTAssertEqual(frame.planes, expected)
        }
        XCTAssertFalse(try fileReader.readFrame(into: &frame))
    }

    func testBrokenFilesNameTheOffset() throws {
        func error(_ text: String) -> IOError? {
            do {
                let reader = try Y4MReader(bytes: Array(text.utf8))
                var frame = Y4MFrame()
                while try reader.readFrame(into: &frame) {}
                return nil
            } catch { return error }
        }
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1 Cmono\nFRAME\nabc")?.kind, .truncated)
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1 Cmono\nFRAME\nabc")?.offset, 37)  // where the file ends
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1 Cmono\nFRAMX\nabcdefgh")?.offset, 28)
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1 Cmono\nFRAMX\nabcdefgh")?.kind, .malformed)
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1 C420p10\n")?.kind, .unsupported)
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1 C420p10\n")?.offset, 22)
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1 It\n")?.kind, .unsupported)
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:0\n")?.offset, 16)
        XCTAssertEqual(error("YUV4MPEG2 W999999999 H999999999 F25:1\n")?.kind, .malformed)
        XCTAssertEqual(error("YUV4MPEG2 W99999999999 H2 F25:1\n")?.offset, 10)
        XCTAssertEqual(error("YUV4MPEG2 W0 H2 F25:1\n")?.kind, .malformed)
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1")?.kind, .truncated)
        XCTAssertEqual(error("RIFF")?.kind, .truncated)
        XCTAssertEqual(error("GIF89a W4\n")?.kind, .malformed)
        XCTAssertEqual(error("YUV4MPEG2 W4 H2 F25:1 Q7\n")?.offset, 22)
        XCTAssertEqual(error("YUV4MPEG2 " + String(repeating: "X", count: 5000))?.kind, .malformed)
        // An absurd but legal size with no data fails on the size check, before allocating.
        XCTAssertEqual(error("YUV4MPEG2 W16384 H16384 F1:1 C444\nFRAME\n")?.kind, .truncated)
        XCTAssertNil(error("YUV4MPEG2 W4 H2 F25:1 Cmono\n"))  // no frames is a valid, empty stream
    }

    func testWriterWritesGreyFramesWithNeutralChroma() throws {
        let directory = temporaryDirectory("y4m-grey")
        defer { removeTree(directory) }
        let header = Y4MHeader(width: 4, height: 4, chroma: .c420mpeg2)
        let writer = try Y4MWriter(path: directory + "/g.y4m", header: header)
        let luma = [UInt8](0..<16)
        try luma.withUnsafeBytes { try writer.writeGray(luma: $0) }
        writer.close()
        let reader = try Y4MReader(path: directory + "/g.y4m")
        var frame = Y4MFrame()
        XCTAssertTrue(try reader.readFrame(into: &frame))
        XCTAssertEqual(Array(frame.planes[0..<16]), luma)
        XCTAssertEqual(Array(frame.planes[16...]), [UInt8](repeating: 128, count: 8))
    }
}
