/* fuzz_safetensors.c: the safetensors reader (every tensor and metadata entry touched, the
 * typed getters used), a writer round trip of what was read, and the checkpoint metadata
 * reader (through a memfd path). */
#include "fuzz_memfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_st_file *f = NULL;
    if (ct_st_parse(data, size, "fuzz.safetensors", &f) == CT_OK) {
        volatile unsigned char sink = 0;
        ct_st_writer *w = ct_st_writer_new();
        for (size_t i = 0; i < ct_st_count(f); i++) {
            const ct_st_tensor *t = ct_st_tensor_at(f, i);
            if (t->nbytes) sink ^= ((const unsigned char *)t->data)[t->nbytes - 1];
            const float *fp;
            ct_st_get_f32(f, t->name, t->rank, NULL, &fp, "fuzz");
            int64_t v;
            ct_st_get_i64_scalar(f, t->name, &v, "fuzz");
            if (ct_st_find(f, t->name) != t) abort();
            if (w) ct_st_writer_add(w, t->name, t->dtype, t->rank, t->shape, t->data, 0);
        }
        for (size_t i = 0; i < ct_st_metadata_count(f); i++) {
            const char *k, *v;
            if (ct_st_metadata_at(f, i, &k, &v) == 0 && w) ct_st_writer_set_metadata(w, k, v);
        }
        unsigned char *buf = NULL;
        size_t len = 0;
        if (w && ct_st_serialize(w, &buf, &len) == CT_OK) {
            /* what the writer makes, the reader takes */
            ct_st_file *g = NULL;
            if (ct_st_parse(buf, len, "roundtrip", &g) != CT_OK) abort();
            if (ct_st_count(g) != ct_st_count(f)) abort();
            ct_st_free(g);
            free(buf);
        }
        ct_st_writer_free(w);
        ct_st_free(f);
        (void)sink;
    }
    const char *path = fuzz_memfile(data, size, "ckpt.safetensors");
    ct_ckpt_state s;
    if (path && ct_checkpoint_read(path, &s, &f) == CT_OK) {
        ct_netdef d;
        if (ct_checkpoint_netdef(f, path, NULL, &d) == CT_OK) ct_netdef_free(&d);
        ct_ckpt_state_free(&s);
        ct_st_free(f);
    }
    return 0;
}
