// Rotation prediction as a method: its description and data, and its trainer (PretextTrainer).
// Not the rotations or the classifier (PretextTrainer.swift).

/// `rotation`: classify which quarter-turn was applied to the image.
struct RotationMethod: SelfSupervisedMethod {
    let name = "rotation"
    let summary = "pretext: classify which quarter-turn was applied to the image"
    let reference = "Gidaris, Singh, Komodakis. Unsupervised Representation Learning by Predicting Image Rotations. ICLR 2018"
    let dataKinds: [TrainingDataKind] = [.images]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try pretextTrainer(.rotation, images(data, options), options)
    }
}
