/* core/h5io: HDF5 files of named tensors, strings and attributes, written atomically.
 *
 * Writing: ofa_h5_create(path) writes "<path>.tmp"; ofa_h5_commit closes it, fsyncs it, renames it
 * to path and fsyncs the directory (nothing is ever half-written at `path`); ofa_h5_abort closes and
 * unlinks the temporary file.  The first OFA_H5_USERBLOCK bytes of every file written are an HDF5
 * user block holding the CRC-32 (zlib) of the rest of the file, written after the file is closed;
 * ofa_h5_open verifies it before libhdf5 parses anything, so a changed byte anywhere (attributes
 * and variable-length strings included, which HDF5 does not check) is OFA_E_FORMAT "corrupted",
 * never a crash inside libhdf5.  Files without the block (older ofa, h5py) open unchecked.  Float
 * datasets are also chunked with the Fletcher32 checksum filter, so a flipped byte in such a file
 * is detected when read.  Names are paths ("weights/layer_00/attn/wq"): intermediate
 * groups are created as needed.  Attributes attach to an object path ("/" for the file).
 * HDF5's automatic error printing is turned off; failures leave an ofa error naming the file and the
 * object.  Not thread-safe (serial HDF5), one writer at a time.
 */
#ifndef OFA_CORE_H5IO_H
#define OFA_CORE_H5IO_H

#include <stdint.h>

#include "core/config.h"

#define OFA_H5_MAX_DIMS 8
/* Files ofa writes start with this many bytes of user block holding a CRC-32 of the rest. */
#define OFA_H5_USERBLOCK 512

typedef struct ofa_h5 {
    int64_t fid;                   /* hid_t; < 0 when closed */
    int writing;
    char path[OFA_PATH_MAX];       /* final path */
    char tmp_path[OFA_PATH_MAX + 8];
} ofa_h5;

int ofa_h5_create(ofa_h5 *h, const char *path);
int ofa_h5_commit(ofa_h5 *h);
void ofa_h5_abort(ofa_h5 *h);
/* Moves a committed file and fsyncs the destination folder; across filesystems it copies to
 * "<to>.tmp", fsyncs and renames that, then removes `from`. */
int ofa_h5_move(const char *from, const char *to);
/* Opens read-only; OFA_E_IO when missing, OFA_E_FORMAT when not an HDF5 file (or truncated) or
 * when its checksum block does not match its bytes ("corrupted"). */
int ofa_h5_open(ofa_h5 *h, const char *path);
void ofa_h5_close(ofa_h5 *h);

int ofa_h5_exists(ofa_h5 *h, const char *name);
/* Shape of a dataset: *ndim and shape[0..ndim). */
int ofa_h5_shape(ofa_h5 *h, const char *name, int *ndim, int64_t *shape);

int ofa_h5_write_f32(ofa_h5 *h, const char *name, const float *data, int ndim, const int64_t *shape);
int ofa_h5_write_f64(ofa_h5 *h, const char *name, const double *data, int ndim, const int64_t *shape);
int ofa_h5_write_i32(ofa_h5 *h, const char *name, const int32_t *data, int ndim, const int64_t *shape);
int ofa_h5_write_i64(ofa_h5 *h, const char *name, const int64_t *data, int ndim, const int64_t *shape);
/* Reads into a caller buffer; the stored shape must equal (ndim, shape) or OFA_E_FORMAT names both.
 * Any stored numeric type is converted (HDF5 conversion). */
int ofa_h5_read_f32(ofa_h5 *h, const char *name, float *out, int ndim, const int64_t *shape);
int ofa_h5_read_f64(ofa_h5 *h, const char *name, double *out, int ndim, const int64_t *shape);
int ofa_h5_read_i32(ofa_h5 *h, const char *name, int32_t *out, int ndim, const int64_t *shape);
int ofa_h5_read_i64(ofa_h5 *h, const char *name, int64_t *out, int ndim, const int64_t *shape);
/* Reads any shape; *out is malloc'd (numel floats). */
int ofa_h5_read_f32_alloc(ofa_h5 *h, const char *name, float **out, int *ndim, int64_t *shape);

/* A 1-D dataset of variable-length UTF-8 strings. */
int ofa_h5_write_strings(ofa_h5 *h, const char *name, const char *const *s, int64_t n);
/* *out: malloc'd array of n malloc'd strings (free with ofa_h5_free_strings). */
int ofa_h5_read_strings(ofa_h5 *h, const char *name, char ***out, int64_t *n);
void ofa_h5_free_strings(char **s, int64_t n);

/* Attributes on object `obj` ("/" or a group/dataset path); string attributes are variable-length
 * UTF-8 (h5py reads them as str).  Setting an existing attribute replaces it. */
int ofa_h5_attr_set_str(ofa_h5 *h, const char *obj, const char *key, const char *value);
int ofa_h5_attr_set_i64(ofa_h5 *h, const char *obj, const char *key, int64_t value);
int ofa_h5_attr_set_f64(ofa_h5 *h, const char *obj, const char *key, double value);
int ofa_h5_attr_set_u64v(ofa_h5 *h, const char *obj, const char *key, const uint64_t *v, int n);
int ofa_h5_attr_exists(ofa_h5 *h, const char *obj, const char *key);
/* *out malloc'd (fixed- or variable-length strings both read). */
int ofa_h5_attr_get_str(ofa_h5 *h, const char *obj, const char *key, char **out);
/* The same into a caller's buffer of n bytes (truncated to fit). */
int ofa_h5_attr_get_strbuf(ofa_h5 *h, const char *obj, const char *key, char *dst, size_t n);
int ofa_h5_attr_get_i64(ofa_h5 *h, const char *obj, const char *key, int64_t *out);
int ofa_h5_attr_get_f64(ofa_h5 *h, const char *obj, const char *key, double *out);
int ofa_h5_attr_get_u64v(ofa_h5 *h, const char *obj, const char *key, uint64_t *v, int n);

/* Visits every dataset under group `group` ("/" for all) in name order: cb(full_name, ndim, shape,
 * ctx); a non-zero return from cb stops the walk and is returned. */
typedef int (*ofa_h5_visit_fn)(const char *name, int ndim, const int64_t *shape, void *ctx);
int ofa_h5_visit(ofa_h5 *h, const char *group, ofa_h5_visit_fn cb, void *ctx);

#endif
