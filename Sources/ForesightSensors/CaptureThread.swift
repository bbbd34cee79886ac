// The capture threads: one per sensor, each reading its device at the device's pace into a
// FrameRing, counting what it captured, dropped and lost, and the CPU time it used. Not a
// scheduler: the learner reads the ring whenever it likes and is never blocked.

import ForesightCore

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
    private let stopRequested = Latch()
    private var thread: JoinableThread?
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
        precondition(thread == nil, "CameraCapture started twice")
        thread = JoinableThread(name: "foresight.camera") { [self] in run() }
    }

    /// Stops the thread and closes the camera; the ring keeps its frames.
    public func stop() {
        stopRequested.open()
        thread?.join()
        thread = nil
        ring.close()
    }

    private func run() {
        var scratch: [Float] = []
        var resizer: AreaResizer? = nil
        var cpuAtLastUpdate = MonotonicClock.threadCPUNanoseconds()
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
            if resizer == nil || resizer!.sourceWidth != camera.width || resizer!.sourceHeight != camera.height {
                resizer = AreaResizer(sourceWidth: camera.width, sourceHeight: camera.height, targetWidth: outputWidth,
                                      targetHeight: outputHeight, channels: outputChannels)
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
                        resizer!.resize(scratch.baseAddress!, into: slot.baseAddress!)
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
