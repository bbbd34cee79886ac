// What `foresight learn` learns from and with which settings: a choice made on the command
// line comes first, then the device profile, then the defaults (LiveLearnerConfiguration's,
// the sensors'). Not the command's parsing; choosing opens nothing, `openVideo` and
// `openSound` do.

import Foundation
import ForesightCore
import ForesightIO
import ForesightSensors
import ForesightSSL

extension LiveLearnerConfiguration {
    /// The defaults with what a device profile says about its board: its cores become the
    /// kernel threads, its memory budget the budget, and its model and objective are learned.
    ///
    /// ```swift
    /// var settings = try LiveLearnerConfiguration(profile: DeviceProfile.load(named: "raspberry-pi-5"))
    /// settings.threads   // 4
    /// ```
    public init(profile: DeviceProfile) throws(LiveLearningError) {
        self.init()
        guard let model = Model(rawValue: profile.model) else {
            throw .invalidSetting(name: "model", message: "the profile \(profile.name) names the model \"\(profile.model)\"; live learning knows \(Model.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let objective = Objective(rawValue: profile.objective) else {
            throw .invalidSetting(name: "objective", message: "the profile \(profile.name) names the objective \"\(profile.objective)\"; live learning knows \(Objective.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.model = model
        self.objective = objective
        threads = profile.cores
        budget = profile.memoryBudget
    }
}

/// The senses a live run learns from, once the command line and the device profile are put
/// together.
///
/// ```swift
/// let inputs = try LiveInputs(profile: DeviceProfile.load(named: "raspberry-pi-5"))
/// inputs.video   // .camera(path: "/dev/video0", mode: 640 x 480 at 30 frames/s)
/// let frames = try inputs.openVideo(size: 64, paced: true, seed: 1)
/// ```
public struct LiveInputs: Equatable, Sendable {
    /// Where frames come from.
    public enum Video: Equatable, Sendable {
        /// A camera device, asked for `mode`.
        case camera(path: String, mode: CameraMode)
        /// A Y4M recording replayed at its frame rate.
        case recording(path: String)
        /// The images of a topic of a ROS 2 bag (MCAP) replayed at their log times; nil takes
        /// the bag's only image topic.
        case bag(path: String, topic: String?)
        /// A built-in synthetic scene.
        case scene(SyntheticScene)
    }

    /// Where sound comes from.
    public enum Sound: Equatable, Sendable {
        /// An ALSA capture device (`default`, `hw:X,Y`, `plughw:X,Y`).
        case microphone(name: String)
        /// A WAV recording replayed in real time.
        case recording(path: String)
    }

    /// Where the robot's actions come from.
    public enum Actions: Equatable, Sendable {
        /// The built-in scene's own camera motion (pan, zoom, turn), published with each frame.
        case scene
        /// A recording's actions from a CSV file (`ActionTrack`), matched to frames by time.
        case file(path: String, track: ActionTrack)
        /// Commands of `count` values as lines on standard input (`LiveActionFeed`), each in
        /// force from its arrival.
        case standardInput(count: Int)
    }

    /// The frames to learn from; nil when only a sound source was named.
    public var video: Video?
    /// The actions that go with the frames; nil for none.
    public var actions: Actions?
    /// A recording's CSV log of actions; nil for other actions or none.
    public var actionTrack: ActionTrack? {
        if case let .file(_, track) = actions { track } else { nil }
    }
    /// Values per action (0 without actions).
    public var actionCount: Int {
        switch actions {
        case nil: 0
        case .scene: EgoMotionScene.actionCount
        case let .file(_, track): track.count
        case let .standardInput(count): count
        }
    }
    /// The sound to learn from; nil for none.
    public var sound: Sound?
    /// Samples per second of the sound: the profile's microphone's, else the audio trainer's.
    public var sampleRate: Int

    /// The scene learned from when nothing else is named.
    public static let defaultScene = SyntheticScene.egoMotion

    /// Puts the sources named on the command line (nil: not named) together with `profile`:
    ///
    /// - Video: `camera`, else `video` (a Y4M file), else `bag` (a ROS 2 bag in MCAP, its image
    ///   topic `topic`, or its only one), else `scene`. When none of them is named, and no sound
    ///   source either, the profile's camera (`camera.device`); without a profile, the default
    ///   scene. A camera is asked for the profile's size and rate, else `CameraMode.standard`.
    /// - Sound: `mic` or `audio`; `listen` takes the profile's microphone (`microphone.device`).
    ///
    /// - Actions: `scene` takes the built-in scene's camera motion (the ego-motion and commanded
    ///   scenes); `stdin:N` commands of N values as lines on standard input (`LiveActionFeed`);
    ///   any other value is a CSV file of the recording's actions (`ActionTrack`).
    ///
    /// Conflicting choices are an error that names the options.
    public init(camera: String? = nil, video: String? = nil, scene: SyntheticScene? = nil, mic: String? = nil, audio: String? = nil,
                listen: Bool = false, profile: DeviceProfile? = nil, actions: String? = nil, bag: String? = nil, topic: String? = nil) throws {
        let named = [("--camera", camera), ("--video", video), ("--bag", bag)].filter { $0.1 != nil }.map(\.0)
        if named.count > 1 { throw LiveLearningError.conflictingOptions(message: "give one video source: \(named.joined(separator: " or ")), not both") }
        if topic != nil && bag == nil {
            throw LiveLearningError.conflictingOptions(message: "--topic names the image topic of a ROS 2 bag: give the bag with --bag FILE.mcap")
        }
        if mic != nil && audio != nil { throw LiveLearningError.conflictingOptions(message: "give one sound source: --mic or --audio, not both") }
        if listen && (mic != nil || audio != nil) {
            throw LiveLearningError.conflictingOptions(message: "--listen takes the profile's microphone; --mic and --audio name a sound source themselves")
        }
        if listen && profile == nil {
            throw LiveLearningError.conflictingOptions(message: "--listen takes the microphone of a device profile: give --profile BOARD, or name the microphone with --mic DEVICE")
        }
        let cameraMode = profile.map {
            CameraMode(width: $0.camera.width, height: $0.camera.height, framesPerSecond: Double($0.camera.framesPerSecond))
        } ?? .standard
        if let camera {
            self.video = .camera(path: camera, mode: cameraMode)
        } else if let video {
            self.video = .recording(path: video)
        } else if let bag {
            self.video = .bag(path: bag, topic: topic)
        } else if let scene {
            self.video = .scene(scene)
        } else if mic != nil || audio != nil {
            self.video = nil
        } else if let profile {
            self.video = .camera(path: profile.camera.device, mode: cameraMode)
        } else {
            self.video = .scene(Self.defaultScene)
        }
        if let mic {
            sound = .microphone(name: mic)
        } else if let audio {
            sound = .recording(path: audio)
        } else if listen, let profile {
            sound = .microphone(name: profile.microphone.device)
        } else {
            sound = nil
        }
        sampleRate = profile?.microphone.sampleRate ?? AudioCPCConfiguration().sampleRate
        switch actions {
        case nil:
            self.actions = nil
        case "scene":
            guard case let .scene(scene) = self.video else {
                throw LiveLearningError.conflictingOptions(message: "--actions scene takes a built-in scene's camera motion; with a camera or a recording there is none (give --scene \(SyntheticScene.allCases.filter(\.publishesActions).map(\.rawValue).joined(separator: " or ")))")
            }
            guard scene.publishesActions else {
                throw LiveLearningError.conflictingOptions(message: "the \(scene.rawValue) scene has no camera motion to publish as actions; --actions scene takes \(SyntheticScene.allCases.filter(\.publishesActions).map(\.rawValue).joined(separator: " or "))")
            }
            self.actions = .scene
        case let value? where value.hasPrefix("stdin:"):
            guard let count = Int(value.dropFirst("stdin:".count)), (1...64).contains(count) else {
                throw LiveLearningError.invalidSetting(name: "--actions", message: "--actions stdin:N takes N, the values per command line, from 1 to 64 (got \(value.debugDescription))")
            }
            guard self.video != nil else { throw LiveLearningError.conflictingOptions(message: "--actions goes with pictures: give --camera, --video, --bag or --scene") }
            self.actions = .standardInput(count: count)
        case let path?:
            switch self.video {
            case .recording?, .bag?: break
            default:
                throw LiveLearningError.conflictingOptions(message: "--actions \(path): a CSV file of actions goes with a recording (--video FILE.y4m or --bag FILE.mcap); for a built-in scene give --actions scene")
            }
            guard FileManager.default.fileExists(atPath: path) else {
                throw LiveLearningError.conflictingOptions(message: "--actions takes `scene` or a CSV file of `time, a1, ..., an` rows; there is no file \(path.debugDescription)")
            }
            self.actions = .file(path: path, track: try ActionTrack(path: path))
        }
    }

    /// Opens the video source for frames of `size` x `size`; `paced: false` replays a recording
    /// or scene as fast as the learner takes frames. Nil when there is no video.
    public func openVideo(size: Int, paced: Bool, seed: UInt64) throws -> LiveFrameSource? {
        switch video {
        case let .camera(path, mode): try CameraCapture(path: path, size: size, mode: mode)
        case let .recording(path): try PacedFrameProducer.recording(path: path, size: size, paced: paced, actions: actionTrack)
        case let .bag(path, topic): try PacedFrameProducer.bag(path: path, topic: topic, size: size, paced: paced, actions: actionTrack)
        case let .scene(scene): PacedFrameProducer.synthetic(scene, size: size, paced: paced, seed: seed, actions: actions == .scene)
        case nil: nil
        }
    }

    /// How `openVideo(size:paced:seed:waitingAtMost:shouldStop:)` ended.
    public enum VideoOpening {
        /// The source, ready to start (nil: there is no video).
        case opened(LiveFrameSource?)
        /// `shouldStop()` said so before the source was open.
        case stopped
        /// The source was still opening after the time given.
        case timedOut
    }

    /// `openVideo`, on a thread of its own, waited for at most `seconds` while `shouldStop()`
    /// is asked every 50 ms: opening a recording that is a named pipe waits for a writer to
    /// open it and send the Y4M header, which may never happen. A source still opening when
    /// the wait ends is left to its thread.
    public func openVideo(size: Int, paced: Bool, seed: UInt64, waitingAtMost seconds: Double,
                          shouldStop: () -> Bool) throws -> VideoOpening {
        let outcome = OpeningOutcome()
        let opener = JoinableThread(name: "foresight.open") { [self] in
            let result = Result { try openVideo(size: size, paced: paced, seed: seed) }
            outcome.result.withLock { $0 = result }
        }
        let deadline = MonotonicClock.nanoseconds() + UInt64(min(max(seconds, 0), 1e9) * 1e9)
        while true {
            let slice = min(deadline, MonotonicClock.nanoseconds() + 50_000_000)
            if let result = outcome.result.withLock(when: { $0 != nil }, deadline: slice, { $0 }) {
                opener.join()
                return .opened(try result.get())
            }
            if shouldStop() { return .stopped }
            if MonotonicClock.nanoseconds() >= deadline { return .timedOut }
        }
    }

    /// Opens the sound source at `sampleRate`. Nil when there is no sound.
    public func openSound(paced: Bool) throws -> LiveAudioSource? {
        switch sound {
        case let .microphone(name): try LiveAudioSource.microphone(name, sampleRate: sampleRate)
        case let .recording(path): try LiveAudioSource.recording(path: path, sampleRate: sampleRate, paced: paced)
        case nil: nil
        }
    }
}

/// What the opening thread hands back, once, under its lock.
private final class OpeningOutcome: @unchecked Sendable {
    let result = Locked<Result<LiveFrameSource?, any Error>?>(nil)
}
