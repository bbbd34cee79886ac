// Next-frame prediction as a method: its description and data, and its trainer on a
// recording's clips. Not the model (VideoMethods.swift).

/// `next-frame`: predict the next video frame's pixels from the past frames.
struct NextFrameMethod: SelfSupervisedMethod {
    let name = "next-frame"
    let summary = "predictive coding: predict the next video frame's pixels from the past frames"
    let reference = "Srivastava, Mansimov, Salakhutdinov. Unsupervised Learning of Video Representations using LSTMs. ICML 2015"
    let dataKinds: [TrainingDataKind] = [.video]
    let defaultBatch = 8
    let defaultLearningRate: Float = 5e-4

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try videoTrainer(data, options)
    }
}
