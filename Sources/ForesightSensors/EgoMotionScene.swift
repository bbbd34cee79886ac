// A synthetic camera: a seeded textured world with a few moving striped discs, seen through
// a camera that pans, zooms and rotates over time, rendered as grey frames in [0, 1]. The
// camera follows a fixed smooth motion, or, commanded, random piecewise-constant commands
// (pan, zoom, turn) as a robot's, which the scene publishes as its actions.
// Not a 3-D renderer: the world is a flat torus, so every frame is an affine view of it.

import ForesightCore
import Glibc
import ForesightIO

/// Grey frames of a textured world seen by a moving camera (pan, zoom, rotation) with
/// independently moving objects, at a fixed frame rate; 64x64 at 30 fps by default.
///
/// ```swift
/// var scene = EgoMotionScene(seed: 7)                 // 64x64, 30 fps
/// var frame = [Float](repeating: 0, count: 64 * 64)   // [H, W]
/// frame.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!) }
/// scene.advance()
/// ```
public struct EgoMotionScene: Sendable {
    /// How the camera moves; speeds are per second, so frame rate changes sampling only.
    public struct Motion: Sendable {
        /// Pan speed in world pixels per second (x, y).
        public var panVelocity: (x: Float, y: Float)
        /// Zoom factor swings between 1 - amplitude and 1 + amplitude.
        public var zoomAmplitude: Float
        /// Seconds for one zoom in-and-out cycle.
        public var zoomPeriod: Float
        /// Rotation swings between -amplitude and +amplitude radians.
        public var rotationAmplitude: Float
        /// Seconds for one rotation cycle.
        public var rotationPeriod: Float

        /// A camera motion; the default pans 20 px/s, zooms +-20 % over 4 s and rotates
        /// +-0.3 rad over 6 s.
        public init(panVelocity: (x: Float, y: Float) = (20, 8), zoomAmplitude: Float = 0.2, zoomPeriod: Float = 4,
                    rotationAmplitude: Float = 0.3, rotationPeriod: Float = 6) {
            precondition(zoomAmplitude >= 0 && zoomAmplitude < 0.9, "zoom amplitude must be in [0, 0.9), got \(zoomAmplitude)")
            precondition(zoomPeriod > 0 && rotationPeriod > 0, "periods must be positive, got \(zoomPeriod), \(rotationPeriod)")
            self.panVelocity = panVelocity
            self.zoomAmplitude = zoomAmplitude
            self.zoomPeriod = zoomPeriod
            self.rotationAmplitude = rotationAmplitude
            self.rotationPeriod = rotationPeriod
        }
    }

    struct Disc {
        var x: Float, y: Float
        let vx: Float, vy: Float, radius: Float, brightness: Float, stripePeriod: Float
    }

    /// Frame width in pixels.
    public let width: Int
    /// Frame height in pixels.
    public let height: Int
    /// Frames per second.
    public let framesPerSecond: Float
    /// The camera's motion.
    public let motion: Motion
    /// Frames advanced so far.
    public private(set) var frameIndex = 0

    /// Values per action: pan right, pan down, zoom in, turn clockwise, each in [-1, 1].
    public static let actionCount = 4
    /// Camera speeds at action 1: frame pixels per second of pan, e-folds per second of zoom,
    /// radians per second of turn.
    public static let commandScale: (pan: Float, zoom: Float, turn: Float) = (40, 0.5, 0.8)
    /// Commanded scenes: the command in force (applied from this frame to the next), the
    /// frames it still holds, the camera's state, and the commands' own random stream.
    private var commands: CommandState?

    struct CommandState {
        var action: SIMD4<Float> = .zero
        var framesLeft = 0
        var x: Float = 0, y: Float = 0, logZoom: Float = 0, angle: Float = 0
        var rng: SeededRandom
    }

    /// Whether the camera follows random commands (`commanded(...)`) rather than the fixed motion.
    public var isCommanded: Bool { commands != nil }

    static let worldSize = 256  // a power of two, so wrapping is a mask
    private let world: [Float]  // [worldSize, worldSize]
    private var discs: [Disc]

