// aarch64 int8 tiles: NEON (Cortex-A72, Raspberry Pi 4: widening 16-bit multiply-accumulate)
// and NEON dot product (Cortex-A76, Raspberry Pi 5: sdot on activations shifted to int8, with
// a column-sum correction). Not built into other architectures; tested under qemu-user by
// Tests/CKernelsARM against the scalar tile.

#include "CKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__)
#include <arm_neon.h>

#if defined(__clang__)
#define FS_DOTPROD __attribute__((target("dotprod")))
#else
#define FS_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

static inline uint32_t fs_load32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline void fs_rows(const fs_qtile *t, const uint8_t *rows[8]) {
    for (int32_t i = 0; i < 8; i++) rows[i] = t->a + (i < t->rows ? i : t->rows - 1) * t->a_row_stride;
}

/* Two rows' 4 bytes each, widened: lanes 0-3 row `first`, lanes 4-7 row `first + 1`. */
static inline int16x8_t fs_row_pair(const uint8_t *first, const uint8_t *second, ptrdiff_t offset) {
    uint32x2_t both = vdup_n_u32(fs_load32(first + offset));
    both = vset_lane_u32(fs_load32(second + offset), both, 1);
    return vreinterpretq_s16_u16(vmovl_u8(vreinterpret_u8_u32(both)));
}

void fs_qtile_neon(const fs_qtile *t) {
    const uint8_t *rows[8];
    fs_rows(t, rows);
    int32_t sums[FS_QTILE_ROWS * 32];
    const int32_t quads = t->quads;
    for (int32_t p = 0; p < t->panels; p++) {
        for (int32_t half = 0; half < 2; half++) {             /* columns 8 * half ..< 8 * half + 8 */
            const int8_t *panel = t->b + (ptrdiff_t)p * quads * 64 + 32 * half;
            int32x4_t l0 = vdupq_n_s32(0), l1 = l0, l2 = l0, l3 = l0, l4 = l0, l5 = l0, l6 = l0, l7 = l0;
            int32x4_t h0 = l0, h1 = l0, h2 = l0, h3 = l0, h4 = l0, h5 = l0, h6 = l0, h7 = l0;
            for (int32_t q = 0; q < quads; q++) {
                const ptrdiff_t o = t->quad_offsets[q];
                const int8x8x4_t w = vld4_s8(panel + 64 * q);   /* w.val[k]: 8 columns at depth k */
                const int16x8_t x01 = fs_row_pair(rows[0], rows[1], o), x23 = fs_row_pair(rows[2], rows[3], o);
                const int16x8_t x45 = fs_row_pair(rows[4], rows[5], o), x67 = fs_row_pair(rows[6], rows[7], o);
#define FS_NEON_DEPTH(k) {                                                                      \
                const int16x8_t wk = vmovl_s8(w.val[k]); const int16x4_t wl = vget_low_s16(wk);   \
                l0 = vmlal_laneq_s16(l0, wl, x01, k);     h0 = vmlal_high_laneq_s16(h0, wk, x01, k);     \
                l1 = vmlal_laneq_s16(l1, wl, x01, 4 + k); h1 = vmlal_high_laneq_s16(h1, wk, x01, 4 + k); \
                l2 = vmlal_laneq_s16(l2, wl, x23, k);     h2 = vmlal_high_laneq_s16(h2, wk, x23, k);     \
                l3 = vmlal_laneq_s16(l3, wl, x23, 4 + k); h3 = vmlal_high_laneq_s16(h3, wk, x23, 4 + k); \
                l4 = vmlal_laneq_s16(l4, wl, x45, k);     h4 = vmlal_high_laneq_s16(h4, wk, x45, k);     \
                l5 = vmlal_laneq_s16(l5, wl, x45, 4 + k); h5 = vmlal_high_laneq_s16(h5, wk, x45, 4 + k); \
                l6 = vmlal_laneq_s16(l6, wl, x67, k);     h6 = vmlal_high_laneq_s16(h6, wk, x67, k);     \
                l7 = vmlal_laneq_s16(l7, wl, x67, 4 + k); h7 = vmlal_high_laneq_s16(h7, wk, x67, 4 + k); }
                FS_NEON_DEPTH(0) FS_NEON_DEPTH(1) FS_NEON_DEPTH(2) FS_NEON_DEPTH(3)
#undef FS_NEON_DEPTH
            }
            int32_t *s = sums + p * 16 + half * 8;
            vst1q_s32(s + 0 * 32, l0); vst1q_s32(s + 0 * 32 + 4, h0);
            vst1q_s32(s + 1 * 32, l1); vst1q_s32(s + 1 * 32 + 4, h1);
            vst1q_s32(s + 2 * 32, l2); vst1q_s32(s + 2 * 32 + 4, h2);
            vst1q_s32(s + 3 * 32, l3); vst1q_s32(s + 3 * 32 + 4, h3);
            vst1q_s32(s + 4 * 32, l4); vst1q_s32(s + 4 * 32 + 4, h4);
            vst1q_s32(s + 5 * 32, l5); vst1q_s32(s + 5 * 32 + 4, h5);
            vst1q_s32(s + 6 * 32, l6); vst1q_s32(s + 6 * 32 + 4, h6);
            vst1q_s32(s + 7 * 32, l7); vst1q_s32(s + 7 * 32 + 4, h7);
        }
    }
    fs_qtile_store(t, sums);
}

