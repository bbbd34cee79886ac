// I-JEPA as a method: its description, data and settings, and its trainer. Not the model
// (LatentPrediction.swift).

/// `jepa`: predict a momentum encoder's features of a hidden block of the image.
struct JEPAMethod: SelfSupervisedMethod {
    let name = "jepa"
    let summary = "latent prediction: from the image with a block hidden, predict a momentum encoder's features of the full image"
    let reference = "Assran et al. Self-Supervised Learning from Images with a Joint-Embedding Predictive Architecture. CVPR 2023"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings: [MethodSetting] = [MethodSetting("block", 4, 1...4096, "side in pixels of the hidden square block", integer: true), .momentum]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try LatentPredictionTrainer(data: images(data, options), backbone: smallResNet(options), batch: options.batch,
                                    blockSize: Int(options.setting("block")), momentum: Float(options.setting("momentum")),
                                    learningRate: options.learningRate, threads: options.threads, seed: options.seed)
    }
}
