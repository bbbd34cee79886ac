#!/bin/bash
# Coverage-guided fuzzing of every parser of outside data and of the command line's options
# (Sources/ForesightFuzz) with libFuzzer and AddressSanitizer. Each target starts from its seed
# corpus in Tests/Fuzz/corpus/TARGET (real files of each format, real command lines, one
# argument per line) plus what earlier runs found (in $FUZZ_WORK, not committed), and
# runs for a time or a count of inputs. A hang is an input that takes over 1 s; an out-of-memory
# is one allocation over 256 MiB or the process over 2 GiB (AddressSanitizer's own overhead
# included). A crashing input is written to $FUZZ_WORK/crash-TARGET-*: copy it into the
# target's corpus folder, where every later run and CI replay it.
#
#   Tests/Fuzz/fuzz.sh                      # every target, 20 s each (CI runs 10 s each)
#   Tests/Fuzz/fuzz.sh --runs 1000000 wav   # one target, a million inputs
#   Tests/Fuzz/fuzz.sh --seconds 600
#   Tests/Fuzz/fuzz.sh --runs 1000000 --seconds 1800 options   # whichever comes first
#   Tests/Fuzz/fuzz.sh --release --runs 1000000 options   # optimised (the command line is slow in debug)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="" runs="" configuration=debug
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --release) configuration=release; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
all=(y4m wav pnm png modelfile profile int8model options actions mcap)
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
work="${FUZZ_WORK:-/tmp/foresight-fuzz}"
mkdir -p "$work"

# The C targets get AddressSanitizer too: the int8 kernels are checked, and the allocation
# counter (linked in with the command line) leaves malloc to the sanitizer.
swift build -c "$configuration" --product foresight-fuzz --build-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xcc -fsanitize=address 2>&1 | grep -v "Cannot export local symbol" | tail -1
binary=.build-fuzz/$configuration/foresight-fuzz

failed=0
for target in "${targets[@]}"; do
    [ -d "Tests/Fuzz/corpus/$target" ] || { echo "fuzz.sh: no target $target (targets: ${all[*]})" >&2; exit 2; }
    mkdir -p "$work/$target"
    # --runs alone: no time limit; --seconds alone or neither: that time (20 s by default).
    limit=()
    [ -n "$runs" ] && limit+=(-runs="$runs")
    [ -n "$seconds" ] || [ -z "$runs" ] && limit+=(-max_total_time="${seconds:-20}")
    log="$work/$target.log"
    set +e
    ASAN_OPTIONS=detect_leaks=0 FORESIGHT_FUZZ_TARGET="$target" "$binary" "$work/$target" "Tests/Fuzz/corpus/$target" \
        "${limit[@]}" -timeout=1 -malloc_limit_mb=256 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/crash-$target-" > "$log" 2>&1
    status=$?
    set -e
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    findings=$(grep -cE 'ERROR: (libFuzzer|AddressSanitizer)|SUMMARY: libFuzzer' "$log" || true)
    echo "{\"target\": \"$target\", \"executions\": ${executions:-0}, \"coverage\": ${coverage:-0}, \"findings\": $findings, \"exit\": $status}"
    if [ $status -ne 0 ] || [ "$findings" -ne 0 ]; then
        failed=1
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 >&2
    fi
done
exit $failed
