#!/usr/bin/env bash
# llvm-mca estimates of the micro-kernels' inner loops: the float32 GEMM micro-kernel (Swift,
# Sources/ForesightCore/Kernels/Gemm.swift) and the int8 tiles (C, Sources/CKernels), compiled
# for aarch64 (Cortex-A72, Raspberry Pi 4; Cortex-A76, Raspberry Pi 5) and for this x86-64 host.
# Prints cycles per loop iteration and the fraction of the core's peak for each kernel.
#
# These are static estimates from LLVM's scheduling models (no caches, no front end, perfect
# branch prediction), not measurements: they say whether a loop can keep the multiply pipes
# busy, not how fast a whole GEMM runs. Emulated (qemu) times mean nothing for this.
#
#   Tests/KernelMCA/kernel_mca.sh            (as root: the aarch64 Swift compile runs in a chroot)
#
# Needs: the roots of .ci/arm64 (FORESIGHT_ROOTS, default /var/cache: foresight-amd64 with
# Debian's swiftlang cross-compiles Swift to aarch64 against foresight-arm64), the host's
# swiftc and clang, and llvm-mca (the newest llvm-mca-NN found is used; Debian's llvm-19 has
# Zen 4 and Neoverse N1 models, LLVM 14 has neither).
#
# Peaks (ops per cycle; a multiply-add is 2 ops), from the cores' optimisation guides:
#   Cortex-A72: 2 FP/ASIMD pipes, one 128-bit FMLA per cycle in all -> 8 float32 FLOP/cycle;
#               integer multiply(-accumulate long) only on pipe F0, one 4-lane SMLAL per cycle
#               -> 8 int8 ops/cycle (no dot product).
#   Cortex-A76: two 128-bit FMLA per cycle -> 16 float32 FLOP/cycle; two 4x4-byte SDOT per
#               cycle -> 64 int8 ops/cycle (no i8mm). LLVM's entry for cortex-a76 still borrows
#               the Cortex-A57 model, so the Neoverse N1 model (the A76's microarchitecture in a
#               server part) stands in for it; the table names the model used.
#   Cortex-A53 (Zero 2 W): in LLVM's model a 128-bit FMLA holds the one FP pipe 2 cycles
#               -> 4 float32 FLOP/cycle (the float kernel is built for cortex-a72 and timed here).
#   Zen 4 (this host): two 256-bit FMA pipes, a 512-bit FMA takes both -> 32 FLOP/cycle;
#               VPDPBUSD zmm one per cycle -> 128 int8 ops/cycle; the AVX2 tile's VPMADDWD ymm
#               two per cycle -> 64 ops/cycle (its own ceiling: exact widening multiplies).
set -euo pipefail
cd "$(dirname "$0")/../.."
source=$PWD
here=Tests/KernelMCA
roots=${FORESIGHT_ROOTS:-/var/cache}
amd=$roots/foresight-amd64
arm=$roots/foresight-arm64
x86cpu=${FORESIGHT_MCA_X86_CPU:-znver4}
out=$source/.build-mca
mkdir -p "$out"
iterations=200

mca=$(ls /usr/bin/llvm-mca-[0-9]* 2>/dev/null | sort -t- -k3 -n | tail -n 1 || true)
[ -n "$mca" ] || mca=$(command -v llvm-mca) || { echo "no llvm-mca (apt-get install llvm-19)" >&2; exit 1; }
hostswiftc=${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}
hostclang=${CLANG:-$(command -v clang || echo /opt/swift/usr/bin/clang)}

# ---- compile ---------------------------------------------------------------------------------
swift_sources="Sources/ForesightCore/Kernels/Gemm.swift Sources/ForesightCore/ThreadPool.swift $here/MicroKernelEntry.swift"
swift_flags="-Ounchecked -parse-as-library -module-name ForesightCore -wmo -emit-assembly"

