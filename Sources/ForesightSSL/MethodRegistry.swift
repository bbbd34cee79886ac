// The list of every self-supervised method, and looking one up by name: the checks before a
// trainer is made (a known name, data of a kind it takes, settings it has). Not the methods
// themselves (one type each under Methods/) and not the training loop (TrainingRun.swift).

/// Every trainable method, found by its short name.
///
/// ```swift
/// let trainer = try MethodRegistry.makeTrainer(method: "simclr", data: .images(set), options: TrainingOptions())
/// for _ in 0..<100 { try trainer.step() }
/// ```
public enum MethodRegistry {
    /// Every method, in the order `foresight methods` lists them. A new method is one line
    /// here and one type in its own file under Methods/.
    public static let methods: [any SelfSupervisedMethod] = [
        SimCLRMethod(),
        MoCoMethod(),
        CLIPMethod(),
        BYOLMethod(),
        SimSiamMethod(),
        VICRegMethod(),
        BarlowTwinsMethod(),
        MaskedAutoencoderMethod(),
        BERTMethod(),
        GPTMethod(),
        NextFrameMethod(),
        MotionMethod(),
        CPCMethod(),
        JEPAMethod(),
        AutoencoderMethod(),
        DenoisingMethod(),
        RotationMethod(),
        JigsawMethod(),
        InpaintingMethod(),
    ]

    /// Names of every method, in the order of `methods`.
    public static var names: [String] { methods.map(\.name) }

    /// The method called `name`, or an error listing the known names.
    public static func method(named name: String) throws -> any SelfSupervisedMethod {
        guard let method = methods.first(where: { $0.name == name }) else {
            throw TrainingError.unknownMethod(name, known: names)
        }
        return method
    }

    /// Checks that `method` trains on `kind` before any data is read; `source` names the data
    /// in the error ("--data x.wav").
    public static func check(method name: String, trainsOn kind: TrainingDataKind, source: String) throws {
        let method = try method(named: name)
        guard method.dataKinds.contains(kind) else {
            throw TrainingError.wrongData(method: name, needs: method.dataKinds, got: kind, source: source)
        }
    }

    /// The trainer of `method` on `data`, with `options.settings` resolved against the
    /// method's settings; a clear error for an unknown name, data of the wrong kind, a setting
    /// the method does not have, or a backbone no method trains.
    public static func makeTrainer(method name: String, data: TrainingData, options: TrainingOptions) throws -> any SelfSupervisedTrainer {
        try check(method: name, trainsOn: data.kind, source: "the data (\(data.summary))")
        let method = try method(named: name)
        var options = options
        options.settings = try method.resolvedSettings(options.settings)
        if options.backbone is FramePredictionEncoder {
            throw TrainingError.invalidSetting(name: "backbone", message: "'\(options.backbone.specification)' is the encoder the next-frame and motion methods learn; eval reads it from their model files, but no method trains it as its backbone (try \"\(SmallResNet().specification)\")")
        }
        return try method.makeTrainer(data: data, options: options)
    }
}
