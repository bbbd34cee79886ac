// JPEG decoded to 8-bit grey by libjpeg-turbo's TurboJPEG API (a kept, widely fuzzed decoder),
// opened at run time (libturbojpeg.so.0) on first use: what sensor_msgs/msg/CompressedImage
// frames of a ROS 2 bag need. Not an encoder and not colour: frames are learned in grey, so the
// decoder keeps the JPEG's luma and never makes RGB.

import CTurboJPEG

/// A TurboJPEG decompressor: JPEG bytes in, the image's luma (its Y channel, BT.601) out, one
/// byte a pixel, rows packed. Sizes are read from the JPEG's header and refused beyond
/// `maximumSide` and `maximumPixels` before anything is allocated (a few bytes of JPEG can
/// declare a gigapixel); a truncated or damaged stream is an error, not a partly grey image.
/// One decoder per thread.
///
/// ```swift
/// let decoder = try JPEGDecoder()
/// var gray: [UInt8] = []
/// let (width, height) = try decoder.decodeGray(jpegBytes[...], into: &gray)   // gray.count == width * height
/// ```
public final class JPEGDecoder {
    static let library = RuntimeLibrary(library: "libjpeg-turbo's TurboJPEG library", file: "libturbojpeg.so.0",
                                        package: "libturbojpeg0", t64: false, neededBy: "JPEG images need")
    static let shared: Result<foresight_turbojpeg, MissingLibrary> = load()

    /// The largest width or height decoded.
    public static let maximumSide = 16384
    /// The most pixels decoded: 16 Mpx (4096 x 4096; a 4K camera's frame is 8.3 Mpx).
    public static let maximumPixels = 1 << 24

    /// Opens `file` (a test passes a missing one to see the error).
    static func load(file: String? = nil) -> Result<foresight_turbojpeg, MissingLibrary> {
        library.load(file: file) { foresight_turbojpeg_load($0, $1, $2) }
    }

    /// Why JPEG images cannot be decoded (libturbojpeg is not installed); nil when it is.
    public static var missingLibrary: MissingLibrary? {
        if case .failure(let missing) = shared { return missing }
        return nil
    }

    private let turbo: foresight_turbojpeg
    private let handle: UnsafeMutableRawPointer

    /// A decompressor; throws the error naming libturbojpeg0 when the library is missing.
    public init() throws(IOError) {
        turbo = try Self.shared.mapError { IOError.missingLibrary($0) }.get()
        guard let made = turbo.tjInitDecompress() else {
            throw IOError.file("JPEG", .io, at: 0, "libturbojpeg made no decompressor (out of memory?)")
        }
        handle = made
    }

    deinit { _ = turbo.tjDestroy(handle) }

    /// Decodes `jpeg` to grey into `gray` (resized to width x height bytes); returns the size.
    /// Errors say `format` and `offset`, where the JPEG lies (e.g. "MCAP" and the message's
    /// offset in the bag), with libturbojpeg's own words.
    public func decodeGray(_ jpeg: ArraySlice<UInt8>, into gray: inout [UInt8], format: String = "JPEG",
                           offset: Int = 0) throws(IOError) -> (width: Int, height: Int) {
        guard !jpeg.isEmpty else { throw IOError.file(format, .truncated, at: offset, "the JPEG image is empty") }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colourspace: Int32 = 0
        let headerRead = jpeg.withUnsafeBytes { bytes in
            turbo.tjDecompressHeader3(handle, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(bytes.count),
                                      &width, &height, &subsampling, &colourspace)
        }
        guard headerRead == 0 else {
            throw IOError.file(format, .malformed, at: offset, "the JPEG image's header does not decode (libturbojpeg: \(lastError()))")
        }
        guard width >= 1, height >= 1, width <= Int32(Self.maximumSide), height <= Int32(Self.maximumSide),
              Int(width) * Int(height) <= Self.maximumPixels else {
            throw IOError.file(format, .unsupported, at: offset,
                               "JPEG image of \(width)x\(height) pixels; sides from 1 to \(Self.maximumSide) and up to \(Self.maximumPixels >> 20) Mpx are decoded")
        }
        let count = Int(width) * Int(height)
        if gray.count != count { gray = [UInt8](repeating: 0, count: count) }
        let flags = Int32(FORESIGHT_TJFLAG_STOPONWARNING | FORESIGHT_TJFLAG_LIMITSCANS)
        let decoded = jpeg.withUnsafeBytes { bytes in
            gray.withUnsafeMutableBufferPointer { pixels in
                turbo.tjDecompress2(handle, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(bytes.count),
                                    pixels.baseAddress, width, width, height, Int32(FORESIGHT_TJPF_GRAY), flags)
            }
        }
        guard decoded == 0 else {
            throw IOError.file(format, .malformed, at: offset,
                               "the \(width)x\(height) JPEG image does not decode (libturbojpeg: \(lastError()))")
        }
        return (Int(width), Int(height))
    }

    /// libturbojpeg's message for this decompressor's last error, on one line.
    private func lastError() -> String {
        let message = turbo.tjGetErrorStr2(handle).map { String(cString: $0) } ?? "an error"
        return message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
