// The camera images of one topic of a ROS 2 bag (MCAP) as grey frames in [0, 1], area-resized
// for the learner, with their log times: what live replay (`PacedFrameProducer.bag`) and
// training clips read. Not a decoder itself: JPEG CompressedImage goes to libturbojpeg
// (ForesightIO's JPEGDecoder), PNG CompressedImage to libpng (ForesightIO's PNG).

import ForesightIO

/// The ROS 2 image encodings read, and how each becomes grey.
enum BagPixelEncoding {
    /// How an encoding's pixels become grey.
    enum Conversion: Equatable {
        /// A camera pixel format's grey conversion.
        case pixels(PixelFormat)
        /// 16-bit grey, scaled by 1/65535 (all 16 bits kept, not only the high byte), in the
        /// message's byte order.
        case gray16
    }

    /// The grey conversion and the bytes of one pixel, for a ROS 2 encoding name; nil when not read.
    static func format(_ encoding: String) -> (Conversion, bytesPerPixel: Int)? {
        switch encoding {
        case "mono8", "8UC1": (.pixels(.gray8), 1)
        case "mono16": (.gray16, 2)
        case "rgb8": (.pixels(.rgb24), 3)
        case "bgr8", "8UC3": (.pixels(.bgr24), 3)
        case "yuv422_yuy2", "yuyv": (.pixels(.yuyv), 2)
        case "yuv422", "uyvy": (.pixels(.uyvy), 2)
        default: nil
        }
    }

    /// For messages: the encodings read.
    static let supported = "mono8, mono16, rgb8, bgr8, yuv422_yuy2 or yuyv (YUYV), yuv422 or uyvy (UYVY), and JPEG or PNG CompressedImage"

    /// 16-bit grey rows (`height` rows `bytesPerLine` apart) to [0, 1].
    static func convertGray16(_ source: UnsafeRawPointer, width: Int, height: Int, bytesPerLine: Int, bigEndian: Bool,
                              gray: UnsafeMutablePointer<Float>) {
        let bytes = source.assumingMemoryBound(to: UInt8.self)
        let (high, low) = bigEndian ? (0, 1) : (1, 0)
        for y in 0..<height {
            let row = bytes + y * bytesPerLine, out = gray + y * width
            for x in 0..<width { out[x] = Float(UInt16(row[2 * x + high]) << 8 | UInt16(row[2 * x + low])) / 65535 }
        }
    }
}

/// Grey frames of one image topic of a ROS 2 bag, in file order: each sensor_msgs/msg/Image
/// converted to grey (BT.601 luma of RGB; the Y bytes of YUV 4:2:2 taken as they are; mono16
/// scaled by 1/65535), or each JPEG or PNG sensor_msgs/msg/CompressedImage decoded to its luma
/// (a colour PNG's BT.601 luma; a 16-bit PNG is read at 8 bits), scaled to [0, 1] and
/// area-resized to `width` x `height`. Memory: the largest chunk of the file (twice, when
/// compressed) and one frame of the bag's size in floats (and in bytes, for JPEG and PNG).
///
/// ```swift
/// let frames = try BagFrames(path: "walk.mcap", topic: "/camera/image_raw", width: 64, height: 64)
/// var frame = [Float](repeating: 0, count: 64 * 64)
/// while let time = try frame.withUnsafeMutableBufferPointer({ try frames.next(into: $0.baseAddress!) }) { print(time) }
/// ```
public final class BagFrames {
    /// The bag's path.
    public let path: String
    /// The image topic read.
    public let topic: String
    /// Output size.
    public let width: Int, height: Int
    /// Messages on the topic, from the bag's summary; nil when it has none.
    public let messageCount: Int?
    /// Frames per second, from the log times of the first frames (30 when there is one frame).
    public private(set) var framesPerSecond: Double = 30
    /// Frames read since the start of the bag.
    public private(set) var framesRead = 0
    private var reader: MCAPReader
    /// The frame being decoded, grey at its own size.
    private var gray: [Float] = []
    private var grayWidth = 0, grayHeight = 0
    private var jpeg: JPEGDecoder?
    /// The decoded bytes of a JPEG or PNG frame.
    private var compressedPixels: [UInt8] = []

