/* core/config: strict YAML configuration (see config.h).
 *
 * Everything is driven by one schema table (g_keys): the walker matches a libyaml document tree
 * against the dotted key names, converts and range-checks each leaf, and writes it through its
 * offsetof.  Defaults are YAML text in the same table and go through the same converter, as do
 * --set overrides, so there is one code path for every value.  Phases are a list of maps walked
 * against a second small table (g_phase_keys) with offsets into ofa_phase.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "core/error.h"
#include "core/sys.h"
#include "core/log.h"

/* libyaml returns 1 on success, 0 on failure. */
#define YAML_OK(call) ((call) == 1)

/* KT_AUTO_INT: an int or the word auto (stored as 0); KT_ENUM: one of names into an int (an enum);
 * KT_CHOICE: one of names kept as the string (data.task, model.type: their enums belong to datasets/
 * and models/) */
enum key_type { KT_INT, KT_AUTO_INT, KT_I64, KT_FLOAT, KT_BOOL, KT_STR, KT_PATH, KT_ENUM, KT_CHOICE, KT_INTS,
                KT_FLOATS, KT_FLAGS, KT_PHASES };
enum { LO_OPEN = 1, HI_OPEN = 2 };

typedef struct key_def {
    const char *key;    /* dotted name */
    int type;           /* enum key_type */
    size_t off;         /* offset of the field (string buffer, array, scalar) */
    size_t size;        /* string buffer size, or list capacity */
    size_t noff;        /* offset of the list count */
    double lo, hi;      /* range of the value (of each element for lists) */
    int open;           /* LO_OPEN | HI_OPEN */
    int min_n;          /* minimum list length, or minimum string length */
    const char *(*name)(int); /* enums, choices and flag lists: the name of value (flag bit) v */
    int n_names;        /* ... for v < n_names */
    const char *def;    /* default, as YAML text */
    const char *doc;
} key_def;

#define INF HUGE_VAL
#define FSZ(f) sizeof(((ofa_config *)0)->f)
#define NUM(k, t, f, lo, hi, open, def, doc) {k, t, offsetof(ofa_config, f), 0, 0, lo, hi, open, 0, NULL, 0, def, doc}
#define STR(k, f, minlen, def, doc) {k, KT_STR, offsetof(ofa_config, f), FSZ(f), 0, 0, 0, 0, minlen, NULL, 0, def, doc}
#define PATH(k, f, doc) {k, KT_PATH, offsetof(ofa_config, f), FSZ(f), 0, 0, 0, 0, 0, NULL, 0, "null", doc}
#define ENUM(k, f, name, n, def, doc) {k, KT_ENUM, offsetof(ofa_config, f), 0, 0, 0, 0, 0, 0, name, n, def, doc}
#define CHOICE(k, f, name, n, def, doc)                                                                    \
    {k, KT_CHOICE, offsetof(ofa_config, f), FSZ(f), 0, 0, 0, 0, 1, name, n, def, doc}
#define LIST(k, t, f, nf, lo, hi, open, min_n, def, doc)                                                     \
    {k, t, offsetof(ofa_config, f), FSZ(f) / sizeof(((ofa_config *)0)->f[0]), offsetof(ofa_config, nf), lo, hi, \
     open, min_n, NULL, 0, def, doc}

/* ---- name tables of the enums (config.h) ------------------------------------------------- */

static const char *const g_depth_rules[] = {"dynabert", "first"};
static const char *const g_samplers[] = {"sandwich", "random", "grid"};
static const char *const g_latency_modes[] = {"measured", "table", "predictor"};
static const char *const g_val_sources[] = {"auto", "train", "dev"};
static const char *const g_elastic[] = {"width", "depth", "hidden"};
/* Two choices stay strings, checked against their names: data.task (datasets/glue owns the task
 * enum and aliases such as mnli-m) and model.type (the model families' registry owns theirs) */
static const char *const g_model_types[] = {"bert", "cyclegan"};
static const char *const g_tasks[] = {"cola", "sst-2", "mrpc", "sts-b", "qqp",
                                      "mnli", "mnli-mm", "qnli", "rte", "wnli"};
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(COUNT_OF(g_depth_rules) == OFA_DEPTH_RULE_COUNT, "one name per ofa_depth_rule");
_Static_assert(COUNT_OF(g_samplers) == OFA_SAMPLER_COUNT, "one name per ofa_sampler");
_Static_assert(COUNT_OF(g_latency_modes) == OFA_LATENCY_MODE_COUNT, "one name per ofa_latency_mode");
_Static_assert(COUNT_OF(g_val_sources) == OFA_VAL_SOURCE_COUNT, "one name per ofa_val_source");
_Static_assert(COUNT_OF(g_elastic) == OFA_ELASTIC_COUNT && 1 << (OFA_ELASTIC_COUNT - 1) == OFA_ELASTIC_HIDDEN &&
                   OFA_ELASTIC_WIDTH == 1 && OFA_ELASTIC_DEPTH == 2,
               "one name per ofa_elastic flag, flag k = 1 << k");
/* enum fields are written as int */
_Static_assert(sizeof(enum ofa_log_level) == sizeof(int) &&
                   sizeof(enum ofa_depth_rule) == sizeof(int) &&
                   sizeof(enum ofa_sampler) == sizeof(int) && sizeof(enum ofa_latency_mode) == sizeof(int) &&
                   sizeof(enum ofa_val_source) == sizeof(int),
               "enum fields are int-sized");

static const char *name_at(const char *const *tab, int n, int v)
{
    OFA_ASSERT(v >= 0 && v < n);
    return tab[v];
}
const char *ofa_depth_rule_name(int rule) { return name_at(g_depth_rules, OFA_DEPTH_RULE_COUNT, rule); }
const char *ofa_sampler_name(int sampler) { return name_at(g_samplers, OFA_SAMPLER_COUNT, sampler); }
const char *ofa_latency_mode_name(int mode) { return name_at(g_latency_modes, OFA_LATENCY_MODE_COUNT, mode); }
const char *ofa_val_source_name(int source) { return name_at(g_val_sources, OFA_VAL_SOURCE_COUNT, source); }
const char *ofa_elastic_name(int k) { return name_at(g_elastic, OFA_ELASTIC_COUNT, k); }
static const char *task_name(int t) { return name_at(g_tasks, (int)COUNT_OF(g_tasks), t); }
static const char *model_type_name(int t) { return name_at(g_model_types, (int)COUNT_OF(g_model_types), t); }

/* ---- the schema -------------------------------------------------------------------------- */

