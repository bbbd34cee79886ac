// Still images: an 8-bit image type, binary PGM/PPM (P5/P6) read and write, PNG through
// libpng's simplified API (opened at run time: libpng16.so.16), and folders of such files as a frame sequence. Not an image
// library: no colour management, no 16-bit output, no ASCII (P2/P3) PNM.

import CPNG
import Glibc

/// An 8-bit image with 1 (grey) or 3 (RGB) interleaved channels, rows without padding.
///
/// ```swift
/// let image = try ByteImage.read(path: "frame.png")   // image.pixels: [height, width, channels]
/// ```
public struct ByteImage: Equatable, Sendable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// 1 for grey, 3 for RGB.
    public var channels: Int
    /// Pixels, [height, width, channels].
    public var pixels: [UInt8]

    /// An image of `pixels`; `pixels.count` must be `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3, "images have 1 or 3 channels, got \(channels)")
        precondition(width > 0 && height > 0 && pixels.count == width * height * channels,
                     "image \(width)x\(height)x\(channels) needs \(width * height * channels) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Reads a PNG, PGM or PPM file, chosen by its first bytes.
    public static func read(path: String) throws(IOError) -> ByteImage {
        let bytes = try readWholeFile(path, format: path.lowercased().hasSuffix(".png") ? "PNG" : "PNM")
        if bytes.starts(with: PNG.signature) { return try PNG.decode(bytes) }
        return try PNM.decode(bytes)
    }

    /// Writes a PNG (`.png`) or a PGM/PPM file (any other name), by the path's extension.
    public func write(path: String) throws(IOError) {
        if path.lowercased().hasSuffix(".png") {
            try writeWholeFile(path, PNG.encode(self), format: "PNG")
        } else {
            try writeWholeFile(path, PNM.encode(self), format: "PNM")
        }
    }
}

/// Binary PGM (P5, grey) and PPM (P6, RGB), 8 or 16 bits per sample.
public enum PNM {
    /// Decodes a P5 or P6 file; 16-bit samples keep their high byte, other maxima are rescaled.
    public static func decode(_ bytes: [UInt8]) throws(IOError) -> ByteImage {
        guard bytes.count >= 2 else { throw IOError.file("PNM", .truncated, at: bytes.count, "file ends inside the magic number") }
        guard bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6") else {
            throw IOError.file("PNM", .unsupported, at: 0, "not a binary PGM (P5) or PPM (P6) file")
        }
        let channels = bytes[1] == UInt8(ascii: "5") ? 1 : 3
        var position = 2
        func number(_ what: String) throws(IOError) -> Int {
            // Whitespace and '#' comments may stand between the header fields.
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != UInt8(ascii: "\n") { position += 1 }
                } else if byte == 32 || (byte >= 9 && byte <= 13) {
                    position += 1
                } else { break }
            }
            let start = position
            var value = 0
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                position += 1
                if position - start > 6 { throw IOError.file("PNM", .malformed, at: start, "\(what) has more than 6 digits") }
            }
            if position == bytes.count { throw IOError.file("PNM", .truncated, at: position, "file ends inside the \(what)") }
            if position == start { throw IOError.file("PNM", .malformed, at: start, "\(what) is not a number") }
            return value
        }
        let width = try number("width"), height = try number("height"), maximum = try number("maximum value")
        guard width > 0 && height > 0 && width <= 16384 && height <= 16384 else {
            throw IOError.file("PNM", .malformed, at: 3, "image size \(width)x\(height) is outside 1x1 to 16384x16384")
        }
        guard maximum >= 1 && maximum <= 65535 else {
            throw IOError.file("PNM", .malformed, at: position, "maximum value \(maximum) is outside 1 to 65535")
        }
        position += 1  // the single whitespace byte before the raster
        let bytesPerSample = maximum > 255 ? 2 : 1
        let sampleCount = width * height * channels
        guard bytes.count - position >= sampleCount * bytesPerSample else {
            throw IOError.file("PNM", .truncated, at: bytes.count,
                                  "raster needs \(sampleCount * bytesPerSample) bytes from byte \(position), the file has \(max(0, bytes.count - position))")
        }
        var pixels = [UInt8](repeating: 0, count: sampleCount)
        for i in 0..<sampleCount {
            let value = bytesPerSample == 1 ? Int(bytes[position + i]) : Int(bytes[position + 2 * i]) << 8 | Int(bytes[position + 2 * i + 1])
            pixels[i] = maximum == 255 ? UInt8(value) : UInt8(min(255, (value * 255 + maximum / 2) / maximum))
        }
        return ByteImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Encodes as P5 (grey) or P6 (RGB) with maximum 255.
    public static func encode(_ image: ByteImage) -> [UInt8] {
        Array("P\(image.channels == 1 ? 5 : 6)\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
    }
}

