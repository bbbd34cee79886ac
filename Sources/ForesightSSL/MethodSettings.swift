// The settings of a method that the command line exposes (`foresight train --set NAME=VALUE`):
// each has a name, a default, an allowed range and a one-line meaning. A typo or a value out
// of range is an error that lists what the method takes. Not the training options every
// method shares (batch, learning rate, backbone): those are `TrainingOptions` fields.

/// One named setting of a method: a temperature, a loss weight, a queue length.
///
/// ```swift
/// let queue = MethodSetting("queue", 512, 1...65_536, "keys kept as negatives", integer: true)
/// ```
public struct MethodSetting: Sendable, Equatable {
    public let name: String
    public let defaultValue: Double
    public let range: ClosedRange<Double>
    /// What it controls, for `foresight methods`.
    public let summary: String
    /// Whether only whole numbers are allowed.
    public let integer: Bool

    public init(_ name: String, _ defaultValue: Double, _ range: ClosedRange<Double>, _ summary: String, integer: Bool = false) {
        precondition(range.contains(defaultValue), "the default \(defaultValue) of setting \(name) lies outside \(range)")
        self.name = name
        self.defaultValue = defaultValue
        self.range = range
        self.summary = summary
        self.integer = integer
    }

    /// The contrastive softmax temperature, 0.2.
    public static let temperature = MethodSetting("temperature", 0.2, 0.01...10, "softmax temperature of the contrastive loss")
    /// The EMA momentum of a target network, 0.99.
    public static let momentum = MethodSetting("momentum", 0.99, 0...0.9999, "EMA momentum of the target network")
    /// Bytes per text window, 32.
    public static let context = MethodSetting("context", 32, 2...1024, "bytes per text window", integer: true)

    /// `value` as the command line and model files write it: "512", "25", "0.2".
    public func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// The settings of a `describe` string (or of `--set` arguments, one "name=value" each);
    /// throws for a malformed pair. The names are checked later, by `resolvedSettings`.
    public static func parse(_ pairs: [String]) throws -> [String: Double] {
        var values: [String: Double] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let value = Double(parts[1]) else {
                throw TrainingError.invalidSetting(name: "pair", message: "a method setting is NAME=NUMBER, got '\(pair)'")
            }
            values[parts[0]] = value
        }
        return values
    }
}

extension SelfSupervisedMethod {
    /// Every setting of the method: its default, or the value in `given`. Throws for a name the
    /// method does not have (listing those it has), a value out of range or a fraction where a
    /// whole number is needed.
    public func resolvedSettings(_ given: [String: Double]) throws -> [String: Double] {
        for name in given.keys.sorted() where !settings.contains(where: { $0.name == name }) {
            throw TrainingError.unknownSetting(method: self.name, name: name, known: settings)
        }
        var resolved: [String: Double] = [:]
        for setting in settings {
            let value = given[setting.name] ?? setting.defaultValue
            guard value.isFinite, setting.range.contains(value) else {
                throw TrainingError.settingOutOfRange(method: self.name, setting: setting, value: value)
            }
            guard !setting.integer || value == value.rounded() else {
                throw TrainingError.invalidSetting(name: setting.name, message: "\(self.name) setting \(setting.name) must be a whole number, got \(value)")
            }
            resolved[setting.name] = value
        }
        return resolved
    }

    /// "name=value ..." of resolved `values` in the method's order (what model files store); "" without settings.
    public func describe(_ values: [String: Double]) -> String {
        settings.compactMap { setting in values[setting.name].map { "\(setting.name)=\(setting.format($0))" } }.joined(separator: " ")
    }
}
