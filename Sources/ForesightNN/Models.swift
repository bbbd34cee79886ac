// Ready-made models of the project, built on `Graph`. pc64 is the reference workload of
// ../BENCHMARKS (the predictive-coding network that live learning starts from).

import ForesightCore

/// A built frame-prediction model: where to write inputs and read outputs.
public struct FramePredictionModel {
    public let graph: Graph
    /// Past frames stacked as channels: [N, K, H, W], values in [0, 1].
    public let frames: TensorID
    /// The true next frame: [N, 1, H, W].
    public let target: TensorID
    /// The predicted next frame: [N, 1, H, W].
    public let prediction: TensorID
    /// Mean squared error of prediction against target.
    public let loss: TensorID
}

public enum Models {
    /// pc64: a 3-layer strided conv encoder and a 2-layer upsampling decoder that predicts the
    /// next 64x64 grayscale frame from `pastFrames` previous ones (all 3x3 convolutions, padding 1).
    ///
    /// ```swift
    /// let model = try Models.pc64(batch: 8)
    /// let program = try Program(model.graph, loss: model.loss, optimizer: Adam(learningRate: 1e-3))
    /// ```
    public static func pc64(batch: Int, pastFrames: Int = 4, size: Int = 64) throws -> FramePredictionModel {
        let graph = Graph()
        let frames = try graph.input("frames", [batch, pastFrames, size, size])
        let target = try graph.input("target", [batch, 1, size, size])
        let encoded = try encoder(graph, frames)
        var h = try graph.upsampleNearest2x(encoded, name: "d1.upsample")
        h = try graph.relu(try graph.conv2d(h, outChannels: 16, kernel: 3, padding: 1, name: "d1"))
        h = try graph.upsampleNearest2x(h, name: "d2.upsample")
        let prediction = try graph.sigmoid(try graph.conv2d(h, outChannels: 1, kernel: 3, padding: 1, name: "d2"))
        let loss = try graph.mseLoss(prediction, target, name: "loss")
        return FramePredictionModel(graph: graph, frames: frames, target: target, prediction: prediction, loss: loss)
    }

    /// The pc64 encoder (e1..e3): [N, K, H, W] -> [N, 32, H/4, W/4].
    public static func encoder(_ graph: Graph, _ frames: TensorID) throws -> TensorID {
        var h = try graph.relu(try graph.conv2d(frames, outChannels: 16, kernel: 3, stride: 2, padding: 1, name: "e1"))
        h = try graph.relu(try graph.conv2d(h, outChannels: 32, kernel: 3, stride: 2, padding: 1, name: "e2"))
        return try graph.relu(try graph.conv2d(h, outChannels: 32, kernel: 3, stride: 1, padding: 1, name: "e3"))
    }
}
