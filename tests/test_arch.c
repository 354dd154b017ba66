/* Suite arch: subnet text form, depth rules, the space, samplers, the grid, parameter and MAC counts. */
#include <CUnit/CUnit.h>

#include "tests/testutil.h"
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/rng.h"
#include "models/bert/arch.h"

static void expect_err(int rc, int code, const char *msg)
{
    CU_ASSERT_EQUAL(rc, code);
    if (rc != code || strcmp(ofa_err_msg(), msg) != 0)
        fprintf(stderr, "\n  expected rc %d '%s'\n       got rc %d '%s'\n", code, msg, rc, ofa_err_msg());
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), msg);
    ofa_err_clear();
}

static int same_arch(const ofa_bert_arch *a, const ofa_bert_arch *b)
{
    if (a->depth != b->depth || a->hidden != b->hidden) return 0;
    for (int i = 0; i < a->depth; i++)
        if (a->layer[i] != b->layer[i] || a->heads[i] != b->heads[i] || a->ffn[i] != b->ffn[i]) return 0;
    return 1;
}

static void test_kept_layers(void)
{
    int out[OFA_MAX_LAYERS];
    /* hand-computed floor((i+1)*L/d)-1 */
    ofa_bert_arch_kept_layers(4, 2, OFA_DEPTH_DYNABERT, out);
    CU_ASSERT(out[0] == 1 && out[1] == 3);
    ofa_bert_arch_kept_layers(4, 3, OFA_DEPTH_DYNABERT, out);
    CU_ASSERT(out[0] == 0 && out[1] == 1 && out[2] == 3);
    ofa_bert_arch_kept_layers(4, 1, OFA_DEPTH_DYNABERT, out);
    CU_ASSERT(out[0] == 3);
    ofa_bert_arch_kept_layers(4, 4, OFA_DEPTH_DYNABERT, out);
    CU_ASSERT(out[0] == 0 && out[1] == 1 && out[2] == 2 && out[3] == 3);
    const int l12d6[6] = {1, 3, 5, 7, 9, 11};
    ofa_bert_arch_kept_layers(12, 6, OFA_DEPTH_DYNABERT, out);
    CU_ASSERT(memcmp(out, l12d6, sizeof l12d6) == 0);
    const int l12d9[9] = {0, 1, 3, 4, 5, 7, 8, 9, 11}; /* 12/9=1.33: 1,2,4,5,6,8,9,10,12 minus 1 */
    ofa_bert_arch_kept_layers(12, 9, OFA_DEPTH_DYNABERT, out);
    CU_ASSERT(memcmp(out, l12d9, sizeof l12d9) == 0);
    ofa_bert_arch_kept_layers(4, 2, OFA_DEPTH_FIRST, out);
    CU_ASSERT(out[0] == 0 && out[1] == 1);
    ofa_bert_arch_kept_layers(12, 3, OFA_DEPTH_FIRST, out);
    CU_ASSERT(out[0] == 0 && out[1] == 1 && out[2] == 2);
}

