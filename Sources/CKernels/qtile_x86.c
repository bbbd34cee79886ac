// x86-64 int8 tiles: AVX-512 VNNI (vpdpbusd, 4 multiply-adds per lane per instruction) and
// AVX2 (exact widening multiplies; vpmaddubsw would saturate). Compiled for their ISA per
// function and only called after fs_cpu_features said so. Not built into other architectures.

#include "CKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define FS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define FS_AVX2 __attribute__((target("avx2")))

static inline int32_t fs_load32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Requantizes 16 int32 sums with per-lane parameters (see fs_requantize) to 16 bytes. */
typedef struct {
    __m512i bias_lo, bias_hi, mult_lo, mult_hi, shift_lo, shift_hi, round_lo, round_hi;
    __m512i zero_point, qmin, qmax, int_min, int_max;
} fs_requant16;

FS_AVX512 static inline void fs_requant16_init(fs_requant16 *r, const fs_qtile *t, int32_t panel) {
    const __m512i one = _mm512_set1_epi64(1);
    __m512i bias = _mm512_loadu_si512(t->bias + 16 * panel);
    __m512i mult = _mm512_loadu_si512(t->multiplier + 16 * panel);
    __m512i total = _mm512_add_epi32(_mm512_loadu_si512(t->shift + 16 * panel), _mm512_set1_epi32(31));
    r->bias_lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(bias));
    r->bias_hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(bias, 1));
    r->mult_lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(mult));
    r->mult_hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(mult, 1));
    r->shift_lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(total));
    r->shift_hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(total, 1));
    r->round_lo = _mm512_sllv_epi64(one, _mm512_sub_epi64(r->shift_lo, one));
    r->round_hi = _mm512_sllv_epi64(one, _mm512_sub_epi64(r->shift_hi, one));
    r->zero_point = _mm512_set1_epi64(t->zero_point);
    r->qmin = _mm512_set1_epi64(t->qmin);
    r->qmax = _mm512_set1_epi64(t->qmax);
    r->int_min = _mm512_set1_epi64(INT32_MIN);
    r->int_max = _mm512_set1_epi64(INT32_MAX);
}

FS_AVX512 static inline __m512i fs_requant8(const fs_requant16 *r, __m512i v, __m512i bias, __m512i mult,
                                            __m512i shift, __m512i round) {
    v = _mm512_add_epi64(v, bias);
    v = _mm512_min_epi64(_mm512_max_epi64(v, r->int_min), r->int_max);
    v = _mm512_mul_epi32(v, mult); /* low 32 bits of each lane, signed: v and mult fit int32 */
    v = _mm512_srav_epi64(_mm512_add_epi64(v, round), shift);
    v = _mm512_add_epi64(v, r->zero_point);
    return _mm512_min_epi64(_mm512_max_epi64(v, r->qmin), r->qmax);
}

FS_AVX512 static inline __m128i fs_requant16_apply(const fs_requant16 *r, __m512i sums) {
    __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(sums));
    __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(sums, 1));
    lo = fs_requant8(r, lo, r->bias_lo, r->mult_lo, r->shift_lo, r->round_lo);
    hi = fs_requant8(r, hi, r->bias_hi, r->mult_hi, r->shift_hi, r->round_hi);
    return _mm_unpacklo_epi64(_mm512_cvtepi64_epi8(lo), _mm512_cvtepi64_epi8(hi));
}

FS_AVX512 static inline void fs_store_row512(const fs_qtile *t, int32_t row, int32_t panel, __m512i sums,
                                             const fs_requant16 *requant) {
    int32_t first = panel * 16;
    int32_t count = t->columns - first;
    if (count <= 0) return;
    __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    if (t->c) {
        int32_t *c = t->c + row * t->ldc + first;
        if (t->accumulate) sums = _mm512_add_epi32(sums, _mm512_maskz_loadu_epi32(mask, c));
        _mm512_mask_storeu_epi32(c, mask, sums);
    } else {
        _mm_mask_storeu_epi8(t->out + row * t->out_row_stride + first, mask, fs_requant16_apply(requant, sums));
    }
}

#define FS_ROWS(rows_pointer)                                                                 \
    const ptrdiff_t stride_ = t->a_row_stride;                                                \
    const int32_t last_ = t->rows - 1;                                                        \
    const uint8_t *r0 = t->a, *r1 = t->a + (last_ < 1 ? last_ : 1) * stride_;                 \
    const uint8_t *r2 = t->a + (last_ < 2 ? last_ : 2) * stride_;                             \
    const uint8_t *r3 = t->a + (last_ < 3 ? last_ : 3) * stride_;                             \
    const uint8_t *r4 = t->a + (last_ < 4 ? last_ : 4) * stride_;                             \
    const uint8_t *r5 = t->a + (last_ < 5 ? last_ : 5) * stride_;                             \
    const uint8_t *r6 = t->a + (last_ < 6 ? last_ : 6) * stride_;                             \
    const uint8_t *r7 = t->a + (last_ < 7 ? last_ : 7) * stride_;

