// RIFF/WAVE audio: decoding of 16-bit PCM and 32-bit float files (plain or
// WAVE_FORMAT_EXTENSIBLE, any channel count), encoding, a streaming writer for recordings,
// and mixing to mono plus band-limited resampling. Not a reader of compressed WAV
// (ADPCM, mu-law), 8/24-bit PCM or RF64: those are an `unsupported` error.

import Glibc

/// Interleaved audio samples in [-1, 1] at a sample rate.
///
/// ```swift
/// let clip = try WAV.read(path: "speech.wav").mixedToMono().resampled(to: 16_000)
/// ```
public struct AudioClip: Equatable, Sendable {
    /// Samples per second per channel.
    public var sampleRate: Int
    /// Channels interleaved in `samples`.
    public var channels: Int
    /// Interleaved samples, `frameCount * channels` of them.
    public var samples: [Float]

    /// A clip of `samples` (interleaved when `channels > 1`).
    public init(sampleRate: Int, channels: Int, samples: [Float]) {
        precondition(sampleRate > 0 && channels > 0, "audio needs a positive rate and channel count, got \(sampleRate) Hz, \(channels) channels")
        precondition(samples.count % channels == 0, "\(samples.count) samples do not split into \(channels) channels")
        self.sampleRate = sampleRate
        self.channels = channels
        self.samples = samples
    }

    /// Sample frames (one sample per channel each).
    public var frameCount: Int { samples.count / channels }

    /// The average of the channels.
    public func mixedToMono() -> AudioClip {
        if channels == 1 { return self }
        var mono = [Float](repeating: 0, count: frameCount)
        let scale = 1 / Float(channels)
        for frame in 0..<frameCount {
            var sum: Float = 0
            for channel in 0..<channels { sum += samples[frame * channels + channel] }
            mono[frame] = sum * scale
        }
        return AudioClip(sampleRate: sampleRate, channels: 1, samples: mono)
    }

    /// The clip at `targetRate`, by windowed-sinc interpolation whose cut-off follows the
    /// lower of the two Nyquist frequencies (so downsampling does not alias).
    public func resampled(to targetRate: Int) -> AudioClip {
        precondition(targetRate > 0, "resampling needs a positive rate, got \(targetRate)")
        if targetRate == sampleRate { return self }
        let resampler = Resampler(from: sampleRate, to: targetRate)
        let outputFrames = Int((Double(frameCount) * Double(targetRate) / Double(sampleRate)).rounded(.down))
        var channelInput = [Float](repeating: 0, count: frameCount)
        var channelOutput = [Float](repeating: 0, count: outputFrames)
        var output = [Float](repeating: 0, count: outputFrames * channels)
        for channel in 0..<channels {
            for frame in 0..<frameCount { channelInput[frame] = samples[frame * channels + channel] }
            resampler.resample(channelInput, into: &channelOutput)
            for frame in 0..<outputFrames { output[frame * channels + channel] = channelOutput[frame] }
        }
        return AudioClip(sampleRate: targetRate, channels: channels, samples: output)
    }
}

/// Offline band-limited resampling with a Hann-windowed sinc kernel.
struct Resampler {
    let ratio: Double       // output rate / input rate
    let cutoff: Double      // in cycles per input sample, below 0.5
    let halfWidth: Double   // kernel half width in input samples
    static let zeroCrossings = 16.0

    init(from inputRate: Int, to outputRate: Int) {
        ratio = Double(outputRate) / Double(inputRate)
        cutoff = 0.5 * min(1, ratio) * 0.97  // a little below Nyquist for the transition band
        halfWidth = Resampler.zeroCrossings / (2 * cutoff)
    }

    func resample(_ input: [Float], into output: inout [Float]) {
        let count = input.count
        for n in 0..<output.count {
            let center = Double(n) / ratio
            let first = max(0, Int((center - halfWidth).rounded(.up)))
            let last = min(count - 1, Int((center + halfWidth).rounded(.down)))
            var sum = 0.0
            if first <= last {
                for k in first...last {
                    let distance = Double(k) - center
                    let x = 2 * cutoff * distance
                    let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
                    let window = 0.5 + 0.5 * cos(Double.pi * distance / halfWidth)
                    let weight = 2 * cutoff * sinc * window
                    sum += Double(input[k]) * weight
                }
            }
            output[n] = Float(sum)
        }
    }
}

/// How samples are stored in a WAV file.
public enum WAVSampleFormat: Sendable, Equatable {
    /// Signed 16-bit integers (WAVE_FORMAT_PCM).
    case pcm16
    /// 32-bit IEEE floats (WAVE_FORMAT_IEEE_FLOAT).
    case float32

