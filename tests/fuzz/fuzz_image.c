/* fuzz_image.c: the PNG and PGM readers (parse from a buffer) and file-kind detection. */
#include <stdint.h>
#include <stdlib.h>

#include "common.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_image im;
    if (ct_image_parse(data, size, "fuzz.img", &im) == CT_OK) {
        if (im.width < 1 || im.height < 1 || !im.pixels) abort();
        volatile uint8_t s = im.pixels[(size_t)im.width * im.height - 1];
        (void)s;
        ct_image_free(&im);
    }
    if (ct_image_parse_pgm(data, size, "fuzz.pgm", &im) == CT_OK) ct_image_free(&im);
    (void)ct_file_kind_of(data, size);
    return 0;
}
