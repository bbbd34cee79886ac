// Float32 point-wise activations (ReLU, leaky ReLU, GELU, sigmoid, tanh), each forward beside its
// backward, 16 lanes at a time, with vectorised exp and tanh. Not a general maths library: the
// fast exp/tanh are accurate to a few float ulps (tests hold them to Foundation), not correctly rounded.

// MARK: - vectorised exp and tanh

/// e^x per lane (Cephes `expf`: x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r,
/// scaled by 2^n built in the exponent bits). Inputs are clamped to [-87, 88], so results
/// saturate at e^-87 ~ 1.6e-38 and e^88 ~ 1.65e38 instead of reaching 0 or infinity; NaN stays
/// NaN. Relative error below 2.5e-7 (measured 1.2e-7) on [-87, 88]; `ActivationsTests` checks it.
@inline(__always)
func vectorExp(_ x: FloatVector) -> FloatVector {
    // Masked replacement, not `clamped(lowerBound:upperBound:)`: the generic stdlib clamp does
    // not vectorise and made this function ten times slower.
    var clamped = x.replacing(with: -87, where: x .< -87)
    clamped.replace(with: 88, where: x .> 88)
    // Adding 1.5 * 2^23 rounds x / ln2 to the nearest integer n and leaves n in the low mantissa bits.
    let roundingShift = FloatVector(repeating: 12_582_912)
    let shifted = roundingShift.addingProduct(clamped, FloatVector(repeating: 1.442_695_04))
    let n = shifted - roundingShift
    // r = x - n ln2, with ln2 split in two (Cody-Waite) so that n * high is exact.
    var r = clamped.addingProduct(n, FloatVector(repeating: -0.693_359_375))
    r = r.addingProduct(n, FloatVector(repeating: 2.121_944_4e-4))
    var polynomial = FloatVector(repeating: 1.987_569_15e-4)
    polynomial = FloatVector(repeating: 1.398_199_95e-3).addingProduct(polynomial, r)
    polynomial = FloatVector(repeating: 8.333_451_9e-3).addingProduct(polynomial, r)
    polynomial = FloatVector(repeating: 4.166_579_59e-2).addingProduct(polynomial, r)
    polynomial = FloatVector(repeating: 1.666_666_55e-1).addingProduct(polynomial, r)
    polynomial = FloatVector(repeating: 5.000_000_12e-1).addingProduct(polynomial, r)
    let expR = (r + 1).addingProduct(polynomial, r * r)
    // 2^n: the biased exponent n + 127 shifted into place (the shift drops the 1.5 * 2^23 bits).
    let powerBits = (unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &+ 127) &<< 23
    var result = expR * unsafeBitCast(powerBits, to: FloatVector.self)
    result.replace(with: x, where: x .!= x)
    return result
}

/// tanh(x) per lane (Cephes `tanhf`): an odd polynomial for |x| < 0.625, 1 - 2 / (e^2|x| + 1)
/// with the sign of x above. Relative error below 2.5e-7 (measured 1.4e-7; tested).
@inline(__always)
func vectorTanh(_ x: FloatVector) -> FloatVector {
    let magnitude = x.replacing(with: -x, where: x .< 0)
    let squared = x * x
    var odd = FloatVector(repeating: -5.704_988_727_45e-3)
    odd = FloatVector(repeating: 2.063_908_879_54e-2).addingProduct(odd, squared)
    odd = FloatVector(repeating: -5.373_971_555_31e-2).addingProduct(odd, squared)
    odd = FloatVector(repeating: 1.333_144_220_36e-1).addingProduct(odd, squared)
    odd = FloatVector(repeating: -3.333_328_194_22e-1).addingProduct(odd, squared)
    let small = x.addingProduct(odd * squared, x)
    let large = 1 - 2 / (vectorExp(magnitude + magnitude) + 1)
    var result = small
    result.replace(with: large, where: magnitude .>= 0.625)
    result.replace(with: -large, where: x .<= -0.625)
    return result
}

/// 1 / (1 + e^-x) per lane; relative error below 3e-7 down to x = -87 (measured 1.9e-7), and
/// 0 < result <= 1 for every finite x (about 6e-39 for x <= -88 rather than the true tinier value).
@inline(__always)
func vectorSigmoid(_ x: FloatVector) -> FloatVector {
    1 / (1 + vectorExp(-x))
}

