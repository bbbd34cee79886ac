// Forward FFT of real input of power-of-two length n: the one-sided spectrum (n/2 + 1 bins)
// from an m = n/2-point complex FFT of the samples packed as z[j] = x[2j] + i x[2j+1], then the
// split step that separates the even and odd halves. Not an FFT library: no inverse, no
// complex input, no other lengths, no scaling.
//
// The complex FFT is iterative decimation in time on separate real and imaginary arrays:
// the bit-reversal gather and the first two stages are one twiddle-free pass, then the
// stages left go two at a time (radix 4; one radix-2 stage first when their number is odd)
// in four-lane SIMD, which NEON and SSE both hold. Twiddles are stored per stage, so each
// pass reads them consecutively. Small n (2, 4) take a scalar path.

import Glibc
import ForesightIO

/// A real FFT plan for one length; tables and scratch are made once, so `transform` allocates
/// nothing. One instance per thread (it owns its scratch).
///
/// ```swift
/// let fft = RealFFT(size: 512)
/// var real = [Float](repeating: 0, count: fft.bins), imaginary = real
/// fft.transform(samples, real: &real, imaginary: &imaginary)   // samples: [512] -> [257], [257]
/// ```
public final class RealFFT {
    /// n: real samples in, a power of two (at least 2).
    public let size: Int
    /// Bins of the one-sided spectrum, n / 2 + 1.
    public var bins: Int { size / 2 + 1 }

    /// m = n / 2: points of the complex FFT.
    private let half: Int
    /// For j in 0..<m: where z[r]'s pair of samples starts, 2r, for r = j with its log2(m) bits
    /// reversed (the decimation-in-time input order). [m]
    private let gatherIndex: UnsafeMutablePointer<Int>
    /// Radix-2 twiddles, the stage of span s at offsets s..<2s: exp(-2 pi i k / 2s), k in 0..<s. [m] each
    private let stageReal: UnsafeMutablePointer<Float>, stageImaginary: UnsafeMutablePointer<Float>
    /// Split-step twiddles: exp(-2 pi i k / n), k in 0..<m. [m] each
    private let splitReal: UnsafeMutablePointer<Float>, splitImaginary: UnsafeMutablePointer<Float>
    /// Z, the complex FFT being computed in place. [m] each
    private let workReal: UnsafeMutablePointer<Float>, workImaginary: UnsafeMutablePointer<Float>
    /// The six float tables above, carved out of this one block. [6 m]
    private let floats: UnsafeMutablePointer<Float>

    /// A plan for `size` real samples (a power of two, at least 2).
    public init(size: Int) {
        precondition(size >= 2 && size & (size - 1) == 0,
                     "the real FFT needs a power-of-two length of at least 2, got \(size)")
        self.size = size
        half = size / 2
        let m = half
        floats = .allocate(capacity: 6 * m)
        stageReal = floats
        stageImaginary = floats + m
        splitReal = floats + 2 * m
        splitImaginary = floats + 3 * m
        workReal = floats + 4 * m
        workImaginary = floats + 5 * m
        floats.initialize(repeating: 0, count: 6 * m)
        gatherIndex = .allocate(capacity: m)
        let bits = m.trailingZeroBitCount
        for j in 0..<m {
            var reversed = 0
            for bit in 0..<bits where j & (1 << bit) != 0 { reversed |= 1 << (bits - 1 - bit) }
            gatherIndex[j] = 2 * reversed
        }
        // Twiddles from double-precision angles, rounded once.
        var span = 1
        while span < m {
            for k in 0..<span {
                let angle = -Double.pi * Double(k) / Double(span)
                stageReal[span + k] = Float(cos(angle))
                stageImaginary[span + k] = Float(sin(angle))
            }
            span *= 2
        }
        for k in 0..<m {
            let angle = -2 * Double.pi * Double(k) / Double(size)
            splitReal[k] = Float(cos(angle))
            splitImaginary[k] = Float(sin(angle))
        }
    }

    deinit {
        floats.deallocate()
        gatherIndex.deallocate()
    }

    /// The one-sided spectrum X[k] = sum over t of x[t] exp(-2 pi i k t / n), k in 0...n/2,
    /// unscaled (as numpy's rfft). X[0] and X[n/2] have imaginary part 0.
    /// input: [n]; real, imaginary: [n / 2 + 1]
    public func transform(_ input: UnsafePointer<Float>, real: UnsafeMutablePointer<Float>,
                          imaginary: UnsafeMutablePointer<Float>) {
        complexFFT(packing: input)
        split(real: real, imaginary: imaginary)
    }

