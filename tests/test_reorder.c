/* Suite reorder: importance scores against finite differences, stable orders, function-preserving
 * permutation (and its exact inverse), the /importance HDF5 group, and the stage end to end. */
#include <CUnit/CUnit.h>

#include "tests/testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/checkpoint.h"
#include "tests/bert_file.h"
#include "core/config.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/sys.h"
#include "models/bert/importance.h"
#include "trainers/reorder.h"
#include "testutil.h"
#include "nn/loss.h"
#include "trainers/teacher.h"

/* tiny model: 2 layers, hidden 16, 4 heads of 4, ffn 24, 3 classes */
static const ofa_bert_dims DIMS = {20, 16, 16, 4, 24, 2, 3, 0, 0, 0};

/* N(0, 0.2) matrices and biases, LayerNorm gamma 1 + N(0, 0.1): no zero that could hide a bug */
static void make_model(ofa_bert *m, const ofa_bert_dims *d, uint64_t seed)
{
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(m, d), 0);
    ofa_rng rng;
    ofa_rng_seed(&rng, seed);
    ofa_bert_init_weights(m, &rng, 0.2);
    for (int i = 0; i < m->p.n; i++) {
        const ofa_pview *v = &m->p.views[i];
        if (v->ndim != 1) continue;
        float *w = m->p.data + v->offset;
        int gamma = strstr(v->name, "gamma") != NULL;
        for (size_t j = 0; j < v->numel; j++)
            w[j] = gamma ? (float)(1.0 + 0.1 * ofa_rng_normal(&rng)) : (float)(0.2 * ofa_rng_normal(&rng));
    }
}

/* A hand-made encoded split of n examples of lengths 3..8, some sentence pairs, labels 0..C-1. */
static void make_encoded(ofa_encoded *e, int n, int V, int C, uint64_t seed)
{
    memset(e, 0, sizeof *e);
    ofa_rng rng;
    ofa_rng_seed(&rng, seed);
    e->n = n;
    e->off = ofa_xmalloc((size_t)(n + 1) * sizeof *e->off);
    e->seg_b = ofa_xmalloc((size_t)n * sizeof *e->seg_b);
    e->label = ofa_xmalloc((size_t)n * sizeof *e->label);
    e->index = ofa_xmalloc((size_t)n * sizeof *e->index);
    e->tok = ofa_xmalloc((size_t)n * 8 * sizeof *e->tok);
    e->off[0] = 0;
    for (int i = 0; i < n; i++) {
        int len = 3 + (int)ofa_rng_below(&rng, 6);
        for (int t = 0; t < len; t++) e->tok[e->off[i] + t] = t == 0 ? 2 : 5 + (int32_t)ofa_rng_below(&rng, (uint64_t)V - 5);
        e->off[i + 1] = e->off[i] + len;
        e->seg_b[i] = i % 2 ? len : len / 2 + 1;
        e->label[i] = (float)ofa_rng_below(&rng, (uint64_t)C);
        e->index[i] = i;
        if (len > e->max_len) e->max_len = len;
    }
}

static void make_batch(ofa_batch *b, const ofa_encoded *e, int64_t first, int B)
{
    int64_t rows[64];
    for (int i = 0; i < B; i++) rows[i] = first + i;
    ofa_batch_init(b);
    ofa_batch_make(b, e, rows, B, 0);
}

static double batch_loss(const ofa_bert *m, ofa_bert_acts *acts, const ofa_batch *b, const float *hm)
{
    acts->head_mult = hm;
    const float *lg = ofa_bert_forward(m, acts, b->ids, b->types, b->lens, b->B, b->T, NULL, 0, 0, NULL);
    acts->head_mult = NULL;
    return ofa_task_loss(NULL, lg, b->labels, b->targets, b->B, m->d.C);
}

static float *view(const ofa_bert *m, const char *name) { return ofa_params_get(&m->p, name); }

