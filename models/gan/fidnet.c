/* models/gan/fidnet: the FID feature net and FID on its features (see fidnet.h). */
#include "models/gan/fidnet.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/h5io.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "datasets/fmnist.h"
#include "nn/conv.h"
#include "nn/fid.h"
#include "core/timer.h"
#include "nn/nn.h"
#include "nn/optim.h"

#define IN_EPS 1e-5
#define INFER_BATCH 256

static int flat_dim(const ofa_fidnet *n) { return 4 * n->channels * n->s3 * n->s3; }

static nn_conv2d_dims conv_dims(const ofa_fidnet *n, int layer, int B)
{
    const int C = n->channels;
    switch (layer) {
    case 1: return (nn_conv2d_dims){.B = B, .C = 1, .H = n->image_size, .W = n->image_size, .O = C, .K = 3, .pad = 1};
    case 2: return (nn_conv2d_dims){.B = B, .C = C, .H = n->image_size, .W = n->image_size, .O = 2 * C, .K = 3,
                                    .stride = 2, .pad = 1};
    default: return (nn_conv2d_dims){.B = B, .C = 2 * C, .H = n->s2, .W = n->s2, .O = 4 * C, .K = 3, .stride = 2,
                                     .pad = 1};
    }
}

static void add(ofa_params *p, const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d, int decay)
{
    const int64_t shape[4] = {a, b, c, d};
    ofa_params_add(p, name, ndim, shape, decay);
}

/* PyTorch's default init: kaiming_uniform(a = sqrt 5) for weights = U(-1/sqrt(fan_in), +), the
 * same bound for biases; norms weight 1, bias 0 */
static void fill_uniform(float *w, size_t n, int fan_in, ofa_rng *r)
{
    const float bound = 1.0f / sqrtf((float)fan_in);
    for (size_t i = 0; i < n; i++) w[i] = (2.0f * ofa_rng_uniform(r) - 1.0f) * bound;
}

void ofa_fidnet_init(ofa_fidnet *n, int channels, int features, int image_size, uint64_t seed)
{
    OFA_ASSERT(channels >= 1 && features >= 2 && image_size >= 8);
    memset(n, 0, sizeof *n);
    n->channels = channels, n->features = features, n->image_size = image_size;
    nn_conv2d_dims d2 = conv_dims(n, 2, 1);
    int w2;
    nn_conv2d_out_hw(&d2, 0, &n->s2, &w2);
    nn_conv2d_dims d3 = conv_dims(n, 3, 1);
    nn_conv2d_out_hw(&d3, 0, &n->s3, &w2);
    const int C = channels, D = features;
    ofa_params *p = &n->p;
    ofa_params_init(p);
    add(p, "conv1.weight", 4, C, 1, 3, 3, 1);
    add(p, "norm1.weight", 1, C, 0, 0, 0, 0);
    add(p, "norm1.bias", 1, C, 0, 0, 0, 0);
    add(p, "conv2.weight", 4, 2 * C, C, 3, 3, 1);
    add(p, "norm2.weight", 1, 2 * C, 0, 0, 0, 0);
    add(p, "norm2.bias", 1, 2 * C, 0, 0, 0, 0);
    add(p, "conv3.weight", 4, 4 * C, 2 * C, 3, 3, 1);
    add(p, "norm3.weight", 1, 4 * C, 0, 0, 0, 0);
    add(p, "norm3.bias", 1, 4 * C, 0, 0, 0, 0);
    add(p, "fc1.weight", 2, D, flat_dim(n), 0, 0, 1);
    add(p, "fc1.bias", 1, D, 0, 0, 0, 0);
    add(p, "fc2.weight", 2, OFA_FIDNET_CLASSES, D, 0, 0, 1);
    add(p, "fc2.bias", 1, OFA_FIDNET_CLASSES, 0, 0, 0, 0);
    ofa_params_alloc(p);
    ofa_rng r;
    ofa_rng_seed(&r, seed);
    const int fan_in[] = {9, 0, 0, 9 * C, 0, 0, 9 * 2 * C, 0, 0, flat_dim(n), flat_dim(n), D, D};
    for (int i = 0; i < p->n; i++) {
        float *w = p->data + p->views[i].offset;
        if (fan_in[i]) fill_uniform(w, p->views[i].numel, fan_in[i], &r);
        else if (strstr(p->views[i].name, ".weight")) /* a norm's scale */
            for (size_t k = 0; k < p->views[i].numel; k++) w[k] = 1.0f;
    }
}

void ofa_fidnet_free(ofa_fidnet *n)
{
    if (!n) return;
    ofa_params_free(&n->p);
    memset(n, 0, sizeof *n);
}

