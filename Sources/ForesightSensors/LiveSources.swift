// Where live learning gets its frames: a producer thread that renders a synthetic scene, or
// replays a Y4M recording at its frame rate or a ROS 2 bag's images at their log times, into a
// fixed frame ring. The camera's capture thread (CameraCapture, Camera.swift) is a
// source of its own. Not a decoder of compressed video: recordings are raw Y4M or raw images.

import Foundation
import ForesightCore
import ForesightIO

/// A stream of grayscale frames in [0, 1] delivered into a `FrameRing` by a thread of its own.
public protocol LiveFrameSource: AnyObject {
    /// The ring the learner reads; each slot holds one `size` x `size` frame.
    var ring: FrameRing<Float> { get }
    /// Frames per second of the stream.
    var framesPerSecond: Double { get }
    /// A short description for progress lines ("synthetic ego-motion", a path).
    var label: String { get }
    /// Starts delivering frames.
    func start()
    /// Stops delivering and closes the ring.
    func stop()
    /// Frames delivered so far.
    var framesDelivered: UInt64 { get }
    /// Whether the stream has ended (recordings); a camera never ends.
    var finished: Bool { get }
    /// Why the source delivers nothing at the moment, while it tries to recover (a camera
    /// unplugged and being reopened); nil while it works.
    var interruption: String? { get }
    /// Times the source came back after an interruption (a camera reopened).
    var recoveries: Int { get }
    /// Values of the action that goes with each frame (0: none): the robot's command applied
    /// from that frame to the next. Each ring slot then holds the frame followed by its action.
    var actionCount: Int { get }
    /// Frames delivered without an action of their own (before a recording's first action
    /// row); their action is zeros.
    var missingActions: Int { get }
}

extension LiveFrameSource {
    public var interruption: String? { nil }
    public var recoveries: Int { 0 }
    public var actionCount: Int { 0 }
    public var missingActions: Int { 0 }
}

/// Which built-in scene to render.
public enum SyntheticScene: String, Sendable, CaseIterable {
    /// A textured world panned, zoomed and rotated, with moving discs (the default).
    case egoMotion = "ego-motion"
    /// Textured squares moving and bouncing.
    case movingShapes = "moving-shapes"
    /// Handwritten-style digits moving and bouncing on a dark background.
    case movingDigits = "moving-digits"
    /// The ego-motion world, its camera driven by random commands (pan, zoom, turn, each held
    /// for 0.2 to 1 s) that the scene publishes as its actions: a robot looking around.
    case commanded

    /// Whether the scene publishes the camera motion it applies as actions (`EgoMotionScene.actionCount` values).
    public var publishesActions: Bool { self == .egoMotion || self == .commanded }
}

/// Renders frames on a thread of its own, paced at `framesPerSecond` (or as fast as the ring
/// drains, when `paced` is false), into a fixed ring; renders nothing after `stop()`.
public final class PacedFrameProducer: LiveFrameSource, @unchecked Sendable {
    public let ring: FrameRing<Float>
    public let framesPerSecond: Double
    public let label: String
    public let actionCount: Int
    private let missing: Locked<Int>?
    public var missingActions: Int { missing?.withLock { $0 } ?? 0 }
    private let paced: Bool
    private let frameLimit: Int?
    private let render: (UnsafeMutablePointer<Float>) throws -> Bool
    private let timing: FrameTiming?
    private let state = Locked<(delivered: UInt64, finished: Bool)>((0, false))
    private let producer = StoppableThread(name: "foresight.frames")

    /// `render` writes the next frame (of `size` x `size` values, or `slotCapacity` when
    /// given, e.g. a chunk of audio) and returns false at the end of the stream.
    /// With `actionCount`, `render` writes the frame's action after its pixels. With `timing`,
    /// `render` also records there the time its frame was recorded at, and paced replay
    /// delivers each frame that long after the one before (gaps capped at
    /// `FrameTiming.maximumGapSeconds`) instead of at `framesPerSecond`.
    public init(size: Int, framesPerSecond: Double, label: String, paced: Bool, frameLimit: Int? = nil, slots: Int = 8,
                slotCapacity: Int? = nil, actionCount: Int = 0, missingActions: Locked<Int>? = nil, timing: FrameTiming? = nil,
                render: @escaping (UnsafeMutablePointer<Float>) throws -> Bool) {
        self.timing = timing
        ring = FrameRing(slotCount: slots, slotCapacity: slotCapacity ?? size * size + actionCount)
        self.actionCount = actionCount
        missing = missingActions
        self.framesPerSecond = framesPerSecond
        self.label = label
        self.paced = paced
        self.frameLimit = frameLimit
        self.render = render
    }

