/* Suite glue: task table, the TSV loader on fixtures of every GLUE layout (and on the real files
 * when GLUE_DIR is set), and the metrics against hand-computed values. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/timer.h"
#include "datasets/glue.h"
#include "datasets/taskdata.h"
#include "tests/testutil.h"

static char g_glue[1024];

/* writes <tmp>/glue/<dir>/<file> and returns the glue dir */
static const char *fixture(const char *dir, const char *file, const char *text)
{
    snprintf(g_glue, sizeof g_glue, "%s", tu_path("glue"));
    mkdir(g_glue, 0755);
    char sub[1100], name[1200];
    snprintf(sub, sizeof sub, "%s/%s", g_glue, dir);
    mkdir(sub, 0755);
    snprintf(name, sizeof name, "glue/%s/%s", dir, file);
    tu_write_file(name, text);
    return g_glue;
}

static void test_tasks(void)
{
    CU_ASSERT_EQUAL(ofa_task_from_name("sst-2"), OFA_TASK_SST2);
    CU_ASSERT_EQUAL(ofa_task_from_name("SST-2"), OFA_TASK_SST2);
    CU_ASSERT_EQUAL(ofa_task_from_name("sst2"), OFA_TASK_SST2);
    CU_ASSERT_EQUAL(ofa_task_from_name("STS-B"), OFA_TASK_STSB);
    CU_ASSERT_EQUAL(ofa_task_from_name("stsb"), OFA_TASK_STSB);
    CU_ASSERT_EQUAL(ofa_task_from_name("mnli_mm"), OFA_TASK_MNLI_MM);
    CU_ASSERT_EQUAL(ofa_task_from_name("MNLI-mm"), OFA_TASK_MNLI_MM);
    CU_ASSERT_EQUAL(ofa_task_from_name("mnli"), OFA_TASK_MNLI);
    CU_ASSERT_EQUAL(ofa_task_from_name("CoLA"), OFA_TASK_COLA);
    CU_ASSERT_EQUAL(ofa_task_from_name("wnli"), OFA_TASK_WNLI);
    CU_ASSERT_EQUAL(ofa_task_from_name("sst-3"), -1);
    CU_ASSERT_EQUAL(ofa_task_from_name(""), -1);
    CU_ASSERT_EQUAL(ofa_task_from_name("mnli-mmm"), -1);
    for (int t = 0; t < OFA_TASK_COUNT; t++) {
        const ofa_task_info *ti = ofa_task_get(t);
        CU_ASSERT_EQUAL(ofa_task_from_name(ti->name), t);
        CU_ASSERT((ti->num_labels == 1) == (ti->label_names == NULL));
    }
    const ofa_task_info *rte = ofa_task_get(OFA_TASK_RTE), *mnli = ofa_task_get(OFA_TASK_MNLI);
    CU_ASSERT_STRING_EQUAL(rte->label_names[0], "entailment");
    CU_ASSERT_STRING_EQUAL(rte->label_names[1], "not_entailment");
    CU_ASSERT_STRING_EQUAL(mnli->label_names[0], "contradiction");
    CU_ASSERT_STRING_EQUAL(mnli->label_names[2], "neutral");
    CU_ASSERT_STRING_EQUAL(ofa_task_get(OFA_TASK_MNLI_MM)->submit_name, "MNLI-mm");
    CU_ASSERT_STRING_EQUAL(ofa_task_get(OFA_TASK_COLA)->metric, "mcc");
    CU_ASSERT_STRING_EQUAL(ofa_task_get(OFA_TASK_MRPC)->metric, "f1");
    CU_ASSERT_STRING_EQUAL(ofa_task_get(OFA_TASK_STSB)->metric, "pearson");
    CU_ASSERT_EQUAL(ofa_task_get(OFA_TASK_SST2)->pair, 0);
    CU_ASSERT_EQUAL(ofa_task_get(OFA_TASK_QQP)->pair, 1);
}

