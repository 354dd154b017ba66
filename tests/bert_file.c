#include "tests/bert_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/bert/family.h"

int ofa_ckpt_save_bert_ex(const char *path, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                          const ofa_adamw *opt, int (*extra)(ofa_h5 *h, void *ctx), void *ctx)
{
    /* a view of the caller's model and vocabulary (nothing copied, nothing freed here) */
    ofa_bert_model bm;
    memset(&bm, 0, sizeof bm);
    bm.m = *m;
    if (vocab) {
        bm.vocab = *vocab;
        bm.has_vocab = 1;
    }
    snprintf(bm.task, sizeof bm.task, "%s", meta->task);
    bm.lowercase = meta->lowercase;
    bm.max_seq_len = meta->max_seq_len;
    ofa_model mm;
    ofa_bert_model_wrap(&mm, &bm);
    return ofa_ckpt_save_model(path, &mm, meta, opt, extra, ctx);
}

int ofa_ckpt_save_bert(const char *path, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                       const ofa_adamw *opt)
{
    return ofa_ckpt_save_bert_ex(path, m, vocab, meta, opt, NULL, NULL);
}

int ofa_ckpt_load_bert(const char *path, ofa_bert *m, ofa_vocab *vocab, ofa_ckpt_meta *meta, ofa_adamw *opt)
{
    ofa_model mm;
    int rc = ofa_ckpt_load_model(path, &mm, meta, opt);
    if (rc < 0) return rc;
    if (mm.family != OFA_FAMILY_BERT) {
        ofa_model_free(&mm);
        ofa_ckpt_meta_free(meta);
        return OFA_ERR(OFA_E_FORMAT, "%s: holds a '%s' model, expected bert", path, meta->model);
    }
    ofa_bert_model *bm = mm.net;
    *m = bm->m; /* moved out: the container alone is freed */
    if (vocab && bm->has_vocab) *vocab = bm->vocab;
    else if (vocab) memset(vocab, 0, sizeof *vocab);
    else if (bm->has_vocab) ofa_vocab_free(&bm->vocab);
    free(bm);
    return rc;
}
