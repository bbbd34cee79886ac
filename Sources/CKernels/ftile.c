// float32 implicit-GEMM tiles for NHWC inference: the scalar reference (fmaf in k order) and the
// AVX-512 tile (the same fused multiply-adds per lane, so the results are bit-identical). Not
// the training convolutions (ForesightCore/Kernels, Swift); these serve encoder inference.

#include "CKernels.h"
#include <math.h>
#include <stdlib.h>

static inline void fs_ftile_store_value(const fs_ftile *t, int32_t i, int32_t j, float value) {
    float *target = t->c + i * t->ldc + j;
    if (t->accumulate) value = *target + value;
    if (t->bias) value = value + t->bias[j];
    if (t->relu && !(value > 0.0f)) value = 0.0f;
    *target = value;
}

void fs_ftile_scalar(const fs_ftile *t) {
    for (int32_t i = 0; i < t->rows; i++) {
        const float *row = t->a + i * t->a_row_stride;
        for (int32_t j = 0; j < t->columns; j++) {
            const float *w = t->b + (ptrdiff_t)(j / 16) * t->depth * 16 + (j % 16);
            float sum = 0.0f;
            for (int32_t k = 0; k < t->depth; k++) sum = fmaf(row[t->k_offsets[k]], w[16 * k], sum);
            fs_ftile_store_value(t, i, j, sum);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define FS_AVX512F __attribute__((target("avx512f")))

FS_AVX512F static inline void fs_ftile_store512(const fs_ftile *t, int32_t row, int32_t panel, __m512 sums) {
    int32_t first = panel * 16, count = t->columns - first;
    if (count <= 0) return;
    __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    float *c = t->c + row * t->ldc + first;
    if (t->accumulate) sums = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, c), sums);
    if (t->bias) sums = _mm512_add_ps(sums, _mm512_maskz_loadu_ps(mask, t->bias + first));
    if (t->relu) sums = _mm512_max_ps(sums, _mm512_setzero_ps()); /* max(x, 0): NaN becomes 0, as the scalar path */
    _mm512_mask_storeu_ps(c, mask, sums);
}

FS_AVX512F void fs_ftile_avx512(const fs_ftile *t) {
    const ptrdiff_t s = t->a_row_stride;
    const int32_t last = t->rows - 1;
    const float *r0 = t->a, *r1 = t->a + (last < 1 ? last : 1) * s, *r2 = t->a + (last < 2 ? last : 2) * s;
    const float *r3 = t->a + (last < 3 ? last : 3) * s, *r4 = t->a + (last < 4 ? last : 4) * s;
    const float *r5 = t->a + (last < 5 ? last : 5) * s, *r6 = t->a + (last < 6 ? last : 6) * s;
    const float *r7 = t->a + (last < 7 ? last : 7) * s;
    const int32_t *offsets = t->k_offsets;
    const int32_t depth = t->depth;
    const float *b0 = t->b, *b1 = t->b + (ptrdiff_t)depth * 16;
    __m512 c00 = _mm512_setzero_ps(), c10 = c00, c20 = c00, c30 = c00, c40 = c00, c50 = c00, c60 = c00, c70 = c00;
    __m512 c01 = c00, c11 = c00, c21 = c00, c31 = c00, c41 = c00, c51 = c00, c61 = c00, c71 = c00;
    if (t->panels == 2) {
        for (int32_t k = 0; k < depth; k++) {
            const ptrdiff_t o = offsets[k];
            const __m512 w0 = _mm512_loadu_ps(b0 + 16 * k), w1 = _mm512_loadu_ps(b1 + 16 * k);
            __m512 x;
#define FS_FSTEP2(i) x = _mm512_set1_ps(r##i[o]); \
            c##i##0 = _mm512_fmadd_ps(x, w0, c##i##0); c##i##1 = _mm512_fmadd_ps(x, w1, c##i##1);
            FS_FSTEP2(0) FS_FSTEP2(1) FS_FSTEP2(2) FS_FSTEP2(3) FS_FSTEP2(4) FS_FSTEP2(5) FS_FSTEP2(6) FS_FSTEP2(7)
#undef FS_FSTEP2
        }
    } else {
        for (int32_t k = 0; k < depth; k++) {
            const ptrdiff_t o = offsets[k];
            const __m512 w0 = _mm512_loadu_ps(b0 + 16 * k);
#define FS_FSTEP1(i) c##i##0 = _mm512_fmadd_ps(_mm512_set1_ps(r##i[o]), w0, c##i##0);
            FS_FSTEP1(0) FS_FSTEP1(1) FS_FSTEP1(2) FS_FSTEP1(3) FS_FSTEP1(4) FS_FSTEP1(5) FS_FSTEP1(6) FS_FSTEP1(7)
#undef FS_FSTEP1
        }
    }
    const __m512 row0[8] = {c00, c10, c20, c30, c40, c50, c60, c70};
    const __m512 row1[8] = {c01, c11, c21, c31, c41, c51, c61, c71};
    for (int32_t i = 0; i < t->rows; i++) {
        fs_ftile_store512(t, i, 0, row0[i]);
        if (t->panels == 2) fs_ftile_store512(t, i, 1, row1[i]);
    }
}

#else

void fs_ftile_avx512(const fs_ftile *tile) { (void)tile; abort(); }

#endif
