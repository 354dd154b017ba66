#include "datasets/taskdata.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"

int ofa_taskdata_task(const ofa_config *c)
{
    int task = ofa_task_from_name(c->data.task);
    if (task < 0) {
        char names[256] = "";
        for (int t = 0; t < OFA_TASK_COUNT; t++) {
            strcat(names, t ? ", " : "");
            strcat(names, ofa_task_get(t)->name);
        }
        return OFA_ERR(OFA_E_CONFIG, "%s: data.task: unknown task '%s' (expected one of %s)",
                       ofa_config_origin(c, "data.task"), c->data.task, names);
    }
    return task;
}

int ofa_taskdata_encode(ofa_encoded *e, const char *glue_dir, int task, const char *split, const ofa_vocab *v,
                        int lowercase, int max_seq_len, int skip_bad, int64_t limit)
{
    ofa_glue_split s;
    OFA_TRY(ofa_glue_load(&s, glue_dir, task, split, skip_bad, limit));
    if (s.skipped) OFA_WARN("%s: skipped %lld malformed rows", s.path, (long long)s.skipped);
    int rc = ofa_encode_split(e, &s, v, lowercase, max_seq_len);
    if (rc == 0 && e->truncated)
        OFA_INFO("%s: %lld of %lld examples truncated to %d tokens", s.path, (long long)e->truncated, (long long)e->n,
                 max_seq_len);
    ofa_glue_free(&s);
    return rc;
}

