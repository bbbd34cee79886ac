// GRU and LSTM over whole sequences as graph operations, with PyTorch's gate order and
// parameter layout, forward and full backpropagation through time. Not a cell library: one
// layer, one direction, zero initial state; stack layers in the graph for depth.
//
// Symbols: N sequences, T time steps, I input features, H hidden units. The input projection of
// all N*T steps is one GEMM; each step adds h_{t-1} W_hh^T (one GEMM over the N sequences).
// Backward keeps every gate of every step (`savedFloats`), overwrites them with the gates'
// pre-activation gradients while stepping back in time, then forms the weight and input
// gradients with a few large GEMMs.

import ForesightCore

/// Which recurrent cell, with PyTorch's equations (gates in this order in the weight rows).
public enum RecurrentCell: Sendable, Equatable {
    /// Gates r, z, n: r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
    /// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 - z) ⊙ n + z ⊙ h.
    case gru
    /// Gates i, f, g, o: i, f, o = σ(W x + b_i + W h + b_h), g = tanh(...),
    /// c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
    case lstm

    /// Gate blocks in the weight rows: 3 for GRU, 4 for LSTM.
    public var gates: Int { self == .gru ? 3 : 4 }
    /// Floats kept per step and hidden unit: GRU r, z, n and W_hn h + b_hn; LSTM i, f, g, o, c and tanh(c).
    var savedPerUnit: Int { self == .gru ? 4 : 6 }
}

/// A recurrent layer over a sequence: x [N, T, I], weightIH [G*H, I], weightHH [G*H, H],
/// biasIH [G*H], biasHH [G*H] -> hidden states [N, T, H] (G = 3 for GRU, 4 for LSTM).
/// The state starts at zero for every sequence.
///
/// ```swift
/// let h = try graph.apply(RecurrentOperation(.gru), [x, wih, whh, bih, bhh], name: "gru")
/// ```
public final class RecurrentOperation: GraphOperation {
    public var inferenceForm: InferenceForm { .notLowered("a recurrent layer (recurrent state)") }
    public let cell: RecurrentCell
    private var batch = 0, steps = 0, inFeatures = 0, hidden = 0
    private var binding: Binding?
    private var task: GemmTask?
    private var workspaceFloats = 0

    public init(_ cell: RecurrentCell) { self.cell = cell }

    public func outputShape(_ inputs: [Shape], dtypes: [DType]) throws -> Shape {
        let name = cell == .gru ? "gru" : "lstm"
        try requireFloat(dtypes, name)
        try require(inputs.count == 5, name, expected: "x, weight_ih, weight_hh, bias_ih and bias_hh", got: "\(inputs.count) operands")
        let x = inputs[0]
        try require(x.rank == 3, name, expected: "input [N, T, features]", got: "\(x)")
        let weightHH = inputs[2]
        try require(weightHH.rank == 2 && weightHH[0] == cell.gates * weightHH[1], name,
                    expected: "weight_hh [\(cell.gates)*H, H]", got: "\(weightHH)")
        let h = weightHH[1]
        try require(inputs[1].dims == [cell.gates * h, x[2]], name, expected: "weight_ih [\(cell.gates * h), \(x[2])]", got: "\(inputs[1])")
        try require(inputs[3].dims == [cell.gates * h], name, expected: "bias_ih [\(cell.gates * h)]", got: "\(inputs[3])")
        try require(inputs[4].dims == [cell.gates * h], name, expected: "bias_hh [\(cell.gates * h)]", got: "\(inputs[4])")
        batch = x[0]; steps = x[1]; inFeatures = x[2]; hidden = h
        return try Shape(batch, steps, hidden)
    }

    /// Every gate of every step (and the LSTM cell state), for backward.
    public var savedFloats: Int { batch * steps * hidden * cell.savedPerUnit }
    /// GEMM workspaces, then one step's hidden projections [N, G*H], then dh and dc [N, H] each.
    public func scratchFloats(threads: Int) -> Int {
        threads * GemmWorkspace.floatCount + batch * cell.gates * hidden + 2 * batch * hidden
    }
    public var backwardReadsOutput: Bool { true }
    public var forwardCost: Int { batch * steps * cell.gates * hidden * (inFeatures + hidden) }

