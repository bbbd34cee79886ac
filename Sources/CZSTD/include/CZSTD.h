// Swift's view of libzstd's one-shot decompression, which is opened at run time (dlopen of
// libzstd.so.1) so that building needs no libzstd-dev: the three functions Foresight uses,
// declared here from zstd's documented API. Not a compressor: MCAP chunks are only read.
#ifndef FORESIGHT_CZSTD_H
#define FORESIGHT_CZSTD_H

#include <stddef.h>

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"

/// The libzstd functions Foresight calls, with zstd's signatures; filled by
/// `foresight_zstd_load`. Fields carry the functions' own names.
typedef struct foresight_zstd {
    /// Decompresses every frame of `src` into `dst`; returns the bytes written or an error
    /// code (one `ZSTD_isError` accepts), "Destination buffer is too small" among them.
    size_t (*_Nonnull ZSTD_decompress)(void *dst, size_t dstCapacity, const void *src, size_t compressedSize);
    unsigned (*_Nonnull ZSTD_isError)(size_t code);
    const char *(*_Nonnull ZSTD_getErrorName)(size_t code);
} foresight_zstd;

/// Opens `file` (e.g. "libzstd.so.1") and looks up every function of the table. Returns the
/// table (allocated once per call, kept for the life of the process), or NULL with dlerror's
/// text in `error`.
const foresight_zstd *_Nullable foresight_zstd_load(const char *file, char *error, size_t capacity);

#pragma clang diagnostic pop

#endif
