/* Suite fidnet: the FID feature net (models/gan/fidnet.h) and the `ofa fidnet` / `ofa fid`
 * commands.
 *  1. golden: against tests/golden/fidnet_tiny.h5 (make_golden_fidnet.py: the same layers as
 *     torch.nn modules in float64): features within 3e-5 and logits within 1e-5 relative (to
 *     max(|ref|, 0.1 max|ref|), float32 arithmetic on ~100-term sums), the loss within 1e-5, every parameter
 *     gradient within 1e-4 normalized error, and a 3-step torch.optim.Adam trajectory (losses
 *     and final weights within 1e-4), where ofa's AdamW with weight decay 0 is Adam.
 *  2. file: write + read round trip (the hash names the weights), a modified weight is refused,
 *     a file of another kind is refused, the init is PyTorch's bound.
 *  3. stats cache: class statistics through the cache equal a fresh computation and FID of a set
 *     with itself is ~0; a cache made by another net (other hash) is recomputed.
 *  4. train: a few steps on a few hundred real images lower the loss (needs Fashion-MNIST).
 *  5. commands: `ofa fidnet` on a tiny config, `ofa fid` on IDX, image-set and PNG-folder inputs
 *     (features written and equal to the library's), and each bad input: wrong class id,
 *     missing IDX, truncated IDX, an image set of the wrong size, fewer than 2 images. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/config.h"
#include "core/error.h"
#include "core/h5io.h"
#include "datasets/fmnist.h"
#include "datasets/images.h"
#include "models/gan/fidnet.h"
#include "nn/fid.h"
#include "nn/optim.h"
#include "tests/testutil.h"

#define GOLDEN "tests/golden/fidnet_tiny.h5"

static float *read_all(ofa_h5 *h, const char *path, size_t want)
{
    float *a = NULL;
    int nd;
    int64_t shape[8];
    if (ofa_h5_read_f32_alloc(h, path, &a, &nd, shape)) {
        printf("\n  %s: %s\n", path, ofa_err_msg());
        return NULL;
    }
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
    if (n != want) {
        printf("\n  %s: %zu values, want %zu\n", path, n, want);
        free(a);
        return NULL;
    }
    return a;
}

static int64_t attr_i(ofa_h5 *h, const char *k)
{
    int64_t v = -1;
    CU_ASSERT_EQUAL(ofa_h5_attr_get_i64(h, "/", k, &v), 0);
    return v;
}

static void test_golden(void)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, GOLDEN), 0);
    const int C = (int)attr_i(&h, "channels"), D = (int)attr_i(&h, "features"), S = (int)attr_i(&h, "image_size");
    const int B = (int)attr_i(&h, "batch"), steps = (int)attr_i(&h, "steps");
    double ref_loss = 0, lr = 0;
    CU_ASSERT_EQUAL(ofa_h5_attr_get_f64(&h, "/", "loss", &ref_loss), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_f64(&h, "/", "lr", &lr), 0);
    ofa_fidnet n;
    ofa_fidnet_init(&n, C, D, S, 1);
    CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(&h, "weights", &n.p, n.p.data), 0);
    float *x = read_all(&h, "input", (size_t)B * S * S);
    int32_t labels[16];
    const int64_t lshape[1] = {B};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_i32(&h, "labels", labels, 1, lshape), 0);
    float *feat = read_all(&h, "features", (size_t)B * D), *logits = read_all(&h, "logits", (size_t)B * 10);
    CU_ASSERT_FATAL(x && feat && logits);

    ofa_fidnet_acts a;
    ofa_fidnet_acts_create(&a, &n, B + 3); /* Bmax above B: strides of the arena are Bmax's */
    ofa_fidnet_forward(&n, &a, x, B);
    /* features: 3e-5, the end of three instance norms over 7x7 and 4x4 maps in float32 (a 4x4 map
     * normalizes by the std of 16 values, which scales the float rounding of the convs up); the
     * logits after them agree to 1e-5 */
    CU_ASSERT(tu_max_rel_err("features", a.h, feat, (size_t)B * D, 0.1, 3e-5) <= 3e-5);
    CU_ASSERT(tu_max_rel_err("logits", a.logits, logits, (size_t)B * 10, 0.1, 1e-5) <= 1e-5);
    ofa_params_zero_grad(&n.p);
    double loss = ofa_fidnet_loss(&n, &a, x, labels, 1);
    CU_ASSERT(fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss));
    float *ref_g = ofa_xalloc_aligned(n.p.total * sizeof(float));
    CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(&h, "grads", &n.p, ref_g), 0);
    for (int i = 0; i < n.p.n; i++) {
        const ofa_pview *v = &n.p.views[i];
        double e = tu_norm_err(n.p.grad + v->offset, ref_g + v->offset, v->numel);
        if (e > 1e-4 || getenv("OFA_TEST_VERBOSE")) printf("\n  grad %s: normalized error %.2e", v->name, e);
        CU_ASSERT(e <= 1e-4);
    }
    /* Adam trajectory */
    double ref_losses[8];
    const int64_t sshape[1] = {steps};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_f64(&h, "adam/losses", ref_losses, 1, sshape), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(&h, "weights", &n.p, n.p.data), 0);
    ofa_adamw opt;
    ofa_adamw_init_ex(&opt, 0.9, 0.999, 1e-8, 0.0);
    for (int s = 0; s < steps; s++) {
        ofa_params_zero_grad(&n.p);
        ofa_fidnet_forward(&n, &a, x, B);
        double l = ofa_fidnet_loss(&n, &a, x, labels, 1);
        if (fabs(l - ref_losses[s]) > 1e-4 * fabs(ref_losses[s])) printf("\n  adam step %d: loss %.7f, want %.7f", s, l, ref_losses[s]);
        CU_ASSERT(fabs(l - ref_losses[s]) <= 1e-4 * fabs(ref_losses[s]));
        ofa_adamw_step(&opt, &n.p, lr);
    }
    CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(&h, "adam/weights", &n.p, ref_g), 0);
    for (int i = 0; i < n.p.n; i++) {
        const ofa_pview *v = &n.p.views[i];
        double e = tu_norm_err(n.p.data + v->offset, ref_g + v->offset, v->numel);
        if (e > 1e-4) printf("\n  adam weights %s: normalized error %.2e", v->name, e);
        CU_ASSERT(e <= 1e-4);
    }
    free(ref_g), free(x), free(feat), free(logits);
    ofa_fidnet_acts_free(&a);
    ofa_fidnet_free(&n);
    ofa_h5_close(&h);
}


