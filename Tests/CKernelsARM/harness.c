// Holds every int8 tile this CPU can run to the scalar C tile, bit for bit, on random tiles
// (partial rows and columns, 1 or 2 panels, scattered quad offsets, int32 and requantized
// output, extreme values). Built by run.sh for aarch64 and run under qemu-user; also builds
// natively. Not the Swift tests: those hold the Swift twin and the dispatch to the same rules.

#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 88172645463325252ull;
static uint32_t next(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return (uint32_t)state; }

typedef void (*tile_fn)(const fs_qtile *);

int main(void) {
    int32_t features = fs_cpu_features();
    struct { const char *name; tile_fn fn; int32_t need; } paths[] = {
        {"neon", fs_qtile_neon, FS_CPU_NEON},
        {"neondot", fs_qtile_neondot, FS_CPU_NEON_DOTPROD},
        {"avx2", fs_qtile_avx2, FS_CPU_AVX2},
        {"avx512vnni", fs_qtile_avx512vnni, FS_CPU_AVX512_VNNI},
    };
    int passed = 0, failed = 0, ran = 0;
    enum { ROW_BYTES = 4096, MAX_QUADS = 300 };
    static uint8_t a[8 * ROW_BYTES];
    static int8_t b[2 * MAX_QUADS * 64];
    static int32_t offsets[MAX_QUADS], bias[32], multiplier[32], shift[32];
    static int32_t c_ref[8 * 40], c_fast[8 * 40];
    static uint8_t out_ref[8 * 40], out_fast[8 * 40];
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        if (!(features & paths[p].need)) { printf("skip %s (not on this CPU)\n", paths[p].name); continue; }
        ran++;
        int path_failures = 0;
        for (int trial = 0; trial < 400; trial++) {
            int extreme = trial % 4 == 0;
            for (size_t i = 0; i < sizeof a; i++) a[i] = extreme ? (next() & 1 ? 255 : 0) : (uint8_t)next();
            for (size_t i = 0; i < sizeof b; i++) b[i] = extreme ? (next() & 1 ? 127 : -128) : (int8_t)next();
            fs_qtile t;
            memset(&t, 0, sizeof t);
            t.quads = 1 + (int32_t)(next() % (trial % 10 == 0 ? MAX_QUADS : 40));
            for (int32_t q = 0; q < t.quads; q++) offsets[q] = (int32_t)(next() % (ROW_BYTES / 2 - 4));
            t.a = a; t.a_row_stride = ROW_BYTES / 2 + (next() % 64); t.quad_offsets = offsets;
            t.rows = 1 + (int32_t)(next() % 8); t.b = b; t.panels = 1 + (int32_t)(next() % 2);
            t.columns = 1 + (int32_t)(next() % (16 * t.panels));
            for (int j = 0; j < 32; j++) {
                bias[j] = (int32_t)next() >> (next() % 32);
                multiplier[j] = (int32_t)(next() >> 1);
                shift[j] = (int32_t)(next() % 62) - 30;
            }
            t.bias = bias; t.multiplier = multiplier; t.shift = shift;
            t.zero_point = (int32_t)(next() % 256); t.qmin = (int32_t)(next() % 64); t.qmax = 192 + (int32_t)(next() % 64);
            int requantized = next() & 1;
            t.accumulate = (int32_t)(next() & 1);
            for (int i = 0; i < 8 * 40; i++) c_ref[i] = c_fast[i] = (int32_t)next();
            memset(out_ref, 7, sizeof out_ref); memset(out_fast, 7, sizeof out_fast);
            fs_qtile ref = t, fast = t;
            if (requantized) { ref.out = out_ref; fast.out = out_fast; ref.out_row_stride = fast.out_row_stride = 40; }
            else { ref.c = c_ref; fast.c = c_fast; ref.ldc = fast.ldc = 40; }
            fs_qtile_scalar(&ref);
            paths[p].fn(&fast);
            int same = memcmp(c_ref, c_fast, sizeof c_ref) == 0 && memcmp(out_ref, out_fast, sizeof out_ref) == 0;
            if (same) { passed++; } else {
                failed++;
                if (path_failures++ < 3) {
                    printf("FAIL %s trial %d: rows %d panels %d columns %d quads %d %s\n", paths[p].name, trial,
                           t.rows, t.panels, t.columns, t.quads, requantized ? "uint8" : "int32");
                }
            }
        }
        printf("%s: %d failures in 400 tiles\n", paths[p].name, path_failures);
    }
    if (ran == 0) { printf("no SIMD tile on this CPU\n"); }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && ran > 0 ? 0 : 1;
}
