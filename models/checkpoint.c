#include "models/checkpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

static const char *const g_kind_names[] = {"teacher", "supernet", "subnet", "search"};
_Static_assert(sizeof g_kind_names / sizeof g_kind_names[0] == OFA_CKPT_KIND_COUNT, "one name per ofa_ckpt_kind");

const char *ofa_ckpt_kind_name(int kind)
{
    OFA_ASSERT(kind >= 0 && kind < OFA_CKPT_KIND_COUNT);
    return g_kind_names[kind];
}

int ofa_ckpt_kind_parse(const char *s)
{
    for (int k = 0; k < OFA_CKPT_KIND_COUNT; k++)
        if (!strcmp(s, g_kind_names[k])) return k;
    return -1;
}

void ofa_ckpt_meta_set_kind(ofa_ckpt_meta *meta, enum ofa_ckpt_kind kind)
{
    snprintf(meta->kind, sizeof meta->kind, "%s", ofa_ckpt_kind_name(kind));
    meta->kind_id = kind;
}

void ofa_ckpt_meta_init(ofa_ckpt_meta *meta, const char *kind)
{
    memset(meta, 0, sizeof *meta);
    snprintf(meta->kind, sizeof meta->kind, "%s", kind);
    int k = ofa_ckpt_kind_parse(kind);
    OFA_ASSERT(k >= 0 || !*kind);
    meta->kind_id = k >= 0 ? (enum ofa_ckpt_kind)k : OFA_CKPT_KIND_COUNT;
    meta->format_version = OFA_CKPT_VERSION;
    meta->best_metric = NAN;
    meta->lowercase = 1;
}

void ofa_ckpt_meta_free(ofa_ckpt_meta *meta)
{
    if (!meta) return;
    free(meta->config_yaml);
    meta->config_yaml = NULL;
    free(meta->fingerprint);
    meta->fingerprint = NULL;
}

static int save_body(ofa_h5 *h, const ofa_model *m, const ofa_ckpt_meta *meta, const ofa_adamw *opt)
{
    const char *r = "/";
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    OFA_TRY(ofa_h5_attr_set_str(h, r, "format", OFA_CKPT_FORMAT));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "format_version", OFA_CKPT_VERSION));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "kind", meta->kind));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "model", ofa_family_get(m->family)->name));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "task", meta->task));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "created", created));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "step", meta->step));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "epoch", meta->epoch));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "phase", meta->phase));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "seed", meta->seed));
    OFA_TRY(ofa_h5_attr_set_u64v(h, r, "rng_state", meta->rng.s, 4));
    OFA_TRY(ofa_h5_attr_set_f64(h, r, "best_metric", meta->best_metric));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "metric_name", meta->metric_name));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "config_yaml", meta->config_yaml ? meta->config_yaml : ""));
    if (meta->arch[0]) OFA_TRY(ofa_h5_attr_set_str(h, r, "arch", meta->arch));
    if (meta->fingerprint) OFA_TRY(ofa_h5_attr_set_str(h, r, "fingerprint", meta->fingerprint));
    /* the family's shape attributes, /weights and its extras (BERT: the tokenizer) */
    OFA_TRY(ofa_family_get(m->family)->model_write(m, h));
    if (opt) {
        OFA_TRY(ofa_params_write_h5(h, "optimizer/m", m->p, m->p->m));
        OFA_TRY(ofa_params_write_h5(h, "optimizer/v", m->p, m->p->v));
        OFA_TRY(ofa_h5_attr_set_i64(h, "optimizer/m", "step", opt->t));
        OFA_TRY(ofa_h5_attr_set_f64(h, "optimizer/m", "weight_decay", opt->weight_decay));
    }
    return 0;
}

int ofa_ckpt_save_model(const char *path, const ofa_model *m, const ofa_ckpt_meta *meta, const ofa_adamw *opt,
                        int (*extra)(ofa_h5 *h, void *ctx), void *ctx)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_create(&h, path));
    int rc = save_body(&h, m, meta, opt);
    if (rc == 0 && extra) rc = extra(&h, ctx);
    if (rc < 0) {
        ofa_h5_abort(&h);
        return rc;
    }
    return ofa_h5_commit(&h);
}

static int get_str(ofa_h5 *h, const char *key, char *dst, size_t n)
{
    char *s = NULL;
    OFA_TRY(ofa_h5_attr_get_str(h, "/", key, &s));
    snprintf(dst, n, "%s", s);
    free(s);
    return 0;
}

