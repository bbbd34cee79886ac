#!/usr/bin/env bash
# Fleet benchmark: a Flower SuperLink and the ServerApp (Sources/ForesightFleet/FlowerApp) with
# N foresight learn robots on this machine, each learning its own ego-motion scene live, for
# N = 2, 8 and 32 (or --clients "N M ..."), with float32 and then float16 parameters. Reports
# rounds per minute, bytes per round (per robot, each way, and for the whole fleet), the
# server's peak memory (SuperLink and ServerApp together) and the robots' memory (peak, and at
# 10 s against the end, to see that it stays flat over the rounds).
#
#   Tests/Fleet/bench.sh [--clients "2 8 32"] [--rounds 10] [--local-steps 5] [--binary PATH]
#
# Needs flwr 1.39.0 (python3 -m pip install flwr==1.39.0) and the foresight tool (built with
# `swift build --product foresight` unless --binary names one). On one machine every robot
# shares its cores, so a round waits for the slowest of N learners; on a real fleet each robot
# brings its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
clients="2 8 32"; rounds=10; local_steps=5; binary=""; precisions="float32 float16"
while [ $# -gt 0 ]; do
    case "$1" in
        --clients) clients="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --local-steps) local_steps="$2"; shift 2 ;;
        --binary) binary="$2"; shift 2 ;;
        --precisions) precisions="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$binary" ]; then swift build --product foresight >/dev/null; binary=.build/debug/foresight; fi
python3 -c "import importlib.metadata as m; assert m.version('flwr') == '1.39.0'" 2>/dev/null || { echo "needs flwr 1.39.0: python3 -m pip install flwr==1.39.0" >&2; exit 2; }
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null || true; rm -rf "$work"' EXIT

# Peak resident memory (MiB) of Flower's server processes started by serve.py (pid $1: its
# SuperLink, SuperExec and ServerApp, not the `flwr run` that prints the log), every 0.5 s until it ends.
server_memory() {
    local watched=$1 peak=0 now
    while kill -0 "$watched" 2>/dev/null; do
        now=$(ps -eo pid=,ppid=,rss=,args= | awk -v root="$watched" '
            { parent[$1] = $2; rss[$1] = $3; server[$1] = ($0 ~ /flower-superlink|flower-superexec|flwr-serverapp/) }
            END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root && server[p]) sum += rss[p] }
                  print int(sum / 1024) }')
        [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.5
    done
    echo "$peak"
}

printf "%-8s %-8s %12s %14s %16s %14s %14s %22s\n" robots values rounds/min "robot in/out" "fleet per round" "server peak" "robot peak" "robot at 10 s / end"
for precision in $precisions; do
    for n in $clients; do
        run="$work/$precision-$n"; mkdir -p "$run"
        python3 -u Sources/ForesightFleet/FlowerApp/serve.py --fleet 127.0.0.1:0 --clients "$n" --rounds "$rounds" --local-steps "$local_steps" \
            --round-timeout 300 --result "$run/result.json" < /dev/null > "$run/serve.log" 2>&1 &
        server=$!
        until grep -q "^Fleet API at" "$run/serve.log"; do sleep 0.2; kill -0 $server || { cat "$run/serve.log"; exit 1; }; done
        address=$(sed -n 's/^Fleet API at \([^;]*\);.*/\1/p' "$run/serve.log")
        server_memory $server > "$run/server-memory" &
        sampler=$!
        robots=()
        extra=(); [ "$precision" = float16 ] && extra=(--fleet-float16)
        for i in $(seq 1 "$n"); do
            "$binary" learn --scene ego-motion --seed "$i" --seconds 3600 --replay 64 --fleet "$address" "${extra[@]}" --json \
                < /dev/null > "$run/robot$i.json" 2> "$run/robot$i.err" &
            robots+=($!)
        done
        wait $server || true
        kill -INT "${robots[@]}" 2>/dev/null || true
        wait "${robots[@]}" 2>/dev/null || true
        wait $sampler || true
        python3 - "$run" "$n" "$precision" "$(cat "$run/server-memory")" <<'PY'
import json, pathlib, re, sys
run, n, precision, server_peak = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
log = (run / "serve.log").read_text()
rate = re.search(r"rounds in [\d.]+ s \(([\d.]+) rounds/min\)", log)
units = {"B": 1, "KiB": 1024, "MiB": 1024**2}
ins, outs, peaks, at10, end = [], [], [], [], []
for i in range(1, n + 1):
    text = (run / f"robot{i}.err").read_text()
    found = re.search(r"last round ([\d.]+) (B|KiB|MiB) in, ([\d.]+) (B|KiB|MiB) out", text)
    if found:
        ins.append(float(found[1]) * units[found[2]]); outs.append(float(found[3]) * units[found[4]])
    line = [l for l in (run / f"robot{i}.json").read_text().splitlines() if l.startswith("{")]
    if line:
        summary = json.loads(line[-1])
        peaks.append(summary["peak_rss_mib"]); end.append(summary["rss_mib_at_end"])
        if summary.get("rss_mib_at_10s") is not None: at10.append(summary["rss_mib_at_10s"])
mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
kib = lambda b: f"{b / 1024:.1f}"
print(f"{n:<8} {precision:<8} {rate[1] if rate else 'failed':>12} {kib(mean(ins)) + '/' + kib(mean(outs)) + ' KiB':>14} "
      f"{(sum(ins) + sum(outs)) / 1024**2:>12.2f} MiB {server_peak + ' MiB':>14} {max(peaks, default=float('nan')):>10.1f} MiB "
      f"{mean(at10):>11.1f} / {mean(end):.1f} MiB")
PY
    done
done
