/* Suite cli: build/ofa end to end.  Bad input gets a clear message and the documented exit status
 * (2 usage/config, 1 runtime), never a crash; and a short real training run on SST-2 (skipped
 * without GLUE data) trains, saves, evaluates, inspects and writes predictions consistently. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/checkpoint.h"
#include "core/dirlock.h"
#include "tests/bert_file.h"
#include "core/h5io.h"
#include "core/sys.h"
#include "core/timer.h"
#include "tests/testutil.h"

/* Runs ofa, checks the exit status and that the output contains every needle (NULL-terminated). */
static void expect(const char *args, int status, const char *const *needles)
{
    char *out = NULL;
    int st = tu_run_ofa(args, &out);
    int ok = st == status;
    for (int i = 0; needles && needles[i]; i++)
        if (!strstr(out, needles[i])) {
            fprintf(stderr, "\n  ofa %s: output lacks \"%s\"", args, needles[i]);
            ok = 0;
        }
    if (!ok) fprintf(stderr, "\n  ofa %s: exit %d (want %d); output:\n%s\n", args, st, status, out);
    CU_ASSERT(ok);
    free(out);
}
#define EXPECT(args, status, ...) expect(args, status, (const char *const[]){__VA_ARGS__, NULL})

/* A tiny SST-2 layout under the scratch folder; `bad_row` adds a row without a label column. */
static const char *fixture_glue(int bad_row)
{
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/glue%d", tu_tmpdir(), bad_row);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/SST-2'", dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
    char path[1100];
    const char *train = "sentence\tlabel\na great movie\t1\nawful and boring\t0\nloved it\t1\nterrible plot\t0\n";
    snprintf(path, sizeof path, "glue%d/SST-2/train.tsv", bad_row);
    tu_write_file(path, bad_row ? "sentence\tlabel\na great movie\t1\njust one column here\nloved it\t1\n" : train);
    snprintf(path, sizeof path, "glue%d/SST-2/dev.tsv", bad_row);
    tu_write_file(path, "sentence\tlabel\ngreat\t1\nboring\t0\n");
    return dir;
}

static const char *write_config(const char *name, const char *glue, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof text,
             "experiment: {name: t, output_dir: %s/out-%s, seed: 1}\n"
             "data: {task: sst-2, glue_dir: %s, max_seq_len: 16, vocab_size: 120}\n"
             "model: {layers: 1, hidden: 16, heads: 2, ffn: 32, max_position: 16}\n"
             "teacher: {max_steps: 2, batch_size: 2}\n%s",
             tu_tmpdir(), name, glue, extra ? extra : "");
    char file[128];
    snprintf(file, sizeof file, "%s.yaml", name);
    return tu_write_file(file, text);
}

static void test_usage(void)
{
    EXPECT("--version", 0, "ofa ");
    EXPECT("help", 0, "teacher", "eval", "inspect", "bench");
    EXPECT("help eval", 0, "--predictions");
    EXPECT("teacher --help", 0, "ofa teacher CONFIG");
    EXPECT("", 2, "usage");
    EXPECT("frobnicate", 2, "unknown command 'frobnicate'; see 'ofa help'");
    /* a near miss gets the command it probably meant */
    EXPECT("inspec x.h5", 2, "unknown command 'inspec'; did you mean 'inspect'?");
    EXPECT("serach c.yaml", 2, "did you mean 'search'?");
    EXPECT("evl", 2, "did you mean 'eval'?");
    EXPECT("help expot", 2, "unknown command 'expot'; did you mean 'export'?");
    EXPECT("help", 0, "environment:", "GLUE_DIR ", "OFA_THREADS ", "OFA_KERNELS ", "OFA_BIN ");
    EXPECT("teacher", 2, "needs a CONFIG");
    EXPECT("eval", 2, "needs a CHECKPOINT");
    EXPECT("eval x.h5 --split train", 2, "--split");
    EXPECT("teacher a.yaml --bogus", 2, "unknown option '--bogus'");
    EXPECT("bench nope", 2, "teacher, supernet, infer, gemm, cyclegan, generator");
}

/* `ofa help` names every environment variable the sources and scripts read (getenv in C,
 * ${OFA_...} in the shell scripts), except the test suite's own scratch variables */
static void test_help_env(void)
{
    char *help = NULL;
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa("help", &help), 0);
    FILE *p = popen("{ grep -rhoE 'getenv\\(\"[A-Za-z_]+\"\\)' --include=*.c cli core nn models datasets trainers "
                    "evaluator coordinator supernet tests | sed -E 's/getenv\\(\"(.*)\"\\)/\\1/'; "
                    "grep -rhoE '\\$\\{OFA_[A-Z_]+' slurm tests/slurm | cut -c3-; } | grep -v '^OFA_TEST_CFG' | sort -u",
                    "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    char name[128];
    int n = 0;
    while (fscanf(p, "%127s", name) == 1) {
        char want[140];
        snprintf(want, sizeof want, "\n  %s ", name);
        if (!strstr(help, want)) fprintf(stderr, "\n  ofa help does not list %s", name);
        CU_ASSERT_PTR_NOT_NULL(strstr(help, want));
        n++;
    }
    pclose(p);
    CU_ASSERT(n >= 8); /* the grep found them */
    free(help);
}

