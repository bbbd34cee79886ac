// Log-mel spectrogram of mono audio: periodic Hann window, real FFT (RealFFT.swift), power
// spectrum, HTK-style triangular mel filter bank, natural log with a floor.
// Not a feature zoo: no MFCC/DCT, no pre-emphasis, no per-utterance normalisation.

import Glibc
import ForesightIO

/// Computes log-mel frames; buffers and FFT plan are made once, so `frame` allocates nothing.
/// One instance per thread (it owns scratch buffers).
///
/// ```swift
/// let logMel = LogMelSpectrogram()                     // 16 kHz, 25 ms window, 10 ms hop, 40 bands
/// var bands = [Float](repeating: 0, count: logMel.melBands)
/// logMel.frame(window400Samples, into: &bands)         // [melBands]
/// let (frames, values) = logMel.spectrogram(clip.samples)   // values: [frames, melBands]
/// ```
public final class LogMelSpectrogram {
    /// Samples per second of the input.
    public let sampleRate: Int
    /// FFT length (a power of two); the window is zero-padded to it.
    public let fftSize: Int
    /// Samples in one analysis window.
    public let windowLength: Int
    /// Samples between the starts of consecutive windows.
    public let hopLength: Int
    /// Number of mel bands.
    public let melBands: Int
    /// Lowest and highest filter edge in Hz.
    public let lowFrequency: Float, highFrequency: Float
    /// Smallest band energy before the log (log(floor) is the output for silence).
    public let floor: Float

    /// Bins of the one-sided spectrum, fftSize / 2 + 1.
    public var bins: Int { fftSize / 2 + 1 }

    let window: [Float]
    /// For band m: first FFT bin, and weights for bins first..<first + count.
    let filterFirst: [Int], filterWeights: [[Float]]
    private let fft: RealFFT
    private var padded: [Float]
    private var spectrumReal: [Float], spectrumImaginary: [Float]
    private var power: [Float]

    /// A spectrogram with the given framing; defaults are the common speech settings.
    public init(sampleRate: Int = 16_000, fftSize: Int = 512, windowLength: Int = 400, hopLength: Int = 160,
                melBands: Int = 40, lowFrequency: Float = 20, highFrequency: Float? = nil, floor: Float = 1e-6) {
        let high = highFrequency ?? Float(sampleRate) / 2
        precondition(fftSize >= 2 && fftSize & (fftSize - 1) == 0, "FFT size must be a power of two (at least 2), got \(fftSize)")
        precondition(windowLength >= 1 && windowLength <= fftSize, "window \(windowLength) must be in 1...\(fftSize)")
        precondition(hopLength >= 1 && melBands >= 1 && floor > 0, "hop, bands and floor must be positive")
        precondition(lowFrequency >= 0 && lowFrequency < high && high <= Float(sampleRate) / 2,
                     "mel range \(lowFrequency)..\(high) Hz must lie in 0..\(sampleRate / 2) Hz")
        self.sampleRate = sampleRate
        self.fftSize = fftSize
        self.windowLength = windowLength
        self.hopLength = hopLength
        self.melBands = melBands
        self.lowFrequency = lowFrequency
        self.highFrequency = high
        self.floor = floor
        // Periodic Hann: w[n] = 0.5 - 0.5 cos(2 pi n / N), as numpy/scipy's get_window("hann", N).
        window = (0..<windowLength).map { 0.5 - 0.5 * cos(2 * Float.pi * Float($0) / Float(windowLength)) }
        let (first, weights) = LogMelSpectrogram.melFilters(sampleRate: sampleRate, fftSize: fftSize, bands: melBands,
                                                            low: lowFrequency, high: high)
        filterFirst = first
        filterWeights = weights
        fft = RealFFT(size: fftSize)
        padded = [Float](repeating: 0, count: fftSize)
        spectrumReal = [Float](repeating: 0, count: fftSize / 2 + 1)
        spectrumImaginary = [Float](repeating: 0, count: fftSize / 2 + 1)
        power = [Float](repeating: 0, count: fftSize / 2 + 1)
    }

