/* core/strtab: see strtab.h. */
#include "core/strtab.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"

static int64_t *slots_alloc(int64_t n_slots)
{
    int64_t *s = ofa_xmalloc((size_t)n_slots * sizeof *s);
    for (int64_t i = 0; i < n_slots; i++) s[i] = -1;
    return s;
}

void ofa_strtab_init(ofa_strtab *t, ofa_strtab_key_fn key, int64_t n_hint)
{
    OFA_ASSERT(key && n_hint >= 0);
    int64_t ns = 16;
    while (ns < 2 * n_hint) ns *= 2;
    t->slots = slots_alloc(ns);
    t->n_slots = ns;
    t->n = 0;
    t->key = key;
}

void ofa_strtab_free(ofa_strtab *t)
{
    if (!t) return;
    free(t->slots);
    memset(t, 0, sizeof *t);
}

void ofa_strtab_clear(ofa_strtab *t)
{
    for (int64_t i = 0; i < t->n_slots; i++) t->slots[i] = -1;
    t->n = 0;
}

/* key (NUL-terminated) equals the len bytes at s; a NUL among them never matches */
static int key_eq(const char *key, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (key[i] != s[i] || !key[i]) return 0;
    return key[len] == '\0';
}

/* the slot holding the key (s, len) of hash h, or the empty slot where it would go */
static uint64_t probe(const ofa_strtab *t, const void *ctx, uint64_t h, const char *s, size_t len)
{
    uint64_t mask = (uint64_t)t->n_slots - 1, i = h & mask;
    for (int64_t id; (id = t->slots[i]) >= 0 && !key_eq(t->key(ctx, id), s, len); i = (i + 1) & mask) {
    }
    return i;
}

int64_t ofa_strtab_find(const ofa_strtab *t, const void *ctx, const char *s, size_t len)
{
    if (t->n == 0) return -1;
    return t->slots[probe(t, ctx, ofa_fnv1a(OFA_FNV1A_INIT, s, len), s, len)];
}

/* doubles the slots; the keys held are distinct, so each goes to the first empty slot of its probe */
static void grow(ofa_strtab *t, const void *ctx)
{
    int64_t n2 = 2 * t->n_slots, *s2 = slots_alloc(n2);
    uint64_t mask = (uint64_t)n2 - 1;
    for (int64_t j = 0; j < t->n_slots; j++) {
        int64_t id = t->slots[j];
        if (id < 0) continue;
        uint64_t i = ofa_fnv1a_str(t->key(ctx, id)) & mask;
        while (s2[i] >= 0) i = (i + 1) & mask;
        s2[i] = id;
    }
    free(t->slots);
    t->slots = s2;
    t->n_slots = n2;
}

int64_t ofa_strtab_put(ofa_strtab *t, const void *ctx, int64_t id)
{
    OFA_ASSERT(id >= 0 && t->n_slots > 0);
    const char *k = t->key(ctx, id);
    size_t len = strlen(k);
    uint64_t h = ofa_fnv1a(OFA_FNV1A_INIT, k, len), i = probe(t, ctx, h, k, len);
    int64_t old = t->slots[i];
    if (old >= 0) {
        t->slots[i] = id;
        return old;
    }
    if (2 * (t->n + 1) > t->n_slots) {
        grow(t, ctx);
        i = probe(t, ctx, h, k, len);
    }
    t->slots[i] = id;
    t->n++;
    return -1;
}

const char *ofa_strtab_key_strv(const void *ctx, int64_t id) { return ((char *const *)ctx)[id]; }