/* bench infer / gemm on a tiny model: the JSON lines name the kernels and both paths */
static void test_bench_small(void)
{
    const char *tiny = "--layers 2 --hidden 32 --heads 2 --ffn 64 --vocab 100 --seq 16 --steps 2 --warmup 1";
    char args[256];
    snprintf(args, sizeof args, "bench infer %s --arch largest --threads 1", tiny);
    EXPECT(args, 0, "\"work\": \"infer\"", "\"kernels\": \"", "\"arch\": \"d2-h2.2-f64.64\"");
    if (ofa_usable_cores() >= 2) { /* (with one core --threads 2 becomes 1) */
        snprintf(args, sizeof args, "bench infer %s --threads 2", tiny);
        EXPECT(args, 0, "\"threads\": 2", "\"kernels\": \"openblas\"");
    }
    /* OFA_KERNELS=openblas chooses the portable kernels on one thread too */
    char *out = NULL;
    snprintf(args, sizeof args, "OFA_KERNELS=openblas %s bench infer %s --threads 1",
             getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa", tiny);
    FILE *p = popen(args, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    char line[2048] = "";
    out = fgets(line, sizeof line, p);
    pclose(p);
    CU_ASSERT(out && strstr(line, "\"kernels\": \"openblas\""));
    EXPECT("bench gemm --hidden 32 --heads 2 --ffn 64 --seq 16", 0, "\"work\": \"gemm\"", "\"N\": 64, \"M\": 16, \"K\": 32",
           "openblas_gflops", "avx512_gflops");
}

/* bench cyclegan / generator (the CycleGAN family's work of torch_peer_gan.py): one step runs and
 * prints one valid JSON line with the peer's fields plus gflops and sgemm_gflops */
static void test_bench_gan(void)
{
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    const char *works[][2] = {{"cyclegan", "--steps 1 --warmup 0"},
                              {"generator", "--steps 1 --warmup 0 --size 16 --ngf 8 --blocks 2"},
                              {"generator", "--gen mobile --steps 1 --warmup 0 --size 16 --ngf 8 --blocks 3"}};
    for (size_t i = 0; i < sizeof works / sizeof *works; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "%s bench %s %s | /usr/bin/python3 -c 'import json,sys; l=sys.stdin.read().splitlines(); "
                 "assert len(l)==1, l; d=json.loads(l[0]); "
                 "assert d[\"work\"]==sys.argv[1] and d[\"ms_per_step\"]>0 and d[\"gflops\"]>0 "
                 "and d[\"sgemm_gflops\"]>0 and d[\"ngf\"]>0 and d[\"batch\"]>0, d' %s",
                 bin, works[i][0], works[i][1], works[i][0]);
        int st = system(cmd);
        if (st != 0) fprintf(stderr, "\n  %s: status %d\n", cmd, st);
        CU_ASSERT(st == 0);
    }
    EXPECT("bench cyclegan --size 30", 2, "--size must be a multiple of 4");
    EXPECT("bench generator --gen mobile --batch 2", 2, "--batch 1 only");
    EXPECT("bench cyclegan --layers 2", 2, "unknown option '--layers' for 'bench cyclegan'");
}

static void test_config_errors(void)
{
    const char *glue = fixture_glue(0);
    char args[1400];
    const char *p = tu_write_file("malformed.yaml", "experiment: {name: x\nteacher: [1, 2\n");
    snprintf(args, sizeof args, "teacher %s", p);
    EXPECT(args, 2, "malformed.yaml:");
    char text[2048];
    snprintf(text, sizeof text,
             "experiment: {output_dir: %s/o}\ndata: {glue_dir: %s}\nteacher:\n  epochs: 1\n  lrr: 0.1\n", tu_tmpdir(),
             glue);
    p = tu_write_file("misspelled.yaml", text);
    snprintf(args, sizeof args, "teacher %s", p);
    EXPECT(args, 2, "misspelled.yaml:5:3", "lrr", "did you mean 'teacher.lr'");
    snprintf(text, sizeof text, "experiment: {output_dir: %s/o}\nmodel:\n  layers: four\n", tu_tmpdir());
    p = tu_write_file("wrongtype.yaml", text);
    snprintf(args, sizeof args, "teacher %s", p);
    EXPECT(args, 2, "wrongtype.yaml:3:", "model.layers", "four");
    snprintf(text, sizeof text, "experiment: {output_dir: %s/o}\ndata: {task: sst-3, glue_dir: %s}\n", tu_tmpdir(),
             glue);
    p = tu_write_file("task.yaml", text);
    snprintf(args, sizeof args, "teacher %s", p);
    EXPECT(args, 2, "data.task", "sst-3", "sst-2");
    p = write_config("setbad", glue, NULL);
    snprintf(args, sizeof args, "teacher %s --set teacher.lrr=1", p);
    EXPECT(args, 2, "teacher.lrr", "did you mean 'teacher.lr'");
    /* removed keys (they did nothing: init: checkpoint trained from scratch and exited 0) */
    snprintf(args, sizeof args, "teacher %s --set teacher.init=checkpoint --set teacher.checkpoint=/nonexistent.h5", p);
    EXPECT(args, 2, "teacher.init was removed (it was never read: the teacher trained from scratch; model.init now "
                    "starts it from a file), so 'checkpoint' cannot be honoured; delete the key");
    EXPECT("teacher /nonexistent/config.yaml", 2, "/nonexistent/config.yaml");
    /* a space that cannot fit the model: `run` says so before the teacher trains, `teacher` alone
     * does not care (a teacher-only config needs no supernet settings) */
    char o[600], cmd[1400];
    snprintf(o, sizeof o, "%s/space-o", tu_tmpdir());
    snprintf(args, sizeof args, "run %s --set experiment.output_dir=%s --set supernet.space.depth=[1,9]", p, o);
    EXPECT(args, 2, "--set supernet.space.depth=[1,9]: supernet.space does not fit the model in model.* (checked "
           "before the teacher trains)", "supernet.space.depth: 9 exceeds");
    snprintf(cmd, sizeof cmd, "test -e %s/teacher.h5 || test -e %s/config.yaml", o, o);
    CU_ASSERT_NOT_EQUAL(system(cmd), 0);
    /* a model.init that is not there: the error names the --set, and neither `teacher` nor `run`
     * leaves a config.yaml, checkpoint folder or metrics log behind */
    for (int k = 0; k < 2; k++) {
        snprintf(o, sizeof o, "%s/init-o%d", tu_tmpdir(), k);
        char a2[4096];
        snprintf(a2, sizeof a2, "%s %s --set experiment.output_dir=%s --set model.init=%s/none.h5%s", k ? "run" : "teacher",
                 p, o, tu_tmpdir(), k ? " --set supernet.space.depth=[1] --set supernet.space.heads=[2] --set supernet.space.ffn=[32]" : "");
        EXPECT(a2, 1, "none.h5: no such file (model.init in --set model.init=");
        snprintf(a2, sizeof a2, "test -e %s/config.yaml || test -e %s/ckpt || test -e %s/metrics.jsonl", o, o, o);
        CU_ASSERT_NOT_EQUAL(system(a2), 0);
    }
    /* a file nested 100000 deep is refused at once (libyaml alone would take minutes) */
    static char deep[100004];
    memcpy(deep, "x: ", 3);
    memset(deep + 3, '[', 100000);
    p = tu_write_file("deep.yaml", deep);
    snprintf(args, sizeof args, "teacher %s", p);
    double t0 = ofa_now();
    EXPECT(args, 2, "deep.yaml:1:35: nesting deeper than 32 levels");
    CU_ASSERT(ofa_now() - t0 < 1.0);
}

static void test_data_errors(void)
{
    char args[1400];
    const char *p = write_config("nodata", "/nonexistent/glue", NULL);
    snprintf(args, sizeof args, "teacher %s", p);
    EXPECT(args, 1, "/nonexistent/glue", "GLUE_DIR");
    /* a renamed key is logged as a warning naming the new one (before the data error) */
    snprintf(args, sizeof args, "teacher %s --set teacher.grad_clip=0.5", p);
    EXPECT(args, 1, "warn: --set teacher.grad_clip=0.5: teacher.grad_clip is deprecated: use optim.grad_clip",
           "/nonexistent/glue");
    const char *bad = fixture_glue(1);
    p = write_config("badrow", bad, NULL);
    snprintf(args, sizeof args, "teacher %s", p);
    EXPECT(args, 1, "SST-2/train.tsv:3");
    /* the same file with data.skip_bad_rows: the row is skipped and counted, training runs */
    snprintf(args, sizeof args, "teacher %s --set data.skip_bad_rows=true", p);
    EXPECT(args, 0, "skipped 1 malformed row");
}

static void test_checkpoint_errors(void)
{
    char args[1400];
    const char *p = tu_write_file("foreign.h5", "this is not an HDF5 file\n");
    snprintf(args, sizeof args, "eval %s", p);
    EXPECT(args, 1, "foreign.h5", "not an HDF5 file");
    snprintf(args, sizeof args, "inspect %s", p);
    EXPECT(args, 1, "foreign.h5");
    EXPECT("eval /nonexistent/teacher.h5", 1, "/nonexistent/teacher.h5");
    /* an HDF5 file that is not an ofa checkpoint */
    ofa_h5 h;
    const char *other = tu_path("other.h5");
    CU_ASSERT_FATAL(ofa_h5_create(&h, other) == 0);
    int64_t sh[1] = {3};
    float x[3] = {1, 2, 3};
    CU_ASSERT_FATAL(ofa_h5_write_f32(&h, "x", x, 1, sh) == 0);
    CU_ASSERT_FATAL(ofa_h5_commit(&h) == 0);
    snprintf(args, sizeof args, "eval %s", other);
    EXPECT(args, 1, "not an ofa checkpoint");
    /* a checkpoint from a newer ofa */
    const char *newer = tu_path("newer.h5");
    CU_ASSERT_FATAL(ofa_h5_create(&h, newer) == 0);
    CU_ASSERT_FATAL(ofa_h5_attr_set_str(&h, "/", "format", "ofa-checkpoint") == 0);
    CU_ASSERT_FATAL(ofa_h5_attr_set_i64(&h, "/", "format_version", 99) == 0);
    CU_ASSERT_FATAL(ofa_h5_commit(&h) == 0);
    snprintf(args, sizeof args, "inspect %s", newer);
    EXPECT(args, 1, "format_version 99 is newer");
    /* a truncated real checkpoint */
    const char *glue = fixture_glue(0);
    p = write_config("trunc", glue, NULL);
    snprintf(args, sizeof args, "teacher %s", p);
    EXPECT(args, 0, "teacher.h5");
    char src[1200], dst[1200];
    snprintf(src, sizeof src, "%s/out-trunc/teacher.h5", tu_tmpdir());
    snprintf(dst, sizeof dst, "%s/truncated.h5", tu_tmpdir());
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    CU_ASSERT_FATAL(in && out);
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    CU_ASSERT_FATAL(fread(buf, 1, (size_t)n, in) == (size_t)n);
    fwrite(buf, 1, (size_t)n / 2, out);
    fclose(in);
    fclose(out);
    free(buf);
    snprintf(args, sizeof args, "eval %s", dst);
    EXPECT(args, 1, "truncated.h5");
}

/* A save that fails (a 16-32 KiB file size limit: the ~100 KB weights do not fit, the config and
 * the log do, as on a nearly full disk) is reported, and the evaluation line does not claim
 * "saved"; no partial checkpoint is left behind. */
static void test_teacher_save_fails(void)
{
    const char *glue = fixture_glue(0), *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    const char *cfg = write_config("full", glue, NULL);
    char cmd[4096], log[1100];
    snprintf(log, sizeof log, "%s/full.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "ulimit -f 32; exec %s teacher %s >%s 2>&1", bin, cfg, log);
    int st = system(cmd);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char *out = tu_read_file(log);
    CU_ASSERT_FATAL(out != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "best so far, NOT saved"));
    CU_ASSERT_PTR_NULL(strstr(out, "best so far, saved"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "teacher_best.h5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "File too large"));
    if (strstr(out, "best so far, saved") || !strstr(out, "NOT saved")) fprintf(stderr, "\n%s\n", out);
    free(out);
    snprintf(cmd, sizeof cmd, "ls %s/out-full/ckpt/*.h5* %s/out-full/teacher.h5 >/dev/null 2>&1", tu_tmpdir(),
             tu_tmpdir());
    CU_ASSERT_NOT_EQUAL(system(cmd), 0); /* neither the checkpoint nor its temporary file */
}

/* count of `needle` in the file at path (-1: unreadable) */
static int count_in(const char *path, const char *needle)
{
    char *t = tu_read_file(path);
    if (!t) return -1;
    int n = 0;
    for (const char *p = strstr(t, needle); p; p = strstr(p + 1, needle)) n++;
    free(t);
    return n;
}

/* Two runs on one output folder: while a long `ofa teacher` runs, a second teacher, an `ofa run`
 * and (with mpirun) a 2-rank `ofa supernet` on the same folder fail at once with exit 1 and a
 * message naming the first one's pid and command, and write nothing there: the first run's
 * config.yaml (seed 1; the others say seed 2) and metrics.jsonl (one start event) are untouched. */
static void test_output_lock(void)
{
    const char *glue = fixture_glue(0), *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    const char *cfg = write_config("lock", glue, NULL);
    char dir[1100], conf[1200], metrics[1200], log[1100], cmd[4096];
    snprintf(dir, sizeof dir, "%s/out-lock", tu_tmpdir());
    snprintf(conf, sizeof conf, "%s/config.yaml", dir);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(log, sizeof log, "%s/lock-first.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "exec %s teacher %s --set teacher.max_steps=100000000 --set teacher.eval_every=100000000 >%s 2>&1", bin,
             cfg, log);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* it holds the lock once it has written config.yaml */
    for (int i = 0; i < 3000 && !ofa_file_exists(metrics); i++) usleep(10000);
    char *before = tu_read_file(conf);
    CU_ASSERT(before && strstr(before, "seed: 1\n"));
    char want[256];
    snprintf(want, sizeof want, "is in use by pid %ld on ", (long)pid);
    const char *runs[] = {"teacher", "run"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s %s --set experiment.seed=2", runs[i], cfg);
        EXPECT(cmd, 1, want, dir, "(ofa teacher); wait for it or use another experiment.output_dir");
    }
    if (system("command -v mpirun >/dev/null 2>&1") == 0 && !tu_quick()) {
        /* only rank 0 locks; rank 1 learns it through the error agreement and exits 1 too */
        snprintf(cmd, sizeof cmd,
                 "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
                 "timeout 120 mpirun --oversubscribe -n 2 %s supernet %s --set experiment.seed=2 >%s/lock-mpi.log 2>&1",
                 bin, cfg, tu_tmpdir());
        int st = system(cmd);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
        snprintf(log, sizeof log, "%s/lock-mpi.log", tu_tmpdir());
        CU_ASSERT_EQUAL(count_in(log, want), 2); /* rank 0's message, and rank 1's "rank 0 failed: ..." */
        CU_ASSERT_EQUAL(count_in(log, "rank 0 failed: "), 1);
    }
    char *after = tu_read_file(conf);
    CU_ASSERT(before && after && strcmp(before, after) == 0);
    CU_ASSERT_EQUAL(count_in(metrics, "\"event\":\"start\""), 1);
    free(before);
    free(after);
    /* the first run is still going, and stops normally (checkpoint, exit 99) */
    CU_ASSERT_EQUAL(waitpid(pid, NULL, WNOHANG), 0);
    kill(pid, SIGTERM);
    int st = 0;
    CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 99);
    /* and the folder is free again */
    ofa_dirlock l = OFA_DIRLOCK_INIT;
    CU_ASSERT(ofa_dirlock_acquire(&l, dir, "test") == 0);
    ofa_dirlock_release(&l);
}

/* A short real run: 1-layer model on 3000 SST-2 sentences must beat the majority baseline (50.9%)
 * clearly; eval must reproduce the dev score stored in the checkpoint; predictions must have one
 * row per test example. */
static void test_real_sst2(void)
{
    const char *glue = tu_glue_dir();
    if (!glue || tu_quick()) {
        fprintf(stderr, "(skipped: %s) ", glue ? "OFA_TEST_QUICK" : "no GLUE data");
        return;
    }
    char text[2048], args[2048];
    snprintf(text, sizeof text,
             "experiment: {name: t, output_dir: %s/real, seed: 3}\n"
             "data: {task: sst-2, glue_dir: %s, max_seq_len: 48, vocab_size: 3000, train_limit: 6000}\n"
             "model: {layers: 1, hidden: 64, heads: 2, ffn: 128, max_position: 64, dropout: 0.1}\n"
             "teacher: {epochs: 3, batch_size: 32, lr: 1.0e-3, eval_every: 200}\n",
             tu_tmpdir(), glue);
    const char *cfg = tu_write_file("real.yaml", text);
    snprintf(args, sizeof args, "teacher %s", cfg);
    char *out = NULL;
    int st = tu_run_ofa(args, &out);
    CU_ASSERT_EQUAL(st, 0);
    const char *m = strstr(out, "best dev accuracy ");
    double acc = m ? atof(m + strlen("best dev accuracy ")) : 0;
    fprintf(stderr, "(dev accuracy %.4f) ", acc);
    CU_ASSERT(acc > 0.62);
    free(out);
    snprintf(args, sizeof args, "eval %s/real/teacher.h5", tu_tmpdir());
    st = tu_run_ofa(args, &out);
    CU_ASSERT_EQUAL(st, 0);
    m = strstr(out, "accuracy ");
    double acc2 = m ? atof(m + strlen("accuracy ")) : -1;
    CU_ASSERT_DOUBLE_EQUAL(acc2, acc, 1e-4);
    free(out);
    snprintf(args, sizeof args, "eval %s/real/teacher.h5 --split test --predictions %s/pred.tsv --logits", tu_tmpdir(),
             tu_tmpdir());
    CU_ASSERT_EQUAL(tu_run_ofa(args, NULL), 0);
    snprintf(text, sizeof text, "%s/pred.tsv", tu_tmpdir());
    FILE *f = fopen(text, "r");
    CU_ASSERT_FATAL(f != NULL);
    char line[256];
    int rows = 0, good = 1;
    CU_ASSERT(fgets(line, sizeof line, f) && strncmp(line, "index\tprediction\tlogit_0\tlogit_1", 32) == 0);
    while (fgets(line, sizeof line, f)) {
        int idx, pred;
        float l0, l1;
        if (sscanf(line, "%d\t%d\t%f\t%f", &idx, &pred, &l0, &l1) != 4 || idx != rows || pred != (l1 > l0)) good = 0;
        rows++;
    }
    fclose(f);
    CU_ASSERT(good);
    CU_ASSERT_EQUAL(rows, 1821);
    snprintf(args, sizeof args, "inspect %s/real/teacher.h5", tu_tmpdir());
    EXPECT(args, 0, "kind: teacher", "weights/layer_00/attn/wq", "tokenizer/vocab", "parameters:");
}

/* Runs a shell command line; its exit status (-1: killed), output (stdout+stderr) in *out. */
static int sh_run(const char *cmd, char **out)
{
    const char *log = tu_path("sh.log");
    char *full = malloc(strlen(cmd) + strlen(log) + 32);
    sprintf(full, "( %s ) >'%s' 2>&1", cmd, log);
    int st = system(full);
    free(full);
    *out = tu_read_file(log);
    if (!*out) *out = calloc(1, 1);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* the binary's absolute path (tests may run it from other folders) */
static const char *abs_bin(void)
{
    static char buf[4096];
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    if (!realpath(bin, buf)) snprintf(buf, sizeof buf, "%s", bin);
    return buf;
}

/* metrics.jsonl: every line carries the UTC time and the run id (one per invocation); the
 * teacher's evaluation logs only the task's metrics (SST-2: accuracy); ofa eval appends its result
 * under its own run id.  The resolved config is written to config.yaml, and echoed only with
 * --verbose. */
static void test_metrics_log(void)
{
    const char *glue = fixture_glue(0);
    const char *cfg = write_config("mlog", glue, NULL);
    char args[1400], path[1200];
    char *out = NULL;
    snprintf(args, sizeof args, "teacher %s", cfg);
    CU_ASSERT_EQUAL(tu_run_ofa(args, &out), 0);
    CU_ASSERT(strstr(out, "resolved config written to") && strstr(out, "run id "));
    CU_ASSERT_PTR_NULL(strstr(out, "resolved config:"));
    CU_ASSERT_PTR_NULL(strstr(out, "max_seq_len: 16"));
    free(out);
    snprintf(args, sizeof args, "teacher %s --verbose --set experiment.output_dir=%s/out-mlog-v", cfg, tu_tmpdir());
    CU_ASSERT_EQUAL(tu_run_ofa(args, &out), 0);
    CU_ASSERT(strstr(out, "resolved config:") && strstr(out, "max_seq_len: 16"));
    free(out);
    snprintf(args, sizeof args, "eval %s/out-mlog/teacher.h5", tu_tmpdir());
    EXPECT(args, 0, "accuracy");
    snprintf(path, sizeof path, "%s/out-mlog/metrics.jsonl", tu_tmpdir());
    char *text = tu_read_file(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    char first[64] = "", run[64], t[64];
    int lines = 0, evals = 0, bad = 0, teacher_lines = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        int k = 0;
        if (sscanf(p, "{\"time\":\"%63[^\"]\",\"run\":\"%63[^\"]\",%n", t, run, &k) != 2 || strlen(t) != 24 ||
            t[10] != 'T' || t[23] != 'Z') {
            if (bad++ < 3) fprintf(stderr, "\n  metrics line without time and run id: %s", p);
        } else if (strstr(p, "\"stage\":\"eval\"")) {
            evals++;
            CU_ASSERT(strcmp(run, first) != 0); /* another invocation */
            CU_ASSERT(strstr(p, "\"dev_accuracy\":") && strstr(p, "\"kind\":\"teacher\""));
        } else {
            if (!first[0]) snprintf(first, sizeof first, "%s", run);
            CU_ASSERT_STRING_EQUAL(run, first); /* one id for the whole teacher run */
            teacher_lines++;
            if (strstr(p, "\"dev_main\"")) { /* the evaluation: SST-2 reports accuracy only */
                CU_ASSERT_PTR_NOT_NULL(strstr(p, "\"dev_accuracy\":"));
                CU_ASSERT(!strstr(p, "dev_f1") && !strstr(p, "dev_mcc") && !strstr(p, "dev_pearson") &&
                          !strstr(p, "dev_spearman"));
            }
        }
        lines++;
        if (!nl) break;
        p = nl + 1;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(evals, 1);
    CU_ASSERT(teacher_lines >= 3); /* start, 2 steps, 1 evaluation */
    free(text);
}

/* A relative data.glue_dir stored in a checkpoint (the default ../shared/data/glue is one) was
 * relative to where its run was started: scored from elsewhere, the data is found there; $GLUE_DIR
 * wins over it, --data over both; an absolute stored path that exists is used as stored. */
static void test_relative_glue(void)
{
    fixture_glue(0);
    const char *dir = tu_tmpdir(), *bin = abs_bin();
    char real[4096];
    CU_ASSERT_FATAL(realpath(dir, real) != NULL);
    tu_write_file("rel.yaml", "experiment: {name: t, output_dir: out-rel, seed: 1}\n"
                              "data: {task: sst-2, glue_dir: glue0, max_seq_len: 16, vocab_size: 120}\n"
                              "model: {layers: 1, hidden: 16, heads: 2, ffn: 32, max_position: 16}\n"
                              "teacher: {max_steps: 2, batch_size: 2}\n");
    char cmd[16384], want[10000];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "cd '%s' && env -u GLUE_DIR '%s' teacher rel.yaml", dir, bin);
    CU_ASSERT_EQUAL_FATAL(sh_run(cmd, &out), 0);
    free(out);
    /* from another folder: found where the run was started */
    snprintf(cmd, sizeof cmd, "cd / && env -u GLUE_DIR '%s' eval '%s/out-rel/teacher.h5'", bin, dir);
    CU_ASSERT_EQUAL(sh_run(cmd, &out), 0);
    snprintf(want, sizeof want, "data from %s/glue0 (the stored data.glue_dir 'glue0', relative to %s where its run "
                                "was started)", real, real);
    if (!strstr(out, want)) fprintf(stderr, "\n  wanted \"%s\" in:\n%s", want, out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "accuracy"));
    free(out);
    /* $GLUE_DIR wins over the stored relative path */
    snprintf(cmd, sizeof cmd, "cd / && GLUE_DIR=/nonexistent/glue '%s' eval '%s/out-rel/teacher.h5'", bin, dir);
    CU_ASSERT_EQUAL(sh_run(cmd, &out), 1);
    CU_ASSERT(strstr(out, "data from $GLUE_DIR=/nonexistent/glue") && strstr(out, "/nonexistent/glue/SST-2"));
    free(out);
    /* --data wins over both */
    snprintf(cmd, sizeof cmd, "cd / && GLUE_DIR=/nonexistent/glue '%s' eval '%s/out-rel/teacher.h5' --data '%s/glue0'",
             bin, dir, dir);
    CU_ASSERT_EQUAL(sh_run(cmd, &out), 0);
    CU_ASSERT_PTR_NULL(strstr(out, "data from"));
    free(out);
    /* from the run's own folder the stored path works as it is: nothing to say */
    snprintf(cmd, sizeof cmd, "cd '%s' && env -u GLUE_DIR '%s' eval out-rel/teacher.h5", dir, bin);
    CU_ASSERT_EQUAL(sh_run(cmd, &out), 0);
    CU_ASSERT_PTR_NULL(strstr(out, "data from"));
    free(out);
    /* an absolute stored path that exists stays, whatever $GLUE_DIR says */
    const char *abs = write_config("absglue", fixture_glue(0), NULL);
    snprintf(cmd, sizeof cmd, "'%s' teacher '%s'", bin, abs);
    CU_ASSERT_EQUAL_FATAL(sh_run(cmd, &out), 0);
    free(out);
    snprintf(cmd, sizeof cmd, "cd / && GLUE_DIR=/nonexistent/glue '%s' eval '%s/out-absglue/teacher.h5'", bin, dir);
    CU_ASSERT_EQUAL(sh_run(cmd, &out), 0);
    CU_ASSERT_PTR_NULL(strstr(out, "data from"));
    free(out);
}

/* weights of two checkpoints are bitwise equal (and the same shape) */
static int same_weights(const char *a, const char *b)
{
    ofa_bert ma, mb;
    ofa_ckpt_meta ka, kb;
    if (ofa_ckpt_load_bert(a, &ma, NULL, &ka, NULL) < 0) return 0;
    if (ofa_ckpt_load_bert(b, &mb, NULL, &kb, NULL) < 0) {
        ofa_bert_free(&ma);
        ofa_ckpt_meta_free(&ka);
        return 0;
    }
    int same = ma.p.total == mb.p.total && memcmp(ma.p.data, mb.p.data, ma.p.total * sizeof(float)) == 0 &&
               ka.step == kb.step;
    ofa_bert_free(&ma);
    ofa_bert_free(&mb);
    ofa_ckpt_meta_free(&ka);
    ofa_ckpt_meta_free(&kb);
    return same;
}

/* the fields of a metrics.jsonl line after its "time" and "run" (which differ between runs), or
 * NULL when the line does not start with both */
static const char *after_run_id(const char *line)
{
    char t[40], r[48];
    int k = 0;
    if (sscanf(line, "{\"time\":\"%39[^\"]\",\"run\":\"%47[^\"]\",%n", t, r, &k) != 2 || k == 0) return NULL;
    return line + k;
}

/* the teacher's log lines of `text` (per step and per evaluation) from step `from` on, each found
 * verbatim in `ref` (but for the time and the run id); returns how many per-step lines there were,
 * or -1 at the first one missing */
static int lines_in(const char *text, const char *ref, long from)
{
    int n = 0;
    for (const char *q = text; q && *q; q = strchr(q, '\n'), q = q ? q + 1 : NULL) {
        long step = -1;
        int k = 0;
        const char *p = after_run_id(q);
        if (!p || sscanf(p, "\"stage\":\"teacher\",\"step\":%ld,%n", &step, &k) != 1 || step < from) continue;
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        char line[1024];
        if (len >= sizeof line) return -1;
        memcpy(line, p, len);
        line[len] = 0;
        if (!strstr(ref, line)) {
            fprintf(stderr, "\n  resumed run logged a line the uninterrupted one did not: %s", line);
            return -1;
        }
        n += k > 0 && !strncmp(p + k, "\"epoch\"", 7);
    }
    return n;
}

/* The teacher stage stopped by SIGUSR1 mid-run writes its training state and exits 99 without a
 * teacher.h5; under other settings the state is refused; the restart resumes and retraces the
 * uninterrupted run: every step's log line (loss, lr, gradient norm) is identical and teacher.h5
 * (the best evaluation's weights, kept across the stop) is bitwise equal.  5 examples in batches
 * of 2: epochs of 3 steps with a short last one, so stops land mid-epoch and on boundaries. */
static void test_teacher_resume(void)
{
    const char *dir = tu_tmpdir(), *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    char cmd[8192], text[2048], path[2048], ref[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/g5/SST-2", dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
    tu_write_file("g5/SST-2/train.tsv", "sentence\tlabel\na great movie\t1\nawful and boring\t0\nloved it\t1\n"
                                        "terrible plot\t0\nfine acting\t1\n");
    /* 6 dev rows: the search validates on a seeded half of SST-2's dev, the teacher on the other 3 */
    tu_write_file("g5/SST-2/dev.tsv", "sentence\tlabel\ngreat\t1\nboring\t0\nloved the plot\t1\n"
                                      "awful movie\t0\na fine cast\t1\nterrible and long\t0\n");
    snprintf(text, sizeof text,
             "experiment: {name: t, output_dir: %s/tr-ref, seed: 3, threads: 1}\n"
             "data: {task: sst-2, glue_dir: %s/g5, max_seq_len: 16, vocab_size: 120}\n"
             "model: {layers: 2, hidden: 64, heads: 2, ffn: 128, max_position: 16}\n"
             "teacher: {max_steps: 3000, batch_size: 2, eval_every: 50}\n",
             dir, dir);
    const char *cfg = tu_write_file("tresume.yaml", text);
    snprintf(cmd, sizeof cmd, "teacher %s", cfg);
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa(cmd, NULL), 0);
    /* stop it once 220 steps are logged (after the best evaluation, step 150 for this seed, so the
     * best-so-far must survive the restart); it stops at the next step boundary, well before 3000 */
    snprintf(cmd, sizeof cmd,
             "O=%s/tr-stop; %s teacher %s --set experiment.output_dir=$O > %s/tr-stop.log 2>&1 & pid=$!; "
             "for i in $(seq 1 20000); do n=$(grep -c '\"stage\":\"teacher\",\"step\"' $O/metrics.jsonl 2>/dev/null); "
             "[ \"${n:-0}\" -ge 220 ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.002; done; "
             "kill -USR1 $pid; wait $pid; exit $?",
             dir, bin, cfg, dir);
    int st = system(cmd);
    CU_ASSERT_FATAL(WIFEXITED(st));
    CU_ASSERT_EQUAL_FATAL(WEXITSTATUS(st), 99);
    snprintf(path, sizeof path, "%s/tr-stop/teacher.h5", dir);
    CU_ASSERT_FALSE(ofa_file_exists(path)); /* not complete: `ofa run` must not skip the stage */
    snprintf(cmd, sizeof cmd, "ls %s/tr-stop/ckpt/teacher_step_*.h5 %s/tr-stop/ckpt/teacher_best.h5 >/dev/null 2>&1",
             dir, dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    /* inspect: the training state (kind teacher with AdamW state) and the best weights so far */
    snprintf(cmd, sizeof cmd,
             "for f in %s/tr-stop/ckpt/teacher_step_*.h5; do %s inspect --json $f | /usr/bin/python3 -c "
             "'import json,sys; d=json.load(sys.stdin); assert d[\"kind\"]==\"teacher\" and d[\"optimizer\"][\"step\"]>0, d' "
             "|| exit 1; done; %s inspect %s/tr-stop/ckpt/teacher_best.h5 | grep -q 'dev: accuracy'",
             dir, bin, bin, dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    /* other settings: the state is refused, nothing is touched */
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "teacher %s --set experiment.output_dir=%s/tr-stop --set teacher.lr=3e-4", cfg, dir);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &out), 2);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "written under other settings") : NULL);
    /* naming the setting that changed and both values, not the whole strings */
    if (out && !strstr(out, "(learning rate): ")) fprintf(stderr, "\n%s\n", out);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "than the config's (lr (learning rate): ") : NULL);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, " -> 0.0003); restore them") : NULL);
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "teacher %s --set experiment.output_dir=%s/tr-stop", cfg, dir);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &out), 0);
    const char *m = out ? strstr(out, "teacher: resuming from") : NULL;
    CU_ASSERT_PTR_NOT_NULL(m);
    long from = 0;
    if (m) sscanf(strstr(m, "(step ") ? strstr(m, "(step ") : "", "(step %ld)", &from);
    free(out);
    CU_ASSERT(from > 200 && from < 3000);
    snprintf(ref, sizeof ref, "%s/tr-ref/teacher.h5", dir);
    CU_ASSERT(same_weights(path, ref));
    /* every step the resumed run logged is the uninterrupted run's line, up to the last one */
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s/tr-stop/metrics.jsonl", dir);
    snprintf(b, sizeof b, "%s/tr-ref/metrics.jsonl", dir);
    char *ta = tu_read_file(a), *tb = tu_read_file(b);
    CU_ASSERT_FATAL(ta && tb);
    const char *after = strstr(ta, "\"event\":\"resume\"");
    CU_ASSERT_PTR_NOT_NULL(after);
    CU_ASSERT_EQUAL(lines_in(after ? after : "", tb, from + 1), (int)(3000 - from));
    free(ta);
    free(tb);
    /* the completed stage leaves no training state behind */
    snprintf(cmd, sizeof cmd, "ls %s/tr-stop/ckpt/teacher_*.h5 >/dev/null 2>&1", dir);
    CU_ASSERT_NOT_EQUAL(system(cmd), 0);
}