    /// Opens the bag at `path` and chooses `topic`: nil takes the bag's only image topic.
    /// Errors name the bag's image topics when the topic is missing or not an image; the first
    /// frame is decoded here, so that an encoding that is not read (or a JPEG without
    /// libturbojpeg) is an error before any frame is delivered.
    public init(path: String, topic: String?, width: Int, height: Int) throws(IOError) {
        precondition(width >= 1 && height >= 1, "bag frames need a positive size, got \(width)x\(height)")
        let summary = try MCAPReader.summary(path: path)
        let images = summary.channels.filter { $0.schemaName == ROS2Image.schemaName || $0.schemaName == ROS2CompressedImage.schemaName }
        let listing = images.isEmpty ? "it has no sensor_msgs/msg/Image topic"
            : "its image topics are " + images.map { "\($0.topic) (\($0.schemaName))" }.joined(separator: ", ")
        guard let chosen = topic ?? (images.count == 1 ? images[0].topic : nil) else {
            throw IOError.file("MCAP", .unsupported, at: 0, "\(path) has \(images.count) image topics; choose one with --topic: \(listing)")
        }
        let channels = summary.channels.filter { $0.topic == chosen }
        guard let channel = channels.first else {
            throw IOError.file("MCAP", .unsupported, at: 0, "\(path) has no topic \(chosen); \(listing)")
        }
        guard channel.schemaName == ROS2Image.schemaName || channel.schemaName == ROS2CompressedImage.schemaName,
              channel.messageEncoding == "cdr" else {
            throw IOError.file("MCAP", .unsupported, at: 0,
                               "\(chosen) in \(path) carries \(channel.schemaName.isEmpty ? "messages without a schema" : channel.schemaName) in \(channel.messageEncoding.debugDescription); frames are read from sensor_msgs/msg/Image and CompressedImage in CDR: \(listing)")
        }
        self.path = path
        self.topic = chosen
        self.width = width
        self.height = height
        messageCount = summary.messageCounts.map { counts in channels.reduce(0) { $0 + (counts[$1.id] ?? 0) } }
        // The first frames: decoded once to check the encoding, their log times give the rate.
        reader = try MCAPReader(path: path)
        var times: [UInt64] = []
        var scratch = [Float](repeating: 0, count: width * height)
        while times.count < 30 {
            guard let time = try scratch.withUnsafeMutableBufferPointer({ (buffer) throws(IOError) -> UInt64? in
                try next(into: buffer.baseAddress!)
            }) else { break }
            times.append(time)
        }
        guard let first = times.first, let last = times.last else {
            throw IOError.file("MCAP", .unsupported, at: 0, "\(chosen) in \(path) has no messages")
        }
        let span = Double(last &- first) * 1e-9
        if last > first && span.isFinite { framesPerSecond = Double(times.count - 1) / span }
        try rewind()
    }

    /// Starts again from the bag's first frame.
    public func rewind() throws(IOError) {
        reader = try MCAPReader(path: path)
        framesRead = 0
    }

    /// Writes the next frame ([height, width] in [0, 1]) into `target`; returns its log time
    /// in nanoseconds, or nil after the last frame.
    public func next(into target: UnsafeMutablePointer<Float>) throws(IOError) -> UInt64? {
        while let message = try reader.nextMessage() {
            guard message.channel.topic == topic else { continue }
            if message.channel.schemaName == ROS2CompressedImage.schemaName {
                try decodeCompressed(message)
            } else {
                try decodeRaw(message)
            }
            gray.withUnsafeBufferPointer {
                areaResize($0.baseAddress!, width: grayWidth, height: grayHeight, into: target, width: width, height: height)
            }
            framesRead += 1
            return message.logTime
        }
        return nil
    }

