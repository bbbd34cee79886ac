// Float32 2x spatial upsampling of NCHW tensors, nearest and bilinear, each forward beside its
// backward. Only the factor 2 (what decoders use); not a general resize.
// N, C, H, W are batch, channels, height and width of the input; the output is [N, C, 2H, 2W].

// MARK: - nearest

/// y[n, c, i, j] = x[n, c, i / 2, j / 2]: every pixel becomes a 2 x 2 block.
///
/// x: [N, C, H, W]; y: [N, C, 2H, 2W]
public func upsampleNearest2xForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int
) {
    checkExtents("upsampleNearest2xForward", batch: batch, channels: channels, height: height, width: width)
    let outputWidth = 2 * width
    for plane in 0..<(batch * channels) {
        for i in 0..<height {
            let inputRow = x + (plane * height + i) * width
            let outputRow = y + (plane * 2 * height + 2 * i) * outputWidth
            let rawInput = UnsafeRawPointer(inputRow)
            let rawUpper = UnsafeMutableRawPointer(outputRow), rawLower = UnsafeMutableRawPointer(outputRow + outputWidth)
            var j = 0
            while j + 8 <= width {
                // Spelled lane by lane, and both rows stored from registers, this runs at store
                // bandwidth; assigning `evenHalf`/`oddHalf` measured slower than a scalar loop.
                let pixels = rawInput.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                let doubled = FloatVector(pixels[0], pixels[0], pixels[1], pixels[1], pixels[2], pixels[2], pixels[3], pixels[3],
                                          pixels[4], pixels[4], pixels[5], pixels[5], pixels[6], pixels[6], pixels[7], pixels[7])
                rawUpper.storeBytes(of: doubled, toByteOffset: j * 8, as: FloatVector.self)
                rawLower.storeBytes(of: doubled, toByteOffset: j * 8, as: FloatVector.self)
                j += 8
            }
            while j < width {
                let pixel = inputRow[j]
                outputRow[2 * j] = pixel
                outputRow[2 * j + 1] = pixel
                outputRow[outputWidth + 2 * j] = pixel
                outputRow[outputWidth + 2 * j + 1] = pixel
                j += 1
            }
        }
    }
}

/// dx[n, c, i, j] += the sum of the 2 x 2 block of dy that pixel was copied to.
///
/// dy: [N, C, 2H, 2W]; dx: [N, C, H, W]
public func upsampleNearest2xBackward(
    dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int
) {
    checkExtents("upsampleNearest2xBackward", batch: batch, channels: channels, height: height, width: width)
    let outputWidth = 2 * width
    for plane in 0..<(batch * channels) {
        for i in 0..<height {
            let upper = dy + (plane * 2 * height + 2 * i) * outputWidth, lower = upper + outputWidth
            let inputGradient = dx + (plane * height + i) * width
            let rawUpper = UnsafeRawPointer(upper), rawLower = UnsafeRawPointer(lower)
            let rawInputGradient = UnsafeMutableRawPointer(inputGradient)
            var j = 0
            while j + 8 <= width {
                let columns = rawUpper.loadUnaligned(fromByteOffset: j * 8, as: FloatVector.self)
                    + rawLower.loadUnaligned(fromByteOffset: j * 8, as: FloatVector.self)
                let blocks = rawInputGradient.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                    + columns.evenHalf + columns.oddHalf
                rawInputGradient.storeBytes(of: blocks, toByteOffset: j * 4, as: SIMD8<Float>.self)
                j += 8
            }
            while j < width {
                inputGradient[j] += upper[2 * j] + upper[2 * j + 1] + lower[2 * j] + lower[2 * j + 1]
                j += 1
            }
        }
    }
}

// MARK: - bilinear

/// The two input rows (or columns) output position `output` blends, and their weights, for a 2x
/// bilinear upsample with align_corners = false. PyTorch maps output o to the source coordinate
/// max((o + 0.5) / 2 - 0.5, 0) and clamps the far neighbour at the last pixel; for the factor 2
/// that is 1/4 of the previous and 3/4 of the nearer pixel for even o, 3/4 of the nearer and 1/4
/// of the next for odd o, with neighbours past either edge replaced by the edge pixel.
@inline(__always)
private func bilinearTaps(_ output: Int, extent: Int) -> (first: Int, second: Int, firstWeight: Float, secondWeight: Float) {
    let nearer = output / 2
    if output % 2 == 0 {
        return (max(nearer - 1, 0), nearer, 0.25, 0.75)
    }
    return (nearer, min(nearer + 1, extent - 1), 0.75, 0.25)
}

/// Bilinear 2x upsample, align_corners = false, with PyTorch's edge clamping
/// (`F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)`).
///
/// x: [N, C, H, W]; y: [N, C, 2H, 2W]
public func upsampleBilinear2xForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int
) {
    checkExtents("upsampleBilinear2xForward", batch: batch, channels: channels, height: height, width: width)
    let outputWidth = 2 * width
    for plane in 0..<(batch * channels) {
        let input = x + plane * height * width
        for outputRow in 0..<(2 * height) {
            let rows = bilinearTaps(outputRow, extent: height)
            let upper = input + rows.first * width, lower = input + rows.second * width
            let output = y + (plane * 2 * height + outputRow) * outputWidth
            // The vertical blend of the previous, current and next column, carried along the row.
            var blendedPrevious = rows.firstWeight * upper[0] + rows.secondWeight * lower[0]
            var blended = blendedPrevious
            for column in 0..<width {
                let next = min(column + 1, width - 1)
                let blendedNext = rows.firstWeight * upper[next] + rows.secondWeight * lower[next]
                output[2 * column] = 0.25 * blendedPrevious + 0.75 * blended
                output[2 * column + 1] = 0.75 * blended + 0.25 * blendedNext
                blendedPrevious = blended
                blended = blendedNext
            }
        }
    }
}

/// Bilinear 2x upsample backward: dx += the transpose of the forward's fixed weights applied to dy.
///
/// dy: [N, C, 2H, 2W]; dx: [N, C, H, W]
public func upsampleBilinear2xBackward(
    dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int
) {
    checkExtents("upsampleBilinear2xBackward", batch: batch, channels: channels, height: height, width: width)
    let outputWidth = 2 * width
    for plane in 0..<(batch * channels) {
        let inputGradient = dx + plane * height * width
        for outputRow in 0..<(2 * height) {
            let rows = bilinearTaps(outputRow, extent: height)
            let upper = inputGradient + rows.first * width, lower = inputGradient + rows.second * width
            let gradient = dy + (plane * 2 * height + outputRow) * outputWidth
            for column in 0..<width {
                // Output 2c-1 (or output 0 at the left edge) takes 1/4 of column c, outputs 2c and
                // 2c+1 take 3/4, output 2c+2 (or the last output at the right edge) takes 1/4.
                let fromLeft = column > 0 ? gradient[2 * column - 1] : gradient[0]
                let fromRight = column < width - 1 ? gradient[2 * column + 2] : gradient[outputWidth - 1]
                let columnGradient = 0.75 * (gradient[2 * column] + gradient[2 * column + 1]) + 0.25 * (fromLeft + fromRight)
                upper[column] += rows.firstWeight * columnGradient
                lower[column] += rows.secondWeight * columnGradient
            }
        }
    }
}
