// Float32 softmax, layer norm and group norm, each forward beside its backward, SIMD16 along the
// normalised axis. Not batch norm (no running statistics); the norms save per-row or per-group
// mean and reciprocal standard deviation in a caller-provided buffer for the backward pass.
// N, C, H, W are batch, channels, height and width of an NCHW tensor; G is the number of groups.

/// The largest x[i] over `count` (>= 1) floats; NaN entries are skipped (they reach the output anyway).
@inline(__always)
private func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    let rawX = UnsafeRawPointer(x)
    var best = -Float.infinity
    var i = 0
    if count >= floatVectorLanes {
        var lanes = FloatVector(repeating: -.infinity)
        while i + floatVectorLanes <= count {
            let values = rawX.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
            lanes.replace(with: values, where: values .> lanes)
            i += floatVectorLanes
        }
        best = lanes.max()
    }
    while i < count {
        if x[i] > best { best = x[i] }
        i += 1
    }
    return best
}

// MARK: - softmax

/// y[r, :] = exp(x[r, :] - max) / sum(exp(x[r, :] - max)) for each row: finite for any finite
/// logits, however large. A row holding +infinity, or only -infinity, gives NaN (as in PyTorch).
/// `y` may be `x`.
///
/// x, y: [rows, columns]
public func softmaxForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    precondition(rows >= 0 && columns >= 0, "softmaxForward: extents must not be negative, got rows \(rows) columns \(columns)")
    guard columns > 0 else { return }
    for r in 0..<rows {
        let input = x + r * columns, output = y + r * columns
        let shift = FloatVector(repeating: maximum(input, count: columns))
        mapVectors(input, output, count: columns) { vectorExp($0 - shift) }
        let reciprocalSum = FloatVector(repeating: Float(1 / sumVectors(output, count: columns) { $0 }))
        mapVectors(output, output, count: columns) { $0 * reciprocalSum }
    }
}

/// dx[r, i] += y[r, i] * (dy[r, i] - sum_j dy[r, j] * y[r, j]), from the forward output y.
///
/// y, dy, dx: [rows, columns]
public func softmaxBackward(
    y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int, columns: Int
) {
    precondition(rows >= 0 && columns >= 0, "softmaxBackward: extents must not be negative, got rows \(rows) columns \(columns)")
    for r in 0..<rows {
        let output = y + r * columns, gradient = dy + r * columns
        let projection = FloatVector(repeating: Float(sumVectors(output, gradient, count: columns) { $0 * $1 }))
        accumulateVectors(output, gradient, into: dx + r * columns, count: columns) { value, rowGradient in
            value * (rowGradient - projection)
        }
    }
}

// MARK: - layer norm

/// Layer norm over the last axis: y = (x - mean) / sqrt(variance + epsilon) * gamma + beta, with
/// the biased variance (as PyTorch). Saves statistics[r] = (mean, 1 / sqrt(variance + epsilon))
/// for the backward pass. `y` may be `x`.
///
/// ```swift
/// // 8 tokens of width 64; statistics holds 16 floats
/// layerNormForward(x, y, gamma: g, beta: b, statistics: saved, rows: 8, columns: 64)
/// ```
///
/// x, y: [rows, columns]; gamma, beta: [columns]; statistics: [rows, 2] (written)
public func layerNormForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, statistics: UnsafeMutablePointer<Float>,
    rows: Int, columns: Int, epsilon: Float = 1e-5
) {
    precondition(rows >= 0 && columns > 0, "layerNormForward: need rows >= 0 and columns > 0, got rows \(rows) columns \(columns)")
    precondition(epsilon >= 0, "layerNormForward: epsilon must not be negative, got \(epsilon)")
    for r in 0..<rows {
        let input = x + r * columns, output = y + r * columns
        let (mean, reciprocalStd) = meanAndReciprocalStd(input, count: columns, epsilon: epsilon)
        statistics[2 * r] = mean
        statistics[2 * r + 1] = reciprocalStd
        let means = FloatVector(repeating: mean), reciprocalStds = FloatVector(repeating: reciprocalStd)
        mapVectors(input, gamma, output, count: columns) { ($0 - means) * reciprocalStds * $1 }
        accumulateVectors(beta, into: output, count: columns) { $0 }
    }
}

