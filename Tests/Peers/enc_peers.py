"""enc peers: the pc64 encoder (e1..e3) on one 1x4x64x64 input with ONNX Runtime (float32 and
QDQ int8) and PyTorch (float32), 1 thread, p50/p99 latency over 500 runs after 50 warm-up.

Workload "enc" of shared BENCHMARKS.md. Foresight writes the encoder's weights, the input, the
calibration clips, its int8 quantization parameters (per-tensor uint8 activations, per-channel
int8 weight scales) and its own outputs with

    FORESIGHT_ENC_EXPORT=/tmp/enc swift run -c release foresight bench enc

and this script builds the same encoder as ONNX with the onnx helper API (the project's own
exporter comes later): float32 Conv/Relu, and QDQ int8 with Foresight's scales (ONNX Runtime
fuses it into QLinearConv). It checks agreement with Foresight's outputs (float32 within 1e-4
relative, int8 within one output step on >= 99% of elements) and prints the latencies.

    python3 Tests/Peers/enc_peers.py /tmp/enc [--json]
"""
import argparse
import json
import pathlib
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

LAYERS = [("e1", 4, 16, 2), ("e2", 16, 32, 2), ("e3", 32, 32, 1)]  # name, in, out, stride


def load(folder, name, shape=None):
    values = np.fromfile(folder / f"{name}.f32", dtype="<f4")
    return values.reshape(shape) if shape else values


def float_model(w):
    nodes, inits, x = [], [], "x"
    for name, cin, cout, stride in LAYERS:
        inits += [numpy_helper.from_array(w[name + ".weight"], name + ".weight"),
                  numpy_helper.from_array(w[name + ".bias"], name + ".bias")]
        nodes.append(helper.make_node("Conv", [x, name + ".weight", name + ".bias"], [name], kernel_shape=[3, 3],
                                      strides=[stride, stride], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [name], [name + ".relu"]))
        x = name + ".relu"
    return finish(nodes, inits, x, "enc_fp32")


def qdq_model(w, manifest):
    """Quantize -> (DQ -> Conv -> Relu -> Q) x 3 -> DQ, with Foresight's parameters."""
    q_in = manifest["input_quantization"]
    nodes, inits = [], []
    def scalar(name, value, dtype):
        inits.append(numpy_helper.from_array(np.array(value, dtype=dtype), name))
    scalar("x.scale", q_in["scale"], np.float32)
    scalar("x.zero", q_in["zero_point"], np.uint8)
    nodes.append(helper.make_node("QuantizeLinear", ["x", "x.scale", "x.zero"], ["x.q"]))
    x, x_scale = "x.q", q_in["scale"]
    for (name, cin, cout, stride), layer in zip(LAYERS, manifest["layers"]):
        weight, bias = w[name + ".weight"], w[name + ".bias"]
        scales = np.array(layer["weight_scales"], dtype=np.float32)
        codes = np.clip(np.rint(weight / scales[:, None, None, None]), -127, 127).astype(np.int8)
        bias_scale = (np.float32(x_scale) * scales).astype(np.float32)
        bias_codes = np.round(bias / bias_scale).astype(np.int32)
        inits += [numpy_helper.from_array(codes, name + ".wq"), numpy_helper.from_array(scales, name + ".ws"),
                  numpy_helper.from_array(np.zeros(cout, np.int8), name + ".wz"),
                  numpy_helper.from_array(bias_codes, name + ".bq"), numpy_helper.from_array(bias_scale, name + ".bs"),
                  numpy_helper.from_array(np.zeros(cout, np.int32), name + ".bz")]
        scalar(name + ".in.scale", x_scale, np.float32)
        scalar(name + ".in.zero", manifest["input_quantization"]["zero_point"] if name == "e1" else prev_zero, np.uint8)
        nodes += [
            helper.make_node("DequantizeLinear", [x, name + ".in.scale", name + ".in.zero"], [name + ".x"]),
            helper.make_node("DequantizeLinear", [name + ".wq", name + ".ws", name + ".wz"], [name + ".w"], axis=0),
            helper.make_node("DequantizeLinear", [name + ".bq", name + ".bs", name + ".bz"], [name + ".b"], axis=0),
            helper.make_node("Conv", [name + ".x", name + ".w", name + ".b"], [name], kernel_shape=[3, 3],
                             strides=[stride, stride], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [name], [name + ".relu"]),
        ]
        scalar(name + ".out.scale", layer["scale"], np.float32)
        scalar(name + ".out.zero", layer["zero_point"], np.uint8)
        nodes.append(helper.make_node("QuantizeLinear", [name + ".relu", name + ".out.scale", name + ".out.zero"], [name + ".q"]))
        x, x_scale, prev_zero = name + ".q", layer["scale"], layer["zero_point"]
    nodes.append(helper.make_node("DequantizeLinear", [x, LAYERS[-1][0] + ".out.scale", LAYERS[-1][0] + ".out.zero"], ["y"]))
    return finish(nodes, inits, "y", "enc_qdq")


