// PNG strips that show what the robot expects: the past frames, the predicted next frame,
// the frame that came, and the predicted motion colour-coded (hue: direction, saturation:
// speed). Not a video: one still every so many frames, for a person to look at.

import Foundation
import ForesightSensors
import ForesightIO
import ForesightSSL

/// Builds and writes snapshot strips, each frame scaled up for viewing.
struct SnapshotWriter {
    let directory: String
    let size: Int
    let zoom = 3
    let maxMotion: Float

    init(directory: String, size: Int, maxMotion: Float) throws {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } else if !isDirectory.boolValue {
            throw LiveLearningError.snapshotsUnwritable(path: directory, message: "exists and is not a folder (--snapshots takes a folder)")
        }
        self.directory = directory
        self.size = size
        self.maxMotion = maxMotion
    }

    /// Writes `snapshot-<frame>.png`: past frames, prediction, truth and, if given, the motion
    /// field [2, H, W] in pixels. Returns the path.
    @discardableResult
    func write(frame: Int, past: [UnsafePointer<Float>], prediction: UnsafePointer<Float>, truth: UnsafePointer<Float>,
               motion: UnsafePointer<Float>?) throws -> String {
        let panels = past.count + 2 + (motion == nil ? 0 : 1)
        let tile = size * zoom, gap = 2
        let width = panels * tile + (panels - 1) * gap
        var pixels = [UInt8](repeating: 40, count: width * tile * 3)
        func gray(_ value: Float) -> (UInt8, UInt8, UInt8) {
            let level = greyLevel(value)
            return (level, level, level)
        }
        func draw(_ panel: Int, _ color: (Int) -> (UInt8, UInt8, UInt8)) {
            let left = panel * (tile + gap)
            for y in 0..<tile {
                for x in 0..<tile {
                    let (r, g, b) = color((y / zoom) * size + x / zoom)
                    let index = (y * width + left + x) * 3
                    pixels[index] = r; pixels[index + 1] = g; pixels[index + 2] = b
                }
            }
        }
        for (panel, image) in past.enumerated() { draw(panel) { gray(image[$0]) } }
        draw(past.count) { gray(prediction[$0]) }
        draw(past.count + 1) { gray(truth[$0]) }
        if let motion {
            let plane = size * size
            draw(past.count + 2) { index in motionColor(u: motion[index], v: motion[plane + index], limit: maxMotion) }
        }
        let path = "\(directory)/snapshot-\(String(format: "%07d", frame)).png"
        let bytes = try PNG.encode(ByteImage(width: width, height: tile, channels: 3, pixels: pixels))
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw LiveLearningError.snapshotsUnwritable(path: path, message: "could not be written (is the disk full, or the folder read-only?)")
        }
        return path
    }
}

/// The byte of a brightness in [0, 1], rounded and clamped; a non-finite value is black.
public func greyLevel(_ value: Float) -> UInt8 {
    value.isFinite ? UInt8(max(0, min(255, value * 255 + 0.5))) : 0
}

/// Colour of a motion vector: hue from its direction, saturation from its length relative to `limit`.
public func motionColor(u: Float, v: Float, limit: Float) -> (UInt8, UInt8, UInt8) {
    let magnitude = min(1, (u * u + v * v).squareRoot() / max(limit, 1e-6))
    var hue = atan2(v, u) / (2 * Float.pi)
    if hue < 0 { hue += 1 }
    let sector = hue * 6, fraction = sector - sector.rounded(.down)
    let low = 1 - magnitude, falling = 1 - magnitude * fraction, rising = 1 - magnitude * (1 - fraction)
    let (r, g, b): (Float, Float, Float)
    switch Int(sector) % 6 {
    case 0: (r, g, b) = (1, rising, low)
    case 1: (r, g, b) = (falling, 1, low)
    case 2: (r, g, b) = (low, 1, rising)
    case 3: (r, g, b) = (low, falling, 1)
    case 4: (r, g, b) = (rising, low, 1)
    default: (r, g, b) = (1, low, falling)
    }
    return (UInt8(r * 255), UInt8(g * 255), UInt8(b * 255))
}
