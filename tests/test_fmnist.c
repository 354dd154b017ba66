/* Suite fmnist: the Fashion-MNIST IDX reader on small gzip'd fixtures this suite writes (layout,
 * scaling, padding, and every kind of bad input, each error naming its file), and on the real files
 * of Debian's dataset-fashion-mnist when installed (class counts, the first images' pixels). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"
#include "datasets/fmnist.h"
#include "tests/testutil.h"

#define NPIX (OFA_FMNIST_ROWS * OFA_FMNIST_ROWS)

/* tu_path's result copied into one of 32 slots (its own 8 rotate too fast for this suite). */
static const char *keep(const char *path)
{
    static char slots[32][1024];
    static int next;
    char *p = slots[next++ % 32];
    snprintf(p, sizeof slots[0], "%s", path);
    return p;
}

/* Writes an IDX file gzip'd with zlib: 4-byte big-endian magic and dims, then `data` (len bytes). */
static const char *write_idx(const char *name, uint32_t magic, const uint32_t *dims, int ndims,
                             const unsigned char *data, size_t len)
{
    const char *p = keep(tu_path(name));
    gzFile f = gzopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned char h[16];
    uint32_t w[4] = {magic};
    for (int i = 0; i < ndims; i++) w[1 + i] = dims[i];
    for (int i = 0; i <= ndims; i++)
        for (int b = 0; b < 4; b++) h[4 * i + b] = (unsigned char)(w[i] >> (24 - 8 * b));
    CU_ASSERT_EQUAL_FATAL(gzwrite(f, h, 4 * (unsigned)(ndims + 1)), 4 * (ndims + 1));
    if (len) CU_ASSERT_EQUAL_FATAL(gzwrite(f, data, (unsigned)len), (int)len);
    CU_ASSERT_EQUAL_FATAL(gzclose(f), Z_OK);
    return p;
}

/* Five images: image i has pixel (r, c) = (i*37 + r*5 + c*3) mod 256, so 0 and 255 both occur. */
static const uint8_t g_lab[5] = {3, 1, 3, 0, 3};
static unsigned char g_img[5 * NPIX];

static unsigned char pixel(int i, int r, int c) { return (unsigned char)((i * 37 + r * 5 + c * 3) % 256); }

static void make_images(void)
{
    for (int i = 0; i < 5; i++)
        for (int r = 0; r < OFA_FMNIST_ROWS; r++)
            for (int c = 0; c < OFA_FMNIST_ROWS; c++) g_img[i * NPIX + r * OFA_FMNIST_ROWS + c] = pixel(i, r, c);
}

static const char *good_images(const char *name, uint32_t n)
{
    uint32_t d[3] = {n, OFA_FMNIST_ROWS, OFA_FMNIST_ROWS};
    return write_idx(name, 0x803, d, 3, g_img, (size_t)n * NPIX);
}

static const char *good_labels(const char *name, uint32_t n)
{
    uint32_t d[1] = {n};
    return write_idx(name, 0x801, d, 1, g_lab, n);
}

/* The load fails with `code` and the message names `path` and contains `what`. */
#define EXPECT_FAIL(call, code, path, what)                                                       \
    do {                                                                                           \
        ofa_fmnist d_;                                                                             \
        ofa_err_clear();                                                                           \
        int rc_ = ofa_fmnist_read(&d_, call);                                                      \
        if (rc_ != (code) || !strstr(ofa_err_msg(), (path)) || !strstr(ofa_err_msg(), (what)))     \
            printf("\n  expected %s naming %s (\"%s\"), got %d: %s\n", ofa_status_name(code), (path), \
                   (what), rc_, ofa_err_msg());                                                    \
        CU_ASSERT_EQUAL(rc_, (code));                                                              \
        CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), (path)));                                     \
        CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), (what)));                                     \
        CU_ASSERT_PTR_NULL(d_.x);                                                                  \
        CU_ASSERT_EQUAL(d_.n, 0);                                                                  \
    } while (0)

static float scaled(unsigned char p) { return ((float)p / 255.0f - 0.5f) / 0.5f; }

