/* fuzz_netdef.c: the network JSON of model files (ct_netdef_from_json); what it accepts is
 * written back (ct_netdef_to_json), reads again and writes the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/netdef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_netdef n, m;
    if (ct_netdef_from_json((const char *)data, size, "fuzz", &n) != 0) return 0;
    char *a = NULL, *b = NULL;
    if (ct_netdef_to_json(&n, &a) != 0) abort();
    if (ct_netdef_from_json(a, strlen(a), "fuzz", &m) != 0) abort();
    if (ct_netdef_to_json(&m, &b) != 0 || strcmp(a, b)) abort();
    (void)ct_netdef_param_count(&n);
    (void)ct_netdef_memory_estimate(&n, 64);
    free(a);
    free(b);
    ct_netdef_free(&n);
    ct_netdef_free(&m);
    return 0;
}
