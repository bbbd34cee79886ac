// Paired data for audio-visual contrastive learning: an image and the log-mel spectrogram of
// the sound heard at the same moment, either cut from a Y4M video and a WAV recorded together
// (matched by the video's frame times) or made up from labelled images with a sound that
// depends on what is seen. Not a streaming source: the pairs are computed once and held in
// memory (a few thousand pairs of a few hundred floats).
//
// Symbols: C channels, H x W image, F spectrogram frames per window, M mel bands.

import Foundation
import ForesightCore
import ForesightSensors
import ForesightIO

/// Images and the sound of the same moments: pair i is image i of `images` ([C, H, W]) and
/// `audio[i]` ([F, M] log-mel energies, F = `audioFrames`, M = `melBands`), taken at `times[i]`
/// seconds. `images.labels` are classes when the source knows them (synthetic pairs), else 0.
///
/// ```swift
/// let pairs = try AudioVisualPairs.recording(videoPath: "walk.y4m", audioPath: "walk.wav", height: 16, width: 16)
/// let tones = AudioVisualPairs.toneDigits(digits)      // each digit with a chord that names it
/// pairs.audioSize                                       // F * M floats per pair
/// ```
public struct AudioVisualPairs: Sendable {
    /// The images, [count, C, H, W]; labels are classes when known.
    public let images: LabeledImages
    /// Log-mel windows, [count, F, M].
    public let audio: [Float]
    /// Spectrogram frames per window (F).
    public let audioFrames: Int
    /// Mel bands per frame (M).
    public let melBands: Int
    /// The moment of each pair in seconds from the start of the recording (the index for synthetic pairs).
    public let times: [Double]

    /// Pairs in the set.
    public var count: Int { images.count }
    /// Floats of one audio window: F * M.
    public var audioSize: Int { audioFrames * melBands }

    /// Wraps `images` and `audio` [images.count, audioFrames, melBands] taken at `times`.
    public init(images: LabeledImages, audio: [Float], audioFrames: Int, melBands: Int, times: [Double]) {
        precondition(audioFrames > 0 && melBands > 0, "an audio window needs frames and bands, got \(audioFrames)x\(melBands)")
        precondition(audio.count == images.count * audioFrames * melBands && times.count == images.count,
                     "\(images.count) images need \(images.count * audioFrames * melBands) audio floats and \(images.count) times; got \(audio.count) and \(times.count)")
        self.images = images
        self.audio = audio
        self.audioFrames = audioFrames
        self.melBands = melBands
        self.times = times
    }

    /// The pairs at `indices`, in that order.
    public func subset(_ indices: [Int]) -> AudioVisualPairs {
        var windows = [Float]()
        windows.reserveCapacity(indices.count * audioSize)
        for index in indices { windows += audio[index * audioSize..<(index + 1) * audioSize] }
        return AudioVisualPairs(images: images.subset(indices), audio: windows, audioFrames: audioFrames,
                                melBands: melBands, times: indices.map { times[$0] })
    }
}

