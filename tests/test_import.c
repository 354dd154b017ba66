/* Suite import: Hugging Face BERT folders (models/bert/import, core/safetensors, `ofa import`).
 *
 * 1. golden: tests/golden/hf_tiny (BertForSequenceClassification, F32) and hf_tiny_f16 (F16, old
 *    LayerNorm gamma/beta names, a position_ids buffer), both with layer_norm_eps 1e-7 and
 *    type_vocab_size 3, imported and run on tests/golden/hf_tiny.h5's padded batch (one row uses
 *    token type 2): logits within 1e-4 of make_golden_hf.py's PyTorch forward of the same state
 *    dict; eps and the token types kept through the file; `ofa import` then `ofa inspect`.
 * 2. tokenizer: the imported vocab.txt tokenizes by WordPiece (lowercased, punctuation split,
 *    longest match first) into the ids its line numbers give.
 * 3. half: F16 and BF16 bits -> float, subnormals, infinities and NaN included.
 * 4. bad_input: a folder without config.json, a model_type other than bert, a hidden_act other than
 *    gelu, a truncated safetensors file, a header whose offsets run past the file, a tensor of the
 *    wrong shape, missing tensors, tensors left over, a vocab.txt of the wrong size, num_labels
 *    against the task, a pytorch_model.bin alone: each an error naming the file (and tensor), and
 *    no output file written.
 * 5. model_init: `ofa teacher` with model.init = an imported file starts from it (below). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/h5io.h"
#include "core/safetensors.h"
#include "datasets/wordpiece.h"
#include "models/bert/infer.h"
#include "models/bert/model.h"
#include "models/checkpoint.h"
#include "tests/testutil.h"

#define GOLD "tests/golden/hf_tiny.h5"

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int32_t *read_i32(ofa_h5 *h, const char *name, int64_t *n0, int64_t *n1)
{
    int nd;
    int64_t s[4] = {1, 1, 1, 1};
    if (ofa_h5_shape(h, name, &nd, s) < 0) return NULL;
    float *f = NULL;
    int32_t *x = malloc((size_t)(s[0] * s[1]) * sizeof *x);
    if (ofa_h5_read_f32_alloc(h, name, &f, &nd, s) < 0) {
        free(x);
        return NULL;
    }
    for (int64_t i = 0; i < s[0] * (nd > 1 ? s[1] : 1); i++) x[i] = (int32_t)f[i];
    free(f);
    *n0 = s[0], *n1 = nd > 1 ? s[1] : 1;
    return x;
}

/* logits of a model of the family on the golden batch, against `ref` */
static double logits_err(const ofa_model *m, const char *ref)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, GOLD), 0);
    int64_t B, T, b2, one;
    int32_t *ids = read_i32(&h, "ids", &B, &T), *types = read_i32(&h, "types", &b2, &T), *lens = read_i32(&h, "lens", &b2, &one);
    CU_ASSERT_FATAL(ids && types && lens);
    float *want = NULL;
    int nd;
    int64_t s[4];
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_f32_alloc(&h, ref, &want, &nd, s), 0);
    ofa_h5_close(&h);
    const ofa_bert *b = &ofa_bert_of(m)->m;
    ofa_bert_infer_ws ws;
    ofa_bert_infer_ws_create(&ws, &b->d, (int)B, (int)T);
    const float *got = ofa_bert_infer(b, &ws, ids, types, lens, (int)B, (int)T, NULL);
    double worst = 0;
    for (int64_t i = 0; i < B * b->d.C; i++) worst = fmax(worst, fabs(got[i] - want[i]));
    ofa_bert_infer_ws_free(&ws);
    free(ids), free(types), free(lens), free(want);
    return worst;
}

