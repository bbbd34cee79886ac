// Optimizers over flat parameter blocks: each states how much state it keeps per element
// and how one block is updated. Hyper-parameters are checked when an optimizer is made.

import Foundation
import ForesightCore

/// Updates parameters from their gradients.
///
/// ```swift
/// let adam = try Adam(learningRate: 1e-3)
/// let program = try Program(graph, loss: loss, optimizer: adam)
/// ```
public protocol Optimizer: AnyObject {
    /// Floats of state kept per parameter element (momentum, moments).
    var stateFloatsPerElement: Int { get }
    /// Step size; may be lowered while training (for example after a rolled-back step).
    var learningRate: Float { get set }
    /// Called once per step before the blocks are updated.
    func beginStep()
    /// Updates `count` elements of one parameter; `state` holds `count * stateFloatsPerElement` floats.
    func update(parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>, count: Int)
    /// Steps taken so far (restored from checkpoints).
    var stepCount: Int { get set }
}


private func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ModelError.invalidOptimizerSetting(message()) }
}

/// Stochastic gradient descent with momentum (PyTorch's formulation) and L2 weight decay.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let weightDecay: Float
    public var stepCount = 0
    public var stateFloatsPerElement: Int { momentum == 0 ? 0 : 1 }

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) throws {
        try check(learningRate > 0 && learningRate.isFinite, "SGD learning rate must be positive and finite (got \(learningRate))")
        try check(momentum >= 0 && momentum < 1, "SGD momentum must be in [0, 1) (got \(momentum))")
        try check(weightDecay >= 0 && weightDecay.isFinite, "SGD weight decay must not be negative (got \(weightDecay))")
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    public func beginStep() { stepCount += 1 }

    public func update(parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            var g = gradient[i] + weightDecay * parameter[i]
            if momentum > 0 {
                // First step: the buffer starts as the gradient itself.
                state[i] = stepCount == 1 ? g : momentum * state[i] + g
                g = state[i]
            }
            parameter[i] -= learningRate * g
        }
    }
}

/// Adam (Kingma and Ba, 2015), with bias correction; `decoupledWeightDecay` makes it AdamW
/// (Loshchilov and Hutter, 2019).
public class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    /// AdamW's decay: parameters shrink by learningRate * decay each step, apart from the gradient.
    public let decoupledWeightDecay: Float
    public var stepCount = 0
    public var stateFloatsPerElement: Int { 2 }
    private var correction1: Float = 1
    private var correction2: Float = 1

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, decoupledWeightDecay: Float = 0) throws {
        try check(learningRate > 0 && learningRate.isFinite, "Adam learning rate must be positive and finite (got \(learningRate))")
        try check(beta1 >= 0 && beta1 < 1, "Adam beta1 must be in [0, 1) (got \(beta1))")
        try check(beta2 >= 0 && beta2 < 1, "Adam beta2 must be in [0, 1) (got \(beta2))")
        try check(epsilon > 0, "Adam epsilon must be positive (got \(epsilon))")
        try check(decoupledWeightDecay >= 0 && decoupledWeightDecay.isFinite, "weight decay must not be negative (got \(decoupledWeightDecay))")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    public func beginStep() {
        stepCount += 1
        correction1 = 1 - Float(pow(Double(beta1), Double(stepCount)))
        correction2 = 1 - Float(pow(Double(beta2), Double(stepCount)))
    }

    /// state: [count] first moments, then [count] second moments.
    public func update(parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>, count: Int) {
        typealias V = SIMD16<Float>
        let first = state, second = state + count
        let stepSize = learningRate / correction1
        let secondScale = 1 / correction2.squareRoot()
        let shrink = 1 - learningRate * decoupledWeightDecay
        var i = 0
        let raw = (p: UnsafeMutableRawPointer(parameter), g: UnsafeRawPointer(gradient),
                   m: UnsafeMutableRawPointer(first), v: UnsafeMutableRawPointer(second))
        while i + 16 <= count {
            let offset = i * 4
            let g = raw.g.loadUnaligned(fromByteOffset: offset, as: V.self)
            let m = V(repeating: beta1) * raw.m.loadUnaligned(fromByteOffset: offset, as: V.self) + V(repeating: 1 - beta1) * g
            let v = V(repeating: beta2) * raw.v.loadUnaligned(fromByteOffset: offset, as: V.self) + V(repeating: 1 - beta2) * g * g
            raw.m.storeBytes(of: m, toByteOffset: offset, as: V.self)
            raw.v.storeBytes(of: v, toByteOffset: offset, as: V.self)
            let denominator = v.squareRoot() * V(repeating: secondScale) + V(repeating: epsilon)
            let p = raw.p.loadUnaligned(fromByteOffset: offset, as: V.self) * V(repeating: shrink) - V(repeating: stepSize) * m / denominator
            raw.p.storeBytes(of: p, toByteOffset: offset, as: V.self)
            i += 16
        }
        while i < count {
            let g = gradient[i]
            first[i] = beta1 * first[i] + (1 - beta1) * g
            second[i] = beta2 * second[i] + (1 - beta2) * g * g
            let denominator = second[i].squareRoot() * secondScale + epsilon
            parameter[i] = parameter[i] * shrink - stepSize * first[i] / denominator
            i += 1
        }
    }
}

/// AdamW: Adam with decoupled weight decay (default 0.01, as in PyTorch).
public final class AdamW: Adam {
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) throws {
        try super.init(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, decoupledWeightDecay: weightDecay)
    }
}
