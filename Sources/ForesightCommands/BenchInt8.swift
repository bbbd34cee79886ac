// The int8 parts of `foresight bench`: int8 GEMM rows of `gemm` (uint8 x int8 -> int32, as
// ONNX Runtime's MatMulInteger) and the `enc` workload (pc64 encoder latency: float32, int8 in
// memory, the same int8 encoder written to a file and loaded back, and optionally a given
// encoder file). Not the float32 workloads (Bench.swift).

import ArgumentParser
import Foundation
import ForesightCore
import ForesightNN
import ForesightSensors
import ForesightIO
import ForesightLive
import ForesightSSL
import ForesightExport

extension Bench {
    func emitInt8(_ object: [String: Any], table: String) {
        if json {
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(table)
        }
    }

    /// int8 GEMM at the square sizes: GOPS = 2 n^3 / time, median of 5 runs.
    func benchGemmInt8() {
        let pool = ThreadPool(threads: threads)
        if !json { print("gemm int8 (uint8 x int8 -> int32, \(Int8KernelPath.best.rawValue)), \(threads) thread(s)\n     n      GOPS") }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Int8GemmWorkspace.byteCount * threads, alignment: 64)
        defer { memory.deallocate() }
        let task = Int8GemmTask(memory: memory, threads: threads)
        for n in [64, 256, 512, 1024] {
            let a = UnsafeMutablePointer<UInt8>.allocate(capacity: n * n)
            let b = UnsafeMutablePointer<Int8>.allocate(capacity: n * n)
            let c = UnsafeMutablePointer<Int32>.allocate(capacity: n * n)
            defer { a.deallocate(); b.deallocate(); c.deallocate() }
            var rng = SeededRandom(seed: 2)
            for i in 0..<(n * n) {
                a[i] = UInt8(truncatingIfNeeded: rng.next())
                b[i] = Int8(truncatingIfNeeded: rng.next())
            }
            task.m = n; task.n = n; task.k = n; task.lda = n; task.ldb = n; task.ldc = n
            task.a = UnsafePointer(a); task.b = UnsafePointer(b); task.c = c
            let seconds = medianSeconds { task.run(on: pool) }
            let gops = 2.0 * Double(n * n * n) / seconds / 1e9
            emitInt8(["workload": "gemm", "dtype": "int8", "n": n, "threads": threads, "gops": rounded(gops, 2),
                      "kernel": Int8KernelPath.best.rawValue],
                     table: String(format: "%6d  %8.1f", n, gops))
        }
    }
}

