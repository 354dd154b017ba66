/* cli/predict: `ofa predict MODEL.h5 [--arch ARCH] [--text "..."]... [--batch N] [--threads N]
 * [-o OUT.tsv]`: labels and class probabilities (or the STS-B score) of raw sentences, one example
 * a line from --text or stdin, as TSV (models/family.h data_from_text and predict_write). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/sys.h"
#include "models/checkpoint.h"

/* stdin's lines (newlines and a trailing CR stripped), empty lines skipped */
static int read_lines(char ***out, int64_t *n)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t k = 0, kcap = 0;
    char **v = NULL;
    while ((len = getline(&buf, &cap, stdin)) >= 0) {
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = '\0';
        if (len == 0) continue;
        if (k == kcap) v = ofa_xrealloc(v, (size_t)(kcap = 2 * kcap + 64) * sizeof *v);
        v[k++] = ofa_xstrdup(buf);
    }
    free(buf);
    *out = v, *n = k;
    return 0;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *arch_text = NULL, *out = NULL;
    int batch = 0, threads = 0;
    char **texts = ofa_xcalloc((size_t)argc + 1, sizeof *texts);
    int64_t n = 0;
    int rc = 0;
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--arch") || !strcmp(s, "-o") || !strcmp(s, "--text") || !strcmp(s, "--batch") ||
            !strcmp(s, "--threads")) {
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
                if (*end || x < 1 || x > 65536) rc = OFA_ERR(OFA_E_USAGE, "%s '%s' must be 1 to 65536", s, v);
                *(s[2] == 'b' ? &batch : &threads) = (int)x;
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
    int own = 0;
    if (rc == 0 && n == 0) { /* stdin */
        free(texts);
        texts = NULL;
        rc = read_lines(&lines, &n);
        own = 1;
        if (rc == 0 && n == 0) rc = OFA_ERR(OFA_E_USAGE, "no input: --text \"...\" or one example a line on stdin");
    }
    ofa_model_file f;
    int opened = 0;
    if (rc == 0) {
        rc = ofa_model_file_open(&f, model, 0, "predict needs a model", NULL);
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
    if (rc == 0) rc = fam->data_from_text(&d, &f.m, lines, n);
    if (rc == 0) {
        if (batch) fam->data_set_batch(d, batch);
        rc = fam->predict_write(&f.m, sub ? &a : NULL, d, out, OFA_PREDICT_PROBS);
        fam->data_free(d);
    }
    if (rc == 0 && out) fprintf(stderr, "predict: %lld example%s -> %s\n", (long long)n, n == 1 ? "" : "s", out);
    if (opened) ofa_model_file_close(&f);
    if (own) {
        for (int64_t i = 0; i < n; i++) free(lines[i]);
        free(lines);
    } else {
        free(texts);
    }
    return rc;
}
