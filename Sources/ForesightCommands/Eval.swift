// `foresight eval`: scores a trained model file's image encoder on labelled image folders (one
// sub-folder per class): a linear probe or k-nearest neighbours on its frozen features, or
// fine-tuning of the encoder with a linear head. The work is ForesightSSL's EvaluationRun; this
// file only reads the command line and prints.

import ArgumentParser
import ForesightSSL

extension ProbeKind: ExpressibleByArgument {}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a trained encoder with a linear probe, k-nearest neighbours or fine-tuning on labelled images.",
        discussion: """
            foresight eval simclr.safetensors --probe linear --train digits/train --test digits/test
            foresight eval simclr.safetensors --probe knn --train digits/train --test digits/test --json
            foresight eval simclr.safetensors --probe finetune --finetune-steps 500 --train digits/train --test digits/test
            Each folder holds one sub-folder of images per class; the test folder's classes must be among \
            the training folder's. Images are resized and made grey or RGB as the model was trained. \
            linear and knn leave the encoder frozen; finetune trains it with a linear head (AdamW, \
            cross-entropy, cosine-decayed learning rate) and shows its progress on stderr.
            """
    )

    @Argument(help: "A model file written by `foresight train`.")
    var model: String

    @Option(help: "linear (a linear layer on standardised features), knn (5 nearest neighbours, cosine) or finetune (encoder and linear head trained together).")
    var probe: ProbeKind = .linear

    @Option(name: .customLong("train"), help: "Labelled training images: one sub-folder per class.")
    var trainFolder: String

    @Option(name: .customLong("test"), help: "Labelled test images: one sub-folder per class.")
    var testFolder: String

    @Flag(help: "Also score the same probe on the same architecture at its random initialisation (for finetune: training from scratch).")
    var compareRandom = false

    @Option(parsing: .unconditional, help: "finetune: training steps.")
    var finetuneSteps = FineTuningSettings().steps

    @Option(parsing: .unconditional, help: "finetune: images per step.")
    var finetuneBatch = FineTuningSettings().batch

    @Option(parsing: .unconditional, help: "finetune: AdamW learning rate of backbone and head, decayed by a cosine to 0.")
    var finetuneLearningRate = FineTuningSettings().learningRate

    @Option(parsing: .unconditional, help: "finetune: threads of the kernels.")
    var threads = 1

    @Option(parsing: .unconditional, help: "Seed of the linear probe's and the fine-tuned head's initialisation and of fine-tuning's batch order.")
    var seed: UInt64 = 0

    @Flag(help: "Print exactly one JSON object: {\"probe\", \"accuracy\", \"n_train\", \"n_test\"} (and \"random_accuracy\" with --compare-random).")
    var json = false

    func validate() throws {
        try OptionRange.checkThreads(threads)
        try OptionRange.check(finetuneSteps, "--finetune-steps", 1...OptionRange.maximumCount)
        try OptionRange.check(finetuneBatch, "--finetune-batch", 1...4096, unit: " images")
        try OptionRange.checkPositive(Double(finetuneLearningRate), "--finetune-learning-rate", maximum: 1)
        guard probe == .finetune else { return }
        do {
            try settings.validate()
        } catch let error as TrainingError {
            throw ValidationError("\(error)")
        }
    }

    var settings: FineTuningSettings {
        FineTuningSettings(steps: finetuneSteps, batch: finetuneBatch, learningRate: finetuneLearningRate, threads: threads, seed: seed)
    }

    func run() throws {
        let bar = ProgressBar()
        let result: EvaluationResult
        do {
            result = try EvaluationRun.evaluate(model: model, probe: probe, train: trainFolder, test: testFolder, compareRandom: compareRandom,
                                                seed: seed, fineTuning: settings, progress: probe == .finetune ? { bar.show($0) } : nil)
        } catch {
            bar.finish()
            throw error
        }
        bar.finish()
        print(json ? result.json : result.line)
    }
}
