/* core/safetensors: reading safetensors files (see safetensors.h). */
#include "core/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

float ofa_half_to_float(uint16_t h)
{
    const int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24); /* zero or subnormal: man x 2^-24 */
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

float ofa_bf16_to_float(uint16_t h)
{
    const uint32_t bits = (uint32_t)h << 16;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static const struct {
    const char *name;
    ofa_st_dtype dtype;
    int size;
} dtypes[] = {
    {"F32", OFA_ST_F32, 4}, {"F16", OFA_ST_F16, 2}, {"BF16", OFA_ST_BF16, 2}, {"F64", OFA_ST_OTHER, 8},
    {"I64", OFA_ST_OTHER, 8}, {"I32", OFA_ST_OTHER, 4}, {"I16", OFA_ST_OTHER, 2}, {"I8", OFA_ST_OTHER, 1},
    {"U64", OFA_ST_OTHER, 8}, {"U32", OFA_ST_OTHER, 4}, {"U16", OFA_ST_OTHER, 2}, {"U8", OFA_ST_OTHER, 1},
    {"BOOL", OFA_ST_OTHER, 1}, {"F8_E4M3", OFA_ST_OTHER, 1}, {"F8_E5M2", OFA_ST_OTHER, 1},
};

void ofa_st_close(ofa_st *st)
{
    if (st->f) fclose(st->f);
    for (int i = 0; i < st->n; i++) free(st->e[i].name);
    free(st->e);
    memset(st, 0, sizeof *st);
}

/* one header entry into e (its name already set); size: the dtype's bytes */
static int parse_entry(const ofa_st *st, const cJSON *j, ofa_st_entry *e)
{
    const char *p = st->path, *nm = e->name;
    if (!cJSON_IsObject(j)) return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': its header entry is not an object", p, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(j, "shape"),
                *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': needs \"dtype\" (a string), \"shape\" (a list) and "
                       "\"data_offsets\" ([begin, end])", p, nm);
    int size = 0;
    for (size_t k = 0; k < sizeof dtypes / sizeof *dtypes && !size; k++)
        if (!strcmp(dt->valuestring, dtypes[k].name)) size = dtypes[k].size, e->dtype = dtypes[k].dtype;
    if (!size) return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': unknown dtype '%.15s'", p, nm, dt->valuestring);
    snprintf(e->dtype_name, sizeof e->dtype_name, "%s", dt->valuestring);
    e->ndim = cJSON_GetArraySize(sh);
    if (e->ndim > OFA_ST_MAX_DIMS)
        return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': %d dimensions (at most %d)", p, nm, e->ndim, OFA_ST_MAX_DIMS);
    e->numel = 1;
    for (int d = 0; d < e->ndim; d++) {
        const cJSON *x = cJSON_GetArrayItem(sh, d);
        if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 9.0e15 ||
            x->valuedouble != floor(x->valuedouble))
            return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': shape entry %d is not a non-negative integer", p, nm, d);
        e->shape[d] = (int64_t)x->valuedouble;
        if (e->shape[d] && e->numel > INT64_MAX / 16 / e->shape[d])
            return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': its shape is too large", p, nm);
        e->numel *= e->shape[d];
    }
    double b = cJSON_GetArrayItem(off, 0)->valuedouble, en = cJSON_GetArrayItem(off, 1)->valuedouble;
    if (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) || b < 0 ||
        en < b || b != floor(b) || en != floor(en) || en > 1.8e19)
        return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': data_offsets must be two integers begin <= end", p, nm);
    e->begin = (uint64_t)b, e->end = (uint64_t)en;
    if (e->end > st->data_size)
        return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the data "
                       "(%llu bytes after the header): a truncated file?", p, nm, (unsigned long long)e->begin,
                       (unsigned long long)e->end, (unsigned long long)st->data_size);
    if (e->end - e->begin != (uint64_t)e->numel * (uint64_t)size)
        return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s': %llu bytes for %lld %s elements (%d bytes each)", p, nm,
                       (unsigned long long)(e->end - e->begin), (long long)e->numel, e->dtype_name, size);
    return 0;
}

static int by_begin(const void *x, const void *y)
{
    const ofa_st_entry *a = *(const ofa_st_entry *const *)x, *b = *(const ofa_st_entry *const *)y;
    return a->begin < b->begin ? -1 : a->begin > b->begin ? 1 : (a->end > b->end) - (a->end < b->end);
}

