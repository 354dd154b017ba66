/* datasets/fmnist: Fashion-MNIST images of one class (or all ten), from the IDX files, as floats.
 *
 * Reads `<dir>/{train,t10k}-images-idx3-ubyte.gz` and the matching `-labels-idx1-ubyte.gz` (Debian's
 * dataset-fashion-mnist puts them in /usr/share/datasets/fashion-mnist; the caller passes the
 * folder).  The files are read through zlib, so gzip'd and plain IDX files both work.  An image is
 * 28x28 bytes; the result is NCHW [n, 1, S, S] float with S = image_size >= 28: the 28x28 image at
 * rows/columns [(S-28)/2, (S-28)/2 + 28), the padding at the background value -1, and each pixel
 * scaled as torchvision's ToTensor + Normalize(0.5, 0.5) does it in float32, ((p / 255) - 0.5) / 0.5,
 * so 0 -> -1 and 255 -> 1 exactly and the values are bitwise those of the PyTorch pipeline.
 * Images keep their order in the file.
 *
 * Errors name the file: OFA_E_IO when it cannot be opened or read; OFA_E_FORMAT for a bad magic
 * number, images that are not 28x28, a file shorter than its header says (truncated, also a cut
 * gzip stream) or longer, or label and image files of different counts; OFA_E_DATA for a label
 * outside 0-9; OFA_E_CONFIG for a class id outside 0-9 (other than OFA_FMNIST_ALL) or an
 * image_size < 28.  Not collective; no global state.
 */
#ifndef OFA_DATASETS_FMNIST_H
#define OFA_DATASETS_FMNIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define OFA_FMNIST_CLASSES 10
#define OFA_FMNIST_ROWS 28 /* rows = columns of every stored image */
#define OFA_FMNIST_ALL (-1) /* `cls` value: every class (labels[] then tells them apart) */
#define OFA_FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

typedef struct ofa_fmnist {
    float *x;          /* [n, 1, S, S] in [-1, 1], padding -1 */
    int32_t *labels;   /* [n] class ids (all equal to cls unless cls == OFA_FMNIST_ALL) */
    int64_t n;
    int image_size;    /* S */
    int cls;           /* 0-9 or OFA_FMNIST_ALL */
    char images_path[OFA_PATH_MAX];
    char labels_path[OFA_PATH_MAX];
} ofa_fmnist;

/* "T-shirt/top", "Trouser", ..., "Ankle boot"; NULL outside 0-9. */
const char *ofa_fmnist_class_name(int cls);

/* The IDX file paths of split "train" or "test" in dir (buffers of n bytes); OFA_E_CONFIG for
 * another split, OFA_E_IO when a path does not fit. */
int ofa_fmnist_split_paths(const char *dir, const char *split, char *images, char *labels, size_t n);
/* split "train" (60000 images) or "test" (10000, the t10k files) of the folder `dir`. */
int ofa_fmnist_load(ofa_fmnist *d, const char *dir, const char *split, int cls, int image_size);
/* The same from two named IDX files (e.g. `ofa fid a.idx.gz --class K`). */
int ofa_fmnist_read(ofa_fmnist *d, const char *images_path, const char *labels_path, int cls, int image_size);
/* NULL-safe; leaves *d zeroed. */
void ofa_fmnist_free(ofa_fmnist *d);

#endif