#define LOAD_OK(s, g, task, split)                                                                 \
    do {                                                                                           \
        int rc_ = ofa_glue_load((s), (g), (task), (split), 0, 0);                                   \
        if (rc_) printf("\n  load failed: %s\n", ofa_err_msg());                                   \
        CU_ASSERT_EQUAL_FATAL(rc_, 0);                                                             \
    } while (0)

static void test_single_layouts(void)
{
    ofa_glue_split s;
    /* CoLA: no header, no final newline */
    const char *g = fixture("CoLA", "train.tsv", "gj04\t1\t\tThe sailors rode the breeze.\ngj04\t0\t*\tBill sailors the.");
    LOAD_OK(&s, g, OFA_TASK_COLA, "train");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "The sailors rode the breeze.");
    CU_ASSERT_STRING_EQUAL(s.ex[1].a, "Bill sailors the.");
    CU_ASSERT_PTR_NULL(s.ex[0].b);
    CU_ASSERT(s.ex[0].label == 1.0f && s.ex[1].label == 0.0f);
    CU_ASSERT(s.ex[0].line == 1 && s.ex[1].line == 2 && s.ex[1].index == 1);
    CU_ASSERT_EQUAL(s.has_labels, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.path, "CoLA/train.tsv"));
    ofa_glue_free(&s);
    g = fixture("CoLA", "test.tsv", "index\tsentence\n0\tBill whistled.\n1\tFoo bar.\n");
    LOAD_OK(&s, g, OFA_TASK_COLA, "test");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_EQUAL(s.has_labels, 0);
    CU_ASSERT_STRING_EQUAL(s.ex[1].a, "Foo bar.");
    CU_ASSERT(s.ex[1].index == 1 && s.ex[1].line == 3 && s.ex[1].label == 0.0f);
    ofa_glue_free(&s);

    /* SST-2: CRLF, BOM, empty lines at the end */
    g = fixture("SST-2", "dev.tsv", "\xEF\xBB\xBFsentence\tlabel\r\nit 's a charming journey . \t1\r\nbleak \t0\r\n\r\n\n");
    LOAD_OK(&s, g, OFA_TASK_SST2, "dev");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "it 's a charming journey . ");
    CU_ASSERT_STRING_EQUAL(s.ex[1].a, "bleak ");
    CU_ASSERT(s.ex[0].label == 1.0f && s.ex[1].label == 0.0f && s.ex[1].line == 3);
    ofa_glue_free(&s);
    g = fixture("SST-2", "test.tsv", "index\tsentence\n5\tuneasy mishmash .\n17\tfine");
    LOAD_OK(&s, g, OFA_TASK_SST2, "test");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT(s.ex[0].index == 5 && s.ex[1].index == 17);
    CU_ASSERT_STRING_EQUAL(s.ex[1].a, "fine");
    ofa_glue_free(&s);
}

