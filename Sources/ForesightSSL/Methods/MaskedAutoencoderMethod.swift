// MAE as a method: its description, data, mask ratio and default ViT backbone, and its trainer.
// Not the model (MaskedAutoencoder.swift).

/// `mae`: a vision transformer reconstructs the hidden patches of an image.
struct MaskedAutoencoderMethod: SelfSupervisedMethod {
    let name = "mae"
    let summary = "masked modeling: a vision transformer reconstructs the pixels of the 75% of image patches that were hidden"
    let reference = "He, Chen, Xie, Li, Dollar, Girshick. Masked Autoencoders Are Scalable Vision Learners. CVPR 2022"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings = [MethodSetting("mask-ratio", 0.75, 0.01...0.99, "fraction of the patches hidden")]
    let defaultBackbone = TinyViT().specification

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        guard let vit = options.backbone as? TinyViT else {
            throw TrainingError.invalidSetting(name: "backbone", message: "mae trains a vit backbone; '\(options.backbone.specification)' is not one (try --backbone \"\(TinyViT().specification)\")")
        }
        return try MaskedAutoencoderTrainer(data: images(data, options), backbone: vit, maskRatio: options.setting("mask-ratio"), batch: options.batch,
                                            learningRate: options.learningRate, threads: options.threads, seed: options.seed)
    }
}
