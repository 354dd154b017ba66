/* coordinator/checkpoint: ofa's HDF5 checkpoints (layout in docs/checkpoint-format.md).
 *
 * A BERT checkpoint holds the model shape and task (root attributes), every weight under
 * /weights/<name>, the vocabulary under /tokenizer/vocab, optionally AdamW state under
 * /optimizer/{m,v}/<name>, and run metadata (kind, step, epoch, seed, RNG state, resolved config).
 * Written atomically (core/h5io).  Opening checks format == "ofa-checkpoint" and that
 * format_version is not newer than this build reads.
 */
#ifndef OFA_COORDINATOR_CHECKPOINT_H
#define OFA_COORDINATOR_CHECKPOINT_H

#include <stdint.h>

#include "core/h5io.h"
#include "core/rng.h"
#include "datasets/wordpiece.h"
#include "nn/optim.h"
#include "models/bert/bert.h"

#define OFA_CKPT_FORMAT "ofa-checkpoint"
#define OFA_CKPT_VERSION 1

/* The root attribute `kind`: what the file holds.  Files store the name (ofa_ckpt_kind_name), so
 * the values may be renumbered; a name, once written, stays. */
enum ofa_ckpt_kind { OFA_CKPT_TEACHER, OFA_CKPT_SUPERNET, OFA_CKPT_SUBNET, OFA_CKPT_SEARCH, OFA_CKPT_KIND_COUNT };

/* "teacher", "supernet", "subnet", "search" (kind must be one of the enum). */
const char *ofa_ckpt_kind_name(int kind);
/* The kind named s, or -1. */
int ofa_ckpt_kind_parse(const char *s);

typedef struct ofa_ckpt_meta {
    char kind[16];      /* teacher | supernet | subnet | search: the attribute as written to the file */
    enum ofa_ckpt_kind kind_id; /* the same, parsed (OFA_CKPT_KIND_COUNT while kind is "") */
    char model[16];     /* bert */
    char task[16];      /* GLUE task name */
    int64_t format_version, step, epoch, phase, seed;
    ofa_rng rng;
    double best_metric; /* dev main metric of these weights (NaN when not evaluated) */
    char metric_name[32];
    int lowercase, max_seq_len;
    char *config_yaml;  /* malloc'd; may be NULL when writing */
    char created[32];
    char arch[512];     /* kind subnet: the arch it was exported as (text form); "" otherwise */
} ofa_ckpt_meta;

/* Zeroes meta with the given kind name ("" or one of the kinds) and the defaults. */
void ofa_ckpt_meta_init(ofa_ckpt_meta *meta, const char *kind);
/* Sets both kind and kind_id. */
void ofa_ckpt_meta_set_kind(ofa_ckpt_meta *meta, enum ofa_ckpt_kind kind);
void ofa_ckpt_meta_free(ofa_ckpt_meta *meta);

/* Writes a BERT checkpoint; opt may be NULL (no optimizer state). */
int ofa_ckpt_save_bert(const char *path, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                       const ofa_adamw *opt);
/* The same, calling extra(h, ctx) (when not NULL) after the standard content and before the commit
 * so a stage can add its own groups (e.g. /importance); a negative return aborts the write. */
int ofa_ckpt_save_bert_ex(const char *path, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                          const ofa_adamw *opt, int (*extra)(ofa_h5 *h, void *ctx), void *ctx);
/* Opens a checkpoint and reads its metadata (verifies format and version; an unknown kind is
 * OFA_E_FORMAT naming the file and the value). Caller closes h. */
int ofa_ckpt_open(ofa_h5 *h, const char *path, ofa_ckpt_meta *meta);
/* Loads a BERT checkpoint: creates *m from the stored shape and reads the weights; vocab may be
 * NULL; opt may be NULL (else AdamW state is read when present: returns 1 if it was). */
int ofa_ckpt_load_bert(const char *path, ofa_bert *m, ofa_vocab *vocab, ofa_ckpt_meta *meta, ofa_adamw *opt);

/* ---- numbered training-state checkpoints: <dir>/<prefix>NNNNNNNN.h5 (step, 8 digits or more) ---- */

/* The path of step's file. */
void ofa_ckpt_step_path(char *buf, size_t n, const char *dir, const char *prefix, int64_t step);
/* Steps of the files in dir named <prefix><digits>.h5, newest first; returns the count (at most
 * cap; 0 when dir does not exist).  Other files are ignored. */
int ofa_ckpt_list(const char *dir, const char *prefix, int64_t *steps, int cap);
/* Removes all but the newest `keep` of them (a failure is a warning: the run goes on). */
void ofa_ckpt_prune(const char *dir, const char *prefix, int keep);
/* Restores m's weights and AdamW state (p.data, p.m, p.v and *opt) from the newest of them that
 * loads, holds optimizer state, has m's parameter count and the step its name says; logs each one
 * it skips and why (`who` names the stage in the log).  Returns that step, 0 when none fits; *meta
 * (may be NULL) then holds its metadata (the caller frees it). */
int64_t ofa_ckpt_resume_newest(const char *dir, const char *prefix, const char *who, ofa_bert *m, ofa_adamw *opt,
                               ofa_ckpt_meta *meta);

#endif