/* ---- fixtures: a small Fashion-MNIST folder whose classes are learnable --------------------- */

#define NPIX (OFA_FMNIST_ROWS * OFA_FMNIST_ROWS)

static const char *keep(const char *path)
{
    static char slots[32][1024];
    static int next;
    char *p = slots[next++ % 32];
    snprintf(p, sizeof slots[0], "%s", path);
    return p;
}

static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int ndims, const unsigned char *data,
                      size_t len)
{
    gzFile f = gzopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned char h[16];
    uint32_t w[4] = {magic};
    for (int i = 0; i < ndims; i++) w[1 + i] = dims[i];
    for (int i = 0; i <= ndims; i++)
        for (int b = 0; b < 4; b++) h[4 * i + b] = (unsigned char)(w[i] >> (24 - 8 * b));
    CU_ASSERT_EQUAL_FATAL(gzwrite(f, h, 4 * (unsigned)(ndims + 1)), 4 * (ndims + 1));
    if (len) CU_ASSERT_EQUAL_FATAL(gzwrite(f, data, (unsigned)len), (int)len);
    CU_ASSERT_EQUAL_FATAL(gzclose(f), Z_OK);
}

/* Image i of class k = i mod 10: noise plus a bright 6x6 block whose place depends on k. */
static void make_split(const char *dir, const char *stem, int n, unsigned seed)
{
    unsigned char *img = malloc((size_t)n * NPIX), *lab = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        int k = i % 10;
        lab[i] = (unsigned char)k;
        for (int p = 0; p < NPIX; p++) {
            seed = seed * 1103515245u + 12345u;
            img[(size_t)i * NPIX + p] = (unsigned char)((seed >> 16) % 60);
        }
        int r0 = 2 + (k / 5) * 12 + (int)(seed >> 8) % 3, c0 = 2 + (k % 5) * 4 + (int)(seed >> 12) % 2;
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 6; c++) img[(size_t)i * NPIX + (r0 + r) * OFA_FMNIST_ROWS + c0 + c] = 250;
    }
    char p[1200];
    uint32_t di[3] = {(uint32_t)n, OFA_FMNIST_ROWS, OFA_FMNIST_ROWS}, dl[1] = {(uint32_t)n};
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", dir, stem);
    write_idx(p, 0x803, di, 3, img, (size_t)n * NPIX);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
    write_idx(p, 0x801, dl, 1, lab, (size_t)n);
    free(img), free(lab);
}