static void test_pair_layouts(void)
{
    ofa_glue_split s;
    /* MRPC with BOM; a lone leading quote is kept as is */
    const char *g = fixture("MRPC", "train.tsv",
                            "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                            "1\t702876\t702977\tAmrozi accused his brother .\t\"Referring to him .\n"
                            "0\t2108705\t2108831\tYucaipa owned Dominick 's .\tYucaipa bought it .\n");
    LOAD_OK(&s, g, OFA_TASK_MRPC, "train");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "Amrozi accused his brother .");
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "\"Referring to him .");
    CU_ASSERT(s.ex[0].label == 1.0f && s.ex[1].label == 0.0f);
    ofa_glue_free(&s);
    g = fixture("MRPC", "test.tsv", "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tA one .\tB two .\n");
    LOAD_OK(&s, g, OFA_TASK_MRPC, "test");
    CU_ASSERT_EQUAL_FATAL(s.n, 1);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "A one .");
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "B two .");
    CU_ASSERT_EQUAL(s.has_labels, 0);
    ofa_glue_free(&s);

    /* STS-B: float score at column 9; test has 9 columns */
    g = fixture("STS-B", "dev.tsv",
                "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
                "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man dances.\tA man is dancing.\t4.750\n"
                "1\tmain-captions\tMSRvid\t2012test\t0002\tnone\tnone\tA child.\tA horse.\t0.000\n");
    LOAD_OK(&s, g, OFA_TASK_STSB, "dev");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "A man dances.");
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "A man is dancing.");
    CU_ASSERT_DOUBLE_EQUAL(s.ex[0].label, 4.75, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(s.ex[1].label, 0.0, 1e-6);
    ofa_glue_free(&s);
    g = fixture("STS-B", "test.tsv",
                "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n"
                "42\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl.\tA girl is brushing.\n");
    LOAD_OK(&s, g, OFA_TASK_STSB, "test");
    CU_ASSERT_EQUAL_FATAL(s.n, 1);
    CU_ASSERT(s.ex[0].index == 42 && s.ex[0].label == 0.0f);
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "A girl is brushing.");
    ofa_glue_free(&s);

    /* QQP: a fully quoted field with "" escapes is unquoted; partial quotes are kept */
    g = fixture("QQP", "train.tsv",
                "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                "201359\t303345\t303346\t\"How do I say \"\"hi\"\"?\"\tWhat is \"this\"?\t1\n"
                "7\t1\t2\t\"quoted\"\t\"a \"\" b\" c\"\t0\n");
    LOAD_OK(&s, g, OFA_TASK_QQP, "train");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "How do I say \"hi\"?");
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "What is \"this\"?");
    CU_ASSERT_STRING_EQUAL(s.ex[1].a, "\"quoted\"");
    CU_ASSERT_STRING_EQUAL(s.ex[1].b, "\"a \"\" b\" c\"");
    CU_ASSERT(s.ex[0].label == 1.0f && s.ex[1].label == 0.0f && s.ex[1].index == 1);
    ofa_glue_free(&s);
    g = fixture("QQP", "test.tsv", "id\tquestion1\tquestion2\n0\tWhy?\tHow?\n1\tA\tB\n");
    LOAD_OK(&s, g, OFA_TASK_QQP, "test");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "Why?");
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "How?");
    CU_ASSERT_EQUAL(s.ex[1].index, 1);
    ofa_glue_free(&s);

    /* MNLI: train 12 columns, dev 16, gold_label last; matched and mismatched files */
    const char *mh12 = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                       "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n";
    char buf[2048];
    snprintf(buf, sizeof buf, "%s0\t31193\t31193n\tgovernment\t( ( x ) )\t( y )\t(ROOT x)\t(ROOT y)\tConceptually cream"
             " skimming.\tProduct and geography.\tneutral\tneutral\n1\t1\t1n\tfiction\tb\tb\tp\tp\tHe ran.\tHe moved."
             "\tentailment\tentailment\n", mh12);
    g = fixture("MNLI", "train.tsv", buf);
    LOAD_OK(&s, g, OFA_TASK_MNLI, "train");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "Conceptually cream skimming.");
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "Product and geography.");
    CU_ASSERT(s.ex[0].label == 2.0f && s.ex[1].label == 1.0f);
    ofa_glue_free(&s);
    const char *dev_row = "0\t63735\t63735n\tslate\tb1\tb2\tp1\tp2\tThe new rights.\tEveryone likes them.\t"
                          "neutral\tcontradiction\tneutral\tneutral\tcontradiction\tcontradiction\n";
    snprintf(buf, sizeof buf, "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\t"
             "label2\tlabel3\tlabel4\tlabel5\tgold_label\n%s", dev_row);
    g = fixture("MNLI", "dev_matched.tsv", buf);
    LOAD_OK(&s, g, OFA_TASK_MNLI, "dev");
    CU_ASSERT_EQUAL_FATAL(s.n, 1);
    CU_ASSERT_EQUAL(s.ex[0].label, 0.0f);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.path, "MNLI/dev_matched.tsv"));
    ofa_glue_free(&s);
    snprintf(buf, sizeof buf, "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\t"
             "label2\tlabel3\tlabel4\tlabel5\tgold_label\n0\t1\t1n\tletters\tb\tb\tp\tp\tMM a.\tMM b.\tentailment\t"
             "entailment\tentailment\tentailment\tentailment\tentailment\n");
    g = fixture("MNLI", "dev_mismatched.tsv", buf);
    LOAD_OK(&s, g, OFA_TASK_MNLI_MM, "dev");
    CU_ASSERT_EQUAL_FATAL(s.n, 1);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "MM a.");
    CU_ASSERT_EQUAL(s.ex[0].label, 1.0f);
    ofa_glue_free(&s);
    LOAD_OK(&s, g, OFA_TASK_MNLI_MM, "train"); /* mnli-mm trains on MNLI train */
    CU_ASSERT_EQUAL(s.n, 2);
    ofa_glue_free(&s);
    g = fixture("MNLI", "test_matched.tsv", "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\n"
                                            "9796\t1\t1n\tslate\tb\tb\tp\tp\tHello.\tWorld.\n");
    LOAD_OK(&s, g, OFA_TASK_MNLI, "test");
    CU_ASSERT_EQUAL_FATAL(s.n, 1);
    CU_ASSERT(s.ex[0].index == 9796 && s.has_labels == 0);
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "World.");
    ofa_glue_free(&s);
    g = fixture("MNLI", "test_mismatched.tsv", "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\n"
                                               "3\t1\t1n\tslate\tb\tb\tp\tp\tX.\tY.\n");
    LOAD_OK(&s, g, OFA_TASK_MNLI_MM, "test");
    CU_ASSERT(s.n == 1 && s.ex[0].index == 3);
    ofa_glue_free(&s);

    /* QNLI, RTE: entailment = 0, not_entailment = 1; WNLI 0/1 */
    g = fixture("QNLI", "dev.tsv", "index\tquestion\tsentence\tlabel\n0\tWhat came?\tThe X came.\tentailment\n"
                                   "1\tWho?\tNobody.\tnot_entailment\n");
    LOAD_OK(&s, g, OFA_TASK_QNLI, "dev");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[0].a, "What came?");
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "The X came.");
    CU_ASSERT(s.ex[0].label == 0.0f && s.ex[1].label == 1.0f);
    ofa_glue_free(&s);
    g = fixture("QNLI", "test.tsv", "index\tquestion\tsentence\n0\tQ?\tS.\n");
    LOAD_OK(&s, g, OFA_TASK_QNLI, "test");
    CU_ASSERT(s.n == 1 && s.has_labels == 0);
    ofa_glue_free(&s);
    g = fixture("RTE", "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tDana died.\tDana had an accident.\tnot_entailment\n"
                                    "1\tA.\tB.\tentailment\n");
    LOAD_OK(&s, g, OFA_TASK_RTE, "train");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT(s.ex[0].label == 1.0f && s.ex[1].label == 0.0f);
    CU_ASSERT_STRING_EQUAL(s.ex[0].b, "Dana had an accident.");
    ofa_glue_free(&s);
    g = fixture("RTE", "test.tsv", "index\tsentence1\tsentence2\n0\tMangla.\tShukla.\n");
    LOAD_OK(&s, g, OFA_TASK_RTE, "test");
    CU_ASSERT(s.n == 1 && s.ex[0].index == 0);
    ofa_glue_free(&s);
    g = fixture("WNLI", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\tThe drain is clogged.\tThe hair is clogged.\t0\n"
                                   "1\tA.\tB.\t1\n");
    LOAD_OK(&s, g, OFA_TASK_WNLI, "dev");
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT(s.ex[0].label == 0.0f && s.ex[1].label == 1.0f);
    ofa_glue_free(&s);
    g = fixture("WNLI", "test.tsv", "index\tsentence1\tsentence2\n0\tA.\tB.\n");
    LOAD_OK(&s, g, OFA_TASK_WNLI, "test");
    CU_ASSERT(s.n == 1 && s.has_labels == 0);
    ofa_glue_free(&s);
}

