// BYOL as a method: its description, data and settings, and its trainer (MomentumTrainer with a
// predictor). Not the momentum network (MomentumTrainer.swift).

/// `byol`: an online network predicts a momentum target's projection of the other view.
struct BYOLMethod: SelfSupervisedMethod {
    let name = "byol"
    let summary = "non-contrastive: an online network with a predictor predicts a momentum (EMA) target's projection of the other view"
    let reference = "Grill et al. Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning. NeurIPS 2020"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings: [MethodSetting] = [.momentum]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try momentumTrainer(.byol, data, options)
    }
}
