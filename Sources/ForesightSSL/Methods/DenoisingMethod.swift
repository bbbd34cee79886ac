// The denoising autoencoder as a method: its description, data and noise level, and its trainer
// (PretextTrainer). Not the corruption or the decoder (PretextTrainer.swift).

/// `denoising`: reconstruct the clean image from a corrupted copy.
struct DenoisingMethod: SelfSupervisedMethod {
    let name = "denoising"
    let summary = "reconstruct the clean image from a copy with noise and a cut-out patch"
    let reference = "Vincent, Larochelle, Bengio, Manzagol. Extracting and Composing Robust Features with Denoising Autoencoders. ICML 2008"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings = [MethodSetting("noise", 0.2, 0...10, "standard deviation of the added Gaussian noise")]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try pretextTrainer(.denoising(noiseDeviation: Float(options.setting("noise"))), images(data, options), options)
    }
}
