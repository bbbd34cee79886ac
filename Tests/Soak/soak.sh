#!/usr/bin/env bash
# Soak: live learning for a long time (default an hour) on the built-in scene in real time, its
# resident memory sampled every 10 s from /proc and its progress lines kept. Passes when, after
# the first minute, the resident memory stays within 1 MiB (highest minus lowest sample) and
# the prediction ratio (model MSE / copy-last MSE) of the last fifth of the run is no higher
# than that of the fifth after the first minute, plus 0.02. Prints one JSON line; the samples
# go to $SOAK_WORK (default /tmp/foresight-soak) as rss.csv and progress.txt.
#
#   Tests/Soak/soak.sh                          # an hour, the release build
#   Tests/Soak/soak.sh --minutes 3 --binary .build/debug/foresight   # the CI form
#   Tests/Soak/soak.sh --minutes 60 --threads 1 -- --scene moving-shapes   # learn options after --
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=60 binary="" threads=2 extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --binary) binary="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "soak.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$minutes" in ''|*[!0-9]*) echo "soak.sh: --minutes takes a whole number of minutes above 1 (got $minutes)" >&2; exit 2 ;; esac
[ "$minutes" -ge 2 ] || { echo "soak.sh: --minutes must be at least 2: the first minute is warm-up" >&2; exit 2; }
if [ -z "$binary" ]; then
    swift build -c release --product foresight >/dev/null
    binary=.build/release/foresight
fi
[ -x "$binary" ] || { echo "soak.sh: no program at $binary" >&2; exit 2; }
work="${SOAK_WORK:-/tmp/foresight-soak}"
mkdir -p "$work"
seconds=$((minutes * 60))

"$binary" learn --seconds "$seconds" --threads "$threads" --checkpoint "$work/soak.safetensors" "${extra[@]}" >"$work/progress.txt" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
echo "seconds,rss_kib" >"$work/rss.csv"
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss" >>"$work/rss.csv"
    # Sleep 10 s, but notice the end of the run within a second.
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
done
set +e
wait "$pid"
status=$?
set -e
trap - EXIT

python3 - "$work" "$status" "$minutes" <<'PY'
import json, pathlib, re, sys
work, status, minutes = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
samples = [tuple(map(int, line.split(","))) for line in (work / "rss.csv").read_text().splitlines()[1:] if line]
settled = [rss for seconds, rss in samples if seconds >= 60]
progress = []  # (seconds, ratio) from the progress lines: time frames dropped steps model copy-last ratio
for line in (work / "progress.txt").read_text().splitlines():
    m = re.match(r"^\s*(\d+)s\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$", line)
    if m: progress.append((int(m.group(1)), float(m.group(7)), int(m.group(3))))
after = [(s, r) for s, r, _ in progress if s >= 60]
fifth = max(1, len(after) // 5)
early = sum(r for _, r in after[:fifth]) / fifth if after else float("nan")
late = sum(r for _, r in after[-fifth:]) / fifth if after else float("nan")
spread = (max(settled) - min(settled)) / 1024 if settled else float("nan")
done = [l for l in (work / "progress.txt").read_text().splitlines() if l.startswith("done:")]
checks = {
    "run ended well": status == 0 and bool(done),
    "memory flat within 1 MiB after the first minute": bool(settled) and spread <= 1.0,
    "prediction ratio did not drift upward": bool(after) and late <= early + 0.02,
}
report = {
    "minutes": minutes, "exit": status, "rss_samples": len(samples),
    "rss_mib_first_minute_end": round(settled[0] / 1024, 2) if settled else None,
    "rss_mib_end": round(samples[-1][1] / 1024, 2) if samples else None,
    "rss_spread_mib_after_first_minute": round(spread, 3),
    "ratio_after_first_minute": round(early, 4), "ratio_last_fifth": round(late, 4),
    "dropped_frames": progress[-1][2] if progress else None,
    "failed": [name for name, ok in checks.items() if not ok],
}
print(json.dumps(report))
if done: print(done[-1], file=sys.stderr)
sys.exit(0 if all(checks.values()) else 1)
PY
