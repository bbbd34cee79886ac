// Swift's view of KISS FFT (Debian's libkissfft-dev, float build): the real-input FFT used by
// the log-mel spectrogram. Kept library rather than our own FFT; not a wrapper API.
#ifndef FORESIGHT_CKISSFFT_SHIM_H
#define FORESIGHT_CKISSFFT_SHIM_H

#ifndef kiss_fft_scalar
#define kiss_fft_scalar float
#endif
#include <kissfft/kiss_fftr.h>

#endif
