// Running programs from tests: the package's own executables built beside the test bundle,
// and any program run to its end with both output streams captured.

import Foundation

/// The executable `name` built beside the test bundle (the build folder SwiftPM runs the tests
/// from); nil when it was not built.
public func builtProgram(_ name: String) -> URL? {
    let argumentZero = URL(fileURLWithPath: CommandLine.arguments[0])
    let folders = Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        + [argumentZero.deletingLastPathComponent(), argumentZero.resolvingSymlinksInPath().deletingLastPathComponent()]
    return folders.map { $0.appendingPathComponent(name) }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

/// Runs `executable` with `arguments` to its end; its exit status and what it printed on
/// standard output and standard error together; `directory` is its working directory (nil:
/// the tests').
public func runToEnd(_ executable: URL, _ arguments: [String], in directory: URL? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A new empty folder of this process under the temporary directory, named `prefix-PID-UUID`;
/// the caller removes it.
public func makeTemporaryFolder(_ prefix: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}
