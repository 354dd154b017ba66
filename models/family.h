/* models/family: the model-family interface.  Every stage (teacher, reorder, supernet, search,
 * monitor, eval, export, latency, inspect, bench) reaches a model only through it, so a new family
 * (the CycleGAN generator next) plugs in here and touches no stage.
 *
 * A family is one table of functions (ofa_family) registered in models/family.c; a model file
 * names its family in the root attribute `model`.  Three value types cross the interface:
 *   ofa_arch    one subnet, tagged with its family; the payload is the family's own struct
 *               (BERT: ofa_bert_arch).  Copyable by assignment.  Its text form is canonical.
 *   ofa_space   the subnets a supernet allows (supernet.space of the config checked against the
 *               model), tagged likewise.  Every arch operation takes the space it belongs to.
 *   ofa_model   a model in memory (weights in one ofa_params buffer) with what its file carries
 *               besides the weights (BERT: the vocabulary, the task); created from a file
 *               (models/checkpoint.h) or from the config (a fresh teacher).
 * Opaque handles the family allocates: a data split (ofa_data), an inference run (ofa_infer), the
 * latency table's ops (ofa_table_ops), a distiller and a teacher job.  This header holds the types
 * and the table only; models/registry finds a family by name or tag and has the wrappers that
 * dispatch on the tag, so stage code reads
 *     ofa_arch_print(&arch, &space, buf, sizeof buf);
 *     ofa_model_family(m)->score(m, &arch, val, &score);
 * Elastic dimensions are the OR of enum ofa_elastic (core/config.h): width, depth, hidden; a family
 * maps them onto its own dimensions (a generator: width = channels, depth = kernel size).
 * Nothing here is collective.
 */
#ifndef OFA_MODELS_FAMILY_H
#define OFA_MODELS_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/h5io.h"
#include "core/rng.h"
#include "models/bert/arch.h"
#include "models/gan/arch.h"
#include "nn/optim.h"
#include "nn/params.h"

/* every elastic dimension (a family ignores what its space does not make elastic) */
#define OFA_ELASTIC_ALL (OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | OFA_ELASTIC_HIDDEN)

enum ofa_family_id { OFA_FAMILY_BERT = 0, OFA_FAMILY_GAN, OFA_FAMILY_COUNT };

typedef struct ofa_arch {
    int family; /* enum ofa_family_id */
    union {
        ofa_bert_arch bert;
        ofa_gan_arch gan;
    } u;
} ofa_arch;

typedef struct ofa_space {
    int family;
    union {
        ofa_bert_space bert;
        ofa_gan_space gan;
    } u;
} ofa_space;

typedef struct ofa_model {
    int family;
    void *net;        /* the family's model (BERT: struct ofa_bert_model, models/bert/model.h) */
    ofa_params *p;    /* its parameters (weights, gradients, AdamW state: one layout) */
} ofa_model;

/* A split of the family's data, encoded for the model (BERT: GLUE rows tokenized by the model's
 * vocabulary).  Which split: */
enum ofa_split {
    OFA_SPLIT_TRAIN = 0, /* the rows every training stage trains on (minus the search's, when they come from train) */
    OFA_SPLIT_VAL,       /* the search's validation rows (search.val_source: held out of train, or a seeded part
                          * of dev), which no earlier stage trains or selects on */
    OFA_SPLIT_DEV,       /* the rows dev figures are reported on (all of dev, or the part the search does not
                          * validate on) */
    OFA_SPLIT_TEST,
    OFA_SPLIT_COUNT
};
static inline const char *ofa_split_name(int split)
{
    static const char *const names[OFA_SPLIT_COUNT] = {"train", "val", "dev", "test"};
    return split >= 0 && split < OFA_SPLIT_COUNT ? names[split] : "?";
}
typedef struct ofa_data ofa_data;
typedef struct ofa_infer ofa_infer;         /* an arch's inference forward with its input, ready to run */
typedef struct ofa_table_ops ofa_table_ops; /* the ops of a space, ready to time one by one */
typedef struct ofa_distiller ofa_distiller; /* a frozen teacher distilling into a supernet's subnets */
typedef struct ofa_teacher_job ofa_teacher_job; /* a teacher being trained (stage 1) */

