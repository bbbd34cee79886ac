// Device profiles (`devices/<board>.json`, also compiled in): the cores, memory budget, sensors
// and default model of a board, which `foresight learn --profile` uses wherever its options say nothing.
// Loading is strict: an unknown key (a typo) or a wrong value is an error naming the file and
// the field, with the closest known key suggested. Not a detector: nothing here probes the board.

import Foundation

/// What Foresight knows about the board it runs on.
///
/// ```swift
/// let profile = try DeviceProfile.load(named: "raspberry-pi-5")
/// profile.cores            // 4
/// profile.memoryBudget     // bytes
/// profile.camera.device    // "/dev/video0"
/// ```
public struct DeviceProfile: Codable, Sendable, Equatable {
    /// The board's camera: what `learn` opens when no video source is named.
    public struct Camera: Codable, Sendable, Equatable {
        /// Device node, e.g. `/dev/video0`.
        public var device: String
        /// Size and rate asked of the driver (it gives the nearest it has).
        public var width: Int
        public var height: Int
        public var framesPerSecond: Int
    }

    /// The board's microphone: what `learn --listen` opens.
    public struct Microphone: Codable, Sendable, Equatable {
        /// ALSA capture device: `default`, `hw:X,Y` or `plughw:X,Y`.
        public var device: String
        /// Samples per second, of the microphone and of the audio model.
        public var sampleRate: Int
    }

    /// A description of the board, printed at start.
    public var name: String
    /// Cores: the kernel threads a learner uses.
    public var cores: Int
    /// What the learner's whole plan may take; a plan that does not fit is refused at start.
    public var memoryBudgetMiB: Int
    public var camera: Camera
    public var microphone: Microphone
    /// The model to learn (one of `knownModels`).
    public var model: String
    /// What the model predicts (one of `knownObjectives`).
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
            throw IOError.deviceProfile(source: source, problem: "is not valid JSON (\(error.localizedDescription))")
        }
        guard let top = object as? [String: Any] else { throw IOError.deviceProfile(source: source, problem: "must be a JSON object") }
        try checkKeys(top, section: "", source: source)
        for section in ["camera", "microphone"] {
            if let nested = top[section] as? [String: Any] { try checkKeys(nested, section: section, source: source) }
        }
        let profile: DeviceProfile
        do { profile = try JSONDecoder().decode(DeviceProfile.self, from: data) } catch let DecodingError.keyNotFound(key, context) {
            let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw IOError.deviceProfile(source: source, problem: "lacks the key \"\(path)\"")
        } catch let DecodingError.typeMismatch(expected, context) {
            throw IOError.deviceProfile(source: source, problem: "has a value of the wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" (\(typeName(expected)) expected)")
        } catch let DecodingError.valueNotFound(expected, context) {
            throw IOError.deviceProfile(source: source, problem: "has null at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" (\(typeName(expected)) expected)")
        } catch {
            throw IOError.deviceProfile(source: source, problem: "could not be read: \(error)")
        }
        guard profile.cores >= 1 && profile.cores <= 256 else { throw IOError.deviceProfile(source: source, problem: "cores must be between 1 and 256 (got \(profile.cores))") }
        guard profile.memoryBudgetMiB >= 8 else { throw IOError.deviceProfile(source: source, problem: "memoryBudgetMiB must be at least 8 (got \(profile.memoryBudgetMiB))") }
        for (key, value) in [("width", profile.camera.width), ("height", profile.camera.height), ("framesPerSecond", profile.camera.framesPerSecond)] where value <= 0 {
            throw IOError.deviceProfile(source: source, problem: "camera.\(key) must be positive (got \(value))")
        }
        guard profile.camera.device.hasPrefix("/") else {
            throw IOError.deviceProfile(source: source, problem: "camera.device must be a device path such as /dev/video0 (got \"\(profile.camera.device)\")")
        }
        guard !profile.microphone.device.isEmpty, !profile.microphone.device.contains(where: \.isWhitespace) else {
            throw IOError.deviceProfile(source: source, problem: "microphone.device must name an ALSA capture device such as default, hw:1,0 or plughw:1,0 (got \"\(profile.microphone.device)\")")
        }
        for (key, value, known) in [("model", profile.model, knownModels), ("objective", profile.objective, knownObjectives)] where !known.contains(value) {
            let closest = known.min { editDistance($0, value) < editDistance($1, value) }!
            throw IOError.deviceProfile(source: source, problem: "names the \(key) \"\(value)\", which Foresight does not know; did you mean \"\(closest)\"? (known: \(known.joined(separator: ", ")))")
        }
        guard profile.microphone.sampleRate >= 8000 else {
            throw IOError.deviceProfile(source: source, problem: "microphone.sampleRate must be at least 8000 (got \(profile.microphone.sampleRate))")
        }
        return profile
    }

    /// The folders a profile name is looked up in, in order: `./devices` (the repository's
    /// own folder when run from it), then `$XDG_CONFIG_HOME/foresight/devices` (without
    /// XDG_CONFIG_HOME, `~/.config/foresight/devices`); after them come the built-in profiles.
    public static func searchFolders(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let configuration = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return [FileManager.default.currentDirectoryPath + "/devices", configuration + "/foresight/devices"]
    }

    /// Loads a profile by name (`raspberry-pi-5`) or from a path (one ending in `.json` or
    /// holding a `/`). A name is looked up in `searchFolders()`, then among the built-in
    /// profiles (`builtIn`, the boards of the repository's devices/ folder compiled in), so an
    /// installed binary knows the boards from any working directory and a file of the same
    /// name in a folder overrides the built-in one.
    public static func load(named nameOrPath: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DeviceProfile {
        let fileManager = FileManager.default
        if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") {
            guard let data = fileManager.contents(atPath: nameOrPath) else {
                throw IOError.deviceProfile(source: nameOrPath, problem: "cannot be read (no such file, or not readable)")
            }
            return try decode(data, source: nameOrPath)
        }
        let folders = searchFolders(environment: environment)
        for folder in folders {
            let path = folder + "/" + nameOrPath + ".json"
            if let data = fileManager.contents(atPath: path) { return try decode(data, source: path) }
        }
        if let compiled = builtIn.first(where: { $0.name == nameOrPath }) {
            return try decode(Data(compiled.json.utf8), source: "\(nameOrPath) (built in)")
        }
        let known = availableProfiles(environment: environment).joined(separator: ", ")
        throw IOError.deviceProfile(source: nameOrPath, problem: "was not found in \(folders.joined(separator: ", ")) or the built-in profiles; known profiles: \(known)")
    }

    /// Names of the profiles in `searchFolders()` and the built-in ones, sorted, each once.
    public static func availableProfiles(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var names = Set(builtIn.map(\.name))
        for folder in searchFolders(environment: environment) {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for file in files where file.hasSuffix(".json") { names.insert(String(file.dropLast(5))) }
        }
        return names.sorted()
    }

    private static func checkKeys(_ object: [String: Any], section: String, source: String) throws {
        let known = knownKeys[section]!
        for key in object.keys.sorted() where !known.contains(key) {
            let closest = known.min { editDistance($0, key) < editDistance($1, key) }!
            let place = section.isEmpty ? "" : " in \"\(section)\""
            throw IOError.deviceProfile(source: source, problem: "has an unknown key \"\(key)\"\(place); did you mean \"\(closest)\"?")
        }
    }
}


/// "a number" or "text", for messages about a value of the wrong type.
private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type, is Double.Type: "a number"
    case is String.Type: "text"
    default: "an object"
    }
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
