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
 *    gelu, a truncated safetensors file, a header whose offsets run past the file, a header that is
 *    not an object, names twice, tensors sharing bytes, a tensor of the wrong shape, missing
 *    tensors, tensors left over (every kind in one error), NaN values, a vocab.txt of the wrong size
 *    or none, num_labels against the task, a pair task with one token type, strip_accents ofa
 *    cannot honour, too few positions, a pytorch_model.bin alone, sharded weights, -o a folder: each
 *    an error naming the file (and tensor), and no output file (or folder) written.
 * 4b. heads: a BertForMaskedLM file with the pre-training pooler keeps it; id2label names in
 *    another order than the task's put the classifier's rows in the task's order.
 * 5. model_init: `ofa teacher` with model.init = an imported file starts from it (below).
 * 6. predict: `ofa predict` agrees with `ofa eval --predictions --logits` (below).
 * 6b. predict_input: blank lines skipped and errors naming the input's own line, NUL bytes
 *    dropped, inputs cut to --max-seq-len (and the count on stderr), -o into a new folder.
 * 7. base: BERT-base in the Hugging Face layout, F32 and F16, against PyTorch (below).
 * 8. onnx: ONNX out, run in ONNX Runtime, against ofa's logits (below; skipped without torch and
 *    onnxruntime-node).
 * 9. base_run: configs/bert_base_sst2.yaml through every stage, as the 2-rank MPI job, on BERT-base
 *    imported from the folder of 7, a few steps each (below). */
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
#include "core/hash.h"
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

/* logits of a model of the family on the batch of golden file `gold`, against its dataset `ref` */
static double logits_err_in(const ofa_model *m, const char *gold, const char *ref)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, gold), 0);
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

static double logits_err(const ofa_model *m, const char *ref) { return logits_err_in(m, GOLD, ref); }

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
    /* the command: a teacher checkpoint that inspect reads (-o in folders that do not exist yet) */
    char cmd[2048], *log = NULL;
    snprintf(cmd, sizeof cmd, "import tests/golden/hf_tiny_f16 -o %s/new/dir/cmd.h5", tu_tmpdir());
    int st = tu_run_ofa(cmd, &log);
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "(kind teacher, task sst-2; bert: 2 layers, hidden 16"));
    free(log);
    snprintf(cmd, sizeof cmd, "inspect %s/new/dir/cmd.h5", tu_tmpdir());
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &log), 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "ofa teacher checkpoint (bert, sst-2)"));
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "2 outputs, 3 token types, LayerNorm eps 1e-07"));
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "type_vocab_size: 3") && strstr(log, "layer_norm_eps: 1e-07"));
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
             "6 tensors of the wrong shape: bert.encoder.layer.0.intermediate.dense.weight is [32, 16], expected "
             "[31, 16]", NULL);
    bad_case("sed -i 's/\"num_hidden_layers\": 2/\"num_hidden_layers\": 3/' config.json",
             "tensors missing: bert.encoder.layer.2.attention.self.query.weight", NULL);
    bad_case("sed -i 's/\"num_hidden_layers\": 2/\"num_hidden_layers\": 1/' config.json",
             "that a BERT of this config does not have: bert.encoder.layer.1.", NULL);
    bad_case("echo extra >> vocab.txt", "vocab.txt has 41 tokens; config.json says vocab_size 40", NULL);
    bad_case("true", "the classifier has num_labels 2; task sts-b needs 1 output (regression)", "--task sts-b");
    bad_case("mv model.safetensors pytorch_model.bin", "convert it first: /usr/bin/python3 /", NULL);
    bad_case("mv model.safetensors pytorch_model.bin", "/tools/hf_to_safetensors.py", NULL);
    /* safetensors headers written here: H, its length as the 8-byte prefix, then 8 data bytes */
#define ST_FILE(h)                                                                                 \
    "h='" h "' && printf \"$(printf '\\\\%03o' ${#h})\\\\000\\\\000\\\\000\\\\000\\\\000\\\\000\\\\000\" > "   \
    "model.safetensors && printf '%s12345678' \"$h\" >> model.safetensors"
    bad_case(ST_FILE("[1,2]"), "model.safetensors: its header is JSON but not an object of tensors", NULL);
    bad_case(ST_FILE("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"),
             "model.safetensors: tensor 'x' appears twice in the header", NULL);
    bad_case(ST_FILE("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"),
             "model.safetensors: tensors 'x' [0, 8] and 'y' [4, 8] share bytes of the data", NULL);
