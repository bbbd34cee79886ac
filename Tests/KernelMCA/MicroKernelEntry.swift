// Compiled by kernel_mca.sh into ForesightCore together with Kernels/Gemm.swift (never part
// of the package): one out-of-line copy of the float32 micro-kernel, called as `gemm` calls it
// on a packed panel of B, so that its inner loop can be found in the assembly by this name.

@inline(never)
public func kernelMCAMicroKernel(
    _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
    let rawB = UnsafeRawPointer(b)
    microKernel(kc, a, c, ldc, false, secondHalf: 64) { rawB + $0 * gemmNR * 4 }
}
