// Opens libzstd at run time and fills the function table of CZSTD.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CZSTD.h"
#include "CRuntimeLibrary.h"

const foresight_zstd *foresight_zstd_load(const char *file, char *error, size_t capacity) {
    static const foresight_library_function functions[] = {
        FORESIGHT_FUNCTION(foresight_zstd, ZSTD_decompress),
        FORESIGHT_FUNCTION(foresight_zstd, ZSTD_isError),
        FORESIGHT_FUNCTION(foresight_zstd, ZSTD_getErrorName),
    };
    return foresight_library_load(file, 0, functions, sizeof functions / sizeof functions[0], sizeof(foresight_zstd), error, capacity);
}