// MARK: - ReLU

/// y = max(x, 0). `y` may be `x`; NaN stays NaN.
///
/// x, y: [count]
public func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "reluForward")
    mapVectors(x, y, count: count) { $0.replacing(with: 0, where: $0 .< 0) }
}

/// dx += dy where x > 0 (the gradient at exactly 0 is taken as 0, as PyTorch does).
///
/// x, dy, dx: [count]
public func reluBackward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "reluBackward")
    accumulateVectors(x, dy, into: dx, count: count) { input, gradient in
        FloatVector().replacing(with: gradient, where: input .> 0)
    }
}

// MARK: - leaky ReLU

/// y = x for x >= 0, slope * x below. `y` may be `x`.
///
/// x, y: [count]
public func leakyReluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, slope: Float) {
    checkCount(count, "leakyReluForward")
    let slopes = FloatVector(repeating: slope)
    mapVectors(x, y, count: count) { $0.replacing(with: $0 * slopes, where: $0 .< 0) }
}

/// dx += dy where x > 0, slope * dy elsewhere (at exactly 0 too, as PyTorch does).
///
/// x, dy, dx: [count]
public func leakyReluBackward(
    x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int, slope: Float
) {
    checkCount(count, "leakyReluBackward")
    let slopes = FloatVector(repeating: slope)
    accumulateVectors(x, dy, into: dx, count: count) { input, gradient in
        (gradient * slopes).replacing(with: gradient, where: input .> 0)
    }
}

// MARK: - GELU

/// sqrt(2 / pi), the scale inside the GELU tanh approximation.
private let geluScale: Float = 0.797_884_560_802_865_4
/// The cubic coefficient of the GELU tanh approximation.
private let geluCubic: Float = 0.044_715

/// GELU, tanh approximation (PyTorch `gelu(approximate='tanh')`):
/// y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as the identical
/// x * sigmoid(2u), which keeps full relative accuracy for very negative x. `y` may be `x`.
///
/// x, y: [count]
public func geluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "geluForward")
    let twiceScale = FloatVector(repeating: 2 * geluScale), cubic = FloatVector(repeating: geluCubic)
    mapVectors(x, y, count: count) { input in
        let twiceInner = twiceScale * input.addingProduct(cubic * input, input * input)
        return input * vectorSigmoid(twiceInner)
    }
}

/// dx += dy * GELU'(x) for the tanh approximation: with s = sigmoid(2u),
/// GELU'(x) = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2). Recomputes s from x (storing
/// it would cost a tensor; the exp is cheap next to the convolutions around it).
///
/// x, dy, dx: [count]
public func geluBackward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "geluBackward")
    let scale = FloatVector(repeating: geluScale), twiceScale = FloatVector(repeating: 2 * geluScale)
    let cubic = FloatVector(repeating: geluCubic), tripleCubic = FloatVector(repeating: 3 * geluCubic)
    accumulateVectors(x, dy, into: dx, count: count) { input, gradient in
        let squared = input * input
        let s = vectorSigmoid(twiceScale * input.addingProduct(cubic * input, squared))
        let innerSlope = scale * (1 + tripleCubic * squared)
        let derivative = s + 2 * input * s * (1 - s) * innerSlope
        return gradient * derivative
    }
}

// MARK: - sigmoid

/// y = 1 / (1 + e^-x). `y` may be `x`.
///
/// x, y: [count]
public func sigmoidForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "sigmoidForward")
    mapVectors(x, y, count: count) { vectorSigmoid($0) }
}

/// dx += dy * y (1 - y), from the forward output y.
///
/// y, dy, dx: [count]
public func sigmoidBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "sigmoidBackward")
    accumulateVectors(y, dy, into: dx, count: count) { output, gradient in gradient * output * (1 - output) }
}

// MARK: - tanh

/// y = tanh(x). `y` may be `x`.
///
/// x, y: [count]
public func tanhForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "tanhForward")
    mapVectors(x, y, count: count) { vectorTanh($0) }
}

/// dx += dy * (1 - y^2), from the forward output y.
///
/// y, dy, dx: [count]
public func tanhBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "tanhBackward")
    accumulateVectors(y, dy, into: dx, count: count) { output, gradient in gradient * (1 - output * output) }
}
