// `foresight bench`: the reference workloads of the project (pc64, gemm), measured on this
// machine and printed as a table or as JSON lines.

import ArgumentParser
import CAllocationCounter
import Foundation
import ForesightCore
import ForesightLearn
import ForesightNN

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a reference workload (pc64, gemm).",
        discussion: "Figures are medians of repeated runs on this machine; compare them as ratios with peers measured in the same run (Tests/Peers)."
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case pc64, gemm
    }

    @Argument(help: "Workload: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workload: Workload

    @Option(help: "Kernel worker threads.")
    var threads = 1

    @Flag(help: "Print one JSON object per measured case instead of a table.")
    var json = false

    @Option(help: "Timed steps per run (pc64).")
    var steps = 200

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1 (got \(threads))") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1 (got \(steps))") }
    }

    func run() throws {
        switch workload {
        case .gemm: try benchGemm()
        case .pc64: try benchPC64()
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
        for n in [64, 256, 512, 1024] {
            let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
            var rng = SeededRandom(seed: 1)
            for i in 0..<(n * n) { a[i] = rng.nextFloat() - 0.5; b[i] = rng.nextFloat() - 0.5 }
            let workspaceMemory = UnsafeMutablePointer<Float>.allocate(capacity: GemmWorkspace.floatCount * threads)
            defer { a.deallocate(); b.deallocate(); c.deallocate(); workspaceMemory.deallocate() }
            let task = GemmTask(memory: workspaceMemory, threads: threads)
            task.set(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n)
            let seconds = medianSeconds { task.run(on: pool) }
            let gflops = 2.0 * Double(n * n * n) / seconds / 1e9
            emit(["workload": "gemm", "dtype": "float32", "n": n, "threads": threads, "gops": rounded(gflops, 2)],
                 table: String(format: "%6d  %8.1f", n, gflops))
        }
    }

    private func benchPC64() throws {
        let trainer = try PC64Benchmark(threads: threads)
        for _ in 0..<20 { try trainer.step() }
        var rates: [Double] = []
        var allocations: [Double] = []
        for _ in 0..<5 {
            let before = foresight_allocation_count()
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<steps { try trainer.step() }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            allocations.append(Double(foresight_allocation_count() - before) / Double(steps))
            rates.append(Double(steps) / elapsed)
        }
        let stepsPerSecond = median(rates)
        let rss = peakResidentMiB()
        let allocs = median(allocations)
        emit([
            "workload": "pc64", "threads": threads, "steps_per_s": rounded(stepsPerSecond, 2),
            "ms_per_step": rounded(1000 / stepsPerSecond, 3), "peak_rss_mib": rounded(rss, 1),
            "allocs_per_step": allocs,
        ], table: String(format: "pc64, %d thread(s): %.1f steps/s, %.2f ms/step, peak RSS %.1f MiB, %.0f heap allocations per step",
                         threads, stepsPerSecond, 1000 / stepsPerSecond, rss, allocs))
    }
}

/// Median seconds per call of `body`, over 5 runs each long enough (>= 0.2 s) to time.
func medianSeconds(_ body: () -> Void) -> Double {
    body()
    var repetitions = 1
    while true {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repetitions { body() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if elapsed > 0.2 { break }
        repetitions *= 2
    }
    var samples: [Double] = []
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repetitions { body() }
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(repetitions))
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

/// Peak resident set size of this process (VmHWM), in MiB.
func peakResidentMiB() -> Double { procStatusKiB("VmHWM:") / 1024 }

/// Current resident set size of this process (VmRSS), in MiB.
func residentMiB() -> Double { procStatusKiB("VmRSS:") / 1024 }

private func procStatusKiB(_ key: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(key) {
        return Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}
