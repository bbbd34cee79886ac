// The scalar int8 tile (the C reference every SIMD tile is held to), the shared store step and
// run-time CPU feature detection. Not a fast path: the SIMD tiles are in qtile_x86.c / qtile_arm.c.

#include "CKernels.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

int32_t fs_cpu_features(void) {
    int32_t features = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) features |= FS_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) {
        features |= FS_CPU_AVX512_VNNI;
    }
#elif defined(__aarch64__)
    features |= FS_CPU_NEON; /* NEON is part of the aarch64 baseline */
#if defined(__linux__)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) features |= FS_CPU_NEON_DOTPROD;
#endif
#endif
    return features;
}

void fs_qtile_store(const fs_qtile *t, const int32_t *sums) {
    for (int32_t i = 0; i < t->rows; i++) {
        const int32_t *row = sums + i * 32;
        if (t->c) {
            int32_t *c = t->c + i * t->ldc;
            for (int32_t j = 0; j < t->columns; j++) {
                /* int32 wraps like the vector instructions; unsigned arithmetic keeps C defined */
                c[j] = t->accumulate ? (int32_t)((uint32_t)c[j] + (uint32_t)row[j]) : row[j];
            }
        } else {
            uint8_t *out = t->out + i * t->out_row_stride;
            for (int32_t j = 0; j < t->columns; j++) {
                out[j] = (uint8_t)fs_requantize(row[j], t->bias[j], t->multiplier[j], t->shift[j],
                                                t->zero_point, t->qmin, t->qmax);
            }
        }
    }
}

void fs_qtile_scalar(const fs_qtile *t) {
    uint32_t sums[FS_QTILE_ROWS * 32] = {0};
    for (int32_t i = 0; i < FS_QTILE_ROWS; i++) {
        const uint8_t *row = t->a + (i < t->rows ? i : t->rows - 1) * t->a_row_stride;
        for (int32_t q = 0; q < t->quads; q++) {
            const uint8_t *x = row + t->quad_offsets[q];
            for (int32_t p = 0; p < t->panels; p++) {
                const int8_t *w = t->b + ((ptrdiff_t)p * t->quads + q) * 64;
                for (int32_t j = 0; j < 16; j++) {
                    int32_t s = x[0] * w[4 * j] + x[1] * w[4 * j + 1] + x[2] * w[4 * j + 2] + x[3] * w[4 * j + 3];
                    sums[i * 32 + p * 16 + j] += (uint32_t)s;
                }
            }
        }
    }
    fs_qtile_store(t, (const int32_t *)sums);
}
