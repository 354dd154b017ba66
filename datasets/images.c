/* datasets/images: PNG grids, PNG folders and HDF5 image sets (see images.h). */
#include "datasets/images.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/afile.h"
#include "core/error.h"

void ofa_image_set_free(ofa_image_set *s)
{
    if (!s) return;
    free(s->x);
    memset(s, 0, sizeof *s);
}

static unsigned char to_byte(float v)
{
    double p = ((double)v + 1.0) * 127.5;
    if (!(p > 0)) return 0; /* also NaN */
    if (p >= 255) return 255;
    return (unsigned char)lrint(p);
}

int ofa_png_write_grid(const char *path, const float *x, int rows, int cols, int C, int H, int W)
{
    OFA_ASSERT(rows > 0 && cols > 0 && H > 0 && W > 0 && (C == 1 || C == 3));
    const int gap = 1;
    const size_t GW = (size_t)cols * W + (size_t)(cols - 1) * gap, GH = (size_t)rows * H + (size_t)(rows - 1) * gap;
    if (GW > 1000000 || GH > 1000000)
        return OFA_ERR(OFA_E_RUNTIME, "%s: a grid of %zux%zu pixels is too large for a PNG", path, GW, GH);
    unsigned char *buf = ofa_xmalloc(GW * GH * (size_t)C);
    memset(buf, 255, GW * GH * (size_t)C); /* the gaps: white */
    const size_t plane = (size_t)H * W;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) {
            const float *img = x + ((size_t)r * cols + k) * C * plane;
            size_t y0 = (size_t)r * (H + gap), x0 = (size_t)k * (W + gap);
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++)
                    for (int c = 0; c < C; c++)
                        buf[((y0 + i) * GW + x0 + j) * C + c] = to_byte(img[c * plane + (size_t)i * W + j]);
        }
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)GW;
    im.height = (png_uint_32)GH;
    im.format = C == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    ofa_afile a;
    int rc = ofa_afile_open(&a, path);
    if (rc) {
        free(buf);
        return rc;
    }
    if (!png_image_write_to_stdio(&im, a.f, 0, buf, 0, NULL)) {
        rc = OFA_ERR(OFA_E_IO, "cannot write %s: libpng: %s", path, im.message);
        ofa_afile_abort(&a);
    } else {
        rc = ofa_afile_commit(&a);
    }
    png_image_free(&im);
    free(buf);
    return rc;
}

/* Reads path into *pix (8-bit, C channels); *C is 1 for grey files and 3 for colour ones. */
static int png_read_bytes(const char *path, unsigned char **pix, int *C, int *H, int *W)
{
    *pix = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return OFA_ERR(OFA_E_IO, "cannot open %s: %s", path, strerror(errno));
    unsigned char sig[8];
    size_t got = fread(sig, 1, sizeof sig, f);
    if (got < sizeof sig || png_sig_cmp(sig, 0, sizeof sig)) {
        int io = ferror(f);
        fclose(f);
        return io ? OFA_ERR(OFA_E_IO, "cannot read %s", path)
                  : OFA_ERR(OFA_E_FORMAT, "%s: not a PNG file (no PNG signature)", path);
    }
    rewind(f);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&im, f)) {
        fclose(f);
        return OFA_ERR(OFA_E_FORMAT, "%s: corrupt PNG: libpng: %s", path, im.message);
    }
    *C = (im.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
    im.format = *C == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY; /* alpha is composited onto black */
    if (im.width == 0 || im.height == 0 || im.width > 65536 || im.height > 65536) {
        png_image_free(&im);
        fclose(f);
        return OFA_ERR(OFA_E_FORMAT, "%s: unsupported PNG size %ux%u", path, im.width, im.height);
    }
    *H = (int)im.height;
    *W = (int)im.width;
    *pix = ofa_xmalloc(PNG_IMAGE_SIZE(im));
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&im, &black, *pix, 0, NULL)) {
        int rc = OFA_ERR(OFA_E_FORMAT, "%s: corrupt PNG: libpng: %s", path, im.message);
        png_image_free(&im);
        fclose(f);
        free(*pix);
        *pix = NULL;
        return rc;
    }
    png_image_free(&im);
    fclose(f);
    return 0;
}

/* HWC bytes -> CHW floats, scaled as datasets/fmnist scales pixels. */
static void bytes_to_chw(float *dst, const unsigned char *pix, int C, int H, int W)
{
    const size_t plane = (size_t)H * W;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < C; c++) dst[c * plane + p] = ((float)pix[p * C + c] / 255.0f - 0.5f) / 0.5f;
}

int ofa_png_read(ofa_image_set *s, const char *path)
{
    memset(s, 0, sizeof *s);
    unsigned char *pix;
    int C, H, W;
    OFA_TRY(png_read_bytes(path, &pix, &C, &H, &W));
    s->x = ofa_xmalloc((size_t)C * H * W * sizeof(float));
    bytes_to_chw(s->x, pix, C, H, W);
    free(pix);
    s->n = 1, s->C = C, s->H = H, s->W = W;
    return 0;
}

