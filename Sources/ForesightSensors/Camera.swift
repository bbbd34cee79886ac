// V4L2 cameras through the kernel's interface (ioctl, mmap, poll): enumeration of devices,
// formats, sizes and frame rates; opening, format negotiation, frame-rate control and mmap
// streaming with typed errors; and the capture thread that reads a camera at its pace into a
// FrameRing of the model's frames, reopening it when it vanishes. libv4l2 is opened at run
// time only for a camera that offers none of the formats we convert ourselves (e.g. MJPEG
// only), for its software conversion. Not a pixel converter (Preprocessing.swift) and not a
// scheduler: the learner reads the ring whenever it likes and is never blocked.

import CV4L2
import Glibc
import ForesightCore
import ForesightIO

extension SensorError {
    /// Maps errno after `call` on `path` to the error a user can act on.
    static func from(errno code: Int32, call: String, path: String) -> SensorError {
        switch code {
        case ENOENT: return .noSuchCamera(path: path)
        case EBUSY: return .cameraBusy(path: path)
        case EACCES, EPERM: return .cameraPermissionDenied(path: path)
        case ENODEV, ENXIO: return .cameraGone(path: path)
        default: return .cameraSystemCall(path: path, call: call, errno: code)
        }
    }
}

/// A frame size a camera offers, with the frame rates it lists for it (empty when the
/// driver gives none for this format).
public struct CameraFrameSize: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Frames per second.
    public var framesPerSecond: [Double]
}

/// A pixel format a camera offers.
public struct CameraPixelFormat: Sendable, Equatable {
    /// The V4L2 FourCC, e.g. "YUYV".
    public var fourCC: String
    /// The driver's description.
    public var name: String
    /// True when libv4l2 converts to it in software (e.g. RGB3 from an MJPEG camera); such
    /// formats are listed only when libv4l2 is installed.
    public var emulated: Bool
    /// Discrete sizes, or the smallest and largest of a stepwise range.
    public var sizes: [CameraFrameSize]
}

/// A camera found by `Camera.enumerate()`.
public struct CameraDescription: Sendable, Equatable {
    /// Device node, e.g. "/dev/video0".
    public var path: String
    /// The card name the driver reports.
    public var name: String
    /// The driver's name (e.g. "vivid", "uvcvideo").
    public var driver: String
    /// Where the device sits (e.g. "usb-0000:00:14.0-1").
    public var bus: String
    /// Formats, sizes and rates.
    public var formats: [CameraPixelFormat]
}

/// FourCC codes and their `PixelFormat` for the formats we convert ourselves.
enum FourCC {
    static func string(_ code: UInt32) -> String {
        String(decoding: (0..<4).map { UInt8(truncatingIfNeeded: code >> (8 * $0)) }, as: UTF8.self)
    }

    static func code(_ format: PixelFormat) -> UInt32 {
        switch format {
        case .gray8: return foresight_V4L2_PIX_FMT_GREY()
        case .yuyv: return foresight_V4L2_PIX_FMT_YUYV()
        case .uyvy: return foresight_V4L2_PIX_FMT_UYVY()
        case .yuv420: return foresight_V4L2_PIX_FMT_YUV420()
        case .nv12: return foresight_V4L2_PIX_FMT_NV12()
        case .rgb24: return foresight_V4L2_PIX_FMT_RGB24()
        case .bgr24: return foresight_V4L2_PIX_FMT_BGR24()
        }
    }

    static func pixelFormat(_ code: UInt32) -> PixelFormat? { PixelFormat.allCases.first { FourCC.code($0) == code } }
}

/// libv4l2, opened on first use.
enum LibV4L2 {
    static let library = RuntimeLibrary(library: "libv4l2's library", file: "libv4l2.so.0", package: "libv4l-0",
                                        neededBy: "converting other camera formats (e.g. MJPEG) needs")
    static let shared: Result<foresight_libv4l2, MissingLibrary> = load()