#undef ST_FILE
    /* every kind of misfit in one error: layer 0 of the wrong shape, layer 1 left over */
    bad_case("sed -i 's/\"intermediate_size\": 32/\"intermediate_size\": 31/; "
             "s/\"num_hidden_layers\": 2/\"num_hidden_layers\": 1/' config.json",
             "output.dense.weight is [16, 32], expected [16, 31]; 16 tensors that a BERT of this config does not "
             "have: bert.encoder.layer.1.", NULL);
    /* a NaN in the first tensor of the data (the embeddings' LayerNorm bias) */
    bad_case("n=$(od -An -t u8 -N8 model.safetensors | tr -d ' ') && printf '\\377\\377\\377\\177' | "
             "dd of=model.safetensors bs=1 seek=$((8 + n)) conv=notrunc status=none",
             "model.safetensors: 1 tensor with NaN or infinite values: bert.embeddings.LayerNorm.bias", NULL);
    bad_case("rm vocab.txt", "no vocab.txt (the WordPiece vocabulary", NULL);
    bad_case("sed -i 's/\"type_vocab_size\": 3/\"type_vocab_size\": 1/' config.json",
             "config.json: type_vocab_size is 1; task mrpc takes sentence pairs", "--task mrpc");
    bad_case("sed -i 's/\"do_lower_case\": true,/\"do_lower_case\": true, \"strip_accents\": false,/' "
             "tokenizer_config.json",
             "tokenizer_config.json: strip_accents is false with do_lower_case true", NULL);
    bad_case("sed -i 's/\"max_position_embeddings\": 24/\"max_position_embeddings\": 3/' config.json",
             "config.json: \"max_position_embeddings\" must be an integer from 4", NULL);
    bad_case("mv model.safetensors model-00001-of-00001.safetensors && echo '{}' > model.safetensors.index.json",
             "the weights are split into shards (model.safetensors.index.json)", NULL);
    /* a failed import makes no folder for -o; -o naming a folder is refused */
    const char *tmp = tu_tmpdir();
    char cmd[2400], *log = NULL;
    snprintf(cmd, sizeof cmd, "import %s/bad -o %s/no-such/folder/m.h5", tmp, tmp);
    CU_ASSERT_NOT_EQUAL(tu_run_ofa(cmd, &log), 0);
    free(log);
    snprintf(cmd, sizeof cmd, "%s/no-such", tmp);
    CU_ASSERT_EQUAL(access(cmd, F_OK), -1);
    snprintf(cmd, sizeof cmd, "import tests/golden/hf_tiny -o %s --force", tmp);
    CU_ASSERT_NOT_EQUAL(tu_run_ofa(cmd, &log), 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "is a folder; name the file to write in it"));
    free(log);
}

/* `ofa import` of a copy of hf_tiny changed by `edit` into OUT (both under the test folder);
 * returns the log (the caller frees it) */
static char *import_edited(const char *edit, const char *name, const char *args)
{
    char cmd[8192];
    const char *tmp = tu_tmpdir();
    snprintf(cmd, sizeof cmd, "rm -rf %s/%s && cp -r tests/golden/hf_tiny %s/%s && cd %s/%s && %s", tmp, name, tmp,
             name, tmp, name, edit);
    CU_ASSERT_EQUAL_FATAL(sh(cmd), 0);
    char *log = NULL;
    snprintf(cmd, sizeof cmd, "import %s/%s -o %s/%s.h5 --force %s", tmp, name, tmp, name, args);
    const int st = tu_run_ofa(cmd, &log);
    if (st) fprintf(stderr, "\n%s\n", log ? log : "");
    CU_ASSERT_EQUAL(st, 0);
    return log;
}

static const float *tensor_of(const ofa_model *m, int which)
{
    const ofa_bert *b = &ofa_bert_of(m)->m;
    return b->p.data + b->p.views[which].offset;
}

/* A BertForMaskedLM file that carries the pre-training pooler (bert-base-uncased's layout: the
 * classifier here renamed into the cls.* heads, names of the same length so the offsets hold) keeps
 * the pooler and gets a fresh classifier; id2label naming sst-2's classes the other way round
 * swaps the classifier's rows (the probabilities swap, to float rounding). */
