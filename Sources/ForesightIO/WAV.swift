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
        let outputFrames = resampler.outputCount(inputCount: frameCount)
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

/// Band-limited resampling with a Hann-windowed sinc kernel. Output sample n is centred on
/// input position n / ratio and weighs the input within `halfWidth` of it.
struct Resampler {
    let ratio: Double       // output rate / input rate
    let cutoff: Double      // in cycles per input sample, below 0.5
    let halfWidth: Double   // kernel half width in input samples
    let inputRate: Int, outputRate: Int
    static let zeroCrossings = 16.0

    init(from inputRate: Int, to outputRate: Int) {
        self.inputRate = inputRate
        self.outputRate = outputRate
        ratio = Double(outputRate) / Double(inputRate)
        cutoff = 0.5 * min(1, ratio) * 0.97  // a little below Nyquist for the transition band
        halfWidth = Resampler.zeroCrossings / (2 * cutoff)
    }

    /// Output samples of `inputCount` input samples in all.
    func outputCount(inputCount: Int) -> Int { Int((Double(inputCount) * Double(outputRate) / Double(inputRate)).rounded(.down)) }

    /// The first and last input index output sample `n` weighs, before clipping to the input.
    func inputSpan(_ n: Int) -> (first: Int, last: Int) {
        let center = Double(n) / ratio
        return (Int((center - halfWidth).rounded(.up)), Int((center + halfWidth).rounded(.down)))
    }

    /// Output sample `n` from the input samples `held` (absolute indices `heldStart`...),
    /// where `inputCount` is where the whole input ends as far as it is known.
    func sample(_ n: Int, held: UnsafeBufferPointer<Float>, heldStart: Int, inputCount: Int) -> Float {
        let center = Double(n) / ratio
        let span = inputSpan(n)
        let first = max(0, span.first), last = min(inputCount - 1, span.last)
        var sum = 0.0
        if first <= last {
            for k in first...last {
                let distance = Double(k) - center
                let x = 2 * cutoff * distance
                let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
                let window = 0.5 + 0.5 * cos(Double.pi * distance / halfWidth)
                let weight = 2 * cutoff * sinc * window
                sum += Double(held[k - heldStart]) * weight
            }
        }
        return Float(sum)
    }

    func resample(_ input: [Float], into output: inout [Float]) {
        input.withUnsafeBufferPointer { held in
            for n in 0..<output.count { output[n] = sample(n, held: held, heldStart: 0, inputCount: held.count) }
        }
    }
}

/// Resampling of a mono stream given in pieces: the same samples as `AudioClip.resampled`
/// over the whole, holding only the kernel's width of input (plus the piece last pushed).
///
/// ```swift
/// var resampler = StreamingResampler(from: 44_100, to: 16_000)
/// resampler.push(piece)                      // any number of input samples
/// let ready = resampler.pull(into: output)   // output samples whose inputs all arrived
/// resampler.finish()                         // at the end of the input, then pull the rest
/// ```
public struct StreamingResampler: Sendable {
    let resampler: Resampler?   // nil when the rates are equal
    private var held: [Float] = []
    private var heldStart = 0   // absolute index of held[0]
    private var received = 0    // input samples pushed so far
    private var produced = 0    // output samples pulled so far
    private var ended = false

    /// Resampling from `inputRate` to `outputRate` samples per second.
    public init(from inputRate: Int, to outputRate: Int) {
        precondition(inputRate > 0 && outputRate > 0, "resampling needs positive rates, got \(inputRate) and \(outputRate)")
        resampler = inputRate == outputRate ? nil : Resampler(from: inputRate, to: outputRate)
    }

    /// Input samples held now (the memory this resampler takes is 4 bytes each).
    public var heldCount: Int { held.count }

    /// Appends input samples.
    public mutating func push(_ samples: UnsafeBufferPointer<Float>) {
        precondition(!ended, "StreamingResampler: push after finish")
        held.append(contentsOf: samples)
        received += samples.count
    }

    /// Marks the end of the input: the last output samples become ready.
    public mutating func finish() { ended = true }

