#include "coordinator/fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/h5io.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "models/registry.h"

static const char *const g_stage_names[] = {"teacher", "student", "prune", "reorder", "supernet", "search"};
static const char *const g_stage_files[] = {OFA_RUN_TEACHER,   OFA_RUN_STUDENT,  OFA_RUN_PRUNED,
                                            OFA_RUN_REORDERED, OFA_RUN_SUPERNET, OFA_RUN_SEARCH_STATE};
_Static_assert(sizeof g_stage_names / sizeof *g_stage_names == OFA_STAGE_COUNT, "one name per stage");
_Static_assert(sizeof g_stage_files / sizeof *g_stage_files == OFA_STAGE_COUNT, "one file per stage");

const char *ofa_stage_name(int stage)
{
    OFA_ASSERT(stage >= 0 && stage < OFA_STAGE_COUNT);
    return g_stage_names[stage];
}

const char *ofa_stage_file(int stage)
{
    OFA_ASSERT(stage >= 0 && stage < OFA_STAGE_COUNT);
    return g_stage_files[stage];
}

int ofa_stage_plan(const ofa_config *c, int *plan)
{
    const ofa_family *fam = ofa_family_find(c->model.type);
    int n = 0;
    plan[n++] = OFA_STAGE_TEACHER;
    if (fam && fam->student_stages) {
        plan[n++] = OFA_STAGE_STUDENT;
        plan[n++] = OFA_STAGE_PRUNE;
    } else {
        plan[n++] = OFA_STAGE_REORDER;
    }
    plan[n++] = OFA_STAGE_SUPERNET;
    plan[n++] = OFA_STAGE_SEARCH;
    return n;
}

int ofa_stage_prev(const ofa_config *c, int stage)
{
    OFA_ASSERT(stage >= 0 && stage < OFA_STAGE_COUNT);
    if (stage == OFA_STAGE_TEACHER) return -1;
    /* a stage outside the plan (ofa reorder on a cyclegan config, ofa student on BERT's) reads the
     * teacher, or the student for prune */
    if (stage == OFA_STAGE_STUDENT || stage == OFA_STAGE_REORDER) return OFA_STAGE_TEACHER;
    if (stage == OFA_STAGE_PRUNE) return OFA_STAGE_STUDENT;
    int plan[OFA_STAGE_COUNT];
    const int n = ofa_stage_plan(c, plan);
    for (int i = 1; i < n; i++)
        if (plan[i] == stage) return plan[i - 1];
    OFA_ASSERT(!"a stage outside the plan");
    return -1;
}

#define OPTIM_KEYS "optim.warmup_ratio", "optim.weight_decay", "optim.grad_clip", "optim.beta1", "optim.beta2", "optim.eps"

/* The config keys each stage reads (what it computes depends on them); NULL-terminated. */
static const char *const g_teacher_keys[] = {
    "experiment.seed", "model.type", "model.layers", "model.hidden", "model.heads", "model.head_dim", "model.ffn",
    "model.dropout", "model.max_position", "model.init_std", "teacher.epochs",
    "teacher.max_steps", "teacher.batch_size", "teacher.lr", "teacher.eval_every", OPTIM_KEYS, NULL};
/* importance over data.dev_limit dev rows in batches of teacher.batch_size */
static const char *const g_reorder_keys[] = {"reorder.enabled", "reorder.batches", "teacher.batch_size",
                                             "data.dev_limit", NULL};
static const char *const g_supernet_keys[] = {
    "experiment.seed", "model.dropout", "supernet.space.depth", "supernet.space.heads", "supernet.space.ffn",
    "supernet.space.hidden", "supernet.space.depth_rule", "supernet.phases", "supernet.sampler.strategy",
    "supernet.sampler.subnets_per_step", "supernet.micro_batches", "supernet.distill.lambda_logit",
    "supernet.distill.lambda_hidden", "supernet.distill.lambda_hard", "supernet.distill.temperature",
    "supernet.batch_size", "supernet.max_steps", OPTIM_KEYS, NULL};
static const char *const g_search_keys[] = {
    "experiment.seed", "search.population", "search.generations", "search.parents", "search.mutate_prob",
    "search.mutation_ratio", "search.budgets_ms", "search.latency.mode", "search.latency.batch",
    "search.latency.seq_len", "search.latency.threads", "search.latency.warmup", "search.latency.repeats",
    "search.val_limit", "search.dev_limit", NULL};
/* the cyclegan family's student and prune stages: the loop's keys here, the family's own
 * (teacher_keys of the stage's kind: losses, widths) after them */
static const char *const g_student_keys[] = {"experiment.seed",    "student.epochs", "student.max_steps",
                                             "student.batch_size", "student.lr",     "student.eval_every",
                                             OPTIM_KEYS,           NULL};
static const char *const g_prune_keys[] = {"experiment.seed", "prune.epochs",     "prune.max_steps", "prune.batch_size",
                                           "prune.lr",        "prune.eval_every", OPTIM_KEYS,        NULL};