    /// Opens `file` (a test passes a missing one to see the error).
    static func load(file: String? = nil) -> Result<foresight_libv4l2, MissingLibrary> {
        library.load(file: file) { foresight_libv4l2_load($0, $1, $2) }
    }
}

/// An open V4L2 device node and the way its requests go: straight to the kernel, or through
/// libv4l2, which adds the formats it converts in software (e.g. RGB3 from MJPEG). Every
/// request, mapping and close goes through here.
struct V4L2Device {
    let descriptor: Int32
    /// nil: the kernel directly.
    let converter: foresight_libv4l2?

    /// Opens `path` for the kernel's interface, non-blocking.
    static func open(_ path: String) throws(SensorError) -> V4L2Device {
        let descriptor = Glibc.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw SensorError.from(errno: errno, call: "open", path: path) }
        return V4L2Device(descriptor: descriptor, converter: nil)
    }

    /// The same node handed to libv4l2, which from then on owns the descriptor (on failure,
    /// the caller still closes this one).
    func converting(with library: foresight_libv4l2, path: String) throws(SensorError) -> V4L2Device {
        precondition(converter == nil, "\(path) is already opened through libv4l2")
        guard library.v4l2_fd_open(descriptor, 0) == descriptor else { throw SensorError.from(errno: errno, call: "v4l2_fd_open", path: path) }
        return V4L2Device(descriptor: descriptor, converter: library)
    }

    /// The one choke point for V4L2 requests, retried on EINTR. Returns 0 or the errno.
    @inline(__always)
    func request<T>(_ request: UInt, _ argument: inout T) -> Int32 {
        while true {
            let status = withUnsafeMutablePointer(to: &argument) { pointer in
                if var converter { return foresight_libv4l2_ioctl(&converter, descriptor, request, pointer) }
                return foresight_ioctl(descriptor, request, pointer)
            }
            if status == 0 { return 0 }
            if errno != EINTR { return errno }
        }
    }

    /// Maps buffer `length` bytes at `offset`; nil with errno set on failure.
    func map(length: Int, offset: Int64) -> UnsafeMutableRawPointer? {
        let start = converter.map { $0.v4l2_mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, offset) }
            ?? mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, off_t(offset))
        return start == MAP_FAILED ? nil : start
    }

    func unmap(_ start: UnsafeMutableRawPointer, length: Int) {
        if let converter { _ = converter.v4l2_munmap(start, length) } else { munmap(start, length) }
    }

    func close() {
        if let converter { _ = converter.v4l2_close(descriptor) } else { _ = Glibc.close(descriptor) }
    }
}

/// Fixed-size C char arrays (tuples) as Swift strings.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// Device discovery.
public enum Camera {
    /// Every V4L2 capture device among /dev/video0 ... /dev/video63, with its modes.
    /// Devices that cannot be opened (busy, no permission) are listed with no formats.
    public static func enumerate() -> [CameraDescription] {
        var cameras: [CameraDescription] = []
        for index in 0..<64 {
            let path = "/dev/video\(index)"
            guard access(path, F_OK) == 0 else { continue }
            if let description = try? describe(path: path) { cameras.append(description) }
        }
        return cameras
    }

    /// The formats, sizes and frame rates of the camera at `path`; with libv4l2 installed,
    /// also the formats it converts (marked `emulated`).
    public static func describe(path: String) throws(SensorError) -> CameraDescription {
        var device = try V4L2Device.open(path)
        defer { device.close() }
        let capability = try queryCapability(device, path: path)
        if case .success(let library) = LibV4L2.shared { device = try device.converting(with: library, path: path) }
        return CameraDescription(path: path, name: cString(capability.card), driver: cString(capability.driver),
                                 bus: cString(capability.bus_info), formats: formats(device))
    }

    /// Why formats that need libv4l2's conversion are not listed or used; nil when it is installed.
    public static var missingConversionLibrary: MissingLibrary? {
        if case .failure(let missing) = LibV4L2.shared { return missing }
        return nil
    }

