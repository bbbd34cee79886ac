// System libraries opened at run time (dlopen) rather than linked: alsa-lib, libpng, libv4l2,
// libzstd, liblz4 and libturbojpeg, so that building needs none of their -dev packages; and
// the error a user sees when one is not installed. Not a plugin loader: each shim (CALSA,
// CPNG, CV4L2, CZSTD, CLZ4, CTurboJPEG) looks up its own fixed table of functions.

/// A system library that did not load, worded so that the user can install it. Thrown inside
/// `IOError.missingLibrary` or a sensor's error, never alone (it is an `Error` for `Result`).
///
/// ```swift
/// // microphones need ALSA's library libasound.so.2: apt install libasound2 (libasound2t64 on Debian 13)
/// print(error)
/// ```
public struct MissingLibrary: Error, Equatable, Sendable, CustomStringConvertible {
    /// What needs the library, e.g. "microphones need".
    public let neededBy: String
    /// The library in words and its file, e.g. "ALSA's library" and "libasound.so.2".
    public let library: String, file: String
    /// The Debian package that has it.
    public let package: String
    /// Whether Debian 13 renamed the package with "t64" (its 64-bit time_t transition).
    public let t64: Bool
    /// dlopen's or dlsym's own message.
    public let reason: String

    /// One line: what needs which file, and the package to install; dlopen's message too
    /// when the file was there but did not load (wrong architecture, too old).
    public var description: String {
        let install = t64 ? "apt install \(package) (\(package)t64 on Debian 13)" : "apt install \(package)"
        if reason.contains("No such file") || reason.isEmpty { return "\(neededBy) \(library) \(file): \(install)" }
        return "\(neededBy) \(library) \(file), which did not load (\(reason)): \(install)"
    }
}

/// A library this package opens at run time: its file, the Debian package that has it, and
/// what needs it (for the error when it is missing).
package struct RuntimeLibrary: Sendable {
    /// The library in words, e.g. "ALSA's library".
    package let library: String
    /// The file dlopen looks for, e.g. "libasound.so.2".
    package let file: String
    /// The Debian package, e.g. "libasound2".
    package let package: String
    /// Whether Debian 13 renamed the package with "t64" (libasound2t64); libzstd1 kept its name.
    package let t64: Bool
    /// What needs it, e.g. "microphones need".
    package let neededBy: String

    package init(library: String, file: String, package: String, t64: Bool = true, neededBy: String) {
        self.library = library
        self.file = file
        self.package = package
        self.t64 = t64
        self.neededBy = neededBy
    }

    /// Runs a shim's loader (`foresight_*_load`) on `file` and copies the function table it
    /// returns. A test may pass another `file` to see the error of a missing library.
    package func load<Table>(file: String? = nil,
                     _ loader: (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>, Int) -> UnsafePointer<Table>?) -> Result<Table, MissingLibrary> {
        let file = file ?? self.file
        var message = [CChar](repeating: 0, count: 512)
        let table = message.withUnsafeMutableBufferPointer { loader(file, $0.baseAddress!, $0.count) }
        if let table { return .success(table.pointee) }
        return .failure(MissingLibrary(neededBy: neededBy, library: library, file: file, package: package, t64: t64,
                                            reason: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
    }
}
