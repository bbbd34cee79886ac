// The autoencoder as a method: its description and data, and its trainer (PretextTrainer).
// Not the decoder (PretextTrainer.swift).

/// `autoencoder`: reconstruct the image from the encoder's features.
struct AutoencoderMethod: SelfSupervisedMethod {
    let name = "autoencoder"
    let summary = "reconstruct the image from the encoder's features"
    let reference = "Hinton, Salakhutdinov. Reducing the Dimensionality of Data with Neural Networks. Science 2006"
    let dataKinds: [TrainingDataKind] = [.images]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try pretextTrainer(.autoencoder, images(data, options), options)
    }
}
