// Two ways in: built with -sanitize=fuzzer -DFUZZING, libFuzzer calls LLVMFuzzerTestOneInput
// with the target named by FORESIGHT_FUZZ_TARGET; built normally, `foresight-fuzz TARGET
// PATH...` replays files or folders of inputs (a corpus, the regression inputs) through it.

import Foundation

#if FUZZING
nonisolated(unsafe) private var selected: FuzzTarget? = nil

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<Int32>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The executable's entry (SwiftPM links an executable target's `main` to this name): hands the
/// command line to libFuzzer's driver.
@_cdecl("foresight_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if selected == nil {
        let name = ProcessInfo.processInfo.environment["FORESIGHT_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("set FORESIGHT_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        selected = target
    }
    selected!.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#else
@main
struct Replay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        guard let first = arguments.first, let target = FuzzTarget(rawValue: first), arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: foresight-fuzz TARGET FILE-OR-FOLDER...  (targets: \(names))\n".utf8))
            exit(2)
        }
        var files: [String] = []
        for path in arguments.dropFirst() {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                FileHandle.standardError.write(Data("foresight-fuzz: no file or folder at \(path)\n".utf8))
                exit(2)
            }
            if isFolder.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        var accepted = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            if target.run(Array(data)) { accepted += 1 }
        }
        try? FileManager.default.removeItem(atPath: FuzzTarget.scratchFile)
        print("\(target.rawValue): \(files.count) inputs replayed (\(accepted) accepted, \(files.count - accepted) refused with an error), none crashed")
    }
}
#endif
