/* Suite nn: every kernel's backward against central finite differences of its forward, in double
 * (the _f64 instances of the same source as the float kernels), forwards against naive references,
 * f32 vs f64 agreement, accumulation, and AdamW / clipping / lr schedule against PyTorch and by hand.
 *
 * Each gradient check uses the scalar L = sum(out * R) for a fixed random R, so dout = R.  Central
 * differences with h = 1e-6 in double have truncation error ~h^2 and round-off ~1e-16 |L| / h ~ 1e-10,
 * so a normalized error ||analytic - numeric|| / ||numeric|| below 1e-6 leaves a wide margin while
 * any wrong term (typically O(1) relative) fails. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/par.h"
#include "core/rng.h"
#include "nn/nn.h"
#include "nn/optim.h"
#include "nn/params.h"
#include "tests/testutil.h"

#define FD_H 1e-6
#define FD_TOL 1e-6

typedef double (*loss_fn)(void *ctx);

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

static void fill_normal(ofa_rng *r, double *x, size_t n, double s)
{
    for (size_t i = 0; i < n; i++) x[i] = s * ofa_rng_normal(r);
}

/* sum over an [rows, cols] block of stride ld of out * R (R has the same layout). */
static double dot_block(const double *out, const double *R, int rows, int cols, int ld)
{
    double s = 0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) s += out[(size_t)i * ld + j] * R[(size_t)i * ld + j];
    return s;
}

/* Normalized error of the analytic gradient g against central differences of f w.r.t. x[0..n). */
static double fd_err(const char *name, loss_fn f, void *ctx, double *x, size_t n, const double *g)
{
    double *num = dalloc(n);
    for (size_t i = 0; i < n; i++) {
        double save = x[i];
        x[i] = save + FD_H;
        double lp = f(ctx);
        x[i] = save - FD_H;
        double lm = f(ctx);
        x[i] = save;
        num[i] = (lp - lm) / (2 * FD_H);
    }
    double err = tu_norm_err_d(g, num, n);
    if (!(err < FD_TOL)) {
        fprintf(stderr, "\n  %s: normalized fd error %.3g\n", name, err);
        for (size_t i = 0, shown = 0; i < n && shown < 5; i++)
            if (fabs(g[i] - num[i]) > FD_TOL * (1 + fabs(num[i])))
                fprintf(stderr, "  %s[%zu]: analytic %.12g numeric %.12g\n", name, i, g[i], num[i]), shown++;
    }
    free(num);
    return err;
}

#define CHECK_FD(name, f, ctx, x, n, g) CU_ASSERT(fd_err(name, f, ctx, x, n, g) < FD_TOL)

/* True when every element of a[0..n) equals 2 * b[i] up to rounding (backward accumulated twice). */
static int doubled(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i] - 2 * b[i]) > 1e-12 * (1 + fabs(b[i]))) return 0;
    return 1;
}

/* ---- linear: W is the [O, I] corner of a [O2, I2] matrix, x and y have padded rows ---- */

enum { LN_N = 3, LN_I = 4, LN_O = 5, LN_O2 = 7, LN_I2 = 6, LN_LDX = 9, LN_LDY = 8 };
typedef struct {
    double w[LN_O2 * LN_I2], x[LN_N * LN_LDX], b[LN_O], y[LN_N * LN_LDY], R[LN_N * LN_LDY];
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    nn_linear_fwd_f64(c->y, LN_LDY, c->x, LN_LDX, c->w, LN_I2, c->b, LN_N, LN_I, LN_O);
    return dot_block(c->y, c->R, LN_N, LN_O, LN_LDY);
}

static void test_linear(void)
{
    ofa_rng r;
    ofa_rng_seed(&r, 1);
    lin_ctx c;
    fill_normal(&r, c.w, LN_O2 * LN_I2, 1);
    fill_normal(&r, c.x, LN_N * LN_LDX, 1);
    fill_normal(&r, c.b, LN_O, 1);
    fill_normal(&r, c.R, LN_N * LN_LDY, 1);
    for (int i = 0; i < LN_N * LN_LDY; i++) c.y[i] = 1234.5; /* sentinel in the padding */
    lin_loss(&c);
    int ok = 1;
    for (int n = 0; n < LN_N; n++)
        for (int o = 0; o < LN_LDY; o++) {
            double want = 1234.5;
            if (o < LN_O) {
                want = c.b[o];
                for (int i = 0; i < LN_I; i++) want += c.x[n * LN_LDX + i] * c.w[o * LN_I2 + i];
            }
            ok &= fabs(c.y[n * LN_LDY + o] - want) < 1e-12 * (1 + fabs(want));
        }
    CU_ASSERT(ok);

    double dw[LN_O2 * LN_I2] = {0}, dx[LN_N * LN_LDX] = {0}, db[LN_O] = {0};
    nn_linear_bwd_f64(dx, LN_LDX, dw, LN_I2, db, c.R, LN_LDY, c.x, LN_LDX, c.w, LN_I2, LN_N, LN_I, LN_O);
    CHECK_FD("linear dW", lin_loss, &c, c.w, LN_O2 * LN_I2, dw);
    CHECK_FD("linear dx", lin_loss, &c, c.x, LN_N * LN_LDX, dx);
    CHECK_FD("linear db", lin_loss, &c, c.b, LN_O, db);
    int outside_zero = 1; /* nothing lands outside the slices */
    for (int o = 0; o < LN_O2; o++)
        for (int i = 0; i < LN_I2; i++)
            if (o >= LN_O || i >= LN_I) outside_zero &= dw[o * LN_I2 + i] == 0;
    for (int n = 0; n < LN_N; n++)
        for (int i = LN_I; i < LN_LDX; i++) outside_zero &= dx[n * LN_LDX + i] == 0;
    CU_ASSERT(outside_zero);

    double dw2[LN_O2 * LN_I2], dx2[LN_N * LN_LDX], db2[LN_O];
    memcpy(dw2, dw, sizeof dw);
    memcpy(dx2, dx, sizeof dx);
    memcpy(db2, db, sizeof db);
    nn_linear_bwd_f64(dx2, LN_LDX, dw2, LN_I2, db2, c.R, LN_LDY, c.x, LN_LDX, c.w, LN_I2, LN_N, LN_I, LN_O);
    CU_ASSERT(doubled(dw2, dw, LN_O2 * LN_I2) && doubled(dx2, dx, LN_N * LN_LDX) && doubled(db2, db, LN_O));
}

