// Image augmentations of the two-view methods as plain functions over raw pixels
// [channels, height, width] (one image) that write into memory the caller owns: random
// resized crop, integer shift, horizontal flip, colour jitter (brightness, contrast,
// saturation), greyscale, Gaussian blur, Gaussian noise and cutout. No allocation, no graph
// operations.

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

/// Mirrors every row of one image [C, H, W] left to right, in place.
public func horizontalFlip(_ image: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int) {
    for row in 0..<channels * height {
        let line = image + row * width
        for x in 0..<width / 2 { swap(&line[x], &line[width - 1 - x]) }
    }
}

/// Luma of an RGB pixel (ITU-R BT.601 weights), the grey the greyscale and saturation steps use.
@inline(__always) func luma(_ red: Float, _ green: Float, _ blue: Float) -> Float { 0.299 * red + 0.587 * green + 0.114 * blue }

/// Replaces each pixel of an RGB image [3, H, W] by its luma in all three channels, in place;
/// a grey image (1 channel) is left as it is.
public func greyscale(_ image: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int) {
    guard channels == 3 else { return }
    let plane = height * width
    for i in 0..<plane {
        let grey = luma(image[i], image[plane + i], image[2 * plane + i])
        image[i] = grey; image[plane + i] = grey; image[2 * plane + i] = grey
    }
}

/// Colour jitter of one image [C, H, W] in place, in a fixed order, each factor drawn uniformly
/// from [1 - strength, 1 + strength] (a strength of 0 leaves that part out and draws nothing):
/// brightness scales every value; contrast moves values away from (factor > 1) or towards the
/// image's mean grey; saturation (RGB only) moves each pixel away from or towards its own
/// luma. Values are clipped to [0, 1] after each part.
public func colourJitter(_ image: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                         brightness: Float, contrast: Float, saturation: Float, random: inout SeededRandom) {
    let count = channels * height * width, plane = height * width
    func factor(_ strength: Float) -> Float { 1 + strength * (2 * random.nextFloat() - 1) }
    func clip() { for i in 0..<count { image[i] = min(max(image[i], 0), 1) } }
    if brightness > 0 {
        let scale = factor(brightness)
        for i in 0..<count { image[i] *= scale }
        clip()
    }
    if contrast > 0 {
        let scale = factor(contrast)
        var mean: Float = 0
        if channels == 3 {
            for i in 0..<plane { mean += luma(image[i], image[plane + i], image[2 * plane + i]) }
            mean /= Float(plane)
        } else {
            for i in 0..<count { mean += image[i] }
            mean /= Float(count)
        }
        for i in 0..<count { image[i] = mean + scale * (image[i] - mean) }
        clip()
    }
    if saturation > 0 && channels == 3 {
        let scale = factor(saturation)
        for i in 0..<plane {
            let grey = luma(image[i], image[plane + i], image[2 * plane + i])
            for c in 0..<3 { image[c * plane + i] = grey + scale * (image[c * plane + i] - grey) }
        }
        clip()
    }
}

