// Frame preprocessing for the learner: camera pixel formats to grey or RGB floats, area
// (box-filter) resizing, and normalisation. Not a general image library: 8-bit inputs, float
// outputs, no colour management beyond BT.601.

import ForesightIO
/// A raw pixel layout, as cameras and files deliver it.
public enum PixelFormat: String, Sendable, CaseIterable {
    /// 8-bit grey.
    case gray8
    /// Packed 4:2:2, Y0 U Y1 V.
    case yuyv
    /// Packed 4:2:2, U Y0 V Y1.
    case uyvy
    /// Planar 4:2:0: Y plane, then U, then V (I420, V4L2's YU12).
    case yuv420
    /// Y plane, then interleaved U V at half resolution.
    case nv12
    /// Packed R G B.
    case rgb24
    /// Packed B G R.
    case bgr24

    /// Bytes of one frame without row padding.
    public func frameBytes(width: Int, height: Int) -> Int {
        switch self {
        case .gray8: return width * height
        case .yuyv, .uyvy: return width * height * 2
        case .yuv420, .nv12: return width * height + 2 * ((width + 1) / 2) * ((height + 1) / 2)
        case .rgb24, .bgr24: return width * height * 3
        }
    }
}

/// The range of the Y samples in YUV data.
public enum ColorRange: Sendable {
    /// Y in 16...235 and chroma in 16...240 (cameras, video).
    case limited
    /// Y and chroma in 0...255 (JPEG).
    case full
}

/// BT.601 luma weights of R, G and B.
let lumaWeights: (red: Float, green: Float, blue: Float) = (0.299, 0.587, 0.114)

/// Converts one frame to grey floats in [0, 1] ([height, width] in `gray`).
/// `bytesPerLine` is the stride of the first plane (0 means no padding); chroma planes of
/// planar formats follow at half that stride, as V4L2 lays them out.
///
/// ```swift
/// convertToGray(.yuyv, source: buffer, width: 640, height: 480, gray: frame)
/// ```
public func convertToGray(_ format: PixelFormat, source: UnsafeRawPointer, width: Int, height: Int,
                          bytesPerLine: Int = 0, range: ColorRange = .limited, gray: UnsafeMutablePointer<Float>) {
    let bytes = source.assumingMemoryBound(to: UInt8.self)
    let (lumaOffset, lumaScale): (Float, Float) = range == .limited ? (16, 1 / 219) : (0, 1 / 255)
    switch format {
    case .gray8, .yuv420, .nv12, .yuyv, .uyvy:
        // The luma samples, at a step of 1 (planar) or 2 (packed 4:2:2).
        let step = (format == .yuyv || format == .uyvy) ? 2 : 1
        let first = format == .uyvy ? 1 : 0
        let stride = bytesPerLine > 0 ? bytesPerLine : width * step
        let (offset, scale) = format == .gray8 ? (Float(0), Float(1) / 255) : (lumaOffset, lumaScale)
        for y in 0..<height {
            let row = bytes + y * stride + first
            let out = gray + y * width
            for x in 0..<width { out[x] = min(1, max(0, (Float(row[x * step]) - offset) * scale)) }
        }
    case .rgb24, .bgr24:
        let stride = bytesPerLine > 0 ? bytesPerLine : width * 3
        let (redIndex, blueIndex) = format == .rgb24 ? (0, 2) : (2, 0)
        let red = lumaWeights.red / 255, green = lumaWeights.green / 255, blue = lumaWeights.blue / 255
        for y in 0..<height {
            let row = bytes + y * stride
            let out = gray + y * width
            for x in 0..<width {
                let pixel = row + 3 * x
                out[x] = red * Float(pixel[redIndex]) + green * Float(pixel[1]) + blue * Float(pixel[blueIndex])
            }
        }
    }
}

