// MoCo as a method: its description, data and settings, and its trainer (MomentumTrainer with a
// queue of past keys). Not the momentum network (MomentumTrainer.swift).

/// `moco`: contrastive learning against a queue of momentum-encoded keys, for small batches.
struct MoCoMethod: SelfSupervisedMethod {
    let name = "moco"
    let summary = "contrastive: a view's query must find the other view's momentum-encoded key among a queue of past keys, so small batches work"
    let reference = "He, Fan, Wu, Xie, Girshick. Momentum Contrast for Unsupervised Visual Representation Learning. CVPR 2020"
    let dataKinds: [TrainingDataKind] = [.images]
    let settings: [MethodSetting] = [.temperature, MethodSetting("queue", 512, 1...65_536, "keys kept as negatives", integer: true), .momentum]
    let defaultBatch = 32

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try momentumTrainer(.moco(temperature: Float(options.setting("temperature")), queueSize: Int(options.setting("queue"))), data, options)
    }
}
