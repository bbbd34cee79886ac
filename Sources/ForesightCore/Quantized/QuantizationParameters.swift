// How int8 tensors map to real numbers: per-tensor asymmetric uint8 activations, per-output-
// channel symmetric int8 weights, and fixed-point requantization (a Q31 multiplier and a shift).
// Not calibration (ForesightNN/Quantization) and not kernels: only parameters and their rules.

import CKernels
import Foundation


/// Checks that `scale` can be used as a quantization scale.
@inline(__always)
func validateScale(_ scale: Float, tensor: String) throws(CoreError) {
    guard scale.isFinite, scale > 0 else { throw .invalidScale(tensor: tensor, scale: scale) }
}

/// Per-tensor asymmetric uint8 quantization of activations: real = scale * (q - zeroPoint), q in [0, 255].
///
/// ```swift
/// let q = try ActivationQuantization(min: 0, max: 2, tensor: "e1")   // scale 2/255, zero point 0
/// q.quantize(1.0)      // 128
/// ```
public struct ActivationQuantization: Sendable, Equatable, Codable {
    /// Real value of one step.
    public let scale: Float
    /// The integer that stands for real 0 (exactly representable, so zero padding is exact).
    public let zeroPoint: Int32

    /// The largest scale whose codes all dequantize to finite values (255 steps of it).
    public static let largestScale = Float.greatestFiniteMagnitude / 255

    /// Parameters as stored; a zero, negative or NaN scale, one above `largestScale`, or a zero
    /// point outside [0, 255] throws.
    public init(scale: Float, zeroPoint: Int32, tensor: String) throws(CoreError) {
        try validateScale(scale, tensor: tensor)
        guard scale <= Self.largestScale else { throw .scaleTooLarge(tensor: tensor, scale: scale) }
        guard (0...255).contains(zeroPoint) else { throw .invalidZeroPoint(tensor: tensor, zeroPoint: zeroPoint) }
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// Parameters covering [min, max] widened to contain 0. An all-zero range gets scale 1
    /// (every value is the exact zero point).
    public init(min: Float, max: Float, tensor: String) throws(CoreError) {
        guard min.isFinite, max.isFinite, min <= max else { throw .invalidRange(tensor: tensor, min: min, max: max) }
        let low = Swift.min(min, 0), high = Swift.max(max, 0)
        let scale = high > low ? (high - low) / 255 : 1
        let zeroPoint = Int32((-low / scale).rounded()).clamped(to: 0...255)
        try self.init(scale: scale, zeroPoint: zeroPoint, tensor: tensor)
    }

    /// The nearest uint8 code of `x` (ties to even), saturated.
    @inline(__always)
    public func quantize(_ x: Float) -> UInt8 {
        let code = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
        return UInt8(Swift.min(Swift.max(code, 0), 255))
    }

    /// The real value of a code.
    @inline(__always)
    public func dequantize(_ q: UInt8) -> Float { scale * Float(Int32(q) - zeroPoint) }

    /// The smallest and largest representable real values.
    public var range: ClosedRange<Float> { dequantize(0)...dequantize(255) }
}

/// Per-output-channel symmetric int8 weight quantization: real = scales[f] * q, q in [-127, 127].
///
/// ```swift
/// // weights [F, K] row-major
/// let (codes, scales) = quantizeWeightsPerChannel(weights, channels: F)
/// ```
public func quantizeWeightsPerChannel(_ weights: UnsafeBufferPointer<Float>, channels: Int) -> (codes: [Int8], scales: [Float]) {
    precondition(channels > 0 && weights.count % channels == 0, "\(weights.count) weights do not split into \(channels) channels")
    let perChannel = weights.count / channels
    var codes = [Int8](repeating: 0, count: weights.count)
    var scales = [Float](repeating: 1, count: channels)
    for channel in 0..<channels {
        let row = weights.baseAddress! + channel * perChannel
        var largest: Float = 0
        for i in 0..<perChannel { largest = Swift.max(largest, abs(row[i])) }
        // An all-zero channel keeps scale 1: its codes are 0 whatever the scale.
        let scale = largest > 0 ? largest / 127 : 1
        scales[channel] = scale
        for i in 0..<perChannel {
            codes[channel * perChannel + i] = Int8((row[i] / scale).rounded(.toNearestOrEven).clamped(to: -127...127))
        }
    }
    return (codes, scales)
}

/// A non-negative real multiplier as fixed point: real = multiplier / 2^(31 + shift), with
/// multiplier in [2^30, 2^31) (smaller only for multipliers below 2^-32, 0 below 2^-63) and
/// shift in [-30, 31].
///
/// ```swift
/// let m = try FixedPointMultiplier(0.75, tensor: "e1")   // multiplier 1610612736, shift 0
/// m.apply(100)        // 75
/// ```
public struct FixedPointMultiplier: Sendable, Equatable {
    /// Q31 mantissa.
    public let multiplier: Int32
    /// Extra right shift (negative: left).
    public let shift: Int32

    /// The fixed-point form of `real`; zero gives multiplier 0. Values >= 2^30, negative or
    /// non-finite throw.
    public init(_ real: Double, tensor: String) throws(CoreError) {
        guard real.isFinite, real >= 0, real < 0x1p30 else { throw .multiplierOutOfRange(tensor: tensor, multiplier: real) }
        if real == 0 { multiplier = 0; shift = 0; return }
        let exponent = real.exponent + 1                  // real = fraction * 2^exponent, fraction in [0.5, 1)
        var mantissa = (real.significand / 2 * 0x1p31).rounded()
        var e = exponent
        if mantissa == 0x1p31 { mantissa = 0x1p30; e += 1 }
        var shift = -e
        if shift > 31 {                                   // below 2^-32: keep shift 31, fewer mantissa bits
            mantissa = (mantissa * pow(2, Double(31 - shift))).rounded()   // none below 2^-63: 0
            shift = 31
        }
        precondition(shift >= -30, "multiplier \(real) escaped the range check")
        multiplier = Int32(mantissa)
        self.shift = Int32(shift)
    }

    /// The multiplier as a real number.
    public var real: Double { Double(multiplier) / pow(2, Double(31 + shift)) }

    /// round(x * real), halves towards +infinity, for x in int32 (result clamped to int32).
    public func apply(_ x: Int32) -> Int32 {
        requantize(x, bias: 0, multiplier: multiplier, shift: shift, zeroPoint: 0, min: Int32.min, max: Int32.max)
    }
}

/// The requantization rule of every int8 kernel (Swift twin of `fs_requantize`):
/// v = clamp(acc + bias) to int32; t = 31 + shift; r = (v * multiplier + 2^(t-1)) >> t;
/// result = clamp(r + zeroPoint, min, max). Rounds to nearest, halves towards +infinity.
@inline(__always)
public func requantize(_ acc: Int32, bias: Int32, multiplier: Int32, shift: Int32, zeroPoint: Int32,
                       min: Int32, max: Int32) -> Int32 {
    let v = (Int64(acc) + Int64(bias)).clamped(to: Int64(Int32.min)...Int64(Int32.max))
    let total = Int64(31 + shift)
    var r = (v * Int64(multiplier) + (Int64(1) << (total - 1))) >> total
    r += Int64(zeroPoint)
    return Int32(r.clamped(to: Int64(min)...Int64(max)))
}

extension Comparable {
    @inline(__always)
    func clamped(to range: ClosedRange<Self>) -> Self { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}
