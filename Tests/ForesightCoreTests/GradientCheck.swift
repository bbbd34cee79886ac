// Shared test helpers: a finite-difference gradient check for any forward/backward pair over
// Float arrays, array comparison with stated tolerances, and seeded random inputs. Not tests of
// kernels themselves; `GradientCheckSelfTests` below shows the check can fail.

import XCTest
@testable import ForesightCore

/// One input element whose analytic and numeric gradients disagree.
struct GradientMismatch: CustomStringConvertible {
    /// Which input array.
    let input: Int
    /// Which element of it.
    let element: Int
    /// What the backward pass added to the gradient.
    let analytic: Double
    /// The central difference.
    let numeric: Double

    var description: String { "input \(input)[\(element)]: analytic \(analytic), numeric \(numeric)" }
}

/// Tolerances of a gradient check.
///
/// The numeric gradient is the central difference (L(x + h) - L(x - h)) / 2h of the scalar
/// L = sum_j r_j y_j, for a random projection r in [-1, 1), with the forward run in Float and L
/// summed in Double. With h = 1e-2 its truncation error is about h^2 / 6 |f'''| (~2e-5 for
/// unit-scale smooth ops) and its rounding error about 6e-8 * sum|r y| / 2h (~3e-4 in the worst
/// case for 100 unit-size outputs, far less in practice). The defaults accept
/// |analytic - numeric| <= 1e-3 + 1e-2 * max(|analytic|, |numeric|): above both errors, and well
/// below what a wrong term in a backward pass changes (typically 0.1 or more of a unit gradient).
/// Non-smooth ops (ReLU, max, abs) need inputs farther than h from their kinks.
struct GradientTolerance {
    /// The finite-difference step h.
    var step: Float = 1e-2
    /// Allowed absolute difference.
    var absolute: Double = 1e-3
    /// Allowed difference relative to the larger gradient magnitude.
    var relative: Double = 1e-2
}

/// Compares the gradient a backward pass accumulates with central differences of the forward.
///
/// `forward` maps the inputs to the outputs y. `backward` gets the inputs, dy = dL/dy and one
/// gradient buffer per input (as many elements as that input), pre-filled with random values:
/// it must *add* dL/dinput to them, as every backward kernel does, and the check subtracts the
/// pre-fill again, so a backward that overwrites fails. Non-float inputs (class indices, argmax)
/// live in the closures. `checkedInputs` limits the check to some inputs (default: all).
///
/// ```swift
/// let mismatches = gradientMismatches(inputs: [x], forward: { inputs in
///     var y = [Float](repeating: 0, count: n); tanhForward(inputs[0], &y, count: n); return y
/// }, backward: { inputs, dy, gradients in
///     var y = [Float](repeating: 0, count: n); tanhForward(inputs[0], &y, count: n)
///     tanhBackward(y: y, dy: dy, dx: gradients[0], count: n)
/// })
/// ```
func gradientMismatches(
    inputs: [[Float]], checkedInputs: [Int]? = nil, tolerance: GradientTolerance = GradientTolerance(), seed: UInt64 = 7,
    forward: ([[Float]]) -> [Float],
    backward: (_ inputs: [[Float]], _ dy: [Float], _ gradients: [UnsafeMutablePointer<Float>]) -> Void
) -> [GradientMismatch] {
    var random = SeededRandom(seed: seed)
    let outputs = forward(inputs)
    let projection = outputs.map { _ in random.nextFloat(in: -1..<1) }
    func loss(_ outputs: [Float]) -> Double {
        precondition(outputs.count == projection.count, "forward returned \(outputs.count) outputs, first \(projection.count)")
        var sum = 0.0
        for (output, weight) in zip(outputs, projection) { sum += Double(output) * Double(weight) }
        return sum
    }

    // Analytic: what backward adds on top of a random pre-fill.
    let prefill = inputs.map { input in input.map { _ in random.nextFloat(in: -0.5..<0.5) } }
    let buffers = prefill.map { values in
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
        buffer.initialize(from: values, count: values.count)
        return buffer
    }
    defer { for buffer in buffers { buffer.deallocate() } }
    backward(inputs, projection, buffers)

    var mismatches: [GradientMismatch] = []
    for inputIndex in checkedInputs ?? Array(inputs.indices) {
        var perturbed = inputs
        for element in inputs[inputIndex].indices {
            let original = inputs[inputIndex][element]
            let above = original + tolerance.step, below = original - tolerance.step
            perturbed[inputIndex][element] = above
            let lossAbove = loss(forward(perturbed))
            perturbed[inputIndex][element] = below
            let lossBelow = loss(forward(perturbed))
            perturbed[inputIndex][element] = original
            let numeric = (lossAbove - lossBelow) / (Double(above) - Double(below))
            let analytic = Double(buffers[inputIndex][element]) - Double(prefill[inputIndex][element])
            let allowed = tolerance.absolute + tolerance.relative * max(abs(analytic), abs(numeric))
            if !(abs(analytic - numeric) <= allowed) {
                mismatches.append(GradientMismatch(input: inputIndex, element: element, analytic: analytic, numeric: numeric))
            }
        }
    }
    return mismatches
}

