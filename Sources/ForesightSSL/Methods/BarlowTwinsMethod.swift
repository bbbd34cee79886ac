// Barlow Twins as a method: its description, data and loss weight, and its trainer
// (TwoViewTrainer). Not the objective itself (NonContrastiveOperations.swift).

/// `barlow`: the two views' cross-correlation is pulled toward the identity.
struct BarlowTwinsMethod: SelfSupervisedMethod {
    let name = "barlow"
    let summary = "non-contrastive: the cross-correlation of the two views' standardised projections is pulled toward the identity"
    let reference = "Zbontar, Jing, Misra, LeCun, Deny. Barlow Twins: Self-Supervised Learning via Redundancy Reduction. ICML 2021"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings = [MethodSetting("off-diagonal", 0.02, 0...10, "weight of the cross-correlation's off-diagonal terms")]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try twoViewTrainer(.barlow(offDiagonalWeight: Float(options.setting("off-diagonal"))), data, options)
    }
}
