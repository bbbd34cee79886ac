// Swift's view of alsa-lib, which is opened at run time (dlopen of libasound.so.2) so that
// building needs no libasound2-dev: the opaque types, enum values and function signatures
// Foresight uses, declared here from alsa-lib's documented API. Not a microphone API: all
// logic lives in ForesightSensors/Microphone.swift.
#ifndef FORESIGHT_CALSA_H
#define FORESIGHT_CALSA_H

#include <errno.h>
#include <stddef.h>

// Only the table's own pointers are marked non-null (so that Swift calls them directly);
// the arguments keep C's unannotated pointers, as in alsa-lib's header.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"

/// Opaque handles: a PCM stream, its hardware and software parameters, a PCM's description,
/// and a card's control interface.
typedef struct _snd_pcm snd_pcm_t;
typedef struct _snd_pcm_hw_params snd_pcm_hw_params_t;
typedef struct _snd_pcm_sw_params snd_pcm_sw_params_t;
typedef struct _snd_pcm_info snd_pcm_info_t;
typedef struct _snd_ctl snd_ctl_t;

/// Frame counts (unsigned) and frame counts or negative error codes (signed).
typedef unsigned long snd_pcm_uframes_t;
typedef long snd_pcm_sframes_t;

/// The values used here of alsa-lib's stream, access and sample format enumerations.
typedef enum _snd_pcm_stream { SND_PCM_STREAM_PLAYBACK = 0, SND_PCM_STREAM_CAPTURE = 1 } snd_pcm_stream_t;
typedef enum _snd_pcm_access { SND_PCM_ACCESS_RW_INTERLEAVED = 3 } snd_pcm_access_t;
typedef enum _snd_pcm_format { SND_PCM_FORMAT_S16_LE = 2, SND_PCM_FORMAT_FLOAT_LE = 14 } snd_pcm_format_t;

/// The alsa-lib functions Foresight calls, with alsa-lib's signatures; filled by
/// `foresight_alsa_load`. Fields carry the functions' own names.
typedef struct foresight_alsa {
    const char *_Nonnull (*_Nonnull snd_strerror)(int errnum);
    int (*_Nonnull snd_config_update_free_global)(void);

    int (*_Nonnull snd_card_next)(int *card);
    int (*_Nonnull snd_card_get_name)(int card, char **name);
    int (*_Nonnull snd_ctl_open)(snd_ctl_t **ctl, const char *name, int mode);
    int (*_Nonnull snd_ctl_close)(snd_ctl_t *ctl);
    int (*_Nonnull snd_ctl_pcm_next_device)(snd_ctl_t *ctl, int *device);
    int (*_Nonnull snd_ctl_pcm_info)(snd_ctl_t *ctl, snd_pcm_info_t *info);
    int (*_Nonnull snd_pcm_info_malloc)(snd_pcm_info_t **info);
    void (*_Nonnull snd_pcm_info_free)(snd_pcm_info_t *info);
    void (*_Nonnull snd_pcm_info_set_device)(snd_pcm_info_t *info, unsigned int device);
    void (*_Nonnull snd_pcm_info_set_subdevice)(snd_pcm_info_t *info, unsigned int subdevice);
    void (*_Nonnull snd_pcm_info_set_stream)(snd_pcm_info_t *info, snd_pcm_stream_t stream);
    const char *_Nonnull (*_Nonnull snd_pcm_info_get_name)(const snd_pcm_info_t *info);

    int (*_Nonnull snd_pcm_open)(snd_pcm_t **pcm, const char *name, snd_pcm_stream_t stream, int mode);
    int (*_Nonnull snd_pcm_close)(snd_pcm_t *pcm);
    int (*_Nonnull snd_pcm_hw_params_malloc)(snd_pcm_hw_params_t **params);
    void (*_Nonnull snd_pcm_hw_params_free)(snd_pcm_hw_params_t *params);
    int (*_Nonnull snd_pcm_hw_params_any)(snd_pcm_t *pcm, snd_pcm_hw_params_t *params);
    int (*_Nonnull snd_pcm_hw_params_set_access)(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, snd_pcm_access_t access);
    int (*_Nonnull snd_pcm_hw_params_set_format)(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, snd_pcm_format_t format);
    int (*_Nonnull snd_pcm_hw_params_set_channels)(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, unsigned int channels);
    int (*_Nonnull snd_pcm_hw_params_set_rate_near)(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, unsigned int *rate, int *direction);
    int (*_Nonnull snd_pcm_hw_params_set_period_size_near)(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, snd_pcm_uframes_t *frames,
                                                           int *direction);
    int (*_Nonnull snd_pcm_hw_params_set_buffer_size_near)(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, snd_pcm_uframes_t *frames);
    int (*_Nonnull snd_pcm_hw_params)(snd_pcm_t *pcm, snd_pcm_hw_params_t *params);
    int (*_Nonnull snd_pcm_sw_params_malloc)(snd_pcm_sw_params_t **params);
    void (*_Nonnull snd_pcm_sw_params_free)(snd_pcm_sw_params_t *params);
    int (*_Nonnull snd_pcm_sw_params_current)(snd_pcm_t *pcm, snd_pcm_sw_params_t *params);
    int (*_Nonnull snd_pcm_sw_params_set_start_threshold)(snd_pcm_t *pcm, snd_pcm_sw_params_t *params, snd_pcm_uframes_t frames);
    int (*_Nonnull snd_pcm_sw_params_set_avail_min)(snd_pcm_t *pcm, snd_pcm_sw_params_t *params, snd_pcm_uframes_t frames);
    int (*_Nonnull snd_pcm_sw_params)(snd_pcm_t *pcm, snd_pcm_sw_params_t *params);
    int (*_Nonnull snd_pcm_prepare)(snd_pcm_t *pcm);
    int (*_Nonnull snd_pcm_start)(snd_pcm_t *pcm);
    int (*_Nonnull snd_pcm_resume)(snd_pcm_t *pcm);
    int (*_Nonnull snd_pcm_drain)(snd_pcm_t *pcm);
    snd_pcm_sframes_t (*_Nonnull snd_pcm_readi)(snd_pcm_t *pcm, void *buffer, snd_pcm_uframes_t frames);
    snd_pcm_sframes_t (*_Nonnull snd_pcm_writei)(snd_pcm_t *pcm, const void *buffer, snd_pcm_uframes_t frames);
} foresight_alsa;

/// Opens `file` (e.g. "libasound.so.2") and looks up every function of the table. Returns
/// the table (allocated once per call, kept for the life of the process), or NULL with
/// dlerror's text in `error`.
const foresight_alsa *_Nullable foresight_alsa_load(const char *file, char *error, size_t capacity);

/// ALSA's negative error code for an overrun, as a function (`-EPIPE` is a macro expression).
static inline int foresight_alsa_overrun_code(void) { return -EPIPE; }
/// ALSA's negative error code for a suspended stream.
static inline int foresight_alsa_suspended_code(void) { return -ESTRPIPE; }

#pragma clang diagnostic pop

#endif
