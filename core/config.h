/* core/config: the experiment configuration, read from strict YAML.
 *
 * Strict means: an unknown key, a value of the wrong type or out of range is an error reported as
 * "file:line:col: message" (with "did you mean 'x'?" for a misspelled key).  String values expand
 * ${VAR} and ${VAR:-default} from the environment.  Overrides "key.sub=value" (the CLI's --set) are
 * applied after the file is read; the value is parsed as a YAML flow value, so lists work:
 * --set supernet.space.depth=[2,4].  Every key has a default, so a file needs only what it changes.
 * The resolved configuration is printed back as YAML (ofa_config_to_yaml) for logs and checkpoints.
 * The schema (every key, its type, range, default and one-line doc) is one table in config.c;
 * docs/config.md documents each key and a test fails when one is missing there.  A renamed key
 * (teacher.grad_clip -> optim.grad_clip) is still read for one release, with a line in .warnings.
 */
#ifndef OFA_CORE_CONFIG_H
#define OFA_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define OFA_PATH_MAX 1024
#define OFA_MAX_LIST 16
#define OFA_MAX_PHASES 8

/* Every choice among names is an enum, parsed once when the file is read (an unknown name is an
 * error listing the allowed ones); the YAML spelling of value v is ofa_<enum>_name(v), from one name
 * table each in config.c.  A name function asserts that its argument is one of the enum's values. */
/* supernet.space.depth_rule: the layers kept at depth d of L (see models/bert/arch.h) */
enum ofa_depth_rule { OFA_DEPTH_DYNABERT, OFA_DEPTH_FIRST, OFA_DEPTH_RULE_COUNT };
/* supernet.sampler.strategy: the subnets of a step (trainers/supernet.c, ofa_supernet_plan) */
enum ofa_sampler { OFA_SAMPLER_SANDWICH, OFA_SAMPLER_RANDOM, OFA_SAMPLER_GRID, OFA_SAMPLER_COUNT };
/* search.latency.mode: how the search gets an arch's latency (evaluator/latency.h) */
enum ofa_latency_mode { OFA_LATENCY_MEASURED, OFA_LATENCY_TABLE, OFA_LATENCY_PREDICTOR, OFA_LATENCY_MODE_COUNT };
/* search.val_source: where the search's validation rows come from.  auto: dev for a task whose training
 * rows are not independent of each other (datasets/glue: SST-2's phrases of the same sentences), train
 * otherwise; train: search.val_fraction of train, held out of every training stage; dev: a seeded half
 * of dev, never used for a reported dev figure (those use the other half). */
enum ofa_val_source { OFA_VAL_AUTO, OFA_VAL_TRAIN, OFA_VAL_DEV, OFA_VAL_SOURCE_COUNT };

const char *ofa_depth_rule_name(int rule);
const char *ofa_sampler_name(int sampler);
const char *ofa_latency_mode_name(int mode);
const char *ofa_val_source_name(int source);

/* Elastic dimensions, a set of flags (supernet.phases[].elastic: [width, depth, hidden]): flag k
 * is 1 << k, named ofa_elastic_name(k). */
enum ofa_elastic { OFA_ELASTIC_WIDTH = 1, OFA_ELASTIC_DEPTH = 2, OFA_ELASTIC_HIDDEN = 4 };
enum { OFA_ELASTIC_COUNT = 3 };
const char *ofa_elastic_name(int k);

typedef struct ofa_phase {
    int elastic;   /* OR of ofa_elastic; YAML: elastic: [width, depth, hidden] */
    double epochs; /* > 0 */
    double lr;
} ofa_phase;

