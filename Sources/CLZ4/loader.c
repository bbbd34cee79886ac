// Opens liblz4 at run time and fills the function table of CLZ4.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CLZ4.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

const foresight_lz4 *foresight_lz4_load(const char *file, char *error, size_t capacity) {
    void *library = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(error, capacity, "%s", dlerror());
        return NULL;
    }
    foresight_lz4 *table = malloc(sizeof *table);
    if (table == NULL) {
        snprintf(error, capacity, "out of memory");
        return NULL;
    }
#define LOOK_UP(name) if ((*(void **)&table->name = dlsym(library, #name)) == NULL) goto missing;
    LOOK_UP(LZ4F_createDecompressionContext)
    LOOK_UP(LZ4F_freeDecompressionContext)
    LOOK_UP(LZ4F_decompress)
    LOOK_UP(LZ4F_isError)
    LOOK_UP(LZ4F_getErrorName)
#undef LOOK_UP
    return table;

missing:
    snprintf(error, capacity, "%s", dlerror());
    free(table);
    dlclose(library);
    return NULL;
}
