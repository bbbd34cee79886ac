// WAV decoding, encoding, streaming writes, mixing and resampling, and broken files.

@testable import ForesightSensors
import XCTest
@testable import ForesightIO

final class WAVTests: XCTestCase {
    func sine(_ frequency: Double, rate: Int, count: Int, amplitude: Double = 0.5) -> [Float] {
        (0..<count).map { Float(amplitude * sin(2 * Double.pi * frequency * Double($0) / Double(rate))) }
    }

    func testRoundTripsPCM16AndFloat32MonoAndStereo() throws {
        let stereo = AudioClip(sampleRate: 44_100, channels: 2, samples: (0..<200).map { Float($0 - 100) / 128 })
        let floatBack = try WAV.decode(WAV.encode(stereo, format: .float32))
        XCTAssertEqual(floatBack, stereo)
        let pcmBack = try WAV.decode(WAV.encode(stereo, format: .pcm16))
        XCTAssertEqual(pcmBack.channels, 2)
        XCTAssertEqual(pcmBack.sampleRate, 44_100)
        for (a, b) in zip(pcmBack.samples, stereo.samples) { XCTAssertEqual(a, b, accuracy: 1.0 / 32768) }
        // Clipping and rounding of 16-bit output.
        let loud = AudioClip(sampleRate: 8000, channels: 1, samples: [2, -2, 0.5])
        XCTAssertEqual(try WAV.decode(WAV.encode(loud)).samples, [Float(32767) / 32768, -1, 0.5])

        let directory = temporaryDirectory("wav")
        defer { removeTree(directory) }
        let writer = try WAVWriter(path: directory + "/s.wav", sampleRate: 16_000, channels: 1, format: .float32)
        try writer.append([0.25, -0.25])
        try writer.append([0.5])
        try writer.close()
        let streamed = try WAV.read(path: directory + "/s.wav")
        XCTAssertEqual(streamed, AudioClip(sampleRate: 16_000, channels: 1, samples: [0.25, -0.25, 0.5]))
    }

