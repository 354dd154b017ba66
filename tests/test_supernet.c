/* Suite supernet: subnets as views, distillation and export, against PyTorch
 * (tests/golden/supernet_tiny.h5, from make_golden_supernet.py).
 *
 * For three archs (the smallest, a depth-reduced one with mixed heads and FFN widths, one with a
 * smaller hidden size) a student supernet distilled from a full teacher must give PyTorch's subnet
 * logits and hidden states (1e-5), the distillation loss and its parts (1e-5 relative), and the
 * gradient of the whole parameter buffer (1e-4 normalized error per tensor; exactly 0 outside the
 * subnet's slices).  Then the exported subnet must reproduce the subnet's logits.  The layer and
 * outer views (the slicing rule) are checked against the stored tensors' names and shapes. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/h5io.h"
#include "models/bert/export.h"
#include "models/bert/arch.h"
#include "models/bert/bert.h"
#include "models/bert/importance.h"
#include "tests/testutil.h"
#include "core/config.h"
#include "models/bert/distill.h"
#include "models/bert/family.h"
#include "supernet/sampler.h"
#include "trainers/supernet.h"

#define FILE_ "tests/golden/supernet_tiny.h5"

static int64_t ai(ofa_h5 *h, const char *k)
{
    int64_t v = -1;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_attr_get_i64(h, "/", k, &v), 0);
    return v;
}

static double af(ofa_h5 *h, const char *k)
{
    double v = NAN;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_attr_get_f64(h, "/", k, &v), 0);
    return v;
}

static void load(ofa_h5 *h, ofa_bert *m, const char *group)
{
    char name[160];
    for (int i = 0; i < m->p.n; i++) {
        const ofa_pview *v = &m->p.views[i];
        snprintf(name, sizeof name, "%s/%s", group, v->name);
        CU_ASSERT_EQUAL_FATAL(ofa_h5_read_f32(h, name, m->p.data + v->offset, v->ndim, v->shape), 0);
    }
}

static float *read_any(ofa_h5 *h, const char *name, size_t *n)
{
    float *buf = NULL;
    int nd;
    int64_t sh[8];
    int rc = ofa_h5_read_f32_alloc(h, name, &buf, &nd, sh);
    if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    size_t k = 1;
    for (int i = 0; i < nd; i++) k *= (size_t)sh[i];
    *n = k;
    return buf;
}

static void test_subnets_vs_pytorch(void)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, FILE_), 0);
    ofa_bert_dims d = {(int)ai(&h, "vocab"), (int)ai(&h, "max_position"), (int)ai(&h, "hidden"), (int)ai(&h, "heads"),
                       (int)ai(&h, "ffn"),   (int)ai(&h, "layers"),       (int)ai(&h, "classes"), (int)ai(&h, "head_dim"), 0, 0};
    const int B = (int)ai(&h, "batch"), T = (int)ai(&h, "seq"), n_archs = (int)ai(&h, "n_archs");
    ofa_distill_cfg dc = {af(&h, "lambda_logit"), af(&h, "lambda_hidden"), af(&h, "lambda_hard"), af(&h, "temperature")};
    ofa_bert teacher, student;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(&teacher, &d), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(&student, &d), 0);
    load(&h, &teacher, "teacher");
    load(&h, &student, "student");
    int32_t ids[256], types[256], lens[16], labels[16];
    int64_t bt[2] = {B, T}, b1[1] = {B};
    CU_ASSERT_FATAL(B * T <= 256 && B <= 16);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, "batch/ids", ids, 2, bt), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, "batch/types", types, 2, bt), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, "batch/lens", lens, 1, b1), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, "batch/labels", labels, 1, b1), 0);
    ofa_bert_acts ta, sa, ea, fa;
    /* the teacher's arena as the distiller makes it (forward only: one layer's work, each block's
     * output); the same bits as a whole arena's forward */
    CU_ASSERT_EQUAL_FATAL(ofa_bert_acts_try_create_forward(&ta, &d, B, T), 0);
    ofa_bert_acts_create(&fa, &d, B, T);
    ofa_bert_acts_create(&sa, &d, B, T);
    ofa_bert_forward(&teacher, &ta, ids, types, lens, B, T, NULL, 0, 0.0, NULL);
    ofa_bert_forward(&teacher, &fa, ids, types, lens, B, T, NULL, 0, 0.0, NULL);
    CU_ASSERT(d.L >= 2 && ta.arena_bytes < fa.arena_bytes * 3 / 4);
    CU_ASSERT(memcmp(ta.logits, fa.logits, (size_t)B * d.C * sizeof(float)) == 0);
    CU_ASSERT(memcmp(ta.x0, fa.x0, (size_t)B * T * d.H * sizeof(float)) == 0);
    for (int l = 0; l < d.L; l++)
        CU_ASSERT(memcmp(ta.layer[l].x2, fa.layer[l].x2, (size_t)B * T * d.H * sizeof(float)) == 0);
    ofa_bert_acts_free(&fa);
    float dlogits[64], *dhidden[OFA_MAX_LAYERS + 1];
    for (int j = 0; j <= d.L; j++) dhidden[j] = calloc((size_t)B * T * d.H, sizeof(float));
    for (int k = 0; k < n_archs; k++) {
        char g[32], name[200], *text = NULL;
        snprintf(g, sizeof g, "arch_%d", k);
        CU_ASSERT_EQUAL_FATAL(ofa_h5_attr_get_str(&h, g, "text", &text), 0);
        ofa_bert_arch a;
        CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, text, d.L, d.H, OFA_DEPTH_DYNABERT), 0);
        int32_t kept[OFA_MAX_LAYERS];
        int64_t dd[1] = {a.depth};
        CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, (snprintf(name, sizeof name, "%s/kept", g), name), kept, 1, dd), 0);
        for (int i = 0; i < a.depth; i++) CU_ASSERT_EQUAL(a.layer[i], kept[i]);
        /* forward of the subnet and its distillation loss */
        ofa_bert_forward(&student, &sa, ids, types, lens, B, T, &a, 0, 0.0, NULL);
        ofa_distill_parts parts;
        double loss = ofa_distill_loss(&dc, &sa, &ta, d.C, labels, NULL, dlogits, dhidden, &parts);
        size_t n;
        float *want = read_any(&h, (snprintf(name, sizeof name, "%s/logits", g), name), &n);
        CU_ASSERT(tu_max_rel_err(text, sa.logits, want, n, 1e-6, 1e-5) < 1e-5);
        free(want);
        for (int j = 0; j <= a.depth; j++) {
            want = read_any(&h, (snprintf(name, sizeof name, "%s/hidden/%d", g, j), name), &n);
            CU_ASSERT_EQUAL(n, (size_t)B * T * a.hidden);
            double e = tu_norm_err(j ? sa.layer[j - 1].x2 : sa.x0, want, n);
            if (!(e < 1e-5)) fprintf(stderr, "\n  %s hidden %d: normalized error %.3g\n", text, j, e);
            CU_ASSERT(e < 1e-5);
            free(want);
        }
        want = read_any(&h, (snprintf(name, sizeof name, "%s/loss", g), name), &n);
        float lf = (float)loss;
        CU_ASSERT(tu_max_rel_err("distill loss", &lf, want, 1, 1e-6, 1e-5) < 1e-5);
        free(want);
        want = read_any(&h, (snprintf(name, sizeof name, "%s/loss_parts", g), name), &n);
        float pf[3] = {(float)parts.logit, (float)parts.hidden, (float)parts.hard};
        CU_ASSERT(tu_max_rel_err("loss parts", pf, want, 3, 1e-6, 1e-5) < 1e-5);
        free(want);
        /* gradients of the whole buffer */
        ofa_params_zero_grad(&student.p);
        ofa_bert_backward(&student, &sa, dlogits, (const float *const *)dhidden);
        double gn = 0;
        for (size_t i = 0; i < student.p.total; i++) gn += (double)student.p.grad[i] * student.p.grad[i];
        gn = sqrt(gn);
        int bad = 0;
        for (int i = 0; i < student.p.n; i++) {
            const ofa_pview *v = &student.p.views[i];
            const float *got = student.p.grad + v->offset;
            snprintf(name, sizeof name, "%s/grad/%s", g, v->name);
            want = read_any(&h, name, &n);
            int all_zero = 1, same_zeros = 1;
            for (size_t q = 0; q < n; q++) {
                all_zero &= want[q] == 0.0f;
                if (want[q] == 0.0f && got[q] != 0.0f && !ofa_h5_attr_exists(&h, name, "exact_zero")) same_zeros = 0;
            }
            double e;
            if (ofa_h5_attr_exists(&h, name, "exact_zero")) {
                double z = 0;
                for (size_t q = 0; q < n; q++) z += (double)got[q] * got[q];
                e = sqrt(z) <= 1e-6 * gn ? 0 : 1;
            } else if (all_zero) {
                e = same_zeros ? 0 : 1;
            } else {
                e = tu_norm_err(got, want, n);
            }
            if (!(e < 1e-4) || !same_zeros) {
                fprintf(stderr, "\n  %s: %s gradient error %.3g%s", text, v->name, e,
                        same_zeros ? "" : " (nonzero outside the subnet's slice)");
                bad++;
            }
            free(want);
        }
        CU_ASSERT_EQUAL(bad, 0);
        /* the exported subnet computes the same logits standalone */
        ofa_bert sub;
        CU_ASSERT_EQUAL_FATAL(ofa_export_subnet(&sub, &student, &a), 0);
        ofa_bert_acts_create(&ea, &sub.d, B, T);
        const float *lg = ofa_bert_forward(&sub, &ea, ids, types, lens, B, T, NULL, 0, 0.0, NULL);
        CU_ASSERT(tu_max_rel_err("exported logits", lg, sa.logits, (size_t)B * d.C, 1e-6, 1e-6) < 1e-6);
        ofa_bert_acts_free(&ea);
        ofa_bert_free(&sub);
        free(text);
    }
    for (int j = 0; j <= d.L; j++) free(dhidden[j]);
    ofa_bert_acts_free(&ta);
    ofa_bert_acts_free(&sa);
    ofa_bert_free(&teacher);
    ofa_bert_free(&student);
    ofa_h5_close(&h);
}