    public func bind(_ binding: Binding) {
        self.binding = binding
        workspaceFloats = binding.scratchThreads * GemmWorkspace.floatCount
        task = GemmTask(memory: binding.scratch!, threads: binding.scratchThreads)
    }

    public func forward(pool: ThreadPool) {
        let b = binding!, task = task!
        let x = b.inputs[0].floatPointer, weightIH = b.inputs[1].floatPointer, weightHH = b.inputs[2].floatPointer
        let biasIH = b.inputs[3].floatPointer, biasHH = b.inputs[4].floatPointer
        let y = b.output.floatPointer, saved = b.saved!
        let gateWidth = cell.gates * hidden, rowFloats = cell.savedPerUnit * hidden
        let projection = b.scratch! + workspaceFloats
        // saved[n, t, 0..<G*H] = x[n, t] W_ih^T for all steps at once.
        task.set(transB: true, m: batch * steps, n: gateWidth, k: inFeatures, a: x, lda: inFeatures,
                 b: weightIH, ldb: inFeatures, c: saved, ldc: rowFloats)
        task.run(on: pool)
        for t in 0..<steps {
            // projection[n, :] = h_{t-1} W_hh^T + b_hh; h_{t-1} rows are T*H apart in y.
            if t == 0 {
                projection.update(repeating: 0, count: batch * gateWidth)
            } else {
                task.set(transB: true, m: batch, n: gateWidth, k: hidden, a: y + (t - 1) * hidden, lda: steps * hidden,
                         b: weightHH, ldb: hidden, c: projection, ldc: gateWidth)
                task.run(on: pool)
            }
            for n in 0..<batch {
                let row = projection + n * gateWidth
                axpy(1, biasHH, row, gateWidth)
                let gates = saved + (n * steps + t) * rowFloats
                let state = y + (n * steps + t) * hidden
                let previous: UnsafePointer<Float>? = t > 0 ? UnsafePointer(state - hidden) : nil
                switch cell {
                case .gru:
                    gruStepForward(gates: gates, projection: row, biasIH: biasIH, previous: previous, state: state, hidden: hidden)
                case .lstm:
                    let previousCell: UnsafePointer<Float>? = t > 0 ? UnsafePointer(gates - rowFloats + 4 * hidden) : nil
                    lstmStepForward(gates: gates, projection: row, biasIH: biasIH, previousCell: previousCell, state: state, hidden: hidden)
                }
            }
        }
    }