    /// Array form of `transform`; checks the counts.
    public func transform(_ input: [Float], real: inout [Float], imaginary: inout [Float]) {
        precondition(input.count >= size && real.count >= bins && imaginary.count >= bins,
                     "a real FFT of \(size) needs \(size) samples and \(bins) outputs, got \(input.count), \(real.count), \(imaginary.count)")
        input.withUnsafeBufferPointer { input in
            real.withUnsafeMutableBufferPointer { real in
                imaginary.withUnsafeMutableBufferPointer { transform(input.baseAddress!, real: real.baseAddress!, imaginary: $0.baseAddress!) }
            }
        }
    }

    /// Z = FFT_m(z), z[j] = x[2j] + i x[2j+1], into workReal/workImaginary.
    private func complexFFT(packing input: UnsafePointer<Float>) {
        let m = half, re = workReal, im = workImaginary
        guard m >= 4 else {
            // m = 1 or 2: z itself, or one butterfly.
            if m == 1 {
                re[0] = input[0]
                im[0] = input[1]
            } else {
                re[0] = input[0] + input[2]
                im[0] = input[1] + input[3]
                re[1] = input[0] - input[2]
                im[1] = input[1] - input[3]
            }
            return
        }
        // Gather in bit-reversed order and do the stages of span 1 and 2 together: on each
        // group of four, a 4-point DFT (twiddles 1 and -i only).
        for start in stride(from: 0, to: m, by: 4) {
            let j0 = gatherIndex[start], j1 = gatherIndex[start + 1]
            let j2 = gatherIndex[start + 2], j3 = gatherIndex[start + 3]
            let r0 = input[j0], i0 = input[j0 + 1], r1 = input[j1], i1 = input[j1 + 1]
            let r2 = input[j2], i2 = input[j2 + 1], r3 = input[j3], i3 = input[j3 + 1]
            let sumR01 = r0 + r1, sumI01 = i0 + i1, differenceR01 = r0 - r1, differenceI01 = i0 - i1
            let sumR23 = r2 + r3, sumI23 = i2 + i3, differenceR23 = r2 - r3, differenceI23 = i2 - i3
            re[start] = sumR01 + sumR23
            im[start] = sumI01 + sumI23
            re[start + 2] = sumR01 - sumR23
            im[start + 2] = sumI01 - sumI23
            // -i (differenceR23 + i differenceI23) = differenceI23 - i differenceR23
            re[start + 1] = differenceR01 + differenceI23
            im[start + 1] = differenceI01 - differenceR23
            re[start + 3] = differenceR01 - differenceI23
            im[start + 3] = differenceI01 + differenceR23
        }
        var span = 4
        // Radix-2 stage when the stages left are odd in number: in each group of 2s,
        // a[k], b[k] = a[k] + w[k] b[k], a[k] - w[k] b[k], w[k] = exp(-2 pi i k / 2s).
        if (m / span).trailingZeroBitCount % 2 == 1 {
            radix2Stage(span: span)
            span *= 2
        }
        // Then the stages of span s and 2s together, on groups of 4s.
        while span < m {
            radix4Stage(span: span)
            span *= 4
        }
    }

    /// The radix-2 stage of span s (a multiple of 4) over workReal/workImaginary, four lanes at a time.
    private func radix2Stage(span: Int) {
        let m = half, wReal = stageReal + span, wImaginary = stageImaginary + span
        for start in stride(from: 0, to: m, by: 2 * span) {
            let aReal = workReal + start, aImaginary = workImaginary + start
            let bReal = aReal + span, bImaginary = aImaginary + span
            for k in stride(from: 0, to: span, by: 4) {
                let wR = load4(wReal + k), wI = load4(wImaginary + k)
                let aR = load4(aReal + k), aI = load4(aImaginary + k), bR = load4(bReal + k), bI = load4(bImaginary + k)
                let wbR = wR * bR - wI * bI, wbI = wR * bI + wI * bR
                store4(aR + wbR, aReal + k)
                store4(aI + wbI, aImaginary + k)
                store4(aR - wbR, bReal + k)
                store4(aI - wbI, bImaginary + k)
            }
        }
    }

