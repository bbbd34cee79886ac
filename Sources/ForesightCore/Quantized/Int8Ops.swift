// Element-wise and shape operations on int8 NHWC images (Int8ImageLayout): add, channel
// concat, 2x2 max and average pooling, nearest 2x upsampling. Fixed-point only (Q31
// multipliers, round half up, saturating); portable Swift (these are memory-bound).
// Not convolutions (Int8Conv2d.swift).

import Foundation

/// y = requantize(sa * (a - za) + sb * (b - zb)) with optional ReLU; a, b, y are images of the
/// same height, width and channels (borders may differ).
///
/// ```swift
/// let add = try Int8Add(a: qa, b: qb, output: qy, relu: false)
/// add.forward(a: x1, aLayout: l1, b: x2, bLayout: l2, y: out, yLayout: lo, batch: 1)
/// ```
public struct Int8Add: Sendable {
    /// Parameters of the two inputs and the output.
    public let a: ActivationQuantization, b: ActivationQuantization, output: ActivationQuantization
    /// Whether the sum clamps at the output's zero point.
    public let relu: Bool
    /// Q(31 + shift) multipliers of both inputs towards the output scale, sharing one shift.
    let multiplierA: Int64, multiplierB: Int64, shift: Int64

    /// An addition for these parameters; scale ratios fixed point cannot hold throw.
    public init(a: ActivationQuantization, b: ActivationQuantization, output: ActivationQuantization, relu: Bool) throws(CoreError) {
        self.a = a; self.b = b; self.output = output; self.relu = relu
        let ratioA = Double(a.scale) / Double(output.scale), ratioB = Double(b.scale) / Double(output.scale)
        let largest = try FixedPointMultiplier(max(ratioA, ratioB), tensor: "add")
        shift = Int64(31 + largest.shift)
        multiplierA = Int64((ratioA * pow(2, Double(shift))).rounded())
        multiplierB = Int64((ratioB * pow(2, Double(shift))).rounded())
    }

    /// The sum of one pair of codes.
    @inline(__always)
    public func apply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        let v = (Int64(x) - Int64(a.zeroPoint)) * multiplierA + (Int64(y) - Int64(b.zeroPoint)) * multiplierB
        let r = ((v + (1 << (shift - 1))) >> shift) + Int64(output.zeroPoint)
        return UInt8(r.clamped(to: Int64(relu ? output.zeroPoint : 0)...255))
    }

    /// y = a + b over every interior pixel of `batch` images (layouts may differ in border).
    public func forward(a x: UnsafePointer<UInt8>, aLayout: Int8ImageLayout, b y: UnsafePointer<UInt8>, bLayout: Int8ImageLayout,
                        y out: UnsafeMutablePointer<UInt8>, yLayout: Int8ImageLayout, batch: Int) {
        precondition(aLayout.height == bLayout.height && aLayout.width == bLayout.width && aLayout.channels == bLayout.channels
                     && yLayout.height == aLayout.height && yLayout.width == aLayout.width && yLayout.channels == aLayout.channels,
                     "int8 add of images \(aLayout) and \(bLayout) into \(yLayout)")
        for sample in 0..<batch {
            for row in 0..<aLayout.height {
                for column in 0..<aLayout.width {
                    let p = x + sample * aLayout.sampleBytes + aLayout.offset(y: row, x: column)
                    let q = y + sample * bLayout.sampleBytes + bLayout.offset(y: row, x: column)
                    let o = out + sample * yLayout.sampleBytes + yLayout.offset(y: row, x: column)
                    for c in 0..<aLayout.channels { o[c] = apply(p[c], q[c]) }
                }
            }
        }
    }
}

/// y = a requantized to `to` (round half up, saturating): the step of a concat or a rescale.
@inline(__always)
func rescale(_ code: UInt8, from: ActivationQuantization, multiplier: FixedPointMultiplier, to: ActivationQuantization) -> UInt8 {
    UInt8(truncatingIfNeeded: requantize(Int32(code) - from.zeroPoint, bias: 0, multiplier: multiplier.multiplier,
                                         shift: multiplier.shift, zeroPoint: to.zeroPoint, min: 0, max: 255))
}

