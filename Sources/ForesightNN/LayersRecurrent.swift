// Layer builders on `Graph` for sequences: GRU and LSTM layers (PyTorch's parameter names,
// layout and initialisation) and the CPC InfoNCE loss. Thin like Layers.swift: the work is in
// RecurrentOperations.swift and ContrastiveOperations.swift.

import ForesightCore

extension Graph {
    /// A GRU layer over a sequence, state starting at zero: x [N, T, I] -> hidden states [N, T, hidden].
    /// Parameters as PyTorch's `nn.GRU(I, hidden, batch_first=True)`, gates in the order r, z, n:
    /// `name.weight_ih` [3*hidden, I], `name.weight_hh` [3*hidden, hidden], `name.bias_ih` and
    /// `name.bias_hh` [3*hidden], all uniform in ±1/sqrt(hidden).
    ///
    /// ```swift
    /// let context = try graph.gru(encodings, hidden: 128, name: "context")   // [8, 32, 64] -> [8, 32, 128]
    /// ```
    public func gru(_ x: TensorID, hidden: Int, name: String) throws -> TensorID {
        try recurrent(x, cell: .gru, hidden: hidden, name: name)
    }

    /// An LSTM layer over a sequence, state and cell starting at zero: x [N, T, I] -> hidden
    /// states [N, T, hidden]. Parameters as PyTorch's `nn.LSTM(I, hidden, batch_first=True)`,
    /// gates in the order i, f, g, o: `name.weight_ih` [4*hidden, I], `name.weight_hh`
    /// [4*hidden, hidden], `name.bias_ih` and `name.bias_hh` [4*hidden], all uniform in ±1/sqrt(hidden).
    ///
    /// ```swift
    /// let h = try graph.lstm(tokens, hidden: 64, name: "lstm1")              // [4, 50, 16] -> [4, 50, 64]
    /// ```
    public func lstm(_ x: TensorID, hidden: Int, name: String) throws -> TensorID {
        try recurrent(x, cell: .lstm, hidden: hidden, name: name)
    }

    private func recurrent(_ x: TensorID, cell: RecurrentCell, hidden: Int, name: String) throws -> TensorID {
        let xShape = shape(x)
        guard xShape.rank == 3, hidden > 0 else {
            throw ModelError.invalidOperation(name: name, reason: "a recurrent layer needs an input [N, T, features] and hidden > 0; got \(xShape), hidden \(hidden)")
        }
        let rows = cell.gates * hidden
        let weightIH = try parameter(name + ".weight_ih", [rows, xShape[2]], initializer: .fanIn(hidden))
        let weightHH = try parameter(name + ".weight_hh", [rows, hidden], initializer: .fanIn(hidden))
        let biasIH = try parameter(name + ".bias_ih", [rows], initializer: .fanIn(hidden))
        let biasHH = try parameter(name + ".bias_hh", [rows], initializer: .fanIn(hidden))
        return try apply(RecurrentOperation(cell), [x, weightIH, weightHH, biasIH, biasHH], name: name)
    }

    /// The CPC InfoNCE loss: context [N, T, D] predicts, through `name.weight` [K, E, D] (one
    /// linear map per step ahead, uniform in ±1/sqrt(D)), which of the batch's N*T encodings
    /// [N, T, E] comes k = 1...K steps later. Returns the scalar loss (mean cross-entropy over
    /// every (n, t, k) with t + k < T) and the operation, whose `accuracy` a caller reads after
    /// each forward pass (chance: `operation.chance`, 1 / (N*T)).
    ///
    /// ```swift
    /// let (loss, objective) = try graph.infoNCELoss(context: c, encodings: z, predictionSteps: 6, name: "cpc")
    /// try program.step(); print(objective.accuracy, objective.chance)
    /// ```
    public func infoNCELoss(context: TensorID, encodings: TensorID, predictionSteps: Int,
                            name: String) throws -> (loss: TensorID, operation: InfoNCEOperation) {
        let contextShape = shape(context), encodingShape = shape(encodings)
        guard contextShape.rank == 3, encodingShape.rank == 3, predictionSteps >= 1 else {
            throw ModelError.invalidOperation(name: name, reason: "InfoNCE needs context [N, T, D], encodings [N, T, E] and at least one step ahead; got \(contextShape), \(encodingShape), \(predictionSteps) steps")
        }
        let weight = try parameter(name + ".weight", [predictionSteps, encodingShape[2], contextShape[2]],
                                   initializer: .fanIn(contextShape[2]))
        let operation = InfoNCEOperation(predictionSteps: predictionSteps)
        return (try apply(operation, [context, encodings, weight], name: name), operation)
    }
}