    public func backward(pool: ThreadPool) {
        let b = binding!, task = task!
        let weightHH = b.inputs[2].floatPointer
        let y = b.output.floatPointer, dy = b.outputGradient!.floatPointer, saved = b.saved!
        let gateWidth = cell.gates * hidden, rowFloats = cell.savedPerUnit * hidden
        let dh = b.scratch! + workspaceFloats + batch * gateWidth, dc = dh + batch * hidden
        dh.update(repeating: 0, count: 2 * batch * hidden)
        // Back through time: the gates of step t become their pre-activation gradients, and
        // dh becomes the gradient of h_{t-1}.
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for n in 0..<batch {
                let gates = saved + (n * steps + t) * rowFloats
                let outputGradient = dy + (n * steps + t) * hidden
                let previous: UnsafePointer<Float>? = t > 0 ? UnsafePointer(y + (n * steps + t - 1) * hidden) : nil
                switch cell {
                case .gru:
                    gruStepBackward(gates: gates, previous: previous, outputGradient: outputGradient, dh: dh + n * hidden, hidden: hidden)
                case .lstm:
                    let previousCell: UnsafePointer<Float>? = t > 0 ? UnsafePointer(gates - rowFloats + 4 * hidden) : nil
                    lstmStepBackward(gates: gates, previousCell: previousCell, outputGradient: outputGradient,
                                     dh: dh + n * hidden, dc: dc + n * hidden, hidden: hidden)
                }
            }
            if t > 0 {
                // dh[n, :] += dG_hh[n, t, :] W_hh, the hidden-side gate gradients being the first G*H saved floats.
                task.set(m: batch, n: hidden, k: gateWidth, a: saved + t * rowFloats, lda: steps * rowFloats,
                         b: weightHH, ldb: hidden, c: dh, ldc: hidden, accumulate: true)
                task.run(on: pool)
            }
        }
        // The input-side gate gradients: LSTM columns 0..<4H; GRU columns 0..<2H and 3H..<4H
        // (the block 2H..<3H holds the hidden side's dn ⊙ r).
        switch cell {
        case .gru:
            inputSideBackward(column: 0, width: 2 * hidden, weightRow: 0, pool: pool)
            inputSideBackward(column: 3 * hidden, width: hidden, weightRow: 2 * hidden, pool: pool)
        case .lstm:
            inputSideBackward(column: 0, width: 4 * hidden, weightRow: 0, pool: pool)
        }
        // dW_hh += sum over sequences of dG_hh[n, 1..<T]^T h[n, 0..<T-1] (h_{-1} = 0 adds nothing).
        if steps > 1, let dweight = b.inputGradients[2]?.floatPointer {
            for n in 0..<batch {
                task.set(transA: true, m: gateWidth, n: hidden, k: steps - 1, a: saved + (n * steps + 1) * rowFloats, lda: rowFloats,
                         b: y + n * steps * hidden, ldb: hidden, c: dweight, ldc: hidden, accumulate: true)
                task.run(on: pool)
            }
        }
        if let dbias = b.inputGradients[4]?.floatPointer {
            for row in 0..<batch * steps { axpy(1, saved + row * rowFloats, dbias, gateWidth) }
        }
    }

    /// Adds the gradients of W_ih rows weightRow..<weightRow + width, of b_ih and of x from the
    /// saved gate gradients in columns column..<column + width.
    private func inputSideBackward(column: Int, width: Int, weightRow: Int, pool: ThreadPool) {
        let b = binding!, task = task!
        let x = b.inputs[0].floatPointer, saved = b.saved! + column
        let rows = batch * steps, rowFloats = cell.savedPerUnit * hidden
        if let dweight = b.inputGradients[1]?.floatPointer {
            // dW_ih[block] += dG^T x
            task.set(transA: true, m: width, n: inFeatures, k: rows, a: saved, lda: rowFloats, b: x, ldb: inFeatures,
                     c: dweight + weightRow * inFeatures, ldc: inFeatures, accumulate: true)
            task.run(on: pool)
        }
        if let dx = b.inputGradients[0] {
            // dx += dG W_ih[block]
            task.set(m: rows, n: inFeatures, k: width, a: saved, lda: rowFloats, b: b.inputs[1].floatPointer + weightRow * inFeatures,
                     ldb: inFeatures, c: dx.floatPointer, ldc: inFeatures, accumulate: true)
            task.run(on: pool)
        }
        if let dbias = b.inputGradients[3]?.floatPointer {
            for row in 0..<rows { axpy(1, saved + row * rowFloats, dbias + weightRow, width) }
        }
    }
}

// MARK: - GRU step

/// One GRU step of one sequence. On entry gates[0..<3H] holds x W_ih^T and `projection` holds
/// h_{t-1} W_hh^T + b_hh; on exit gates holds r, z, n and W_hn h_{t-1} + b_hn, and `state` h_t.
///
/// gates: [4H]; projection: [3H]; biasIH: [3H]; previous, state: [H] (previous nil at t = 0)
@inline(__always)
func gruStepForward(gates: UnsafeMutablePointer<Float>, projection: UnsafePointer<Float>, biasIH: UnsafePointer<Float>,
                    previous: UnsafePointer<Float>?, state: UnsafeMutablePointer<Float>, hidden: Int) {
    let h = hidden
    for j in 0..<2 * h { gates[j] += biasIH[j] + projection[j] }
    sigmoidForward(gates, gates, count: 2 * h)
    for j in 0..<h {
        let hiddenSide = projection[2 * h + j]
        gates[3 * h + j] = hiddenSide
        gates[2 * h + j] += biasIH[2 * h + j] + gates[j] * hiddenSide
    }
    tanhForward(gates + 2 * h, gates + 2 * h, count: h)
    for j in 0..<h {
        let z = gates[h + j], candidate = gates[2 * h + j]
        state[j] = (1 - z) * candidate + z * (previous?[j] ?? 0)
    }
}

