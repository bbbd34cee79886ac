// CPC as a method: its description and data (audio or video), and its trainer for each. Not the
// models (VideoMethods.swift for video, AudioPredictiveCoding.swift for audio).

/// `cpc`: a recurrent context picks its own future latents among the batch's.
struct CPCMethod: SelfSupervisedMethod {
    let name = "cpc"
    let summary = "predictive coding: a recurrent context picks its own future latents of video or audio among the batch's (InfoNCE)"
    let reference = "van den Oord, Li, Vinyals. Representation Learning with Contrastive Predictive Coding. arXiv:1807.03748, 2018"
    let dataKinds: [TrainingDataKind] = [.audio, .video]
    let defaultBatch = 8

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        if case let .audio(samples, rate) = data {
            return try AudioMethods.trainer(name, samples: samples, sampleRate: rate, learningRate: options.learningRate,
                                            threads: options.threads, seed: options.seed)
        }
        return try videoTrainer(data, options)
    }
}