    /// Writes the output samples that are ready, up to `destination.count`; returns how many.
    public mutating func pull(into destination: UnsafeMutableBufferPointer<Float>) -> Int {
        guard let resampler else {
            let count = min(destination.count, held.count)
            for i in 0..<count { destination[i] = held[i] }
            held.removeFirst(count)
            heldStart += count; produced += count
            return count
        }
        let total = ended ? resampler.outputCount(inputCount: received) : Int.max
        var count = 0
        held.withUnsafeBufferPointer { held in
            while count < destination.count && produced < total {
                guard ended || resampler.inputSpan(produced).last < received else { break }
                destination[count] = resampler.sample(produced, held: held, heldStart: heldStart, inputCount: received)
                produced += 1; count += 1
            }
        }
        // Drop the input no later output sample weighs.
        let needed = min(received, max(heldStart, resampler.inputSpan(produced).first))
        if needed > heldStart {
            held.removeFirst(needed - heldStart)
            heldStart = needed
        }
        return count
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

/// What a WAV file's fmt chunk says, checked against the ranges this reader accepts.
public struct WAVFormat: Sendable, Equatable {
    /// How each sample is stored.
    public var sample: WAVSampleFormat
    /// Channels per sample frame.
    public var channels: Int
    /// Sample frames per second.
    public var sampleRate: Int

    /// Sample rates read, in Hz: anything else is a broken header, not a recording.
    public static let sampleRates = 1000...384_000
    /// Channel counts read.
    public static let channelCounts = 1...32

    /// Bytes of one sample frame (every channel).
    public var frameBytes: Int { sample.bytesPerSample * channels }

    /// Parses the fmt chunk's first bytes (16, or 40 for WAVE_FORMAT_EXTENSIBLE) found at
    /// file offset `body`; each field out of range is an error naming it.
    static func parse(_ reader: LittleEndianReader, body: Int, size: Int) throws(IOError) -> WAVFormat {
        var tag = reader.uint16(0)
        let channels = Int(reader.uint16(2))
        let rate = Int(reader.uint32(4))
        let bits = Int(reader.uint16(14))
        if tag == 0xFFFE {  // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
            guard size >= 40 else {
                throw IOError.file("WAV", .malformed, at: body, "extensible fmt chunk of \(size) bytes, 40 needed")
            }
            tag = reader.uint16(24)
        }
        guard channelCounts.contains(channels) else {
            throw IOError.file("WAV", .malformed, at: body + 2,
                                  "channel count \(channels) is outside \(channelCounts.lowerBound) to \(channelCounts.upperBound)")
        }
        guard sampleRates.contains(rate) else {
            throw IOError.file("WAV", .malformed, at: body + 4,
                                  "sample rate \(rate) Hz is outside \(sampleRates.lowerBound) to \(sampleRates.upperBound) Hz")
        }
        switch (tag, bits) {
        case (1, 16): return WAVFormat(sample: .pcm16, channels: channels, sampleRate: rate)
        case (3, 32): return WAVFormat(sample: .float32, channels: channels, sampleRate: rate)
        default:
            throw IOError.file("WAV", .unsupported, at: body,
                                  "format tag \(tag) with \(bits) bits per sample; read are 16-bit PCM (tag 1) and 32-bit float (tag 3)")
        }
    }
}

/// Reads a WAV file's samples a piece at a time, from a file or from bytes in memory. The
/// header is read with bounded reads and checked (rate, channels, sample format, data size
/// against the file's length) before any sample buffer is sized; memory is what the caller
/// asks for per read, whatever the file's length.
///
/// ```swift
/// let reader = try WAVReader(path: "street.wav")
/// var piece = [Float](repeating: 0, count: 4096)
/// while case let frames = try reader.readMono(into: &piece), frames > 0 { /* piece[..<frames] */ }
/// ```
public final class WAVReader {
    /// The fmt chunk.
    public let format: WAVFormat
    /// File offset of the first sample.
    public let dataOffset: Int
    /// Sample frames in the data chunk; nil when the file is a stream whose length is unknown
    /// and whose header left the size open.
    public let frameCount: Int?
    /// Sample frames read so far.
    public private(set) var framesRead = 0
    private let stream: ByteStream
    private var raw: [UInt8] = []

    /// Bytes of file data read per piece at most (the raw buffer's size).
    static let pieceBytes = 1 << 16

    /// Opens the file at `path` and reads its header.
    public convenience init(path: String) throws(IOError) {
        try self.init(stream: ByteStream(path: path, format: "WAV"))
    }

    /// Reads a whole file held in memory.
    public convenience init(bytes: [UInt8]) throws(IOError) {
        try self.init(stream: ByteStream(bytes: bytes))
    }

    init(stream: ByteStream) throws(IOError) {
        self.stream = stream
        let length = stream.knownLength
        func readHeader(_ count: Int, _ what: String) throws(IOError) -> LittleEndianReader {
            var bytes = [UInt8](repeating: 0, count: count)
            let at = stream.offset
            let got = bytes.withUnsafeMutableBytes { stream.read(into: $0.baseAddress!, count: count) }
            guard got == count else {
                throw IOError.file("WAV", .truncated, at: at, "file ends (\(at + got) bytes) inside \(what), which needs \(count) bytes here")
            }
            return LittleEndianReader(bytes: bytes, format: "WAV")
        }
        let riff = try readHeader(12, "the RIFF header")
        guard riff.tag(0) == "RIFF" else {
            throw IOError.file("WAV", .malformed, at: 0, "not a WAV file: it starts with \"\(riff.tag(0))\", not RIFF")
        }
        guard riff.tag(8) == "WAVE" else {
            throw IOError.file("WAV", .malformed, at: 8, "RIFF file of type \"\(riff.tag(8))\", not WAVE")
        }
        var format: WAVFormat? = nil
        while true {
            let position = stream.offset
            let chunk = try readHeader(8, "a chunk header")
            let id = chunk.tag(0)
            let declared = Int(chunk.uint32(4))
            let body = position + 8
            if id == "data" {
                guard let format else {
                    throw IOError.file("WAV", .malformed, at: position, "data chunk before the fmt chunk")
                }
                // Streaming writers leave 0 or 0xFFFFFFFF when they could not patch the size.
                let open = declared == 0xFFFF_FFFF || declared == 0
                var size: Int? = open ? nil : declared
                if let length {
                    let available = length - body
                    if open { size = available }
                    guard size ?? 0 <= available else {
                        throw IOError.file("WAV", .truncated, at: length,
                                              "data size field: the data chunk at byte \(position) announces \(declared) bytes but the file has \(available) after it")
                    }
                }
                self.format = format
                dataOffset = body
                frameCount = size.map { $0 / format.frameBytes }
                return
            }
            if id == "fmt " {
                guard declared >= 16 else {
                    throw IOError.file("WAV", .malformed, at: position + 4, "fmt chunk of \(declared) bytes, at least 16 needed")
                }
                let fields = try readHeader(min(declared, 40), "the fmt chunk")
                format = try WAVFormat.parse(fields, body: body, size: declared)
                let rest = declared - min(declared, 40) + (declared & 1)
                guard stream.skip(rest) == rest else {
                    throw IOError.file("WAV", .truncated, at: stream.offset, "file ends inside the fmt chunk")
                }
            } else {
                // Skip any other chunk (LIST, fact, cue ...), with its pad byte.
                if let length, declared > length - body {
                    throw IOError.file("WAV", .truncated, at: length, "chunk \"\(id)\" at byte \(position) announces \(declared) bytes, beyond the end of the file")
                }
                let skip = declared + (declared & 1)
                guard stream.skip(skip) >= declared else {
                    throw IOError.file("WAV", .truncated, at: stream.offset, "file ends inside chunk \"\(id)\" at byte \(position)")
                }
            }
        }
    }

    /// Duration of the data in seconds, when its length is known.
    public var seconds: Double? { frameCount.map { Double($0) / Double(format.sampleRate) } }

    /// Reads up to `maximumFrames` sample frames, interleaved, into `destination` (which holds
    /// `maximumFrames * channels` floats); returns the frames read, 0 at the end of the data.
    /// Float samples that are NaN or infinite read as 0.
    public func read(into destination: UnsafeMutablePointer<Float>, maximumFrames: Int) throws(IOError) -> Int {
        let frameBytes = format.frameBytes
        var done = 0
        while done < maximumFrames {
            var frames = min(maximumFrames - done, WAVReader.pieceBytes / frameBytes)
            if let frameCount { frames = min(frames, frameCount - framesRead) }
            if frames <= 0 { break }
            let want = frames * frameBytes
            if raw.count < want { raw = [UInt8](repeating: 0, count: WAVReader.pieceBytes) }
            let at = stream.offset
            let got = raw.withUnsafeMutableBytes { stream.read(into: $0.baseAddress!, count: want) }
            let whole = got / frameBytes
            decode(count: whole * format.channels, into: destination + done * format.channels)
            done += whole; framesRead += whole
            if got < want {
                if let frameCount {
                    throw IOError.file("WAV", .truncated, at: at + got, "the data ends after \(framesRead) of the \(frameCount) sample frames it announced (the file changed since it was opened?)")
                }
                break  // a stream of unknown length ends here; a partial frame is dropped
            }
        }
        return done
    }

    /// Reads up to `destination.count` sample frames mixed to mono (the channels' average);
    /// returns how many, 0 at the end of the data.
    public func readMono(into destination: inout [Float]) throws(IOError) -> Int {
        let channels = format.channels
        if channels == 1 {
            return try destination.withUnsafeMutableBufferPointer { (buffer) throws(IOError) -> Int in
                try read(into: buffer.baseAddress!, maximumFrames: buffer.count)
            }
        }
        var interleaved = [Float](repeating: 0, count: min(destination.count, WAVReader.pieceBytes / format.frameBytes) * channels)
        var done = 0
        let scale = 1 / Float(channels)
        while done < destination.count {
            let frames = try interleaved.withUnsafeMutableBufferPointer { (buffer) throws(IOError) -> Int in
                try read(into: buffer.baseAddress!, maximumFrames: min(destination.count - done, buffer.count / channels))
            }
            if frames == 0 { break }
            for frame in 0..<frames {
                var sum: Float = 0
                for channel in 0..<channels { sum += interleaved[frame * channels + channel] }
                destination[done + frame] = sum * scale
            }
            done += frames
        }
        return done
    }

    /// Decodes `count` samples from the raw buffer into `destination`.
    private func decode(count: Int, into destination: UnsafeMutablePointer<Float>) {
        raw.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            switch format.sample {
            case .pcm16:
                for i in 0..<count {
                    destination[i] = Float(Int16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) / 32768
                }
            case .float32:
                for i in 0..<count {
                    let value = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    destination[i] = value.isFinite ? value : 0
                }
            }
        }
    }
}

/// A WAV file read as mono at a chosen sample rate, a piece at a time: mixed and resampled as
/// it is read, so memory is one piece and the resampler's kernel, whatever the file's length.
///
/// ```swift
/// let sound = try WAVMonoReader(path: "street.wav", sampleRate: 16_000)
/// let twoSeconds = try sound.readAll(maximumSamples: 32_000)
/// ```
public final class WAVMonoReader {
    /// The file's reader (its own rate and channels).
    public let reader: WAVReader
    /// Samples per second delivered.
    public let sampleRate: Int
    private var resampler: StreamingResampler
    private var piece: [Float]
    private var ended = false