/* In DESIGN.md's order; keys of one section are contiguous (ofa_config_to_yaml relies on it). */
static const key_def g_keys[] = {
    STR("experiment.name", experiment.name, 1, "default", "run name, in the first log line"),
    STR("experiment.output_dir", experiment.output_dir, 1, "runs/default", "folder for checkpoints, metrics, plots"),
    NUM("experiment.seed", KT_I64, experiment.seed, 0, INF, 0, "42", "seed of every random stream"),
    NUM("experiment.threads", KT_INT, experiment.threads, 0, 1024, 0, "0",
        "compute threads per rank; 0 = OFA_THREADS, else the cores this process may use"),
    ENUM("experiment.log_level", experiment.log_level, ofa_log_level_name, OFA_LOG_OFF, "info", "log verbosity"),
    CHOICE("data.task", data.task, task_name, (int)COUNT_OF(g_tasks), "sst-2",
         "GLUE task (mnli scores the matched dev set, mnli-mm the mismatched one)"),
    STR("data.glue_dir", data.glue_dir, 1, "${GLUE_DIR:-../shared/data/glue}", "folder holding the GLUE task folders"),
    STR("data.fmnist_dir", data.fmnist_dir, 1, "${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}",
        "folder holding the Fashion-MNIST IDX files ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])"),
    NUM("data.max_seq_len", KT_INT, data.max_seq_len, 8, 4096, 0, "64", "tokens per example after truncation"),
    NUM("data.lowercase", KT_BOOL, data.lowercase, 0, 1, 0, "true", "lowercase text before tokenizing"),
    PATH("data.vocab_file", data.vocab_file, "WordPiece vocabulary file; null = build one from train"),
    NUM("data.vocab_size", KT_INT, data.vocab_size, 100, 1000000, 0, "8000", "vocabulary size when building one"),
    NUM("data.train_limit", KT_I64, data.train_limit, 0, INF, 0, "0", "use only the first N train rows; 0 = all"),
    NUM("data.dev_limit", KT_I64, data.dev_limit, 0, INF, 0, "0", "dev rows the teacher, reorder and monitor use (the first N of the reporting ones); 0 = all"),
    NUM("data.skip_bad_rows", KT_BOOL, data.skip_bad_rows, 0, 1, 0, "false",
        "false: a malformed TSV row is an error; true: skipped and counted"),
    NUM("data.class_a", KT_INT, data.class_a, 0, 9, 0, "7", "cyclegan: Fashion-MNIST class of domain A (7 sneaker)"),
    NUM("data.class_b", KT_INT, data.class_b, 0, 9, 0, "9", "cyclegan: Fashion-MNIST class of domain B (9 ankle boot)"),
    NUM("data.image_size", KT_INT, data.image_size, 28, 256, 0, "32",
        "cyclegan: image side, the 28x28 images padded with the background -1 (a multiple of 4)"),
    CHOICE("model.type", model.type, model_type_name, (int)COUNT_OF(g_model_types), "bert", "model family"),
    NUM("model.layers", KT_INT, model.layers, 1, 64, 0, "4", "transformer layers"),
    NUM("model.hidden", KT_INT, model.hidden, 8, 16384, 0, "256", "hidden size (a multiple of model.heads)"),
    NUM("model.heads", KT_INT, model.heads, 1, 256, 0, "4", "attention heads per layer"),
    NUM("model.head_dim", KT_INT, model.head_dim, 0, 4096, 0, "0",
        "size of one attention head; 0 = hidden / heads (set it to train a subnet's shape from scratch)"),
    NUM("model.ffn", KT_INT, model.ffn, 1, 65536, 0, "1024", "feed-forward inner width"),
    NUM("model.dropout", KT_FLOAT, model.dropout, 0, 1, HI_OPEN, "0.1", "dropout probability"),
    NUM("model.max_position", KT_INT, model.max_position, 8, 65536, 0, "128",
        "position embeddings (>= data.max_seq_len)"),
    NUM("model.init_std", KT_FLOAT, model.init_std, 0, 1, LO_OPEN, "0.02", "std of the normal weight init"),
    PATH("model.init", model.init,
         "bert: a model file the teacher stage starts from instead of random weights (kind teacher, e.g. from "
         "'ofa import'; its shape must be model.*'s, its vocabulary is used); null = random"),
    NUM("model.ngf", KT_INT, model.ngf, 1, 1024, 0, "16", "cyclegan: generator filters of the first conv"),
    NUM("model.ndf", KT_INT, model.ndf, 1, 1024, 0, "16", "cyclegan: discriminator filters of the first conv"),
    NUM("model.n_blocks", KT_INT, model.n_blocks, 0, 64, 0, "6", "cyclegan: residual blocks of the generator"),
    NUM("model.n_layers", KT_INT, model.n_layers, 1, 8, 0, "3", "cyclegan: strided conv layers of the discriminator"),
    NUM("teacher.epochs", KT_FLOAT, teacher.epochs, 0, INF, 0, "3", "training epochs (> 0 unless max_steps > 0)"),
    NUM("teacher.max_steps", KT_I64, teacher.max_steps, 0, INF, 0, "0", "optimizer steps; 0 = run epochs"),
    NUM("teacher.batch_size", KT_INT, teacher.batch_size, 1, 65536, 0, "32", "examples per step"),
    NUM("teacher.lr", KT_FLOAT, teacher.lr, 0, 1, LO_OPEN, "5.0e-4", "peak AdamW learning rate"),
    NUM("teacher.eval_every", KT_I64, teacher.eval_every, 0, INF, 0, "0",
        "steps between dev evaluations (each also writes the training state to ckpt/); 0 = once per epoch"),
    NUM("teacher.decay_epochs", KT_FLOAT, teacher.decay_epochs, -1, INF, 0, "-1",
        "-1: the lr decays linearly over every step after warm-up; >= 0: constant, then linear decay to 0 over the "
        "last decay_epochs epochs"),
    NUM("teacher.lambda_cycle", KT_FLOAT, teacher.lambda_cycle, 0, INF, 0, "10", "cyclegan: weight of the cycle loss"),
    NUM("teacher.lambda_identity", KT_FLOAT, teacher.lambda_identity, 0, INF, 0, "0.5",
        "cyclegan: weight of the identity loss, relative to lambda_cycle"),
    NUM("teacher.pool_size", KT_INT, teacher.pool_size, 0, 100000, 0, "50",
        "cyclegan: fakes kept per domain for the discriminator's image pool; 0 = none"),
    NUM("student.epochs", KT_FLOAT, student.epochs, 0, INF, 0, "3", "cyclegan: epochs of the student stage (> 0 unless max_steps > 0)"),
    NUM("student.max_steps", KT_I64, student.max_steps, 0, INF, 0, "0", "cyclegan: student optimizer steps; 0 = run epochs"),
    NUM("student.batch_size", KT_INT, student.batch_size, 1, 65536, 0, "4", "cyclegan: images per student step"),
    NUM("student.lr", KT_FLOAT, student.lr, 0, 1, LO_OPEN, "2.0e-4", "cyclegan: the student's Adam learning rate"),
    NUM("student.eval_every", KT_I64, student.eval_every, 0, INF, 0, "0",
        "cyclegan: steps between FID evaluations (each also writes the training state); 0 = once per epoch"),
    NUM("student.decay_epochs", KT_FLOAT, student.decay_epochs, -1, INF, 0, "-1",
        "cyclegan: as teacher.decay_epochs, for the student"),
    NUM("student.ngf", KT_INT, student.ngf, 0, 1024, 0, "0",
        "cyclegan: the MobileResnetGenerator's ngf; 0 = model.ngf (the teacher's)"),
    NUM("student.kernel", KT_INT, student.kernel, 3, 5, 0, "3", "cyclegan: the student's depthwise kernel, 3 or 5"),
    STR("student.arch", student.arch, 0, "''",
        "cyclegan: the student's MobileResNet arch text (c..-b..-k..-u..); empty = MobileResnetGenerator(student.ngf)"),
    PATH("student.init", student.init,
        "cyclegan: a MobileResNet file (an exported subnet, e.g. a search winner; student.h5; pruned.h5) the student "
        "starts from, its shape and generator weights (fine-tuning); '' = fresh weights of student.arch or ngf"),
    NUM("student.distill", KT_BOOL, student.distill, 0, 1, 0, "true",
        "cyclegan: distil the student from the teacher; false = train it as a plain CycleGAN (two MobileResNet "
        "generators of its shape and two discriminators, teacher.lambda_cycle, lambda_identity and pool_size), no "
        "teacher: the arch trained alone"),
    NUM("student.lambda_gan", KT_FLOAT, student.lambda_gan, 0, INF, 0, "1", "cyclegan: weight of the student's LSGAN loss"),
    NUM("student.lambda_recon", KT_FLOAT, student.lambda_recon, 0, INF, 0, "10",
        "cyclegan: weight of the L1 between the student's and the teacher's output"),
    NUM("student.lambda_distill", KT_FLOAT, student.lambda_distill, 0, INF, 0, "1",
        "cyclegan: weight of the feature MSE (encoder output and every third block, through learned 1x1 maps)"),
    NUM("prune.epochs", KT_FLOAT, prune.epochs, 0, INF, 0, "1", "cyclegan: epochs of the prune stage's distillation"),
    NUM("prune.max_steps", KT_I64, prune.max_steps, 0, INF, 0, "0", "cyclegan: prune-stage steps; 0 = run epochs"),
    NUM("prune.batch_size", KT_INT, prune.batch_size, 1, 65536, 0, "4", "cyclegan: images per prune-stage step"),
    NUM("prune.lr", KT_FLOAT, prune.lr, 0, 1, LO_OPEN, "2.0e-4", "cyclegan: the pruned net's Adam learning rate"),
    NUM("prune.eval_every", KT_I64, prune.eval_every, 0, INF, 0, "0",
        "cyclegan: steps between FID evaluations of the pruned net; 0 = once per epoch"),
    NUM("prune.decay_epochs", KT_FLOAT, prune.decay_epochs, -1, INF, 0, "-1",
        "cyclegan: as teacher.decay_epochs, for the prune stage"),
    NUM("prune.keep", KT_FLOAT, prune.keep, 0, 1, LO_OPEN, "0.5",
        "cyclegan: fraction of each channel slot of the student kept, by L1 norm"),
    NUM("prune.lambda_gan", KT_FLOAT, prune.lambda_gan, 0, INF, 0, "1", "cyclegan: weight of the pruned net's LSGAN loss"),
    NUM("prune.lambda_recon", KT_FLOAT, prune.lambda_recon, 0, INF, 0, "10",
        "cyclegan: weight of the L1 between the pruned net's and the unpruned student's output"),
    NUM("prune.lambda_distill", KT_FLOAT, prune.lambda_distill, 0, INF, 0, "1",
        "cyclegan: weight of the feature MSE to the unpruned student"),
    NUM("optim.warmup_ratio", KT_FLOAT, optim.warmup_ratio, 0, 1, 0, "0.1",
        "fraction of the teacher's steps (of each supernet phase's) of linear warm-up, then linear decay"),
    NUM("optim.weight_decay", KT_FLOAT, optim.weight_decay, 0, 1, 0, "0.01", "AdamW weight decay (0 to 1)"),
    NUM("optim.grad_clip", KT_FLOAT, optim.grad_clip, 0, INF, 0, "1.0", "global gradient norm clip; 0 = off"),
    NUM("optim.beta1", KT_FLOAT, optim.beta1, 0, 1, HI_OPEN, "0.9", "AdamW decay rate of the first moment"),
    NUM("optim.beta2", KT_FLOAT, optim.beta2, 0, 1, HI_OPEN, "0.999", "AdamW decay rate of the second moment"),
    NUM("optim.eps", KT_FLOAT, optim.eps, 0, 1, LO_OPEN, "1.0e-8", "AdamW denominator term"),
    NUM("reorder.enabled", KT_BOOL, reorder.enabled, 0, 1, 0, "true", "run the importance reorder stage"),
    NUM("reorder.batches", KT_I64, reorder.batches, 0, INF, 0, "0", "dev batches for importance; 0 = whole dev set"),
    LIST("supernet.space.depth", KT_INTS, supernet.depth, supernet.n_depth, 1, 64, 0, 1, "[2, 3, 4]",
         "elastic depths (each <= model.layers)"),
    LIST("supernet.space.heads", KT_INTS, supernet.heads, supernet.n_heads, 1, 256, 0, 1, "[1, 2, 3, 4]",
         "elastic heads per layer (each <= model.heads)"),
    LIST("supernet.space.ffn", KT_INTS, supernet.ffn, supernet.n_ffn, 1, 65536, 0, 1, "[256, 512, 768, 1024]",
         "elastic FFN widths (each <= model.ffn)"),
    LIST("supernet.space.hidden", KT_INTS, supernet.hidden, supernet.n_hidden, 8, 16384, 0, 0, "[]",
         "elastic hidden sizes (each <= model.hidden); [] = hidden not elastic"),
    LIST("supernet.space.stem", KT_INTS, supernet.stem, supernet.n_stem, 1, 4096, 0, 0, "[]",
         "cyclegan: the MobileResNet stem's channel choices; [] = the stored width only"),
    LIST("supernet.space.down1", KT_INTS, supernet.down1, supernet.n_down1, 1, 4096, 0, 0, "[]",
         "cyclegan: the first downsampling's channel choices; [] = the stored width only"),
    LIST("supernet.space.down2", KT_INTS, supernet.down2, supernet.n_down2, 1, 4096, 0, 0, "[]",
         "cyclegan: the residual stream's channel choices; [] = the stored width only"),
    LIST("supernet.space.blocks", KT_INTS, supernet.blocks, supernet.n_blocks, 1, 4096, 0, 0, "[]",
         "cyclegan: the hidden width choices of each group of residual blocks; [] = the stored widths only"),
    LIST("supernet.space.up1", KT_INTS, supernet.up1, supernet.n_up1, 1, 4096, 0, 0, "[]",
         "cyclegan: the first upsampling's channel choices; [] = the stored width only"),
    LIST("supernet.space.up2", KT_INTS, supernet.up2, supernet.n_up2, 1, 4096, 0, 0, "[]",
         "cyclegan: the second upsampling's channel choices; [] = the stored width only"),
    LIST("supernet.space.kernel", KT_INTS, supernet.kernel, supernet.n_kernel, 3, 5, 0, 0, "[]",
         "cyclegan: depthwise kernel choices of each group, [5, 3] or [3]; [] = [3]"),
    ENUM("supernet.space.depth_rule", supernet.depth_rule, ofa_depth_rule_name, OFA_DEPTH_RULE_COUNT, "dynabert",
         "layers kept at depth d: dynabert = floor((i+1)*L/d)-1, first = the first d"),
    {"supernet.phases", KT_PHASES, offsetof(ofa_config, supernet.phases), OFA_MAX_PHASES,
     offsetof(ofa_config, supernet.n_phases), 0, 0, 0, 1, NULL, 0,
     "[{elastic: [width], epochs: 2, lr: 2.0e-4}, {elastic: [width, depth], epochs: 2, lr: 1.0e-4}]",
     "progressive shrinking phases, run in order"},
    ENUM("supernet.sampler.strategy", supernet.sampler, ofa_sampler_name, OFA_SAMPLER_COUNT, "sandwich",
         "subnets per step: sandwich = largest + smallest + random"),
    NUM("supernet.sampler.subnets_per_step", KT_INT, supernet.subnets_per_step, 1, 256, 0, "4",
        "subnets trained per optimizer step"),
    NUM("supernet.micro_batches", KT_AUTO_INT, supernet.micro_batches, 1, 4096, 0, "auto",
        "micro-batches per step, each of batch_size examples; auto = max(subnets per step, training ranks)"),
    NUM("supernet.distill.lambda_logit", KT_FLOAT, supernet.lambda_logit, 0, INF, 0, "1.0",
        "weight of the soft cross-entropy to the teacher (cyclegan: of the L1 between the subnet's and the "
        "teacher's G_A output)"),
    NUM("supernet.distill.lambda_gan", KT_FLOAT, supernet.lambda_gan, 0, INF, 0, "0",
        "cyclegan: weight of the subnets' LSGAN loss against a discriminator trained beside them; 0 (and "
        "lambda_feature 0) = output L1 only"),
    NUM("supernet.distill.lambda_feature", KT_FLOAT, supernet.lambda_feature, 0, INF, 0, "0",
        "cyclegan: weight of the feature MSE to the teacher (encoder output and every third block, learned 1x1 maps)"),
    NUM("supernet.distill.lambda_hidden", KT_FLOAT, supernet.lambda_hidden, 0, INF, 0, "0.1",
        "weight of the hidden-state MSE to the teacher"),
    NUM("supernet.distill.lambda_hard", KT_FLOAT, supernet.lambda_hard, 0, INF, 0, "0.0",
        "weight of the hard-label loss"),
    NUM("supernet.distill.temperature", KT_FLOAT, supernet.temperature, 0, INF, LO_OPEN, "1.0",
        "softmax temperature of the logit distillation"),
    NUM("supernet.batch_size", KT_INT, supernet.batch_size, 1, 65536, 0, "32", "examples per micro-batch"),
    NUM("supernet.max_steps", KT_I64, supernet.max_steps, 0, INF, 0, "0",
        "optimizer steps; 0 = run the phases' epochs"),
    NUM("supernet.checkpoint.every_steps", KT_I64, supernet.checkpoint_every, 0, INF, 0, "200",
        "steps between checkpoints; 0 = only at the end"),
    NUM("supernet.checkpoint.keep", KT_INT, supernet.checkpoint_keep, 1, 1000, 0, "3", "checkpoints kept"),
    NUM("search.enabled", KT_BOOL, search.enabled, 0, 1, 0, "true", "ofa run runs the search (and exports its winners)"),
    NUM("search.population", KT_INT, search.population, 2, 1000000, 0, "50", "architectures per generation"),
    NUM("search.generations", KT_INT, search.generations, 0, 1000000, 0, "20", "evolution rounds"),
    NUM("search.parents", KT_FLOAT, search.parents, 0, 1, LO_OPEN, "0.25",
        "fraction of the population kept as parents"),
    NUM("search.mutate_prob", KT_FLOAT, search.mutate_prob, 0, 1, 0, "0.1", "probability of mutating each gene"),
    NUM("search.mutation_ratio", KT_FLOAT, search.mutation_ratio, 0, 1, 0, "0.5",
        "fraction of children made by mutation (the rest by crossover)"),
    LIST("search.budgets_ms", KT_FLOATS, search.budgets_ms, search.n_budgets, 0, INF, LO_OPEN, 1, "[2.0, 4.0, 8.0]",
         "latency budgets in milliseconds, one Pareto pick each"),
    ENUM("search.latency.mode", search.latency_mode, ofa_latency_mode_name, OFA_LATENCY_MODE_COUNT, "measured",
         "how latency is obtained"),
    NUM("search.latency.batch", KT_INT, search.latency_batch, 1, 65536, 0, "1", "batch size of latency runs"),
    NUM("search.latency.seq_len", KT_INT, search.latency_seq_len, 1, 4096, 0, "64", "sequence length of latency runs"),
    NUM("search.latency.threads", KT_INT, search.latency_threads, 1, 1024, 0, "1", "threads of latency runs (above 1: OpenBLAS instead of the one-thread AVX-512 kernels)"),
    NUM("search.latency.warmup", KT_INT, search.latency_warmup, 0, 100000, 0, "5", "untimed warm-up runs"),
    NUM("search.latency.repeats", KT_INT, search.latency_repeats, 1, 100000, 0, "30", "timed runs (median reported)"),
    ENUM("search.val_source", search.val_source, ofa_val_source_name, OFA_VAL_SOURCE_COUNT, "auto",
         "where the search's validation rows come from: train (val_fraction of it, held out of every training "
         "stage), dev (a seeded half of dev; reported dev figures use the other half), auto (dev for tasks whose "
         "train rows are not independent, such as SST-2; train otherwise)"),
    NUM("search.val_fraction", KT_FLOAT, search.val_fraction, 0, 1, LO_OPEN | HI_OPEN, "0.1",
        "fraction of train held out as the search's validation split (when it comes from train)"),
    NUM("search.val_limit", KT_I64, search.val_limit, 0, INF, 0, "0",
        "validation rows each candidate is scored on (the first N); 0 = all"),
    NUM("search.dev_limit", KT_I64, search.dev_limit, 0, INF, 0, "0",
        "dev rows the winners and the teacher are re-scored on (the first N of the reporting dev rows); 0 = all"),
    NUM("mpi.evaluators", KT_INT, mpi.evaluators, 0, 4096, 0, "0", "ranks reserved for evaluation"),
    NUM("mpi.coordinator_trains", KT_BOOL, mpi.coordinator_trains, 0, 1, 0, "true", "rank 0 also trains"),
    STR("mpi.monitor_archs", mpi.monitor_archs, 0, "''",
        "archs (text form, comma-separated) the evaluator ranks score at each checkpoint besides the "
        "largest and smallest"),
    NUM("mpi.checksum_every", KT_I64, mpi.checksum_every, 0, INF, 0, "50",
        "steps between replica checksum checks (0 = never); a mismatch re-broadcasts rank 0's weights"),
    NUM("mpi.bucket_mb", KT_FLOAT, mpi.bucket_mb, 0, 4096, 0, "25",
        "MB of gradients per allreduce bucket, posted as the backward finishes them (overlapping "
        "communication with compute); 0 = one allreduce after the backward"),
    NUM("fidnet.epochs", KT_FLOAT, fidnet.epochs, 0, INF, 0, "3",
        "training epochs of the FID feature net (> 0 unless max_steps > 0)"),
    NUM("fidnet.max_steps", KT_I64, fidnet.max_steps, 0, INF, 0, "0", "optimizer steps; 0 = run epochs"),
    NUM("fidnet.batch_size", KT_INT, fidnet.batch_size, 1, 65536, 0, "64", "images per step"),
    NUM("fidnet.lr", KT_FLOAT, fidnet.lr, 0, 1, LO_OPEN, "2.0e-3", "peak Adam learning rate (linear decay to 0 over the steps)"),
    NUM("fidnet.channels", KT_INT, fidnet.channels, 1, 1024, 0, "16",
        "channels of the first convolution (the later ones 2x and 4x)"),
    NUM("fidnet.features", KT_INT, fidnet.features, 2, 4096, 0, "64",
        "D, the penultimate feature vector FID is computed on"),
    NUM("fidnet.image_size", KT_INT, fidnet.image_size, 28, 1024, 0, "32",
        "input side: the 28x28 images padded with the background -1; image sets it scores must be this size"),
    NUM("fidnet.train_limit", KT_I64, fidnet.train_limit, 0, INF, 0, "0",
        "train on the first N train images; 0 = all 60000"),
    NUM("fidnet.test_limit", KT_I64, fidnet.test_limit, 0, INF, 0, "0",
        "score the test accuracy on the first N test images; 0 = all 10000"),
    STR("fidnet.output", fidnet.output, 1, "fidnet.h5", "the trained net's file name in experiment.output_dir"),
};
#define N_KEYS ((int)(sizeof g_keys / sizeof g_keys[0]))