static int open_body(ofa_h5 *h, const char *path, ofa_ckpt_meta *meta)
{
    char fmt[64] = "";
    if (!ofa_h5_attr_exists(h, "/", "format") || get_str(h, "format", fmt, sizeof fmt) < 0 ||
        strcmp(fmt, OFA_CKPT_FORMAT) != 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: not an ofa checkpoint (no format=\"%s\" attribute)", path,
                       OFA_CKPT_FORMAT);
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "format_version", &meta->format_version));
    if (meta->format_version > OFA_CKPT_VERSION)
        return OFA_ERR(OFA_E_VERSION,
                       "%s: checkpoint format_version %lld is newer than this build reads (%d); "
                       "use a newer ofa",
                       path, (long long)meta->format_version, OFA_CKPT_VERSION);
    if (meta->format_version < 1)
        return OFA_ERR(OFA_E_FORMAT, "%s: invalid format_version %lld", path, (long long)meta->format_version);
    OFA_TRY(get_str(h, "kind", meta->kind, sizeof meta->kind));
    int kind = ofa_ckpt_kind_parse(meta->kind);
    if (kind < 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: unknown checkpoint kind '%s' (expected teacher, supernet, subnet or search)",
                       path, meta->kind);
    meta->kind_id = (enum ofa_ckpt_kind)kind;
    OFA_TRY(get_str(h, "model", meta->model, sizeof meta->model));
    OFA_TRY(get_str(h, "task", meta->task, sizeof meta->task));
    OFA_TRY(get_str(h, "created", meta->created, sizeof meta->created));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "step", &meta->step));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "epoch", &meta->epoch));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "phase", &meta->phase));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "seed", &meta->seed));
    OFA_TRY(ofa_h5_attr_get_u64v(h, "/", "rng_state", meta->rng.s, 4));
    OFA_TRY(ofa_h5_attr_get_f64(h, "/", "best_metric", &meta->best_metric));
    OFA_TRY(get_str(h, "metric_name", meta->metric_name, sizeof meta->metric_name));
    OFA_TRY(ofa_h5_attr_get_str(h, "/", "config_yaml", &meta->config_yaml));
    if (ofa_h5_attr_exists(h, "/", "arch")) OFA_TRY(get_str(h, "arch", meta->arch, sizeof meta->arch));
    if (ofa_h5_attr_exists(h, "/", "fingerprint"))
        OFA_TRY(ofa_h5_attr_get_str(h, "/", "fingerprint", &meta->fingerprint));
    if (ofa_h5_exists(h, "tokenizer/vocab")) {
        int64_t lc = 1, msl = 0;
        OFA_TRY(ofa_h5_attr_get_i64(h, "tokenizer/vocab", "lowercase", &lc));
        OFA_TRY(ofa_h5_attr_get_i64(h, "tokenizer/vocab", "max_seq_len", &msl));
        meta->lowercase = (int)lc;
        meta->max_seq_len = (int)msl;
    }
    return 0;
}

int ofa_ckpt_open(ofa_h5 *h, const char *path, ofa_ckpt_meta *meta)
{
    ofa_ckpt_meta_init(meta, "");
    OFA_TRY(ofa_h5_open(h, path));
    int rc = open_body(h, path, meta);
    if (rc < 0) {
        ofa_h5_close(h);
        ofa_ckpt_meta_free(meta);
    }
    return rc;
}

static int load_body(ofa_h5 *h, const char *path, ofa_model *m, const ofa_ckpt_meta *meta, ofa_adamw *opt)
{
    const ofa_family *f = ofa_family_find(meta->model);
    if (!f) return OFA_ERR(OFA_E_FORMAT, "%s: holds a '%s' model, which this build does not know", path, meta->model);
    OFA_TRY(f->model_read(m, h, path));
    if (opt && ofa_h5_exists(h, "optimizer/m")) {
        int rc = ofa_params_read_h5(h, "optimizer/m", m->p, m->p->m);
        if (rc == 0) rc = ofa_params_read_h5(h, "optimizer/v", m->p, m->p->v);
        if (rc == 0) rc = ofa_h5_attr_get_i64(h, "optimizer/m", "step", &opt->t);
        if (rc < 0) {
            ofa_model_free(m);
            return rc;
        }
        return 1;
    }
    return 0;
}

int ofa_ckpt_load_model(const char *path, ofa_model *m, ofa_ckpt_meta *meta, ofa_adamw *opt)
{
    ofa_h5 h;
    OFA_TRY(ofa_ckpt_open(&h, path, meta));
    int rc = load_body(&h, path, m, meta, opt);
    ofa_h5_close(&h);
    if (rc < 0) ofa_ckpt_meta_free(meta);
    return rc;
}

void ofa_model_free(ofa_model *m)
{
    if (!m || !m->net) return;
    ofa_family_get(m->family)->model_free(m);
    memset(m, 0, sizeof *m);
}

int ofa_model_file_open(ofa_model_file *f, const char *path, unsigned kinds, const char *who,
                        const ofa_config *c)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    OFA_TRY(ofa_ckpt_load_model(path, &f->m, &f->meta, NULL));
    int rc = 0;
    if (kinds && !(kinds & OFA_KIND(f->meta.kind_id)))
        rc = OFA_ERR(OFA_E_USAGE, "%s is a %s checkpoint%s%s; %s", path, f->meta.kind,
                     f->meta.arch[0] ? " of arch " : "", f->meta.arch, who);
    if (rc == 0 && c) {
        f->cfg = *c;
    } else if (rc == 0) {
        /* a supernet needs its stored config (its space); other files are usable without one */
        const char *y = f->meta.config_yaml ? f->meta.config_yaml : "";
        if (ofa_config_parse(&f->cfg, y, strlen(y), path, NULL, 0) < 0) {
            if (f->meta.kind_id == OFA_CKPT_SUPERNET)
                rc = ofa_err_prefix(OFA_E_FORMAT, "%s: the stored config_yaml does not parse", path);
            else
                ofa_config_defaults(&f->cfg);
        }
    }
    /* a supernet is searched in the config's space; any other file is just its model */
    if (rc == 0 && f->meta.kind_id == OFA_CKPT_SUPERNET) rc = ofa_space_from_config(&f->space, &f->cfg, &f->m, path);
    else if (rc == 0) ofa_space_of_model(&f->space, &f->m);
    if (rc < 0) ofa_model_file_close(f);
    return rc;
}

int ofa_model_file_arch(const ofa_model_file *f, const char *text, ofa_arch *a)
{
    if (!text) {
        if (f->meta.kind_id == OFA_CKPT_SUPERNET) ofa_arch_largest(a, &f->space);
        else ofa_arch_full(a, &f->m);
        return 0;
    }
    OFA_TRY(ofa_arch_parse(a, text, &f->space));
    return ofa_arch_check(a, &f->space);
}

void ofa_model_file_close(ofa_model_file *f)
{
    if (!f) return;
    ofa_model_free(&f->m);
    ofa_ckpt_meta_free(&f->meta);
}
