/* datasets/images: images a person can look at, and image sets other commands read.
 *
 *   PNG grid    ofa_png_write_grid: rows x cols tiles of NCHW float images in [-1, 1] (1 channel:
 *               grey, 3: RGB), tile (r, k) = image r * cols + k, a 1-pixel white gap between tiles
 *               (none around the border), written atomically (core/afile) with libpng.  A value
 *               v becomes the 8-bit pixel round((v + 1) * 127.5), clamped to 0..255, so images
 *               read from 8-bit data (datasets/fmnist, ofa_png_read) come back exactly.
 *   PNG files   ofa_png_read: one 8- or 16-bit grey, grey+alpha, RGB, RGBA or palette PNG as
 *               [1, C, H, W] floats ((p / 255) - 0.5) / 0.5 as datasets/fmnist scales pixels
 *               (16-bit samples are reduced to 8, alpha dropped, palettes expanded to RGB, grey
 *               stays 1 channel).  ofa_images_read_dir: every *.png (case-insensitive) of a folder
 *               in byte order of the names, all of one size and channel count.
 *   image set   an HDF5 file (core/h5io) with root attributes format = "ofa-images",
 *               format_version = 1 and the float32 datasets /inputs and /outputs [N, C, H, W] in
 *               [-1, 1] (`ofa translate` writes the inputs and the translated images; `ofa fid`
 *               reads /outputs).  ofa_images_h5_put writes them into a file the caller created
 *               (which may add attributes, then commits); ofa_images_read_h5 reads one of them.
 *
 * Errors name the file: OFA_E_IO when a file or folder cannot be opened, read or written;
 * OFA_E_FORMAT for a file that is not a PNG or is corrupt, images of differing sizes or channel
 * counts in one folder (naming the first and the differing file), an HDF5 file that is not an
 * image set or whose array is not [N, 1 or 3, H, W]; OFA_E_DATA for a folder without PNGs or an
 * image set value outside [-1, 1] or not finite.  Not collective; no global state.
 */
#ifndef OFA_DATASETS_IMAGES_H
#define OFA_DATASETS_IMAGES_H

#include <stdint.h>

#include "core/h5io.h"

#define OFA_IMAGES_FORMAT "ofa-images"
#define OFA_IMAGES_FORMAT_VERSION 1

/* A set of n images [n, C, H, W] in [-1, 1]. */
typedef struct ofa_image_set {
    float *x;
    int64_t n;
    int C, H, W;
} ofa_image_set;

void ofa_image_set_free(ofa_image_set *s); /* NULL-safe; leaves *s zeroed */

/* x [rows * cols, C, H, W], C 1 or 3 (asserted, as are positive sizes). */
int ofa_png_write_grid(const char *path, const float *x, int rows, int cols, int C, int H, int W);
/* One PNG as an image set of n = 1. */
int ofa_png_read(ofa_image_set *s, const char *path);
/* Every PNG of the folder dir, sorted by name. */
int ofa_images_read_dir(ofa_image_set *s, const char *dir);

/* /inputs (when inputs != NULL) and /outputs [n, C, H, W] and the format attributes into h. */
int ofa_images_h5_put(ofa_h5 *h, const float *inputs, const float *outputs, int64_t n, int C, int H, int W);
/* The same as a whole file, written atomically. */
int ofa_images_write_h5(const char *path, const float *inputs, const float *outputs, int64_t n, int C, int H,
                        int W);
/* Dataset `name` ("outputs" or "inputs") of the image set file at path. */
int ofa_images_read_h5(ofa_image_set *s, const char *path, const char *name);
/* 1 when the open file h carries format = "ofa-images" (for ofa inspect), else 0. */
int ofa_images_h5_is_set(ofa_h5 *h);

#endif
