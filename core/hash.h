/* core/hash: the one hash function of the project, 64-bit FNV-1a (build ids across ranks, replica
 * checksums, the string table core/strtab).  Not cryptographic.  No state. */
#ifndef OFA_CORE_HASH_H
#define OFA_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define OFA_FNV1A_INIT 0xcbf29ce484222325ULL

/* h continued over n bytes (start with OFA_FNV1A_INIT) */
static inline uint64_t ofa_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* of a NUL-terminated string */
static inline uint64_t ofa_fnv1a_str(const char *s)
{
    uint64_t h = OFA_FNV1A_INIT;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

#endif