    /// VIDIOC_QUERYCAP, checking for single-planar video capture with streaming.
    static func queryCapability(_ device: V4L2Device, path: String) throws(SensorError) -> v4l2_capability {
        var capability = v4l2_capability()
        let status = device.request(foresight_VIDIOC_QUERYCAP(), &capability)
        guard status == 0 else {
            throw status == ENOTTY ? .notACaptureDevice(path: path) : SensorError.from(errno: status, call: "VIDIOC_QUERYCAP", path: path)
        }
        let deviceCaps = capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? capability.device_caps : capability.capabilities
        guard deviceCaps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0, deviceCaps & UInt32(V4L2_CAP_STREAMING) != 0 else {
            throw .notACaptureDevice(path: path)
        }
        return capability
    }

    static func formats(_ device: V4L2Device) -> [CameraPixelFormat] {
        var result: [CameraPixelFormat] = []
        var index: UInt32 = 0
        while true {
            var description = v4l2_fmtdesc()
            description.index = index
            description.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            guard device.request(foresight_VIDIOC_ENUM_FMT(), &description) == 0 else { break }
            result.append(CameraPixelFormat(
                fourCC: FourCC.string(description.pixelformat), name: cString(description.description),
                emulated: description.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0,
                sizes: sizes(device, pixelFormat: description.pixelformat)))
            index += 1
        }
        return result
    }

    static func sizes(_ device: V4L2Device, pixelFormat: UInt32) -> [CameraFrameSize] {
        var result: [CameraFrameSize] = []
        var index: UInt32 = 0
        while index < 256 {
            var size = v4l2_frmsizeenum()
            size.index = index
            size.pixel_format = pixelFormat
            guard device.request(foresight_VIDIOC_ENUM_FRAMESIZES(), &size) == 0 else { break }
            if size.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                let (width, height) = (Int(size.discrete.width), Int(size.discrete.height))
                result.append(CameraFrameSize(width: width, height: height,
                                              framesPerSecond: rates(device, pixelFormat: pixelFormat, width: width, height: height)))
            } else {
                for (width, height) in [(size.stepwise.min_width, size.stepwise.min_height), (size.stepwise.max_width, size.stepwise.max_height)] {
                    result.append(CameraFrameSize(width: Int(width), height: Int(height),
                                                  framesPerSecond: rates(device, pixelFormat: pixelFormat, width: Int(width), height: Int(height))))
                }
                break
            }
            index += 1
        }
        return result
    }

    static func rates(_ device: V4L2Device, pixelFormat: UInt32, width: Int, height: Int) -> [Double] {
        var result: [Double] = []
        var index: UInt32 = 0
        while index < 64 {
            var interval = v4l2_frmivalenum()
            interval.index = index
            interval.pixel_format = pixelFormat
            interval.width = UInt32(width)
            interval.height = UInt32(height)
            guard device.request(foresight_VIDIOC_ENUM_FRAMEINTERVALS(), &interval) == 0 else { break }
            if interval.type == V4L2_FRMIVAL_TYPE_DISCRETE.rawValue {
                if interval.discrete.numerator > 0 { result.append(Double(interval.discrete.denominator) / Double(interval.discrete.numerator)) }
            } else {
                let fastest = interval.stepwise.min, slowest = interval.stepwise.max
                if fastest.numerator > 0 && slowest.numerator > 0 {
                    result += [Double(slowest.denominator) / Double(slowest.numerator), Double(fastest.denominator) / Double(fastest.numerator)]
                }
                break
            }
            index += 1
        }
        return result
    }
}

/// Where and when a captured frame was taken.
public struct CameraFrameInfo: Sendable, Equatable {
    /// The driver's frame counter (gaps are frames the driver dropped).
    public var sequence: UInt32
    /// The driver's time stamp in nanoseconds (CLOCK_MONOTONIC for most drivers).
    public var timestampNanoseconds: UInt64
    /// Bytes of the frame in the buffer.
    public var bytesUsed: Int
}