static int is_png_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && name[0] != '.' && !strcasecmp(name + n - 4, ".png");
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ofa_images_read_dir(ofa_image_set *s, const char *dir)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    if (!d) return OFA_ERR(OFA_E_IO, "cannot open the folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_png_name(e->d_name)) continue;
        if (n == cap) names = ofa_xrealloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
        names[n++] = ofa_xstrdup(e->d_name);
    }
    closedir(d);
    int rc = 0;
    if (!n) {
        rc = OFA_ERR(OFA_E_DATA, "%s: no PNG files (*.png) in this folder", dir);
        goto out;
    }
    qsort(names, n, sizeof *names, cmp_names);
    char path[OFA_PATH_MAX * 2], first[OFA_PATH_MAX * 2];
    size_t per = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unsigned char *pix;
        int C, H, W;
        if ((rc = png_read_bytes(path, &pix, &C, &H, &W))) goto out;
        if (i == 0) {
            s->C = C, s->H = H, s->W = W;
            per = (size_t)C * H * W;
            s->x = ofa_xmalloc(n * per * sizeof(float));
            snprintf(first, sizeof first, "%s", path);
        } else if (C != s->C || H != s->H || W != s->W) {
            rc = OFA_ERR(OFA_E_FORMAT, "%s is %dx%d with %d channel%s but %s (the first) is %dx%d with %d: the "
                         "images of a folder must all have one size and channel count", path, H, W, C,
                         C == 1 ? "" : "s", first, s->H, s->W, s->C);
            free(pix);
            goto out;
        }
        bytes_to_chw(s->x + i * per, pix, C, H, W);
        free(pix);
    }
    s->n = (int64_t)n;
out:
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc) ofa_image_set_free(s);
    return rc;
}

int ofa_images_h5_put(ofa_h5 *h, const float *inputs, const float *outputs, int64_t n, int C, int H, int W)
{
    OFA_ASSERT(n >= 0 && (C == 1 || C == 3) && H > 0 && W > 0 && outputs);
    const int64_t shape[4] = {n, C, H, W};
    OFA_TRY(ofa_h5_attr_set_str(h, "/", "format", OFA_IMAGES_FORMAT));
    OFA_TRY(ofa_h5_attr_set_i64(h, "/", "format_version", OFA_IMAGES_FORMAT_VERSION));
    if (inputs) OFA_TRY(ofa_h5_write_f32(h, "inputs", inputs, 4, shape));
    return ofa_h5_write_f32(h, "outputs", outputs, 4, shape);
}

int ofa_images_write_h5(const char *path, const float *inputs, const float *outputs, int64_t n, int C, int H, int W)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_create(&h, path));
    int rc = ofa_images_h5_put(&h, inputs, outputs, n, C, H, W);
    if (rc) {
        ofa_h5_abort(&h);
        return rc;
    }
    return ofa_h5_commit(&h);
}

int ofa_images_h5_is_set(ofa_h5 *h)
{
    char fmt[32] = "";
    if (ofa_h5_attr_exists(h, "/", "format") != 1) return 0;
    if (ofa_h5_attr_get_strbuf(h, "/", "format", fmt, sizeof fmt) < 0) {
        ofa_err_clear();
        return 0;
    }
    return strcmp(fmt, OFA_IMAGES_FORMAT) == 0;
}

int ofa_images_read_h5(ofa_image_set *s, const char *path, const char *name)
{
    memset(s, 0, sizeof *s);
    ofa_h5 h;
    OFA_TRY(ofa_h5_open(&h, path));
    int rc = 0, ndim = 0;
    int64_t shape[OFA_H5_MAX_DIMS];
    if (!ofa_images_h5_is_set(&h)) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: not an image set (no root attribute format = \"%s\"; ofa translate writes "
                     "them)", path, OFA_IMAGES_FORMAT);
        goto out;
    }
    if (ofa_h5_exists(&h, name) != 1) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: the image set has no /%s", path, name);
        goto out;
    }
    if ((rc = ofa_h5_shape(&h, name, &ndim, shape))) goto out;
    if (ndim != 4 || (shape[1] != 1 && shape[1] != 3) || shape[2] < 1 || shape[3] < 1 || shape[2] > 65536 ||
        shape[3] > 65536) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: /%s is not an [N, C, H, W] array of 1 or 3 channels", path, name);
        goto out;
    }
    s->n = shape[0], s->C = (int)shape[1], s->H = (int)shape[2], s->W = (int)shape[3];
    s->x = ofa_xmalloc((size_t)(s->n ? s->n : 1) * s->C * s->H * s->W * sizeof(float));
    if ((rc = ofa_h5_read_f32(&h, name, s->x, 4, shape))) goto out;
    const size_t total = (size_t)s->n * s->C * s->H * s->W;
    for (size_t i = 0; i < total; i++)
        if (!(s->x[i] >= -1.0f && s->x[i] <= 1.0f)) {
            size_t per = (size_t)s->C * s->H * s->W;
            rc = OFA_ERR(OFA_E_DATA, "%s: /%s: value %g of image %zu is outside [-1, 1]", path, name, (double)s->x[i],
                         i / per);
            goto out;
        }
out:
    ofa_h5_close(&h);
    if (rc) ofa_image_set_free(s);
    return rc;
}