static void test_layout(void)
{
    make_images();
    const char *im = good_images("ok-images.gz", 5), *lb = good_labels("ok-labels.gz", 5);
    CU_ASSERT(scaled(0) == -1.0f && scaled(255) == 1.0f);
    const int sizes[3] = {32, 28, 33};
    for (int t = 0; t < 3; t++) {
        const int S = sizes[t], off = (S - 28) / 2;
        ofa_fmnist d;
        int rc = ofa_fmnist_read(&d, im, lb, 3, S);
        if (rc) printf("\n  %s\n", ofa_err_msg());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL_FATAL(d.n, 3); /* items 0, 2, 4 have class 3 */
        CU_ASSERT(d.image_size == S && d.cls == 3 && strcmp(d.images_path, im) == 0 && strcmp(d.labels_path, lb) == 0);
        const int src[3] = {0, 2, 4};
        int bad = 0;
        for (int k = 0; k < 3; k++) {
            CU_ASSERT_EQUAL(d.labels[k], 3);
            for (int r = 0; r < S; r++)
                for (int c = 0; c < S; c++) {
                    int ir = r - off, ic = c - off;
                    float want = ir >= 0 && ir < 28 && ic >= 0 && ic < 28 ? scaled(pixel(src[k], ir, ic)) : -1.0f;
                    float got = d.x[((size_t)k * S + r) * S + c];
                    if (got != want && bad++ < 5)
                        printf("\n  S=%d image %d (%d,%d): %.9g, expected %.9g", S, k, r, c, got, want);
                }
        }
        CU_ASSERT_EQUAL(bad, 0);
        ofa_fmnist_free(&d);
        CU_ASSERT_PTR_NULL(d.x);
    }
    /* every class: all five in file order */
    ofa_fmnist d;
    CU_ASSERT_EQUAL_FATAL(ofa_fmnist_read(&d, im, lb, OFA_FMNIST_ALL, 32), 0);
    CU_ASSERT_EQUAL_FATAL(d.n, 5);
    for (int i = 0; i < 5; i++) CU_ASSERT_EQUAL(d.labels[i], g_lab[i]);
    CU_ASSERT(d.x[3 * 1024 + 2 * 32 + 2] == scaled(pixel(3, 0, 0)));
    ofa_fmnist_free(&d);
    /* a class with no images is an empty set, not an error */
    CU_ASSERT_EQUAL_FATAL(ofa_fmnist_read(&d, im, lb, 7, 32), 0);
    CU_ASSERT_EQUAL(d.n, 0);
    ofa_fmnist_free(&d);
    ofa_fmnist_free(NULL);
    CU_ASSERT_STRING_EQUAL(ofa_fmnist_class_name(7), "Sneaker");
    CU_ASSERT_STRING_EQUAL(ofa_fmnist_class_name(9), "Ankle boot");
    CU_ASSERT_PTR_NULL(ofa_fmnist_class_name(10));
    /* the folder layout: <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_path("fm"));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/t10k-images-idx3-ubyte.gz' && cp '%s' '%s/t10k-labels-idx1-ubyte.gz'",
             dir, im, dir, lb, dir);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL(ofa_fmnist_load(&d, dir, "test", 1, 32), 0);
    CU_ASSERT_EQUAL(d.n, 1);
    ofa_fmnist_free(&d);
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_fmnist_load(&d, dir, "train", 1, 32), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "train-labels-idx1-ubyte.gz"));
    CU_ASSERT_EQUAL(ofa_fmnist_load(&d, dir, "dev", 1, 32), OFA_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "'dev'"));
}

#define ARGS(im, lb, cls, s) (im), (lb), (cls), (s)

static void test_errors(void)
{
    make_images();
    const char *im = good_images("e-images.gz", 5), *lb = good_labels("e-labels.gz", 5);
    /* missing files */
    const char *none = keep(tu_path("no-such-images.gz"));
    EXPECT_FAIL(ARGS(none, lb, 3, 32), OFA_E_IO, none, "No such file");
    const char *nolab = keep(tu_path("no-such-labels.gz"));
    EXPECT_FAIL(ARGS(im, nolab, 3, 32), OFA_E_IO, nolab, "No such file");
    /* bad magic: the two files swapped, and a text file */
    EXPECT_FAIL(ARGS(lb, im, 3, 32), OFA_E_FORMAT, im, "bad magic number 0x00000803");
    const char *txt = keep(tu_write_file("text-images", "this is not an IDX file, just text\n"));
    EXPECT_FAIL(ARGS(txt, lb, 3, 32), OFA_E_FORMAT, txt, "bad magic number");
    /* truncated: the header says more items than the file has */
    uint32_t d5[3] = {5, 28, 28};
    const char *short_im = write_idx("short-images.gz", 0x803, d5, 3, g_img, 4 * NPIX + 100);
    EXPECT_FAIL(ARGS(short_im, lb, 3, 32), OFA_E_FORMAT, short_im, "truncated");
    uint32_t d7[1] = {7};
    const char *short_lb = write_idx("short-labels.gz", 0x801, d7, 1, g_lab, 5);
    EXPECT_FAIL(ARGS(im, short_lb, 3, 32), OFA_E_FORMAT, short_lb, "truncated");
    const char *stub = write_idx("stub-images.gz", 0x803, d5, 1, NULL, 0); /* 8 of 16 header bytes */
    EXPECT_FAIL(ARGS(stub, lb, 3, 32), OFA_E_FORMAT, stub, "truncated");
    /* a gzip stream cut short (a partial download) */
    char cmd[3000];
    const char *cut = keep(tu_path("cut-images.gz"));
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(im, &st), 0);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", im, cut);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(truncate(cut, st.st_size / 2), 0);
    EXPECT_FAIL(ARGS(cut, lb, 3, 32), OFA_E_FORMAT, cut, "truncated");
    /* more data than the header says */
    uint32_t d4[3] = {4, 28, 28};
    const char *long_im = write_idx("long-images.gz", 0x803, d4, 3, g_img, 5 * NPIX);
    const char *lb4 = good_labels("labels4.gz", 4);
    EXPECT_FAIL(ARGS(long_im, lb4, 3, 32), OFA_E_FORMAT, long_im, "more data than");
    /* label and image counts differ: both files named */
    EXPECT_FAIL(ARGS(im, lb4, 3, 32), OFA_E_FORMAT, im, "4 labels");
    EXPECT_FAIL(ARGS(im, lb4, 3, 32), OFA_E_FORMAT, lb4, "has 5 images");
    /* images of another size */
    uint32_t d3x[3] = {1, 32, 32};
    const char *big = write_idx("big-images.gz", 0x803, d3x, 3, g_img, 1024);
    const char *lb1 = good_labels("labels1.gz", 1);
    EXPECT_FAIL(ARGS(big, lb1, 3, 32), OFA_E_FORMAT, big, "32x32");
    /* a label outside 0-9 */
    uint8_t badlab[5] = {3, 1, 12, 0, 3};
    uint32_t n5[1] = {5};
    const char *blb = write_idx("bad-labels.gz", 0x801, n5, 1, badlab, 5);
    EXPECT_FAIL(ARGS(im, blb, 3, 32), OFA_E_DATA, blb, "label 12 of item 2");
    /* the caller's class id and image size */
    EXPECT_FAIL(ARGS(im, lb, 10, 32), OFA_E_CONFIG, im, "class 10");
    EXPECT_FAIL(ARGS(im, lb, -2, 32), OFA_E_CONFIG, im, "class -2");
    EXPECT_FAIL(ARGS(im, lb, 3, 27), OFA_E_CONFIG, im, "image_size 27");
    /* a corrupt gzip body: flip bytes in the middle of the compressed data */
    const char *bent = keep(tu_path("corrupt-images.gz"));
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s' && printf '\\377\\377\\377\\377\\377\\377\\377\\377' | dd of='%s' bs=1 seek=%lld conv=notrunc status=none",
             im, bent, bent, (long long)st.st_size / 2);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    ofa_fmnist d;
    ofa_err_clear();
    int rc = ofa_fmnist_read(&d, bent, lb, 3, 32);
    if (rc != OFA_E_FORMAT || !strstr(ofa_err_msg(), bent)) printf("\n  corrupt gzip: %d %s\n", rc, ofa_err_msg());
    CU_ASSERT_EQUAL(rc, OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), bent));
    /* an uncompressed IDX file reads like a gzip'd one */
    const char *plain = keep(tu_path("plain-labels"));
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s'", lb, plain);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL(ofa_fmnist_read(&d, im, plain, 3, 32), 0);
    CU_ASSERT_EQUAL(d.n, 3);
    ofa_fmnist_free(&d);
}

