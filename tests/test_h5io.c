/* Suite h5io: round trips of tensors/strings/attributes, atomic create/commit/abort, name-ordered
 * visits, and the errors for missing, foreign, truncated and corrupted files (every byte of a
 * small file changed in turn is refused at open by the whole-file checksum). */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"
#include "core/h5io.h"
#include "tests/testutil.h"

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void path_copy(char *dst, const char *name)
{
    snprintf(dst, OFA_PATH_MAX, "%s", tu_path(name));
}

/* Reads a whole file into a malloc'd buffer. */
static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static void spit(const char *p, const unsigned char *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* ---- round trip ------------------------------------------------------------------------------- */

#define BIG_R 700
#define BIG_C 512 /* 1.4 MB of floats: more than one 1 MiB chunk */

static const char *const STRS[] = {"hello", "", "naïve café", "日本語のテキスト", "emoji 😀 end", "[CLS]"};
#define NSTRS 6

static void test_roundtrip(void)
{
    char path[OFA_PATH_MAX], tmp[OFA_PATH_MAX + 8];
    path_copy(path, "rt.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    float wq[12];
    for (int i = 0; i < 12; i++) wq[i] = (float)i * 0.37f - 2.0f;
    wq[5] = -0.0f;
    wq[7] = 1e-40f; /* denormal */
    double f64[5] = {M_PI, -1e300, 1e-300, 0.1, 42.0};
    int32_t i32[12];
    for (int i = 0; i < 12; i++) i32[i] = (i % 2 ? -1 : 1) * (int32_t)(i * 100003);
    i32[11] = INT32_MIN;
    int64_t i64[4] = {INT64_MIN, -1, 0, INT64_MAX};
    float scalar = 3.25f;
    float *big = malloc(sizeof(float) * BIG_R * BIG_C);
    for (int i = 0; i < BIG_R * BIG_C; i++) big[i] = sinf((float)i * 0.001f) * 100.0f;
    uint64_t u64v[3] = {0, UINT64_MAX, 12345678901234ULL};

    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    CU_ASSERT_TRUE(file_exists(tmp));
    CU_ASSERT_FALSE(file_exists(path));
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "weights/layer_00/attn/wq", wq, 2, (int64_t[]){3, 4}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f64(&h, "a/f64", f64, 1, (int64_t[]){5}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_i32(&h, "a/i32", i32, 3, (int64_t[]){2, 3, 2}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_i64(&h, "/b/i64", i64, 1, (int64_t[]){4}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "scalar", &scalar, 0, NULL), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "empty", NULL, 2, (int64_t[]){0, 3}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "big", big, 2, (int64_t[]){BIG_R, BIG_C}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_strings(&h, "vocab/tokens", STRS, NSTRS), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_strings(&h, "vocab/none", NULL, 0), 0);
    /* a second dataset of the same name is refused */
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_write_f64(&h, "a/f64", f64, 1, (int64_t[]){5}), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "'a/f64' already exists"));
    /* attributes, including replacement (also with another type) */
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "format", "first"), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "format", "ofa-checkpoint"), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "note", "Grüße, 世界"), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "blank", ""), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_i64(&h, "/", "step", 7), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_i64(&h, "/", "step", -9000000000LL), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_f64(&h, "/", "lr", 2.5e-5), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_u64v(&h, "/", "rng", u64v, 3), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "weights/layer_00/attn/wq", "kind", "linear"), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_i64(&h, "a", "count", 2), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "a", "count", "two"), 0);
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_attr_set_i64(&h, "nowhere", "k", 1), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "no object 'nowhere'"));
    CU_ASSERT_EQUAL(ofa_h5_commit(&h), 0);
    CU_ASSERT_TRUE(file_exists(path));
    CU_ASSERT_FALSE(file_exists(tmp));

    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_exists(&h, "weights/layer_00/attn/wq"), 1);
    CU_ASSERT_EQUAL(ofa_h5_exists(&h, "/weights/layer_00"), 1);
    CU_ASSERT_EQUAL(ofa_h5_exists(&h, "weights/layer_01/attn/wq"), 0);
    CU_ASSERT_EQUAL(ofa_h5_exists(&h, "nope"), 0);
    CU_ASSERT_EQUAL(ofa_h5_exists(&h, "/"), 1);

    int nd = -1;
    int64_t sh[OFA_H5_MAX_DIMS];
    CU_ASSERT_EQUAL(ofa_h5_shape(&h, "a/i32", &nd, sh), 0);
    CU_ASSERT_TRUE(nd == 3 && sh[0] == 2 && sh[1] == 3 && sh[2] == 2);
    CU_ASSERT_EQUAL(ofa_h5_shape(&h, "scalar", &nd, sh), 0);
    CU_ASSERT_EQUAL(nd, 0);
    CU_ASSERT_EQUAL(ofa_h5_shape(&h, "empty", &nd, sh), 0);
    CU_ASSERT_TRUE(nd == 2 && sh[0] == 0 && sh[1] == 3);

    float wq2[12];
    double f642[5];
    int32_t i322[12];
    int64_t i642[4];
    float scalar2 = 0;
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "weights/layer_00/attn/wq", wq2, 2, (int64_t[]){3, 4}), 0);
    CU_ASSERT_EQUAL(memcmp(wq, wq2, sizeof wq), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f64(&h, "a/f64", f642, 1, (int64_t[]){5}), 0);
    CU_ASSERT_EQUAL(memcmp(f64, f642, sizeof f64), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_i32(&h, "a/i32", i322, 3, (int64_t[]){2, 3, 2}), 0);
    CU_ASSERT_EQUAL(memcmp(i32, i322, sizeof i32), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_i64(&h, "b/i64", i642, 1, (int64_t[]){4}), 0);
    CU_ASSERT_EQUAL(memcmp(i64, i642, sizeof i64), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "scalar", &scalar2, 0, NULL), 0);
    CU_ASSERT_EQUAL(scalar2, 3.25f);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "empty", NULL, 2, (int64_t[]){0, 3}), 0);

    /* conversions by HDF5: f32 read as f64 is exact; i32 read as f64 is exact; f64 read as f32 rounds */
    double wqd[12], i32d[12];
    float f64f[5];
    CU_ASSERT_EQUAL(ofa_h5_read_f64(&h, "weights/layer_00/attn/wq", wqd, 2, (int64_t[]){3, 4}), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f64(&h, "a/i32", i32d, 3, (int64_t[]){2, 3, 2}), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "a/f64", f64f, 1, (int64_t[]){5}), 0);
    int conv_ok = 1;
    for (int i = 0; i < 12; i++) conv_ok &= wqd[i] == (double)wq[i] && i32d[i] == (double)i32[i];
    conv_ok &= f64f[0] == (float)M_PI && f64f[3] == 0.1f && f64f[4] == 42.0f;
    CU_ASSERT_TRUE(conv_ok);

    float *big2 = NULL;
    CU_ASSERT_EQUAL(ofa_h5_read_f32_alloc(&h, "big", &big2, &nd, sh), 0);
    CU_ASSERT_TRUE(nd == 2 && sh[0] == BIG_R && sh[1] == BIG_C);
    CU_ASSERT_TRUE(big2 && memcmp(big, big2, sizeof(float) * BIG_R * BIG_C) == 0);
    free(big2);
    big2 = NULL;
    CU_ASSERT_EQUAL(ofa_h5_read_f32_alloc(&h, "a/i32", &big2, &nd, sh), 0);
    CU_ASSERT_TRUE(nd == 3 && big2 && big2[11] == (float)INT32_MIN && big2[3] == (float)i32[3]);
    free(big2);

    char **s = NULL;
    int64_t ns = -1;
    CU_ASSERT_EQUAL(ofa_h5_read_strings(&h, "vocab/tokens", &s, &ns), 0);
    CU_ASSERT_EQUAL_FATAL(ns, NSTRS);
    for (int i = 0; i < NSTRS; i++) CU_ASSERT_STRING_EQUAL(s[i], STRS[i]);
    ofa_h5_free_strings(s, ns);
    CU_ASSERT_EQUAL(ofa_h5_read_strings(&h, "vocab/none", &s, &ns), 0);
    CU_ASSERT_EQUAL(ns, 0);
    ofa_h5_free_strings(s, ns);
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "vocab/tokens", wq2, 1, (int64_t[]){NSTRS}), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "'vocab/tokens' is not numeric"));
    CU_ASSERT_EQUAL(ofa_h5_read_strings(&h, "a/f64", &s, &ns), OFA_E_FORMAT);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "weights/missing", wq2, 1, (int64_t[]){1}), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "no dataset 'weights/missing'"));

    char *v = NULL;
    CU_ASSERT_EQUAL(ofa_h5_attr_get_str(&h, "/", "format", &v), 0);
    CU_ASSERT_STRING_EQUAL(v ? v : "(null)", "ofa-checkpoint");
    free(v);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_str(&h, "/", "note", &v), 0);
    CU_ASSERT_STRING_EQUAL(v ? v : "(null)", "Grüße, 世界");
    free(v);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_str(&h, "/", "blank", &v), 0);
    CU_ASSERT_STRING_EQUAL(v ? v : "(null)", "");
    free(v);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_str(&h, "weights/layer_00/attn/wq", "kind", &v), 0);
    CU_ASSERT_STRING_EQUAL(v ? v : "(null)", "linear");
    free(v);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_str(&h, "a", "count", &v), 0);
    CU_ASSERT_STRING_EQUAL(v ? v : "(null)", "two");
    free(v);
    int64_t step = 0;
    double lr = 0, lr_as_d = 0;
    CU_ASSERT_EQUAL(ofa_h5_attr_get_i64(&h, "/", "step", &step), 0);
    CU_ASSERT_EQUAL(step, -9000000000LL);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_f64(&h, "/", "lr", &lr), 0);
    CU_ASSERT_EQUAL(lr, 2.5e-5);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_f64(&h, "/", "step", &lr_as_d), 0); /* converted */
    CU_ASSERT_EQUAL(lr_as_d, -9e9);
    uint64_t u2[3] = {1, 1, 1};
    CU_ASSERT_EQUAL(ofa_h5_attr_get_u64v(&h, "/", "rng", u2, 3), 0);
    CU_ASSERT_EQUAL(memcmp(u64v, u2, sizeof u2), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_exists(&h, "/", "rng"), 1);
    CU_ASSERT_EQUAL(ofa_h5_attr_exists(&h, "/", "nope"), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_exists(&h, "no/such/obj", "rng"), 0);

    char want[OFA_PATH_MAX + 200];
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_attr_get_i64(&h, "weights/layer_00/attn/wq", "missing", &step), OFA_E_FORMAT);
    snprintf(want, sizeof want, "%s: 'weights/layer_00/attn/wq' has no attribute 'missing'", path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    CU_ASSERT_EQUAL(ofa_h5_attr_get_u64v(&h, "/", "rng", u2, 2), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "has 3 values, expected 2"));
    CU_ASSERT_EQUAL(ofa_h5_attr_get_i64(&h, "/", "format", &step), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "not numeric"));
    CU_ASSERT_EQUAL(ofa_h5_attr_get_str(&h, "/", "lr", &v), OFA_E_FORMAT);
    CU_ASSERT_PTR_NULL(v);

    /* shape mismatch names both shapes */
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "weights/layer_00/attn/wq", wq2, 2, (int64_t[]){4, 3}), OFA_E_FORMAT);
    snprintf(want, sizeof want, "%s: dataset 'weights/layer_00/attn/wq' has shape [3, 4], expected [4, 3]", path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    CU_ASSERT_EQUAL(ofa_h5_read_f64(&h, "a/f64", f642, 2, (int64_t[]){5, 1}), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "has shape [5], expected [5, 1]"));
    ofa_h5_close(&h);
    CU_ASSERT_EQUAL(h.fid, -1);
    free(big);
}