/// Gaussian blur of one image [C, H, W] in place with standard deviation `deviation` pixels:
/// a horizontal then a vertical pass over taps within 2 deviations (at least 1), borders
/// repeated, weights normalised to sum to 1. `scratch` holds C*H*W floats.
public func gaussianBlur(_ image: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                         deviation: Float) {
    precondition(deviation > 0, "blur deviation must be positive, got \(deviation)")
    let radius = max(1, Int((2 * deviation).rounded(.up)))
    var total: Float = 0
    for tap in -radius...radius { total += expf(-Float(tap * tap) / (2 * deviation * deviation)) }
    let norm = 1 / total
    @inline(__always) func weight(_ tap: Int) -> Float { norm * expf(-Float(tap * tap) / (2 * deviation * deviation)) }
    // Rows: image -> scratch.
    for row in 0..<channels * height {
        let line = image + row * width, out = scratch + row * width
        for x in 0..<width {
            var sum: Float = 0
            for tap in -radius...radius { sum += weight(tap) * line[min(max(x + tap, 0), width - 1)] }
            out[x] = sum
        }
    }
    // Columns: scratch -> image.
    for c in 0..<channels {
        let plane = scratch + c * height * width, out = image + c * height * width
        for y in 0..<height {
            for x in 0..<width {
                var sum: Float = 0
                for tap in -radius...radius { sum += weight(tap) * plane[min(max(y + tap, 0), height - 1) * width + x] }
                out[y * width + x] = sum
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

/// The augmentation pipeline of one view: random resized crop, shift, then (each only when
/// switched on) horizontal flip, colour jitter, greyscale and Gaussian blur, then noise and
/// cutout with probability `cutoutProbability`. Defaults suit 8x8 digits and leave flip,
/// jitter, greyscale and blur off; a switch that is off draws no random numbers.
///
/// ```swift
/// let augmentation = ViewAugmentation()
/// augmentation.apply(image, into: view, scratch: buffer, channels: 1, height: 8, width: 8, random: &random)
/// var colour = ViewAugmentation(flipProbability: 0.5, brightness: 0.4, contrast: 0.4, saturation: 0.4,
///                               greyscaleProbability: 0.2, blurProbability: 0.5)   // SimCLR's colour set
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
    /// Probability of a horizontal flip (0: off).
    public var flipProbability: Float
    /// Colour-jitter strengths (0: that part off); see `colourJitter`.
    public var brightness: Float, contrast: Float, saturation: Float
    /// Probability that colour jitter is applied when any strength is above 0.
    public var jitterProbability: Float
    /// Probability of turning an RGB view grey (0: off).
    public var greyscaleProbability: Float
    /// Probability of a Gaussian blur (0: off), with a deviation drawn uniformly from `blurDeviation` pixels.
    public var blurProbability: Float
    public var blurDeviation: ClosedRange<Float>

    public init(cropScale: ClosedRange<Float> = 0.5...1, maximumShift: Int = 1, noiseDeviation: Float = 0.05,
                cutoutSize: Int = 3, cutoutProbability: Float = 0.5, flipProbability: Float = 0,
                brightness: Float = 0, contrast: Float = 0, saturation: Float = 0, jitterProbability: Float = 0.8,
                greyscaleProbability: Float = 0, blurProbability: Float = 0, blurDeviation: ClosedRange<Float> = 0.1...1) {
        precondition(brightness >= 0 && contrast >= 0 && saturation >= 0 && brightness <= 1 && contrast <= 1 && saturation <= 1,
                     "jitter strengths must be in [0, 1], got \(brightness), \(contrast), \(saturation)")
        precondition(blurDeviation.lowerBound > 0, "blur deviations must be positive, got \(blurDeviation)")
        self.cropScale = cropScale
        self.maximumShift = maximumShift
        self.noiseDeviation = noiseDeviation
        self.cutoutSize = cutoutSize
        self.cutoutProbability = cutoutProbability
        self.flipProbability = flipProbability
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.jitterProbability = jitterProbability
        self.greyscaleProbability = greyscaleProbability
        self.blurProbability = blurProbability
        self.blurDeviation = blurDeviation
    }

    /// Writes one augmented view of `source` [C, H, W] to `destination`; `scratch` holds C*H*W floats.
    public func apply(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                      channels: Int, height: Int, width: Int, random: inout SeededRandom) {
        randomResizedCrop(source, scratch, channels: channels, height: height, width: width, scale: cropScale, random: &random)
        randomShift(scratch, destination, channels: channels, height: height, width: width, maximum: maximumShift, random: &random)
        if flipProbability > 0 && random.nextFloat() < flipProbability {
            horizontalFlip(destination, channels: channels, height: height, width: width)
        }
        if brightness > 0 || contrast > 0 || saturation > 0, random.nextFloat() < jitterProbability {
            colourJitter(destination, channels: channels, height: height, width: width, brightness: brightness, contrast: contrast,
                         saturation: saturation, random: &random)
        }
        if greyscaleProbability > 0 && random.nextFloat() < greyscaleProbability {
            greyscale(destination, channels: channels, height: height, width: width)
        }
        if blurProbability > 0 && random.nextFloat() < blurProbability {
            let deviation = blurDeviation.lowerBound + (blurDeviation.upperBound - blurDeviation.lowerBound) * random.nextFloat()
            gaussianBlur(destination, scratch: scratch, channels: channels, height: height, width: width, deviation: deviation)
        }
        addGaussianNoise(destination, count: channels * height * width, deviation: noiseDeviation, random: &random)
        if random.nextFloat() < cutoutProbability {
            cutout(destination, channels: channels, height: height, width: width, size: cutoutSize, random: &random)
        }
    }
}

extension ViewAugmentation {
    /// Draws `batch` images of `data` (with replacement) and writes two augmented views of each
    /// into `views` [2B, C, H, W]: rows 0..<B the first views, B..<2B the second, of the same images.
    /// `scratch` holds one image.
    func writeTwoViews(of data: LabeledImages, batch: Int, into views: UnsafeMutablePointer<Float>,
                       scratch: UnsafeMutablePointer<Float>, random: inout SeededRandom) {
        let size = data.imageSize
        data.pixels.withUnsafeBufferPointer { pixels in
            for i in 0..<batch {
                let image = pixels.baseAddress! + random.nextInt(below: data.count) * size
                for view in 0..<2 {
                    apply(image, into: views + (view * batch + i) * size, scratch: scratch,
                          channels: data.channels, height: data.height, width: data.width, random: &random)
                }
            }
        }
    }
}
