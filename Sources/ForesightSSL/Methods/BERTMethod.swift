// BERT as a method: its description, data and settings, and its trainer on a text's bytes.
// Not the transformer (TextModels.swift).

/// `bert`: a bidirectional transformer predicts a text's hidden bytes.
struct BERTMethod: SelfSupervisedMethod {
    let name = "bert"
    let summary = "masked modeling: a bidirectional transformer predicts the 15% of a text's bytes hidden by a mask from both sides"
    let reference = "Devlin, Chang, Lee, Toutanova. BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding. NAACL 2019"
    let dataKinds: [TrainingDataKind] = [.text]
    let settings: [MethodSetting] = [.context, MethodSetting("mask-ratio", 0.15, 0.01...0.99, "fraction of the bytes hidden")]
    let defaultBatch = 16

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try BERTTrainer(text: text(data), context: Int(options.setting("context")), maskFraction: options.setting("mask-ratio"), batch: options.batch,
                        learningRate: options.learningRate, threads: options.threads, seed: options.seed)
    }
}