extension Bench {
    /// `enc`: latency of the pc64 encoder (e1..e3) on one 1x4x64x64 input, float32 (the
    /// project's Program) and int8 (Int8Model calibrated on 16 clips), p50 and p99 of 500 runs
    /// after 50 warm-up runs. The int8 model is also written as an int8 encoder file, loaded
    /// back and measured ("int8-file"); its outputs must equal the in-memory model's bit for
    /// bit. With --model FILE that encoder file is measured too. With FORESIGHT_ENC_EXPORT=DIR
    /// it also writes the weights, inputs, quantization parameters and outputs for
    /// Tests/Peers/enc_peers.py.
    func benchEnc() throws {
        let graph = Graph()
        let frames = try graph.input("frames", [1, 4, 64, 64])
        let encoded = try Models.encoder(graph, frames)
        let program = try Program(graph, threads: threads, seed: 7)
        var scene = MovingShapes(width: 64, height: 64, seed: 3)
        func clip() -> [Float] {
            var values = [Float](repeating: 0, count: 4 * 64 * 64)
            values.withUnsafeMutableBufferPointer { buffer in
                for frame in 0..<4 { scene.render(into: buffer.baseAddress! + frame * 4096); scene.advance() }
            }
            return values
        }
        let calibration = (0..<16).map { _ in clip() }
        let input = clip()
        let model = try Int8Model(graph: graph, from: frames, to: encoded, batch: 1,
                                  parameter: { UnsafePointer(program.tensor($0).floatPointer) }, calibration: calibration, threads: threads)
        let outputCount = model.outputShape.reduce(1, *)
        let int8Output = UnsafeMutablePointer<Float>.allocate(capacity: outputCount)
        defer { int8Output.deallocate() }
        // float32: the NHWC inference twin (what an exported encoder runs); the training
        // runtime's forward pass is reported beside it.
        let floatModel = try FloatInferenceModel(graph: graph, from: frames, to: encoded, batch: 1,
                                                 parameter: { UnsafePointer(program.tensor($0).floatPointer) }, threads: threads)
        let floatOutputPointer = UnsafeMutablePointer<Float>.allocate(capacity: outputCount)
        defer { floatOutputPointer.deallocate() }
        let float = input.withUnsafeBufferPointer { buffer in latencies { floatModel.run(input: buffer.baseAddress!, output: floatOutputPointer) } }
        let floatOutput = Array(UnsafeBufferPointer(start: floatOutputPointer, count: outputCount))
        program.tensor(frames).copy(from: input)
        let programForward = latencies { program.forward() }
        let quantized = input.withUnsafeBufferPointer { buffer in latencies { model.run(input: buffer.baseAddress!, output: int8Output) } }
        // The same int8 model through a file: written, loaded, run on the same kernels.
        guard let stored = model.storedConvolutions else { preconditionFailure("the pc64 encoder is a chain of convolutions") }
        let filePath = FileManager.default.temporaryDirectory.appendingPathComponent("foresight-bench-enc-\(getpid()).safetensors").path
        defer { unlink(filePath) }
        try Int8EncoderModel(input: model.inputQuantization, convolutions: stored, batch: 1).write(to: filePath)
        let loaded = try Int8EncoderModel(path: filePath, batch: 1, threads: threads)
        loaded.input.update(from: input, count: input.count)
        let fromFile = latencies { loaded.run() }
        let loadedOutput = Array(UnsafeBufferPointer(start: loaded.output, count: outputCount))
        let inMemoryOutput = Array(UnsafeBufferPointer(start: int8Output, count: outputCount))
        guard loadedOutput.map(\.bitPattern) == inMemoryOutput.map(\.bitPattern) else {
            throw ValidationError("the int8 encoder loaded from \(filePath) disagrees with the in-memory int8 model")
        }
        var rows = [("float32", float), ("int8", quantized), ("int8-file", fromFile)]
        if let path = self.model {
            let encoder = try EncoderFiles.open(path, batch: 1, threads: threads)
            input.withUnsafeBufferPointer { encoder.inputPointer.update(from: $0.baseAddress!, count: $0.count) }
            rows.append(((encoder is Int8EncoderModel ? "int8" : "float32") + "-model", latencies { encoder.run() }))
        }
        if !json { print("enc (pc64 encoder, 1x4x64x64), \(threads) thread(s), int8 kernel \(model.path.rawValue)\n  dtype          p50 us   p99 us") }
        for (dtype, samples) in rows {
            var object: [String: Any] = ["workload": "enc", "dtype": dtype, "threads": threads, "p50_us": rounded(samples.p50, 2),
                                         "p99_us": rounded(samples.p99, 2)]
            if dtype == "float32" { object["program_p50_us"] = rounded(programForward.p50, 2) }
            if dtype == "int8-file" { object["bit_identical_to_int8"] = true }
            if dtype.hasSuffix("-model") { object["model"] = self.model }
            emitInt8(object, table: "  " + dtype.padding(toLength: 13, withPad: " ", startingAt: 0) + String(format: " %7.1f  %7.1f", samples.p50, samples.p99))
        }
        if !json { print("  (int8-file: the int8 model written as an int8 encoder file and loaded back; outputs bit-identical)") }
        if let path = self.model, !json { print("  (\(rows.last!.0): \(path))") }
        if !json { print(String(format: "  (float32 through the training runtime's Program.forward: p50 %.1f us)", programForward.p50)) }
        let difference = zip(floatOutput, program.tensor(encoded).toArray()).map { abs($0 - $1) }.max() ?? 0
        precondition(difference <= 1e-4 * max(1, floatOutput.map(abs).max() ?? 1), "the NHWC float32 encoder disagrees with Program.forward by \(difference)")
        if let directory = ProcessInfo.processInfo.environment["FORESIGHT_ENC_EXPORT"] {
            try exportEnc(to: directory, graph: graph, program: program, model: model, input: input, calibration: calibration,
                          floatOutput: floatOutput, int8Output: Array(UnsafeBufferPointer(start: int8Output, count: outputCount)))
        }
    }

    /// p50 and p99 in microseconds of `body` over 500 runs after 50 warm-up runs.
    private func latencies(_ body: () -> Void) -> (p50: Double, p99: Double) {
        for _ in 0..<50 { body() }
        var samples = [Double](repeating: 0, count: 500)
        for run in 0..<500 {
            let start = MonotonicClock.nanoseconds()
            body()
            samples[run] = Double(MonotonicClock.nanoseconds() - start) / 1000
        }
        samples.sort()
        return (samples[249], samples[494])
    }

    /// Writes raw little-endian float32 files and a JSON manifest for the peer script.
    private func exportEnc(to directory: String, graph: Graph, program: Program, model: Int8Model, input: [Float],
                           calibration: [[Float]], floatOutput: [Float], int8Output: [Float]) throws {
        let folder = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func write(_ name: String, _ values: [Float]) throws {
            try values.withUnsafeBytes { try Data($0).write(to: folder.appendingPathComponent(name + ".f32")) }
        }
        for id in program.parameters { try write(graph[id].name, program.tensor(id).toArray()) }
        try write("input", input)
        try write("calibration", calibration.flatMap { $0 })
        try write("output_float32", floatOutput)
        try write("output_int8", int8Output)
        let layers: [[String: Any]] = zip(model.layerNames, model.layerQuantizations).map { name, q in
            var layer: [String: Any] = ["name": name, "scale": q.scale, "zero_point": q.zeroPoint]
            if let conv = model.convolutions.first(where: { $0.name == name }) { layer["weight_scales"] = conv.weightScales }
            return layer
        }
        let manifest: [String: Any] = [
            "input_shape": [1, 4, 64, 64], "output_shape": model.outputShape,
            "input_quantization": ["scale": model.inputQuantization.scale, "zero_point": model.inputQuantization.zeroPoint],
            "layers": layers, "calibration_batches": calibration.count,
        ]
        try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
            .write(to: folder.appendingPathComponent("manifest.json"))
    }
}
