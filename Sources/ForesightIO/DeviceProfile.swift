// Device profiles (`devices/<board>.json`): the cores, memory budget, sensors and default
// model of a board. Loading is strict: an unknown key (a typo) or a wrong value is an error
// naming the file and the key, with the closest known key suggested.

import Foundation

/// What Foresight knows about the board it runs on.
///
/// ```swift
/// let profile = try DeviceProfile.load(named: "raspberry-pi-5")
/// profile.cores            // 4
/// profile.memoryBudget     // bytes
/// ```
public struct DeviceProfile: Codable, Sendable, Equatable {
    public struct Camera: Codable, Sendable, Equatable {
        public var device: String
        public var width: Int
        public var height: Int
        public var framesPerSecond: Int
    }

    public struct Microphone: Codable, Sendable, Equatable {
        public var device: String
        public var sampleRate: Int
    }

    public var name: String
    public var cores: Int
    public var memoryBudgetMiB: Int
    public var camera: Camera
    public var microphone: Microphone
    public var model: String
    public var objective: String

    /// The memory budget in bytes.
    public var memoryBudget: Int { memoryBudgetMiB << 20 }

    static let knownKeys: [String: [String]] = [
        "": ["name", "cores", "memoryBudgetMiB", "camera", "microphone", "model", "objective"],
        "camera": ["device", "width", "height", "framesPerSecond"],
        "microphone": ["device", "sampleRate"],
    ]

    /// Models a profile may name.
    public static let knownModels = ["pc64"]
    /// Objectives a profile may name (those of `foresight learn --objective`).
    public static let knownObjectives = ["motion", "next-frame"]

    /// Parses and checks a profile; `source` names it in errors.
    public static func decode(_ data: Data, source: String) throws -> DeviceProfile {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw DeviceProfileError(source: source, problem: "is not valid JSON (\(error.localizedDescription))")
        }
        guard let top = object as? [String: Any] else { throw DeviceProfileError(source: source, problem: "must be a JSON object") }
        try checkKeys(top, section: "", source: source)
        for section in ["camera", "microphone"] {
            if let nested = top[section] as? [String: Any] { try checkKeys(nested, section: section, source: source) }
        }
        let profile: DeviceProfile
        do { profile = try JSONDecoder().decode(DeviceProfile.self, from: data) } catch let DecodingError.keyNotFound(key, context) {
            let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw DeviceProfileError(source: source, problem: "lacks the key \"\(path)\"")
        } catch let DecodingError.typeMismatch(_, context) {
            throw DeviceProfileError(source: source, problem: "has a value of the wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\"")
        } catch {
            throw DeviceProfileError(source: source, problem: "could not be read: \(error)")
        }
        guard profile.cores >= 1 && profile.cores <= 256 else { throw DeviceProfileError(source: source, problem: "cores must be between 1 and 256 (got \(profile.cores))") }
        guard profile.memoryBudgetMiB >= 8 else { throw DeviceProfileError(source: source, problem: "memoryBudgetMiB must be at least 8 (got \(profile.memoryBudgetMiB))") }
        guard profile.camera.width > 0, profile.camera.height > 0, profile.camera.framesPerSecond > 0 else {
            throw DeviceProfileError(source: source, problem: "camera width, height and framesPerSecond must be positive")
        }
        for (key, value, known) in [("model", profile.model, knownModels), ("objective", profile.objective, knownObjectives)] where !known.contains(value) {
            let closest = known.min { editDistance($0, value) < editDistance($1, value) }!
            throw DeviceProfileError(source: source, problem: "names the \(key) \"\(value)\", which Foresight does not know; did you mean \"\(closest)\"? (known: \(known.joined(separator: ", ")))")
        }
        guard profile.microphone.sampleRate >= 8000 else {
            throw DeviceProfileError(source: source, problem: "microphone sampleRate must be at least 8000 (got \(profile.microphone.sampleRate))")
        }
        return profile
    }

    /// Loads `devices/<name>.json` (searched from the current directory upwards), or a path.
    public static func load(named nameOrPath: String) throws -> DeviceProfile {
        let fileManager = FileManager.default
        var candidates = [nameOrPath]
        if !nameOrPath.hasSuffix(".json") {
            var directory = URL(fileURLWithPath: fileManager.currentDirectoryPath)
            for _ in 0..<6 {
                candidates.append(directory.appendingPathComponent("devices/\(nameOrPath).json").path)
                directory.deleteLastPathComponent()
            }
        }
        guard let path = candidates.first(where: { fileManager.fileExists(atPath: $0) && !$0.isEmpty && $0.hasSuffix(".json") }),
              let data = fileManager.contents(atPath: path) else {
            let known = availableProfiles().joined(separator: ", ")
            throw DeviceProfileError(source: nameOrPath, problem: "was not found; known profiles: \(known.isEmpty ? "none (no devices/ folder here)" : known)")
        }
        return try decode(data, source: path)
    }

    /// Names of the profiles in the nearest `devices/` folder.
    public static func availableProfiles() -> [String] {
        var directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            let folder = directory.appendingPathComponent("devices")
            if let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path) {
                return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
            }
            directory.deleteLastPathComponent()
        }
        return []
    }

    private static func checkKeys(_ object: [String: Any], section: String, source: String) throws {
        let known = knownKeys[section]!
        for key in object.keys.sorted() where !known.contains(key) {
            let closest = known.min { editDistance($0, key) < editDistance($1, key) }!
            let place = section.isEmpty ? "" : " in \"\(section)\""
            throw DeviceProfileError(source: source, problem: "has an unknown key \"\(key)\"\(place); did you mean \"\(closest)\"?")
        }
    }
}

/// A device profile that cannot be used, with the file and the reason.
public struct DeviceProfileError: Error, CustomStringConvertible, Equatable {
    public let source: String
    public let problem: String
    public var description: String { "device profile \(source) \(problem)" }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    var previous = Array(0...b.count)
    for i in 1...max(1, a.count) where !a.isEmpty {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...max(1, b.count) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