/// PNG through libpng (a kept, widely fuzzed decoder): we check the chunk structure ourselves,
/// so that a broken file names its byte offset, then let libpng decode and convert to 8-bit
/// grey or RGB (palette, 16-bit and alpha are composited on black by libpng). libpng is
/// opened on first use; without it, both directions throw an error naming its package.
public enum PNG {
    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
    static let formatFlagColour = png_uint_32(PNG_FORMAT_FLAG_COLOR)
    static let formatRGB = png_uint_32(PNG_FORMAT_RGB)
    static let formatGray = png_uint_32(PNG_FORMAT_GRAY)

    static let library = RuntimeLibrary(library: "libpng's library", file: "libpng16.so.16", package: "libpng16-16",
                                        neededBy: "PNG files need")
    static let shared: Result<foresight_png, MissingLibrary> = load()

    /// Opens `file` (a test passes a missing one to see the error).
    static func load(file: String? = nil) -> Result<foresight_png, MissingLibrary> {
        library.load(file: file) { foresight_png_load($0, $1, $2) }
    }

    /// libpng's functions, or the error that says which package to install.
    static func functions() throws(IOError) -> foresight_png {
        try shared.mapError { missingLibraryError($0) }.get()
    }

    /// Why PNG files cannot be read or written (libpng is not installed); nil when it is.
    public static var missingLibrary: MissingLibrary? {
        if case .failure(let missing) = shared { return missing }
        return nil
    }

    /// The error of a PNG read or write without libpng.
    static func missingLibraryError(_ missing: MissingLibrary) -> IOError {
        IOError.file("PNG", .unsupported, at: 0, missing.description)
    }