extension AudioVisualPairs {
    /// Pairs from a video and the audio recorded with it: frame k (every `frameStride`-th) is
    /// shown at k / fps seconds, and its sound is the `windowSeconds` of audio centred on that
    /// moment, as log-mel frames of `spectrogram`. The luma plane is box-averaged to
    /// `height` x `width` and scaled to [0, 1]; stereo is mixed to mono and resampled to the
    /// spectrogram's rate. Frames whose window reaches outside the audio are left out.
    /// Throws when the frame rate is not positive, the audio rate is below 8 kHz, the window is
    /// shorter than one spectrogram window, or the two lengths differ by more than
    /// `lengthTolerance` seconds (they were not recorded together, or one was cut).
    public static func recording(video: Y4MReader, audio clip: AudioClip, height: Int, width: Int, windowSeconds: Double = 0.1,
                                 frameStride: Int = 1, lengthTolerance: Double = 0.5,
                                 spectrogram: LogMelSpectrogram = LogMelSpectrogram()) throws -> AudioVisualPairs {
        let header = video.header
        guard header.frameRate.numerator > 0 && header.frameRate.denominator > 0 else {
            throw TrainingError.unreadableData(path: nil, message: "the video's frame rate \(header.frameRate.numerator):\(header.frameRate.denominator) is not positive; frame times cannot be known")
        }
        guard clip.sampleRate >= 8000 else {
            throw TrainingError.mismatchedData(message: "the audio's sample rate \(clip.sampleRate) Hz is below 8000 Hz; the spectrogram needs at least that")
        }
        guard height >= 1 && width >= 1 && height <= header.height && width <= header.width && frameStride >= 1 else {
            throw TrainingError.invalidSetting(name: "frameStride", message: "images of \(height)x\(width) every \(frameStride) frames cannot be cut from \(header.height)x\(header.width) video (need 1...the video size and a stride of at least 1)")
        }
        let windowSamples = Int((windowSeconds * Double(spectrogram.sampleRate)).rounded())
        guard windowSamples >= spectrogram.windowLength else {
            throw TrainingError.invalidSetting(name: "windowSeconds", message: "an audio window of \(windowSeconds) s holds \(windowSamples) samples, fewer than one spectrogram window of \(spectrogram.windowLength)")
        }
        let samples = clip.mixedToMono().resampled(to: spectrogram.sampleRate).samples
        let framesPerWindow = 1 + (windowSamples - spectrogram.windowLength) / spectrogram.hopLength
        let secondsPerFrame = Double(header.frameRate.denominator) / Double(header.frameRate.numerator)

        var frame = Y4MFrame(for: header)
        var pixels: [Float] = [], windows: [Float] = [], times: [Double] = []
        var bands = [Float](repeating: 0, count: spectrogram.melBands)
        var index = 0
        while try video.readFrame(into: &frame) {
            defer { index += 1 }
            guard index % frameStride == 0 else { continue }
            let time = Double(index) * secondsPerFrame
            let start = Int((time * Double(spectrogram.sampleRate)).rounded()) - windowSamples / 2
            guard start >= 0 && start + windowSamples <= samples.count else { continue }
            appendBoxAverage(frame.planes, sourceHeight: header.height, sourceWidth: header.width, height: height, width: width, to: &pixels)
            samples.withUnsafeBufferPointer { audio in
                for f in 0..<framesPerWindow {
                    bands.withUnsafeMutableBufferPointer { spectrogram.frame(audio.baseAddress! + start + f * spectrogram.hopLength, into: $0.baseAddress!) }
                    windows += bands
                }
            }
            times.append(time)
        }
        let videoSeconds = Double(index) * secondsPerFrame, audioSeconds = Double(clip.frameCount) / Double(clip.sampleRate)
        guard abs(videoSeconds - audioSeconds) <= lengthTolerance else {
            throw TrainingError.mismatchedData(message: "the video lasts \(videoSeconds) s (\(index) frames at \(header.frameRate.numerator):\(header.frameRate.denominator) fps) but the audio lasts \(audioSeconds) s (\(clip.frameCount) samples at \(clip.sampleRate) Hz); more than \(lengthTolerance) s apart, so they were not recorded together or one was cut")
        }
        guard times.count >= 2 else {
            throw TrainingError.notEnoughData(available: times.count, needed: 2, message: "only \(times.count) video frames have a full \(windowSeconds) s audio window around them; at least 2 pairs are needed")
        }
        let images = LabeledImages(pixels: pixels, labels: [Int32](repeating: 0, count: times.count), channels: 1, height: height, width: width, classCount: 1)
        return AudioVisualPairs(images: images, audio: windows, audioFrames: framesPerWindow, melBands: spectrogram.melBands, times: times)
    }

    /// `recording(video:audio:...)` on the files at `videoPath` (Y4M) and `audioPath` (WAV).
    public static func recording(videoPath: String, audioPath: String, height: Int, width: Int, windowSeconds: Double = 0.1,
                                 frameStride: Int = 1, lengthTolerance: Double = 0.5) throws -> AudioVisualPairs {
        // The sound is mixed and resampled as it is read, so only its mono form at the spectrogram's rate is held.
        let sound = try WAVMonoReader(path: audioPath, sampleRate: LogMelSpectrogram().sampleRate)
        guard sound.reader.format.sampleRate >= 8000 else {
            throw TrainingError.mismatchedData(message: "the audio's sample rate \(sound.reader.format.sampleRate) Hz is below 8000 Hz; the spectrogram needs at least that")
        }
        let clip = AudioClip(sampleRate: sound.sampleRate, channels: 1, samples: try sound.readAll())
        return try recording(video: try Y4MReader(path: videoPath), audio: clip, height: height, width: width,
                             windowSeconds: windowSeconds, frameStride: frameStride, lengthTolerance: lengthTolerance)
    }

