// `foresight bench`: the reference workloads of the project (pc64, gemm), measured on this
// machine and printed as a table or as JSON lines.

import ArgumentParser
import CAllocationCounter
import Foundation
import ForesightCore
import ForesightNN
import ForesightIO
import ForesightLive
import ForesightSSL
import ForesightSensors
import ForesightExport

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a reference workload (pc64, gemm, live, enc).",
        discussion: "Figures are medians of repeated runs on this machine; compare them as ratios with peers measured in the same run (Tests/Peers)."
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case pc64, gemm, live, enc
    }

    @Argument(help: "Workload: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workload: Workload

    @Option(parsing: .unconditional, help: "Kernel worker threads.")
    var threads = 1

    @Flag(help: "Print one JSON object per measured case instead of a table.")
    var json = false

    @Option(parsing: .unconditional, help: "Timed steps per run (pc64).")
    var steps = 200

    @Option(help: "gemm: measure one shape M,N,K (optionally ,tA,tB for transposed operands) instead of the square sizes.")
    var shape: String?

    @Option(parsing: .unconditional, help: "live: seconds of live learning.")
    var liveSeconds: Double = 60

    @Flag(help: "pc64: also print the time of each operation.")
    var profile = false

    @Flag(help: "pc64: measure 1 thread and --threads (at least 2) in turns in one process, and print the speed-up of each turn and their median (steady on a machine whose speed drifts).")
    var scaling = false

    @Option(help: "enc: also measure this encoder file (float32 or int8, as `foresight export` wrote it) as loaded.")
    var model: String?

    func validate() throws {
        try OptionRange.checkThreads(threads)
        if scaling && (workload != .pc64 || threads < 2) {
            throw ValidationError("--scaling compares pc64 at 1 thread and at --threads: give `bench pc64 --scaling --threads N` with N of 2 or more")
        }
        try OptionRange.check(steps, "--steps", 1...1_000_000)
        try OptionRange.checkPositive(liveSeconds, "--live-seconds", maximum: OptionRange.maximumSeconds, unit: " s")
        _ = try parsedShape()
    }

    /// The most memory the three float32 matrices of `--shape` may take.
    static let gemmPlanBytes = 1 << 30

    /// `--shape` as numbers, checked: each of M, N, K from 1 to 65536 and the operands within
    /// `gemmPlanBytes`, so that no shape is allocated that cannot be.
    func parsedShape() throws -> (m: Int, n: Int, k: Int, transA: Bool, transB: Bool)? {
        guard let shape else { return nil }
        let parts = shape.split(separator: ",").map(String.init)
        let numbers = parts.prefix(3).compactMap { Int($0) }
        guard numbers.count == 3, numbers.allSatisfy({ (1...65536).contains($0) }),
              parts.dropFirst(3).allSatisfy({ $0 == "tA" || $0 == "tB" }) else {
            throw ValidationError("--shape takes M,N,K (each 1 to 65536), optionally followed by tA and/or tB; got \(shape)")
        }
        let (m, n, k) = (numbers[0], numbers[1], numbers[2])
        let bytes = 4 * (m * k + k * n + m * n)
        guard bytes <= Self.gemmPlanBytes else {
            throw ValidationError("--shape \(m),\(n),\(k) needs \(bytes >> 20) MiB for its three float32 matrices; the plan allows \(Self.gemmPlanBytes >> 20) MiB")
        }
        return (m, n, k, parts.contains("tA"), parts.contains("tB"))
    }

    func run() throws {
        switch workload {
        case .gemm:
            try benchGemm()
            if shape == nil { benchGemmInt8() }
            if shape == nil && !json { printBoardEstimates() }
        case .pc64: try scaling ? benchPC64Scaling() : benchPC64()
        case .live: try benchLive()
        case .enc: try benchEnc()
        }
    }

    private func emit(_ object: [String: Any], table: String) {
        if json {
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(table)
        }
    }

    private func benchGemm() throws {
        let pool = ThreadPool(threads: threads)
        if !json { print("gemm float32, \(threads) thread(s)\n     n   GFLOP/s") }
        var cases = [64, 256, 512, 1024].map { (m: $0, n: $0, k: $0, transA: false, transB: false) }
        if let shape = try parsedShape() { cases = [shape] }
        for (m, n, k, transA, transB) in cases {
            let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            var rng = SeededRandom(seed: 1)
            for i in 0..<(m * k) { a[i] = rng.nextFloat() - 0.5 }
            for i in 0..<(k * n) { b[i] = rng.nextFloat() - 0.5 }
            let workspaceMemory = UnsafeMutablePointer<Float>.allocate(capacity: GemmWorkspace.floatCount * threads)
            defer { a.deallocate(); b.deallocate(); c.deallocate(); workspaceMemory.deallocate() }
            let task = GemmTask(memory: workspaceMemory, threads: threads)
            task.set(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: transA ? m : k, b: b, ldb: transB ? k : n, c: c, ldc: n)
            let seconds = medianSeconds { task.run(on: pool) }
            let gflops = 2.0 * Double(m * n * k) / seconds / 1e9
            if m == n && n == k && !transA && !transB {
                emit(["workload": "gemm", "dtype": "float32", "n": n, "threads": threads, "gops": rounded(gflops, 2)],
                     table: String(format: "%6d  %8.1f", n, gflops))
            } else {
                emit(["workload": "gemm", "dtype": "float32", "m": m, "n": n, "k": k, "trans_a": transA, "trans_b": transB,
                      "threads": threads, "gops": rounded(gflops, 2)],
                     table: "\(m)x\(n)x\(k)\(transA ? " tA" : "")\(transB ? " tB" : "")  " + String(format: "%8.1f", gflops))
            }
        }
    }

    /// The boards' kernel rates by estimate (BoardEstimate), beside this machine's measured figures.
    private func printBoardEstimates() {
        print("estimate for the boards (llvm-mca inner-loop rate x clock x cores, not measured; Tests/KernelMCA):")
        print("board                  core         GHz  cores  f32 GFLOP/s  (%peak)  int8 GOPS")
        for board in BoardEstimate.boards {
            let int8 = board.int8GOPS.map { String(format: "%9.1f", $0) } ?? "        -"
            print(board.profile.padding(toLength: 22, withPad: " ", startingAt: 0) + " " + board.core.padding(toLength: 11, withPad: " ", startingAt: 0)
                  + String(format: " %4.1f  %5d  %11.1f  (%4.0f%%)  ", board.clockGHz, board.cores, board.float32GFLOPS, 100 * board.float32Efficiency) + int8)
        }
    }

    private func benchPC64() throws {
        let trainer = try PC64Benchmark(threads: threads)
        for _ in 0..<20 { try trainer.step() }
        var rates: [Double] = []
        var allocations: [Double] = []
        for _ in 0..<5 {
            let before = foresight_allocation_count()
            let start = MonotonicClock.nanoseconds()
            for _ in 0..<steps { try trainer.step() }
            let elapsed = MonotonicClock.seconds(since: start)
            allocations.append(Double(foresight_allocation_count() - before) / Double(steps))
            rates.append(Double(steps) / elapsed)
        }
        if profile && !json {
            print("operation            forward ms  backward ms")
            for entry in try trainer.trainer.program.profile(steps: steps) {
                print(entry.name.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: " %10.3f  %11.3f", entry.forward * 1000, entry.backward * 1000))
            }
        }
        let crowded = noteRegionsRunAlone(trainer)
        let stepsPerSecond = median(rates)
        let rss = peakResidentMiB()
        let allocs = median(allocations)
        emit([
            "workload": "pc64", "threads": threads, "steps_per_s": rounded(stepsPerSecond, 2),
            "ms_per_step": rounded(1000 / stepsPerSecond, 3), "peak_rss_mib": rounded(rss, 1),
            "allocs_per_step": allocs, "regions_run_alone": crowded,
        ], table: String(format: "pc64, %d thread(s): %.1f steps/s, %.2f ms/step, peak RSS %.1f MiB, %.0f heap allocations per step",
                         threads, stepsPerSecond, 1000 / stepsPerSecond, rss, allocs))
        if !json {
            let flops = Double(trainer.trainer.program.convolutionFLOPsPerTrainingStep)
            print(String(format: "estimate for the boards at %d thread(s), %.0f MFLOP of convolution per step (llvm-mca kernel rate x clock x cores; the best case, not measured):", threads, flops / 1e6))
            for board in BoardEstimate.boards {
                let milliseconds = board.millisecondsPerStep(flops: flops, threads: threads)
                print("  " + board.profile.padding(toLength: 22, withPad: " ", startingAt: 0)
                      + String(format: "%6.2f ms/step (%.0f steps/s)", milliseconds, 1000 / milliseconds))
            }
        }
    }
}

