// Opening a system library at run time for the C shims (CV4L2, CALSA, CPNG, CZSTD, CLZ4,
// CTurboJPEG): each declares a table of the library's functions and lists them here by name
// and place in the table, so that no -dev package is needed to build.
#ifndef FORESIGHT_RUNTIME_LIBRARY_H
#define FORESIGHT_RUNTIME_LIBRARY_H

#include <stddef.h>

/// A function of a library: its symbol name and the offset of its pointer in a shim's table.
typedef struct {
    const char *name;
    size_t offset;
} foresight_library_function;

/// One entry of a shim's function list: the table's field `field` of type `table`, looked up
/// by the same name (so that a misspelt name does not compile).
#define FORESIGHT_FUNCTION(table, field) { #field, offsetof(table, field) }

/// Opens `file` (RTLD_NOW; RTLD_GLOBAL when `global`, for libraries whose own plugins need
/// their symbols) and returns a table of `table_size` bytes with each of the `count`
/// `functions` looked up into its place, kept for the life of the process; or NULL with
/// dlerror's words (or "out of memory") in `error`, and the library closed again.
void *foresight_library_load(const char *file, int global, const foresight_library_function *functions, size_t count,
                             size_t table_size, char *error, size_t capacity);

#endif