#define PNUM(k, f, lo, hi, open, doc) {k, KT_FLOAT, offsetof(ofa_phase, f), 0, 0, lo, hi, open, 0, NULL, 0, NULL, doc}
static const key_def g_phase_keys[] = {
    {"supernet.phases[].elastic", KT_FLAGS, offsetof(ofa_phase, elastic), 0, 0, 0, 0, 0, 0, ofa_elastic_name,
     OFA_ELASTIC_COUNT, NULL,
     "dimensions that shrink in this phase"},
    PNUM("supernet.phases[].epochs", epochs, 0, INF, LO_OPEN, "epochs of this phase"),
    PNUM("supernet.phases[].lr", lr, 0, 1, LO_OPEN, "peak learning rate of this phase"),
};
#define N_PHASE_KEYS ((int)(sizeof g_phase_keys / sizeof g_phase_keys[0]))

int ofa_config_key_count(void) { return N_KEYS + N_PHASE_KEYS; }

const char *ofa_config_key_name(int i)
{
    OFA_ASSERT(i >= 0 && i < ofa_config_key_count());
    return i < N_KEYS ? g_keys[i].key : g_phase_keys[i - N_KEYS].key;
}

/* Renamed keys: the old name keeps working for one release, with a warning naming the new key
 * (ofa_config.warnings), and its value goes to the new key; the old and the new key given in the
 * same place (the file, or the overrides) with different values is an error naming both. */