static void test_print_parse(void)
{
    ofa_bert_arch a;
    char t[OFA_ARCH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d3-h4.2.1-f1024.512.256", 4, 256, OFA_DEPTH_DYNABERT), 0);
    CU_ASSERT_EQUAL(a.depth, 3);
    CU_ASSERT(a.layer[0] == 0 && a.layer[1] == 1 && a.layer[2] == 3);
    CU_ASSERT(a.heads[0] == 4 && a.heads[1] == 2 && a.heads[2] == 1);
    CU_ASSERT(a.ffn[0] == 1024 && a.ffn[1] == 512 && a.ffn[2] == 256);
    CU_ASSERT_EQUAL(a.hidden, 256);
    ofa_bert_arch_print(&a, 256, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "d3-h4.2.1-f1024.512.256");
    ofa_bert_arch_print(&a, 768, t, sizeof t); /* hidden differs from the supernet's: printed */
    CU_ASSERT_STRING_EQUAL(t, "d3-h4.2.1-f1024.512.256-e256");

    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h1.3-f7.9-e192", 4, 256, OFA_DEPTH_FIRST), 0);
    CU_ASSERT(a.depth == 2 && a.layer[0] == 0 && a.layer[1] == 1 && a.hidden == 192);
    CU_ASSERT(a.heads[0] == 1 && a.heads[1] == 3 && a.ffn[0] == 7 && a.ffn[1] == 9);
    ofa_bert_arch_print(&a, 256, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "d2-h1.3-f7.9-e192");
    /* -e<H> is accepted and prints canonically without it */
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d1-h2-f8-e256", 4, 256, OFA_DEPTH_DYNABERT), 0);
    CU_ASSERT(a.depth == 1 && a.layer[0] == 3 && a.hidden == 256);
    ofa_bert_arch_print(&a, 256, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "d1-h2-f8");

    /* full arch */
    ofa_bert_arch_full(&a, 2, 12, 3072, 768);
    ofa_bert_arch_print(&a, 768, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "d2-h12.12-f3072.3072");

    /* a short buffer is cut, still terminated */
    char small[8];
    ofa_bert_arch_full(&a, 3, 4, 1024, 256);
    ofa_bert_arch_print(&a, 256, small, sizeof small);
    CU_ASSERT_STRING_EQUAL(small, "d3-h4.4");
}

/* One value for every kept layer: "d2-h2-f512" is "d2-h2.2-f512.512", printed back canonically;
 * per-layer and uniform lists mix; every uniform arch's shorthand parses to the arch itself. */
static void test_shorthand(void)
{
    struct {
        const char *in, *canon;
        int L;
    } cases[] = {
        {"d2-h2-f512", "d2-h2.2-f512.512", 4},
        {"d3-h4.2.1-f256", "d3-h4.2.1-f256.256.256", 4},
        {"d3-h2-f1024.512.256", "d3-h2.2.2-f1024.512.256", 4},
        {"d4-h1-f64-e192", "d4-h1.1.1.1-f64.64.64.64-e192", 4},
        {"d1-h3-f7", "d1-h3-f7", 4},
        {"d12-h12-f3072", "d12-h12.12.12.12.12.12.12.12.12.12.12.12-f3072.3072.3072.3072.3072.3072.3072.3072.3072."
                          "3072.3072.3072", 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ofa_bert_arch a, b;
        char t[OFA_ARCH_TEXT_MAX];
        CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, cases[i].in, cases[i].L, 256, OFA_DEPTH_DYNABERT), 0);
        ofa_bert_arch_print(&a, 256, t, sizeof t);
        if (strcmp(t, cases[i].canon)) fprintf(stderr, "\n  '%s' printed as '%s'", cases[i].in, t);
        CU_ASSERT_STRING_EQUAL(t, cases[i].canon);
        CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&b, t, cases[i].L, 256, OFA_DEPTH_DYNABERT), 0);
        CU_ASSERT(same_arch(&a, &b));
    }
    /* random uniform archs: the shorthand and the canonical text are the same arch */
    ofa_rng r;
    ofa_rng_seed(&r, 7);
    int bad = 0;
    for (int it = 0; it < 500; it++) {
        int L = 1 + (int)ofa_rng_below(&r, OFA_MAX_LAYERS), d = 1 + (int)ofa_rng_below(&r, (uint64_t)L);
        int h = 1 + (int)ofa_rng_below(&r, 64), f = 1 + (int)ofa_rng_below(&r, 10000);
        char sh[64], t[OFA_ARCH_TEXT_MAX];
        snprintf(sh, sizeof sh, "d%d-h%d-f%d", d, h, f);
        ofa_bert_arch a, b;
        ofa_bert_arch_kept_layers(L, d, OFA_DEPTH_DYNABERT, a.layer);
        a.depth = d;
        a.hidden = 256;
        for (int k = 0; k < d; k++) a.heads[k] = h, a.ffn[k] = f;
        ofa_bert_arch_print(&a, 256, t, sizeof t);
        if (ofa_bert_arch_parse(&b, sh, L, 256, OFA_DEPTH_DYNABERT) != 0 || !same_arch(&a, &b)) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* the arch of the space nearest to one outside it, as the check's message suggests */
static void test_nearest(void)
{
    const int d[] = {2, 4}, h[] = {1, 2, 4}, f[] = {256, 512, 1024}, e[] = {128, 192};
    ofa_bert_space s;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, d, 2, h, 3, f, 3, NULL, 0), 0);
    struct {
        const char *in, *near;
    } cases[] = {
        {"d2-h3-f300", "d2-h2.2-f256.256"},                      /* ties go to the smaller */
        {"d3-h4.2.1-f1024.512.256", "d2-h4.2-f1024.512"},        /* depth 3: 2 and 4 tie, 2 taken */
        {"d4-h4.4.4.4-f1000.600.200.1024", "d4-h4.4.4.4-f1024.512.256.1024"},
        {"d1-h4-f2000", "d2-h4.4-f1024.1024"},                   /* a deeper arch repeats the last values */
        {"d2-h1.4-f256.1024-e128", "d2-h1.4-f256.1024"},         /* hidden not elastic: the supernet's */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ofa_bert_arch a, n;
        char t[OFA_ARCH_TEXT_MAX];
        CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, cases[i].in, 4, 256, OFA_DEPTH_DYNABERT), 0);
        ofa_bert_arch_nearest(&n, &a, &s);
        ofa_bert_arch_print(&n, 256, t, sizeof t);
        if (strcmp(t, cases[i].near)) fprintf(stderr, "\n  nearest of '%s' is '%s'", cases[i].in, t);
        CU_ASSERT_STRING_EQUAL(t, cases[i].near);
        CU_ASSERT_EQUAL(ofa_bert_arch_check(&n, &s), 0);
    }
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, d, 2, h, 3, f, 3, e, 2), 0);
    ofa_bert_arch a, n;
    char t[OFA_ARCH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h2-f512-e170", 4, 256, OFA_DEPTH_DYNABERT), 0);
    ofa_bert_arch_nearest(&n, &a, &s);
    ofa_bert_arch_print(&n, 256, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "d2-h2.2-f512.512-e192");
}

