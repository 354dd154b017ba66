/* Suite images: PNG grids (decoded again with libpng's own reader: tile placement, the gap, the
 * value -> byte rule), PNG files and folders (grey, RGB, grey+alpha written with libpng; sorted
 * names; exact round trip of 8-bit pixels), the HDF5 image-set format, and every bad input named
 * in datasets/images.h, each error naming its file. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/h5io.h"
#include "datasets/images.h"
#include "tests/testutil.h"

static const char *keep(const char *path)
{
    static char slots[16][1024];
    static int next;
    char *p = slots[next++ % 16];
    snprintf(p, sizeof slots[0], "%s", path);
    return p;
}

/* the byte a value should become: round((v + 1) * 127.5) clamped */
static int want_byte(float v)
{
    double p = ((double)v + 1) * 127.5;
    return p <= 0 ? 0 : p >= 255 ? 255 : (int)floor(p + 0.5);
}

/* libpng's decode of a file into bytes of the given format */
static unsigned char *decode(const char *path, png_uint_32 format, int *H, int *W)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return NULL;
    im.format = format;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(im));
    if (!png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        return NULL;
    }
    *H = (int)im.height, *W = (int)im.width;
    return buf;
}

static void encode(const char *path, png_uint_32 format, const unsigned char *pix, int H, int W)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)W, im.height = (png_uint_32)H, im.format = format;
    CU_ASSERT_FATAL(png_image_write_to_file(&im, path, 0, pix, 0, NULL) != 0);
}

static void expect_err(int rc, int code, const char *needle1, const char *needle2)
{
    CU_ASSERT_EQUAL(rc, code);
    int ok = rc == code && strstr(ofa_err_msg(), needle1) && (!needle2 || strstr(ofa_err_msg(), needle2));
    if (!ok) printf("\n  rc %d, message: %s\n  want %d with '%s'%s%s\n", rc, ofa_err_msg(), code, needle1,
                    needle2 ? " and " : "", needle2 ? needle2 : "");
    CU_ASSERT_TRUE(ok);
}

static void test_grid(void)
{
    for (int C = 1; C <= 3; C += 2) {
        const int rows = 2, cols = 3, H = 4, W = 5, n = rows * cols;
        const size_t per = (size_t)C * H * W;
        float *x = malloc(n * per * sizeof *x);
        for (size_t i = 0; i < n * per; i++) x[i] = (float)(((i * 37) % 211) / 100.0 - 1.05); /* some beyond +-1 */
        x[0] = NAN;
        const char *path = keep(tu_path(C == 1 ? "images_grid1.png" : "images_grid3.png"));
        CU_ASSERT_EQUAL_FATAL(ofa_png_write_grid(path, x, rows, cols, C, H, W), 0);
        struct stat st;
        CU_ASSERT_NOT_EQUAL(stat(keep(tu_path(C == 1 ? "images_grid1.png.tmp" : "images_grid3.png.tmp")), &st), 0);
        int GH, GW;
        unsigned char *g = decode(path, C == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB, &GH, &GW);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        CU_ASSERT_EQUAL(GH, rows * H + rows - 1);
        CU_ASSERT_EQUAL(GW, cols * W + cols - 1);
        int bad = 0;
        for (int y = 0; y < GH; y++)
            for (int xx = 0; xx < GW; xx++)
                for (int c = 0; c < C; c++) {
                    int got = g[(y * GW + xx) * C + c], want = 255;
                    if (y % (H + 1) < H && xx % (W + 1) < W) {
                        int r = y / (H + 1), k = xx / (W + 1), i = y % (H + 1), j = xx % (W + 1);
                        float v = x[(size_t)(r * cols + k) * per + (size_t)c * H * W + i * W + j];
                        want = isnan(v) ? 0 : want_byte(v);
                    }
                    if (got != want && bad++ < 5) printf("\n  C=%d pixel (%d,%d,%d): %d, want %d", C, y, xx, c, got, want);
                }
        CU_ASSERT_EQUAL(bad, 0);
        free(g);
        free(x);
    }
    /* an unwritable path: an error naming it, nothing left behind */
    float one = 0;
    expect_err(ofa_png_write_grid("/nonexistent-dir/g.png", &one, 1, 1, 1, 1, 1), OFA_E_IO, "/nonexistent-dir/g.png",
               NULL);
}

/* A folder of three PNGs (written out of name order) round-trips exactly: bytes -> floats as
 * datasets/fmnist scales them -> the grid writer's bytes. */
