/* rng.cl: Philox4x32-10 (Salmon et al., SC'11), a counter-based generator: the same
 * (counter, key) gives the same numbers on every device, so masks are reproducible from a seed.
 * Mirrored bit for bit by src/philox.h on the host. */
inline uint4 ct_philox4x32_10(uint4 ctr, uint2 key)
{
    for (int r = 0; r < 10; r++) {
        const uint hi0 = mul_hi(0xD2511F53u, ctr.x), lo0 = 0xD2511F53u * ctr.x;
        const uint hi1 = mul_hi(0xCD9E8D57u, ctr.z), lo1 = 0xCD9E8D57u * ctr.z;
        ctr = (uint4)(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
        key += (uint2)(0x9E3779B9u, 0xBB67AE85u);
    }
    return ctr;
}
/* uniform float in [0, 1) from the top 24 bits */
inline float ct_u01(uint v) { return (float)(v >> 8) * (1.0f / 16777216.0f); }