static void test_round_trip(void)
{
    ofa_rng r;
    ofa_rng_seed(&r, 2024);
    char t[OFA_ARCH_TEXT_MAX], t2[OFA_ARCH_TEXT_MAX];
    int bad = 0;
    for (int it = 0; it < 2000; it++) {
        int L = 1 + (int)ofa_rng_below(&r, OFA_MAX_LAYERS), H = 1 + (int)ofa_rng_below(&r, 4096);
        int rule = (int)ofa_rng_below(&r, 2);
        ofa_bert_arch a, b;
        a.depth = 1 + (int)ofa_rng_below(&r, (uint64_t)L);
        ofa_bert_arch_kept_layers(L, a.depth, rule, a.layer);
        for (int i = 0; i < a.depth; i++) {
            a.heads[i] = 1 + (int)ofa_rng_below(&r, 64);
            a.ffn[i] = 1 + (int)ofa_rng_below(&r, 100000);
        }
        a.hidden = ofa_rng_below(&r, 2) ? H : 1 + (int)ofa_rng_below(&r, (uint64_t)H);
        ofa_bert_arch_print(&a, H, t, sizeof t);
        int rc = ofa_bert_arch_parse(&b, t, L, H, rule);
        if (rc != 0 || !same_arch(&a, &b)) {
            if (bad++ < 3) fprintf(stderr, "\n  round trip failed for '%s' (L=%d H=%d): %s\n", t, L, H, ofa_err_msg());
            continue;
        }
        ofa_bert_arch_print(&b, H, t2, sizeof t2);
        if (strcmp(t, t2) != 0 && bad++ < 3) fprintf(stderr, "\n  '%s' printed back as '%s'\n", t, t2);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* the hints the parser appends (models/bert/arch.c) */
#define FORM                                                                                       \
    " (the form is d<depth>-h<heads>-f<ffn>[-e<hidden>], one value for every kept layer as in d2-h2-f512, or one " \
    "per kept layer as in d2-h4.2-f512.256)"
#define COUNTS(d) "; give " #d " (one per kept layer) or 1 (the same for every layer)"

static void test_parse_errors(void)
{
    ofa_bert_arch a;
    struct {
        const char *text, *msg;
    } cases[] = {
        {"x3-h1.1.1-f1.1.1", "arch 'x3-h1.1.1-f1.1.1': expected 'd<depth>' at character 1" FORM},
        {"", "arch '': expected 'd<depth>' at character 1" FORM},
        {" d1-h1-f1", "arch ' d1-h1-f1': expected 'd<depth>' at character 1" FORM},
        {"d3-h4.2-f1.2.3", "arch 'd3-h4.2-f1.2.3': 2 head counts for depth 3" COUNTS(3)},
        {"d2-h4.2.1-f1", "arch 'd2-h4.2.1-f1': 3 head counts for depth 2" COUNTS(2)},
        {"d2-h4.2-f1.2.3", "arch 'd2-h4.2-f1.2.3': 3 FFN widths for depth 2" COUNTS(2)},
        {"d5-h1.1.1.1.1-f1.1.1.1.1", "arch 'd5-h1.1.1.1.1-f1.1.1.1.1': depth 5 exceeds the supernet's 4 layers"},
        {"d3-h4.2-f1,2,3", "arch 'd3-h4.2-f1,2,3': 2 head counts for depth 3" COUNTS(3)},
        {"d3-h4.2.1-f1,2,3", "arch 'd3-h4.2.1-f1,2,3': unexpected ',' at character 13; values are separated by '.'" FORM},
        {"d-3-h1-f1", "arch 'd-3-h1-f1': expected the depth (a positive integer) at character 2"},
        {"d+1-h1-f1", "arch 'd+1-h1-f1': expected the depth (a positive integer) at character 2"},
        {"d0-h-f", "arch 'd0-h-f': the depth at character 2 is 0; it must be positive"},
        {"d01-h1-f1", "arch 'd01-h1-f1': the depth at character 2 has a leading zero"},
        {"d1-h0-f1", "arch 'd1-h0-f1': a head count at character 5 is 0; it must be positive"},
        {"d1-h-2-f1", "arch 'd1-h-2-f1': expected a head count (a positive integer) at character 5"},
        {"d2-h1..2-f1.1", "arch 'd2-h1..2-f1.1': expected a head count (a positive integer) at character 7"},
        {"d2-h1.-f1.1", "arch 'd2-h1.-f1.1': expected a head count (a positive integer) at character 7"},
        {"d1-h1-f 1", "arch 'd1-h1-f 1': expected an FFN width (a positive integer) at character 8"},
        {"d1-h1-f99999999999", "arch 'd1-h1-f99999999999': an FFN width at character 8 is too large"},
        {"d3h1.1.1-f1.1.1", "arch 'd3h1.1.1-f1.1.1': expected '-h<heads>' at character 3" FORM},
        {"d3.1-h1.1.1-f1.1.1", "arch 'd3.1-h1.1.1-f1.1.1': expected '-h<heads>' at character 3" FORM},
        {"d1-f1-h1", "arch 'd1-f1-h1': expected '-h<heads>' at character 3" FORM},
        {"d1-h1-x1", "arch 'd1-h1-x1': expected '-f<ffn>' at character 6" FORM},
        {"d1-h1", "arch 'd1-h1': expected '-f<ffn>' at character 6" FORM},
        {"d1-h1-f1x", "arch 'd1-h1-f1x': unexpected 'x' at character 9; values are separated by '.'" FORM},
        {"d1-h1-f1-", "arch 'd1-h1-f1-': expected '-e<hidden>' or the end of the text at character 9" FORM},
        {"d1-h1-f1-k3", "arch 'd1-h1-f1-k3': expected '-e<hidden>' or the end of the text at character 9" FORM},
        {"d1-h1-f1-e300", "arch 'd1-h1-f1-e300': hidden size 300 exceeds the supernet's 256"},
        {"d1-h1-f1-e0", "arch 'd1-h1-f1-e0': the hidden size at character 11 is 0; it must be positive"},
        {"d1-h1-f1-e192x", "arch 'd1-h1-f1-e192x': unexpected 'x' at character 14 (the text should end there)"},
        {"d1-h1-f1-e192-e192", "arch 'd1-h1-f1-e192-e192': unexpected '-' at character 14 (the text should end there)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        a.depth = -7;
        expect_err(ofa_bert_arch_parse(&a, cases[i].text, 4, 256, OFA_DEPTH_DYNABERT), OFA_E_USAGE, cases[i].msg);
        CU_ASSERT_EQUAL(a.depth, -7); /* untouched on error */
    }
    /* a very long text is cut in the message */
    char lng[600];
    memset(lng, '1', sizeof lng - 1);
    lng[0] = 'x';
    lng[sizeof lng - 1] = '\0';
    CU_ASSERT_EQUAL(ofa_bert_arch_parse(&a, lng, 4, 256, OFA_DEPTH_DYNABERT), OFA_E_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "...': expected 'd<depth>' at character 1"));
    CU_ASSERT(strlen(ofa_err_msg()) < 450); /* the text cut at 200 characters, then the form hint */
    ofa_err_clear();
}

/* The test space: L=4, A=4, F=1024, H=256. */
static void make_space(ofa_bert_space *s, int rule, int with_hidden)
{
    const int d[] = {4, 2, 3, 2}, h[] = {4, 1, 2, 2, 1}, f[] = {1024, 256, 512, 768}, e[] = {256, 128, 192};
    int rc = ofa_bert_space_init(s, 4, 4, 1024, 256, rule, d, 4, h, 5, f, 4, e, with_hidden ? 3 : 0);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static void test_space(void)
{
    ofa_bert_space s;
    make_space(&s, OFA_DEPTH_DYNABERT, 1);
    CU_ASSERT(s.L == 4 && s.A == 4 && s.F == 1024 && s.H == 256 && s.rule == OFA_DEPTH_DYNABERT);
    CU_ASSERT(s.n_depth == 3 && s.depth[0] == 2 && s.depth[1] == 3 && s.depth[2] == 4);
    CU_ASSERT(s.n_heads == 3 && s.heads[0] == 1 && s.heads[1] == 2 && s.heads[2] == 4);
    CU_ASSERT(s.n_ffn == 4 && s.ffn[0] == 256 && s.ffn[1] == 512 && s.ffn[2] == 768 && s.ffn[3] == 1024);
    CU_ASSERT(s.n_hidden == 3 && s.hidden[0] == 128 && s.hidden[1] == 192 && s.hidden[2] == 256);
    make_space(&s, OFA_DEPTH_FIRST, 0);
    CU_ASSERT(s.rule == OFA_DEPTH_FIRST && s.n_hidden == 0);

    const int ok[] = {1, 2}, six[] = {2, 6}, zero[] = {0, 1}, big[] = {2048}, neg[] = {-1};
    int many[17];
    for (int i = 0; i < 17; i++) many[i] = 1 + i % 4;
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, ok, 2, six, 2, ok, 2, NULL, 0), OFA_E_CONFIG,
               "supernet.space.heads: 6 exceeds the teacher's 4 heads");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, six, 2, ok, 2, ok, 2, NULL, 0), OFA_E_CONFIG,
               "supernet.space.depth: 6 exceeds the teacher's 4 layers");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, ok, 2, ok, 2, big, 1, NULL, 0), OFA_E_CONFIG,
               "supernet.space.ffn: 2048 exceeds the teacher's FFN width 1024");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, ok, 2, ok, 2, ok, 2, big, 1), OFA_E_CONFIG,
               "supernet.space.hidden: 2048 exceeds the teacher's hidden size 256");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, zero, 2, ok, 2, ok, 2, NULL, 0), OFA_E_CONFIG,
               "supernet.space.depth: 0 is not a positive number");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, ok, 2, ok, 2, ok, 2, neg, 1), OFA_E_CONFIG,
               "supernet.space.hidden: -1 is not a positive number");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, NULL, 0, ok, 2, ok, 2, NULL, 0), OFA_E_CONFIG,
               "supernet.space.depth: the list is empty; give at least one value");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, ok, 2, NULL, 0, ok, 2, NULL, 0), OFA_E_CONFIG,
               "supernet.space.heads: the list is empty; give at least one value");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, ok, 2, ok, 2, NULL, 0, NULL, 0), OFA_E_CONFIG,
               "supernet.space.ffn: the list is empty; give at least one value");
    expect_err(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, ok, 2, many, 17, ok, 2, NULL, 0), OFA_E_CONFIG,
               "supernet.space.heads: 17 values; at most 16 are allowed");
}

