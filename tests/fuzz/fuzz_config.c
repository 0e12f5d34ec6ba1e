/* fuzz_config.c: YAML configs (ct_config_load over the built-in defaults, then validation and
 * the YAML/JSON writers; `network:` sections included) and --set assignments (ct_config_set). */
#include "fuzz_memfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_config c;
    ct_config_defaults(&c);
    const char *path = fuzz_memfile(data, size, "config.yaml");
    if (path && ct_config_load(&c, path) == CT_OK && ct_config_validate(&c) == CT_OK) {
        char *y = NULL, *j = NULL;
        if (ct_config_to_yaml(&c, &y) == CT_OK) {
            /* what is written reads back */
            ct_config d;
            ct_config_defaults(&d);
            const char *p2 = fuzz_memfile((const uint8_t *)y, strlen(y), "config.yaml");
            if (p2 && ct_config_load(&d, p2) != CT_OK) abort();
            ct_config_free(&d);
        }
        ct_config_to_json(&c, &j);
        free(y);
        free(j);
    }
    ct_config_free(&c);
    /* the same bytes as one --set assignment (up to the first NUL) */
    if (size < 4096) {
        char *s = malloc(size + 1);
        memcpy(s, data, size);
        s[size] = 0;
        ct_config_defaults(&c);
        ct_config_set(&c, s);
        free(s);
    }
    return 0;
}