static const struct renamed { const char *old, *key; } g_renamed[] = {
    {"teacher.warmup_ratio", "optim.warmup_ratio"},
    {"teacher.weight_decay", "optim.weight_decay"},
    {"teacher.grad_clip", "optim.grad_clip"},
};
#define N_RENAMED ((int)(sizeof g_renamed / sizeof g_renamed[0]))

/* Removed keys: never read by any stage, so they were dropped from the schema.  A config (or a
 * checkpoint's stored config_yaml) that still carries the old default value reads with a warning;
 * any other value is an error, since what it asked for would silently not happen. */
static const struct removed { const char *key, *dflt, *why; } g_removed[] = {
    {"teacher.init", "train", "the teacher trained from scratch; model.init now starts it from a file"},
    {"teacher.checkpoint", NULL, "the teacher trained from scratch; model.init now starts it from a file"}, /* NULL: the default is null */
};
#define N_REMOVED ((int)(sizeof g_removed / sizeof g_removed[0]))

/* No config nests deeper than 5 (top map, supernet, phases, a phase, its elastic list). */
#define MAX_DEPTH 32

/* ---- parse context and messages ---------------------------------------------------------- */

typedef struct ctx {
    const char *name;     /* file name for messages */
    const char *ovr;      /* the --set text being applied, or NULL while reading the file */
    yaml_document_t *doc;
    ofa_config *c;
    char at[N_KEYS][OFA_PATH_MAX + 32]; /* where each key was last set ("" = default) */
    int seq[N_KEYS], next_seq;          /* order of setting, to blame the latest of two keys */
    ofa_config old;                     /* the renamed keys' values, at their new keys' offsets */
    char old_at[N_RENAMED][OFA_PATH_MAX + 32];
    int old_seq[N_RENAMED];             /* 0 = not given */
} ctx;

static void where(const ctx *x, const yaml_node_t *n, char *buf, size_t cap)
{
    if (x->ovr)
        snprintf(buf, cap, "--set %s", x->ovr);
    else if (n)
        snprintf(buf, cap, "%s:%zu:%zu", x->name, n->start_mark.line + 1, n->start_mark.column + 1);
    else
        snprintf(buf, cap, "%s", x->name);
}

__attribute__((format(printf, 3, 4))) static int fail(const ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
    char loc[OFA_PATH_MAX + 32], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    where(x, n, loc, sizeof loc);
    return OFA_ERR(OFA_E_CONFIG, "%s: %s", loc, msg);
}

static yaml_node_t *node_at(const ctx *x, int i) { return yaml_document_get_node(x->doc, i); }

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = sval(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* "a map", "a list", "null", "'abc'" or "the quoted string \"5\"" for "got ..." messages. */
static const char *describe(const yaml_node_t *n, char *buf, size_t cap)
{
    if (n->type == YAML_MAPPING_NODE) return "a map";
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (is_null(n)) return "null";
    int quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    snprintf(buf, cap, quoted ? "the quoted string \"%.60s%s\"" : "'%.60s%s'", sval(n),
             strlen(sval(n)) > 60 ? "..." : "");
    return buf;
}

/* The names of an enum or flag list, "a, b, c", for messages. */
static const char *names_list(const key_def *d, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int v = 0; v < d->n_names && n < cap; v++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", v ? ", " : "", d->name(v));
    return buf;
}

/* The value of an enum or flag named s (length ns), or -1. */
static int name_value(const key_def *d, const char *s, size_t ns)
{
    for (int v = 0; v < d->n_names; v++)
        if (strlen(d->name(v)) == ns && !strncmp(d->name(v), s, ns)) return v;
    return -1;
}

static const char *expected(const key_def *d, char *buf, size_t cap)
{
    switch (d->type) {
    case KT_INT: case KT_I64: case KT_INTS: return d->type == KT_INTS ? "a list of integers" : "an integer";
    case KT_AUTO_INT: return "an integer or auto";
    case KT_FLOAT: return "a number";
    case KT_FLOATS: return "a list of numbers";
    case KT_BOOL: return "true or false";
    case KT_STR: case KT_ENUM: case KT_CHOICE: return "a string";
    case KT_PATH: return "a string or null";
    case KT_PHASES: return "a list of phases like {elastic: [width], epochs: 2, lr: 1.0e-4}";
    default: {
        char v[128];
        snprintf(buf, cap, "a list of: %s", names_list(d, v, sizeof v));
        return buf;
    }
    }
}


static int starts_section(const char *key, const char *prefix, size_t np)
{
    return np == 0 || (!strncmp(key, prefix, np) && key[np] == '.');
}

static const key_def *find_leaf(const key_def *tab, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(tab[i].key, key)) return &tab[i];
    return NULL;
}

static int is_section(const key_def *tab, int n, const char *key)
{
    size_t nk = strlen(key);
    for (int i = 0; i < n; i++)
        if (nk && starts_section(tab[i].key, key, nk)) return 1;
    return 0;
}

/* Corrects each unknown component of `key` to the closest sibling (edit distance <= 1, or 2 for
 * names of 5+ characters); falls back to a leaf elsewhere with the same last component.
 * Writes the suggestion to out and returns 1, or returns 0. */
static int suggest(const key_def *tab, int n, const char *key, char *out, size_t cap)
{
    char fixed[256] = "";
    size_t nf = 0;
    const char *p = key;
    while (*p) {
        size_t nc = strcspn(p, ".");
        const char *best = NULL;
        size_t nbest = 0;
        int dbest = nc >= 5 ? 3 : 2;
        for (int i = 0; i < n; i++) {
            if (!starts_section(tab[i].key, fixed, nf)) continue;
            const char *child = tab[i].key + (nf ? nf + 1 : 0);
            size_t nchild = strcspn(child, ".");
            int d = ofa_edit_distance(p, nc, child, nchild);
            if (d < dbest) dbest = d, best = child, nbest = nchild;
        }
        if (!best || nf + nbest + 2 >= sizeof fixed) break;
        nf += (size_t)snprintf(fixed + nf, sizeof fixed - nf, "%s%.*s", nf ? "." : "", (int)nbest, best);
        p += nc + (p[nc] == '.');
        if (!*p && strcmp(fixed, key) && (find_leaf(tab, n, fixed) || is_section(tab, n, fixed))) {
            snprintf(out, cap, "%s", fixed);
            return 1;
        }
    }
    const char *last = strrchr(key, '.');
    last = last ? last + 1 : key;
    for (int i = 0; i < n; i++) {
        const char *l = strrchr(tab[i].key, '.');
        if (l && !strcmp(l + 1, last) && strcmp(tab[i].key, key)) {
            snprintf(out, cap, "%s", tab[i].key);
            return 1;
        }
    }
    return 0;
}

/* The unknown-key error: a suggestion, else the valid keys of that section. `show` is the name as
 * the user wrote it, `key` the schema name (they differ inside phases). */