extension Bench {
    /// pc64 at 1 thread and at `threads`, in turns of `steps / 4` steps each within one process:
    /// a host whose speed drifts (another tenant, a clock change) slows both sides of a turn
    /// alike, so the median of the turns' speed-ups holds where two separate runs do not.
    func benchPC64Scaling() throws {
        let one = try PC64Benchmark(threads: 1), many = try PC64Benchmark(threads: threads)
        for _ in 0..<20 { try one.step(); try many.step() }
        let turnSteps = max(1, steps / 4), turns = 15
        var oneTimes: [Double] = [], manyTimes: [Double] = [], speedUps: [Double] = []
        func time(_ benchmark: PC64Benchmark) throws -> Double {
            let start = MonotonicClock.nanoseconds()
            for _ in 0..<turnSteps { try benchmark.step() }
            return MonotonicClock.seconds(since: start) / Double(turnSteps)
        }
        if !json { print("turn  1 thread ms  \(threads) threads ms  speed-up") }
        for turn in 1...turns {
            let single = try time(one), parallel = try time(many)
            oneTimes.append(single); manyTimes.append(parallel); speedUps.append(single / parallel)
            if !json { print(String(format: "%4d  %11.3f  %12.3f  %7.2fx", turn, single * 1000, parallel * 1000, single / parallel)) }
        }
        let crowded = noteRegionsRunAlone(many)
        let sorted = speedUps.sorted()
        let (low, high) = (sorted[turns / 4], sorted[turns - 1 - turns / 4])
        emit([
            "workload": "pc64-scaling", "threads": threads, "turns": turns, "steps_per_turn": turnSteps,
            "ms_per_step_1": rounded(median(oneTimes) * 1000, 3), "ms_per_step_n": rounded(median(manyTimes) * 1000, 3),
            "speedup": rounded(median(speedUps), 3), "speedup_low": rounded(low, 3), "speedup_high": rounded(high, 3),
            "regions_run_alone": crowded,
        ], table: String(format: "pc64 scaling, 1 -> %d threads: median %.2fx (middle half of the turns %.2fx to %.2fx); median %.2f and %.2f ms/step",
                         threads, median(speedUps), low, high, median(oneTimes) * 1000, median(manyTimes) * 1000))
    }

