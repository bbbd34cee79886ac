// Float32 element-wise kernels (add, multiply, scale, per-channel bias, channel concatenation),
// each forward beside its backward, plus the SIMD16 loop helpers the other kernel files share.
// Not broadcasting: shapes must match exactly, except the per-channel bias. N, C, H, W are batch,
// channels, height and width of an NCHW tensor.

typealias FloatVector = SIMD16<Float>

/// Lanes of a `FloatVector`.
let floatVectorLanes = 16
/// Lane numbers 0...15, to mask the lanes of a partial last vector.
let floatVectorLaneIndices = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/// A vector of the `count` (< 16) floats at `source`, zero in the remaining lanes.
@inline(__always)
func loadPartialVector(_ source: UnsafePointer<Float>, count: Int) -> FloatVector {
    var vector = FloatVector()
    for lane in 0..<count { vector[lane] = source[lane] }
    return vector
}

/// Stores the first `count` (< 16) lanes of `vector` at `destination`.
@inline(__always)
func storePartialVector(_ vector: FloatVector, _ destination: UnsafeMutablePointer<Float>, count: Int) {
    for lane in 0..<count { destination[lane] = vector[lane] }
}

/// y[i] = transform(x[i]) over `count` floats, 16 at a time; the last partial vector goes
/// through a zero-padded copy, so the scalar tail computes exactly what the vector body does.
/// `y` may be `x`.
@inline(__always)
func mapVectors(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
    _ transform: (FloatVector) -> FloatVector
) {
    let rawX = UnsafeRawPointer(x), rawY = UnsafeMutableRawPointer(y)
    var i = 0
    while i + floatVectorLanes <= count {
        rawY.storeBytes(of: transform(rawX.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)), toByteOffset: i * 4, as: FloatVector.self)
        i += floatVectorLanes
    }
    if i < count {
        storePartialVector(transform(loadPartialVector(x + i, count: count - i)), y + i, count: count - i)
    }
}

/// y[i] = transform(a[i], b[i]) over `count` floats, 16 at a time, zero-padded last vector.
/// `y` may be `a` or `b`.
@inline(__always)
func mapVectors(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
    _ transform: (FloatVector, FloatVector) -> FloatVector
) {
    let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b), rawY = UnsafeMutableRawPointer(y)
    var i = 0
    while i + floatVectorLanes <= count {
        let left = rawA.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
        let right = rawB.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
        rawY.storeBytes(of: transform(left, right), toByteOffset: i * 4, as: FloatVector.self)
        i += floatVectorLanes
    }
    if i < count {
        let rest = count - i
        storePartialVector(transform(loadPartialVector(a + i, count: rest), loadPartialVector(b + i, count: rest)), y + i, count: rest)
    }
}

/// accumulator[i] += contribution(a[i], b[i]) over `count` floats, 16 at a time, zero-padded
/// last vector. The gradient update every backward pass is made of.
@inline(__always)
func accumulateVectors(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into accumulator: UnsafeMutablePointer<Float>, count: Int,
    _ contribution: (FloatVector, FloatVector) -> FloatVector
) {
    let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b), rawSum = UnsafeMutableRawPointer(accumulator)
    var i = 0
    while i + floatVectorLanes <= count {
        let left = rawA.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
        let right = rawB.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
        let sum = rawSum.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self) + contribution(left, right)
        rawSum.storeBytes(of: sum, toByteOffset: i * 4, as: FloatVector.self)
        i += floatVectorLanes
    }
    if i < count {
        let rest = count - i
        let sum = loadPartialVector(accumulator + i, count: rest)
            + contribution(loadPartialVector(a + i, count: rest), loadPartialVector(b + i, count: rest))
        storePartialVector(sum, accumulator + i, count: rest)
    }
}

/// accumulator[i] += contribution(x[i]); see the two-input `accumulateVectors`.
@inline(__always)
func accumulateVectors(
    _ x: UnsafePointer<Float>, into accumulator: UnsafeMutablePointer<Float>, count: Int,
    _ contribution: (FloatVector) -> FloatVector
) {
    accumulateVectors(x, x, into: accumulator, count: count) { value, _ in contribution(value) }
}

/// Sum over i of term(a[i], b[i]), 16 lanes at a time. Lanes past `count` in the last vector are
/// masked out, so `term(0, 0)` need not be 0. Every 256 vectors the lane sums are folded into a
/// Double, which keeps long reductions (a group-norm group, a bias gradient) accurate.
@inline(__always)
func sumVectors(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int,
    _ term: (FloatVector, FloatVector) -> FloatVector
) -> Double {
    let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
    var total = 0.0
    var lanes = FloatVector()
    var i = 0
    var vectorsInLanes = 0
    while i + floatVectorLanes <= count {
        lanes += term(rawA.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self), rawB.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self))
        i += floatVectorLanes
        vectorsInLanes += 1
        if vectorsInLanes == 256 {
            total += Double(lanes.sum())
            lanes = FloatVector()
            vectorsInLanes = 0
        }
    }
    if i < count {
        let rest = count - i
        var last = term(loadPartialVector(a + i, count: rest), loadPartialVector(b + i, count: rest))
        last.replace(with: 0, where: floatVectorLaneIndices .>= Int32(rest))
        lanes += last
    }
    return total + Double(lanes.sum())
}

/// Sum over i of term(x[i]); see the two-input `sumVectors`.
@inline(__always)
func sumVectors(_ x: UnsafePointer<Float>, count: Int, _ term: (FloatVector) -> FloatVector) -> Double {
    sumVectors(x, x, count: count) { value, _ in term(value) }
}

