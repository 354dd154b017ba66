/* datasets/glue: the GLUE task table and the TSV loader (see glue.h). */
#include "datasets/glue.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static const char *const labels01[] = {"0", "1"};
static const char *const labels_nli2[] = {"entailment", "not_entailment"};
/* BERT's run_classifier.py / transformers' MnliProcessor order. */
static const char *const labels_mnli[] = {"contradiction", "entailment", "neutral"};

static const ofa_task_info task_table[OFA_TASK_COUNT] = {
    [OFA_TASK_COLA] = {"cola", "CoLA", "CoLA", 2, 0, labels01, "mcc"},
    [OFA_TASK_SST2] = {"sst-2", "SST-2", "SST-2", 2, 0, labels01, "accuracy", 1},
    [OFA_TASK_MRPC] = {"mrpc", "MRPC", "MRPC", 2, 1, labels01, "f1"},
    [OFA_TASK_STSB] = {"sts-b", "STS-B", "STS-B", 1, 1, NULL, "pearson", .label_min = 0, .label_max = 5},
    [OFA_TASK_QQP] = {"qqp", "QQP", "QQP", 2, 1, labels01, "f1"},
    [OFA_TASK_MNLI] = {"mnli", "MNLI", "MNLI-m", 3, 1, labels_mnli, "accuracy"},
    [OFA_TASK_MNLI_MM] = {"mnli-mm", "MNLI", "MNLI-mm", 3, 1, labels_mnli, "accuracy"},
    [OFA_TASK_QNLI] = {"qnli", "QNLI", "QNLI", 2, 1, labels_nli2, "accuracy"},
    [OFA_TASK_RTE] = {"rte", "RTE", "RTE", 2, 1, labels_nli2, "accuracy"},
    [OFA_TASK_WNLI] = {"wnli", "WNLI", "WNLI", 2, 1, labels01, "accuracy"},
};
_Static_assert(sizeof task_table / sizeof task_table[0] == OFA_TASK_COUNT, "task table size");

/* name with '-', '_' and spaces removed, lowercased, into out (size n) */
static void squash_name(const char *name, char *out, size_t n)
{
    size_t k = 0;
    for (; *name && k + 1 < n; name++) {
        if (*name == '-' || *name == '_' || *name == ' ') continue;
        out[k++] = (char)tolower((unsigned char)*name);
    }
    out[k] = '\0';
}

int ofa_task_from_name(const char *name)
{
    if (!name) return -1;
    char want[32], have[32];
    if (strlen(name) >= sizeof want) return -1;
    squash_name(name, want, sizeof want);
    for (int t = 0; t < OFA_TASK_COUNT; t++) {
        squash_name(task_table[t].name, have, sizeof have);
        if (strcmp(want, have) == 0) return t;
    }
    static const struct {
        const char *alias;
        int task;
    } aliases[] = {{"mnlim", OFA_TASK_MNLI},          {"mnlimatched", OFA_TASK_MNLI},
                   {"mnlimismatched", OFA_TASK_MNLI_MM}, {"stsbenchmark", OFA_TASK_STSB}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(want, aliases[i].alias) == 0) return aliases[i].task;
    return -1;
}

const ofa_task_info *ofa_task_get(int task)
{
    OFA_ASSERT(task >= 0 && task < OFA_TASK_COUNT);
    return &task_table[task];
}

/* ---- column layouts ---- */

#define COL_NONE (-1)
#define COL_LAST (-2) /* the label is the row's last column (MNLI gold_label) */

typedef struct layout {
    int header;
    int col_a, col_b, col_label, col_index; /* COL_NONE when absent */
} layout;

static layout task_layout(int task, int test)
{
    switch (task) {
    case OFA_TASK_COLA: return test ? (layout){1, 1, COL_NONE, COL_NONE, 0} : (layout){0, 3, COL_NONE, 1, COL_NONE};
    case OFA_TASK_SST2: return test ? (layout){1, 1, COL_NONE, COL_NONE, 0} : (layout){1, 0, COL_NONE, 1, COL_NONE};
    case OFA_TASK_MRPC: return test ? (layout){1, 3, 4, COL_NONE, 0} : (layout){1, 3, 4, 0, COL_NONE};
    case OFA_TASK_STSB: return test ? (layout){1, 7, 8, COL_NONE, 0} : (layout){1, 7, 8, 9, COL_NONE};
    case OFA_TASK_QQP: return test ? (layout){1, 1, 2, COL_NONE, 0} : (layout){1, 3, 4, 5, COL_NONE};
    case OFA_TASK_MNLI:
    case OFA_TASK_MNLI_MM: return test ? (layout){1, 8, 9, COL_NONE, 0} : (layout){1, 8, 9, COL_LAST, COL_NONE};
    case OFA_TASK_QNLI:
    case OFA_TASK_RTE:
    case OFA_TASK_WNLI: return test ? (layout){1, 1, 2, COL_NONE, 0} : (layout){1, 1, 2, 3, COL_NONE};
    default: OFA_ASSERT(0 && "unknown task"); return (layout){0, 0, 0, 0, 0};
    }
}

