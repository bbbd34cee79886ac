// Opens libv4l2 at run time and fills the function table of CV4L2.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CV4L2.h"
#include "CRuntimeLibrary.h"

const foresight_libv4l2 *foresight_libv4l2_load(const char *file, char *error, size_t capacity) {
    static const foresight_library_function functions[] = {
        FORESIGHT_FUNCTION(foresight_libv4l2, v4l2_fd_open),
        FORESIGHT_FUNCTION(foresight_libv4l2, v4l2_close),
        FORESIGHT_FUNCTION(foresight_libv4l2, v4l2_ioctl),
        FORESIGHT_FUNCTION(foresight_libv4l2, v4l2_mmap),
        FORESIGHT_FUNCTION(foresight_libv4l2, v4l2_munmap),
    };
    // RTLD_GLOBAL: libv4l2's own plugins see its symbols as when it is linked.
    return foresight_library_load(file, 1, functions, sizeof functions / sizeof functions[0], sizeof(foresight_libv4l2), error, capacity);
}