static const char *g_fm; /* the fixture folder: train 400, t10k 200 images */

static const char *fixture(void)
{
    if (g_fm) return g_fm;
    g_fm = keep(tu_path("fidnet_fm"));
    mkdir(g_fm, 0755);
    make_split(g_fm, "train", 400, 1);
    make_split(g_fm, "t10k", 200, 2);
    return g_fm;
}

static void fixture_path(char *buf, size_t n, const char *stem, const char *kind)
{
    snprintf(buf, n, "%s/%s-%s-ubyte.gz", fixture(), stem, kind);
}

/* ---- 2. file ------------------------------------------------------------------------------- */

static void test_file(void)
{
    ofa_fidnet n, m;
    ofa_fidnet_init(&n, 3, 10, 32, 7);
    CU_ASSERT_TRUE(n.s2 == 16 && n.s3 == 8);
    /* PyTorch's default bound 1/sqrt(fan_in) */
    const float *w = ofa_params_get(&n.p, "fc1.weight");
    float mx = 0;
    for (size_t i = 0; i < 10 * 12 * 64; i++) mx = fabsf(w[i]) > mx ? fabsf(w[i]) : mx;
    CU_ASSERT(mx <= 1.0f / sqrtf(12 * 64) && mx > 0.9f / sqrtf(12 * 64));
    CU_ASSERT_EQUAL(ofa_params_get(&n.p, "norm2.weight")[5], 1.0f);
    ofa_fidnet_record r = {.test_accuracy = 0.5, .test_images = 7, .steps = 3};
    const char *path = keep(tu_path("fidnet_n.h5"));
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_write(&n, path, &r, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_read(&m, path), 0);
    CU_ASSERT_TRUE(m.channels == 3 && m.features == 10 && m.image_size == 32 && m.test_accuracy == 0.5);
    CU_ASSERT_EQUAL(memcmp(m.p.data, n.p.data, n.p.total * sizeof(float)), 0);
    char h1[32], h2[32];
    ofa_fidnet_hash(&n, h1, sizeof h1);
    ofa_fidnet_hash(&m, h2, sizeof h2);
    CU_ASSERT_STRING_EQUAL(h1, h2);
    ofa_fidnet_free(&m);
    /* one changed weight: another hash, and a file whose weights do not match its hash is refused */
    ofa_params_get(&n.p, "conv2.weight")[3] += 1e-3f;
    ofa_fidnet_hash(&n, h2, sizeof h2);
    CU_ASSERT_STRING_NOT_EQUAL(h1, h2);
    ofa_h5 h;
    const char *bad = keep(tu_path("fidnet_bad.h5"));
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, bad), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "format", "ofa-fidnet"), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "kind", "fidnet"), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_i64(&h, "/", "channels", 3), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_i64(&h, "/", "features", 10), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_i64(&h, "/", "image_size", 32), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_i64(&h, "/", "classes", 10), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "hash", h1), 0);
    CU_ASSERT_EQUAL(ofa_params_write_h5(&h, "weights", &n.p, n.p.data), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    CU_ASSERT_EQUAL(ofa_fidnet_read(&m, bad), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "the file was modified"));
    /* another kind of file */
    float out[16] = {0};
    const char *set = keep(tu_path("fidnet_set.h5"));
    CU_ASSERT_EQUAL_FATAL(ofa_images_write_h5(set, NULL, out, 1, 1, 4, 4), 0);
    CU_ASSERT_EQUAL(ofa_fidnet_read(&m, set), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "is not a FID feature net"));
    CU_ASSERT_EQUAL(ofa_fidnet_read(&m, "/nonexistent/fidnet.h5"), OFA_E_IO);
    ofa_fidnet_free(&n);
}