/* Reference values from Python (gzip + numpy) on Debian's files: the sum of the 784 bytes of the
 * first image of the class, and the float64 sum and sum of squares of its 32x32 float32 image
 * scaled by ((p / 255) - 0.5) / 0.5 with -1 padding. */
typedef struct first_image {
    const char *split;
    int cls;
    int64_t byte_sum;
    double sum, sumsq;
} first_image;

static const first_image g_first[] = {
    {"train", 9, 76247, -425.98430621623993, 783.8392086246446}, /* image 0 of the file */
    {"train", 7, 32526, -768.8941149115562, 887.511084776924},   /* image 6 */
    {"test", 9, 33456, -761.5999931693077, 814.6384344421651},   /* image 0 */
    {"test", 7, 25492, -824.0627427101135, 859.3032250642027},   /* image 9 */
};

static void check_first(const ofa_fmnist *d, const first_image *want)
{
    const float *x = d->x;
    int64_t bytes = 0;
    double sum = 0, sumsq = 0;
    int pad_bad = 0;
    for (int r = 0; r < 32; r++)
        for (int c = 0; c < 32; c++) {
            double v = x[r * 32 + c];
            sum += v;
            sumsq += v * v;
            if (r >= 2 && r < 30 && c >= 2 && c < 30) bytes += lround((v + 1.0) * 127.5);
            else pad_bad += v != -1.0;
        }
    /* float32 values summed in double: exact up to the summation order (~1e-13 here) */
    if (bytes != want->byte_sum || fabs(sum - want->sum) > 1e-9 || fabs(sumsq - want->sumsq) > 1e-9)
        printf("\n  %s class %d first image: bytes %lld sum %.17g sumsq %.17g, expected %lld %.17g %.17g\n",
               want->split, want->cls, (long long)bytes, sum, sumsq, (long long)want->byte_sum, want->sum, want->sumsq);
    CU_ASSERT_EQUAL(bytes, want->byte_sum);
    CU_ASSERT_DOUBLE_EQUAL(sum, want->sum, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(sumsq, want->sumsq, 1e-9);
    CU_ASSERT_EQUAL(pad_bad, 0);
}

static void test_real(void)
{
    const char *dir = getenv("FMNIST_DIR");
    if (!dir || !*dir) dir = OFA_FMNIST_DEFAULT_DIR;
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (access(probe, R_OK) != 0) {
        printf("\n  [skip] no Fashion-MNIST in %s (apt-get install dataset-fashion-mnist, or set FMNIST_DIR)\n", dir);
        return;
    }
    /* every class of both splits: 6000 train / 1000 test images each, labels in file order */
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "test" : "train";
        const int64_t per_class = s ? 1000 : 6000;
        ofa_fmnist d;
        int rc = ofa_fmnist_load(&d, dir, split, OFA_FMNIST_ALL, 28); /* 28: 188 MB for train, not 245 */
        if (rc) printf("\n  %s\n", ofa_err_msg());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(d.n, 10 * per_class);
        int64_t count[OFA_FMNIST_CLASSES] = {0};
        for (int64_t i = 0; i < d.n; i++) count[d.labels[i]]++;
        for (int k = 0; k < OFA_FMNIST_CLASSES; k++) {
            if (count[k] != per_class) printf("\n  %s class %d: %lld images\n", split, k, (long long)count[k]);
            CU_ASSERT_EQUAL(count[k], per_class);
        }
        CU_ASSERT_EQUAL(d.labels[0], 9);
        ofa_fmnist_free(&d);
    }
    /* one class at the default 32x32: the count and the first image's pixels */
    for (size_t i = 0; i < sizeof g_first / sizeof g_first[0]; i++) {
        ofa_fmnist d;
        int rc = ofa_fmnist_load(&d, dir, g_first[i].split, g_first[i].cls, 32);
        if (rc) printf("\n  %s\n", ofa_err_msg());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(d.n, strcmp(g_first[i].split, "train") == 0 ? 6000 : 1000);
        int64_t other = 0;
        for (int64_t k = 0; k < d.n; k++) other += d.labels[k] != g_first[i].cls;
        CU_ASSERT_EQUAL(other, 0);
        check_first(&d, &g_first[i]);
        ofa_fmnist_free(&d);
    }
}

int test_fmnist_register(void)
{
    CU_pSuite s = CU_add_suite("fmnist", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "layout", test_layout) || !CU_add_test(s, "errors", test_errors) ||
        !CU_add_test(s, "real", test_real))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
