// SimCLR as a method: its description, data and settings, and its trainer (TwoViewTrainer with
// the NT-Xent objective). Not the objective itself (SSLOperations.swift).

/// `simclr`: contrastive learning between two augmented views of each image.
struct SimCLRMethod: SelfSupervisedMethod {
    let name = "simclr"
    let summary = "contrastive: two augmented views of an image attract, the batch's other views repel (NT-Xent)"
    let reference = "Chen, Kornblith, Norouzi, Hinton. A Simple Framework for Contrastive Learning of Visual Representations. ICML 2020"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings: [MethodSetting] = [.temperature]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try twoViewTrainer(.simclr(temperature: Float(options.setting("temperature"))), data, options)
    }
}
