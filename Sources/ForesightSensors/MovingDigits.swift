// A synthetic video of digits moving and bouncing on a dark background, in the manner of
// the Moving MNIST benchmark but drawn from a built-in 5x7 font, so it needs no data set.

import Foundation
import ForesightCore
import ForesightIO

/// Grayscale frames in [0, 1] of two bright digits that move at constant speed and bounce.
///
/// ```swift
/// var digits = MovingDigits(width: 64, height: 64, seed: 1)
/// digits.render(into: frame); digits.advance()
/// ```
public struct MovingDigits: Sendable {
    public let width: Int
    public let height: Int

    /// Rows of each glyph, 5 bits wide (most significant bit on the left).
    static let font: [[UInt8]] = [
        [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
    ]

    struct Digit { var x: Float, y: Float, vx: Float, vy: Float; let glyph: Int }

    private var digits: [Digit]
    private let scale: Int

    /// Two random digits with speeds of 1 to 3 pixels per frame.
    public init(width: Int, height: Int, digits count: Int = 2, seed: UInt64) {
        precondition(width >= 24 && height >= 32 && count >= 1, "moving digits need at least 24x32 pixels and one digit, got \(width)x\(height), \(count)")
        self.width = width
        self.height = height
        scale = max(1, min(width / 15, height / 21, 4))
        var rng = SeededRandom(seed: seed)
        digits = (0..<count).map { _ in
            let angle = rng.nextFloat(in: 0..<(2 * Float.pi)), speed = rng.nextFloat(in: 1..<3)
            return Digit(x: rng.nextFloat(in: 0..<Float(width - 5 * 3)), y: rng.nextFloat(in: 0..<Float(height - 7 * 3)),
                         vx: speed * cos(angle), vy: speed * sin(angle), glyph: rng.nextInt(below: 10))
        }
    }

    /// Draws the current frame into `frame` ([height, width], row-major); overlapping digits add up to 1.
    public func render(into frame: UnsafeMutablePointer<Float>) {
        frame.update(repeating: 0, count: width * height)
        for digit in digits {
            let left = Int(digit.x.rounded()), top = Int(digit.y.rounded())
            for (row, bits) in MovingDigits.font[digit.glyph].enumerated() {
                for column in 0..<5 where bits & (0x10 >> UInt8(column)) != 0 {
                    for dy in 0..<scale {
                        for dx in 0..<scale {
                            let x = left + column * scale + dx, y = top + row * scale + dy
                            if x >= 0 && x < width && y >= 0 && y < height { frame[y * width + x] = 1 }
                        }
                    }
                }
            }
        }
    }

    /// Moves every digit one frame on, bouncing off the borders.
    public mutating func advance() {
        let maxX = Float(width - 5 * scale), maxY = Float(height - 7 * scale)
        for index in digits.indices {
            var digit = digits[index]
            digit.x += digit.vx; digit.y += digit.vy
            if digit.x < 0 { digit.x = -digit.x; digit.vx = -digit.vx }
            if digit.x > maxX { digit.x = 2 * maxX - digit.x; digit.vx = -digit.vx }
            if digit.y < 0 { digit.y = -digit.y; digit.vy = -digit.vy }
            if digit.y > maxY { digit.y = 2 * maxY - digit.y; digit.vy = -digit.vy }
            digits[index] = digit
        }
    }
}