void ofa_fidnet_hash(const ofa_fidnet *n, char *buf, size_t len)
{
    uint64_t h = OFA_FNV1A_INIT;
    const int32_t shape[3] = {n->channels, n->features, n->image_size};
    h = ofa_fnv1a(h, shape, sizeof shape);
    for (int i = 0; i < n->p.n; i++) {
        h = ofa_fnv1a(h, n->p.views[i].name, strlen(n->p.views[i].name));
        h = ofa_fnv1a(h, n->p.data + n->p.views[i].offset, n->p.views[i].numel * sizeof(float));
    }
    snprintf(buf, len, "fnv1a:%016" PRIx64, h);
}

/* ---- activations ---------------------------------------------------------------------------- */

void ofa_fidnet_acts_create(ofa_fidnet_acts *a, const ofa_fidnet *n, int Bmax)
{
    OFA_ASSERT(Bmax >= 1);
    memset(a, 0, sizeof *a);
    a->Bmax = Bmax;
    const size_t B = (size_t)Bmax, C = (size_t)n->channels, S = (size_t)n->image_size, D = (size_t)n->features;
    const size_t m1 = B * C * S * S, m2 = B * 2 * C * n->s2 * n->s2, m3 = B * 4 * C * n->s3 * n->s3;
    size_t gmax = m1 > m2 ? m1 : m2;
    gmax = gmax > m3 ? gmax : m3;
    size_t scr = 0;
    for (int l = 1; l <= 3; l++) {
        nn_conv2d_dims d = conv_dims(n, l, Bmax);
        size_t s = nn_conv2d_scratch(&d, 0);
        scr = s > scr ? s : scr;
    }
    /* 16-float alignment of every buffer */
#define A16(x) (((x) + 15) & ~(size_t)15)
    const size_t sizes[] = {m1, m1, m1, m2, m2, m2, m3, m3, m3, B * D, B * D, B * OFA_FIDNET_CLASSES,
                            2 * B * C, 4 * B * C, 8 * B * C, gmax, gmax, B * D, B * OFA_FIDNET_CLASSES, gmax > B * D ? gmax : B * D, scr};
    float **ptrs[] = {&a->c1, &a->n1, &a->r1, &a->c2, &a->n2, &a->r2, &a->c3, &a->n3, &a->r3, &a->h, &a->f,
                      &a->logits, &a->st1, &a->st2, &a->st3, &a->g1, &a->g2, &a->gf, &a->gl, &a->gt, &a->scratch};
    _Static_assert(sizeof sizes / sizeof *sizes == sizeof ptrs / sizeof *ptrs, "one size per buffer");
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) total += A16(sizes[i]);
    a->arena = ofa_xalloc_aligned(total * sizeof(float));
    size_t off = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        *ptrs[i] = a->arena + off;
        off += A16(sizes[i]);
    }
#undef A16
}

void ofa_fidnet_acts_free(ofa_fidnet_acts *a)
{
    if (!a) return;
    free(a->arena);
    memset(a, 0, sizeof *a);
}

#define W(name) ofa_params_get(&n->p, name)
#define G(name) ofa_params_grad(&n->p, name)

void ofa_fidnet_forward(const ofa_fidnet *n, ofa_fidnet_acts *a, const float *x, int B)
{
    OFA_ASSERT(B >= 1 && B <= a->Bmax);
    a->B = B;
    const int C = n->channels, S = n->image_size, D = n->features, F = flat_dim(n);
    const int hw[3] = {S * S, n->s2 * n->s2, n->s3 * n->s3}, ch[3] = {C, 2 * C, 4 * C};
    float *cv[3] = {a->c1, a->c2, a->c3}, *nm[3] = {a->n1, a->n2, a->n3}, *rl[3] = {a->r1, a->r2, a->r3};
    float *st[3] = {a->st1, a->st2, a->st3};
    static const char *const wn[3] = {"conv1.weight", "conv2.weight", "conv3.weight"};
    static const char *const gn[3] = {"norm1.weight", "norm2.weight", "norm3.weight"};
    static const char *const bn[3] = {"norm1.bias", "norm2.bias", "norm3.bias"};
    const float *in = x;
    for (int l = 0; l < 3; l++) {
        nn_conv2d_dims d = conv_dims(n, l + 1, B);
        nn_conv2d_fwd_f32(cv[l], in, W(wn[l]), NULL, &d, a->scratch);
        nn_instnorm_fwd_f32(nm[l], st[l], st[l] + (size_t)a->Bmax * ch[l], cv[l], W(gn[l]), W(bn[l]), B, ch[l], hw[l],
                            IN_EPS);
        nn_relu_fwd_f32(rl[l], nm[l], (int64_t)B * ch[l] * hw[l]);
        in = rl[l];
    }
    nn_linear_fwd_f32(a->h, D, a->r3, F, W("fc1.weight"), F, W("fc1.bias"), B, F, D);
    nn_relu_fwd_f32(a->f, a->h, (int64_t)B * D);
    nn_linear_fwd_f32(a->logits, OFA_FIDNET_CLASSES, a->f, D, W("fc2.weight"), D, W("fc2.bias"), B, D,
                      OFA_FIDNET_CLASSES);
}

