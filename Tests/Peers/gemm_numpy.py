"""gemm peer: float32 square matrix multiply with NumPy `@` (its BLAS, normally OpenBLAS).

Workload "gemm" (float32 half) of shared BENCHMARKS.md: C = A @ B, row-major float32,
n = 64, 256, 512, 1024, one thread by default. GFLOP/s = 2n^3 / time. Each sample times
enough back-to-back calls to last >= --min-time seconds; the figure reported is the
MEDIAN of --reps samples (the best is also shown in the human-readable output).
The product is written into a preallocated array (np.matmul(a, b, out=c)), so no
allocation is timed.

On some machines OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set in the environment to
work around old OpenBLAS builds; they can make a current NumPy pick a slower kernel. For
benchmarking, the caller unsets both for that command only:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Tests/Peers/gemm_numpy.py [--json]

The script warns if they are set and, when threadpoolctl is installed, reports which
BLAS and kernel (core type) actually run.
"""
import argparse
import json
import os
import statistics
import sys
import time

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512, 1024])
ap.add_argument("--reps", type=int, default=7, help="timed samples per size")
ap.add_argument("--min-time", type=float, default=0.1, help="seconds per sample")
ap.add_argument("--json", action="store_true", help="print one JSON line per size")
args = ap.parse_args()

# The BLAS thread count is fixed when NumPy loads its BLAS: set it before the import.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[var] = str(args.threads)
import numpy as np  # noqa: E402

for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    if var in os.environ:
        print(f"warning: {var}={os.environ[var]} is set; it changes (usually slows) the "
              f"BLAS kernel (run with: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...)", file=sys.stderr)


def blas_kernel():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} "
                     f"threads={i['num_threads']}" for i in blas) or "unknown"


def gflops(n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)  # warm-up
    calls = 1
    while True:  # calibrate calls per sample so one sample lasts >= min_time
        t0 = time.perf_counter()
        for _ in range(calls):
            np.matmul(a, b, out=c)
        dt = time.perf_counter() - t0
        if dt >= args.min_time:
            break
        calls = max(calls * 2, int(calls * args.min_time / max(dt, 1e-9) * 1.2))
    rates = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            np.matmul(a, b, out=c)
        rates.append(2 * n**3 * calls / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates), max(rates)


kernel = blas_kernel()
if not args.json:
    print(f"gemm float32 numpy {np.__version__}, BLAS: {kernel}")
for n in args.sizes:
    med, best = gflops(n)
    if args.json:
        print(json.dumps({"workload": "gemm", "peer": "numpy", "dtype": "float32", "n": n,
                          "threads": args.threads, "gops": round(med, 2), "kernel": kernel}))
    else:
        print(f"  n={n:5d}  {med:7.1f} GFLOP/s median  ({best:.1f} best of {args.reps})")