static int unknown_key(const ctx *x, const yaml_node_t *n, const key_def *tab, int nt, const char *key,
                       const char *show, const char *show_prefix)
{
    char sug[256], list[1024] = "";
    if (suggest(tab, nt, key, sug, sizeof sug)) {
        const char *tail = sug;
        if (show_prefix && tab == g_phase_keys) tail = strrchr(sug, '.') + 1;
        return fail(x, n, "unknown key '%s' (did you mean '%s%s%s'?)", show,
                    tab == g_phase_keys ? show_prefix : "", tab == g_phase_keys ? "." : "", tail);
    }
    const char *dot = strrchr(key, '.');
    size_t np = dot ? (size_t)(dot - key) : 0, nl = 0;
    char parent[256];
    snprintf(parent, sizeof parent, "%.*s", (int)np, key);
    if (np && find_leaf(tab, nt, parent))
        return fail(x, n, "unknown key '%s' ('%s' takes a value, not keys under it)", show, parent);
    int any = 0;
    for (int i = 0; i < nt && !any; i++) any = starts_section(tab[i].key, key, np);
    if (!any) np = 0; /* no such section at all: list the top-level keys */
    for (int i = 0; i < nt; i++) {
        if (!starts_section(tab[i].key, key, np)) continue;
        const char *child = tab[i].key + (np ? np + 1 : 0);
        int nchild = (int)strcspn(child, ".");
        char item[80];
        snprintf(item, sizeof item, "%.*s", nchild, child);
        int dup = 0;
        for (const char *s = list; (s = strstr(s, item)) != NULL; s++)
            if ((s == list || s[-1] == ' ') && (s[nchild] == ',' || !s[nchild])) dup = 1;
        if (!dup && nl + strlen(item) + 3 < sizeof list)
            nl += (size_t)snprintf(list + nl, sizeof list - nl, "%s%s", nl ? ", " : "", item);
    }
    return fail(x, n, "unknown key '%s' (valid %skeys%s: %s)", show, !np && dot ? "top-level " : "",
                !np && dot ? "" : " here", list);
}

/* ---- scalar conversion ------------------------------------------------------------------- */

static int in_range(const key_def *d, double v, double hi)
{
    return (d->open & LO_OPEN ? v > d->lo : v >= d->lo) && (d->open & HI_OPEN ? v < hi : v <= hi);
}

static void fmt_bound(char *buf, size_t cap, double v)
{
    if (isinf(v))
        snprintf(buf, cap, "inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%g", v);
}

static int range_error(const ctx *x, const yaml_node_t *n, const key_def *d, const char *show, double hi)
{
    char lo_s[32], hi_s[32];
    fmt_bound(lo_s, sizeof lo_s, d->lo);
    fmt_bound(hi_s, sizeof hi_s, hi);
    return fail(x, n, "%s: %s is out of range %c%s, %s%c", show, sval(n), d->open & LO_OPEN ? '(' : '[', lo_s, hi_s,
                (d->open & HI_OPEN) || isinf(hi) ? ')' : ']');
}

/* A plain decimal number: [+-]digits[.digits][e[+-]digits] (also ".5" and "5."). */
static int is_decimal(const char *s, int allow_frac)
{
    int digits = 0;
    if (*s == '+' || *s == '-') s++;
    while (isdigit((unsigned char)*s)) s++, digits++;
    if (allow_frac && *s == '.')
        for (s++; isdigit((unsigned char)*s); s++) digits++;
    if (!digits) return 0;
    if (allow_frac && (*s == 'e' || *s == 'E')) {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!isdigit((unsigned char)*s)) return 0;
        while (isdigit((unsigned char)*s)) s++;
    }
    return *s == '\0';
}