    public var framesDelivered: UInt64 { state.withLock { $0.delivered } }
    public var finished: Bool { state.withLock { $0.finished } }

    public func start() {
        producer.start { [self] in run() }
    }

    /// Stops rendering and closes the ring. A render blocked in a read (a named pipe whose
    /// writer stopped sending) cannot see the request: after `joinSeconds` its thread is left to
    /// end on its own, with the ring already closed, so that stopping never waits on the writer.
    public func stop() {
        guard producer.isStarted else { return }
        producer.requestStop()
        let deadline = MonotonicClock.nanoseconds() + UInt64(Self.joinSeconds * 1e9)
        if state.withLock(when: { $0.finished }, deadline: deadline, { $0.finished }) { producer.join() } else { producer.letGo() }
        ring.close()
    }

    /// How long `stop()` waits for the rendering thread.
    public static let joinSeconds = 1.0

    private func run() {
        let period = UInt64(1e9 / framesPerSecond)
        var due = MonotonicClock.nanoseconds()
        var delivered = 0
        let stopRequested = producer.stopRequested
        while !stopRequested.isOpen {
            if let frameLimit, delivered >= frameLimit { break }
            if paced && timing == nil {
                // Sleep until the frame is due, or until `stop()`.
                if MonotonicClock.nanoseconds() < due { stopRequested.wait(deadline: due); continue }
                due += period
            } else if !paced, ring.statistics.waiting >= ring.slotCount - 1 {
                // Unpaced replay must not drop: wait for the learner to take a frame.
                stopRequested.wait(deadline: MonotonicClock.nanoseconds() + 200_000)
                continue
            }
            let slot = ring.beginWrite()
            let more: Bool
            do { more = try render(slot.baseAddress!) } catch {
                FileHandle.standardError.write(Data("frame source \(label) failed: \(error)\n".utf8))
                more = false
            }
            guard more else { ring.abandonWrite(); break }
            if paced, let timing {
                // Hold the frame until it is due by the recording's clock, or until `stop()`.
                due = timing.due(after: due, delivered: delivered)
                while MonotonicClock.nanoseconds() < due && !stopRequested.isOpen { stopRequested.wait(deadline: due) }
                if stopRequested.isOpen { ring.abandonWrite(); break }
            }
            ring.commitWrite(count: slot.count, timestampNanoseconds: MonotonicClock.nanoseconds())
            delivered += 1
            state.withLock { $0.delivered += 1 }
        }
        state.withLock { $0.finished = true }
        ring.close()
    }
}

/// The recording times of the frames a `PacedFrameProducer` renders, for replay at the pace
/// they were recorded at: the render records each frame's time, the producer turns it into a
/// due time. Used by the producer's thread only.
public final class FrameTiming: @unchecked Sendable {
    /// The longest pause between two frames replayed; a longer one in the recording (a
    /// recorder paused) is shortened to this, so that it is not taken for a stalled source.
    public static let maximumGapSeconds = 2.0
    /// The time the last frame was recorded at, in nanoseconds of the recording's clock.
    public var nanoseconds: UInt64 = 0
    private var previous: UInt64 = 0

    public init() {}

    /// When the frame just rendered is due on the monotonic clock: now for the first one,
    /// else `lastDue` plus its gap to the one before (0 when the recording's clock went back).
    func due(after lastDue: UInt64, delivered: Int) -> UInt64 {
        defer { previous = nanoseconds }
        guard delivered > 0 else { return MonotonicClock.nanoseconds() }
        let gap = nanoseconds >= previous ? min(nanoseconds - previous, UInt64(Self.maximumGapSeconds * 1e9)) : 0
        return lastDue + gap
    }
}

