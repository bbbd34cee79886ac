// Swift's view of libjpeg-turbo's TurboJPEG API, which is opened at run time (dlopen of
// libturbojpeg.so.0) so that building needs no libturbojpeg0-dev: the five functions and the
// constants Foresight uses to decode a JPEG to 8-bit grey, declared here from turbojpeg.h's
// documented API (version 2, also kept by libjpeg-turbo 3). Not an encoder.
#ifndef FORESIGHT_CTURBOJPEG_H
#define FORESIGHT_CTURBOJPEG_H

#include <stddef.h>

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"

/// A TurboJPEG instance; only ever held by pointer.
typedef void *tjhandle;

/// Pixel format: one byte of luma a pixel (TJPF_GRAY of enum TJPF).
#define FORESIGHT_TJPF_GRAY 6
/// Flags: stop at a warning (a truncated or damaged stream) instead of finishing the image
/// with grey, and refuse progressive JPEGs of an unreasonable number of scans (a known way to
/// make a small file take minutes to decode).
#define FORESIGHT_TJFLAG_STOPONWARNING 8192
#define FORESIGHT_TJFLAG_LIMITSCANS 32768

/// The TurboJPEG functions Foresight calls, with turbojpeg.h's signatures; filled by
/// `foresight_turbojpeg_load`. Fields carry the functions' own names. Each `int` result is 0
/// on success and -1 on an error, whose text `tjGetErrorStr2` gives.
typedef struct foresight_turbojpeg {
    tjhandle (*_Nonnull tjInitDecompress)(void);
    int (*_Nonnull tjDecompressHeader3)(tjhandle handle, const unsigned char *jpeg, unsigned long jpegSize, int *width,
                                        int *height, int *subsampling, int *colourspace);
    int (*_Nonnull tjDecompress2)(tjhandle handle, const unsigned char *jpeg, unsigned long jpegSize, unsigned char *pixels,
                                  int width, int pitch, int height, int pixelFormat, int flags);
    int (*_Nonnull tjDestroy)(tjhandle handle);
    char *(*_Nonnull tjGetErrorStr2)(tjhandle handle);
} foresight_turbojpeg;

/// Opens `file` (e.g. "libturbojpeg.so.0") and looks up every function of the table. Returns
/// the table (allocated once per call, kept for the life of the process), or NULL with
/// dlerror's text in `error`.
const foresight_turbojpeg *_Nullable foresight_turbojpeg_load(const char *file, char *error, size_t capacity);

#pragma clang diagnostic pop

#endif