/* The score of a (sub)net on a split: the family's main metric and its name, the examples scored. */
typedef struct ofa_score {
    double metric;      /* the main metric (accuracy, Matthews, Pearson/Spearman mean, FID ...) */
    char name[32];      /* its name */
    int higher_better;  /* 1: larger is better (accuracy); 0: smaller is (FID) */
    char detail[96];    /* other metrics worth printing beside it ("spearman 0.8812"), may be "" */
    int n_extra;        /* the metrics the task reports (GLUE's: "accuracy", "f1" for MRPC...), for metrics.jsonl */
    char extra_name[8][16];
    double extra[8];
    int has_labels;     /* 0: the split has no labels (a test split): metric is NaN */
    int64_t n;
    double seconds;
} ofa_score;

/* One op of an arch's inference forward, as the latency table sums it: its key and how many
 * times the forward runs it.  A negative return stops the visit and is returned. */
typedef int (*ofa_op_visit)(const char *key, int times, void *ctx);

/* The training stages a family's teacher-job ops run (trainers/teacher's data-parallel loop), in
 * the order of the first stages of coordinator/fingerprint's enum ofa_stage: the teacher (every
 * family), and for a family with student stages the student (a smaller architecture distilled
 * from the teacher) and prune (the student pruned, then distilled from the unpruned student). */
enum ofa_train_kind { OFA_TRAIN_TEACHER = 0, OFA_TRAIN_STUDENT, OFA_TRAIN_PRUNE, OFA_TRAIN_COUNT };

/* the most loss terms a teacher reports besides its loss (they ride in the gradient allreduce) */
#define OFA_TEACHER_TERMS 12
#define OFA_PREDICT_LOGITS 1 /* predict_write's columns */
#define OFA_PREDICT_PROBS 2