    /// The regions `benchmark`'s pool ran on the calling thread alone, said in the table form
    /// when there were any (a figure with many was measured on a busy machine).
    private func noteRegionsRunAlone(_ benchmark: PC64Benchmark) -> Int {
        let crowded = benchmark.trainer.program.pool.regionsRunAlone
        if crowded > 0 && !json {
            print("note: \(crowded) parallel regions ran on one thread because the machine had more runnable threads than cores")
        }
        return crowded
    }
}

/// Median seconds per call of `body`, over 5 runs each long enough (>= 0.2 s) to time.
func medianSeconds(_ body: () -> Void) -> Double {
    body()
    var repetitions = 1
    while true {
        let start = MonotonicClock.nanoseconds()
        for _ in 0..<repetitions { body() }
        let elapsed = MonotonicClock.seconds(since: start)
        if elapsed > 0.2 { break }
        repetitions *= 2
    }
    var samples: [Double] = []
    for _ in 0..<5 {
        let start = MonotonicClock.nanoseconds()
        for _ in 0..<repetitions { body() }
        samples.append(MonotonicClock.seconds(since: start) / Double(repetitions))
    }
    return median(samples)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func rounded(_ value: Double, _ digits: Int) -> Double {
    let scale = pow(10.0, Double(digits))
    return (value * scale).rounded() / scale
}

/// Times pc64 training steps on one fixed batch (bench pc64).
final class PC64Benchmark {
    let trainer: FramePredictionTrainer

    init(threads: Int) throws {
        trainer = try FramePredictionTrainer(threads: threads, seed: 1)
        try trainer.loadBatch()
    }

    func step() throws { try trainer.program.step() }
}
