/* Suite pipeline: teacher -> reorder -> supernet -> eval --grid / --arch -> export on real SST-2
 * (a few thousand sentences, a tiny model; skipped without GLUE data or in quick mode), and the bad
 * inputs of those commands: clear messages, exit status 2. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/error.h"
#include "coordinator/fingerprint.h"
#include "models/checkpoint.h"
#include "tests/testutil.h"

static char g_cfg[512], g_out[512];
static int g_ready; /* 1 once the supernet exists */

static int run_ok(const char *args, char **out)
{
    int st = tu_run_ofa(args, out);
    if (st != 0) fprintf(stderr, "\n  ofa %s: exit %d\n%s\n", args, st, out && *out ? *out : "");
    return st;
}

static void expect(const char *args, int status, const char *needle)
{
    char *out = NULL;
    int st = tu_run_ofa(args, &out);
    int ok = st == status && (!needle || strstr(out, needle));
    if (!ok) fprintf(stderr, "\n  ofa %s: exit %d (want %d, \"%s\"):\n%s\n", args, st, status, needle ? needle : "", out);
    CU_ASSERT(ok);
    free(out);
}

/* `ofa inspect --json FILE` parses as JSON and the Python expression `cond` (on d, the object)
 * holds; `text` (when not NULL) is in the text form */
static int inspect_ok(const char *file, const char *cond, const char *text)
{
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s inspect --json '%s' | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); "
             "sys.exit(0 if (%s) else 1)'",
             bin, file, cond);
    int ok = system(cmd) == 0;
    if (!ok) fprintf(stderr, "\n  inspect --json %s: not (%s)", file, cond);
    if (ok && text) {
        char *out = NULL;
        snprintf(cmd, sizeof cmd, "inspect '%s'", file);
        ok = tu_run_ofa(cmd, &out) == 0 && strstr(out, text);
        if (!ok) fprintf(stderr, "\n  inspect %s lacks \"%s\":\n%s", file, text, out);
        free(out);
    }
    return ok;
}

static void test_train_pipeline(void)
{
    const char *glue = tu_glue_dir();
    if (!glue || tu_quick()) {
        fprintf(stderr, "(skipped: %s) ", glue ? "OFA_TEST_QUICK" : "no GLUE data");
        return;
    }
    snprintf(g_out, sizeof g_out, "%s/pipe", tu_tmpdir());
    char text[4096], args[2048];
    snprintf(text, sizeof text,
             "experiment: {name: pipe, output_dir: %s, seed: 5}\n"
             "data: {task: sst-2, glue_dir: %s, max_seq_len: 32, vocab_size: 2000, train_limit: 2500, dev_limit: 200}\n"
             "model: {layers: 4, hidden: 32, heads: 4, ffn: 64, max_position: 32}\n"
             "teacher: {epochs: 1, batch_size: 32, lr: 1.0e-3}\n"
             "reorder: {batches: 4}\n"
             "supernet:\n"
             "  space: {depth: [2, 4], heads: [1, 2, 4], ffn: [16, 32, 64]}\n"
             "  phases: [{elastic: [width], epochs: 0.5, lr: 5.0e-4}, {elastic: [width, depth], epochs: 0.5, lr: 2.0e-4}]\n"
             "  sampler: {strategy: sandwich, subnets_per_step: 3}\n"
             "  checkpoint: {every_steps: 10, keep: 2}\n",
             g_out, glue);
    snprintf(g_cfg, sizeof g_cfg, "%s", tu_write_file("pipe.yaml", text));
    const char *stages[] = {"teacher", "reorder", "supernet"};
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "%s %s", stages[i], g_cfg);
        CU_ASSERT_EQUAL_FATAL(run_ok(args, NULL), 0);
    }
    snprintf(args, sizeof args, "inspect %s/teacher_reordered.h5", g_out);
    expect(args, 0, "importance/permutation/heads");
    /* the supernet carries its largest subnet's dev score */
    snprintf(args, sizeof args, "%s/supernet.h5", g_out);
    CU_ASSERT(inspect_ok(args,
                         "d[\"kind\"]==\"supernet\" and d[\"dev\"][\"metric\"]==\"accuracy\" and 0.3<d[\"dev\"][\"value\"]<1 "
                         "and d[\"dev\"][\"of\"]==\"its largest subnet\" and d[\"space\"][\"largest\"]==\"d4-h4.4.4.4-f64.64.64.64\"",
                         "dev: accuracy 0."));
    /* at most `keep` checkpoints remain */
    snprintf(args, sizeof args, "ls %s/ckpt | wc -l", g_out);
    FILE *p = popen(args, "r");
    int nck = -1;
    CU_ASSERT(p && fscanf(p, "%d", &nck) == 1);
    if (p) pclose(p);
    CU_ASSERT(nck >= 1 && nck <= 2);
    g_ready = 1;
}

