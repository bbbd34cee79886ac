// Swift's view of liblz4's frame decompression (the LZ4 frame format MCAP's "lz4" chunks
// use), which is opened at run time (dlopen of liblz4.so.1) so that building needs no
// liblz4-dev: the five functions Foresight uses, declared here from lz4frame.h's documented
// API. Not the block API and not a compressor.
#ifndef FORESIGHT_CLZ4_H
#define FORESIGHT_CLZ4_H

#include <stddef.h>

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"

/// The frame API's version, passed when a decompression context is made (LZ4F_VERSION).
#define FORESIGHT_LZ4F_VERSION 100

/// liblz4's decompression context; only ever held by pointer.
typedef struct LZ4F_dctx_s LZ4F_dctx;

/// The liblz4 functions Foresight calls, with lz4frame.h's signatures; filled by
/// `foresight_lz4_load`. Fields carry the functions' own names. Every `size_t` result is an
/// error code when `LZ4F_isError` says so.
typedef struct foresight_lz4 {
    size_t (*_Nonnull LZ4F_createDecompressionContext)(LZ4F_dctx **context, unsigned version);
    size_t (*_Nonnull LZ4F_freeDecompressionContext)(LZ4F_dctx *context);
    /// Decodes from `src` into `dst`; on return `*dstSize` and `*srcSize` hold the bytes
    /// written and consumed. Returns 0 when a frame ended, else a hint of the bytes it
    /// expects next. `options` may be NULL.
    size_t (*_Nonnull LZ4F_decompress)(LZ4F_dctx *context, void *dst, size_t *dstSize, const void *src, size_t *srcSize,
                                       const void *options);
    unsigned (*_Nonnull LZ4F_isError)(size_t code);
    const char *(*_Nonnull LZ4F_getErrorName)(size_t code);
} foresight_lz4;

/// Opens `file` (e.g. "liblz4.so.1") and looks up every function of the table. Returns the
/// table (allocated once per call, kept for the life of the process), or NULL with dlerror's
/// text in `error`.
const foresight_lz4 *_Nullable foresight_lz4_load(const char *file, char *error, size_t capacity);

#pragma clang diagnostic pop

#endif