/* ---- visit ------------------------------------------------------------------------------------ */

struct names {
    char s[16][64];
    int ndim[16];
    int64_t d0[16];
    int n, stop_after;
};

static int collect(const char *name, int ndim, const int64_t *shape, void *ctx)
{
    struct names *c = ctx;
    if (c->n < 16) {
        snprintf(c->s[c->n], 64, "%s", name);
        c->ndim[c->n] = ndim;
        c->d0[c->n] = ndim ? shape[0] : -1;
    }
    c->n++;
    return c->stop_after && c->n >= c->stop_after ? 7 : 0;
}

static void test_visit(void)
{
    char path[OFA_PATH_MAX];
    path_copy(path, "visit.h5");
    ofa_h5 h;
    float x[8] = {0};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    /* written out of order; c10 < c2 in name (byte) order */
    const char *names[] = {"c2", "b", "a/y", "c10", "a/x", "a/sub/z", "weights/embeddings/word"};
    for (int i = 0; i < 7; i++) CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, names[i], x, 1, (int64_t[]){i + 1}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_strings(&h, "a/strs", (const char *const[]){"q"}, 1), 0);
    CU_ASSERT_EQUAL(ofa_h5_commit(&h), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);

    struct names c = {0};
    CU_ASSERT_EQUAL(ofa_h5_visit(&h, "/", collect, &c), 0);
    const char *want[] = {"a/strs", "a/sub/z", "a/x", "a/y", "b", "c10", "c2", "weights/embeddings/word"};
    const int64_t wd0[] = {1, 6, 5, 3, 2, 4, 1, 7};
    CU_ASSERT_EQUAL_FATAL(c.n, 8);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_STRING_EQUAL(c.s[i], want[i]);
        CU_ASSERT_EQUAL(c.ndim[i], 1);
        CU_ASSERT_EQUAL(c.d0[i], wd0[i]);
    }
    struct names c2 = {0};
    CU_ASSERT_EQUAL(ofa_h5_visit(&h, "a", collect, &c2), 0);
    CU_ASSERT_EQUAL_FATAL(c2.n, 4);
    for (int i = 0; i < 4; i++) CU_ASSERT_STRING_EQUAL(c2.s[i], want[i]);
    struct names c3 = {0};
    CU_ASSERT_EQUAL(ofa_h5_visit(&h, "/weights/", collect, &c3), 0);
    CU_ASSERT_EQUAL_FATAL(c3.n, 1);
    CU_ASSERT_STRING_EQUAL(c3.s[0], "weights/embeddings/word");
    /* a non-zero return stops the walk and is returned */
    struct names c4 = {.stop_after = 3};
    CU_ASSERT_EQUAL(ofa_h5_visit(&h, "/", collect, &c4), 7);
    CU_ASSERT_EQUAL(c4.n, 3);
    struct names c5 = {0};
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_visit(&h, "nope", collect, &c5), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "no group 'nope'"));
    CU_ASSERT_EQUAL(ofa_h5_visit(&h, "b", collect, &c5), OFA_E_FORMAT);
    CU_ASSERT_EQUAL(c5.n, 0);
    ofa_h5_close(&h);
}

