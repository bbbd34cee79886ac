// The log-mel spectrogram against numpy/scipy reference frames (Fixtures/logmel_reference.py),
// the FFT against a direct DFT, and no allocation per frame.

import CAllocationCounter
import Foundation
import ForesightSensors
import XCTest
@testable import ForesightIO

final class LogMelTests: XCTestCase {
    /// Must match `signal` in Fixtures/logmel_reference.py.
    static func referenceSignal(_ count: Int, rate: Double = 16_000) -> [Float] {
        (0..<count).map { n in
            let t = Double(n) / rate
            var x = 0.5 * sin(2 * .pi * 440 * t) + 0.25 * sin(2 * .pi * 3000 * t + 0.3)
            x += 0.2 * sin(2 * .pi * (200 * t + 1500 * t * t))
            for k in 1..<32 { x += 0.01 * sin(2 * .pi * 250 * Double(k) * t + 0.1 * Double(k)) }
            return Float(x)
        }
    }

    func testMatchesTheNumpyReference() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/logmel_reference.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as! [String: Any]
        let expected = (json["frames"] as! [[Double]]).map { $0.map(Float.init) }
        let logMel = LogMelSpectrogram(sampleRate: 16_000, fftSize: 512, windowLength: 400, hopLength: 160, melBands: 40,
                                       lowFrequency: 20, highFrequency: 8000)
        let (frames, values) = logMel.spectrogram(LogMelTests.referenceSignal(1600))
        XCTAssertEqual(frames, expected.count)
        var worst: Float = 0
        for frame in 0..<frames {
            for band in 0..<40 { worst = max(worst, abs(values[frame * 40 + band] - expected[frame][band])) }
        }
        // float32 against float64: energies span 1e-4..1e4, so the log differs by ~1e-5.
        XCTAssertLessThan(worst, 1e-3, "log-mel differs from numpy by \(worst)")
    }

    func testPowerSpectrumMatchesADirectDFT() {
        let logMel = LogMelSpectrogram(fftSize: 64, windowLength: 64, melBands: 8)
        let input = LogMelTests.referenceSignal(64)
        var power = [Float](repeating: 0, count: logMel.bins)
        input.withUnsafeBufferPointer { logMel.powerSpectrum($0.baseAddress!, into: &power) }
        for k in 0..<logMel.bins {
            var real = 0.0, imaginary = 0.0
            for n in 0..<64 {
                let windowed = Double(input[n]) * (0.5 - 0.5 * cos(2 * .pi * Double(n) / 64))
                real += windowed * cos(2 * .pi * Double(k * n) / 64)
                imaginary -= windowed * sin(2 * .pi * Double(k * n) / 64)
            }
            let expected = real * real + imaginary * imaginary
            XCTAssertEqual(Double(power[k]), expected, accuracy: 1e-4 * max(1, expected), "bin \(k)")
        }
    }

    func testMelScaleAndFiltersAndSilence() {
        XCTAssertEqual(LogMelSpectrogram.mel(1000), 999.99, accuracy: 0.1)
        XCTAssertEqual(LogMelSpectrogram.hertz(LogMelSpectrogram.mel(3210)), 3210, accuracy: 0.05)
        let logMel = LogMelSpectrogram()
        var bands = [Float](repeating: 0, count: 40)
        logMel.frame([Float](repeating: 0, count: 400), into: &bands)
        XCTAssert(bands.allSatisfy { $0 == log(Float(1e-6)) })
        // A 1 kHz tone lights the band whose centre is nearest 1 kHz most.
        let tone = (0..<400).map { Float(sin(2 * Double.pi * 1000 * Double($0) / 16_000)) }
        logMel.frame(tone, into: &bands)
        let loudest = bands.indices.max { bands[$0] < bands[$1] }!
        let centres = (0..<42).map { LogMelSpectrogram.hertz(LogMelSpectrogram.mel(20) + (LogMelSpectrogram.mel(8000) - LogMelSpectrogram.mel(20)) * Float($0) / 41) }
        let nearest = (1...40).min { abs(centres[$0] - 1000) < abs(centres[$1] - 1000) }! - 1
        XCTAssertEqual(loudest, nearest)
    }

    func testFrameAllocatesNothing() {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let logMel = LogMelSpectrogram()
        let input = LogMelTests.referenceSignal(400)
        var bands = [Float](repeating: 0, count: 40)
        input.withUnsafeBufferPointer { samples in
            bands.withUnsafeMutableBufferPointer { output in
                logMel.frame(samples.baseAddress!, into: output.baseAddress!)  // warm up
                let before = foresight_allocation_count()
                for _ in 0..<10 { logMel.frame(samples.baseAddress!, into: output.baseAddress!) }
                XCTAssertEqual(foresight_allocation_count() - before, 0)
            }
        }
    }
}
