/* datasets/encode: a tokenized split, and padded batches cut from it.
 *
 * Each example becomes [CLS] a [SEP] (b [SEP]) with token types 0 for the first segment (incl. its
 * [CLS] and [SEP]) and 1 for the second; when too long for max_seq_len, tokens are removed from the
 * end of the longer segment first (BERT's _truncate_seq_pair).  A batch is padded to its longest
 * sequence, not to max_seq_len ([PAD] id, type 0); lens[b] is each sequence's true length.
 */
#ifndef OFA_DATASETS_ENCODE_H
#define OFA_DATASETS_ENCODE_H

#include <stdint.h>

#include "datasets/glue.h"
#include "datasets/wordpiece.h"

typedef struct ofa_encoded {
    int64_t n;
    int32_t *tok;      /* all token ids, concatenated */
    int64_t *off;      /* [n + 1] offsets into tok */
    int32_t *seg_b;    /* [n] position where token type 1 starts (== length when single sentence) */
    float *label;      /* [n] class id or score */
    int64_t *index;    /* [n] example index (for predictions files) */
    int64_t truncated; /* examples that were truncated */
    int max_len;       /* longest encoded example */
    int regression;    /* 1 when labels are scores (STS-B): batch labels are then 0 */
} ofa_encoded;

int ofa_encode_split(ofa_encoded *e, const ofa_glue_split *s, const ofa_vocab *v, int lowercase,
                     int max_seq_len);
void ofa_encoded_free(ofa_encoded *e);

typedef struct ofa_batch {
    int B, T;           /* T = longest sequence in this batch */
    int cap_tokens;     /* capacity of ids/types, in tokens */
    int cap_b;
    int32_t *ids;       /* [B, T] */
    int32_t *types;     /* [B, T] */
    int32_t *lens;      /* [B] */
    int32_t *labels;    /* [B] class ids (0 for regression) */
    float *targets;     /* [B] label as float (regression target or class id) */
    int64_t *rows;      /* [B] which examples of the split */
} ofa_batch;

void ofa_batch_init(ofa_batch *b);
/* Fills b with examples rows[0..B) of e; grows the buffers as needed. */
void ofa_batch_make(ofa_batch *b, const ofa_encoded *e, const int64_t *rows, int B, int pad_id);
void ofa_batch_free(ofa_batch *b);

#endif
