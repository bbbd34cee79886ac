// The `foresight` command line: the root command and its subcommands, one per job, as a
// library, so that the executable (Sources/foresight) and the option fuzzer parse the same
// commands. Not the program's entry point: that is Sources/foresight/main.swift.

#if canImport(Glibc)
// First, before the modules that import Glibc themselves: `stdout` is a C global, set up
// once here before any thread starts.
@preconcurrency import Glibc
#endif
import ArgumentParser
import Foundation

/// The root command; `Foresight.main()` parses the process's arguments and runs a subcommand.
///
/// ```swift
/// let command = try Foresight.parseAsRoot(["bench", "gemm", "--shape", "64,64,64"])   // validated, not run
/// ```
public struct Foresight: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "foresight",
        abstract: "Self-supervised learning from a robot's own senses, in fixed memory.",
        subcommands: [Learn.self, Imagine.self, Plan.self, Train.self, Eval.self, Methods.self, Sample.self, Bench.self, Devices.self, Record.self, Export.self, Inspect.self, Embed.self]
    )

    public init() {}

    /// Parses and runs a subcommand; a Foundation file error is reported as its path and
    /// reason (`CommandFailure(foundationFileError:)`), not as "NSCocoaErrorDomain error 512". Standard output is
    /// line-buffered even into a pipe, so that journald or `tee` see each progress line as it
    /// is printed, not a block of them minutes later.
    public static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: CommandFailure(foundationFileError: error) ?? error)
        }
    }
}

/// A failure of a command that is neither a bad option nor a broken file: one sentence.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension CommandFailure {
    /// A Foundation file error (CocoaError, or an NSError naming a file) as one sentence a user
    /// can act on: what was done, to which path, and why.
    /// nil when `error` is not a Foundation file error.
    init?(foundationFileError error: any Error) {
        let nsError = error as NSError
        guard nsError.domain == NSCocoaErrorDomain || nsError.userInfo[NSFilePathErrorKey] != nil else { return nil }
        let path = (nsError.userInfo[NSFilePathErrorKey] as? String) ?? (nsError.userInfo[NSURLErrorKey] as? URL)?.path
            ?? (nsError.userInfo[NSURLErrorKey] as? NSURL)?.path
        var reason: String
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        } else {
            switch CocoaError.Code(rawValue: nsError.code) {
            case .fileNoSuchFile, .fileReadNoSuchFile: reason = "no such file or folder"
            case .fileReadNoPermission, .fileWriteNoPermission: reason = "permission denied"
            case .fileWriteOutOfSpace: reason = "no space left on the device"
            case .fileWriteVolumeReadOnly: reason = "the file system is read-only"
            case .fileWriteFileExists: reason = "something else already exists there"
            case .fileReadCorruptFile: reason = "the file is not in the expected format"
            case .fileReadTooLarge: reason = "the file is too large"
            case .fileWriteInvalidFileName, .fileReadInvalidFileName: reason = "the name is not a valid file name"
            default: reason = "the operating system refused it (Foundation error \(nsError.code))"
            }
        }
        let verb = (512..<1024).contains(nsError.code) ? "cannot write" : (256..<512).contains(nsError.code) ? "cannot read" : "cannot open"
        description = "\(verb) \(path ?? "a file"): \(reason)"
    }
}