/// A camera size and frame rate to ask the driver for (it gives the nearest it has).
///
/// ```swift
/// let source = try CameraCapture(path: "/dev/video0", size: 64, mode: CameraMode(width: 320, height: 240, framesPerSecond: 15))
/// ```
public struct CameraMode: Sendable, Equatable {
    /// Frame size in pixels.
    public var width: Int, height: Int
    /// Frames per second.
    public var framesPerSecond: Double

    /// A mode as given.
    public init(width: Int, height: Int, framesPerSecond: Double) {
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
    }

    /// What Foresight asks a camera for when nothing else is said: 640 x 480 at 30 frames/s.
    public static let standard = CameraMode(width: 640, height: 480, framesPerSecond: 30)
}

/// An open V4L2 camera streaming through mmap buffers.
///
/// ```swift
/// let camera = try V4L2Camera(path: "/dev/video0", width: 640, height: 480, framesPerSecond: 30)
/// try camera.start()
/// try camera.readFrame(timeoutMilliseconds: 1000) { bytes, info in
///     convertToGray(camera.pixelFormat, source: bytes.baseAddress!, width: camera.width, height: camera.height,
///                   bytesPerLine: camera.bytesPerLine, gray: frame)
/// }
/// ```
public final class V4L2Camera {
    /// Device node.
    public let path: String
    /// Negotiated size (the driver may pick the nearest it supports).
    public let width: Int, height: Int
    /// Negotiated pixel layout.
    public let pixelFormat: PixelFormat
    /// Bytes per row of the first plane.
    public let bytesPerLine: Int
    /// The frame rate the driver accepted (0 when it does not say).
    public let framesPerSecond: Double

    private let device: V4L2Device
    private var buffers: [(start: UnsafeMutableRawPointer, length: Int)] = []
    private var streaming = false
    private var gone = false

    /// The formats we convert, in order of preference for grey output: luma planes first.
    public static let preferredFormats: [PixelFormat] = [.gray8, .yuyv, .uyvy, .yuv420, .nv12, .rgb24, .bgr24]

    /// Opens `path` and negotiates a format (the first of `formats` that the camera lists
    /// natively; only when it lists none of them, the first that libv4l2 converts to), a size
    /// near `width` x `height`, and `framesPerSecond`; then maps `bufferCount` buffers.
    public convenience init(path: String, width: Int, height: Int, framesPerSecond: Double = CameraMode.standard.framesPerSecond,
                            formats: [PixelFormat] = V4L2Camera.preferredFormats, bufferCount: Int = 4) throws(SensorError) {
        try self.init(path: path, width: width, height: height, framesPerSecond: framesPerSecond, formats: formats,
                      bufferCount: bufferCount, alwaysThroughLibV4L2: false)
    }

