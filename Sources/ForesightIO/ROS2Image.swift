// ROS 2 camera images (sensor_msgs/msg/Image and sensor_msgs/msg/CompressedImage) decoded from
// their CDR serialisation, as ROS 2 bags hold them: the header, size, encoding and row step, or
// the compressed format, and where the pixels or the compressed bytes lie. Not a pixel
// converter (ForesightSensors turns the encodings into grey frames; JPEG.swift decodes JPEG)
// and not a general CDR or IDL decoder: the two message layouts, in plain CDR of either byte order.

/// A sensor_msgs/msg/Image message: its fields, and its pixels as a range of the message.
///
/// ```swift
/// let image = try ROS2Image(cdr: message.data, offset: message.offset)
/// image.encoding   // "rgb8"; pixels in message.data[image.pixels], rows `image.step` bytes apart
/// ```
public struct ROS2Image: Equatable, Sendable {
    /// The header's stamp: seconds and nanoseconds.
    public var stampSeconds: Int32, stampNanoseconds: UInt32
    /// The header's frame id.
    public var frameID: String
    /// Size in pixels.
    public var width: Int, height: Int
    /// The pixel encoding: "mono8", "rgb8", "bgr8", "yuv422" (UYVY), "yuv422_yuy2" (YUYV), ...
    public var encoding: String
    /// Whether multi-byte pixels are big-endian.
    public var isBigEndian: Bool
    /// Bytes from the start of one row to the next.
    public var step: Int
    /// Where the pixel bytes lie within the message's bytes (the indices of the slice given).
    public var pixels: Range<Int>

    /// The ROS 2 schema name of this message.
    public static let schemaName = "sensor_msgs/msg/Image"
    /// The largest width or height accepted.
    public static let maximumSide = 16384

    /// Decodes `cdr`, a message's bytes starting with the 4-byte encapsulation header;
    /// `offset` is their position in the file, for errors. The pixel data must hold `height`
    /// rows of `step` bytes.
    public init(cdr: ArraySlice<UInt8>, offset: Int) throws(IOError) {
        var reader = try CDRReader(cdr, offset: offset)
        stampSeconds = Int32(bitPattern: try reader.uint32("header.stamp.sec"))
        stampNanoseconds = try reader.uint32("header.stamp.nanosec")
        frameID = try reader.string("header.frame_id")
        let height = try reader.uint32("height"), width = try reader.uint32("width")
        encoding = try reader.string("encoding")
        isBigEndian = try reader.uint8("is_bigendian") != 0
        let step = try reader.uint32("step")
        let count = try reader.uint32("data length")
        guard width >= 1, height >= 1, width <= UInt32(Self.maximumSide), height <= UInt32(Self.maximumSide) else {
            throw IOError.file("MCAP", .malformed, at: offset, "sensor_msgs/msg/Image of \(width)x\(height) pixels; sides from 1 to \(Self.maximumSide) are read")
        }
        self.width = Int(width)
        self.height = Int(height)
        self.step = Int(step)
        guard UInt64(step) * UInt64(height) <= UInt64(count) else {
            throw IOError.file("MCAP", .malformed, at: offset,
                               "sensor_msgs/msg/Image of \(height) rows of \(step) bytes holds \(count) bytes of data")
        }
        let start = try reader.bytes(Int(count), "data")
        pixels = start..<(start + Int(count))
    }
}

/// A sensor_msgs/msg/CompressedImage message: its header, its format and where the compressed
/// bytes lie.
///
/// ```swift
/// let image = try ROS2CompressedImage(cdr: message.data, offset: message.offset)
/// image.format   // "jpeg"; the JPEG in message.data[image.data]
/// ```
public struct ROS2CompressedImage: Equatable, Sendable {
    /// The header's stamp: seconds and nanoseconds.
    public var stampSeconds: Int32, stampNanoseconds: UInt32
    /// The header's frame id.
    public var frameID: String
    /// How the bytes are compressed: "jpeg" or "png", or image_transport's longer form,
    /// e.g. "rgb8; jpeg compressed bgr8".
    public var format: String
    /// Where the compressed bytes lie within the message's bytes (the indices of the slice given).
    public var data: Range<Int>

