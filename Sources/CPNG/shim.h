// Swift's view of libpng's simplified API (<png.h>), Debian's libpng-dev. PNG is decoded by
// this kept, fuzzed library rather than by our own inflate: zlib streams and chunk rules
// are where hand-written decoders break. Not a PNG API: see ForesightSensors/PNG.swift.
#ifndef FORESIGHT_CPNG_SHIM_H
#define FORESIGHT_CPNG_SHIM_H

#include <png.h>

#endif
