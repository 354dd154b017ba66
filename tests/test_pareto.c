/* Suite pareto: the front on hand-made points (checked against a brute-force dominance test),
 * pareto.csv byte for byte, pareto.svg structure and XML well-formedness. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "evaluator/pareto.h"
#include "tests/testutil.h"

static ofa_evo_point pt(const char *text, double metric, double lat)
{
    ofa_evo_point p;
    memset(&p, 0, sizeof p);
    snprintf(p.text, sizeof p.text, "%s", text);
    p.metric = metric;
    p.dev_metric = NAN;
    p.latency_ms = lat;
    p.spread_ms = 0.1;
    p.params = 1000;
    p.macs = 5e6;
    return p;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
    return n;
}

static void test_front_hand(void)
{
    /* by hand: a (1 ms, .70), b (2, .80), c (2, .75) dominated by b, d (3, .78) dominated by b,
     * e (4, .90), f (4, .90) identical to e (both kept), g (5, .85) dominated by e, h NaN metric */
    ofa_evo_point p[8] = {pt("g", .85, 5), pt("b", .80, 2), pt("a", .70, 1), pt("c", .75, 2),
                          pt("e", .90, 4), pt("d", .78, 3), pt("f", .90, 4), pt("h", NAN, 0.5)};
    int64_t idx[8];
    int64_t n = ofa_pareto_front(p, 8, idx);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    const char *want[4] = {"a", "b", "e", "f"};
    for (int i = 0; i < 4; i++) CU_ASSERT_STRING_EQUAL(p[idx[i]].text, want[i]);
    CU_ASSERT_EQUAL(ofa_pareto_front(p, 0, idx), 0);
}

/* Random points against the definition: on the front iff no other point dominates it. */
static void test_front_brute(void)
{
    ofa_rng r;
    ofa_rng_seed(&r, 9);
    enum { N = 300 };
    static ofa_evo_point p[N];
    for (int i = 0; i < N; i++) {
        char t[16];
        snprintf(t, sizeof t, "p%d", i);
        /* coarse grid so ties in latency and metric happen */
        p[i] = pt(t, (double)ofa_rng_below(&r, 40) / 40.0, 0.5 + (double)ofa_rng_below(&r, 30) / 10.0);
    }
    int64_t idx[N];
    int64_t n = ofa_pareto_front(p, N, idx);
    int on[N] = {0};
    for (int64_t k = 0; k < n; k++) on[idx[k]] = 1;
    for (int64_t k = 1; k < n; k++) CU_ASSERT(p[idx[k - 1]].latency_ms <= p[idx[k]].latency_ms);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        int dominated = 0;
        for (int j = 0; j < N && !dominated; j++)
            dominated = p[j].latency_ms <= p[i].latency_ms && p[j].metric >= p[i].metric &&
                        (p[j].latency_ms < p[i].latency_ms || p[j].metric > p[i].metric);
        if (dominated == on[i]) {
            if (bad++ < 3)
                fprintf(stderr, "\n  %s (%g, %g): on_front %d, dominated %d\n", p[i].text, p[i].metric, p[i].latency_ms,
                        on[i], dominated);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_csv(void)
{
    ofa_evo_point p[5] = {pt("d2-h1.1-f64.64", .70, 1), pt("d4-h4.4.4.4-f256.256.256.256", .90, 6),
                          pt("d2-h4.4-f256.256", .80, 2.5), pt("d2-h2.2-f64.64", .72, 2.5),
                          pt("d3-h1.1.1-f64.64.64", .75, 3)};
    p[2].dev_metric = 0.81;
    p[4].params = 123456789012LL;
    double budgets[3] = {2, 3, 8};
    int64_t winner[3] = {0, 2, 2}; /* p2 wins two budgets */
    const char *path = tu_path("pareto.csv");
    /* val_rows / dev_rows: the same on every row, a comma and a quote made CSV-safe */
    CU_ASSERT_EQUAL_FATAL(ofa_pareto_write_csv(path, p, 5, budgets, winner, 3, "dev.tsv: half, \"A\"", "dev.tsv: B"), 0);
    char *got = slurp(path);
    const char *want =
        "arch,val_metric,dev_metric,latency_ms,latency_spread_ms,params,macs,budget_ms,budget_met,on_front,"
        "val_rows,dev_rows\n"
        "d2-h1.1-f64.64,0.7,,1,0.1,1000,5000000,2,1,1,dev.tsv: half; 'A',dev.tsv: B\n"
        "d2-h4.4-f256.256,0.8,0.81,2.5,0.1,1000,5000000,3;8,1,1,dev.tsv: half; 'A',dev.tsv: B\n"
        "d2-h2.2-f64.64,0.72,,2.5,0.1,1000,5000000,,1,0,dev.tsv: half; 'A',dev.tsv: B\n"
        "d3-h1.1.1-f64.64.64,0.75,,3,0.1,123456789012,5000000,,1,0,dev.tsv: half; 'A',dev.tsv: B\n"
        "d4-h4.4.4.4-f256.256.256.256,0.9,,6,0.1,1000,5000000,,1,1,dev.tsv: half; 'A',dev.tsv: B\n";
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    if (strcmp(got, want) != 0) fprintf(stderr, "\n--- got\n%s--- want\n%s", got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
    /* budget_met 0: a winner over its budget (can happen when nothing met it and the caller passes
     * its pick anyway), and a point beyond every budget */
    p[1].latency_ms = 9;
    winner[0] = 3; /* latency 2.5 > 2 */
    CU_ASSERT_EQUAL_FATAL(ofa_pareto_write_csv(path, p, 5, budgets, winner, 3, NULL, NULL), 0);
    got = slurp(path);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "\nd2-h2.2-f64.64,0.72,,2.5,0.1,1000,5000000,2,0,0,,\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "\nd4-h4.4.4.4-f256.256.256.256,0.9,,9,0.1,1000,5000000,,0,1,,\n"));
    free(got);
    /* no temporary left behind; a folder that does not exist is an error naming the path */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0);
    const char *bad = tu_path("no/such/dir/pareto.csv");
    CU_ASSERT_EQUAL(ofa_pareto_write_csv(bad, p, 5, budgets, winner, 3, NULL, NULL), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), bad));
    ofa_err_clear();
}

