// `foresight eval`: scores a trained model file's frozen image encoder with a linear probe or
// k-nearest neighbours on labelled image folders (one sub-folder per class). The work is
// ForesightSSL's EvaluationRun; this file only reads the command line and prints.

import ArgumentParser
import ForesightSSL

extension ProbeKind: ExpressibleByArgument {}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a trained encoder with a linear probe or k-nearest neighbours on labelled images.",
        discussion: """
            foresight eval simclr.safetensors --probe linear --train digits/train --test digits/test
            foresight eval simclr.safetensors --probe knn --train digits/train --test digits/test --json
            Each folder holds one sub-folder of images per class; the test folder's classes must be among \
            the training folder's. Images are resized and made grey or RGB as the model was trained.
            """
    )

    @Argument(help: "A model file written by `foresight train`.")
    var model: String

    @Option(help: "linear (a linear layer on standardised features) or knn (5 nearest neighbours, cosine).")
    var probe: ProbeKind = .linear

    @Option(name: .customLong("train"), help: "Labelled training images: one sub-folder per class.")
    var trainFolder: String

    @Option(name: .customLong("test"), help: "Labelled test images: one sub-folder per class.")
    var testFolder: String

    @Flag(help: "Also score the same probe on the same architecture at its random initialisation.")
    var compareRandom = false

    @Flag(help: "Print exactly one JSON object: {\"probe\", \"accuracy\", \"n_train\", \"n_test\"} (and \"random_accuracy\" with --compare-random).")
    var json = false

    func run() throws {
        let result = try EvaluationRun.evaluate(model: model, probe: probe, train: trainFolder, test: testFolder, compareRandom: compareRandom)
        print(json ? result.json : result.line)
    }
}
