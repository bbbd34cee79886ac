// Float32 2-D max and average pooling of NCHW tensors with a square window, stride and zero
// padding, each forward beside its backward; PyTorch semantics with ceil_mode = false. Not
// vectorised (pooling is a small share of a step) and no dilation.
// N, C, H, W are batch, channels, height and width of the input; K is the window size, and the
// output is [N, C, OH, OW] with OH = (H + 2 padding - K) / stride + 1, likewise OW.

/// Output extent of a pooling window of `kernelSize` sliding with `stride` over `input` pixels
/// padded by `padding` on both sides (floor division, as PyTorch's ceil_mode = false).
///
/// ```swift
/// poolOutputExtent(input: 32, kernelSize: 3, stride: 2, padding: 1)   // 16
/// ```
public func poolOutputExtent(input: Int, kernelSize: Int, stride: Int, padding: Int) -> Int {
    (input + 2 * padding - kernelSize) / stride + 1
}

/// Checks a pooling configuration and returns the output extents.
private func checkedPoolOutput(
    _ operation: StaticString, batch: Int, channels: Int, height: Int, width: Int,
    kernelSize: Int, stride: Int, padding: Int
) -> (height: Int, width: Int) {
    checkExtents(operation, batch: batch, channels: channels, height: height, width: width)
    precondition(kernelSize >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernelSize,
                 "\(operation): need kernelSize >= 1, stride >= 1 and 0 <= padding <= kernelSize / 2, got kernelSize \(kernelSize) stride \(stride) padding \(padding)")
    precondition(height + 2 * padding >= kernelSize && width + 2 * padding >= kernelSize,
                 "\(operation): window \(kernelSize) larger than the padded input \(height) x \(width) + 2 x \(padding)")
    return (poolOutputExtent(input: height, kernelSize: kernelSize, stride: stride, padding: padding),
            poolOutputExtent(input: width, kernelSize: kernelSize, stride: stride, padding: padding))
}

/// The input range a window starting at `start` (possibly in the padding) covers.
@inline(__always)
private func windowRange(start: Int, kernelSize: Int, extent: Int) -> Range<Int> {
    max(start, 0)..<min(start + kernelSize, extent)
}

// MARK: - max pool

/// Max pooling. Padding never wins (it counts as -infinity); ties keep the first position in
/// row-major order; NaN wins, as in PyTorch. Writes, for every output, the position of its
/// maximum inside the input plane (row * W + column) to `argmax` for the backward pass.
///
/// ```swift
/// // 2x2 windows, stride 2: [8, 16, 32, 32] -> [8, 16, 16, 16]
/// maxPool2dForward(x, y, argmax: indices, batch: 8, channels: 16, height: 32, width: 32,
///                  kernelSize: 2, stride: 2, padding: 0)
/// ```
///
/// x: [N, C, H, W]; y: [N, C, OH, OW]; argmax: [N, C, OH, OW] (written)
public func maxPool2dForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
    batch: Int, channels: Int, height: Int, width: Int, kernelSize: Int, stride: Int, padding: Int
) {
    let output = checkedPoolOutput("maxPool2dForward", batch: batch, channels: channels, height: height, width: width,
                                   kernelSize: kernelSize, stride: stride, padding: padding)
    precondition(height * width <= Int(Int32.max), "maxPool2dForward: plane \(height) x \(width) too large for Int32 indices")
    for plane in 0..<(batch * channels) {
        let input = x + plane * height * width
        let outputPlane = plane * output.height * output.width
        for outputRow in 0..<output.height {
            let rows = windowRange(start: outputRow * stride - padding, kernelSize: kernelSize, extent: height)
            for outputColumn in 0..<output.width {
                let columns = windowRange(start: outputColumn * stride - padding, kernelSize: kernelSize, extent: width)
                var best = -Float.infinity
                var bestPosition = rows.lowerBound * width + columns.lowerBound
                for row in rows {
                    for column in columns {
                        let value = input[row * width + column]
                        if value > best || value.isNaN {
                            best = value
                            bestPosition = row * width + column
                        }
                    }
                }
                y[outputPlane + outputRow * output.width + outputColumn] = best
                argmax[outputPlane + outputRow * output.width + outputColumn] = Int32(truncatingIfNeeded: bestPosition)
            }
        }
    }
}

/// Max pooling backward: dx[n, c, argmax] += dy for every output (windows that overlap add up).
///
/// dy: [N, C, OH, OW]; argmax: [N, C, OH, OW] from the forward pass; dx: [N, C, H, W]
public func maxPool2dBackward(
    dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int, kernelSize: Int, stride: Int, padding: Int
) {
    let output = checkedPoolOutput("maxPool2dBackward", batch: batch, channels: channels, height: height, width: width,
                                   kernelSize: kernelSize, stride: stride, padding: padding)
    let outputPlaneSize = output.height * output.width
    for plane in 0..<(batch * channels) {
        let inputGradient = dx + plane * height * width
        for index in (plane * outputPlaneSize)..<((plane + 1) * outputPlaneSize) {
            inputGradient[Int(argmax[index])] += dy[index]
        }
    }
}

// MARK: - average pool

/// Average pooling that counts padded zeros (PyTorch's count_include_pad = true default): every
/// window sum is divided by K * K.
///
/// x: [N, C, H, W]; y: [N, C, OH, OW]
public func avgPool2dForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int, kernelSize: Int, stride: Int, padding: Int
) {
    let output = checkedPoolOutput("avgPool2dForward", batch: batch, channels: channels, height: height, width: width,
                                   kernelSize: kernelSize, stride: stride, padding: padding)
    let reciprocalArea = 1 / Float(kernelSize * kernelSize)
    for plane in 0..<(batch * channels) {
        let input = x + plane * height * width
        let outputPlane = y + plane * output.height * output.width
        for outputRow in 0..<output.height {
            let rows = windowRange(start: outputRow * stride - padding, kernelSize: kernelSize, extent: height)
            for outputColumn in 0..<output.width {
                let columns = windowRange(start: outputColumn * stride - padding, kernelSize: kernelSize, extent: width)
                var sum: Float = 0
                for row in rows {
                    for column in columns { sum += input[row * width + column] }
                }
                outputPlane[outputRow * output.width + outputColumn] = sum * reciprocalArea
            }
        }
    }
}

/// Average pooling backward: every input pixel of a window gets dy / (K * K) added.
///
/// dy: [N, C, OH, OW]; dx: [N, C, H, W]
public func avgPool2dBackward(
    dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
    batch: Int, channels: Int, height: Int, width: Int, kernelSize: Int, stride: Int, padding: Int
) {
    let output = checkedPoolOutput("avgPool2dBackward", batch: batch, channels: channels, height: height, width: width,
                                   kernelSize: kernelSize, stride: stride, padding: padding)
    let reciprocalArea = 1 / Float(kernelSize * kernelSize)
    for plane in 0..<(batch * channels) {
        let inputGradient = dx + plane * height * width
        let outputGradient = dy + plane * output.height * output.width
        for outputRow in 0..<output.height {
            let rows = windowRange(start: outputRow * stride - padding, kernelSize: kernelSize, extent: height)
            for outputColumn in 0..<output.width {
                let columns = windowRange(start: outputColumn * stride - padding, kernelSize: kernelSize, extent: width)
                let share = outputGradient[outputRow * output.width + outputColumn] * reciprocalArea
                for row in rows {
                    for column in columns { inputGradient[row * width + column] += share }
                }
            }
        }
    }
}