static const char *split_file(int task, const char *split)
{
    if (strcmp(split, "train") == 0) return "train.tsv";
    if (strcmp(split, "dev") == 0) {
        if (task == OFA_TASK_MNLI) return "dev_matched.tsv";
        if (task == OFA_TASK_MNLI_MM) return "dev_mismatched.tsv";
        return "dev.tsv";
    }
    if (strcmp(split, "test") == 0) {
        if (task == OFA_TASK_MNLI) return "test_matched.tsv";
        if (task == OFA_TASK_MNLI_MM) return "test_mismatched.tsv";
        return "test.tsv";
    }
    return NULL;
}

void ofa_glue_path(char *buf, size_t n, const char *glue_dir, int task, const char *split)
{
    const char *file = split_file(task, split);
    snprintf(buf, n, "%s/%s/%s", glue_dir ? glue_dir : "", ofa_task_get(task)->dir, file ? file : "?");
}

#define GLUE_HINT "GLUE data not found: set GLUE_DIR or data.glue_dir to a glue_data folder (see docs/data.md)"

static int read_all(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) return OFA_ERR(OFA_E_IO, "%s: %s. " GLUE_HINT, path, strerror(e));
        return OFA_ERR(OFA_E_IO, "%s: %s", path, strerror(e));
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = ofa_xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = ofa_xrealloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return OFA_ERR(OFA_E_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* "..." with "" escapes -> unquoted in place, only when the field is exactly one well-formed quoted
 * string containing at least one "" escape (GLUE files are otherwise read with quoting disabled). */
static void unquote_field(char *f)
{
    size_t n = strlen(f);
    if (n < 4 || f[0] != '"' || f[n - 1] != '"') return;
    int escapes = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (f[i] != '"') continue;
        if (i + 2 < n && f[i + 1] == '"') {
            escapes++;
            i++;
        } else {
            return; /* a lone quote inside: not a quoted field */
        }
    }
    if (!escapes) return;
    size_t k = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        f[k++] = f[i];
        if (f[i] == '"') i++;
    }
    f[k] = '\0';
}

/* trims ASCII spaces in place, returns the start */
static char *trim(char *s)
{
    while (*s == ' ') s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ') s[--n] = '\0';
    return s;
}

static void label_list(const ofa_task_info *ti, char *buf, size_t n)
{
    buf[0] = '\0';
    size_t k = 0;
    for (int i = 0; i < ti->num_labels && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", ti->label_names[i]);
}

/* Parses one row; 0 ok, OFA_E_DATA with message otherwise. */
static int parse_row(ofa_example *ex, char **fields, int nf, const layout *L, const ofa_task_info *ti,
                     const char *path, int64_t line, int64_t number)
{
    int need = 0;
    int cols[4] = {L->col_a, L->col_b, L->col_label, L->col_index};
    for (int i = 0; i < 4; i++)
        if (cols[i] + 1 > need) need = cols[i] + 1;
    if (L->col_label == COL_LAST) need++; /* label after the last text column */
    if (nf < need)
        return OFA_ERR(OFA_E_DATA, "%s:%lld: expected %d columns, found %d", path, (long long)line, need, nf);
    memset(ex, 0, sizeof *ex);
    ex->line = line;
    ex->index = number;
    if (L->col_label != COL_NONE) {
        char *lab = trim(fields[L->col_label == COL_LAST ? nf - 1 : L->col_label]);
        if (ti->num_labels == 1) {
            char *end;
            errno = 0;
            double v = strtod(lab, &end);
            if (end == lab || *end || errno || !isfinite(v))
                return OFA_ERR(OFA_E_DATA, "%s:%lld: bad label '%s' (expected a number)", path, (long long)line, lab);
            if (v < ti->label_min || v > ti->label_max)
                return OFA_ERR(OFA_E_DATA, "%s:%lld: label %s is outside %s's range [%g, %g]", path, (long long)line,
                               lab, ti->name, ti->label_min, ti->label_max);
            ex->label = (float)v;
        } else {
            int id = -1;
            for (int i = 0; i < ti->num_labels; i++)
                if (strcmp(lab, ti->label_names[i]) == 0) id = i;
            if (id < 0) {
                char names[128];
                label_list(ti, names, sizeof names);
                return OFA_ERR(OFA_E_DATA, "%s:%lld: bad label '%s' (expected one of %s)", path, (long long)line, lab,
                               names);
            }
            ex->label = (float)id;
        }
    }
    if (L->col_index != COL_NONE) {
        char *s = trim(fields[L->col_index]), *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || *end || errno)
            return OFA_ERR(OFA_E_DATA, "%s:%lld: bad index '%s' (expected an integer)", path, (long long)line, s);
        ex->index = v;
    }
    unquote_field(fields[L->col_a]);
    ex->a = ofa_xstrdup(fields[L->col_a]);
    if (L->col_b != COL_NONE) {
        unquote_field(fields[L->col_b]);
        ex->b = ofa_xstrdup(fields[L->col_b]);
    }
    return 0;
}