/* A supernet of the shrunk demo shape (1 layer, hidden 32, 2 heads, ffn 64, 5 teacher steps),
 * made once by `ofa run` on the tiny SST-2 fixture; its path (static), or NULL when the run failed. */
static const char *fixture_supernet(void)
{
    static char path[1100];
    static int state; /* 0 not yet, 1 made, -1 failed */
    if (state == 0) {
        const char *glue = fixture_glue(0);
        const char *cfg = write_config("snet", glue,
                                       "supernet: {space: {depth: [1], heads: [1, 2], ffn: [32, 64]}, max_steps: 2, "
                                       "batch_size: 2}\nsearch: {enabled: false}\n");
        char args[1400];
        snprintf(args, sizeof args,
                 "run %s --set model.hidden=32 --set model.heads=2 --set model.ffn=64 --set teacher.max_steps=5", cfg);
        state = tu_run_ofa(args, NULL) == 0 ? 1 : -1;
        snprintf(path, sizeof path, "%s/out-snet/supernet.h5", tu_tmpdir());
    }
    return state == 1 ? path : NULL;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(b, 1, n, f) == n);
    fclose(f);
}

/* Case 1 and 10 of issue 10: one changed byte in a supernet.h5 (here in its config_yaml attribute,
 * which HDF5's Fletcher32 does not cover: it crashed libhdf5 before) makes inspect, eval, export
 * and latency exit 1 with "corrupted: checksum" naming the file; then bytes spread over the whole
 * file (every 1/48th, at a different offset each) are refused by inspect and eval the same way
 * ("corrupted: its checksum block is damaged" for a byte of the block's own text). */
