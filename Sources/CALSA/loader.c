// Opens alsa-lib at run time and fills the function table of CALSA.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CALSA.h"
#include "CRuntimeLibrary.h"

const foresight_alsa *foresight_alsa_load(const char *file, char *error, size_t capacity) {
    static const foresight_library_function functions[] = {
        FORESIGHT_FUNCTION(foresight_alsa, snd_strerror),
        FORESIGHT_FUNCTION(foresight_alsa, snd_config_update_free_global),
        FORESIGHT_FUNCTION(foresight_alsa, snd_card_next),
        FORESIGHT_FUNCTION(foresight_alsa, snd_card_get_name),
        FORESIGHT_FUNCTION(foresight_alsa, snd_ctl_open),
        FORESIGHT_FUNCTION(foresight_alsa, snd_ctl_close),
        FORESIGHT_FUNCTION(foresight_alsa, snd_ctl_pcm_next_device),
        FORESIGHT_FUNCTION(foresight_alsa, snd_ctl_pcm_info),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_info_malloc),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_info_free),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_info_set_device),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_info_set_subdevice),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_info_set_stream),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_info_get_name),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_open),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_close),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_malloc),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_free),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_any),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_set_access),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_set_format),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_set_channels),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_set_rate_near),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_set_period_size_near),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params_set_buffer_size_near),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_hw_params),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_sw_params_malloc),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_sw_params_free),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_sw_params_current),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_sw_params_set_start_threshold),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_sw_params_set_avail_min),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_sw_params),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_prepare),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_start),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_resume),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_drain),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_readi),
        FORESIGHT_FUNCTION(foresight_alsa, snd_pcm_writei),
    };
    // RTLD_GLOBAL: alsa-lib's own plugins see its symbols as when it is linked.
    return foresight_library_load(file, 1, functions, sizeof functions / sizeof functions[0], sizeof(foresight_alsa), error, capacity);
}