/* Four rows' 4 bytes each, shifted from uint8 to int8 (x - 128). */
static inline int8x16_t fs_rows4_signed(const uint8_t *const *rows, ptrdiff_t offset) {
    uint32x4_t v = vdupq_n_u32(fs_load32(rows[0] + offset));
    v = vsetq_lane_u32(fs_load32(rows[1] + offset), v, 1);
    v = vsetq_lane_u32(fs_load32(rows[2] + offset), v, 2);
    v = vsetq_lane_u32(fs_load32(rows[3] + offset), v, 3);
    return vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_u32(v), vdupq_n_u8(0x80)));
}

/* Quads of activations gathered at a time: 128 x 32 bytes (4 KiB of stack). */
#define FS_GATHER_QUADS 128

/* The activations are gathered (and shifted) once per chunk of depth, into two vectors per quad
 * (rows 0-3, rows 4-7), and every 8-column half of every panel reuses them: the inner loop is
 * two pairs of loads and 18 SDOTs (16 products, 2 column sums), with no lane inserts. */
FS_DOTPROD void fs_qtile_neondot(const fs_qtile *t) {
    const uint8_t *rows[8];
    fs_rows(t, rows);
    int32_t sums[FS_QTILE_ROWS * 32];
    memset(sums, 0, sizeof sums);
    int8x16_t gathered[2 * FS_GATHER_QUADS];
    const int32_t quads = t->quads;
    const int8x16_t ones = vdupq_n_s8(1);
    for (int32_t first = 0; first < quads; first += FS_GATHER_QUADS) {
        const int32_t count = quads - first < FS_GATHER_QUADS ? quads - first : FS_GATHER_QUADS;
        for (int32_t q = 0; q < count; q++) {
            const ptrdiff_t o = t->quad_offsets[first + q];
            gathered[2 * q] = fs_rows4_signed(rows, o);
            gathered[2 * q + 1] = fs_rows4_signed(rows + 4, o);
        }
        for (int32_t p = 0; p < t->panels; p++) {
            for (int32_t half = 0; half < 2; half++) {         /* columns 8 * half ..< 8 * half + 8 */
                const int8_t *panel = t->b + ((ptrdiff_t)p * quads + first) * 64 + 32 * half;
                int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                int32x4_t b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
                int32x4_t sumLow = a0, sumHigh = a0;   /* column sums of the weights */
                for (int32_t q = 0; q < count; q++) {
                    const int8x16_t wLow = vld1q_s8(panel + 64 * q), wHigh = vld1q_s8(panel + 64 * q + 16);
                    const int8x16_t x0 = gathered[2 * q], x1 = gathered[2 * q + 1];
                    sumLow = vdotq_s32(sumLow, wLow, ones);
                    sumHigh = vdotq_s32(sumHigh, wHigh, ones);
                    a0 = vdotq_laneq_s32(a0, wLow, x0, 0); b0 = vdotq_laneq_s32(b0, wHigh, x0, 0);
                    a1 = vdotq_laneq_s32(a1, wLow, x0, 1); b1 = vdotq_laneq_s32(b1, wHigh, x0, 1);
                    a2 = vdotq_laneq_s32(a2, wLow, x0, 2); b2 = vdotq_laneq_s32(b2, wHigh, x0, 2);
                    a3 = vdotq_laneq_s32(a3, wLow, x0, 3); b3 = vdotq_laneq_s32(b3, wHigh, x0, 3);
                    a4 = vdotq_laneq_s32(a4, wLow, x1, 0); b4 = vdotq_laneq_s32(b4, wHigh, x1, 0);
                    a5 = vdotq_laneq_s32(a5, wLow, x1, 1); b5 = vdotq_laneq_s32(b5, wHigh, x1, 1);
                    a6 = vdotq_laneq_s32(a6, wLow, x1, 2); b6 = vdotq_laneq_s32(b6, wHigh, x1, 2);
                    a7 = vdotq_laneq_s32(a7, wLow, x1, 3); b7 = vdotq_laneq_s32(b7, wHigh, x1, 3);
                }
                /* sum x * w = sum (x - 128) * w + 128 * sum w */
                const int32x4_t cl = vshlq_n_s32(sumLow, 7), ch = vshlq_n_s32(sumHigh, 7);
                int32_t *s = sums + p * 16 + half * 8;
#define FS_ADD_ROW(i, low, high)                                                         \
                vst1q_s32(s + i * 32, vaddq_s32(vld1q_s32(s + i * 32), vaddq_s32(low, cl)));     \
                vst1q_s32(s + i * 32 + 4, vaddq_s32(vld1q_s32(s + i * 32 + 4), vaddq_s32(high, ch)));
                FS_ADD_ROW(0, a0, b0) FS_ADD_ROW(1, a1, b1) FS_ADD_ROW(2, a2, b2) FS_ADD_ROW(3, a3, b3)
                FS_ADD_ROW(4, a4, b4) FS_ADD_ROW(5, a5, b5) FS_ADD_ROW(6, a6, b6) FS_ADD_ROW(7, a7, b7)
#undef FS_ADD_ROW
            }
        }
    }
    fs_qtile_store(t, sums);
}

#else

void fs_qtile_neon(const fs_qtile *tile) { (void)tile; abort(); }
void fs_qtile_neondot(const fs_qtile *tile) { (void)tile; abort(); }

#endif
