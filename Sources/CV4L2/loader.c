// Opens libv4l2 at run time and fills the function table of CV4L2.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CV4L2.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

const foresight_libv4l2 *foresight_libv4l2_load(const char *file, char *error, size_t capacity) {
    // RTLD_GLOBAL: libv4l2's own plugins see its symbols as when it is linked.
    void *library = dlopen(file, RTLD_NOW | RTLD_GLOBAL);
    if (library == NULL) {
        snprintf(error, capacity, "%s", dlerror());
        return NULL;
    }
    foresight_libv4l2 *table = malloc(sizeof *table);
    if (table == NULL) {
        snprintf(error, capacity, "out of memory");
        return NULL;
    }
#define LOOK_UP(name) if ((*(void **)&table->name = dlsym(library, #name)) == NULL) goto missing;
    LOOK_UP(v4l2_fd_open)
    LOOK_UP(v4l2_close)
    LOOK_UP(v4l2_ioctl)
    LOOK_UP(v4l2_mmap)
    LOOK_UP(v4l2_munmap)
#undef LOOK_UP
    return table;

missing:
    snprintf(error, capacity, "%s", dlerror());
    free(table);
    dlclose(library);
    return NULL;
}