    /// Decodes a PNG to grey (grey and grey+alpha files) or RGB (all others).
    public static func decode(_ bytes: [UInt8]) throws(IOError) -> ByteImage {
        var pixels: [UInt8] = []
        let (width, height, channels) = try decode(bytes[...], into: &pixels)
        return ByteImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Most pixels a PNG may declare before anything is allocated for it (16 Mpx).
    public static let maximumPixels = 1 << 24

    /// Decodes `png` into `pixels` (resized only when the image's size changes, so a stream of
    /// same-sized images allocates once), grey for grey and grey+alpha files, RGB for all
    /// others; returns the size and channels. Errors say `format` and where the PNG lies
    /// (`offset`, e.g. a message's offset in a bag), plus the byte within the PNG.
    public static func decode(_ png: ArraySlice<UInt8>, into pixels: inout [UInt8], format: String = "PNG",
                              offset: Int = 0) throws(IOError) -> (width: Int, height: Int, channels: Int) {
        let firstImageData = try png.withUnsafeBufferPointer { bytes throws(IOError) in try checkChunks(bytes, format: format, offset: offset) }
        // IHDR, the first chunk, holds the sides: refuse a huge image before libpng allocates for it.
        let start = png.startIndex
        let declaredWidth = BigEndian.uint32(png, start + 16), declaredHeight = BigEndian.uint32(png, start + 20)
        guard declaredWidth >= 1, declaredHeight >= 1, declaredWidth <= 16384, declaredHeight <= 16384,
              Int(declaredWidth) * Int(declaredHeight) <= maximumPixels else {
            throw IOError.file(format, .unsupported, at: offset + 16,
                               "PNG image of \(declaredWidth)x\(declaredHeight) pixels; sides from 1 to 16384 and up to \(maximumPixels >> 20) Mpx are decoded")
        }
        let library = try functions()
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        let began = png.withUnsafeBytes { library.png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw libpngError(&image, format: format, at: offset + 8) }
        defer { library.png_image_free(&image) }
        let colour = image.format & PNG.formatFlagColour != 0
        let channels = colour ? 3 : 1
        image.format = colour ? PNG.formatRGB : PNG.formatGray
        let width = Int(image.width), height = Int(image.height)
        if pixels.count != width * height * channels { pixels = [UInt8](repeating: 0, count: width * height * channels) }
        let finished = pixels.withUnsafeMutableBytes { library.png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw libpngError(&image, format: format, at: offset + firstImageData) }
        return (width, height, channels)
    }

    /// Encodes an 8-bit grey or RGB PNG.
    public static func encode(_ source: ByteImage) throws(IOError) -> [UInt8] {
        let png = try functions()
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(source.width)
        image.height = png_uint_32(source.height)
        image.format = source.channels == 3 ? PNG.formatRGB : PNG.formatGray
        var size: png_alloc_size_t = 0
        // First call measures, second writes; a failure here is a bug (our input is valid).
        let measured = source.pixels.withUnsafeBytes { png.png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        precondition(measured != 0, "libpng refused a \(source.width)x\(source.height)x\(source.channels) image")
        var output = [UInt8](repeating: 0, count: Int(size))
        let written = output.withUnsafeMutableBytes { out in
            source.pixels.withUnsafeBytes { png.png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        precondition(written != 0, "libpng failed to write a \(source.width)x\(source.height) image")
        return Array(output.prefix(Int(size)))
    }

    /// Walks the chunks (length, type, data, CRC) up to IEND, checking each CRC and that IHDR
    /// comes first; returns the offset of the first IDAT. Errors are at `offset` plus the byte.
    static func checkChunks(_ bytes: UnsafeBufferPointer<UInt8>, format: String = "PNG", offset: Int = 0) throws(IOError) -> Int {
        func failure(_ kind: IOError.FileProblem, _ at: Int, _ message: String) -> IOError { IOError.file(format, kind, at: offset + at, message) }
        guard bytes.count >= 8 else { throw failure(.truncated, bytes.count, "the PNG ends inside its signature") }
        guard bytes.starts(with: signature) else { throw failure(.malformed, 0, "not a PNG signature") }
        var position = 8, firstImageData = -1
        while true {
            guard bytes.count - position >= 8 else {
                throw failure(.truncated, bytes.count, "the PNG ends inside a chunk header at byte \(position) (no IEND)")
            }
            let length = BigEndian.uint32(bytes, position)
            guard length <= 0x7FFF_FFFF else {
                throw failure(.malformed, position, "chunk length \(length) is beyond 2^31-1")
            }
            let type = String(decoding: bytes[position + 4..<position + 8], as: UTF8.self)
            guard position > 8 || (type == "IHDR" && length == 13) else {
                throw failure(.malformed, position, "the first chunk is \(type.debugDescription) of \(length) bytes, not IHDR of 13")
            }
            guard bytes.count - position - 12 >= Int(length) else {
                throw failure(.truncated, bytes.count, "chunk \(type) at byte \(position) announces \(length) bytes; the PNG ends first")
            }
            let storedCRC = BigEndian.uint32(bytes, position + 8 + Int(length))
            guard crc32(bytes[position + 4..<position + 8 + Int(length)]) == storedCRC else {
                throw failure(.malformed, position + 8 + Int(length), "CRC of chunk \(type) at byte \(position) does not match its data")
            }
            if type == "IDAT" && firstImageData < 0 { firstImageData = position }
            if type == "IEND" { return max(firstImageData, 8) }
            position += 12 + Int(length)
        }
    }

    /// The CRC-32 of PNG (and zlib), bit by bit: chunks are small and this runs once per file.
    static func crc32<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return crc ^ 0xFFFF_FFFF
    }

    private static func libpngError(_ image: inout png_image, format: String, at offset: Int) -> IOError {
        let message = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let kind: IOError.FileProblem = message.contains("end of") || message.contains("truncat") ? .truncated : .malformed
        return IOError.file(format, kind, at: offset, "libpng: \(message)")
    }

    private enum BigEndian {
        static func uint32<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ offset: Bytes.Index) -> UInt32 where Bytes.Index == Int {
            UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
        }
    }
}

/// A folder of PNG/PGM/PPM files read in file-name order as a frame sequence.
///
/// ```swift
/// let folder = try ImageFolder(path: "frames/")
/// let first = try folder.image(at: 0)
/// ```
public struct ImageFolder: Sendable {
    /// Full paths of the images, sorted by name.
    public let paths: [String]

    /// Whether a file name ends in `.png`, `.pgm` or `.ppm` (any case): an image this type reads.
    public static func isImageName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".png") || lower.hasSuffix(".pgm") || lower.hasSuffix(".ppm")
    }

    /// Lists `path`'s `.png`, `.pgm` and `.ppm` files.
    public init(path: String) throws(IOError) {
        guard let directory = opendir(path) else {
            throw IOError.file("folder", .io, at: 0, "cannot open folder \(path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            if ImageFolder.isImageName(name) { names.append(name) }
        }
        let separator = path.hasSuffix("/") ? "" : "/"
        paths = names.sorted().map { path + separator + $0 }
    }

    /// Number of images.
    public var count: Int { paths.count }

    /// Reads the image at `index`.
    public func image(at index: Int) throws(IOError) -> ByteImage {
        precondition(index >= 0 && index < paths.count, "image index \(index) outside 0..<\(paths.count)")
        return try ByteImage.read(path: paths[index])
    }
}
