// Operations of the momentum and non-contrastive methods, each with its backward: the cosine
// loss of BYOL, SimSiam and the latent predictor (targets are constants: the stop-gradient),
// Barlow Twins' cross-correlation loss, MoCo's InfoNCE against a queue of past keys, and batch
// standardisation (batch norm without affine) for their heads. Plain loops over small matrices
// (a few hundred rows); not tuned kernels.
//
// Symbols: N rows, B images (N = 2B when the rows hold two views: rows 0..<B the first views,
// B..<2B the second), P features, K queued keys, tau the temperature.

import Foundation
import ForesightCore
import ForesightNN

/// Normalises the rows of x [rows, p] into u; `inverseNorms` [rows], when given, gets 1 / |x_i|.
private func normalizeRows(_ x: UnsafePointer<Float>, _ u: UnsafeMutablePointer<Float>, inverseNorms: UnsafeMutablePointer<Float>?,
                           rows: Int, p: Int) {
    for i in 0..<rows {
        var norm: Float = 0
        for k in 0..<p { norm += x[i * p + k] * x[i * p + k] }
        let inverse = 1 / max(norm.squareRoot(), 1e-8)
        inverseNorms?[i] = inverse
        for k in 0..<p { u[i * p + k] = x[i * p + k] * inverse }
    }
}

/// Adds to dx [rows, p] the gradient through row normalisation u = x / |x|: (du - u (u . du)) / |x|.
private func normalizeRowsBackward(_ du: UnsafePointer<Float>, u: UnsafePointer<Float>, inverseNorms: UnsafePointer<Float>,
                                   into dx: UnsafeMutablePointer<Float>, rows: Int, p: Int) {
    for i in 0..<rows {
        var projection: Float = 0
        for k in 0..<p { projection += u[i * p + k] * du[i * p + k] }
        for k in 0..<p { dx[i * p + k] += (du[i * p + k] - u[i * p + k] * projection) * inverseNorms[i] }
    }
}

/// The prediction loss of BYOL and SimSiam: predictions p [N, P] and targets t [N, P] -> a scalar,
/// the mean over rows of 2 - 2 cos(p_i, t_j), the normalised squared distance |p/|p| - t/|t||^2.
/// With `.otherView`, row i is paired with target row j = (i + N/2) mod N (each view predicts
/// the other's target: the symmetrised loss); with `.sameRow`, j = i. No gradient reaches the
/// targets, even when they come from the same program: they are the stop-gradient branch.
///
/// ```swift
/// let loss = try graph.apply(CosinePredictionLossOperation(pairing: .otherView), [predictions, targets], name: "loss")
/// ```
public final class CosinePredictionLossOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    /// Which target row each prediction row is compared with.
    public enum Pairing: Sendable { case sameRow, otherView }
    public let pairing: Pairing
    /// Mean cosine similarity of the pairs in the last forward pass (1: perfect prediction).
    public private(set) var meanCosine: Float = 0
    private var rows = 0, features = 0
    private var binding: Binding?

    public init(pairing: Pairing) { self.pairing = pairing }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 2 && inputs[0].rank == 2 && inputs[0] == inputs[1] && dtypes.allSatisfy { $0 == .float32 },
                  "cosinePredictionLoss", expected: "two float32 inputs of one shape [N, P]", got: "\(inputs)")
        if pairing == .otherView {
            try require(inputs[0][0] % 2 == 0, "cosinePredictionLoss", expected: "an even number of rows (two views)", got: "\(inputs[0])")
        }
        rows = inputs[0][0]; features = inputs[0][1]
        return [1]
    }

    /// Normalised predictions [N, P], their inverse norms [N], normalised targets [N, P].
    public var savedFloats: Int { 2 * rows * features + rows }
    /// du [N, P].
    public func scratchFloats(threads: Int) -> Int { rows * features }
    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { 3 * rows * features }
    public func bind(_ binding: Binding) { self.binding = binding }

    private func partner(_ i: Int) -> Int { pairing == .sameRow ? i : (i + rows / 2) % rows }

    public func forward(pool: ThreadPool) {
        let p = binding!.inputs[0].floatPointer, t = binding!.inputs[1].floatPointer, saved = binding!.saved!
        let n = rows, d = features
        let u = saved, inverseNorms = saved + n * d, targets = inverseNorms + n
        normalizeRows(p, u, inverseNorms: inverseNorms, rows: n, p: d)
        normalizeRows(t, targets, inverseNorms: nil, rows: n, p: d)
        var total: Double = 0
        for i in 0..<n {
            let j = partner(i)
            var cosine: Float = 0
            for k in 0..<d { cosine += u[i * d + k] * targets[j * d + k] }
            total += Double(cosine)
        }
        meanCosine = Float(total / Double(n))
        binding!.output.floatPointer[0] = 2 - 2 * meanCosine
    }

    public func backward(pool: ThreadPool) {
        guard let dp = binding!.inputGradients[0]?.floatPointer else { return }
        let saved = binding!.saved!, du = binding!.scratch!
        let n = rows, d = features
        let u = saved, inverseNorms = saved + n * d, targets = inverseNorms + n
        let g = -2 * binding!.outputGradient!.floatPointer[0] / Float(n)
        for i in 0..<n {
            let j = partner(i)
            for k in 0..<d { du[i * d + k] = g * targets[j * d + k] }
        }
        normalizeRowsBackward(du, u: u, inverseNorms: inverseNorms, into: dp, rows: n, p: d)
    }
}

