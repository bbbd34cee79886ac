// Opens a library with dlopen and fills a shim's function table with dlsym.
#include "CRuntimeLibrary.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *foresight_library_load(const char *file, int global, const foresight_library_function *functions, size_t count,
                             size_t table_size, char *error, size_t capacity) {
    void *library = dlopen(file, RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL));
    if (library == NULL) {
        snprintf(error, capacity, "%s", dlerror());
        return NULL;
    }
    char *table = calloc(1, table_size);
    if (table == NULL) {
        snprintf(error, capacity, "out of memory");
        dlclose(library);
        return NULL;
    }
    for (size_t index = 0; index < count; index++) {
        void *function = dlsym(library, functions[index].name);
        if (function == NULL) {
            snprintf(error, capacity, "%s", dlerror());
            free(table);
            dlclose(library);
            return NULL;
        }
        memcpy(table + functions[index].offset, &function, sizeof function);
    }
    return table;
}