    var bytesPerSample: Int { self == .pcm16 ? 2 : 4 }
    var formatTag: UInt16 { self == .pcm16 ? 1 : 3 }
}

/// WAV decoding and encoding.
public enum WAV {
    /// Largest channel count accepted.
    static let maximumChannels = 64

    /// Reads and decodes the file at `path`.
    public static func read(path: String) throws(FileFormatError) -> AudioClip {
        try decode(readWholeFile(path, format: "WAV"))
    }

    /// Decodes a whole WAV file held in memory.
    public static func decode(_ bytes: [UInt8]) throws(FileFormatError) -> AudioClip {
        let reader = LittleEndianReader(bytes: bytes, format: "WAV")
        try reader.require(0, 12, "the RIFF header")
        guard reader.tag(0) == "RIFF" else {
            throw FileFormatError("WAV", .malformed, at: 0, "not a WAV file: it starts with \"\(reader.tag(0))\", not RIFF")
        }
        guard reader.tag(8) == "WAVE" else {
            throw FileFormatError("WAV", .malformed, at: 8, "RIFF file of type \"\(reader.tag(8))\", not WAVE")
        }
        var position = 12
        var format: (sample: WAVSampleFormat, channels: Int, rate: Int)? = nil
        while true {
            try reader.require(position, 8, "a chunk header")
            let id = reader.tag(position)
            let declared = Int(reader.uint32(position + 4))
            let body = position + 8
            if id == "fmt " {
                try reader.require(body, 16, "the fmt chunk")
                guard declared >= 16 else {
                    throw FileFormatError("WAV", .malformed, at: position + 4, "fmt chunk of \(declared) bytes, at least 16 needed")
                }
                format = try parseFormat(reader, body: body, size: declared)
            } else if id == "data" {
                guard let format else {
                    throw FileFormatError("WAV", .malformed, at: position, "data chunk before the fmt chunk")
                }
                // Streaming writers leave 0 or 0xFFFFFFFF when they could not patch the size.
                let available = bytes.count - body
                var size = declared
                if declared == 0xFFFF_FFFF || (declared == 0 && available > 0) { size = available }
                guard size <= available else {
                    throw FileFormatError("WAV", .truncated, at: bytes.count,
                                          "data chunk at byte \(position) announces \(declared) bytes but the file has \(available) after it")
                }
                let frameBytes = format.sample.bytesPerSample * format.channels
                let sampleCount = (size / frameBytes) * format.channels
                return AudioClip(sampleRate: format.rate, channels: format.channels,
                                 samples: decodeSamples(bytes, at: body, count: sampleCount, format.sample))
            }
            // Skip any other chunk (LIST, fact, cue ...), with its pad byte.
            guard declared <= bytes.count else {
                throw FileFormatError("WAV", .truncated, at: bytes.count, "chunk \"\(id)\" at byte \(position) announces \(declared) bytes, beyond the end of the file")
            }
            position = body + declared + (declared & 1)
        }
    }

    private static func parseFormat(_ reader: LittleEndianReader, body: Int, size: Int) throws(FileFormatError)
        -> (sample: WAVSampleFormat, channels: Int, rate: Int)
    {
        var tag = reader.uint16(body)
        let channels = Int(reader.uint16(body + 2))
        let rate = Int(reader.uint32(body + 4))
        let bits = Int(reader.uint16(body + 14))
        if tag == 0xFFFE {  // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
            guard size >= 40 else {
                throw FileFormatError("WAV", .malformed, at: body, "extensible fmt chunk of \(size) bytes, 40 needed")
            }
            try reader.require(body + 24, 16, "the extensible format GUID")
            tag = reader.uint16(body + 24)
        }
        guard channels >= 1 && channels <= maximumChannels else {
            throw FileFormatError("WAV", .malformed, at: body + 2, "\(channels) channels; 1 to \(maximumChannels) are read")
        }
        guard rate >= 1 && rate <= 1_000_000 else {
            throw FileFormatError("WAV", .malformed, at: body + 4, "sample rate \(rate) Hz is outside 1 Hz to 1 MHz")
        }
        switch (tag, bits) {
        case (1, 16): return (.pcm16, channels, rate)
        case (3, 32): return (.float32, channels, rate)
        default:
            throw FileFormatError("WAV", .unsupported, at: body,
                                  "format tag \(tag) with \(bits)-bit samples; read are 16-bit PCM (tag 1) and 32-bit float (tag 3)")
        }
    }

