#!/usr/bin/env python3
# CI cross-check of encoder export: ONNX Runtime runs the exported ONNX on the inputs that
# `foresight embed --save-inputs` wrote and must match embed's output (float32: 1e-4 relative;
# int8 QDQ: within one output quantization step on at least 99% of the elements).
"""Cross-check `foresight export`/`embed` against ONNX Runtime and the safetensors package.

End to end with the foresight binary: a short `learn` run writes a checkpoint, `export
--encoder --onnx` writes the encoder file and ONNX, `inspect` reads it back, and `embed`
runs it on a generated Y4M video, an image folder and single image files, saving its inputs.
Then:
  - onnx.checker accepts the ONNX model (full check, with shape inference);
  - ONNX Runtime on the saved inputs equals embed's output: per frame, max |ort - ours| /
    max |ort| <= 1e-4;
  - the `safetensors` package opens the encoder file and its tensors equal the ONNX
    initializers bit for bit.
The same for the int8 export (`export --int8 --calibrate CLIP.y4m --onnx`, QDQ form): the
checker accepts it, ONNX Runtime's output is within one quantization step of the output scale
(+1e-6 relative) of `embed` of the int8 file on at least 99% of the elements, the int8 file
is at most 30% of the float32 file, and safetensors reads its int8 codes (I8), int32 biases and
scales equal to the ONNX initializers.

    python3 Tests/Peers/check_onnx.py --foresight .build/debug/foresight
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

TOLERANCE = 1e-4
INT8_FRACTION = 0.99


def run(args):
    print("+ " + " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stdout.write(result.stderr)
        raise SystemExit(f"command failed with exit code {result.returncode}")
    return result.stdout


def moving_frames(count, height, width, seed):
    """Smooth moving blobs and stripes in 0..255 (uint8), [count, height, width]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    centres = rng.uniform(0, 1, size=(3, 2)) * [height, width]
    speeds = rng.uniform(-3, 3, size=(3, 2))
    frames = []
    for t in range(count):
        image = 0.3 + 0.2 * np.sin((x + 2 * t) / 7.0) * np.cos(y / 9.0)
        for (cy, cx), (vy, vx) in zip(centres, speeds):
            image += 0.5 * np.exp(-(((y - cy - vy * t) ** 2 + (x - cx - vx * t) ** 2) / 60.0))
        frames.append(np.clip(image * 255, 0, 255).astype(np.uint8))
    return np.stack(frames)