static void test_heads(void)
{
    char *log = import_edited("sed -i 's/\"BertForSequenceClassification\"/\"BertForMaskedLM\"/' config.json && "
                              "sed -i 's/classifier\\.weight/cls.seq_r.xweight/; s/classifier\\.bias/cls.seq_r.xbias/' "
                              "model.safetensors",
                              "mlm", "");
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "2 tensors of the pre-training heads (cls.*) ignored"));
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "a fresh classifier for sst-2 (2 outputs)"));
    CU_ASSERT_PTR_NULL(log && strstr(log, "fresh pooler"));
    free(log);
    log = import_edited("true", "cls", "");
    free(log);
    char path[1200];
    ofa_model a = {0}, b = {0};
    ofa_ckpt_meta meta;
    snprintf(path, sizeof path, "%s/mlm.h5", tu_tmpdir());
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_model(path, &a, &meta, NULL), 0);
    ofa_ckpt_meta_free(&meta);
    snprintf(path, sizeof path, "%s/cls.h5", tu_tmpdir());
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_model(path, &b, &meta, NULL), 0);
    ofa_ckpt_meta_free(&meta);
    const ofa_bert *ba = &ofa_bert_of(&a)->m, *bb = &ofa_bert_of(&b)->m;
    const int H = ba->d.H;
    CU_ASSERT(!memcmp(tensor_of(&a, ba->pool_w), tensor_of(&b, bb->pool_w), (size_t)H * H * sizeof(float)));
    CU_ASSERT(!memcmp(tensor_of(&a, ba->pool_b), tensor_of(&b, bb->pool_b), (size_t)H * sizeof(float)));
    CU_ASSERT(memcmp(tensor_of(&a, ba->cls_w), tensor_of(&b, bb->cls_w), (size_t)2 * H * sizeof(float)));
    ofa_model_free(&a);
    ofa_model_free(&b);
    /* id2label the other way round: rows swapped, a note says so */
    log = import_edited("sed -i 's/\"0\": \"negative\"/\"0\": \"POSITIVE\"/; s/\"1\": \"positive\"/\"1\": \"NEGATIVE\"/' "
                        "config.json",
                        "swapped", "");
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "the classifier's rows put in task sst-2's label order (0, 1; id2label: "
                                              "POSITIVE, NEGATIVE)"));
    free(log);
    double p[2][2];
    for (int k = 0; k < 2; k++) {
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "predict %s/%s.h5 --text \"the film is not very good\"", tu_tmpdir(),
                 k ? "swapped" : "cls");
        CU_ASSERT_EQUAL(tu_run_ofa(cmd, &log), 0);
        const char *row = log ? strstr(log, "\n0\t") : NULL;
        CU_ASSERT_FATAL(row && sscanf(row, "\n0\t%*s\t%lf\t%lf", &p[k][0], &p[k][1]) == 2);
        free(log);
    }
    fprintf(stderr, "(p %.6f %.6f, swapped %.6f %.6f) ", p[0][0], p[0][1], p[1][0], p[1][1]);
    CU_ASSERT(fabs(p[0][0] - p[1][1]) < 1e-6 && fabs(p[0][1] - p[1][0]) < 1e-6 && fabs(p[0][0] - p[0][1]) > 1e-4);
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
    char cfg[1200]; /* tu_write_file's buffer is reused by tu_run_ofa */
    snprintf(cfg, sizeof cfg, "%s", tu_write_file("init.yaml", text));
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
    /* every model.* that differs, in one error */
    snprintf(cmd, sizeof cmd, "teacher %s --set model.hidden=32 --set model.layers=3 --set experiment.output_dir=%s/init-run2",
             cfg, tmp);
    CU_ASSERT_NOT_EQUAL(tu_run_ofa(cmd, &log), 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "model.* must be the shape of model.init's") &&
                           strstr(log, "model.layers is 3, the file's 2; model.hidden is 32, the file's 16"));
    free(log);
    /* what the file decides may not be set otherwise: its vocabulary, its lowercasing; student.init
     * is not BERT's */
    static const struct { const char *set, *want; } bad[] = {
        {"data.vocab_file=tests/golden/hf_tiny/vocab.txt", "data.vocab_file is tests/golden/hf_tiny/vocab.txt, but "
                                                           "the vocabulary is model.init's"},
        {"data.lowercase=false", "data.lowercase is false, but model.init's tokenizer"},
        {"student.init=x.h5", "student.init is for the cyclegan family's student stage"},
        {"model.init=tests/golden/hf_tiny", "model.init is a folder"},
        {"model.init=~/none.h5", "~ is not expanded: write ${HOME}"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(cmd, sizeof cmd, "teacher %s --set %s --set experiment.output_dir=%s/init-bad", cfg, bad[i].set, tmp);
        CU_ASSERT_NOT_EQUAL(tu_run_ofa(cmd, &log), 0);
        if (!log || !strstr(log, bad[i].want)) fprintf(stderr, "\n  want '%s' in:\n%s\n", bad[i].want, log);
        CU_ASSERT_PTR_NOT_NULL(log && strstr(log, bad[i].want));
        free(log);
    }
    /* another task's classifier: a warning; the run's own teacher as its model.init: refused */
    snprintf(cmd, sizeof cmd, "teacher %s --set data.task=cola --set experiment.output_dir=%s/init-cola", cfg, tmp);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &log), 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "was made for task sst-2; its classifier (2 outputs) starts the cola "
                                              "teacher"));
    free(log);
    snprintf(cmd, sizeof cmd, "teacher %s --set model.init=%s/init-run/teacher.h5 --force", cfg, tmp);
    CU_ASSERT_NOT_EQUAL(tu_run_ofa(cmd, &log), 0);
    if (!log || !strstr(log, "writing it would replace the input")) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "writing it would replace the input"));
    free(log);
    /* another model.init is another run: the finished teacher is not reused for it (its content is
     * in the fingerprint: the F16 folder's weights differ) */
    snprintf(cmd, sizeof cmd, "import tests/golden/hf_tiny_f16 -o %s/init16.h5 --force", tmp);
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa(cmd, &log), 0);
    free(log);
    snprintf(cmd, sizeof cmd, "teacher %s --set model.init=%s/init16.h5", cfg, tmp);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &log), 2);
    if (!log || !strstr(log, "model.init")) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "model.init"));
    free(log);
}