static void test_check(void)
{
    ofa_bert_space s;
    ofa_bert_arch a;
    make_space(&s, OFA_DEPTH_DYNABERT, 0);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d3-h4.2.1-f1024.512.256", 4, 256, OFA_DEPTH_DYNABERT), 0);
    CU_ASSERT_EQUAL(ofa_bert_arch_check(&a, &s), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d3-h4.3.1-f1024.512.256", 4, 256, OFA_DEPTH_DYNABERT), 0);
    expect_err(ofa_bert_arch_check(&a, &s), OFA_E_USAGE,
               "arch 'd3-h4.3.1-f1024.512.256': kept layer 2 of 3 (layer_01) has 3 heads; the space allows 1, 2, 4 (nearest "
               "arch in the "
               "space: d3-h4.2.1-f1024.512.256)");
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h4.1-f1024.100", 4, 256, OFA_DEPTH_DYNABERT), 0);
    expect_err(ofa_bert_arch_check(&a, &s), OFA_E_USAGE,
               "arch 'd2-h4.1-f1024.100': kept layer 2 of 2 (layer_03) has FFN width 100; the space allows 256, 512, 768, "
               "1024 (nearest arch "
               "in the space: d2-h4.1-f1024.256)");
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d1-h4-f1024", 4, 256, OFA_DEPTH_DYNABERT), 0);
    expect_err(ofa_bert_arch_check(&a, &s), OFA_E_USAGE,
               "arch 'd1-h4-f1024': depth 1; the space allows 2, 3, 4 (nearest arch in the space: d2-h4.4-f1024.1024)");
    /* hidden: not elastic here, so only H */
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h4.4-f1024.1024-e128", 4, 256, OFA_DEPTH_DYNABERT), 0);
    expect_err(ofa_bert_arch_check(&a, &s), OFA_E_USAGE,
               "arch 'd2-h4.4-f1024.1024-e128': hidden size 128; hidden is not elastic in this space (only 256; nearest "
               "arch in the space: d2-h4.4-f1024.1024)");
    /* kept layers of the other rule */
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h4.4-f1024.1024", 4, 256, OFA_DEPTH_FIRST), 0);
    expect_err(ofa_bert_arch_check(&a, &s), OFA_E_USAGE,
               "arch 'd2-h4.4-f1024.1024': kept layer 0 is layer_00, but depth rule dynabert keeps layer_01");
    /* elastic hidden */
    const int d[] = {2, 4}, h[] = {2, 4}, f[] = {512, 1024}, e[] = {128, 192};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_DYNABERT, d, 2, h, 2, f, 2, e, 2), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h4.2-f512.1024-e192", 4, 256, OFA_DEPTH_DYNABERT), 0);
    CU_ASSERT_EQUAL(ofa_bert_arch_check(&a, &s), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h4.2-f512.1024-e160", 4, 256, OFA_DEPTH_DYNABERT), 0);
    expect_err(ofa_bert_arch_check(&a, &s), OFA_E_USAGE,
               "arch 'd2-h4.2-f512.1024-e160': hidden size 160; the space allows 128, 192 (nearest arch in the space: "
               "d2-h4.2-f512.1024-e128)");
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h4.2-f512.1024", 4, 256, OFA_DEPTH_DYNABERT), 0);
    expect_err(ofa_bert_arch_check(&a, &s), OFA_E_USAGE,
               "arch 'd2-h4.2-f512.1024': hidden size 256; the space allows 128, 192 (nearest arch in the space: "
               "d2-h4.2-f512.1024-e192)");
}

static void test_largest_smallest(void)
{
    ofa_bert_space s;
    ofa_bert_arch a, b;
    char t[OFA_ARCH_TEXT_MAX];
    make_space(&s, OFA_DEPTH_DYNABERT, 1);
    ofa_bert_arch_largest(&a, &s);
    ofa_bert_arch_full(&b, 4, 4, 1024, 256);
    CU_ASSERT(same_arch(&a, &b));
    CU_ASSERT_EQUAL(ofa_bert_arch_check(&a, &s), 0);
    const struct {
        int elastic;
        const char *text;
    } cases[] = {
        {OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | OFA_ELASTIC_HIDDEN, "d2-h1.1-f256.256-e128"},
        {OFA_ELASTIC_WIDTH, "d4-h1.1.1.1-f256.256.256.256"},
        {OFA_ELASTIC_DEPTH, "d2-h4.4-f1024.1024"},
        {OFA_ELASTIC_HIDDEN, "d4-h4.4.4.4-f1024.1024.1024.1024-e128"},
        {0, "d4-h4.4.4.4-f1024.1024.1024.1024"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ofa_bert_arch_smallest(&a, &s, cases[i].elastic);
        ofa_bert_arch_print(&a, 256, t, sizeof t);
        CU_ASSERT_STRING_EQUAL(t, cases[i].text);
        CU_ASSERT(a.depth < 4 || a.layer[3] == 3);
        CU_ASSERT(a.depth != 2 || (a.layer[0] == 1 && a.layer[1] == 3));
        CU_ASSERT_EQUAL(ofa_bert_arch_check(&a, &s), 0);
    }
    /* a space whose maxima are below the teacher's: largest is the lists' maxima */
    const int d[] = {2, 3}, h[] = {1, 2}, f[] = {128, 512}, e[] = {64, 192};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 4, 4, 1024, 256, OFA_DEPTH_FIRST, d, 2, h, 2, f, 2, e, 2), 0);
    ofa_bert_arch_largest(&a, &s);
    ofa_bert_arch_print(&a, 256, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "d3-h2.2.2-f512.512.512-e192");
    CU_ASSERT(a.layer[0] == 0 && a.layer[1] == 1 && a.layer[2] == 2);
    /* hidden elastic in the mask but no hidden list: H */
    make_space(&s, OFA_DEPTH_DYNABERT, 0);
    ofa_bert_arch_smallest(&a, &s, OFA_ELASTIC_HIDDEN | OFA_ELASTIC_WIDTH);
    ofa_bert_arch_print(&a, 256, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "d4-h1.1.1.1-f256.256.256.256");
}