/// Standardises each column of x [n, p] over its n rows (mean 0, biased deviation 1, 1e-5
/// added to the variance) into y, and keeps each column's inverse deviation [p].
private func standardizeColumns(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                                inverseDeviations: UnsafeMutablePointer<Float>, rows n: Int, columns p: Int) {
    for j in 0..<p {
        var mean: Float = 0
        for i in 0..<n { mean += x[i * p + j] }
        mean /= Float(n)
        var squares: Float = 0
        for i in 0..<n { let c = x[i * p + j] - mean; squares += c * c }
        let inverse = 1 / (squares / Float(n) + 1e-5).squareRoot()
        inverseDeviations[j] = inverse
        for i in 0..<n { y[i * p + j] = (x[i * p + j] - mean) * inverse }
    }
}

/// The backward of `standardizeColumns` from its output y and the gradient dy:
/// dx += (dy - mean(dy) - y mean(dy y)) / deviation, per column.
private func standardizeColumnsBackward(_ dy: UnsafePointer<Float>, y: UnsafePointer<Float>, inverseDeviations: UnsafePointer<Float>,
                                        into dx: UnsafeMutablePointer<Float>, rows n: Int, columns p: Int) {
    for j in 0..<p {
        var meanGradient: Float = 0, meanProduct: Float = 0
        for i in 0..<n { meanGradient += dy[i * p + j]; meanProduct += dy[i * p + j] * y[i * p + j] }
        meanGradient /= Float(n); meanProduct /= Float(n)
        for i in 0..<n { dx[i * p + j] += (dy[i * p + j] - meanGradient - y[i * p + j] * meanProduct) * inverseDeviations[j] }
    }
}

