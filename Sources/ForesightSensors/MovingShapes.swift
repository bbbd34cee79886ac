// A synthetic video of textured squares that move at constant speed and bounce off the
// borders: a scene with known, learnable motion for demos and tests. Not a renderer of
// camera motion (see the ego-motion scene for pans and zooms).

import ForesightCore
import ForesightIO

/// Grayscale frames in [0, 1] of squares moving over a faint textured background.
///
/// ```swift
/// var scene = MovingShapes(width: 64, height: 64, shapes: 3, seed: 1)
/// var frame = [Float](repeating: 0, count: 64 * 64)
/// frame.withUnsafeMutableBufferPointer { scene.render(into: $0.baseAddress!); scene.advance() }
/// ```
public struct MovingShapes: Sendable {
    public let width: Int
    public let height: Int

    struct Square {
        var x: Float, y: Float, vx: Float, vy: Float
        let size: Float
        let brightness: Float
        let stripe: Float
    }

    private var squares: [Square]
    private var rng: SeededRandom
    private let background: Float

    /// A scene of `shapes` squares with speeds up to `maxSpeed` pixels per frame.
    public init(width: Int, height: Int, shapes: Int = 3, maxSpeed: Float = 2.5, seed: UInt64) {
        precondition(width >= 8 && height >= 8 && shapes >= 1, "scene needs at least 8x8 pixels and one shape, got \(width)x\(height), \(shapes)")
        self.width = width
        self.height = height
        rng = SeededRandom(seed: seed)
        background = 0.1 + 0.1 * rng.nextFloat()
        squares = []
        for _ in 0..<shapes {
            let size = Float(width) * rng.nextFloat(in: 0.12..<0.25)
            var vx = rng.nextFloat(in: -maxSpeed..<maxSpeed), vy = rng.nextFloat(in: -maxSpeed..<maxSpeed)
            if abs(vx) < 0.5 { vx = vx < 0 ? -0.5 : 0.5 }
            if abs(vy) < 0.5 { vy = vy < 0 ? -0.5 : 0.5 }
            squares.append(Square(
                x: rng.nextFloat(in: 0..<(Float(width) - size)), y: rng.nextFloat(in: 0..<(Float(height) - size)),
                vx: vx, vy: vy, size: size, brightness: rng.nextFloat(in: 0.55..<1.0), stripe: rng.nextFloat(in: 2..<5)))
        }
    }

    /// Draws the current frame into `frame` ([height, width], row-major).
    public func render(into frame: UnsafeMutablePointer<Float>) {
        for y in 0..<height {
            for x in 0..<width {
                // A faint fixed texture so that the background is not flat.
                frame[y * width + x] = background + 0.05 * Float((x / 4 + y / 4) & 1)
            }
        }
        for square in squares {
            let left = max(0, Int(square.x.rounded())), top = max(0, Int(square.y.rounded()))
            let right = min(width, Int((square.x + square.size).rounded())), bottom = min(height, Int((square.y + square.size).rounded()))
            guard left < right, top < bottom else { continue }
            for y in top..<bottom {
                // Stripes inside the square make its motion visible in every row.
                let shade = (Int(Float(y - top) / square.stripe) & 1) == 0 ? square.brightness : square.brightness * 0.7
                for x in left..<right { frame[y * width + x] = shade }
            }
        }
    }

    /// Moves every square one frame on, bouncing off the borders.
    public mutating func advance() {
        for index in squares.indices {
            var square = squares[index]
            square.x += square.vx
            square.y += square.vy
            let maxX = Float(width) - square.size, maxY = Float(height) - square.size
            if square.x < 0 { square.x = -square.x; square.vx = -square.vx }
            if square.x > maxX { square.x = 2 * maxX - square.x; square.vx = -square.vx }
            if square.y < 0 { square.y = -square.y; square.vy = -square.vy }
            if square.y > maxY { square.y = 2 * maxY - square.y; square.vy = -square.vy }
            squares[index] = square
        }
    }
}
