// int8 GEMM and tiles: every kernel path this CPU runs is held bit-exact to the reference
// (odd shapes, extreme values, several depth blocks, accumulation), and the requantization
// rule is checked at its edges (ties, saturation, int32 overflow of the bias add).

import XCTest
@testable import ForesightCore

final class QuantizedGemmTests: XCTestCase {
    private func randomBytes(_ count: Int, _ rng: inout SeededRandom, extreme: Bool) -> [UInt8] {
        (0..<count).map { _ in extreme ? (rng.nextInt(below: 2) == 0 ? 0 : 255) : UInt8(rng.nextInt(below: 256)) }
    }

    private func randomWeights(_ count: Int, _ rng: inout SeededRandom, extreme: Bool) -> [Int8] {
        (0..<count).map { _ in extreme ? (rng.nextInt(below: 2) == 0 ? -128 : 127) : Int8(rng.nextInt(below: 256) - 128) }
    }

    func testEveryPathMatchesTheReferenceExactly() {
        XCTAssertTrue(Int8KernelPath.available.contains(.portable))
        #if arch(x86_64)
        print("int8 kernel paths on this CPU: \(Int8KernelPath.available.map(\.rawValue)), best \(Int8KernelPath.best)")
        #endif
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Int8GemmWorkspace.byteCount, alignment: 64)
        defer { memory.deallocate() }
        let workspace = Int8GemmWorkspace(memory: memory)
        var rng = SeededRandom(seed: 11)
        let shapes = [(1, 1, 1), (8, 32, 4), (9, 33, 5), (7, 17, 300), (64, 64, 64), (13, 70, 517), (40, 1100, 12), (3, 5, 2)]
        for (index, (m, n, k)) in shapes.enumerated() {
            let extreme = index % 3 == 1
            let a = randomBytes(m * k + 3, &rng, extreme: extreme)
            let b = randomWeights(k * n + 3, &rng, extreme: extreme)
            let initial = (0..<(m * n)).map { _ in Int32(truncatingIfNeeded: rng.next()) }
            for accumulate in [false, true] {
                var expected = initial
                int8GemmReference(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &expected, ldc: n, accumulate: accumulate)
                for path in Int8KernelPath.available {
                    var got = initial
                    int8Gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &got, ldc: n, accumulate: accumulate,
                             workspace: workspace, path: path)
                    XCTAssertEqual(got, expected, "\(path) m \(m) n \(n) k \(k) accumulate \(accumulate)")
                }
            }
        }
    }

    func testLeadingDimensionsAreRespected() {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Int8GemmWorkspace.byteCount, alignment: 64)
        defer { memory.deallocate() }
        var rng = SeededRandom(seed: 12)
        let (m, n, k, lda, ldb, ldc) = (10, 20, 24, 31, 27, 23)
        let a = randomBytes(m * lda, &rng, extreme: false), b = randomWeights(k * ldb, &rng, extreme: false)
        let sentinel: Int32 = 0x5A5A5A5A
        var expected = [Int32](repeating: sentinel, count: m * ldc)
        int8GemmReference(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: &expected, ldc: ldc)
        for path in Int8KernelPath.available {
            var got = [Int32](repeating: sentinel, count: m * ldc)
            int8Gemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: &got, ldc: ldc, workspace: Int8GemmWorkspace(memory: memory), path: path)
            XCTAssertEqual(got, expected, "\(path)")
        }
    }

    /// The largest sums of a deep product do not saturate anywhere (vpmaddubsw would).
    func testLargestProductsDoNotSaturate() {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Int8GemmWorkspace.byteCount, alignment: 64)
        defer { memory.deallocate() }
        let (m, n, k) = (8, 32, 4096)
        let a = [UInt8](repeating: 255, count: m * k)
        for weight: Int8 in [-128, 127] {
            let b = [Int8](repeating: weight, count: k * n)
            for path in Int8KernelPath.available {
                var c = [Int32](repeating: 0, count: m * n)
                int8Gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, workspace: Int8GemmWorkspace(memory: memory), path: path)
                XCTAssertEqual(Set(c), [255 * Int32(weight) * Int32(k)], "\(path)")
            }
        }
    }

    /// Requantized tiles: every path against the portable twin, with random parameters over
    /// the whole shift range and scattered row and quad offsets.
    func testRequantizedTilesMatchThePortableTwin() {
        var rng = SeededRandom(seed: 13)
        for trial in 0..<200 {
            let quads = 1 + rng.nextInt(below: 40), panels = 1 + rng.nextInt(below: 2)
            let rows = 1 + rng.nextInt(below: 8), columns = 1 + rng.nextInt(below: 16 * panels)
            let rowStride = 300 + rng.nextInt(below: 50)
            let a = randomBytes(rowStride * 8 + 4, &rng, extreme: trial % 4 == 0)
            let b = randomWeights(panels * quads * 64, &rng, extreme: trial % 4 == 0)
            let offsets = (0..<quads).map { _ in Int32(rng.nextInt(below: rowStride)) }
            let bias = (0..<32).map { _ in Int32(truncatingIfNeeded: rng.next()) >> Int32(rng.nextInt(below: 32)) }
            let multiplier = (0..<32).map { _ in Int32(truncatingIfNeeded: rng.next() >> 33) }
            let shift = (0..<32).map { _ in Int32(rng.nextInt(below: 62) - 30) }
            let zeroPoint = Int32(rng.nextInt(below: 256)), qmin = Int32(rng.nextInt(below: 64)), qmax = Int32(192 + rng.nextInt(below: 64))
            func run(_ path: Int8KernelPath) -> [UInt8] {
                var out = [UInt8](repeating: 7, count: 8 * 40)
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        out.withUnsafeMutableBufferPointer { out in
                            runInt8Tile(path: path, a: a.baseAddress!, rowStride: rowStride, offsets: offsets, rows: rows,
                                        b: b.baseAddress!, panels: panels, columns: columns, c: nil, ldc: 0, accumulate: false,
                                        out: out.baseAddress!, outStride: 40, bias: bias, multiplier: multiplier, shift: shift,
                                        zeroPoint: zeroPoint, qmin: qmin, qmax: qmax)
                        }
                    }
                }
                return out
            }
            let expected = run(.portable)
            for path in Int8KernelPath.available where path != .portable {
                XCTAssertEqual(run(path), expected, "\(path) trial \(trial)")
            }
        }
    }

    func testRequantizationRoundsHalvesUpAndSaturates() {
        // multiplier 0.5 (2^30, shift 0): x / 2 rounded, halves towards +infinity.
        let half = Int32(1 << 30)
        func r(_ acc: Int32, bias: Int32 = 0, zeroPoint: Int32 = 0, min: Int32 = -1000, max: Int32 = 1000) -> Int32 {
            requantize(acc, bias: bias, multiplier: half, shift: 0, zeroPoint: zeroPoint, min: min, max: max)
        }
        XCTAssertEqual(r(5), 3)      // 2.5 -> 3
        XCTAssertEqual(r(-5), -2)    // -2.5 -> -2
        XCTAssertEqual(r(-7), -3)    // -3.5 -> -3
        XCTAssertEqual(r(6), 3)
        XCTAssertEqual(r(7), 4)      // 3.5 -> 4
        XCTAssertEqual(r(4, zeroPoint: 100), 102)
        XCTAssertEqual(r(10_000, max: 255), 255)
        XCTAssertEqual(r(-10_000, zeroPoint: 10, min: 0), 0)
        // The bias add saturates at the int32 range instead of wrapping.
        XCTAssertEqual(requantize(Int32.max, bias: Int32.max, multiplier: half, shift: 0, zeroPoint: 0, min: Int32.min, max: Int32.max), 1 << 30)
        XCTAssertEqual(requantize(Int32.min, bias: -5, multiplier: half, shift: 0, zeroPoint: 0, min: Int32.min, max: Int32.max), -(1 << 30))
        // Left shifts (multipliers >= 1) saturate at the clamp instead of overflowing.
        XCTAssertEqual(requantize(Int32.max, bias: 0, multiplier: Int32.max, shift: -30, zeroPoint: 0, min: 0, max: 255), 255)
        XCTAssertEqual(requantize(Int32.min, bias: 0, multiplier: Int32.max, shift: -30, zeroPoint: 0, min: 0, max: 255), 0)
        // The largest right shift.
        XCTAssertEqual(requantize(Int32.max, bias: 0, multiplier: Int32.max, shift: 31, zeroPoint: 0, min: Int32.min, max: Int32.max), 1)
    }

    func testFixedPointMultipliersReproduceTheirRealValue() throws {
        var rng = SeededRandom(seed: 14)
        for _ in 0..<1000 {
            let real = pow(2, Double(rng.nextFloat(in: -40..<29.9)))
            let fixed = try FixedPointMultiplier(real, tensor: "t")
            XCTAssertTrue((-30...31).contains(fixed.shift))
            if real >= 0x1p-32 {
                XCTAssertGreaterThanOrEqual(fixed.multiplier, 1 << 30)
                XCTAssertEqual(fixed.real, real, accuracy: real * 0x1p-30)
            } else {
                XCTAssertEqual(fixed.real, real, accuracy: 0x1p-62)
            }
        }
        XCTAssertEqual(try FixedPointMultiplier(0.75, tensor: "t").apply(100), 75)
        XCTAssertEqual(try FixedPointMultiplier(0, tensor: "t").apply(12345), 0)
        XCTAssertEqual(try FixedPointMultiplier(1, tensor: "t").apply(-77), -77)
        XCTAssertEqual(try FixedPointMultiplier(0.999_999_999_9, tensor: "t").multiplier, 1 << 30)   // mantissa rounds up to 2^31
        // Far below 2^-63 (a huge output scale in an int8 file, found by fuzzing): multiplier 0, not a trap.
        for tiny in [0x1p-64, 0x1p-100, 1e-42, 1e-300, Double.leastNonzeroMagnitude] {
            XCTAssertEqual(try FixedPointMultiplier(tiny, tensor: "t").multiplier, 0, "\(tiny)")
        }
        XCTAssertEqual(try FixedPointMultiplier(0x1p-62, tensor: "t").multiplier, 1)
        for bad in [Double.nan, -1, 0x1p30, .infinity] {
            XCTAssertThrowsError(try FixedPointMultiplier(bad, tensor: "conv")) { error in
                XCTAssertTrue("\(error)".contains("conv"), "\(error)")
            }
        }
    }

    func testZeroAndNaNScalesAreClearErrors() throws {
        for scale: Float in [0, .nan, -0.5, .infinity] {
            XCTAssertThrowsError(try ActivationQuantization(scale: scale, zeroPoint: 0, tensor: "e2.out")) { error in
                guard case let .invalidScale(tensor, _)? = error as? CoreError else { return XCTFail("unexpected \(error)") }
                XCTAssertEqual(tensor, "e2.out")
                XCTAssertTrue("\(error)".contains("e2.out") && "\(error)".contains("scale"), "\(error)")
            }
        }
        XCTAssertThrowsError(try ActivationQuantization(scale: 0.1, zeroPoint: 256, tensor: "x"))
        // A scale whose code 255 would dequantize to infinity (found by fuzzing int8 files).
        XCTAssertThrowsError(try ActivationQuantization(scale: 1e37, zeroPoint: 0, tensor: "e3.output_scale")) { error in
            guard case .scaleTooLarge("e3.output_scale", 1e37)? = error as? CoreError else { return XCTFail("unexpected \(error)") }
        }
        let largest = try ActivationQuantization(scale: ActivationQuantization.largestScale, zeroPoint: 0, tensor: "x")
        XCTAssertTrue(largest.dequantize(255).isFinite)
        XCTAssertThrowsError(try ActivationQuantization(min: .nan, max: 1, tensor: "x"))
        XCTAssertThrowsError(try ActivationQuantization(min: 2, max: 1, tensor: "x"))
    }

    func testActivationQuantizationCoversItsRangeAndZeroIsExact() throws {
        let q = try ActivationQuantization(min: -1, max: 3, tensor: "x")
        XCTAssertEqual(q.dequantize(UInt8(q.zeroPoint)), 0)
        XCTAssertEqual(q.range.lowerBound, -1, accuracy: q.scale)
        XCTAssertEqual(q.range.upperBound, 3, accuracy: q.scale)
        XCTAssertEqual(q.quantize(100), 255)
        XCTAssertEqual(q.quantize(-100), 0)
        for x in stride(from: Float(-1), through: 3, by: 0.01) {
            XCTAssertEqual(q.dequantize(q.quantize(x)), x, accuracy: q.scale / 2 + 1e-6)
        }
        let flat = try ActivationQuantization(min: 0, max: 0, tensor: "dead")
        XCTAssertEqual(flat.dequantize(flat.quantize(0)), 0)
        let (codes, scales) = [Float(0.5), -1, 0.25, 0, 0, 0].withUnsafeBufferPointer { quantizeWeightsPerChannel($0, channels: 2) }
        XCTAssertEqual(codes, [64, -127, 32, 0, 0, 0])
        XCTAssertEqual(scales[0], 1 / 127, accuracy: 1e-9)
        XCTAssertEqual(scales[1], 1)
    }
}