def finish(nodes, inits, output, name):
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 64, 64])],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, 32, 16, 16])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def latency(call, warmup=50, runs=500):
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return samples[runs // 2 - 1], samples[int(runs * 0.99) - 1]


def ort_session(model, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def run_ort(model, x, threads):
    session = ort_session(model, threads)
    y = np.empty((1, 32, 16, 16), dtype=np.float32)
    binding = session.io_binding()
    binding.bind_cpu_input("x", x)
    binding.bind_ortvalue_output(session.get_outputs()[0].name, ort.OrtValue.ortvalue_from_numpy(y))
    session.run_with_iobinding(binding)
    return y.copy(), latency(lambda: session.run_with_iobinding(binding))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", type=pathlib.Path, help="folder written by FORESIGHT_ENC_EXPORT")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    folder = args.export
    manifest = json.loads((folder / "manifest.json").read_text())
    w = {}
    for name, cin, cout, _ in LAYERS:
        w[name + ".weight"] = load(folder, name + ".weight", (cout, cin, 3, 3))
        w[name + ".bias"] = load(folder, name + ".bias")
    x = load(folder, "input", (1, 4, 64, 64))
    ours_fp32 = load(folder, "output_float32", (1, 32, 16, 16))
    ours_int8 = load(folder, "output_int8", (1, 32, 16, 16))
    step = manifest["layers"][-1]["scale"]

    rows = []
    y, (p50, p99) = run_ort(float_model(w), x, args.threads)
    error = float(np.max(np.abs(y - ours_fp32)) / max(np.max(np.abs(y)), 1e-12))
    rows.append(("onnxruntime", "float32", p50, p99, {"max_rel_diff_vs_foresight": error, "agrees": error <= 1e-4}))
    y, (p50, p99) = run_ort(qdq_model(w, manifest), x, args.threads)
    within = float(np.mean(np.abs(y - ours_int8) <= step * 1.0001))
    rows.append(("onnxruntime", "int8", p50, p99, {"within_one_step_vs_foresight": within, "agrees": within >= 0.99}))
    if not args.no_torch:
        import torch
        torch.set_num_threads(args.threads)
        tw = {k: torch.from_numpy(v) for k, v in w.items()}
        tx = torch.from_numpy(x)
        def forward():
            h = tx
            for name, _, _, stride in LAYERS:
                h = torch.relu(torch.nn.functional.conv2d(h, tw[name + ".weight"], tw[name + ".bias"], stride=stride, padding=1))
            return h
        with torch.inference_mode():
            y = forward().numpy()
            p50, p99 = latency(forward)
        error = float(np.max(np.abs(y - ours_fp32)) / max(np.max(np.abs(y)), 1e-12))
        rows.append(("pytorch", "float32", p50, p99, {"max_rel_diff_vs_foresight": error, "agrees": error <= 1e-4,
                                                     "version": torch.__version__}))
    if not args.json:
        print(f"enc peers (pc64 encoder, 1x4x64x64), threads={args.threads}, onnxruntime {ort.__version__}")
    for peer, dtype, p50, p99, extra in rows:
        if args.json:
            print(json.dumps({"workload": "enc", "peer": peer, "dtype": dtype, "threads": args.threads,
                              "p50_us": round(p50, 2), "p99_us": round(p99, 2), **extra}))
        else:
            print(f"  {peer:12s} {dtype:8s} p50 {p50:7.1f} us  p99 {p99:7.1f} us  {extra}")


if __name__ == "__main__":
    main()
