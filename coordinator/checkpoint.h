/* coordinator/checkpoint: numbered training-state checkpoints (<dir>/<prefix>NNNNNNNN.h5), their
 * rotation, and resuming from the newest one that loads.  The file format is models/checkpoint's.
 * Not collective: rank 0 writes and lists; a resume reads on each rank that calls it.
 */
#ifndef OFA_COORDINATOR_CHECKPOINT_H
#define OFA_COORDINATOR_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "models/checkpoint.h"
#include "nn/optim.h"
#include "nn/params.h"

/* ---- numbered training-state checkpoints: <dir>/<prefix>NNNNNNNN.h5 (step, 8 digits or more) ---- */

/* The path of step's file. */
void ofa_ckpt_step_path(char *buf, size_t n, const char *dir, const char *prefix, int64_t step);
/* Steps of the files in dir named <prefix><digits>.h5, newest first; returns the count (at most
 * cap; 0 when dir does not exist).  Other files are ignored. */
int ofa_ckpt_list(const char *dir, const char *prefix, int64_t *steps, int cap);
/* Removes all but the newest `keep` of them (a failure is a warning: the run goes on). */
void ofa_ckpt_prune(const char *dir, const char *prefix, int keep);
/* Restores weights and AdamW state (p->data, p->m, p->v and *opt) from the newest of them that
 * loads, holds optimizer state, has p's parameter count and the step its name says; logs each one
 * it skips and why (`who` names the stage in the log).  Returns that step, 0 when none fits; *meta
 * (may be NULL) then holds its metadata (the caller frees it). */
int64_t ofa_ckpt_resume_newest(const char *dir, const char *prefix, const char *who, ofa_params *p, ofa_adamw *opt,
                               ofa_ckpt_meta *meta);

#endif
