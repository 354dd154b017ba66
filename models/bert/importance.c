#include "models/bert/importance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "datasets/glue.h"
#include "datasets/taskdata.h"
#include "models/bert/score.h"
#include "nn/loss.h"

/* ---- importance ---- */

void ofa_importance_init(ofa_importance *imp, const ofa_bert *m)
{
    memset(imp, 0, sizeof *imp);
    imp->L = m->d.L;
    imp->A = m->d.A;
    imp->F = m->d.F;
    const size_t LA = (size_t)imp->L * imp->A, LF = (size_t)imp->L * imp->F;
    imp->heads = ofa_xcalloc(LA, sizeof *imp->heads);
    imp->neurons = ofa_xcalloc(LF, sizeof *imp->neurons);
    imp->head_order = ofa_xmalloc(LA * sizeof *imp->head_order);
    imp->neuron_order = ofa_xmalloc(LF * sizeof *imp->neuron_order);
    for (size_t i = 0; i < LA; i++) imp->head_order[i] = (int32_t)(i % (size_t)imp->A);
    for (size_t i = 0; i < LF; i++) imp->neuron_order[i] = (int32_t)(i % (size_t)imp->F);
}

void ofa_importance_free(ofa_importance *imp)
{
    if (!imp) return;
    free(imp->heads);
    free(imp->neurons);
    free(imp->head_order);
    free(imp->neuron_order);
    memset(imp, 0, sizeof *imp);
}

typedef struct keyed {
    double v;
    int32_t i;
} keyed;

