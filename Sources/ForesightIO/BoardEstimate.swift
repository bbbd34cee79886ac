// Speed estimates for the boards of devices/: kernel rates from llvm-mca's estimates of the
// micro-kernels' inner loops, times a board's clock and cores. Not a measurement and not a
// model of memory, packing or framework overhead: an upper bound on the GEMM work per second.

import ForesightNN

/// What a board should reach by estimate, for `foresight bench` and `foresight learn --profile`.
///
/// ```swift
/// let pi4 = BoardEstimate.forProfile(named: "raspberry-pi-4")!
/// pi4.float32GFLOPS                                   // 4 cores x 1.5 GHz x 7.95 FLOP/cycle
/// pi4.millisecondsPerStep(flops: 453e6, threads: 4)   // estimated ms per pc64 training step
/// ```
public struct BoardEstimate: Sendable, Equatable {
    /// The profile's file name in devices/ (without .json).
    public let profile: String
    /// The core, as llvm-mca names its scheduling model.
    public let core: String
    public let clockGHz: Double
    public let cores: Int
    /// float32 FLOP per cycle and core of the GEMM micro-kernel's inner loop (llvm-mca).
    public let float32FlopsPerCycle: Double
    /// The core's float32 peak, FLOP per cycle.
    public let float32PeakPerCycle: Double
    /// int8 ops per cycle and core of the int8 tile's inner loop (llvm-mca); nil when not estimated.
    public let int8OpsPerCycle: Double?

    /// Kernel rate over all cores, GFLOP/s.
    public var float32GFLOPS: Double { Double(cores) * clockGHz * float32FlopsPerCycle }
    /// Kernel rate over all cores, int8 GOPS.
    public var int8GOPS: Double? { int8OpsPerCycle.map { Double(cores) * clockGHz * $0 } }
    /// Fraction of the float32 peak that the micro-kernel's inner loop reaches.
    public var float32Efficiency: Double { float32FlopsPerCycle / float32PeakPerCycle }

    /// Estimated milliseconds for `flops` of float32 GEMM work on `threads` of the board's cores.
    public func millisecondsPerStep(flops: Double, threads: Int) -> Double {
        precondition(flops >= 0 && threads >= 1, "flops \(flops) must be >= 0 and threads \(threads) >= 1")
        let rate = Double(min(threads, cores)) * clockGHz * float32FlopsPerCycle * 1e9
        return flops / rate * 1000
    }

    /// Whether a training step of `flops` fits the frame interval at `framesPerSecond`.
    public func keepsUp(flopsPerStep flops: Double, threads: Int, framesPerSecond: Double) -> Bool {
        millisecondsPerStep(flops: flops, threads: threads) <= 1000 / framesPerSecond
    }

    // From Tests/KernelMCA/kernel_mca.sh (llvm-mca 19; December 2026): the float32 micro-kernel
    // (8 x 8 of SIMD4 on aarch64) runs 128 FLOP per iteration in 16.1 cycles on the Cortex-A72
    // model, 8.1 on the Neoverse N1 model standing in for the Cortex-A76 and 38.0 on the
    // Cortex-A53 model; the int8 tiles 512 ops in 64.1 cycles (A72, SMLAL) and 9.0 (A76, SDOT).
    // Clocks: Pi 4 1.5 GHz (later boards run 1.8), Pi 5 2.4 GHz, Zero 2 W 1.0 GHz.
    /// The boards of devices/, one row each.
    public static let boards: [BoardEstimate] = [
        BoardEstimate(profile: "raspberry-pi-4", core: "cortex-a72", clockGHz: 1.5, cores: 4,
                      float32FlopsPerCycle: 128 / 16.1, float32PeakPerCycle: 8, int8OpsPerCycle: 512 / 64.1),
        BoardEstimate(profile: "raspberry-pi-5", core: "cortex-a76", clockGHz: 2.4, cores: 4,
                      float32FlopsPerCycle: 128 / 8.1, float32PeakPerCycle: 16, int8OpsPerCycle: 512 / 9.0),
        BoardEstimate(profile: "raspberry-pi-zero-2w", core: "cortex-a53", clockGHz: 1.0, cores: 4,
                      float32FlopsPerCycle: 128 / 38.0, float32PeakPerCycle: 4, int8OpsPerCycle: nil),
    ]

    /// The row for a profile name or path (`raspberry-pi-4`, `devices/raspberry-pi-4.json`).
    public static func forProfile(named nameOrPath: String) -> BoardEstimate? {
        var name = nameOrPath.split(separator: "/").last.map(String.init) ?? nameOrPath
        if name.hasSuffix(".json") { name.removeLast(5) }
        return boards.first { $0.profile == name }
    }
}

extension Program {
    /// float32 GEMM work of one training step of this program's convolutions, in FLOP: each
    /// convolution's forward pass, weight gradient and input gradient (2 FLOP per multiply-add).
    public var convolutionFLOPsPerTrainingStep: Int {
        graph.nodes.reduce(0) { total, node in
            guard let convolution = node.operation as? Conv2dOperation else { return total }
            return total + 6 * convolution.forwardCost
        }
    }

    /// float32 GEMM work of one forward pass of this program's convolutions, in FLOP.
    public var convolutionFLOPsPerForward: Int {
        graph.nodes.reduce(0) { total, node in
            guard let convolution = node.operation as? Conv2dOperation else { return total }
            return total + 2 * convolution.forwardCost
        }
    }
}
