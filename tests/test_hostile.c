/* Suite hostile: files edited by hand or damaged are refused at load with a message that says what
 * is wrong and where (issue 10, cases 11 and 12): a scalar or mis-sized attention weight, NaN or
 * inf weights (naming the tensor), a task attribute that does not fit the model's outputs, and a
 * BERT shape that says which rule it breaks.  The files are real checkpoints edited with the plain
 * HDF5 API, their whole-file checksum then recomputed (as a careful editor would), so the check
 * under test is the loader's own and not the checksum's. */
#include <CUnit/CUnit.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "core/h5io.h"
#include "core/rng.h"
#include "tests/bert_file.h"
#include "tests/testutil.h"

/* V, P, H, A, F, L, C, D: head size 8 */
static const ofa_bert_dims DIMS = {20, 8, 16, 2, 24, 1, 2, 0, 0, 0};

static const char *save_model(const char *name, const char *task, int outputs)
{
    ofa_bert m;
    ofa_bert_dims d = DIMS;
    d.C = outputs;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(&m, &d), 0);
    ofa_rng rng;
    ofa_rng_seed(&rng, 7);
    ofa_bert_init_weights(&m, &rng, 0.2);
    ofa_ckpt_meta meta;
    ofa_ckpt_meta_init(&meta, "teacher");
    snprintf(meta.task, sizeof meta.task, "%s", task);
    const char *path = tu_path(name);
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_save_bert(path, &m, NULL, &meta, NULL), 0);
    ofa_ckpt_meta_free(&meta);
    ofa_bert_free(&m);
    return path;
}

/* Recomputes the checksum block of an edited file (the format of docs/checkpoint-format.md). */
static void reseal(const char *path)
{
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    unsigned char *b = malloc((size_t)n);
    fseek(f, 0, SEEK_SET);
    CU_ASSERT_FATAL(fread(b, 1, (size_t)n, f) == (size_t)n);
    char blk[OFA_H5_USERBLOCK] = {0};
    uLong c = crc32(crc32(0L, Z_NULL, 0), b + OFA_H5_USERBLOCK, (uInt)(n - OFA_H5_USERBLOCK));
    snprintf(blk, sizeof blk, "ofa-h5-checksum 1\ncrc32 %08lx\nbytes %ld\n", c, n - OFA_H5_USERBLOCK);
    fseek(f, 0, SEEK_SET);
    CU_ASSERT(fwrite(blk, 1, sizeof blk, f) == sizeof blk);
    fclose(f);
    free(b);
}

/* Replaces dataset `name` by a float dataset of rank nd and shape dims, all values `fill`. */
static void replace_dataset(const char *path, const char *name, int nd, const hsize_t *dims, float fill)
{
    hid_t fid = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(fid >= 0);
    CU_ASSERT(H5Ldelete(fid, name, H5P_DEFAULT) >= 0);
    hid_t sp = nd == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(nd, dims, NULL);
    hid_t ds = H5Dcreate2(fid, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(ds >= 0);
    hsize_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    float *v = malloc(n * sizeof *v);
    for (hsize_t i = 0; i < n; i++) v[i] = fill;
    CU_ASSERT(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    free(v);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(fid);
    reseal(path);
}

/* loads path, expects OFA_E_FORMAT and a message holding `want` */
static void expect_refused(const char *path, const char *want)
{
    ofa_bert m;
    ofa_ckpt_meta meta;
    ofa_err_clear();
    int rc = ofa_ckpt_load_bert(path, &m, NULL, &meta, NULL);
    if (rc == 0) {
        ofa_bert_free(&m);
        ofa_ckpt_meta_free(&meta);
    }
    if (rc != OFA_E_FORMAT || !strstr(ofa_err_msg(), want) || !strstr(ofa_err_msg(), path))
        fprintf(stderr, "\n  %s: rc %d '%s' (want '%s')\n", path, rc, ofa_err_msg(), want);
    CU_ASSERT_EQUAL(rc, OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), want));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), path));
    ofa_err_clear();
}

/* Case 12: a scalar wq said "wq has 140548939053936 rows" (the shape was read uninitialised); a
 * multiple of the head size out of range said "not a multiple of the head size". */
