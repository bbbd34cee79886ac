// ALSA microphones through alsa-lib, opened at run time (libasound.so.2): enumeration of
// capture devices, opening `default`, `hw:X,Y` or `plughw:X,Y` as mono S16_LE or float at
// 16 kHz by default, period/buffer sizing, and overrun recovery that counts the lost
// samples; plus a playback stream for loopback tests. Not a mixer or a sound server client
// (PipeWire/Pulse are reached through `default`).

import CALSA
import Glibc
import ForesightCore
import ForesightIO

extension SensorError {
    static func from(_ code: Int32, call: String, name: String) -> SensorError {
        // Only called once alsa-lib has loaded.
        let message = (try? ALSA.shared.get()).map { String(cString: $0.snd_strerror(code)) } ?? "error \(code)"
        switch -code {
        case ENOENT, ENXIO: return .noSuchMicrophone(name: name, message: message)
        case EBUSY: return .microphoneBusy(name: name)
        case ENODEV: return .microphoneGone(name: name)
        case EINVAL: return .microphoneFormatRejected(name: name, reason: "\(call): \(message)")
        default: return .alsaCall(name: name, call: call, code: code, message: message)
        }
    }
}

/// Sample storage on the ALSA side; the samples we hand out are always Float in [-1, 1].
public enum AudioSampleFormat: String, Sendable, CaseIterable {
    /// Signed 16-bit little-endian.
    case s16 = "S16_LE"
    /// 32-bit float little-endian.
    case float32 = "FLOAT_LE"

    var alsa: snd_pcm_format_t { self == .s16 ? SND_PCM_FORMAT_S16_LE : SND_PCM_FORMAT_FLOAT_LE }
    var bytes: Int { self == .s16 ? 2 : 4 }
}

/// An ALSA capture device found by `Microphone.enumerate()`.
public struct MicrophoneDescription: Sendable, Equatable {
    /// Name to open, e.g. "hw:1,0" (use "plughw:1,0" for format and rate conversion).
    public var name: String
    /// The card's name, e.g. "USB Audio".
    public var card: String
    /// The PCM device's name.
    public var device: String
}

/// alsa-lib, opened on first use.
enum ALSA {
    static let library = RuntimeLibrary(library: "ALSA's library", file: "libasound.so.2", package: "libasound2",
                                        neededBy: "microphones need")
    static let shared: Result<foresight_alsa, MissingLibrary> = load()

    /// Opens `file` (a test passes a missing one to see the error).
    static func load(file: String? = nil) -> Result<foresight_alsa, MissingLibrary> {
        library.load(file: file) { foresight_alsa_load($0, $1, $2) }
    }

    /// alsa-lib's functions, or the error that says which package to install.
    static func functions() throws(SensorError) -> foresight_alsa {
        try shared.mapError { SensorError.alsaLibraryMissing($0) }.get()
    }
}

/// Device discovery.
public enum Microphone {
    /// Makes alsa-lib read its configuration again (e.g. after ALSA_CONFIG_PATH changed);
    /// nothing to do when alsa-lib is not installed.
    public static func reloadConfiguration() {
        if case .success(let alsa) = ALSA.shared { _ = alsa.snd_config_update_free_global() }
    }

    /// Why microphones cannot be used (alsa-lib is not installed); nil when it is.
    public static var missingLibrary: MissingLibrary? {
        if case .failure(let missing) = ALSA.shared { return missing }
        return nil
    }

    /// Every capture PCM of every card (hw:X,Y), after `default`.
    public static func enumerate() throws(SensorError) -> [MicrophoneDescription] {
        let alsa = try ALSA.functions()
        var result = [MicrophoneDescription(name: "default", card: "system default", device: "default")]
        var card: Int32 = -1
        while alsa.snd_card_next(&card) == 0 && card >= 0 {
            var control: OpaquePointer? = nil
            guard alsa.snd_ctl_open(&control, "hw:\(card)", 0) == 0, let control else { continue }
            defer { _ = alsa.snd_ctl_close(control) }
            var cardName: UnsafeMutablePointer<CChar>? = nil
            let cardLabel = alsa.snd_card_get_name(card, &cardName) == 0 && cardName != nil ? String(cString: cardName!) : "card \(card)"
            free(cardName)
            var info: OpaquePointer? = nil
            _ = alsa.snd_pcm_info_malloc(&info)
            defer { alsa.snd_pcm_info_free(info) }
            var device: Int32 = -1
            while alsa.snd_ctl_pcm_next_device(control, &device) == 0 && device >= 0 {
                alsa.snd_pcm_info_set_device(info, UInt32(device))
                alsa.snd_pcm_info_set_subdevice(info, 0)
                alsa.snd_pcm_info_set_stream(info, SND_PCM_STREAM_CAPTURE)
                guard alsa.snd_ctl_pcm_info(control, info) == 0 else { continue }
                result.append(MicrophoneDescription(name: "hw:\(card),\(device)", card: cardLabel,
                                                    device: String(cString: alsa.snd_pcm_info_get_name(info))))
            }
        }
        return result
    }
}

