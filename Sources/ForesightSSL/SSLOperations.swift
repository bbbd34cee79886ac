// Graph operations the self-supervised objectives need and ForesightNN lacks: global average
// pooling to a feature vector (also over a weighted region), SimCLR's NT-Xent loss and VICReg's loss, each with its
// backward. Plain loops over small matrices (a few hundred rows); not tuned kernels.
//
// Symbols: N rows (two views of B images: rows 0..<B are the first views, B..<2B the second),
// P features, tau the temperature.

import Foundation
import ForesightCore
import ForesightNN

/// Mean over the spatial axes: x [N, C, H, W] -> [N, C].
///
/// ```swift
/// let features = try graph.apply(GlobalAveragePoolOperation(), [h], name: "pool")   // [8, 64, 4, 4] -> [8, 64]
/// ```
public final class GlobalAveragePoolOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("global average pooling") }
    private var rows = 0, area = 0
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 1 && inputs[0].rank == 4 && dtypes[0] == .float32, "globalAveragePool",
                  expected: "one float32 input [N, C, H, W]", got: "\(inputs)")
        rows = inputs[0][0] * inputs[0][1]
        area = inputs[0][2] * inputs[0][3]
        return try Shape([inputs[0][0], inputs[0][1]])
    }

    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { rows * area }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let x = binding!.inputs[0].floatPointer, y = binding!.output.floatPointer
        let scale = 1 / Float(area)
        for row in 0..<rows {
            var sum: Float = 0
            for i in 0..<area { sum += x[row * area + i] }
            y[row] = sum * scale
        }
    }

    public func backward(pool: ThreadPool) {
        guard let dx = binding!.inputGradients[0]?.floatPointer else { return }
        let dy = binding!.outputGradient!.floatPointer
        let scale = 1 / Float(area)
        for row in 0..<rows {
            let g = dy[row] * scale
            for i in 0..<area { dx[row * area + i] += g }
        }
    }
}

/// Weighted mean over the spatial axes, one weight map per item: x [N, C, H, W] and weights
/// [N, 1, H, W] (not negative, an input: no gradient) -> [N, C], each the sum of x times the
/// weights over the sum of the weights (0 where every weight is 0). JEPA pools a region with it.
///
/// ```swift
/// let region = try graph.apply(MaskedAveragePoolOperation(), [maps, blockWeights], name: "region")   // [8, 32, 4, 4] -> [8, 32]
/// ```
public final class MaskedAveragePoolOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("masked average pooling") }
    private var items = 0, channels = 0, area = 0
    private var binding: Binding?

    public init() {}

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 2 && inputs[0].rank == 4 && dtypes[0] == .float32 && dtypes[1] == .float32
                  && inputs[1].dims == [inputs[0][0], 1, inputs[0][2], inputs[0][3]], "maskedAveragePool",
                  expected: "float32 x [N, C, H, W] and weights [N, 1, H, W]", got: "\(inputs)")
        items = inputs[0][0]; channels = inputs[0][1]; area = inputs[0][2] * inputs[0][3]
        return try Shape([items, channels])
    }

    public var forwardCost: Int { items * channels * area }
    public func bind(_ binding: Binding) { self.binding = binding }

    /// 1 / sum of item n's weights, or 0 when they sum to 0.
    private func inverseTotal(_ weights: UnsafePointer<Float>, item n: Int) -> Float {
        var total: Float = 0
        for i in 0..<area { total += weights[n * area + i] }
        return total > 0 ? 1 / total : 0
    }

    public func forward(pool: ThreadPool) {
        let x = binding!.inputs[0].floatPointer, w = binding!.inputs[1].floatPointer, y = binding!.output.floatPointer
        for n in 0..<items {
            let scale = inverseTotal(w, item: n), weights = w + n * area
            for c in 0..<channels {
                let plane = x + (n * channels + c) * area
                var sum: Float = 0
                for i in 0..<area { sum += plane[i] * weights[i] }
                y[n * channels + c] = sum * scale
            }
        }
    }

    public func backward(pool: ThreadPool) {
        guard let dx = binding!.inputGradients[0]?.floatPointer else { return }
        let w = binding!.inputs[1].floatPointer, dy = binding!.outputGradient!.floatPointer
        for n in 0..<items {
            let scale = inverseTotal(w, item: n), weights = w + n * area
            for c in 0..<channels {
                let g = dy[n * channels + c] * scale, plane = dx + (n * channels + c) * area
                for i in 0..<area { plane[i] += g * weights[i] }
            }
        }
    }
}

