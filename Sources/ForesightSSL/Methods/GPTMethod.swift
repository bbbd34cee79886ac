// GPT as a method: its description, data and context length, and its trainer on a text's bytes.
// Not the transformer or the sampling (TextModels.swift).

/// `gpt`: a causal transformer predicts each next byte of a text.
struct GPTMethod: SelfSupervisedMethod {
    let name = "gpt"
    let summary = "generative: a causal transformer predicts each next byte of a text from the bytes before it, and samples new text"
    let reference = "Radford, Narasimhan, Salimans, Sutskever. Improving Language Understanding by Generative Pre-Training. OpenAI 2018"
    let dataKinds: [TrainingDataKind] = [.text]
    let settings: [MethodSetting] = [.context]
    let defaultBatch = 16

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try GPTTrainer(text: text(data), context: Int(options.setting("context")), batch: options.batch, learningRate: options.learningRate,
                       threads: options.threads, seed: options.seed)
    }
}