    private static func decodeSamples(_ bytes: [UInt8], at start: Int, count: Int, _ format: WAVSampleFormat) -> [Float] {
        var samples = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            switch format {
            case .pcm16:
                for i in 0..<count {
                    samples[i] = Float(Int16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) / 32768
                }
            case .float32:
                for i in 0..<count {
                    let value = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    samples[i] = value.isFinite ? value : 0
                }
            }
        }
        return samples
    }

    /// The 44-byte header of a WAV file holding `dataBytes` bytes of samples.
    static func header(format: WAVSampleFormat, channels: Int, sampleRate: Int, dataBytes: Int) -> [UInt8] {
        var header: [UInt8] = []
        func append32(_ value: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { header += $0 } }
        func append16(_ value: Int) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian) { header += $0 } }
        let blockAlign = channels * format.bytesPerSample
        header += Array("RIFF".utf8); append32(36 + dataBytes); header += Array("WAVE".utf8)
        header += Array("fmt ".utf8); append32(16)
        append16(Int(format.formatTag)); append16(channels); append32(sampleRate)
        append32(sampleRate * blockAlign); append16(blockAlign); append16(8 * format.bytesPerSample)
        header += Array("data".utf8); append32(dataBytes)
        return header
    }

    /// Samples in [-1, 1] as little-endian bytes (16-bit values are rounded and clipped).
    static func encodeSamples(_ samples: UnsafeBufferPointer<Float>, _ format: WAVSampleFormat, into bytes: inout [UInt8]) {
        let start = bytes.count
        bytes += repeatElement(0, count: samples.count * format.bytesPerSample)
        bytes.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress! + start
            for (i, sample) in samples.enumerated() {
                switch format {
                case .pcm16:
                    let value = Int16(max(-32768, min(32767, (sample * 32768).rounded())))
                    base.storeBytes(of: value.littleEndian, toByteOffset: 2 * i, as: Int16.self)
                case .float32:
                    base.storeBytes(of: sample.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            }
        }
    }

    /// The bytes of a WAV file holding `clip`.
    public static func encode(_ clip: AudioClip, format: WAVSampleFormat = .pcm16) -> [UInt8] {
        var bytes = header(format: format, channels: clip.channels, sampleRate: clip.sampleRate,
                           dataBytes: clip.samples.count * format.bytesPerSample)
        clip.samples.withUnsafeBufferPointer { encodeSamples($0, format, into: &bytes) }
        return bytes
    }

    /// Writes `clip` to `path`.
    public static func write(_ clip: AudioClip, to path: String, format: WAVSampleFormat = .pcm16) throws(FileFormatError) {
        try writeWholeFile(path, encode(clip, format: format), format: "WAV")
    }
}

/// Appends samples to a WAV file as they arrive, patching the sizes in `close()`.
///
/// ```swift
/// let writer = try WAVWriter(path: "mic.wav", sampleRate: 16_000, channels: 1)
/// try writer.append(chunk)   // [Float] in [-1, 1]
/// try writer.close()
/// ```
public final class WAVWriter {
    /// Sample storage of the file.
    public let format: WAVSampleFormat
    /// Channels per frame.
    public let channels: Int
    /// Samples written so far (all channels).
    public private(set) var samplesWritten = 0
    private let file: OutputFile
    private var scratch: [UInt8] = []

    /// Creates (or truncates) `path` and writes a header with zero sizes.
    public init(path: String, sampleRate: Int, channels: Int = 1, format: WAVSampleFormat = .pcm16) throws(FileFormatError) {
        self.format = format
        self.channels = channels
        file = try OutputFile(path, format: "WAV")
        try file.write(WAV.header(format: format, channels: channels, sampleRate: sampleRate, dataBytes: 0))
    }

    /// Appends interleaved samples in [-1, 1].
    public func append(_ samples: UnsafeBufferPointer<Float>) throws(FileFormatError) {
        scratch.removeAll(keepingCapacity: true)
        WAV.encodeSamples(samples, format, into: &scratch)
        try file.write(scratch)
        samplesWritten += samples.count
    }

    /// Appends interleaved samples in [-1, 1].
    public func append(_ samples: [Float]) throws(FileFormatError) {
        scratch.removeAll(keepingCapacity: true)
        samples.withUnsafeBufferPointer { WAV.encodeSamples($0, format, into: &scratch) }
        try file.write(scratch)
        samplesWritten += samples.count
    }

    /// Writes the final sizes into the header and closes the file.
    public func close() throws(FileFormatError) {
        defer { file.close() }
        let dataBytes = samplesWritten * format.bytesPerSample
        func le32(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { Array($0) } }
        try file.patch(at: 4, le32(36 + dataBytes))
        try file.patch(at: 40, le32(dataBytes))
    }
}
