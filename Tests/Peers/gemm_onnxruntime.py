"""gemm peer: int8 square matrix multiply with ONNX Runtime's MatMulInteger (CPU).

Workload "gemm" (int8 half) of shared BENCHMARKS.md: Y = A x B with A uint8, B int8,
Y int32 (zero points 0), row-major, n = 64, 256, 512, 1024, 1 intra-op thread by default.
GOPS = 2n^3 / time. The one-node model is built in memory with the onnx helper API.
By default both A and B are run-time inputs (a plain kernel call, like NumPy's `@`);
with --const-b, B is a constant initializer that ORT may pre-pack once (the inference
case of fixed weights). Inputs and the output are bound once with IOBinding, so each
timed call is one session.run_with_iobinding() without copies or allocations.
Each sample times enough calls to last >= --min-time seconds; the figure reported is
the MEDIAN of --reps samples (the best is also shown in the human-readable output).
The result is checked exactly against NumPy on a slice of rows.

    python3 Tests/Peers/gemm_onnxruntime.py [--threads N] [--const-b] [--json]
"""
import argparse
import json
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def build_model(n, b_const=None):
    inputs = [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n])]
    inits = []
    if b_const is None:
        inputs.append(helper.make_tensor_value_info("B", TensorProto.INT8, [n, n]))
    else:
        inits.append(numpy_helper.from_array(b_const, "B"))
    node = helper.make_node("MatMulInteger", ["A", "B"], ["Y"])
    graph = helper.make_graph([node], f"gemm_u8s8_{n}", inputs,
                              [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def gops(n, args):
    rng = np.random.default_rng(n)
    a = rng.integers(0, 256, (n, n), dtype=np.uint8)
    b = rng.integers(-128, 128, (n, n), dtype=np.int8)
    y = np.empty((n, n), dtype=np.int32)

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(build_model(n, b if args.const_b else None), so,
                                providers=["CPUExecutionProvider"])
    io = sess.io_binding()
    io.bind_cpu_input("A", a)
    if not args.const_b:
        io.bind_cpu_input("B", b)
    io.bind_ortvalue_output("Y", ort.OrtValue.ortvalue_from_numpy(y))

    sess.run_with_iobinding(io)  # warm-up, and check the result on 16 rows
    ref = a[:16].astype(np.int64) @ b.astype(np.int64)
    assert np.array_equal(y[:16], ref), f"MatMulInteger result differs from NumPy at n={n}"

    calls = 1
    while True:  # calibrate calls per sample so one sample lasts >= min_time
        t0 = time.perf_counter()
        for _ in range(calls):
            sess.run_with_iobinding(io)
        dt = time.perf_counter() - t0
        if dt >= args.min_time:
            break
        calls = max(calls * 2, int(calls * args.min_time / max(dt, 1e-9) * 1.2))
    rates = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            sess.run_with_iobinding(io)
        rates.append(2 * n**3 * calls / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates), max(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512, 1024])
    ap.add_argument("--reps", type=int, default=7, help="timed samples per size")
    ap.add_argument("--min-time", type=float, default=0.1, help="seconds per sample")
    ap.add_argument("--const-b", action="store_true", help="B as a constant initializer")
    ap.add_argument("--json", action="store_true", help="print one JSON line per size")
    args = ap.parse_args()

    if not args.json:
        print(f"gemm int8 (u8 x s8 -> s32) onnxruntime {ort.__version__}, "
              f"B {'constant' if args.const_b else 'input'}, threads={args.threads}")
    for n in args.sizes:
        med, best = gops(n, args)
        if args.json:
            print(json.dumps({"workload": "gemm", "peer": "onnxruntime", "dtype": "int8", "n": n,
                              "threads": args.threads, "gops": round(med, 2),
                              "b_const": args.const_b, "version": ort.__version__}))
        else:
            print(f"  n={n:5d}  {med:7.1f} GOPS median  ({best:.1f} best of {args.reps})")


if __name__ == "__main__":
    main()