static void test_golden(void)
{
    const ofa_family *f = ofa_family_find("bert");
    CU_ASSERT_FATAL(f && f->model_import);
    static const char *const dirs[2] = {"tests/golden/hf_tiny", "tests/golden/hf_tiny_f16"};
    static const char *const refs[2] = {"logits_f32", "logits_f16"};
    for (int k = 0; k < 2; k++) {
        ofa_model m = {0};
        ofa_config c;
        char note[512];
        int rc = f->model_import(&m, &c, dirs[k], "sst-2", 7, note, sizeof note);
        if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        const ofa_bert_dims *d = &ofa_bert_of(&m)->m.d;
        CU_ASSERT(d->L == 2 && d->H == 16 && d->A == 2 && d->F == 32 && d->V == 40 && d->P == 24 && d->C == 2);
        CU_ASSERT(d->T == 3 && d->eps == 1e-7);
        CU_ASSERT_STRING_EQUAL(note, ""); /* everything taken; the buffer skipped silently */
        CU_ASSERT(c.model.layers == 2 && c.model.hidden == 16 && !strcmp(c.data.task, "sst-2"));
        double e = logits_err(&m, refs[k]);
        fprintf(stderr, "(%s: max |logit diff| %.2g) ", dirs[k] + 13, e);
        CU_ASSERT(e < 1e-4);
        /* through the file: the same model (eps and token types kept) */
        char path[1100];
        snprintf(path, sizeof path, "%s/imp%d.h5", tu_tmpdir(), k);
        ofa_ckpt_meta meta;
        ofa_ckpt_meta_init(&meta, "teacher");
        snprintf(meta.task, sizeof meta.task, "sst-2");
        CU_ASSERT_EQUAL_FATAL(ofa_ckpt_save_model(path, &m, &meta, NULL, NULL, NULL), 0);
        ofa_ckpt_meta_free(&meta);
        ofa_model r = {0};
        CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_model(path, &r, &meta, NULL), 0);
        ofa_ckpt_meta_free(&meta);
        const ofa_bert_dims *rd = &ofa_bert_of(&r)->m.d;
        CU_ASSERT(rd->T == 3 && rd->eps == 1e-7);
        CU_ASSERT(logits_err(&r, refs[k]) == e);
        ofa_model_free(&r);
        ofa_model_free(&m);
    }
    /* the command: a teacher checkpoint that inspect reads */
    char cmd[2048], *log = NULL;
    snprintf(cmd, sizeof cmd, "import tests/golden/hf_tiny_f16 -o %s/cmd.h5", tu_tmpdir());
    int st = tu_run_ofa(cmd, &log);
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "(kind teacher, task sst-2; bert: 2 layers, hidden 16"));
    free(log);
    snprintf(cmd, sizeof cmd, "inspect %s/cmd.h5", tu_tmpdir());
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &log), 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "ofa teacher checkpoint (bert, sst-2)"));
    free(log);
}

static void test_tokenizer(void)
{
    ofa_vocab v;
    CU_ASSERT_EQUAL_FATAL(ofa_vocab_load(&v, "tests/golden/hf_tiny/vocab.txt"), 0);
    CU_ASSERT(v.n == 40 && v.pad == 0 && v.unk == 2 && v.cls == 3 && v.sep == 4 && v.mask == 5);
    static const struct {
        const char *text;
        int n;
        int32_t ids[12];
    } cases[] = {
        {"The film is NOT very good!", 7, {6, 8, 9, 12, 13, 10, 33}},
        {"movies, unable", 5, {16, 26, 35, 30, 31}},
        {"it's boring", 4, {24, 36, 2, 32}}, /* "s" alone is not a word of the vocab: [UNK] */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int32_t *ids = NULL;
        int64_t n = 0, cap = 0;
        CU_ASSERT_EQUAL_FATAL(ofa_wordpiece_encode(&v, 1, cases[i].text, &ids, &n, &cap), 0);
        int same = n == cases[i].n;
        for (int64_t j = 0; same && j < n; j++) same = ids[j] == cases[i].ids[j];
        if (!same) {
            fprintf(stderr, "\n  '%s' ->", cases[i].text);
            for (int64_t j = 0; j < n; j++) fprintf(stderr, " %d", ids[j]);
        }
        CU_ASSERT(same);
        free(ids);
    }
    ofa_vocab_free(&v);
}

