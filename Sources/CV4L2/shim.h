// Swift's view of libv4l2 and <linux/videodev2.h>: the VIDIOC_* request numbers and the
// variadic libv4l2 entry points, which Swift cannot import, as prefixed static inline
// functions. Not a camera API: all logic lives in ForesightSensors/Camera.swift.
#ifndef FORESIGHT_CV4L2_SHIM_H
#define FORESIGHT_CV4L2_SHIM_H

#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/// libv4l2's `v4l2_open` without its variadic mode argument.
static inline int foresight_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
/// libv4l2's variadic `v4l2_ioctl` with one typed pointer argument.
static inline int foresight_v4l2_ioctl(int fd, unsigned long request, void *argument) {
    return v4l2_ioctl(fd, request, argument);
}

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

#endif