double ofa_fidnet_loss(ofa_fidnet *n, ofa_fidnet_acts *a, const float *x, const int32_t *labels, int backward)
{
    const int B = a->B, C = n->channels, S = n->image_size, D = n->features, F = flat_dim(n), K = OFA_FIDNET_CLASSES;
    if (!backward) return nn_xent_f32(NULL, a->logits, labels, B, K, 1.0);
    memset(a->gl, 0, (size_t)B * K * sizeof(float));
    double loss = nn_xent_f32(a->gl, a->logits, labels, B, K, 1.0);
    /* fc2, ReLU, fc1 */
    memset(a->gf, 0, (size_t)B * D * sizeof(float));
    nn_linear_bwd_f32(a->gf, D, G("fc2.weight"), D, G("fc2.bias"), a->gl, K, a->f, D, W("fc2.weight"), D, B, D, K);
    float *gh = a->gt; /* [B, D] fits: gt holds a whole map */
    memset(gh, 0, (size_t)B * D * sizeof(float));
    nn_relu_bwd_f32(gh, a->gf, a->f, (int64_t)B * D);
    float *gmap = a->g1, *gother = a->g2;
    memset(gmap, 0, (size_t)B * F * sizeof(float));
    nn_linear_bwd_f32(gmap, F, G("fc1.weight"), F, G("fc1.bias"), gh, D, a->r3, F, W("fc1.weight"), F, B, F, D);
    /* stages 3, 2, 1: gmap holds d(ReLU output) on entry */
    const int hw[3] = {S * S, n->s2 * n->s2, n->s3 * n->s3}, ch[3] = {C, 2 * C, 4 * C};
    float *cv[3] = {a->c1, a->c2, a->c3}, *rl[3] = {a->r1, a->r2, a->r3}, *st[3] = {a->st1, a->st2, a->st3};
    static const char *const wn[3] = {"conv1.weight", "conv2.weight", "conv3.weight"};
    static const char *const gn[3] = {"norm1.weight", "norm2.weight", "norm3.weight"};
    static const char *const bn[3] = {"norm1.bias", "norm2.bias", "norm3.bias"};
    for (int l = 2; l >= 0; l--) {
        const size_t m = (size_t)B * ch[l] * hw[l];
        memset(gother, 0, m * sizeof(float));
        nn_relu_bwd_f32(gother, gmap, rl[l], (int64_t)m); /* d(norm output) */
        memset(gmap, 0, m * sizeof(float));
        nn_instnorm_bwd_f32(gmap, G(gn[l]), G(bn[l]), gother, cv[l], st[l], st[l] + (size_t)a->Bmax * ch[l],
                            W(gn[l]), B, ch[l], hw[l]); /* d(conv output) */
        nn_conv2d_dims d = conv_dims(n, l + 1, B);
        const float *in = l ? rl[l - 1] : x;
        float *gin = NULL;
        if (l) {
            gin = gother;
            memset(gin, 0, (size_t)B * ch[l - 1] * hw[l - 1] * sizeof(float));
        }
        nn_conv2d_bwd_f32(gin, G(wn[l]), NULL, gmap, in, W(wn[l]), &d, a->scratch);
        float *t = gmap;
        gmap = gother, gother = t; /* gmap: d(previous ReLU output) */
    }
    return loss;
}

/* ---- file ----------------------------------------------------------------------------------- */

int ofa_fidnet_write(const ofa_fidnet *n, const char *path, const ofa_fidnet_record *r, const ofa_config *cfg)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_create(&h, path));
    char hash[32], created[64];
    ofa_fidnet_hash(n, hash, sizeof hash);
    ofa_utc_now(created, sizeof created);
    char *yaml = cfg ? ofa_config_to_yaml(cfg) : NULL;
    int rc = 0;