/// Fails the calling test when `gradientMismatches` finds any, listing the first few.
func checkGradients(
    inputs: [[Float]], checkedInputs: [Int]? = nil, tolerance: GradientTolerance = GradientTolerance(), seed: UInt64 = 7,
    file: StaticString = #filePath, line: UInt = #line,
    forward: ([[Float]]) -> [Float],
    backward: (_ inputs: [[Float]], _ dy: [Float], _ gradients: [UnsafeMutablePointer<Float>]) -> Void
) {
    let mismatches = gradientMismatches(inputs: inputs, checkedInputs: checkedInputs, tolerance: tolerance, seed: seed,
                                        forward: forward, backward: backward)
    if !mismatches.isEmpty {
        let shown = mismatches.prefix(5).map(\.description).joined(separator: "; ")
        XCTFail("\(mismatches.count) gradient mismatches: \(shown)", file: file, line: line)
    }
}

/// `checkGradients` for a backward that returns fresh gradients (dL/dinput, one array per
/// input) instead of accumulating into buffers; the accumulation itself is then not checked.
func checkGradients(
    inputs: [[Float]], checkedInputs: [Int]? = nil, tolerance: GradientTolerance = GradientTolerance(), seed: UInt64 = 7,
    file: StaticString = #filePath, line: UInt = #line,
    forward: ([[Float]]) -> [Float],
    backwardReturning: (_ inputs: [[Float]], _ dy: [Float]) -> [[Float]]
) {
    checkGradients(inputs: inputs, checkedInputs: checkedInputs, tolerance: tolerance, seed: seed, file: file, line: line,
                   forward: forward) { inputs, dy, gradients in
        let fresh = backwardReturning(inputs, dy)
        for (index, values) in fresh.enumerated() {
            precondition(values.count == inputs[index].count, "gradient \(index) has \(values.count) elements, input \(inputs[index].count)")
            for (element, value) in values.enumerated() { gradients[index][element] += value }
        }
    }
}

/// Fails unless |actual - expected| <= absolute + relative * |expected| for every element (and
/// NaN only where NaN is expected).
func assertClose(
    _ actual: [Float], _ expected: [Double], absolute: Double, relative: Double = 0, _ what: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("\(what): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    var failures: [String] = []
    for (index, (value, reference)) in zip(actual, expected).enumerated() {
        let agrees = reference.isNaN ? value.isNaN
            : abs(Double(value) - reference) <= absolute + relative * abs(reference)
        if !agrees { failures.append("[\(index)] \(value) vs \(reference)") }
    }
    if !failures.isEmpty {
        XCTFail("\(what): \(failures.count) of \(actual.count) differ: \(failures.prefix(5).joined(separator: ", "))", file: file, line: line)
    }
}

/// `assertClose` against a Float reference.
func assertClose(
    _ actual: [Float], _ expected: [Float], absolute: Double, relative: Double = 0, _ what: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    assertClose(actual, expected.map(Double.init), absolute: absolute, relative: relative, what, file: file, line: line)
}

/// `count` seeded uniform values in `range`.
func randomFloats(_ count: Int, seed: UInt64, in range: Range<Float> = -1..<1) -> [Float] {
    var random = SeededRandom(seed: seed)
    return (0..<count).map { _ in random.nextFloat(in: range) }
}

/// `count` seeded values of random sign with magnitude in [margin, 1): never within `margin` of 0,
/// for ops with a kink there.
func randomFloatsAwayFromZero(_ count: Int, seed: UInt64, margin: Float = 0.1) -> [Float] {
    var random = SeededRandom(seed: seed)
    return (0..<count).map { _ in
        let magnitude = random.nextFloat(in: margin..<1)
        return random.nextFloat() < 0.5 ? -magnitude : magnitude
    }
}

/// A gradient check that is wrong must be caught: these tests hold the helper itself to account.
final class GradientCheckSelfTests: XCTestCase {
    private let input = randomFloats(12, seed: 1)

    private func square(_ inputs: [[Float]]) -> [Float] { inputs[0].map { $0 * $0 } }

    func testCorrectBackwardPasses() {
        let mismatches = gradientMismatches(inputs: [input], forward: square) { inputs, dy, gradients in
            for i in inputs[0].indices { gradients[0][i] += 2 * inputs[0][i] * dy[i] }
        }
        XCTAssertEqual(mismatches.count, 0, "\(mismatches)")
    }

    func testWrongBackwardIsCaught() {
        let mismatches = gradientMismatches(inputs: [input], forward: square) { inputs, dy, gradients in
            for i in inputs[0].indices { gradients[0][i] += 1.9 * inputs[0][i] * dy[i] }
        }
        XCTAssertGreaterThan(mismatches.count, 6)
    }

    func testOverwritingBackwardIsCaught() {
        let mismatches = gradientMismatches(inputs: [input], forward: square) { inputs, dy, gradients in
            for i in inputs[0].indices { gradients[0][i] = 2 * inputs[0][i] * dy[i] }
        }
        XCTAssertGreaterThan(mismatches.count, 6)
    }

    func testReturningFormAddsItsGradients() {
        checkGradients(inputs: [input], forward: square) { inputs, dy in
            [inputs[0].indices.map { 2 * inputs[0][$0] * dy[$0] }]
        }
    }
}
