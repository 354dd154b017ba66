#include "models/checkpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/runfiles.h"
#include "core/sys.h"

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


static int open_body(ofa_h5 *h, const char *path, ofa_ckpt_meta *meta)
{
    char fmt[64] = "";
    if (!ofa_h5_attr_exists(h, "/", "format") || ofa_h5_attr_get_strbuf(h, "/", "format", fmt, sizeof fmt) < 0 ||
        strcmp(fmt, OFA_CKPT_FORMAT) != 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: not an ofa checkpoint (no format=\"%s\" attribute)", path,
                       OFA_CKPT_FORMAT);
    if (ofa_h5_attr_exists(h, "/", "converted_by") == 1) /* tools/cyclegan_convert.py's generator weights */
        return OFA_ERR(OFA_E_FORMAT, "%s: one generator's weights written by tools/cyclegan_convert.py (for it to "
                       "convert back or run); ofa's commands read the checkpoints ofa's stages write", path);
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "format_version", &meta->format_version));
    if (meta->format_version > OFA_CKPT_VERSION)
        return OFA_ERR(OFA_E_VERSION,
                       "%s: checkpoint format_version %lld is newer than this build reads (%d); "
                       "use a newer ofa",
                       path, (long long)meta->format_version, OFA_CKPT_VERSION);
    if (meta->format_version < 1)
        return OFA_ERR(OFA_E_FORMAT, "%s: invalid format_version %lld", path, (long long)meta->format_version);
    OFA_TRY(ofa_h5_attr_get_strbuf(h, "/", "kind", meta->kind, sizeof meta->kind));
    int kind = ofa_ckpt_kind_parse(meta->kind);
    if (kind < 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: unknown checkpoint kind '%s' (expected teacher, supernet, subnet or search)",
                       path, meta->kind);
    meta->kind_id = (enum ofa_ckpt_kind)kind;
    if (kind == OFA_CKPT_SEARCH) /* a checkpoint without a model: say so, not which attribute it lacks */
        return OFA_ERR(OFA_E_USAGE, "%s is a search state (kind search): it holds no model; its run's supernet.h5 "
                       "or the winners in subnets/ do", path);
    OFA_TRY(ofa_h5_attr_get_strbuf(h, "/", "model", meta->model, sizeof meta->model));
    OFA_TRY(ofa_h5_attr_get_strbuf(h, "/", "task", meta->task, sizeof meta->task));
    OFA_TRY(ofa_h5_attr_get_strbuf(h, "/", "created", meta->created, sizeof meta->created));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "step", &meta->step));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "epoch", &meta->epoch));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "phase", &meta->phase));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "seed", &meta->seed));
    OFA_TRY(ofa_h5_attr_get_u64v(h, "/", "rng_state", meta->rng.s, 4));
    OFA_TRY(ofa_h5_attr_get_f64(h, "/", "best_metric", &meta->best_metric));
    OFA_TRY(ofa_h5_attr_get_strbuf(h, "/", "metric_name", meta->metric_name, sizeof meta->metric_name));
    OFA_TRY(ofa_h5_attr_get_str(h, "/", "config_yaml", &meta->config_yaml));
    if (ofa_h5_attr_exists(h, "/", "arch")) OFA_TRY(ofa_h5_attr_get_strbuf(h, "/", "arch", meta->arch, sizeof meta->arch));
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

void ofa_ckpt_meta_subnet(ofa_ckpt_meta *out, const ofa_model_file *f, const ofa_model *sub, const ofa_arch *a)
{
    *out = f->meta;
    ofa_ckpt_meta_set_kind(out, OFA_CKPT_SUBNET);
    out->fingerprint = NULL; /* the supernet's: not what the subnet file is */
    ofa_arch_print(a, &f->space, out->arch, sizeof out->arch);
    out->best_metric = NAN;
    ofa_config c = f->cfg;
    const ofa_family *fam = ofa_model_family(sub);
    fam->model_config(sub, &c);
    char *yaml = ofa_config_to_yaml(&c), desc[256];
    fam->model_describe(sub, desc, sizeof desc);
    const char *fmt = "# subnet %s, exported from %s (%s step %lld)\n"
                      "# model: %s; model.* below is its shape (heads and ffn: the largest of its layers;\n"
                      "# per kept layer: the arch).  The other keys are the supernet's run.\n%s";
    int n = snprintf(NULL, 0, fmt, out->arch, f->path, f->meta.kind, (long long)f->meta.step, desc, yaml);
    out->config_yaml = ofa_xmalloc((size_t)n + 1);
    snprintf(out->config_yaml, (size_t)n + 1, fmt, out->arch, f->path, f->meta.kind, (long long)f->meta.step, desc,
             yaml);
    free(yaml);
}