static void test_errors(void)
{
    ofa_glue_split s;
    char want[1400];
    const char *g = fixture("SST-2", "train.tsv", "sentence\tlabel\ngood\t1\njust text\nbad\t0\nworse\t2\nok\t1\n");
    const char *path = tu_path("glue/SST-2/train.tsv");
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "train", 0, 0), OFA_E_DATA);
    snprintf(want, sizeof want, "%s:3: expected 2 columns, found 1", path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    CU_ASSERT_EQUAL(s.n, 0);
    CU_ASSERT_PTR_NULL(s.ex);
    /* skip_bad: both malformed rows are counted, the rest kept */
    CU_ASSERT_EQUAL_FATAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "train", 1, 0), 0);
    CU_ASSERT_EQUAL(s.n, 3);
    CU_ASSERT_EQUAL(s.skipped, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[2].a, "ok");
    CU_ASSERT(s.ex[2].line == 6 && s.ex[2].index == 2);
    ofa_glue_free(&s);
    /* limit */
    CU_ASSERT_EQUAL_FATAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "train", 1, 2), 0);
    CU_ASSERT_EQUAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ex[1].a, "bad");
    ofa_glue_free(&s);
    /* bad label names the accepted ones */
    g = fixture("RTE", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n1\tA.\tB.\tmaybe\n");
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_RTE, "dev", 0, 0), OFA_E_DATA);
    snprintf(want, sizeof want, "%s:3: bad label 'maybe' (expected one of entailment, not_entailment)",
             tu_path("glue/RTE/dev.tsv"));
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    g = fixture("STS-B", "train.tsv", "index\tg\tf\ty\to\ts1\ts2\tsentence1\tsentence2\tscore\n"
                                      "0\tg\tf\ty\to\ts\ts\tA.\tB.\tfive\n");
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_STSB, "train", 0, 0), OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "train.tsv:2: bad label 'five'"));
    /* a test split with a non-numeric index */
    g = fixture("SST-2", "test.tsv", "index\tsentence\nx1\tfoo\n");
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "test", 0, 0), OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "test.tsv:2: bad index 'x1'"));
    /* a missing file names the path and says how to point at the data */
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_QQP, "dev", 0, 0), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "glue/QQP/dev.tsv"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "GLUE data not found: set GLUE_DIR or data.glue_dir"));
    CU_ASSERT_EQUAL(ofa_glue_load(&s, NULL, OFA_TASK_QQP, "dev", 0, 0), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "GLUE data not found"));
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "validation", 0, 0), OFA_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "'validation'"));
    /* a header-only or empty file is an error naming it (it scored 0.0000 "best" before) */
    g = fixture("WNLI", "train.tsv", "index\tsentence1\tsentence2\tlabel\n");
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_WNLI, "train", 0, 0), OFA_E_DATA);
    snprintf(want, sizeof want, "%s: no rows (the file is empty or has only its header)",
             tu_path("glue/WNLI/train.tsv"));
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    CU_ASSERT_EQUAL(s.n, 0);
    g = fixture("SST-2", "dev.tsv", "");
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "dev", 0, 0), OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "SST-2/dev.tsv: no rows"));
    /* every row malformed and skipped is no data either */
    g = fixture("SST-2", "dev.tsv", "sentence\tlabel\nno label\nnone here\n");
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "dev", 1, 0), OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "SST-2/dev.tsv: all 2 rows are malformed"));
    /* a row with more columns than the header (SST-2: 3 of 2) names file:line */
    g = fixture("SST-2", "dev.tsv", "sentence\tlabel\ngood\t1\nsplit\tby tab\t0\n");
    CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "dev", 0, 0), OFA_E_DATA);
    snprintf(want, sizeof want, "%s:3: 3 columns, but the header has 2 (a tab inside a sentence?)",
             tu_path("glue/SST-2/dev.tsv"));
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    /* STS-B scores outside [0, 5], or not finite, name file:line */
    const char *bad[] = {"6.5", "-3", "1e308", "nan", "inf", "5.0001"};
    for (int i = 0; i < 6; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "index\tg\tf\ty\to\ts1\ts2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\tA.\tB.\t5\n"
                 "1\tg\tf\ty\to\ts\ts\tA.\tB.\t%s\n", bad[i]);
        g = fixture("STS-B", "dev.tsv", text);
        CU_ASSERT_EQUAL(ofa_glue_load(&s, g, OFA_TASK_STSB, "dev", 0, 0), OFA_E_DATA);
        char w[64];
        snprintf(w, sizeof w, "dev.tsv:3: %s '%s'", i < 3 || i == 5 ? "label" : "bad label", bad[i]);
        if (i < 3 || i == 5) snprintf(w, sizeof w, "dev.tsv:3: label %s is outside sts-b's range [0, 5]", bad[i]);
        if (!strstr(ofa_err_msg(), w)) fprintf(stderr, "\n  %s: '%s'\n", bad[i], ofa_err_msg());
        CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), w));
    }
    /* CR-only line endings (old Mac files) are lines too, as are CRLF ones */
    const char *ends[] = {"\r", "\r\n"};
    for (int i = 0; i < 2; i++) {
        char text[256];
        snprintf(text, sizeof text, "sentence\tlabel%sgood\t1%sbad\t0%sfine\t1%s", ends[i], ends[i], ends[i], ends[i]);
        g = fixture("SST-2", "dev.tsv", text);
        CU_ASSERT_EQUAL_FATAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "dev", 0, 0), 0);
        CU_ASSERT_EQUAL(s.n, 3);
        CU_ASSERT(s.n == 3 && !strcmp(s.ex[1].a, "bad") && s.ex[1].label == 0.0f && s.ex[2].line == 4);
        ofa_glue_free(&s);
    }
    ofa_glue_free(NULL);
    ofa_err_clear();
}

