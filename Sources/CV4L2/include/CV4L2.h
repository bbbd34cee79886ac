// Swift's view of V4L2 through the kernel's own header <linux/videodev2.h> (linux-libc-dev):
// the VIDIOC_* request numbers and FourCC codes, which Swift cannot import, as prefixed
// static inline functions; the variadic ioctl with one typed argument; and libv4l2, opened
// at run time (dlopen of libv4l2.so.0) only for cameras whose formats it must convert.
// Not a camera API: all logic lives in ForesightSensors/Camera.swift.
#ifndef FORESIGHT_CV4L2_H
#define FORESIGHT_CV4L2_H

#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"

/// The kernel's variadic `ioctl` with one typed pointer argument.
static inline int foresight_ioctl(int fd, unsigned long request, void *argument) { return ioctl(fd, request, argument); }

/// libv4l2's functions (libv4l2.h), with its signatures; filled by `foresight_libv4l2_load`.
/// `v4l2_fd_open` takes over a descriptor opened with open(2); from then on it goes through
/// `v4l2_ioctl`, `v4l2_mmap`, `v4l2_munmap` and `v4l2_close`, which convert formats.
typedef struct __attribute__((swift_attr("@Sendable"))) foresight_libv4l2 {
    int (*_Nonnull v4l2_fd_open)(int fd, int v4l2_flags);
    int (*_Nonnull v4l2_close)(int fd);
    int (*_Nonnull v4l2_ioctl)(int fd, unsigned long request, ...);  // called through foresight_libv4l2_ioctl
    void *(*_Nonnull v4l2_mmap)(void *start, size_t length, int prot, int flags, int fd, int64_t offset);
    int (*_Nonnull v4l2_munmap)(void *start, size_t length);
} foresight_libv4l2;

/// libv4l2's variadic `v4l2_ioctl` with one typed pointer argument.
static inline int foresight_libv4l2_ioctl(const foresight_libv4l2 *library, int fd, unsigned long request, void *argument) {
    return library->v4l2_ioctl(fd, request, argument);
}

/// Opens `file` (e.g. "libv4l2.so.0") and looks up every function of the table. Returns the
/// table (allocated once per call, kept for the life of the process), or NULL with
/// dlerror's text in `error`.
const foresight_libv4l2 *_Nullable foresight_libv4l2_load(const char *file, char *error, size_t capacity);

/// The request numbers (function-like macros in <linux/videodev2.h>).
static inline unsigned long foresight_VIDIOC_QUERYCAP(void) { return VIDIOC_QUERYCAP; }
static inline unsigned long foresight_VIDIOC_ENUM_FMT(void) { return VIDIOC_ENUM_FMT; }
static inline unsigned long foresight_VIDIOC_ENUM_FRAMESIZES(void) { return VIDIOC_ENUM_FRAMESIZES; }
static inline unsigned long foresight_VIDIOC_ENUM_FRAMEINTERVALS(void) { return VIDIOC_ENUM_FRAMEINTERVALS; }
static inline unsigned long foresight_VIDIOC_G_FMT(void) { return VIDIOC_G_FMT; }
static inline unsigned long foresight_VIDIOC_S_FMT(void) { return VIDIOC_S_FMT; }
static inline unsigned long foresight_VIDIOC_G_PARM(void) { return VIDIOC_G_PARM; }
static inline unsigned long foresight_VIDIOC_S_PARM(void) { return VIDIOC_S_PARM; }
static inline unsigned long foresight_VIDIOC_REQBUFS(void) { return VIDIOC_REQBUFS; }
static inline unsigned long foresight_VIDIOC_QUERYBUF(void) { return VIDIOC_QUERYBUF; }
static inline unsigned long foresight_VIDIOC_QBUF(void) { return VIDIOC_QBUF; }
static inline unsigned long foresight_VIDIOC_DQBUF(void) { return VIDIOC_DQBUF; }
static inline unsigned long foresight_VIDIOC_STREAMON(void) { return VIDIOC_STREAMON; }
static inline unsigned long foresight_VIDIOC_STREAMOFF(void) { return VIDIOC_STREAMOFF; }

/// FourCC codes (v4l2_fourcc is a macro).
static inline uint32_t foresight_V4L2_PIX_FMT_YUYV(void) { return V4L2_PIX_FMT_YUYV; }
static inline uint32_t foresight_V4L2_PIX_FMT_UYVY(void) { return V4L2_PIX_FMT_UYVY; }
static inline uint32_t foresight_V4L2_PIX_FMT_YUV420(void) { return V4L2_PIX_FMT_YUV420; }
static inline uint32_t foresight_V4L2_PIX_FMT_NV12(void) { return V4L2_PIX_FMT_NV12; }
static inline uint32_t foresight_V4L2_PIX_FMT_RGB24(void) { return V4L2_PIX_FMT_RGB24; }
static inline uint32_t foresight_V4L2_PIX_FMT_BGR24(void) { return V4L2_PIX_FMT_BGR24; }
static inline uint32_t foresight_V4L2_PIX_FMT_GREY(void) { return V4L2_PIX_FMT_GREY; }
static inline uint32_t foresight_V4L2_PIX_FMT_MJPEG(void) { return V4L2_PIX_FMT_MJPEG; }

#pragma clang diagnostic pop

#endif