static int have_python(void) { return access("/usr/bin/python3", X_OK) == 0; }

static void check_xml(const char *path)
{
    if (!have_python()) {
        fprintf(stderr, "\n  note: /usr/bin/python3 missing, XML well-formedness not checked\n");
        return;
    }
    char cmd[2200];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' '%s'", path);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_svg(void)
{
    enum { N = 40 };
    ofa_evo_point p[N];
    ofa_rng r;
    ofa_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        char t[32];
        snprintf(t, sizeof t, "d2-h%d.1-f64.64", i + 1);
        double lat = 0.8 + 7.0 * ofa_rng_uniform(&r);
        p[i] = pt(t, 0.6 + 0.3 * (1 - exp(-lat / 3)) - 0.05 * ofa_rng_uniform(&r), lat);
    }
    double budgets[3] = {2, 4, 8};
    int64_t front[N], winner[3];
    int64_t nf = ofa_pareto_front(p, N, front);
    for (int b = 0; b < 3; b++) { /* the best within each budget: the last front point within it */
        winner[b] = -1;
        for (int64_t k = 0; k < nf; k++)
            if (p[front[k]].latency_ms <= budgets[b]) winner[b] = front[k];
        CU_ASSERT(winner[b] >= 0);
    }
    ofa_pareto_plot opt = {.title = "SST-2 <demo> & search",
                           .metric_name = "accuracy",
                           .has_teacher = 1,
                           .teacher_latency_ms = 9.5,
                           .teacher_metric = 0.91,
                           .teacher_label = "teacher"};
    const char *path = tu_path("pareto.svg");
    CU_ASSERT_EQUAL_FATAL(ofa_pareto_write_svg(path, p, N, budgets, winner, 3, &opt), 0);
    char *s = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "SST-2 &lt;demo&gt; &amp; search")); /* escaped title */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, ">accuracy</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, ">latency (ms, median)</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, ">teacher</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, ">4 ms</text>"));
    char buf[64];
    snprintf(buf, sizeof buf, "evaluated (%d)", N);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, buf));
    snprintf(buf, sizeof buf, "Pareto front (%lld)", (long long)nf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, buf));
    /* one light circle per point + one dark per front point + a ring per winner + legend markers */
    CU_ASSERT_EQUAL(count(s, "<circle cx="), N + (int)nf + 3);
    CU_ASSERT_EQUAL(count(s, "(front)</title>"), (int)nf);
    CU_ASSERT_EQUAL(count(s, ": best within "), 3);
    CU_ASSERT_EQUAL(count(s, "<polyline"), 1);
    CU_ASSERT_EQUAL(count(s, "<polygon"), 2); /* teacher + its legend marker */
    free(s);
    check_xml(path);

    /* edge cases: no points, no teacher, one budget */
    int64_t none = -1;
    CU_ASSERT_EQUAL(ofa_pareto_write_svg(path, p, 0, budgets, &none, 1, NULL), 0);
    check_xml(path);
    CU_ASSERT_EQUAL(ofa_pareto_write_svg(path, p, 1, budgets, &none, 1, NULL), 0);
    check_xml(path);
    /* a copy for eyes: OFA_KEEP_TMP=1 keeps it */
    CU_ASSERT_EQUAL(ofa_pareto_write_svg(tu_path("pareto_full.svg"), p, N, budgets, winner, 3, &opt), 0);
}

