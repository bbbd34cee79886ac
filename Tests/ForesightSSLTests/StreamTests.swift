// The streaming loaders on small files the tests write themselves: Y4M clips, WAV windows,
// text windows and image folders deliver the right values and start again at the end; broken
// and truncated files are clear errors; buffers stay at their size whatever the file length;
// the shuffle reservoir never holds more than its capacity.

import CAllocationCounter
import Foundation
import XCTest
import ForesightCore
import ForesightSensors
@testable import ForesightSSL
@testable import ForesightIO

final class StreamTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "foresight-streams-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// A 16x12 4:2:0 Y4M file whose frame i has luma (10 * i + 3) mod 250 everywhere.
    private func writeY4M(_ name: String, frames: Int) throws -> String {
        let path = folder + name
        let writer = try Y4MWriter(path: path, header: Y4MHeader(width: 16, height: 12))
        for i in 0..<frames {
            var planes = [UInt8](repeating: 128, count: writer.header.frameBytes)
            for p in 0..<16 * 12 { planes[p] = UInt8((10 * i + 3) % 250) }
            try writer.writeFrame(planes: planes)
        }
        writer.close()
        return path
    }

    private func truncate(_ path: String, by bytes: Int) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - bytes).write(to: URL(fileURLWithPath: path))
    }

    private func draw<S: SampleStream>(_ stream: S) throws -> [S.Element] where S.Element: Numeric {
        var sample = [S.Element](repeating: 0, count: stream.sampleCount)
        try sample.withUnsafeMutableBufferPointer { try stream.next(into: $0.baseAddress!) }
        return sample
    }

    // MARK: video

    func testY4MClipsAreConsecutiveResizedFramesAndWrapAround() throws {
        let path = try writeY4M("walk.y4m", frames: 7)
        let clips = try Y4MClipStream(path: path, frames: 3, height: 6, width: 8)
        XCTAssertEqual(clips.sampleCount, 3 * 6 * 8)
        // 7 frames: clips 0-2, 3-5, then frame 6 and (restarting) 0, 1.
        let expected: [[Int]] = [[0, 1, 2], [3, 4, 5], [6, 0, 1], [2, 3, 4]]
        for frames in expected {
            let clip = try draw(clips)
            for (t, frame) in frames.enumerated() {
                let plane = clip[(t * 48)..<((t + 1) * 48)]
                XCTAssertEqual(plane.min()!, Float(10 * frame + 3) / 255, accuracy: 1e-5)
                XCTAssertEqual(plane.max()!, Float(10 * frame + 3) / 255, accuracy: 1e-5)
            }
        }
        XCTAssertEqual(clips.clipsRead, 4)
    }

    func testTruncatedY4MIsAClearError() throws {
        let path = try writeY4M("cut.y4m", frames: 4)
        try truncate(path, by: 50)
        let clips = try Y4MClipStream(path: path, frames: 2, height: 8, width: 8)
        _ = try draw(clips)   // frames 0 and 1 are whole
        XCTAssertThrowsError(try draw(clips)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("truncated") && message.contains("cut.y4m"), message)
        }
    }

    func testShortOrForeignY4MFilesAreClearErrors() throws {
        let short = try writeY4M("short.y4m", frames: 2)
        let clips = try Y4MClipStream(path: short, frames: 3, height: 8, width: 8)
        XCTAssertThrowsError(try draw(clips)) { XCTAssertTrue("\($0)".contains("holds 2 frame(s) but a clip needs 3"), "\($0)") }
        let foreign = folder + "notes.y4m"
        try Data("hello, not a video\n".utf8).write(to: URL(fileURLWithPath: foreign))
        XCTAssertThrowsError(try Y4MClipStream(path: foreign, frames: 1, height: 8, width: 8)) {
            XCTAssertTrue("\($0)".contains("YUV4MPEG2"), "\($0)")
        }
        XCTAssertThrowsError(try Y4MClipStream(path: folder + "missing.y4m", frames: 1, height: 8, width: 8)) {
            XCTAssertTrue("\($0)".contains("cannot open"), "\($0)")
        }
    }

    func testClipStreamMemoryDoesNotGrowWithTheFile() throws {
        let short = try Y4MClipStream(path: try writeY4M("a.y4m", frames: 3), frames: 3, height: 8, width: 8)
        let long = try Y4MClipStream(path: try writeY4M("b.y4m", frames: 60), frames: 3, height: 8, width: 8)
        let before = long.bufferBytes
        for _ in 0..<30 { _ = try draw(long) }
        XCTAssertEqual(long.bufferBytes, before)
        XCTAssertEqual(long.bufferBytes, short.bufferBytes, "a 60-frame file must not need more buffer than a 3-frame one")
        XCTAssertLessThan(long.bufferBytes, 16 * 12 * 8)
    }

    /// Within a pass over the file, reading audio and text windows allocates nothing. (Y4M
    /// clips do allocate: ForesightSensors' Y4MReader builds each FRAME line as an array.)
    func testReadingWindowsDoesNotAllocate() throws {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let wavPath = folder + "long.wav", textPath = folder + "long.txt"
        try WAV.write(AudioClip(sampleRate: 16_000, channels: 2, samples: [Float](repeating: 0.25, count: 40_000)), to: wavPath)
        try Data([UInt8](repeating: 65, count: 5_000)).write(to: URL(fileURLWithPath: textPath))
        let windows = try WAVWindowStream(path: wavPath, windowSamples: 500), text = try TextWindowStream(path: textPath, windowBytes: 100)
        var window = [Float](repeating: 0, count: 500), tokens = [Int32](repeating: 0, count: 100)
        try window.withUnsafeMutableBufferPointer { window in
            try tokens.withUnsafeMutableBufferPointer { tokens in
                try windows.next(into: window.baseAddress!)
                try text.next(into: tokens.baseAddress!)
                let before = foresight_allocation_count()
                for _ in 0..<10 {
                    try windows.next(into: window.baseAddress!)
                    try text.next(into: tokens.baseAddress!)
                }
                let allocations = foresight_allocation_count() - before
                XCTAssertEqual(allocations, 0, "\(allocations) heap allocations for 10 audio and 10 text windows")
            }
        }
        XCTAssertEqual(window[0], 0.25, accuracy: 1e-4)
        XCTAssertEqual(tokens[99], 65)
    }

    func testSyntheticClipsMoveAndDifferBetweenLanes() throws {
        let clips = SyntheticClipStream(frames: 2, size: 16, lanes: 2, seed: 4)
        let first = try draw(clips), second = try draw(clips)
        XCTAssertNotEqual(Array(first[0..<256]), Array(first[256..<512]), "consecutive frames of a clip should differ")
        XCTAssertNotEqual(first, second, "two lanes should show different scenes")
        let digits = try draw(SyntheticClipStream(scene: .digits, frames: 2, size: 32, lanes: 1, seed: 4))
        XCTAssertNotEqual(Array(digits[0..<1024]), Array(digits[1024..<2048]), "moving digits should move")
        XCTAssertTrue(digits.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    // MARK: audio

    func testWAVWindowsAreMonoAndWrapAround() throws {
        let path = folder + "ramp.wav"
        // Stereo: left i / 1000, right -i / 1000 + 0.5; the mono mix is 0.25 everywhere... plus a ramp on the left.
        var samples: [Float] = []
        for i in 0..<1_000 { samples += [Float(i) / 1_000, 0.5] }
        try WAV.write(AudioClip(sampleRate: 8_000, channels: 2, samples: samples), to: path, format: .float32)
        let windows = try WAVWindowStream(path: path, windowSamples: 300, hop: 400)
        XCTAssertEqual(windows.sampleRate, 8_000)
        XCTAssertEqual(windows.frameCount, 1_000)
        for start in [0, 400, 0, 400] {   // 800 + 300 > 1000: the third window starts again at 0
            let window = try draw(windows)
            for i in [0, 150, 299] { XCTAssertEqual(window[i], (Float(start + i) / 1_000 + 0.5) / 2, accuracy: 1e-6) }
        }
        let pcm = folder + "pcm.wav"
        try WAV.write(AudioClip(sampleRate: 16_000, channels: 1, samples: (0..<500).map { Float($0 % 7) / 10 }), to: pcm)
        let pcmWindow = try draw(try WAVWindowStream(path: pcm, windowSamples: 10))
        for i in 0..<10 { XCTAssertEqual(pcmWindow[i], Float(i % 7) / 10, accuracy: 1e-4) }
    }

    func testTruncatedWAVIsAClearError() throws {
        let path = folder + "cut.wav"
        try WAV.write(AudioClip(sampleRate: 16_000, channels: 1, samples: [Float](repeating: 0.1, count: 4_000)), to: path)
        try truncate(path, by: 1_000)
        XCTAssertThrowsError(try WAVWindowStream(path: path, windowSamples: 100)) { error in
            let message = "\(error)"
            XCTAssertEqual((error as? IOError)?.kind, .truncated, message)
            XCTAssertTrue(message.contains("announces 8000 bytes") && message.contains("cut.wav"), message)
        }
        let header = folder + "header.wav"
        try Data(WAV.encode(AudioClip(sampleRate: 16_000, channels: 1, samples: [0, 0])).prefix(30)).write(to: URL(fileURLWithPath: header))
        XCTAssertThrowsError(try WAVWindowStream(path: header, windowSamples: 1)) { error in
            XCTAssertEqual((error as? IOError)?.kind, .truncated, "\(error)")
        }
        let foreign = folder + "foreign.wav"
        try Data("RIFX....AVI LIST".utf8).write(to: URL(fileURLWithPath: foreign))
        XCTAssertThrowsError(try WAVWindowStream(path: foreign, windowSamples: 1)) { XCTAssertTrue("\($0)".contains("not a WAV file"), "\($0)") }
        let short = folder + "short.wav"
        try WAV.write(AudioClip(sampleRate: 16_000, channels: 1, samples: [Float](repeating: 0, count: 50)), to: short)
        XCTAssertThrowsError(try WAVWindowStream(path: short, windowSamples: 100)) { XCTAssertTrue("\($0)".contains("holds 50 samples"), "\($0)") }
    }

    // MARK: text and images

    func testTextWindowsAreBytesInOrder() throws {
        let path = folder + "notes.txt"
        try Data("the robot rolls on".utf8).write(to: URL(fileURLWithPath: path))
        let text = try TextWindowStream(path: path, windowBytes: 8, hop: 5)
        func string(_ window: [Int32]) -> String { String(decoding: window.map { UInt8($0) }, as: UTF8.self) }
        XCTAssertEqual(string(try draw(text)), "the robo")
        XCTAssertEqual(string(try draw(text)), "obot rol")
        XCTAssertEqual(string(try draw(text)), "rolls on")
        XCTAssertEqual(string(try draw(text)), "the robo", "15 + 8 > 18 bytes: back to the start")
        XCTAssertThrowsError(try TextWindowStream(path: path, windowBytes: 100)) { XCTAssertTrue("\($0)".contains("holds 18 bytes"), "\($0)") }
    }

    func testImageFolderReadsEachImageOncePerPassAndNamesBrokenFiles() throws {
        if let missing = PNG.missingLibrary { throw XCTSkip("\(missing)") }
        for value in [40, 120, 200] {
            try ByteImage(width: 6, height: 4, channels: 1, pixels: [UInt8](repeating: UInt8(value), count: 24)).write(path: folder + "image\(value).pgm")
        }
        try ByteImage(width: 3, height: 3, channels: 3, pixels: (0..<27).map { UInt8([10, 20, 30][$0 % 3]) }).write(path: folder + "colour.png")
        let grey = try ImageFolderStream(path: folder, channels: 1, height: 2, width: 3, seed: 2)
        var seen: [Float] = []
        for _ in 0..<4 {
            let image = try draw(grey)
            XCTAssertEqual(image.min()!, image.max()!, accuracy: 1e-5, "each test image is one flat value")
            seen.append((image[0] * 255).rounded())
        }
        XCTAssertEqual(seen.sorted(), [20, 40, 120, 200], "one pass visits every file once (the colour one averaged)")
        let colour = try ImageFolderStream(path: folder, channels: 3, height: 2, width: 2, seed: 2)
        var planes: [[Float]] = []
        for _ in 0..<4 { planes.append(try draw(colour)) }
        let rgb = try XCTUnwrap(planes.first { abs($0[0] - $0[4]) > 0.01 }, "the colour image keeps its channels")
        XCTAssertEqual(rgb[0] * 255, 10, accuracy: 0.01); XCTAssertEqual(rgb[4] * 255, 20, accuracy: 0.01); XCTAssertEqual(rgb[8] * 255, 30, accuracy: 0.01)
        try Data("P5\n6 4\n255\nxx".utf8).write(to: URL(fileURLWithPath: folder + "broken.pgm"))
        let withBroken = try ImageFolderStream(path: folder, height: 2, width: 2, seed: 3)
        XCTAssertThrowsError(try { for _ in 0..<5 { _ = try draw(withBroken) } }()) { XCTAssertTrue("\($0)".contains("broken.pgm"), "\($0)") }
        let empty = folder + "empty/"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolderStream(path: empty, height: 2, width: 2)) { XCTAssertTrue("\($0)".contains("no .png"), "\($0)") }
    }

    // MARK: shuffling

    func testShuffleReservoirStaysWithinItsCapacityAndShuffles() throws {
        let path = folder + "counting.txt"
        try Data((0..<200).map { UInt8($0) }).write(to: URL(fileURLWithPath: path))
        let windows = try TextWindowStream(path: path, windowBytes: 1)   // window i is byte i
        let reservoir = try ShuffleReservoir(windows, capacity: 16, seed: 9)
        XCTAssertEqual(reservoir.bufferElements, 16)
        var order: [Int32] = []
        for _ in 0..<150 {
            order.append(try draw(reservoir)[0])
            XCTAssertLessThanOrEqual(reservoir.buffered, reservoir.capacity)
            XCTAssertEqual(reservoir.bufferElements, 16)
        }
        XCTAssertEqual(Set(order).count, order.count, "a window is handed out once before the file starts again")
        XCTAssertNotEqual(order, order.sorted(), "the reservoir should shuffle")
        // Never further ahead of the file than its capacity: draw k has read at most k + 16 windows.
        for (k, value) in order.enumerated() { XCTAssertLessThan(Int(value), k + 17) }
        XCTAssertThrowsError(try ShuffleReservoir(windows, capacity: 0)) { XCTAssertTrue("\($0)".contains("capacity"), "\($0)") }
    }
}
