// A synthetic microphone: tones, linear chirps, noise bursts and silences, from a script or
// drawn at random from a seed, rendered as mono samples in [-1, 1]. Not a speech or music
// synthesiser.

import ForesightCore
import Glibc
import ForesightIO

/// One sound in a `SoundScene`; durations are in seconds, amplitudes in [0, 1].
public enum SoundEvent: Sendable, Equatable {
    /// A sine at `frequency` Hz.
    case tone(frequency: Float, amplitude: Float, duration: Float)
    /// A sine whose frequency moves linearly from `from` to `to` Hz.
    case chirp(from: Float, to: Float, amplitude: Float, duration: Float)
    /// White noise.
    case noiseBurst(amplitude: Float, duration: Float)
    /// Nothing.
    case silence(duration: Float)

    /// The event's length in seconds.
    public var duration: Float {
        switch self {
        case .tone(_, _, let duration), .chirp(_, _, _, let duration), .noiseBurst(_, let duration), .silence(let duration):
            return duration
        }
    }
}

/// Mono audio made of `SoundEvent`s, played in order (looping), or drawn at random forever.
/// Each event fades in and out over 5 ms so that its edges do not click.
///
/// ```swift
/// var sound = SoundScene(sampleRate: 16_000, events: [.tone(frequency: 440, amplitude: 0.5, duration: 1)])
/// var samples = [Float](repeating: 0, count: 1600)
/// samples.withUnsafeMutableBufferPointer { sound.render(into: $0.baseAddress!, count: $0.count) }
/// ```
public struct SoundScene: Sendable {
    /// Samples per second.
    public let sampleRate: Int
    private var script: [SoundEvent]
    private var rng: SeededRandom
    private let random: Bool
    private var eventIndex = 0
    private var current: SoundEvent
    private var sampleInEvent = 0

    /// Plays `events` in order, then again from the start.
    public init(sampleRate: Int = 16_000, events: [SoundEvent], seed: UInt64 = 1) {
        precondition(sampleRate > 0 && !events.isEmpty, "a sound scene needs a positive rate and at least one event")
        precondition(events.allSatisfy { $0.duration > 0 }, "every event needs a positive duration")
        self.sampleRate = sampleRate
        script = events
        rng = SeededRandom(seed: seed)
        random = false
        current = events[0]
    }

    /// Random events forever: tones, chirps and noise bursts of 0.1 to 0.5 s with short gaps.
    public init(sampleRate: Int = 16_000, seed: UInt64) {
        precondition(sampleRate > 0, "a sound scene needs a positive rate, got \(sampleRate)")
        self.sampleRate = sampleRate
        script = []
        rng = SeededRandom(seed: seed)
        random = true
        current = .silence(duration: 0.05)
    }

    private mutating func nextEvent() {
        sampleInEvent = 0
        if !random {
            eventIndex = (eventIndex + 1) % script.count
            current = script[eventIndex]
            return
        }
        if case .silence = current {
            let nyquist = Float(sampleRate) / 2
            let duration = rng.nextFloat(in: 0.1..<0.5), amplitude = rng.nextFloat(in: 0.2..<0.8)
            switch rng.nextInt(below: 3) {
            case 0: current = .tone(frequency: rng.nextFloat(in: 100..<(0.8 * nyquist)), amplitude: amplitude, duration: duration)
            case 1: current = .chirp(from: rng.nextFloat(in: 100..<(0.8 * nyquist)), to: rng.nextFloat(in: 100..<(0.8 * nyquist)),
                                     amplitude: amplitude, duration: duration)
            default: current = .noiseBurst(amplitude: amplitude * 0.5, duration: duration)
            }
        } else {
            current = .silence(duration: rng.nextFloat(in: 0.02..<0.2))
        }
    }

    /// Writes the next `count` samples into `samples`.
    public mutating func render(into samples: UnsafeMutablePointer<Float>, count: Int) {
        let rate = Float(sampleRate), fade = 0.005 * rate
        var written = 0
        while written < count {
            let length = max(1, Int((current.duration * rate).rounded()))
            if sampleInEvent >= length { nextEvent(); continue }
            let take = min(count - written, length - sampleInEvent)
            for offset in 0..<take {
                let n = sampleInEvent + offset
                let time = Float(n) / rate
                let envelope = min(1, Float(n) / fade, Float(length - n) / fade)
                var value: Float
                switch current {
                case .tone(let frequency, let amplitude, _):
                    value = amplitude * sin(2 * Float.pi * frequency * time)
                case .chirp(let from, let to, let amplitude, let duration):
                    // The phase is the integral of the linearly moving frequency.
                    value = amplitude * sin(2 * Float.pi * (from * time + (to - from) * time * time / (2 * duration)))
                case .noiseBurst(let amplitude, _):
                    value = amplitude * rng.nextFloat(in: -1..<1)
                case .silence:
                    value = 0
                }
                samples[written + offset] = value * envelope
            }
            written += take
            sampleInEvent += take
        }
    }
}