/* ---- 3. statistics cache and the library FID for ofa eval ---------------------------------- */

static void test_stats_cache(void)
{
    ofa_fidnet n;
    ofa_fidnet_init(&n, 2, 6, 32, 3);
    const char *dir = keep(tu_path("fidnet_cache"));
    mkdir(dir, 0755);
    char netp[1200], img[1200], lab[1200], cache[1400];
    snprintf(netp, sizeof netp, "%s/net.h5", dir);
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_write(&n, netp, NULL, NULL), 0);
    ofa_fidnet_free(&n);
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_read(&n, netp), 0);
    fixture_path(img, sizeof img, "t10k", "images-idx3");
    fixture_path(lab, sizeof lab, "t10k", "labels-idx1");
    const int D = 6;
    double mu[6], s[36], mu2[6], s2[36];
    int64_t cnt = 0;
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_class_stats(&n, img, lab, 7, NULL, NULL, mu, s, &cnt), 0);
    CU_ASSERT_EQUAL(cnt, 20);
    snprintf(cache, sizeof cache, "%s/fid_stats_t10k-images-idx3-ubyte.gz_c7.h5", dir);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(cache, &st), 0);
    /* from the cache: the same numbers */
    CU_ASSERT_EQUAL(ofa_fidnet_class_stats(&n, img, lab, 7, NULL, NULL, mu2, s2, &cnt), 0);
    CU_ASSERT_TRUE(!memcmp(mu, mu2, sizeof mu) && !memcmp(s, s2, sizeof s) && cnt == 20);
    /* equal to features computed here */
    ofa_fmnist d;
    CU_ASSERT_EQUAL_FATAL(ofa_fmnist_read(&d, img, lab, 7, 32), 0);
    double *f = malloc((size_t)d.n * D * sizeof *f), fid = -1, share = -1;
    CU_ASSERT_EQUAL(ofa_fidnet_features(&n, d.x, d.n, 1, 32, 32, "x", f), 0);
    CU_ASSERT_EQUAL(ofa_fid_stats(f, d.n, D, mu2, s2), 0);
    CU_ASSERT_TRUE(!memcmp(mu, mu2, sizeof mu) && !memcmp(s, s2, sizeof s));
    /* the library call for ofa eval: the class's own images against it: FID ~ 0 */
    CU_ASSERT_EQUAL(ofa_fidnet_fid_vs_class(&n, d.x, d.n, 1, 32, 32, fixture(), "test", 7, 7, dir, &fid, &share), 0);
    CU_ASSERT(fabs(fid) < 1e-9);
    int32_t pred[64];
    CU_ASSERT_EQUAL(ofa_fidnet_classify(&n, d.x, d.n, 1, 32, 32, "x", pred), 0);
    int hit = 0;
    for (int i = 0; i < d.n; i++) hit += pred[i] == 7;
    CU_ASSERT_DOUBLE_EQUAL(share, (double)hit / (double)d.n, 1e-12);
    /* bad calls: fewer than 2 images, another size, a wrong class */
    CU_ASSERT_EQUAL(ofa_fidnet_fid_vs_class(&n, d.x, 1, 1, 32, 32, fixture(), "test", 7, 7, dir, &fid, NULL),
                    OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "at least 2"));
    CU_ASSERT_EQUAL(ofa_fidnet_fid_vs_class(&n, d.x, 4, 1, 16, 16, fixture(), "test", 7, 7, dir, &fid, NULL),
                    OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "takes 1 channel, 32x32"));
    CU_ASSERT_EQUAL(ofa_fidnet_fid_vs_class(&n, d.x, 4, 1, 32, 32, fixture(), "test", 10, 7, dir, &fid, NULL),
                    OFA_E_CONFIG);
    CU_ASSERT_EQUAL(ofa_fidnet_fid_vs_class(&n, d.x, 4, 1, 32, 32, fixture(), "dev", 7, 7, dir, &fid, NULL),
                    OFA_E_CONFIG);
    ofa_fmnist_free(&d);
    free(f);
    /* another net (one weight changed) at the same path: the cache is recomputed and rewritten */
    ofa_params_get(&n.p, "fc1.weight")[0] += 0.5f;
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_write(&n, netp, NULL, NULL), 0);
    ofa_fidnet_free(&n);
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_read(&n, netp), 0);
    char want[32], got[32] = "";
    ofa_fidnet_hash(&n, want, sizeof want);
    CU_ASSERT_EQUAL(ofa_fidnet_class_stats(&n, img, lab, 7, NULL, NULL, mu2, s2, NULL), 0);
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, cache), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_strbuf(&h, "/", "net_hash", got, sizeof got), 0);
    ofa_h5_close(&h);
    CU_ASSERT_STRING_EQUAL(got, want);
    CU_ASSERT_NOT_EQUAL(memcmp(mu, mu2, sizeof mu), 0);
    ofa_fidnet_free(&n);
}

