// Backward warping of images by a dense motion field with bilinear sampling, and its
// gradient with respect to the field (and, optionally, the image). Not a general grid
// sampler: displacements are in pixels, and samples outside the image are clamped to
// its border (the gradient through a clamped coordinate is zero).
//
// Symbols: N batch, C image channels, H x W size; flow[n, 0] is the horizontal
// displacement u, flow[n, 1] the vertical one v: out[n, c, y, x] = image[n, c](x + u, y + v).

/// out[n, c, y, x] = bilinear sample of image[n, c] at (x + u[n, y, x], y + v[n, y, x]).
/// image: [N, C, H, W] (`imageBatchStride` floats between samples, so a channel of a larger
/// tensor can be warped), flow: [N, 2, H, W], out: [N, C, H, W].
public func warpBilinearForward(
    image: UnsafePointer<Float>, imageBatchStride: Int, flow: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int
) {
    precondition(batch > 0 && channels > 0 && height > 0 && width > 0, "warp extents must be positive: \(batch)x\(channels)x\(height)x\(width)")
    let plane = height * width
    for n in 0..<batch {
        let u = flow + n * 2 * plane, v = u + plane
        for y in 0..<height {
            for x in 0..<width {
                let index = y * width + x
                let sample = BilinearSample(x: Float(x) + u[index], y: Float(y) + v[index], width: width, height: height)
                for c in 0..<channels {
                    let source = image + n * imageBatchStride + c * plane
                    out[(n * channels + c) * plane + index] = sample.value(source, width)
                }
            }
        }
    }
}

/// Gradients of `warpBilinearForward`, accumulated: dflow += ..., dimage += ... (dimage may be nil).
/// dy: [N, C, H, W], dflow: [N, 2, H, W], dimage laid out like image.
public func warpBilinearBackward(
    image: UnsafePointer<Float>, imageBatchStride: Int, flow: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    dflow: UnsafeMutablePointer<Float>, dimage: UnsafeMutablePointer<Float>?,
    batch: Int, channels: Int, height: Int, width: Int
) {
    let plane = height * width
    for n in 0..<batch {
        let u = flow + n * 2 * plane, v = u + plane
        let du = dflow + n * 2 * plane, dv = du + plane
        for y in 0..<height {
            for x in 0..<width {
                let index = y * width + x
                let sample = BilinearSample(x: Float(x) + u[index], y: Float(y) + v[index], width: width, height: height)
                var gradientU: Float = 0, gradientV: Float = 0
                for c in 0..<channels {
                    let source = image + n * imageBatchStride + c * plane
                    let upstream = dy[(n * channels + c) * plane + index]
                    let (dx, dyv) = sample.derivatives(source, width)
                    gradientU += upstream * dx
                    gradientV += upstream * dyv
                    if let dimage { sample.scatter(upstream, dimage + n * imageBatchStride + c * plane, width) }
                }
                du[index] += gradientU
                dv[index] += gradientV
            }
        }
    }
}

/// Where a bilinear sample falls: the four neighbours and their weights, with the border clamp.
struct BilinearSample {
    let x0: Int, y0: Int, x1: Int, y1: Int
    /// Fractional parts (weights of the second neighbour along each axis).
    let ax: Float, ay: Float
    /// 0 where the coordinate was clamped: moving it does not move the sample.
    let slopeX: Float, slopeY: Float

    @inline(__always)
    init(x: Float, y: Float, width: Int, height: Int) {
        let maxX = Float(width - 1), maxY = Float(height - 1)
        // A non-finite coordinate (a diverged model) samples the corner instead of trapping.
        let clampedX = x.isFinite ? min(max(x, 0), maxX) : 0, clampedY = y.isFinite ? min(max(y, 0), maxY) : 0
        slopeX = (x >= 0 && x <= maxX) ? 1 : 0
        slopeY = (y >= 0 && y <= maxY) ? 1 : 0
        let floorX = clampedX.rounded(.down), floorY = clampedY.rounded(.down)
        x0 = Int(floorX); y0 = Int(floorY)
        x1 = min(x0 + 1, width - 1); y1 = min(y0 + 1, height - 1)
        ax = clampedX - floorX; ay = clampedY - floorY
    }

    @inline(__always)
    func value(_ plane: UnsafePointer<Float>, _ width: Int) -> Float {
        let top = plane[y0 * width + x0] * (1 - ax) + plane[y0 * width + x1] * ax
        let bottom = plane[y1 * width + x0] * (1 - ax) + plane[y1 * width + x1] * ax
        return top * (1 - ay) + bottom * ay
    }

    /// d value / d x and d value / d y at the sample point.
    @inline(__always)
    func derivatives(_ plane: UnsafePointer<Float>, _ width: Int) -> (Float, Float) {
        let i00 = plane[y0 * width + x0], i10 = plane[y0 * width + x1]
        let i01 = plane[y1 * width + x0], i11 = plane[y1 * width + x1]
        let dx = ((i10 - i00) * (1 - ay) + (i11 - i01) * ay) * slopeX
        let dy = ((i01 - i00) * (1 - ax) + (i11 - i10) * ax) * slopeY
        return (dx, dy)
    }

    /// Adds `upstream` times each neighbour's weight into `gradient`.
    @inline(__always)
    func scatter(_ upstream: Float, _ gradient: UnsafeMutablePointer<Float>, _ width: Int) {
        gradient[y0 * width + x0] += upstream * (1 - ax) * (1 - ay)
        gradient[y0 * width + x1] += upstream * ax * (1 - ay)
        gradient[y1 * width + x0] += upstream * (1 - ax) * ay
        gradient[y1 * width + x1] += upstream * ax * ay
    }
}