    /// The radix-2 stages of span s and 2s (s a multiple of 4) in one pass, four lanes at a
    /// time: on a, b, c, d = x[k], x[k+s], x[k+2s], x[k+3s] with u = exp(-2 pi i k / 2s) and
    /// v = exp(-2 pi i k / 4s), the stage of span s makes a + ub, a - ub, c + ud, c - ud; the
    /// stage of span 2s combines the first with the third (twiddle v) and the second with the
    /// fourth (twiddle exp(-2 pi i (k + s) / 4s) = -iv).
    private func radix4Stage(span: Int) {
        let m = half
        let uReal = stageReal + span, uImaginary = stageImaginary + span
        let vReal = stageReal + 2 * span, vImaginary = stageImaginary + 2 * span
        for start in stride(from: 0, to: m, by: 4 * span) {
            let aReal = workReal + start, aImaginary = workImaginary + start
            let bReal = aReal + span, bImaginary = aImaginary + span
            let cReal = bReal + span, cImaginary = bImaginary + span
            let dReal = cReal + span, dImaginary = cImaginary + span
            for k in stride(from: 0, to: span, by: 4) {
                let uR = load4(uReal + k), uI = load4(uImaginary + k), vR = load4(vReal + k), vI = load4(vImaginary + k)
                let aR = load4(aReal + k), aI = load4(aImaginary + k), bR = load4(bReal + k), bI = load4(bImaginary + k)
                let cR = load4(cReal + k), cI = load4(cImaginary + k), dR = load4(dReal + k), dI = load4(dImaginary + k)
                // Stage of span s.
                let ubR = uR * bR - uI * bI, ubI = uR * bI + uI * bR
                let udR = uR * dR - uI * dI, udI = uR * dI + uI * dR
                let a1R = aR + ubR, a1I = aI + ubI, b1R = aR - ubR, b1I = aI - ubI
                let c1R = cR + udR, c1I = cI + udI, d1R = cR - udR, d1I = cI - udI
                // Stage of span 2s: v c1, and -i v d1 = (v d1)I - i (v d1)R.
                let vcR = vR * c1R - vI * c1I, vcI = vR * c1I + vI * c1R
                let ivdR = vR * d1I + vI * d1R, ivdI = vI * d1I - vR * d1R
                store4(a1R + vcR, aReal + k)
                store4(a1I + vcI, aImaginary + k)
                store4(a1R - vcR, cReal + k)
                store4(a1I - vcI, cImaginary + k)
                store4(b1R + ivdR, bReal + k)
                store4(b1I + ivdI, bImaginary + k)
                store4(b1R - ivdR, dReal + k)
                store4(b1I - ivdI, dImaginary + k)
            }
        }
    }

    /// X[k] = E[k] + W^k O[k], W = exp(-2 pi i / n), where E and O, the FFTs of the even and
    /// odd samples, come from Z: E[k] = (Z[k] + conj Z[m-k]) / 2, O[k] = (Z[k] - conj Z[m-k]) / 2i.
    private func split(real: UnsafeMutablePointer<Float>, imaginary: UnsafeMutablePointer<Float>) {
        let m = half, re = workReal, im = workImaginary
        real[0] = re[0] + im[0]
        imaginary[0] = 0
        real[m] = re[0] - im[0]
        imaginary[m] = 0
        // Bins k..<k+4 against the mirrored m-k-3...m-k, loaded forward and reversed.
        var k = 1
        while k + 4 <= m {
            let zR = load4(re + k), zI = load4(im + k)
            let mirrorR = reversed(load4(re + m - k - 3)), mirrorI = reversed(load4(im + m - k - 3))
            let evenR = 0.5 * (zR + mirrorR), evenI = 0.5 * (zI - mirrorI)
            let oddR = 0.5 * (zI + mirrorI), oddI = -0.5 * (zR - mirrorR)
            let wR = load4(splitReal + k), wI = load4(splitImaginary + k)
            store4(evenR + wR * oddR - wI * oddI, real + k)
            store4(evenI + wR * oddI + wI * oddR, imaginary + k)
            k += 4
        }
        for k in k..<m {
            let evenR = 0.5 * (re[k] + re[m - k]), evenI = 0.5 * (im[k] - im[m - k])
            let oddR = 0.5 * (im[k] + im[m - k]), oddI = -0.5 * (re[k] - re[m - k])
            real[k] = evenR + splitReal[k] * oddR - splitImaginary[k] * oddI
            imaginary[k] = evenI + splitReal[k] * oddI + splitImaginary[k] * oddR
        }
    }
}

@inline(__always) private func load4(_ pointer: UnsafeMutablePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always) private func store4(_ value: SIMD4<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD4<Float>.self)
}

@inline(__always) private func reversed(_ value: SIMD4<Float>) -> SIMD4<Float> {
    SIMD4(value[3], value[2], value[1], value[0])
}
