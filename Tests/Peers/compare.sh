#!/usr/bin/env bash
# Runs Foresight's benchmarks and the peers' in one run on this machine and prints the ratios
# that the README quotes. Not part of CI (it needs PyTorch, ONNX Runtime and an idle machine).
#   Tests/Peers/compare.sh            # pc64 at 1 and 2 threads, float32 and int8 gemm, enc
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product foresight >/dev/null
bin=.build/release/foresight
out=$(mktemp -d)
for threads in 1 2; do
    $bin bench pc64 --threads "$threads" --json >"$out/pc64-$threads.json"
    python3 Tests/Peers/pc64_torch.py --threads "$threads" --json >"$out/torch-$threads.json"
done
$bin bench gemm --json >"$out/gemm.json"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Tests/Peers/gemm_numpy.py --json >"$out/numpy.json"
python3 Tests/Peers/gemm_onnxruntime.py --json >"$out/ort-gemm.json"
FORESIGHT_ENC_EXPORT="$out/enc" $bin bench enc --json >"$out/enc.json"
python3 Tests/Peers/enc_peers.py "$out/enc" --json >"$out/enc-peers.json"
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
def lines(name): return [json.loads(l) for l in (out / name).read_text().splitlines() if l.strip().startswith("{")]
print("pc64 training step (batch 8, 64x64):")
print("  threads  foresight ms  pytorch ms  speed-up  foresight MiB  pytorch MiB  allocs/step")
one = None
for t in (1, 2):
    f, p = lines(f"pc64-{t}.json")[0], lines(f"torch-{t}.json")[0]
    one = one or f
    print(f"  {t:7d}  {f['ms_per_step']:12.2f}  {p['ms_per_step']:10.2f}  {p['ms_per_step']/f['ms_per_step']:7.2f}x"
          f"  {f['peak_rss_mib']:13.1f}  {p['peak_rss_mib']:11.1f}  {f['allocs_per_step']:11.0f}")
two = lines("pc64-2.json")[0]
print(f"  foresight 2-thread scaling: {one['ms_per_step']/two['ms_per_step']:.2f}x")
print("gemm float32, 1 thread (GFLOP/s):")
numpy = {r["n"]: r["gops"] for r in lines("numpy.json")}
for r in lines("gemm.json"):
    if r.get("dtype") != "float32": continue
    print(f"  n={r['n']:5d}  foresight {r['gops']:7.1f}  numpy {numpy[r['n']]:7.1f}  ratio {r['gops']/numpy[r['n']]:.2f}")
print("gemm int8, 1 thread (GOPS):")
ort = {r["n"]: r["gops"] for r in lines("ort-gemm.json")}
for r in lines("gemm.json"):
    if r.get("dtype") != "int8" or r["n"] not in ort: continue
    print(f"  n={r['n']:5d}  foresight {r['gops']:7.1f}  onnxruntime {ort[r['n']]:7.1f}  ratio {r['gops']/ort[r['n']]:.2f}")
print("enc, 1x4x64x64, 1 thread (p50 us):")
for r in lines("enc.json"):
    peers = [p for p in lines("enc-peers.json") if p.get("dtype") == r["dtype"]]
    print(f"  {r['dtype']:8s} foresight {r['p50_us']:8.1f}  " + "  ".join(f"{p.get('peer', '?')} {p['p50_us']:8.1f}" for p in peers))
PY