    /// `recording(video:audio:...)` on the Y4M file at `videoPath` and the WAV beside it with the
    /// same name (`walk.y4m` and `walk.wav`); throws naming the WAV when there is none.
    ///
    /// ```swift
    /// let pairs = try AudioVisualPairs.recording(videoPath: "walk.y4m", height: 16, width: 16)   // reads walk.wav too
    /// ```
    public static func recording(videoPath: String, height: Int, width: Int, windowSeconds: Double = 0.1,
                                 frameStride: Int = 1, lengthTolerance: Double = 0.5) throws -> AudioVisualPairs {
        let audioPath = URL(fileURLWithPath: videoPath).deletingPathExtension().appendingPathExtension("wav").path
        guard FileManager.default.fileExists(atPath: audioPath) else {
            throw TrainingError.unreadableData(path: audioPath, message: "audio-visual pairs need the sound recorded with \(videoPath); no \(audioPath) beside it")
        }
        return try recording(videoPath: videoPath, audioPath: audioPath, height: height, width: width, windowSeconds: windowSeconds,
                             frameStride: frameStride, lengthTolerance: lengthTolerance)
    }

    /// Appends the mean of each of height x width boxes of an 8-bit plane, divided by 255.
    static func appendBoxAverage(_ plane: [UInt8], sourceHeight: Int, sourceWidth: Int, height: Int, width: Int, to pixels: inout [Float]) {
        for y in 0..<height {
            let top = y * sourceHeight / height, bottom = max(top + 1, (y + 1) * sourceHeight / height)
            for x in 0..<width {
                let left = x * sourceWidth / width, right = max(left + 1, (x + 1) * sourceWidth / width)
                var sum = 0
                for sy in top..<bottom { for sx in left..<right { sum += Int(plane[sy * sourceWidth + sx]) } }
                pixels.append(Float(sum) / Float(255 * (bottom - top) * (right - left)))
            }
        }
    }

    /// Each labelled image with a sound of what it shows, as if a robot heard each object it saw:
    /// a tone whose pitch names the class (220 Hz times 2^(class / 4), two harmonics) and a high
    /// partial whose pitch follows how much ink the image holds (1.5 to 4.5 kHz for the set's
    /// least to most), at a random phase and loudness, in white noise of `noise` deviation.
    /// `windowSeconds` at 16 kHz becomes F log-mel frames of 40 bands (0.1 s: 8 frames).
    ///
    /// ```swift
    /// let pairs = AudioVisualPairs.toneDigits(digits, noise: 0.05, seed: 1)   // 1797 pairs, audio [1797, 8, 40]
    /// ```
    public static func toneDigits(_ images: LabeledImages, windowSeconds: Double = 0.1, noise: Float = 0.05,
                                  seed: UInt64 = 1) -> AudioVisualPairs {
        let spectrogram = LogMelSpectrogram()
        let rate = Float(spectrogram.sampleRate)
        let windowSamples = Int(windowSeconds * Double(spectrogram.sampleRate))
        precondition(windowSamples >= spectrogram.windowLength, "a window of \(windowSeconds) s is shorter than one spectrogram window")
        let framesPerWindow = 1 + (windowSamples - spectrogram.windowLength) / spectrogram.hopLength
        var ink = [Float](repeating: 0, count: images.count)
        for i in 0..<images.count {
            ink[i] = images.pixels[i * images.imageSize..<(i + 1) * images.imageSize].reduce(0, +) / Float(images.imageSize)
        }
        let leastInk = ink.min() ?? 0, mostInk = max((ink.max() ?? 1), leastInk + 1e-6)
        var random = SeededRandom(seed: seed)
        var sound = [Float](repeating: 0, count: windowSamples), bands = [Float](repeating: 0, count: spectrogram.melBands)
        var windows = [Float]()
        windows.reserveCapacity(images.count * framesPerWindow * spectrogram.melBands)
        for i in 0..<images.count {
            let pitch = 220 * powf(2, Float(images.labels[i]) / 4)
            let partial = 1500 + 3000 * (ink[i] - leastInk) / (mostInk - leastInk)
            let loudness = 0.1 + 0.2 * random.nextFloat()
            let phases = (random.nextFloat() * 2 * .pi, random.nextFloat() * 2 * .pi, random.nextFloat() * 2 * .pi)
            for n in 0..<windowSamples {
                let t = Float(n) / rate
                sound[n] = loudness * (sinf(2 * .pi * pitch * t + phases.0) + 0.5 * sinf(4 * .pi * pitch * t + phases.1)
                                       + 0.5 * sinf(2 * .pi * partial * t + phases.2)) + noise * random.nextGaussian()
            }
            for f in 0..<framesPerWindow {
                sound.withUnsafeBufferPointer { samples in
                    bands.withUnsafeMutableBufferPointer { spectrogram.frame(samples.baseAddress! + f * spectrogram.hopLength, into: $0.baseAddress!) }
                }
                windows += bands
            }
        }
        return AudioVisualPairs(images: images, audio: windows, audioFrames: framesPerWindow, melBands: spectrogram.melBands,
                                times: (0..<images.count).map(Double.init))
    }
}
