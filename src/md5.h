/* md5.h: MD5 for file provenance and download checks (not for security), from nettle
 * (nettle-dev): cltrain's names for nettle's md5_init/md5_update/md5_digest. */
#ifndef CLTRAIN_MD5_H
#define CLTRAIN_MD5_H

#include <nettle/md5.h>
#include <stddef.h>
#include <stdio.h>

typedef struct md5_ctx ct_md5_ctx;

static inline void ct_md5_init(ct_md5_ctx *c)
{
    md5_init(c);
}

static inline void ct_md5_update(ct_md5_ctx *c, const void *data, size_t len)
{
    md5_update(c, len, (const uint8_t *)data);
}

/* Writes the 16-byte digest (and resets c, as nettle does). */
static inline void ct_md5_final(ct_md5_ctx *c, unsigned char digest[16])
{
    md5_digest(c, MD5_DIGEST_SIZE, digest);
}

/* One-shot: lowercase hex digest (32 characters + NUL) of len bytes. */
static inline void ct_md5_hex(const void *data, size_t len, char hex[33])
{
    ct_md5_ctx c;
    unsigned char d[MD5_DIGEST_SIZE];
    md5_init(&c);
    md5_update(&c, len, (const uint8_t *)data);
    md5_digest(&c, sizeof d, d);
    for (int i = 0; i < MD5_DIGEST_SIZE; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

#endif