/* ---- embedding (repeated ids, padded rows, accumulate mode) ---- */

enum { EM_V = 6, EM_LDT = 5, EM_C = 4, EM_N = 5, EM_LDO = 6 };
typedef struct {
    double table[EM_V * EM_LDT], base[EM_N * EM_LDO], out[EM_N * EM_LDO], R[EM_N * EM_LDO];
    int32_t ids[EM_N];
} emb_ctx;

static double emb_loss(void *p)
{
    emb_ctx *c = p;
    memcpy(c->out, c->base, sizeof c->out);
    nn_embed_fwd_f64(c->out, EM_LDO, c->ids, EM_N, c->table, EM_LDT, EM_C, 1);
    return dot_block(c->out, c->R, EM_N, EM_C, EM_LDO);
}

static void test_embed(void)
{
    ofa_rng r;
    ofa_rng_seed(&r, 2);
    emb_ctx c = {.ids = {1, 3, 1, 0, 5}};
    fill_normal(&r, c.table, EM_V * EM_LDT, 1);
    fill_normal(&r, c.base, EM_N * EM_LDO, 1);
    fill_normal(&r, c.R, EM_N * EM_LDO, 1);
    emb_loss(&c);
    int ok = 1;
    for (int n = 0; n < EM_N; n++)
        for (int j = 0; j < EM_LDO; j++) {
            double want = c.base[n * EM_LDO + j] + (j < EM_C ? c.table[c.ids[n] * EM_LDT + j] : 0);
            ok &= c.out[n * EM_LDO + j] == want;
        }
    double plain[EM_N * EM_LDO];
    nn_embed_fwd_f64(plain, EM_LDO, c.ids, EM_N, c.table, EM_LDT, EM_C, 0);
    for (int n = 0; n < EM_N; n++)
        for (int j = 0; j < EM_C; j++) ok &= plain[n * EM_LDO + j] == c.table[c.ids[n] * EM_LDT + j];
    CU_ASSERT(ok);
    double dt[EM_V * EM_LDT] = {0};
    nn_embed_bwd_f64(dt, EM_LDT, c.R, EM_LDO, c.ids, EM_N, EM_C);
    CHECK_FD("embed dtable", emb_loss, &c, c.table, EM_V * EM_LDT, dt);
}

/* ---- LayerNorm ---- */

enum { LNm_N = 3, LNm_C = 7 };
typedef struct {
    double x[LNm_N * LNm_C], g[LNm_C], b[LNm_C], y[LNm_N * LNm_C], mean[LNm_N], rstd[LNm_N], R[LNm_N * LNm_C];
} lnorm_ctx;

static double lnorm_loss(void *p)
{
    lnorm_ctx *c = p;
    nn_layernorm_fwd_f64(c->y, c->mean, c->rstd, c->x, c->g, c->b, LNm_N, LNm_C, 1e-5);
    return dot_block(c->y, c->R, LNm_N, LNm_C, LNm_C);
}

static void test_layernorm(void)
{
    ofa_rng r;
    ofa_rng_seed(&r, 3);
    lnorm_ctx c;
    fill_normal(&r, c.x, LNm_N * LNm_C, 2);
    for (int i = 0; i < LNm_N * LNm_C; i++) c.x[i] += 3; /* nonzero mean */
    fill_normal(&r, c.g, LNm_C, 1);
    fill_normal(&r, c.b, LNm_C, 1);
    fill_normal(&r, c.R, LNm_N * LNm_C, 1);
    lnorm_loss(&c);
    int ok = 1;
    for (int n = 0; n < LNm_N; n++) {
        double m = 0, v = 0;
        for (int j = 0; j < LNm_C; j++) m += c.x[n * LNm_C + j] / LNm_C;
        for (int j = 0; j < LNm_C; j++) v += pow(c.x[n * LNm_C + j] - m, 2) / LNm_C;
        for (int j = 0; j < LNm_C; j++) {
            double want = (c.x[n * LNm_C + j] - m) / sqrt(v + 1e-5) * c.g[j] + c.b[j];
            ok &= fabs(c.y[n * LNm_C + j] - want) < 1e-12;
        }
    }
    CU_ASSERT(ok);
    double dx[LNm_N * LNm_C] = {0}, dg[LNm_C] = {0}, db[LNm_C] = {0};
    nn_layernorm_bwd_f64(dx, dg, db, c.R, c.x, c.mean, c.rstd, c.g, LNm_N, LNm_C);
    CHECK_FD("layernorm dx", lnorm_loss, &c, c.x, LNm_N * LNm_C, dx);
    CHECK_FD("layernorm dg", lnorm_loss, &c, c.g, LNm_C, dg);
    CHECK_FD("layernorm db", lnorm_loss, &c, c.b, LNm_C, db);
}

