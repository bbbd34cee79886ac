// Inpainting as a method: its description, data and region size, and its trainer
// (PretextTrainer). Not the mask or the decoder (PretextTrainer.swift).

/// `inpainting`: reconstruct a masked square of the image from its surroundings.
struct InpaintingMethod: SelfSupervisedMethod {
    let name = "inpainting"
    let summary = "pretext: reconstruct a masked square of the image from its surroundings (loss on the masked pixels)"
    let reference = "Pathak, Krahenbuhl, Donahue, Darrell, Efros. Context Encoders: Feature Learning by Inpainting. CVPR 2016"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings = [MethodSetting("region", 0.5, 0.05...0.95, "side of the hidden square as a fraction of the image's")]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try pretextTrainer(.inpainting(regionFraction: Float(options.setting("region"))), images(data, options), options)
    }
}