/* ofa predict on SST-2 dev sentences (the rows `ofa eval --predictions` scores, read from dev.tsv
 * by their index) gives eval's labels, and its probabilities are the softmax of eval's logits row
 * by row (within 1e-5); --text gives the same row as stdin; a tab in a single-sentence task's line
 * is an error naming the line. */
static void test_predict(void)
{
    const char *glue = tu_glue_dir();
    if (!glue) {
        printf("\n  [skip] no GLUE data (GLUE_DIR)\n");
        return;
    }
    const char *tmp = tu_tmpdir();
    char cmd[12288], cwd[1024], bin[1100];
    CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
    if (getenv("OFA_BIN") && getenv("OFA_BIN")[0] == '/') snprintf(bin, sizeof bin, "%s", getenv("OFA_BIN"));
    else snprintf(bin, sizeof bin, "%s/%s", cwd, getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa");
    char gd[2100]; /* absolute: the commands run in tmp */
    if (glue[0] == '/') snprintf(gd, sizeof gd, "%s", glue);
    else snprintf(gd, sizeof gd, "%s/%s", cwd, glue);
    glue = gd;
    snprintf(cmd, sizeof cmd,
             "cd %s && %s import %s/tests/golden/hf_tiny -o pm.h5 --force >/dev/null && "
             "%s eval pm.h5 --data %s --predictions P.tsv --logits >/dev/null 2>&1 && "
             "awk -F'\t' 'NR>1{print $1}' %s/SST-2/dev.tsv > all.txt && "
             "awk 'NR==FNR{if(FNR>1) want[$1]=1; next} (FNR-1) in want' P.tsv all.txt > sel.txt && "
             "%s predict pm.h5 < sel.txt > Q.tsv && %s predict pm.h5 --text \"$(head -1 sel.txt)\" > Q1.tsv",
             tmp, bin, cwd, bin, glue, glue, bin, bin);
    CU_ASSERT_EQUAL_FATAL(sh(cmd), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/P.tsv", tmp);
    FILE *fp = fopen(path, "r");
    snprintf(path, sizeof path, "%s/Q.tsv", tmp);
    FILE *fq = fopen(path, "r");
    CU_ASSERT_FATAL(fp && fq);
    char lp[512], lq[512], first[512] = "";
    int rows = 0, same = 1;
    double worst = 0;
    CU_ASSERT(fgets(lp, sizeof lp, fp) && fgets(lq, sizeof lq, fq)); /* headers */
    CU_ASSERT_PTR_NOT_NULL(strstr(lq, "index\tprediction\tp_0\tp_1"));
    while (fgets(lp, sizeof lp, fp)) {
        if (!fgets(lq, sizeof lq, fq)) {
            same = 0;
            break;
        }
        long ip, iq;
        char yp[32], yq[32];
        double z0, z1, p0, p1;
        if (sscanf(lp, "%ld\t%31s\t%lf\t%lf", &ip, yp, &z0, &z1) != 4 ||
            sscanf(lq, "%ld\t%31s\t%lf\t%lf", &iq, yq, &p0, &p1) != 4) {
            same = 0;
            break;
        }
        if (!rows) snprintf(first, sizeof first, "%s", lq);
        same &= iq == rows && !strcmp(yp, yq);
        const double mx = fmax(z0, z1), e0 = exp(z0 - mx), e1 = exp(z1 - mx);
        worst = fmax(worst, fmax(fabs(p0 - e0 / (e0 + e1)), fabs(p1 - e1 / (e0 + e1))));
        rows++;
    }
    fclose(fp), fclose(fq);
    fprintf(stderr, "(%d rows, max |p - softmax(eval's logits)| %.2g) ", rows, worst);
    CU_ASSERT(same && rows == 436);
    CU_ASSERT(worst < 1e-5);
    snprintf(path, sizeof path, "%s/Q1.tsv", tmp);
    char *one = tu_read_file(path);
    CU_ASSERT_PTR_NOT_NULL(one && strstr(one, first)); /* --text: the same first row */
    free(one);
    char *log = NULL;
    snprintf(cmd, sizeof cmd, "predict %s/pm.h5 --text \"a\tb\"", tmp);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &log), 1);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "input line 1 has a tab; task sst-2 takes one sentence a line"));
    free(log);
}