static void test_wq_shapes(void)
{
    const char *p = save_model("wq_scalar.h5", "sst-2", 2);
    replace_dataset(p, "weights/layer_00/attn/wq", 0, NULL, 1.0f);
    expect_refused(p, "weights/layer_00/attn/wq has 0 dimensions, not 2 ([heads x head size 8, hidden 16])");
    p = save_model("wq_rows.h5", "sst-2", 2);
    replace_dataset(p, "weights/layer_00/attn/wq", 2, (hsize_t[]){24, 16}, 0.5f);
    expect_refused(p, "weights/layer_00/attn/wq has 24 rows = 3 heads of size 8; the model has 1 to 2 heads");
    p = save_model("wq_odd.h5", "sst-2", 2);
    replace_dataset(p, "weights/layer_00/attn/wq", 2, (hsize_t[]){12, 16}, 0.5f);
    expect_refused(p, "weights/layer_00/attn/wq has 12 rows, not a multiple of the head size 8");
    p = save_model("w1_3d.h5", "sst-2", 2);
    replace_dataset(p, "weights/layer_00/ffn/w1", 3, (hsize_t[]){24, 16, 1}, 0.5f);
    expect_refused(p, "weights/layer_00/ffn/w1 has 3 dimensions, not 2 ([ffn, hidden 16])");
}

/* Case 11: NaN or inf weights were evaluated (accuracy 0.5000, exit 0); now the tensor is named */
static void test_nonfinite_weights(void)
{
    const char *p = save_model("nan.h5", "sst-2", 2);
    replace_dataset(p, "weights/classifier/w", 2, (hsize_t[]){2, 16}, NAN);
    expect_refused(p, "weights/classifier/w holds NaN at element 0");
    p = save_model("inf.h5", "sst-2", 2);
    replace_dataset(p, "weights/embeddings/ln_gamma", 1, (hsize_t[]){16}, -INFINITY);
    expect_refused(p, "weights/embeddings/ln_gamma holds -inf at element 0");
    /* the unedited file loads */
    p = save_model("fine.h5", "sst-2", 2);
    ofa_bert m;
    ofa_ckpt_meta meta;
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_bert(p, &m, NULL, &meta, NULL), 0);
    ofa_bert_free(&m);
    ofa_ckpt_meta_free(&meta);
}

/* Case 11: a task attribute of sts-b on a 2-output model was scored as regression */
static void test_task_outputs(void)
{
    expect_refused(save_model("stsb2.h5", "sts-b", 2),
                   "attribute task 'sts-b' needs 1 output (regression), the model has 2");
    expect_refused(save_model("sst1.h5", "sst-2", 1),
                   "attribute task 'sst-2' needs 2 outputs (one per class), the model has 1");
    expect_refused(save_model("mnli2.h5", "mnli", 2), "attribute task 'mnli' needs 3 outputs");
    expect_refused(save_model("junk.h5", "garbage", 2), "attribute task 'garbage' is not a GLUE task");
    ofa_bert m;
    ofa_ckpt_meta meta;
    CU_ASSERT_EQUAL_FATAL(ofa_ckpt_load_bert(save_model("stsb1.h5", "sts-b", 1), &m, NULL, &meta, NULL), 0);
    ofa_bert_free(&m);
    ofa_ckpt_meta_free(&meta);
}

/* Case 12: "invalid BERT shape" said which numbers, not which rule */
static void test_bert_shape_reason(void)
{
    const struct {
        ofa_bert_dims d;
        const char *why;
    } cases[] = {
        {{20, 8, 30, 4, 24, 1, 2, 0, 0, 0}, "invalid BERT shape (hidden must be a multiple of heads (or head_dim set)): "
                                      "layers 1, hidden 30, heads 4"},
        {{20, 8, 16, 2, 24, 0, 2, 0, 0, 0}, "invalid BERT shape (layers must be 1 to 48)"},
        {{3, 8, 16, 2, 24, 1, 2, 0, 0, 0}, "invalid BERT shape (the vocabulary needs at least 5 tokens"},
        {{20, 8, 16, 2, 0, 1, 2, 0, 0, 0}, "invalid BERT shape (ffn must be at least 1)"},
        {{20, 1, 16, 2, 24, 1, 2, 0, 0, 0}, "invalid BERT shape (max_position must be at least 2)"},
        {{20, 8, 16, 2, 24, 1, 0, 0, 0, 0}, "invalid BERT shape (the model needs at least 1 output)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ofa_bert m;
        ofa_err_clear();
        CU_ASSERT_EQUAL(ofa_bert_create(&m, &cases[i].d), OFA_E_CONFIG);
        if (!strstr(ofa_err_msg(), cases[i].why)) fprintf(stderr, "\n  '%s'\n", ofa_err_msg());
        CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), cases[i].why));
    }
    ofa_err_clear();
}

int test_hostile_register(void)
{
    CU_pSuite s = CU_add_suite("hostile", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "wq_shapes", test_wq_shapes) || !CU_add_test(s, "nonfinite_weights", test_nonfinite_weights) ||
        !CU_add_test(s, "task_outputs", test_task_outputs) ||
        !CU_add_test(s, "bert_shape_reason", test_bert_shape_reason))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