/* ---- atomic writing --------------------------------------------------------------------------- */

static void test_atomic(void)
{
    char path[OFA_PATH_MAX], tmp[OFA_PATH_MAX + 8];
    path_copy(path, "atomic.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    float a = 1.0f, b = 2.0f, r = 0;
    ofa_h5 h, rd;

    /* abort leaves nothing */
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "v", &a, 1, (int64_t[]){1}), 0);
    ofa_h5_abort(&h);
    CU_ASSERT_FALSE(file_exists(path));
    CU_ASSERT_FALSE(file_exists(tmp));
    ofa_h5_abort(&h); /* twice is harmless */
    ofa_h5_abort(NULL);

    /* v1 committed; while v2 is being written, path still holds v1; commit replaces it */
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "v", &a, 1, (int64_t[]){1}), 0);
    CU_ASSERT_EQUAL(ofa_h5_commit(&h), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "v", &b, 1, (int64_t[]){1}), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&rd, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&rd, "v", &r, 1, (int64_t[]){1}), 0);
    CU_ASSERT_EQUAL(r, 1.0f);
    ofa_h5_close(&rd);
    CU_ASSERT_EQUAL(ofa_h5_commit(&h), 0);
    CU_ASSERT_FALSE(file_exists(tmp));
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&rd, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&rd, "v", &r, 1, (int64_t[]){1}), 0);
    CU_ASSERT_EQUAL(r, 2.0f);
    ofa_h5_close(&rd);

    /* a missing folder: OFA_E_IO naming the path and errno's reason */
    char bad[OFA_PATH_MAX];
    path_copy(bad, "no_such_dir/x.h5");
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_create(&h, bad), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), bad));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), strerror(ENOENT)));
    CU_ASSERT_EQUAL(h.fid, -1);
    ofa_h5_abort(&h); /* safe after a failed create */
}

