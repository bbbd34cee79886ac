// What a running learner shows to whoever watches it (the live view, /metrics): its newest
// frames and numbers, published into buffers sized once at start. The learner never waits
// for a watcher: while a reader holds the buffers, that publication is skipped, and a reader
// copies what it needs out before it encodes or sends anything. Not a server: ForesightServe
// (or any other reader) serves what is published here.

import ForesightCore
import Synchronization

/// Buffers a learner publishes into and readers copy from; nothing is allocated after `init`.
///
/// ```swift
/// let publication = LivePublication(size: 64, motion: true, kind: .live)
/// learner.publication = publication               // the learner publishes as it goes
/// let (status, points) = publication.read()       // any thread, any time
/// var images = [Float](); publication.readImages(into: &images)
/// ```
public final class LivePublication: @unchecked Sendable {
    /// Federation rounds whose average the run adopted (`--fleet`), kept by whoever runs the
    /// federation's exchange; -1 while the run is in no federation. Set to 0 before a viewer
    /// starts, it tells the viewer to show the count.
    public let fleetRounds = Atomic<Int>(-1)

    /// What kind of run publishes.
    public enum Kind: String, Sendable {
        /// `foresight learn`: frames, predictions, errors against copy-last.
        case live
        /// `foresight train`: the loss and the progress.
        case train
    }

    /// The numbers of the run, as of its last publication.
    public struct Status: Sendable {
        public var steps = 0
        /// Steps the run is to take (train; 0: not known).
        public var totalSteps = 0
        public var frames = 0
        public var dropped = 0
        public var seconds: Double = 0
        /// Mean squared error of the model's prediction and of copying the last frame, over the evaluation window.
        public var modelError: Double = 0
        public var copyLastError: Double = 0
        /// The last training step's loss.
        public var loss: Double = 0
        public var learningRate: Double = 0
        public var stepsPerSecond: Double = 0
        public var rollbacks = 0
        /// Frame sets published so far (0: none yet).
        public var imageVersion = 0
        /// Whether the run has ended.
        public var finished = false
        public init() {}
    }

    /// One point of the error (or loss) curve.
    public struct Point: Sendable {
        public var seconds: Double
        public var modelError: Double
        public var copyLastError: Double
        public var loss: Double

        public init(seconds: Double, modelError: Double, copyLastError: Double, loss: Double) {
            self.seconds = seconds
            self.modelError = modelError
            self.copyLastError = copyLastError
            self.loss = loss
        }
    }

    public let kind: Kind
    /// Side of each published frame, in pixels.
    public let size: Int
    /// Whether a motion field is published (two planes, pixels of displacement).
    public let hasMotion: Bool
    /// Curve points kept; older ones are dropped.
    public let pointCapacity: Int
    /// Planes per published set: the newest past frame, the prediction, the truth, then motion u and v.
    public var planeCount: Int { hasMotion ? 5 : 3 }
    /// Images per published set: the frame, the prediction, the truth and, with `hasMotion`, the motion field.
    public var panelCount: Int { hasMotion ? 4 : 3 }
    /// Largest motion drawn at full colour, pixels per frame.
    public static let motionLimit: Float = 4

    /// The colour of pixel `index` of panel `panel` in `planes` (as `readImages` fills them):
    /// grey for the frame, the prediction and the truth, the motion colour-coded; a non-finite
    /// value draws as 0.
    public func colour(ofPanel panel: Int, pixel index: Int, in planes: [Float]) -> (UInt8, UInt8, UInt8) {
        let plane = size * size
        guard panel == 3 else {
            let level = greyLevel(planes[panel * plane + index])
            return (level, level, level)
        }
        let u = planes[3 * plane + index], v = planes[4 * plane + index]
        return motionColor(u: u.isFinite ? u : 0, v: v.isFinite ? v : 0, limit: Self.motionLimit)
    }
    /// What the run is ("pc64-motion k3 64x64 from synthetic ego-motion").
    public let title: String

    private struct State {
        var status = Status()
        var pointCount = 0
        var nextPoint = 0
    }