static const char *const *const g_stage_keys[] = {g_teacher_keys, g_student_keys,  g_prune_keys,
                                                  g_reorder_keys, g_supernet_keys, g_search_keys};
_Static_assert(sizeof g_stage_keys / sizeof *g_stage_keys == OFA_STAGE_COUNT, "one key list per stage");

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1) + 256;
        b->p = ofa_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* every line of text, each prefixed by two spaces */
static void sb_indented(sbuf *b, const char *text)
{
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        sb_str(b, "  ");
        sb_add(b, line, n);
        sb_str(b, "\n");
        line += n + (line[n] == '\n');
    }
}

/* "input <name>: created <time>", or missing / unknown */
static void input_line(sbuf *b, const char *path)
{
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char line[OFA_PATH_MAX + 128];
    if (!ofa_file_exists(path)) {
        snprintf(line, sizeof line, "input %s: missing\n", name);
    } else {
        ofa_h5 h;
        char *created = NULL;
        if (ofa_h5_open(&h, path) == 0) {
            if (ofa_h5_attr_exists(&h, "/", "created")) ofa_h5_attr_get_str(&h, "/", "created", &created);
            ofa_h5_close(&h);
        }
        ofa_err_clear();
        snprintf(line, sizeof line, "input %s: created %s\n", name, created ? created : "unknown");
        free(created);
    }
    sb_str(b, line);
}

int ofa_fingerprint_make(char **out, const ofa_config *c, int stage, const char *input, const char *extra)
{
    OFA_ASSERT(stage >= 0 && stage < OFA_STAGE_COUNT);
    *out = NULL;
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "stage: ");
    sb_str(&b, ofa_stage_name(stage));
    sb_str(&b, "\n");
    for (const char *const *k = g_stage_keys[stage]; *k; k++) {
        char *v = ofa_config_key_text(c, *k);
        OFA_ASSERT(v);
        sb_str(&b, *k);
        sb_str(&b, ": ");
        sb_str(&b, v);
        sb_str(&b, "\n");
        free(v);
    }
    int rc = 0;
    if (stage <= OFA_STAGE_PRUNE) { /* the training stages: enum ofa_train_kind's order */
        /* the data: the family's business (model.type names it for the teacher) */
        const ofa_family *fam = ofa_family_find(c->model.type);
        if (!fam) {
            rc = OFA_ERR(OFA_E_CONFIG, "%s: model.type '%s' is not a model family this build knows",
                         ofa_config_origin(c, "model.type"), c->model.type);
        } else {
            enum { CAP = 8192 };
            char *data = ofa_xmalloc(CAP);
            /* the family's own keys (a CycleGAN's shape and losses) */
            for (const char *const *k = fam->teacher_keys[stage]; *k; k++) {
                char *v = ofa_config_key_text(c, *k);
                OFA_ASSERT(v);
                sb_str(&b, *k);
                sb_str(&b, ": ");
                sb_str(&b, v);
                sb_str(&b, "\n");
                free(v);
            }
            if (stage == OFA_STAGE_TEACHER) rc = fam->data_fingerprint(c, data, CAP); /* the later ones: in the input's */
            if (rc == 0 && stage == OFA_STAGE_TEACHER) sb_str(&b, data);
            free(data);
        }
    }
    if (rc == 0 && extra) sb_str(&b, extra);
    const int from = ofa_stage_prev(c, stage);
    if (rc == 0 && from >= 0) {
        char path[OFA_PATH_MAX + 64];
        if (input) snprintf(path, sizeof path, "%s", input);
        else ofa_run_path(path, sizeof path, c, ofa_stage_file(from));
        input_line(&b, path);
        /* what the input was made from: the previous stage under this config (a stage runs only on an
         * input that agrees with it) */
        char *prev = NULL;
        rc = ofa_fingerprint_make(&prev, c, from, NULL, NULL);
        if (rc == 0) sb_indented(&b, prev);
        free(prev);
    }
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

int ofa_fingerprint_read(const char *path, char **out)
{
    *out = NULL;
    ofa_h5 h;
    OFA_TRY(ofa_h5_open(&h, path));
    int rc = 0;
    if (ofa_h5_attr_exists(&h, "/", "fingerprint")) rc = ofa_h5_attr_get_str(&h, "/", "fingerprint", out);
    ofa_h5_close(&h);
    return rc;
}

/* One line of a fingerprint: its depth (indent / 2), key and value (pointers into the text). */
typedef struct line {
    int depth;
    const char *key, *val;
    int nkey, nval;
} line;

/* the line at *p, advancing *p; 0 at the end */
static int next_line(const char **p, line *l)
{
    const char *s = *p;
    if (!s || !*s) return 0;
    size_t n = strcspn(s, "\n");
    *p = s + n + (s[n] == '\n');
    int sp = 0;
    while (sp < (int)n && s[sp] == ' ') sp++;
    l->depth = sp / 2;
    l->key = s + sp;
    const char *colon = NULL;
    for (const char *q = l->key; q + 1 < s + n && !colon; q++)
        if (q[0] == ':' && q[1] == ' ') colon = q;
    if (!colon) colon = s + n;
    l->nkey = (int)(colon - l->key);
    l->val = colon < s + n ? colon + 2 : colon;
    l->nval = (int)(s + n - l->val);
    return 1;
}

