/* cli/predict: `ofa predict MODEL.h5 [--arch ARCH] [--text "..."]... [--batch N] [--threads N]
 * [--max-seq-len N] [-o OUT.tsv]`: labels and class probabilities (or the STS-B score) of raw
 * sentences, one example a line from --text or stdin, as TSV (models/family.h data_from_text and
 * predict_write).  Blank lines of stdin are skipped (and counted on stderr); errors name the
 * input's own line numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/sys.h"
#include "models/checkpoint.h"

/* stdin's lines (newlines and a trailing CR stripped, NUL bytes dropped as the tokenizer drops
 * control characters) and their 1-based line numbers; lines of nothing but spaces and tabs are
 * skipped and counted in *blank */
static void read_lines(char ***out, int64_t **line_no, int64_t *n, int64_t *blank)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t k = 0, kcap = 0, at = 0;
    char **v = NULL;
    int64_t *no = NULL;
    *blank = 0;
    while ((len = getline(&buf, &cap, stdin)) >= 0) {
        at++;
        ssize_t w = 0;
        for (ssize_t i = 0; i < len; i++)
            if (buf[i]) buf[w++] = buf[i];
        while (w > 0 && (buf[w - 1] == '\n' || buf[w - 1] == '\r')) w--;
        buf[w] = '\0';
        if (buf[strspn(buf, " \t")] == '\0') {
            ++*blank;
            continue;
        }
        if (k == kcap) {
            kcap = 2 * kcap + 64;
            v = ofa_xrealloc(v, (size_t)kcap * sizeof *v);
            no = ofa_xrealloc(no, (size_t)kcap * sizeof *no);
        }
        no[k] = at;
        v[k++] = ofa_xstrdup(buf);
    }
    free(buf);
    *out = v, *line_no = no, *n = k;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *arch_text = NULL, *out = NULL;
    int batch = 0, threads = 0, max_len = 0;
    char **texts = ofa_xcalloc((size_t)argc + 1, sizeof *texts);
    int64_t n = 0;
    int rc = 0;
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--arch") || !strcmp(s, "-o") || !strcmp(s, "--text") || !strcmp(s, "--batch") ||
            !strcmp(s, "--threads") || !strcmp(s, "--max-seq-len")) {
            if (!v) {
                rc = OFA_ERR(OFA_E_USAGE, "%s needs a value", s);
                break;
            }
            if (!strcmp(s, "--text")) texts[n++] = (char *)v;
            else if (!strcmp(s, "--arch")) arch_text = v;
            else if (!strcmp(s, "-o")) out = v;
            else {
                char *end = NULL;
                long x = strtol(v, &end, 10);
                const long lo = s[2] == 'm' ? 4 : 1; /* [CLS] a [SEP] b [SEP] */
                if (*end || x < lo || x > 65536) rc = OFA_ERR(OFA_E_USAGE, "%s '%s' must be %ld to 65536", s, v, lo);
                *(s[2] == 'b' ? &batch : s[2] == 't' ? &threads : &max_len) = (int)x;
            }
            i++;
        } else if (s[0] == '-') {
            rc = OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'predict'", s);
        } else if (!model) {
            model = s;
        } else {
            rc = OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (rc == 0 && !model) rc = OFA_ERR(OFA_E_USAGE, "'predict' needs MODEL.h5 (and --text or lines on stdin)");
    char **lines = texts;
    int64_t *line_no = NULL, blank = 0;
    int own = 0;
    if (rc == 0 && n == 0) { /* stdin */
        free(texts);
        texts = NULL;
        read_lines(&lines, &line_no, &n, &blank);
        own = 1;
        if (n == 0) rc = OFA_ERR(OFA_E_USAGE, "no input: --text \"...\" or one example a line on stdin");
        else if (blank) fprintf(stderr, "predict: %lld blank line%s skipped\n", (long long)blank, blank == 1 ? "" : "s");
    }
    ofa_model_file f;
    int opened = 0;
    if (rc == 0) {
        /* as eval: an arch picks a subnet of a supernet; other files are one model */
        rc = ofa_model_file_open(&f, model, arch_text ? OFA_KIND(OFA_CKPT_SUPERNET) : 0u,
                                 "--arch needs a supernet (ofa supernet)", NULL);
        opened = rc == 0;
    }
    if (rc == 0 && threads) ofa_set_blas_threads(threads);
    const ofa_family *fam = opened ? ofa_model_family(&f.m) : NULL;
    if (rc == 0 && !fam->data_from_text)
        rc = OFA_ERR(OFA_E_USAGE, "%s: a %s model takes no text ('ofa translate' is a cyclegan's)", model,
                     f.meta.model);
    ofa_arch a;
    const int sub = rc == 0 && (arch_text || f.meta.kind_id == OFA_CKPT_SUPERNET);
    if (rc == 0 && sub) rc = ofa_model_file_arch(&f, arch_text, &a);
    ofa_data *d = NULL;
    if (rc == 0) rc = fam->data_from_text(&d, &f.m, lines, line_no, n, max_len);
    if (rc == 0) {
        if (batch) fam->data_set_batch(d, batch);
        if (out) rc = ofa_mkdirs_for(out); /* -o runs/x/p.tsv makes runs/x, as import's -o does */
        if (rc == 0) rc = fam->predict_write(&f.m, sub ? &a : NULL, d, out, OFA_PREDICT_PROBS);
        fam->data_free(d);
    }
    if (rc == 0 && out) fprintf(stderr, "predict: %lld example%s -> %s\n", (long long)n, n == 1 ? "" : "s", out);
    if (opened) ofa_model_file_close(&f);
    if (own) {
        for (int64_t i = 0; i < n; i++) free(lines[i]);
        free(lines);
        free(line_no);
    } else {
        free(texts);
    }
    return rc;
}