/// An open ALSA PCM stream (capture or playback) with negotiated parameters.
/// Reads and writes convert between Float samples and the device's format and allocate
/// nothing.
///
/// ```swift
/// let microphone = try ALSAStream(capture: "plughw:1,0")           // mono, 16 kHz, S16_LE
/// var samples = [Float](repeating: 0, count: microphone.periodFrames)
/// let frames = try samples.withUnsafeMutableBufferPointer { try microphone.read(into: $0) }
/// print(microphone.overruns, microphone.lostFrames)
/// ```
public final class ALSAStream: @unchecked Sendable {
    /// The ALSA device name.
    public let name: String
    /// True for capture, false for playback.
    public let isCapture: Bool
    /// Negotiated sample rate.
    public let sampleRate: Int
    /// Channels per frame.
    public let channels: Int
    /// Device-side sample format.
    public let format: AudioSampleFormat
    /// Frames per period (the unit of wake-ups) and in the whole buffer.
    public let periodFrames: Int, bufferFrames: Int
    /// Overruns (capture) or underruns (playback) recovered from.
    public private(set) var overruns = 0
    /// Frames lost to overruns: the time from the last good read to the recovery, at the
    /// sample rate (at least the buffer that `prepare` discards).
    public private(set) var lostFrames = 0

    private let alsa: foresight_alsa
    private let pcm: OpaquePointer
    private let scratch: UnsafeMutableRawPointer  // one period in the device format
    private var started = false
    private var lastTransfer: UInt64 = 0  // monotonic ns of the last good read or write

    /// The sample rate asked for when nothing else is said: 16 kHz, what speech needs.
    public static let standardSampleRate = 16_000

    /// Opens `name` for capture; `periodFrames` defaults to 10 ms, the buffer to 8 periods.
    public convenience init(capture name: String = "default", sampleRate: Int = ALSAStream.standardSampleRate, channels: Int = 1,
                            format: AudioSampleFormat = .s16, periodFrames: Int? = nil, periods: Int = 8) throws(SensorError) {
        try self.init(name: name, capture: true, sampleRate: sampleRate, channels: channels, format: format,
                      periodFrames: periodFrames ?? max(16, sampleRate / 100), periods: periods)
    }

    /// Opens `name` for playback with the same parameters as a capture stream.
    public convenience init(playback name: String, sampleRate: Int = ALSAStream.standardSampleRate, channels: Int = 1,
                            format: AudioSampleFormat = .s16, periodFrames: Int? = nil, periods: Int = 8) throws(SensorError) {
        try self.init(name: name, capture: false, sampleRate: sampleRate, channels: channels, format: format,
                      periodFrames: periodFrames ?? max(16, sampleRate / 100), periods: periods)
    }