static void test_half(void)
{
    CU_ASSERT(ofa_half_to_float(0x3c00) == 1.0f);
    CU_ASSERT(ofa_half_to_float(0xc000) == -2.0f);
    CU_ASSERT(ofa_half_to_float(0x7bff) == 65504.0f);
    CU_ASSERT(ofa_half_to_float(0x0001) == ldexpf(1.0f, -24)); /* the smallest subnormal */
    CU_ASSERT(ofa_half_to_float(0x0400) == ldexpf(1.0f, -14)); /* the smallest normal */
    CU_ASSERT(isinf(ofa_half_to_float(0x7c00)) && ofa_half_to_float(0xfc00) < 0);
    CU_ASSERT(isnan(ofa_half_to_float(0x7e00)));
    CU_ASSERT(ofa_half_to_float(0x3555) == 0x155 / 1024.0f * 0.25f + 0.25f); /* 0.333251953125 */
    CU_ASSERT(ofa_bf16_to_float(0x3f80) == 1.0f && ofa_bf16_to_float(0xc040) == -3.0f);
    CU_ASSERT(isinf(ofa_bf16_to_float(0x7f80)) && isnan(ofa_bf16_to_float(0x7fc0)));
}

/* `ofa import` of a copy of hf_tiny changed by `edit` (shell, run in the copy): fails with `want`
 * in the message and writes nothing */
static void bad_case(const char *edit, const char *want, const char *args)
{
    char dir[1100], cmd[8192], out[1200];
    snprintf(dir, sizeof dir, "%s/bad", tu_tmpdir());
    snprintf(out, sizeof out, "%s/bad.h5", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf %s %s && cp -r tests/golden/hf_tiny %s && cd %s && %s", dir, out, dir, dir, edit);
    CU_ASSERT_EQUAL_FATAL(sh(cmd), 0);
    char *log = NULL;
    snprintf(cmd, sizeof cmd, "import %s -o %s %s", dir, out, args ? args : "");
    int st = tu_run_ofa(cmd, &log);
    CU_ASSERT(st == 1 || st == 2);
    if (!log || !strstr(log, want)) fprintf(stderr, "\n  expected '%s' in:\n%s\n", want, log ? log : "(nothing)");
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, want));
    CU_ASSERT_EQUAL(access(out, F_OK), -1); /* nothing written */
    free(log);
}

static void test_bad_input(void)
{
    bad_case("rm config.json", "no config.json; a Hugging Face model folder has", NULL);
    bad_case("sed -i 's/\"model_type\": \"bert\"/\"model_type\": \"roberta\"/' config.json",
             "config.json: model_type is 'roberta'; ofa imports BERT models", NULL);
    bad_case("sed -i 's/\"hidden_act\": \"gelu\"/\"hidden_act\": \"relu\"/' config.json",
             "config.json: hidden_act is 'relu'", NULL);
    bad_case("truncate -s 20000 model.safetensors", "model.safetensors: tensor '", NULL);
    bad_case("truncate -s 20000 model.safetensors", "run past the end of the data", NULL);
    bad_case("truncate -s 100 model.safetensors", "model.safetensors: header length", NULL);
    /* a header (64 bytes: 0100 octal) whose offsets run past the file (its data 8 bytes) */
    bad_case("rm model.safetensors && printf '\\100\\000\\000\\000\\000\\000\\000\\000' > model.safetensors && "
             "printf '{\"x\":{\"dtype\":\"F32\",\"shape\":[200],\"data_offsets\":[0,800]}}      ' >> model.safetensors && "
             "printf '12345678' >> model.safetensors",
             "model.safetensors: tensor 'x': data_offsets [0, 800] run past the end of the data (8 bytes", NULL);
    bad_case("sed -i 's/\"intermediate_size\": 32/\"intermediate_size\": 31/' config.json",
             "wrong shapes: bert.encoder.layer.0.intermediate.dense.weight is [32, 16], expected [31, 16]", NULL);
    bad_case("sed -i 's/\"num_hidden_layers\": 2/\"num_hidden_layers\": 3/' config.json",
             "tensors missing: bert.encoder.layer.2.attention.self.query.weight", NULL);
    bad_case("sed -i 's/\"num_hidden_layers\": 2/\"num_hidden_layers\": 1/' config.json",
             "that a BERT of this config does not have: bert.encoder.layer.1.", NULL);
    bad_case("echo extra >> vocab.txt", "vocab.txt has 41 tokens; config.json says vocab_size 40", NULL);
    bad_case("true", "the classifier has num_labels 2; task sts-b needs 1 output (regression)", "--task sts-b");
    bad_case("mv model.safetensors pytorch_model.bin",
             "convert it first: /usr/bin/python3 tools/hf_to_safetensors.py", NULL);
}

