/* datasets/wordpiece: BERT's tokenizer.
 *
 * Basic tokenization as in BERT's tokenization.py: clean text (drop control chars, whitespace to
 * space), split CJK ideographs into single tokens, optional lowercasing + accent stripping (NFD,
 * drop Mn), split on whitespace and on every punctuation char (ASCII symbol ranges + Unicode P*).
 * Then greedy longest-match-first WordPiece with "##" continuations; a word longer than 100 chars or
 * with no match becomes [UNK].  Unicode properties come from utf8proc.
 * The vocabulary is loaded from a vocab.txt (one token per line, id = line number), rebuilt from
 * strings stored in a checkpoint, or built from training text (ofa_vocab_build).
 */
#ifndef OFA_DATASETS_WORDPIECE_H
#define OFA_DATASETS_WORDPIECE_H

#include <stdint.h>

#include "core/strtab.h"

typedef struct ofa_vocab {
    char **tok;       /* id -> token */
    int32_t n;
    ofa_strtab index; /* token -> id (keys tok[id]; of equal lines the later wins) */
    int32_t pad, unk, cls, sep, mask; /* ids of [PAD] [UNK] [CLS] [SEP] [MASK] */
} ofa_vocab;

/* OFA_E_IO when the file is missing, OFA_E_FORMAT when it lacks [PAD]/[UNK]/[CLS]/[SEP]. */
int ofa_vocab_load(ofa_vocab *v, const char *path);
int ofa_vocab_from_strings(ofa_vocab *v, const char *const *toks, int32_t n);
/* Builds a WordPiece vocabulary of at most `size` tokens from texts: the five special tokens, every
 * character seen (as word-initial and as "##" continuation), then the most frequent merges of
 * adjacent pieces (BPE-style merging on word counts, continuation pieces prefixed "##") until
 * `size` is reached or nothing merges.  Deterministic for the same input. */
int ofa_vocab_build(ofa_vocab *v, const char *const *texts, int64_t n, int32_t size, int lowercase);
int32_t ofa_vocab_id(const ofa_vocab *v, const char *tok); /* -1 when absent */
void ofa_vocab_free(ofa_vocab *v);

/* Appends the WordPiece ids of `text` to *ids (realloc'd growable array with *n used, *cap size). */
int ofa_wordpiece_encode(const ofa_vocab *v, int lowercase, const char *text, int32_t **ids, int64_t *n,
                         int64_t *cap);
/* The basic tokenizer alone (for tests and the vocabulary builder): appends malloc'd words. */
int ofa_basic_tokenize(const char *text, int lowercase, char ***words, int64_t *n, int64_t *cap);

#endif