/* Converts scalar node n to a number of type t (KT_INT, KT_AUTO_INT, KT_I64, KT_FLOAT, KT_BOOL) into dst. */
static int set_number(const ctx *x, const key_def *d, int t, const char *show, const yaml_node_t *n, void *dst)
{
    char b1[96], b2[96];
    const char *what = t == KT_FLOAT       ? "a number"
                       : t == KT_BOOL      ? "true or false"
                       : t == KT_AUTO_INT  ? "an integer or auto"
                                           : "an integer";
    if (t == KT_AUTO_INT && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        !strcmp(sval(n), "auto")) {
        *(int *)dst = 0;
        return 0;
    }
    if (n->type != YAML_SCALAR_NODE || is_null(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return fail(x, n, "%s: expected %s, got %s", show, what, describe(n, b1, sizeof b1));
    const char *s = sval(n);
    if (t == KT_BOOL) {
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
        for (int i = 0; i < 3; i++) {
            if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
                *(int *)dst = !strcasecmp(s, yes[i]);
                return 0;
            }
        }
        return fail(x, n, "%s: expected true or false, got %s", show, describe(n, b1, sizeof b1));
    }
    if (!is_decimal(s, t == KT_FLOAT))
        return fail(x, n, "%s: expected %s, got %s", show, what, describe(n, b2, sizeof b2));
    errno = 0;
    if (t == KT_FLOAT) {
        double v = strtod(s, NULL);
        if (errno == ERANGE || !isfinite(v) || !in_range(d, v, d->hi)) return range_error(x, n, d, show, d->hi);
        *(double *)dst = v;
        return 0;
    }
    long long v = strtoll(s, NULL, 10);
    double hi = t != KT_I64 && d->hi > INT_MAX ? INT_MAX : d->hi;
    if (errno == ERANGE || !in_range(d, (double)v, hi)) return range_error(x, n, d, show, hi);
    if (t == KT_INT || t == KT_AUTO_INT)
        *(int *)dst = (int)v;
    else
        *(int64_t *)dst = (int64_t)v;
    return 0;
}

/* ${VAR}, ${VAR:-default} and $$ (a literal $) expansion into out[cap]. */
static int expand_env(const ctx *x, const yaml_node_t *n, const char *show, const char *in, char *out, size_t cap)
{
    size_t no = 0;
    for (const char *p = in; *p;) {
        const char *piece = p;
        size_t len = 1;
        if (p[0] == '$' && p[1] == '$') {
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            if (!end) return fail(x, n, "%s: unterminated '${' in '%s'", show, in);
            const char *name = p + 2, *dflt = strstr(name, ":-");
            if (dflt && dflt > end) dflt = NULL;
            size_t nn = (size_t)((dflt ? dflt : end) - name);
            int ok = nn > 0 && nn < 128 && (isalpha((unsigned char)name[0]) || name[0] == '_');
            for (size_t i = 0; ok && i < nn; i++) ok = isalnum((unsigned char)name[i]) || name[i] == '_';
            if (!ok) return fail(x, n, "%s: bad variable name in '%.*s'", show, (int)(end - p + 1), p);
            char var[128];
            snprintf(var, sizeof var, "%.*s", (int)nn, name);
            const char *val = getenv(var);
            if (dflt && (!val || !*val)) {
                piece = dflt + 2;
                len = (size_t)(end - piece);
            } else if (!val) {
                return fail(x, n, "%s: environment variable %s is not set (write ${%s:-default} for a fallback)",
                            show, var, var);
            } else {
                piece = val;
                len = strlen(val);
            }
            p = end + 1;
        } else {
            p++;
        }
        if (no + len >= cap) return fail(x, n, "%s: value is longer than %zu characters", show, cap - 1);
        memcpy(out + no, piece, len);
        no += len;
    }
    out[no] = '\0';
    return 0;
}

static int set_string(const ctx *x, const key_def *d, const char *show, const yaml_node_t *n, char *dst)
{
    char b[96], *tmp = ofa_xmalloc(d->size);
    int rc = 0;
    if (n->type != YAML_SCALAR_NODE || (is_null(n) && d->type != KT_PATH)) {
        rc = fail(x, n, "%s: expected %s, got %s", show, expected(d, b, sizeof b), describe(n, b, sizeof b));
    } else if (is_null(n)) {
        tmp[0] = '\0';
    } else if ((rc = expand_env(x, n, show, sval(n), tmp, d->size)) == 0) {
        if ((int)strlen(tmp) < d->min_n) rc = fail(x, n, "%s: must not be empty", show);
        char list[256];
        if (!rc && d->type == KT_CHOICE && name_value(d, tmp, strlen(tmp)) < 0)
            rc = fail(x, n, "%s: '%s' is not one of: %s", show, tmp, names_list(d, list, sizeof list));
    }
    if (!rc) {
        memset(dst, 0, d->size);
        memcpy(dst, tmp, strlen(tmp));
    }
    free(tmp);
    return rc;
}

/* One of the names of d (after ${VAR} expansion) into the int (enum) at dst. */
static int set_enum(const ctx *x, const key_def *d, const char *show, const yaml_node_t *n, int *dst)
{
    char b[96], tmp[64], list[256];
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail(x, n, "%s: expected %s, got %s", show, expected(d, b, sizeof b), describe(n, b, sizeof b));
    OFA_TRY(expand_env(x, n, show, sval(n), tmp, sizeof tmp));
    int v = name_value(d, tmp, strlen(tmp));
    if (v < 0) return fail(x, n, "%s: '%s' is not one of: %s", show, tmp, names_list(d, list, sizeof list));
    *dst = v;
    return 0;
}

/* ---- the walker -------------------------------------------------------------------------- */

static int walk_map(ctx *x, const key_def *tab, int nt, const char *prefix, const char *show_prefix,
                    yaml_node_t *map, char *base, unsigned *seen);

static int set_list(ctx *x, const key_def *d, const char *show, yaml_node_t *n, char *base)
{
    char b1[96], b2[96];
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(x, n, "%s: expected %s, got %s", show, expected(d, b1, sizeof b1), describe(n, b2, sizeof b2));
    int cnt = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    size_t cap = d->type == KT_FLAGS ? 31 : d->size;
    if (cnt < d->min_n || (size_t)cnt > cap)
        return fail(x, n, "%s: expected %d to %zu values, got %d", show, d->min_n, cap, cnt);
    int flags = 0;
    for (int i = 0; i < cnt; i++) {
        yaml_node_t *item = node_at(x, n->data.sequence.items.start[i]);
        char ishow[320];
        snprintf(ishow, sizeof ishow, "%s[%d]", show, i);
        if (d->type == KT_INTS) {
            const int *v = (const int *)(base + d->off);
            OFA_TRY(set_number(x, d, KT_INT, ishow, item, (int *)(base + d->off) + i));
            for (int j = 0; j < i; j++) /* a space choice or a budget twice: sampled or searched twice as often */
                if (v[j] == v[i]) return fail(x, item, "%s: %d is repeated (it is %s[%d] too)", ishow, v[i], show, j);
        } else if (d->type == KT_FLOATS) {
            const double *v = (const double *)(base + d->off);
            OFA_TRY(set_number(x, d, KT_FLOAT, ishow, item, (double *)(base + d->off) + i));
            for (int j = 0; j < i; j++)
                if (v[j] == v[i]) return fail(x, item, "%s: %g is repeated (it is %s[%d] too)", ishow, v[i], show, j);
        } else if (d->type == KT_FLAGS) {
            int k = item->type == YAML_SCALAR_NODE ? name_value(d, sval(item), strlen(sval(item))) : -1, bit;
            char list[256];
            if (k < 0)
                return fail(x, item, "%s: expected one of: %s, got %s", ishow, names_list(d, list, sizeof list),
                            describe(item, b1, sizeof b1));
            bit = 1 << k;
            if (flags & bit) return fail(x, item, "%s: '%s' is repeated", ishow, sval(item));
            flags |= bit;
        } else { /* KT_PHASES */
            ofa_phase *ph = (ofa_phase *)(base + d->off) + i;
            unsigned got = 0;
            memset(ph, 0, sizeof *ph);
            if (item->type != YAML_MAPPING_NODE)
                return fail(x, item, "%s: expected a map like {elastic: [width], epochs: 2, lr: 1.0e-4}, got %s", ishow,
                            describe(item, b1, sizeof b1));
            OFA_TRY(walk_map(x, g_phase_keys, N_PHASE_KEYS, "supernet.phases[]", ishow, item, (char *)ph, &got));
            for (int k = 0; k < N_PHASE_KEYS; k++)
                if (!(got & (1u << k)))
                    return fail(x, item, "%s: missing key '%s'", ishow, strrchr(g_phase_keys[k].key, '.') + 1);
        }
    }
    if (d->type == KT_FLAGS)
        *(int *)(base + d->off) = flags;
    else
        *(int *)(base + d->noff) = cnt;
    return 0;
}

static int set_leaf(ctx *x, const key_def *d, const char *show, yaml_node_t *n, char *base)
{
    switch (d->type) {
    case KT_INT: case KT_AUTO_INT: case KT_I64: case KT_FLOAT: case KT_BOOL:
        return set_number(x, d, d->type, show, n, base + d->off);
    case KT_STR: case KT_PATH: case KT_CHOICE: return set_string(x, d, show, n, base + d->off);
    case KT_ENUM: return set_enum(x, d, show, n, (int *)(base + d->off));
    default: return set_list(x, d, show, n, base);
    }
}

static int renamed_index(const char *old)
{
    for (int r = 0; r < N_RENAMED; r++)
        if (!strcmp(g_renamed[r].old, old)) return r;
    return -1;
}

__attribute__((format(printf, 2, 3))) static void warn(ctx *x, const char *fmt, ...)
{
    char *w = x->c->warnings;
    size_t n = strlen(w), cap = sizeof x->c->warnings;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(w + n, cap - n, fmt, ap);
    va_end(ap);
    if (k < 0 || n + (size_t)k + 1 >= cap) { /* no room: keep the lines before it whole */
        w[n] = '\0';
        return;
    }
    w[n + (size_t)k] = '\n';
    w[n + (size_t)k + 1] = '\0';
}

/* Renamed key r: read as its new key into x->old; resolve_renamed applies it. */
static int set_renamed(ctx *x, int r, const char *show, yaml_node_t *n)
{
    const key_def *d = find_leaf(g_keys, N_KEYS, g_renamed[r].key);
    OFA_ASSERT(d);
    OFA_TRY(set_leaf(x, d, show, n, (char *)&x->old));
    where(x, n, x->old_at[r], sizeof x->old_at[r]);
    x->old_seq[r] = ++x->next_seq;
    warn(x, "%s: %s is deprecated: use %s", x->old_at[r], g_renamed[r].old, g_renamed[r].key);
    return 0;
}

/* Removed key r: its old default is accepted with a warning, anything else refused. */
static int removed_key(ctx *x, int r, const char *show, const yaml_node_t *n)
{
    const struct removed *k = &g_removed[r];
    int is_default = k->dflt ? n->type == YAML_SCALAR_NODE && !strcmp(sval(n), k->dflt) : is_null(n);
    char at[OFA_PATH_MAX + 32], b[96];
    where(x, n, at, sizeof at);
    if (!is_default)
        return fail(x, n, "%s was removed (it was never read: %s), so %s cannot be honoured; delete the key", show,
                    k->why, describe(n, b, sizeof b));
    warn(x, "%s: %s was removed (it was never read: %s); delete the key", at, show, k->why);
    return 0;
}

/* Applies `node` to schema name `key` (a leaf or a section); show is the name for messages. */
static int apply(ctx *x, const key_def *tab, int nt, const char *key, const char *show, const char *show_prefix,
                 const yaml_node_t *key_node, yaml_node_t *node, char *base, unsigned *seen)
{
    const key_def *d = find_leaf(tab, nt, key);
    if (d) {
        if (seen) *seen |= 1u << (d - tab);
        OFA_TRY(set_leaf(x, d, show, node, base));
        if (tab == g_keys) {
            int k = (int)(d - g_keys);
            where(x, node, x->at[k], sizeof x->at[k]);
            x->seq[k] = ++x->next_seq;
        }
        return 0;
    }
    int r = tab == g_keys ? renamed_index(key) : -1;
    if (r >= 0) return set_renamed(x, r, show, node);
    for (r = 0; tab == g_keys && r < N_REMOVED; r++)
        if (!strcmp(g_removed[r].key, key)) return removed_key(x, r, show, node);
    if (is_section(tab, nt, key)) return walk_map(x, tab, nt, key, show, node, base, NULL);
    return unknown_key(x, key_node, tab, nt, key, show, show_prefix);
}

static int walk_map(ctx *x, const key_def *tab, int nt, const char *prefix, const char *show_prefix,
                    yaml_node_t *map, char *base, unsigned *seen)
{
    char b[96];
    if (*prefix && is_null(map)) return 0; /* "section:" with nothing under it */
    if (map->type != YAML_MAPPING_NODE) {
        if (!*prefix)
            return fail(x, map, "the top level must be a map of sections, got %s", describe(map, b, sizeof b));
        return fail(x, map, "%s: expected a map of keys, got %s", show_prefix, describe(map, b, sizeof b));
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(x, p->key), *v = node_at(x, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(x, k, "keys must be plain names, got %s", describe(k, b, sizeof b));
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = node_at(x, q->key);
            if (k2->type == YAML_SCALAR_NODE && !strcmp(sval(k2), sval(k)))
                return fail(x, k, "duplicate key '%s%s%s' (first at line %zu)", show_prefix, *show_prefix ? "." : "",
                            sval(k), k2->start_mark.line + 1);
        }
        char key[320], show[320];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", sval(k));
        snprintf(show, sizeof show, "%s%s%s", show_prefix, *show_prefix ? "." : "", sval(k));
        OFA_TRY(apply(x, tab, nt, key, show, show_prefix, k, v, base, seen));
    }
    return 0;
}

/* ---- documents, overrides, cross-key checks ---------------------------------------------- */

/* Whether lines first..last (0-based) of text contain "${". */
static int lines_have_var(const char *text, size_t len, size_t first, size_t last)
{
    size_t line = 0;
    for (size_t i = 0; i + 1 < len && line <= last; i++) {
        if (text[i] == '\n')
            line++;
        else if (line >= first && text[i] == '$' && text[i + 1] == '{')
            return 1;
    }
    return 0;
}

/* Refuses text nesting deeper than MAX_DEPTH maps and lists, in an event loop that stops there.
 * Needed before yaml_parser_load: libyaml's scanner checks every open flow level at every token, so
 * "x: " followed by 100000 '[' would take minutes (without a point to stop at a SIGTERM).  Explicit
 * tags (`!!str 1`, `!!float 2`, `!foo`) are refused here too: the document API cannot tell `!!str 1`
 * from a plain 1, so the value would be silently read as the key's type.  A syntax error ends the
 * loop silently: the load that follows reports it. */
static int check_depth(const ctx *x, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0, rc = 0, done = 0;
    OFA_ASSERT(YAML_OK(yaml_parser_initialize(&parser)));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done && rc == 0 && YAML_OK(yaml_parser_parse(&parser, &ev))) {
        char loc[OFA_PATH_MAX + 32];
        if (x->ovr)
            snprintf(loc, sizeof loc, "--set %s", x->ovr);
        else
            snprintf(loc, sizeof loc, "%s:%zu:%zu", x->name, ev.start_mark.line + 1, ev.start_mark.column + 1);
        const yaml_char_t *tag = ev.type == YAML_SCALAR_EVENT           ? ev.data.scalar.tag
                                 : ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
                                 : ev.type == YAML_MAPPING_START_EVENT  ? ev.data.mapping_start.tag
                                                                        : NULL;
        if (tag) {
            const char *t = (const char *)tag, *std = "tag:yaml.org,2002:";
            rc = OFA_ERR(OFA_E_CONFIG, "%s: explicit YAML tag '%s%s' is not supported: write the value without it "
                         "(quote it to make it a string)", loc, strncmp(t, std, strlen(std)) ? "" : "!!",
                         strncmp(t, std, strlen(std)) ? t : t + strlen(std));
        } else if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > MAX_DEPTH) rc = OFA_ERR(OFA_E_CONFIG, "%s: nesting deeper than %d levels", loc, MAX_DEPTH);
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Loads text as a single YAML document into *doc (caller deletes it on success). */
static int load_doc(const ctx *x, const char *text, size_t len, yaml_document_t *doc)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    int rc = 0;
    OFA_TRY(check_depth(x, text, len));
    OFA_ASSERT(YAML_OK(yaml_parser_initialize(&parser)));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!YAML_OK(yaml_parser_load(&parser, doc))) goto syntax;
    if (!YAML_OK(yaml_parser_load(&parser, &extra))) {
        yaml_document_delete(doc);
        goto syntax;
    }
    if (yaml_document_get_root_node(&extra)) {
        yaml_node_t *r = yaml_document_get_root_node(&extra);
        rc = fail(x, r, "expected one YAML document, found a second one");
        yaml_document_delete(doc);
    }
    yaml_document_delete(&extra);
    yaml_parser_delete(&parser);
    return rc;