compile_swift_arm() {  # cpu -> .build-mca/gemm-CPU.s (Debian's swiftlang, the reference aarch64 toolchain)
    local cpu=$1 files=""
    for f in $swift_sources; do files+=" /work/$f"; done
    unshare -m --propagation private bash -c "
        mountpoint -q $amd/proc || mount -t proc proc $amd/proc
        mkdir -p $amd/arm64 $amd/work
        mount --rbind $arm $amd/arm64
        mount --bind $source $amd/work
        chroot $amd /usr/libexec/swift/bin/swiftc -target aarch64-unknown-linux-gnu -sdk /arm64 \
            -resource-dir /arm64/usr/libexec/swift/lib/swift -target-cpu $cpu $swift_flags $files \
            -o /work/.build-mca/gemm-$cpu.s"
}

compile_c() {  # file target-flags name: as the package builds CKernels (-O2, ISA by function attributes)
    "$hostclang" -O2 -S -I Sources/CKernels/include $2 "Sources/CKernels/$1" -o "$out/$3.s"
}

echo "compiling (llvm-mca: $mca; x86-64 model: $x86cpu)" >&2
compile_swift_arm cortex-a72
compile_swift_arm cortex-a76
"$hostswiftc" -target-cpu "$x86cpu" $swift_flags $swift_sources -o "$out/gemm-x86.s"
armflags="--target=aarch64-linux-gnu --sysroot=$arm"
compile_c qtile_arm.c "$armflags" qtile-arm
compile_c qtile_x86.c "" qtile-x86

# ---- analyse ---------------------------------------------------------------------------------
# The scheduling model for a core: cortex-a76 falls back to neoverse-n1 when LLVM's own entry
# is the Cortex-A57 model.
model_for() {
    local triple=$1 cpu=$2
    if [ "$cpu" = cortex-a76 ] && echo "nop" | "$mca" -mtriple=$triple -mcpu=$cpu -resource-pressure 2>/dev/null | grep -q A57Unit; then
        echo neoverse-n1
    else
        echo "$cpu"
    fi
}

printf "%-26s %-11s %-12s %5s %8s %9s %8s %6s\n" kernel core "mca model" MACs cyc/iter ops/cyc peak "%peak"
row() {  # kernel core triple asm function-substrings peak
    local kernel=$1 core=$2 triple=$3 asm=$4 needles=$5 peak=$6 model loop stats macs cycles useful
    model=$(model_for "$triple" "$core")
    loop=$out/$kernel-$core.loop
    stats=$(python3 $here/inner_loop.py "$asm" $needles 2>&1 >"$loop")
    macs=$(echo "$stats" | awk '{print $1}')
    useful=$(python3 $here/inner_loop.py --ops "$loop")
    cycles=$("$mca" -mtriple=$triple -mcpu=$model -iterations=$iterations "$loop" | awk '/^Total Cycles:/ {print $3}')
    awk -v k="$kernel" -v c="$core" -v m="$model" -v n="$macs" -v t="$cycles" -v it=$iterations -v u="$useful" -v p="$peak" \
        'BEGIN { cyc = t / it; rate = u / cyc; printf "%-26s %-11s %-12s %5d %8.1f %9.1f %8d %5.0f%%\n", k, c, m, n, cyc, rate, p, 100 * rate / p }'
}
for core in cortex-a72 cortex-a76; do
    [ $core = cortex-a72 ] && fpeak=8 qpeak=8 || fpeak=16 qpeak=64
    row "f32 micro-kernel (Swift)" $core aarch64 "$out/gemm-$core.s" "kernelMCAMicroKernel" $fpeak
    [ $core = cortex-a72 ] && row "int8 neon (SMLAL)" $core aarch64 "$out/qtile-arm.s" "fs_qtile_neon" $qpeak
    [ $core = cortex-a76 ] && row "int8 neondot (SDOT)" $core aarch64 "$out/qtile-arm.s" "fs_qtile_neondot" $qpeak
done
row "f32 micro-kernel (Swift)" cortex-a53 aarch64 "$out/gemm-cortex-a72.s" "kernelMCAMicroKernel" 4
row "f32 micro-kernel (Swift)" $x86cpu x86_64 "$out/gemm-x86.s" "kernelMCAMicroKernel" 32
row "int8 avx512vnni" $x86cpu x86_64 "$out/qtile-x86.s" "fs_qtile_avx512vnni" 128
row "int8 avx2" $x86cpu x86_64 "$out/qtile-x86.s" "fs_qtile_avx2" 64
echo "(llvm-mca estimates of the inner loop only; a multiply-add counts 2 ops; the loops are in $out/*.loop)"