    /// Opens `path` to deliver mono samples at `sampleRate`.
    public init(path: String, sampleRate: Int) throws(IOError) {
        precondition(sampleRate > 0, "WAVMonoReader needs a positive rate, got \(sampleRate)")
        reader = try WAVReader(path: path)
        self.sampleRate = sampleRate
        resampler = StreamingResampler(from: reader.format.sampleRate, to: sampleRate)
        piece = [Float](repeating: 0, count: 4096)
    }

    /// Samples held besides what the caller receives: the read piece and the resampler's input.
    public var heldSamples: Int { piece.count + resampler.heldCount }

    /// Fills `destination` as far as the file goes; returns how many samples, 0 at the end.
    public func read(into destination: UnsafeMutableBufferPointer<Float>) throws(IOError) -> Int {
        var done = 0
        while done < destination.count {
            let got = resampler.pull(into: UnsafeMutableBufferPointer(rebasing: destination[done...]))
            done += got
            if done == destination.count || (ended && got == 0) { break }
            if got > 0 { continue }
            let frames = try reader.readMono(into: &piece)
            if frames == 0 { ended = true; resampler.finish(); continue }
            piece.withUnsafeBufferPointer { resampler.push(UnsafeBufferPointer(rebasing: $0[..<frames])) }
        }
        return done
    }