    /// The ROS 2 schema name of this message.
    public static let schemaName = "sensor_msgs/msg/CompressedImage"

    /// Whether `format` names JPEG ("jpeg", "jpg", "rgb8; jpeg compressed bgr8", any case).
    public var isJPEG: Bool {
        let lowered = format.lowercased()
        return lowered.contains("jpeg") || lowered.contains("jpg")
    }

    /// Whether `format` names PNG ("png", "mono8; png compressed ", any case).
    public var isPNG: Bool { format.lowercased().contains("png") }

    /// Decodes `cdr`, a message's bytes starting with the 4-byte encapsulation header;
    /// `offset` is their position in the file, for errors.
    public init(cdr: ArraySlice<UInt8>, offset: Int) throws(IOError) {
        var reader = try CDRReader(cdr, offset: offset)
        stampSeconds = Int32(bitPattern: try reader.uint32("header.stamp.sec"))
        stampNanoseconds = try reader.uint32("header.stamp.nanosec")
        frameID = try reader.string("header.frame_id")
        format = try reader.string("format")
        let count = Int(try reader.uint32("data length"))
        let start = try reader.bytes(count, "data")
        data = start..<(start + count)
    }
}

/// Plain CDR fields read in order, each aligned to its size from the end of the encapsulation
/// header; reading past the end is a `malformed` error naming the field.
struct CDRReader {
    let bytes: ArraySlice<UInt8>
    let offset: Int
    let littleEndian: Bool
    private var position: Int  // index into bytes
    private let origin: Int    // index where alignment counts from

    init(_ bytes: ArraySlice<UInt8>, offset: Int) throws(IOError) {
        guard bytes.count >= 4 else {
            throw IOError.file("MCAP", .malformed, at: offset, "a CDR message of \(bytes.count) bytes has no encapsulation header")
        }
        let kind = UInt16(bytes[bytes.startIndex]) << 8 | UInt16(bytes[bytes.startIndex + 1])
        guard kind <= 1 else {
            throw IOError.file("MCAP", .unsupported, at: offset,
                               "CDR representation 0x\(String(kind, radix: 16)); ROS 2 images are read in plain CDR (0x0000 big-endian, 0x0001 little-endian)")
        }
        self.bytes = bytes
        self.offset = offset
        littleEndian = kind == 1
        origin = bytes.startIndex + 4
        position = origin
    }

    private mutating func take(_ count: Int, alignment: Int, _ what: String) throws(IOError) -> Int {
        let padding = (alignment - (position - origin) % alignment) % alignment
        guard bytes.endIndex - position >= padding, bytes.endIndex - position - padding >= count else {
            throw IOError.file("MCAP", .malformed, at: offset + (position - bytes.startIndex),
                               "the message ends inside its \(what) (\(count) bytes, \(max(0, bytes.endIndex - position - padding)) left)")
        }
        position += padding + count
        return position - count
    }

    mutating func uint8(_ what: String) throws(IOError) -> UInt8 {
        bytes[try take(1, alignment: 1, what)]
    }

    mutating func uint32(_ what: String) throws(IOError) -> UInt32 {
        let at = try take(4, alignment: 4, what)
        var value: UInt32 = 0
        for index in 0..<4 {
            let shift = littleEndian ? 8 * index : 8 * (3 - index)
            value |= UInt32(bytes[at + index]) << UInt32(shift)
        }
        return value
    }

    /// A uint32 length (with the terminating NUL) and the characters.
    mutating func string(_ what: String) throws(IOError) -> String {
        let count = Int(try uint32("\(what)'s length"))
        let at = try take(count, alignment: 1, what)
        let characters = bytes[at..<(at + count)]
        return String(decoding: characters.last == 0 ? characters.dropLast() : characters, as: UTF8.self)
    }

    /// `count` bytes; returns the index of the first.
    mutating func bytes(_ count: Int, _ what: String) throws(IOError) -> Int {
        try take(count, alignment: 1, what)
    }
}