/* `ofa predict` on hf_tiny's import (24 positions, so data.max_seq_len 24) and its input's edges */
static void test_predict_input(void)
{
    const char *tmp = tu_tmpdir();
    char cmd[4096], *log = NULL, *a = NULL, *b = NULL;
    snprintf(cmd, sizeof cmd, "import tests/golden/hf_tiny -o %s/pi.h5 --force", tmp);
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa(cmd, &log), 0);
    free(log);
    snprintf(cmd, sizeof cmd, "import tests/golden/hf_tiny -o %s/pi_mrpc.h5 --task mrpc --force", tmp);
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa(cmd, &log), 0);
    free(log);
    /* blank lines (empty or spaces) are skipped, counted, and the error names line 4 */
    const char *in = tu_write_file("pi1.txt", "the film\tit is good\n\n  \t \nthe film\n");
    snprintf(cmd, sizeof cmd, "predict %s/pi_mrpc.h5 < %s", tmp, in);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &log), 1);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "predict: 2 blank lines skipped"));
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "input line 4: task mrpc takes sentence pairs"));
    free(log);
    /* a NUL byte is dropped, the rest of the line kept */
    snprintf(cmd, sizeof cmd, "printf 'good\\000 film is not\\n' > %s/pi2.txt", tmp);
    CU_ASSERT_EQUAL_FATAL(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "predict %s/pi.h5 < %s/pi2.txt", tmp, tmp);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &a), 0);
    snprintf(cmd, sizeof cmd, "predict %s/pi.h5 --text 'good film is not'", tmp);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(a && b && strstr(a, "\n0\t") && !strcmp(strstr(a, "\n0\t"), strstr(b, "\n0\t")));
    free(a), free(b);
    /* 30 words: cut to the file's 24 tokens, or to --max-seq-len; more than the positions refused */
    const char *words = "the film is not very good the film is not very good the film is not very good the film is "
                        "not very good the film is not very good";
    snprintf(cmd, sizeof cmd, "predict %s/pi.h5 --text '%s'", tmp, words);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &a), 0);
    CU_ASSERT_PTR_NOT_NULL(a && strstr(a, "predict: 1 of 1 examples cut to 24 tokens"));
    snprintf(cmd, sizeof cmd, "predict %s/pi.h5 --max-seq-len 8 --text '%s'", tmp, words);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(b && strstr(b, "cut to 8 tokens"));
    CU_ASSERT_PTR_NOT_NULL(a && b && strstr(a, "\n0\t") && strstr(b, "\n0\t") &&
                           strcmp(strstr(a, "\n0\t"), strstr(b, "\n0\t"))); /* other probabilities */
    free(a), free(b);
    snprintf(cmd, sizeof cmd, "predict %s/pi.h5 --max-seq-len 25 --text 'good'", tmp);
    CU_ASSERT_NOT_EQUAL(tu_run_ofa(cmd, &log), 0);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "--max-seq-len 25: the model has 24 positions"));
    free(log);
    /* -o makes its folder */
    snprintf(cmd, sizeof cmd, "predict %s/pi.h5 --text good -o %s/pi-out/sub/p.tsv", tmp, tmp);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &log), 0);
    free(log);
    snprintf(cmd, sizeof cmd, "%s/pi-out/sub/p.tsv", tmp);
    char *text = tu_read_file(cmd);
    CU_ASSERT_PTR_NOT_NULL(text && !strncmp(text, "index\tprediction\tp_0\tp_1\n0\t", 24));
    free(text);
}

/* ---- BERT-base: the folder written here from make_golden_hf.py's generator ---- */

#define BASE_H 768
#define BASE_L 12
#define BASE_F 3072
#define BASE_V 30522
#define BASE_P 512

/* gen() of make_golden_hf.py: splitmix64(fnv1a(name) + (i + 1) * golden), the top 24 bits as u,
 * (2u - 1) * scale + offset in double, then float */
static void gen(const char *name, int nd, int64_t n, float *out)
{
    const uint64_t seed = ofa_fnv1a_str(name);
    const int ln_w = strstr(name, "LayerNorm") && strstr(name, "weight");
    const double scale = ln_w ? 0.1 : nd == 1 ? 0.02 : 0.05, off = ln_w ? 1.0 : 0.0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = seed + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        const double u = (double)(z >> 40) / 16777216.0;
        out[i] = (float)((2.0 * u - 1.0) * scale + off);
    }
}

typedef struct base_tensor {
    char name[96];
    int nd;
    int64_t d0, d1;
} base_tensor;