/// Barlow Twins' loss (Zbontar et al. 2021): z [2B, P] -> a scalar. Each view's columns are
/// standardised over the batch (a = rows 0..<B, b = rows B..<2B; mean 0, biased deviation 1),
/// C = a^T b / B [P, P] is their cross-correlation, and the loss is
/// sum_j (1 - C_jj)^2 + offDiagonalWeight * sum_{j != k} C_jk^2.
///
/// ```swift
/// let loss = try graph.apply(BarlowTwinsOperation(offDiagonalWeight: 5e-3), [projections], name: "loss")   // [256, 64]
/// ```
public final class BarlowTwinsOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    /// lambda: the weight of the redundancy (off-diagonal) term.
    public let offDiagonalWeight: Float
    /// The two terms of the last forward pass, unweighted.
    public private(set) var terms: (invariance: Float, redundancy: Float) = (0, 0)
    private var rows = 0, features = 0
    private var binding: Binding?

    public init(offDiagonalWeight: Float = 5e-3) {
        precondition(offDiagonalWeight >= 0 && offDiagonalWeight.isFinite, "Barlow Twins off-diagonal weight must be finite and not negative, got \(offDiagonalWeight)")
        self.offDiagonalWeight = offDiagonalWeight
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 1 && inputs[0].rank == 2 && dtypes[0] == .float32, "barlowTwins",
                  expected: "one float32 input [2B, P]", got: "\(inputs)")
        try require(inputs[0][0] >= 4 && inputs[0][0] % 2 == 0, "barlowTwins", expected: "an even number of rows, at least 4 (two views of B >= 2)", got: "\(inputs[0])")
        rows = inputs[0][0]; features = inputs[0][1]
        return [1]
    }

    /// Standardised views [2B, P], inverse deviations [2, P], cross-correlation [P, P].
    public var savedFloats: Int { rows * features + 2 * features + features * features }
    /// Gradients of the standardised views [2B, P].
    public func scratchFloats(threads: Int) -> Int { rows * features }
    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { rows * features * features }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let z = binding!.inputs[0].floatPointer, saved = binding!.saved!
        let half = rows / 2, p = features
        let standardized = saved, inverseDeviations = saved + rows * p, correlation = inverseDeviations + 2 * p
        for view in 0..<2 {
            standardizeColumns(z + view * half * p, into: standardized + view * half * p, inverseDeviations: inverseDeviations + view * p,
                               rows: half, columns: p)
        }
        let a = standardized, b = standardized + half * p
        var invariance: Double = 0, redundancy: Double = 0
        for j in 0..<p {
            for k in 0..<p {
                var sum: Float = 0
                for i in 0..<half { sum += a[i * p + j] * b[i * p + k] }
                let c = sum / Float(half)
                correlation[j * p + k] = c
                if j == k { invariance += Double((1 - c) * (1 - c)) } else { redundancy += Double(c * c) }
            }
        }
        terms = (Float(invariance), Float(redundancy))
        binding!.output.floatPointer[0] = Float(invariance + Double(offDiagonalWeight) * redundancy)
    }

    public func backward(pool: ThreadPool) {
        guard let dz = binding!.inputGradients[0]?.floatPointer else { return }
        let saved = binding!.saved!, ds = binding!.scratch!
        let g = binding!.outputGradient!.floatPointer[0]
        let half = rows / 2, p = features
        let standardized = saved, inverseDeviations = saved + rows * p, correlation = inverseDeviations + 2 * p
        let a = standardized, b = standardized + half * p, da = ds, db = ds + half * p
        // dL/dC_jk = G_jk: -2 (1 - C_jj) on the diagonal, 2 lambda C_jk off it; C = a^T b / B.
        func gradient(_ j: Int, _ k: Int) -> Float {
            let c = correlation[j * p + k]
            return j == k ? -2 * (1 - c) : 2 * offDiagonalWeight * c
        }
        let scale = g / Float(half)
        for i in 0..<half {
            for j in 0..<p {
                var sumA: Float = 0, sumB: Float = 0
                for k in 0..<p {
                    sumA += gradient(j, k) * b[i * p + k]   // da_ij = sum_k G_jk b_ik / B
                    sumB += gradient(k, j) * a[i * p + k]   // db_ij = sum_k G_kj a_ik / B
                }
                da[i * p + j] = scale * sumA
                db[i * p + j] = scale * sumB
            }
        }
        // Through the standardisation of each view's columns.
        for view in 0..<2 {
            standardizeColumnsBackward(ds + view * half * p, y: standardized + view * half * p, inverseDeviations: inverseDeviations + view * p,
                                       into: dz + view * half * p, rows: half, columns: p)
        }
    }
}

