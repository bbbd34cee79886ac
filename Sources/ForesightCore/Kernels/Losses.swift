// Float32 losses (mean squared error, mean absolute error, softmax cross-entropy), each forward
// beside its backward. Forwards return the mean loss, summed in Double; backwards add
// scale * d(loss)/d(prediction), where `scale` is the upstream gradient of the loss (normally 1).
// Not reductions other than the mean, no class weights, no ignored targets, no label smoothing.
// N is the batch size (the rows of the logits).

import Foundation

// MARK: - mean squared error

/// mean((prediction - target)^2) over `count` (> 0) elements.
///
/// prediction, target: [count]
public func meanSquaredErrorForward(_ prediction: UnsafePointer<Float>, _ target: UnsafePointer<Float>, count: Int) -> Float {
    precondition(count > 0, "meanSquaredErrorForward: the mean of \(count) elements is undefined")
    return meanSquaredDifference(prediction, target, count: count)
}

/// The mean squared difference of two frames (or any two runs of `count` values), the error of
/// predicting `b` by `a`: the score the live learner, imagination and the planner print and
/// compare (0 for `count` 0).
public func meanSquaredDifference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    Float(sumOfSquaredDifferences(a, b, count: count) / Double(max(1, count)))
}

/// The sum of (a[i] - b[i])^2 over `count` elements, in double precision, in eight lanes side by
/// side (one running sum would wait on each addition).
public func sumOfSquaredDifferences(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    var sums = SIMD8<Double>(repeating: 0)
    var i = 0
    while i + 8 <= count {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        let difference = SIMD8<Double>(x) - SIMD8<Double>(y)
        sums += difference * difference
        i += 8
    }
    var sum = sums.sum()
    while i < count {
        let difference = Double(a[i]) - Double(b[i])
        sum += difference * difference
        i += 1
    }
    return sum
}

/// dprediction += scale * 2 (prediction - target) / count. The gradient for the target, when the
/// target is itself learned, is the negative of this.
///
/// prediction, target, dprediction: [count]
public func meanSquaredErrorBackward(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, dprediction: UnsafeMutablePointer<Float>,
    count: Int, scale: Float = 1
) {
    precondition(count > 0, "meanSquaredErrorBackward: the mean of \(count) elements is undefined")
    let factor = FloatVector(repeating: scale * 2 / Float(count))
    accumulateVectors(prediction, target, into: dprediction, count: count) { ($0 - $1) * factor }
}

// MARK: - mean absolute error (L1)

/// The L1 loss, mean(|prediction - target|) over `count` (> 0) elements.
///
/// prediction, target: [count]
public func meanAbsoluteErrorForward(_ prediction: UnsafePointer<Float>, _ target: UnsafePointer<Float>, count: Int) -> Float {
    precondition(count > 0, "meanAbsoluteErrorForward: the mean of \(count) elements is undefined")
    var sum = 0.0
    for i in 0..<count { sum += abs(Double(prediction[i]) - Double(target[i])) }
    return Float(sum / Double(count))
}

/// dprediction += scale * sign(prediction - target) / count, with sign(0) = 0 (as PyTorch).
///
/// prediction, target, dprediction: [count]
public func meanAbsoluteErrorBackward(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, dprediction: UnsafeMutablePointer<Float>,
    count: Int, scale: Float = 1
) {
    precondition(count > 0, "meanAbsoluteErrorBackward: the mean of \(count) elements is undefined")
    let factor = scale / Float(count)
    accumulateVectors(prediction, target, into: dprediction, count: count) { predicted, wanted in
        let difference = predicted - wanted
        return FloatVector().replacing(with: factor, where: difference .> 0).replacing(with: -factor, where: difference .< 0)
    }
}

// MARK: - cross-entropy

/// Softmax cross-entropy from logits, mean over the batch:
/// mean over n of (log(sum_j exp(logits[n, j])) - logits[n, targets[n]]), computed stably as
/// max + log(sum exp(logits - max)) in Double. Saves statistics[n] = (row maximum,
/// log(sum_j exp(logits[n, j] - maximum))) for the backward pass. Every target must lie in
/// 0..<classes (a precondition).
///
/// ```swift
/// let loss = crossEntropyForward(logits: scores, targets: labels, statistics: saved, rows: 32, classes: 10)
/// crossEntropyBackward(logits: scores, targets: labels, statistics: saved, dlogits: grads, rows: 32, classes: 10)
/// ```
///
/// logits: [N, classes]; targets: [N]; statistics: [N, 2] (written)
public func crossEntropyForward(
    logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, statistics: UnsafeMutablePointer<Float>,
    rows: Int, classes: Int
) -> Float {
    precondition(rows > 0 && classes > 0, "crossEntropyForward: need rows > 0 and classes > 0, got rows \(rows) classes \(classes)")
    var total = 0.0
    for n in 0..<rows {
        let row = logits + n * classes
        let target = Int(targets[n])
        precondition(target >= 0 && target < classes, "crossEntropyForward: target \(target) of row \(n) is outside 0..<\(classes)")
        var maximum = -Float.infinity
        for j in 0..<classes where row[j] > maximum { maximum = row[j] }
        var sum = 0.0
        for j in 0..<classes { sum += exp(Double(row[j]) - Double(maximum)) }
        let logSum = log(sum)
        statistics[2 * n] = maximum
        statistics[2 * n + 1] = Float(logSum)
        total += Double(maximum) + logSum - Double(row[target])
    }
    return Float(total / Double(rows))
}

/// dlogits[n, j] += scale * (softmax(logits[n])[j] - (j == targets[n] ? 1 : 0)) / N, the
/// softmax rebuilt from the saved statistics.
///
/// logits, dlogits: [N, classes]; targets: [N]; statistics: [N, 2] from the forward pass
public func crossEntropyBackward(
    logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, statistics: UnsafePointer<Float>,
    dlogits: UnsafeMutablePointer<Float>, rows: Int, classes: Int, scale: Float = 1
) {
    precondition(rows > 0 && classes > 0, "crossEntropyBackward: need rows > 0 and classes > 0, got rows \(rows) classes \(classes)")
    let factor = scale / Float(rows)
    let factors = FloatVector(repeating: factor)
    for n in 0..<rows {
        let target = Int(targets[n])
        precondition(target >= 0 && target < classes, "crossEntropyBackward: target \(target) of row \(n) is outside 0..<\(classes)")
        let maximum = FloatVector(repeating: statistics[2 * n]), logSum = FloatVector(repeating: statistics[2 * n + 1])
        let row = logits + n * classes
        accumulateVectors(row, into: dlogits + n * classes, count: classes) { factors * vectorExp(($0 - maximum) - logSum) }
        dlogits[n * classes + target] -= factor
    }
}
