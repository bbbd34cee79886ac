// Layer builder on `Graph` for a convolutional GRU over video clips (parameter names and
// initialisation in PyTorch's style). Thin like Layers.swift: the work is in
// Operations/ConvGRUOperation.swift. Not a ConvLSTM.

import ForesightCore

extension Graph {
    /// A convolutional GRU over clips of `steps` frames, state starting at zero in every clip:
    /// frames x [N*steps, C, H, W] (clip-major: frame t of clip n at row n*steps + t) ->
    /// states [N*steps, hidden, H, W]. Gates are `kernel` x `kernel` convolutions (padding
    /// kernel/2) of the frame and of the previous state, in the order r, z, n:
    /// `name.weight_x` [3*hidden, C, k, k], `name.weight_h` [3*hidden, hidden, k, k],
    /// `name.bias_x` and `name.bias_h` [3*hidden], all uniform in ±1/sqrt(hidden*k*k).
    ///
    /// ```swift
    /// let features = try graph.conv2d(frames, outChannels: 16, kernel: 3, stride: 2, padding: 1, name: "enc")  // [4*8, 16, 8, 8]
    /// let states = try graph.convGRU(features, steps: 8, hidden: 16, name: "context")                       // [4*8, 16, 8, 8]
    /// ```
    public func convGRU(_ x: TensorID, steps: Int, hidden: Int, kernel: Int = 3, name: String) throws -> TensorID {
        let xShape = shape(x)
        guard xShape.rank == 4, steps >= 1, xShape[0] % steps == 0, hidden > 0, kernel > 0, kernel % 2 == 1 else {
            throw ModelError.invalidOperation(name: name, reason: "a convolutional GRU needs frames [N*steps, C, H, W], steps >= 1, hidden > 0 and an odd kernel; got \(xShape), steps \(steps), hidden \(hidden), kernel \(kernel)")
        }
        let rows = 3 * hidden, fanIn = hidden * kernel * kernel
        let weightX = try parameter(name + ".weight_x", [rows, xShape[1], kernel, kernel], initializer: .fanIn(fanIn))
        let weightH = try parameter(name + ".weight_h", [rows, hidden, kernel, kernel], initializer: .fanIn(fanIn))
        let biasX = try parameter(name + ".bias_x", [rows], initializer: .fanIn(fanIn))
        let biasH = try parameter(name + ".bias_h", [rows], initializer: .fanIn(fanIn))
        return try apply(ConvGRUOperation(steps: steps), [x, weightX, weightH, biasX, biasH], name: name)
    }
}
