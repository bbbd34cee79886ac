// SimSiam as a method: its description and data, and its trainer (TwoViewTrainer with a
// stop-gradient). Not the objective itself (NonContrastiveOperations.swift).

/// `simsiam`: BYOL without the momentum network.
struct SimSiamMethod: SelfSupervisedMethod {
    let name = "simsiam"
    let summary = "non-contrastive: like BYOL without the momentum network, a stop-gradient on the other branch"
    let reference = "Chen, He. Exploring Simple Siamese Representation Learning. CVPR 2021"
    let dataKinds: [TrainingDataKind] = [.images]
    let defaultLearningRate: Float = 5e-4

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try twoViewTrainer(.simsiam, data, options)
    }
}
