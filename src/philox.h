/* philox.h: host mirror of cl/rng.cl (Philox4x32-10), bit for bit, so masks and augmentation
 * drawn on any device can be checked on the host. */
#ifndef CLTRAIN_PHILOX_H
#define CLTRAIN_PHILOX_H
#include <stdint.h>

static inline void ct_philox4x32_10(uint32_t ctr[4], const uint32_t key_in[2])
{
    uint32_t k0 = key_in[0], k1 = key_in[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0], p1 = (uint64_t)0xCD9E8D57u * ctr[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ ctr[1] ^ k0, n2 = hi0 ^ ctr[3] ^ k1;
        ctr[0] = n0;
        ctr[1] = lo1;
        ctr[2] = n2;
        ctr[3] = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

static inline float ct_u01(uint32_t v) { return (float)(v >> 8) * (1.0f / 16777216.0f); }

#endif