    /// A scene of `objects` moving discs on a seeded texture.
    public init(width: Int = 64, height: Int = 64, framesPerSecond: Float = 30, motion: Motion = Motion(),
                objects: Int = 3, seed: UInt64) {
        precondition(width >= 4 && height >= 4 && framesPerSecond > 0, "scene needs at least 4x4 pixels and a positive rate, got \(width)x\(height) at \(framesPerSecond)")
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.motion = motion
        var rng = SeededRandom(seed: seed)
        world = EgoMotionScene.makeTexture(&rng)
        let size = Float(EgoMotionScene.worldSize)
        discs = (0..<objects).map { _ in
            Disc(x: rng.nextFloat(in: 0..<size), y: rng.nextFloat(in: 0..<size),
                 vx: rng.nextFloat(in: -30..<30), vy: rng.nextFloat(in: -30..<30),
                 radius: rng.nextFloat(in: 5..<12), brightness: rng.nextFloat(in: 0.6..<1),
                 stripePeriod: rng.nextFloat(in: 2..<5))
        }
    }

    /// A smooth random texture: Gaussian blobs of many sizes on a faint grating, wrapped on
    /// the torus, with values in (0.1, 0.8).
    static func makeTexture(_ rng: inout SeededRandom) -> [Float] {
        let size = worldSize
        var texture = [Float](repeating: 0, count: size * size)
        for y in 0..<size {
            for x in 0..<size {
                texture[y * size + x] = 0.1 * sin(2 * Float.pi * Float(x + 2 * y) / 32)
            }
        }
        for _ in 0..<60 {
            let cx = rng.nextFloat(in: 0..<Float(size)), cy = rng.nextFloat(in: 0..<Float(size))
            let sigma = rng.nextFloat(in: 3..<20), amplitude = rng.nextFloat(in: -1..<1)
            let reach = Int(3 * sigma)
            for dy in -reach...reach {
                for dx in -reach...reach {
                    let x = (Int(cx) + dx) & (size - 1), y = (Int(cy) + dy) & (size - 1)
                    let distance2 = Float(dx * dx + dy * dy)
                    texture[y * size + x] += amplitude * exp(-distance2 / (2 * sigma * sigma))
                }
            }
        }
        // Standardise, then squash with tanh: strong contrast without a few extremes
        // flattening everything else into mid grey.
        let mean = texture.reduce(0, +) / Float(texture.count)
        let deviation = max(1e-6, (texture.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(texture.count)).squareRoot())
        return texture.map { 0.45 + 0.35 * tanh(1.5 * ($0 - mean) / deviation) }
    }

    /// A scene whose camera follows random commands, each held for 0.2 to 1 s (a robot's pan,
    /// zoom and turn), published by `action(into:)`; the world and its discs are those of
    /// `EgoMotionScene(seed:)`.
    public static func commanded(width: Int = 64, height: Int = 64, framesPerSecond: Float = 30, objects: Int = 3,
                                 seed: UInt64) -> EgoMotionScene {
        var scene = EgoMotionScene(width: width, height: height, framesPerSecond: framesPerSecond, objects: objects, seed: seed)
        scene.commands = CommandState(rng: SeededRandom(seed: seed &+ 0x5EED))
        scene.chooseCommandIfDue()
        return scene
    }

    /// The command applied from the current frame to the next, in [-1, 1] per value (pan
    /// right, pan down, zoom in, turn clockwise); for the fixed motion, its velocities at this
    /// frame in the same units (pan beyond 40 px/s would exceed 1).
    public var action: SIMD4<Float> {
        if let commands { return commands.action }
        let time = Float(frameIndex) / framesPerSecond, scale = EgoMotionScene.commandScale
        let zoom = 1 + motion.zoomAmplitude * sin(2 * Float.pi * time / motion.zoomPeriod)
        let zoomRate = motion.zoomAmplitude * 2 * Float.pi / motion.zoomPeriod * cos(2 * Float.pi * time / motion.zoomPeriod) / zoom
        let turnRate = motion.rotationAmplitude * 2 * Float.pi / motion.rotationPeriod * cos(2 * Float.pi * time / motion.rotationPeriod)
        return SIMD4(motion.panVelocity.x / scale.pan, motion.panVelocity.y / scale.pan, zoomRate / scale.zoom, turnRate / scale.turn)
    }

    /// Gives a commanded scene's camera `action` (clamped to [-1, 1]) from now on, in place of
    /// its random commands: a robot's controller driving it (`foresight plan`).
    public mutating func command(_ action: SIMD4<Float>) {
        precondition(commands != nil, "only a commanded scene takes commands")
        commands!.action = action.clamped(lowerBound: SIMD4(repeating: -1), upperBound: SIMD4(repeating: 1))
        commands!.framesLeft = .max
    }

    /// Writes `action` into `values[0..<4]`.
    public func action(into values: UnsafeMutablePointer<Float>) {
        let action = self.action
        for index in 0..<EgoMotionScene.actionCount { values[index] = action[index] }
    }

