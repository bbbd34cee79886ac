// Opens liblz4 at run time and fills the function table of CLZ4.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CLZ4.h"
#include "CRuntimeLibrary.h"

const foresight_lz4 *foresight_lz4_load(const char *file, char *error, size_t capacity) {
    static const foresight_library_function functions[] = {
        FORESIGHT_FUNCTION(foresight_lz4, LZ4F_createDecompressionContext),
        FORESIGHT_FUNCTION(foresight_lz4, LZ4F_freeDecompressionContext),
        FORESIGHT_FUNCTION(foresight_lz4, LZ4F_decompress),
        FORESIGHT_FUNCTION(foresight_lz4, LZ4F_isError),
        FORESIGHT_FUNCTION(foresight_lz4, LZ4F_getErrorName),
    };
    return foresight_library_load(file, 0, functions, sizeof functions / sizeof functions[0], sizeof(foresight_lz4), error, capacity);
}