    /// The rest of the file, or its first `maximumSamples` samples.
    public func readAll(maximumSamples: Int = .max) throws(IOError) -> [Float] {
        var samples: [Float] = []
        if let seconds = reader.seconds {  // reserve what the file will give, no more than asked
            samples.reserveCapacity(min(maximumSamples, Int(seconds * Double(sampleRate)) + 1))
        }
        var chunk = [Float](repeating: 0, count: 4096)
        while samples.count < maximumSamples {
            let want = min(chunk.count, maximumSamples - samples.count)
            let got = try chunk.withUnsafeMutableBufferPointer { (buffer) throws(IOError) -> Int in
                try read(into: UnsafeMutableBufferPointer(rebasing: buffer[..<want]))
            }
            if got == 0 { break }
            samples.append(contentsOf: chunk[..<got])
        }
        return samples
    }
}

/// WAV decoding and encoding.
public enum WAV {
    /// Reads and decodes the file at `path`, a piece at a time; with `maximumSeconds`, only
    /// that much of its beginning is read.
    public static func read(path: String, maximumSeconds: Double? = nil) throws(IOError) -> AudioClip {
        try read(WAVReader(path: path), maximumSeconds: maximumSeconds)
    }

    /// Decodes a whole WAV file held in memory.
    public static func decode(_ bytes: [UInt8]) throws(IOError) -> AudioClip {
        try read(WAVReader(bytes: bytes), maximumSeconds: nil)
    }