/* descending by value, NaN last, ties by ascending index: a total order, so qsort is stable here */
static int by_value_desc(const void *x, const void *y)
{
    const keyed *a = x, *b = y;
    int na = isnan(a->v), nb = isnan(b->v);
    if (na != nb) return na - nb;
    if (!na && a->v != b->v) return a->v > b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

void ofa_argsort_desc(const double *x, int n, int32_t *order)
{
    if (n <= 0) return;
    keyed *k = ofa_xmalloc((size_t)n * sizeof *k);
    for (int i = 0; i < n; i++) k[i] = (keyed){x[i], i};
    qsort(k, (size_t)n, sizeof *k, by_value_desc);
    for (int i = 0; i < n; i++) order[i] = k[i].i;
    free(k);
}

/* per layer over the stored heads/neurons; entries past them keep the identity order */
static void sort_with(ofa_importance *imp, const int *heads, const int *ffn)
{
    for (int l = 0; l < imp->L; l++) {
        int32_t *ho = imp->head_order + (size_t)l * imp->A, *no = imp->neuron_order + (size_t)l * imp->F;
        for (int p = 0; p < imp->A; p++) ho[p] = p;
        for (int p = 0; p < imp->F; p++) no[p] = p;
        ofa_argsort_desc(imp->heads + (size_t)l * imp->A, heads ? heads[l] : imp->A, ho);
        ofa_argsort_desc(imp->neurons + (size_t)l * imp->F, ffn ? ffn[l] : imp->F, no);
    }
}

void ofa_importance_sort(ofa_importance *imp) { sort_with(imp, NULL, NULL); }

void ofa_importance_add_batch(ofa_bert *m, ofa_bert_acts *acts, const ofa_batch *b, ofa_importance *imp)
{
    const ofa_bert_dims *d = &m->d;
    OFA_ASSERT(imp->L == d->L && imp->A == d->A && imp->F == d->F);
    const int L = d->L, A = d->A, C = d->C;
    const size_t LA = (size_t)L * A;
    float *hm = ofa_xmalloc(LA * sizeof *hm), *dhm = ofa_xcalloc(LA, sizeof *dhm);
    float *dlogits = ofa_xmalloc((size_t)b->B * C * sizeof *dlogits);
    for (size_t i = 0; i < LA; i++) hm[i] = 1.0f;

    ofa_params_zero_grad(&m->p);
    acts->head_mult = hm;
    acts->dhead_mult = dhm;
    const float *logits = ofa_bert_forward(m, acts, b->ids, b->types, b->lens, b->B, b->T, NULL, 0, 0.0, NULL);
    ofa_task_loss(dlogits, logits, b->labels, b->targets, b->B, C);
    ofa_bert_backward(m, acts, dlogits, NULL);
    acts->head_mult = NULL;
    acts->dhead_mult = NULL;

    double *s2 = ofa_xmalloc((size_t)d->F * sizeof *s2);
    for (int l = 0; l < L; l++) {
        ofa_bert_layer_view lw, lg; /* the whole layer: weights and gradients */
        ofa_bert_view_layer(&lw, m, NULL, l, m->p.data);
        ofa_bert_view_layer(&lg, m, NULL, l, m->p.grad);
        for (int h = 0; h < lw.heads; h++) imp->heads[(size_t)l * A + h] += fabs((double)dhm[(size_t)l * A + h]);
        const int f = lw.f;
        const float *w1 = lw.w1.p, *g1 = lg.w1.p, *b1 = lw.b1.p, *gb1 = lg.b1.p, *w2 = lw.w2.p, *g2 = lg.w2.p;
        for (int j = 0; j < f; j++) s2[j] = 0;
        for (int k = 0; k < lw.w2.rows; k++) /* W2 is [H, f]: row-wise for locality */
            for (int j = 0; j < f; j++)
                s2[j] += (double)w2[(size_t)k * lw.w2.ld + j] * g2[(size_t)k * lg.w2.ld + j];
        double *out = imp->neurons + (size_t)l * imp->F;
        for (int j = 0; j < f; j++) {
            double s1 = (double)b1[j] * gb1[j];
            const float *wr = w1 + (size_t)j * lw.w1.ld, *gr = g1 + (size_t)j * lg.w1.ld;
            for (int i = 0; i < lw.w1.cols; i++) s1 += (double)wr[i] * gr[i];
            out[j] += fabs(s1) + fabs(s2[j]);
        }
    }
    imp->batches++;
    imp->examples += b->B;
    free(s2);
    free(hm);
    free(dhm);
    free(dlogits);
}

int ofa_importance_from_batches(ofa_bert *m, const ofa_batch *batches, int n, ofa_importance *imp)
{
    memset(imp, 0, sizeof *imp);
    if (n < 1) return OFA_ERR(OFA_E_RUNTIME, "importance: no batches given");
    int Bmax = 1, Tmax = 1;
    for (int i = 0; i < n; i++) {
        if (batches[i].B > Bmax) Bmax = batches[i].B;
        if (batches[i].T > Tmax) Tmax = batches[i].T;
    }
    if (Tmax > m->d.P)
        return OFA_ERR(OFA_E_RUNTIME, "importance: a batch has sequences of %d tokens, the model's max_position is %d",
                       Tmax, m->d.P);
    ofa_bert_acts acts;
    ofa_bert_acts_create(&acts, &m->d, Bmax, Tmax);
    ofa_importance_init(imp, m);
    for (int i = 0; i < n; i++) ofa_importance_add_batch(m, &acts, &batches[i], imp);
    sort_with(imp, m->heads, m->ffn);
    ofa_bert_acts_free(&acts);
    return 0;
}

int ofa_importance_compute(ofa_bert *m, const ofa_encoded *dev, int batch, int64_t max_batches,
                           ofa_importance *imp)
{
    memset(imp, 0, sizeof *imp);
    OFA_ASSERT(batch >= 1);
    if (dev->n < 1) return OFA_ERR(OFA_E_DATA, "importance: the dev split is empty");
    if (dev->max_len > m->d.P)
        return OFA_ERR(OFA_E_RUNTIME, "importance: dev sequences have up to %d tokens, the model's max_position is %d",
                       dev->max_len, m->d.P);
    int64_t nb = (dev->n + batch - 1) / batch;
    if (max_batches > 0 && max_batches < nb) nb = max_batches;
    ofa_bert_acts acts;
    ofa_bert_acts_create(&acts, &m->d, batch, dev->max_len > 0 ? dev->max_len : 1);
    int64_t *rows = ofa_xmalloc((size_t)batch * sizeof *rows);
    ofa_batch b;
    ofa_batch_init(&b);
    ofa_importance_init(imp, m);
    for (int64_t k = 0; k < nb; k++) {
        int64_t s = k * batch;
        int bs = (int)(dev->n - s < batch ? dev->n - s : batch);
        for (int i = 0; i < bs; i++) rows[i] = s + i;
        /* pad id 0 as in evaluator/score: padded positions are masked out of attention, so they
         * affect neither the loss nor any gradient used here */
        ofa_batch_make(&b, dev, rows, bs, 0);
        ofa_importance_add_batch(m, &acts, &b, imp);
    }
    sort_with(imp, m->heads, m->ffn);
    ofa_batch_free(&b);
    free(rows);
    ofa_bert_acts_free(&acts);
    return 0;
}

/* ---- permutation ---- */

/* x holds n blocks of len floats; block p becomes old block order[p] */
static void permute_blocks(float *x, int n, size_t len, const int32_t *order, float *tmp)
{
    memcpy(tmp, x, (size_t)n * len * sizeof *x);
    for (int p = 0; p < n; p++) memcpy(x + (size_t)p * len, tmp + (size_t)order[p] * len, len * sizeof *x);
}

static int is_identity(const int32_t *order, int n)
{
    for (int p = 0; p < n; p++)
        if (order[p] != p) return 0;
    return 1;
}

static void assert_permutation(const int32_t *order, int n)
{
    unsigned char *seen = ofa_xcalloc((size_t)n, 1);
    for (int p = 0; p < n; p++) {
        OFA_ASSERT(order[p] >= 0 && order[p] < n && !seen[order[p]]);
        seen[order[p]] = 1;
    }
    free(seen);
}

/* the whole tensors of every layer in buf (weights, gradients, m or v): heads are blocks of D
 * whole rows of Wq/Wk/Wv (and of D entries of their biases) and of D columns of Wo, neurons rows of
 * W1 and b1 and columns of W2 */
static void apply_to(float *buf, const ofa_bert *m, const ofa_importance *imp, float *tmp)
{
    const int D = m->d.D;
    for (int l = 0; l < m->d.L; l++) {
        ofa_bert_layer_view v;
        ofa_bert_view_layer(&v, m, NULL, l, buf);
        const int a = v.heads, f = v.f;
        const int32_t *ho = imp->head_order + (size_t)l * imp->A, *no = imp->neuron_order + (size_t)l * imp->F;
        if (!is_identity(ho, a)) {
            permute_blocks(v.wq.p, a, (size_t)D * v.wq.ld, ho, tmp);
            permute_blocks(v.wk.p, a, (size_t)D * v.wk.ld, ho, tmp);
            permute_blocks(v.wv.p, a, (size_t)D * v.wv.ld, ho, tmp);
            permute_blocks(v.bq.p, a, (size_t)D, ho, tmp);
            permute_blocks(v.bk.p, a, (size_t)D, ho, tmp);
            permute_blocks(v.bv.p, a, (size_t)D, ho, tmp);
            for (int r = 0; r < v.wo.rows; r++) permute_blocks(v.wo.p + (size_t)r * v.wo.ld, a, (size_t)D, ho, tmp);
        }
        if (!is_identity(no, f)) {
            permute_blocks(v.w1.p, f, (size_t)v.w1.ld, no, tmp);
            permute_blocks(v.b1.p, f, 1, no, tmp);
            for (int r = 0; r < v.w2.rows; r++) permute_blocks(v.w2.p + (size_t)r * v.w2.ld, f, 1, no, tmp);
        }
    }
}

void ofa_reorder_apply(ofa_bert *m, const ofa_importance *imp)
{
    OFA_ASSERT(imp->L == m->d.L && imp->A == m->d.A && imp->F == m->d.F);
    for (int l = 0; l < m->d.L; l++) {
        assert_permutation(imp->head_order + (size_t)l * imp->A, m->heads[l]);
        assert_permutation(imp->neuron_order + (size_t)l * imp->F, m->ffn[l]);
    }
    size_t big = (size_t)m->d.A * m->d.D * m->d.H;
    if ((size_t)m->d.F * m->d.H > big) big = (size_t)m->d.F * m->d.H;
    float *tmp = ofa_xmalloc(big * sizeof *tmp);
    float *bufs[4] = {m->p.data, m->p.grad, m->p.m, m->p.v};
    for (int i = 0; i < 4; i++)
        if (bufs[i]) apply_to(bufs[i], m, imp, tmp);
    free(tmp);
}

/* ---- HDF5 ---- */

int ofa_importance_write(ofa_h5 *h, const ofa_importance *imp)
{
    const int64_t sa[2] = {imp->L, imp->A}, sf[2] = {imp->L, imp->F};
    OFA_TRY(ofa_h5_write_f64(h, "importance/heads", imp->heads, 2, sa));
    OFA_TRY(ofa_h5_write_f64(h, "importance/neurons", imp->neurons, 2, sf));
    OFA_TRY(ofa_h5_write_i32(h, "importance/permutation/heads", imp->head_order, 2, sa));
    OFA_TRY(ofa_h5_write_i32(h, "importance/permutation/neurons", imp->neuron_order, 2, sf));
    OFA_TRY(ofa_h5_attr_set_i64(h, "importance", "batches", imp->batches));
    OFA_TRY(ofa_h5_attr_set_i64(h, "importance", "examples", imp->examples));
    return 0;
}

static int check_orders(const ofa_h5 *h, const int32_t *order, int rows, int n, const char *name)
{
    unsigned char *seen = ofa_xmalloc((size_t)n);
    int rc = 0;
    for (int l = 0; l < rows && rc == 0; l++) {
        memset(seen, 0, (size_t)n);
        for (int p = 0; p < n; p++) {
            int32_t o = order[(size_t)l * n + p];
            if (o < 0 || o >= n || seen[o]) {
                rc = OFA_ERR(OFA_E_FORMAT, "%s: %s row %d is not a permutation of 0..%d", h->path, name, l, n - 1);
                break;
            }
            seen[o] = 1;
        }
    }
    free(seen);
    return rc;
}

static int read_body(ofa_h5 *h, ofa_importance *imp)
{
    int nd1, nd2;
    int64_t s1[OFA_H5_MAX_DIMS], s2[OFA_H5_MAX_DIMS];
    OFA_TRY(ofa_h5_shape(h, "importance/heads", &nd1, s1));
    OFA_TRY(ofa_h5_shape(h, "importance/neurons", &nd2, s2));
    if (nd1 != 2 || nd2 != 2 || s1[0] != s2[0] || s1[0] < 1 || s1[0] > OFA_MAX_LAYERS || s1[1] < 1 ||
        s1[1] > 100000 || s2[1] < 1 || s2[1] > 100000000)
        return OFA_ERR(OFA_E_FORMAT, "%s: /importance/heads and /importance/neurons have inconsistent shapes",
                       h->path);
    imp->L = (int)s1[0];
    imp->A = (int)s1[1];
    imp->F = (int)s2[1];
    const size_t LA = (size_t)imp->L * imp->A, LF = (size_t)imp->L * imp->F;
    imp->heads = ofa_xmalloc(LA * sizeof *imp->heads);
    imp->neurons = ofa_xmalloc(LF * sizeof *imp->neurons);
    imp->head_order = ofa_xmalloc(LA * sizeof *imp->head_order);
    imp->neuron_order = ofa_xmalloc(LF * sizeof *imp->neuron_order);
    OFA_TRY(ofa_h5_read_f64(h, "importance/heads", imp->heads, 2, s1));
    OFA_TRY(ofa_h5_read_f64(h, "importance/neurons", imp->neurons, 2, s2));
    OFA_TRY(ofa_h5_read_i32(h, "importance/permutation/heads", imp->head_order, 2, s1));
    OFA_TRY(ofa_h5_read_i32(h, "importance/permutation/neurons", imp->neuron_order, 2, s2));
    OFA_TRY(check_orders(h, imp->head_order, imp->L, imp->A, "/importance/permutation/heads"));
    OFA_TRY(check_orders(h, imp->neuron_order, imp->L, imp->F, "/importance/permutation/neurons"));
    if (ofa_h5_attr_exists(h, "importance", "batches"))
        OFA_TRY(ofa_h5_attr_get_i64(h, "importance", "batches", &imp->batches));
    if (ofa_h5_attr_exists(h, "importance", "examples"))
        OFA_TRY(ofa_h5_attr_get_i64(h, "importance", "examples", &imp->examples));
    return 0;
}

int ofa_importance_read(ofa_h5 *h, ofa_importance *imp)
{
    memset(imp, 0, sizeof *imp);
    int rc = read_body(h, imp);
    if (rc < 0) ofa_importance_free(imp);
    return rc;
}