static void test_corrupted(void)
{
    const char *snet = fixture_supernet();
    CU_ASSERT_PTR_NOT_NULL_FATAL(snet);
    size_t n = 0;
    unsigned char *b = read_all(snet, &n);
    CU_ASSERT_FATAL(b && n > 4096);
    size_t at = 0;
    for (size_t i = 0; i + 11 < n && !at; i++)
        if (!memcmp(b + i, "experiment:", 11)) at = i + 3;
    CU_ASSERT_FATAL(at > 0);
    char bad[1100], args[2400], want[1200];
    snprintf(bad, sizeof bad, "%s", tu_path("corrupt.h5"));
    snprintf(want, sizeof want, "%s: corrupted: checksum ", bad);
    b[at] ^= 0xcf;
    write_all(bad, b, n);
    b[at] ^= 0xcf;
    const char *cmds[] = {"inspect %s", "inspect --json %s", "eval %s --arch d1-h1-f32", "eval %s",
                          "export %s --arch d1-h1-f32 -o %s.sub.h5", "latency %s --repeats 3"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        snprintf(args, sizeof args, cmds[i], bad, bad);
        EXPECT(args, 1, want);
    }
    for (int k = 0; k < 48; k++) {
        size_t pos = (n / 48) * (size_t)k + (size_t)(k * 37) % (n / 48);
        b[pos] ^= 0x5a;
        write_all(bad, b, n);
        snprintf(want, sizeof want, "%s: corrupted: ", bad); /* the checksum, or the block itself (byte 0) */
        b[pos] ^= 0x5a;
        snprintf(args, sizeof args, k % 2 ? "inspect %s" : "eval %s", bad);
        char *out = NULL;
        int st = tu_run_ofa(args, &out);
        if (st != 1 || !strstr(out, want)) fprintf(stderr, "\n  byte %zu: ofa %s: exit %d:\n%s\n", pos, args, st, out);
        CU_ASSERT(st == 1 && strstr(out, want));
        free(out);
    }
    free(b);
}