/* Head and neuron importance over two batches, their orders, and the reordered weights, against
 * tests/golden/importance_tiny.h5 (importance within 1e-4 relative, orders exact). */
static void test_importance_vs_pytorch(void)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, "tests/golden/importance_tiny.h5"), 0);
    ofa_bert_dims d = {(int)ai(&h, "vocab"), (int)ai(&h, "max_position"), (int)ai(&h, "hidden"), (int)ai(&h, "heads"),
                       (int)ai(&h, "ffn"),   (int)ai(&h, "layers"),       (int)ai(&h, "classes"), (int)ai(&h, "head_dim"), 0, 0};
    const int nb = (int)ai(&h, "n_batches");
    ofa_bert m;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(&m, &d), 0);
    load(&h, &m, "init");
    ofa_batch batches[4];
    CU_ASSERT_FATAL(nb <= 4);
    for (int k = 0; k < nb; k++) {
        char name[64];
        int nd;
        int64_t sh[8];
        snprintf(name, sizeof name, "batch_%d/ids", k);
        CU_ASSERT_EQUAL_FATAL(ofa_h5_shape(&h, name, &nd, sh), 0);
        ofa_batch *b = &batches[k];
        ofa_batch_init(b);
        b->B = (int)sh[0];
        b->T = (int)sh[1];
        b->ids = calloc((size_t)(b->B * b->T), sizeof(int32_t));
        b->types = calloc((size_t)(b->B * b->T), sizeof(int32_t));
        b->lens = calloc((size_t)b->B, sizeof(int32_t));
        b->labels = calloc((size_t)b->B, sizeof(int32_t));
        b->targets = calloc((size_t)b->B, sizeof(float));
        int64_t b1[1] = {b->B};
        CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, name, b->ids, 2, sh), 0);
        snprintf(name, sizeof name, "batch_%d/types", k);
        CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, name, b->types, 2, sh), 0);
        snprintf(name, sizeof name, "batch_%d/lens", k);
        CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, name, b->lens, 1, b1), 0);
        snprintf(name, sizeof name, "batch_%d/labels", k);
        CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, name, b->labels, 1, b1), 0);
    }
    ofa_importance imp;
    CU_ASSERT_EQUAL_FATAL(ofa_importance_from_batches(&m, batches, nb, &imp), 0);
    size_t n;
    float *want = read_any(&h, "importance/heads", &n), *got = malloc(n * sizeof(float));
    CU_ASSERT_EQUAL_FATAL(n, (size_t)d.L * d.A);
    for (size_t i = 0; i < n; i++) got[i] = (float)imp.heads[i];
    CU_ASSERT(tu_max_rel_err("head importance", got, want, n, 1e-9, 1e-4) < 1e-4);
    free(want);
    free(got);
    want = read_any(&h, "importance/neurons", &n);
    got = malloc(n * sizeof(float));
    CU_ASSERT_EQUAL_FATAL(n, (size_t)d.L * d.F);
    for (size_t i = 0; i < n; i++) got[i] = (float)imp.neurons[i];
    CU_ASSERT(tu_max_rel_err("neuron importance", got, want, n, 1e-9, 1e-4) < 1e-4);
    free(want);
    free(got);
    int32_t ho[64], no[256];
    int64_t sa[2] = {d.L, d.A}, sf[2] = {d.L, d.F};
    CU_ASSERT_FATAL(d.L * d.A <= 64 && d.L * d.F <= 256);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, "importance/head_order", ho, 2, sa), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, "importance/neuron_order", no, 2, sf), 0);
    CU_ASSERT(memcmp(ho, imp.head_order, sizeof(int32_t) * (size_t)(d.L * d.A)) == 0);
    CU_ASSERT(memcmp(no, imp.neuron_order, sizeof(int32_t) * (size_t)(d.L * d.F)) == 0);
    ofa_reorder_apply(&m, &imp);
    int bad = 0;
    for (int i = 0; i < m.p.n; i++) {
        const ofa_pview *v = &m.p.views[i];
        char name[160];
        snprintf(name, sizeof name, "reordered/%s", v->name);
        want = read_any(&h, name, &n);
        if (memcmp(want, m.p.data + v->offset, n * sizeof(float)) != 0) {
            fprintf(stderr, "\n  %s differs from PyTorch's permutation", name);
            bad++;
        }
        free(want);
    }
    CU_ASSERT_EQUAL(bad, 0);
    for (int k = 0; k < nb; k++) {
        free(batches[k].ids);
        free(batches[k].types);
        free(batches[k].lens);
        free(batches[k].labels);
        free(batches[k].targets);
    }
    ofa_importance_free(&imp);
    ofa_bert_free(&m);
    ofa_h5_close(&h);
}