/* Real GLUE files: counts documented in the data README and the GLUE distribution. */
static void test_real(void)
{
    const char *g = tu_glue_dir();
    if (!g) {
        printf("\n  [skip] GLUE_DIR not set\n");
        return;
    }
    struct {
        int task;
        int64_t n;
    } want[] = {{OFA_TASK_SST2, 872}, {OFA_TASK_COLA, 1043}, {OFA_TASK_MRPC, 408}, {OFA_TASK_STSB, 1500}, {OFA_TASK_RTE, 277}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ofa_glue_split s;
        double t0 = ofa_now();
        int rc = ofa_glue_load(&s, g, want[i].task, "dev", 0, 0);
        double dt = ofa_now() - t0;
        if (rc) printf("\n  %s\n", ofa_err_msg());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(s.n, want[i].n);
        CU_ASSERT_EQUAL(s.skipped, 0);
        CU_ASSERT(dt < 0.5);
        int64_t pos = 0;
        double ssum = 0;
        for (int64_t k = 0; k < s.n; k++) {
            pos += s.ex[k].label == 1.0f;
            ssum += s.ex[k].label;
            CU_ASSERT_TRUE_FATAL(s.ex[k].a && *s.ex[k].a);
            CU_ASSERT_TRUE_FATAL((s.ex[k].b != NULL) == ofa_task_get(want[i].task)->pair);
        }
        if (want[i].task == OFA_TASK_SST2) {
            CU_ASSERT_EQUAL(pos, 444);
            CU_ASSERT_STRING_EQUAL(s.ex[0].a, "it 's a charming and often affecting journey . ");
        }
        if (want[i].task == OFA_TASK_COLA) {
            CU_ASSERT_STRING_EQUAL(s.ex[0].a, "The sailors rode the breeze clear of the rocks.");
            CU_ASSERT_STRING_EQUAL(s.ex[s.n - 1].a, "John talked to Bill about himself.");
            CU_ASSERT_EQUAL(s.ex[s.n - 1].line, 1043);
        }
        if (want[i].task == OFA_TASK_MRPC) {
            CU_ASSERT_EQUAL(pos, 279); /* 68.4 % majority baseline */
            CU_ASSERT_EQUAL(s.ex[0].line, 2);
        }
        if (want[i].task == OFA_TASK_STSB) {
            CU_ASSERT_DOUBLE_EQUAL(s.ex[0].label, 5.0, 1e-6);
            CU_ASSERT_DOUBLE_EQUAL(s.ex[1].label, 4.75, 1e-6);
        }
        if (want[i].task == OFA_TASK_RTE) {
            CU_ASSERT_EQUAL(s.ex[0].label, 1.0f); /* not_entailment */
            CU_ASSERT_EQUAL(s.n - pos, 146);       /* 52.7 % entailment = majority */
        }
        (void)ssum;
        ofa_glue_free(&s);
    }
    ofa_glue_split s;
    CU_ASSERT_EQUAL_FATAL(ofa_glue_load(&s, g, OFA_TASK_SST2, "test", 0, 0), 0);
    CU_ASSERT_EQUAL(s.n, 1821);
    CU_ASSERT_EQUAL(s.ex[1820].index, 1820);
    ofa_glue_free(&s);
}

