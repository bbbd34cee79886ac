// Grey frames from ROS 2 bags written by an independent writer (Tests/Peers/write_bag.py): each
// encoding gives the grey values its pattern implies (mono16 in both byte orders, JPEG within a
// stated error of its source), zstd and lz4 bags give the frames of the uncompressed bag, bad
// JPEGs are one-line errors, topics are chosen or refused with the bag's image topics named,
// and replay follows the bag's log times.

import Foundation
import ForesightTestSupport
import XCTest
@testable import ForesightIO
@testable import ForesightSensors

final class MCAPFrameTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder("mcap-frames")
    }

    override func tearDown() {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    private func bag(_ name: String, _ options: [String]) throws -> String {
        let path = folder.appendingPathComponent(name).path
        guard try PeerBag.write(path, options) else {
            throw XCTSkip("the peer bag writer needs its Python packages: \(PeerBag.pipCommand)")
        }
        return path
    }

    /// The writer's `index` pattern: the byte at (x, y) of frame t.
    private func value(_ x: Int, _ y: Int, _ t: Int) -> Float { Float((7 * x + 13 * y + 29 * t) % 256) }

    /// The grey value the writer's `index` pattern implies for `encoding` at (x, y) of frame t.
    private func expectedGray(_ encoding: String, _ x: Int, _ y: Int, _ t: Int) -> Float {
        let v = value(x, y, t)
        switch encoding {
        case "rgb8", "bgr8":
            // (R, G, B) = (v, v + 85, v + 170) mod 256 whatever the byte order: BT.601 luma.
            let green = Float((Int(v) + 85) % 256), blue = Float((Int(v) + 170) % 256)
            return (0.299 * v + 0.587 * green + 0.114 * blue) / 255
        default:
            return v / 255  // mono8, and the luma bytes of YUYV and UYVY
        }
    }

    func testEveryEncodingGivesTheGreyValuesOfItsPattern() throws {
        let (width, height, frames) = (16, 12, 3)
        for encoding in ["mono8", "rgb8", "bgr8", "yuyv", "uyvy"] {
            let path = try bag("\(encoding).mcap", ["--encoding", encoding, "--frames", "\(frames)", "--width", "\(width)", "--height", "\(height)", "--padding", "5"])
            let reader = try BagFrames(path: path, topic: "/camera/image_raw", width: width, height: height)
            XCTAssertEqual(reader.framesPerSecond, 30, accuracy: 0.01)
            XCTAssertEqual(reader.messageCount, frames)
            var frame = [Float](repeating: -1, count: width * height)
            for t in 0..<frames {
                let time = try frame.withUnsafeMutableBufferPointer { buffer throws(IOError) in try reader.next(into: buffer.baseAddress!) }
                XCTAssertEqual(time, UInt64(1_000_000_000 + t * 1_000_000_000 / 30), encoding)
                var worst: Float = 0
                for y in 0..<height {
                    for x in 0..<width { worst = max(worst, abs(frame[y * width + x] - expectedGray(encoding, x, y, t))) }
                }
                XCTAssertLessThan(worst, 1e-5, "\(encoding) frame \(t)")
            }
            let end = try frame.withUnsafeMutableBufferPointer { buffer throws(IOError) in try reader.next(into: buffer.baseAddress!) }
            XCTAssertNil(end, "\(encoding): three frames, then the end")
        }
    }

    func testFramesAreAreaResized() throws {
        let path = try bag("resize.mcap", ["--encoding", "mono8", "--frames", "1", "--width", "16", "--height", "12"])
        let reader = try BagFrames(path: path, topic: "/camera/image_raw", width: 8, height: 6)
        var frame = [Float](repeating: 0, count: 48)
        _ = try frame.withUnsafeMutableBufferPointer { buffer throws(IOError) in try reader.next(into: buffer.baseAddress!) }
        // Each output pixel is the mean of a 2 x 2 block (no wrap-around within the pattern's range here).
        for (x, y) in [(0, 0), (3, 2), (7, 5)] {
            let block = [value(2 * x, 2 * y, 0), value(2 * x + 1, 2 * y, 0), value(2 * x, 2 * y + 1, 0), value(2 * x + 1, 2 * y + 1, 0)]
            guard block.max()! - block.min()! < 128 else { continue }
            XCTAssertEqual(frame[y * 8 + x], block.reduce(0, +) / 4 / 255, accuracy: 1e-5, "(\(x), \(y))")
        }
    }

    func testTopicsAreChosenOrRefusedWithTheBagsImageTopics() throws {
        let path = try bag("topics.mcap", ["--frames", "2"])
        XCTAssertThrowsError(try BagFrames(path: path, topic: "/nope", width: 8, height: 8)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("has no topic /nope"), text)
            XCTAssertTrue(text.contains("/camera/image_raw (sensor_msgs/msg/Image)") && text.contains("/camera/depth"), text)
        }
        XCTAssertThrowsError(try BagFrames(path: path, topic: nil, width: 8, height: 8)) { error in
            XCTAssertTrue("\(error)".contains("choose one with --topic"), "\(error)")
        }
        let single = try bag("single.mcap", ["--frames", "2", "--other-topic", ""])
        XCTAssertEqual(try BagFrames(path: single, topic: nil, width: 8, height: 8).topic, "/camera/image_raw")
    }

    /// Every frame of `path` at the bag's own size (no resizing), in order.
    private func frames(_ path: String, width: Int, height: Int) throws -> [[Float]] {
        let reader = try BagFrames(path: path, topic: "/camera/image_raw", width: width, height: height)
        var found: [[Float]] = []
        var frame = [Float](repeating: -1, count: width * height)
        while try frame.withUnsafeMutableBufferPointer({ (buffer) throws(IOError) -> UInt64? in try reader.next(into: buffer.baseAddress!) }) != nil {
            found.append(frame)
        }
        return found
    }

    /// The writer's `moving` pattern: the byte at (x, y) of frame t.
    private func moving(_ x: Int, _ y: Int, _ t: Int) -> Float {
        (128 + 100 * sin(2 * Float.pi * Float(x - t) / 16) * cos(2 * Float.pi * Float(y) / 24)).rounded()
    }

    func testCompressedBagsGiveTheFramesOfTheUncompressedBag() throws {
        let options = ["--encoding", "yuyv", "--frames", "5", "--width", "24", "--height", "16", "--chunk-size", "1500"]
        let plain = try frames(bag("none.mcap", options), width: 24, height: 16)
        XCTAssertEqual(plain.count, 5)
        for compression in ["zstd", "lz4"] {
            if let missing = MCAPCompression.missingLibrary(compression) { throw XCTSkip("\(missing)") }
            XCTAssertEqual(try frames(bag("\(compression).mcap", options + ["--compression", compression]), width: 24, height: 16), plain, compression)
        }
    }

    func testMono16IsScaledInItsByteOrder() throws {
        for order in [[], ["--big-endian"]] {
            let path = try bag("mono16\(order.count).mcap", ["--encoding", "mono16", "--frames", "2", "--width", "16", "--height", "12", "--padding", "3"] + order)
            for (t, frame) in try frames(path, width: 16, height: 12).enumerated() {
                for y in 0..<12 {
                    for x in 0..<16 {
                        // The writer's 16-bit value: 256 v + (255 - v), scaled by 1/65535.
                        let v = value(x, y, t)
                        XCTAssertEqual(frame[y * 16 + x], (256 * v + 255 - v) / 65535, accuracy: 1e-6, "\(order) frame \(t) at \(x), \(y)")
                    }
                }
            }
        }
    }

    func testJPEGFramesDecodeCloseToTheirSource() throws {
        if let missing = JPEGDecoder.missingLibrary { throw XCTSkip("\(missing)") }
        let (width, height) = (64, 48)
        // Quality 95 over a smooth texture: the round trip through Pillow's encoder and
        // libturbojpeg's decoder must leave each grey level within 3/255 of the source and
        // 0.75/255 on average (measured: 2/255 and 0.41 to 0.47/255).
        for (name, options) in [("grey", ["--compression", "zstd"]), ("colour", ["--jpeg-colour", "--compression", "lz4"])] {
            let path = try bag("jpeg-\(name).mcap", ["--encoding", "jpeg", "--pattern", "moving", "--frames", "3",
                                                    "--width", "\(width)", "--height", "\(height)"] + options)
            let decoded = try frames(path, width: width, height: height)
            XCTAssertEqual(decoded.count, 3, name)
            for (t, frame) in decoded.enumerated() {
                var worst: Float = 0, total: Float = 0
                for y in 0..<height {
                    for x in 0..<width {
                        let v = moving(x, y, t)
                        // Colour: (R, G, B) = (v, 255 - v, 128), whose BT.601 luma the JPEG stores as Y.
                        let expected = name == "grey" ? v / 255 : (0.299 * v + 0.587 * (255 - v) + 0.114 * 128) / 255
                        let error = abs(frame[y * width + x] - expected)
                        worst = max(worst, error)
                        total += error
                    }
                }
                XCTAssertLessThanOrEqual(worst, 3 / 255, "\(name) frame \(t): largest error")
                XCTAssertLessThanOrEqual(total / Float(width * height), 0.75 / 255, "\(name) frame \(t): mean error")
            }
        }
    }

    func testBadJPEGsAndOtherFormatsAreClearErrors() throws {
        if let missing = JPEGDecoder.missingLibrary { throw XCTSkip("\(missing)") }
        let cases: [([String], IOError.FileProblem, [String])] = [
            (["--jpeg-damage", "truncated"], .malformed, ["JPEG image does not decode (libturbojpeg: ", "64x48"]),
            (["--jpeg-damage", "garbage"], .malformed, ["the JPEG image's header does not decode (libturbojpeg: "]),
            (["--format", "webp"], .unsupported, ["CompressedImage format \"webp\" on /camera/image_raw", "from JPEG or PNG"]),
            (["--format", "png"], .malformed, ["not a PNG signature"]),
        ]
        for (options, kind, phrases) in cases {
            let path = try bag("bad.mcap", ["--encoding", "jpeg", "--frames", "2", "--width", "64", "--height", "48"] + options)
            XCTAssertThrowsError(try BagFrames(path: path, topic: "/camera/image_raw", width: 8, height: 8)) { error in
                let error = error as! IOError
                XCTAssertEqual(error.kind, kind, "\(options): \(error)")
                for phrase in phrases { XCTAssertTrue(error.description.contains(phrase), "\(options): \(error)") }
                XCTAssertFalse(error.description.contains("\n"), error.description)
            }
        }
    }

    func testPNGFramesAreTheirSourceExactly() throws {
        if let missing = PNG.missingLibrary { throw XCTSkip("\(missing)") }
        let (width, height) = (64, 48)
        // PNG is lossless: grey frames come back exactly, colour frames as their BT.601 luma.
        for (name, options) in [("grey", ["--compression", "zstd"]), ("colour", ["--jpeg-colour"])] {
            let path = try bag("png-\(name).mcap", ["--encoding", "png", "--pattern", "moving", "--frames", "3",
                                                   "--width", "\(width)", "--height", "\(height)"] + options)
            let decoded = try frames(path, width: width, height: height)
            XCTAssertEqual(decoded.count, 3, name)
            for (t, frame) in decoded.enumerated() {
                var worst: Float = 0
                for y in 0..<height {
                    for x in 0..<width {
                        let v = moving(x, y, t)
                        let expected = name == "grey" ? v / 255 : (0.299 * v + 0.587 * (255 - v) + 0.114 * 128) / 255
                        worst = max(worst, abs(frame[y * width + x] - expected))
                    }
                }
                XCTAssertLessThanOrEqual(worst, 1e-5, "\(name) frame \(t): largest error")
            }
        }
    }

    func testBadPNGsAreClearErrorsAtTheirPlaceInTheBag() throws {
        if let missing = PNG.missingLibrary { throw XCTSkip("\(missing)") }
        let cases: [([String], IOError.FileProblem, String)] = [
            (["--jpeg-damage", "truncated"], .truncated, "the PNG ends first"),
            (["--jpeg-damage", "garbage"], .malformed, "not a PNG signature"),
        ]
        for (options, kind, phrase) in cases {
            let path = try bag("bad-png.mcap", ["--encoding", "png", "--frames", "2", "--width", "64", "--height", "48"] + options)
            XCTAssertThrowsError(try BagFrames(path: path, topic: "/camera/image_raw", width: 8, height: 8)) { error in
                let error = error as! IOError
                XCTAssertEqual(error.format, "MCAP", "\(options): \(error)")
                XCTAssertEqual(error.kind, kind, "\(options): \(error)")
                XCTAssertTrue(error.description.contains(phrase), "\(options): \(error)")
                XCTAssertGreaterThan(error.offset ?? 0, 0, "the offset is the PNG's place in the bag: \(error)")
            }
        }
        // A PNG whose header asks for a huge image is refused before anything is allocated for it.
        var pixels: [UInt8] = []
        let header: [UInt8] = [0, 0, 0x40, 0, 0, 0, 0x40, 0, 8, 0, 0, 0, 0]  // 16384 x 16384
        let huge = PNG.signature + PNGTestFiles.chunk("IHDR", header) + PNGTestFiles.chunk("IEND", [])
        XCTAssertThrowsError(try PNG.decode(huge[...], into: &pixels, format: "MCAP", offset: 500)) { error in
            let error = error as! IOError
            XCTAssertEqual(error.kind, .unsupported)
            XCTAssertEqual(error.offset, 516)
            XCTAssertTrue(error.description.contains("16384x16384"), error.description)
        }
        XCTAssertTrue(pixels.isEmpty)
    }

    func testJPEGsDeclaringHugeImagesAreRefusedBeforeAllocation() throws {
        if let missing = JPEGDecoder.missingLibrary { throw XCTSkip("\(missing)") }
        let path = try bag("one.mcap", ["--encoding", "jpeg", "--frames", "1", "--width", "16", "--height", "16"])
        let reader = try MCAPReader(path: path)
        var jpeg: [UInt8] = []
        while let message = try reader.nextMessage() {
            guard message.channel.schemaName == ROS2CompressedImage.schemaName else { continue }
            let image = try ROS2CompressedImage(cdr: message.data, offset: message.offset)
            XCTAssertEqual(image.format, "jpeg")
            XCTAssertTrue(image.isJPEG)
            jpeg = Array(message.data[image.data])
        }
        let decoder = try JPEGDecoder()
        var gray: [UInt8] = []
        XCTAssertEqual(try decoder.decodeGray(jpeg[...], into: &gray).width, 16)
        // The baseline frame header (FF C0, length, precision, height, width) given other sides:
        // a few bytes that would ask for gigabytes.
        let frameHeader = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        for (width, height, phrase) in [(8192, 8192, "up to 16 Mpx"), (20000, 100, "sides from 1 to 16384")] {
            var huge = jpeg
            huge[frameHeader + 5] = UInt8(height >> 8); huge[frameHeader + 6] = UInt8(height & 0xFF)
            huge[frameHeader + 7] = UInt8(width >> 8); huge[frameHeader + 8] = UInt8(width & 0xFF)
            XCTAssertThrowsError(try decoder.decodeGray(huge[...], into: &gray, format: "MCAP", offset: 1234)) { error in
                let error = error as! IOError
                XCTAssertEqual(error.kind, .unsupported)
                XCTAssertEqual(error.offset, 1234)
                XCTAssertTrue(error.description.contains("JPEG image of \(width)x\(height) pixels") && error.description.contains(phrase), error.description)
            }
            XCTAssertEqual(gray.count, 16 * 16, "nothing allocated for \(width)x\(height)")
        }
    }

    func testUnknownEncodingsAreRefused() throws {
        let signed = try bag("16sc1.mcap", ["--raw-encoding", "16SC1", "--frames", "2"])
        XCTAssertThrowsError(try BagFrames(path: signed, topic: "/camera/image_raw", width: 8, height: 8)) { error in
            let error = error as! IOError
            XCTAssertEqual(error.kind, .unsupported)
            XCTAssertTrue(error.description.contains("image encoding \"16SC1\""), error.description)
            XCTAssertTrue(error.description.contains("mono8, mono16, rgb8, bgr8"), error.description)
        }
    }

    func testUnpacedReplayDeliversEveryFrameThenFinishes() throws {
        let path = try bag("replay.mcap", ["--frames", "12", "--width", "16", "--height", "12"])
        let producer = try PacedFrameProducer.bag(path: path, topic: "/camera/image_raw", size: 8, paced: false)
        XCTAssertTrue(producer.label.hasSuffix("/camera/image_raw"))
        producer.start()
        var taken = 0
        while let count = producer.ring.waitOldest(timeoutNanoseconds: 30_000_000_000, { pixels, _ in pixels.count }) {
            XCTAssertEqual(count, 64)
            taken += 1
        }
        producer.stop()
        XCTAssertEqual(taken, 12)
        XCTAssertTrue(producer.finished)
    }

    func testPacingFollowsTheLogTimesWithLongPausesShortened() {
        let timing = FrameTiming()
        timing.nanoseconds = 5_000_000_000
        _ = timing.due(after: 0, delivered: 0)
        timing.nanoseconds = 5_040_000_000
        XCTAssertEqual(timing.due(after: 1_000, delivered: 1), 1_000 + 40_000_000)
        timing.nanoseconds = 65_040_000_000  // a minute's pause in the recording
        XCTAssertEqual(timing.due(after: 2_000, delivered: 2), 2_000 + UInt64(FrameTiming.maximumGapSeconds * 1e9))
        timing.nanoseconds = 1_000  // the clock went back
        XCTAssertEqual(timing.due(after: 3_000, delivered: 3), 3_000)
    }
}