static void test_random(void)
{
    ofa_bert_space s;
    ofa_bert_arch a, b;
    ofa_rng r1, r2;
    make_space(&s, OFA_DEPTH_DYNABERT, 1);
    ofa_rng_keyed(&r1, 7, 1, 2);
    ofa_rng_keyed(&r2, 7, 1, 2);
    int n_depth[5] = {0}, n_heads[5] = {0}, n_ffn[5] = {0}, n_hidden[3] = {0}, bad = 0, differ = 0;
    const int N = 6000;
    for (int it = 0; it < N; it++) {
        ofa_bert_arch_random(&a, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | OFA_ELASTIC_HIDDEN, &r1);
        ofa_bert_arch_random(&b, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | OFA_ELASTIC_HIDDEN, &r2);
        bad += !same_arch(&a, &b); /* same stream, same archs */
        if (ofa_bert_arch_check(&a, &s) != 0 && bad++ < 3) fprintf(stderr, "\n  random arch outside: %s\n", ofa_err_msg());
        n_depth[a.depth]++;
        for (int i = 0; i < a.depth; i++) {
            n_heads[a.heads[i]]++;
            n_ffn[a.ffn[i] / 256]++;
            differ += a.heads[i] != a.heads[0] || a.ffn[i] != a.ffn[0];
        }
        n_hidden[(a.hidden - 128) / 64]++;
    }
    ofa_err_clear();
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(differ > 0); /* per-layer choices are independent */
    /* uniform over each list: 1/3 of depths, heads, hidden; 1/4 of FFN widths (loose: +-10%) */
    for (int d = 2; d <= 4; d++) CU_ASSERT(n_depth[d] > N / 3 * 9 / 10 && n_depth[d] < N / 3 * 11 / 10);
    for (int k = 0; k < 3; k++) CU_ASSERT(n_hidden[k] > N / 3 * 9 / 10 && n_hidden[k] < N / 3 * 11 / 10);
    int layers = n_depth[2] * 2 + n_depth[3] * 3 + n_depth[4] * 4;
    CU_ASSERT(n_heads[3] == 0);
    const int hv[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++)
        CU_ASSERT(n_heads[hv[k]] > layers / 3 * 9 / 10 && n_heads[hv[k]] < layers / 3 * 11 / 10);
    for (int k = 1; k <= 4; k++) CU_ASSERT(n_ffn[k] > layers / 4 * 9 / 10 && n_ffn[k] < layers / 4 * 11 / 10);

    /* only the elastic dimensions vary */
    for (int it = 0; it < 200; it++) {
        ofa_bert_arch_random(&a, &s, OFA_ELASTIC_DEPTH, &r1);
        CU_ASSERT_FATAL(a.depth >= 2 && a.depth <= 4);
        for (int i = 0; i < a.depth; i++) CU_ASSERT(a.heads[i] == 4 && a.ffn[i] == 1024);
        CU_ASSERT_EQUAL(a.hidden, 256);
        ofa_bert_arch_random(&a, &s, OFA_ELASTIC_WIDTH, &r1);
        CU_ASSERT(a.depth == 4 && a.hidden == 256 && a.layer[0] == 0 && a.layer[3] == 3);
        ofa_bert_arch_random(&a, &s, 0, &r1);
        ofa_bert_arch_largest(&b, &s);
        CU_ASSERT(same_arch(&a, &b));
    }
}

