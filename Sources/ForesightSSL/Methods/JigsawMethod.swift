// The jigsaw puzzle as a method: its description and data, and its trainer (PretextTrainer).
// Not the permutations or the patch embedding (Jigsaw.swift).

/// `jigsaw`: classify which order shuffled the image's patches.
struct JigsawMethod: SelfSupervisedMethod {
    let name = "jigsaw"
    let summary = "pretext: classify which of a fixed set of orders shuffled the image's patches, each patch embedded alone"
    let reference = "Noroozi, Favaro. Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles. ECCV 2016"
    let dataKinds: [TrainingDataKind] = [.images]

    func makeTrainer(data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        let set = try images(data, options)
        return try pretextTrainer(.jigsaw(height: set.height, width: set.width), set, options)
    }
}