    /// `alwaysThroughLibV4L2`: go through libv4l2 even when the camera offers a wanted format
    /// natively (tests of that path on a camera that offers everything).
    init(path: String, width: Int, height: Int, framesPerSecond: Double, formats: [PixelFormat], bufferCount: Int,
         alwaysThroughLibV4L2: Bool) throws(SensorError) {
        precondition(width > 0 && height > 0 && framesPerSecond > 0 && bufferCount >= 2,
                     "camera needs a positive size and rate and 2+ buffers, got \(width)x\(height) at \(framesPerSecond), \(bufferCount)")
        self.path = path
        var device = try V4L2Device.open(path)
        var mapped: [(start: UnsafeMutableRawPointer, length: Int)] = []
        var opened = false
        defer {
            if !opened {
                for buffer in mapped { device.unmap(buffer.start, length: buffer.length) }
                device.close()
            }
        }
        _ = try Camera.queryCapability(device, path: path)

        // Pick the first wanted format the camera offers natively; failing that, let libv4l2
        // add the formats it converts to (e.g. from MJPEG) and pick among those.
        func firstWanted(_ offered: [String]) -> PixelFormat? { formats.first { offered.contains(FourCC.string(FourCC.code($0))) } }
        var offered = Camera.formats(device).map(\.fourCC)
        if firstWanted(offered) == nil || alwaysThroughLibV4L2 {
            switch LibV4L2.shared {
            case .success(let library):
                device = try device.converting(with: library, path: path)
                offered = Camera.formats(device).map(\.fourCC)
            case .failure(let missing):
                throw .conversionLibraryMissing(path: path, offered: offered, missing)
            }
        }
        guard let chosen = firstWanted(offered) else {
            throw .cameraFormatRejected(path: path, reason: "it offers \(offered.joined(separator: ", ")); none of \(formats.map { FourCC.string(FourCC.code($0)) }.joined(separator: ", "))")
        }
        var format = v4l2_format()
        format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        format.fmt.pix.width = UInt32(width)
        format.fmt.pix.height = UInt32(height)
        format.fmt.pix.pixelformat = FourCC.code(chosen)
        format.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        let status = device.request(foresight_VIDIOC_S_FMT(), &format)
        guard status == 0 else {
            if status == EINVAL { throw .cameraFormatRejected(path: path, reason: "VIDIOC_S_FMT refused \(FourCC.string(FourCC.code(chosen))) \(width)x\(height)") }
            throw SensorError.from(errno: status, call: "VIDIOC_S_FMT", path: path)
        }
        guard let negotiated = FourCC.pixelFormat(format.fmt.pix.pixelformat), negotiated == chosen else {
            throw .cameraFormatRejected(path: path, reason: "asked for \(FourCC.string(FourCC.code(chosen))), the driver set \(FourCC.string(format.fmt.pix.pixelformat))")
        }
        guard format.fmt.pix.field == V4L2_FIELD_NONE.rawValue || format.fmt.pix.field == V4L2_FIELD_ANY.rawValue else {
            throw .cameraFormatRejected(path: path, reason: "the driver only gives interlaced frames (field \(format.fmt.pix.field))")
        }
        self.pixelFormat = negotiated
        self.width = Int(format.fmt.pix.width)
        self.height = Int(format.fmt.pix.height)
        let minimumLine = negotiated == .yuyv || negotiated == .uyvy ? 2 * self.width
            : negotiated == .rgb24 || negotiated == .bgr24 ? 3 * self.width : self.width
        self.bytesPerLine = max(Int(format.fmt.pix.bytesperline), minimumLine)

        // Frame rate: timeperframe = 1 / fps, as a fraction with a millisecond-level numerator.
        var parameters = v4l2_streamparm()
        parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        var actualRate = 0.0
        if device.request(foresight_VIDIOC_G_PARM(), &parameters) == 0,
           parameters.parm.capture.capability & UInt32(V4L2_CAP_TIMEPERFRAME) != 0 {
            parameters.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32((framesPerSecond * 1000).rounded()))
            let rateStatus = device.request(foresight_VIDIOC_S_PARM(), &parameters)
            guard rateStatus == 0 else { throw SensorError.from(errno: rateStatus, call: "VIDIOC_S_PARM", path: path) }
            let fraction = parameters.parm.capture.timeperframe
            if fraction.numerator > 0 { actualRate = Double(fraction.denominator) / Double(fraction.numerator) }
        }
        self.framesPerSecond = actualRate