/* ---- 4. training on a few hundred images --------------------------------------------------- */

static void test_train(void)
{
    ofa_config c;
    ofa_config_defaults(&c);
    snprintf(c.data.fmnist_dir, sizeof c.data.fmnist_dir, "%s", fixture());
    c.fidnet.max_steps = 60, c.fidnet.batch_size = 20, c.fidnet.channels = 4, c.fidnet.features = 16;
    c.fidnet.lr = 5e-3;
    const char *out = keep(tu_path("fidnet_trained.h5"));
    ofa_fidnet_record r;
    int rc = ofa_fidnet_train(&c, out, &r);
    if (rc) printf("\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_TRUE(r.steps == 60 && r.train_images == 400 && r.test_images == 200 && r.epochs == 3.0);
    /* the block's place tells the class: far above chance (10 %) on the held-out fixture images */
    if (r.test_accuracy < 0.8) printf("\n  test accuracy %.3f\n", r.test_accuracy);
    CU_ASSERT(r.test_accuracy >= 0.8);
    ofa_fidnet n;
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_read(&n, out), 0);
    double acc = 0;
    int64_t cnt = 0;
    CU_ASSERT_EQUAL(ofa_fidnet_accuracy(&n, fixture(), 0, &acc, &cnt), 0);
    CU_ASSERT_TRUE(cnt == 200 && acc == r.test_accuracy);
    ofa_fidnet_free(&n);
    /* a batch larger than the training set */
    c.fidnet.batch_size = 500;
    CU_ASSERT_EQUAL(ofa_fidnet_train(&c, out, &r), OFA_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "fidnet.batch_size"));
}

/* ---- 5. the commands ----------------------------------------------------------------------- */

static double fid_of(const char *out)
{
    const char *p = strstr(out, "FID ");
    return p ? strtod(p + 4, NULL) : NAN;
}

#define RUN(want_rc, ...)                                                                          \
    do {                                                                                           \
        snprintf(args, sizeof args, __VA_ARGS__);                                                  \
        free(out);                                                                                 \
        rc = tu_run_ofa(args, &out);                                                               \
        if (rc != (want_rc)) printf("\n  ofa %s: exit %d (want %d)\n%s", args, rc, want_rc, out);  \
        CU_ASSERT_EQUAL(rc, want_rc);                                                              \
    } while (0)
#define HAS(s)                                                                                     \
    do {                                                                                           \
        if (!strstr(out, s)) printf("\n  ofa %s: output lacks '%s':\n%s", args, s, out);            \
        CU_ASSERT_PTR_NOT_NULL(strstr(out, s));                                                    \
    } while (0)