    init(name: String, capture: Bool, sampleRate: Int, channels: Int, format: AudioSampleFormat,
         periodFrames: Int, periods: Int) throws(SensorError) {
        precondition(sampleRate > 0 && channels > 0 && periodFrames > 0 && periods >= 2,
                     "audio needs positive rate, channels and period and 2+ periods, got \(sampleRate), \(channels), \(periodFrames), \(periods)")
        self.name = name
        self.isCapture = capture
        let alsa = try ALSA.functions()
        var handle: OpaquePointer? = nil
        var code = alsa.snd_pcm_open(&handle, name, capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK, 0)
        guard code == 0, let handle else { throw SensorError.from(code, call: "snd_pcm_open", name: name) }
        var ready = false
        defer { if !ready { _ = alsa.snd_pcm_close(handle) } }

        var hardware: OpaquePointer? = nil
        _ = alsa.snd_pcm_hw_params_malloc(&hardware)
        defer { alsa.snd_pcm_hw_params_free(hardware) }
        func check(_ code: Int32, _ call: String) throws(SensorError) {
            if code < 0 { throw SensorError.from(code, call: call, name: name) }
        }
        try check(alsa.snd_pcm_hw_params_any(handle, hardware), "snd_pcm_hw_params_any")
        try check(alsa.snd_pcm_hw_params_set_access(handle, hardware, SND_PCM_ACCESS_RW_INTERLEAVED), "set access (interleaved)")
        code = alsa.snd_pcm_hw_params_set_format(handle, hardware, format.alsa)
        if code < 0 { throw .microphoneFormatRejected(name: name, reason: "sample format \(format.rawValue) (try plughw: for conversion)") }
        code = alsa.snd_pcm_hw_params_set_channels(handle, hardware, UInt32(channels))
        if code < 0 { throw .microphoneFormatRejected(name: name, reason: "\(channels) channel(s) (try plughw: for conversion)") }
        var rate = UInt32(sampleRate)
        try check(alsa.snd_pcm_hw_params_set_rate_near(handle, hardware, &rate, nil), "set rate \(sampleRate)")
        if Int(rate) != sampleRate { throw .microphoneFormatRejected(name: name, reason: "rate \(sampleRate) Hz (nearest is \(rate); try plughw:)") }
        var period = snd_pcm_uframes_t(periodFrames)
        try check(alsa.snd_pcm_hw_params_set_period_size_near(handle, hardware, &period, nil), "set period size")
        var buffer = snd_pcm_uframes_t(Int(period) * periods)
        try check(alsa.snd_pcm_hw_params_set_buffer_size_near(handle, hardware, &buffer), "set buffer size")
        try check(alsa.snd_pcm_hw_params(handle, hardware), "snd_pcm_hw_params")

        // Start on the first frame (set_params would wait for a full buffer), wake per period.
        var software: OpaquePointer? = nil
        _ = alsa.snd_pcm_sw_params_malloc(&software)
        defer { alsa.snd_pcm_sw_params_free(software) }
        try check(alsa.snd_pcm_sw_params_current(handle, software), "snd_pcm_sw_params_current")
        try check(alsa.snd_pcm_sw_params_set_start_threshold(handle, software, capture ? 1 : period), "set start threshold")
        try check(alsa.snd_pcm_sw_params_set_avail_min(handle, software, period), "set avail min")
        try check(alsa.snd_pcm_sw_params(handle, software), "snd_pcm_sw_params")
        try check(alsa.snd_pcm_prepare(handle), "snd_pcm_prepare")

        self.alsa = alsa
        self.pcm = handle
        self.sampleRate = Int(rate)
        self.channels = channels
        self.format = format
        self.periodFrames = Int(period)
        self.bufferFrames = Int(buffer)
        scratch = .allocate(byteCount: Int(period) * channels * format.bytes, alignment: 16)
        ready = true
    }

    deinit {
        _ = alsa.snd_pcm_close(pcm)
        scratch.deallocate()
    }

    /// Capture: reads up to one period of interleaved samples into `samples` (its count is
    /// rounded down to whole frames) and returns the frames read. Blocks until data arrives.
    /// An overrun is recovered (prepare, start, continue) and counted in `overruns` and
    /// `lostFrames`.
    public func read(into samples: UnsafeMutableBufferPointer<Float>) throws(SensorError) -> Int {
        precondition(isCapture, "read on a playback stream")
        let frames = min(samples.count / channels, periodFrames)
        if !started { try start(); lastTransfer = MonotonicClock.nanoseconds() }
        while true {
            let got = alsa.snd_pcm_readi(pcm, scratch, snd_pcm_uframes_t(frames))
            if got >= 0 {
                lastTransfer = MonotonicClock.nanoseconds()
                convertIn(count: Int(got) * channels, into: samples.baseAddress!)
                return Int(got)
            }
            try recover(Int32(got), call: "snd_pcm_readi")
        }
    }

    /// Playback: writes interleaved samples (any count of whole frames), blocking as needed.
    public func write(_ samples: UnsafeBufferPointer<Float>) throws(SensorError) {
        precondition(!isCapture, "write on a capture stream")
        var done = 0
        let total = samples.count / channels
        while done < total {
            let frames = min(periodFrames, total - done)
            convertOut(samples.baseAddress! + done * channels, count: frames * channels)
            var offset = 0
            while offset < frames {
                let put = alsa.snd_pcm_writei(pcm, scratch + offset * channels * format.bytes, snd_pcm_uframes_t(frames - offset))
                if put >= 0 { offset += Int(put); continue }
                try recover(Int32(put), call: "snd_pcm_writei")
            }
            done += frames
        }
    }

    /// Playback: waits until everything written has been played.
    public func drain() { _ = alsa.snd_pcm_drain(pcm) }

    /// Starts a capture stream explicitly (the first `read` does it too).
    public func start() throws(SensorError) {
        let code = alsa.snd_pcm_start(pcm)
        if code < 0 && code != -EBADFD { throw SensorError.from(code, call: "snd_pcm_start", name: name) }
        started = true
    }

