// Swift's view of alsa-lib (<alsa/asoundlib.h>). Not a microphone API: all logic lives in
// ForesightSensors/Microphone.swift; the shim only re-exports what Swift can import.
#ifndef FORESIGHT_CALSA_SHIM_H
#define FORESIGHT_CALSA_SHIM_H

#include <alsa/asoundlib.h>

/// ALSA's negative error code for an overrun, as a function (`-EPIPE` is a macro expression).
static inline int foresight_alsa_overrun_code(void) { return -EPIPE; }
/// ALSA's negative error code for a suspended stream.
static inline int foresight_alsa_suspended_code(void) { return -ESTRPIPE; }

#endif