syntax:;
    char loc[OFA_PATH_MAX + 32];
    if (x->ovr)
        snprintf(loc, sizeof loc, "--set %s", x->ovr);
    else
        snprintf(loc, sizeof loc, "%s:%zu:%zu", x->name, parser.problem_mark.line + 1, parser.problem_mark.column + 1);
    /* "${" inside {...} or [...] is a flow indicator: the usual cause of a syntax error near one */
    size_t pl = parser.problem_mark.line;
    int hint = lines_have_var(text, len, pl ? pl - 1 : 0, pl);
    rc = OFA_ERR(OFA_E_CONFIG, "%s: %s%s%s%s%s", loc, parser.problem ? parser.problem : "YAML error",
                 parser.context ? " (" : "", parser.context ? parser.context : "", parser.context ? ")" : "",
                 hint ? "; inside {...} or [...] quote a value with ${...}: '${VAR}'" : "");
    yaml_parser_delete(&parser);
    return rc;
}

/* Sets schema key `key` (leaf or section) from YAML flow text `value`. */
static int set_text(ctx *x, const char *key, const char *value)
{
    yaml_document_t doc;
    OFA_TRY(load_doc(x, value, strlen(value), &doc));
    yaml_node_t *root = yaml_document_get_root_node(&doc), null_node;
    if (!root) { /* "key=" : an empty value is null */
        memset(&null_node, 0, sizeof null_node);
        null_node.type = YAML_SCALAR_NODE;
        null_node.data.scalar.value = (yaml_char_t *)"";
        null_node.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
        root = &null_node;
    }
    x->doc = &doc;
    int rc = apply(x, g_keys, N_KEYS, key, key, "", NULL, root, (char *)x->c, NULL);
    yaml_document_delete(&doc);
    return rc;
}

static int apply_override(ctx *x, const char *text)
{
    for (size_t i = 0; i < sizeof x->c->sets / sizeof *x->c->sets; i++)
        if (!x->c->sets[i][0]) {
            snprintf(x->c->sets[i], sizeof x->c->sets[i], "--set %s", text);
            break;
        }
    x->ovr = text;
    const char *eq = strchr(text, '=');
    if (!eq || eq == text) return fail(x, NULL, "expected key=value");
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq - text), text);
    return set_text(x, key, eq + 1);
}

static const char *latest(const ctx *x, int a, int b) { return x->at[x->seq[a] >= x->seq[b] ? a : b]; }

static int key_index(const char *key)
{
    const key_def *d = find_leaf(g_keys, N_KEYS, key);
    OFA_ASSERT(d);
    return (int)(d - g_keys);
}

static char *leaf_text(const key_def *d, const char *base);

/* Moves the renamed keys given after setting number `since` (in the file, or in the overrides) to
 * their new keys; the new key given there too with another value is an error naming both. */
static int resolve_renamed(ctx *x, int since)
{
    for (int r = 0; r < N_RENAMED; r++) {
        if (x->old_seq[r] <= since) continue;
        int k = key_index(g_renamed[r].key);
        const key_def *d = &g_keys[k];
        OFA_ASSERT(d->type == KT_FLOAT); /* the renamed keys so far; other types need their size here */
        double *to = (double *)((char *)x->c + d->off), *from = (double *)((char *)&x->old + d->off);
        if (x->seq[k] > since && memcmp(to, from, sizeof *to) != 0) {
            char *a = leaf_text(d, (const char *)&x->old), *b = leaf_text(d, (const char *)x->c);
            int rc = OFA_ERR(OFA_E_CONFIG, "%s: %s is %s but %s is %s (%s); %s is deprecated: set only %s",
                             x->old_at[r], g_renamed[r].old, a, g_renamed[r].key, b, x->at[k], g_renamed[r].old,
                             g_renamed[r].key);
            free(a);
            free(b);
            return rc;
        }
        *to = *from;
        if (x->seq[k] <= since) {
            _Static_assert(sizeof x->at[0] == sizeof x->old_at[0], "same size: a whole-buffer copy");
            memcpy(x->at[k], x->old_at[r], sizeof x->at[k]); /* distinct buffers (snprintf: -Wrestrict) */
            x->seq[k] = x->old_seq[r];
        }
    }
    return 0;
}

/* Checks that involve more than one key; blames where the later of them was set. */
static int cross_check(ctx *x)
{
    const ofa_config *c = x->c;
#define BLAME(a, b) (*latest(x, key_index(a), key_index(b)) ? latest(x, key_index(a), key_index(b)) : x->name)
    if (c->model.head_dim == 0 && c->model.hidden % c->model.heads)
        return OFA_ERR(OFA_E_CONFIG, "%s: model.hidden (%d) must be a multiple of model.heads (%d)",
                       BLAME("model.hidden", "model.heads"), c->model.hidden, c->model.heads);
    if (!(c->teacher.epochs > 0) && c->teacher.max_steps <= 0)
        return OFA_ERR(OFA_E_CONFIG, "%s: teacher.epochs and teacher.max_steps are both 0; set one of them > 0",
                       BLAME("teacher.epochs", "teacher.max_steps"));
    if (!(c->student.epochs > 0) && c->student.max_steps <= 0)
        return OFA_ERR(OFA_E_CONFIG, "%s: student.epochs and student.max_steps are both 0; set one of them > 0",
                       BLAME("student.epochs", "student.max_steps"));
    if (!(c->prune.epochs > 0) && c->prune.max_steps <= 0)
        return OFA_ERR(OFA_E_CONFIG, "%s: prune.epochs and prune.max_steps are both 0; set one of them > 0",
                       BLAME("prune.epochs", "prune.max_steps"));
    if (c->student.kernel != 3 && c->student.kernel != 5)
        return OFA_ERR(OFA_E_CONFIG, "%s: student.kernel %d: the depthwise kernel is 3 or 5",
                       BLAME("student.kernel", "student.kernel"), c->student.kernel);
    if (c->data.max_seq_len > c->model.max_position)
        return OFA_ERR(OFA_E_CONFIG, "%s: data.max_seq_len (%d) exceeds model.max_position (%d)",
                       BLAME("data.max_seq_len", "model.max_position"), c->data.max_seq_len, c->model.max_position);
    if (!(c->fidnet.epochs > 0) && c->fidnet.max_steps <= 0)
        return OFA_ERR(OFA_E_CONFIG, "%s: fidnet.epochs and fidnet.max_steps are both 0; set one of them > 0",
                       BLAME("fidnet.epochs", "fidnet.max_steps"));
    if (strchr(c->fidnet.output, '/'))
        return OFA_ERR(OFA_E_CONFIG, "%s: fidnet.output '%s' is a file name in experiment.output_dir, not a path",
                       BLAME("fidnet.output", "fidnet.output"), c->fidnet.output);
    if (c->data.class_a == c->data.class_b)
        return OFA_ERR(OFA_E_CONFIG, "%s: data.class_a and data.class_b are both %d; translation needs two classes",
                       BLAME("data.class_a", "data.class_b"), c->data.class_a);
    if (c->data.image_size % 4)
        return OFA_ERR(OFA_E_CONFIG, "%s: data.image_size %d is not a multiple of 4 (the generator halves it twice)",
                       BLAME("data.image_size", "data.image_size"), c->data.image_size);
    /* supernet.space against model.* is checked by the supernet stage, not here: a teacher-only
     * config with a small model needs no supernet settings */
    for (int i = 0; i < c->supernet.n_phases; i++)
        if ((c->supernet.phases[i].elastic & OFA_ELASTIC_HIDDEN) && c->supernet.n_hidden == 0)
            return OFA_ERR(OFA_E_CONFIG,
                           "%s: supernet.phases[%d] makes hidden elastic but supernet.space.hidden is empty",
                           BLAME("supernet.phases", "supernet.space.hidden"), i);
#undef BLAME
    return 0;
}

/* ---- public API -------------------------------------------------------------------------- */

void ofa_config_defaults(ofa_config *c)
{
    ctx *x = ofa_xcalloc(1, sizeof *x);
    memset(c, 0, sizeof *c);
    x->c = c;
    x->name = "<defaults>";
    for (int i = 0; i < N_KEYS; i++) {
        x->ovr = g_keys[i].def;
        if (set_text(x, g_keys[i].key, g_keys[i].def) != 0) ofa_assert_fail_(ofa_err_msg(), __FILE__, __LINE__);
    }
    snprintf(c->source, sizeof c->source, "<defaults>");
    free(x);
}

int ofa_config_parse(ofa_config *c, const char *text, size_t len, const char *name, const char *const *overrides,
                     int n_overrides)
{
    ctx *x = ofa_xcalloc(1, sizeof *x);
    ofa_config *tmp = ofa_xmalloc(sizeof *tmp);
    yaml_document_t doc;
    int rc;
    ofa_config_defaults(tmp);
    snprintf(tmp->source, sizeof tmp->source, "%s", name ? name : "<text>");
    x->c = tmp;
    x->name = tmp->source;
    if ((rc = load_doc(x, text, len, &doc)) == 0) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        x->doc = &doc;
        if (root && !(root->type == YAML_SCALAR_NODE && is_null(root)))
            rc = walk_map(x, g_keys, N_KEYS, "", "", root, (char *)tmp, NULL);
        yaml_document_delete(&doc);
    }
    if (rc == 0) rc = resolve_renamed(x, 0);
    int since = x->next_seq;
    for (int i = 0; rc == 0 && i < n_overrides; i++) rc = apply_override(x, overrides[i]);
    x->ovr = NULL;
    if (rc == 0) rc = resolve_renamed(x, since);
    if (rc == 0) rc = cross_check(x);
    if (rc == 0) memcpy(c, tmp, sizeof *c); /* bytewise, padding too; on error *c is untouched */
    free(tmp);
    free(x);
    return rc;
}