    /// A new random command when the last one has run its time; zoom commands lean back
    /// toward no zoom as the camera nears 0.6x or 1.6x.
    private mutating func chooseCommandIfDue() {
        guard var state = commands, state.framesLeft <= 0 else { return }
        var action = SIMD4<Float>(state.rng.nextFloat(in: -1..<1), state.rng.nextFloat(in: -1..<1),
                                  state.rng.nextFloat(in: -1..<1), state.rng.nextFloat(in: -1..<1))
        if state.logZoom > 0.35 { action[2] = -abs(action[2]) } else if state.logZoom < -0.35 { action[2] = abs(action[2]) }
        state.action = action
        state.framesLeft = Int((framesPerSecond * state.rng.nextFloat(in: 0.2..<1)).rounded(.up))
        commands = state
    }

    /// The camera at the current frame: world position of the frame centre, zoom and angle.
    public var pose: (x: Float, y: Float, zoom: Float, angle: Float) {
        if let commands { return (commands.x, commands.y, exp(commands.logZoom), commands.angle) }
        let time = Float(frameIndex) / framesPerSecond
        let zoom = 1 + motion.zoomAmplitude * sin(2 * Float.pi * time / motion.zoomPeriod)
        let angle = motion.rotationAmplitude * sin(2 * Float.pi * time / motion.rotationPeriod)
        return (motion.panVelocity.x * time, motion.panVelocity.y * time, zoom, angle)
    }

    /// Draws the current frame into `frame` ([height, width], row-major, values in [0, 1]).
    public func render(into frame: UnsafeMutablePointer<Float>) {
        let (centerX, centerY, zoom, angle) = pose
        let cosine = cos(angle) / zoom, sine = sin(angle) / zoom
        let mask = EgoMotionScene.worldSize - 1
        let size = Float(EgoMotionScene.worldSize)
        world.withUnsafeBufferPointer { world in
            for row in 0..<height {
                let v = Float(row) - Float(height) / 2 + 0.5
                for column in 0..<width {
                    let u = Float(column) - Float(width) / 2 + 0.5
                    let worldX = centerX + cosine * u - sine * v, worldY = centerY + sine * u + cosine * v
                    var value = EgoMotionScene.bilinear(world, worldX, worldY, mask: mask)
                    for disc in discs {
                        // Shortest offset on the torus.
                        var dx = worldX - disc.x, dy = worldY - disc.y
                        dx -= size * (dx / size).rounded()
                        dy -= size * (dy / size).rounded()
                        if dx * dx + dy * dy < disc.radius * disc.radius {
                            let stripe = Int(((dx + disc.radius) / disc.stripePeriod).rounded(.down)) & 1
                            value = stripe == 0 ? disc.brightness : disc.brightness * 0.5
                        }
                    }
                    frame[row * width + column] = value
                }
            }
        }
    }

    @inline(__always)
    static func bilinear(_ world: UnsafeBufferPointer<Float>, _ x: Float, _ y: Float, mask: Int) -> Float {
        let x0 = x.rounded(.down), y0 = y.rounded(.down)
        let fx = x - x0, fy = y - y0
        let ix = Int(x0), iy = Int(y0)
        let left = ix & mask, right = (ix + 1) & mask, top = (iy & mask) * (mask + 1), bottom = ((iy + 1) & mask) * (mask + 1)
        let upper = world[top + left] + fx * (world[top + right] - world[top + left])
        let lower = world[bottom + left] + fx * (world[bottom + right] - world[bottom + left])
        return upper + fy * (lower - upper)
    }

    /// Moves the camera and the objects one frame on.
    public mutating func advance() {
        frameIndex += 1
        let step = 1 / framesPerSecond, size = Float(EgoMotionScene.worldSize)
        if var state = commands {
            // The command moves the camera in its own frame: panning right follows its x axis.
            let scale = EgoMotionScene.commandScale, zoom = exp(state.logZoom)
            let right = state.action[0] * scale.pan * step / zoom, down = state.action[1] * scale.pan * step / zoom
            state.x += cos(state.angle) * right - sin(state.angle) * down
            state.y += sin(state.angle) * right + cos(state.angle) * down
            state.logZoom += state.action[2] * scale.zoom * step
            state.angle += state.action[3] * scale.turn * step
            state.framesLeft -= 1
            commands = state
            chooseCommandIfDue()
        }
        for index in discs.indices {
            discs[index].x = (discs[index].x + discs[index].vx * step + size).truncatingRemainder(dividingBy: size)
            discs[index].y = (discs[index].y + discs[index].vy * step + size).truncatingRemainder(dividingBy: size)
        }
    }
}