static void test_grid(void)
{
    ofa_bert_space s;
    ofa_bert_arch g[64];
    char t[OFA_ARCH_TEXT_MAX];
    make_space(&s, OFA_DEPTH_DYNABERT, 0); /* depth 2,3,4; heads 1,2,4; ffn 256,512,768,1024 */
    CU_ASSERT_EQUAL(ofa_bert_arch_grid(NULL, &s), 9);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_grid(g, &s), 9);
    const char *want[9] = {
        "d2-h1.1-f256.256", "d2-h2.2-f768.768", "d2-h4.4-f1024.1024", /* FFN ranks 0, 2 (1.5 rounded), 3 */
        "d3-h1.1.1-f256.256.256", "d3-h2.2.2-f768.768.768", "d3-h4.4.4-f1024.1024.1024",
        "d4-h1.1.1.1-f256.256.256.256", "d4-h2.2.2.2-f768.768.768.768", "d4-h4.4.4.4-f1024.1024.1024.1024",
    };
    for (int k = 0; k < 9; k++) {
        ofa_bert_arch_print(&g[k], 256, t, sizeof t);
        CU_ASSERT_STRING_EQUAL(t, want[k]);
        CU_ASSERT_EQUAL(ofa_bert_arch_check(&g[k], &s), 0);
    }
    ofa_bert_arch sm, lg;
    ofa_bert_arch_smallest(&sm, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    ofa_bert_arch_full(&lg, 4, 4, 1024, 256); /* the lists' maxima are the supernet's */
    CU_ASSERT(same_arch(&g[0], &sm));
    CU_ASSERT(same_arch(&g[8], &lg));
    CU_ASSERT(g[0].layer[0] == 1 && g[0].layer[1] == 3);

    /* equal list sizes: FFN of the same rank; more widths than FFN sizes; one width */
    const int d[] = {4}, h4[] = {1, 2, 3, 4}, f4[] = {10, 20, 30, 40}, f2[] = {10, 40}, h1[] = {4};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 4, 4, 40, 8, OFA_DEPTH_FIRST, d, 1, h4, 4, f4, 4, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_grid(g, &s), 4);
    for (int k = 0; k < 4; k++) CU_ASSERT(g[k].heads[0] == k + 1 && g[k].ffn[3] == 10 * (k + 1));
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 4, 4, 40, 8, OFA_DEPTH_FIRST, d, 1, h4, 4, f2, 2, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_grid(g, &s), 4);
    CU_ASSERT(g[0].ffn[0] == 10 && g[1].ffn[0] == 10 && g[2].ffn[0] == 40 && g[3].ffn[0] == 40);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 4, 4, 40, 8, OFA_DEPTH_FIRST, d, 1, h1, 1, f4, 4, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_grid(g, &s), 1);
    CU_ASSERT(g[0].heads[0] == 4 && g[0].ffn[0] == 40 && g[0].depth == 4);
}

