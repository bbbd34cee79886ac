// Opens libturbojpeg at run time and fills the function table of CTurboJPEG.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CTurboJPEG.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

const foresight_turbojpeg *foresight_turbojpeg_load(const char *file, char *error, size_t capacity) {
    void *library = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(error, capacity, "%s", dlerror());
        return NULL;
    }
    foresight_turbojpeg *table = malloc(sizeof *table);
    if (table == NULL) {
        snprintf(error, capacity, "out of memory");
        return NULL;
    }
#define LOOK_UP(name) if ((*(void **)&table->name = dlsym(library, #name)) == NULL) goto missing;
    LOOK_UP(tjInitDecompress)
    LOOK_UP(tjDecompressHeader3)
    LOOK_UP(tjDecompress2)
    LOOK_UP(tjDestroy)
    LOOK_UP(tjGetErrorStr2)
#undef LOOK_UP
    return table;

missing:
    snprintf(error, capacity, "%s", dlerror());
    free(table);
    dlclose(library);
    return NULL;
}
