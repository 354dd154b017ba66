/* core/safetensors: Hugging Face's safetensors files, read by their spec
 * (https://huggingface.co/docs/safetensors/index, "Format"):
 *     8 bytes      N, an unsigned little-endian 64-bit integer
 *     N bytes      a UTF-8 JSON object: for each tensor name {"dtype": "F32", "shape": [2, 3],
 *                  "data_offsets": [begin, end]}, and optionally "__metadata__" (strings), which is
 *                  skipped
 *     the rest     the byte buffer; a tensor's bytes are [begin, end) of it, little-endian, row-major
 * Opening checks the whole header before anything is read: N within the file (and at most 100 MB),
 * JSON that parses (cJSON, a Debian package), every entry an object with a known dtype string, a
 * shape of non-negative integers (at most OFA_ST_MAX_DIMS), offsets with begin <= end, end within
 * the buffer and end - begin = the shape's element count x the dtype's size, no name twice and no
 * two tensors sharing bytes.  Every error names
 * the file and, for an entry, the tensor (OFA_E_FORMAT; OFA_E_IO when the file cannot be read).
 * Reading converts F32, F16 and BF16 to float32; other dtypes (I64, BOOL, F64, ...) can be listed
 * but not read as floats.  Not collective; one reader per thread. */
#ifndef OFA_CORE_SAFETENSORS_H
#define OFA_CORE_SAFETENSORS_H

#include <stdint.h>
#include <stdio.h>

#define OFA_ST_MAX_DIMS 8
#define OFA_ST_MAX_HEADER (100ll << 20)

typedef enum { OFA_ST_F32, OFA_ST_F16, OFA_ST_BF16, OFA_ST_OTHER } ofa_st_dtype;

typedef struct ofa_st_entry {
    char *name;
    char dtype_name[16]; /* as the header spells it ("F32", "I64", ...) */
    ofa_st_dtype dtype;
    int ndim;
    int64_t shape[OFA_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* byte offsets into the buffer */
} ofa_st_entry;

typedef struct ofa_st {
    char path[1024];
    FILE *f;
    uint64_t data_start, data_size;
    ofa_st_entry *e;
    int n;
} ofa_st;

/* Opens path and reads and checks its header (errors as above; nothing to free on failure). */
int ofa_st_open(ofa_st *st, const char *path);
void ofa_st_close(ofa_st *st);
/* The index of tensor `name`, or -1. */
int ofa_st_find(const ofa_st *st, const char *name);
/* Entry i's values as float32 into out[numel] (F32, F16, BF16; else OFA_E_FORMAT naming the tensor
 * and its dtype; OFA_E_IO on a short read). */
int ofa_st_read_f32(const ofa_st *st, int i, float *out);

/* IEEE half and bfloat16 bits -> float (subnormals, infinities and NaNs included). */
float ofa_half_to_float(uint16_t h);
float ofa_bf16_to_float(uint16_t h);

#endif