        // mmap streaming buffers.
        var request = v4l2_requestbuffers()
        request.count = UInt32(bufferCount)
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        request.memory = V4L2_MEMORY_MMAP.rawValue
        let requestStatus = device.request(foresight_VIDIOC_REQBUFS(), &request)
        guard requestStatus == 0 else { throw SensorError.from(errno: requestStatus, call: "VIDIOC_REQBUFS", path: path) }
        guard request.count >= 2 else { throw .cameraFormatRejected(path: path, reason: "the driver gave \(request.count) buffer(s), 2 are needed") }
        for index in 0..<request.count {
            var buffer = v4l2_buffer()
            buffer.index = index
            buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            let queryStatus = device.request(foresight_VIDIOC_QUERYBUF(), &buffer)
            guard queryStatus == 0 else { throw SensorError.from(errno: queryStatus, call: "VIDIOC_QUERYBUF", path: path) }
            guard let start = device.map(length: Int(buffer.length), offset: Int64(buffer.m.offset)) else {
                throw SensorError.from(errno: errno, call: "mmap", path: path)
            }
            mapped.append((start, Int(buffer.length)))
        }
        self.device = device
        self.buffers = mapped
        opened = true
    }

    deinit {
        stop()
        unmapAll()
        device.close()
    }

    private func unmapAll() {
        for buffer in buffers { device.unmap(buffer.start, length: buffer.length) }
        buffers.removeAll()
    }

    /// Queues every buffer and starts streaming.
    public func start() throws(SensorError) {
        guard !streaming else { return }
        for index in buffers.indices {
            var buffer = v4l2_buffer()
            buffer.index = UInt32(index)
            buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            let status = device.request(foresight_VIDIOC_QBUF(), &buffer)
            guard status == 0 else { throw SensorError.from(errno: status, call: "VIDIOC_QBUF", path: path) }
        }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        let status = device.request(foresight_VIDIOC_STREAMON(), &type)
        guard status == 0 else { throw SensorError.from(errno: status, call: "VIDIOC_STREAMON", path: path) }
        streaming = true
    }

    /// Stops streaming (buffers stay mapped; `start()` may be called again).
    public func stop() {
        guard streaming else { return }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        _ = device.request(foresight_VIDIOC_STREAMOFF(), &type)
        streaming = false
    }

    /// Waits up to `timeoutMilliseconds` for the next frame and lends its bytes to `body`
    /// (valid only during the call), then gives the buffer back to the driver.
    /// Allocates nothing.
    @discardableResult
    public func readFrame<Result>(timeoutMilliseconds: Int,
                                  _ body: (UnsafeRawBufferPointer, CameraFrameInfo) -> Result) throws(SensorError) -> Result {
        precondition(streaming, "readFrame before start()")
        if gone { throw .cameraGone(path: path) }
        var buffer = v4l2_buffer()
        buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        while true {
            // Wait first, then dequeue: a DQBUF that would block makes libv4l2 print an error.
            var waiter = pollfd(fd: device.descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&waiter, 1, Int32(timeoutMilliseconds))
            if ready < 0 {
                if errno == EINTR { continue }
                throw SensorError.from(errno: errno, call: "poll", path: path)
            }
            if ready == 0 { throw .cameraTimeout(path: path, milliseconds: timeoutMilliseconds) }
            // An unregistered device reports POLLERR | POLLHUP (and ENODEV on the next call).
            if waiter.revents & Int16(POLLHUP | POLLNVAL) != 0 { gone = true; throw .cameraGone(path: path) }
            let status = device.request(foresight_VIDIOC_DQBUF(), &buffer)
            if status == 0 { break }
            if status == EAGAIN { continue }
            if status == ENODEV || status == ENXIO || status == EIO { gone = true; throw .cameraGone(path: path) }
            throw SensorError.from(errno: status, call: "VIDIOC_DQBUF", path: path)
        }
        let mapped = buffers[Int(buffer.index)]
        let info = CameraFrameInfo(
            sequence: buffer.sequence,
            timestampNanoseconds: UInt64(buffer.timestamp.tv_sec) * 1_000_000_000 + UInt64(buffer.timestamp.tv_usec) * 1000,
            bytesUsed: Int(buffer.bytesused))
        let result = body(UnsafeRawBufferPointer(start: mapped.start, count: min(mapped.length, Int(buffer.bytesused == 0 ? UInt32(mapped.length) : buffer.bytesused))), info)
        let status = device.request(foresight_VIDIOC_QBUF(), &buffer)
        if status == ENODEV || status == ENXIO { gone = true; throw .cameraGone(path: path) }
        guard status == 0 else { throw SensorError.from(errno: status, call: "VIDIOC_QBUF", path: path) }
        return result
    }
}

