/* md5.h: MD5 (RFC 1321), for file provenance and download checks (not for security). */
#ifndef CLTRAIN_MD5_H
#define CLTRAIN_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[4];
    uint64_t bytes;          /* total bytes hashed so far */
    unsigned char block[64]; /* pending partial block */
    size_t fill;             /* bytes in block */
} ct_md5_ctx;

void ct_md5_init(ct_md5_ctx *c);
void ct_md5_update(ct_md5_ctx *c, const void *data, size_t len);
void ct_md5_final(ct_md5_ctx *c, unsigned char digest[16]);
/* One-shot: lowercase hex digest (32 characters + NUL) of len bytes. */
void ct_md5_hex(const void *data, size_t len, char hex[33]);

#endif