/* ---- elementwise: GELU, tanh, dropout ---- */

enum { EW_N = 23 };
typedef struct {
    double x[EW_N], y[EW_N], mask[EW_N], R[EW_N];
    int op; /* 0 gelu, 1 tanh, 2 dropout */
    ofa_rng rng;
} ew_ctx;

static double ew_loss(void *p)
{
    ew_ctx *c = p;
    if (c->op == 0) nn_gelu_fwd_f64(c->y, c->x, EW_N);
    if (c->op == 1) nn_tanh_fwd_f64(c->y, c->x, EW_N);
    if (c->op == 2) {
        ofa_rng r = c->rng; /* the same mask on every call */
        nn_dropout_fwd_f64(c->y, c->mask, c->x, EW_N, 0.3, &r);
    }
    return dot_block(c->y, c->R, 1, EW_N, EW_N);
}

static void test_elementwise(void)
{
    ew_ctx c;
    ofa_rng_seed(&c.rng, 4);
    fill_normal(&c.rng, c.x, EW_N, 1.5);
    fill_normal(&c.rng, c.R, EW_N, 1);
    static const char *names[] = {"gelu dx", "tanh dx", "dropout dx"};
    for (c.op = 0; c.op < 3; c.op++) {
        double dx[EW_N] = {0};
        ew_loss(&c);
        if (c.op == 0) nn_gelu_bwd_f64(dx, c.R, c.x, EW_N);
        if (c.op == 1) nn_tanh_bwd_f64(dx, c.R, c.y, EW_N);
        if (c.op == 2) nn_dropout_bwd_f64(dx, c.R, c.mask, EW_N);
        CHECK_FD(names[c.op], ew_loss, &c, c.x, EW_N, dx);
    }
    /* GELU at known points: x Phi(x), Phi(1) = 0.841344746068543, Phi(-0.5) = 0.308537538725987 */
    double gx[2] = {1, -0.5}, gy[2];
    nn_gelu_fwd_f64(gy, gx, 2);
    CU_ASSERT_DOUBLE_EQUAL(gy[0], 0.841344746068543, 1e-14);
    CU_ASSERT_DOUBLE_EQUAL(gy[1], -0.5 * 0.308537538725987, 1e-14);
    double ty[1], tx[1] = {0.5};
    nn_tanh_fwd_f64(ty, tx, 1);
    CU_ASSERT_DOUBLE_EQUAL(ty[0], 0.46211715726000974, 1e-15);

    /* dropout: mask is 0 or 1/(1-p), about p dropped, y = x * mask (in place too); p = 0 copies */
    enum { M = 10000 };
    double *x = dalloc(M), *y = dalloc(M), *mask = dalloc(M);
    ofa_rng r;
    ofa_rng_seed(&r, 5);
    fill_normal(&r, x, M, 1);
    memcpy(y, x, M * sizeof *y);
    nn_dropout_fwd_f64(y, mask, y, M, 0.25, &r);
    int ok = 1, dropped = 0;
    for (int i = 0; i < M; i++) {
        ok &= mask[i] == 0 || mask[i] == 1 / 0.75;
        ok &= y[i] == x[i] * mask[i];
        dropped += mask[i] == 0;
    }
    CU_ASSERT(ok);
    CU_ASSERT(dropped > 2300 && dropped < 2700);
    nn_dropout_fwd_f64(y, mask, x, M, 0, &r);
    ok = 1;
    for (int i = 0; i < M; i++) ok &= y[i] == x[i] && mask[i] == 1;
    CU_ASSERT(ok);
    free(x), free(y), free(mask);
}

/* ---- attention: q, k, v packed in one [B*T, 3*A*D] buffer, ctx rows padded ---- */

enum { AT_B = 2, AT_T = 5, AT_A = 3, AT_D = 4, AT_AD = AT_A * AT_D, AT_LDQ = 3 * AT_AD, AT_LDC = AT_AD + 2 };
typedef struct {
    double qkv[AT_B * AT_T * AT_LDQ], hmul[AT_A], ctx[AT_B * AT_T * AT_LDC], probs[AT_B * AT_A * AT_T * AT_T],
        R[AT_B * AT_T * AT_LDC];
    int32_t lens[AT_B];
} att_ctx;

static const double at_scale = 0.5; /* 1/sqrt(D) */

static double att_loss(void *p)
{
    att_ctx *c = p;
    nn_attention_fwd_f64(c->ctx, AT_LDC, c->probs, c->qkv, c->qkv + AT_AD, c->qkv + 2 * AT_AD, AT_LDQ, c->lens,
                         c->hmul, AT_B, AT_T, AT_A, AT_D, at_scale);
    return dot_block(c->ctx, c->R, AT_B * AT_T, AT_AD, AT_LDC);
}