typedef struct ofa_family {
    const char *name; /* the `model` attribute of its files: "bert" */
    const char *item_unit; /* what its training examples are counted in, for progress rates ("img"); NULL: "tok" */

    /* ---- arch values: text form, space, sampling, genes, cost ---- */
    int (*space_from_config)(ofa_space *s, const ofa_config *c, const ofa_model *m, const char *where);
    /* the space against the model the config describes (model.*), before any stage has made one:
     * `ofa run` checks it before the teacher trains; NULL: the supernet stage checks it (a
     * cyclegan's widths come from the pruned net) */
    int (*space_check_config)(const ofa_config *c);
    void (*space_of_model)(ofa_space *s, const ofa_model *m); /* just the model as stored */
    int (*arch_parse)(ofa_arch *a, const char *text, const ofa_space *s);
    void (*arch_print)(const ofa_arch *a, const ofa_space *s, char *buf, size_t n);
    int (*arch_check)(const ofa_arch *a, const ofa_space *s);
    void (*arch_full)(ofa_arch *a, const ofa_model *m); /* the whole model, as stored */
    void (*arch_largest)(ofa_arch *a, const ofa_space *s);
    void (*arch_smallest)(ofa_arch *a, const ofa_space *s, int elastic);
    void (*arch_random)(ofa_arch *a, const ofa_space *s, int elastic, ofa_rng *rng);
    int (*arch_grid)(ofa_arch *a, const ofa_space *s, int elastic); /* a NULL: count */
    int (*strata)(const ofa_space *s, int elastic); /* search strata (BERT: depths), 0 = none */
    void (*arch_to_stratum)(ofa_arch *a, const ofa_space *s, int elastic, int k, ofa_rng *rng);
    void (*arch_mutate)(ofa_arch *c, const ofa_arch *par, const ofa_space *s, int elastic, double prob,
                        ofa_rng *rng);
    void (*arch_crossover)(ofa_arch *c, const ofa_arch *p1, const ofa_arch *p2, const ofa_space *s, int elastic,
                           ofa_rng *rng);
    int64_t (*arch_params)(const ofa_model *m, const ofa_arch *a);
    double (*arch_macs)(const ofa_model *m, const ofa_arch *a, int seq_len); /* one example */

    /* ---- the model and its file ---- */
    int (*model_read)(ofa_model *m, ofa_h5 *h, const char *path); /* shape attributes, weights, extras */
    int (*model_write)(const ofa_model *m, ofa_h5 *h);
    void (*model_free)(ofa_model *m);
    void (*model_describe)(const ofa_model *m, char *buf, size_t n); /* "4 layers, hidden 128, ..." */
    const char *const *model_dims; /* the integer root attributes its files give their shape in
                                    * (NULL-terminated; `ofa inspect` lists those a file has) */
    /* the model.* keys of c set to m's shape (an exported subnet: its depth, hidden and head size,
     * its largest heads and FFN width), so the config stored with m describes m */
    void (*model_config)(const ofa_model *m, ofa_config *c);
    int (*model_export)(ofa_model *out, const ofa_model *sup, const ofa_arch *a); /* standalone subnet */
    /* A model made from another tool's folder (BERT: a Hugging Face one, `ofa import`) and the
     * config that describes it (its file's config_yaml); task: a task name of the family ("" = its
     * default); seed: for parts the folder lacks; note: what was ignored or made fresh ("" = none).
     * NULL: the family imports nothing. */
    int (*model_import)(ofa_model *m, ofa_config *c, const char *dir, const char *task, uint64_t seed, char *note,
                        size_t n);

    /* ---- data and scoring ---- */
    int (*data_open)(ofa_data **d, const ofa_config *c, const ofa_model *m, int split, int64_t limit);
    void (*data_free)(ofa_data *d);
    int64_t (*data_size)(const ofa_data *d);
    /* which rows d holds, in words for logs and pareto.csv (no commas): "dev.tsv: the reporting half
     * (the search validates on the other); 436 of 872 rows" */
    void (*data_describe)(const ofa_data *d, char *buf, size_t n);
    /* what a model trained on the family's data of config c was made from, as lines "key: value\n"
     * for the fingerprints of stage outputs (coordinator/fingerprint): the config keys the data
     * depends on, where the search's validation rows come from, and the data files' sizes and hashes
     * (so a moved data folder is the same data and an edited file is not).  The stages' own keys are
     * not the family's business. */
    int (*data_fingerprint)(const ofa_config *c, char *buf, size_t n);
    void (*data_set_batch)(ofa_data *d, int batch); /* examples per scoring batch (default 64) */
    /* the example order of one training epoch drawn from rng, for batches of `batch` (BERT: windows
     * of batches sorted by length, then shuffled); order: [data_size] */
    void (*data_epoch_order)(const ofa_data *d, int64_t *order, int batch, ofa_rng *rng);
    int (*score)(const ofa_model *m, const ofa_arch *a, ofa_data *d, ofa_score *out);
    /* predictions of arch a (NULL: the whole model) on d in the family's submission format
     * (BERT: GLUE's index<TAB>prediction; with OFA_PREDICT_LOGITS the logits and with
     * OFA_PREDICT_PROBS the class probabilities as extra columns), written to path (atomically;
     * NULL: stdout) */
    int (*predict_write)(const ofa_model *m, const ofa_arch *a, ofa_data *d, const char *path, int columns);
    /* A split of raw examples for `ofa predict`: lines[i] is example i (a pair's two sentences
     * separated by a tab), unlabeled, for m's task and tokenizer, at most max_len tokens (0: the
     * model's data.max_seq_len; at most its positions; how many were cut is logged); OFA_E_DATA
     * naming the input line (line_no[i], or i + 1 when NULL) when one does not fit the task.  NULL:
     * the family takes no text. */
    int (*data_from_text)(ofa_data **d, const ofa_model *m, char *const *lines, const int64_t *line_no, int64_t n,
                          int max_len);
    /* the columns that describe a grid arch of model m in grid.csv and its table (a NULL: their
     * names), comma-separated ("depth,heads,ffn" / "3,2,512") */
    void (*grid_columns)(const ofa_model *m, const ofa_arch *a, char *buf, size_t n);

    /* ---- the training stages: the teacher (the full model trained from the config on the family's
     * data), and with student_stages the student and prune stages (enum ofa_train_kind) ---- */
    /* creates the model the stage `kind` trains (the teacher: weights initialised from
     * experiment.seed and the config; the student and prune stages: made from the previous stage's
     * file in output_dir, which the job holds frozen as their teacher), the training and dev
     * splits, and the workspaces of a training step; logs what it built.  m, train, dev are the
     * caller's to free (model_free, data_free) after teacher_free.  A kind the family does not
     * have: OFA_E_USAGE. */
    int (*teacher_create)(ofa_teacher_job **j, int kind, const ofa_config *c, ofa_model *m, ofa_data **train,
                          ofa_data **dev);
    /* the family's settings a training state depends on (resumed only under the same ones) */
    void (*teacher_fingerprint)(const ofa_teacher_job *j, char *buf, size_t n);
    /* The gradients of a part of one training batch, for data-parallel training (trainers/teacher
     * splits each batch over the training ranks, sums the parts' gradients with one allreduce and
     * applies them on every rank): zeroes m's gradients, then forward (dropout, a GAN's pool from
     * rng), loss and backward on the examples idx[0..n) (n may be 0) as a part of a batch of `total`
     * examples: every batch-mean loss is scaled by n / total, so the parts' gradients and losses sum
     * to the whole batch's.  *loss: this part's share of the batch loss; terms[OFA_TEACHER_TERMS]:
     * its share of each loss term named by teacher_terms; *tokens: what the progress rate counts. */
    void (*teacher_grads)(ofa_teacher_job *j, const int64_t *idx, int n, int total, ofa_rng *rng, double *loss,
                          double *terms, double *tokens);
    /* With the whole batch's gradients in m's gradient buffer: the family's clipping (optim.grad_clip
     * for BERT; none for a CycleGAN) and one AdamW step at lr.  Returns the gradient norm (before
     * clipping). */
    double (*teacher_apply)(ofa_teacher_job *j, double lr, ofa_adamw *opt);
    void (*teacher_free)(ofa_teacher_job *j);
    /* the split the training stages choose their best weights on, for logs (NULL: "dev"; a CycleGAN:
     * "val", the held-out training images) */
    const char *select_split;
    /* the names of the loss terms the job's teacher_grads reports ("G", "D_A", ...), NULL-terminated,
     * at most OFA_TEACHER_TERMS; empty when the loss is all there is */
    const char *const *(*teacher_terms)(const ofa_teacher_job *j);
    /* A rank's training state beyond the weights, AdamW state and RNG keys (a CycleGAN's image
     * pools): `teacher_state_floats` floats (the same on every rank of a config), copied out for the
     * training-state checkpoint (rank 0 gathers every rank's) and back in on resume (NULL: the
     * empty state), so a resumed run is the uninterrupted one.  0 floats: nothing to keep. */
    size_t (*teacher_state_floats)(const ofa_teacher_job *j);
    void (*teacher_state_get)(const ofa_teacher_job *j, float *buf);
    void (*teacher_state_set)(ofa_teacher_job *j, const float *buf);
    /* per kind: the config keys beyond the stage's common ones (coordinator/fingerprint) that the
     * family's job reads (model shape, losses), NULL-terminated (NULL: a kind it does not have) */
    const char *const *teacher_keys[OFA_TRAIN_COUNT];
    /* 1: the run plan is teacher -> student -> prune -> supernet (the student and prune kinds
     * exist, and supernet_student makes the supernet from their output); 0: teacher -> reorder ->
     * supernet */
    int student_stages;
    /* the task its files name (root attribute task) */
    const char *(*model_task)(const ofa_model *m);

    /* ---- the reorder stage: importance, then the units permuted so the most important come first ---- */
    /* importance of m's units on dev (reorder.batches), then m permuted in place so its subnets'
     * leading slices keep the most important ones; the function of the whole model is unchanged.
     * With reorder.enabled false, m is left as it is (identity orders).  *state: what goes into
     * the file (reorder_write), freed with reorder_free. */
    int (*reorder)(ofa_model *m, ofa_data *dev, const ofa_config *c, void **state);
    int (*reorder_write)(const void *state, ofa_h5 *h);
    void (*reorder_free)(void *state);
    /* the raw outputs (logits) of arch a (NULL: whole model) on d: malloc'd [n_values], for checks
     * that a transformation kept the function */
    int (*outputs)(const ofa_model *m, const ofa_arch *a, ofa_data *d, float **out, int64_t *n_values);

    /* ---- supernet training: subnets of the student distilled from the frozen teacher ---- */
    /* workspaces for micro-batches of supernet.batch_size examples of `train`, with
     * supernet.distill.* (the student's parameters receive the gradients) */
    int (*distill_create)(ofa_distiller **d, const ofa_config *c, const ofa_model *teacher, ofa_model *student,
                          const ofa_data *train);
    /* the micro-batch of train examples idx[0..n); runs the teacher forward on it */
    void (*distill_batch)(ofa_distiller *d, const int64_t *idx, int n);
    /* one subnet on the current micro-batch: forward (dropout drawn from rng), distillation loss,
     * backward accumulating into the student's gradients; returns the loss, *tokens its size */
    double (*distill_subnet)(ofa_distiller *d, const ofa_arch *a, ofa_rng *dropout, double *tokens);
    void (*distill_free)(ofa_distiller *d);
    /* The supernet's student when it is not the reordered teacher (NULL: it is, BERT): made from
     * the config and the teacher (teacher.h5; a CycleGAN: a MobileResNet generator from the stages
     * before the supernet, importance-reordered).  The family has no reorder stage then: the
     * supernet stage takes teacher.h5 when teacher_reordered.h5 does not exist. */
    int (*supernet_student)(ofa_model *student, const ofa_model *teacher, const ofa_config *c);

    /* ---- latency: the inference forward, and the ops the latency table times and sums ---- */
    int (*input_limit)(const ofa_model *m); /* the largest seq_len (BERT: positions); 0 = none */
    void (*signature)(const ofa_model *m, char *buf, size_t n); /* what a latency table must match */
    int (*infer_create)(ofa_infer **w, const ofa_model *m, const ofa_arch *a, int batch, int seq_len,
                        uint64_t seed); /* random input of that shape; a NULL: the whole model */
    void (*infer_run)(ofa_infer *w);      /* one inference forward (what latency measures) */
    void (*infer_free)(ofa_infer *w);
    int (*table_ops_create)(ofa_table_ops **o, const ofa_model *m, const ofa_space *s, int batch, int seq_len,
                            uint64_t seed); /* every op shape the space produces, on m's weights */
    int (*table_ops_count)(const ofa_table_ops *o);
    const char *(*table_op_key)(const ofa_table_ops *o, int i);
    void (*table_op_run)(ofa_table_ops *o, int i);
    void (*table_ops_free)(ofa_table_ops *o);
    int (*arch_ops)(const ofa_space *s, const ofa_arch *a, ofa_op_visit visit, void *ctx);

    /* ---- ofa run ---- */
    /* rank 0, before the teacher stage: what the family's stages need besides the config and the
     * data (a CycleGAN: the FID feature net, trained when its file is missing) */
    int (*run_prepare)(const ofa_config *c);

    /* ---- the family's benchmark against its PyTorch peer (`ofa bench WORK [flags]`) ---- */
    int (*bench)(const char *work, int argc, char **argv);
    /* the works its bench times, NULL-terminated: `ofa bench WORK` goes to the family listing WORK
     * (BERT: teacher, supernet, infer, gemm; a CycleGAN: cyclegan, generator) */
    const char *const *bench_works;
} ofa_family;

#endif
