// The two chunk compressions the MCAP specification names, "zstd" and "lz4" (the LZ4 frame
// format), decoded by the system's libzstd and liblz4, opened at run time on the first
// compressed chunk. Not a streaming decoder: a chunk's records are decoded whole into a buffer
// of the size its Chunk record declares, a size checked before anything is allocated.

import CLZ4
import CZSTD

/// One chunk compression: its name in Chunk records, the library that decodes it and the most
/// bytes one compressed byte can become.
///
/// ```swift
/// let records = try MCAPCompression.decode(compressed, with: "zstd", uncompressedSize: 1 << 20, chunkAt: 8)
/// ```
struct MCAPCompression: Sendable {
    /// The Chunk record's compression string.
    let name: String
    /// The library that decodes it, named in the error when it is missing.
    let library: RuntimeLibrary
    /// The largest ratio of decoded to encoded bytes the format allows: a declared size above
    /// `encoded bytes x maximumExpansion` cannot be true, and is refused unallocated.
    let maximumExpansion: Int
    /// Decodes all of `source` into `target`, whose size is the declared one.
    let decode: @Sendable (_ source: UnsafeRawBufferPointer, _ target: UnsafeMutableRawBufferPointer) -> Decoded

    /// What a decoder made of a chunk's bytes.
    enum Decoded {
        /// Every byte of the source decoded, into this many bytes of the target.
        case wrote(Int)
        /// The source is not a valid stream, ends early or decodes to more than the target holds:
        /// the library's words.
        case damaged(String)
        /// The library is not installed.
        case missing(MissingLibrary)
    }

    /// zstd: its 4-byte RLE block regenerates at most 128 KiB, so a byte becomes at most 32 KiB.
    static let zstd = MCAPCompression(
        name: "zstd",
        library: RuntimeLibrary(library: "zstd's library", file: "libzstd.so.1", package: "libzstd1", t64: false,
                                neededBy: "MCAP chunks compressed with zstd need"),
        maximumExpansion: 1 << 15, decode: decodeZstd)
    /// lz4: a match grows by at most 255 bytes per byte of its length.
    static let lz4 = MCAPCompression(
        name: "lz4",
        library: RuntimeLibrary(library: "LZ4's library", file: "liblz4.so.1", package: "liblz4-1", t64: false,
                                neededBy: "MCAP chunks compressed with lz4 need"),
        maximumExpansion: 255, decode: decodeLZ4)
    /// The compressions read, by name.
    static let all: [String: MCAPCompression] = [zstd.name: zstd, lz4.name: lz4]

    static let zstdFunctions: Result<foresight_zstd, MissingLibrary> = loadZstd()
    static let lz4Functions: Result<foresight_lz4, MissingLibrary> = loadLZ4()

    /// Opens libzstd from `file` (a test passes a missing one to see the error).
    static func loadZstd(file: String? = nil) -> Result<foresight_zstd, MissingLibrary> {
        zstd.library.load(file: file) { foresight_zstd_load($0, $1, $2) }
    }

    /// Opens liblz4 from `file` (a test passes a missing one to see the error).
    static func loadLZ4(file: String? = nil) -> Result<foresight_lz4, MissingLibrary> {
        lz4.library.load(file: file) { foresight_lz4_load($0, $1, $2) }
    }

    /// Why chunks compressed with `name` cannot be read (its library is not installed); nil
    /// when they can, or when no library reads them.
    static func missingLibrary(_ name: String) -> MissingLibrary? {
        switch name {
        case zstd.name: if case .failure(let missing) = zstdFunctions { return missing }
        case lz4.name: if case .failure(let missing) = lz4Functions { return missing }
        default: break
        }
        return nil
    }

