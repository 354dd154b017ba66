/* Suite encode: [CLS] a [SEP] b [SEP] layout, token types, BERT's _truncate_seq_pair, batches
 * padded to their longest row, on a tiny hand-written vocabulary with hand-derived expectations. */
#include <CUnit/CUnit.h>

#include "tests/testutil.h"
#include <string.h>

#include "core/error.h"
#include "datasets/encode.h"

/* ids:                              0        1        2        3        4       5      6      7      8     9 */
static const char *const vocab_toks[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat",
                                         /* 10  11      12   13 */
                                         "dog", "##s", "a", "."};

static ofa_glue_split make_split(int task, ofa_example *ex, int64_t n)
{
    ofa_glue_split s;
    memset(&s, 0, sizeof s);
    s.ex = ex;
    s.n = n;
    s.task = task;
    s.has_labels = 1;
    return s;
}

static int seq_is(const ofa_encoded *e, int64_t i, const int32_t *want, int n)
{
    int64_t len = e->off[i + 1] - e->off[i];
    return len == n && memcmp(e->tok + e->off[i], want, (size_t)n * sizeof *want) == 0;
}

static void test_layout(void)
{
    ofa_vocab v;
    CU_ASSERT_EQUAL_FATAL(ofa_vocab_from_strings(&v, vocab_toks, 14), 0);
    ofa_example ex[] = {
        {"The cats sat.", NULL, 1.0f, 0, 2},
        {"a dog", NULL, 0.0f, 1, 3},
    };
    ofa_glue_split s = make_split(OFA_TASK_SST2, ex, 2);
    ofa_encoded e;
    CU_ASSERT_EQUAL_FATAL(ofa_encode_split(&e, &s, &v, 1, 16), 0);
    CU_ASSERT_EQUAL(e.n, 2);
    int32_t w0[] = {2, 5, 6, 11, 7, 13, 3}, w1[] = {2, 12, 10, 3};
    CU_ASSERT(seq_is(&e, 0, w0, 7));
    CU_ASSERT(seq_is(&e, 1, w1, 4));
    CU_ASSERT(e.seg_b[0] == 7 && e.seg_b[1] == 4); /* single sentence: no type-1 tokens */
    CU_ASSERT_EQUAL(e.max_len, 7);
    CU_ASSERT_EQUAL(e.truncated, 0);
    CU_ASSERT_EQUAL(e.regression, 0);
    CU_ASSERT(e.label[0] == 1.0f && e.index[1] == 1);

    /* batch of rows {1, 0}: padded to 7 with [PAD], types all 0 */
    ofa_batch b;
    ofa_batch_init(&b);
    int64_t rows[] = {1, 0};
    ofa_batch_make(&b, &e, rows, 2, v.pad);
    CU_ASSERT(b.B == 2 && b.T == 7);
    int32_t ids[14] = {2, 12, 10, 3, 0, 0, 0, 2, 5, 6, 11, 7, 13, 3};
    CU_ASSERT_EQUAL(memcmp(b.ids, ids, sizeof ids), 0);
    int zero = 1;
    for (int i = 0; i < 14; i++) zero &= b.types[i] == 0;
    CU_ASSERT(zero);
    CU_ASSERT(b.lens[0] == 4 && b.lens[1] == 7);
    CU_ASSERT(b.labels[0] == 0 && b.labels[1] == 1 && b.targets[1] == 1.0f);
    CU_ASSERT(b.rows[0] == 1 && b.rows[1] == 0);
    /* a smaller batch reuses the buffers; T shrinks to that batch's longest */
    int64_t one[] = {1};
    ofa_batch_make(&b, &e, one, 1, v.pad);
    CU_ASSERT(b.B == 1 && b.T == 4 && b.lens[0] == 4);
    ofa_batch_free(&b);
    ofa_batch_free(&b);
    ofa_encoded_free(&e);
    ofa_encoded_free(&e);
    ofa_vocab_free(&v);
}