const char *ofa_config_origin(const ofa_config *c, const char *key)
{
    const char *found = c->source;
    const size_t kn = strlen(key);
    for (size_t i = 0; i < sizeof c->sets / sizeof *c->sets && c->sets[i][0]; i++) {
        const char *k = c->sets[i] + 6, *eq = strchr(k, '='); /* past "--set " */
        const size_t n = eq ? (size_t)(eq - k) : strlen(k);
        /* the same key, a key inside it, or the section holding it */
        const size_t m = n < kn ? n : kn;
        if (!strncmp(k, key, m) && (n == kn || (n > kn ? k[kn] == '.' : key[n] == '.'))) found = c->sets[i];
    }
    return found;
}

int ofa_config_load(ofa_config *c, const char *path, const char *const *overrides, int n_overrides)
{
    FILE *f = fopen(path, "rb");
    if (!f) return OFA_ERR(OFA_E_IO, "cannot open config '%s': %s", path, strerror(errno));
    size_t cap = 1 << 14, len = 0, r;
    char *buf = ofa_xmalloc(cap);
    while ((r = fread(buf + len, 1, cap - len, f)) > 0)
        if ((len += r) == cap) buf = ofa_xrealloc(buf, cap *= 2);
    int bad = ferror(f);
    fclose(f);
    int rc = bad ? OFA_ERR(OFA_E_IO, "cannot read config '%s'", path)
                 : ofa_config_parse(c, buf, len, path, overrides, n_overrides);
    free(buf);
    return rc;
}

/* ---- printing ---------------------------------------------------------------------------- */

typedef struct sbuf { char *p; size_t n, cap; } sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        OFA_ASSERT(k >= 0);
        if (b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        b->p = ofa_xrealloc(b->p, b->cap = 2 * b->cap + (size_t)k);
    }
}

static void sb_double(sbuf *b, double v)
{
    char s[40];
    snprintf(s, sizeof s, "%.10g", v);
    if (strtod(s, NULL) != v) snprintf(s, sizeof s, "%.17g", v);
    sb_printf(b, "%s%s", s, strspn(s, "-0123456789") == strlen(s) ? ".0" : ""); /* 1 -> 1.0: a float */
}

/* Plain when unambiguous, else double-quoted; '$' is doubled so ${...} is not expanded again. */
static void sb_string(sbuf *b, const char *s, int nullable)
{
    static const char *const special[] = {"null", "~", "true", "false", "yes", "no", "on", "off"};
    if (!*s) {
        sb_printf(b, nullable ? "null" : "\"\"");
        return;
    }
    int plain = isalnum((unsigned char)s[0]) || s[0] == '.' || s[0] == '/' || s[0] == '_' || s[0] == '$';
    for (const char *p = s; *p && plain; p++) plain = isalnum((unsigned char)*p) || strchr("_./+-$", *p);
    for (size_t i = 0; plain && i < sizeof special / sizeof special[0]; i++) plain = strcasecmp(s, special[i]) != 0;
    if (!plain) sb_printf(b, "\"");
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '$')
            sb_printf(b, "$$");
        else if (plain || (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f))
            sb_printf(b, "%c", ch);
        else if (ch == '"' || ch == '\\')
            sb_printf(b, "\\%c", ch);
        else
            sb_printf(b, "\\x%02x", ch);
    }
    if (!plain) sb_printf(b, "\"");
}

static void sb_value(sbuf *b, const key_def *d, const char *base)
{
    const void *f = base + d->off;
    int n = d->noff ? *(const int *)(base + d->noff) : 0;
    switch (d->type) {
    case KT_INT: sb_printf(b, "%d", *(const int *)f); break;
    case KT_AUTO_INT:
        if (*(const int *)f == 0) sb_printf(b, "auto");
        else sb_printf(b, "%d", *(const int *)f);
        break;
    case KT_I64: sb_printf(b, "%lld", (long long)*(const int64_t *)f); break;
    case KT_FLOAT: sb_double(b, *(const double *)f); break;
    case KT_BOOL: sb_printf(b, "%s", *(const int *)f ? "true" : "false"); break;
    case KT_STR: case KT_PATH: case KT_CHOICE: sb_string(b, f, d->type == KT_PATH); break;
    case KT_ENUM: sb_string(b, d->name(*(const int *)f), 0); break;
    case KT_INTS: case KT_FLOATS:
        sb_printf(b, "[");
        for (int i = 0; i < n; i++) {
            if (i) sb_printf(b, ", ");
            if (d->type == KT_INTS)
                sb_printf(b, "%d", ((const int *)f)[i]);
            else
                sb_double(b, ((const double *)f)[i]);
        }
        sb_printf(b, "]");
        break;
    case KT_FLAGS: {
        int first = 1;
        sb_printf(b, "[");
        for (int k = 0; k < d->n_names; k++)
            if (*(const int *)f & (1 << k)) {
                sb_printf(b, "%s%s", first ? "" : ", ", d->name(k));
                first = 0;
            }
        sb_printf(b, "]");
        break;
    }
    default: OFA_ASSERT(0);
    }
}

/* The value of leaf d of the struct at base as YAML text (malloc'd), for messages. */
static char *leaf_text(const key_def *d, const char *base)
{
    sbuf b = {ofa_xmalloc(64), 0, 64};
    b.p[0] = '\0';
    sb_value(&b, d, base);
    return b.p;
}

char *ofa_config_to_yaml(const ofa_config *c)
{
    sbuf b = {ofa_xmalloc(4096), 0, 4096};
    const char *prev = "";
    b.p[0] = '\0';
    for (int i = 0; i < N_KEYS; i++) {
        const key_def *d = &g_keys[i];
        /* open the sections this key is in that the previous key was not in */
        size_t common = 0;
        for (size_t j = 0; d->key[j] && d->key[j] == prev[j]; j++)
            if (d->key[j] == '.') common = j + 1;
        int depth = 0;
        for (size_t j = 0; j < common; j++) depth += d->key[j] == '.';
        const char *p = d->key + common;
        for (const char *dot; (dot = strchr(p, '.')) != NULL; p = dot + 1, depth++)
            sb_printf(&b, "%*s%.*s:\n", 2 * depth, "", (int)(dot - p), p);
        sb_printf(&b, "%*s%s:", 2 * depth, "", p);
        if (d->type == KT_PHASES) {
            const ofa_phase *ph = c->supernet.phases;
            if (!c->supernet.n_phases) sb_printf(&b, " []");
            for (int k = 0; k < c->supernet.n_phases; k++) {
                sb_printf(&b, "\n%*s- {", 2 * depth + 2, "");
                for (int q = 0; q < N_PHASE_KEYS; q++) {
                    sb_printf(&b, "%s%s: ", q ? ", " : "", strrchr(g_phase_keys[q].key, '.') + 1);
                    sb_value(&b, &g_phase_keys[q], (const char *)&ph[k]);
                }
                sb_printf(&b, "}");
            }
        } else {
            sb_printf(&b, " ");
            sb_value(&b, d, (const char *)c);
        }
        sb_printf(&b, "\n");
        prev = d->key;
    }
    return b.p;
}

char *ofa_config_key_text(const ofa_config *c, const char *key)
{
    const key_def *d = find_leaf(g_keys, N_KEYS, key);
    if (!d) return NULL;
    if (d->type != KT_PHASES) return leaf_text(d, (const char *)c);
    sbuf b = {ofa_xmalloc(256), 0, 256};
    b.p[0] = '\0';
    sb_printf(&b, "[");
    for (int k = 0; k < c->supernet.n_phases; k++) {
        sb_printf(&b, "%s{", k ? ", " : "");
        for (int q = 0; q < N_PHASE_KEYS; q++) {
            sb_printf(&b, "%s%s: ", q ? ", " : "", strrchr(g_phase_keys[q].key, '.') + 1);
            sb_value(&b, &g_phase_keys[q], (const char *)&c->supernet.phases[k]);
        }
        sb_printf(&b, "}");
    }
    sb_printf(&b, "]");
    return b.p;
}

void ofa_config_log_warnings(const ofa_config *c)
{
    for (const char *w = c->warnings; *w;) {
        size_t n = strcspn(w, "\n");
        OFA_WARN("%.*s", (int)n, w);
        w += n + (w[n] == '\n');
    }
}

int ofa_config_model_init_check(const ofa_config *c)
{
    const char *path = c->model.init;
    if (!path[0]) return 0;
    if (ofa_is_dir(path))
        return OFA_ERR(OFA_E_CONFIG, "%s: model.init is a folder (in %s); a Hugging Face folder becomes a model file "
                       "with 'ofa import %s -o model.h5'", path, ofa_config_origin(c, "model.init"), path);
    if (!ofa_file_exists(path)) {
        char cwd[OFA_PATH_MAX] = "";
        if (path[0] != '/' && !getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
        return OFA_ERR(OFA_E_IO, "%s: no such file (model.init in %s%s%s%s; make it with 'ofa import HF_DIR -o %s')",
                       path, ofa_config_origin(c, "model.init"), cwd[0] ? "; relative to the working folder " : "",
                       cwd, path[0] == '~' ? "; ~ is not expanded: write ${HOME}" : "", path);
    }
    return 0;
}