/* A line of a config key that a newer ofa added (a file made before it lacks the line) whose
 * value is the key's default: the default keeps what the older version did, so it agrees. */
static int added_at_default(const line *l)
{
    char key[96];
    if (l->nkey <= 0 || l->nkey >= (int)sizeof key || memchr(l->key, ' ', (size_t)l->nkey) ||
        !memchr(l->key, '.', (size_t)l->nkey))
        return 0;
    memcpy(key, l->key, (size_t)l->nkey);
    key[l->nkey] = '\0';
    ofa_config *d = ofa_xmalloc(sizeof *d);
    ofa_config_defaults(d);
    char *v = ofa_config_key_text(d, key);
    const int same = v && strlen(v) == (size_t)l->nval && !memcmp(v, l->val, (size_t)l->nval);
    free(v);
    free(d);
    return same;
}

int ofa_fingerprint_check(const char *what, const char *had, const char *want, int inputs, const char *hint,
                          int *stage)
{
    hint = hint ? hint : "";
    if (stage) *stage = -1;
    if (!had)
        return OFA_ERR(OFA_E_CONFIG, "%s records no fingerprint (made by an older ofa), so what it was made from is "
                                     "unknown%s",
                       what, hint);
    const char *a = had, *b = want;
    line la, lb;
    int at[32]; /* the stage of the block at each depth */
    for (int i = 0; i < 32; i++) at[i] = -1;
    for (;;) {
        int ga = next_line(&a, &la), gb = next_line(&b, &lb);
        while (gb && (!ga || la.depth != lb.depth || la.nkey != lb.nkey || memcmp(la.key, lb.key, (size_t)la.nkey)) &&
               added_at_default(&lb))
            gb = next_line(&b, &lb); /* a setting added since the file was made, at its default */
        if (!ga && !gb) return 0;
        const int both_inputs = ga && gb && la.depth == lb.depth && la.nkey > 6 && lb.nkey > 6 &&
                                !strncmp(la.key, "input ", 6) && !strncmp(lb.key, "input ", 6);
        if (both_inputs && (la.nkey != lb.nkey || memcmp(la.key, lb.key, (size_t)la.nkey) != 0)) {
            /* another input file by name (search --checkpoint other.h5): not another ofa version */
            if (!inputs || la.depth > 0) continue;
            return OFA_ERR(OFA_E_CONFIG, "%s was made from %.*s (%.*s); the input now is %.*s (%.*s)%s", what,
                           la.nkey - 6, la.key + 6, la.nval, la.val, lb.nkey - 6, lb.key + 6, lb.nval, lb.val, hint);
        }
        if (!ga || !gb || la.depth != lb.depth || la.nkey != lb.nkey || memcmp(la.key, lb.key, (size_t)la.nkey) != 0) {
            if (ga && gb)
                return OFA_ERR(OFA_E_CONFIG, "%s was made by another version of ofa (its fingerprint lists '%.*s' "
                                             "where this one lists '%.*s')%s",
                               what, la.nkey, la.key, lb.nkey, lb.key, hint);
            return OFA_ERR(OFA_E_CONFIG, "%s was made by another version of ofa (its fingerprint %s)%s", what,
                           ga ? "lists more settings" : "lists fewer settings", hint);
        }
        if (la.depth < 32 && la.nkey == 5 && !memcmp(la.key, "stage", 5))
            for (int st = 0; st < OFA_STAGE_COUNT; st++)
                if ((size_t)lb.nval == strlen(ofa_stage_name(st)) && !memcmp(lb.val, ofa_stage_name(st), (size_t)lb.nval))
                    at[la.depth] = st;
        if (la.nval == lb.nval && memcmp(la.val, lb.val, (size_t)la.nval) == 0) continue;
        if (la.nkey > 6 && !strncmp(la.key, "input ", 6)) {
            if (!inputs || la.depth > 0) continue;
            return OFA_ERR(OFA_E_CONFIG, "%s was made from another %.*s (%.*s; the one there now: %.*s)%s", what,
                           la.nkey - 6, la.key + 6, la.nval, la.val, lb.nval, lb.val, hint);
        }
        const int st = la.depth < 32 ? at[la.depth] : -1;
        if (stage) *stage = st;
        char whose[64] = "";
        if (la.depth > 0 && st >= 0) snprintf(whose, sizeof whose, " (a setting of the %s stage)", ofa_stage_name(st));
        return OFA_ERR(OFA_E_CONFIG, "%s was made with %.*s: %.*s%s; the config now says %.*s%s", what, la.nkey, la.key,
                       la.nval, la.val, whose, lb.nval, lb.val, hint);
    }
}