/* The step plan of each sampler: deterministic in (seed, step), sandwich = largest + smallest +
 * random, grid = every depth x width point the phase allows, all in the space. */
static int same_arch(const ofa_bert_arch *x, const ofa_bert_arch *y, int n)
{
    for (int j = 0; j < n; j++) {
        char p[OFA_ARCH_TEXT_MAX], q[OFA_ARCH_TEXT_MAX];
        ofa_bert_arch_print(&x[j], 256, p, sizeof p);
        ofa_bert_arch_print(&y[j], 256, q, sizeof q);
        if (strcmp(p, q) != 0) return 0;
    }
    return 1;
}

/* The stored tensor a slice starts in, checked to hold the slice's window (2-D: ld is the stored
 * row length; whole = the window is the whole tensor). */
static void check_slice(const ofa_bert *m, const float *buf, const ofa_bert_slice *s, int whole)
{
    const ofa_pview *t = NULL;
    for (int i = 0; i < m->p.n; i++)
        if (buf + m->p.views[i].offset == s->p) t = &m->p.views[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    if (t->ndim == 2) {
        CU_ASSERT(s->ld == t->shape[1] && s->rows >= 1 && s->rows <= t->shape[0] && s->cols >= 1 && s->cols <= s->ld);
        if (whole) CU_ASSERT(s->rows == t->shape[0] && s->cols == t->shape[1]);
    } else {
        CU_ASSERT(s->rows == 1 && s->cols >= 1 && s->cols <= t->shape[0]);
        if (whole) CU_ASSERT(s->cols == t->shape[0]);
    }
}

/* The layer and outer views: the slicing rule on an exported-like model (per-layer widths) and a
 * subnet of it with a smaller hidden size, in every buffer; whole tensors without an arch. */
static void test_layer_view(void)
{
    const ofa_bert_dims d = {.V = 20, .P = 8, .H = 16, .A = 4, .F = 32, .L = 3, .C = 3};
    const int heads[3] = {4, 3, 2}, ffn[3] = {32, 24, 16};
    ofa_bert m;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create_shaped(&m, &d, heads, ffn), 0);
    ofa_bert_arch a = {.depth = 2, .layer = {0, 2}, .heads = {2, 1}, .ffn = {20, 5}, .hidden = 12};
    ofa_bert_layer_view v, g;
    ofa_bert_view_layer(&v, &m, &a, 1, m.p.data);
    ofa_bert_view_layer(&g, &m, &a, 1, m.p.grad);
    CU_ASSERT(v.layer == 2 && v.heads == 1 && v.w == 4 && v.f == 5 && v.E == 12);
    CU_ASSERT(v.wq.p == ofa_params_get(&m.p, "layer_02/attn/wq"));
    CU_ASSERT(g.wq.p == ofa_params_grad(&m.p, "layer_02/attn/wq"));
    CU_ASSERT(v.wq.rows == 4 && v.wq.cols == 12 && v.wq.ld == 16);
    CU_ASSERT(v.bv.p == ofa_params_get(&m.p, "layer_02/attn/bv") && v.bv.cols == 4);
    CU_ASSERT(v.wo.p == ofa_params_get(&m.p, "layer_02/attn/wo"));
    CU_ASSERT(v.wo.rows == 12 && v.wo.cols == 4 && v.wo.ld == 8); /* ld: the 2 stored heads */
    CU_ASSERT(v.w1.rows == 5 && v.w1.cols == 12 && v.w1.ld == 16 && v.b1.cols == 5);
    CU_ASSERT(v.w2.p == ofa_params_get(&m.p, "layer_02/ffn/w2") && g.w2.p == ofa_params_grad(&m.p, "layer_02/ffn/w2"));
    CU_ASSERT(v.w2.rows == 12 && v.w2.cols == 5 && v.w2.ld == 16); /* ld: the 16 stored neurons */
    CU_ASSERT(v.ln2_b.p == ofa_params_get(&m.p, "layer_02/ffn_ln/beta") && v.ln2_b.cols == 12);
    ofa_bert_outer_view o;
    ofa_bert_view_outer(&o, &m, &a, m.p.grad);
    CU_ASSERT(o.E == 12 && o.C == 3 && o.word.p == ofa_params_grad(&m.p, "embeddings/word"));
    CU_ASSERT(o.word.rows == 20 && o.word.cols == 12 && o.word.ld == 16 && o.pos.rows == 8 && o.type.rows == 2);
    CU_ASSERT(o.pool_w.rows == 12 && o.pool_w.cols == 12 && o.pool_w.ld == 16 && o.pool_b.cols == 12);
    CU_ASSERT(o.cls_w.rows == 3 && o.cls_w.cols == 12 && o.cls_b.cols == 3);
    float *bufs[4] = {m.p.data, m.p.grad, m.p.m, m.p.v};
    for (int k = 0; k < 4; k++)
        for (int whole = 0; whole < 2; whole++) {
            const ofa_bert_arch *ar = whole ? NULL : &a;
            for (int i = 0; i < (whole ? d.L : a.depth); i++) {
                ofa_bert_view_layer(&v, &m, ar, i, bufs[k]);
                CU_ASSERT_EQUAL(v.layer, whole ? i : a.layer[i]);
#define CHECK(name) check_slice(&m, bufs[k], &v.name, whole);
                OFA_BERT_LAYER_TENSORS(CHECK)
#undef CHECK
            }
            ofa_bert_view_outer(&o, &m, ar, bufs[k]);
            const ofa_bert_slice *os[] = {&o.word, &o.pos, &o.type, &o.emb_g, &o.emb_b,
                                          &o.pool_w, &o.pool_b, &o.cls_w, &o.cls_b};
            for (int j = 0; j < 9; j++) check_slice(&m, bufs[k], os[j], whole);
        }
    ofa_bert_free(&m);
}

