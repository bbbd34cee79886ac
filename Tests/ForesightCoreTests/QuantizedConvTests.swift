// int8 convolutions and image operations: every kernel path gives the same bytes, and the
// dequantized results agree with a float32 reference on the same quantized operands within
// one output step (the only rounding left is the output's).

import XCTest
@testable import ForesightCore

final class QuantizedConvTests: XCTestCase {
    /// Plain float NCHW convolution (groups 1 or depthwise), the test's own reference.
    private func referenceConv(_ g: Conv2dGeometry, _ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: g.batch * g.outChannels * g.outHeight * g.outWidth)
        let cin = g.groupInChannels
        for n in 0..<g.batch {
            for f in 0..<g.outChannels {
                let group = f / g.groupOutChannels
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        var sum = Double(b[f])
                        for c in 0..<cin {
                            for ky in 0..<g.kernelHeight {
                                for kx in 0..<g.kernelWidth {
                                    let iy = oy * g.stride - g.padding + ky, ix = ox * g.stride - g.padding + kx
                                    guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                    let channel = group * cin + c
                                    sum += Double(x[((n * g.inChannels + channel) * g.height + iy) * g.width + ix])
                                        * Double(w[((f * cin + c) * g.kernelHeight + ky) * g.kernelWidth + kx])
                                }
                            }
                        }
                        y[((n * g.outChannels + f) * g.outHeight + oy) * g.outWidth + ox] = Float(sum)
                    }
                }
            }
        }
        return y
    }

    private struct Case {
        let geometry: Conv2dGeometry
        let x: [Float], w: [Float], b: [Float]
    }

    private func makeCase(_ g: Conv2dGeometry, seed: UInt64) -> Case {
        var rng = SeededRandom(seed: seed)
        let x = (0..<(g.batch * g.inChannels * g.height * g.width)).map { _ in rng.nextFloat(in: -1..<2) }
        let w = (0..<(g.outChannels * g.groupInChannels * g.kernelHeight * g.kernelWidth)).map { _ in rng.nextFloat(in: -0.5..<0.5) }
        let b = (0..<g.outChannels).map { _ in rng.nextFloat(in: -0.3..<0.3) }
        return Case(geometry: g, x: x, w: w, b: b)
    }

    /// Runs an int8 layer on quantized `x`; returns the output codes (interior) and the float
    /// reference computed from the dequantized input and weights.
    private func run(_ c: Case, relu: Bool, path: Int8KernelPath) throws -> (codes: [UInt8], reference: [Float], output: ActivationQuantization) {
        let g = c.geometry
        let qx = try ActivationQuantization(min: -1, max: 2, tensor: "x")
        let depthwise = g.groups > 1
        let inLayout = Int8ImageLayout(height: g.height, width: g.width, channels: g.inChannels, border: g.padding)
        let outLayout = Int8ImageLayout(height: g.outHeight, width: g.outWidth, channels: g.outChannels, border: 1)
        var input = [UInt8](repeating: UInt8(qx.zeroPoint), count: g.batch * inLayout.sampleBytes)
        var output = [UInt8](repeating: 0, count: g.batch * outLayout.sampleBytes)
        quantizeImage(c.x, batch: g.batch, inLayout, qx, into: &input)
        // The float reference sees exactly the operands the int8 layer sees.
        var dequantizedX = [Float](repeating: 0, count: c.x.count)
        dequantizeImage(input, batch: g.batch, inLayout, qx, into: &dequantizedX)
        let perChannel = c.w.count / g.outChannels
        let (codes, scales) = c.w.withUnsafeBufferPointer { quantizeWeightsPerChannel($0, channels: g.outChannels) }
        let dequantizedW = codes.enumerated().map { Float($0.element) * scales[$0.offset / perChannel] }
        var exact = referenceConv(g, dequantizedX, dequantizedW, c.b)
        if relu { exact = exact.map { max($0, 0) } }
        // The output range covers the reference, so that no value saturates.
        let qy = try ActivationQuantization(min: exact.min()!, max: exact.max()!, tensor: "y")
        if depthwise {
            let layer = try Int8DepthwiseConv2d(g, weights: c.w, bias: c.b, input: qx, output: qy, relu: relu, outputBorder: 1)
            layer.forward(x: input, y: &output, chunk: 0, of: 1)
        } else {
            let layer = try Int8Conv2d(g, weights: c.w, bias: c.b, input: qx, output: qy, relu: relu, outputBorder: 1)
            XCTAssertEqual(layer.outputLayout, outLayout)
            // Two threads' shares together are the whole output.
            layer.forward(x: input, y: &output, path: path, chunk: 0, of: 2)
            layer.forward(x: input, y: &output, path: path, chunk: 1, of: 2)
        }
        var interior: [UInt8] = []
        for n in 0..<g.batch {
            for f in 0..<g.outChannels {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth { interior.append(output[n * outLayout.sampleBytes + outLayout.offset(y: oy, x: ox) + f]) }
                }
            }
        }
        return (interior, exact, qy)
    }

    private let geometries: [Conv2dGeometry] = [
        try! Conv2dGeometry(batch: 1, inChannels: 4, height: 16, width: 16, outChannels: 16, kernel: 3, stride: 2, padding: 1),
        try! Conv2dGeometry(batch: 2, inChannels: 16, height: 8, width: 8, outChannels: 32, kernel: 3, stride: 1, padding: 1),
        try! Conv2dGeometry(batch: 1, inChannels: 3, height: 9, width: 11, outChannels: 5, kernel: 3, stride: 1, padding: 1),
        try! Conv2dGeometry(batch: 1, inChannels: 6, height: 7, width: 13, outChannels: 40, kernel: 1, stride: 1, padding: 0),
        try! Conv2dGeometry(batch: 1, inChannels: 2, height: 10, width: 10, outChannels: 1, kernel: 5, stride: 2, padding: 2),
    ]

    func testConvolutionIsWithinOneOutputStepOfFloat() throws {
        for (index, g) in geometries.enumerated() {
            for relu in [false, true] {
                let (codes, reference, qy) = try run(makeCase(g, seed: UInt64(index)), relu: relu, path: .portable)
                var worst: Float = 0
                for (code, value) in zip(codes, reference) { worst = max(worst, abs(qy.dequantize(code) - value) / qy.scale) }
                XCTAssertLessThanOrEqual(worst, 1.0, "\(g) relu \(relu): worst error \(worst) steps")
            }
        }
    }

    func testEveryPathGivesTheSameConvolutionBytes() throws {
        for (index, g) in geometries.enumerated() {
            let c = makeCase(g, seed: UInt64(100 + index))
            let expected = try run(c, relu: index % 2 == 0, path: .portable).codes
            for path in Int8KernelPath.available where path != .portable {
                XCTAssertEqual(try run(c, relu: index % 2 == 0, path: path).codes, expected, "\(path) \(g)")
            }
        }
    }

    func testDepthwiseIsWithinOneOutputStepOfFloat() throws {
        for (index, g) in [
            try Conv2dGeometry(batch: 1, inChannels: 20, height: 9, width: 9, outChannels: 20, kernel: 3, stride: 1, padding: 1, groups: 20),
            try Conv2dGeometry(batch: 2, inChannels: 3, height: 8, width: 6, outChannels: 3, kernel: 3, stride: 2, padding: 1, groups: 3),
        ].enumerated() {
            let (codes, reference, qy) = try run(makeCase(g, seed: UInt64(200 + index)), relu: index == 1, path: .portable)
            var worst: Float = 0
            for (code, value) in zip(codes, reference) { worst = max(worst, abs(qy.dequantize(code) - value) / qy.scale) }
            XCTAssertLessThanOrEqual(worst, 1.0, "\(g): worst error \(worst) steps")
        }
    }

    func testQuantizeAndDequantizeImagesRoundTrip() throws {
        var rng = SeededRandom(seed: 5)
        for channels in [1, 4, 5, 32, 35] {
            let layout = Int8ImageLayout(height: 5, width: 21, channels: channels, border: 2)
            let q = try ActivationQuantization(min: -2, max: 2, tensor: "x")
            let x = (0..<(2 * channels * 5 * 21)).map { _ in rng.nextFloat(in: -3..<3) }
            var codes = [UInt8](repeating: UInt8(q.zeroPoint), count: 2 * layout.sampleBytes)
            quantizeImage(x, batch: 2, layout, q, into: &codes)
            var back = [Float](repeating: .nan, count: x.count)
            dequantizeImage(codes, batch: 2, layout, q, into: &back)
            for (value, restored) in zip(x, back) {
                let clamped = min(max(value, q.range.lowerBound), q.range.upperBound)
                XCTAssertEqual(restored, clamped, accuracy: q.scale / 2 + 1e-6, "channels \(channels)")
            }
            // The border is untouched (still the zero point).
            XCTAssertEqual(codes[0], UInt8(q.zeroPoint))
        }
    }

    func testImageOperationsAgreeWithFloat() throws {
        var rng = SeededRandom(seed: 6)
        let layout = Int8ImageLayout(height: 4, width: 6, channels: 3, border: 1)
        let qa = try ActivationQuantization(min: -1, max: 1, tensor: "a"), qb = try ActivationQuantization(min: 0, max: 4, tensor: "b")
        let qy = try ActivationQuantization(min: -1, max: 5, tensor: "y")
        let xa = (0..<72).map { _ in rng.nextFloat(in: -1..<1) }, xb = (0..<72).map { _ in rng.nextFloat(in: 0..<4) }
        var a = [UInt8](repeating: 0, count: layout.sampleBytes), b = a, y = a
        quantizeImage(xa, batch: 1, layout, qa, into: &a)
        quantizeImage(xb, batch: 1, layout, qb, into: &b)
        var fa = [Float](repeating: 0, count: 72), fb = fa, fy = fa
        dequantizeImage(a, batch: 1, layout, qa, into: &fa)
        dequantizeImage(b, batch: 1, layout, qb, into: &fb)
        for relu in [false, true] {
            let add = try Int8Add(a: qa, b: qb, output: qy, relu: relu)
            add.forward(a: a, aLayout: layout, b: b, bLayout: layout, y: &y, yLayout: layout, batch: 1)
            dequantizeImage(y, batch: 1, layout, qy, into: &fy)
            for i in 0..<72 {
                let sum = relu ? max(fa[i] + fb[i], 0) : fa[i] + fb[i]
                XCTAssertEqual(fy[i], sum, accuracy: qy.scale / 2 + 1e-5)
            }
        }
        // Concat: channels of a, then of b, each rescaled to y's parameters.
        let both = Int8ImageLayout(height: 4, width: 6, channels: 6, border: 0)
        var joined = [UInt8](repeating: 0, count: both.sampleBytes)
        try int8ConcatChannels(a, layout, qa, b, layout, qb, into: &joined, both, qy, batch: 1)
        var fj = [Float](repeating: 0, count: 144)
        dequantizeImage(joined, batch: 1, both, qy, into: &fj)
        for i in 0..<72 {
            XCTAssertEqual(fj[i], fa[i], accuracy: qy.scale / 2 + 1e-5)
            XCTAssertEqual(fj[72 + i], fb[i], accuracy: qy.scale / 2 + 1e-5)
        }
        // Pooling and upsampling keep the quantization.
        let half = Int8ImageLayout(height: 2, width: 3, channels: 3, border: 0)
        var pooled = [UInt8](repeating: 0, count: half.sampleBytes)
        for maximum in [true, false] {
            int8Pool2x2(b, layout, into: &pooled, half, batch: 1, maximum: maximum)
            var fp = [Float](repeating: 0, count: 18)
            dequantizeImage(pooled, batch: 1, half, qb, into: &fp)
            for c in 0..<3 {
                for row in 0..<2 {
                    for column in 0..<3 {
                        var window: [Float] = []
                        for dy in 0..<2 {
                            for dx in 0..<2 { window.append(fb[(c * 4 + 2 * row + dy) * 6 + 2 * column + dx]) }
                        }
                        let expected: Float = maximum ? window.max()! : window.reduce(0, +) / 4
                        XCTAssertEqual(fp[(c * 2 + row) * 3 + column], expected, accuracy: maximum ? 1e-6 : qb.scale / 2 + 1e-5)
                    }
                }
            }
        }
        let double = Int8ImageLayout(height: 8, width: 12, channels: 3, border: 1)
        var upsampled = [UInt8](repeating: 0, count: double.sampleBytes)
        int8UpsampleNearest2x(a, layout, into: &upsampled, double, batch: 1)
        for c in 0..<3 {
            for row in 0..<8 {
                for column in 0..<12 {
                    XCTAssertEqual(upsampled[double.offset(y: row, x: column) + c], a[layout.offset(y: row / 2, x: column / 2) + c])
                }
            }
        }
    }
}