/* (a) the permutation preserves the full model's logits, changes the weights as specified, and the
 * inverse permutation restores them bitwise; importance recomputed after the reorder is permuted. */
static void test_reorder_preserves_function(void)
{
    ofa_bert m;
    make_model(&m, &DIMS, 11);
    ofa_encoded e;
    make_encoded(&e, 10, DIMS.V, DIMS.C, 5);
    const size_t total = m.p.total;
    float *orig = ofa_xmalloc(total * sizeof *orig);
    memcpy(orig, m.p.data, total * sizeof *orig);

    ofa_importance imp;
    CU_ASSERT_EQUAL_FATAL(ofa_importance_compute(&m, &e, 3, 0, &imp), 0);
    CU_ASSERT_EQUAL(imp.batches, 4);
    CU_ASSERT_EQUAL(imp.examples, 10);
    int moved = 0;
    for (int i = 0; i < DIMS.L * DIMS.A; i++) moved += imp.head_order[i] != i % DIMS.A;
    for (int i = 0; i < DIMS.L * DIMS.F; i++) moved += imp.neuron_order[i] != i % DIMS.F;
    CU_ASSERT_TRUE_FATAL(moved > 0); /* otherwise the test below proves nothing */

    ofa_bert_acts acts;
    ofa_bert_acts_create(&acts, &DIMS, 4, e.max_len);
    const int starts[3] = {0, 4, 8}, sizes[3] = {4, 4, 2};
    float before[3][4 * 3];
    ofa_batch b[3];
    for (int k = 0; k < 3; k++) {
        make_batch(&b[k], &e, starts[k], sizes[k]);
        const float *lg = ofa_bert_forward(&m, &acts, b[k].ids, b[k].types, b[k].lens, b[k].B, b[k].T, NULL, 0, 0, NULL);
        memcpy(before[k], lg, (size_t)sizes[k] * DIMS.C * sizeof(float));
    }
    ofa_reorder_apply(&m, &imp);
    CU_ASSERT_NOT_EQUAL(memcmp(orig, m.p.data, total * sizeof *orig), 0);
    for (int k = 0; k < 3; k++) {
        const float *lg = ofa_bert_forward(&m, &acts, b[k].ids, b[k].types, b[k].lens, b[k].B, b[k].T, NULL, 0, 0, NULL);
        /* float summation order changes: ~1e-7 relative expected, 1e-5 allowed (the stage's check) */
        CU_ASSERT_TRUE(tu_max_rel_err("reordered logits", lg, before[k], (size_t)sizes[k] * DIMS.C, 0.1, 1e-5) <= 1e-5);
    }

    /* the layout, checked independently on layer 1: head block p of Wq/bq = old block order[p], Wo
     * column block likewise; W1 row j / W2 column j = old neuron order[j] */
    ofa_bert o;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(&o, &DIMS), 0);
    memcpy(o.p.data, orig, total * sizeof *orig);
    const int H = DIMS.H, D = 4, A = DIMS.A, F = DIMS.F;
    const int32_t *ho = imp.head_order + A, *no = imp.neuron_order + F;
    int bad = 0;
    for (int p = 0; p < A; p++)
        for (int r = 0; r < D; r++) {
            for (int i = 0; i < H; i++) {
                bad += view(&m, "layer_01/attn/wk")[(size_t)(p * D + r) * H + i] !=
                       view(&o, "layer_01/attn/wk")[(size_t)(ho[p] * D + r) * H + i];
                bad += view(&m, "layer_01/attn/wo")[(size_t)i * A * D + p * D + r] !=
                       view(&o, "layer_01/attn/wo")[(size_t)i * A * D + ho[p] * D + r];
            }
            bad += view(&m, "layer_01/attn/bv")[p * D + r] != view(&o, "layer_01/attn/bv")[ho[p] * D + r];
        }
    for (int j = 0; j < F; j++) {
        for (int i = 0; i < H; i++) {
            bad += view(&m, "layer_01/ffn/w1")[(size_t)j * H + i] != view(&o, "layer_01/ffn/w1")[(size_t)no[j] * H + i];
            bad += view(&m, "layer_01/ffn/w2")[(size_t)i * F + j] != view(&o, "layer_01/ffn/w2")[(size_t)i * F + no[j]];
        }
        bad += view(&m, "layer_01/ffn/b1")[j] != view(&o, "layer_01/ffn/b1")[no[j]];
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* everything else untouched */
    CU_ASSERT_EQUAL(memcmp(view(&m, "layer_01/attn/bo"), view(&o, "layer_01/attn/bo"), (size_t)H * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(view(&m, "layer_00/ffn/b2"), view(&o, "layer_00/ffn/b2"), (size_t)H * sizeof(float)), 0);

    /* importance of the reordered model = permuted importance (and sorted, up to near-ties) */
    ofa_importance imp2;
    CU_ASSERT_EQUAL_FATAL(ofa_importance_compute(&m, &e, 3, 0, &imp2), 0);
    double maxerr = 0;
    for (int l = 0; l < DIMS.L; l++) {
        for (int p = 0; p < A; p++) {
            double x = imp2.heads[l * A + p], y = imp.heads[l * A + imp.head_order[l * A + p]];
            maxerr = fmax(maxerr, fabs(x - y) / fmax(fabs(y), 1e-3));
        }
        for (int p = 0; p < F; p++) {
            double x = imp2.neurons[l * F + p], y = imp.neurons[l * F + imp.neuron_order[l * F + p]];
            maxerr = fmax(maxerr, fabs(x - y) / fmax(fabs(y), 1e-3));
        }
    }
    CU_ASSERT_TRUE(maxerr < 1e-3);
    if (maxerr >= 1e-3) printf("\n  permuted importance differs by %g\n", maxerr);

    /* the inverse permutation restores the weights bitwise */
    ofa_importance inv;
    ofa_importance_init(&inv, &m);
    for (int l = 0; l < DIMS.L; l++) {
        for (int p = 0; p < A; p++) inv.head_order[l * A + imp.head_order[l * A + p]] = p;
        for (int p = 0; p < F; p++) inv.neuron_order[l * F + imp.neuron_order[l * F + p]] = p;
    }
    ofa_reorder_apply(&m, &inv);
    CU_ASSERT_EQUAL(memcmp(orig, m.p.data, total * sizeof *orig), 0);

    for (int k = 0; k < 3; k++) ofa_batch_free(&b[k]);
    ofa_importance_free(&imp);
    ofa_importance_free(&imp2);
    ofa_importance_free(&inv);
    ofa_bert_acts_free(&acts);
    ofa_encoded_free(&e);
    ofa_bert_free(&o);
    ofa_bert_free(&m);
    free(orig);
}

/* (b) head importance of one batch = |d loss / d head multiplier| by central differences, for every
 * head; two batches = the sum of the per-batch absolute values (gradients zeroed in between). */
static void test_head_importance(void)
{
    ofa_bert m;
    make_model(&m, &DIMS, 21);
    ofa_encoded e;
    make_encoded(&e, 8, DIMS.V, DIMS.C, 6);
    ofa_batch b[2];
    make_batch(&b[0], &e, 0, 5);
    make_batch(&b[1], &e, 5, 3);
    ofa_importance one, two, both;
    CU_ASSERT_EQUAL_FATAL(ofa_importance_from_batches(&m, &b[0], 1, &one), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_importance_from_batches(&m, &b[1], 1, &two), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_importance_from_batches(&m, b, 2, &both), 0);

    ofa_bert_acts acts;
    ofa_bert_acts_create(&acts, &DIMS, 5, e.max_len);
    const int LA = DIMS.L * DIMS.A;
    float hm[2 * 4];
    double fd[2 * 4], scale = 0;
    const double eps = 1e-2;
    for (int i = 0; i < LA; i++) {
        for (int j = 0; j < LA; j++) hm[j] = 1;
        hm[i] = (float)(1 + eps);
        double lp = batch_loss(&m, &acts, &b[0], hm);
        hm[i] = (float)(1 - eps);
        double lm = batch_loss(&m, &acts, &b[0], hm);
        fd[i] = fabs((lp - lm) / (2 * eps));
        scale = fmax(scale, fd[i]);
    }
    CU_ASSERT_TRUE_FATAL(scale > 1e-4);
    int bad = 0;
    for (int i = 0; i < LA; i++) {
        /* float forward, O(eps^2) truncation: 2% of the largest entry */
        if (fabs(one.heads[i] - fd[i]) > 2e-2 * scale) {
            if (bad++ < 4) printf("\n  head %d: importance %g, finite difference %g", i, one.heads[i], fd[i]);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    double err = 0;
    for (int i = 0; i < LA; i++) err = fmax(err, fabs(both.heads[i] - (one.heads[i] + two.heads[i])));
    for (int i = 0; i < DIMS.L * DIMS.F; i++)
        err = fmax(err, fabs(both.neurons[i] - (one.neurons[i] + two.neurons[i])));
    CU_ASSERT_TRUE(err < 1e-9);
    CU_ASSERT_EQUAL(both.batches, 2);
    CU_ASSERT_EQUAL(both.examples, 8);

    for (int k = 0; k < 2; k++) ofa_batch_free(&b[k]);
    ofa_importance_free(&one);
    ofa_importance_free(&two);
    ofa_importance_free(&both);
    ofa_bert_acts_free(&acts);
    ofa_encoded_free(&e);
    ofa_bert_free(&m);
}

/* scale row j of W1 and b1[j] (which = 1), or column j of W2 (which = 2), by s */
static void scale_neuron(ofa_bert *m, int l, int j, int which, float s)
{
    char n[64];
    const int H = m->d.H, F = m->ffn[l];
    if (which == 1) {
        snprintf(n, sizeof n, "layer_%02d/ffn/w1", l);
        for (int i = 0; i < H; i++) view(m, n)[(size_t)j * H + i] *= s;
        snprintf(n, sizeof n, "layer_%02d/ffn/b1", l);
        view(m, n)[j] *= s;
    } else {
        snprintf(n, sizeof n, "layer_%02d/ffn/w2", l);
        for (int k = 0; k < H; k++) view(m, n)[(size_t)k * F + j] *= s;
    }
}

/* (c) neuron importance = |d loss / d s1| + |d loss / d s2| where s1 scales neuron j's input row
 * (W1 row, b1) and s2 its output column (W2): sum_i W1 dW1 + b1 db1 and sum_k W2 dW2 are exactly
 * these derivatives, so central differences on the weights are an independent reference. */
static void test_neuron_importance(void)
{
    ofa_bert m;
    make_model(&m, &DIMS, 31);
    ofa_encoded e;
    make_encoded(&e, 6, DIMS.V, DIMS.C, 7);
    ofa_batch b;
    make_batch(&b, &e, 0, 6);
    ofa_importance imp;
    CU_ASSERT_EQUAL_FATAL(ofa_importance_from_batches(&m, &b, 1, &imp), 0);
    ofa_bert_acts acts;
    ofa_bert_acts_create(&acts, &DIMS, 6, e.max_len);
    const double eps = 1e-2;
    for (int l = 0; l < DIMS.L; l++) {
        const double *row = imp.neurons + (size_t)l * DIMS.F;
        /* the most important neuron, a middle one and the least important one */
        int js[3] = {imp.neuron_order[l * DIMS.F], imp.neuron_order[l * DIMS.F + DIMS.F / 2],
                     imp.neuron_order[l * DIMS.F + DIMS.F - 1]};
        double top = row[js[0]];
        CU_ASSERT_TRUE_FATAL(top > 1e-4);
        for (int k = 0; k < 3; k++) {
            double ref = 0;
            for (int which = 1; which <= 2; which++) {
                scale_neuron(&m, l, js[k], which, (float)(1 + eps));
                double lp = batch_loss(&m, &acts, &b, NULL);
                scale_neuron(&m, l, js[k], which, (float)(1 / (1 + eps)));
                scale_neuron(&m, l, js[k], which, (float)(1 - eps));
                double lm = batch_loss(&m, &acts, &b, NULL);
                scale_neuron(&m, l, js[k], which, (float)(1 / (1 - eps)));
                ref += fabs((lp - lm) / (2 * eps));
            }
            CU_ASSERT_TRUE(fabs(row[js[k]] - ref) <= 2e-2 * top);
            if (fabs(row[js[k]] - ref) > 2e-2 * top)
                printf("\n  layer %d neuron %d: importance %g, finite differences %g", l, js[k], row[js[k]], ref);
        }
    }
    ofa_batch_free(&b);
    ofa_importance_free(&imp);
    ofa_bert_acts_free(&acts);
    ofa_encoded_free(&e);
    ofa_bert_free(&m);
}

/* reference: stable insertion sort, descending */
static void ref_argsort(const double *x, int n, int32_t *o)
{
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && x[o[j - 1]] < x[i]) {
            o[j] = o[j - 1];
            j--;
        }
        o[j] = i;
    }
}

/* (d) stable descending argsorts, and the orders of an importance are those of its scores */
static void test_orders(void)
{
    const double x[7] = {1, 3, 3, 0.5, 2, 3, 1};
    const int32_t want[7] = {1, 2, 5, 4, 0, 6, 3};
    int32_t o[7];
    ofa_argsort_desc(x, 7, o);
    CU_ASSERT_EQUAL(memcmp(o, want, sizeof want), 0);
    ofa_rng rng;
    ofa_rng_seed(&rng, 3);
    double y[200];
    int32_t a[200], r[200];
    for (int i = 0; i < 200; i++) y[i] = (double)ofa_rng_below(&rng, 20); /* many ties */
    ofa_argsort_desc(y, 200, a);
    ref_argsort(y, 200, r);
    CU_ASSERT_EQUAL(memcmp(a, r, sizeof a), 0);

    ofa_bert m;
    make_model(&m, &DIMS, 41);
    ofa_importance imp;
    ofa_importance_init(&imp, &m);
    for (int i = 0; i < DIMS.L * DIMS.A; i++) imp.heads[i] = (double)ofa_rng_below(&rng, 3);
    for (int i = 0; i < DIMS.L * DIMS.F; i++) imp.neurons[i] = (double)ofa_rng_below(&rng, 5);
    ofa_importance_sort(&imp);
    int bad = 0;
    for (int l = 0; l < DIMS.L; l++) {
        ref_argsort(imp.heads + l * DIMS.A, DIMS.A, r);
        bad += memcmp(r, imp.head_order + l * DIMS.A, (size_t)DIMS.A * sizeof *r) != 0;
        ref_argsort(imp.neurons + l * DIMS.F, DIMS.F, r);
        bad += memcmp(r, imp.neuron_order + l * DIMS.F, (size_t)DIMS.F * sizeof *r) != 0;
    }
    CU_ASSERT_EQUAL(bad, 0);
    ofa_importance_free(&imp);
    ofa_bert_free(&m);

    /* a shaped model (layer 1 keeps 2 heads, 10 neurons): only the stored ones are sorted */
    const int heads[2] = {4, 2}, ffn[2] = {24, 10};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create_shaped(&m, &DIMS, heads, ffn), 0);
    ofa_rng_seed(&rng, 9);
    ofa_bert_init_weights(&m, &rng, 0.2);
    ofa_encoded e;
    make_encoded(&e, 4, DIMS.V, DIMS.C, 8);
    CU_ASSERT_EQUAL_FATAL(ofa_importance_compute(&m, &e, 2, 1, &imp), 0);
    CU_ASSERT_EQUAL(imp.batches, 1);
    CU_ASSERT_EQUAL(imp.examples, 2);
    CU_ASSERT_TRUE(imp.heads[DIMS.A + 2] == 0 && imp.heads[DIMS.A + 3] == 0);
    CU_ASSERT_TRUE(imp.head_order[DIMS.A + 2] == 2 && imp.head_order[DIMS.A + 3] == 3);
    CU_ASSERT_TRUE(imp.neurons[DIMS.F + 10] == 0 && imp.neuron_order[DIMS.F + 23] == 23);
    CU_ASSERT_TRUE(imp.head_order[DIMS.A] < 2 && imp.neuron_order[DIMS.F + 9] < 10);
    ofa_reorder_apply(&m, &imp); /* must stay inside the stored shapes (ASan would see it) */
    ofa_importance_free(&imp);
    ofa_encoded_free(&e);
    ofa_bert_free(&m);
}