/* the family-independent plan, its archs read back as BERT's */
static int plan(const ofa_config *c, const ofa_space *s, int elastic, int64_t step, ofa_arch *g, ofa_bert_arch *out)
{
    int n = ofa_supernet_plan(c, s, elastic, step, g);
    for (int j = 0; j < n; j++) out[j] = g[j].u.bert;
    return n;
}

static void test_plan(void)
{
    ofa_config c;
    ofa_config_defaults(&c);
    ofa_bert_space sp;
    int depth[] = {2, 3, 4}, heads[] = {1, 2, 4}, ffn[] = {256, 512, 1024};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&sp, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, depth, 3, heads, 3, ffn, 3, NULL, 0), 0);
    ofa_space gs;
    ofa_space_from_bert(&gs, &sp);
    ofa_arch *ga = malloc(OFA_MAX_SUBNETS * sizeof *ga), *gb = malloc(OFA_MAX_SUBNETS * sizeof *gb);
    ofa_bert_arch *a = malloc(OFA_MAX_SUBNETS * sizeof *a), *b = malloc(OFA_MAX_SUBNETS * sizeof *b);
    const int all = OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH;
    c.supernet.sampler = OFA_SAMPLER_SANDWICH;
    c.supernet.subnets_per_step = 5;
    CU_ASSERT_EQUAL(plan(&c, &gs, all, 7, ga, a), 5);
    CU_ASSERT_EQUAL(plan(&c, &gs, all, 7, gb, b), 5);
    CU_ASSERT(same_arch(a, b, 5));
    ofa_bert_arch big, small;
    ofa_bert_arch_largest(&big, &sp);
    ofa_bert_arch_smallest(&small, &sp, all);
    CU_ASSERT(same_arch(&a[0], &big, 1));
    CU_ASSERT(same_arch(&a[1], &small, 1));
    for (int j = 0; j < 5; j++) CU_ASSERT_EQUAL(ofa_bert_arch_check(&a[j], &sp), 0);
    CU_ASSERT_EQUAL(plan(&c, &gs, all, 8, gb, b), 5);
    CU_ASSERT(!same_arch(a + 2, b + 2, 3)); /* another step, other random subnets */
    /* width-only phase: every subnet keeps full depth */
    plan(&c, &gs, OFA_ELASTIC_WIDTH, 3, ga, a);
    for (int j = 0; j < 5; j++) CU_ASSERT_EQUAL(a[j].depth, 4);
    c.supernet.sampler = OFA_SAMPLER_RANDOM;
    CU_ASSERT_EQUAL(plan(&c, &gs, all, 1, ga, a), 5);
    for (int j = 0; j < 5; j++) CU_ASSERT_EQUAL(ofa_bert_arch_check(&a[j], &sp), 0);
    c.supernet.sampler = OFA_SAMPLER_GRID;
    CU_ASSERT_EQUAL(plan(&c, &gs, all, 1, ga, a), 9);
    CU_ASSERT_EQUAL(plan(&c, &gs, OFA_ELASTIC_WIDTH, 1, ga, a), 3);
    for (int j = 0; j < 3; j++) CU_ASSERT_EQUAL(a[j].depth, 4);
    CU_ASSERT_EQUAL(plan(&c, &gs, OFA_ELASTIC_DEPTH, 1, ga, a), 3);
    for (int j = 0; j < 3; j++) CU_ASSERT_EQUAL(a[j].heads[0], 4);
    free(a);
    free(b);
    free(ga);
    free(gb);
}

int test_supernet_register(void)
{
    CU_pSuite s = CU_add_suite("supernet", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "subnets_vs_pytorch", test_subnets_vs_pytorch) ||
        !CU_add_test(s, "importance_vs_pytorch", test_importance_vs_pytorch) || !CU_add_test(s, "plan", test_plan) ||
        !CU_add_test(s, "layer_view", test_layer_view))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
