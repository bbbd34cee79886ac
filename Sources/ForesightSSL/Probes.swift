// Evaluation of frozen embeddings: a linear probe trained in the runtime (one linear layer,
// cross-entropy, Adam, full batch) and cosine k-nearest neighbours. Not fine-tuning: the
// encoder that made the embeddings is never touched here.

import ForesightCore
import ForesightNN

/// Embeddings of a labelled set: features [count, dimension] (row-major) and labels [count].
public struct Embeddings: Sendable {
    /// [count, dimension].
    public let features: [Float]
    /// [count].
    public let labels: [Int32]
    public let dimension: Int
    /// Images embedded.
    public var count: Int { labels.count }

    /// Wraps features [labels.count, dimension].
    public init(features: [Float], labels: [Int32], dimension: Int) {
        precondition(dimension > 0 && features.count == labels.count * dimension,
                     "\(features.count) features do not make \(labels.count) rows of \(dimension)")
        self.features = features
        self.labels = labels
        self.dimension = dimension
    }

    /// The raw pixels of `images` as embeddings: [count, channels * height * width].
    public init(pixelsOf images: LabeledImages) {
        self.init(features: images.pixels, labels: images.labels, dimension: images.imageSize)
    }
}

/// A linear classifier on frozen features, trained full-batch in the runtime: the features
/// are standardised with the training set's per-feature mean and deviation, then
/// logits [n, classes] = W x + b is trained with cross-entropy and AdamW.
///
/// ```swift
/// let accuracy = try LinearProbe().accuracy(train: trainEmbeddings, test: testEmbeddings, classes: 10)
/// ```
public struct LinearProbe: Sendable {
    /// Full-batch Adam steps.
    public var steps: Int
    public var learningRate: Float
    /// AdamW's decoupled weight decay (a mild L2 that stands in for logistic regression's C).
    public var weightDecay: Float
    public var seed: UInt64

    public init(steps: Int = 300, learningRate: Float = 0.01, weightDecay: Float = 0.01, seed: UInt64 = 0) {
        precondition(steps > 0, "a probe needs at least one step, got \(steps)")
        self.steps = steps
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.seed = seed
    }

    /// Trains on `train` and returns the fraction of `test` classified correctly.
    public func accuracy(train: Embeddings, test: Embeddings, classes: Int) throws -> Double {
        precondition(train.dimension == test.dimension, "train and test embeddings differ in dimension (\(train.dimension), \(test.dimension))")
        let (mean, deviation) = standardization(train)
        func standardized(_ set: Embeddings) -> [Float] {
            var values = set.features
            for row in 0..<set.count {
                for j in 0..<set.dimension { values[row * set.dimension + j] = (values[row * set.dimension + j] - mean[j]) / deviation[j] }
            }
            return values
        }
        // Training program over the whole training set.
        let graph = Graph()
        let x = try graph.input("features", [train.count, train.dimension])
        let labels = try graph.input("labels", [train.count], dtype: .int32)
        let logits = try graph.linear(x, outFeatures: classes, name: "probe")
        let loss = try graph.crossEntropyLoss(logits, labels, name: "loss")
        let program = try Program(graph, loss: loss, optimizer: AdamW(learningRate: learningRate, weightDecay: weightDecay), seed: seed)
        program.tensor(x).copy(from: standardized(train))
        for (i, label) in train.labels.enumerated() { program.tensor(labels).int32s[i] = label }
        for _ in 0..<steps { try program.step() }
        // Logits of the test set from the trained weight [classes, D] and bias [classes].
        let weight = program.tensor(graph.tensor(named: "probe.weight")!).toArray()
        let bias = program.tensor(graph.tensor(named: "probe.bias")!).toArray()
        let testValues = standardized(test)
        var correct = 0
        for row in 0..<test.count {
            var best = -Float.infinity, bestClass = -1
            for c in 0..<classes {
                var logit = bias[c]
                for j in 0..<test.dimension { logit += weight[c * test.dimension + j] * testValues[row * test.dimension + j] }
                if logit > best { best = logit; bestClass = c }
            }
            if Int32(bestClass) == test.labels[row] { correct += 1 }
        }
        return Double(correct) / Double(test.count)
    }

    /// Per-feature mean and deviation of `set` (deviation 1 where a feature is constant).
    private func standardization(_ set: Embeddings) -> (mean: [Float], deviation: [Float]) {
        var mean = [Double](repeating: 0, count: set.dimension), square = mean
        for row in 0..<set.count {
            for j in 0..<set.dimension {
                let value = Double(set.features[row * set.dimension + j])
                mean[j] += value; square[j] += value * value
            }
        }
        let n = Double(set.count)
        let deviation = (0..<set.dimension).map { j -> Float in
            let variance = square[j] / n - (mean[j] / n) * (mean[j] / n)
            return variance > 1e-12 ? Float(variance.squareRoot()) : 1
        }
        return (mean.map { Float($0 / n) }, deviation)
    }
}

/// Cosine k-nearest-neighbour classification: each test row takes the class with the largest
/// summed cosine similarity among its `k` most similar training rows.
///
/// ```swift
/// let accuracy = KNearestNeighbors(k: 5).accuracy(train: trainEmbeddings, test: testEmbeddings, classes: 10)
/// ```
public struct KNearestNeighbors: Sendable {
    public var k: Int

    public init(k: Int = 5) {
        precondition(k >= 1, "k must be at least 1, got \(k)")
        self.k = k
    }

    /// The fraction of `test` whose vote matches its label.
    public func accuracy(train: Embeddings, test: Embeddings, classes: Int) -> Double {
        precondition(train.dimension == test.dimension, "train and test embeddings differ in dimension (\(train.dimension), \(test.dimension))")
        let d = train.dimension
        func normalized(_ set: Embeddings) -> [Float] {
            var values = set.features
            for row in 0..<set.count {
                var norm: Float = 0
                for j in 0..<d { norm += values[row * d + j] * values[row * d + j] }
                let scale = 1 / max(norm.squareRoot(), 1e-12)
                for j in 0..<d { values[row * d + j] *= scale }
            }
            return values
        }
        let trainValues = normalized(train), testValues = normalized(test)
        let neighbours = min(k, train.count)
        var correct = 0
        var similarities = [Float](repeating: 0, count: train.count)
        for row in 0..<test.count {
            for other in 0..<train.count {
                var s: Float = 0
                for j in 0..<d { s += testValues[row * d + j] * trainValues[other * d + j] }
                similarities[other] = s
            }
            let nearest = similarities.indices.sorted { similarities[$0] > similarities[$1] }.prefix(neighbours)
            var votes = [Float](repeating: 0, count: classes)
            for other in nearest { votes[Int(train.labels[other])] += similarities[other] }
            if Int32(votes.indices.max { votes[$0] < votes[$1] }!) == test.labels[row] { correct += 1 }
        }
        return Double(correct) / Double(test.count)
    }
}
