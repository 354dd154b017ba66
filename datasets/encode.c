/* datasets/encode: tokenized splits and padded batches (see encode.h). */
#include "datasets/encode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int ofa_encode_split(ofa_encoded *e, const ofa_glue_split *s, const ofa_vocab *v, int lowercase,
                     int max_seq_len)
{
    memset(e, 0, sizeof *e);
    if (max_seq_len < 4)
        return OFA_ERR(OFA_E_CONFIG, "data.max_seq_len = %d is too small (minimum 4: [CLS] a [SEP] b [SEP])",
                       max_seq_len);
    e->n = s->n;
    e->regression = s->task >= 0 && s->task < OFA_TASK_COUNT && ofa_task_get(s->task)->num_labels == 1;
    e->off = ofa_xmalloc(((size_t)s->n + 1) * sizeof *e->off);
    e->seg_b = ofa_xmalloc(((size_t)s->n ? (size_t)s->n : 1) * sizeof *e->seg_b);
    e->label = ofa_xmalloc(((size_t)s->n ? (size_t)s->n : 1) * sizeof *e->label);
    e->index = ofa_xmalloc(((size_t)s->n ? (size_t)s->n : 1) * sizeof *e->index);
    int64_t cap_tok = 0, ntok = 0;
    int32_t *a = NULL, *b = NULL;
    int64_t na, nb, cap_a = 0, cap_b = 0;
    e->off[0] = 0;
    for (int64_t i = 0; i < s->n; i++) {
        const ofa_example *ex = &s->ex[i];
        na = nb = 0;
        int rc = ofa_wordpiece_encode(v, lowercase, ex->a, &a, &na, &cap_a);
        if (rc == 0 && ex->b) rc = ofa_wordpiece_encode(v, lowercase, ex->b, &b, &nb, &cap_b);
        if (rc < 0) {
            free(a);
            free(b);
            ofa_encoded_free(e);
            return ofa_err_prefix(rc, "%s:%lld", s->path, (long long)ex->line);
        }
        int trunc = 0;
        if (nb > 0) { /* _truncate_seq_pair: pop from the longer one */
            while (na + nb > max_seq_len - 3) {
                if (na > nb) na--;
                else nb--;
                trunc = 1;
            }
        } else if (na > max_seq_len - 2) {
            na = max_seq_len - 2;
            trunc = 1;
        }
        e->truncated += trunc;
        int64_t len = 2 + na + (nb > 0 ? nb + 1 : 0);
        if (ntok + len > cap_tok) {
            while (ntok + len > cap_tok) cap_tok = cap_tok ? 2 * cap_tok : 4096;
            e->tok = ofa_xrealloc(e->tok, (size_t)cap_tok * sizeof *e->tok);
        }
        int32_t *t = e->tok + ntok;
        int64_t k = 0;
        t[k++] = v->cls;
        for (int64_t j = 0; j < na; j++) t[k++] = a[j];
        t[k++] = v->sep;
        e->seg_b[i] = (int32_t)k;
        if (nb > 0) {
            for (int64_t j = 0; j < nb; j++) t[k++] = b[j];
            t[k++] = v->sep;
        } else {
            e->seg_b[i] = (int32_t)k;
        }
        ntok += k;
        e->off[i + 1] = ntok;
        if (k > e->max_len) e->max_len = (int)k;
        e->label[i] = ex->label;
        e->index[i] = ex->index;
    }
    free(a);
    free(b);
    return 0;
}

void ofa_encoded_free(ofa_encoded *e)
{
    if (!e) return;
    free(e->tok);
    free(e->off);
    free(e->seg_b);
    free(e->label);
    free(e->index);
    memset(e, 0, sizeof *e);
}

void ofa_batch_init(ofa_batch *b) { memset(b, 0, sizeof *b); }

void ofa_batch_make(ofa_batch *b, const ofa_encoded *e, const int64_t *rows, int B, int pad_id)
{
    OFA_ASSERT(B > 0);
    int T = 0;
    for (int i = 0; i < B; i++) {
        OFA_ASSERT(rows[i] >= 0 && rows[i] < e->n);
        int len = (int)(e->off[rows[i] + 1] - e->off[rows[i]]);
        if (len > T) T = len;
    }
    if ((int64_t)B * T > b->cap_tokens) {
        b->cap_tokens = B * T;
        b->ids = ofa_xrealloc(b->ids, (size_t)b->cap_tokens * sizeof *b->ids);
        b->types = ofa_xrealloc(b->types, (size_t)b->cap_tokens * sizeof *b->types);
    }
    if (B > b->cap_b) {
        b->cap_b = B;
        b->lens = ofa_xrealloc(b->lens, (size_t)B * sizeof *b->lens);
        b->labels = ofa_xrealloc(b->labels, (size_t)B * sizeof *b->labels);
        b->targets = ofa_xrealloc(b->targets, (size_t)B * sizeof *b->targets);
        b->rows = ofa_xrealloc(b->rows, (size_t)B * sizeof *b->rows);
    }
    b->B = B;
    b->T = T;
    for (int i = 0; i < B; i++) {
        int64_t r = rows[i];
        const int32_t *t = e->tok + e->off[r];
        int len = (int)(e->off[r + 1] - e->off[r]);
        int32_t *ids = b->ids + (size_t)i * T, *ty = b->types + (size_t)i * T;
        for (int j = 0; j < T; j++) {
            ids[j] = j < len ? t[j] : pad_id;
            ty[j] = j < len && j >= e->seg_b[r] ? 1 : 0;
        }
        b->lens[i] = len;
        b->targets[i] = e->label[r];
        b->labels[i] = e->regression ? 0 : (int32_t)lrintf(e->label[r]);
        b->rows[i] = r;
    }
}

void ofa_batch_free(ofa_batch *b)
{
    if (!b) return;
    free(b->ids);
    free(b->types);
    free(b->lens);
    free(b->labels);
    free(b->targets);
    free(b->rows);
    memset(b, 0, sizeof *b);
}