/* model.init: `ofa teacher` starts from an imported model (its weights, vocabulary, token types and
 * eps): after 2 steps at lr 1e-9 the teacher's logits on the golden batch are the import's within
 * 1e-4; a config whose model.* differs from the file is an error naming the key. */
static void test_model_init(void)
{
    const char *glue = tu_glue_dir();
    if (!glue) {
        printf("\n  [skip] no GLUE data (GLUE_DIR)\n");
        return;
    }
    const char *tmp = tu_tmpdir();
    char cmd[4096], *log = NULL, text[2048];
    snprintf(cmd, sizeof cmd, "import tests/golden/hf_tiny -o %s/init.h5 --force", tmp);
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa(cmd, &log), 0);
    free(log);
    snprintf(text, sizeof text,
             "experiment: {name: init, output_dir: %s/init-run, seed: 3, threads: 1}\n"
             "data: {task: sst-2, glue_dir: '%s', max_seq_len: 16, train_limit: 64, dev_limit: 32}\n"
             "model: {layers: 2, hidden: 16, heads: 2, ffn: 32, max_position: 24, init: '%s/init.h5'}\n"
             "teacher: {max_steps: 2, batch_size: 4, lr: 1.0e-9, eval_every: 2}\n",
             tmp, glue, tmp);
    const char *cfg = tu_write_file("init.yaml", text);
    snprintf(cmd, sizeof cmd, "teacher %s", cfg);
    int st = tu_run_ofa(cmd, &log);
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "starts from") && strstr(log, "(model.init)"));
    free(log);
    char path[1200];
    snprintf(path, sizeof path, "%s/init-run/teacher.h5", tmp);
    ofa_model m = {0};
    ofa_ckpt_meta meta;
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_model(path, &m, &meta, NULL), 0);
    ofa_ckpt_meta_free(&meta);
    const ofa_bert_model *bm = ofa_bert_of(&m);
    CU_ASSERT(bm->vocab.n == 40 && bm->m.d.T == 3 && bm->m.d.eps == 1e-7);
    double e = logits_err(&m, "logits_f32");
    fprintf(stderr, "(teacher from the import: max |logit diff| %.2g) ", e);
    CU_ASSERT(e < 1e-4);
    ofa_model_free(&m);
    snprintf(cmd, sizeof cmd, "teacher %s --set model.hidden=32 --set experiment.output_dir=%s/init-run2", cfg, tmp);
    CU_ASSERT_NOT_EQUAL(tu_run_ofa(cmd, &log), 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "model.hidden is 32; model.init's"));
    free(log);
}

int test_import_register(void)
{
    CU_pSuite s = CU_add_suite("import", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "golden", test_golden) || !CU_add_test(s, "tokenizer", test_tokenizer) ||
        !CU_add_test(s, "half", test_half) || !CU_add_test(s, "bad_input", test_bad_input) ||
        !CU_add_test(s, "model_init", test_model_init))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
