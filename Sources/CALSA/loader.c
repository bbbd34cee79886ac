// Opens alsa-lib at run time and fills the function table of CALSA.h. Not a wrapper: the
// functions are called through the table as they are.
#include "CALSA.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

const foresight_alsa *foresight_alsa_load(const char *file, char *error, size_t capacity) {
    // RTLD_GLOBAL: alsa-lib's own plugins see its symbols as when it is linked.
    void *library = dlopen(file, RTLD_NOW | RTLD_GLOBAL);
    if (library == NULL) {
        snprintf(error, capacity, "%s", dlerror());
        return NULL;
    }
    foresight_alsa *table = malloc(sizeof *table);
    if (table == NULL) {
        snprintf(error, capacity, "out of memory");
        return NULL;
    }
#define LOOK_UP(name) if ((*(void **)&table->name = dlsym(library, #name)) == NULL) goto missing;
    LOOK_UP(snd_strerror)
    LOOK_UP(snd_config_update_free_global)
    LOOK_UP(snd_card_next)
    LOOK_UP(snd_card_get_name)
    LOOK_UP(snd_ctl_open)
    LOOK_UP(snd_ctl_close)
    LOOK_UP(snd_ctl_pcm_next_device)
    LOOK_UP(snd_ctl_pcm_info)
    LOOK_UP(snd_pcm_info_malloc)
    LOOK_UP(snd_pcm_info_free)
    LOOK_UP(snd_pcm_info_set_device)
    LOOK_UP(snd_pcm_info_set_subdevice)
    LOOK_UP(snd_pcm_info_set_stream)
    LOOK_UP(snd_pcm_info_get_name)
    LOOK_UP(snd_pcm_open)
    LOOK_UP(snd_pcm_close)
    LOOK_UP(snd_pcm_hw_params_malloc)
    LOOK_UP(snd_pcm_hw_params_free)
    LOOK_UP(snd_pcm_hw_params_any)
    LOOK_UP(snd_pcm_hw_params_set_access)
    LOOK_UP(snd_pcm_hw_params_set_format)
    LOOK_UP(snd_pcm_hw_params_set_channels)
    LOOK_UP(snd_pcm_hw_params_set_rate_near)
    LOOK_UP(snd_pcm_hw_params_set_period_size_near)
    LOOK_UP(snd_pcm_hw_params_set_buffer_size_near)
    LOOK_UP(snd_pcm_hw_params)
    LOOK_UP(snd_pcm_sw_params_malloc)
    LOOK_UP(snd_pcm_sw_params_free)
    LOOK_UP(snd_pcm_sw_params_current)
    LOOK_UP(snd_pcm_sw_params_set_start_threshold)
    LOOK_UP(snd_pcm_sw_params_set_avail_min)
    LOOK_UP(snd_pcm_sw_params)
    LOOK_UP(snd_pcm_prepare)
    LOOK_UP(snd_pcm_start)
    LOOK_UP(snd_pcm_resume)
    LOOK_UP(snd_pcm_drain)
    LOOK_UP(snd_pcm_readi)
    LOOK_UP(snd_pcm_writei)
#undef LOOK_UP
    return table;

missing:
    snprintf(error, capacity, "%s", dlerror());
    free(table);
    dlclose(library);
    return NULL;
}