/* Case 4: an output that is one of the inputs (the same file by another name or a link) is refused
 * with exit 2 before anything is written; the input is unchanged. */
static void test_output_is_input(void)
{
    const char *snet = fixture_supernet();
    CU_ASSERT_PTR_NOT_NULL_FATAL(snet);
    char args[2400], cmd[4800], copy[1100], link[1100];
    snprintf(copy, sizeof copy, "%s/self.h5", tu_tmpdir());
    snprintf(link, sizeof link, "%s/self-link.h5", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "cp %s %s && ln -sf %s %s", snet, copy, copy, link);
    CU_ASSERT_FATAL(system(cmd) == 0);
    snprintf(args, sizeof args, "export %s --arch d1-h1-f32 -o %s", copy, copy);
    EXPECT(args, 2, "-o ", "is the input file", "choose another name");
    snprintf(args, sizeof args, "export %s --arch d1-h1-f32 -o %s", copy, link);
    EXPECT(args, 2, "is the input file");
    snprintf(args, sizeof args, "export %s --arch d1-h1-f32 -o %s/./self.h5", copy, tu_tmpdir());
    EXPECT(args, 2, "is the input file");
    snprintf(args, sizeof args, "latency %s --table -o %s", copy, link);
    EXPECT(args, 2, "is the input file");
    snprintf(args, sizeof args, "eval %s --predictions %s", copy, copy);
    EXPECT(args, 2, "--predictions ", "is the input file");
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", snet, copy);
    CU_ASSERT_EQUAL(system(cmd), 0);
    /* another name is fine */
    snprintf(args, sizeof args, "export %s --arch d1-h1-f32 -o %s/self-sub.h5 --no-score", copy, tu_tmpdir());
    EXPECT(args, 0, "exported d1-h1-f32");
    /* a file already there is kept unless --force (as import keeps its -o) */
    snprintf(args, sizeof args, "export %s --arch d1-h2-f32 -o %s/self-sub.h5 --no-score", copy, tu_tmpdir());
    EXPECT(args, 2, "self-sub.h5 exists; --force overwrites it");
    snprintf(args, sizeof args, "inspect %s/self-sub.h5", tu_tmpdir());
    EXPECT(args, 0, "d1-h1-f32");
    snprintf(args, sizeof args, "export %s --arch d1-h2-f32 -o %s/self-sub.h5 --no-score --force", copy, tu_tmpdir());
    EXPECT(args, 0, "exported d1-h2-f32");
    /* a refused arch leaves no folder for -o behind */
    snprintf(args, sizeof args, "export %s --arch d9-h1-f32 -o %s/no-such-dir/x.h5", copy, tu_tmpdir());
    EXPECT(args, 2, "depth");
    snprintf(cmd, sizeof cmd, "test -e %s/no-such-dir", tu_tmpdir());
    CU_ASSERT_NOT_EQUAL(system(cmd), 0);
}