int ofa_glue_load(ofa_glue_split *s, const char *glue_dir, int task, const char *split, int skip_bad,
                  int64_t limit)
{
    OFA_ASSERT(s && split);
    memset(s, 0, sizeof *s);
    OFA_ASSERT(task >= 0 && task < OFA_TASK_COUNT);
    s->task = task;
    const ofa_task_info *ti = &task_table[task];
    const char *file = split_file(task, split);
    if (!file) return OFA_ERR(OFA_E_CONFIG, "unknown split '%s' (expected train, dev or test)", split);
    if (!glue_dir || !*glue_dir) return OFA_ERR(OFA_E_IO, "data.glue_dir is empty. " GLUE_HINT);
    snprintf(s->path, sizeof s->path, "%s/%s/%s", glue_dir, ti->dir, file);
    int test = strcmp(split, "test") == 0;
    layout L = task_layout(task, test);
    s->has_labels = !test;

    char *buf = NULL;
    size_t len = 0;
    OFA_TRY(read_all(s->path, &buf, &len));
    char *p = buf, *end = buf + len;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF) p += 3;
    /* ignore empty lines at the end */
    while (end > p && (end[-1] == '\n' || end[-1] == '\r')) end--;
    *end = '\0';

    int64_t cap = 0, line = 0;
    int fcap = 16, header_cols = 0;
    char **fields = ofa_xmalloc((size_t)fcap * sizeof *fields);
    int rc = 0;
    while (p < end) {
        /* a line ends at \n, \r\n or a lone \r (old Mac files: a file of CR-only lines is not one line) */
        char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') eol++;
        char *next = eol < end ? eol + 1 + (eol[0] == '\r' && eol + 1 < end && eol[1] == '\n') : end;
        line++;
        *eol = '\0';
        if (line == 1 && L.header) {
            header_cols = 1;
            for (const char *c = p; *c; c++) header_cols += *c == '\t';
            p = next;
            continue;
        }
        if (limit > 0 && s->n >= limit) break;
        int nf = 0;
        for (char *f = p;;) {
            if (nf == fcap) fields = ofa_xrealloc(fields, (size_t)(fcap *= 2) * sizeof *fields);
            fields[nf++] = f;
            char *tab = strchr(f, '\t');
            if (!tab) break;
            *tab = '\0';
            f = tab + 1;
        }
        if (s->n == cap) {
            cap = cap ? 2 * cap : 1024;
            s->ex = ofa_xrealloc(s->ex, (size_t)cap * sizeof *s->ex);
        }
        if (header_cols && nf > header_cols)
            rc = OFA_ERR(OFA_E_DATA, "%s:%lld: %d columns, but the header has %d (a tab inside a sentence?)", s->path,
                         (long long)line, nf, header_cols);
        else
            rc = parse_row(&s->ex[s->n], fields, nf, &L, ti, s->path, line, s->n);
        if (rc < 0) {
            if (!skip_bad) break;
            s->skipped++;
            rc = 0;
        } else {
            s->n++;
        }
        p = next;
    }
    free(fields);
    free(buf);
    if (rc == 0 && s->n == 0)
        rc = s->skipped ? OFA_ERR(OFA_E_DATA, "%s: all %lld rows are malformed (data.skip_bad_rows skipped them)",
                                  s->path, (long long)s->skipped)
                        : OFA_ERR(OFA_E_DATA, "%s: no rows (the file is empty%s)", s->path,
                                  L.header ? " or has only its header" : "");
    if (rc < 0) {
        char path[sizeof s->path];
        memcpy(path, s->path, sizeof path);
        ofa_glue_free(s);
        memcpy(s->path, path, sizeof path);
        s->task = task;
    }
    return rc;
}

void ofa_glue_free(ofa_glue_split *s)
{
    if (!s) return;
    for (int64_t i = 0; i < s->n; i++) {
        free(s->ex[i].a);
        free(s->ex[i].b);
    }
    free(s->ex);
    memset(s, 0, sizeof *s);
}