/* ---- broken files ----------------------------------------------------------------------------- */

static void test_missing_and_foreign(void)
{
    char path[OFA_PATH_MAX], want[OFA_PATH_MAX + 64];
    ofa_h5 h;
    path_copy(path, "does_not_exist.h5");
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_open(&h, path), OFA_E_IO);
    snprintf(want, sizeof want, "%s: no such file", path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);

    snprintf(path, sizeof path, "%s", tu_write_file("x.h5", "this is a text file, not HDF5\n"));
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_open(&h, path), OFA_E_FORMAT);
    snprintf(want, sizeof want, "%s: not an HDF5 file (or truncated)", path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);

    snprintf(path, sizeof path, "%s", tu_write_file("empty.h5", ""));
    CU_ASSERT_EQUAL(ofa_h5_open(&h, path), OFA_E_FORMAT);
}

/* Opens and reads everything; returns 0 when all worked, else the first error code. */
static int open_and_read_all(const char *path, const float *want, int64_t n)
{
    ofa_h5 h;
    int rc = ofa_h5_open(&h, path);
    if (rc < 0) return rc;
    float *got = NULL;
    int nd;
    int64_t sh[OFA_H5_MAX_DIMS];
    rc = ofa_h5_read_f32_alloc(&h, "weights/w", &got, &nd, sh);
    if (rc == 0 && (nd != 1 || sh[0] != n || memcmp(got, want, sizeof(float) * (size_t)n) != 0)) rc = 1;
    free(got);
    char **s = NULL;
    int64_t ns = 0;
    if (rc == 0) rc = ofa_h5_read_strings(&h, "strs", &s, &ns);
    ofa_h5_free_strings(s, ns);
    char *a = NULL;
    if (rc == 0) rc = ofa_h5_attr_get_str(&h, "/", "k", &a);
    free(a);
    ofa_h5_close(&h);
    return rc;
}

