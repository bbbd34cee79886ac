"""pc64 peer: one predictive-coding training step in PyTorch (CPU, eager mode).

Workload "pc64" of shared BENCHMARKS.md: batch 8 of 4 stacked 64x64 frames in [0,1]
(NCHW 8x4x64x64 float32), target 8x1x64x64; conv encoder e1..e3 and nearest-upsample
decoder d1..d2 (all conv 3x3, padding 1, bias); MSE loss; Adam(lr 1e-3, betas
(0.9, 0.999), eps 1e-8). One step = zero_grad + forward + loss + backward + Adam step.

Reports steps/s as the median of --runs runs of --steps steps after --warmup steps,
ms/step (1000 / that median) and the peak resident memory of the process (ru_maxrss).
The same fixed random batch is used for every step (the cost does not depend on it).

    python3 Tests/Peers/pc64_torch.py [--threads N] [--json]
"""
import argparse
import json
import resource
import statistics
import time

import torch
from torch import nn


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def conv(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=True)


def pc64_model():
    return nn.Sequential(
        conv(4, 16, 2), nn.ReLU(),                              # e1 16x32x32
        conv(16, 32, 2), nn.ReLU(),                             # e2 32x16x16
        conv(32, 32), nn.ReLU(),                                # e3 32x16x16
        nn.Upsample(scale_factor=2, mode="nearest"), conv(32, 16), nn.ReLU(),  # d1 16x32x32
        nn.Upsample(scale_factor=2, mode="nearest"), conv(16, 1), nn.Sigmoid(),  # d2 1x64x64
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200, help="steps per timed run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rss_import = peak_rss_mib()  # what importing torch alone costs

    model = pc64_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    x = torch.rand(8, 4, 64, 64)
    y = torch.rand(8, 1, 64, 64)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    first = step().item()
    for _ in range(args.warmup - 1):
        step()
    rates = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        rates.append(args.steps / (time.perf_counter() - t0))
    last = loss.item()
    assert last < first, f"loss did not decrease ({first} -> {last})"

    sps = statistics.median(rates)
    result = {"workload": "pc64", "peer": "pytorch", "threads": args.threads,
              "steps_per_s": round(sps, 2), "ms_per_step": round(1000 / sps, 3),
              "peak_rss_mib": round(peak_rss_mib(), 1),
              "import_rss_mib": round(rss_import, 1), "version": torch.__version__}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"pc64 pytorch {torch.__version__} threads={args.threads}: "
              f"{sps:.1f} steps/s ({1000 / sps:.2f} ms/step; runs "
              f"{', '.join(f'{r:.1f}' for r in rates)}), peak RSS {result['peak_rss_mib']} MiB "
              f"(after import {result['import_rss_mib']} MiB), loss {first:.4f} -> {last:.4f}")


if __name__ == "__main__":
    main()