    private static func read(_ reader: WAVReader, maximumSeconds: Double?) throws(IOError) -> AudioClip {
        let format = reader.format
        var limit = Int.max
        if let maximumSeconds {
            precondition(maximumSeconds >= 0 && maximumSeconds.isFinite, "maximumSeconds must be finite and not negative, got \(maximumSeconds)")
            limit = Int(min(maximumSeconds * Double(format.sampleRate), Double(Int.max / 2)).rounded(.up))
        }
        if let frameCount = reader.frameCount { limit = min(limit, frameCount) }
        var samples: [Float] = []
        if limit < Int.max { samples.reserveCapacity(limit * format.channels) }
        let pieceFrames = WAVReader.pieceBytes / format.frameBytes
        var piece = [Float](repeating: 0, count: pieceFrames * format.channels)
        var frames = 0
        while frames < limit {
            let got = try piece.withUnsafeMutableBufferPointer { (buffer) throws(IOError) -> Int in
                try reader.read(into: buffer.baseAddress!, maximumFrames: min(pieceFrames, limit - frames))
            }
            if got == 0 { break }
            samples.append(contentsOf: piece[..<(got * format.channels)])
            frames += got
        }
        return AudioClip(sampleRate: format.sampleRate, channels: format.channels, samples: samples)
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
    public static func write(_ clip: AudioClip, to path: String, format: WAVSampleFormat = .pcm16) throws(IOError) {
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
    public init(path: String, sampleRate: Int, channels: Int = 1, format: WAVSampleFormat = .pcm16) throws(IOError) {
        self.format = format
        self.channels = channels
        file = try OutputFile(path, format: "WAV")
        try file.write(WAV.header(format: format, channels: channels, sampleRate: sampleRate, dataBytes: 0))
    }

    /// Appends interleaved samples in [-1, 1].
    public func append(_ samples: UnsafeBufferPointer<Float>) throws(IOError) {
        scratch.removeAll(keepingCapacity: true)
        WAV.encodeSamples(samples, format, into: &scratch)
        try file.write(scratch)
        samplesWritten += samples.count
    }

    /// Appends interleaved samples in [-1, 1].
    public func append(_ samples: [Float]) throws(IOError) {
        scratch.removeAll(keepingCapacity: true)
        samples.withUnsafeBufferPointer { WAV.encodeSamples($0, format, into: &scratch) }
        try file.write(scratch)
        samplesWritten += samples.count
    }

    /// Writes the final sizes into the header and closes the file.
    public func close() throws(IOError) {
        defer { file.close() }
        let dataBytes = samplesWritten * format.bytesPerSample
        func le32(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { Array($0) } }
        try file.patch(at: 4, le32(36 + dataBytes))
        try file.patch(at: 40, le32(dataBytes))
    }
}
