/* core/strtab: an index from strings to int64 ids, over strings the caller stores (the tokenizer's
 * vocabulary and the vocabulary builder's tables, the search's cache of evaluated archs).
 *
 *     ofa_strtab t;
 *     ofa_strtab_init(&t, ofa_strtab_key_strv, n);   // the key of id i is tok[i]
 *     for (int64_t i = 0; i < n; i++) ofa_strtab_put(&t, tok, i);
 *     int64_t id = ofa_strtab_find(&t, tok, "word", 4);  // -1 when absent
 *     ofa_strtab_free(&t);
 *
 * Who owns what: the table owns its slot array only.  The caller owns the strings and the mapping
 * id -> string, which the table reads through key(ctx, id) with the ctx given at each call; the
 * table keeps no pointer into the caller's data, so the caller may realloc its arrays and copy its
 * structs (pass the current ctx).  The key of an id must not change while the id is in the table.
 * A key is one id: putting an id whose key is present replaces the id held (insert-or-replace).
 * Open addressing with linear probing over a power of two of slots, FNV-1a (core/hash.h); the load
 * stays at most one half.  Ids are never removed singly (ofa_strtab_clear empties the table).
 * Not thread-safe while written; concurrent finds are fine.  Not collective.
 */
#ifndef OFA_CORE_STRTAB_H
#define OFA_CORE_STRTAB_H

#include <stddef.h>
#include <stdint.h>

/* The NUL-terminated key of id, read from the caller's ctx. */
typedef const char *(*ofa_strtab_key_fn)(const void *ctx, int64_t id);

typedef struct ofa_strtab {
    int64_t *slots;        /* [n_slots] ids, -1 empty */
    int64_t n_slots;       /* a power of two, >= 2 n */
    int64_t n;             /* ids held */
    ofa_strtab_key_fn key;
} ofa_strtab;

/* An empty table with room for n_hint ids before it grows (n_hint >= 0). */
void ofa_strtab_init(ofa_strtab *t, ofa_strtab_key_fn key, int64_t n_hint);
/* Frees the slots (NULL and a zeroed table are fine); the strings are the caller's. */
void ofa_strtab_free(ofa_strtab *t);
/* Removes every id; keeps the slots. */
void ofa_strtab_clear(ofa_strtab *t);

/* The id whose key is the len bytes at s (which need no NUL), or -1. */
int64_t ofa_strtab_find(const ofa_strtab *t, const void *ctx, const char *s, size_t len);
/* Inserts id (>= 0) under key(ctx, id), growing the table first when it would pass half full.
 * When an id with an equal key is held, id replaces it and that id is returned; else -1. */
int64_t ofa_strtab_put(ofa_strtab *t, const void *ctx, int64_t id);

/* The key function of an array of strings: ctx is a `char *const *`, the key of id is ctx[id]. */
const char *ofa_strtab_key_strv(const void *ctx, int64_t id);

#endif