/// Converts one frame to RGB floats in [0, 1] ([height, width, 3] in `rgb`), YUV by BT.601.
public func convertToRGB(_ format: PixelFormat, source: UnsafeRawPointer, width: Int, height: Int,
                         bytesPerLine: Int = 0, range: ColorRange = .limited, rgb: UnsafeMutablePointer<Float>) {
    let bytes = source.assumingMemoryBound(to: UInt8.self)
    @inline(__always) func store(_ index: Int, _ luma: UInt8, _ cb: UInt8, _ cr: UInt8) {
        let (y, u, v): (Float, Float, Float)
        if range == .limited {
            y = (Float(luma) - 16) * (255 / 219); u = (Float(cb) - 128) * (255 / 224); v = (Float(cr) - 128) * (255 / 224)
        } else {
            y = Float(luma); u = Float(cb) - 128; v = Float(cr) - 128
        }
        let out = rgb + 3 * index
        out[0] = min(1, max(0, (y + 1.402 * v) / 255))
        out[1] = min(1, max(0, (y - 0.344136 * u - 0.714136 * v) / 255))
        out[2] = min(1, max(0, (y + 1.772 * u) / 255))
    }
    switch format {
    case .gray8:
        let stride = bytesPerLine > 0 ? bytesPerLine : width
        for y in 0..<height {
            for x in 0..<width {
                let value = Float(bytes[y * stride + x]) / 255
                rgb[3 * (y * width + x)] = value; rgb[3 * (y * width + x) + 1] = value; rgb[3 * (y * width + x) + 2] = value
            }
        }
    case .yuyv, .uyvy:
        let stride = bytesPerLine > 0 ? bytesPerLine : width * 2
        let (lumaAt, cbAt, crAt) = format == .yuyv ? (0, 1, 3) : (1, 0, 2)
        for y in 0..<height {
            let row = bytes + y * stride
            for x in 0..<width {
                let pair = row + 4 * (x / 2)
                store(y * width + x, pair[lumaAt + 2 * (x & 1)], pair[cbAt], pair[crAt])
            }
        }
    case .yuv420, .nv12:
        let stride = bytesPerLine > 0 ? bytesPerLine : width
        let chromaStride = format == .yuv420 ? (stride + 1) / 2 : stride
        let chromaRows = (height + 1) / 2
        let chroma = bytes + stride * height
        for y in 0..<height {
            for x in 0..<width {
                let (cb, cr): (UInt8, UInt8)
                if format == .yuv420 {
                    cb = chroma[(y / 2) * chromaStride + x / 2]
                    cr = chroma[chromaStride * chromaRows + (y / 2) * chromaStride + x / 2]
                } else {
                    cb = chroma[(y / 2) * chromaStride + 2 * (x / 2)]
                    cr = chroma[(y / 2) * chromaStride + 2 * (x / 2) + 1]
                }
                store(y * width + x, bytes[y * stride + x], cb, cr)
            }
        }
    case .rgb24, .bgr24:
        let stride = bytesPerLine > 0 ? bytesPerLine : width * 3
        let (redIndex, blueIndex) = format == .rgb24 ? (0, 2) : (2, 0)
        for y in 0..<height {
            for x in 0..<width {
                let pixel = bytes + y * stride + 3 * x, out = rgb + 3 * (y * width + x)
                out[0] = Float(pixel[redIndex]) / 255; out[1] = Float(pixel[1]) / 255; out[2] = Float(pixel[blueIndex]) / 255
            }
        }
    }
}