static void att_init(att_ctx *c, uint64_t seed)
{
    ofa_rng r;
    ofa_rng_seed(&r, seed);
    fill_normal(&r, c->qkv, sizeof c->qkv / sizeof(double), 1);
    fill_normal(&r, c->R, sizeof c->R / sizeof(double), 1);
    c->hmul[0] = 1.0, c->hmul[1] = 0.7, c->hmul[2] = -1.3;
    c->lens[0] = 5, c->lens[1] = 3;
}

static void test_attention(void)
{
    att_ctx c;
    att_init(&c, 6);
    att_loss(&c);
    /* naive reference: softmax over valid keys, exactly-zero probabilities for masked keys */
    int ok = 1, masked_zero = 1;
    for (int b = 0; b < AT_B; b++)
        for (int h = 0; h < AT_A; h++)
            for (int i = 0; i < AT_T; i++) {
                const double *qi = c.qkv + (b * AT_T + i) * AT_LDQ + h * AT_D;
                double s[AT_T], z = 0;
                for (int j = 0; j < c.lens[b]; j++) {
                    const double *kj = c.qkv + (b * AT_T + j) * AT_LDQ + AT_AD + h * AT_D;
                    s[j] = 0;
                    for (int d = 0; d < AT_D; d++) s[j] += qi[d] * kj[d] * at_scale;
                    z += exp(s[j]);
                }
                const double *P = c.probs + ((b * AT_A + h) * AT_T + i) * AT_T;
                for (int j = 0; j < AT_T; j++) {
                    if (j < c.lens[b])
                        ok &= fabs(P[j] - exp(s[j]) / z) < 1e-14;
                    else
                        masked_zero &= P[j] == 0.0;
                }
                for (int d = 0; d < AT_D; d++) {
                    double want = 0;
                    for (int j = 0; j < c.lens[b]; j++)
                        want += c.hmul[h] * exp(s[j]) / z * c.qkv[(b * AT_T + j) * AT_LDQ + 2 * AT_AD + h * AT_D + d];
                    ok &= fabs(c.ctx[(b * AT_T + i) * AT_LDC + h * AT_D + d] - want) < 1e-13;
                }
            }
    CU_ASSERT(ok);
    CU_ASSERT(masked_zero);

    double *dqkv = dalloc(sizeof c.qkv / sizeof(double)), dh[AT_A] = {0}, scratch[AT_T * AT_T];
    nn_attention_bwd_f64(dqkv, dqkv + AT_AD, dqkv + 2 * AT_AD, AT_LDQ, dh, c.R, AT_LDC, c.probs, c.qkv,
                         c.qkv + AT_AD, c.qkv + 2 * AT_AD, AT_LDQ, c.lens, c.hmul, AT_B, AT_T, AT_A, AT_D, at_scale,
                         scratch);
    CHECK_FD("attention dq/dk/dv", att_loss, &c, c.qkv, sizeof c.qkv / sizeof(double), dqkv);
    CHECK_FD("attention dhmul", att_loss, &c, c.hmul, AT_A, dh);

    size_t nq = sizeof c.qkv / sizeof(double);
    double *dqkv2 = dalloc(nq), dh2[AT_A];
    memcpy(dqkv2, dqkv, nq * sizeof *dqkv);
    memcpy(dh2, dh, sizeof dh);
    nn_attention_bwd_f64(dqkv2, dqkv2 + AT_AD, dqkv2 + 2 * AT_AD, AT_LDQ, dh2, c.R, AT_LDC, c.probs, c.qkv,
                         c.qkv + AT_AD, c.qkv + 2 * AT_AD, AT_LDQ, c.lens, c.hmul, AT_B, AT_T, AT_A, AT_D, at_scale,
                         scratch);
    CU_ASSERT(doubled(dqkv2, dqkv, nq) && doubled(dh2, dh, AT_A));

    /* hmul = NULL means ones */
    double ctx1[AT_B * AT_T * AT_LDC];
    c.hmul[0] = c.hmul[1] = c.hmul[2] = 1;
    att_loss(&c);
    nn_attention_fwd_f64(ctx1, AT_LDC, c.probs, c.qkv, c.qkv + AT_AD, c.qkv + 2 * AT_AD, AT_LDQ, c.lens, NULL,
                         AT_B, AT_T, AT_A, AT_D, at_scale);
    ok = 1;
    for (int n = 0; n < AT_B * AT_T; n++)
        for (int j = 0; j < AT_AD; j++) ok &= ctx1[n * AT_LDC + j] == c.ctx[n * AT_LDC + j];
    CU_ASSERT(ok);
    free(dqkv), free(dqkv2);
}

/* ---- losses ---- */

enum { LS_N = 4, LS_C = 5 };
typedef struct {
    double s[LS_N * LS_C], t[LS_N * LS_C];
    int32_t labels[LS_N];
    int op; /* 0 xent, 1 mse, 2 soft_xent */
} loss_ctx;

static const double ls_dscale = 0.7, ls_tau = 2;

static double loss_loss(void *p)
{
    loss_ctx *c = p;
    if (c->op == 0) return ls_dscale * nn_xent_f64(NULL, c->s, c->labels, LS_N, LS_C, 1);
    if (c->op == 1) return ls_dscale * nn_mse_f64(NULL, c->s, c->t, LS_N * LS_C, 1);
    return ls_dscale * nn_soft_xent_f64(NULL, c->s, c->t, LS_N, LS_C, ls_tau, 1);
}

