// Image augmentations of the two-view methods as plain functions over raw pixels
// [channels, height, width] (one image) that write into memory the caller owns: random
// resized crop, integer shift, Gaussian noise and cutout. No allocation, no graph operations.

import Foundation
import ForesightCore

/// Samples a crop of a random fraction `scale` of the image's area and an aspect ratio in
/// [3/4, 4/3] (log-uniform) at a random place, and resamples it bilinearly to the full size:
/// source [C, H, W] -> destination [C, H, W] (distinct memory).
public func randomResizedCrop(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                              channels: Int, height: Int, width: Int, scale: ClosedRange<Float>, random: inout SeededRandom) {
    let area = scale.lowerBound + (scale.upperBound - scale.lowerBound) * random.nextFloat()
    let logRatio: Float = logf(4.0 / 3.0)
    let aspect: Float = expf(logRatio * (2 * random.nextFloat() - 1))
    let cropWidth = min(Float(width), (area * aspect).squareRoot() * Float(width))
    let cropHeight = min(Float(height), (area / aspect).squareRoot() * Float(height))
    let left = (Float(width) - cropWidth) * random.nextFloat()
    let top = (Float(height) - cropHeight) * random.nextFloat()
    // Destination pixel centre (x + 0.5) maps to source position left + (x + 0.5) cropWidth / W - 0.5.
    for c in 0..<channels {
        let plane = source + c * height * width, out = destination + c * height * width
        for y in 0..<height {
            let sy = min(max(top + (Float(y) + 0.5) * cropHeight / Float(height) - 0.5, 0), Float(height - 1))
            let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = sy - Float(y0)
            for x in 0..<width {
                let sx = min(max(left + (Float(x) + 0.5) * cropWidth / Float(width) - 0.5, 0), Float(width - 1))
                let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = sx - Float(x0)
                let upper = plane[y0 * width + x0] * (1 - fx) + plane[y0 * width + x1] * fx
                let lower = plane[y1 * width + x0] * (1 - fx) + plane[y1 * width + x1] * fx
                out[y * width + x] = upper * (1 - fy) + lower * fy
            }
        }
    }
}

/// Moves the image by a random whole number of pixels in -maximum...maximum along each axis,
/// filling with zeros: source [C, H, W] -> destination [C, H, W] (distinct memory).
public func randomShift(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                        channels: Int, height: Int, width: Int, maximum: Int, random: inout SeededRandom) {
    let dx = random.nextInt(below: 2 * maximum + 1) - maximum, dy = random.nextInt(below: 2 * maximum + 1) - maximum
    for c in 0..<channels {
        for y in 0..<height {
            for x in 0..<width {
                let sy = y - dy, sx = x - dx
                let inside = sy >= 0 && sy < height && sx >= 0 && sx < width
                destination[(c * height + y) * width + x] = inside ? source[(c * height + sy) * width + sx] : 0
            }
        }
    }
}

/// Adds Gaussian noise of standard deviation `deviation` to `count` pixels in place.
public func addGaussianNoise(_ pixels: UnsafeMutablePointer<Float>, count: Int, deviation: Float, random: inout SeededRandom) {
    for i in 0..<count { pixels[i] += deviation * random.nextGaussian() }
}

/// Sets a `size` x `size` square at a random centre (clipped at the borders) to zero in every
/// channel of one image [C, H, W], in place.
public func cutout(_ image: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int, size: Int, random: inout SeededRandom) {
    let centreY = random.nextInt(below: height), centreX = random.nextInt(below: width)
    let top = max(0, centreY - size / 2), left = max(0, centreX - size / 2)
    let bottom = min(height, centreY - size / 2 + size), right = min(width, centreX - size / 2 + size)
    for c in 0..<channels {
        for y in top..<max(top, bottom) {
            for x in left..<max(left, right) { image[(c * height + y) * width + x] = 0 }
        }
    }
}

/// The augmentation pipeline of one view: random resized crop, shift, noise, then cutout
/// with probability `cutoutProbability`. Defaults suit 8x8 digits.
///
/// ```swift
/// let augmentation = ViewAugmentation()
/// augmentation.apply(image, into: view, scratch: buffer, channels: 1, height: 8, width: 8, random: &random)
/// ```
public struct ViewAugmentation: Sendable {
    /// Area fraction of the random resized crop.
    public var cropScale: ClosedRange<Float>
    /// Largest shift in pixels.
    public var maximumShift: Int
    /// Standard deviation of the added noise.
    public var noiseDeviation: Float
    public var cutoutSize: Int
    public var cutoutProbability: Float

    public init(cropScale: ClosedRange<Float> = 0.5...1, maximumShift: Int = 1, noiseDeviation: Float = 0.05,
                cutoutSize: Int = 3, cutoutProbability: Float = 0.5) {
        self.cropScale = cropScale
        self.maximumShift = maximumShift
        self.noiseDeviation = noiseDeviation
        self.cutoutSize = cutoutSize
        self.cutoutProbability = cutoutProbability
    }

    /// Writes one augmented view of `source` [C, H, W] to `destination`; `scratch` holds C*H*W floats.
    public func apply(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                      channels: Int, height: Int, width: Int, random: inout SeededRandom) {
        randomResizedCrop(source, scratch, channels: channels, height: height, width: width, scale: cropScale, random: &random)
        randomShift(scratch, destination, channels: channels, height: height, width: width, maximum: maximumShift, random: &random)
        addGaussianNoise(destination, count: channels * height * width, deviation: noiseDeviation, random: &random)
        if random.nextFloat() < cutoutProbability {
            cutout(destination, channels: channels, height: height, width: width, size: cutoutSize, random: &random)
        }
    }
}
