#include "datasets/taskdata.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"

int ofa_taskdata_task(const ofa_config *c)
{
    int task = ofa_task_from_name(c->data.task);
    if (task < 0) {
        char names[256] = "";
        for (int t = 0; t < OFA_TASK_COUNT; t++) {
            strcat(names, t ? ", " : "");
            strcat(names, ofa_task_get(t)->name);
        }
        return OFA_ERR(OFA_E_CONFIG, "%s: data.task: unknown task '%s' (expected one of %s)", c->source, c->data.task,
                       names);
    }
    return task;
}

int ofa_taskdata_encode(ofa_encoded *e, const char *glue_dir, int task, const char *split, const ofa_vocab *v,
                        int lowercase, int max_seq_len, int skip_bad, int64_t limit)
{
    ofa_glue_split s;
    OFA_TRY(ofa_glue_load(&s, glue_dir, task, split, skip_bad, limit));
    if (s.skipped) OFA_WARN("%s: skipped %lld malformed rows", s.path, (long long)s.skipped);
    int rc = ofa_encode_split(e, &s, v, lowercase, max_seq_len);
    if (rc == 0 && e->truncated)
        OFA_INFO("%s: %lld of %lld examples truncated to %d tokens", s.path, (long long)e->truncated, (long long)e->n,
                 max_seq_len);
    ofa_glue_free(&s);
    return rc;
}

int ofa_taskdata_vocab(ofa_vocab *v, const ofa_config *c, const ofa_glue_split *train)
{
    if (c->data.vocab_file[0]) {
        int rc = ofa_vocab_load(v, c->data.vocab_file);
        if (rc < 0) return ofa_err_prefix(rc, "data.vocab_file");
        OFA_INFO("vocabulary: %d tokens from %s", v->n, c->data.vocab_file);
        return 0;
    }
    double t0 = ofa_now();
    int64_t n = 0;
    const char **texts = ofa_xmalloc((size_t)(2 * train->n + 1) * sizeof *texts);
    for (int64_t i = 0; i < train->n; i++) {
        texts[n++] = train->ex[i].a;
        if (train->ex[i].b) texts[n++] = train->ex[i].b;
    }
    int rc = ofa_vocab_build(v, texts, n, c->data.vocab_size, c->data.lowercase);
    free(texts);
    if (rc == 0)
        OFA_INFO("vocabulary: built %d WordPiece tokens from %lld training examples in %.1fs", v->n,
                 (long long)train->n, ofa_now() - t0);
    return rc;
}