/// The GRU step backward: with d = dh + dy (the gradient of h_t), writes into `gates` the
/// pre-activation gradients dr, dz, dn ⊙ r (hidden side of n) and dn (input side of n), and
/// leaves in `dh` the direct part d ⊙ z of the gradient of h_{t-1}.
///
/// gates: [4H] (r, z, n, W_hn h + b_hn on entry); previous, outputGradient, dh: [H]
@inline(__always)
func gruStepBackward(gates: UnsafeMutablePointer<Float>, previous: UnsafePointer<Float>?,
                     outputGradient: UnsafePointer<Float>, dh: UnsafeMutablePointer<Float>, hidden: Int) {
    let h = hidden
    for j in 0..<h {
        let d = dh[j] + outputGradient[j]
        let r = gates[j], z = gates[h + j], candidate = gates[2 * h + j], hiddenSide = gates[3 * h + j]
        let previousState = previous?[j] ?? 0
        let dCandidate = d * (1 - z) * (1 - candidate * candidate)
        let dUpdate = d * (previousState - candidate) * z * (1 - z)
        let dReset = dCandidate * hiddenSide * r * (1 - r)
        gates[j] = dReset
        gates[h + j] = dUpdate
        gates[2 * h + j] = dCandidate * r
        gates[3 * h + j] = dCandidate
        dh[j] = d * z
    }
}

// MARK: - LSTM step

/// One LSTM step of one sequence. On entry gates[0..<4H] holds x W_ih^T and `projection`
/// h_{t-1} W_hh^T + b_hh; on exit gates holds i, f, g, o, c_t and tanh(c_t), and `state` h_t.
///
/// gates: [6H]; projection: [4H]; biasIH: [4H]; previousCell, state: [H] (previousCell nil at t = 0)
@inline(__always)
func lstmStepForward(gates: UnsafeMutablePointer<Float>, projection: UnsafePointer<Float>, biasIH: UnsafePointer<Float>,
                     previousCell: UnsafePointer<Float>?, state: UnsafeMutablePointer<Float>, hidden: Int) {
    let h = hidden
    for j in 0..<4 * h { gates[j] += biasIH[j] + projection[j] }
    sigmoidForward(gates, gates, count: 2 * h)
    tanhForward(gates + 2 * h, gates + 2 * h, count: h)
    sigmoidForward(gates + 3 * h, gates + 3 * h, count: h)
    for j in 0..<h {
        gates[4 * h + j] = gates[h + j] * (previousCell?[j] ?? 0) + gates[j] * gates[2 * h + j]
    }
    tanhForward(gates + 4 * h, gates + 5 * h, count: h)
    for j in 0..<h { state[j] = gates[3 * h + j] * gates[5 * h + j] }
}

/// The LSTM step backward: with d = dh + dy and the cell gradient dc from step t+1, writes the
/// pre-activation gradients di, df, dg, do into gates[0..<4H], leaves the gradient of c_{t-1}
/// in `dc` and zero in `dh` (the caller adds dG W_hh).
///
/// gates: [6H] (i, f, g, o, c, tanh c on entry); previousCell, outputGradient, dh, dc: [H]
@inline(__always)
func lstmStepBackward(gates: UnsafeMutablePointer<Float>, previousCell: UnsafePointer<Float>?, outputGradient: UnsafePointer<Float>,
                      dh: UnsafeMutablePointer<Float>, dc: UnsafeMutablePointer<Float>, hidden: Int) {
    let h = hidden
    for j in 0..<h {
        let d = dh[j] + outputGradient[j]
        let input = gates[j], forget = gates[h + j], candidate = gates[2 * h + j], output = gates[3 * h + j]
        let squashed = gates[5 * h + j]
        let dCell = dc[j] + d * output * (1 - squashed * squashed)
        let dOutput = d * squashed
        gates[j] = dCell * candidate * input * (1 - input)
        gates[h + j] = dCell * (previousCell?[j] ?? 0) * forget * (1 - forget)
        gates[2 * h + j] = dCell * input * (1 - candidate * candidate)
        gates[3 * h + j] = dOutput * output * (1 - output)
        dc[j] = dCell * forget
        dh[j] = 0
    }
}