    func testExtensibleFormatAndSkippedChunks() throws {
        // A WAVE_FORMAT_EXTENSIBLE float file with a LIST chunk of odd size before the data.
        var bytes = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVE".utf8)
        func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian) { Array($0) } }
        func le16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian) { Array($0) } }
        bytes += Array("LIST".utf8) + le32(3) + [1, 2, 3, 0]
        bytes += Array("fmt ".utf8) + le32(40) + le16(0xFFFE) + le16(1) + le32(8000) + le32(32000) + le16(4) + le16(32)
        bytes += le16(22) + le16(32) + le32(4) + le16(3) + [0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]
        bytes += Array("data".utf8) + le32(8) + withUnsafeBytes(of: Float(0.75).bitPattern.littleEndian) { Array($0) }
            + withUnsafeBytes(of: Float(-1).bitPattern.littleEndian) { Array($0) }
        let clip = try WAV.decode(bytes)
        XCTAssertEqual(clip, AudioClip(sampleRate: 8000, channels: 1, samples: [0.75, -1]))
    }

    func testMixingToMonoAndResampling() {
        let stereo = AudioClip(sampleRate: 100, channels: 2, samples: [1, 0, 0.5, 0.5, -1, 1])
        XCTAssertEqual(stereo.mixedToMono().samples, [0.5, 0.5, 0])

        // 1 kHz at 44.1 kHz down to 16 kHz: the tone survives (away from the edges).
        let input = AudioClip(sampleRate: 44_100, channels: 1, samples: sine(1000, rate: 44_100, count: 44_100))
        let output = input.resampled(to: 16_000)
        XCTAssertEqual(output.frameCount, 16_000)
        let expected = sine(1000, rate: 16_000, count: 16_000)
        var worst: Float = 0
        for i in 200..<15_800 { worst = max(worst, abs(output.samples[i] - expected[i])) }
        XCTAssertLessThan(worst, 2e-3, "resampled 1 kHz tone differs by \(worst)")

        // 11 kHz at 48 kHz is above the 8 kHz Nyquist of 16 kHz: it must be filtered out.
        let high = AudioClip(sampleRate: 48_000, channels: 1, samples: sine(11_000, rate: 48_000, count: 48_000))
        let filtered = high.resampled(to: 16_000)
        var energy: Float = 0
        for i in 200..<15_800 { energy = max(energy, abs(filtered.samples[i])) }
        XCTAssertLessThan(energy, 0.01, "an 11 kHz tone leaked into 16 kHz audio with amplitude \(energy)")

        // Upsampling 8 kHz to 16 kHz keeps a 3 kHz tone.
        let up = AudioClip(sampleRate: 8000, channels: 1, samples: sine(3000, rate: 8000, count: 8000)).resampled(to: 16_000)
        let upExpected = sine(3000, rate: 16_000, count: 16_000)
        worst = 0
        for i in 400..<15_600 { worst = max(worst, abs(up.samples[i] - upExpected[i])) }
        XCTAssertLessThan(worst, 1e-2, "upsampled 3 kHz tone differs by \(worst)")
    }

    func testBrokenFilesNameTheOffset() {
        let good = WAV.encode(AudioClip(sampleRate: 16_000, channels: 1, samples: [0.1, 0.2, 0.3, 0.4]))
        func error(_ bytes: [UInt8]) -> IOError? {
            do { _ = try WAV.decode(bytes); return nil } catch { return error }
        }
        XCTAssertEqual(error(Array(good.prefix(10)))?.kind, .truncated)
        XCTAssertEqual(error(Array(good.prefix(10)))?.offset, 0)
        XCTAssertEqual(error(Array(good.prefix(30)))?.offset, 20)  // inside the fmt chunk
        let cut = error(Array(good.prefix(47)))
        XCTAssertEqual(cut?.kind, .truncated)
        XCTAssertEqual(cut?.offset, 47)
        var mp3 = good; mp3[20] = 0x55
        XCTAssertEqual(error(mp3)?.kind, .unsupported)
        XCTAssertEqual(error(mp3)?.offset, 20)
        var noChannels = good; noChannels[22] = 0
        XCTAssertEqual(error(noChannels)?.offset, 22)
        var zeroRate = good; zeroRate[24] = 0; zeroRate[25] = 0
        XCTAssertEqual(error(zeroRate)?.kind, .malformed)
        var huge = good; huge[40] = 0xFF; huge[41] = 0xFF; huge[42] = 0xFF; huge[43] = 0x7F
        XCTAssertEqual(error(huge)?.kind, .truncated)
        var notWave = good; notWave[8] = UInt8(ascii: "A")
        XCTAssertEqual(error(notWave)?.offset, 8)
        XCTAssertEqual(error(Array("OggS".utf8) + good.dropFirst(4))?.offset, 0)
    }

    // MARK: bounded reading (a header cannot ask for gigabytes; a long file read in part holds a part)

    /// A 44-byte PCM header with the given fields, followed by `dataBytes` zero bytes.
    func header(channels: Int = 1, rate: Int = 16_000, bits: Int = 16, tag: Int = 1, declaredData: Int, dataBytes: Int) -> [UInt8] {
        func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { Array($0) } }
        func le16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { Array($0) } }
        var bytes = Array("RIFF".utf8) + le32(36 + dataBytes) + Array("WAVE".utf8)
        bytes += Array("fmt ".utf8) + le32(16) + le16(tag) + le16(channels) + le32(rate) + le32(rate * channels * bits / 8)
            + le16(channels * bits / 8) + le16(bits)
        bytes += Array("data".utf8) + le32(declaredData) + [UInt8](repeating: 0, count: dataBytes)
        return bytes
    }

    /// The 38 KB file whose header says 1 sample per second (resampled to 16 kHz it became
    /// 2.4 GB), and every other absurd field, are refused with the field named, from memory and
    /// from a file, before any sample buffer is made.
    func testAbsurdHeaderFieldsAreRefusedNamingTheField() throws {
        let directory = temporaryDirectory("wav-absurd")
        defer { removeTree(directory) }
        let cases: [(bytes: [UInt8], field: String, offset: Int)] = [
            (header(rate: 1, declaredData: 38_000, dataBytes: 38_000), "sample rate 1 Hz is outside 1000 to 384000 Hz", 24),
            (header(rate: 999, declaredData: 100, dataBytes: 100), "sample rate 999 Hz", 24),
            (header(rate: 400_000, declaredData: 100, dataBytes: 100), "sample rate 400000 Hz", 24),
            (header(channels: 0, declaredData: 100, dataBytes: 100), "channel count 0 is outside 1 to 32", 22),
            (header(channels: 33, declaredData: 132, dataBytes: 132), "channel count 33", 22),
            (header(bits: 8, declaredData: 100, dataBytes: 100), "8 bits per sample", 20),
            (header(bits: 24, declaredData: 96, dataBytes: 96), "24 bits per sample", 20),
            (header(declaredData: 2_000_000_000, dataBytes: 100), "data size field: the data chunk at byte 36 announces 2000000000 bytes but the file has 100", 144),
        ]
        for (bytes, field, offset) in cases {
            XCTAssertThrowsError(try WAV.decode(bytes), field) { error in
                XCTAssertTrue("\(error)".contains(field), "\(error)")
                XCTAssertEqual((error as? IOError)?.offset, offset, "\(error)")
            }
            let path = directory + "/absurd.wav"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try WAVReader(path: path), field) { XCTAssertTrue("\($0)".contains(field), "\($0)") }
            XCTAssertThrowsError(try WAV.read(path: path), field) { XCTAssertTrue("\($0)".contains(field), "\($0)") }
            XCTAssertThrowsError(try WAVMonoReader(path: path, sampleRate: 16_000), field) { XCTAssertTrue("\($0)".contains(field), "\($0)") }
        }
        // The edges of the ranges are read.
        for (channels, rate) in [(1, 1000), (32, 384_000)] {
            let clip = try WAV.decode(header(channels: channels, rate: rate, declaredData: 4 * channels, dataBytes: 4 * channels))
            XCTAssertEqual(clip.frameCount, 2)
            XCTAssertEqual(clip.sampleRate, rate)
        }
    }

    /// Two seconds read from a minute of 44.1 kHz stereo (10 MiB of samples, 21 MiB decoded
    /// whole as floats) hold a piece of the file and the resampler's kernel, not the file;
    /// a read bounded in time returns (and reserves) only what was asked.
    func testALongFileReadForAShortDurationHoldsOnlyWhatIsUsed() throws {
        let directory = temporaryDirectory("wav-long")
        defer { removeTree(directory) }
        let path = directory + "/minute.wav"
        let writer = try WAVWriter(path: path, sampleRate: 44_100, channels: 2)
        let second = sine(440, rate: 44_100, count: 2 * 44_100, amplitude: 0.3)
        for _ in 0..<60 { try writer.append(second) }
        try writer.close()

        let sound = try WAVMonoReader(path: path, sampleRate: 16_000)
        XCTAssertEqual(sound.reader.frameCount, 60 * 44_100)
        var chunk = [Float](repeating: 0, count: 1_600)
        var delivered = 0, mostHeld = 0
        while delivered < 2 * 16_000 {
            let got = try chunk.withUnsafeMutableBufferPointer { try sound.read(into: $0) }
            XCTAssertEqual(got, chunk.count)
            delivered += got
            mostHeld = max(mostHeld, sound.heldSamples)
        }
        XCTAssertLessThan(mostHeld, 16_384, "the reader held \(mostHeld) samples")
        XCTAssertLessThanOrEqual(sound.reader.framesRead, 2 * 44_100 + 4_096 + 64, "only the frames used, and a piece ahead, are read")
        XCTAssertEqual(Double(chunk.map { abs($0) }.max()!), 0.3, accuracy: 0.02, "the tone survives mixing and resampling")

        let start = try WAV.read(path: path, maximumSeconds: 0.5)
        XCTAssertEqual(start.frameCount, 22_050)
        XCTAssertLessThanOrEqual(start.samples.capacity, 2 * 22_050 + 1_024, "a read bounded in time allocates for that time only")
        XCTAssertEqual(start.samples, Array(try WAV.read(path: path).samples.prefix(2 * 22_050)))
    }

    /// Resampling pushed in uneven pieces gives exactly the samples of resampling the whole.
    func testStreamingResamplingMatchesTheWhole() {
        var random = SystemRandomNumberGenerator()
        for (from, to) in [(44_100, 16_000), (8_000, 16_000), (48_000, 48_000), (22_050, 16_000)] {
            let input = (0..<9_000).map { _ in Float.random(in: -1...1, using: &random) }
            let whole = AudioClip(sampleRate: from, channels: 1, samples: input).resampled(to: to).samples
            var resampler = StreamingResampler(from: from, to: to)
            var streamed: [Float] = []
            var output = [Float](repeating: 0, count: 777)
            var position = 0
            while position < input.count {
                let piece = min(input.count - position, Int.random(in: 1...1_500, using: &random))
                input.withUnsafeBufferPointer { resampler.push(UnsafeBufferPointer(rebasing: $0[position..<(position + piece)])) }
                position += piece
                while case let got = output.withUnsafeMutableBufferPointer({ resampler.pull(into: $0) }), got > 0 { streamed += output[..<got] }
                XCTAssertLessThan(resampler.heldCount, 1_500 + 2_000, "\(from) -> \(to): the resampler keeps only its kernel's width")
            }
            resampler.finish()
            while case let got = output.withUnsafeMutableBufferPointer({ resampler.pull(into: $0) }), got > 0 { streamed += output[..<got] }
            XCTAssertEqual(streamed, whole, "\(from) -> \(to)")
        }
    }
}