typedef struct ofa_config {
    char source[OFA_PATH_MAX]; /* the file it was read from (or "<text>") */
    char sets[16][256];        /* "--set key=value" of the first 16 overrides applied (ofa_config_origin) */
    char warnings[1024];       /* what reading it warned about ("file:line:col: teacher.grad_clip is
                                * deprecated: use optim.grad_clip"), one per line; "" = none.  The
                                * caller decides whether to log them (cli_load_config does). */
    struct {
        char name[128];
        char output_dir[OFA_PATH_MAX];
        int64_t seed;             /* >= 0 */
        int threads;              /* 0 = auto (OFA_THREADS, else the cores this process may use) */
        enum ofa_log_level log_level; /* debug|info|warn|error (not off) */
    } experiment;
    struct {
        char task[16];            /* cola sst-2 mrpc sts-b qqp mnli mnli-mm qnli rte wnli */
        char glue_dir[OFA_PATH_MAX];
        char fmnist_dir[OFA_PATH_MAX]; /* Fashion-MNIST IDX folder (datasets/fmnist) */
        int max_seq_len;          /* 8..4096 */
        int lowercase;
        char vocab_file[OFA_PATH_MAX]; /* "" = null: build a WordPiece vocabulary from train */
        int vocab_size;           /* when building: 100..1000000 */
        int64_t train_limit;      /* 0 = all */
        int64_t dev_limit;        /* 0 = all */
        int skip_bad_rows;        /* 0: a malformed row is an error; 1: skipped and counted */
        int class_a, class_b;     /* cyclegan: the Fashion-MNIST classes of domains A and B */
        int image_size;           /* cyclegan: image side (28x28 padded with -1) */
    } data;
    struct {
        char type[16];            /* bert (a name of models/family's table, which owns the enum) */
        int layers, hidden, heads, ffn;
        int head_dim;             /* 0 = hidden / heads */
        double dropout;           /* [0, 1) */
        int max_position;
        double init_std;          /* > 0, default 0.02 */
        char init[OFA_PATH_MAX];  /* "" = random weights; else a BERT model file the teacher starts from
                                     (`ofa import`'s; its shape must be model.*'s) */
        int ngf, ndf, n_blocks, n_layers; /* cyclegan: generator/discriminator widths and depths */
    } model;
    struct {
        double epochs;            /* > 0 unless max_steps > 0 */
        int64_t max_steps;        /* 0 = run epochs */
        int batch_size;
        double lr;
        int64_t eval_every;       /* steps between dev evaluations; 0 = once per epoch */
        double decay_epochs;      /* -1: decay over all steps after warm-up; >= 0: constant, then linear
                                   * decay over the last decay_epochs epochs */
        double lambda_cycle, lambda_identity; /* cyclegan losses */
        int pool_size;            /* cyclegan: image pool per domain; 0 = none */
    } teacher;
    struct {                      /* cyclegan: the MobileResNet student distilled from the teacher's G_A */
        double epochs;            /* > 0 unless max_steps > 0 */
        int64_t max_steps;        /* 0 = run epochs */
        int batch_size;
        double lr;
        int64_t eval_every;       /* steps between FID evaluations on the held-out images; 0 = once per epoch */
        double decay_epochs;      /* as teacher.decay_epochs */
        int ngf;                  /* MobileResnetGenerator(ngf); 0 = model.ngf */
        int kernel;               /* its depthwise kernel: 3 or 5 */
        char arch[128];           /* "" = MobileResnetGenerator(ngf, kernel); else this MobileResNet arch text
                                     (a search winner's shape, trained alone: docs/results.md) */
        double lambda_gan, lambda_recon, lambda_distill; /* GAN Compression's distiller weights */
        char init[OFA_PATH_MAX];  /* "" = fresh weights; else a MobileResNet file (an exported subnet, student.h5,
                                     pruned.h5) whose shape and generator weights the student starts from:
                                     GAN Compression's fine-tuning of a searched subnet */
        int distill;              /* 0: no teacher; a plain CycleGAN (teacher.* losses) of two MobileResNets of
                                     this shape from scratch, the train-alone baseline */
    } student;
    struct {                      /* cyclegan: L1 channel pruning of the student, then distillation from it */
        double epochs;
        int64_t max_steps;
        int batch_size;
        double lr;
        int64_t eval_every;
        double decay_epochs;
        double keep;              /* fraction of each slot's channels kept, by L1 norm */
        double lambda_gan, lambda_recon, lambda_distill;
    } prune;
    struct {                      /* AdamW and its schedule, for the teacher and the supernet stages */
        double warmup_ratio;      /* of each stage's (each supernet phase's) steps: linear warm-up, then decay */
        double weight_decay;      /* decoupled, on the views with decay=1 */
        double grad_clip;         /* global L2 norm; 0 = off */
        double beta1, beta2, eps; /* torch.optim.AdamW's defaults 0.9, 0.999, 1e-8 */
    } optim;
    struct {
        int enabled;
        int64_t batches;          /* 0 = whole dev set */
    } reorder;
    struct {
        int depth[OFA_MAX_LIST], n_depth;
        int heads[OFA_MAX_LIST], n_heads;
        int ffn[OFA_MAX_LIST], n_ffn;
        int hidden[OFA_MAX_LIST], n_hidden; /* empty = hidden not elastic */
        /* a MobileResNet generator's slots (cyclegan; empty = the stored width / kernel only) */
        int stem[OFA_MAX_LIST], n_stem, down1[OFA_MAX_LIST], n_down1, down2[OFA_MAX_LIST], n_down2;
        int blocks[OFA_MAX_LIST], n_blocks, up1[OFA_MAX_LIST], n_up1, up2[OFA_MAX_LIST], n_up2;
        int kernel[OFA_MAX_LIST], n_kernel;
        enum ofa_depth_rule depth_rule;
        ofa_phase phases[OFA_MAX_PHASES];
        int n_phases;
        enum ofa_sampler sampler;           /* supernet.sampler.strategy */
        int subnets_per_step;
        int micro_batches;                  /* 0 = auto (trainers/supernet: max(subnets, training ranks)) */
        double lambda_logit, lambda_hidden, lambda_hard, temperature;
        double lambda_gan, lambda_feature; /* cyclegan: GAN Compression's LSGAN and feature-MSE terms */
        int batch_size;
        int64_t max_steps;
        int64_t checkpoint_every;           /* supernet.checkpoint.every_steps */
        int checkpoint_keep;                /* supernet.checkpoint.keep */
    } supernet;
    struct {
        int enabled;
        int population, generations;
        double parents, mutate_prob, mutation_ratio;
        double budgets_ms[OFA_MAX_LIST];
        int n_budgets;
        enum ofa_latency_mode latency_mode; /* search.latency.mode */
        int latency_batch, latency_seq_len, latency_threads, latency_warmup, latency_repeats;
        enum ofa_val_source val_source;     /* search.val_source */
        double val_fraction;                /* of train, when the validation rows come from train */
        int64_t val_limit;                  /* validation rows a candidate is scored on; 0 = all */
        int64_t dev_limit;                  /* dev rows the winners and the teacher are re-scored on; 0 = all */
    } search;
    struct {
        int evaluators;
        int coordinator_trains;
        int64_t checksum_every;
        double bucket_mb;         /* gradient allreduce buckets posted during the backward; 0 = one after it */
        char monitor_archs[1024]; /* comma-separated arch texts; "" = none */
    } mpi;
    struct {                      /* the FID feature net (models/gan/fidnet): `ofa fidnet CONFIG` */
        double epochs;            /* > 0 unless max_steps > 0 */
        int64_t max_steps;        /* 0 = run epochs */
        int batch_size;
        double lr;                /* Adam, constant */
        int channels;             /* width of the first conv; the later ones 2x, 4x */
        int features;             /* D, the penultimate feature vector FID uses */
        int image_size;           /* input side (28x28 images padded with -1) */
        int64_t train_limit;      /* 0 = all 60000 train images */
        int64_t test_limit;       /* 0 = all 10000 test images */
        char output[OFA_PATH_MAX]; /* file name under experiment.output_dir */
    } fidnet;
} ofa_config;

