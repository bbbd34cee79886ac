// Swift's view of libpng's simplified API, which is opened at run time (dlopen of
// libpng16.so.16) so that building needs no libpng-dev: the `png_image` control structure,
// the format values and the four functions Foresight uses, declared here from libpng's
// documented API. PNG is decoded by this kept, fuzzed library rather than by our own
// inflate: zlib streams and chunk rules are where hand-written decoders break. Not a PNG
// API: see ForesightSensors/Images.swift.
#ifndef FORESIGHT_CPNG_H
#define FORESIGHT_CPNG_H

#include <stddef.h>
#include <stdint.h>

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"

/// libpng's fixed-width integers and its allocation size (size_t on every 32- and 64-bit Linux).
typedef uint32_t png_uint_32;
typedef int32_t png_int_32;
typedef size_t png_alloc_size_t;

/// The version of the `png_image` layout below; the caller sets `version` to it.
#define PNG_IMAGE_VERSION 1
/// `format` bits and values: colour (else grey), and the 8-bit grey and RGB layouts.
#define PNG_FORMAT_FLAG_COLOR 2
#define PNG_FORMAT_GRAY 0
#define PNG_FORMAT_RGB 2

/// libpng's simplified-API control structure, field for field; `opaque` is libpng's own state.
typedef struct {
    struct png_control *opaque;   // NULL before the first call; freed by png_image_free
    png_uint_32 version;          // PNG_IMAGE_VERSION
    png_uint_32 width;            // pixels
    png_uint_32 height;           // pixels
    png_uint_32 format;           // PNG_FORMAT_*
    png_uint_32 flags;
    png_uint_32 colormap_entries;
    png_uint_32 warning_or_error; // 1 warning, 2 error
    char message[64];             // the last warning or error, NUL-terminated
} png_image;

/// The libpng functions Foresight calls, with libpng's signatures; filled by
/// `foresight_png_load`. Fields carry the functions' own names. `background` is a
/// `const png_color *` (three bytes); Foresight passes NULL.
typedef struct foresight_png {
    int (*_Nonnull png_image_begin_read_from_memory)(png_image *image, const void *memory, size_t size);
    int (*_Nonnull png_image_finish_read)(png_image *image, const void *background, void *buffer, png_int_32 row_stride,
                                          void *colormap);
    void (*_Nonnull png_image_free)(png_image *image);
    int (*_Nonnull png_image_write_to_memory)(png_image *image, void *memory, png_alloc_size_t *memory_bytes,
                                              int convert_to_8_bit, const void *buffer, png_int_32 row_stride,
                                              const void *colormap);
} foresight_png;

/// Opens `file` (e.g. "libpng16.so.16") and looks up every function of the table. Returns
/// the table (allocated once per call, kept for the life of the process), or NULL with
/// dlerror's text in `error`.
const foresight_png *_Nullable foresight_png_load(const char *file, char *error, size_t capacity);

#pragma clang diagnostic pop

#endif