/* 2 depths x 3 widths: grid.csv has 6 rows, the metric of each in [0, 1] */
static void test_grid(void)
{
    if (!g_ready) return;
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "eval %s/supernet.h5 --grid", g_out);
    CU_ASSERT_EQUAL_FATAL(run_ok(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "%s/grid.csv", g_out);
    FILE *f = fopen(args, "r");
    CU_ASSERT_FATAL(f != NULL);
    char line[512];
    int rows = 0, ok = 1;
    CU_ASSERT(fgets(line, sizeof line, f) && strcmp(line, "depth,heads,ffn,arch,dev_accuracy,params,macs,latency_ms\n") == 0);
    while (fgets(line, sizeof line, f)) {
        double acc = -1, lat = -1;
        long long params = -1, macs = -1;
        int end = 0;
        char *c = line;
        for (int k = 0; k < 4 && c; k++) c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
        /* metric in [0, 1], whole parameters and MACs, a measured latency */
        if (!c || sscanf(c, "%lf,%lld,%lld,%lf%n", &acc, &params, &macs, &lat, &end) != 4 || acc < 0 || acc > 1 ||
            params <= 0 || macs <= 0 || !(lat > 0) || c[end] != '\n')
            ok = 0;
        char *m = c ? strchr(strchr(c, ',') + 1, ',') + 1 : NULL; /* the MACs field has no '.' nor 'e' */
        if (m && strcspn(m, ".e,") < strcspn(m, ",")) ok = 0;
        if (!ok) fprintf(stderr, "\n  grid.csv row: %s", line);
        rows++;
    }
    fclose(f);
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(rows, 6);
}

/* predictions + logits of `ofa eval` into a file, read back */
static int read_preds(const char *path, double *logits, int cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    if (!fgets(line, sizeof line, f)) n = -1;
    while (n >= 0 && n + 2 <= cap && fgets(line, sizeof line, f)) {
        int idx, pred;
        if (sscanf(line, "%d\t%d\t%lf\t%lf", &idx, &pred, &logits[n], &logits[n + 1]) != 4) break;
        n += 2;
    }
    fclose(f);
    return n;
}

/* for random archs of the space, the exported subnet scores exactly like the subnet inside the
 * supernet: same predictions, logits within 1e-6 */
/* ofa eval --agreement: N distinct seeded archs scored on the search's rows and on dev, Kendall's
 * tau-b between the two, agreement.csv with a row each; the same seed gives the same file */
static void test_agreement(void)
{
    if (!g_ready) return;
    char args[4096], path[2048], *out = NULL;
    char *csv[2] = {NULL, NULL};
    snprintf(path, sizeof path, "%s/agreement.csv", g_out);
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "eval %s/supernet.h5 --agreement 5 --seed 3", g_out);
        CU_ASSERT_EQUAL_FATAL(run_ok(args, &out), 0);
        const char *t = strstr(out, "Kendall tau-b (val metric vs dev metric) over 5 archs: ");
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        double tau = atof(t + strlen("Kendall tau-b (val metric vs dev metric) over 5 archs: "));
        CU_ASSERT(tau >= -1.0 && tau <= 1.0);
        free(out);
        csv[k] = tu_read_file(path);
        CU_ASSERT_PTR_NOT_NULL_FATAL(csv[k]);
    }
    CU_ASSERT(strncmp(csv[0], "arch,params,val_metric,dev_metric,val_rows,dev_rows\n", 52) == 0);
    int lines = 0;
    for (const char *q = csv[0]; *q; q++) lines += *q == '\n';
    CU_ASSERT_EQUAL(lines, 6);
    CU_ASSERT_STRING_EQUAL(csv[0], csv[1]);
    free(csv[0]), free(csv[1]);
}