def write_y4m(path, frames):
    """A 4:2:0 (420jpeg) Y4M file with neutral chroma."""
    count, height, width = frames.shape
    chroma = np.full(((height + 1) // 2) * ((width + 1) // 2), 128, np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)


def write_pnm(path, pixels):
    """Binary PGM ([h, w]) or PPM ([h, w, 3])."""
    magic = b"P5" if pixels.ndim == 2 else b"P6"
    with open(path, "wb") as f:
        f.write(magic + f"\n{pixels.shape[1]} {pixels.shape[0]}\n255\n".encode() + pixels.astype(np.uint8).tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--foresight", default=".build/debug/foresight", help="the foresight binary")
    ap.add_argument("--work", type=pathlib.Path, help="folder for the files, kept (default: a temporary one, removed)")
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    started = time.time()
    work = args.work or pathlib.Path(tempfile.mkdtemp(prefix="foresight-onnx-"))
    work.mkdir(parents=True, exist_ok=True)
    exe = pathlib.Path(args.foresight).resolve()

    checkpoint, encoder, onnx_path = work / "live.safetensors", work / "encoder.safetensors", work / "encoder.onnx"
    run([exe, "learn", "--scene", "moving-shapes", "--as-fast-as-possible", "--frames", "40", "--checkpoint", checkpoint])
    run([exe, "export", checkpoint, "--encoder", "--onnx", onnx_path, "-o", encoder])
    inspected = run([exe, "inspect", encoder])
    assert "pc64-encoder" in inspected and "checksum" in inspected, inspected

    # Inputs: a 96x80 video (area-resized to 64x64), a folder of 64x64 grey images, and two
    # single files (a 128x128 colour PPM and a 50x70 PGM).
    video = work / "clip.y4m"
    write_y4m(video, moving_frames(9, 80, 96, seed=1))
    folder = work / "images"
    folder.mkdir(exist_ok=True)
    for index, frame in enumerate(moving_frames(5, 64, 64, seed=2)):
        write_pnm(folder / f"frame{index:03d}.pgm", frame)
    colour = np.stack([moving_frames(1, 128, 128, seed=s)[0] for s in (3, 4, 5)], axis=-1)
    write_pnm(work / "colour.ppm", colour)
    write_pnm(work / "small.pgm", moving_frames(1, 50, 70, seed=6)[0])
    outputs, inputs = work / "out.npy", work / "in.npy"
    run([exe, "embed", encoder, video, folder, work / "colour.ppm", work / "small.pgm",
         "-o", outputs, "--save-inputs", inputs, "--threads", "2", "--batch", "4"])

    x = np.load(inputs)
    ours = np.load(outputs)
    frames = 9 + 5 + 2
    assert x.dtype == np.float32 and x.shape == (frames, 4, 64, 64), (x.dtype, x.shape)
    assert ours.dtype == np.float32 and ours.shape == (frames, 32 * 16 * 16), (ours.dtype, ours.shape)
    assert 0 <= x.min() and x.max() <= 1, (x.min(), x.max())

    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model, full_check=True)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    reference = session.run(["embedding"], {"frames": x})[0].reshape(frames, -1)
    per_frame = np.max(np.abs(reference - ours), axis=1) / np.maximum(np.max(np.abs(reference), axis=1), 1e-12)
    worst = float(per_frame.max())
    nonzero = float(np.mean(reference > 0))

    tensors = load_file(str(encoder))
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert set(tensors) == set(initializers), (sorted(tensors), sorted(initializers))
    for name, value in tensors.items():
        assert value.dtype == np.float32 and np.array_equal(value, initializers[name]), name

    int8_result = check_int8(exe, work, checkpoint, encoder, video, folder, ort, onnx, numpy_helper, load_file)

    result = {"check": "onnx-float32", "frames": frames, "max_rel_diff_vs_foresight": worst, "tolerance": TOLERANCE,
              "nonzero_fraction": round(nonzero, 3), "onnxruntime": ort.__version__, "onnx": onnx.__version__,
              "safetensors_tensors": len(tensors), "seconds": round(time.time() - started, 1)}
    print(json.dumps(result))
    if args.work is None:
        shutil.rmtree(work)
    if not worst <= TOLERANCE:
        raise SystemExit(f"ONNX Runtime and foresight embed differ: {worst:.3g} > {TOLERANCE} relative")
    if nonzero < 0.05:
        raise SystemExit(f"only {nonzero:.1%} of the embedding is non-zero: the comparison tests too little")
    if int8_result["within_one_step"] < INT8_FRACTION:
        raise SystemExit(f"int8: only {int8_result['within_one_step']:.2%} of the elements are within one quantization step")
    if int8_result["size_ratio"] > 0.30:
        raise SystemExit(f"int8: the int8 file is {int8_result['size_ratio']:.1%} of the float32 file (at most 30%)")
    if int8_result["nonzero_fraction"] < 0.05:
        raise SystemExit(f"int8: only {int8_result['nonzero_fraction']:.1%} of the embedding is non-zero: the comparison tests too little")
    print("check_onnx: 2 passed, 0 failed")


def check_int8(exe, work, checkpoint, float_encoder, video, folder, ort, onnx, numpy_helper, load_file):
    """Exports the int8 encoder (QDQ ONNX too), embeds with it and compares with ONNX Runtime."""
    encoder, onnx_path = work / "encoder-int8.safetensors", work / "encoder-int8.onnx"
    run([exe, "export", checkpoint, "--encoder", "--int8", "--calibrate", video, "--calibration-method", "percentile:99.99",
         "--onnx", onnx_path, "-o", encoder])
    inspected = run([exe, "inspect", encoder])
    assert "pc64-encoder-int8" in inspected and "encoder: complete" in inspected, inspected
    outputs, inputs = work / "out-int8.npy", work / "in-int8.npy"
    run([exe, "embed", encoder, video, folder, "-o", outputs, "--save-inputs", inputs, "--threads", "2", "--batch", "3"])
    x = np.load(inputs)
    ours = np.load(outputs)
    frames = x.shape[0]
    assert x.dtype == np.float32 and x.shape == (frames, 4, 64, 64), (x.dtype, x.shape)
    assert ours.shape == (frames, 32 * 16 * 16), ours.shape

    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model, full_check=True)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("QuantizeLinear") == 4 and ops.count("Conv") == 3, ops
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    reference = session.run(["embedding"], {"frames": x})[0].reshape(frames, -1)

    tensors = load_file(str(encoder))
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    expected_types = {"weight": np.int8, "bias": np.int32, "weight_scale": np.float32, "output_scale": np.float32,
                      "output_zero_point": np.uint8, "scale": np.float32, "zero_point": np.uint8}
    for name, value in tensors.items():
        kind = name.split(".", 1)[1]
        assert value.dtype == expected_types[kind], (name, value.dtype)
        assert np.array_equal(value.reshape(-1), initializers[name].reshape(-1)), name
    step = float(tensors["e3.output_scale"][0])
    difference = np.abs(reference - ours)
    within = float(np.mean(difference <= step * (1 + 1e-6) + 1e-6 * np.abs(reference)))
    size_ratio = float_encoder.stat().st_size and encoder.stat().st_size / float_encoder.stat().st_size
    result = {"check": "onnx-int8-qdq", "frames": frames, "within_one_step": within, "required": INT8_FRACTION,
              "max_diff_steps": float(difference.max() / step), "exact_fraction": float(np.mean(difference == 0)),
              "output_step": step, "size_ratio": round(size_ratio, 4), "int8_bytes": encoder.stat().st_size,
              "float32_bytes": float_encoder.stat().st_size, "nonzero_fraction": round(float(np.mean(reference > 0)), 3),
              "safetensors_tensors": len(tensors)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