#define T(call) do { if ((rc = (call)) < 0) goto out; } while (0)
    T(ofa_h5_attr_set_str(&h, "/", "format", OFA_FIDNET_FORMAT));
    T(ofa_h5_attr_set_i64(&h, "/", "format_version", 1));
    T(ofa_h5_attr_set_str(&h, "/", "kind", OFA_FIDNET_KIND));
    T(ofa_h5_attr_set_str(&h, "/", "model", "fidnet"));
    T(ofa_h5_attr_set_i64(&h, "/", "channels", n->channels));
    T(ofa_h5_attr_set_i64(&h, "/", "features", n->features));
    T(ofa_h5_attr_set_i64(&h, "/", "image_size", n->image_size));
    T(ofa_h5_attr_set_i64(&h, "/", "classes", OFA_FIDNET_CLASSES));
    T(ofa_h5_attr_set_str(&h, "/", "hash", hash));
    T(ofa_h5_attr_set_str(&h, "/", "created", created));
    T(ofa_h5_attr_set_f64(&h, "/", "test_accuracy", r ? r->test_accuracy : NAN));
    T(ofa_h5_attr_set_i64(&h, "/", "test_images", r ? r->test_images : 0));
    T(ofa_h5_attr_set_i64(&h, "/", "train_images", r ? r->train_images : 0));
    T(ofa_h5_attr_set_i64(&h, "/", "steps", r ? r->steps : 0));
    T(ofa_h5_attr_set_f64(&h, "/", "epochs", r ? r->epochs : 0));
    T(ofa_h5_attr_set_f64(&h, "/", "train_seconds", r ? r->train_seconds : 0));
    T(ofa_h5_attr_set_i64(&h, "/", "seed", cfg ? cfg->experiment.seed : 0));
    if (yaml) T(ofa_h5_attr_set_str(&h, "/", "config_yaml", yaml));
    T(ofa_params_write_h5(&h, "weights", &n->p, n->p.data));
#undef T
out:
    free(yaml);
    if (rc < 0) {
        ofa_h5_abort(&h);
        return rc;
    }
    return ofa_h5_commit(&h);
}

int ofa_fidnet_read(ofa_fidnet *n, const char *path)
{
    memset(n, 0, sizeof *n);
    ofa_h5 h;
    OFA_TRY(ofa_h5_open(&h, path));
    int rc = 0;
    char fmt[32] = "", kind[32] = "", stored[32] = "", hash[32];
    int64_t ch = 0, feat = 0, side = 0, classes = 0;
    if (ofa_h5_attr_exists(&h, "/", "format") == 1) ofa_h5_attr_get_strbuf(&h, "/", "format", fmt, sizeof fmt);
    if (ofa_h5_attr_exists(&h, "/", "kind") == 1) ofa_h5_attr_get_strbuf(&h, "/", "kind", kind, sizeof kind);
    if (strcmp(fmt, OFA_FIDNET_FORMAT) || strcmp(kind, OFA_FIDNET_KIND)) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s is not a FID feature net (format '%s', kind '%s'; 'ofa fidnet CONFIG' makes one)",
                     path, fmt, kind);
        goto out;
    }
    if ((rc = ofa_h5_attr_get_i64(&h, "/", "channels", &ch)) || (rc = ofa_h5_attr_get_i64(&h, "/", "features", &feat)) ||
        (rc = ofa_h5_attr_get_i64(&h, "/", "image_size", &side)) ||
        (rc = ofa_h5_attr_get_i64(&h, "/", "classes", &classes)) ||
        (rc = ofa_h5_attr_get_strbuf(&h, "/", "hash", stored, sizeof stored)))
        goto out;
    if (ch < 1 || ch > 1024 || feat < 2 || feat > 4096 || side < 8 || side > 1024 || classes != OFA_FIDNET_CLASSES) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: invalid shape attributes (channels %lld, features %lld, image_size %lld, "
                     "classes %lld)", path, (long long)ch, (long long)feat, (long long)side, (long long)classes);
        goto out;
    }
    ofa_fidnet_init(n, (int)ch, (int)feat, (int)side, 0);
    if ((rc = ofa_params_read_h5(&h, "weights", &n->p, n->p.data))) goto out;
    ofa_fidnet_hash(n, hash, sizeof hash);
    if (strcmp(hash, stored)) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: the weights hash to %s but the file says %s: the file was modified", path,
                     hash, stored);
        goto out;
    }
    n->test_accuracy = NAN;
    if (ofa_h5_attr_exists(&h, "/", "test_accuracy") == 1) ofa_h5_attr_get_f64(&h, "/", "test_accuracy", &n->test_accuracy);
    snprintf(n->path, sizeof n->path, "%s", path);
out:
    ofa_h5_close(&h);
    if (rc) ofa_fidnet_free(n);
    return rc;
}

/* ---- features, classes, statistics ------------------------------------------------------------ */

static int check_images(const ofa_fidnet *n, int C, int H, int W, const char *what)
{
    if (C != 1 || H != n->image_size || W != n->image_size)
        return OFA_ERR(OFA_E_DATA, "%s: images of %d channel%s, %dx%d; the FID net%s%s takes 1 channel, %dx%d", what, C,
                       C == 1 ? "" : "s", H, W, n->path[0] ? " " : "", n->path, n->image_size, n->image_size);
    return 0;
}

