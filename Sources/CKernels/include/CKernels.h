// ISA-specific int8 micro-kernels (x86 AVX2 and AVX-512 VNNI, ARM NEON and dot product) with
// a scalar C twin, chosen at run time. Not a GEMM: blocking, packing and threads live in Swift
// (ForesightCore/Quantized); these functions compute one register tile.
//
// Why C: Swift's auto-vectoriser turns int8 dot products into vpmaddwd (x86) and cannot be told
// to emit vpdpbusd (AVX-512 VNNI) or sdot (ARMv8.2 dot product); these instructions carry the
// int8 speed, so they are reached through intrinsics in functions compiled for their ISA.
//
// One tile: C[i, j] = sum_q sum_r A_i[q][r] * B[q][j][r] for rows i < FS_QTILE_ROWS (8) and
// columns j < 16 * panels, where A_i[q] are the 4 unsigned bytes at
// a + i * a_row_stride + quad_offsets[q] (activations, uint8) and B is packed signed weights,
// [panels][quads][16][4] int8 (for a GEMM: B[4q + r, 16p + j]). The result is stored as int32
// (c != NULL) or requantized to uint8 (c == NULL) with fs_requantize below.
#ifndef C_KERNELS_H
#define C_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define FS_QTILE_ROWS 8
#define FS_QTILE_PANEL 16
#define FS_QTILE_MAX_PANELS 2

/// One register tile of an int8 GEMM: operands, and where and how the result goes.
typedef struct fs_qtile {
    /// Broadcast side (uint8 activations): row i, quad q at a + i * a_row_stride + quad_offsets[q].
    const uint8_t *a;
    ptrdiff_t a_row_stride;
    /// [quads] byte offsets of each group of 4 depth steps within a row.
    const int32_t *quad_offsets;
    /// Depth in groups of 4.
    int32_t quads;
    /// Rows that hold data, 1...FS_QTILE_ROWS; rows past it repeat the last row and are not stored.
    int32_t rows;
    /// Packed int8 weights [panels][quads][16][4].
    const int8_t *b;
    /// Panels of 16 columns: 1 or 2.
    int32_t panels;
    /// Columns stored, 1...16 * panels.
    int32_t columns;
    /// int32 result (when not NULL): c[i * ldc + j] = sum, or += sum when accumulate != 0.
    int32_t *c;
    ptrdiff_t ldc;
    int32_t accumulate;
    /// uint8 result (when c is NULL): out[i * out_row_stride + j] = fs_requantize(sum, bias[j], ...).
    uint8_t *out;
    ptrdiff_t out_row_stride;
    /// Per column [16 * panels]: int32 bias, Q31 multiplier (>= 0), shift in [-30, 31].
    const int32_t *bias;
    const int32_t *multiplier;
    const int32_t *shift;
    /// Output zero point and clamp (a fused ReLU clamps at the zero point).
    int32_t zero_point, qmin, qmax;
} fs_qtile;

/// Run-time CPU features (bit set of FS_CPU_*).
enum {
    FS_CPU_AVX2 = 1,
    FS_CPU_AVX512_VNNI = 2,
    FS_CPU_NEON = 4,
    FS_CPU_NEON_DOTPROD = 8,
};

/// The FS_CPU_* bits this CPU has (and the build can use).
int32_t fs_cpu_features(void);

/// Fixed-point requantization of one accumulator, the definition every kernel follows:
/// v = clamp(acc + bias) to int32; t = 31 + shift;
/// r = (v * multiplier + 2^(t-1)) >> t (arithmetic, i.e. round half towards +infinity);
/// result = clamp(r + zero_point, qmin, qmax).
static inline int32_t fs_requantize(int32_t acc, int32_t bias, int32_t multiplier, int32_t shift,
                                    int32_t zero_point, int32_t qmin, int32_t qmax) {
    int64_t v = (int64_t)acc + (int64_t)bias;
    if (v > INT32_MAX) v = INT32_MAX;
    if (v < INT32_MIN) v = INT32_MIN;
    int32_t t = 31 + shift;
    int64_t r = (v * (int64_t)multiplier + ((int64_t)1 << (t - 1))) >> t;
    r += zero_point;
    if (r < qmin) r = qmin;
    if (r > qmax) r = qmax;
    return (int32_t)r;
}

/// Scalar C tile (the reference of the C harness; any CPU).
void fs_qtile_scalar(const fs_qtile *tile);
/// AVX2 tile (x86-64 with AVX2; widening multiplies, exact). Traps elsewhere.
void fs_qtile_avx2(const fs_qtile *tile);
/// AVX-512 VNNI tile (vpdpbusd). Traps elsewhere.
void fs_qtile_avx512vnni(const fs_qtile *tile);
/// NEON tile (aarch64; widening multiply-accumulate). Traps elsewhere.
void fs_qtile_neon(const fs_qtile *tile);
/// NEON dot-product tile (aarch64 with ARMv8.2 sdot). Traps elsewhere.
void fs_qtile_neondot(const fs_qtile *tile);

/// Stores an int32 tile [FS_QTILE_ROWS][32] as fs_qtile says (int32 or requantized uint8).
void fs_qtile_store(const fs_qtile *tile, const int32_t *sums);

/// One register tile of a float32 implicit GEMM (the float twin of fs_qtile, for NHWC
/// inference): C[i, j] = sum_k A_i[k] * B[k][j] over rows i < FS_QTILE_ROWS and columns
/// j < 16 * panels, where A_i[k] is the float at a + i * a_row_stride + k_offsets[k] and B is
/// packed [panels][depth][16]. Each sum runs k = 0, 1, ... with one fused multiply-add per
/// step (so every path rounds alike), then c (when accumulate), then bias[j], then ReLU.
typedef struct fs_ftile {
    const float *a;
    ptrdiff_t a_row_stride;      /* floats */
    const int32_t *k_offsets;    /* [depth], floats */
    int32_t depth;
    int32_t rows;
    const float *b;
    int32_t panels;
    int32_t columns;
    float *c;
    ptrdiff_t ldc;
    int32_t accumulate;
    const float *bias;           /* [16 * panels] or NULL */
    int32_t relu;
} fs_ftile;

/// Scalar float tile (fmaf in k order; any CPU).
void fs_ftile_scalar(const fs_ftile *tile);
/// AVX-512 float tile (x86-64 with AVX-512F). Traps elsewhere.
void fs_ftile_avx512(const fs_ftile *tile);

#endif
