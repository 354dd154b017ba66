/* datasets/fmnist: the IDX reader (see fmnist.h). */
#include "datasets/fmnist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"

#define IDX_LABELS_MAGIC 0x00000801u /* unsigned byte, 1 dimension */
#define IDX_IMAGES_MAGIC 0x00000803u /* unsigned byte, 3 dimensions */
#define PIXELS (OFA_FMNIST_ROWS * OFA_FMNIST_ROWS)

static const char *const class_names[OFA_FMNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

const char *ofa_fmnist_class_name(int cls)
{
    return cls >= 0 && cls < OFA_FMNIST_CLASSES ? class_names[cls] : NULL;
}

static int idx_open(gzFile *f, const char *path)
{
    errno = 0;
    *f = gzopen(path, "rb");
    if (!*f) return OFA_ERR(OFA_E_IO, "cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(*f, 1 << 17);
    return 0;
}

/* Reads up to n bytes into buf; *got = bytes read.  A read error or corrupt gzip data is an error
 * naming the file; a short read (end of data, or a gzip stream cut short) is not: the caller
 * reports it in terms of items. */
static int idx_read(gzFile f, const char *path, void *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        int r = gzread(f, (char *)buf + *got, (unsigned)(n - *got));
        if (r <= 0) break;
        *got += (size_t)r;
    }
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);
    if (zerr == Z_ERRNO) return OFA_ERR(OFA_E_IO, "cannot read %s: %s", path, strerror(errno));
    if (zerr != Z_OK && zerr != Z_BUF_ERROR) { /* Z_BUF_ERROR: the gzip stream ends early (a short read) */
        size_t pl = strlen(path); /* zlib's message is "<path>: <what>" */
        if (strncmp(zmsg, path, pl) == 0 && strncmp(zmsg + pl, ": ", 2) == 0) zmsg += pl + 2;
        return OFA_ERR(OFA_E_FORMAT, "%s: corrupt gzip data (%s)", path, zmsg);
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads the header (4-byte big-endian words) and checks the magic number. */
static int idx_header(gzFile f, const char *path, uint32_t magic, uint32_t *words, int nwords)
{
    unsigned char h[16];
    size_t want = 4 * (size_t)nwords, got = 0;
    OFA_TRY(idx_read(f, path, h, want, &got));
    if (got >= 4 && be32(h) != magic)
        return OFA_ERR(OFA_E_FORMAT, "%s: bad magic number 0x%08x: not an IDX %s file (magic 0x%08x)", path, be32(h),
                       magic == IDX_IMAGES_MAGIC ? "images" : "labels", magic);
    if (got < want)
        return OFA_ERR(OFA_E_FORMAT, "%s: truncated: %zu bytes, shorter than the %zu-byte IDX header", path, got, want);
    for (int i = 0; i < nwords; i++) words[i] = be32(h + 4 * i);
    return 0;
}

/* After the last item: the data must end there (this read also makes zlib check the gzip CRC). */
static int idx_expect_end(gzFile f, const char *path, int64_t n, const char *what)
{
    unsigned char extra;
    size_t got = 0;
    OFA_TRY(idx_read(f, path, &extra, 1, &got));
    if (got)
        return OFA_ERR(OFA_E_FORMAT, "%s: more data than the header's %lld %s", path, (long long)n, what);
    return 0;
}

static int read_labels(const char *path, uint8_t **labels, int64_t *n)
{
    gzFile f;
    OFA_TRY(idx_open(&f, path));
    uint32_t w[2];
    int rc = idx_header(f, path, IDX_LABELS_MAGIC, w, 2);
    uint8_t *lab = NULL;
    if (rc) goto out;
    *n = w[1];
    lab = ofa_xmalloc(*n ? (size_t)*n : 1);
    size_t got = 0;
    if ((rc = idx_read(f, path, lab, (size_t)*n, &got))) goto out;
    if ((int64_t)got < *n) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: truncated: the header says %lld labels, the file has %zu", path,
                     (long long)*n, got);
        goto out;
    }
    if ((rc = idx_expect_end(f, path, *n, "labels"))) goto out;
    for (int64_t i = 0; i < *n; i++)
        if (lab[i] >= OFA_FMNIST_CLASSES) {
            rc = OFA_ERR(OFA_E_DATA, "%s: label %d of item %lld is outside 0-9", path, lab[i], (long long)i);
            goto out;
        }
out:
    gzclose(f);
    if (rc) free(lab), lab = NULL;
    *labels = lab;
    return rc;
}