static void test_losses(void)
{
    ofa_rng r;
    ofa_rng_seed(&r, 7);
    loss_ctx c = {.labels = {0, 4, 2, 2}};
    fill_normal(&r, c.s, LS_N * LS_C, 2);
    fill_normal(&r, c.t, LS_N * LS_C, 2);
    static const char *names[] = {"xent dlogits", "mse dx", "soft_xent ds"};
    double want[3] = {0}, got[3];
    for (int n = 0; n < LS_N; n++) { /* naive references */
        const double *s = c.s + n * LS_C, *t = c.t + n * LS_C;
        double zs = 0, zt = 0, zst = 0;
        for (int j = 0; j < LS_C; j++) {
            zs += exp(s[j]);
            zst += exp(s[j] / ls_tau);
            zt += exp(t[j] / ls_tau);
            want[1] += (s[j] - t[j]) * (s[j] - t[j]) / (LS_N * LS_C);
        }
        want[0] += (log(zs) - s[c.labels[n]]) / LS_N;
        for (int j = 0; j < LS_C; j++) want[2] -= exp(t[j] / ls_tau) / zt * (s[j] / ls_tau - log(zst)) / LS_N;
    }
    for (c.op = 0; c.op < 3; c.op++) {
        double g[LS_N * LS_C] = {0};
        if (c.op == 0) got[0] = nn_xent_f64(g, c.s, c.labels, LS_N, LS_C, ls_dscale);
        if (c.op == 1) got[1] = nn_mse_f64(g, c.s, c.t, LS_N * LS_C, ls_dscale);
        if (c.op == 2) got[2] = nn_soft_xent_f64(g, c.s, c.t, LS_N, LS_C, ls_tau, ls_dscale);
        CU_ASSERT_DOUBLE_EQUAL(got[c.op], want[c.op], 1e-12 * (1 + fabs(want[c.op])));
        CHECK_FD(names[c.op], loss_loss, &c, c.s, LS_N * LS_C, g);
    }
    /* zero logits: xent = log C; identical student and teacher: soft_xent gradient 0 */
    double z[LS_N * LS_C] = {0}, g[LS_N * LS_C] = {0};
    CU_ASSERT_DOUBLE_EQUAL(nn_xent_f64(NULL, z, c.labels, LS_N, LS_C, 1), log(LS_C), 1e-14);
    nn_soft_xent_f64(g, c.s, c.s, LS_N, LS_C, ls_tau, 1);
    double gmax = 0;
    for (int i = 0; i < LS_N * LS_C; i++) gmax = fmax(gmax, fabs(g[i]));
    CU_ASSERT(gmax < 1e-15);
}

/* ---- float and double instances agree ---- */