static int base_tensors(base_tensor *t)
{
    int k = 0;
#define T2(n, a, b) (snprintf(t[k].name, sizeof t[k].name, "%s", n), t[k].nd = 2, t[k].d0 = (a), t[k].d1 = (b), k++)
#define T1(n, a) (snprintf(t[k].name, sizeof t[k].name, "%s", n), t[k].nd = 1, t[k].d0 = (a), t[k].d1 = 1, k++)
    T2("bert.embeddings.word_embeddings.weight", BASE_V, BASE_H);
    T2("bert.embeddings.position_embeddings.weight", BASE_P, BASE_H);
    T2("bert.embeddings.token_type_embeddings.weight", 2, BASE_H);
    T1("bert.embeddings.LayerNorm.weight", BASE_H);
    T1("bert.embeddings.LayerNorm.bias", BASE_H);
    for (int l = 0; l < BASE_L; l++) {
        char n[96];
        static const char *const qkv[3] = {"query", "key", "value"};
        for (int m = 0; m < 3; m++) {
            snprintf(n, sizeof n, "bert.encoder.layer.%d.attention.self.%s.weight", l, qkv[m]);
            T2(n, BASE_H, BASE_H);
            snprintf(n, sizeof n, "bert.encoder.layer.%d.attention.self.%s.bias", l, qkv[m]);
            T1(n, BASE_H);
        }
        const struct { const char *s; int64_t a, b; } r[] = {
            {"attention.output.dense.weight", BASE_H, BASE_H}, {"attention.output.dense.bias", BASE_H, 0},
            {"attention.output.LayerNorm.weight", BASE_H, 0}, {"attention.output.LayerNorm.bias", BASE_H, 0},
            {"intermediate.dense.weight", BASE_F, BASE_H}, {"intermediate.dense.bias", BASE_F, 0},
            {"output.dense.weight", BASE_H, BASE_F}, {"output.dense.bias", BASE_H, 0},
            {"output.LayerNorm.weight", BASE_H, 0}, {"output.LayerNorm.bias", BASE_H, 0}};
        for (size_t j = 0; j < sizeof r / sizeof *r; j++) {
            snprintf(n, sizeof n, "bert.encoder.layer.%d.%s", l, r[j].s);
            if (r[j].b) T2(n, r[j].a, r[j].b);
            else T1(n, r[j].a);
        }
    }
    T2("bert.pooler.dense.weight", BASE_H, BASE_H);
    T1("bert.pooler.dense.bias", BASE_H);
    T2("classifier.weight", 2, BASE_H);
    T1("classifier.bias", 2);
#undef T1
#undef T2
    return k;
}

/* the Hugging Face folder of the generator's BERT-base, tensors stored as F32 or F16 (_Float16:
 * round to nearest even, as torch's .half()) */
static int write_base(const char *dir, int f16)
{
    char path[1200];
    snprintf(path, sizeof path, "mkdir -p %s", dir);
    if (sh(path)) return -1;
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"architectures\": [\"BertForSequenceClassification\"], \"model_type\": \"bert\", "
               "\"hidden_act\": \"gelu\", \"hidden_size\": %d, \"num_hidden_layers\": %d, "
               "\"num_attention_heads\": 12, \"intermediate_size\": %d, \"vocab_size\": %d, "
               "\"max_position_embeddings\": %d, \"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12, "
               "\"num_labels\": 2, \"torch_dtype\": \"%s\"}\n",
            BASE_H, BASE_L, BASE_F, BASE_V, BASE_P, f16 ? "float16" : "float32");
    fclose(f);
    snprintf(path, sizeof path, "%s/vocab.txt", dir); /* bert-base-uncased's special ids */
    f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < BASE_V; i++) {
        if (i == 0) fprintf(f, "[PAD]\n");
        else if (i < 100) fprintf(f, "[unused%d]\n", i - 1);
        else if (i <= 103) fprintf(f, "%s\n", i == 100 ? "[UNK]" : i == 101 ? "[CLS]" : i == 102 ? "[SEP]" : "[MASK]");
        else fprintf(f, "w%d\n", i);
    }
    fclose(f);
    static base_tensor t[256];
    const int n = base_tensors(t);
    const int esz = f16 ? 2 : 4;
    size_t hcap = 65536, hn = 0;
    char *hdr = malloc(hcap);
    uint64_t off = 0;
    hn += (size_t)snprintf(hdr + hn, hcap - hn, "{");
    for (int i = 0; i < n; i++) {
        const uint64_t bytes = (uint64_t)(t[i].d0 * t[i].d1) * (uint64_t)esz;
        char shp[48];
        if (t[i].nd == 2) snprintf(shp, sizeof shp, "[%lld,%lld]", (long long)t[i].d0, (long long)t[i].d1);
        else snprintf(shp, sizeof shp, "[%lld]", (long long)t[i].d0);
        hn += (size_t)snprintf(hdr + hn, hcap - hn, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}",
                               i ? "," : "", t[i].name, f16 ? "F16" : "F32", shp, (unsigned long long)off,
                               (unsigned long long)(off + bytes));
        off += bytes;
    }
    hn += (size_t)snprintf(hdr + hn, hcap - hn, "}");
    while (hn % 8) hdr[hn++] = ' ';
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    f = fopen(path, "wb");
    if (!f) {
        free(hdr);
        return -1;
    }
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)((uint64_t)hn >> (8 * b));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hn, f) == hn;
    float *v = malloc((size_t)BASE_V * BASE_H * sizeof *v);
    _Float16 *h = malloc((size_t)BASE_V * BASE_H * sizeof *h);
    for (int i = 0; i < n && ok; i++) {
        const int64_t cnt = t[i].d0 * t[i].d1;
        gen(t[i].name, t[i].nd, cnt, v);
        if (f16) {
            for (int64_t j = 0; j < cnt; j++) h[j] = (_Float16)v[j];
            ok = fwrite(h, 2, (size_t)cnt, f) == (size_t)cnt;
        } else {
            ok = fwrite(v, 4, (size_t)cnt, f) == (size_t)cnt;
        }
    }
    free(v), free(h), free(hdr);
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The generator's BERT-base in the Hugging Face layout, F32 and F16, imported and run: logits within
 * 1e-4 of make_golden_hf.py's PyTorch forward of the same state dict (tests/golden/hf_base.h5). */