/* runs the net over x in batches; per batch, cb(acts, first image, count) */
static void run_batches(const ofa_fidnet *n, const float *x, int64_t N,
                        void (*cb)(const ofa_fidnet_acts *a, int64_t i0, int B, void *ctx), void *ctx)
{
    ofa_fidnet_acts a;
    const int Bmax = N < INFER_BATCH ? (int)(N > 0 ? N : 1) : INFER_BATCH;
    ofa_fidnet_acts_create(&a, n, Bmax);
    const size_t per = (size_t)n->image_size * n->image_size;
    for (int64_t i = 0; i < N; i += Bmax) {
        int B = (int)(N - i < Bmax ? N - i : Bmax);
        ofa_fidnet_forward(n, &a, x + (size_t)i * per, B);
        cb(&a, i, B, ctx);
    }
    ofa_fidnet_acts_free(&a);
}

typedef struct feat_ctx {
    double *out;
    int32_t *pred;
    int D;
} feat_ctx;

static void take_batch(const ofa_fidnet_acts *a, int64_t i0, int B, void *ctx)
{
    feat_ctx *k = ctx;
    for (int b = 0; b < B; b++) {
        if (k->out)
            for (int j = 0; j < k->D; j++) k->out[(size_t)(i0 + b) * k->D + j] = a->h[(size_t)b * k->D + j];
        if (k->pred) {
            const float *l = a->logits + (size_t)b * OFA_FIDNET_CLASSES;
            int best = 0;
            for (int c = 1; c < OFA_FIDNET_CLASSES; c++)
                if (l[c] > l[best]) best = c;
            k->pred[i0 + b] = best;
        }
    }
}

int ofa_fidnet_features(const ofa_fidnet *n, const float *x, int64_t N, int C, int H, int W, const char *what,
                        double *feat)
{
    OFA_TRY(check_images(n, C, H, W, what));
    feat_ctx k = {feat, NULL, n->features};
    run_batches(n, x, N, take_batch, &k);
    return 0;
}

