/* models/checkpoint: ofa's HDF5 model files (layout in docs/checkpoint-format.md), for every family.
 *
 * A file holds run metadata as root attributes (format, format_version, kind, model = the family's
 * name, task, step, epoch, phase, seed, RNG state, best_metric, created, the resolved config, arch
 * for subnets), then what the family writes (models/family.h model_write: its shape attributes,
 * /weights/<name> and extras such as BERT's /tokenizer), optionally AdamW state under
 * /optimizer/{m,v}/<name>.  Written atomically (core/h5io).  Opening checks format ==
 * "ofa-checkpoint" and that format_version is not newer than this build reads; loading finds the
 * family by the `model` attribute.  Not collective: one rank writes.
 */
#ifndef OFA_MODELS_CHECKPOINT_H
#define OFA_MODELS_CHECKPOINT_H

#include <stdint.h>

#include "core/config.h"
#include "core/h5io.h"
#include "core/rng.h"
#include "models/registry.h"
#include "nn/optim.h"

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
    char model[16];     /* the family: bert */
    char task[16];      /* GLUE task name */
    int64_t format_version, step, epoch, phase, seed;
    ofa_rng rng;
    double best_metric; /* dev main metric of these weights (NaN when not evaluated) */
    char metric_name[32];
    int lowercase, max_seq_len; /* BERT files: the tokenizer's settings (read on open) */
    char *config_yaml;  /* malloc'd; may be NULL when writing */
    char created[32];
    char arch[512];     /* kind subnet: the arch it was exported as (text form); "" otherwise */
    char *fingerprint;  /* what a stage output was made from (coordinator/fingerprint), root attribute
                         * `fingerprint`; NULL: none (written only when set; malloc'd when read) */
} ofa_ckpt_meta;

/* Zeroes meta with the given kind name ("" or one of the kinds) and the defaults. */
void ofa_ckpt_meta_init(ofa_ckpt_meta *meta, const char *kind);
/* Sets both kind and kind_id. */
void ofa_ckpt_meta_set_kind(ofa_ckpt_meta *meta, enum ofa_ckpt_kind kind);
void ofa_ckpt_meta_free(ofa_ckpt_meta *meta);

/* Writes model m with meta; opt may be NULL (no optimizer state).  extra(h, ctx) (when not NULL)
 * runs after the standard content and before the commit, so a stage can add its own groups
 * (e.g. /importance); a negative return aborts the write. */
int ofa_ckpt_save_model(const char *path, const ofa_model *m, const ofa_ckpt_meta *meta, const ofa_adamw *opt,
                        int (*extra)(ofa_h5 *h, void *ctx), void *ctx);
/* Opens a checkpoint and reads its metadata (verifies format and version; an unknown kind is
 * OFA_E_FORMAT naming the file and the value). Caller closes h. */
int ofa_ckpt_open(ofa_h5 *h, const char *path, ofa_ckpt_meta *meta);
/* Loads the model of a checkpoint (its family from the `model` attribute); opt may be NULL (else
 * AdamW state is read when present: returns 1 if it was).  Free with ofa_model_free. */
int ofa_ckpt_load_model(const char *path, ofa_model *m, ofa_ckpt_meta *meta, ofa_adamw *opt);
void ofa_model_free(ofa_model *m);

/* ---- one way to open a model file for a command ---- */

/* A model file opened for scoring, exporting or measuring: the model, its metadata, the config
 * stored in it, and for a supernet its space. */
typedef struct ofa_model_file {
    char path[4096];
    ofa_model m;
    ofa_ckpt_meta meta;
    ofa_config cfg;   /* the config the file was made with (config_yaml), or the one passed in */
    ofa_space space;  /* the space of cfg on this model (any file: supernets are searched in it) */
    char run_dir[4096]; /* the run folder the file is in (ofa_run_dir_of) */
    char data_note[1536]; /* why cfg.data.glue_dir is not the stored one ("" when it is) */
} ofa_model_file;

/* Opens path, which must be one of the checkpoint kinds in the mask `kinds` (1 << OFA_CKPT_SUPERNET,
 * ..., 0: any); `who` names the command in the message ("the search needs a supernet").
 * c: the config whose supernet.space and data to use (NULL: the one stored in the file; one that
 * does not parse is OFA_E_FORMAT for a supernet).  With the stored config, data.glue_dir follows
 * the rule of docs/checkpoint-format.md ("Which data a file is scored on"): an absolute path that
 * exists is used as stored; else $GLUE_DIR when set; else a relative path is taken relative to the
 * folder the writing run was started from (the run folder minus experiment.output_dir), when the
 * data is there; else as stored (relative to the working directory).  data_note says which.
 * Free with ofa_model_file_close. */
int ofa_model_file_open(ofa_model_file *f, const char *path, unsigned kinds, const char *who,
                        const ofa_config *c);
#define OFA_KIND(k) (1u << (k))
/* The arch `text` of f's model, parsed and checked against its space (NULL: the largest arch of
 * a supernet, the whole model of any other file). */
int ofa_model_file_arch(const ofa_model_file *f, const char *text, ofa_arch *a);
void ofa_model_file_close(ofa_model_file *f);

/* The metadata of subnet a of the supernet file f, exported as model sub: f's with kind subnet,
 * the arch's text form, best_metric NaN (the caller sets it once scored), and a config_yaml that
 * describes sub: a comment naming the arch and where it came from, then f->cfg with model.* set to
 * sub's shape (the family's model_config).  Free with ofa_ckpt_meta_free (f's metadata stays). */
void ofa_ckpt_meta_subnet(ofa_ckpt_meta *out, const ofa_model_file *f, const ofa_model *sub, const ofa_arch *a);

/* The run folder of a file ofa wrote: its folder, or the parent of that folder when it is a run's
 * ckpt/ or subnets/ ("runs/x/ckpt/step_1.h5" -> "runs/x"); "." for a bare file name. */
void ofa_run_dir_of(const char *path, char *buf, size_t n);

#endif