    /// HTK mel scale: 2595 log10(1 + f / 700).
    public static func mel(_ hertz: Float) -> Float { 2595 * log10(1 + hertz / 700) }
    /// Inverse of `mel`.
    public static func hertz(_ mel: Float) -> Float { 700 * (pow(10, mel / 2595) - 1) }

    /// Triangles on `bands + 2` points equally spaced in mel; weights at the FFT bin centres,
    /// peak 1 (no area normalisation).
    static func melFilters(sampleRate: Int, fftSize: Int, bands: Int, low: Float, high: Float) -> ([Int], [[Float]]) {
        let lowMel = mel(low), highMel = mel(high)
        let edges = (0..<bands + 2).map { hertz(lowMel + (highMel - lowMel) * Float($0) / Float(bands + 1)) }
        var firsts: [Int] = [], weights: [[Float]] = []
        for band in 0..<bands {
            let left = edges[band], center = edges[band + 1], right = edges[band + 2]
            var first = -1
            var row: [Float] = []
            for bin in 0...(fftSize / 2) {
                let frequency = Float(bin) * Float(sampleRate) / Float(fftSize)
                let weight = max(0, min((frequency - left) / (center - left), (right - frequency) / (right - center)))
                if weight > 0 {
                    if first < 0 { first = bin }
                    row += repeatElement(0, count: bin - first - row.count)  // (never: triangles are contiguous)
                    row.append(weight)
                }
            }
            firsts.append(max(first, 0))
            weights.append(row)
        }
        return (firsts, weights)
    }

    /// The power spectrum |FFT(window * samples)|^2 of `windowLength` samples ([bins]).
    public func powerSpectrum(_ samples: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        padded.withUnsafeMutableBufferPointer { padded in
            for i in 0..<windowLength { padded[i] = samples[i] * window[i] }
            spectrumReal.withUnsafeMutableBufferPointer { real in
                spectrumImaginary.withUnsafeMutableBufferPointer { imaginary in
                    fft.transform(padded.baseAddress!, real: real.baseAddress!, imaginary: imaginary.baseAddress!)
                    for bin in 0..<bins { output[bin] = real[bin] * real[bin] + imaginary[bin] * imaginary[bin] }
                }
            }
        }
    }

    /// Log-mel energies of `windowLength` samples into `bands` ([melBands]).
    public func frame(_ samples: UnsafePointer<Float>, into bands: UnsafeMutablePointer<Float>) {
        power.withUnsafeMutableBufferPointer { power in
            powerSpectrum(samples, into: power.baseAddress!)
            for band in 0..<melBands {
                let first = filterFirst[band]
                var energy: Float = 0
                filterWeights[band].withUnsafeBufferPointer { weights in
                    for k in 0..<weights.count { energy += weights[k] * power[first + k] }
                }
                bands[band] = log(max(energy, floor))
            }
        }
    }

    /// Log-mel energies of `windowLength` samples.
    public func frame(_ samples: [Float], into bands: inout [Float]) {
        precondition(samples.count >= windowLength && bands.count >= melBands, "frame needs \(windowLength) samples and \(melBands) outputs")
        samples.withUnsafeBufferPointer { input in bands.withUnsafeMutableBufferPointer { frame(input.baseAddress!, into: $0.baseAddress!) } }
    }

    /// Every full window of `samples` at the hop: returns the frame count and the values
    /// ([frames, melBands]).
    public func spectrogram(_ samples: [Float]) -> (frames: Int, values: [Float]) {
        let frames = samples.count < windowLength ? 0 : (samples.count - windowLength) / hopLength + 1
        var values = [Float](repeating: 0, count: frames * melBands)
        samples.withUnsafeBufferPointer { input in
            values.withUnsafeMutableBufferPointer { output in
                for index in 0..<frames { frame(input.baseAddress! + index * hopLength, into: output.baseAddress! + index * melBands) }
            }
        }
        return (frames, values)
    }
}