void ofa_run_dir_of(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(buf, n, ".");
        return;
    }
    snprintf(buf, n, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    char *last = strrchr(buf, '/');
    const char *base = last ? last + 1 : buf;
    if (!strcmp(base, OFA_RUN_CKPT) || !strcmp(base, OFA_RUN_SUBNETS)) {
        if (last && last != buf) *last = '\0';
        else if (last) last[1] = '\0';
        else snprintf(buf, n, ".");
    }
}

/* The folder the run that wrote the file was started from: the real path of its run folder minus
 * the stored (relative) experiment.output_dir; 0 when they do not match. */
static int launch_dir(const ofa_model_file *f, char *buf, size_t n)
{
    const char *od = f->cfg.experiment.output_dir;
    while (od[0] == '.' && od[1] == '/') od += 2;
    size_t lo = strlen(od);
    while (lo > 0 && od[lo - 1] == '/') lo--;
    if (lo == 0 || od[0] == '/' || strstr(od, "..")) return 0;
    char real[PATH_MAX];
    if (!realpath(f->run_dir, real)) return 0;
    size_t lr = strlen(real);
    if (lr <= lo || strncmp(real + lr - lo, od, lo) != 0 || real[lr - lo - 1] != '/') return 0;
    snprintf(buf, n, "%.*s", (int)(lr - lo - 1 > 0 ? lr - lo - 1 : 1), real);
    return 1;
}

/* data.glue_dir of a stored config, by the rule in the header */
static void resolve_glue_dir(ofa_model_file *f)
{
    char *g = f->cfg.data.glue_dir;
    const size_t cap = sizeof f->cfg.data.glue_dir;
    const char *env = getenv("GLUE_DIR");
    if (g[0] == '/' && ofa_is_dir(g)) return;
    char stored[sizeof f->cfg.data.glue_dir];
    snprintf(stored, sizeof stored, "%s", g);
    if (env && *env) {
        snprintf(g, cap, "%s", env);
        snprintf(f->data_note, sizeof f->data_note, "data from $GLUE_DIR=%.400s (the stored data.glue_dir '%.400s' %s)", env,
                 stored, stored[0] == '/' ? "does not exist here" : "is relative to where its run was started");
        return;
    }
    char base[PATH_MAX], cand[PATH_MAX + sizeof f->cfg.data.glue_dir], real[PATH_MAX], here[PATH_MAX];
    if (g[0] != '/' && launch_dir(f, base, sizeof base)) {
        snprintf(cand, sizeof cand, "%s/%s", base, stored);
        if (!realpath(cand, real)) return;
        if (realpath(stored, here) && !strcmp(here, real)) return; /* run from the same folder */
        snprintf(cand, sizeof cand, "%s", real);
        size_t len = strlen(cand);
        if (ofa_is_dir(cand) && len < cap) {
            memcpy(g, cand, len + 1); /* fits: checked (snprintf here trips -Wformat-truncation at -O1) */
            snprintf(f->data_note, sizeof f->data_note,
                     "data from %.400s (the stored data.glue_dir '%.300s', relative to %.300s where its run was started)", cand,
                     stored, base);
        }
    }
}

int ofa_model_file_open(ofa_model_file *f, const char *path, unsigned kinds, const char *who,
                        const ofa_config *c)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    ofa_run_dir_of(path, f->run_dir, sizeof f->run_dir);
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
        if (rc == 0) resolve_glue_dir(f);
        /* the run folder the file sits in now (moved or copied since its run, or opened from
         * another working folder) holds that run's other files: a cyclegan's fidnet.h5, the
         * latency table; the stored output_dir is where it was written */
        char conf[sizeof f->run_dir + 32], log[sizeof f->run_dir + 32];
        snprintf(conf, sizeof conf, "%s/%s", f->run_dir, OFA_RUN_CONFIG);
        snprintf(log, sizeof log, "%s/%s", f->run_dir, OFA_RUN_METRICS);
        const size_t n = strlen(f->run_dir);
        if (rc == 0 && (ofa_file_exists(conf) || ofa_file_exists(log)) && n < sizeof f->cfg.experiment.output_dir)
            memcpy(f->cfg.experiment.output_dir, f->run_dir, n + 1);
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
    int rc = ofa_arch_check(a, &f->space);
    char canon[OFA_ARCH_TEXT_MAX];
    ofa_arch_print(a, &f->space, canon, sizeof canon);
    if (rc < 0 && strcmp(canon, text) != 0) /* a shorthand: say what it stands for */
        return ofa_err_prefix(rc, "'%s' stands for %s", text, canon);
    return rc;
}

void ofa_model_file_close(ofa_model_file *f)
{
    if (!f) return;
    ofa_model_free(&f->m);
    ofa_ckpt_meta_free(&f->meta);
}
