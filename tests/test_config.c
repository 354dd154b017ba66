/* Suite config: defaults, a full file, every error class with its exact message, ${ENV},
 * --set overrides, the YAML round trip, and docs/config.md listing every schema key. */
#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/timer.h"
#include "nn/optim.h"
#include "tests/testutil.h"

/* Parses text as "t.yaml" (with overrides); returns the status. */
static int parse(ofa_config *c, const char *text, const char *const *ovr, int n)
{
    ofa_err_clear();
    return ofa_config_parse(c, text, strlen(text), "t.yaml", ovr, n);
}

/* Expects the text (+ overrides) to fail with OFA_E_CONFIG and exactly `msg`. */
static void expect_error_(const char *text, const char *const *ovr, int n, const char *msg, int line)
{
    ofa_config c;
    int rc = parse(&c, text, ovr, n);
    if (rc != OFA_E_CONFIG || strcmp(ofa_err_msg(), msg) != 0)
        fprintf(stderr, "\n  test_config.c:%d: rc %d, message\n    got:  %s\n    want: %s\n", line, rc, ofa_err_msg(),
                msg);
    CU_ASSERT_EQUAL(rc, OFA_E_CONFIG);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), msg);
}
#define expect_error(text, msg) expect_error_((text), NULL, 0, (msg), __LINE__)
#define expect_set_error(set, msg)                                                                 \
    do {                                                                                           \
        const char *o_[1] = {(set)};                                                               \
        expect_error_("", o_, 1, (msg), __LINE__);                                                 \
    } while (0)

/* Saves and restores GLUE_DIR around tests that depend on it (make exports it). */
static char g_glue_saved[1024];
static int g_glue_was_set;
static void glue_unset(void)
{
    const char *g = getenv("GLUE_DIR");
    g_glue_was_set = g != NULL;
    snprintf(g_glue_saved, sizeof g_glue_saved, "%s", g ? g : "");
    unsetenv("GLUE_DIR");
}
static void glue_restore(void)
{
    if (g_glue_was_set) setenv("GLUE_DIR", g_glue_saved, 1);
}