#define NW 4096

static void write_sample(const char *path, float *w)
{
    for (int i = 0; i < NW; i++) w[i] = 1234.5f + (float)i * 0.25f; /* distinctive bytes */
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "weights/w", w, 1, (int64_t[]){NW}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "weights/other", w, 1, (int64_t[]){16}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_strings(&h, "strs", (const char *const[]){"x", "y"}, 2), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "k", "v"), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
}

static void test_truncated(void)
{
    char path[OFA_PATH_MAX];
    path_copy(path, "trunc.h5");
    float *w = malloc(sizeof(float) * NW);
    write_sample(path, w);
    CU_ASSERT_EQUAL(open_and_read_all(path, w, NW), 0);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    off_t full = st.st_size;
    /* half first (the required case), then other cut points; each must fail cleanly */
    const double cuts[] = {0.5, 0.25, 0.75, 0.95, 0.01};
    for (int i = 0; i < 5; i++) {
        write_sample(path, w);
        off_t len = (off_t)(full * cuts[i]);
        CU_ASSERT_EQUAL_FATAL(truncate(path, len), 0);
        ofa_err_clear();
        int rc = open_and_read_all(path, w, NW);
        if (!(rc == OFA_E_FORMAT || rc == OFA_E_IO))
            fprintf(stderr, "\n  truncated to %lld of %lld bytes: rc %d '%s'\n", (long long)len, (long long)full,
                    rc, ofa_err_msg());
        CU_ASSERT_TRUE(rc == OFA_E_FORMAT || rc == OFA_E_IO);
        CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), path));
    }
    free(w);
}