static void test_cost(void)
{
    ofa_bert_arch a;
    /* V=100 P=16 C=3 D=4, hidden 8, heads 2,1 (w = 8, 4), FFN 16, 8.  By hand:
     * embeddings 800 + 128 + 16 + 16 = 960
     * layer (w=8, f=16): 3*(64+8) + (64+8) + 16 + (128+16) + (128+8) + 16 = 600
     * layer (w=4, f=8):  3*(32+4) + (32+8) + 16 + (64+8)   + (64+8)  + 16 = 324
     * pooler 72, classifier 27: total 1983 */
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h2.1-f16.8-e8", 4, 16, OFA_DEPTH_DYNABERT), 0);
    CU_ASSERT_EQUAL(ofa_bert_arch_params(&a, 100, 16, 3, 4), 1983);
    /* T=5: layer 1: 5*(192 + 64 + 256) + 2*25*8 = 2960; layer 2: 5*(96 + 32 + 128) + 2*25*4 = 1480;
     * pooler 64, classifier 24: total 4528 */
    CU_ASSERT_DOUBLE_EQUAL(ofa_bert_arch_macs(&a, 5, 3, 4), 4528.0, 1e-9);
    /* the inference forward: layer 2 on the first token, its one head's attention folded over the
     * 5 tokens: (2*32 + 2*64) + 1*2*8*(4 + 5) = 336, so 2960 + 336 + 64 + 24 = 3384 */
    CU_ASSERT_DOUBLE_EQUAL(ofa_bert_arch_infer_macs(&a, 5, 3, 4), 3384.0, 1e-9);

    /* BERT-base (V=30522, P=512, L=12, H=768, A=12, F=3072) has 109,482,240 parameters with the pooler
     * (bert-base-uncased); a 2-class classifier adds 768*2+2 */
    ofa_bert_arch_full(&a, 12, 12, 3072, 768);
    CU_ASSERT_EQUAL(ofa_bert_arch_params(&a, 30522, 512, 2, 64), (int64_t)109482240 + 1538);
    /* the design's tensor table summed for a small BERT (L=4 H=256 A=4 F=1024 V=1000 P=128 C=3) */
    int64_t H = 256, F = 1024, V = 1000, P = 128, C = 3;
    int64_t want = V * H + P * H + 2 * H + H + H;                                     /* embeddings/... */
    int64_t layer = 4 * (H * H + H) + 2 * H + (F * H + F) + (H * F + H) + 2 * H;      /* attn, ffn, LNs */
    want += 4 * layer + (H * H + H) + (C * H + C);
    ofa_bert_arch_full(&a, 4, 4, 1024, 256);
    CU_ASSERT_EQUAL(ofa_bert_arch_params(&a, (int)V, (int)P, (int)C, 64), want);
    /* full BERT-base MACs on T=128: 12 * 128 * (4*768^2 + 2*768*3072) + 12 * 2 * 128^2 * 768 + 768^2 + 768*2 */
    double T = 128, m = 12 * T * (4.0 * 768 * 768 + 2.0 * 768 * 3072) + 12 * 2 * T * T * 768 + 768.0 * 768 + 768 * 2;
    ofa_bert_arch_full(&a, 12, 12, 3072, 768);
    CU_ASSERT_DOUBLE_EQUAL(ofa_bert_arch_macs(&a, 128, 2, 64), m, 1e-6 * m);
    /* halving every width roughly halves the layer cost; removing layers removes theirs */
    ofa_bert_arch b;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&b, "d6-h12.12.12.12.12.12-f3072.3072.3072.3072.3072.3072", 12, 768,
                                         OFA_DEPTH_DYNABERT), 0);
    CU_ASSERT_EQUAL(ofa_bert_arch_params(&a, 30522, 512, 2, 64) - ofa_bert_arch_params(&b, 30522, 512, 2, 64),
                    6 * (4 * (768 * 768 + 768) + 2 * 768 + (3072 * 768 + 3072) + (768 * 3072 + 768) + 2 * 768));
}

int test_arch_register(void)
{
    CU_pSuite s = CU_add_suite("arch", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "kept_layers", test_kept_layers) || !CU_add_test(s, "print_parse", test_print_parse) ||
        !CU_add_test(s, "round_trip", test_round_trip) || !CU_add_test(s, "shorthand", test_shorthand) ||
        !CU_add_test(s, "nearest", test_nearest) || !CU_add_test(s, "parse_errors", test_parse_errors) ||
        !CU_add_test(s, "space", test_space) || !CU_add_test(s, "check", test_check) ||
        !CU_add_test(s, "largest_smallest", test_largest_smallest) || !CU_add_test(s, "random", test_random) ||
        !CU_add_test(s, "grid", test_grid) || !CU_add_test(s, "cost", test_cost))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