static void test_defaults(void)
{
    ofa_config c;
    glue_unset();
    ofa_config_defaults(&c);
    /* the values of DESIGN.md's skeleton and the brief */
    CU_ASSERT_STRING_EQUAL(c.experiment.name, "default");
    CU_ASSERT_STRING_EQUAL(c.experiment.output_dir, "runs/default");
    CU_ASSERT_EQUAL(c.experiment.seed, 42);
    CU_ASSERT_EQUAL(c.experiment.threads, 0);
    CU_ASSERT_EQUAL(c.experiment.log_level, OFA_LOG_INFO);
    CU_ASSERT_STRING_EQUAL(c.data.task, "sst-2");
    CU_ASSERT_STRING_EQUAL(c.data.glue_dir, "../shared/data/glue");
    CU_ASSERT_EQUAL(c.data.max_seq_len, 64);
    CU_ASSERT_EQUAL(c.data.lowercase, 1);
    CU_ASSERT_STRING_EQUAL(c.data.vocab_file, "");
    CU_ASSERT_EQUAL(c.data.vocab_size, 8000);
    CU_ASSERT_EQUAL(c.data.train_limit + c.data.dev_limit + c.data.skip_bad_rows, 0);
    CU_ASSERT_STRING_EQUAL(c.model.type, "bert");
    CU_ASSERT_TRUE(c.model.layers == 4 && c.model.hidden == 256 && c.model.heads == 4 && c.model.ffn == 1024);
    CU_ASSERT_EQUAL(c.model.dropout, 0.1);
    CU_ASSERT_EQUAL(c.model.max_position, 128);
    CU_ASSERT_EQUAL(c.model.init_std, 0.02);
    CU_ASSERT_EQUAL(c.teacher.epochs, 3.0);
    CU_ASSERT_EQUAL(c.teacher.max_steps, 0);
    CU_ASSERT_EQUAL(c.teacher.batch_size, 32);
    CU_ASSERT_EQUAL(c.teacher.lr, 5.0e-4);
    CU_ASSERT_EQUAL(c.teacher.eval_every, 0);
    CU_ASSERT_EQUAL(c.optim.warmup_ratio, 0.1);
    CU_ASSERT_EQUAL(c.optim.weight_decay, 0.01);
    CU_ASSERT_EQUAL(c.optim.grad_clip, 1.0);
    /* AdamW's own defaults, which the teacher's resume fingerprint takes as "not set" */
    CU_ASSERT_TRUE(c.optim.beta1 == OFA_ADAMW_BETA1 && c.optim.beta2 == OFA_ADAMW_BETA2 && c.optim.eps == OFA_ADAMW_EPS);
    CU_ASSERT_STRING_EQUAL(c.warnings, "");
    CU_ASSERT_TRUE(c.reorder.enabled == 1 && c.reorder.batches == 0);
    static const int depth[] = {2, 3, 4}, heads[] = {1, 2, 3, 4}, ffn[] = {256, 512, 768, 1024};
    CU_ASSERT_TRUE(c.supernet.n_depth == 3 && !memcmp(c.supernet.depth, depth, sizeof depth));
    CU_ASSERT_TRUE(c.supernet.n_heads == 4 && !memcmp(c.supernet.heads, heads, sizeof heads));
    CU_ASSERT_TRUE(c.supernet.n_ffn == 4 && !memcmp(c.supernet.ffn, ffn, sizeof ffn));
    CU_ASSERT_EQUAL(c.supernet.n_hidden, 0);
    CU_ASSERT_EQUAL(c.supernet.depth_rule, OFA_DEPTH_DYNABERT);
    CU_ASSERT_EQUAL_FATAL(c.supernet.n_phases, 2);
    CU_ASSERT_EQUAL(c.supernet.phases[0].elastic, OFA_ELASTIC_WIDTH);
    CU_ASSERT_EQUAL(c.supernet.phases[1].elastic, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    CU_ASSERT_TRUE(c.supernet.phases[0].epochs == 2 && c.supernet.phases[1].epochs == 2);
    CU_ASSERT_TRUE(c.supernet.phases[0].lr == 2.0e-4 && c.supernet.phases[1].lr == 1.0e-4);
    CU_ASSERT_EQUAL(c.supernet.sampler, OFA_SAMPLER_SANDWICH);
    CU_ASSERT_TRUE(c.supernet.subnets_per_step == 4 && c.supernet.micro_batches == 0); /* auto */
    CU_ASSERT_TRUE(c.supernet.lambda_logit == 1.0 && c.supernet.lambda_hidden == 0.1 && c.supernet.lambda_hard == 0.0 &&
                   c.supernet.temperature == 1.0);
    CU_ASSERT_TRUE(c.supernet.batch_size == 32 && c.supernet.max_steps == 0);
    CU_ASSERT_TRUE(c.supernet.checkpoint_every == 200 && c.supernet.checkpoint_keep == 3);
    CU_ASSERT_TRUE(c.search.population == 50 && c.search.generations == 20);
    CU_ASSERT_TRUE(c.search.parents == 0.25 && c.search.mutate_prob == 0.1 && c.search.mutation_ratio == 0.5);
    CU_ASSERT_TRUE(c.search.n_budgets == 3 && c.search.budgets_ms[0] == 2.0 && c.search.budgets_ms[1] == 4.0 &&
                   c.search.budgets_ms[2] == 8.0);
    CU_ASSERT_EQUAL(c.search.latency_mode, OFA_LATENCY_MEASURED);
    CU_ASSERT_TRUE(c.search.latency_batch == 1 && c.search.latency_seq_len == 64 && c.search.latency_threads == 1 &&
                   c.search.latency_warmup == 5 && c.search.latency_repeats == 30);
    CU_ASSERT_TRUE(c.search.val_source == OFA_VAL_AUTO && c.search.val_fraction == 0.1 && c.search.val_limit == 0 &&
                   c.search.dev_limit == 0);
    CU_ASSERT_TRUE(c.mpi.evaluators == 0 && c.mpi.coordinator_trains == 1);
    CU_ASSERT_TRUE(c.fidnet.epochs == 3 && c.fidnet.max_steps == 0 && c.fidnet.batch_size == 64 &&
                   c.fidnet.lr == 2.0e-3 && c.fidnet.channels == 16 && c.fidnet.features == 64 &&
                   c.fidnet.image_size == 32 && c.fidnet.train_limit == 0 && c.fidnet.test_limit == 0);
    CU_ASSERT_STRING_EQUAL(c.fidnet.output, "fidnet.h5");
    /* FMNIST_DIR, when set, is the default fmnist_dir, else Debian's folder */
    const char *fm = getenv("FMNIST_DIR");
    char fm_saved[OFA_PATH_MAX];
    snprintf(fm_saved, sizeof fm_saved, "%s", fm ? fm : "");
    unsetenv("FMNIST_DIR");
    ofa_config e;
    CU_ASSERT_EQUAL(parse(&e, "", NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(e.data.fmnist_dir, "/usr/share/datasets/fashion-mnist");
    setenv("FMNIST_DIR", "/data/fm", 1);
    CU_ASSERT_EQUAL(parse(&e, "", NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(e.data.fmnist_dir, "/data/fm");
    if (fm) setenv("FMNIST_DIR", fm_saved, 1);
    else unsetenv("FMNIST_DIR");
    /* GLUE_DIR, when set, is the default glue_dir; an empty file gives the defaults */
    setenv("GLUE_DIR", "/data/glue", 1);
    ofa_config d;
    CU_ASSERT_EQUAL(parse(&d, "# nothing\n", NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(d.data.glue_dir, "/data/glue");
    CU_ASSERT_STRING_EQUAL(d.source, "t.yaml");
    unsetenv("GLUE_DIR");
    CU_ASSERT_EQUAL(parse(&d, "", NULL, 0), 0);
    snprintf(d.source, sizeof d.source, "%s", c.source);
    CU_ASSERT_EQUAL(memcmp(&c, &d, sizeof c), 0);
    glue_restore();
}

static void test_full_file(void)
{
    const char *path = tu_write_file("full.yaml",
        "# a complete experiment\n"
        "experiment: {name: bert-sst2, output_dir: runs/bert-sst2, seed: 7, threads: 2, log_level: debug}\n"
        "data:    {task: mrpc, glue_dir: /g, max_seq_len: 32, lowercase: no,\n"
        "          vocab_file: vocab.txt, vocab_size: 500, train_limit: 1000, dev_limit: 200, skip_bad_rows: yes}\n"
        "model:   {type: bert, layers: 6, hidden: 192, heads: 3, ffn: 768, dropout: 0, max_position: 64,\n"
        "          init_std: 1e-2}\n"
        "teacher: {epochs: 1.5, max_steps: 10, batch_size: 16, lr: 1.0e-4,\n"
        "          eval_every: 100}\n"
        "optim:   {warmup_ratio: 0, weight_decay: 0, grad_clip: 0.5, beta1: 0.8, beta2: 0.99, eps: 1e-6}\n"
        "reorder: {enabled: false, batches: 4}\n"
        "supernet:\n"
        "  space:   {depth: [3, 6], heads: [1, 3], ffn: [384, 768], hidden: [96, 192], depth_rule: first}\n"
        "  phases:\n"
        "    - {elastic: [width], epochs: 1, lr: 3e-4}\n"
        "    - elastic: [depth, hidden, width]\n"
        "      epochs: 0.5\n"
        "      lr: 5.0e-5\n"
        "  sampler: {strategy: random, subnets_per_step: 2}\n"
        "  micro_batches: 2\n"
        "  distill: {lambda_logit: 0.5, lambda_hidden: 0, lambda_hard: 1, temperature: 2}\n"
        "  batch_size: 8\n"
        "  max_steps: 300\n"
        "  checkpoint: {every_steps: 50, keep: 1}\n"
        "search:\n"
        "  population: 10\n"
        "  generations: 3\n"
        "  parents: 0.5\n"
        "  mutate_prob: 0.2\n"
        "  mutation_ratio: 0.25\n"
        "  budgets_ms: [1, 2.5]\n"
        "  latency: {mode: table, batch: 4, seq_len: 32, threads: 2, warmup: 1, repeats: 9}\n"
        "  val_fraction: 0.2\n"
        "  dev_limit: 50\n"
        "mpi: {evaluators: 1, coordinator_trains: false}\n");
    ofa_config c;
    int rc = ofa_config_load(&c, path, NULL, 0);
    if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(c.source, path);
    CU_ASSERT_STRING_EQUAL(c.experiment.name, "bert-sst2");
    CU_ASSERT_TRUE(c.experiment.seed == 7 && c.experiment.threads == 2);
    CU_ASSERT_EQUAL(c.experiment.log_level, OFA_LOG_DEBUG);
    CU_ASSERT_STRING_EQUAL(c.data.task, "mrpc");
    CU_ASSERT_STRING_EQUAL(c.data.glue_dir, "/g");
    CU_ASSERT_TRUE(c.data.max_seq_len == 32 && c.data.lowercase == 0 && c.data.skip_bad_rows == 1);
    CU_ASSERT_STRING_EQUAL(c.data.vocab_file, "vocab.txt");
    CU_ASSERT_TRUE(c.data.vocab_size == 500 && c.data.train_limit == 1000 && c.data.dev_limit == 200);
    CU_ASSERT_TRUE(c.model.layers == 6 && c.model.hidden == 192 && c.model.heads == 3 && c.model.ffn == 768);
    CU_ASSERT_TRUE(c.model.dropout == 0 && c.model.max_position == 64 && c.model.init_std == 0.01);
    CU_ASSERT_TRUE(c.teacher.epochs == 1.5 && c.teacher.max_steps == 10 && c.teacher.batch_size == 16);
    CU_ASSERT_TRUE(c.teacher.lr == 1e-4 && c.teacher.eval_every == 100);
    CU_ASSERT_TRUE(c.optim.warmup_ratio == 0 && c.optim.weight_decay == 0 && c.optim.grad_clip == 0.5);
    CU_ASSERT_TRUE(c.optim.beta1 == 0.8 && c.optim.beta2 == 0.99 && c.optim.eps == 1e-6);
    CU_ASSERT_STRING_EQUAL(c.warnings, "");
    CU_ASSERT_TRUE(c.reorder.enabled == 0 && c.reorder.batches == 4);
    CU_ASSERT_TRUE(c.supernet.n_depth == 2 && c.supernet.depth[0] == 3 && c.supernet.depth[1] == 6);
    CU_ASSERT_TRUE(c.supernet.n_hidden == 2 && c.supernet.hidden[0] == 96 && c.supernet.hidden[1] == 192);
    CU_ASSERT_EQUAL(c.supernet.depth_rule, OFA_DEPTH_FIRST);
    CU_ASSERT_EQUAL_FATAL(c.supernet.n_phases, 2);
    CU_ASSERT_TRUE(c.supernet.phases[0].elastic == OFA_ELASTIC_WIDTH && c.supernet.phases[0].lr == 3e-4);
    CU_ASSERT_EQUAL(c.supernet.phases[1].elastic, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | OFA_ELASTIC_HIDDEN);
    CU_ASSERT_TRUE(c.supernet.phases[1].epochs == 0.5 && c.supernet.phases[1].lr == 5e-5);
    CU_ASSERT_EQUAL(c.supernet.sampler, OFA_SAMPLER_RANDOM);
    CU_ASSERT_TRUE(c.supernet.subnets_per_step == 2 && c.supernet.micro_batches == 2);
    CU_ASSERT_TRUE(c.supernet.lambda_logit == 0.5 && c.supernet.lambda_hard == 1 && c.supernet.temperature == 2);
    CU_ASSERT_TRUE(c.supernet.batch_size == 8 && c.supernet.max_steps == 300);
    CU_ASSERT_TRUE(c.supernet.checkpoint_every == 50 && c.supernet.checkpoint_keep == 1);
    CU_ASSERT_TRUE(c.search.population == 10 && c.search.generations == 3 && c.search.parents == 0.5);
    CU_ASSERT_TRUE(c.search.n_budgets == 2 && c.search.budgets_ms[0] == 1.0 && c.search.budgets_ms[1] == 2.5);
    CU_ASSERT_EQUAL(c.search.latency_mode, OFA_LATENCY_TABLE);
    CU_ASSERT_TRUE(c.search.latency_batch == 4 && c.search.latency_repeats == 9 && c.search.val_fraction == 0.2);
    CU_ASSERT_TRUE(c.mpi.evaluators == 1 && c.mpi.coordinator_trains == 0);
    /* a missing file is an I/O error naming it */
    ofa_config d;
    CU_ASSERT_EQUAL(ofa_config_load(&d, tu_path("nope.yaml"), NULL, 0), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "nope.yaml"));
}

static void test_errors(void)
{
    /* syntax (libyaml's description, 1-based position) */
    expect_error("teacher: {lr: 1\n", "t.yaml:2:1: did not find expected ',' or '}' (while parsing a flow mapping)");
    expect_error("teacher:\n\tlr: 1\n",
                 "t.yaml:2:1: found character that cannot start any token (while scanning for the next token)");
    expect_error("a: 1\n---\nb: 2\n", "t.yaml:3:1: expected one YAML document, found a second one");
    /* unknown keys */
    expect_error("teacher:\n  lrr: 1\n", "t.yaml:2:3: unknown key 'teacher.lrr' (did you mean 'teacher.lr'?)");
    expect_error("model: {}\nteachr: {}\n", "t.yaml:2:1: unknown key 'teachr' (did you mean 'teacher'?)");
    /* two neighbours swapped is one edit */
    expect_error("model:\n  inti: x\n", "t.yaml:2:3: unknown key 'model.inti' (did you mean 'model.init'?)");
    /* the sampler's room: more subnets than a step holds is a range error, not an abort */
    expect_error("supernet: {sampler: {subnets_per_step: 257}}",
                 "t.yaml:1:40: supernet.sampler.subnets_per_step: 257 is out of range [1, 256]");
    /* types */
    expect_error("teacher:\n  lr: abc\n", "t.yaml:2:7: teacher.lr: expected a number, got 'abc'");
    expect_error("teacher:\n  lr: \"5\"\n", "t.yaml:2:7: teacher.lr: expected a number, got the quoted string \"5\"");
    expect_error("model: {layers: 1.5}", "t.yaml:1:17: model.layers: expected an integer, got '1.5'");
    expect_error("model: {layers: 1e3}", "t.yaml:1:17: model.layers: expected an integer, got '1e3'");
    expect_error("data: {lowercase: maybe}", "t.yaml:1:19: data.lowercase: expected true or false, got 'maybe'");
    expect_error("teacher:\n  lr: {a: 1}\n", "t.yaml:2:7: teacher.lr: expected a number, got a map");
    expect_error("teacher:\n  lr: [1]\n", "t.yaml:2:7: teacher.lr: expected a number, got a list");
    expect_error("teacher: 3\n", "t.yaml:1:10: teacher: expected a map of keys, got '3'");
    expect_error("supernet: {space: [1]}", "t.yaml:1:19: supernet.space: expected a map of keys, got a list");
    expect_error("supernet: {space: {depth: 3}}",
                 "t.yaml:1:27: supernet.space.depth: expected a list of integers, got '3'");
    expect_error("supernet:\n  space: {depth: [2, x]}\n",
                 "t.yaml:2:22: supernet.space.depth[1]: expected an integer, got 'x'");
    expect_error("- a\n- b\n", "t.yaml:1:1: the top level must be a map of sections, got a list");
    expect_error("hello\n", "t.yaml:1:1: the top level must be a map of sections, got 'hello'");
    /* null only where allowed */
    expect_error("teacher:\n  lr:\n", "t.yaml:2:6: teacher.lr: expected a number, got null");
    expect_error("experiment: {name: null}", "t.yaml:1:20: experiment.name: expected a string, got null");
    expect_error("experiment: {name: ''}", "t.yaml:1:20: experiment.name: must not be empty");
    /* ranges */
    expect_error("model: {dropout: 1.5}", "t.yaml:1:18: model.dropout: 1.5 is out of range [0, 1)");
    expect_error("model: {dropout: -0.1}", "t.yaml:1:18: model.dropout: -0.1 is out of range [0, 1)");
    expect_error("teacher: {lr: 0}", "t.yaml:1:15: teacher.lr: 0 is out of range (0, 1]");
    expect_error("experiment: {seed: -1}", "t.yaml:1:20: experiment.seed: -1 is out of range [0, inf)");
    expect_error("data: {max_seq_len: 99999999999}",
                 "t.yaml:1:21: data.max_seq_len: 99999999999 is out of range [8, 4096]");
    expect_error("search: {budgets_ms: [1, 0]}", "t.yaml:1:26: search.budgets_ms[1]: 0 is out of range (0, inf)");
    expect_error("supernet: {space: {depth: []}}", "t.yaml:1:27: supernet.space.depth: expected 1 to 16 values, got 0");
    /* enumerations */
    expect_error("model: {type: gpt}", "t.yaml:1:15: model.type: 'gpt' is not one of: bert, cyclegan");
    expect_error("supernet:\n  sampler: {strategy: best}\n",
                 "t.yaml:2:23: supernet.sampler.strategy: 'best' is not one of: sandwich, random, grid");
    expect_error("search: {latency: {mode: guess}}",
                 "t.yaml:1:26: search.latency.mode: 'guess' is not one of: measured, table, predictor");
    expect_error("experiment: {log_level: loud}",
                 "t.yaml:1:25: experiment.log_level: 'loud' is not one of: debug, info, warn, error");
    expect_error("experiment: {log_level: 'off'}", /* a level of the logger, not of a config */
                 "t.yaml:1:25: experiment.log_level: 'off' is not one of: debug, info, warn, error");
    expect_error("supernet: {space: {depth_rule: last}}",
                 "t.yaml:1:32: supernet.space.depth_rule: 'last' is not one of: dynabert, first");
    expect_error("data: {task: sst-3}", "t.yaml:1:14: data.task: 'sst-3' is not one of: cola, sst-2, mrpc, sts-b, "
                                        "qqp, mnli, mnli-mm, qnli, rte, wnli");
    expect_error("search: {latency: {mode: [table]}}",
                 "t.yaml:1:26: search.latency.mode: expected a string, got a list");
    /* duplicates */
    expect_error("teacher:\n  lr: 1e-4\n  lr: 2e-4\n", "t.yaml:3:3: duplicate key 'teacher.lr' (first at line 2)");
    expect_error("model: {}\nmodel: {}\n", "t.yaml:2:1: duplicate key 'model' (first at line 1)");
    /* a value twice in a list: a space choice sampled, or a budget searched, twice as often */
    expect_error("search: {budgets_ms: [2, 4.0, 2.0]}",
                 "t.yaml:1:31: search.budgets_ms[2]: 2 is repeated (it is search.budgets_ms[0] too)");
    expect_error("supernet: {space: {ffn: [64, 64]}}",
                 "t.yaml:1:30: supernet.space.ffn[1]: 64 is repeated (it is supernet.space.ffn[0] too)");
    /* phases */
    expect_error("supernet:\n  phases: [{elastic: [width], epochs: 1}]\n",
                 "t.yaml:2:12: supernet.phases[0]: missing key 'lr'");
    expect_error("supernet:\n  phases: [{elastic: [width, width], epochs: 1, lr: 1e-4}]\n",
                 "t.yaml:2:30: supernet.phases[0].elastic[1]: 'width' is repeated");
    expect_error("supernet:\n  phases: [{elastic: [size], epochs: 1, lr: 1e-4}]\n",
                 "t.yaml:2:23: supernet.phases[0].elastic[0]: expected one of: width, depth, hidden, got 'size'");
    expect_error("supernet:\n  phases: [{elastic: [], epochs: 0, lr: 1e-4}]\n",
                 "t.yaml:2:34: supernet.phases[0].epochs: 0 is out of range (0, inf)");
    /* cross-key checks point at the key set last */
    expect_error("model: {heads: 3}", "t.yaml:1:16: model.hidden (256) must be a multiple of model.heads (3)");
    expect_error("teacher: {epochs: 0}",
                 "t.yaml:1:19: teacher.epochs and teacher.max_steps are both 0; set one of them > 0");
    expect_error("fidnet: {epochs: 0}",
                 "t.yaml:1:18: fidnet.epochs and fidnet.max_steps are both 0; set one of them > 0");
    expect_error("fidnet: {output: a/b.h5}",
                 "t.yaml:1:18: fidnet.output 'a/b.h5' is a file name in experiment.output_dir, not a path");
    expect_error("fidnet: {image_size: 27}", "t.yaml:1:22: fidnet.image_size: 27 is out of range [28, 1024]");
    expect_error("fidnet: {features: 1}", "t.yaml:1:20: fidnet.features: 1 is out of range [2, 4096]");
    expect_error("data: {max_seq_len: 256}", "t.yaml:1:21: data.max_seq_len (256) exceeds model.max_position (128)");
    expect_error("supernet:\n  phases: [{elastic: [hidden], epochs: 1, lr: 1e-4}]\n",
                 "t.yaml:2:11: supernet.phases[0] makes hidden elastic but supernet.space.hidden is empty");
    /* accepted forms: nullable keys, bool spellings, scientific notation, int for a float */
    ofa_config c;
    CU_ASSERT_EQUAL(parse(&c, "data: {vocab_file: ~, lowercase: False}\nteacher: {lr: 1E-3, "
                              "epochs: 2}\nreorder:\n",
                          NULL, 0), 0);
    CU_ASSERT_TRUE(c.data.vocab_file[0] == 0 && c.data.lowercase == 0);
    CU_ASSERT_TRUE(c.teacher.lr == 1e-3 && c.teacher.epochs == 2.0);
    /* a failed parse leaves the struct untouched */
    ofa_config before;
    memcpy(&before, &c, sizeof c);
    CU_ASSERT_EQUAL(parse(&c, "model: {layers: 0}", NULL, 0), OFA_E_CONFIG);
    CU_ASSERT_EQUAL(memcmp(&before, &c, sizeof c), 0);
}

static void test_did_you_mean(void)
{
    expect_error("supernet:\n  sapce:\n    depth: [2]\n",
                 "t.yaml:2:3: unknown key 'supernet.sapce' (did you mean 'supernet.space'?)");
    expect_error("supernet: {checkpoint: {evry_steps: 3}}",
                 "t.yaml:1:25: unknown key 'supernet.checkpoint.evry_steps' (did you mean "
                 "'supernet.checkpoint.every_steps'?)");
    expect_error("search: {latency: {repeat: 3}}",
                 "t.yaml:1:20: unknown key 'search.latency.repeat' (did you mean 'search.latency.repeats'?)");
    /* the same name in another section */
    expect_error("teacher: {dropout: 0.1}",
                 "t.yaml:1:11: unknown key 'teacher.dropout' (did you mean 'model.dropout'?)");
    /* inside a phase */
    expect_error("supernet:\n  phases: [{elastic: [width], epoch: 1, lr: 1e-4}]\n",
                 "t.yaml:2:31: unknown key 'supernet.phases[0].epoch' (did you mean 'supernet.phases[0].epochs'?)");
    /* nothing close: the section's keys are listed */
    expect_error("reorder: {zzz: 1}", "t.yaml:1:11: unknown key 'reorder.zzz' (valid keys here: enabled, batches)");
    expect_error("zzz: 1", "t.yaml:1:1: unknown key 'zzz' (valid keys here: experiment, data, model, teacher, "
                           "student, prune, optim, reorder, supernet, search, mpi, fidnet)");
}

/* Issue 10, cases 11 and 12: explicit YAML tags were silently coerced (`!!str 1` read as 1); an
 * unknown key under a value or an unknown section listed "(valid keys here: )"; a weight decay of
 * 1e30 trained until "lower teacher.lr". */
static void test_hostile(void)
{
    expect_error("model: {layers: !!str 2}",
                 "t.yaml:1:17: explicit YAML tag '!!str' is not supported: write the value without it (quote it to "
                 "make it a string)");
    expect_error("data: {task: !!str 1}",
                 "t.yaml:1:14: explicit YAML tag '!!str' is not supported: write the value without it (quote it to "
                 "make it a string)");
    expect_error("teacher:\n  lr: !!float 1\n",
                 "t.yaml:2:7: explicit YAML tag '!!float' is not supported: write the value without it (quote it to "
                 "make it a string)");
    expect_error("experiment: !custom {seed: 1}",
                 "t.yaml:1:13: explicit YAML tag '!custom' is not supported: write the value without it (quote it to "
                 "make it a string)");
    expect_set_error("experiment.seed=!!int 3", "--set experiment.seed=!!int 3: explicit YAML tag '!!int' is not "
                                                "supported: write the value without it (quote it to make it a string)");
    /* a quoted value is a string without a tag */
    ofa_config c;
    CU_ASSERT_EQUAL(parse(&c, "experiment: {name: '1'}", NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(c.experiment.name, "1");
    expect_set_error("teacher.lr.x=1", "--set teacher.lr.x=1: unknown key 'teacher.lr.x' ('teacher.lr' takes a value, "
                                       "not keys under it)");
    expect_error("teacher: {lr: {x: 1}}", "t.yaml:1:15: teacher.lr: expected a number, got a map");
    expect_set_error("foo.bar=1", "--set foo.bar=1: unknown key 'foo.bar' (valid top-level keys: experiment, data, "
                                  "model, teacher, student, prune, optim, reorder, supernet, search, mpi, fidnet)");
    expect_error("optim: {weight_decay: 1e30}", "t.yaml:1:23: optim.weight_decay: 1e30 is out of range [0, 1]");
    expect_error("optim: {weight_decay: -0.01}", "t.yaml:1:23: optim.weight_decay: -0.01 is out of range [0, 1]");
    CU_ASSERT_EQUAL(parse(&c, "optim: {weight_decay: 1}", NULL, 0), 0);
    /* case 9: teacher.init / teacher.checkpoint were never read (init: checkpoint trained from
     * scratch); removed: their old defaults read with a warning, anything else is refused */
    CU_ASSERT_EQUAL_FATAL(parse(&c, "teacher: {init: train, checkpoint: null, lr: 1e-3}", NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(c.warnings, "t.yaml:1:17: teacher.init was removed (it was never read: the teacher "
                                       "trained from scratch; model.init now starts it from a file); delete the key\n"
                                       "t.yaml:1:36: teacher.checkpoint was removed (it was never read: the teacher "
                                       "trained from scratch; model.init now starts it from a file); delete the key\n");
    CU_ASSERT(c.teacher.lr == 1e-3);
    expect_error("teacher: {init: checkpoint, checkpoint: /nonexistent.h5}",
                 "t.yaml:1:17: teacher.init was removed (it was never read: the teacher trained from scratch; "
                 "model.init now starts it from a file), so 'checkpoint' cannot be honoured; delete the key");
    expect_error("teacher: {checkpoint: /nonexistent.h5}",
                 "t.yaml:1:23: teacher.checkpoint was removed (it was never read: the teacher trained from "
                 "scratch; model.init now starts it from a file), so '/nonexistent.h5' cannot be honoured; delete the "
                 "key");
    expect_set_error("teacher.init=checkpoint", "--set teacher.init=checkpoint: teacher.init was removed (it was "
                     "never read: the teacher trained from scratch; model.init now starts it from a file), so "
                     "'checkpoint' cannot be honoured; delete the key");
    /* and the resolved config no longer writes them */
    CU_ASSERT_EQUAL_FATAL(parse(&c, "", NULL, 0), 0);
    char *y = ofa_config_to_yaml(&c);
    const char *ts = strstr(y, "\nteacher:"), *te = ts ? strstr(ts + 1, "\n") : NULL;
    while (te && te[1] == ' ') te = strstr(te + 1, "\n"); /* the end of the teacher section */
    const char *init = ts ? strstr(ts, "  init:") : NULL;
    CU_ASSERT(ts && te && (!init || init > te));
    CU_ASSERT_PTR_NULL(strstr(y, "  checkpoint: null"));
    free(y);
}

static void test_env(void)
{
    ofa_config c;
    setenv("OFA_TEST_CFG_DIR", "/x/y", 1);
    unsetenv("OFA_TEST_CFG_UNSET");
    setenv("OFA_TEST_CFG_EMPTY", "", 1);
    CU_ASSERT_EQUAL_FATAL(parse(&c,
                                "data: {glue_dir: '${OFA_TEST_CFG_DIR}/glue',\n"
                                "       vocab_file: \"${OFA_TEST_CFG_UNSET:-v.txt}\"}\n"
                                "experiment: {name: 'a$${b}$c',\n"
                                "             output_dir: '${OFA_TEST_CFG_EMPTY:-out}/${OFA_TEST_CFG_EMPTY}x'}\n",
                                NULL, 0),
                          0);
    CU_ASSERT_STRING_EQUAL(c.data.glue_dir, "/x/y/glue");
    CU_ASSERT_STRING_EQUAL(c.data.vocab_file, "v.txt");
    CU_ASSERT_STRING_EQUAL(c.experiment.name, "a${b}$c");
    CU_ASSERT_STRING_EQUAL(c.experiment.output_dir, "out/x");
    expect_error("data:\n  glue_dir: ${OFA_TEST_CFG_UNSET}/glue\n",
                 "t.yaml:2:13: data.glue_dir: environment variable OFA_TEST_CFG_UNSET is not set "
                 "(write ${OFA_TEST_CFG_UNSET:-default} for a fallback)");
    expect_error("data:\n  glue_dir: ${OFA_TEST_CFG_DIR\n",
                 "t.yaml:2:13: data.glue_dir: unterminated '${' in '${OFA_TEST_CFG_DIR'");
    /* ${...} unquoted inside a flow map is a YAML syntax error: the message says how to fix it */
    expect_error("data: {task: rte, glue_dir: ${OFA_TEST_CFG_DIR}}\n",
                 "t.yaml:1:30: did not find expected ',' or '}' (while parsing a flow mapping); inside {...} or [...] "
                 "quote a value with ${...}: '${VAR}'");
    expect_error("data: {glue_dir: '${1X}'}", "t.yaml:1:18: data.glue_dir: bad variable name in '${1X}'");
    /* the overflow of a fixed buffer is an error, not a truncation */
    char big[300];
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = 0;
    setenv("OFA_TEST_CFG_BIG", big, 1);
    expect_error("experiment:\n  name: ${OFA_TEST_CFG_BIG}\n",
                 "t.yaml:2:9: experiment.name: value is longer than 127 characters");
    unsetenv("OFA_TEST_CFG_DIR");
    unsetenv("OFA_TEST_CFG_EMPTY");
    unsetenv("OFA_TEST_CFG_BIG");
}

static void test_overrides(void)
{
    ofa_config c;
    const char *ovr[] = {"supernet.space.depth=[2,4]", "teacher.lr=1e-4", "reorder.enabled=false",
                         "data.vocab_file=null", "teacher.lr=2e-4",
                         "supernet.distill={lambda_hidden: 0, temperature: 2}",
                         "supernet.phases=[{elastic: [depth], epochs: 1, lr: 1e-4}]", "experiment.name=sweep-3"};
    int rc = parse(&c, "data: {vocab_file: v.txt}\nteacher: {lr: 1e-3, epochs: 2}\n", ovr, 8);
    if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_TRUE(c.supernet.n_depth == 2 && c.supernet.depth[0] == 2 && c.supernet.depth[1] == 4);
    CU_ASSERT_EQUAL(c.teacher.lr, 2e-4); /* the last --set wins */
    CU_ASSERT_EQUAL(c.teacher.epochs, 2.0);
    CU_ASSERT_EQUAL(c.reorder.enabled, 0);
    CU_ASSERT_STRING_EQUAL(c.data.vocab_file, "");
    CU_ASSERT_TRUE(c.supernet.lambda_hidden == 0 && c.supernet.temperature == 2 && c.supernet.lambda_logit == 1.0);
    CU_ASSERT_TRUE(c.supernet.n_phases == 1 && c.supernet.phases[0].elastic == OFA_ELASTIC_DEPTH);
    CU_ASSERT_STRING_EQUAL(c.experiment.name, "sweep-3");
    expect_set_error("teacher.lrr=1e-4",
                     "--set teacher.lrr=1e-4: unknown key 'teacher.lrr' (did you mean 'teacher.lr'?)");
    expect_set_error("techer.lr=1e-4", "--set techer.lr=1e-4: unknown key 'techer.lr' (did you mean 'teacher.lr'?)");
    expect_set_error("teacher.lr=abc", "--set teacher.lr=abc: teacher.lr: expected a number, got 'abc'");
    expect_set_error("supernet.space.depth=[2,x]",
                     "--set supernet.space.depth=[2,x]: supernet.space.depth[1]: expected an integer, got 'x'");
    expect_set_error("supernet.space.depth=[2,",
                     "--set supernet.space.depth=[2,: did not find expected node content (while parsing a flow node)");
    expect_set_error("model.heads=3", "--set model.heads=3: model.hidden (256) must be a multiple of model.heads (3)");
    expect_set_error("teacher.lr", "--set teacher.lr: expected key=value");
    expect_set_error("teacher.lr=", "--set teacher.lr=: teacher.lr: expected a number, got null");
    /* the override's error wins over the file: the file was fine */
    const char *bad[] = {"model.dropout=2"};
    expect_error_("model: {dropout: 0.2}", bad, 1, "--set model.dropout=2: model.dropout: 2 is out of range [0, 1)",
                  __LINE__);
}

/* A non-default configuration with awkward values survives to_yaml -> parse exactly. */
static void test_round_trip(void)
{
    ofa_config c1, c2;
    const char *text = "experiment: {name: 'my run: #1', output_dir: \"runs/a b\\t\\\"q\\\"\",\n"
                       "             seed: 9007199254740993}\n"
                       "data: {task: 'sts-b', glue_dir: '/g/$${X}', vocab_file: 'null'}\n"
                       "model: {dropout: 0.30000000000000004, init_std: 1e-300}\n"
                       "teacher: {lr: 0.1, epochs: 0, max_steps: 5}\n"
                       "supernet:\n"
                       "  space: {hidden: [128, 256], ffn: [1, 1024]}\n"
                       "  phases: [{elastic: [hidden, depth], epochs: 1.25, lr: 3.3e-5},\n"
                       "           {elastic: [], epochs: 1e-3, lr: 1}]\n"
                       "search: {budgets_ms: [0.1, 1e-7, 123456789.123]}\n";
    int rc = parse(&c1, text, NULL, 0);
    if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(c1.experiment.name, "my run: #1");
    CU_ASSERT_STRING_EQUAL(c1.data.task, "sts-b");
    CU_ASSERT_STRING_EQUAL(c1.data.glue_dir, "/g/${X}");
    CU_ASSERT_STRING_EQUAL(c1.data.vocab_file, "null"); /* quoted: a string, not null */
    CU_ASSERT_EQUAL(c1.experiment.seed, 9007199254740993LL);
    char *y1 = ofa_config_to_yaml(&c1);
    rc = ofa_config_parse(&c2, y1, strlen(y1), "t.yaml", NULL, 0);
    if (rc) fprintf(stderr, "\n  %s\n%s", ofa_err_msg(), y1);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    char *y2 = ofa_config_to_yaml(&c2);
    CU_ASSERT_STRING_EQUAL(y1, y2);
    CU_ASSERT_EQUAL(memcmp(&c1, &c2, sizeof c1), 0);
    CU_ASSERT_EQUAL(c2.model.dropout, 0.30000000000000004);
    CU_ASSERT_EQUAL(c2.model.init_std, 1e-300);
    /* readable: short numbers stay short, lists are flow lists, phases one flow map per line */
    CU_ASSERT_PTR_NOT_NULL(strstr(y1, "\nteacher:\n  epochs: 0.0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(y1, "  lr: 0.1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(y1, "  budgets_ms: [0.1, 1e-07, 123456789.123]\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(y1, "  phases:\n    - {elastic: [depth, hidden], epochs: 1.25, lr: 3.3e-05}\n"
                                      "    - {elastic: [], epochs: 0.001, lr: 1.0}\n  sampler:\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(y1, "  space:\n    depth: [2, 3, 4]\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(y1, "  glue_dir: \"/g/$${X}\"\n"));
    free(y1);
    free(y2);
    /* the defaults too */
    ofa_config_defaults(&c1);
    y1 = ofa_config_to_yaml(&c1);
    CU_ASSERT_EQUAL_FATAL(ofa_config_parse(&c2, y1, strlen(y1), c1.source, NULL, 0), 0);
    CU_ASSERT_EQUAL(memcmp(&c1, &c2, sizeof c1), 0);
    free(y1);
}

/* Nesting deeper than 32 maps and lists is refused where it passes 32, before libyaml builds the
 * document (whose time grows with the square of the depth: "x: " and 100000 '[' took minutes). */
static void test_nesting(void)
{
    const size_t n = 100000;
    char *text = ofa_xmalloc(n + 4);
    memcpy(text, "x: ", 3);
    memset(text + 3, '[', n);
    text[n + 3] = '\0';
    double t0 = ofa_now();
    expect_error(text, "t.yaml:1:35: nesting deeper than 32 levels"); /* the top map and 31 '[' are 32 */
    double dt = ofa_now() - t0;
    if (dt >= 0.1) fprintf(stderr, "\n  100000 '[' took %.3f s\n", dt);
    CU_ASSERT(dt < 0.1); /* ~1 ms here; the quadratic load took 0.8 s for 20000 */
    /* 32 levels are fine: the next error is the unknown key */
    memset(text + 3 + 31, ']', 31);
    text[3 + 62] = '\0';
    expect_error(text, "t.yaml:1:1: unknown key 'x' (valid keys here: experiment, data, model, teacher, student, prune, optim, "
                       "reorder, supernet, search, mpi, fidnet)");
    /* maps and block style count too; the position is where the first map or list too deep starts */
    size_t k = 0;
    for (int d = 0; d < 33; d++) k += (size_t)sprintf(text + k, "%*sa:\n", 2 * d, "");
    sprintf(text + k, "%*s1\n", 66, "");
    expect_error(text, "t.yaml:33:65: nesting deeper than 32 levels");
    free(text);
    /* and in --set */
    expect_set_error("supernet.space.depth=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
                     "--set supernet.space.depth=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]: "
                     "nesting deeper than 32 levels");
}

/* teacher.warmup_ratio, weight_decay and grad_clip moved to optim.*: the old names still work with a
 * warning naming the new key, and the old and the new key given with different values in the same
 * place (the file, or the overrides) is an error naming both. */
static void test_renamed(void)
{
    ofa_config c;
    CU_ASSERT_EQUAL_FATAL(parse(&c, "teacher:\n  lr: 1e-4\n  grad_clip: 0.5\n  weight_decay: 0\n  warmup_ratio: 0.25\n",
                                NULL, 0),
                          0);
    CU_ASSERT_TRUE(c.optim.grad_clip == 0.5 && c.optim.weight_decay == 0 && c.optim.warmup_ratio == 0.25);
    CU_ASSERT_STRING_EQUAL(c.warnings, "t.yaml:3:14: teacher.grad_clip is deprecated: use optim.grad_clip\n"
                                       "t.yaml:4:17: teacher.weight_decay is deprecated: use optim.weight_decay\n"
                                       "t.yaml:5:17: teacher.warmup_ratio is deprecated: use optim.warmup_ratio\n");
    /* the resolved config has the new keys only */
    char *y = ofa_config_to_yaml(&c);
    CU_ASSERT_PTR_NOT_NULL(strstr(y, "\noptim:\n  warmup_ratio: 0.25\n  weight_decay: 0.0\n  grad_clip: 0.5\n"));
    CU_ASSERT_PTR_NULL(strstr(y, "grad_clip: 0.5\n  eval_every"));
    free(y);
    /* both, with the same value: fine (still a warning) */
    CU_ASSERT_EQUAL(parse(&c, "optim: {grad_clip: 0.5}\nteacher: {grad_clip: 0.50}\n", NULL, 0), 0);
    CU_ASSERT_TRUE(c.optim.grad_clip == 0.5 && strstr(c.warnings, "teacher.grad_clip is deprecated") != NULL);
    /* different values, in either order */
    expect_error("teacher: {grad_clip: 0.5}\noptim: {grad_clip: 2}\n",
                 "t.yaml:1:22: teacher.grad_clip is 0.5 but optim.grad_clip is 2.0 (t.yaml:2:20); teacher.grad_clip is "
                 "deprecated: set only optim.grad_clip");
    expect_error("optim:\n  weight_decay: 0.1\nteacher:\n  weight_decay: 0\n",
                 "t.yaml:4:17: teacher.weight_decay is 0.0 but optim.weight_decay is 0.1 (t.yaml:2:17); "
                 "teacher.weight_decay is deprecated: set only optim.weight_decay");
    /* an old key is checked like the new one, under its own name */
    expect_error("teacher: {warmup_ratio: 2}", "t.yaml:1:25: teacher.warmup_ratio: 2 is out of range [0, 1]");
    /* overrides: the old key works there too; an override wins over the file's other key; two
     * overrides that disagree are an error */
    const char *o1[] = {"teacher.grad_clip=0.25"};
    CU_ASSERT_EQUAL_FATAL(parse(&c, "optim: {grad_clip: 2}\n", o1, 1), 0);
    CU_ASSERT_EQUAL(c.optim.grad_clip, 0.25);
    CU_ASSERT_STRING_EQUAL(c.warnings,
                           "--set teacher.grad_clip=0.25: teacher.grad_clip is deprecated: use optim.grad_clip\n");
    const char *o2[] = {"optim.grad_clip=3"};
    CU_ASSERT_EQUAL_FATAL(parse(&c, "teacher: {grad_clip: 0.5}\n", o2, 1), 0);
    CU_ASSERT_EQUAL(c.optim.grad_clip, 3.0);
    const char *o3[] = {"teacher={grad_clip: 0.5}", "optim.grad_clip=3"};
    expect_error_("", o3, 2,
                  "--set teacher={grad_clip: 0.5}: teacher.grad_clip is 0.5 but optim.grad_clip is 3.0 (--set "
                  "optim.grad_clip=3); teacher.grad_clip is deprecated: set only optim.grad_clip",
                  __LINE__);
    /* no old key, no warning */
    CU_ASSERT_EQUAL(parse(&c, "optim: {grad_clip: 0.5}\n", o2, 1), 0);
    CU_ASSERT_STRING_EQUAL(c.warnings, "");
}

/* Every enum key: each name parses to its value (the enum's order is the name table's) and prints
 * back; an unknown name is an error listing them all. */
static void test_enums(void)
{
    static const struct {
        const char *key;
        size_t off;
        int n;
        const char *(*name)(int);
    } e[] = {
        {"experiment.log_level", offsetof(ofa_config, experiment.log_level), OFA_LOG_OFF, ofa_log_level_name},
        {"supernet.space.depth_rule", offsetof(ofa_config, supernet.depth_rule), OFA_DEPTH_RULE_COUNT,
         ofa_depth_rule_name},
        {"supernet.sampler.strategy", offsetof(ofa_config, supernet.sampler), OFA_SAMPLER_COUNT, ofa_sampler_name},
        {"search.latency.mode", offsetof(ofa_config, search.latency_mode), OFA_LATENCY_MODE_COUNT,
         ofa_latency_mode_name},
    };
    CU_ASSERT_STRING_EQUAL(ofa_sampler_name(OFA_SAMPLER_GRID), "grid");
    CU_ASSERT_STRING_EQUAL(ofa_latency_mode_name(OFA_LATENCY_PREDICTOR), "predictor");
    CU_ASSERT_STRING_EQUAL(ofa_depth_rule_name(OFA_DEPTH_FIRST), "first");
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        char set[128], list[256] = "", want[512];
        size_t nl = 0;
        for (int v = 0; v < e[i].n; v++) {
            ofa_config c;
            snprintf(set, sizeof set, "%s=%s", e[i].key, e[i].name(v));
            const char *o[1] = {set};
            int rc = parse(&c, "", o, 1);
            if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            CU_ASSERT_EQUAL(*(const int *)((const char *)&c + e[i].off), v);
            char *y = ofa_config_to_yaml(&c), line[160];
            const char *leaf = strrchr(e[i].key, '.') + 1;
            snprintf(line, sizeof line, "  %s: %s\n", leaf, e[i].name(v));
            CU_ASSERT_PTR_NOT_NULL(strstr(y, line));
            free(y);
            nl += (size_t)snprintf(list + nl, sizeof list - nl, "%s%s", v ? ", " : "", e[i].name(v));
        }
        snprintf(set, sizeof set, "%s=nope", e[i].key);
        snprintf(want, sizeof want, "--set %s: %s: 'nope' is not one of: %s", set, e[i].key, list);
        expect_set_error(set, want);
    }
    /* the elastic flags: flag k is 1 << k, named ofa_elastic_name(k) */
    CU_ASSERT_STRING_EQUAL(ofa_elastic_name(0), "width");
    CU_ASSERT_STRING_EQUAL(ofa_elastic_name(1), "depth");
    CU_ASSERT_STRING_EQUAL(ofa_elastic_name(2), "hidden");
    /* the log levels parse back from their names, "off" too (the CLI's --log-level) */
    for (int v = 0; v < OFA_LOG_LEVEL_COUNT; v++) CU_ASSERT_EQUAL(ofa_log_level_parse(ofa_log_level_name(v)), v);
    CU_ASSERT_EQUAL(ofa_log_level_parse("loud"), -1);
}

/* Every schema key is a distinct name the parser knows. */
static void test_schema(void)
{
    int n = ofa_config_key_count();
    CU_ASSERT_TRUE_FATAL(n >= 70);
    for (int i = 0; i < n; i++) {
        const char *k = ofa_config_key_name(i);
        for (int j = 0; j < i; j++) CU_ASSERT_STRING_NOT_EQUAL(k, ofa_config_key_name(j));
        if (strstr(k, "[]")) continue; /* phase fields: covered by the phases tests */
        char set[256], want[300];
        snprintf(set, sizeof set, "%s={}", k); /* a map is never a valid leaf value */
        ofa_config c;
        const char *o[1] = {set};
        CU_ASSERT_EQUAL(parse(&c, "", o, 1), OFA_E_CONFIG);
        snprintf(want, sizeof want, "--set %s: %s: expected ", set, k);
        if (strncmp(ofa_err_msg(), want, strlen(want)) != 0) fprintf(stderr, "\n  key %s: %s\n", k, ofa_err_msg());
        CU_ASSERT_EQUAL(strncmp(ofa_err_msg(), want, strlen(want)), 0);
    }
}

/* docs/config.md (read from the repo root, where the tests run) names every schema key as `key`. */
static void test_docs(void)
{
    FILE *f = fopen("docs/config.md", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char doc[1 << 17];
    size_t len = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[len] = '\0';
    int missing = 0;
    for (int i = 0; i < ofa_config_key_count(); i++) {
        char want[256];
        snprintf(want, sizeof want, "`%s`", ofa_config_key_name(i));
        if (!strstr(doc, want)) {
            fprintf(stderr, "%s%s", missing ? ", " : "\n  docs/config.md does not document: ", want);
            missing++;
        }
    }
    if (missing) fprintf(stderr, "\n");
    CU_ASSERT_EQUAL(missing, 0);
}

int test_config_register(void)
{
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "defaults", test_defaults) || !CU_add_test(s, "full_file", test_full_file) ||
        !CU_add_test(s, "errors", test_errors) || !CU_add_test(s, "enums", test_enums) ||
        !CU_add_test(s, "renamed", test_renamed) || !CU_add_test(s, "nesting", test_nesting) ||
        !CU_add_test(s, "hostile", test_hostile) || !CU_add_test(s, "did_you_mean", test_did_you_mean) ||
        !CU_add_test(s, "env", test_env) || !CU_add_test(s, "overrides", test_overrides) ||
        !CU_add_test(s, "round_trip", test_round_trip) || !CU_add_test(s, "schema", test_schema) ||
        !CU_add_test(s, "docs", test_docs))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
