#!/usr/bin/env bash
# Cross-compiles the int8 tiles of Sources/CKernels for aarch64 with Debian's gcc and runs the
# harness under qemu-user twice: as a Cortex-A72 (NEON only, Raspberry Pi 4) and as a CPU with
# the dot-product instructions (Cortex-A76, Raspberry Pi 5). Needs gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user (or qemu-user-static).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -O2 -Wall -Wextra -static -I"$root/Sources/CKernels/include" \
    "$root"/Sources/CKernels/*.c "$here/harness.c" -o "$out/harness"
qemu=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)
echo "== Cortex-A72 (NEON)"
"$qemu" -cpu cortex-a72 "$out/harness"
echo "== Cortex-A76 (NEON + dot product)"
"$qemu" -cpu cortex-a76 "$out/harness"