/* the boxes of the <text class="label"> elements of an SVG, measured as pareto.h says (0.6 x font
 * size per character, font size high); the ring of a winner (r 8) as a box too */
typedef struct lbox {
    double x0, y0, x1, y1;
    char text[64];
} lbox;

static int label_boxes(const char *svg, lbox *out, int cap)
{
    int n = 0;
    for (const char *p = strstr(svg, "<text class=\"label\""); p && n < cap; p = strstr(p + 1, "<text class=\"label\"")) {
        double x = 0, y = 0, fs = 0;
        char anchor[16] = "", text[64] = "";
        if (sscanf(p, "<text class=\"label\" x=\"%lf\" y=\"%lf\" %*[^>]", &x, &y) != 2) continue;
        const char *q = strstr(p, "font-size=\""), *a = strstr(p, "text-anchor=\""), *gt = strchr(p, '>');
        if (!q || !a || !gt || q > gt || a > gt) continue;
        sscanf(q, "font-size=\"%lf\"", &fs);
        sscanf(a, "text-anchor=\"%15[^\"]\"", anchor);
        sscanf(gt + 1, "%63[^<]", text);
        double w = 0.6 * fs * (double)strlen(text);
        double x0 = !strcmp(anchor, "start") ? x : !strcmp(anchor, "end") ? x - w : x - w / 2;
        out[n] = (lbox){x0, y - 0.8 * fs, x0 + w, y + 0.2 * fs, ""};
        snprintf(out[n].text, sizeof out[n].text, "%s", text);
        n++;
    }
    return n;
}

/* Winners, budgets and the teacher crowded into one corner: no two labels overlap, none covers a
 * winner's ring, and the y axis names the metric and the split as given. */
static void test_svg_labels(void)
{
    enum { N = 8 };
    ofa_evo_point p[N];
    for (int i = 0; i < N; i++) {
        char t[32];
        snprintf(t, sizeof t, "d2-h%d.1-f64.64", i + 1);
        p[i] = pt(t, 0.80 + 0.0004 * i, 1.0 + 0.002 * i); /* nearly the same point */
    }
    double budgets[4] = {1.004, 1.008, 1.012, 1.016};
    int64_t winner[4] = {2, 4, 6, 7};
    ofa_pareto_plot opt = {.metric_name = "accuracy on val (the search's held-out split)",
                           .has_teacher = 1,
                           .teacher_latency_ms = 1.01,
                           .teacher_metric = 0.8015};
    const char *path = tu_path("pareto_crowded.svg");
    CU_ASSERT_EQUAL_FATAL(ofa_pareto_write_svg(path, p, N, budgets, winner, 4, &opt), 0);
    char *s = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, ">accuracy on val (the search&apos;s held-out split)</text>") ||
                           strstr(s, ">accuracy on val (the search's held-out split)</text>"));
    lbox b[32];
    int n = label_boxes(s, b, 32);
    CU_ASSERT_EQUAL(n, 4 + 1 + 4); /* budgets, teacher, winners */
    int bad = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (b[i].x0 < b[j].x1 && b[j].x0 < b[i].x1 && b[i].y0 < b[j].y1 && b[j].y0 < b[i].y1) {
                if (bad++ < 3) fprintf(stderr, "\n  labels '%s' and '%s' overlap", b[i].text, b[j].text);
            }
    /* nor a ring */
    for (const char *q = strstr(s, "r=\"8\""); q; q = strstr(q + 1, "r=\"8\"")) {
        const char *c = q;
        while (c > s && strncmp(c, "<circle", 7)) c--;
        double cx, cy;
        if (sscanf(c, "<circle cx=\"%lf\" cy=\"%lf\"", &cx, &cy) != 2) continue;
        for (int i = 0; i < n; i++)
            if (b[i].x0 < cx + 8 && cx - 8 < b[i].x1 && b[i].y0 < cy + 8 && cy - 8 < b[i].y1) {
                if (bad++ < 3) fprintf(stderr, "\n  label '%s' covers a ring at %.1f,%.1f", b[i].text, cx, cy);
            }
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(s);
    check_xml(path);
}

int test_pareto_register(void)
{
    CU_pSuite s = CU_add_suite("pareto", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "front_hand", test_front_hand) || !CU_add_test(s, "front_brute", test_front_brute) ||
        !CU_add_test(s, "csv", test_csv) || !CU_add_test(s, "svg", test_svg) ||
        !CU_add_test(s, "svg_labels", test_svg_labels))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