int ofa_fmnist_read(ofa_fmnist *d, const char *images_path, const char *labels_path, int cls, int image_size)
{
    memset(d, 0, sizeof *d);
    if (cls != OFA_FMNIST_ALL && (cls < 0 || cls >= OFA_FMNIST_CLASSES))
        return OFA_ERR(OFA_E_CONFIG, "Fashion-MNIST class %d is not a class id 0-9 (%s): images %s", cls,
                       "0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot",
                       images_path);
    if (image_size < OFA_FMNIST_ROWS)
        return OFA_ERR(OFA_E_CONFIG, "image_size %d is smaller than the %dx%d Fashion-MNIST images of %s", image_size,
                       OFA_FMNIST_ROWS, OFA_FMNIST_ROWS, images_path);
    if (strlen(images_path) >= sizeof d->images_path || strlen(labels_path) >= sizeof d->labels_path)
        return OFA_ERR(OFA_E_IO, "path too long: %s", strlen(images_path) >= sizeof d->images_path ? images_path : labels_path);

    uint8_t *lab = NULL;
    int64_t n = 0;
    OFA_TRY(read_labels(labels_path, &lab, &n));

    gzFile f;
    int rc = idx_open(&f, images_path);
    if (rc) {
        free(lab);
        return rc;
    }
    uint32_t w[4];
    if ((rc = idx_header(f, images_path, IDX_IMAGES_MAGIC, w, 4))) goto out;
    if (w[2] != OFA_FMNIST_ROWS || w[3] != OFA_FMNIST_ROWS) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: images of %ux%u pixels, expected %dx%d", images_path, w[2], w[3],
                     OFA_FMNIST_ROWS, OFA_FMNIST_ROWS);
        goto out;
    }
    if ((int64_t)w[1] != n) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s has %u images but %s has %lld labels", images_path, w[1], labels_path,
                     (long long)n);
        goto out;
    }

    int64_t keep = 0;
    for (int64_t i = 0; i < n; i++) keep += cls == OFA_FMNIST_ALL || lab[i] == cls;
    const int S = image_size, off = (S - OFA_FMNIST_ROWS) / 2;
    const size_t plane = (size_t)S * S;
    d->x = ofa_xmalloc((keep ? (size_t)keep : 1) * plane * sizeof(float));
    d->labels = ofa_xmalloc((keep ? (size_t)keep : 1) * sizeof(int32_t));
    for (size_t i = 0; i < (size_t)keep * plane; i++) d->x[i] = -1.0f;
    float lut[256]; /* torchvision: ToTensor (p / 255 in float32), then Normalize(0.5, 0.5) */
    for (int p = 0; p < 256; p++) lut[p] = ((float)p / 255.0f - 0.5f) / 0.5f;

    unsigned char img[PIXELS];
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t got = 0;
        if ((rc = idx_read(f, images_path, img, PIXELS, &got))) goto out;
        if (got < PIXELS) {
            rc = OFA_ERR(OFA_E_FORMAT, "%s: truncated: the header says %lld images, the file ends in image %lld",
                         images_path, (long long)n, (long long)i);
            goto out;
        }
        if (cls != OFA_FMNIST_ALL && lab[i] != cls) continue;
        float *dst = d->x + (size_t)k * plane;
        for (int r = 0; r < OFA_FMNIST_ROWS; r++)
            for (int c = 0; c < OFA_FMNIST_ROWS; c++)
                dst[(size_t)(r + off) * S + c + off] = lut[img[r * OFA_FMNIST_ROWS + c]];
        d->labels[k++] = lab[i];
    }
    if ((rc = idx_expect_end(f, images_path, n, "images"))) goto out;
    d->n = keep;
    d->image_size = S;
    d->cls = cls;
    snprintf(d->images_path, sizeof d->images_path, "%s", images_path);
    snprintf(d->labels_path, sizeof d->labels_path, "%s", labels_path);
out:
    gzclose(f);
    free(lab);
    if (rc) ofa_fmnist_free(d);
    return rc;
}

int ofa_fmnist_split_paths(const char *dir, const char *split, char *images, char *labels, size_t n)
{
    const char *stem = NULL;
    if (split && strcmp(split, "train") == 0) stem = "train";
    else if (split && strcmp(split, "test") == 0) stem = "t10k";
    else return OFA_ERR(OFA_E_CONFIG, "Fashion-MNIST split '%s': expected 'train' or 'test'", split ? split : "(null)");
    int a = snprintf(images, n, "%s/%s-images-idx3-ubyte.gz", dir, stem);
    int b = snprintf(labels, n, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
    if (a < 0 || b < 0 || (size_t)a >= n || (size_t)b >= n)
        return OFA_ERR(OFA_E_IO, "Fashion-MNIST folder path too long: %s", dir);
    return 0;
}

int ofa_fmnist_load(ofa_fmnist *d, const char *dir, const char *split, int cls, int image_size)
{
    memset(d, 0, sizeof *d);
    char images[OFA_PATH_MAX], labels[OFA_PATH_MAX];
    OFA_TRY(ofa_fmnist_split_paths(dir, split, images, labels, sizeof images));
    return ofa_fmnist_read(d, images, labels, cls, image_size);
}

void ofa_fmnist_free(ofa_fmnist *d)
{
    if (!d) return;
    free(d->x);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