/// MoCo's InfoNCE (He et al. 2020): queries q [N, P], their keys k [N, P] (row i is q_i's
/// positive) and a queue of past keys [K, P] -> a scalar. Every row is L2-normalised; row i's
/// logits are (q_i . k_i, q_i . queue_0, ..., q_i . queue_{K-1}) / tau and the loss is the mean
/// cross-entropy with the positive first. Gradient reaches only the queries: keys and queue come
/// from the momentum encoder. After each forward, `accuracy` is the fraction of rows whose key
/// beat every queued key.
///
/// ```swift
/// let loss = try graph.apply(QueueInfoNCEOperation(temperature: 0.2), [queries, keys, queue], name: "loss")
/// ```
public final class QueueInfoNCEOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    /// tau: logits are cosine similarities divided by it.
    public let temperature: Float
    /// Fraction of rows whose key had the largest logit, in the last forward pass.
    public private(set) var accuracy: Float = 0
    private var rows = 0, features = 0, queued = 0
    private var binding: Binding?

    public init(temperature: Float = 0.2) {
        precondition(temperature > 0 && temperature.isFinite, "InfoNCE temperature must be positive and finite, got \(temperature)")
        self.temperature = temperature
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 3 && inputs.allSatisfy { $0.rank == 2 } && dtypes.allSatisfy { $0 == .float32 }, "queueInfoNCE",
                  expected: "three float32 inputs: queries [N, P], keys [N, P], queue [K, P]", got: "\(inputs)")
        try require(inputs[0] == inputs[1] && inputs[2][1] == inputs[0][1] && inputs[2][0] >= 1, "queueInfoNCE",
                  expected: "queries and keys of one shape [N, P] and a queue [K >= 1, P]", got: "\(inputs)")
        rows = inputs[0][0]; features = inputs[0][1]; queued = inputs[2][0]
        return [1]
    }

    /// Normalised queries [N, P], their inverse norms [N], normalised keys [N, P], normalised
    /// queue [K, P], probabilities [N, K + 1].
    public var savedFloats: Int { 2 * rows * features + rows + queued * features + rows * (queued + 1) }
    /// du [N, P].
    public func scratchFloats(threads: Int) -> Int { rows * features }
    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { rows * (queued + 1) * features }
    public func bind(_ binding: Binding) { self.binding = binding }

    private var memory: (u: UnsafeMutablePointer<Float>, inverseNorms: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>,
                         queue: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>) {
        let u = binding!.saved!, n = rows, p = features
        let inverseNorms = u + n * p, keys = inverseNorms + n, queue = keys + n * p
        return (u, inverseNorms, keys, queue, queue + queued * p)
    }

    public func forward(pool: ThreadPool) {
        let inputs = binding!.inputs, memory = memory
        let n = rows, p = features, columns = queued + 1
        normalizeRows(inputs[0].floatPointer, memory.u, inverseNorms: memory.inverseNorms, rows: n, p: p)
        normalizeRows(inputs[1].floatPointer, memory.keys, inverseNorms: nil, rows: n, p: p)
        normalizeRows(inputs[2].floatPointer, memory.queue, inverseNorms: nil, rows: queued, p: p)
        let inverseTemperature = 1 / temperature
        var total: Double = 0
        var correct = 0
        for i in 0..<n {
            let row = memory.probabilities + i * columns, u = memory.u + i * p
            var positive: Float = 0
            for k in 0..<p { positive += u[k] * memory.keys[i * p + k] }
            row[0] = positive * inverseTemperature
            var maximum = row[0], negativeMaximum = -Float.infinity
            for j in 0..<queued {
                var s: Float = 0
                for k in 0..<p { s += u[k] * memory.queue[j * p + k] }
                row[j + 1] = s * inverseTemperature
                maximum = max(maximum, row[j + 1]); negativeMaximum = max(negativeMaximum, row[j + 1])
            }
            if row[0] > negativeMaximum { correct += 1 }
            var sum: Float = 0
            for j in 0..<columns { row[j] = expf(row[j] - maximum); sum += row[j] }
            total += Double(logf(sum) - logf(row[0]))
            let inverseSum = 1 / sum
            for j in 0..<columns { row[j] *= inverseSum }
        }
        accuracy = Float(correct) / Float(n)
        binding!.output.floatPointer[0] = Float(total / Double(n))
    }

    public func backward(pool: ThreadPool) {
        guard let dq = binding!.inputGradients[0]?.floatPointer else { return }
        let memory = memory, du = binding!.scratch!
        let n = rows, p = features, columns = queued + 1
        let g = binding!.outputGradient!.floatPointer[0] / Float(n) / temperature
        // dlogit_i0 = g (prob_i0 - 1), dlogit_ij = g prob_ij; du_i = sum_j dlogit_ij v_j.
        for i in 0..<n {
            let row = memory.probabilities + i * columns, d = du + i * p
            let positive = g * (row[0] - 1)
            for k in 0..<p { d[k] = positive * memory.keys[i * p + k] }
            for j in 0..<queued {
                let weight = g * row[j + 1]
                for k in 0..<p { d[k] += weight * memory.queue[j * p + k] }
            }
        }
        normalizeRowsBackward(du, u: memory.u, inverseNorms: memory.inverseNorms, into: dq, rows: n, p: p)
    }
}

/// Batch standardisation without learned scale and shift (batch norm in training mode):
/// x [N, P] -> y [N, P] with y_ij = (x_ij - mean_i x_ij) / sqrt(var_i x_ij + 1e-5) (biased
/// variance over the N rows). SimSiam's projector ends in it: a network whose rows must keep
/// a spread cannot map every image to one vector. Not for inference on single images: the
/// statistics are always the batch's own.
///
/// ```swift
/// let standardized = try graph.apply(BatchStandardizeOperation(), [projections], name: "projector.norm")   // [128, 64]
/// ```
public final class BatchStandardizeOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("batch standardisation") }
    private var rows = 0, features = 0
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 1 && inputs[0].rank == 2 && inputs[0][0] >= 2 && dtypes[0] == .float32, "batchStandardize",
                  expected: "one float32 input [N >= 2, P]", got: "\(inputs)")
        rows = inputs[0][0]; features = inputs[0][1]
        return inputs[0]
    }

    /// Inverse deviations [P].
    public var savedFloats: Int { features }
    public var backwardReadsInputs: Bool { false }
    public var backwardReadsOutput: Bool { true }
    public var forwardCost: Int { 3 * rows * features }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        standardizeColumns(binding!.inputs[0].floatPointer, into: binding!.output.floatPointer, inverseDeviations: binding!.saved!,
                           rows: rows, columns: features)
    }

    public func backward(pool: ThreadPool) {
        guard let dx = binding!.inputGradients[0]?.floatPointer else { return }
        standardizeColumnsBackward(binding!.outputGradient!.floatPointer, y: binding!.output.floatPointer, inverseDeviations: binding!.saved!,
                                   into: dx, rows: rows, columns: features)
    }
}