static void test_base(void)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, "tests/golden/hf_base.h5"), 0);
    float pw[8], pl[8], v[BASE_H];
    int64_t s8[1] = {8};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_f32(&h, "probe_word", pw, 1, s8), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_f32(&h, "probe_ln", pl, 1, s8), 0);
    ofa_h5_close(&h);
    /* the generator agrees with Python's before anything big is written */
    float *w = malloc((size_t)BASE_V * BASE_H * sizeof *w);
    gen("bert.embeddings.word_embeddings.weight", 2, (int64_t)BASE_V * BASE_H, w);
    gen("bert.encoder.layer.11.output.LayerNorm.weight", 1, BASE_H, v);
    int same = 1;
    for (int i = 0; i < 8; i++) same &= w[(size_t)30521 * BASE_H + 760 + i] == pw[i] && v[i] == pl[i];
    free(w);
    CU_ASSERT_FATAL(same);
    const ofa_family *fam = ofa_family_find("bert");
    static const char *const refs[2] = {"logits_f32", "logits_f16"};
    for (int f16 = 0; f16 < 2; f16++) {
        char dir[1100], cmd[1200];
        snprintf(dir, sizeof dir, "%s/hf_base%s", tu_tmpdir(), f16 ? "_f16" : "");
        CU_ASSERT_EQUAL_FATAL(write_base(dir, f16), 0);
        ofa_model m = {0};
        ofa_config c;
        char note[256];
        int rc = fam->model_import(&m, &c, dir, "sst-2", 1, note, sizeof note);
        if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        const ofa_bert_dims *d = &ofa_bert_of(&m)->m.d;
        CU_ASSERT(d->L == 12 && d->H == 768 && d->A == 12 && d->F == 3072 && d->V == 30522 && d->P == 512);
        const double e = logits_err_in(&m, "tests/golden/hf_base.h5", refs[f16]);
        fprintf(stderr, "(BERT-base %s: max |logit diff| %.2g) ", f16 ? "F16" : "F32", e);
        CU_ASSERT(e < 1e-4);
        ofa_model_free(&m);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir); /* 440 / 220 MB */
        CU_ASSERT_EQUAL(sh(cmd), 0);
    }
}

/* ONNX out: tools/ofa_to_torch.py --onnx exports an imported model (layer_norm_eps 1e-7, three token
 * types) and an exported subnet would go the same way; tools/onnx_check.js runs the graph in ONNX
 * Runtime and compares it with `ofa eval --predictions --logits`, within 1e-4.  Needs PyTorch
 * (/usr/bin/python3 with torch) and onnxruntime-node in $ORT_NODE_MODULES (a node_modules folder:
 * `npm install --ignore-scripts onnxruntime-node@1.30.0`; default build/ort/node_modules, where
 * `make bench-deps` puts it, as .ci/run does); skipped without them. */