/// Concatenates images along channels: y[..., 0..<Ca] = a, y[..., Ca..<Ca+Cb] = b, each
/// requantized to the output's parameters (a plain copy when they agree).
public func int8ConcatChannels(
    _ a: UnsafePointer<UInt8>, _ aLayout: Int8ImageLayout, _ qa: ActivationQuantization,
    _ b: UnsafePointer<UInt8>, _ bLayout: Int8ImageLayout, _ qb: ActivationQuantization,
    into y: UnsafeMutablePointer<UInt8>, _ yLayout: Int8ImageLayout, _ qy: ActivationQuantization, batch: Int
) throws(CoreError) {
    precondition(yLayout.channels == aLayout.channels + bLayout.channels && yLayout.height == aLayout.height
                 && yLayout.width == aLayout.width && bLayout.height == aLayout.height && bLayout.width == aLayout.width,
                 "int8 concat of \(aLayout) and \(bLayout) into \(yLayout)")
    let ma = try FixedPointMultiplier(Double(qa.scale) / Double(qy.scale), tensor: "concat")
    let mb = try FixedPointMultiplier(Double(qb.scale) / Double(qy.scale), tensor: "concat")
    for sample in 0..<batch {
        for row in 0..<yLayout.height {
            for column in 0..<yLayout.width {
                let o = y + sample * yLayout.sampleBytes + yLayout.offset(y: row, x: column)
                let p = a + sample * aLayout.sampleBytes + aLayout.offset(y: row, x: column)
                let q = b + sample * bLayout.sampleBytes + bLayout.offset(y: row, x: column)
                for c in 0..<aLayout.channels { o[c] = qa == qy ? p[c] : rescale(p[c], from: qa, multiplier: ma, to: qy) }
                for c in 0..<bLayout.channels {
                    o[aLayout.channels + c] = qb == qy ? q[c] : rescale(q[c], from: qb, multiplier: mb, to: qy)
                }
            }
        }
    }
}

/// 2x2 pooling with stride 2 ([H, W] -> [H/2, W/2]), same quantization in and out: the
/// maximum (exact: codes order like reals) or the mean (round half up).
public func int8Pool2x2(_ x: UnsafePointer<UInt8>, _ xLayout: Int8ImageLayout, into y: UnsafeMutablePointer<UInt8>,
                        _ yLayout: Int8ImageLayout, batch: Int, maximum: Bool) {
    precondition(yLayout.height == xLayout.height / 2 && yLayout.width == xLayout.width / 2 && yLayout.channels == xLayout.channels,
                 "2x2 pooling of \(xLayout) into \(yLayout)")
    for sample in 0..<batch {
        for row in 0..<yLayout.height {
            for column in 0..<yLayout.width {
                let p = x + sample * xLayout.sampleBytes + xLayout.offset(y: 2 * row, x: 2 * column)
                let below = p + xLayout.rowBytes, step = xLayout.channelStride
                let o = y + sample * yLayout.sampleBytes + yLayout.offset(y: row, x: column)
                for c in 0..<xLayout.channels {
                    if maximum {
                        o[c] = max(max(p[c], p[step + c]), max(below[c], below[step + c]))
                    } else {
                        o[c] = UInt8((UInt16(p[c]) + UInt16(p[step + c]) + UInt16(below[c]) + UInt16(below[step + c]) + 2) >> 2)
                    }
                }
            }
        }
    }
}

/// Nearest-neighbour 2x upsampling ([H, W] -> [2H, 2W]), same quantization: a copy of codes.
public func int8UpsampleNearest2x(_ x: UnsafePointer<UInt8>, _ xLayout: Int8ImageLayout, into y: UnsafeMutablePointer<UInt8>,
                                  _ yLayout: Int8ImageLayout, batch: Int) {
    precondition(yLayout.height == 2 * xLayout.height && yLayout.width == 2 * xLayout.width && yLayout.channels == xLayout.channels,
                 "2x upsampling of \(xLayout) into \(yLayout)")
    let bytes = xLayout.channelStride
    for sample in 0..<batch {
        for row in 0..<yLayout.height {
            let source = x + sample * xLayout.sampleBytes + xLayout.offset(y: row / 2, x: 0)
            let target = y + sample * yLayout.sampleBytes + yLayout.offset(y: row, x: 0)
            for column in 0..<yLayout.width {
                (target + column * bytes).update(from: source + (column / 2) * bytes, count: bytes)
            }
        }
    }
}