/* Sets every field to its default. */
void ofa_config_defaults(ofa_config *c);
/* Reads a YAML file and applies overrides ("key.sub=value"), then validates. 0 or OFA_E_CONFIG/IO. */
int ofa_config_load(ofa_config *c, const char *path, const char *const *overrides, int n_overrides);
/* Where `key` (e.g. "model.init", or a section such as "supernet.space") got its value, for an error
 * found after parsing: the latest --set that set it or something inside it ("--set
 * supernet.space.depth=[9]"), else the config file (c->source). */
const char *ofa_config_origin(const ofa_config *c, const char *key);
/* model.init of c, when set, names a file that exists (not a folder): the teacher's start, checked
 * before a run writes anything.  0, or an error naming the key, where it was set and how to make
 * the file. */
int ofa_config_model_init_check(const ofa_config *c);
/* The same from text in memory; `name` is used in messages (e.g. the original file name). */
int ofa_config_parse(ofa_config *c, const char *text, size_t len, const char *name,
                     const char *const *overrides, int n_overrides);
/* The resolved configuration as YAML text (malloc'd); parsing it again yields the same config. */
char *ofa_config_to_yaml(const ofa_config *c);

/* The schema, for docs and tests: number of leaf keys and the dotted name of key i. */
int ofa_config_key_count(void);
/* The value of schema key `key` (a dotted leaf name, supernet.phases included) in c as canonical
 * one-line YAML text ("128", "[2, 3, 4]", "auto", "[{elastic: [width], epochs: 2.0, lr: 0.0002}]"),
 * malloc'd; NULL when `key` is not a key of the schema.  Fingerprints of stage outputs use it. */
char *ofa_config_key_text(const ofa_config *c, const char *key);
/* Logs c->warnings (deprecated keys), one WARN line each; call it on one rank. */
void ofa_config_log_warnings(const ofa_config *c);
const char *ofa_config_key_name(int i);

#endif
