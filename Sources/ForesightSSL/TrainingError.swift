// The one error ForesightSSL throws: each case names the kind of failure, so a program can
// act on it, and its description is the message a user reads. Not the lower layers' errors
// (IOError, IOError, ModelError, ...): those pass through unwrapped.

/// Why self-supervised training, evaluation or their data could not go on. The case says what
/// kind of failure it is; `description` says what to change.
///
/// ```swift
/// do {
///     _ = try MethodRegistry.method(named: "simclear")
/// } catch let TrainingError.unknownMethod(name, known, _) {
///     print("\(name) is not one of \(known)")
/// }
/// ```
public enum TrainingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No method of that name; `known` lists those there are. `family` is nil for the method
    /// registry, "audio" or "video" for the trainers of one kind of data.
    case unknownMethod(String, known: [String], family: String? = nil)
    /// The method trains on other kinds of data; `source` names the data given ("--data x.wav").
    case wrongData(method: String, needs: [TrainingDataKind], got: TrainingDataKind, source: String)
    /// `method` has no setting called `name`; `known` are the settings it has.
    case unknownSetting(method: String, name: String, known: [MethodSetting])
    /// A value of `method`'s `setting` outside `setting.range`.
    case settingOutOfRange(method: String, setting: MethodSetting, value: Double)
    /// A setting, option or argument (`name`: "batch", "momentum", "--epochs") has a value that
    /// cannot be used: out of its range, not a whole number, malformed, or a backbone the method
    /// does not train.
    case invalidSetting(name: String, message: String)
    /// A backbone specification ("resnet width=16 groups=4") that does not describe a backbone.
    case malformedBackbone(specification: String, message: String)
    /// The data holds `available` items (images, frames, samples, bytes, pairs) where one batch
    /// or window needs `needed`.
    case notEnoughData(available: Int, needed: Int, message: String)
    /// Fewer log-mel frames have arrived than one audio window needs; feeding more samples helps.
    case notEnoughAudio(frames: Int, needed: Int)
    /// Data that does not match what it is used with: image sizes, labels or classes, sample
    /// rates, clip shapes, or a video and a sound that were not recorded together.
    case mismatchedData(message: String)
    /// A data file or folder that is missing, unreadable, malformed or holds nothing usable;
    /// `path` is nil when the data came without one (bytes in memory, a chunk of many files).
    case unreadableData(path: String?, message: String)
    /// A model (a file at `path`, or a program in memory when nil) that does not hold what this
    /// use needs: a tensor, an image backbone, another method's weights.
    case unsuitableModel(path: String?, message: String)
    /// The checkpoint at `path` stores `stored` under `key` where this run has `current`
    /// (nil: no value); resuming would mix two different runs.
    case checkpointMismatch(path: String, key: String, stored: String?, current: String?)
    /// `method`'s loss was not finite at `step`; the message says which checkpoint was kept.
    case nonFiniteLoss(method: String, step: Int, message: String)

    public var description: String {
        switch self {
        case let .unknownMethod(name, known, nil):
            "unknown method '\(name)'; known methods: \(known.joined(separator: ", ")) (`foresight methods` describes each)"
        case let .unknownMethod(name, known, family?):
            "unknown \(family) method '\(name)'; known: \(known.joined(separator: ", "))"
        case let .wrongData(method, needs, got, source):
            Self.wrongDataMessage(method: method, needs: needs, got: got, source: source)
        case let .unknownSetting(method, name, known):
            "\(method) has no setting '\(name)'; "
                + (known.isEmpty ? "it has none" : "its settings: " + known.map { "\($0.name) (default \($0.format($0.defaultValue)))" }.joined(separator: ", "))
        case let .settingOutOfRange(method, setting, value):
            "\(method) setting \(setting.name)=\(setting.format(value)) is outside \(setting.format(setting.range.lowerBound))...\(setting.format(setting.range.upperBound)); give a value in that range"
        case let .notEnoughAudio(frames, needed):
            "audio CPC needs \(needed) log-mel frames for one window but has \(frames); feed more samples first"
        case let .checkpointMismatch(path, key, stored, current):
            "cannot resume from \(path): it has \(key) '\(stored ?? "none")', this run '\(current ?? "none")'"
        case let .invalidSetting(_, message), let .malformedBackbone(_, message), let .notEnoughData(_, _, message),
             let .mismatchedData(message), let .unreadableData(_, message), let .unsuitableModel(_, message),
             let .nonFiniteLoss(_, _, message):
            message
        }
    }

    private static func wrongDataMessage(method: String, needs: [TrainingDataKind], got: TrainingDataKind, source: String) -> String {
        let takers = MethodRegistry.methods.filter { $0.dataKinds.contains(got) }.map(\.name)
        let instead = needs.map(\.pathDescription).joined(separator: " or ")
        return "\(method) trains on \(needs.map(\.rawValue).joined(separator: " or ")); \(source) is \(got.rawValue): give \(instead)"
            + (takers.isEmpty ? "" : ", or choose a method that trains on \(got.rawValue): \(takers.joined(separator: ", "))")
    }

    /// The error for a batch of `batch` that does not fit `available` items: `.invalidSetting`
    /// ("batch") when the batch is below `minimum`, else `.notEnoughData`.
    static func batch(_ batch: Int, minimum: Int, available: Int, _ message: String) -> TrainingError {
        batch < minimum ? .invalidSetting(name: "batch", message: message) : .notEnoughData(available: available, needed: batch, message: message)
    }
}