/* Case 11: mpi.monitor_archs=garbage,,d1-h1-f32 was accepted (the monitor warned steps later, or
 * never); the supernet stage checks every entry against the space before training, exit 2. */
static void test_monitor_archs(void)
{
    const char *snet = fixture_supernet();
    CU_ASSERT_PTR_NOT_NULL_FATAL(snet);
    char cmd[4096], args[4096], cfg[1100];
    snprintf(cmd, sizeof cmd, "rm -rf %s/out-mon && cp -r %s/out-snet %s/out-mon && rm -f %s/out-mon/.ofa.lock",
             tu_tmpdir(), tu_tmpdir(), tu_tmpdir(), tu_tmpdir());
    CU_ASSERT_FATAL(system(cmd) == 0);
    snprintf(cfg, sizeof cfg, "%s/snet.yaml --set experiment.output_dir=%s/out-mon --set model.hidden=32 "
             "--set model.heads=2 --set model.ffn=64 --set teacher.max_steps=5 --force", tu_tmpdir(), tu_tmpdir());
    const struct {
        const char *value, *want;
    } cases[] = {
        {"garbage,,d1-h1-f32", "mpi.monitor_archs: entry 1 'garbage': arch 'garbage': expected 'd<depth>'"},
        {"d1-h1-f32,,d1-h2-f64", "mpi.monitor_archs: entry 2 is empty ('d1-h1-f32,,d1-h2-f64')"},
        {"d1-h1-f32,", "mpi.monitor_archs: ends with a comma ('d1-h1-f32,')"},
        {"d1-h2-f64,d2-h1-f32", "mpi.monitor_archs: entry 2 'd2-h1-f32': arch 'd2-h1-f32': depth 2 exceeds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(args, sizeof args, "supernet %s --set mpi.monitor_archs=%s", cfg, cases[i].value);
        EXPECT(args, 2, cases[i].want);
    }
}

/* The teacher's training lines (those with a loss; evaluation lines have none) of metrics.jsonl text
 * t: seen[s] counts step s for s in 1..400, bad counts steps outside; returns the largest step. */
static long loss_steps(const char *t, int seen[401], int *bad)
{
    static const char key[] = "\"stage\":\"teacher\",\"step\":";
    long last = 0;
    for (const char *l = t; l && (l = strstr(l, key)) != NULL; l++) {
        long s = strtol(l + strlen(key), NULL, 10);
        const char *eol = strchr(l, '\n');
        if (!eol || !memmem(l, (size_t)(eol - l), "\"loss\"", 6)) continue;
        if (s < 1 || s > 400) ++*bad;
        else seen[s]++;
        if (s > last) last = s;
    }
    return last;
}

/* Case 8: a teacher killed (SIGKILL: no state written at the kill) after 130 or more logged steps
 * resumes from its last saved state (every 50 steps); the steps logged past it before the kill are
 * dropped from metrics.jsonl (its resume line says how many), so every training step appears
 * exactly once. */
static void test_kill_resume_metrics(void)
{
    const char *dir = tu_tmpdir(), *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    const char *glue = fixture_glue(0);
    char text[2048], cmd[4096], path[1200];
    snprintf(text, sizeof text,
             "experiment: {name: t, output_dir: %s/kr, seed: 3, threads: 1}\n"
             "data: {task: sst-2, glue_dir: %s, max_seq_len: 16, vocab_size: 120}\n"
             "model: {layers: 1, hidden: 32, heads: 2, ffn: 64, max_position: 16}\n"
             "teacher: {max_steps: 400, batch_size: 2, eval_every: 50}\n",
             dir, glue);
    const char *cfg = tu_write_file("kr.yaml", text);
    snprintf(path, sizeof path, "%s/kr/metrics.jsonl", dir);
    snprintf(cmd, sizeof cmd,
             "%s teacher %s > %s/kr-kill.log 2>&1 & pid=$!; "
             "for i in $(seq 1 20000); do n=$(grep -c '\"loss\"' %s 2>/dev/null); "
             "[ \"${n:-0}\" -ge 130 ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.002; done; "
             "kill -KILL $pid; wait $pid 2>/dev/null; exit $?", /* the shell's "Killed" would land in the test output */
             bin, cfg, dir, path);
    int st = system(cmd);
    CU_ASSERT_FATAL(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGKILL);
    /* the last step logged before the kill: the kill can land after a state save and before the
     * next step's line (then nothing is past the resumed step and nothing is dropped) */
    int seen[401] = {0}, bad = 0;
    char *before = tu_read_file(path);
    const long last = loss_steps(before, seen, &bad);
    free(before);
    CU_ASSERT(last >= 130);
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "teacher %s", cfg);
    CU_ASSERT_EQUAL(tu_run_ofa(cmd, &out), 0);
    long from = 0;
    const char *m = out ? strstr(out, "teacher: resuming from") : NULL;
    if (m && strstr(m, "(step ")) sscanf(strstr(m, "(step "), "(step %ld)", &from);
    CU_ASSERT(from >= 100 && from < 400 && from <= last);
    if (last > from) CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "lines past step") : NULL);
    free(out);
    char *t = tu_read_file(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    memset(seen, 0, sizeof seen);
    bad = 0;
    loss_steps(t, seen, &bad);
    for (int s = 1; s <= 400; s++)
        if (seen[s] != 1) {
            if (!bad) fprintf(stderr, "\n  step %d logged %d times\n", s, seen[s]);
            bad++;
        }
    CU_ASSERT_EQUAL(bad, 0);
    const char *r = strstr(t, "\"event\":\"resume\"");
    long dropped = -1;
    if (r && strstr(r, "\"dropped\":")) dropped = strtol(strstr(r, "\"dropped\":") + 10, NULL, 10);
    CU_ASSERT(dropped >= last - from); /* the loss lines past the resumed step, and any evaluation line */
    free(t);
}