/* (e) /importance round-trips through a checkpoint written with the extra hook */
static int write_hook(ofa_h5 *h, void *ctx) { return ofa_importance_write(h, ctx); }
static int failing_hook(ofa_h5 *h, void *ctx)
{
    (void)h;
    (void)ctx;
    return OFA_ERR(OFA_E_RUNTIME, "hook failed");
}

static void test_h5_roundtrip(void)
{
    ofa_bert m;
    make_model(&m, &DIMS, 51);
    ofa_importance imp, got;
    ofa_importance_init(&imp, &m);
    ofa_rng rng;
    ofa_rng_seed(&rng, 4);
    for (int i = 0; i < DIMS.L * DIMS.A; i++) imp.heads[i] = ofa_rng_normal(&rng) * 1e-3;
    for (int i = 0; i < DIMS.L * DIMS.F; i++) imp.neurons[i] = fabs(ofa_rng_normal(&rng)) * 1e5;
    imp.batches = 7;
    imp.examples = 99;
    ofa_importance_sort(&imp);
    ofa_ckpt_meta meta;
    ofa_ckpt_meta_init(&meta, "teacher");
    snprintf(meta.task, sizeof meta.task, "mnli"); /* DIMS has 3 outputs: a task with 3 labels */
    const char *path = tu_path("imp.h5");
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_save_bert_ex(path, &m, NULL, &meta, NULL, write_hook, &imp), 0);
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_importance_read(&h, &got), 0);
    ofa_h5_close(&h);
    CU_ASSERT_TRUE(got.L == imp.L && got.A == imp.A && got.F == imp.F && got.batches == 7 && got.examples == 99);
    const size_t LA = (size_t)imp.L * imp.A, LF = (size_t)imp.L * imp.F;
    CU_ASSERT_EQUAL(memcmp(got.heads, imp.heads, LA * sizeof(double)), 0);
    CU_ASSERT_EQUAL(memcmp(got.neurons, imp.neurons, LF * sizeof(double)), 0);
    CU_ASSERT_EQUAL(memcmp(got.head_order, imp.head_order, LA * sizeof(int32_t)), 0);
    CU_ASSERT_EQUAL(memcmp(got.neuron_order, imp.neuron_order, LF * sizeof(int32_t)), 0);
    ofa_importance_free(&got);
    /* the checkpoint still loads as a model */
    ofa_bert m2;
    ofa_ckpt_meta meta2;
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_bert(path, &m2, NULL, &meta2, NULL), 0);
    CU_ASSERT_EQUAL(memcmp(m2.p.data, m.p.data, m.p.total * sizeof(float)), 0);
    ofa_bert_free(&m2);
    ofa_ckpt_meta_free(&meta2);

    /* a stored order that is not a permutation is a format error naming the dataset */
    imp.head_order[1] = imp.head_order[0];
    path = tu_path("imp_bad.h5");
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_save_bert_ex(path, &m, NULL, &meta, NULL, write_hook, &imp), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_importance_read(&h, &got), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "/importance/permutation/heads row 0"));
    ofa_h5_close(&h);
    ofa_err_clear();

    /* a failing hook aborts the write: nothing at path, no temporary left */
    path = tu_path("imp_fail.h5");
    CU_ASSERT_EQUAL(ofa_ckpt_save_bert_ex(path, &m, NULL, &meta, NULL, failing_hook, NULL), OFA_E_RUNTIME);
    CU_ASSERT_FALSE(ofa_file_exists(path));
    CU_ASSERT_FALSE(ofa_file_exists(tu_path("imp_fail.h5.tmp")));
    ofa_err_clear();
    ofa_ckpt_meta_free(&meta);
    ofa_importance_free(&imp);
    ofa_bert_free(&m);
}