    private let state = Locked(State())
    private let images: UnsafeMutablePointer<Float>
    private let points: UnsafeMutablePointer<Point>
    /// Publications skipped because a reader held the buffers.
    private let skippedCount = Locked(0)

    public init(kind: Kind, title: String, size: Int, motion: Bool, pointCapacity: Int = 900) {
        precondition(size > 0 && pointCapacity > 0)
        self.kind = kind
        self.title = title
        self.size = size
        self.hasMotion = motion
        self.pointCapacity = pointCapacity
        images = .allocate(capacity: (motion ? 5 : 3) * size * size)
        images.initialize(repeating: 0, count: (motion ? 5 : 3) * size * size)
        points = .allocate(capacity: pointCapacity)
        points.initialize(repeating: Point(seconds: 0, modelError: 0, copyLastError: 0, loss: 0), count: pointCapacity)
    }

    deinit {
        images.deallocate()
        points.deallocate()
    }

    // MARK: The learner's side: never waits, never allocates.

    /// Publishes the newest past frame, the prediction of the next one, the frame that came and
    /// (with `hasMotion`) the motion field [2, size, size]; skipped while a reader holds the buffers.
    public func publish(past: UnsafePointer<Float>, prediction: UnsafePointer<Float>, truth: UnsafePointer<Float>,
                        motion: UnsafePointer<Float>?) {
        let plane = size * size
        let done: Void? = state.withLockIfFree { state in
            images.update(from: past, count: plane)
            (images + plane).update(from: prediction, count: plane)
            (images + 2 * plane).update(from: truth, count: plane)
            if hasMotion, let motion { (images + 3 * plane).update(from: motion, count: 2 * plane) }
            state.status.imageVersion += 1
        }
        if done == nil { skippedCount.withLock { $0 += 1 } }
    }

    /// Publishes the run's numbers; skipped while a reader holds the buffers.
    public func publish(_ status: Status) {
        let done: Void? = state.withLockIfFree { Self.store(status, in: &$0) }
        if done == nil { skippedCount.withLock { $0 += 1 } }
    }

    /// The numbers become `status`; the image version stays the images' own.
    private static func store(_ status: Status, in state: inout State) {
        let version = state.status.imageVersion
        state.status = status
        state.status.imageVersion = version
    }

    /// Adds a point to the curve (the oldest goes when it is full); waits for a reader, which
    /// holds the lock only to copy, since a point is published about once a second.
    public func addPoint(_ point: Point) {
        state.withLock { state in
            points[state.nextPoint] = point
            state.nextPoint = (state.nextPoint + 1) % pointCapacity
            state.pointCount = min(state.pointCount + 1, pointCapacity)
        }
    }

    /// Marks the run as ended, with its last numbers (waiting for a reader: this happens once).
    public func finish(_ last: Status? = nil) {
        state.withLock { state in
            if let last { Self.store(last, in: &state) }
            state.status.finished = true
        }
    }

    // MARK: Readers' side.

    /// The numbers and the curve, oldest point first.
    public func read() -> (status: Status, points: [Point]) {
        state.withLock { state in
            var copy = [Point]()
            copy.reserveCapacity(state.pointCount)
            let first = (state.nextPoint - state.pointCount + pointCapacity) % pointCapacity
            for i in 0..<state.pointCount { copy.append(points[(first + i) % pointCapacity]) }
            return (state.status, copy)
        }
    }

    /// Copies the published planes into `planes` ([planeCount, size, size]); returns their version (0: none yet).
    @discardableResult
    public func readImages(into planes: inout [Float]) -> Int {
        let count = planeCount * size * size
        if planes.count != count { planes = [Float](repeating: 0, count: count) }
        return state.withLock { state in
            planes.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: images, count: count) }
            return state.status.imageVersion
        }
    }

    /// Runs `body` holding the buffers, as a slow reader would (tests).
    func holdForTesting(_ body: () -> Void) { state.withLock { _ in body() } }

    /// Publications the learner skipped because a reader held the buffers.
    public var skipped: Int { skippedCount.withLock { $0 } }
}