/* Case 3: out of memory (max_seq_len 4096 needs 9 GiB of activations) under a 3 GB address-space
 * limit was an abort (exit 134); the arena is sized and allocated up front and its failure is exit
 * 1 naming the keys that size it.  The same command within the limit (max_seq_len 16) trains. */
static void test_out_of_memory(void)
{
    if (tu_quick()) { /* make asan: AddressSanitizer's shadow memory does not fit an address-space limit */
        fprintf(stderr, "(skipped: OFA_TEST_QUICK) ");
        return;
    }
    const char *glue = fixture_glue(0), *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    const char *cfg = write_config("oom", glue, NULL);
    char cmd[4096], log[1100];
    snprintf(log, sizeof log, "%s/oom.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "ulimit -v 3000000; exec %s teacher %s --set data.max_seq_len=4096 --set model.max_position=65536 "
             ">%s 2>&1", bin, cfg, log);
    int st = system(cmd);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char *out = tu_read_file(log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    const char *want = "teacher: lower data.max_seq_len (4096) or teacher.batch_size (2; evaluation uses batches of "
                       "at least 64), or model.layers/hidden/heads/ffn: out of memory: ";
    if (!strstr(out, want) || !strstr(out, " GiB of activations for batches of 64 x 4096 tokens"))
        fprintf(stderr, "\n%s\n", out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " GiB of activations for batches of 64 x 4096 tokens"));
    free(out);
    snprintf(cmd, sizeof cmd, "ulimit -v 3000000; exec %s teacher %s >%s 2>&1", bin, cfg, log);
    st = system(cmd);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Cases 5 and 6, with no byte writable (ulimit -f 0, as a full disk; the log goes through a pipe):
 * `teacher` fails with exit 1 naming config.yaml and leaves no 0-byte config.yaml; a rerun of
 * `eval --predictions p.tsv` fails with exit 1 and keeps the previous good p.tsv (no p.tsv.tmp);
 * `export` leaves nothing.  (SIGXFSZ is ignored by every command, so the write fails instead.) */
static void test_disk_full(void)
{
    const char *glue = fixture_glue(0), *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    const char *dir = tu_tmpdir();
    const char *cfg = write_config("full0", glue, NULL);
    char cmd[4096], log[1100], path[1200];
    snprintf(log, sizeof log, "%s/full0.log", dir);
    snprintf(cmd, sizeof cmd, "(ulimit -f 0; %s teacher %s; echo \"exit $?\") 2>&1 | cat >%s", bin, cfg, log);
    CU_ASSERT_FATAL(system(cmd) == 0);
    char *out = tu_read_file(log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    const char *want = "config.yaml.tmp': File too large (the previous file is kept)\nexit 1\n";
    if (!strstr(out, want)) fprintf(stderr, "\n%s", out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    free(out);
    snprintf(path, sizeof path, "%s/out-full0/config.yaml", dir);
    CU_ASSERT_FALSE(ofa_file_exists(path));
    /* predictions: a good file first, then the rerun that cannot write */
    const char *snet = fixture_supernet();
    CU_ASSERT_PTR_NOT_NULL_FATAL(snet);
    char pred[1100], args[4096];
    snprintf(pred, sizeof pred, "%s/p.tsv", dir);
    snprintf(args, sizeof args, "eval %s --predictions %s", snet, pred);
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa(args, NULL), 0);
    char *good = tu_read_file(pred);
    CU_ASSERT_FATAL(good && strchr(good, '\n'));
    snprintf(cmd, sizeof cmd, "(ulimit -f 0; %s eval %s --predictions %s; echo \"exit $?\") 2>&1 | cat >%s", bin, snet,
             pred, log);
    CU_ASSERT_FATAL(system(cmd) == 0);
    out = tu_read_file(log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "p.tsv.tmp': File too large (the previous file is kept)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "exit 1\n"));
    free(out);
    char *after = tu_read_file(pred);
    CU_ASSERT(after && strcmp(after, good) == 0);
    free(after);
    free(good);
    snprintf(path, sizeof path, "%s.tmp", pred);
    CU_ASSERT_FALSE(ofa_file_exists(path));
    snprintf(cmd, sizeof cmd,
             "(ulimit -f 0; %s export %s --arch d1-h1-f32 -o %s/full0-sub.h5 --no-score; echo \"exit $?\") 2>&1 "
             "| cat >%s", bin, snet, dir, log);
    CU_ASSERT_FATAL(system(cmd) == 0);
    out = tu_read_file(log);
    CU_ASSERT(out && strstr(out, "exit 1\n"));
    free(out);
    snprintf(cmd, sizeof cmd, "ls %s/full0-sub.h5* >/dev/null 2>&1", dir);
    CU_ASSERT_NOT_EQUAL(system(cmd), 0);
}

int test_cli_register(void)
{
    CU_pSuite s = CU_add_suite("cli", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "usage", test_usage) || !CU_add_test(s, "bench_small", test_bench_small) ||
        !CU_add_test(s, "bench_gan", test_bench_gan) ||
        !CU_add_test(s, "teacher_resume", test_teacher_resume) || !CU_add_test(s, "config_errors", test_config_errors) ||
        !CU_add_test(s, "data_errors", test_data_errors) ||
        !CU_add_test(s, "teacher_save_fails", test_teacher_save_fails) ||
        !CU_add_test(s, "output_lock", test_output_lock) ||
        !CU_add_test(s, "checkpoint_errors", test_checkpoint_errors) ||
        !CU_add_test(s, "real_sst2", test_real_sst2) || !CU_add_test(s, "help_env", test_help_env) ||
        !CU_add_test(s, "metrics_log", test_metrics_log) || !CU_add_test(s, "relative_glue", test_relative_glue) ||
        !CU_add_test(s, "corrupted", test_corrupted) || !CU_add_test(s, "output_is_input", test_output_is_input) ||
        !CU_add_test(s, "monitor_archs", test_monitor_archs) ||
        !CU_add_test(s, "kill_resume_metrics", test_kill_resume_metrics) ||
        !CU_add_test(s, "out_of_memory", test_out_of_memory) || !CU_add_test(s, "disk_full", test_disk_full))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