static void test_commands(void)
{
    char args[8192], *out = NULL;
    int rc;
    const char *dir = keep(tu_path("fidnet_cmd"));
    mkdir(dir, 0755);
    /* ofa fidnet on the fixture folder */
    char cfg[1500];
    snprintf(cfg, sizeof cfg, "experiment: {name: t, output_dir: %s/run, threads: 1}\ndata: {fmnist_dir: %s}\n"
             "fidnet: {max_steps: 40, batch_size: 20, channels: 4, features: 12, lr: 5.0e-3}\n", dir, fixture());
    const char *cfgp = tu_write_file("fidnet_cmd/fidnet.yaml", cfg);
    RUN(0, "fidnet %s", cfgp);
    HAS("fidnet: test accuracy");
    HAS("on 200 test images; trained 40 steps");
    RUN(2, "fidnet %s", cfgp);
    HAS("exists; 'ofa fidnet");
    RUN(2, "fidnet %s --set fidnet.featurs=3", cfgp);
    HAS("did you mean 'fidnet.features'");
    char net[1200];
    snprintf(net, sizeof net, "%s/run/metrics.jsonl", dir);
    char *log = tu_read_file(net);
    CU_ASSERT_TRUE(log && strstr(log, "\"stage\":\"fidnet\",\"step\":40,") &&
                   strstr(log, "\"event\":\"done\",\"stage\":\"fidnet\",\"test_accuracy\":"));
    free(log);
    snprintf(net, sizeof net, "%s/run/fidnet.h5", dir);
    RUN(0, "inspect %s", net);
    HAS("fidnet");
    HAS("test_accuracy");

    /* ofa fid on IDX, with features written */
    char img[1200], feat[1200];
    fixture_path(img, sizeof img, "t10k", "images-idx3");
    snprintf(feat, sizeof feat, "%s/feat.h5", dir);
    RUN(0, "fid %s %s --class 7 --class-b 9 --net %s --features-out %s", img, img, net, feat);
    HAS("FID ");
    double f_idx = fid_of(out);
    CU_ASSERT(f_idx > 0 && isfinite(f_idx));
    ofa_fidnet n;
    CU_ASSERT_EQUAL_FATAL(ofa_fidnet_read(&n, net), 0);
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, feat), 0);
    const int D = n.features;
    double *fa = malloc(20 * D * sizeof *fa), *fb = malloc(20 * D * sizeof *fb), *mine = malloc(20 * D * sizeof *mine);
    const int64_t sh[2] = {20, D};
    CU_ASSERT_EQUAL(ofa_h5_read_f64(&h, "features/a", fa, 2, sh), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f64(&h, "features/b", fb, 2, sh), 0);
    ofa_h5_close(&h);
    double fid = 0;
    CU_ASSERT_EQUAL(ofa_fid_features(fa, 20, fb, 20, D, &fid), 0);
    CU_ASSERT(fabs(fid - f_idx) <= 1e-5 * fid);
    ofa_fmnist d7;
    char lab[1200];
    fixture_path(lab, sizeof lab, "t10k", "labels-idx1");
    CU_ASSERT_EQUAL_FATAL(ofa_fmnist_read(&d7, img, lab, 7, 32), 0);
    CU_ASSERT_EQUAL(ofa_fidnet_features(&n, d7.x, d7.n, 1, 32, 32, "x", mine), 0);
    CU_ASSERT_EQUAL(memcmp(mine, fa, 20 * D * sizeof *fa), 0);
    /* the same through the statistics cache (written beside the net on the first run, read on the second) */
    RUN(0, "fid %s %s --class 7 --class-b 9 --net %s", img, img, net);
    CU_ASSERT(fabs(fid_of(out) - f_idx) <= 1e-5 * f_idx);
    RUN(0, "fid %s %s --class 7 --class-b 9 --net %s", img, img, net);
    CU_ASSERT(fabs(fid_of(out) - f_idx) <= 1e-5 * f_idx);
    char cache[1400];
    snprintf(cache, sizeof cache, "%s/run/fid_stats_t10k-images-idx3-ubyte.gz_c9.h5", dir);
    struct stat st;
    CU_ASSERT_EQUAL(stat(cache, &st), 0);

    /* the class-7 images as an image set and as a PNG folder: the same FID */
    char set[1200], pngs[1200];
    snprintf(set, sizeof set, "%s/seven.h5", dir);
    CU_ASSERT_EQUAL_FATAL(ofa_images_write_h5(set, NULL, d7.x, d7.n, 1, 32, 32), 0);
    RUN(0, "fid %s %s --class-b 9 --net %s", set, img, net);
    CU_ASSERT(fabs(fid_of(out) - f_idx) <= 1e-5 * f_idx);
    RUN(0, "inspect %s", set);
    HAS("an image set");
    HAS("outputs:");
    HAS("shape: [20, 1, 32, 32]");
    RUN(0, "inspect %s --json", feat);
    HAS("\"kind\":\"fid_features\"");
    HAS("\"features/a\":{\"shape\":[20,");
    snprintf(pngs, sizeof pngs, "%s/seven", dir);
    mkdir(pngs, 0755);
    for (int i = 0; i < d7.n; i++) {
        char p[1300];
        snprintf(p, sizeof p, "%s/%03d.png", pngs, i);
        CU_ASSERT_EQUAL(ofa_png_write_grid(p, d7.x + (size_t)i * 32 * 32, 1, 1, 1, 32, 32), 0);
    }
    RUN(0, "fid %s %s --class-b 9 --net %s", pngs, img, net);
    CU_ASSERT(fabs(fid_of(out) - f_idx) <= 1e-5 * f_idx);
    RUN(0, "fid %s %s --net %s", pngs, set, net); /* the same images: 0 up to rounding */
    CU_ASSERT(fabs(fid_of(out)) < 1e-6 * f_idx);

    /* bad input */
    RUN(2, "fid %s %s --class 12 --class-b 9 --net %s", img, img, net);
    HAS("--class 12: not a Fashion-MNIST class id 0-9");
    RUN(2, "fid %s %s --class-b 9 --net %s", img, img, net);
    HAS("give the class to compare with --class K");
    RUN(2, "fid %s %s --class 7 --class-b 9", img, img);
    HAS("--net");
    RUN(2, "fid %s %s --class 7 --class-b 9 --net %s --features-out %s", img, img, net, net); /* over its net */
    HAS("is the input file");
    RUN(1, "fid %s/nothing-images-idx3-ubyte.gz %s --class 7 --class-b 9 --net %s", dir, img, net);
    HAS("nothing-images-idx3-ubyte.gz");
    char trunc[1200], tlab[1200];
    snprintf(trunc, sizeof trunc, "%s/cut-images-idx3-ubyte.gz", dir);
    snprintf(tlab, sizeof tlab, "%s/cut-labels-idx1-ubyte.gz", dir);
    {
        unsigned char px[3 * NPIX], lb[5] = {7, 7, 7, 7, 7};
        memset(px, 9, sizeof px);
        uint32_t di[3] = {5, OFA_FMNIST_ROWS, OFA_FMNIST_ROWS}, dl[1] = {5};
        write_idx(trunc, 0x803, di, 3, px, sizeof px); /* 3 of the 5 images the header says */
        write_idx(tlab, 0x801, dl, 1, lb, 5);
    }
    RUN(1, "fid %s %s --class 7 --class-b 9 --net %s", trunc, img, net);
    HAS("cut-images-idx3-ubyte.gz: truncated");
    char small[1200];
    snprintf(small, sizeof small, "%s/small.h5", dir);
    float px16[4 * 16 * 16] = {0};
    CU_ASSERT_EQUAL_FATAL(ofa_images_write_h5(small, NULL, px16, 4, 1, 16, 16), 0);
    RUN(1, "fid %s %s --class-b 9 --net %s", small, img, net);
    HAS("images of 1 channel, 16x16; the FID net");
    HAS("takes 1 channel, 32x32");
    char one[1200];
    snprintf(one, sizeof one, "%s/one.h5", dir);
    CU_ASSERT_EQUAL_FATAL(ofa_images_write_h5(one, NULL, d7.x, 1, 1, 32, 32), 0);
    RUN(1, "fid %s %s --class-b 9 --net %s", one, img, net);
    HAS("1 image; FID needs at least 2");
    RUN(2, "fid %s %s --class 3 --class-b 9 --net %s", set, img, net);
    HAS("--class applies to an IDX file");

    /* help lists the family's commands; a near miss is offered */
    RUN(0, "help");
    HAS("fidnet");
    HAS("FID of two image sets");
    RUN(0, "help fid");
    HAS("--features-out");
    RUN(2, "fidd x");
    HAS("did you mean 'fid'?");
    RUN(0, "fid --help");
    HAS("ofa fid SET_A SET_B");
    ofa_fmnist_free(&d7);
    ofa_fidnet_free(&n);
    free(fa), free(fb), free(mine), free(out);
}

int test_fidnet_register(void)
{
    CU_pSuite s = CU_add_suite("fidnet", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "golden", test_golden) || !CU_add_test(s, "file", test_file) ||
        !CU_add_test(s, "stats_cache", test_stats_cache) || !CU_add_test(s, "train", test_train) ||
        !CU_add_test(s, "commands", test_commands))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