static void to_float(float *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

static void test_f32_matches_f64(void)
{
    att_ctx c;
    att_init(&c, 8);
    att_loss(&c);
    enum { NQ = AT_B * AT_T * AT_LDQ, NC = AT_B * AT_T * AT_LDC, NP = AT_B * AT_A * AT_T * AT_T };
    float qkv[NQ], hmul[AT_A], ctx[NC] = {0}, probs[NP], want_ctx[NC], want_p[NP];
    to_float(qkv, c.qkv, NQ);
    to_float(hmul, c.hmul, AT_A);
    nn_attention_fwd_f32(ctx, AT_LDC, probs, qkv, qkv + AT_AD, qkv + 2 * AT_AD, AT_LDQ, c.lens, hmul, AT_B, AT_T,
                         AT_A, AT_D, at_scale);
    for (int i = 0; i < NC; i++) c.ctx[i] = (i % AT_LDC) < AT_AD ? c.ctx[i] : 0; /* padding untouched */
    to_float(want_ctx, c.ctx, NC);
    to_float(want_p, c.probs, NP);
    CU_ASSERT(tu_norm_err(ctx, want_ctx, NC) < 1e-5);
    CU_ASSERT(tu_norm_err(probs, want_p, NP) < 1e-5);

    lnorm_ctx l;
    ofa_rng r;
    ofa_rng_seed(&r, 9);
    fill_normal(&r, l.x, LNm_N * LNm_C, 3);
    fill_normal(&r, l.g, LNm_C, 1);
    fill_normal(&r, l.b, LNm_C, 1);
    nn_layernorm_fwd_f64(l.y, l.mean, l.rstd, l.x, l.g, l.b, LNm_N, LNm_C, 1e-12);
    float x[LNm_N * LNm_C], g[LNm_C], b[LNm_C], y[LNm_N * LNm_C], m[LNm_N], s[LNm_N], want_y[LNm_N * LNm_C];
    to_float(x, l.x, LNm_N * LNm_C);
    to_float(g, l.g, LNm_C);
    to_float(b, l.b, LNm_C);
    to_float(want_y, l.y, LNm_N * LNm_C);
    nn_layernorm_fwd_f32(y, m, s, x, g, b, LNm_N, LNm_C, 1e-12);
    CU_ASSERT(tu_norm_err(y, want_y, LNm_N * LNm_C) < 1e-5);
}

/* ---- params, AdamW, clipping, schedule ---- */

static void test_params(void)
{
    ofa_params p;
    ofa_params_init(&p);
    int64_t s1[2] = {3, 5}, s2[1] = {7}, s3[1] = {16};
    CU_ASSERT_EQUAL(ofa_params_add(&p, "a/w", 2, s1, 1), 0);
    CU_ASSERT_EQUAL(ofa_params_add(&p, "a/b", 1, s2, 0), 1);
    CU_ASSERT_EQUAL(ofa_params_add(&p, "c", 1, s3, 1), 2);
    ofa_params_alloc(&p);
    CU_ASSERT_EQUAL(p.views[0].offset, 0);
    CU_ASSERT_EQUAL(p.views[1].offset, 16);
    CU_ASSERT_EQUAL(p.views[2].offset, 32);
    CU_ASSERT_EQUAL(p.views[0].numel, 15);
    CU_ASSERT_EQUAL(p.total, 48);
    CU_ASSERT_EQUAL(ofa_params_find(&p, "a/b"), 1);
    CU_ASSERT_EQUAL(ofa_params_find(&p, "a"), -1);
    CU_ASSERT_PTR_EQUAL(ofa_params_get(&p, "c"), p.data + 32);
    CU_ASSERT_PTR_EQUAL(ofa_params_grad(&p, "a/b"), p.grad + 16);
    CU_ASSERT_EQUAL((uintptr_t)p.data % 64, 0);
    CU_ASSERT_EQUAL((uintptr_t)p.v % 64, 0);
    p.grad[40] = 1;
    ofa_params_zero_grad(&p);
    CU_ASSERT_EQUAL(p.grad[40], 0);
    ofa_params_free(&p);
    CU_ASSERT_PTR_NULL(p.data);
    ofa_params_free(&p); /* idempotent */
}

static void test_adamw(void)
{
    /* "w" (decay) and "b" (no decay) get the same start and gradients; expected values from
     * torch.optim.AdamW(lr=0.1, weight_decay=0.01 or 0, foreach=False), torch 1.13, float32. */
    static const float init[3] = {0.5f, -1.25f, 2.0f};
    static const float grads[3][3] = {{0.3f, -0.2f, 1e-3f}, {-0.1f, 0.4f, 0.0f}, {0.25f, 0.25f, -2.0f}};
    static const double torch_wd[3][3] = {{0.399500012, -1.14874995, 1.89800107},
                                          {0.359078646, -1.18421161, 1.82909822},
                                          {0.294818759, -1.23891115, 1.89112473}};
    static const double torch_nowd[3][3] = {{0.400000006, -1.14999998, 1.90000105},
                                            {0.359978139, -1.18661034, 1.83299613},
                                            {0.296077311, -1.24249411, 1.89685166}};
    ofa_params p;
    ofa_params_init(&p);
    int64_t s[1] = {3};
    ofa_params_add(&p, "w", 1, s, 1);
    ofa_params_add(&p, "b", 1, s, 0);
    ofa_params_alloc(&p);
    float *w = ofa_params_get(&p, "w"), *b = ofa_params_get(&p, "b");
    memcpy(w, init, sizeof init);
    memcpy(b, init, sizeof init);
    ofa_adamw o;
    ofa_adamw_init(&o, 0.01);
    double hw[3], hm[3] = {0}, hv[3] = {0}; /* hand reference in double for "w" */
    for (int i = 0; i < 3; i++) hw[i] = init[i];
    int ok = 1;
    for (int t = 0; t < 3; t++) {
        memcpy(ofa_params_grad(&p, "w"), grads[t], sizeof grads[t]);
        memcpy(ofa_params_grad(&p, "b"), grads[t], sizeof grads[t]);
        ofa_adamw_step(&o, &p, 0.1);
        double bc1 = 1 - pow(0.9, t + 1), bc2 = 1 - pow(0.999, t + 1);
        for (int i = 0; i < 3; i++) {
            double g = grads[t][i];
            hw[i] *= 1 - 0.1 * 0.01;
            hm[i] = 0.9 * hm[i] + 0.1 * g;
            hv[i] = 0.999 * hv[i] + 0.001 * g * g;
            hw[i] -= 0.1 / bc1 * hm[i] / (sqrt(hv[i]) / sqrt(bc2) + 1e-8);
            ok &= fabs(w[i] - hw[i]) < 1e-6;
            ok &= fabs(w[i] - torch_wd[t][i]) < 5e-7 && fabs(b[i] - torch_nowd[t][i]) < 5e-7;
        }
    }
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(o.t, 3);
    ofa_params_free(&p);
}

static void test_clip_and_schedule(void)
{
    ofa_params p;
    ofa_params_init(&p);
    int64_t s1[1] = {1}, s2[1] = {1};
    ofa_params_add(&p, "x", 1, s1, 1);
    ofa_params_add(&p, "y", 1, s2, 1);
    ofa_params_alloc(&p);
    float *gx = ofa_params_grad(&p, "x"), *gy = ofa_params_grad(&p, "y");
    *gx = 3, *gy = 4;
    CU_ASSERT_DOUBLE_EQUAL(ofa_grad_clip(&p, 10), 5, 1e-12); /* below max_norm: untouched */
    CU_ASSERT(*gx == 3 && *gy == 4);
    CU_ASSERT_DOUBLE_EQUAL(ofa_grad_clip(&p, 0), 5, 1e-12); /* 0: report only */
    CU_ASSERT(*gx == 3 && *gy == 4);
    CU_ASSERT_DOUBLE_EQUAL(ofa_grad_clip(&p, 1), 5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(*gx, 3 / (5 + 1e-6), 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(*gy, 4 / (5 + 1e-6), 1e-7);
    ofa_params_free(&p);

    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 0, 10, 110), 0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 5, 10, 110), 1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 10, 10, 110), 2, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 60, 10, 110), 1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 109, 10, 110), 0.02, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 110, 10, 110), 0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 200, 10, 110), 0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 0, 0, 4), 2, 1e-15); /* no warmup */
    CU_ASSERT_DOUBLE_EQUAL(ofa_lr_at(2, 3, 0, 4), 0.5, 1e-15);
}

