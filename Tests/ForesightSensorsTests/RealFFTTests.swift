// The real FFT against a direct DFT in double precision on random inputs, known signals
// (DC, a cosine and a sine on a bin, Nyquist), Parseval's identity, and no allocation per
// transform.

import CAllocationCounter
import ForesightCore
import ForesightSensors
import XCTest
@testable import ForesightIO

final class RealFFTTests: XCTestCase {
    static let sizes = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]

    /// Error bound of one bin for float32 input x of length n: 2 log2(n) eps ||x||_2. Each of
    /// the log2(n) stages rounds its values by about eps; over all bins those values have size
    /// sqrt(n) ||x||_2 (Parseval), about ||x||_2 per bin. Measured worst: 4.5 eps ||x||_2 at
    /// n = 1024, where the bound is 20.
    static func tolerance(_ x: [Float]) -> Double {
        let norm = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return 2 * Double(x.count.trailingZeroBitCount) * Double(Float.ulpOfOne) * max(norm, 1e-30)
    }

    /// X[k] = sum over t of x[t] exp(-2 pi i k t / n), k in 0...n/2, in double: O(n^2).
    static func directDFT(_ x: [Float]) -> (real: [Double], imaginary: [Double]) {
        let n = x.count
        let cosines = (0..<n).map { cos(2 * Double.pi * Double($0) / Double(n)) }
        let sines = (0..<n).map { sin(2 * Double.pi * Double($0) / Double(n)) }
        var real = [Double](repeating: 0, count: n / 2 + 1), imaginary = real
        for k in 0...(n / 2) {
            var sumR = 0.0, sumI = 0.0
            for t in 0..<n {
                let angle = (k * t) % n
                sumR += Double(x[t]) * cosines[angle]
                sumI -= Double(x[t]) * sines[angle]
            }
            real[k] = sumR
            imaginary[k] = sumI
        }
        return (real, imaginary)
    }

    static func transform(_ x: [Float]) -> (real: [Float], imaginary: [Float]) {
        let fft = RealFFT(size: x.count)
        var real = [Float](repeating: .nan, count: fft.bins), imaginary = real
        fft.transform(x, real: &real, imaginary: &imaginary)
        return (real, imaginary)
    }

    /// Largest |X[k] - reference[k]| over the bins.
    static func worstError(_ x: [Float]) -> Double {
        let (real, imaginary) = transform(x)
        let reference = directDFT(x)
        var worst = 0.0
        for k in 0..<real.count {
            let dR = Double(real[k]) - reference.real[k], dI = Double(imaginary[k]) - reference.imaginary[k]
            worst = max(worst, (dR * dR + dI * dI).squareRoot())
        }
        return worst
    }

    func testMatchesADirectDFTOnRandomInputs() {
        var rng = SeededRandom(seed: 17)
        for n in RealFFTTests.sizes {
            for trial in 0..<3 {
                // Uniform, then with a DC offset, then a wide dynamic range.
                let x: [Float] = (0..<n).map { _ in
                    let u = Float.random(in: -1...1, using: &rng)
                    return trial == 0 ? u : trial == 1 ? u + 3 : u * pow(10, Float.random(in: -3...3, using: &rng))
                }
                let worst = RealFFTTests.worstError(x), bound = RealFFTTests.tolerance(x)
                XCTAssertLessThanOrEqual(worst, bound, "n = \(n), trial \(trial): error \(worst) over the bound \(bound)")
            }
        }
    }

    func testKnownSignals() {
        for n in [8, 64, 512] {
            let half = Float(n / 2)
            // DC: X[0] = n.
            var x = [Float](repeating: 1, count: n)
            assertSpectrum(x, real: [0: Float(n)], imaginary: [:], "DC, n = \(n)")
            // Nyquist (-1)^t: X[n/2] = n.
            x = (0..<n).map { $0 % 2 == 0 ? 1 : -1 }
            assertSpectrum(x, real: [n / 2: Float(n)], imaginary: [:], "Nyquist, n = \(n)")
            for bin in Set([1, 3, n / 4, n / 2 - 1]) {
                // cos(2 pi k t / n): X[k] = n / 2; sin: X[k] = -i n / 2.
                x = (0..<n).map { Float(cos(2 * Double.pi * Double(bin * $0) / Double(n))) }
                assertSpectrum(x, real: [bin: half], imaginary: [:], "cosine at bin \(bin), n = \(n)")
                x = (0..<n).map { Float(sin(2 * Double.pi * Double(bin * $0) / Double(n))) }
                assertSpectrum(x, real: [:], imaginary: [bin: -half], "sine at bin \(bin), n = \(n)")
            }
        }
    }

    /// Every bin is 0 except those listed, within `tolerance(x)`.
    func assertSpectrum(_ x: [Float], real expectedReal: [Int: Float], imaginary expectedImaginary: [Int: Float],
                        _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let (real, imaginary) = RealFFTTests.transform(x)
        let bound = Float(RealFFTTests.tolerance(x))
        for k in 0..<real.count {
            XCTAssertEqual(real[k], expectedReal[k] ?? 0, accuracy: bound, "\(message): real part of bin \(k)", file: file, line: line)
            XCTAssertEqual(imaginary[k], expectedImaginary[k] ?? 0, accuracy: bound, "\(message): imaginary part of bin \(k)", file: file, line: line)
        }
    }

    /// sum x[t]^2 = (|X[0]|^2 + |X[n/2]|^2 + 2 sum over 0 < k < n/2 of |X[k]|^2) / n.
    func testParseval() {
        var rng = SeededRandom(seed: 5)
        for n in RealFFTTests.sizes {
            let x = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
            let (real, imaginary) = RealFFTTests.transform(x)
            let energy = x.reduce(0.0) { $0 + Double($1) * Double($1) }
            var spectral = 0.0
            for k in 0...(n / 2) {
                let power = Double(real[k]) * Double(real[k]) + Double(imaginary[k]) * Double(imaginary[k])
                spectral += (k == 0 || k == n / 2 ? 1 : 2) * power
            }
            spectral /= Double(n)
            // Bins off by a few log2(n) eps ||x|| (see tolerance) move the energy by far less than 1e-5 of it.
            XCTAssertEqual(spectral, energy, accuracy: 1e-5 * energy, "n = \(n)")
        }
    }

    func testTransformAllocatesNothing() {
        XCTAssertEqual(foresight_allocation_counter_active(), 1, "the allocation counter is not linked in")
        let fft = RealFFT(size: 512)
        let input = LogMelTests.referenceSignal(512)
        var real = [Float](repeating: 0, count: fft.bins), imaginary = real
        input.withUnsafeBufferPointer { samples in
            real.withUnsafeMutableBufferPointer { real in
                imaginary.withUnsafeMutableBufferPointer { imaginary in
                    fft.transform(samples.baseAddress!, real: real.baseAddress!, imaginary: imaginary.baseAddress!)  // warm up
                    // The counter is process-wide: take the quietest of three windows.
                    var fewest = UInt64.max
                    for _ in 0..<3 {
                        let before = foresight_allocation_count()
                        for _ in 0..<10 { fft.transform(samples.baseAddress!, real: real.baseAddress!, imaginary: imaginary.baseAddress!) }
                        fewest = min(fewest, foresight_allocation_count() - before)
                    }
                    XCTAssertEqual(fewest, 0)
                }
            }
        }
    }
}