// MARK: - The capture thread

/// What a camera capture thread has done so far.
public struct CameraCaptureStatus: Sendable {
    /// Frames converted into the ring.
    public var framesCaptured: UInt64 = 0
    /// Times the camera vanished and was opened again.
    public var reconnects: Int = 0
    /// The last error met (the thread keeps trying to reopen after `deviceGone`).
    public var lastError: SensorError? = nil
    /// True while the camera is open and streaming.
    public var streaming = false
    /// CPU time of the capture thread, nanoseconds.
    public var cpuNanoseconds: UInt64 = 0
    /// The negotiated format and size of the open camera.
    public var pixelFormat: PixelFormat? = nil
    /// Negotiated camera size.
    public var cameraWidth = 0, cameraHeight = 0
}

/// A camera read by its own thread into a ring of grey or RGB float frames of the model's
/// size ([height, width] or [height, width, 3], values in [0, 1]); the live learner's source
/// for `learn --camera`. When the camera disappears it reopens it every `reconnectInterval`
/// seconds until `stop()`, and says why meanwhile (`interruption`).
///
/// ```swift
/// let capture = try CameraCapture(path: "/dev/video0", outputWidth: 64, outputHeight: 64)
/// capture.start()
/// capture.ring.readOldest { pixels, info in learner.add(pixels) }   // never blocks
/// capture.stop()
/// ```
public final class CameraCapture: LiveFrameSource, @unchecked Sendable {
    /// Frames for the learner.
    public let ring: FrameRing<Float>
    /// Device node.
    public let path: String
    /// Output size.
    public let outputWidth: Int, outputHeight: Int
    /// 1 for grey, 3 for RGB.
    public let outputChannels: Int
    /// Asked camera size and rate.
    public let cameraWidth: Int, cameraHeight: Int, framesPerSecond: Double
    /// Formats to try, in order.
    public let formats: [PixelFormat]
    /// Seconds between reopening attempts after the camera vanished.
    public let reconnectInterval: Double

    private let state = Locked(CameraCaptureStatus())
    private let capture = StoppableThread(name: "foresight.camera")
    private var camera: V4L2Camera?

    /// Opens the camera now (so that errors such as `busy` surface here), but does not start
    /// the thread.
    public init(path: String, cameraWidth: Int = CameraMode.standard.width, cameraHeight: Int = CameraMode.standard.height,
                framesPerSecond: Double = CameraMode.standard.framesPerSecond,
                outputWidth: Int = 64, outputHeight: Int = 64, rgb: Bool = false, slots: Int = 8,
                formats: [PixelFormat] = V4L2Camera.preferredFormats, reconnectInterval: Double = 0.5) throws(SensorError) {
        self.path = path
        self.cameraWidth = cameraWidth
        self.cameraHeight = cameraHeight
        self.framesPerSecond = framesPerSecond
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
        self.outputChannels = rgb ? 3 : 1
        self.formats = rgb ? [.rgb24, .bgr24, .yuyv, .uyvy, .yuv420, .nv12].filter(formats.contains) : formats
        self.reconnectInterval = reconnectInterval
        ring = FrameRing(slotCount: slots, slotCapacity: outputWidth * outputHeight * outputChannels)
        camera = try openCamera()
    }

    private func openCamera() throws(SensorError) -> V4L2Camera {
        let camera = try V4L2Camera(path: path, width: cameraWidth, height: cameraHeight, framesPerSecond: framesPerSecond, formats: formats)
        try camera.start()
        state.withLock {
            $0.streaming = true
            $0.pixelFormat = camera.pixelFormat
            $0.cameraWidth = camera.width
            $0.cameraHeight = camera.height
        }
        return camera
    }