FS_AVX512 void fs_qtile_avx512vnni(const fs_qtile *t) {
    FS_ROWS()
    const int32_t *offsets = t->quad_offsets;
    const int32_t quads = t->quads;
    const int8_t *b0 = t->b, *b1 = t->b + (ptrdiff_t)quads * 64;
    __m512i c00 = _mm512_setzero_si512(), c10 = c00, c20 = c00, c30 = c00, c40 = c00, c50 = c00, c60 = c00, c70 = c00;
    __m512i c01 = c00, c11 = c00, c21 = c00, c31 = c00, c41 = c00, c51 = c00, c61 = c00, c71 = c00;
    if (t->panels == 2) {
        for (int32_t q = 0; q < quads; q++) {
            const ptrdiff_t o = offsets[q];
            const __m512i w0 = _mm512_loadu_si512(b0 + 64 * q), w1 = _mm512_loadu_si512(b1 + 64 * q);
            __m512i x;
#define FS_STEP2(i) x = _mm512_set1_epi32(fs_load32(r##i + o)); \
            c##i##0 = _mm512_dpbusd_epi32(c##i##0, x, w0); c##i##1 = _mm512_dpbusd_epi32(c##i##1, x, w1);
            FS_STEP2(0) FS_STEP2(1) FS_STEP2(2) FS_STEP2(3) FS_STEP2(4) FS_STEP2(5) FS_STEP2(6) FS_STEP2(7)
#undef FS_STEP2
        }
    } else {
        for (int32_t q = 0; q < quads; q++) {
            const ptrdiff_t o = offsets[q];
            const __m512i w0 = _mm512_loadu_si512(b0 + 64 * q);
#define FS_STEP1(i) c##i##0 = _mm512_dpbusd_epi32(c##i##0, _mm512_set1_epi32(fs_load32(r##i + o)), w0);
            FS_STEP1(0) FS_STEP1(1) FS_STEP1(2) FS_STEP1(3) FS_STEP1(4) FS_STEP1(5) FS_STEP1(6) FS_STEP1(7)
#undef FS_STEP1
        }
    }
    fs_requant16 requant0, requant1;
    if (!t->c) {
        fs_requant16_init(&requant0, t, 0);
        if (t->panels == 2) fs_requant16_init(&requant1, t, 1);
    }
    const __m512i row0[8] = {c00, c10, c20, c30, c40, c50, c60, c70};
    const __m512i row1[8] = {c01, c11, c21, c31, c41, c51, c61, c71};
    for (int32_t i = 0; i < t->rows; i++) {
        fs_store_row512(t, i, 0, row0[i], &requant0);
        if (t->panels == 2) fs_store_row512(t, i, 1, row1[i], &requant1);
    }
}

FS_AVX2 void fs_qtile_avx2(const fs_qtile *t) {
    FS_ROWS()
    const uint8_t *rows[8] = {r0, r1, r2, r3, r4, r5, r6, r7};
    int32_t sums[FS_QTILE_ROWS * 32];
    const int32_t *offsets = t->quad_offsets;
    const int32_t quads = t->quads;
    for (int32_t p = 0; p < t->panels; p++) {
        const int8_t *panel = t->b + (ptrdiff_t)p * quads * 64;
        for (int32_t half = 0; half < 2; half++) {           /* columns 8 * half ..< 8 * half + 8 */
            for (int32_t rowBlock = 0; rowBlock < 8; rowBlock += 4) {
                const uint8_t *x0 = rows[rowBlock], *x1 = rows[rowBlock + 1], *x2 = rows[rowBlock + 2], *x3 = rows[rowBlock + 3];
                __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
                for (int32_t q = 0; q < quads; q++) {
                    const ptrdiff_t o = offsets[q];
                    const int8_t *w = panel + 64 * q + 32 * half;
                    /* 4 columns x 4 depths as int16; lanes of the products pair depths (0,1) and (2,3) */
                    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w));
                    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16)));
                    __m256i x;
#define FS_AVX2_STEP(i) x = _mm256_cvtepu8_epi16(_mm_set1_epi32(fs_load32(x##i + o))); \
                    a##i##0 = _mm256_add_epi32(a##i##0, _mm256_madd_epi16(x, w0)); \
                    a##i##1 = _mm256_add_epi32(a##i##1, _mm256_madd_epi16(x, w1));
                    FS_AVX2_STEP(0) FS_AVX2_STEP(1) FS_AVX2_STEP(2) FS_AVX2_STEP(3)
#undef FS_AVX2_STEP
                }
                /* pairwise sums, then lanes back in column order 0..7 */
                const __m256i s0 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a00, a01), 0xD8);
                const __m256i s1 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a10, a11), 0xD8);
                const __m256i s2 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a20, a21), 0xD8);
                const __m256i s3 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a30, a31), 0xD8);
                int32_t column = p * 16 + half * 8;
                _mm256_storeu_si256((__m256i *)(sums + (rowBlock + 0) * 32 + column), s0);
                _mm256_storeu_si256((__m256i *)(sums + (rowBlock + 1) * 32 + column), s1);
                _mm256_storeu_si256((__m256i *)(sums + (rowBlock + 2) * 32 + column), s2);
                _mm256_storeu_si256((__m256i *)(sums + (rowBlock + 3) * 32 + column), s3);
            }
        }
    }
    fs_qtile_store(t, sums);
}

#else

void fs_qtile_avx2(const fs_qtile *tile) { (void)tile; abort(); }
void fs_qtile_avx512vnni(const fs_qtile *tile) { (void)tile; abort(); }

#endif