static void test_export_equals_supernet(void)
{
    if (!g_ready) return;
    const char *archs[] = {"d2-h1.1-f16.16", "d4-h4.1.2.2-f64.16.32.16", "d2-h2.4-f32.64", "d4-h4.4.4.4-f64.64.64.64"};
    static double a[4096], b[4096];
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) {
        char args[4096];
        snprintf(args, sizeof args, "eval %s/supernet.h5 --arch %s --predictions %s/a.tsv --logits", g_out, archs[i],
                 g_out);
        CU_ASSERT_EQUAL_FATAL(run_ok(args, NULL), 0);
        snprintf(args, sizeof args, "export %s/supernet.h5 --arch %s -o %s/sub%zu.h5", g_out, archs[i], g_out, i);
        CU_ASSERT_EQUAL_FATAL(run_ok(args, NULL), 0);
        snprintf(args, sizeof args, "eval %s/sub%zu.h5 --predictions %s/b.tsv --logits", g_out, i, g_out);
        CU_ASSERT_EQUAL_FATAL(run_ok(args, NULL), 0);
        snprintf(args, sizeof args, "%s/a.tsv", g_out);
        int na = read_preds(args, a, 4096);
        snprintf(args, sizeof args, "%s/b.tsv", g_out);
        int nb = read_preds(args, b, 4096);
        /* every SST-2 dev example of the reporting half (the search validates on the other 436), 2 logits */
        CU_ASSERT(na == 2 * 436 && na == nb);
        double worst = 0;
        for (int k = 0; k < na && k < nb; k++) {
            double d = fabs(a[k] - b[k]) / fmax(fabs(a[k]), 1e-3);
            worst = d > worst ? d : worst;
        }
        if (!(worst < 1e-6)) fprintf(stderr, "\n  %s: exported logits differ by %.3g", archs[i], worst);
        CU_ASSERT(worst < 1e-6);
    }
}

static void test_bad_input(void)
{
    if (!g_ready) return;
    char args[4096];
    /* a supernet without --arch: its largest subnet, and it says so */
    snprintf(args, sizeof args, "eval %s/supernet.h5 --limit 50", g_out);
    expect(args, 0, "supernet.h5 (no --arch: its largest subnet d4-h4.4.4.4-f64.64.64.64) sst-2 dev (dev.tsv: the first 50 of");
    snprintf(args, sizeof args, "eval %s/supernet.h5 --arch d2-h3.3-f16.16", g_out);
    expect(args, 2, "the space allows 1, 2, 4");
    snprintf(args, sizeof args, "export %s/supernet.h5 --arch d2-h1.1-f16.16.16 -o %s/x.h5", g_out, g_out);
    expect(args, 2, "3 FFN widths for depth 2; give 2 (one per kept layer) or 1 (the same for every layer)");
    /* the shorthand: one value for every kept layer, echoed in the canonical form; outside the
     * space, the message says what it stands for and the nearest arch of the space */
    snprintf(args, sizeof args, "eval %s/supernet.h5 --arch d2-h2-f32 --limit 50", g_out);
    expect(args, 0, "--arch d2-h2.2-f32.32 sst-2");
    snprintf(args, sizeof args, "eval %s/supernet.h5 --arch d2-h3-f16", g_out);
    expect(args, 2, "'d2-h3-f16' stands for d2-h3.3-f16.16: arch 'd2-h3.3-f16.16': kept layer 1 of 2 (layer_01) has "
                    "3 heads; the space allows 1, 2, 4 (nearest arch in the space: d2-h2.2-f16.16)");
    snprintf(args, sizeof args, "export %s/supernet.h5 --arch d3-h1.1.1-f16.16.16 -o %s/x.h5", g_out, g_out);
    expect(args, 2, "depth");
    snprintf(args, sizeof args, "export %s/sub0.h5 --arch d2-h1.1-f16.16 -o %s/x.h5", g_out, g_out);
    expect(args, 2, "is a subnet checkpoint");
    snprintf(args, sizeof args, "eval %s/sub0.h5 --grid", g_out);
    expect(args, 2, "need a supernet");
    snprintf(args, sizeof args, "eval %s/teacher.h5 --arch d2-h1.1-f16.16", g_out);
    expect(args, 2, "is a teacher checkpoint");
    /* predict as eval: --arch only on a supernet (an exported subnet's own space would pass widths
     * its layers do not have) */
    snprintf(args, sizeof args, "predict %s/sub0.h5 --arch d2-h1.1-f16.16 --text good", g_out);
    expect(args, 2, "is a subnet checkpoint of arch d2-h1.1-f16.16; --arch needs a supernet");
    snprintf(args, sizeof args, "predict %s/teacher.h5 --arch d2-h1.1-f16.16 --text good", g_out);
    expect(args, 2, "is a teacher checkpoint; --arch needs a supernet");
    snprintf(args, sizeof args, "eval %s/sub0.h5 --limit 20", g_out); /* logs the file's arch (below) */
    expect(args, 0, NULL);
    /* --force: past the finished supernet.h5, to the space's own check (nothing is overwritten) */
    snprintf(args, sizeof args, "supernet %s --set supernet.space.depth=[2,6] --force", g_cfg);
    expect(args, 2, "supernet.space.depth");
    snprintf(args, sizeof args, "supernet %s --set supernet.space.heads=[1,8] --force", g_cfg);
    expect(args, 2, "supernet.space.heads");
}

/* search: single process and 3 ranks give the same pareto.csv; exported winners score on dev what
 * pareto.csv says; a killed search resumes to the same result; bad budgets and files are refused */