/// Layer norm backward, from x and the saved statistics. With x^ = (x - mean) * rstd and
/// g = dy * gamma: dx += rstd * (g - mean(g) - x^ * mean(g * x^)); dgamma += sum over rows of
/// dy * x^; dbeta += sum over rows of dy.
///
/// x, dy, dx: [rows, columns]; gamma, dgamma, dbeta: [columns]; statistics: [rows, 2]
public func layerNormBackward(
    x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, statistics: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
    rows: Int, columns: Int
) {
    precondition(rows >= 0 && columns > 0, "layerNormBackward: need rows >= 0 and columns > 0, got rows \(rows) columns \(columns)")
    let rawGamma = UnsafeRawPointer(gamma), rawDgamma = UnsafeMutableRawPointer(dgamma), rawDbeta = UnsafeMutableRawPointer(dbeta)
    for r in 0..<rows {
        let input = x + r * columns, gradient = dy + r * columns, inputGradient = dx + r * columns
        let rawX = UnsafeRawPointer(input), rawDy = UnsafeRawPointer(gradient), rawDx = UnsafeMutableRawPointer(inputGradient)
        let mean = statistics[2 * r], reciprocalStd = statistics[2 * r + 1]
        let means = FloatVector(repeating: mean), reciprocalStds = FloatVector(repeating: reciprocalStd)

        // Pass 1: the parameter gradients and the two row sums.
        var sumLanes = FloatVector(), sumNormalizedLanes = FloatVector()
        var i = 0
        while i + floatVectorLanes <= columns {
            let offset = i * 4
            let normalized = (rawX.loadUnaligned(fromByteOffset: offset, as: FloatVector.self) - means) * reciprocalStds
            let rowGradient = rawDy.loadUnaligned(fromByteOffset: offset, as: FloatVector.self)
            let scaled = rowGradient * rawGamma.loadUnaligned(fromByteOffset: offset, as: FloatVector.self)
            sumLanes += scaled
            sumNormalizedLanes.addProduct(scaled, normalized)
            let gammaGradient = rawDgamma.loadUnaligned(fromByteOffset: offset, as: FloatVector.self).addingProduct(rowGradient, normalized)
            rawDgamma.storeBytes(of: gammaGradient, toByteOffset: offset, as: FloatVector.self)
            let betaGradient = rawDbeta.loadUnaligned(fromByteOffset: offset, as: FloatVector.self) + rowGradient
            rawDbeta.storeBytes(of: betaGradient, toByteOffset: offset, as: FloatVector.self)
            i += floatVectorLanes
        }
        var sum = sumLanes.sum(), sumNormalized = sumNormalizedLanes.sum()
        for j in i..<columns {
            let normalized = (input[j] - mean) * reciprocalStd
            let scaled = gradient[j] * gamma[j]
            sum += scaled
            sumNormalized += scaled * normalized
            dgamma[j] += gradient[j] * normalized
            dbeta[j] += gradient[j]
        }

        // Pass 2: dx.
        let meanScaled = sum / Float(columns), meanScaledNormalized = sumNormalized / Float(columns)
        let meanScaledLanes = FloatVector(repeating: meanScaled)
        let meanScaledNormalizedLanes = FloatVector(repeating: meanScaledNormalized)
        i = 0
        while i + floatVectorLanes <= columns {
            let offset = i * 4
            let normalized = (rawX.loadUnaligned(fromByteOffset: offset, as: FloatVector.self) - means) * reciprocalStds
            let scaled = rawDy.loadUnaligned(fromByteOffset: offset, as: FloatVector.self) * rawGamma.loadUnaligned(fromByteOffset: offset, as: FloatVector.self)
            let contribution = reciprocalStds * (scaled - meanScaledLanes - normalized * meanScaledNormalizedLanes)
            rawDx.storeBytes(of: rawDx.loadUnaligned(fromByteOffset: offset, as: FloatVector.self) + contribution, toByteOffset: offset, as: FloatVector.self)
            i += floatVectorLanes
        }
        for j in i..<columns {
            let normalized = (input[j] - mean) * reciprocalStd
            let scaled = gradient[j] * gamma[j]
            inputGradient[j] += reciprocalStd * (scaled - meanScaled - normalized * meanScaledNormalized)
        }
    }
}

/// Mean and 1 / sqrt(biased variance + epsilon) of `count` floats, two-pass (no cancellation),
/// lane sums folded into Double.
@inline(__always)
private func meanAndReciprocalStd(_ x: UnsafePointer<Float>, count: Int, epsilon: Float) -> (Float, Float) {
    let mean = sumVectors(x, count: count) { $0 } / Double(count)
    let means = FloatVector(repeating: Float(mean))
    let variance = sumVectors(x, count: count) { ($0 - means) * ($0 - means) } / Double(count)
    return (Float(mean), Float(1 / (variance + Double(epsilon)).squareRoot()))
}

// MARK: - group norm

