// `foresight record`: records a camera to Y4M or a microphone to WAV, with a progress line,
// for a number of seconds or frames (Ctrl-C stops cleanly). Not a learner input: the
// recording keeps the camera's own size and YUV layout, the learner resizes on reading.

import ArgumentParser
import ForesightSensors
import Glibc
import ForesightIO

/// Set by SIGINT so that recordings close their files properly.
nonisolated(unsafe) private var interrupted: sig_atomic_t = 0

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a camera to a .y4m file or a microphone to a .wav file.",
        discussion: """
            foresight record --camera /dev/video0 --seconds 10 out.y4m
            foresight record --mic hw:0 --seconds 10 out.wav     (plughw:0 converts rate and format)
            """
    )

    @Option(help: "Camera device node, e.g. /dev/video0.")
    var camera: String?

    @Option(help: "ALSA capture device: default, hw:X[,Y] or plughw:X[,Y].")
    var mic: String?

    /// Seconds recorded when neither --seconds nor --frames is given.
    static let defaultSeconds = 10.0

    @Option(parsing: .unconditional, help: "Stop after this many seconds (default \(Int(defaultSeconds)) when --frames is not given).")
    var seconds: Double?

    @Option(parsing: .unconditional, help: "Stop after this many frames (video frames, or audio sample frames).")
    var frames: Int?

    @Option(help: "Camera size as WIDTHxHEIGHT (the driver picks the nearest).")
    var size = "\(CameraMode.standard.width)x\(CameraMode.standard.height)"

    @Option(parsing: .unconditional, help: "Camera frames per second.")
    var fps = CameraMode.standard.framesPerSecond

    @Flag(help: "Record the camera's luma only (Y4M Cmono).")
    var gray = false

    @Option(parsing: .unconditional, help: "Microphone sample rate in Hz.")
    var rate = ALSAStream.standardSampleRate

    @Option(parsing: .unconditional, help: "Microphone channels.")
    var channels: Int = 1

    @Flag(help: "Record 32-bit float WAV instead of 16-bit PCM.")
    var float = false

    @Argument(help: "Output file: .y4m for a camera, .wav for a microphone.")
    var output: String

    func validate() throws {
        guard (camera == nil) != (mic == nil) else { throw ValidationError("give exactly one of --camera and --mic") }
        if camera != nil && !output.lowercased().hasSuffix(".y4m") { throw ValidationError("camera recordings are .y4m files (got \(output))") }
        if mic != nil && !output.lowercased().hasSuffix(".wav") { throw ValidationError("microphone recordings are .wav files (got \(output))") }
        if let seconds { try OptionRange.checkPositive(seconds, "--seconds", maximum: OptionRange.maximumSeconds, unit: " s") }
        if let frames { try OptionRange.check(frames, "--frames", 1...OptionRange.maximumCount) }
        if parsedSize == nil { throw ValidationError("--size must look like 640x480, each side 1 to 16384 (got \(size))") }
        try OptionRange.checkPositive(fps, "--fps", maximum: 1000)
        try OptionRange.check(Int(rate), "--rate", WAVFormat.sampleRates, unit: " Hz")
        try OptionRange.check(channels, "--channels", WAVFormat.channelCounts)
    }

    var parsedSize: (width: Int, height: Int)? {
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        return parts.count == 2 && (1...16384).contains(parts[0]) && (1...16384).contains(parts[1]) ? (parts[0], parts[1]) : nil
    }

    func run() throws {
        signal(SIGINT) { _ in interrupted = 1 }
        if let camera { try recordCamera(camera) } else if let mic { try recordMicrophone(mic) }
    }

    /// Prints the progress line in place (stderr), or ends it.
    func progress(_ text: String, final: Bool = false) {
        writeStandardError("\r\(text)\u{1B}[K" + (final ? "\n" : ""))
    }

    func recordCamera(_ path: String) throws {
        let (width, height) = parsedSize!
        let formats: [PixelFormat] = gray ? [.gray8, .yuyv, .uyvy, .yuv420, .nv12] : [.yuyv, .uyvy, .yuv420, .nv12, .gray8]
        let device = try V4L2Camera(path: path, width: width, height: height, framesPerSecond: fps, formats: formats)
        let chroma: Y4MChroma = gray || device.pixelFormat == .gray8 ? .mono
            : device.pixelFormat == .yuyv || device.pixelFormat == .uyvy ? .c422 : .c420mpeg2
        let rate = device.framesPerSecond > 0 ? device.framesPerSecond : fps
        let rational = rate == rate.rounded() ? (Int(rate), 1) : (Int((rate * 1000).rounded()), 1000)
        let header = Y4MHeader(width: device.width, height: device.height, frameRate: rational, chroma: chroma)
        let writer = try Y4MWriter(path: output, header: header)
        defer { writer.close() }
        var planes = [UInt8](repeating: 0, count: header.frameBytes)
        let limit = frames ?? Int.max
        let duration = seconds ?? (frames == nil ? Self.defaultSeconds : .infinity)
        writeStandardError("recording \(path): \(FourCCName(device.pixelFormat)) \(device.width)x\(device.height) at \(rate) fps -> \(output) (C\(chroma.rawValue))\n")
        try device.start()
        var written = 0, droppedByDriver = 0
        var firstTimestamp: UInt64? = nil, lastSequence: UInt32? = nil, elapsed = 0.0
        while written < limit && elapsed < duration && interrupted == 0 {
            do throws(SensorError) {
                try device.readFrame(timeoutMilliseconds: 2000) { bytes, info in
                    if let lastSequence, info.sequence > lastSequence + 1 { droppedByDriver += Int(info.sequence - lastSequence - 1) }
                    lastSequence = info.sequence
                    let first = firstTimestamp ?? info.timestampNanoseconds
                    firstTimestamp = first
                    elapsed = Double(info.timestampNanoseconds &- first) * 1e-9
                    planes.withUnsafeMutableBytes { repack(bytes, device, chroma, into: $0) }
                }
            } catch {
                if case .cameraTimeout = error, interrupted != 0 { break }  // Ctrl-C during the wait
                throw error
            }
            try writer.writeFrame(planes: planes)
            written += 1
            if written == 1 || written % 5 == 0 {
                progress(String(format: "%6d frames  %6.1f s  %5.1f fps  %d dropped by the driver", written, elapsed,
                                elapsed > 0 ? Double(written - 1) / elapsed : 0, droppedByDriver))
            }
        }
        device.stop()
        progress(String(format: "%6d frames  %6.1f s  %d dropped by the driver  -> %@", written, elapsed, droppedByDriver, output), final: true)
    }

    /// Camera bytes to Y4M planes: copies luma rows (dropping row padding) and de-interleaves
    /// chroma for packed or semi-planar layouts.
    func repack(_ bytes: UnsafeRawBufferPointer, _ device: V4L2Camera, _ chroma: Y4MChroma, into planes: UnsafeMutableRawBufferPointer) {
        let width = device.width, height = device.height, stride = device.bytesPerLine
        let source = bytes.bindMemory(to: UInt8.self), target = planes.bindMemory(to: UInt8.self)
        let (chromaWidth, chromaHeight) = chroma.chromaSize(width: width, height: height)
        let cbPlane = width * height, crPlane = cbPlane + chromaWidth * chromaHeight
        switch device.pixelFormat {
        case .yuyv, .uyvy:
            let (luma, cb, cr) = device.pixelFormat == .yuyv ? (0, 1, 3) : (1, 0, 2)
            for y in 0..<height {
                for x in 0..<width { target[y * width + x] = source[y * stride + 2 * x + luma] }
                if chroma == .mono { continue }
                for x in 0..<chromaWidth {
                    target[cbPlane + y * chromaWidth + x] = source[y * stride + 4 * x + cb]
                    target[crPlane + y * chromaWidth + x] = source[y * stride + 4 * x + cr]
                }
            }
        case .yuv420, .nv12, .gray8:
            for y in 0..<height { for x in 0..<width { target[y * width + x] = source[y * stride + x] } }
            guard chroma != .mono else { return }
            let chromaSource = height * stride
            for y in 0..<chromaHeight {
                for x in 0..<chromaWidth {
                    if device.pixelFormat == .nv12 {
                        target[cbPlane + y * chromaWidth + x] = source[chromaSource + y * stride + 2 * x]
                        target[crPlane + y * chromaWidth + x] = source[chromaSource + y * stride + 2 * x + 1]
                    } else {
                        let chromaStride = stride / 2
                        target[cbPlane + y * chromaWidth + x] = source[chromaSource + y * chromaStride + x]
                        target[crPlane + y * chromaWidth + x] = source[chromaSource + chromaHeight * chromaStride + y * chromaStride + x]
                    }
                }
            }
        case .rgb24, .bgr24:
            preconditionFailure("recording asks only for YUV or grey formats")
        }
    }

    func recordMicrophone(_ name: String) throws {
        let stream = try ALSAStream(capture: name, sampleRate: rate, channels: channels, format: float ? .float32 : .s16)
        let writer = try WAVWriter(path: output, sampleRate: stream.sampleRate, channels: channels, format: float ? .float32 : .pcm16)
        let limit = frames ?? Int((seconds ?? Self.defaultSeconds) * Double(stream.sampleRate))
        writeStandardError("recording \(name): \(stream.sampleRate) Hz, \(channels) channel(s), period \(stream.periodFrames), buffer \(stream.bufferFrames) frames -> \(output)\n")
        var chunk = [Float](repeating: 0, count: stream.periodFrames * channels)
        var recorded = 0, nextReport = 0
        while recorded < limit && interrupted == 0 {
            let want = min(stream.periodFrames, limit - recorded)
            let got = try chunk.withUnsafeMutableBufferPointer { try stream.read(into: UnsafeMutableBufferPointer(rebasing: $0[0..<want * channels])) }
            try writer.append(Array(chunk[0..<got * channels]))
            recorded += got
            if recorded >= nextReport {
                nextReport += stream.sampleRate / 4
                var peak: Float = 0
                for sample in chunk[0..<got * channels] { peak = max(peak, abs(sample)) }
                progress(String(format: "%7.2f s  peak %5.3f  overruns %d (%d samples lost)", Double(recorded) / Double(stream.sampleRate),
                                peak, stream.overruns, stream.lostFrames))
            }
        }
        try writer.close()
        progress(String(format: "%7.2f s  overruns %d (%d samples lost)  -> %@", Double(recorded) / Double(stream.sampleRate),
                        stream.overruns, stream.lostFrames, output), final: true)
    }
}

/// Writes `text` to standard error unbuffered (the progress line).
private func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// The V4L2 name of a pixel format, for messages.
private func FourCCName(_ format: PixelFormat) -> String {
    switch format {
    case .gray8: return "GREY"
    case .yuyv: return "YUYV"
    case .uyvy: return "UYVY"
    case .yuv420: return "YU12"
    case .nv12: return "NV12"
    case .rgb24: return "RGB3"
    case .bgr24: return "BGR3"
    }
}