static const char *search_args(char *buf, size_t n, const char *extra)
{
    snprintf(buf, n,
             "search %s --set search.population=8 --set search.generations=3 --set search.latency.mode=table "
             "--set search.latency.repeats=5 --set search.latency.seq_len=32 --set search.val_limit=150 "
             "--latency-ms 1,10 %s",
             g_cfg, extra);
    return buf;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = calloc(1, 1 << 20);
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

/* After the search: ofa inspect reads every kind of file the run wrote, in text and as JSON; the
 * exported winners carry their dev score and a config describing them; the search state names its
 * cache columns; metrics.jsonl has the eval, grid and search results; the plot's y axis names the
 * metric and the split. */
static void files_say_what_they_are(void)
{
    char path[2048], cond[4096];
    snprintf(path, sizeof path, "%s/teacher.h5", g_out);
    CU_ASSERT(inspect_ok(path, "d[\"kind\"]==\"teacher\" and d[\"dev\"][\"value\"]>0.3 and d[\"parameters\"]>0",
                         "kind: teacher"));
    snprintf(path, sizeof path, "%s/teacher_reordered.h5", g_out);
    CU_ASSERT(inspect_ok(path, "d[\"importance\"][\"batches\"]==4 and \"importance/heads\" in d[\"datasets\"]", NULL));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "ls %s/ckpt/step_*.h5 | head -1", g_out);
    FILE *p = popen(cmd, "r");
    CU_ASSERT(p && fscanf(p, "%1023s", path) == 1);
    if (p) pclose(p);
    CU_ASSERT(inspect_ok(path, "d[\"kind\"]==\"supernet\" and d[\"optimizer\"][\"step\"]>0 and d[\"dev\"][\"value\"] is None",
                         "AdamW"));
    snprintf(path, sizeof path, "%s/one-search.h5", g_out);
    CU_ASSERT(inspect_ok(path,
                         "d[\"kind\"]==\"search\" and d[\"state\"]==\"finished\" and d[\"task\"]==\"sst-2\" and "
                         "d[\"cache\"][\"columns_attribute\"] and d[\"cache\"][\"columns\"].startswith(\"val_metric,dev_metric,\") "
                         "and len(d[\"cache\"][\"rows\"])==d[\"cache\"][\"evaluated\"]>0 and len(d[\"budgets\"])==2",
                         "state: finished"));
    snprintf(path, sizeof path, "%s/latency_table.h5", g_out);
    CU_ASSERT(inspect_ok(path, "d[\"kind\"]==\"latency_table\" and d[\"seq_len\"] in (16, 32) and len(d[\"ops\"])>0", "op shapes"));
    /* the winners: dev score, arch, a config whose model.* is the subnet's shape */
    char *one = NULL;
    snprintf(path, sizeof path, "%s/one-pareto.csv", g_out);
    one = tu_read_file(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(one);
    int winners = 0;
    for (char *line = strchr(one, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char arch[512], budget[64];
        if (sscanf(line + 1, "%511[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%63[^,]", arch, budget) != 2) continue;
        winners++;
        snprintf(path, sizeof path, "%s/subnets/one-%s.h5", g_out, arch); /* --prefix one- */
        snprintf(cond, sizeof cond,
                 "d[\"kind\"]==\"subnet\" and d[\"arch\"]==\"%s\" and d[\"dev\"][\"of\"]==\"the exported subnet itself\" "
                 "and d[\"dev\"][\"value\"]>0.3 and d[\"config\"][\"yaml\"].startswith(\"# subnet %s, exported from \")",
                 arch, arch);
        CU_ASSERT(inspect_ok(path, cond, "dev: accuracy 0."));
        ofa_h5 h;
        ofa_ckpt_meta meta;
        ofa_config c;
        CU_ASSERT_FATAL(ofa_ckpt_open(&h, path, &meta) == 0);
        ofa_h5_close(&h);
        CU_ASSERT_FATAL(ofa_config_parse(&c, meta.config_yaml, strlen(meta.config_yaml), path, NULL, 0) == 0);
        int depth = 0, maxh = 0, maxf = 0;
        const char *a = arch;
        sscanf(a, "d%d", &depth);
        for (const char *q = strstr(a, "-h") + 2; *q && *q != '-'; q += strcspn(q, ".-") + (q[strcspn(q, ".-")] == '.'))
            maxh = atoi(q) > maxh ? atoi(q) : maxh;
        for (const char *q = strstr(a, "-f") + 2; *q && *q != '-'; q += strcspn(q, ".-") + (q[strcspn(q, ".-")] == '.'))
            maxf = atoi(q) > maxf ? atoi(q) : maxf;
        /* the supernet: hidden 32, 4 heads of size 8 */
        CU_ASSERT(c.model.layers == depth && c.model.heads == maxh && c.model.ffn == maxf && c.model.hidden == 32);
        CU_ASSERT(c.model.head_dim == (maxh * 8 == 32 ? 0 : 8));
        CU_ASSERT(fabs(meta.best_metric - 0.5) < 0.5 && !strcmp(meta.metric_name, "accuracy"));
        ofa_ckpt_meta_free(&meta);
    }
    CU_ASSERT(winners >= 1);
    free(one);
    /* an exported file (ofa export) likewise */
    snprintf(path, sizeof path, "%s/sub0.h5", g_out);
    CU_ASSERT(inspect_ok(path, "d[\"arch\"]==\"d2-h1.1-f16.16\" and d[\"dev\"][\"value\"]>0.3 and d[\"dims\"][\"layers\"]==2",
                         "arch: d2-h1.1-f16.16"));
    /* results in metrics.jsonl */
    snprintf(path, sizeof path, "%s/metrics.jsonl", g_out);
    char *log = tu_read_file(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"stage\":\"eval\",\"file\":"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "sub0.h5\",\"kind\":\"subnet\",\"arch\":\"d2-h1.1-f16.16\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"stage\":\"grid\",\"file\":"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"stage\":\"search\",\"event\":\"eval\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"stage\":\"search\",\"event\":\"winner\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"stage\":\"search\",\"event\":\"done\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"stage\":\"supernet\",\"event\":\"scored\""));
    free(log);
    snprintf(path, sizeof path, "%s/one-pareto.svg", g_out);
    char *svg = tu_read_file(path);
    CU_ASSERT(svg && strstr(svg, ">accuracy on val (the search's validation rows)</text>"));
    free(svg);
}

/* ofa latency --table warns when the predictor's error on the check archs is above the limit
 * (10 % by default; 0 here, so any error warns), and the table records that error */
static void test_latency_warning(void)
{
    if (!g_ready) return;
    char args[4096], path[1024];
    const char *t = "--table --calibrate 3 --check 3 --repeats 3 --warmup 1 --seq 16 --max-spread -1";
    snprintf(args, sizeof args, "latency %s/supernet.h5 %s -o %s/lt0.h5 --warn-mape 0", g_out, t, g_out);
    expect(args, 0, "warning: the predictor is off by");
    snprintf(path, sizeof path, "%s/lt0.h5", g_out);
    CU_ASSERT(inspect_ok(path, "d[\"predictor\"][\"check_n\"]==3 and d[\"predictor\"][\"check_mape_percent\"]>0", NULL));
    snprintf(args, sizeof args, "latency %s/supernet.h5 %s -o %s/lt1.h5 --warn-mape 1e9", g_out, t, g_out);
    char *out = NULL;
    CU_ASSERT_EQUAL(run_ok(args, &out), 0);
    CU_ASSERT(out && !strstr(out, "warning:") && strstr(out, "MAPE pred"));
    free(out);
    /* a table is rebuilt over a table (lt1.h5 again), never over another file */
    snprintf(args, sizeof args, "latency %s/supernet.h5 %s -o %s/teacher.h5", g_out, t, g_out);
    expect(args, 2, "exists and is not a latency table");
    snprintf(args, sizeof args, "latency %s/supernet.h5 %s -o %s/lt1.h5 --warn-mape 1e9", g_out, t, g_out);
    CU_ASSERT_EQUAL(run_ok(args, &out), 0); /* with progress lines: --calibrate and --check take any count */
    CU_ASSERT(out && strstr(out, "MAPE pred") && strstr(out, "latency calibration  step 3/3") &&
              strstr(out, "latency check  step 3/3"));
    free(out);
    /* options no measurement could honour, refused before any timing */
    snprintf(args, sizeof args, "latency %s/supernet.h5 %s -o %s/lt2.h5 --warn-mape -1", g_out, t, g_out);
    expect(args, 2, "--warn-mape -1: expected a percentage >= 0");
    snprintf(args, sizeof args, "latency %s/supernet.h5 --threads 1024", g_out);
    expect(args, 2, "--threads 1024: this process may use ");
}

static void test_search(void)
{
    if (!g_ready) return;
    char args[4096], path[1024];
    CU_ASSERT_EQUAL_FATAL(run_ok(search_args(args, sizeof args, "--prefix one-"), NULL), 0);
    snprintf(path, sizeof path, "%s/one-pareto.csv", g_out);
    char *one = slurp(path);
    CU_ASSERT_FATAL(one != NULL);
    /* 3 ranks: the coordinator and two workers scoring from the queue */
    char cmd[12288];
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    if (system("command -v mpirun >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd,
                 "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
                 "timeout 300 mpirun --oversubscribe -n 3 %s %s >%s/mpi-search.log 2>&1",
                 bin, search_args(args, sizeof args, "--prefix three-"), g_out);
        CU_ASSERT_EQUAL(system(cmd), 0);
        snprintf(path, sizeof path, "%s/three-pareto.csv", g_out);
        char *three = slurp(path);
        CU_ASSERT(three && strcmp(one, three) == 0);
        free(three);
    }
    /* SIGTERM once the first step's checkpoint is written: exit 99 (search.h5 written), and the
     * rerun resumes from it to the uninterrupted search's front */
    snprintf(cmd, sizeof cmd,
             "%s %s >%s/stop-search.log 2>&1 & pid=$!; "
             "for i in $(seq 1 20000); do [ -s %s/stop-search.h5 ] && break; kill -0 $pid 2>/dev/null || break; "
             "sleep 0.001; done; kill -TERM $pid; wait $pid; exit $?",
             bin, search_args(args, sizeof args, "--prefix stop-"), g_out, g_out);
    int st = system(cmd);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 99);
    CU_ASSERT_EQUAL(run_ok(search_args(args, sizeof args, "--prefix stop-"), NULL), 0);
    snprintf(path, sizeof path, "%s/stop-pareto.csv", g_out);
    char *stopped = slurp(path);
    CU_ASSERT(stopped && strcmp(one, stopped) == 0);
    free(stopped);
    snprintf(path, sizeof path, "%s/stop-search.log", g_out);
    char *slog = slurp(path);
    CU_ASSERT_PTR_NOT_NULL(slog && strstr(slog, "search: stopped by a signal after"));
    free(slog);
    /* each winner: its exported file scores on dev exactly what pareto.csv recorded */
    int winners = 0;
    for (char *line = strchr(one, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char arch[512], dev[64], budget[64];
        /* arch,val,dev,lat,spread,params,macs,budget,met,front */
        if (sscanf(line + 1, "%511[^,],%*[^,],%63[^,],%*[^,],%*[^,],%*[^,],%*[^,],%63[^,]", arch, dev, budget) != 3)
            continue;
        winners++;
        snprintf(args, sizeof args, "eval %s/subnets/one-%s.h5", g_out, arch); /* --prefix one- */
        char *out = NULL;
        CU_ASSERT_EQUAL(run_ok(args, &out), 0);
        const char *m = out ? strstr(out, "accuracy ") : NULL;
        double got = m ? atof(m + 9) : -1;
        /* ofa eval prints 4 decimals */
        if (fabs(got - atof(dev)) > 0.51e-4) fprintf(stderr, "\n  %s: eval %.6f, pareto.csv %s", arch, got, dev);
        CU_ASSERT(fabs(got - atof(dev)) <= 0.51e-4);
        free(out);
    }
    CU_ASSERT(winners >= 1);
    /* a killed search resumes from search.h5 and ends with the same result */
    snprintf(cmd, sizeof cmd, "%s %s > %s/kill-search.log 2>&1 & pid=$!; "
             "for i in $(seq 1 2000); do [ -e %s/kill-search.h5 ] && break; sleep 0.005; done; kill -9 $pid; wait $pid 2>/dev/null",
             bin, search_args(args, sizeof args, "--prefix kill- --no-export"), g_out, g_out);
    CU_ASSERT(system(cmd) != -1);
    CU_ASSERT_EQUAL(run_ok(search_args(args, sizeof args, "--prefix kill- --no-export"), NULL), 0);
    snprintf(path, sizeof path, "%s/kill-pareto.csv", g_out);
    char *resumed = slurp(path);
    /* the same evaluated archs and values; dev_metric is empty without export, so compare the
     * columns other than dev_metric */
    CU_ASSERT_FATAL(resumed != NULL);
    int same = 1;
    char *a = one, *b = resumed;
    while (*a && *b && same) {
        char la[1024], lb[1024];
        int na = 0, nb = 0;
        sscanf(a, "%1023[^\n]%n", la, &na);
        sscanf(b, "%1023[^\n]%n", lb, &nb);
        char *ca = strchr(strchr(la, ',') + 1, ','), *cb = strchr(strchr(lb, ',') + 1, ',');
        char *ra = strchr(ca + 1, ','), *rb = strchr(cb + 1, ',');
        ca[0] = cb[0] = 0;
        if (strcmp(la, lb) || strcmp(ra, rb)) same = 0;
        a += na + (a[na] == '\n');
        b += nb + (b[nb] == '\n');
    }
    CU_ASSERT(same && !*a && !*b);
    free(resumed);
    free(one);
    /* latency_table.h5 was timed at 32 tokens: a search at 16 rebuilds it, the next one reuses it */
    snprintf(args, sizeof args, "search %s --set search.population=4 --set search.generations=1 "
             "--set search.latency.mode=table --set search.latency.repeats=3 --set search.latency.seq_len=16 "
             "--set search.val_limit=50 --latency-ms 10 --prefix stale- --no-export", g_cfg);
    expect(args, 0, "rebuilding it for batch 1, seq 16, 1 thread(s)");
    /* the finished search is not overwritten without --force */
    expect(args, 2, "stale-pareto.csv is finished (it was made from these settings)");
    strcat(args, " --force");
    char *again = NULL;
    CU_ASSERT_EQUAL(run_ok(args, &again), 0);
    CU_ASSERT(again && !strstr(again, "rebuilding") && strstr(again, "search: latency table"));
    free(again);
    /* bad input */
    snprintf(args, sizeof args, "search %s --latency-ms 0.000001 --set search.latency.mode=table "
             "--set search.latency.seq_len=32 --prefix inf- --no-export", g_cfg);
    expect(args, 1, "infeasible");
    snprintf(args, sizeof args, "search %s --latency-ms ,", g_cfg);
    expect(args, 2, "--latency-ms");
    snprintf(args, sizeof args, "search %s --checkpoint %s/teacher.h5 --set search.latency.seq_len=32", g_cfg, g_out);
    expect(args, 2, "the search needs a supernet");
    files_say_what_they_are();
}

/* Stages know what they were made from (coordinator/fingerprint): a stage command does not
 * overwrite its finished output; `ofa run` refuses an output made from other settings, naming the
 * key with its old and new value and --force, before it writes anything; --force recomputes that
 * stage and the ones after it; a phase a step cap leaves without steps is a warning. */
static void test_fingerprints(void)
{
    if (!g_ready) return;
    char args[4096], path[1024], copy[700];
    struct stat before, after;
    snprintf(path, sizeof path, "%s/teacher.h5", g_out);
    CU_ASSERT_FATAL(stat(path, &before) == 0);
    snprintf(args, sizeof args, "teacher %s", g_cfg);
    expect(args, 2, "teacher.h5 is finished (it was made from these settings); 'ofa teacher' does not overwrite it: "
                    "pass --force to recompute it");
    CU_ASSERT(stat(path, &after) == 0 && after.st_ino == before.st_ino && after.st_mtime == before.st_mtime);
    snprintf(args, sizeof args, "reorder %s --set reorder.batches=2", g_cfg);
    expect(args, 2, "teacher_reordered.h5 was made with reorder.batches: 4; the config now says 2");
    /* a stage's input made from other settings: named, with how to remake it */
    snprintf(args, sizeof args, "reorder %s --set teacher.lr=2e-3 --force", g_cfg);
    expect(args, 2, "teacher.h5 was made with teacher.lr: 0.001; the config now says 0.002; remake teacher.h5 first ('ofa teacher");

    /* ofa run on a copy of the folder */
    snprintf(copy, sizeof copy, "%s/pipe-copy", tu_tmpdir());
    snprintf(args, sizeof args, "rm -rf %s && cp -r %s %s", copy, g_out, copy);
    CU_ASSERT_FATAL(system(args) == 0);
    snprintf(path, sizeof path, "%s/config.yaml", copy);
    char *cfg_before = tu_read_file(path);
    snprintf(args, sizeof args, "run %s --set experiment.output_dir=%s --set model.hidden=64", g_cfg, copy);
    expect(args, 2, "teacher.h5 was made with model.hidden: 32; the config now says 64; pass --force to recompute it");
    char *cfg_after = tu_read_file(path);
    CU_ASSERT(cfg_before && cfg_after && strcmp(cfg_before, cfg_after) == 0); /* nothing written */
    free(cfg_before);
    free(cfg_after);
    /* --force: the reorder (its key changed) and the supernet after it are recomputed, the teacher is
     * reused; phase 2 gets no step under the cap (13 steps in phase 1: 78 batches, 3 micro-batches) */
    const char *sets = "--set reorder.batches=2 --set supernet.max_steps=3 --set search.enabled=false";
    snprintf(args, sizeof args, "run %s --set experiment.output_dir=%s %s", g_cfg, copy, sets);
    expect(args, 2, "teacher_reordered.h5 was made with reorder.batches: 4; the config now says 2");
    strcat(args, " --force");
    char *out = NULL;
    CU_ASSERT_EQUAL(run_ok(args, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "teacher   reused (same settings)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "reorder   done"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "supernet  done"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "warn: supernet: phase 2/2 (elastic width depth) gets 0 steps"));
    /* so the space's depths go untrained, and the search would still sample them */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "supernet.space has depth choices that no phase with steps trains"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "supernet: 3 steps"));
    free(out);
    /* the same settings again: everything reused */
    snprintf(args, sizeof args, "run %s --set experiment.output_dir=%s %s", g_cfg, copy, sets);
    out = NULL;
    CU_ASSERT_EQUAL(run_ok(args, &out), 0);
    CU_ASSERT(out && strstr(out, "reorder   reused (same settings)") && strstr(out, "supernet  reused (same settings)"));
    free(out);
}

static void test_missing_stage(void)
{
    const char *cfg = tu_write_file("nostage.yaml", "experiment: {output_dir: /nonexistent/run}\n");
    char args[1200];
    snprintf(args, sizeof args, "reorder %s", cfg);
    expect(args, 1, "run 'ofa teacher' first");
}

/* A setting a newer ofa added agrees with an output made before it when the config leaves it at its
 * default (the default keeps the old behaviour), wherever the new line sits; at another value, or a
 * setting the output has and the config no longer lists, is a difference. */
static void test_fingerprint_new_keys(void)
{
    const char *had = "stage: teacher\nexperiment.seed: 42\nmodel.hidden: 256\n"
                      "input x.h5: created 1\n  stage: fidnet\n  fidnet.epochs: 3.0\n";
    const char *same = "stage: teacher\nexperiment.seed: 42\nstudent.distill: true\nmodel.hidden: 256\n"
                       "model.init: null\ninput x.h5: created 1\n  stage: fidnet\n  fidnet.epochs: 3.0\n"
                       "  student.init: null\n";
    CU_ASSERT_EQUAL(ofa_fingerprint_check("t.h5", had, same, 1, NULL, NULL), 0);
    const char *other = "stage: teacher\nexperiment.seed: 42\nmodel.hidden: 256\nmodel.init: /x/imported.h5\n"
                        "input x.h5: created 1\n  stage: fidnet\n  fidnet.epochs: 3.0\n";
    CU_ASSERT_EQUAL(ofa_fingerprint_check("t.h5", had, other, 1, NULL, NULL), OFA_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "t.h5 was made by another version of ofa"));
    ofa_err_clear();
    const char *fewer = "stage: teacher\nexperiment.seed: 42\ninput x.h5: created 1\n  stage: fidnet\n"
                        "  fidnet.epochs: 3.0\n";
    CU_ASSERT_EQUAL(ofa_fingerprint_check("t.h5", had, fewer, 1, NULL, NULL), OFA_E_CONFIG);
    ofa_err_clear();
    /* another input file by name (search --checkpoint y.h5) is another input, not another version;
     * ignored where inputs are not compared, and below the top level (an input's own inputs) */
    const char *renamed = "stage: teacher\nexperiment.seed: 42\nmodel.hidden: 256\n"
                          "input y.h5: created 2\n  stage: fidnet\n  fidnet.epochs: 3.0\n";
    CU_ASSERT_EQUAL(ofa_fingerprint_check("t.h5", had, renamed, 1, "; hint", NULL), OFA_E_CONFIG);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), "t.h5 was made from x.h5 (created 1); the input now is y.h5 (created 2); hint");
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_fingerprint_check("t.h5", had, renamed, 0, NULL, NULL), 0);
    const char *nested = "stage: teacher\nexperiment.seed: 42\nmodel.hidden: 256\ninput x.h5: created 1\n"
                         "  stage: fidnet\n  fidnet.epochs: 3.0\n";
    const char *nested2 = "stage: teacher\nexperiment.seed: 42\nmodel.hidden: 256\ninput x.h5: created 1\n"
                          "  stage: fidnet\n  input a.h5: created 1\n  fidnet.epochs: 3.0\n";
    const char *nested3 = "stage: teacher\nexperiment.seed: 42\nmodel.hidden: 256\ninput x.h5: created 1\n"
                          "  stage: fidnet\n  input b.h5: created 5\n  fidnet.epochs: 3.0\n";
    CU_ASSERT_EQUAL(ofa_fingerprint_check("t.h5", nested2, nested3, 1, NULL, NULL), 0);
    CU_ASSERT_EQUAL(ofa_fingerprint_check("t.h5", nested, nested2, 1, NULL, NULL), OFA_E_CONFIG);
    ofa_err_clear();
}

int test_pipeline_register(void)
{
    CU_pSuite s = CU_add_suite("pipeline", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "train_pipeline", test_train_pipeline) || !CU_add_test(s, "grid", test_grid) ||
        !CU_add_test(s, "agreement", test_agreement) ||
        !CU_add_test(s, "export_equals_supernet", test_export_equals_supernet) ||
        !CU_add_test(s, "bad_input", test_bad_input) || !CU_add_test(s, "search", test_search) ||
        !CU_add_test(s, "latency_warning", test_latency_warning) ||
        !CU_add_test(s, "fingerprints", test_fingerprints) || !CU_add_test(s, "missing_stage", test_missing_stage) ||
        !CU_add_test(s, "fingerprint_new_keys", test_fingerprint_new_keys))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