int ofa_taskdata_vocab(ofa_vocab *v, const ofa_config *c, const ofa_glue_split *train)
{
    if (c->data.vocab_file[0]) {
        int rc = ofa_vocab_load(v, c->data.vocab_file);
        if (rc < 0) return ofa_err_prefix(rc, "data.vocab_file");
        OFA_INFO("vocabulary: %d tokens from %s", v->n, c->data.vocab_file);
        return 0;
    }
    double t0 = ofa_now();
    int64_t n = 0;
    const char **texts = ofa_xmalloc((size_t)(2 * train->n + 1) * sizeof *texts);
    for (int64_t i = 0; i < train->n; i++) {
        texts[n++] = train->ex[i].a;
        if (train->ex[i].b) texts[n++] = train->ex[i].b;
    }
    int rc = ofa_vocab_build(v, texts, n, c->data.vocab_size, c->data.lowercase);
    free(texts);
    if (rc == 0)
        OFA_INFO("vocabulary: built %d WordPiece tokens from %lld training examples in %.1fs", v->n,
                 (long long)train->n, ofa_now() - t0);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void ofa_holdout_split(int64_t n, double frac, uint64_t seed, int64_t **train, int64_t *n_train, int64_t **val,
                       int64_t *n_val)
{
    int64_t *perm = ofa_xmalloc((size_t)(n + 1) * sizeof *perm);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    ofa_rng r;
    ofa_rng_keyed(&r, seed, 0x5e1ec7, 0);
    ofa_rng_shuffle(&r, perm, n);
    int64_t nv = (int64_t)(frac * (double)n + 0.5);
    if (nv > n) nv = n;
    *n_train = n - nv;
    *n_val = nv;
    *train = ofa_xmalloc((size_t)(n - nv + 1) * sizeof **train);
    *val = ofa_xmalloc((size_t)(nv + 1) * sizeof **val);
    memcpy(*train, perm, (size_t)(n - nv) * sizeof *perm);
    memcpy(*val, perm + (n - nv), (size_t)nv * sizeof *perm);
    qsort(*train, (size_t)(n - nv), sizeof **train, cmp_i64);
    qsort(*val, (size_t)nv, sizeof **val, cmp_i64);
    free(perm);
}

int ofa_taskdata_val_on_dev(const ofa_config *c, int task)
{
    if (c->search.val_source == OFA_VAL_DEV) return 1;
    if (c->search.val_source == OFA_VAL_TRAIN) return 0;
    return ofa_task_get(task)->dependent_rows;
}

void ofa_taskdata_rows(const ofa_config *c, int on_dev, int dev_file, int val_part, int64_t n_file, int64_t **idx,
                       int64_t *n)
{
    if (dev_file == on_dev) { /* a file split between the search and the rest */
        int64_t *a, *b, na, nb;
        ofa_holdout_split(n_file, on_dev ? OFA_VAL_DEV_FRACTION : c->search.val_fraction, (uint64_t)c->experiment.seed,
                          &a, &na, &b, &nb);
        *idx = val_part ? b : a;
        *n = val_part ? nb : na;
        free(val_part ? a : b);
        return;
    }
    /* a file the search does not validate on: all of it for part 0, none for part 1 */
    *n = val_part ? 0 : n_file;
    *idx = ofa_xmalloc((size_t)(*n + 1) * sizeof **idx);
    for (int64_t i = 0; i < *n; i++) (*idx)[i] = i;
}

void ofa_encoded_subset(ofa_encoded *dst, const ofa_encoded *src, const int64_t *idx, int64_t n)
{
    memset(dst, 0, sizeof *dst);
    int64_t tokens = 0;
    for (int64_t i = 0; i < n; i++) tokens += src->off[idx[i] + 1] - src->off[idx[i]];
    dst->n = n;
    dst->tok = ofa_xmalloc((size_t)(tokens + 1) * sizeof *dst->tok);
    dst->off = ofa_xmalloc((size_t)(n + 1) * sizeof *dst->off);
    dst->seg_b = ofa_xmalloc((size_t)(n + 1) * sizeof *dst->seg_b);
    dst->label = ofa_xmalloc((size_t)(n + 1) * sizeof *dst->label);
    dst->index = ofa_xmalloc((size_t)(n + 1) * sizeof *dst->index);
    dst->regression = src->regression;
    dst->off[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = idx[i], len = src->off[k + 1] - src->off[k];
        memcpy(dst->tok + dst->off[i], src->tok + src->off[k], (size_t)len * sizeof *dst->tok);
        dst->off[i + 1] = dst->off[i] + len;
        dst->seg_b[i] = src->seg_b[k];
        dst->label[i] = src->label[k];
        dst->index[i] = src->index[k];
        if (len > dst->max_len) dst->max_len = (int)len;
    }
}

int ofa_encoded_len_cmp(const void *x, const void *y, void *ctx)
{
    const ofa_encoded *e = ctx;
    int64_t i = *(const int64_t *)x, j = *(const int64_t *)y;
    int64_t li = e->off[i + 1] - e->off[i], lj = e->off[j + 1] - e->off[j];
    return li != lj ? (li < lj ? -1 : 1) : (i > j) - (i < j);
}

/* The example order of one epoch: a random permutation, cut into windows of BUCKET batches whose
 * examples are sorted by length (so a batch pads to a length close to its examples'), then the
 * batches are shuffled again.  Same randomness as a plain shuffle, far less padding. */
void ofa_epoch_order(const ofa_encoded *e, int64_t *order, int B, ofa_rng *rng)
{
    const int64_t n = e->n, win = (int64_t)B * OFA_BUCKET_BATCHES;
    for (int64_t i = 0; i < n; i++) order[i] = i;
    ofa_rng_shuffle(rng, order, n);
    for (int64_t s = 0; s < n; s += win)
        qsort_r(order + s, (size_t)(n - s < win ? n - s : win), sizeof *order, ofa_encoded_len_cmp, (void *)e);
    /* shuffle whole batches (the last, possibly short, batch stays last) */
    int64_t nb = n / B;
    int64_t *perm = ofa_xmalloc((size_t)(nb + 1) * sizeof *perm), *tmp = ofa_xmalloc((size_t)n * sizeof *tmp);
    for (int64_t i = 0; i < nb; i++) perm[i] = i;
    ofa_rng_shuffle(rng, perm, nb);
    for (int64_t i = 0; i < nb; i++) memcpy(tmp + i * B, order + perm[i] * B, (size_t)B * sizeof *tmp);
    memcpy(order, tmp, (size_t)(nb * B) * sizeof *tmp);
    free(perm);
    free(tmp);
}

