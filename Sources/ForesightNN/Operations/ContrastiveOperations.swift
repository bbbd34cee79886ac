// The InfoNCE loss of contrastive predictive coding (CPC, van den Oord et al. 2018) as a graph
// operation: context vectors predict, through one linear map per step ahead, which encoding
// of the batch comes k steps later. Not SimCLR's NT-Xent (no augmented views, no temperature).
//
// Symbols: N sequences, T time steps, D context features, E encoding features, K steps ahead.
// For step k and position (n, t < T - k): prediction p = W_k c[n, t] (E values); score of
// every encoding in the batch, s[j] = p · z[j] for all N*T positions j; cross-entropy with the
// true future j = (n, t + k) as the class. The negatives are the batch's other time steps,
// of the same sequence and of the others. Scores are recomputed in backward rather than kept.

import ForesightCore

/// InfoNCE over K steps ahead: context c [N, T, D], encodings z [N, T, E], prediction maps
/// weight [K, E, D] -> the mean cross-entropy over every (n, t, k) with t + k < T: a scalar.
/// After each forward, `accuracy` holds the fraction of those (n, t, k) whose true future
/// scores strictly above all N*T - 1 others (chance is `chance`, 1 / (N*T)).
///
/// ```swift
/// let objective = InfoNCEOperation(predictionSteps: 4)
/// let loss = try graph.apply(objective, [context, encodings, weight], name: "cpc")
/// try program.step(); print(objective.accuracy)
/// ```
public final class InfoNCEOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .trainingOnly }
    /// K: how many steps ahead are predicted (1...K).
    public let predictionSteps: Int
    /// Fraction of predictions whose true future scored highest, in the last forward pass.
    public private(set) var accuracy: Float = 0
    /// `accuracy` per step ahead: element k - 1 is for step k ([K]).
    public private(set) var stepAccuracy: [Float]
    /// Accuracy of guessing: 1 / (N*T), the number of candidates being every encoding of the batch.
    public var chance: Float { 1 / Float(batch * steps) }
    /// Predictions (n, t, k) with t + k < T that the loss averages over.
    public private(set) var predictionCount = 0

    private var batch = 0, steps = 0, contextFeatures = 0, encodingFeatures = 0
    private var binding: Binding?
    private var task: GemmTask?
    private var workspaceFloats = 0
    /// 0..<N*T: targets of the rows of (n, k) start at index n*T + k.
    private var positions: [Int32] = []

    public init(predictionSteps: Int) {
        precondition(predictionSteps >= 1, "InfoNCE needs at least one step ahead, got \(predictionSteps)")
        self.predictionSteps = predictionSteps
        stepAccuracy = [Float](repeating: 0, count: predictionSteps)
    }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        try requireFloat(dtypes, "infoNCE")
        try require(inputs.count == 3, "infoNCE", expected: "context, encodings and prediction weight", got: "\(inputs.count) operands")
        let context = inputs[0], encodings = inputs[1]
        try require(context.rank == 3, "infoNCE", expected: "context [N, T, D]", got: "\(context)")
        try require(encodings.rank == 3 && encodings[0] == context[0] && encodings[1] == context[1], "infoNCE",
                    expected: "encodings [\(context[0]), \(context[1]), E]", got: "\(encodings)")
        try require(context[1] > predictionSteps, "infoNCE", expected: "more than \(predictionSteps) time steps", got: "\(context[1])")
        try require(inputs[2].dims == [predictionSteps, encodings[2], context[2]], "infoNCE",
                    expected: "weight [\(predictionSteps), \(encodings[2]), \(context[2])]", got: "\(inputs[2])")
        batch = context[0]; steps = context[1]; contextFeatures = context[2]; encodingFeatures = encodings[2]
        predictionCount = (1...predictionSteps).reduce(0) { $0 + batch * (steps - $1) }
        positions = (0..<Int32(batch * steps)).map { $0 }
        return [1]
    }

    /// Row maximum and log-sum-exp of every prediction's scores ([K, N*T, 2]).
    public var savedFloats: Int { predictionSteps * batch * steps * 2 }
    /// GEMM workspaces, predictions P and their gradient [N*T, E] each, scores S and their gradient [N*T, N*T] each.
    public func scratchFloats(threads: Int) -> Int {
        let rows = batch * steps
        return threads * GemmWorkspace.floatCount + 2 * rows * encodingFeatures + 2 * rows * rows
    }
    public var forwardCost: Int {
        let rows = batch * steps
        return predictionSteps * rows * encodingFeatures * (contextFeatures + rows)
    }

    public func bind(_ binding: Binding) {
        self.binding = binding
        workspaceFloats = binding.scratchThreads * GemmWorkspace.floatCount
        task = GemmTask(memory: binding.scratch!, threads: binding.scratchThreads)
    }

    /// Scratch regions: predictions [N*T, E], their gradient [N*T, E], scores and their gradient [N*T, N*T].
    private var regions: (predictions: UnsafeMutablePointer<Float>, dpredictions: UnsafeMutablePointer<Float>,
                          scores: UnsafeMutablePointer<Float>, dscores: UnsafeMutablePointer<Float>) {
        let rows = batch * steps
        let predictions = binding!.scratch! + workspaceFloats
        let dpredictions = predictions + rows * encodingFeatures
        let scores = dpredictions + rows * encodingFeatures
        return (predictions, dpredictions, scores, scores + rows * rows)
    }

    /// P = C W_k^T for all N*T rows, then S = P Z^T (rows with t + k >= T are computed and ignored).
    private func scores(step k: Int, pool: ThreadPool) {
        let b = binding!, task = task!, memory = regions
        let rows = batch * steps
        task.set(transB: true, m: rows, n: encodingFeatures, k: contextFeatures, a: b.inputs[0].floatPointer, lda: contextFeatures,
                 b: b.inputs[2].floatPointer + (k - 1) * encodingFeatures * contextFeatures, ldb: contextFeatures,
                 c: memory.predictions, ldc: encodingFeatures)
        task.run(on: pool)
        task.set(transB: true, m: rows, n: rows, k: encodingFeatures, a: memory.predictions, lda: encodingFeatures,
                 b: b.inputs[1].floatPointer, ldb: encodingFeatures, c: memory.scores, ldc: rows)
        task.run(on: pool)
    }

    public func forward(pool: ThreadPool) {
        let b = binding!, memory = regions
        let rows = batch * steps
        var total = 0.0
        var correctTotal = 0
        positions.withUnsafeBufferPointer { positions in
            for k in 1...predictionSteps {
                scores(step: k, pool: pool)
                var correct = 0
                for n in 0..<batch {
                    let first = n * steps
                    let statistics = b.saved! + ((k - 1) * rows + first) * 2
                    let block = memory.scores + first * rows
                    total += Double(crossEntropyForward(logits: block, targets: positions.baseAddress! + first + k, statistics: statistics,
                                                        rows: steps - k, classes: rows)) * Double(steps - k)
                    for t in 0..<steps - k {
                        let row = block + t * rows, target = first + t + k
                        // Correct when the true future alone reaches the row maximum.
                        guard row[target] >= statistics[2 * t] else { continue }
                        var tied = false
                        for j in 0..<rows where j != target && row[j] >= row[target] { tied = true; break }
                        if !tied { correct += 1 }
                    }
                }
                stepAccuracy[k - 1] = Float(correct) / Float(batch * (steps - k))
                correctTotal += correct
            }
        }
        accuracy = Float(correctTotal) / Float(predictionCount)
        b.output.floatPointer[0] = Float(total / Double(predictionCount))
    }

    public func backward(pool: ThreadPool) {
        let b = binding!, task = task!, memory = regions
        let rows = batch * steps
        let scale = b.outputGradient!.floatPointer[0]
        let context = b.inputs[0].floatPointer, encodings = b.inputs[1].floatPointer
        positions.withUnsafeBufferPointer { positions in
            for k in 1...predictionSteps {
                scores(step: k, pool: pool)
                // dS = (softmax - one-hot) / count on the rows that have a future, 0 elsewhere.
                memory.dscores.update(repeating: 0, count: rows * rows)
                for n in 0..<batch {
                    let first = n * steps
                    crossEntropyBackward(logits: memory.scores + first * rows, targets: positions.baseAddress! + first + k,
                                         statistics: b.saved! + ((k - 1) * rows + first) * 2, dlogits: memory.dscores + first * rows,
                                         rows: steps - k, classes: rows, scale: scale * Float(steps - k) / Float(predictionCount))
                }
                // dP = dS Z
                task.set(m: rows, n: encodingFeatures, k: rows, a: memory.dscores, lda: rows, b: encodings, ldb: encodingFeatures,
                         c: memory.dpredictions, ldc: encodingFeatures)
                task.run(on: pool)
                if let dencodings = b.inputGradients[1] {
                    // dZ += dS^T P
                    task.set(transA: true, m: rows, n: encodingFeatures, k: rows, a: memory.dscores, lda: rows,
                             b: memory.predictions, ldb: encodingFeatures, c: dencodings.floatPointer, ldc: encodingFeatures, accumulate: true)
                    task.run(on: pool)
                }
                let weightOffset = (k - 1) * encodingFeatures * contextFeatures
                if let dweight = b.inputGradients[2] {
                    // dW_k += dP^T C
                    task.set(transA: true, m: encodingFeatures, n: contextFeatures, k: rows, a: memory.dpredictions, lda: encodingFeatures,
                             b: context, ldb: contextFeatures, c: dweight.floatPointer + weightOffset, ldc: contextFeatures, accumulate: true)
                    task.run(on: pool)
                }
                if let dcontext = b.inputGradients[0] {
                    // dC += dP W_k
                    task.set(m: rows, n: contextFeatures, k: encodingFeatures, a: memory.dpredictions, lda: encodingFeatures,
                             b: b.inputs[2].floatPointer + weightOffset, ldb: contextFeatures, c: dcontext.floatPointer,
                             ldc: contextFeatures, accumulate: true)
                    task.run(on: pool)
                }
            }
        }
    }
}