/// SimCLR's NT-Xent (Chen et al. 2020): z [2B, P] -> a scalar. Rows are L2-normalised to u;
/// row i's logits are u_i . u_j / tau over every j != i, its positive is its other view
/// (i + B mod 2B), and the loss is the mean cross-entropy over all 2B rows. After each
/// forward, `accuracy` is the fraction of rows whose positive has the largest logit.
///
/// ```swift
/// let objective = NTXentOperation(temperature: 0.2)
/// let loss = try graph.apply(objective, [projections], name: "ntxent")   // projections [512, 64]
/// ```
public final class NTXentOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    /// tau: logits are cosine similarities divided by it.
    public let temperature: Float
    /// Fraction of rows whose other view was the most similar, in the last forward pass.
    public private(set) var accuracy: Float = 0
    private var rows = 0, features = 0
    private var binding: Binding?

    public init(temperature: Float = 0.2) {
        precondition(temperature > 0 && temperature.isFinite, "NT-Xent temperature must be positive and finite, got \(temperature)")
        self.temperature = temperature
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 1 && inputs[0].rank == 2 && dtypes[0] == .float32, "ntXent",
                  expected: "one float32 input [2B, P]", got: "\(inputs)")
        try require(inputs[0][0] >= 4 && inputs[0][0] % 2 == 0, "ntXent", expected: "an even number of rows, at least 4 (two views of B >= 2)", got: "\(inputs[0])")
        rows = inputs[0][0]; features = inputs[0][1]
        return [1]
    }

    /// u [N, P], inverse norms [N], softmax probabilities [N, N] (diagonal 0).
    public var savedFloats: Int { rows * features + rows + rows * rows }
    /// du [N, P].
    public func scratchFloats(threads: Int) -> Int { rows * features }
    public var backwardReadsInputs: Bool { false }
    public var forwardCost: Int { rows * rows * features }
    public func bind(_ binding: Binding) { self.binding = binding }

    private var memory: (u: UnsafeMutablePointer<Float>, inverseNorms: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>) {
        let u = binding!.saved!
        return (u, u + rows * features, u + rows * features + rows)
    }

    public func forward(pool: ThreadPool) {
        let z = binding!.inputs[0].floatPointer, memory = memory
        let n = rows, p = features, half = rows / 2
        for i in 0..<n {
            var norm: Float = 0
            for k in 0..<p { norm += z[i * p + k] * z[i * p + k] }
            let inverse = 1 / max(norm.squareRoot(), 1e-8)
            memory.inverseNorms[i] = inverse
            for k in 0..<p { memory.u[i * p + k] = z[i * p + k] * inverse }
        }
        var total: Double = 0
        var correct = 0
        let inverseTemperature = 1 / temperature
        for i in 0..<n {
            let row = memory.probabilities + i * n
            var maximum = -Float.infinity
            for j in 0..<n where j != i {
                var s: Float = 0
                for k in 0..<p { s += memory.u[i * p + k] * memory.u[j * p + k] }
                row[j] = s * inverseTemperature
                maximum = max(maximum, row[j])
            }
            let positive = (i + half) % n
            if row[positive] >= maximum { correct += 1 }
            let positiveLogit = row[positive] - maximum
            var sum: Float = 0
            for j in 0..<n where j != i { row[j] = expf(row[j] - maximum); sum += row[j] }
            total += Double(logf(sum) - positiveLogit)
            let inverseSum = 1 / sum
            for j in 0..<n where j != i { row[j] *= inverseSum }
            row[i] = 0
        }
        accuracy = Float(correct) / Float(n)
        binding!.output.floatPointer[0] = Float(total / Double(n))
    }

    public func backward(pool: ThreadPool) {
        guard let dz = binding!.inputGradients[0]?.floatPointer else { return }
        let memory = memory, du = binding!.scratch!
        let n = rows, p = features, half = rows / 2
        let g = binding!.outputGradient!.floatPointer[0] / Float(n) / temperature
        du.update(repeating: 0, count: n * p)
        // dlogit_ij = g (prob_ij - [j = positive(i)]); logit_ij = u_i . u_j / tau feeds both u_i and u_j.
        for i in 0..<n {
            let positive = (i + half) % n
            for j in 0..<n where j != i {
                let d = g * (memory.probabilities[i * n + j] - (j == positive ? 1 : 0))
                for k in 0..<p {
                    du[i * p + k] += d * memory.u[j * p + k]
                    du[j * p + k] += d * memory.u[i * p + k]
                }
            }
        }
        // Through the normalisation: dz = (du - u (u . du)) / |z|.
        for i in 0..<n {
            var projection: Float = 0
            for k in 0..<p { projection += memory.u[i * p + k] * du[i * p + k] }
            for k in 0..<p { dz[i * p + k] += (du[i * p + k] - memory.u[i * p + k] * projection) * memory.inverseNorms[i] }
        }
    }
}

