// Opens libturbojpeg at run time and fills the function table of CTurboJPEG.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CTurboJPEG.h"
#include "CRuntimeLibrary.h"

const foresight_turbojpeg *foresight_turbojpeg_load(const char *file, char *error, size_t capacity) {
    static const foresight_library_function functions[] = {
        FORESIGHT_FUNCTION(foresight_turbojpeg, tjInitDecompress),
        FORESIGHT_FUNCTION(foresight_turbojpeg, tjDecompressHeader3),
        FORESIGHT_FUNCTION(foresight_turbojpeg, tjDecompress2),
        FORESIGHT_FUNCTION(foresight_turbojpeg, tjDestroy),
        FORESIGHT_FUNCTION(foresight_turbojpeg, tjGetErrorStr2),
    };
    return foresight_library_load(file, 0, functions, sizeof functions / sizeof functions[0], sizeof(foresight_turbojpeg), error, capacity);
}
