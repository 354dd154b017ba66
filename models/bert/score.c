#include "models/bert/score.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timer.h"
#include "datasets/taskdata.h"

int ofa_score_bert(const ofa_bert *m, ofa_bert_infer_ws *ws, const ofa_encoded *e, int task, int batch,
                   const ofa_bert_arch *arch, int has_labels, ofa_scores *out)
{
    double t0 = ofa_now();
    const int C = m->d.C;
    if (batch > ws->Bmax || e->max_len > ws->Tmax || e->max_len > m->d.P)
        return OFA_ERR(OFA_E_RUNTIME, "scoring: batch %d x %d tokens exceeds the workspace (%d x %d) or the "
                                      "model's %d positions",
                       batch, e->max_len, ws->Bmax, ws->Tmax, m->d.P);
    memset(out, 0, sizeof *out);
    out->n = e->n;
    out->C = C;
    out->pred = ofa_xcalloc((size_t)e->n + 1, sizeof(float));
    out->logits = ofa_xcalloc((size_t)e->n * C + 1, sizeof(float));
    int64_t *order = ofa_xmalloc(((size_t)e->n + 1) * sizeof *order);
    for (int64_t i = 0; i < e->n; i++) order[i] = i;
    qsort_r(order, (size_t)e->n, sizeof *order, ofa_encoded_len_cmp, (void *)e);
    ofa_batch b;
    ofa_batch_init(&b);
    for (int64_t s = 0; s < e->n; s += batch) {
        int B = (int)(e->n - s < batch ? e->n - s : batch);
        ofa_batch_make(&b, e, order + s, B, 0);
        const float *lg = ofa_bert_infer(m, ws, b.ids, b.types, b.lens, B, b.T, arch);
        for (int i = 0; i < B; i++) {
            int64_t r = order[s + i];
            memcpy(out->logits + r * C, lg + (size_t)i * C, (size_t)C * sizeof(float));
            if (C == 1) {
                out->pred[r] = lg[i];
            } else {
                int best = 0;
                for (int c = 1; c < C; c++)
                    if (lg[(size_t)i * C + c] > lg[(size_t)i * C + best]) best = c;
                out->pred[r] = (float)best;
            }
        }
    }
    ofa_batch_free(&b);
    free(order);
    if (has_labels) ofa_glue_metrics(task, out->pred, e->label, e->n, &out->metrics);
    out->seconds = ofa_now() - t0;
    return 0;
}

void ofa_scores_free(ofa_scores *s)
{
    if (!s) return;
    free(s->pred);
    free(s->logits);
    s->pred = s->logits = NULL;
}