/// VICReg's loss (Bardes et al. 2022): z [2B, P] -> a scalar, with a = rows 0..<B and
/// b = rows B..<2B the two views' embeddings:
/// invariance * mean((a - b)^2) + variance * (v(a) + v(b)) + covariance * (c(a) + c(b)), where
/// v(x) = mean over features of max(0, 1 - sqrt(var_j(x) + 1e-4)) (unbiased variance) and
/// c(x) = sum of squared off-diagonal covariances / P. The paper's weights are 25, 25, 1.
///
/// ```swift
/// let loss = try graph.apply(VICRegOperation(), [embeddings], name: "vicreg")   // embeddings [512, 128]
/// ```
public final class VICRegOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    public let invarianceWeight: Float, varianceWeight: Float, covarianceWeight: Float
    /// The three terms of the last forward pass, unweighted (variance and covariance summed over both views).
    public private(set) var terms: (invariance: Float, variance: Float, covariance: Float) = (0, 0, 0)
    private var rows = 0, features = 0
    private var binding: Binding?

    public init(invarianceWeight: Float = 25, varianceWeight: Float = 25, covarianceWeight: Float = 1) {
        precondition([invarianceWeight, varianceWeight, covarianceWeight].allSatisfy { $0 >= 0 && $0.isFinite },
                      "VICReg weights must be finite and not negative")
        self.invarianceWeight = invarianceWeight
        self.varianceWeight = varianceWeight
        self.covarianceWeight = covarianceWeight
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try require(inputs.count == 1 && inputs[0].rank == 2 && dtypes[0] == .float32, "vicreg",
                  expected: "one float32 input [2B, P]", got: "\(inputs)")
        try require(inputs[0][0] >= 4 && inputs[0][0] % 2 == 0, "vicreg", expected: "an even number of rows, at least 4 (two views of B >= 2)", got: "\(inputs[0])")
        rows = inputs[0][0]; features = inputs[0][1]
        return [1]
    }

    /// Centred views [N, P], deviations [2, P] and covariances [2, P, P].
    public var savedFloats: Int { rows * features + 2 * features + 2 * features * features }
    public var backwardReadsInputs: Bool { true }
    public var forwardCost: Int { rows * features * features }
    public func bind(_ binding: Binding) { self.binding = binding }

    public func forward(pool: ThreadPool) {
        let z = binding!.inputs[0].floatPointer, saved = binding!.saved!
        let half = rows / 2, p = features
        let centred = saved, deviations = saved + rows * p, covariances = deviations + 2 * p
        var invariance: Double = 0
        for i in 0..<half * p { let d = z[i] - z[half * p + i]; invariance += Double(d * d) }
        invariance /= Double(half * p)
        var variance: Double = 0, covariance: Double = 0
        for view in 0..<2 {
            let x = z + view * half * p, c = centred + view * half * p
            let deviation = deviations + view * p, cov = covariances + view * p * p
            for j in 0..<p {
                var mean: Float = 0
                for i in 0..<half { mean += x[i * p + j] }
                mean /= Float(half)
                var squares: Float = 0
                for i in 0..<half { c[i * p + j] = x[i * p + j] - mean; squares += c[i * p + j] * c[i * p + j] }
                deviation[j] = (squares / Float(half - 1) + 1e-4).squareRoot()
                variance += Double(max(0, 1 - deviation[j])) / Double(p)
            }
            for j in 0..<p {
                for k in 0..<p {
                    var s: Float = 0
                    for i in 0..<half { s += c[i * p + j] * c[i * p + k] }
                    cov[j * p + k] = s / Float(half - 1)
                    if j != k { covariance += Double(cov[j * p + k] * cov[j * p + k]) / Double(p) }
                }
            }
        }
        terms = (Float(invariance), Float(variance), Float(covariance))
        binding!.output.floatPointer[0] = Float(Double(invarianceWeight) * invariance + Double(varianceWeight) * variance
            + Double(covarianceWeight) * covariance)
    }

    public func backward(pool: ThreadPool) {
        guard let dz = binding!.inputGradients[0]?.floatPointer else { return }
        let z = binding!.inputs[0].floatPointer, saved = binding!.saved!
        let g = binding!.outputGradient!.floatPointer[0]
        let half = rows / 2, p = features
        let centred = saved, deviations = saved + rows * p, covariances = deviations + 2 * p
        let invarianceScale = g * invarianceWeight * 2 / Float(half * p)
        for i in 0..<half * p {
            let d = invarianceScale * (z[i] - z[half * p + i])
            dz[i] += d
            dz[half * p + i] -= d
        }
        // The variance and covariance gradients of a centred column sum to zero over its rows,
        // so the centring's backward (subtracting the column mean) changes nothing.
        let varianceScale = g * varianceWeight / Float(p * (half - 1))
        let covarianceScale = g * covarianceWeight * 4 / Float(p * (half - 1))
        for view in 0..<2 {
            let c = centred + view * half * p, d = dz + view * half * p
            let deviation = deviations + view * p, cov = covariances + view * p * p
            for i in 0..<half {
                for j in 0..<p {
                    var gradient: Float = deviation[j] < 1 ? -varianceScale * c[i * p + j] / deviation[j] : 0
                    var s: Float = 0
                    for k in 0..<p where k != j { s += cov[j * p + k] * c[i * p + k] }
                    gradient += covarianceScale * s
                    d[i * p + j] += gradient
                }
            }
        }
    }
}