final class QuantizedModelFileTests: XCTestCase {
    /// What a model file's loader hands over: stored codes and scales. Broken scales and codes
    /// are clear errors that name the tensor.
    func testStoredWeightsWithZeroOrNaNScalesAreRejected() throws {
        let g = try Conv2dGeometry(batch: 1, inChannels: 4, height: 8, width: 8, outChannels: 2, kernel: 3, padding: 1)
        let q = try ActivationQuantization(min: 0, max: 1, tensor: "x")
        let codes = [Int8](repeating: 3, count: 2 * 36)
        XCTAssertNoThrow(try Int8Conv2d(g, weightCodes: codes, weightScales: [0.01, 0.02], bias: [0, 0], input: q, output: q,
                                        relu: true, outputBorder: 0, name: "e1"))
        for bad: Float in [0, .nan, -1, .infinity] {
            XCTAssertThrowsError(try Int8Conv2d(g, weightCodes: codes, weightScales: [0.01, bad], bias: nil, input: q, output: q,
                                                relu: true, outputBorder: 0, name: "e1")) { error in
                XCTAssertTrue("\(error)".contains("e1.weight_scale[1]"), "\(error)")
            }
        }
        var minusOneTwentyEight = codes
        minusOneTwentyEight[40] = -128
        XCTAssertThrowsError(try Int8Conv2d(g, weightCodes: minusOneTwentyEight, weightScales: [0.01, 0.02], bias: nil, input: q, output: q,
                                            relu: false, outputBorder: 0, name: "e1")) { error in
            XCTAssertTrue("\(error)".contains("e1.weight") && "\(error)".contains("40"), "\(error)")
        }
        // Scales that make the requantization multiplier unrepresentable are refused too.
        let tiny = try ActivationQuantization(scale: 1e-12, zeroPoint: 0, tensor: "y")
        XCTAssertThrowsError(try Int8Conv2d(g, weightCodes: codes, weightScales: [1e3, 1e3], bias: nil, input: q, output: tiny,
                                            relu: false, outputBorder: 0, name: "e9")) { error in
            XCTAssertTrue("\(error)".contains("e9"), "\(error)")
        }
    }
}