extension PacedFrameProducer {
    /// A built-in scene at `framesPerSecond`; with `actions`, each frame is followed in its
    /// slot by the camera motion the scene applies from it to the next (`publishesActions`).
    public static func synthetic(_ scene: SyntheticScene, size: Int = 64, framesPerSecond: Double = 30, paced: Bool = true,
                                 frameLimit: Int? = nil, seed: UInt64 = 1, actions: Bool = false) -> PacedFrameProducer {
        precondition(!actions || scene.publishesActions, "the \(scene.rawValue) scene publishes no actions")
        switch scene {
        case .commanded, .egoMotion where actions:
            var world = scene == .commanded ? EgoMotionScene.commanded(width: size, height: size, framesPerSecond: Float(framesPerSecond), seed: seed)
                : EgoMotionScene(width: size, height: size, framesPerSecond: Float(framesPerSecond), seed: seed)
            let plane = size * size, count = actions ? EgoMotionScene.actionCount : 0
            return PacedFrameProducer(size: size, framesPerSecond: framesPerSecond, label: "synthetic \(scene.rawValue)",
                                      paced: paced, frameLimit: frameLimit, actionCount: count) { frame in
                world.render(into: frame)
                if count > 0 { world.action(into: frame + plane) }
                world.advance()
                return true
            }
        case .egoMotion:
            var world = EgoMotionScene(width: size, height: size, framesPerSecond: Float(framesPerSecond), seed: seed)
            return PacedFrameProducer(size: size, framesPerSecond: framesPerSecond, label: "synthetic \(scene.rawValue)",
                                      paced: paced, frameLimit: frameLimit) { frame in
                world.render(into: frame); world.advance(); return true
            }
        case .movingShapes:
            var world = MovingShapes(width: size, height: size, seed: seed)
            return PacedFrameProducer(size: size, framesPerSecond: framesPerSecond, label: "synthetic \(scene.rawValue)",
                                      paced: paced, frameLimit: frameLimit) { frame in
                world.render(into: frame); world.advance(); return true
            }
        case .movingDigits:
            var world = MovingDigits(width: size, height: size, seed: seed)
            return PacedFrameProducer(size: size, framesPerSecond: framesPerSecond, label: "synthetic \(scene.rawValue)",
                                      paced: paced, frameLimit: frameLimit) { frame in
                world.render(into: frame); world.advance(); return true
            }
        }
    }

    /// A Y4M recording replayed at its own frame rate (or as fast as the learner takes frames),
    /// its luma plane area-resized to `size` x `size`; with `actions`, each frame is followed
    /// in its slot by the action in force at its time (frame index / frame rate).
    public static func recording(path: String, size: Int = 64, paced: Bool = true, frameLimit: Int? = nil,
                                 actions: ActionTrack? = nil) throws -> PacedFrameProducer {
        let reader = try Y4MReader(path: path)
        let header = reader.header
        let rate = Double(header.frameRate.numerator) / Double(max(1, header.frameRate.denominator))
        guard rate > 0 && rate.isFinite else { throw IOError.file("Y4M", .unsupported, at: 0, "frame rate \(header.frameRate) of \(path) is not positive") }
        var frame = Y4MFrame(for: header)
        let luma = UnsafeMutablePointer<Float>.allocate(capacity: header.width * header.height)
        let missing = Locked(0)
        var index = 0
        return PacedFrameProducer(size: size, framesPerSecond: rate, label: path, paced: paced, frameLimit: frameLimit,
                                  actionCount: actions?.count ?? 0, missingActions: missing) { target in
            guard try reader.readFrame(into: &frame) else { return false }
            for i in 0..<(header.width * header.height) { luma[i] = Float(frame.planes[i]) * (1 / 255) }
            areaResize(luma, width: header.width, height: header.height, into: target, width: size, height: size)
            if let actions, !actions.action(at: Double(index) / rate, into: target + size * size) { missing.withLock { $0 += 1 } }
            index += 1
            return true
        }
    }
}

extension PacedFrameProducer {
    /// The images of `topic` in the ROS 2 bag (MCAP) at `path`, replayed at the pace of their
    /// log times (or as fast as the learner takes frames), grey and area-resized to `size` x
    /// `size` (`BagFrames`); nil `topic` takes the bag's only image topic. With `actions`, each
    /// frame is followed in its slot by the action in force at its time (seconds since the
    /// topic's first message).
    public static func bag(path: String, topic: String?, size: Int = 64, paced: Bool = true, frameLimit: Int? = nil,
                           actions: ActionTrack? = nil) throws -> PacedFrameProducer {
        let frames = try BagFrames(path: path, topic: topic, width: size, height: size)
        let timing = FrameTiming()
        let missing = Locked(0)
        var start: UInt64? = nil
        return PacedFrameProducer(size: size, framesPerSecond: frames.framesPerSecond, label: "\(path) \(frames.topic)", paced: paced,
                                  frameLimit: frameLimit, actionCount: actions?.count ?? 0, missingActions: missing, timing: timing) { target in
            guard let time = try frames.next(into: target) else { return false }
            timing.nanoseconds = time
            let first = start ?? time
            start = first
            let seconds = time >= first ? Double(time - first) * 1e-9 : 0
            if let actions, !actions.action(at: seconds, into: target + size * size) { missing.withLock { $0 += 1 } }
            return true
        }
    }
}