static void test_folder(void)
{
    const char *dir = keep(tu_path("images_pngs"));
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    const int H = 6, W = 7;
    unsigned char pix[3][6 * 7];
    const char *names[3] = {"b.png", "a.PNG", "c.png"};
    for (int f = 0; f < 3; f++) {
        for (int p = 0; p < H * W; p++) pix[f][p] = (unsigned char)((f * 91 + p * 13) % 256);
        pix[f][0] = 0, pix[f][1] = 255;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        encode(path, PNG_FORMAT_GRAY, pix[f], H, W);
    }
    tu_write_file("images_pngs/notes.txt", "not an image\n");
    ofa_image_set s;
    int rc = ofa_images_read_dir(&s, dir);
    if (rc) printf("\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_TRUE(s.n == 3 && s.C == 1 && s.H == H && s.W == W);
    const int order[3] = {1, 0, 2}; /* a.PNG, b.png, c.png */
    int bad = 0;
    for (int i = 0; i < 3; i++)
        for (int p = 0; p < H * W; p++) {
            float want = ((float)pix[order[i]][p] / 255.0f - 0.5f) / 0.5f;
            bad += s.x[i * H * W + p] != want || want_byte(s.x[i * H * W + p]) != pix[order[i]][p];
        }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(s.x[0], -1.0f);
    CU_ASSERT_EQUAL(s.x[1], 1.0f);
    ofa_image_set_free(&s);
    CU_ASSERT_PTR_NULL(s.x);

    /* RGB and grey+alpha single files */
    unsigned char rgb[2 * 3 * 3];
    for (int i = 0; i < 18; i++) rgb[i] = (unsigned char)(i * 14);
    const char *prgb = keep(tu_path("images_rgb.png"));
    encode(prgb, PNG_FORMAT_RGB, rgb, 2, 3);
    CU_ASSERT_EQUAL_FATAL(ofa_png_read(&s, prgb), 0);
    CU_ASSERT_TRUE(s.n == 1 && s.C == 3 && s.H == 2 && s.W == 3);
    bad = 0;
    for (int p = 0; p < 6; p++)
        for (int c = 0; c < 3; c++) bad += s.x[c * 6 + p] != ((float)rgb[p * 3 + c] / 255.0f - 0.5f) / 0.5f;
    CU_ASSERT_EQUAL(bad, 0);
    ofa_image_set_free(&s);
    unsigned char ga[4] = {10, 255, 200, 255}; /* grey, alpha (opaque) */
    const char *pga = keep(tu_path("images_ga.png"));
    encode(pga, PNG_FORMAT_GA, ga, 1, 2);
    CU_ASSERT_EQUAL_FATAL(ofa_png_read(&s, pga), 0);
    CU_ASSERT_TRUE(s.C == 1 && s.x[0] == (10.0f / 255.0f - 0.5f) / 0.5f && s.x[1] == (200.0f / 255.0f - 0.5f) / 0.5f);
    ofa_image_set_free(&s);
}

static void test_folder_errors(void)
{
    ofa_image_set s;
    expect_err(ofa_images_read_dir(&s, "/nonexistent-pngs"), OFA_E_IO, "/nonexistent-pngs", NULL);
    const char *empty = keep(tu_path("images_empty"));
    CU_ASSERT_EQUAL_FATAL(mkdir(empty, 0755), 0);
    expect_err(ofa_images_read_dir(&s, empty), OFA_E_DATA, empty, "no PNG files");
    /* sizes differ: both files named */
    const char *mixed = keep(tu_path("images_mixed"));
    CU_ASSERT_EQUAL_FATAL(mkdir(mixed, 0755), 0);
    unsigned char pix[64] = {0};
    char p1[1200], p2[1200];
    snprintf(p1, sizeof p1, "%s/1.png", mixed);
    snprintf(p2, sizeof p2, "%s/2.png", mixed);
    encode(p1, PNG_FORMAT_GRAY, pix, 4, 4);
    encode(p2, PNG_FORMAT_GRAY, pix, 4, 5);
    expect_err(ofa_images_read_dir(&s, mixed), OFA_E_FORMAT, p2, p1);
    /* grey and RGB mixed */
    encode(p2, PNG_FORMAT_RGB, pix, 4, 4);
    expect_err(ofa_images_read_dir(&s, mixed), OFA_E_FORMAT, p2, "channel");
    /* not a PNG, and a truncated one */
    encode(p2, PNG_FORMAT_GRAY, pix, 4, 4);
    const char *txt = tu_write_file("images_mixed/3.png", "hello, not a png\n");
    expect_err(ofa_images_read_dir(&s, mixed), OFA_E_FORMAT, txt, "not a PNG");
    char *whole = NULL;
    FILE *f = fopen(p1, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    whole = malloc(4096);
    size_t len = fread(whole, 1, 4096, f);
    fclose(f);
    f = fopen(txt, "wb");
    fwrite(whole, 1, len / 2, f);
    fclose(f);
    free(whole);
    expect_err(ofa_images_read_dir(&s, mixed), OFA_E_FORMAT, txt, "corrupt PNG");
    CU_ASSERT_PTR_NULL(s.x);
}

static void test_h5(void)
{
    const int n = 3, C = 1, H = 4, W = 4;
    float in[48], out[48];
    for (int i = 0; i < 48; i++) in[i] = (float)i / 47.0f * 2 - 1, out[i] = -in[i];
    const char *path = keep(tu_path("images_set.h5"));
    CU_ASSERT_EQUAL_FATAL(ofa_images_write_h5(path, in, out, n, C, H, W), 0);
    ofa_image_set s;
    CU_ASSERT_EQUAL_FATAL(ofa_images_read_h5(&s, path, "outputs"), 0);
    CU_ASSERT_TRUE(s.n == n && s.C == C && s.H == H && s.W == W && !memcmp(s.x, out, sizeof out));
    ofa_image_set_free(&s);
    CU_ASSERT_EQUAL_FATAL(ofa_images_read_h5(&s, path, "inputs"), 0);
    CU_ASSERT_TRUE(s.n == n && !memcmp(s.x, in, sizeof in));
    ofa_image_set_free(&s);
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_images_h5_is_set(&h), 1);
    char fmt[32];
    CU_ASSERT_EQUAL(ofa_h5_attr_get_strbuf(&h, "/", "format", fmt, sizeof fmt), 0);
    CU_ASSERT_STRING_EQUAL(fmt, "ofa-images");
    ofa_h5_close(&h);
    /* only outputs */
    const char *p2 = keep(tu_path("images_set2.h5"));
    CU_ASSERT_EQUAL_FATAL(ofa_images_write_h5(p2, NULL, out, n, C, H, W), 0);
    expect_err(ofa_images_read_h5(&s, p2, "inputs"), OFA_E_FORMAT, p2, "no /inputs");

    /* bad files: missing, not HDF5, not an image set, wrong rank, wrong channels, out of range */
    expect_err(ofa_images_read_h5(&s, "/nonexistent.h5", "outputs"), OFA_E_IO, "/nonexistent.h5", NULL);
    const char *txt = tu_write_file("images_notes.h5", "text\n");
    expect_err(ofa_images_read_h5(&s, txt, "outputs"), OFA_E_FORMAT, txt, NULL);
    const char *p3 = keep(tu_path("images_plain.h5"));
    int64_t sh4[4] = {n, C, H, W}, sh2[2] = {n, 16}, sh4c[4] = {1, 2, 4, 6};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, p3), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "outputs", out, 4, sh4), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    expect_err(ofa_images_read_h5(&s, p3, "outputs"), OFA_E_FORMAT, p3, "not an image set");
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, p3), 0);
    CU_ASSERT_EQUAL(ofa_h5_attr_set_str(&h, "/", "format", "ofa-images"), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "outputs", out, 2, sh2), 0);
    CU_ASSERT_EQUAL(ofa_h5_write_f32(&h, "inputs", out, 4, sh4c), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    expect_err(ofa_images_read_h5(&s, p3, "outputs"), OFA_E_FORMAT, p3, "[N, C, H, W]");
    expect_err(ofa_images_read_h5(&s, p3, "inputs"), OFA_E_FORMAT, p3, "1 or 3 channels");
    out[17] = 1.5f;
    CU_ASSERT_EQUAL_FATAL(ofa_images_write_h5(p3, NULL, out, n, C, H, W), 0);
    expect_err(ofa_images_read_h5(&s, p3, "outputs"), OFA_E_DATA, p3, "image 1 is outside [-1, 1]");
    CU_ASSERT_PTR_NULL(s.x);
}

int test_images_register(void)
{
    CU_pSuite s = CU_add_suite("images", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "grid", test_grid) || !CU_add_test(s, "folder", test_folder) ||
        !CU_add_test(s, "folder_errors", test_folder_errors) || !CU_add_test(s, "h5", test_h5))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