static void test_flipped_byte(void)
{
    char path[OFA_PATH_MAX];
    path_copy(path, "flip.h5");
    float *w = malloc(sizeof(float) * NW);
    write_sample(path, w);
    size_t n = 0;
    unsigned char *b = slurp(path, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* w[100..103] occur once in the file (inside weights/w's chunk; weights/other has only 16) */
    const unsigned char *pat = (const unsigned char *)(w + 100);
    size_t at = 0;
    int found = 0;
    for (size_t i = 0; i + 16 <= n; i++)
        if (memcmp(b + i, pat, 16) == 0) {
            at = i;
            found++;
        }
    CU_ASSERT_EQUAL_FATAL(found, 1);
    b[at + 5] ^= 0x10;
    spit(path, b, n);

    /* the whole-file checksum finds it at open, before HDF5 reads anything */
    ofa_h5 h;
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_open(&h, path), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), path));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), ": corrupted: checksum "));
    /* a block rewritten to match the damaged bytes (as if damaged before the checksum was taken):
     * Fletcher32 still finds it when the dataset is read */
    char blk[OFA_H5_USERBLOCK] = {0};
    uLong c = crc32(crc32(0L, Z_NULL, 0), b + OFA_H5_USERBLOCK, (uInt)(n - OFA_H5_USERBLOCK));
    snprintf(blk, sizeof blk, "ofa-h5-checksum 1\ncrc32 %08lx\nbytes %zu\n", c, n - OFA_H5_USERBLOCK);
    memcpy(b, blk, sizeof blk);
    spit(path, b, n);
    free(b);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    float *got = malloc(sizeof(float) * NW);
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "weights/w", got, 1, (int64_t[]){NW}), OFA_E_FORMAT);
    char want[OFA_PATH_MAX + 100];
    snprintf(want, sizeof want, "%s: dataset 'weights/w' failed its checksum (corrupt file)", path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    /* the undamaged dataset still reads */
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "weights/other", got, 1, (int64_t[]){16}), 0);
    CU_ASSERT_EQUAL(memcmp(got, w, 16 * sizeof(float)), 0);
    ofa_h5_close(&h);
    free(got);
    free(w);
}

/* Every single byte of a small file changed (XOR 0xff), one at a time: ofa_h5_open refuses each
 * copy as corrupted, naming the file (CRC-32 finds every error within 32 bits), so libhdf5 never
 * parses a damaged byte. */
static void test_every_byte(void)
{
    char path[OFA_PATH_MAX];
    path_copy(path, "every.h5");
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    const float v[5] = {1, 2, 3, 4, 5};
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "weights/x", v, 1, (int64_t[]){5}), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_strings(&h, "tokenizer/vocab", (const char *const[]){"[PAD]", "a"}, 2), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "config_yaml", "model: {layers: 1}\n"), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    size_t n = 0;
    unsigned char *b = slurp(path, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_FATAL(n > OFA_H5_USERBLOCK && n < 64 * 1024);
    CU_ASSERT_EQUAL(memcmp(b, "ofa-h5-checksum 1\ncrc32 ", 24), 0);
    CU_ASSERT_EQUAL(memcmp(b + OFA_H5_USERBLOCK, "\x89HDF\r\n\x1a\n", 8), 0);
    int refused = 0, named = 0;
    for (size_t i = 0; i < n; i++) {
        b[i] ^= 0xff;
        spit(path, b, n);
        b[i] ^= 0xff;
        ofa_err_clear();
        int rc = ofa_h5_open(&h, path);
        if (rc == OFA_E_FORMAT) refused++;
        else ofa_h5_close(&h);
        if (strstr(ofa_err_msg(), path) && strstr(ofa_err_msg(), ": corrupted: ")) named++;
        else if (named == (int)i) fprintf(stderr, "\n  byte %zu: rc %d '%s'\n", i, rc, ofa_err_msg());
    }
    CU_ASSERT_EQUAL(refused, (int)n);
    CU_ASSERT_EQUAL(named, (int)n);
    /* a magic line changed in many bytes (make fuzz's finding: "ofa-h5-checkum1s \n", which once
     * passed as a foreign user block and let libhdf5 read a damaged string attribute), or a zeroed
     * block: HDF5 still starts at byte 512, so the block is ofa's and damaged */
    for (int k = 0; k < 2; k++) {
        unsigned char *d = malloc(n);
        memcpy(d, b, n);
        if (k == 0) memcpy(d, "ofa-h5-checkum1s \n", 18);
        else memset(d, 0, OFA_H5_USERBLOCK);
        spit(path, d, n);
        free(d);
        char want[OFA_PATH_MAX + 64];
        snprintf(want, sizeof want, "%s: corrupted: its checksum block is damaged", path);
        ofa_err_clear();
        CU_ASSERT_EQUAL(ofa_h5_open(&h, path), OFA_E_FORMAT);
        CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    }
    /* the undamaged file opens and reads */
    spit(path, b, n);
    float got[5];
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "weights/x", got, 1, (int64_t[]){5}), 0);
    ofa_h5_close(&h);
    CU_ASSERT_EQUAL(memcmp(got, v, sizeof v), 0);
    free(b);
}