/* The float GELU uses a rational erf approximation: within 5e-7 of libm's double erf everywhere,
 * exactly +-1 far out, odd. */
static void test_erf_fast(void)
{
    double worst = 0;
    for (double x = -8; x <= 8; x += 1e-4) {
        double e = fabs((double)nn_erf_f32((float)x) - erf((double)(float)x));
        if (e > worst) worst = e;
    }
    CU_ASSERT(worst < 5e-7);
    CU_ASSERT_EQUAL(nn_erf_f32(0.0f), 0.0f);
    CU_ASSERT_DOUBLE_EQUAL(nn_erf_f32(30.0f), 1.0, 5e-7);
    CU_ASSERT_EQUAL(nn_erf_f32(-1.5f), -nn_erf_f32(1.5f));
}

/* The float softmax and GELU backward use a branch-free exp: within 2.4e-7 relative of libm's double
 * exp over float's normal range, exactly 1 at 0, 0 below it. */
static void test_exp_fast(void)
{
    double worst = 0;
    for (double x = -87.3; x <= 88.7; x += 3e-4) {
        double ref = exp((double)(float)x), e = fabs((double)nn_exp_f32((float)x) - ref) / ref;
        if (e > worst) worst = e;
    }
    CU_ASSERT(worst < 2.4e-7);
    CU_ASSERT_EQUAL(nn_exp_f32(0.0f), 1.0f);
    CU_ASSERT_EQUAL(nn_exp_f32(-100.0f), 0.0f);
    CU_ASSERT_EQUAL(nn_exp_f32(-INFINITY), 0.0f);
}

/* core/par covers [0, n) exactly once at any thread count and chunk size. */
static int64_t par_hits[5000];
static void par_mark(void *ctx, int64_t lo, int64_t hi)
{
    (void)ctx;
    for (int64_t i = lo; i < hi; i++) par_hits[i]++;
}

static void test_par_cover(void)
{
    static const int64_t ns[] = {1, 2, 3, 7, 64, 1000, 4999};
    static const int64_t chunks[] = {1, 3, 100, 10000};
    for (int t = 1; t <= 4; t++) {
        ofa_par_set_threads(t);
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
                memset(par_hits, 0, sizeof par_hits);
                ofa_par_for(ns[a], chunks[c], par_mark, NULL);
                int ok = 1;
                for (int64_t i = 0; i < ns[a]; i++) ok &= par_hits[i] == 1;
                for (int64_t i = ns[a]; i < 5000; i++) ok &= par_hits[i] == 0;
                CU_ASSERT(ok);
            }
    }
    ofa_par_set_threads(1);
}

static float *rand_buf(ofa_rng *r, size_t n, float lo, float hi)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * ofa_rng_uniform(r);
    return x;
}

/* Every kernel that runs on core/par's threads gives the same bits at 1, 2 and 3 threads (shapes
 * above the one-thread grain, a padded head so (sequence, head) items split unevenly). */
