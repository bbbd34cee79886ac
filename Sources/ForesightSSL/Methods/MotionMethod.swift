// Motion prediction as a method: its description and data, and its trainer on a recording's
// clips. Not the model or the warp (VideoMethods.swift).

/// `motion`: predict the motion field that warps the last frame into the next.
struct MotionMethod: SelfSupervisedMethod {
    let name = "motion"
    let summary = "predictive coding: predict the motion field (and a residual) that warps the last frame into the next"
    let reference = "Patraucean, Handa, Cipolla. Spatio-temporal Video Autoencoder with Differentiable Memory. ICLR 2016 workshop"
    let dataKinds: [TrainingDataKind] = [.video]
    let defaultBatch = 8
    let defaultLearningRate: Float = 5e-4

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try videoTrainer(data, options)
    }
}