static void test_metrics(void)
{
    /* tp=2 fp=1 fn=1 tn=1: acc 3/5, F1 2*2/(4+2) = 2/3, MCC (2-1)/sqrt(3*3*2*2) = 1/6 */
    float p[] = {1, 1, 0, 0, 1}, y[] = {1, 0, 0, 1, 1};
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_accuracy(p, y, 5), 0.6, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_f1(p, y, 5), 2.0 / 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_mcc(p, y, 5), 1.0 / 6.0, 1e-12);
    /* all predictions negative: F1 and MCC defined as 0 */
    float z[] = {0, 0, 0, 0, 0};
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_f1(z, y, 5), 0.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_mcc(z, y, 5), 0.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_mcc(y, y, 5), 1.0, 1e-12);
    /* perfect anti-correlation */
    float q[] = {0, 1, 1, 0, 0};
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_mcc(q, y, 5), -1.0, 1e-12);
    /* Pearson: x = 1..5, y = (2, 4, 5, 4, 5): r = 6 / sqrt(10 * 6) = 0.7745966692 */
    float a[] = {1, 2, 3, 4, 5}, b[] = {2, 4, 5, 4, 5};
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_pearson(a, b, 5), 6.0 / sqrt(60.0), 1e-9);
    /* Spearman with ties: ranks of b = (1, 2.5, 4.5, 2.5, 4.5), r = 7 / sqrt(10 * 9) (numpy.corrcoef of the ranks agrees) */
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_spearman(a, b, 5), 7.0 / sqrt(90.0), 1e-9);
    /* monotone but nonlinear: Spearman 1, Pearson < 1 */
    float c[] = {1, 8, 27, 64, 125};
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_spearman(a, c, 5), 1.0, 1e-12);
    CU_ASSERT(ofa_metric_pearson(a, c, 5) < 0.99);
    /* constant input: undefined -> 0 */
    CU_ASSERT_DOUBLE_EQUAL(ofa_metric_pearson(a, z, 5), 0.0, 0);

    ofa_metrics m;
    ofa_glue_metrics(OFA_TASK_MRPC, p, y, 5, &m);
    CU_ASSERT_STRING_EQUAL(m.main_name, "f1");
    CU_ASSERT_DOUBLE_EQUAL(m.main, 2.0 / 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(m.accuracy, 0.6, 1e-12);
    ofa_glue_metrics(OFA_TASK_COLA, p, y, 5, &m);
    CU_ASSERT_STRING_EQUAL(m.main_name, "mcc");
    CU_ASSERT_DOUBLE_EQUAL(m.main, 1.0 / 6.0, 1e-12);
    ofa_glue_metrics(OFA_TASK_STSB, a, b, 5, &m);
    CU_ASSERT_STRING_EQUAL(m.main_name, "pearson");
    CU_ASSERT_DOUBLE_EQUAL(m.main, 6.0 / sqrt(60.0), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(m.spearman, 7.0 / sqrt(90.0), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(m.accuracy, 0.0, 0);
    /* MNLI: 3 classes, accuracy */
    float pm[] = {0, 1, 2, 2}, ym[] = {0, 1, 1, 2};
    ofa_glue_metrics(OFA_TASK_MNLI, pm, ym, 4, &m);
    CU_ASSERT_STRING_EQUAL(m.main_name, "accuracy");
    CU_ASSERT_DOUBLE_EQUAL(m.main, 0.75, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(m.f1, 0.0, 0);
}

/* The honest search metric's split (issue 10): the rows every training stage takes (part 0) and the
 * rows the search validates on (part 1) of one file are disjoint and together the whole file, for
 * the same seed whichever stage asks; the file the search does not validate on goes whole to part
 * 0.  The teacher (models/bert/train.c) and the supernet take part 0 of train, the search part 1 of
 * train (val_source train) or of dev (val_source dev, whose part 0 gives the dev figures). */
static void test_holdout_rows(void)
{
    ofa_config c;
    ofa_config_defaults(&c);
    c.experiment.seed = 11;
    c.search.val_fraction = 0.2;
    const int64_t n_file = 500;
    for (int on_dev = 0; on_dev <= 1; on_dev++) {
        for (int dev_file = 0; dev_file <= 1; dev_file++) {
            int64_t *a, *b, na, nb;
            ofa_taskdata_rows(&c, on_dev, dev_file, 0, n_file, &a, &na);
            ofa_taskdata_rows(&c, on_dev, dev_file, 1, n_file, &b, &nb);
            CU_ASSERT_EQUAL(na + nb, n_file);
            if (dev_file == on_dev) {
                CU_ASSERT(nb > 0 && na > 0);
                if (!on_dev) CU_ASSERT_EQUAL(nb, 100); /* val_fraction of train */
            } else {
                CU_ASSERT_EQUAL(nb, 0);
            }
            char *seen = calloc((size_t)n_file, 1);
            for (int64_t i = 0; i < na; i++) seen[a[i]] |= 1;
            for (int64_t i = 0; i < nb; i++) seen[b[i]] |= 2;
            int64_t both = 0, none = 0;
            for (int64_t i = 0; i < n_file; i++) both += seen[i] == 3, none += seen[i] == 0;
            CU_ASSERT_EQUAL(both, 0);
            CU_ASSERT_EQUAL(none, 0);
            /* the same rows when asked again (another stage, another process) */
            int64_t *a2, na2;
            ofa_taskdata_rows(&c, on_dev, dev_file, 0, n_file, &a2, &na2);
            CU_ASSERT(na2 == na && !memcmp(a, a2, (size_t)na * sizeof *a));
            free(seen), free(a), free(b), free(a2);
        }
    }
}

int test_glue_register(void)
{
    CU_pSuite s = CU_add_suite("glue", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "tasks", test_tasks) || !CU_add_test(s, "single_layouts", test_single_layouts) ||
        !CU_add_test(s, "pair_layouts", test_pair_layouts) || !CU_add_test(s, "errors", test_errors) ||
        !CU_add_test(s, "real", test_real) || !CU_add_test(s, "metrics", test_metrics) ||
        !CU_add_test(s, "holdout_rows", test_holdout_rows))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