static void run_par_kernels(int threads, float **out, int *nout)
{
    enum { N = 300, C = 200, B = 3, T = 20, A = 5, D = 8, W = A * D };
    ofa_par_set_threads(threads);
    ofa_rng r;
    ofa_rng_seed(&r, 7);
    int k = 0;
    float *x = rand_buf(&r, (size_t)N * C, -3, 3), *dy = rand_buf(&r, (size_t)N * C, -1, 1);
    float *g = rand_buf(&r, C, 0.5f, 1.5f), *bb = rand_buf(&r, C, -0.5f, 0.5f);
    float *y = calloc((size_t)N * C, sizeof(float)), *dx = calloc((size_t)N * C, sizeof(float));
    float *mean = calloc(N, sizeof(float)), *rstd = calloc(N, sizeof(float));
    float *dg = calloc(C, sizeof(float)), *db = calloc(C, sizeof(float));
    nn_gelu_fwd_f32(y, x, (int64_t)N * C);
    nn_gelu_bwd_f32(dx, dy, x, (int64_t)N * C);
    out[k++] = y;
    out[k++] = dx;
    float *ln = calloc((size_t)N * C, sizeof(float)), *dln = calloc((size_t)N * C, sizeof(float));
    nn_layernorm_fwd_f32(ln, mean, rstd, x, g, bb, N, C, 1e-12);
    nn_layernorm_bwd_f32(dln, dg, db, dy, x, mean, rstd, g, N, C);
    out[k++] = ln;
    out[k++] = dln;
    out[k++] = dg;
    out[k++] = db;
    /* linear: bias rows and the bias gradient's column sums */
    float *wt = rand_buf(&r, (size_t)C * C, -0.1f, 0.1f), *lin = calloc((size_t)N * C, sizeof(float));
    float *dbl = calloc(C, sizeof(float));
    nn_linear_fwd_f32(lin, C, x, C, wt, C, bb, N, 0, C); /* no inputs: the bias rows alone (sgemm's own
                                                          * bits may depend on OpenBLAS's threads) */
    nn_linear_bwd_f32(NULL, 0, NULL, 0, dbl, dy, C, x, C, wt, C, N, C, C);
    out[k++] = lin;
    out[k++] = dbl;
    /* attention with head multipliers and their gradient */
    float *qkv = rand_buf(&r, (size_t)3 * B * T * W, -1, 1), *hm = rand_buf(&r, A, 0.5f, 1.5f);
    float *ctx = calloc((size_t)B * T * W, sizeof(float)), *probs = calloc((size_t)B * A * T * T, sizeof(float));
    float *dctx = rand_buf(&r, (size_t)B * T * W, -1, 1), *dqkv = calloc((size_t)3 * B * T * W, sizeof(float));
    float *dhm = calloc(A, sizeof(float)), *scratch = calloc((size_t)T * T, sizeof(float));
    int32_t lens[B] = {T, 13, 1};
    float *q = qkv, *kk = qkv + (size_t)B * T * W, *v = kk + (size_t)B * T * W;
    nn_attention_fwd_f32(ctx, W, probs, q, kk, v, W, lens, hm, B, T, A, D, 0.35);
    nn_attention_bwd_f32(dqkv, dqkv + (size_t)B * T * W, dqkv + (size_t)2 * B * T * W, W, dhm, dctx, W, probs, q, kk,
                         v, W, lens, hm, B, T, A, D, 0.35, scratch);
    out[k++] = ctx;
    out[k++] = probs;
    out[k++] = dqkv;
    out[k++] = dhm;
    /* AdamW and clipping over a buffer of several views */
    ofa_params p;
    ofa_params_init(&p);
    int64_t s1[1] = {70000}, s2[1] = {33}, s3[2] = {300, 400};
    ofa_params_add(&p, "a", 1, s1, 1);
    ofa_params_add(&p, "b", 1, s2, 0);
    ofa_params_add(&p, "c", 2, s3, 1);
    ofa_params_alloc(&p);
    for (size_t i = 0; i < p.total; i++) {
        p.data[i] = ofa_rng_uniform(&r) - 0.5f;
        p.grad[i] = 3 * (ofa_rng_uniform(&r) - 0.5f);
    }
    ofa_adamw o;
    ofa_adamw_init(&o, 0.01);
    double norm = ofa_grad_clip(&p, 1.0);
    ofa_adamw_step(&o, &p, 1e-3);
    float *pd = malloc((p.total + 2) * sizeof(float));
    memcpy(pd, p.data, p.total * sizeof(float));
    memcpy(pd + p.total, &norm, sizeof norm);
    out[k++] = pd;
    nout[0] = k;
    ofa_params_free(&p);
    free(x), free(dy), free(g), free(bb), free(mean), free(rstd), free(wt), free(qkv), free(hm), free(dctx),
        free(scratch);
    ofa_par_set_threads(1);
}

static void test_par_bitwise(void)
{
    static const size_t sizes[] = {300 * 200, 300 * 200, 300 * 200, 300 * 200, 200, 200, 300 * 200, 200,
                                   3 * 20 * 40, 3 * 5 * 20 * 20, 3 * 3 * 20 * 40, 5, 70000 + 33 + 120000 + 2};
    float *one[16], *many[16];
    int n1 = 0, n2 = 0;
    run_par_kernels(1, one, &n1);
    for (int t = 2; t <= 3; t++) {
        run_par_kernels(t, many, &n2);
        CU_ASSERT_EQUAL_FATAL(n1, n2);
        CU_ASSERT_EQUAL_FATAL(n1, (int)(sizeof sizes / sizeof *sizes));
        for (int i = 0; i < n1; i++) {
            int same = memcmp(one[i], many[i], sizes[i] * sizeof(float)) == 0;
            if (!same) fprintf(stderr, "\n  output %d differs at %d threads\n", i, t);
            CU_ASSERT(same);
            free(many[i]);
        }
    }
    for (int i = 0; i < n1; i++) free(one[i]);
}

int test_nn_register(void)
{
    CU_pSuite s = CU_add_suite("nn", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "linear", test_linear) || !CU_add_test(s, "embed", test_embed) ||
        !CU_add_test(s, "layernorm", test_layernorm) || !CU_add_test(s, "elementwise", test_elementwise) ||
        !CU_add_test(s, "attention", test_attention) || !CU_add_test(s, "losses", test_losses) ||
        !CU_add_test(s, "f32_matches_f64", test_f32_matches_f64) || !CU_add_test(s, "params", test_params) ||
        !CU_add_test(s, "adamw", test_adamw) || !CU_add_test(s, "clip_and_schedule", test_clip_and_schedule) ||
        !CU_add_test(s, "erf_fast", test_erf_fast) || !CU_add_test(s, "exp_fast", test_exp_fast) ||
        !CU_add_test(s, "par_cover", test_par_cover) || !CU_add_test(s, "par_bitwise", test_par_bitwise))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
