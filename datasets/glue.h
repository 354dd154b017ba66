/* datasets/glue: the nine GLUE tasks' TSV files (standard glue_data/ layout) and their metrics.
 *
 * ofa_glue_load reads <glue_dir>/<TaskDir>/<split>.tsv with the task's column layout: UTF-8 BOM,
 * CRLF, a missing final newline and quoted fields (QQP/MNLI style "..." with "" escapes) are
 * handled.  A malformed row (too few columns, a bad label) is OFA_E_DATA naming file:line, or is
 * skipped and counted when skip_bad is set.  Labels are mapped per task (e.g. RTE's
 * entailment/not_entailment -> 0/1, MNLI's contradiction/entailment/neutral); STS-B keeps the float
 * score.  The test split has no labels (has_labels = 0) but keeps each row's index for submission.
 */
#ifndef OFA_DATASETS_GLUE_H
#define OFA_DATASETS_GLUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum ofa_task {
    OFA_TASK_COLA,
    OFA_TASK_SST2,
    OFA_TASK_MRPC,
    OFA_TASK_STSB,
    OFA_TASK_QQP,
    OFA_TASK_MNLI,    /* dev = dev_matched.tsv, test = test_matched.tsv */
    OFA_TASK_MNLI_MM, /* train = MNLI train; dev = dev_mismatched.tsv, test = test_mismatched.tsv */
    OFA_TASK_QNLI,
    OFA_TASK_RTE,
    OFA_TASK_WNLI,
    OFA_TASK_COUNT
} ofa_task;

typedef struct ofa_task_info {
    const char *name;        /* canonical config name: "sst-2", "mnli-mm", ... */
    const char *dir;         /* folder under glue_dir: "SST-2", "MNLI", ... */
    const char *submit_name; /* GLUE submission file stem: "SST-2", "MNLI-m", "MNLI-mm", ... */
    int num_labels;          /* 1 = regression (STS-B) */
    int pair;                /* 1 when examples are sentence pairs */
    const char *const *label_names; /* num_labels names in id order (NULL for regression) */
    const char *metric;      /* main metric name: "accuracy", "mcc", "pearson", "f1" */
    int dependent_rows;      /* 1 when training rows are not independent of each other (SST-2's train rows
                              * are phrases of the same sentences), so rows held out of train cannot
                              * validate a model trained on the rest: the search validates on dev */
    double label_min, label_max; /* regression: the range a label must lie in (STS-B: [0, 5]) */
} ofa_task_info;

/* Accepts canonical names and common spellings ("SST-2", "sst2", "STS-B", "stsb", "mnli_mm");
 * returns -1 when unknown. */
int ofa_task_from_name(const char *name);
const ofa_task_info *ofa_task_get(int task);

typedef struct ofa_example {
    char *a, *b;    /* b NULL for single-sentence tasks */
    float label;    /* class id (as float) or regression score; 0 when unlabeled */
    int64_t index;  /* test-set index column, or the 0-based example number */
    int64_t line;   /* 1-based line in the file */
} ofa_example;

typedef struct ofa_glue_split {
    ofa_example *ex;
    int64_t n;
    int64_t skipped;   /* malformed rows skipped (skip_bad) */
    int has_labels;
    int task;          /* the ofa_task it was loaded for */
    char path[1024];
} ofa_glue_split;

/* <glue_dir>/<task dir>/<file of split> into buf (the file ofa_glue_load reads). */
void ofa_glue_path(char *buf, size_t n, const char *glue_dir, int task, const char *split);
/* split: "train", "dev" or "test".  limit > 0 keeps the first `limit` examples. */
int ofa_glue_load(ofa_glue_split *s, const char *glue_dir, int task, const char *split, int skip_bad,
                  int64_t limit);
void ofa_glue_free(ofa_glue_split *s);

typedef struct ofa_metrics {
    double accuracy, f1, mcc, pearson, spearman;
    double main;            /* the task's main metric (see ofa_task_info.metric), in [-1, 1] or [0, 1] */
    const char *main_name;
} ofa_metrics;

/* pred: predicted class ids (as float) or regression values; gold likewise.  Fills the metrics
 * that apply to the task (others 0).  MCC and F1 are 0 when undefined (no positive predictions). */
void ofa_glue_metrics(int task, const float *pred, const float *gold, int64_t n, ofa_metrics *m);
/* Individual metrics (exposed for tests). */
double ofa_metric_accuracy(const float *pred, const float *gold, int64_t n);
double ofa_metric_f1(const float *pred, const float *gold, int64_t n);   /* positive class = 1 */
double ofa_metric_mcc(const float *pred, const float *gold, int64_t n);
double ofa_metric_pearson(const float *x, const float *y, int64_t n);
double ofa_metric_spearman(const float *x, const float *y, int64_t n); /* average ranks for ties */

#endif