/// Area (box-filter) resizing of a float image with `channels` interleaved channels, from
/// [height, width, channels] in `source` to [targetHeight, targetWidth, channels] in `target`:
/// each output pixel is the mean of the source area it covers, with fractional edge weights.
/// The weights are worked out per output pixel as it goes, so it keeps no tables, needs no
/// scratch and allocates nothing; any source size can follow any other.
///
/// ```swift
/// areaResize(gray, width: 640, height: 480, into: frame, width: 64, height: 64)
/// ```
public func areaResize(_ source: UnsafePointer<Float>, width: Int, height: Int, channels: Int = 1,
                       into target: UnsafeMutablePointer<Float>, width targetWidth: Int, height targetHeight: Int) {
    precondition(width > 0 && height > 0 && targetWidth > 0 && targetHeight > 0 && channels > 0,
                 "resize sizes must be positive, got \(width)x\(height) -> \(targetWidth)x\(targetHeight)x\(channels)")
    let rowLength = width * channels
    let scaleX = Double(width) / Double(targetWidth), scaleY = Double(height) / Double(targetHeight)
    for y in 0..<targetHeight {
        let rows = areaSpan(index: y, source: height, scale: scaleY)
        let out = target + y * targetWidth * channels
        for x in 0..<targetWidth {
            let columns = areaSpan(index: x, source: width, scale: scaleX)
            for channel in 0..<channels {
                // The rows' weighted sums of their columns' weighted values, each sum in order
                // from its first tap.
                var value: Float = 0
                for row in 0..<rows.count {
                    let pixels = source + (rows.first + row) * rowLength + columns.first * channels + channel
                    var sum: Float = 0
                    if columns.count > 0 { sum += columns.firstWeight * pixels[0] }
                    var column = 1
                    while column < columns.count - 1 { sum += columns.innerWeight * pixels[column * channels]; column += 1 }
                    if columns.count > 1 { sum += columns.lastWeight * pixels[(columns.count - 1) * channels] }
                    let weight = row == 0 ? rows.firstWeight : row == rows.count - 1 ? rows.lastWeight : rows.innerWeight
                    value += weight * sum
                }
                out[x * channels + channel] = value
            }
        }
    }
}

/// The source pixels that target pixel `index` covers along one axis (`scale` is source size /
/// target size): it covers source [index * scale, (index + 1) * scale), and each source pixel j
/// weighs its overlap with that interval divided by the interval's length, so 1 / scale inside
/// and less at the two edges. `first` is the first pixel with a positive overlap, `count` the
/// pixels from it on that have one.
@inline(__always)
private func areaSpan(index: Int, source: Int, scale: Double)
    -> (first: Int, count: Int, firstWeight: Float, innerWeight: Float, lastWeight: Float) {
    let start = Double(index) * scale, end = Double(index + 1) * scale
    func overlap(_ j: Int) -> Double { min(end, Double(j + 1)) - max(start, Double(j)) }
    var low = Int(start.rounded(.down)), high = max(low, min(source - 1, Int(end.rounded(.up)) - 1))
    while low <= high && overlap(low) <= 1e-9 { low += 1 }
    while high >= low && overlap(high) <= 1e-9 { high -= 1 }
    let count = max(0, high - low + 1)
    return (low, count, count > 0 ? Float(overlap(low) / scale) : 0, Float(1 / scale), count > 0 ? Float(overlap(high) / scale) : 0)
}

/// Maps values to `(value - mean) / standardDeviation`, in place.
///
/// ```swift
/// normalize(frame, mean: 0.5, standardDeviation: 0.25)
/// ```
public func normalize(_ values: UnsafeMutableBufferPointer<Float>, mean: Float, standardDeviation: Float) {
    precondition(standardDeviation > 0, "standard deviation must be positive, got \(standardDeviation)")
    let scale = 1 / standardDeviation
    for i in values.indices { values[i] = (values[i] - mean) * scale }
}

/// Shifts and scales values in place to zero mean and unit variance (`epsilon` keeps flat
/// frames finite). Returns the mean and standard deviation it removed.
@discardableResult
public func standardize(_ values: UnsafeMutableBufferPointer<Float>, epsilon: Float = 1e-5) -> (mean: Float, standardDeviation: Float) {
    guard !values.isEmpty else { return (0, 1) }
    var sum: Double = 0, sumSquares: Double = 0
    for value in values { sum += Double(value); sumSquares += Double(value) * Double(value) }
    let mean = sum / Double(values.count)
    let variance = max(0, sumSquares / Double(values.count) - mean * mean)
    let deviation = Float((variance + Double(epsilon)).squareRoot())
    normalize(values, mean: Float(mean), standardDeviation: deviation)
    return (Float(mean), deviation)
}