    /// Opens the camera at `path` in `mode`, for grey frames of `size` x `size`.
    public convenience init(path: String, size: Int, mode: CameraMode = .standard) throws(SensorError) {
        try self.init(path: path, cameraWidth: mode.width, cameraHeight: mode.height, framesPerSecond: mode.framesPerSecond,
                      outputWidth: size, outputHeight: size)
    }

    /// The thread's counters and last error.
    public var status: CameraCaptureStatus { state.withLock { $0 } }

    // As a live source:
    public var label: String { path }
    public var framesDelivered: UInt64 { status.framesCaptured }
    /// A camera never ends.
    public var finished: Bool { false }

    /// The last error while the camera is closed and being reopened; nil while it streams.
    public var interruption: String? {
        let status = self.status
        guard !status.streaming, let error = status.lastError else { return nil }
        return "\(error); reopening it every \(String(format: "%g", reconnectInterval)) s"
    }

    /// Times the camera was reopened after it disappeared.
    public var recoveries: Int { status.reconnects }

    /// Starts the capture thread.
    public func start() {
        capture.start { [self] in run() }
    }

    /// Stops the thread and closes the camera; the ring keeps its frames.
    public func stop() {
        capture.stop()
        ring.close()
    }

    private func run() {
        var scratch: [Float] = []
        var cpuAtLastUpdate = MonotonicClock.threadCPUNanoseconds()
        let stopRequested = capture.stopRequested
        while !stopRequested.isOpen {
            guard let camera else {
                // Vanished: try again after a pause (cut short by `stop()`).
                if stopRequested.wait(deadline: MonotonicClock.nanoseconds() + UInt64(reconnectInterval * 1e9)) { break }
                if let reopened = try? openCamera() {
                    self.camera = reopened
                    state.withLock { $0.reconnects += 1 }
                }
                continue
            }
            if scratch.count != camera.width * camera.height * outputChannels {
                scratch = [Float](repeating: 0, count: camera.width * camera.height * outputChannels)
            }
            do throws(SensorError) {
                try camera.readFrame(timeoutMilliseconds: 200) { bytes, info in
                    scratch.withUnsafeMutableBufferPointer { scratch in
                        if outputChannels == 1 {
                            convertToGray(camera.pixelFormat, source: bytes.baseAddress!, width: camera.width, height: camera.height,
                                          bytesPerLine: camera.bytesPerLine, gray: scratch.baseAddress!)
                        } else {
                            convertToRGB(camera.pixelFormat, source: bytes.baseAddress!, width: camera.width, height: camera.height,
                                         bytesPerLine: camera.bytesPerLine, rgb: scratch.baseAddress!)
                        }
                        let slot = ring.beginWrite()
                        areaResize(scratch.baseAddress!, width: camera.width, height: camera.height, channels: outputChannels,
                                   into: slot.baseAddress!, width: outputWidth, height: outputHeight)
                        ring.commitWrite(count: slot.count, timestampNanoseconds: info.timestampNanoseconds)
                    }
                }
                let cpu = MonotonicClock.threadCPUNanoseconds()
                state.withLock { $0.framesCaptured += 1; $0.cpuNanoseconds += cpu - cpuAtLastUpdate }
                cpuAtLastUpdate = cpu
            } catch .cameraTimeout {
                continue
            } catch {
                state.withLock { $0.lastError = error; $0.streaming = false }
                if case .cameraGone = error { self.camera = nil; continue }
                self.camera = nil  // other errors: also close and retry, the error stays visible
            }
        }
        camera?.stop()
        self.camera = nil
        state.withLock { $0.streaming = false; $0.cpuNanoseconds += MonotonicClock.threadCPUNanoseconds() - cpuAtLastUpdate }
    }
}
