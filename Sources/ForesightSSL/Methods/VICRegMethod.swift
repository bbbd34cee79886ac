// VICReg as a method: its description, data and loss weights, and its trainer (TwoViewTrainer).
// Not the objective itself (NonContrastiveOperations.swift).

/// `vicreg`: views agree while features keep their variance and decorrelate.
struct VICRegMethod: SelfSupervisedMethod {
    let name = "vicreg"
    let summary = "non-contrastive: views agree while each feature keeps its variance and features decorrelate"
    let reference = "Bardes, Ponce, LeCun. VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised Learning. ICLR 2022"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings = [
        MethodSetting("invariance", 25, 0...1e4, "weight of the views' squared distance"),
        MethodSetting("variance", 25, 0...1e4, "weight of the per-feature deviation hinge"),
        MethodSetting("covariance", 1, 0...1e4, "weight of the off-diagonal covariances"),
    ]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        let objective = TwoViewObjective.vicreg(invariance: Float(options.setting("invariance")), variance: Float(options.setting("variance")),
                                                covariance: Float(options.setting("covariance")))
        return try twoViewTrainer(objective, data, options)
    }
}