/* the spec forbids two tensors sharing bytes (empty ones share nothing) */
static int check_overlaps(const ofa_st *st)
{
    const ofa_st_entry **v = malloc((size_t)(st->n ? st->n : 1) * sizeof *v);
    if (!v) return OFA_ERR(OFA_E_IO, "%s: out of memory listing %d tensors", st->path, st->n);
    int k = 0;
    for (int i = 0; i < st->n; i++)
        if (st->e[i].end > st->e[i].begin) v[k++] = &st->e[i];
    qsort(v, (size_t)k, sizeof *v, by_begin);
    int rc = 0;
    for (int i = 1; i < k && rc == 0; i++)
        if (v[i]->begin < v[i - 1]->end)
            rc = OFA_ERR(OFA_E_FORMAT, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] share bytes of the data",
                         st->path, v[i - 1]->name, (unsigned long long)v[i - 1]->begin,
                         (unsigned long long)v[i - 1]->end, v[i]->name, (unsigned long long)v[i]->begin,
                         (unsigned long long)v[i]->end);
    free(v);
    return rc;
}

int ofa_st_open(ofa_st *st, const char *path)
{
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) return OFA_ERR(OFA_E_IO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    unsigned char n8[8];
    if (fstat(fileno(f), &sb) != 0 || fread(n8, 1, 8, f) != 8) {
        fclose(f);
        return OFA_ERR(OFA_E_FORMAT, "%s: shorter than a safetensors header (8 bytes of length)", path);
    }
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = n << 8 | n8[k];
    const uint64_t fsize = (uint64_t)sb.st_size;
    if (n > (uint64_t)OFA_ST_MAX_HEADER || n > fsize - 8) {
        fclose(f);
        return OFA_ERR(OFA_E_FORMAT, "%s: header length %llu does not fit the file (%llu bytes; at most %lld): not a "
                       "safetensors file, or a truncated one", path, (unsigned long long)n,
                       (unsigned long long)fsize, OFA_ST_MAX_HEADER);
    }
    char *text = malloc(n + 1);
    if (!text || fread(text, 1, n, f) != n) {
        free(text);
        fclose(f);
        return OFA_ERR(OFA_E_IO, "%s: cannot read its %llu-byte header", path, (unsigned long long)n);
    }
    text[n] = '\0';
    st->f = f;
    st->data_start = 8 + n;
    st->data_size = fsize - 8 - n;
    cJSON *root = cJSON_ParseWithLength(text, n);
    int rc = 0;
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        if (at && at >= text && at <= text + n)
            rc = OFA_ERR(OFA_E_FORMAT, "%s: its header is not valid JSON (near byte %lld of it)", path,
                         (long long)(at - text));
        else rc = OFA_ERR(OFA_E_FORMAT, "%s: its header is not valid JSON", path);
    } else if (!cJSON_IsObject(root)) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: its header is JSON but not an object of tensors", path);
    }
    const int count = rc == 0 ? cJSON_GetArraySize(root) : 0;
    if (count > 0) st->e = calloc((size_t)count, sizeof *st->e);
    for (const cJSON *j = root && rc == 0 ? root->child : NULL; j && rc == 0; j = j->next) {
        if (!strcmp(j->string, "__metadata__")) continue;
        if (ofa_st_find(st, j->string) >= 0) {
            rc = OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s' appears twice in the header", path, j->string);
            break;
        }
        ofa_st_entry *e = &st->e[st->n++];
        e->name = strdup(j->string);
        rc = parse_entry(st, j, e);
    }
    cJSON_Delete(root);
    free(text);
    if (rc == 0) rc = check_overlaps(st);
    if (rc < 0) ofa_st_close(st);
    return rc;
}

int ofa_st_find(const ofa_st *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->e[i].name, name)) return i;
    return -1;
}

int ofa_st_read_f32(const ofa_st *st, int i, float *out)
{
    const ofa_st_entry *e = &st->e[i];
    if (e->dtype == OFA_ST_OTHER)
        return OFA_ERR(OFA_E_FORMAT, "%s: tensor '%s' is %s; only F32, F16 and BF16 tensors are read", st->path,
                       e->name, e->dtype_name);
    const size_t bytes = (size_t)(e->end - e->begin);
    unsigned char *raw = malloc(bytes ? bytes : 1);
    int ok = raw && fseeko(st->f, (off_t)(st->data_start + e->begin), SEEK_SET) == 0 &&
             fread(raw, 1, bytes, st->f) == bytes;
    if (!ok) {
        free(raw);
        return OFA_ERR(OFA_E_IO, "%s: cannot read tensor '%s' (%zu bytes at %llu)", st->path, e->name, bytes,
                       (unsigned long long)(st->data_start + e->begin));
    }
    for (int64_t k = 0; k < e->numel; k++) {
        const unsigned char *b = raw + (size_t)k * (e->dtype == OFA_ST_F32 ? 4 : 2);
        if (e->dtype == OFA_ST_F32) {
            const uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            memcpy(&out[k], &u, sizeof(float));
        } else {
            const uint16_t u = (uint16_t)(b[0] | b[1] << 8);
            out[k] = e->dtype == OFA_ST_F16 ? ofa_half_to_float(u) : ofa_bf16_to_float(u);
        }
    }
    free(raw);
    return 0;
}