/* A file without the block (an older ofa, h5py; written here with the plain HDF5 API) opens unchecked */
static void test_no_block(void)
{
    char path[OFA_PATH_MAX];
    path_copy(path, "noblock.h5");
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(fid >= 0);
    hsize_t d = 3;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(fid, "x", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const float v[3] = {1, 2, 3};
    CU_ASSERT(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(fid);
    ofa_h5 h;
    float got[3] = {0};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "x", got, 1, (int64_t[]){3}), 0);
    ofa_h5_close(&h);
    CU_ASSERT_EQUAL(memcmp(got, v, sizeof v), 0);
}

/* ofa_h5_move: within a folder, and across filesystems (/dev/shm -> the scratch folder) when the
 * machine has both: the file arrives whole and readable, the source is gone */
static void move_and_check(const char *from, const char *to)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, from), 0);
    const int64_t shape[1] = {3};
    const float v[3] = {1.5f, -2.0f, 3.25f};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_write_f32(&h, "x", v, 1, shape), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    CU_ASSERT_EQUAL(ofa_h5_move(from, to), 0);
    struct stat sb;
    CU_ASSERT(stat(from, &sb) != 0);
    float got[3] = {0};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, to), 0);
    CU_ASSERT_EQUAL(ofa_h5_read_f32(&h, "x", got, 1, shape), 0);
    ofa_h5_close(&h);
    CU_ASSERT(memcmp(got, v, sizeof v) == 0);
}

static void test_move(void)
{
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s", tu_path("move-a.h5"));
    snprintf(to, sizeof to, "%s", tu_path("move-b.h5"));
    move_and_check(from, to);
    struct stat shm, tmp;
    if (stat("/dev/shm", &shm) == 0 && stat(tu_tmpdir(), &tmp) == 0 && shm.st_dev != tmp.st_dev &&
        access("/dev/shm", W_OK) == 0) {
        snprintf(from, sizeof from, "/dev/shm/ofa-move-%d.h5", (int)getpid());
        snprintf(to, sizeof to, "%s", tu_path("move-c.h5"));
        move_and_check(from, to);
    } else {
        fprintf(stderr, "(across filesystems: skipped, no separate /dev/shm) ");
    }
    CU_ASSERT(ofa_h5_move(tu_path("absent.h5"), tu_path("nowhere.h5")) == OFA_E_IO);
    ofa_err_clear();
}

int test_h5io_register(void)
{
    CU_pSuite s = CU_add_suite("h5io", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "roundtrip", test_roundtrip) || !CU_add_test(s, "visit", test_visit) ||
        !CU_add_test(s, "atomic", test_atomic) || !CU_add_test(s, "missing_and_foreign", test_missing_and_foreign) ||
        !CU_add_test(s, "truncated", test_truncated) || !CU_add_test(s, "flipped_byte", test_flipped_byte) ||
        !CU_add_test(s, "every_byte", test_every_byte) || !CU_add_test(s, "no_block", test_no_block) ||
        !CU_add_test(s, "move", test_move))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