/* The checkpoint kind: its name table, the enum filled when a file is opened, and an unknown kind
 * in a file is a format error naming the file and the value. */
static void test_ckpt_kind(void)
{
    for (int k = 0; k < OFA_CKPT_KIND_COUNT; k++) CU_ASSERT_EQUAL(ofa_ckpt_kind_parse(ofa_ckpt_kind_name(k)), k);
    CU_ASSERT_STRING_EQUAL(ofa_ckpt_kind_name(OFA_CKPT_SUPERNET), "supernet");
    CU_ASSERT_EQUAL(ofa_ckpt_kind_parse("Teacher"), -1);
    CU_ASSERT_EQUAL(ofa_ckpt_kind_parse(""), -1);
    ofa_bert m, got;
    make_model(&m, &DIMS, 61);
    ofa_ckpt_meta meta, back;
    ofa_ckpt_meta_init(&meta, "teacher");
    CU_ASSERT_EQUAL(meta.kind_id, OFA_CKPT_TEACHER);
    ofa_ckpt_meta_set_kind(&meta, OFA_CKPT_SUBNET);
    CU_ASSERT(meta.kind_id == OFA_CKPT_SUBNET && !strcmp(meta.kind, "subnet"));
    const char *path = tu_path("kind.h5");
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_save_bert(path, &m, NULL, &meta, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_bert(path, &got, NULL, &back, NULL), 0);
    CU_ASSERT(back.kind_id == OFA_CKPT_SUBNET && !strcmp(back.kind, "subnet"));
    ofa_bert_free(&got);
    ofa_ckpt_meta_free(&back);
    /* a kind this build does not know (written here through the string field) */
    snprintf(meta.kind, sizeof meta.kind, "student");
    path = tu_path("kind_bad.h5");
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_save_bert(path, &m, NULL, &meta, NULL), 0);
    CU_ASSERT_EQUAL(ofa_ckpt_load_bert(path, &got, NULL, &back, NULL), OFA_E_FORMAT);
    char want[1200];
    snprintf(want, sizeof want, "%s: unknown checkpoint kind 'student' (expected teacher, supernet, subnet or search)",
             path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    ofa_err_clear();
    ofa_ckpt_meta_free(&meta);
    ofa_bert_free(&m);
}