    /// The records of a compressed Chunk (at file offset `chunkAt`), `uncompressedSize` bytes as
    /// it declares. The size is refused before it is allocated when it is beyond
    /// `MCAPReader.maximumRecordBytes` or more than `compressed` can decode to; the decoded
    /// size must equal it.
    static func decode(_ compressed: ArraySlice<UInt8>, with name: String, uncompressedSize: UInt64,
                       chunkAt chunkOffset: Int) throws(IOError) -> [UInt8] {
        guard let compression = all[name] else {
            throw IOError.file("MCAP", .unsupported, at: chunkOffset,
                               "Chunk at byte \(chunkOffset) is compressed with \(name.debugDescription); this reader decodes zstd and lz4 (`mcap decompress`, of the MCAP command-line tool, writes an uncompressed copy)")
        }
        guard uncompressedSize <= UInt64(MCAPReader.maximumRecordBytes) else {
            throw IOError.file("MCAP", .unsupported, at: chunkOffset,
                               "\(name) Chunk at byte \(chunkOffset) declares \(uncompressedSize) bytes of records; this reader decodes chunks of up to \(MCAPReader.maximumRecordBytes >> 20) MiB")
        }
        let bound = UInt64(compressed.count) * UInt64(compression.maximumExpansion)
        guard uncompressedSize <= bound else {
            throw IOError.file("MCAP", .malformed, at: chunkOffset,
                               "\(name) Chunk at byte \(chunkOffset) declares \(uncompressedSize) bytes of records; its \(compressed.count) compressed bytes decode to at most \(bound)")
        }
        var records = [UInt8](repeating: 0, count: Int(uncompressedSize))
        let decoded = records.withUnsafeMutableBytes { target in
            compressed.withUnsafeBytes { source in compression.decode(source, target) }
        }
        switch decoded {
        case .wrote(let count) where count == records.count:
            return records
        case .wrote(let count):
            throw IOError.file("MCAP", .malformed, at: chunkOffset,
                               "\(name) Chunk at byte \(chunkOffset) decodes to \(count) bytes of records; it declares \(uncompressedSize): the file is damaged")
        case .damaged(let reason):
            throw IOError.file("MCAP", .malformed, at: chunkOffset,
                               "\(name) Chunk at byte \(chunkOffset) does not decode to the \(uncompressedSize) bytes it declares (\(reason)): the file is damaged")
        case .missing(let missing):
            throw IOError.missingLibrary(missing)
        }
    }

    /// One-shot zstd: every frame of `source` into `target`, which must hold them all.
    private static func decodeZstd(_ source: UnsafeRawBufferPointer, _ target: UnsafeMutableRawBufferPointer) -> Decoded {
        let zstd: foresight_zstd
        switch zstdFunctions {
        case .success(let functions): zstd = functions
        case .failure(let missing): return .missing(missing)
        }
        let result = zstd.ZSTD_decompress(target.baseAddress, target.count, source.baseAddress, source.count)
        guard zstd.ZSTD_isError(result) == 0 else { return .damaged("libzstd: " + (zstd.ZSTD_getErrorName(result).map { String(cString: $0) } ?? "an error")) }
        return .wrote(result)
    }

    /// LZ4 frames, one after another, until `source` is used up; a call that neither reads nor
    /// writes ends the loop, so a stream that stops making progress cannot hang it.
    private static func decodeLZ4(_ source: UnsafeRawBufferPointer, _ target: UnsafeMutableRawBufferPointer) -> Decoded {
        let lz4: foresight_lz4
        switch lz4Functions {
        case .success(let functions): lz4 = functions
        case .failure(let missing): return .missing(missing)
        }
        var context: OpaquePointer? = nil
        let created = lz4.LZ4F_createDecompressionContext(&context, UInt32(FORESIGHT_LZ4F_VERSION))
        guard lz4.LZ4F_isError(created) == 0, let context else { return .damaged("liblz4 made no decompression context") }
        defer { _ = lz4.LZ4F_freeDecompressionContext(context) }
        var read = 0, written = 0
        var expected = 1  // liblz4's hint: 0 once a frame has ended
        while read < source.count {
            var sourceBytes = source.count - read, targetBytes = target.count - written
            expected = lz4.LZ4F_decompress(context, target.baseAddress.map { $0 + written }, &targetBytes,
                                           source.baseAddress! + read, &sourceBytes, nil)
            guard lz4.LZ4F_isError(expected) == 0 else { return .damaged("liblz4: " + (lz4.LZ4F_getErrorName(expected).map { String(cString: $0) } ?? "an error")) }
            read += sourceBytes
            written += targetBytes
            if sourceBytes == 0 && targetBytes == 0 { break }
        }
        if expected != 0 {
            return .damaged(written == target.count ? "it holds more" : "its lz4 frame ends before its end mark")
        }
        return .wrote(written)
    }
}