static void test_onnx(void)
{
    const char *glue = tu_glue_dir(), *nm = getenv("ORT_NODE_MODULES");
    if ((!nm || !nm[0]) && access("build/ort/node_modules/onnxruntime-node", F_OK) == 0) nm = "build/ort/node_modules";
    if (!glue || !nm || !nm[0] || sh("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        printf("\n  [skip] needs GLUE data, /usr/bin/python3 with torch and ORT_NODE_MODULES\n");
        return;
    }
    const char *tmp = tu_tmpdir(), *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s import tests/golden/hf_tiny_f16 -o %s/ox.h5 --force >/dev/null && "
             "/usr/bin/python3 tools/ofa_to_torch.py %s/ox.h5 --data %s --onnx %s/ox.onnx --predictions %s/ox-torch.tsv "
             ">/dev/null 2>&1 && %s eval %s/ox.h5 --data %s --val-source train --predictions %s/ox.tsv --logits "
             ">/dev/null 2>&1 && "
             "NODE_PATH=%s node tools/onnx_check.js %s/ox.onnx %s/ox.tsv > %s/ox.json",
             bin, tmp, tmp, glue, tmp, tmp, bin, tmp, glue, tmp, nm, tmp, tmp, tmp);
    CU_ASSERT_EQUAL(sh(cmd), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/ox.json", tmp);
    char *j = tu_read_file(path);
    if (j) fprintf(stderr, "(%.*s) ", (int)strcspn(j, "\n"), j);
    CU_ASSERT_PTR_NOT_NULL(j && strstr(j, "\"ok\":true"));
    /* all of SST-2's dev on both sides (eval --val-source train), every row matched */
    CU_ASSERT_PTR_NOT_NULL(j && strstr(j, "\"rows\":872,\"graph_rows\":872,\"ofa_rows\":872"));
    free(j);
}

/* configs/bert_base_sst2.yaml as the README's cluster command runs it (mpirun -n 2 ofa run; one
 * process without mpirun), on the generator's BERT-base imported by `ofa import`: teacher from the
 * import (model.init) -> reorder -> supernet -> search with a fitted latency predictor -> winners
 * exported, a few steps each (about a minute); every stage's file is there and the winner answers
 * `ofa predict`. */
static void test_base_run(void)
{
    const char *glue = tu_glue_dir();
    if (!glue || tu_quick()) { /* make asan: BERT-base under AddressSanitizer takes over 10 minutes */
        printf("\n  [skip] %s\n", glue ? "OFA_TEST_QUICK" : "no GLUE data (GLUE_DIR)");
        return;
    }
    const char *tmp = tu_tmpdir();
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    char dir[1100], out[1100], cmd[8192], path[1400];
    snprintf(dir, sizeof dir, "%s/hf_base_run", tmp);
    snprintf(out, sizeof out, "%s/bert-base-run", tmp);
    CU_ASSERT_EQUAL_FATAL(write_base(dir, 0), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && %s import %s -o %s/imported.h5 --task sst-2 >/dev/null",
             out, out, bin, dir, out);
    CU_ASSERT_EQUAL_FATAL(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir); /* 440 MB */
    CU_ASSERT_EQUAL(sh(cmd), 0);
    const int mpi = sh("command -v mpirun >/dev/null 2>&1") == 0;
    snprintf(cmd, sizeof cmd,
             "GLUE_DIR=%s OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
             "timeout 600 %s %s run configs/bert_base_sst2.yaml --set experiment.output_dir=%s "
             "--set model.init=%s/imported.h5 --set teacher.max_steps=1 --set teacher.eval_every=1 "
             "--set teacher.batch_size=2 --set data.dev_limit=8 --set reorder.batches=1 --set supernet.max_steps=2 "
             "--set supernet.batch_size=4 --set supernet.checkpoint.every_steps=1 --set search.population=2 "
             "--set search.generations=1 --set search.val_limit=8 --set search.dev_limit=8 "
             "--set 'search.budgets_ms=[60,120]' --set search.latency.warmup=0 --set search.latency.repeats=1 "
             ">%s/run.log 2>&1",
             glue, mpi ? "mpirun --oversubscribe -n 2" : "", bin, out, out, out);
    int rc = sh(cmd);
    if (rc) fprintf(stderr, "\n  the BERT-base job failed (exit %d): see %s/run.log\n", rc, out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    static const char *const files[] = {"teacher.h5", "teacher_reordered.h5", "supernet.h5", "latency_table.h5",
                                        "pareto.csv", "search.h5"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        if (access(path, F_OK) != 0) fprintf(stderr, "\n  missing %s\n", path);
        CU_ASSERT(access(path, F_OK) == 0);
    }
    /* the log names the full size; a winner (a row of pareto.csv with a budget) predicts (index, label, p_0, p_1) */
    snprintf(cmd, sizeof cmd, "grep -q '12 layers, hidden 768, 12 heads, ffn 3072, vocab 30522' %s/run.log", out);
    CU_ASSERT_EQUAL(sh(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "a=$(awk -F, 'NR > 1 && $8 != \"\" {print $1; exit}' %s/pareto.csv) && [ -n \"$a\" ] && "
             "%s predict %s/subnets/$a.h5 --text 'a gripping , funny film' | "
             "grep -Eq '^0\t[01]\t0\\.[0-9]+\t0\\.[0-9]+$'",
             out, bin, out);
    CU_ASSERT_EQUAL(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", out);
    CU_ASSERT_EQUAL(sh(cmd), 0);
}

int test_import_register(void)
{
    CU_pSuite s = CU_add_suite("import", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "golden", test_golden) || !CU_add_test(s, "tokenizer", test_tokenizer) ||
        !CU_add_test(s, "half", test_half) || !CU_add_test(s, "bad_input", test_bad_input) ||
        !CU_add_test(s, "heads", test_heads) ||
        !CU_add_test(s, "model_init", test_model_init) || !CU_add_test(s, "predict", test_predict) ||
        !CU_add_test(s, "predict_input", test_predict_input) ||
        !CU_add_test(s, "base", test_base) || !CU_add_test(s, "onnx", test_onnx) ||
        !CU_add_test(s, "base_run", test_base_run))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
