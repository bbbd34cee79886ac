// Opens libzstd at run time and fills the function table of CZSTD.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CZSTD.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

const foresight_zstd *foresight_zstd_load(const char *file, char *error, size_t capacity) {
    void *library = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(error, capacity, "%s", dlerror());
        return NULL;
    }
    foresight_zstd *table = malloc(sizeof *table);
    if (table == NULL) {
        snprintf(error, capacity, "out of memory");
        return NULL;
    }
#define LOOK_UP(name) if ((*(void **)&table->name = dlsym(library, #name)) == NULL) goto missing;
    LOOK_UP(ZSTD_decompress)
    LOOK_UP(ZSTD_isError)
    LOOK_UP(ZSTD_getErrorName)
#undef LOOK_UP
    return table;

missing:
    snprintf(error, capacity, "%s", dlerror());
    free(table);
    dlclose(library);
    return NULL;
}