/* The stage on a tiny SST-2 fixture: missing teacher, reorder, disabled reorder. */
static void test_stage(void)
{
    char dir[1100], cmd[1300];
    snprintf(dir, sizeof dir, "%s/rglue", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/SST-2'", dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
    tu_write_file("rglue/SST-2/train.tsv", "sentence\tlabel\na great movie\t1\nawful and boring\t0\nloved it\t1\n"
                                           "terrible plot\t0\nwhat a great cast\t1\nboring and long\t0\n");
    tu_write_file("rglue/SST-2/dev.tsv", "sentence\tlabel\ngreat movie\t1\nboring plot\t0\nloved the cast\t1\n"
                                         "awful\t0\na long movie\t0\n");
    char text[4096];
    snprintf(text, sizeof text,
             "experiment: {name: t, output_dir: %s/rout, seed: 1}\n"
             "data: {task: sst-2, glue_dir: %s, max_seq_len: 16, vocab_size: 120}\n"
             "model: {layers: 2, hidden: 16, heads: 4, ffn: 32, max_position: 16, init_std: 0.2}\n"
             "teacher: {max_steps: 3, batch_size: 2, eval_every: 3}\n",
             tu_tmpdir(), dir);
    ofa_config c;
    CU_ASSERT_EQUAL_FATAL(ofa_config_parse(&c, text, strlen(text), "r.yaml", NULL, 0), 0);
    CU_ASSERT_EQUAL(ofa_reorder_run(&c), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "rout/teacher.h5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "run 'ofa teacher' first"));
    ofa_err_clear();

    ofa_teacher_result res;
    CU_ASSERT_EQUAL_FATAL(ofa_teacher_train(&c, NULL, 0, &res), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_reorder_run(&c), 0);
    char src[1200], dst[1200];
    snprintf(src, sizeof src, "%s/rout/teacher.h5", tu_tmpdir());
    snprintf(dst, sizeof dst, "%s/rout/teacher_reordered.h5", tu_tmpdir());
    ofa_bert t, r;
    ofa_ckpt_meta mt, mr;
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_bert(src, &t, NULL, &mt, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_bert(dst, &r, NULL, &mr, NULL), 0);
    CU_ASSERT_STRING_EQUAL(mr.kind, "teacher");
    CU_ASSERT_EQUAL(mr.kind_id, OFA_CKPT_TEACHER);
    CU_ASSERT_STRING_EQUAL(mr.task, mt.task);
    CU_ASSERT_EQUAL(mr.step, mt.step);
    ofa_h5 h;
    ofa_importance imp;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, dst), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_importance_read(&h, &imp), 0);
    ofa_h5_close(&h);
    /* SST-2's search validates on a seeded half of dev (3 of the 5 rows), so the importance is
     * computed on the other 2, in one batch of 2 */
    CU_ASSERT_EQUAL(imp.batches, 1);
    CU_ASSERT_EQUAL(imp.examples, 2);
    /* the stored permutation applied to the teacher gives the stored weights, bitwise */
    ofa_reorder_apply(&t, &imp);
    CU_ASSERT_EQUAL(memcmp(t.p.data, r.p.data, t.p.total * sizeof(float)), 0);
    ofa_importance_free(&imp);
    ofa_bert_free(&r);
    ofa_ckpt_meta_free(&mr);

    /* disabled: the teacher's weights, identity orders */
    c.reorder.enabled = 0;
    CU_ASSERT_EQUAL_FATAL(ofa_reorder_run(&c), 0);
    ofa_bert_free(&t);
    ofa_ckpt_meta_free(&mt);
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_bert(src, &t, NULL, &mt, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_bert(dst, &r, NULL, &mr, NULL), 0);
    CU_ASSERT_EQUAL(memcmp(t.p.data, r.p.data, t.p.total * sizeof(float)), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, dst), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_importance_read(&h, &imp), 0);
    ofa_h5_close(&h);
    int ident = 1;
    for (int i = 0; i < imp.L * imp.A; i++) ident &= imp.head_order[i] == i % imp.A;
    for (int i = 0; i < imp.L * imp.F; i++) ident &= imp.neuron_order[i] == i % imp.F;
    CU_ASSERT_TRUE(ident);
    ofa_importance_free(&imp);
    ofa_bert_free(&t);
    ofa_bert_free(&r);
    ofa_ckpt_meta_free(&mt);
    ofa_ckpt_meta_free(&mr);
}

int test_reorder_register(void)
{
    CU_pSuite s = CU_add_suite("reorder", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "preserves_function", test_reorder_preserves_function) ||
        !CU_add_test(s, "head_importance", test_head_importance) ||
        !CU_add_test(s, "neuron_importance", test_neuron_importance) || !CU_add_test(s, "orders", test_orders) ||
        !CU_add_test(s, "h5_roundtrip", test_h5_roundtrip) || !CU_add_test(s, "ckpt_kind", test_ckpt_kind) ||
        !CU_add_test(s, "stage", test_stage))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