    /// Makes `gray` fit a frame of `sourceWidth` x `sourceHeight`.
    private func prepare(sourceWidth: Int, sourceHeight: Int) {
        guard grayWidth != sourceWidth || grayHeight != sourceHeight else { return }
        grayWidth = sourceWidth
        grayHeight = sourceHeight
        gray = [Float](repeating: 0, count: sourceWidth * sourceHeight)
    }

    /// A sensor_msgs/msg/Image into `gray`.
    private func decodeRaw(_ message: MCAPMessage) throws(IOError) {
        let image = try ROS2Image(cdr: message.data, offset: message.offset)
        guard let (conversion, bytesPerPixel) = BagPixelEncoding.format(image.encoding) else {
            throw IOError.file("MCAP", .unsupported, at: message.offset,
                               "image encoding \(image.encoding.debugDescription) on \(topic); frames are read from \(BagPixelEncoding.supported)")
        }
        guard image.step >= image.width * bytesPerPixel else {
            throw IOError.file("MCAP", .malformed, at: message.offset,
                               "\(image.encoding) image of \(image.width)x\(image.height) with rows of \(image.step) bytes: a row needs \(image.width * bytesPerPixel)")
        }
        prepare(sourceWidth: image.width, sourceHeight: image.height)
        message.data.withUnsafeBytes { raw in
            gray.withUnsafeMutableBufferPointer { gray in
                let pixels = raw.baseAddress! + (image.pixels.lowerBound - message.data.startIndex)
                switch conversion {
                case .pixels(let format):
                    convertToGray(format, source: pixels, width: image.width, height: image.height, bytesPerLine: image.step,
                                  range: .full, gray: gray.baseAddress!)
                case .gray16:
                    BagPixelEncoding.convertGray16(pixels, width: image.width, height: image.height, bytesPerLine: image.step,
                                                   bigEndian: image.isBigEndian, gray: gray.baseAddress!)
                }
            }
        }
    }

    /// A JPEG or PNG sensor_msgs/msg/CompressedImage into `gray`, through libturbojpeg or libpng.
    private func decodeCompressed(_ message: MCAPMessage) throws(IOError) {
        let image = try ROS2CompressedImage(cdr: message.data, offset: message.offset)
        let at = message.offset + (image.data.lowerBound - message.data.startIndex)
        let sourceWidth: Int, sourceHeight: Int, format: PixelFormat
        if image.isPNG && !image.isJPEG {
            let decoded = try PNG.decode(message.data[image.data], into: &compressedPixels, format: "MCAP", offset: at)
            (sourceWidth, sourceHeight, format) = (decoded.width, decoded.height, decoded.channels == 3 ? .rgb24 : .gray8)
        } else {
            guard image.isJPEG else {
                throw IOError.file("MCAP", .unsupported, at: message.offset,
                                   "CompressedImage format \(image.format.debugDescription) on \(topic); compressed frames are read from JPEG or PNG")
            }
            if jpeg == nil { jpeg = try JPEGDecoder() }
            let decoded = try jpeg!.decodeGray(message.data[image.data], into: &compressedPixels, format: "MCAP", offset: at)
            (sourceWidth, sourceHeight, format) = (decoded.width, decoded.height, .gray8)
        }
        prepare(sourceWidth: sourceWidth, sourceHeight: sourceHeight)
        compressedPixels.withUnsafeBytes { pixels in
            gray.withUnsafeMutableBufferPointer { gray in
                convertToGray(format, source: pixels.baseAddress!, width: sourceWidth, height: sourceHeight,
                              bytesPerLine: sourceWidth * (format == .rgb24 ? 3 : 1), range: .full, gray: gray.baseAddress!)
            }
        }
    }
}