/// Group norm: the C channels are split into G groups of C / G consecutive channels; each
/// (batch item, group) is normalised over its channels and pixels, then
/// y[n, c] = x^[n, c] * gamma[c] + beta[c]. Biased variance, as PyTorch. Saves
/// statistics[n, g] = (mean, 1 / sqrt(variance + epsilon)). `y` may be `x`.
///
/// ```swift
/// // 32 channels in 8 groups; statistics holds N * 8 * 2 floats
/// groupNormForward(x, y, gamma: g, beta: b, statistics: saved,
///                  batch: N, channels: 32, height: 16, width: 16, groups: 8)
/// ```
///
/// x, y: [N, C, H, W]; gamma, beta: [C]; statistics: [N, G, 2] (written)
public func groupNormForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, statistics: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int, groups: Int, epsilon: Float = 1e-5
) {
    checkGroupNormShape("groupNormForward", batch: batch, channels: channels, height: height, width: width, groups: groups)
    precondition(epsilon >= 0, "groupNormForward: epsilon must not be negative, got \(epsilon)")
    let planeSize = height * width, channelsPerGroup = channels / groups
    for n in 0..<batch {
        for g in 0..<groups {
            let firstChannel = g * channelsPerGroup
            let block = (n * channels + firstChannel) * planeSize
            let (mean, reciprocalStd) = meanAndReciprocalStd(x + block, count: channelsPerGroup * planeSize, epsilon: epsilon)
            statistics[2 * (n * groups + g)] = mean
            statistics[2 * (n * groups + g) + 1] = reciprocalStd
            let means = FloatVector(repeating: mean)
            for c in firstChannel..<(firstChannel + channelsPerGroup) {
                let plane = (n * channels + c) * planeSize
                let scale = FloatVector(repeating: reciprocalStd * gamma[c]), shift = FloatVector(repeating: beta[c])
                mapVectors(x + plane, y + plane, count: planeSize) { shift.addingProduct($0 - means, scale) }
            }
        }
    }
}

/// Group norm backward, from x and the saved statistics. Per (n, group) of M = C / G * H * W
/// elements, with x^ = (x - mean) * rstd and g = dy * gamma[c]:
/// dx += rstd * (g - mean(g) - x^ * mean(g * x^)); dgamma[c] += sum of dy * x^ over n, h, w;
/// dbeta[c] += sum of dy over n, h, w.
///
/// x, dy, dx: [N, C, H, W]; gamma, dgamma, dbeta: [C]; statistics: [N, G, 2]
public func groupNormBackward(
    x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, statistics: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int, groups: Int
) {
    checkGroupNormShape("groupNormBackward", batch: batch, channels: channels, height: height, width: width, groups: groups)
    let planeSize = height * width, channelsPerGroup = channels / groups
    let groupSize = Double(channelsPerGroup * planeSize)
    for n in 0..<batch {
        for g in 0..<groups {
            let firstChannel = g * channelsPerGroup
            let mean = statistics[2 * (n * groups + g)], reciprocalStd = statistics[2 * (n * groups + g) + 1]
            let means = FloatVector(repeating: mean)
            // Pass 1: per-channel sums give the parameter gradients and the group sums.
            var sumScaled = 0.0, sumScaledNormalized = 0.0
            for c in firstChannel..<(firstChannel + channelsPerGroup) {
                let plane = (n * channels + c) * planeSize
                let sumGradient = sumVectors(dy + plane, count: planeSize) { $0 }
                let sumGradientNormalized = sumVectors(x + plane, dy + plane, count: planeSize) { ($0 - means) * $1 } * Double(reciprocalStd)
                dgamma[c] += Float(sumGradientNormalized)
                dbeta[c] += Float(sumGradient)
                sumScaled += Double(gamma[c]) * sumGradient
                sumScaledNormalized += Double(gamma[c]) * sumGradientNormalized
            }
            // Pass 2: dx += rstd * gamma[c] * dy - rstd^2 * mean(g * x^) * (x - mean) - rstd * mean(g).
            let centredScale = FloatVector(repeating: Float(-Double(reciprocalStd) * sumScaledNormalized / groupSize) * reciprocalStd)
            let offset = FloatVector(repeating: Float(-Double(reciprocalStd) * sumScaled / groupSize))
            for c in firstChannel..<(firstChannel + channelsPerGroup) {
                let plane = (n * channels + c) * planeSize
                let gradientScale = FloatVector(repeating: reciprocalStd * gamma[c])
                accumulateVectors(x + plane, dy + plane, into: dx + plane, count: planeSize) { input, gradient in
                    offset.addingProduct(gradient, gradientScale).addingProduct(input - means, centredScale)
                }
            }
        }
    }
}

/// Checks the extents and the group count of a group norm.
private func checkGroupNormShape(_ operation: StaticString, batch: Int, channels: Int, height: Int, width: Int, groups: Int) {
    checkExtents(operation, batch: batch, channels: channels, height: height, width: width)
    precondition(groups > 0 && channels >= groups && channels % groups == 0 && height * width > 0,
                 "\(operation): channels \(channels) must split into \(groups) equal groups over a non-empty plane (H \(height) W \(width))")
}