static void test_pairs_and_truncation(void)
{
    ofa_vocab v;
    CU_ASSERT_EQUAL_FATAL(ofa_vocab_from_strings(&v, vocab_toks, 14), 0);
    ofa_example ex[] = {
        {"the cat", "a dog", 1.0f, 0, 2},
        /* a = 6 tokens, b = 2: with max 9 the budget is 6 -> a loses 2 from its end */
        {"the cat sat on the mat", "a dog", 0.0f, 1, 3},
        /* 4 and 4 with budget 6: pop b (not longer), then a -> 3 and 3 */
        {"the cat sat on", "a dog sat on", 0.0f, 2, 4},
        /* an empty b is a single sentence, as in BERT's convert_single_example */
        {"the zebra", "", 1.0f, 3, 5},
    };
    ofa_glue_split s = make_split(OFA_TASK_MRPC, ex, 4);
    ofa_encoded e;
    CU_ASSERT_EQUAL(ofa_encode_split(&e, &s, &v, 1, 3), OFA_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "data.max_seq_len"));
    ofa_err_clear();
    CU_ASSERT_EQUAL_FATAL(ofa_encode_split(&e, &s, &v, 1, 9), 0);
    int32_t w0[] = {2, 5, 6, 3, 12, 10, 3};
    int32_t w1[] = {2, 5, 6, 7, 8, 3, 12, 10, 3};
    int32_t w2[] = {2, 5, 6, 7, 3, 12, 10, 7, 3};
    int32_t w3[] = {2, 5, 1, 3};
    CU_ASSERT(seq_is(&e, 0, w0, 7));
    CU_ASSERT_EQUAL(e.seg_b[0], 4);
    /* with max 9 the budget is 6: a 6 + b 2 -> a trimmed to 4 */
    CU_ASSERT(seq_is(&e, 1, w1, 9));
    CU_ASSERT_EQUAL(e.seg_b[1], 6);
    CU_ASSERT(seq_is(&e, 2, w2, 9));
    CU_ASSERT(seq_is(&e, 3, w3, 4));
    CU_ASSERT_EQUAL(e.seg_b[3], 4);
    CU_ASSERT_EQUAL(e.truncated, 2);
    CU_ASSERT_EQUAL(e.max_len, 9);

    ofa_batch b;
    ofa_batch_init(&b);
    int64_t rows[] = {0, 2};
    ofa_batch_make(&b, &e, rows, 2, 0);
    CU_ASSERT_EQUAL_FATAL(b.T, 9);
    int32_t ty[18] = {0, 0, 0, 0, 1, 1, 1, 0, 0, /**/ 0, 0, 0, 0, 0, 1, 1, 1, 1};
    int32_t ids[18] = {2, 5, 6, 3, 12, 10, 3, 0, 0, /**/ 2, 5, 6, 7, 3, 12, 10, 7, 3};
    CU_ASSERT_EQUAL(memcmp(b.types, ty, sizeof ty), 0);
    CU_ASSERT_EQUAL(memcmp(b.ids, ids, sizeof ids), 0);
    CU_ASSERT(b.lens[0] == 7 && b.lens[1] == 9);
    ofa_batch_free(&b);
    ofa_encoded_free(&e);

    /* max 8, single-sentence budget 6: "the cat sat on the mat ." (7) -> 6 */
    ofa_example ex1[] = {{"the cat sat on the mat .", NULL, 0.0f, 0, 1}};
    s = make_split(OFA_TASK_COLA, ex1, 1);
    CU_ASSERT_EQUAL_FATAL(ofa_encode_split(&e, &s, &v, 1, 8), 0);
    int32_t w4[] = {2, 5, 6, 7, 8, 5, 9, 3};
    CU_ASSERT(seq_is(&e, 0, w4, 8));
    CU_ASSERT_EQUAL(e.truncated, 1);
    ofa_encoded_free(&e);
    ofa_vocab_free(&v);
}

static void test_regression(void)
{
    ofa_vocab v;
    CU_ASSERT_EQUAL_FATAL(ofa_vocab_from_strings(&v, vocab_toks, 14), 0);
    ofa_example ex[] = {{"a cat", "a dog", 4.75f, 0, 2}, {"the mat", "the mat", 2.0f, 1, 3}};
    ofa_glue_split s = make_split(OFA_TASK_STSB, ex, 2);
    ofa_encoded e;
    CU_ASSERT_EQUAL_FATAL(ofa_encode_split(&e, &s, &v, 1, 32), 0);
    CU_ASSERT_EQUAL(e.regression, 1);
    ofa_batch b;
    ofa_batch_init(&b);
    int64_t rows[] = {0, 1};
    ofa_batch_make(&b, &e, rows, 2, v.pad);
    CU_ASSERT(b.labels[0] == 0 && b.labels[1] == 0);
    CU_ASSERT(b.targets[0] == 4.75f && b.targets[1] == 2.0f);
    ofa_batch_free(&b);
    ofa_encoded_free(&e);
    ofa_vocab_free(&v);
}

int test_encode_register(void)
{
    CU_pSuite s = CU_add_suite("encode", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "layout", test_layout) || !CU_add_test(s, "pairs_and_truncation", test_pairs_and_truncation) ||
        !CU_add_test(s, "regression", test_regression))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