    /// -EPIPE: estimate the loss, prepare and go on; -ESTRPIPE: resume; others are errors.
    private func recover(_ code: Int32, call: String) throws(SensorError) {
        if code == -EINTR || code == -EAGAIN { return }
        if code == foresight_alsa_overrun_code() {
            // Everything captured since the last good read is gone: what sat in the buffer
            // (discarded by prepare) and what arrived while it was full.
            let elapsed = Double(MonotonicClock.nanoseconds() &- lastTransfer) * 1e-9
            let lost = max(bufferFrames, Int((elapsed * Double(sampleRate)).rounded()))
            overruns += 1
            if isCapture { lostFrames += lost }
            let prepared = alsa.snd_pcm_prepare(pcm)
            if prepared < 0 { throw SensorError.from(prepared, call: "snd_pcm_prepare", name: name) }
            if isCapture { try start(); lastTransfer = MonotonicClock.nanoseconds() }
            return
        }
        if code == foresight_alsa_suspended_code() {
            var resumed = alsa.snd_pcm_resume(pcm)
            while resumed == -EAGAIN { MonotonicClock.sleep(nanoseconds: 10_000_000); resumed = alsa.snd_pcm_resume(pcm) }
            if resumed < 0 { _ = alsa.snd_pcm_prepare(pcm) }
            if isCapture { try start() }
            return
        }
        throw SensorError.from(code, call: call, name: name)
    }

    private func convertIn(count: Int, into output: UnsafeMutablePointer<Float>) {
        switch format {
        case .s16:
            let source = scratch.assumingMemoryBound(to: Int16.self)
            for i in 0..<count { output[i] = Float(Int16(littleEndian: source[i])) * (1 / 32768) }
        case .float32:
            let source = scratch.assumingMemoryBound(to: Float.self)
            for i in 0..<count { output[i] = source[i] }
        }
    }

    private func convertOut(_ input: UnsafePointer<Float>, count: Int) {
        switch format {
        case .s16:
            let target = scratch.assumingMemoryBound(to: Int16.self)
            for i in 0..<count { target[i] = Int16(max(-32768, min(32767, (input[i] * 32768).rounded()))).littleEndian }
        case .float32:
            let target = scratch.assumingMemoryBound(to: Float.self)
            for i in 0..<count { target[i] = input[i] }
        }
    }
}

/// What a microphone capture thread has done so far.
public struct MicrophoneCaptureStatus: Sendable {
    /// Sample frames put into the ring.
    public var framesCaptured: UInt64 = 0
    /// Overruns recovered and frames lost to them.
    public var overruns = 0, lostFrames = 0
    /// The error that stopped the thread, if any.
    public var lastError: SensorError? = nil
    /// CPU time of the capture thread, nanoseconds.
    public var cpuNanoseconds: UInt64 = 0
}

/// A microphone read by its own thread into a ring of fixed-size chunks of mono Float samples.
///
/// ```swift
/// let capture = try MicrophoneCapture(name: "plughw:1,0", chunkFrames: 160)   // 10 ms at 16 kHz
/// capture.start()
/// capture.ring.readOldest { samples, info in logMel.push(samples) }
/// ```
public final class MicrophoneCapture: @unchecked Sendable {
    /// Chunks for the learner; each slot holds `chunkFrames` samples (all channels interleaved).
    public let ring: FrameRing<Float>
    /// The open stream.
    public let stream: ALSAStream
    private let state = Locked(MicrophoneCaptureStatus())
    private let capture = StoppableThread(name: "foresight.mic")

    /// Opens the device now, so errors surface here; `start()` starts the thread.
    public init(name: String = "default", sampleRate: Int = ALSAStream.standardSampleRate, channels: Int = 1, format: AudioSampleFormat = .s16,
                chunkFrames: Int? = nil, slots: Int = 64) throws(SensorError) {
        stream = try ALSAStream(capture: name, sampleRate: sampleRate, channels: channels, format: format, periodFrames: chunkFrames)
        ring = FrameRing(slotCount: slots, slotCapacity: stream.periodFrames * channels)
    }

    /// The thread's counters.
    public var status: MicrophoneCaptureStatus { state.withLock { $0 } }

    /// Starts the capture thread.
    public func start() {
        capture.start { [self] in run() }
    }

    /// Stops the thread after its current read (at most one period).
    public func stop() {
        capture.stop()
        ring.close()
    }

    private func run() {
        let startCPU = MonotonicClock.threadCPUNanoseconds()
        while !capture.stopRequested.isOpen {
            let slot = ring.beginWrite()
            do throws(SensorError) {
                // Fill the whole slot: reads may return less than a period.
                var filled = 0
                while filled < slot.count {
                    let frames = try stream.read(into: UnsafeMutableBufferPointer(rebasing: slot[filled...]))
                    filled += frames * stream.channels
                }
                ring.commitWrite(count: slot.count, timestampNanoseconds: MonotonicClock.nanoseconds())
                let cpu = MonotonicClock.threadCPUNanoseconds() - startCPU
                state.withLock {
                    $0.framesCaptured += UInt64(slot.count / stream.channels)
                    $0.overruns = stream.overruns
                    $0.lostFrames = stream.lostFrames
                    $0.cpuNanoseconds = cpu
                }
            } catch {
                ring.abandonWrite()
                state.withLock { $0.lastError = error }
                return
            }
        }
    }
}
