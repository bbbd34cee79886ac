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
        func error(_ bytes: [UInt8]) -> FileFormatError? {
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
}