/// Checks a count is not negative, naming the operation in the message.
@inline(__always)
func checkCount(_ count: Int, _ operation: StaticString) {
    precondition(count >= 0, "\(operation): count must not be negative, got \(count)")
}

/// Checks NCHW extents are not negative, naming the operation in the message.
@inline(__always)
func checkExtents(_ operation: StaticString, batch: Int, channels: Int, height: Int, width: Int) {
    precondition(batch >= 0 && channels >= 0 && height >= 0 && width >= 0,
                 "\(operation): extents must not be negative, got N \(batch) C \(channels) H \(height) W \(width)")
}

// MARK: - add

/// y = a + b, element-wise. `y` may be `a` or `b`.
///
/// a, b, y: [count]
public func addForward(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "addForward")
    mapVectors(a, b, y, count: count) { $0 + $1 }
}

/// da += dy and db += dy. `da` may be `db` (a tensor added to itself gets twice the gradient).
///
/// dy, da, db: [count]
public func addBackward(dy: UnsafePointer<Float>, da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "addBackward")
    accumulateVectors(dy, into: da, count: count) { $0 }
    accumulateVectors(dy, into: db, count: count) { $0 }
}

// MARK: - mul

/// y = a * b, element-wise. `y` may be `a` or `b`.
///
/// a, b, y: [count]
public func mulForward(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    checkCount(count, "mulForward")
    mapVectors(a, b, y, count: count) { $0 * $1 }
}

/// da += dy * b and db += dy * a. `a` may be `b` and `da` may be `db` (x * x gets 2 x dy).
///
/// a, b, dy, da, db: [count]
public func mulBackward(
    a: UnsafePointer<Float>, b: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, count: Int
) {
    checkCount(count, "mulBackward")
    accumulateVectors(dy, b, into: da, count: count) { $0 * $1 }
    accumulateVectors(dy, a, into: db, count: count) { $0 * $1 }
}

// MARK: - scale

/// y = factor * x. `y` may be `x`.
///
/// x, y: [count]
public func scaleForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, factor: Float) {
    checkCount(count, "scaleForward")
    let factors = FloatVector(repeating: factor)
    mapVectors(x, y, count: count) { $0 * factors }
}

/// dx += factor * dy.
///
/// dy, dx: [count]
public func scaleBackward(dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int, factor: Float) {
    checkCount(count, "scaleBackward")
    let factors = FloatVector(repeating: factor)
    accumulateVectors(dy, into: dx, count: count) { $0 * factors }
}

// MARK: - per-channel bias

/// y[n, c, h, w] += bias[c], in place (the usual step after a convolution).
///
/// y: [N, C, H, W]; bias: [C]
public func addBiasForward(
    _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int
) {
    checkExtents("addBiasForward", batch: batch, channels: channels, height: height, width: width)
    let planeSize = height * width
    for n in 0..<batch {
        for c in 0..<channels {
            let plane = y + (n * channels + c) * planeSize
            let shift = FloatVector(repeating: bias[c])
            mapVectors(plane, plane, count: planeSize) { $0 + shift }
        }
    }
}

/// dbias[c] += sum of dy[n, c, h, w] over n, h, w. The gradient of the biased tensor itself is
/// dy unchanged, so the caller passes dy on; nothing else is written.
///
/// dy: [N, C, H, W]; dbias: [C]
public func addBiasBackward(
    dy: UnsafePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int
) {
    checkExtents("addBiasBackward", batch: batch, channels: channels, height: height, width: width)
    let planeSize = height * width
    for c in 0..<channels {
        var total = 0.0
        for n in 0..<batch {
            total += sumVectors(dy + (n * channels + c) * planeSize, count: planeSize) { $0 }
        }
        dbias[c] += Float(total)
    }
}

// MARK: - channel concatenation

/// y = the channels of `first` followed by those of `second`, per batch item.
///
/// first: [N, C1, H, W]; second: [N, C2, H, W]; y: [N, C1 + C2, H, W]
public func concatChannelsForward(
    _ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    batch: Int, firstChannels: Int, secondChannels: Int, height: Int, width: Int
) {
    checkExtents("concatChannelsForward", batch: batch, channels: firstChannels, height: height, width: width)
    checkExtents("concatChannelsForward", batch: batch, channels: secondChannels, height: height, width: width)
    let firstItem = firstChannels * height * width, secondItem = secondChannels * height * width
    for n in 0..<batch {
        let item = y + n * (firstItem + secondItem)
        item.update(from: first + n * firstItem, count: firstItem)
        (item + firstItem).update(from: second + n * secondItem, count: secondItem)
    }
}

/// dfirst += the first C1 channels of dy, dsecond += the remaining C2, per batch item.
///
/// dy: [N, C1 + C2, H, W]; dfirst: [N, C1, H, W]; dsecond: [N, C2, H, W]
public func concatChannelsBackward(
    dy: UnsafePointer<Float>, dfirst: UnsafeMutablePointer<Float>, dsecond: UnsafeMutablePointer<Float>,
    batch: Int, firstChannels: Int, secondChannels: Int, height: Int, width: Int
) {
    checkExtents("concatChannelsBackward", batch: batch, channels: firstChannels, height: height, width: width)
    checkExtents("concatChannelsBackward", batch: batch, channels: secondChannels, height: height, width: width)
    let firstItem = firstChannels * height * width, secondItem = secondChannels * height * width
    for n in 0..<batch {
        let item = dy + n * (firstItem + secondItem)
        accumulateVectors(item, into: dfirst + n * firstItem, count: firstItem) { $0 }
        accumulateVectors(item + firstItem, into: dsecond + n * secondItem, count: secondItem) { $0 }
    }
}