int ofa_fidnet_classify(const ofa_fidnet *n, const float *x, int64_t N, int C, int H, int W, const char *what,
                        int32_t *pred)
{
    OFA_TRY(check_images(n, C, H, W, what));
    feat_ctx k = {NULL, pred, n->features};
    run_batches(n, x, N, take_batch, &k);
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* the cache file of (tag, cls) in dir */
static void cache_path(char *buf, size_t len, const ofa_fidnet *n, const char *cache_dir, const char *tag, int cls)
{
    char dir[OFA_PATH_MAX];
    if (cache_dir) snprintf(dir, sizeof dir, "%s", cache_dir);
    else {
        snprintf(dir, sizeof dir, "%s", n->path);
        char *s = strrchr(dir, '/');
        if (s) *s = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    char safe[256];
    snprintf(safe, sizeof safe, "%s", tag);
    for (char *c = safe; *c; c++)
        if (*c == '/' || *c == ' ') *c = '_';
    snprintf(buf, len, "%s/fid_stats_%s_c%d.h5", dir, safe, cls);
}

/* 1 when the cache at path holds stats of this net, source, size and class (into mu, sigma). */
static int cache_read(const char *path, const char *hash, const char *source, int64_t bytes, int cls, int D,
                      double *mu, double *sigma, int64_t *count)
{
    ofa_h5 h;
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (ofa_h5_open(&h, path) < 0) {
        OFA_WARN("%s: unreadable FID statistics cache (%s); recomputing", path, ofa_err_msg());
        ofa_err_clear();
        return 0;
    }
    char fhash[32] = "", fsrc[OFA_PATH_MAX] = "";
    int64_t fbytes = -1, fcls = -1, fn = 0;
    char ffeat[32] = "";
    int ok = ofa_h5_attr_get_strbuf(&h, "/", "net_hash", fhash, sizeof fhash) == 0 &&
             ofa_h5_attr_get_strbuf(&h, "/", "features", ffeat, sizeof ffeat) == 0 &&
             ofa_h5_attr_get_strbuf(&h, "/", "source", fsrc, sizeof fsrc) == 0 &&
             ofa_h5_attr_get_i64(&h, "/", "source_bytes", &fbytes) == 0 &&
             ofa_h5_attr_get_i64(&h, "/", "class", &fcls) == 0 && ofa_h5_attr_get_i64(&h, "/", "n", &fn) == 0;
    if (ok && !strcmp(fhash, hash) && !strcmp(ffeat, OFA_FIDNET_FEATURES) && !strcmp(fsrc, source) &&
        fbytes == bytes && fcls == cls) {
        const int64_t s1[1] = {D}, s2[2] = {D, D};
        ok = ofa_h5_read_f64(&h, "fid/mu", mu, 1, s1) == 0 && ofa_h5_read_f64(&h, "fid/sigma", sigma, 2, s2) == 0;
        if (!ok) {
            OFA_WARN("%s: %s; recomputing", path, ofa_err_msg());
            ofa_err_clear();
        }
    } else {
        if (ok) OFA_INFO("%s: made by net %s (%s features) from %s (%lld bytes), class %lld; recomputing for net %s",
                         path, fhash, ffeat, fsrc, (long long)fbytes, (long long)fcls, hash);
        ok = 0;
        ofa_err_clear();
    }
    ofa_h5_close(&h);
    if (ok && count) *count = fn;
    return ok;
}

static void cache_write(const char *path, const char *hash, const char *source, int64_t bytes, int cls, int64_t count,
                        int D, const double *mu, const double *sigma)
{
    ofa_h5 h;
    int rc = ofa_h5_create(&h, path);
    const int64_t s1[1] = {D}, s2[2] = {D, D};
    if (!rc) {
        if ((rc = ofa_h5_attr_set_str(&h, "/", "format", OFA_FID_STATS_FORMAT)) ||
            (rc = ofa_h5_attr_set_i64(&h, "/", "format_version", 1)) ||
            (rc = ofa_h5_attr_set_str(&h, "/", "net_hash", hash)) ||
            (rc = ofa_h5_attr_set_str(&h, "/", "features", OFA_FIDNET_FEATURES)) ||
            (rc = ofa_h5_attr_set_str(&h, "/", "source", source)) ||
            (rc = ofa_h5_attr_set_i64(&h, "/", "source_bytes", bytes)) ||
            (rc = ofa_h5_attr_set_i64(&h, "/", "class", cls)) || (rc = ofa_h5_attr_set_i64(&h, "/", "n", count)) ||
            (rc = ofa_h5_write_f64(&h, "fid/mu", mu, 1, s1)) || (rc = ofa_h5_write_f64(&h, "fid/sigma", sigma, 2, s2)))
            ofa_h5_abort(&h);
        else
            rc = ofa_h5_commit(&h);
    }
    if (rc) {
        OFA_WARN("FID statistics not cached: %s", ofa_err_msg());
        ofa_err_clear();
    } else {
        OFA_DEBUG("FID statistics cached in %s", path);
    }
}

int ofa_fidnet_class_stats(const ofa_fidnet *n, const char *images_path, const char *labels_path, int cls,
                           const char *tag, const char *cache_dir, double *mu, double *sigma, int64_t *n_images)
{
    if (cls < 0 || cls >= OFA_FMNIST_CLASSES)
        return OFA_ERR(OFA_E_CONFIG, "Fashion-MNIST class %d is not a class id 0-9 (%s): images %s", cls,
                       "0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, "
                       "9 Ankle boot", images_path);
    const int D = n->features;
    char hash[32], cpath[OFA_PATH_MAX + 300];
    ofa_fidnet_hash(n, hash, sizeof hash);
    struct stat st;
    int64_t bytes = stat(images_path, &st) == 0 ? (int64_t)st.st_size : -1;
    int use_cache = !(cache_dir && !cache_dir[0]) && bytes >= 0;
    if (use_cache) {
        cache_path(cpath, sizeof cpath, n, cache_dir, tag ? tag : base_name(images_path), cls);
        if (cache_read(cpath, hash, images_path, bytes, cls, D, mu, sigma, n_images)) {
            OFA_DEBUG("FID statistics of class %d of %s from %s", cls, images_path, cpath);
            return 0;
        }
    }
    ofa_fmnist d;
    OFA_TRY(ofa_fmnist_read(&d, images_path, labels_path, cls, n->image_size));
    if (d.n < 2) {
        int rc = OFA_ERR(OFA_E_DATA, "%s: class %d has %lld image%s; FID needs at least 2", images_path, cls,
                         (long long)d.n, d.n == 1 ? "" : "s");
        ofa_fmnist_free(&d);
        return rc;
    }
    double *feat = ofa_xmalloc((size_t)d.n * D * sizeof(double));
    int rc = ofa_fidnet_features(n, d.x, d.n, 1, d.image_size, d.image_size, images_path, feat);
    if (!rc) rc = ofa_fid_stats(feat, d.n, D, mu, sigma);
    if (!rc && n_images) *n_images = d.n;
    if (!rc && use_cache) cache_write(cpath, hash, images_path, bytes, cls, d.n, D, mu, sigma);
    free(feat);
    ofa_fmnist_free(&d);
    return rc;
}

int ofa_fidnet_fid_vs_class(const ofa_fidnet *n, const float *x, int64_t N, int C, int H, int W,
                            const char *fmnist_dir, const char *split, int cls, int target, const char *cache_dir,
                            double *fid, double *share)
{
    if (target < 0 || target >= OFA_FMNIST_CLASSES)
        return OFA_ERR(OFA_E_CONFIG, "target class %d is not a Fashion-MNIST class id 0-9", target);
    if (N < 2) return OFA_ERR(OFA_E_DATA, "FID of %lld image%s: at least 2 are needed", (long long)N, N == 1 ? "" : "s");
    char images[OFA_PATH_MAX], labels[OFA_PATH_MAX];
    OFA_TRY(ofa_fmnist_split_paths(fmnist_dir, split, images, labels, sizeof images));
    OFA_TRY(check_images(n, C, H, W, "the generated images"));
    const int D = n->features;
    double *mu_r = ofa_xmalloc((size_t)D * sizeof(double)), *s_r = ofa_xmalloc((size_t)D * D * sizeof(double));
    double *mu = ofa_xmalloc((size_t)D * sizeof(double)), *s = ofa_xmalloc((size_t)D * D * sizeof(double));
    double *feat = ofa_xmalloc((size_t)N * D * sizeof(double));
    int32_t *pred = share ? ofa_xmalloc((size_t)N * sizeof(int32_t)) : NULL;
    int rc = ofa_fidnet_class_stats(n, images, labels, cls, NULL, cache_dir, mu_r, s_r, NULL); /* ofa fid's cache too */
    if (!rc) {
        feat_ctx k = {feat, pred, D}; /* features and classes in one pass */
        run_batches(n, x, N, take_batch, &k);
        rc = ofa_fid_stats(feat, N, D, mu, s);
    }
    if (!rc) rc = ofa_fid(mu, s, mu_r, s_r, D, fid);
    if (!rc && share) {
        int64_t hit = 0;
        for (int64_t i = 0; i < N; i++) hit += pred[i] == target;
        *share = (double)hit / (double)N;
    }
    free(mu_r), free(s_r), free(mu), free(s), free(feat), free(pred);
    return rc;
}

int ofa_fidnet_accuracy(const ofa_fidnet *n, const char *fmnist_dir, int64_t limit, double *acc, int64_t *count)
{
    ofa_fmnist d;
    OFA_TRY(ofa_fmnist_load(&d, fmnist_dir, "test", OFA_FMNIST_ALL, n->image_size));
    int64_t N = limit > 0 && limit < d.n ? limit : d.n;
    int32_t *pred = ofa_xmalloc((size_t)(N ? N : 1) * sizeof(int32_t));
    int rc = ofa_fidnet_classify(n, d.x, N, 1, d.image_size, d.image_size, d.images_path, pred);
    int64_t hit = 0;
    for (int64_t i = 0; !rc && i < N; i++) hit += pred[i] == d.labels[i];
    if (!rc) *acc = N ? (double)hit / (double)N : NAN, *count = N;
    free(pred);
    ofa_fmnist_free(&d);
    return rc;
}

/* ---- training ----------------------------------------------------------------------------- */

int ofa_fidnet_train(const ofa_config *cfg, const char *out_path, ofa_fidnet_record *out)
{
    const int S = cfg->fidnet.image_size, Bsz = cfg->fidnet.batch_size;
    ofa_fmnist d;
    OFA_TRY(ofa_fmnist_load(&d, cfg->data.fmnist_dir, "train", OFA_FMNIST_ALL, S));
    int64_t N = cfg->fidnet.train_limit > 0 && cfg->fidnet.train_limit < d.n ? cfg->fidnet.train_limit : d.n;
    if (N < Bsz) {
        int rc = OFA_ERR(OFA_E_CONFIG, "fidnet.batch_size (%d) is larger than the %lld training images", Bsz,
                         (long long)N);
        ofa_fmnist_free(&d);
        return rc;
    }
    const int64_t per_epoch = N / Bsz; /* full batches only: every epoch has the same steps */
    const int64_t total = cfg->fidnet.max_steps > 0 ? cfg->fidnet.max_steps
                                                    : (int64_t)ceil(cfg->fidnet.epochs * (double)per_epoch);
    ofa_fidnet net;
    ofa_fidnet_init(&net, cfg->fidnet.channels, cfg->fidnet.features, S, (uint64_t)cfg->experiment.seed);
    int64_t n_params = 0;
    for (int i = 0; i < net.p.n; i++) n_params += (int64_t)net.p.views[i].numel;
    OFA_INFO("fidnet: %lld train images of %s, %d channels, %d features, %dx%d input, %lld parameters; %lld steps "
             "of %d (%.2f epochs)", (long long)N, d.images_path, net.channels, net.features, S, S,
             (long long)n_params, (long long)total, Bsz, (double)total / (double)per_epoch);
    ofa_fidnet_acts a;
    ofa_fidnet_acts_create(&a, &net, Bsz);
    ofa_adamw opt;
    ofa_adamw_init_ex(&opt, OFA_ADAMW_BETA1, OFA_ADAMW_BETA2, OFA_ADAMW_EPS, 0.0); /* Adam: no decay */
    const size_t per = (size_t)S * S;
    float *xb = ofa_xmalloc((size_t)Bsz * per * sizeof(float));
    int32_t *yb = ofa_xmalloc((size_t)Bsz * sizeof(int32_t));
    int64_t *order = ofa_xmalloc((size_t)N * sizeof(int64_t));
    char mpath[OFA_PATH_MAX + 32];
    const char *slash = strrchr(out_path, '/');
    snprintf(mpath, sizeof mpath, "%.*s%s", slash ? (int)(slash - out_path + 1) : 0, out_path, OFA_RUN_METRICS);
    ofa_jsonl log = {NULL};
    if (ofa_jsonl_open(&log, mpath) < 0) { /* the net is still trained and written */
        OFA_WARN("no metrics log: %s", ofa_err_msg());
        ofa_err_clear();
    }
    ofa_jsonl_write(&log, "{\"event\":\"start\",\"stage\":\"fidnet\",\"train_images\":%lld,\"steps\":%lld}",
                    (long long)N, (long long)total);
    ofa_progress prog;
    ofa_progress_init(&prog, "fidnet", total, 0, 5.0);
    const double t0 = ofa_now();
    double loss_sum = 0;
    int64_t loss_n = 0, hits = 0, seen = 0, epoch = -1;
    for (int64_t step = 0; step < total; step++) {
        if (step / per_epoch != epoch) {
            epoch = step / per_epoch;
            for (int64_t i = 0; i < N; i++) order[i] = i;
            ofa_rng r;
            ofa_rng_keyed(&r, (uint64_t)cfg->experiment.seed, 0xF1D, (uint64_t)epoch);
            ofa_rng_shuffle(&r, order, N);
        }
        const int64_t first = (step % per_epoch) * Bsz;
        for (int b = 0; b < Bsz; b++) {
            int64_t k = order[first + b];
            memcpy(xb + (size_t)b * per, d.x + (size_t)k * per, per * sizeof(float));
            yb[b] = d.labels[k];
        }
        ofa_params_zero_grad(&net.p);
        ofa_fidnet_forward(&net, &a, xb, Bsz);
        double loss = ofa_fidnet_loss(&net, &a, xb, yb, 1);
        double lr = ofa_lr_at(cfg->fidnet.lr, step, 0, total);
        ofa_adamw_step(&opt, &net.p, lr);
        for (int b = 0; b < Bsz; b++) {
            const float *l = a.logits + (size_t)b * OFA_FIDNET_CLASSES;
            int best = 0;
            for (int c = 1; c < OFA_FIDNET_CLASSES; c++)
                if (l[c] > l[best]) best = c;
            hits += best == yb[b];
        }
        seen += Bsz, loss_sum += loss, loss_n++;
        ofa_jsonl_write(&log, "{\"stage\":\"fidnet\",\"step\":%lld,\"epoch\":%lld,\"loss\":%.6g,\"lr\":%.6g}",
                        (long long)step + 1, (long long)epoch, loss, lr);
        char extra[128];
        snprintf(extra, sizeof extra, "epoch %lld  loss %.4f  train acc %.2f%%  lr %.1e  %.0f images/s",
                 (long long)epoch, loss_sum / (double)loss_n, 100.0 * (double)hits / (double)seen, lr,
                 (double)(step + 1) * Bsz / (ofa_now() - t0));
        const double printed = prog.t_last;
        ofa_progress_update(&prog, step + 1, 0, extra, step + 1 == total);
        if (prog.t_last != printed) loss_sum = 0, loss_n = 0, hits = 0, seen = 0; /* each line: since the last */
    }
    const double secs = ofa_now() - t0;
    free(xb), free(yb), free(order);
    ofa_fidnet_acts_free(&a);
    ofa_fmnist_free(&d);
    ofa_fidnet_record rec = {.epochs = (double)total / (double)per_epoch, .train_seconds = secs, .train_images = N,
                             .steps = total};
    int rc = ofa_fidnet_accuracy(&net, cfg->data.fmnist_dir, cfg->fidnet.test_limit, &rec.test_accuracy,
                                 &rec.test_images);
    if (!rc) rc = ofa_fidnet_write(&net, out_path, &rec, cfg);
    char file[OFA_PATH_MAX];
    ofa_json_escape(file, sizeof file, base_name(out_path));
    if (!rc)
        ofa_jsonl_write(&log, "{\"event\":\"done\",\"stage\":\"fidnet\",\"test_accuracy\":%.6g,\"test_images\":%lld,"
                        "\"train_seconds\":%.6g,\"file\":\"%s\"}", rec.test_accuracy, (long long)rec.test_images,
                        rec.train_seconds, file);
    ofa_jsonl_close(&log);
    if (!rc && out) *out = rec;
    ofa_fidnet_free(&net);
    return rc;
}
