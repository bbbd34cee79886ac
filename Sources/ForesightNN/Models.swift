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
    /// The loss trained: mean squared error of prediction against target (plus, for motion
    /// models, the smoothness penalty).
    public let loss: TensorID
    /// Mean squared error of prediction against target alone.
    public let predictionError: TensorID
    /// Motion models: [N, 3, H, W], the horizontal and vertical motion in pixels and the residual.
    public let motion: TensorID?
    /// Action-conditioned models: each clip's action (the command applied from its last past
    /// frame to the frame predicted) as constant planes [N, A, H/4, W/4], joined to the
    /// encoder's output before the decoder; nil for models without actions.
    public var actions: TensorID? = nil
}

/// What pc64's last convolution outputs as the predicted frame.
public enum FramePredictionOutput: Sendable, Equatable {
    /// A sigmoid, so the prediction stays in [0, 1] (the live-learning and benchmark model).
    /// Its squared error's gradient vanishes where the sigmoid saturates, which sparse scenes (a
    /// few bright objects on black) drive it to: the model then predicts an empty frame and its
    /// encoder stops learning.
    case sigmoid
    /// The convolution's output itself, unbounded: the squared error keeps a gradient of
    /// (prediction - target) everywhere.
    case linear
}

public enum Models {
    /// pc64: a 3-layer strided conv encoder and a 2-layer upsampling decoder that predicts the
    /// next 64x64 grayscale frame from `pastFrames` previous ones (all 3x3 convolutions, padding 1),
    /// trained on the squared error of its `output`.
    ///
    /// ```swift
    /// let model = try Models.pc64(batch: 8)
    /// let program = try Program(model.graph, loss: model.loss, optimizer: Adam(learningRate: 1e-3))
    /// ```
    /// With `actions` > 0 the model also takes each clip's action (`FramePredictionModel.actions`).
    public static func pc64(batch: Int, pastFrames: Int = 4, size: Int = 64,
                            output: FramePredictionOutput = .sigmoid, actions: Int = 0) throws -> FramePredictionModel {
        let (graph, frames, target, actionPlanes, decoded) = try encoderDecoder(batch: batch, pastFrames: pastFrames, size: size, actions: actions)
        let raw = try graph.conv2d(decoded, outChannels: 1, kernel: 3, padding: 1, name: "d2")
        let prediction = output == .sigmoid ? try graph.sigmoid(raw) : raw
        let loss = try graph.mseLoss(prediction, target, name: "loss")
        return FramePredictionModel(graph: graph, frames: frames, target: target, prediction: prediction, loss: loss,
                                    predictionError: loss, motion: nil, actions: actionPlanes)
    }

    /// pc64-motion: the pc64 encoder and decoder, whose head predicts a motion field of at most
    /// `maxMotion` pixels and a residual; the prediction is the last frame warped by the motion
    /// plus the residual. The head starts at zero, so an untrained model copies the last frame.
    /// The loss is the squared error plus `smoothness` times the motion field's roughness.
    public static func pc64Motion(batch: Int, pastFrames: Int = 4, size: Int = 64, maxMotion: Float = 4,
                                  maxResidual: Float = 0.25, smoothness: Float = 0.01, actions: Int = 0) throws -> FramePredictionModel {
        let (graph, frames, target, actionPlanes, decoded) = try encoderDecoder(batch: batch, pastFrames: pastFrames, size: size, actions: actions)
        let h = try graph.conv2d(decoded, outChannels: 3, kernel: 3, padding: 1, initializer: .zeros, name: "d2")
        let motion = try graph.scaledTanh(h, scales: [maxMotion, maxMotion, maxResidual], name: "motion")
        let prediction = try graph.warpPrediction(motion: motion, frames: frames, name: "prediction")
        let error = try graph.mseLoss(prediction, target, name: "prediction.error")
        let roughness = try graph.motionSmoothness(motion, name: "motion.roughness")
        let loss = try graph.add(error, try graph.scale(roughness, by: smoothness, name: "motion.penalty"), name: "loss")
        return FramePredictionModel(graph: graph, frames: frames, target: target, prediction: prediction, loss: loss,
                                    predictionError: error, motion: motion, actions: actionPlanes)
    }

    /// The inputs, encoder and first decoder layer shared by the pc64 models: frames
    /// [N, K, H, W] -> [N, 16, H, W] after d1 and the second upsampling (d2 is the model's own head).
    /// With `actions` > 0, action planes [N, A, H/4, W/4] join the encoder's output as channels,
    /// so every position of the decoder sees the command.
    private static func encoderDecoder(batch: Int, pastFrames: Int, size: Int, actions: Int) throws
        -> (graph: Graph, frames: TensorID, target: TensorID, actions: TensorID?, decoded: TensorID) {
        let graph = Graph()
        let frames = try graph.input("frames", [batch, pastFrames, size, size])
        let target = try graph.input("target", [batch, 1, size, size])
        var code = try encoder(graph, frames)
        var actionPlanes: TensorID? = nil
        if actions > 0 {
            let planes = try graph.input("actions", [batch, actions, size / 4, size / 4])
            code = try graph.concatChannels(code, planes, name: "e3.actions")
            actionPlanes = planes
        }
        var h = try graph.upsampleNearest2x(code, name: "d1.upsample")
        h = try graph.relu(try graph.conv2d(h, outChannels: 16, kernel: 3, padding: 1, name: "d1"))
        return (graph, frames, target, actionPlanes, try graph.upsampleNearest2x(h, name: "d2.upsample"))
    }

    /// The pc64 encoder (e1..e3): [N, K, H, W] -> [N, 32, H/4, W/4].
    public static func encoder(_ graph: Graph, _ frames: TensorID) throws -> TensorID {
        var h = try graph.relu(try graph.conv2d(frames, outChannels: 16, kernel: 3, stride: 2, padding: 1, name: "e1"))
        h = try graph.relu(try graph.conv2d(h, outChannels: 32, kernel: 3, stride: 2, padding: 1, name: "e2"))
        return try graph.relu(try graph.conv2d(h, outChannels: 32, kernel: 3, stride: 1, padding: 1, name: "e3"))
    }
}
