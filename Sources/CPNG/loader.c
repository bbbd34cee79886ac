// Opens libpng at run time and fills the function table of CPNG.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CPNG.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

// The layout libpng 1.6 documents: a pointer, seven 32-bit fields, then the message.
_Static_assert(offsetof(png_image, message) == sizeof(void *) + 7 * sizeof(png_uint_32), "png_image layout");

const foresight_png *foresight_png_load(const char *file, char *error, size_t capacity) {
    void *library = dlopen(file, RTLD_NOW | RTLD_GLOBAL);
    if (library == NULL) {
        snprintf(error, capacity, "%s", dlerror());
        return NULL;
    }
    foresight_png *table = malloc(sizeof *table);
    if (table == NULL) {
        snprintf(error, capacity, "out of memory");
        return NULL;
    }
#define LOOK_UP(name) if ((*(void **)&table->name = dlsym(library, #name)) == NULL) goto missing;
    LOOK_UP(png_image_begin_read_from_memory)
    LOOK_UP(png_image_finish_read)
    LOOK_UP(png_image_free)
    LOOK_UP(png_image_write_to_memory)
#undef LOOK_UP
    return table;

missing:
    snprintf(error, capacity, "%s", dlerror());
    free(table);
    dlclose(library);
    return NULL;
}
