// Opens libpng at run time and fills the function table of CPNG.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CPNG.h"
#include "CRuntimeLibrary.h"

#include <stddef.h>

// The layout libpng 1.6 documents: a pointer, seven 32-bit fields, then the message.
_Static_assert(offsetof(png_image, message) == sizeof(void *) + 7 * sizeof(png_uint_32), "png_image layout");

const foresight_png *foresight_png_load(const char *file, char *error, size_t capacity) {
    static const foresight_library_function functions[] = {
        FORESIGHT_FUNCTION(foresight_png, png_image_begin_read_from_memory),
        FORESIGHT_FUNCTION(foresight_png, png_image_finish_read),
        FORESIGHT_FUNCTION(foresight_png, png_image_free),
        FORESIGHT_FUNCTION(foresight_png, png_image_write_to_memory),
    };
    return foresight_library_load(file, 1, functions, sizeof functions / sizeof functions[0], sizeof(foresight_png), error, capacity);
}
