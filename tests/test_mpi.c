/* Suite mpi: the supernet as one MPI job (mpirun with --oversubscribe on this 2-core machine).
 *
 * - distributed equals single-process: 20 supernet steps with 4 subnets on 4 micro-batches per
 *   step give the same weights (1e-5 normalized error per tensor; float summation order is the
 *   only difference) with -n 1, 2 and 4 training ranks, and with 2 trainers + 1 evaluator; with
 *   the gradient allreduce in 10 KB buckets posted during the backward (mpi.bucket_mb) at 2 and 4
 *   ranks too, and at 2 ranks bitwise equal to one allreduce after the backward;
 * - killed and resumed equals uninterrupted, bitwise: rank 1 is SIGKILLed after a checkpoint, the
 *   job ends with a message naming the rank, and the restarted job's final weights equal an
 *   uninterrupted run's with the same rank count;
 * - a truncated newest checkpoint and one with a flipped byte are skipped (and said so), and the
 *   resumed run still ends bitwise equal;
 * - a failing checkpoint write (file size limit) is reported and leaves the previous one intact;
 * - SIGUSR1 checkpoints and exits 99; a world size that does not fit mpi.evaluators fails on
 *   every rank with one message;
 * - supernet.micro_batches auto gives each of 4 training ranks a micro-batch every step (measured
 *   per rank into metrics.jsonl); an explicit value below the rank count names the idle ranks;
 * - `ofa run` (the README's cluster command) crosses every stage boundary (teacher -> reorder ->
 *   supernet -> search) with 2, 3 and 4 ranks (and with an evaluator rank), three times each: no rank
 *   may start a stage before the previous one's output is written.
 * - the teacher stage is data-parallel: `mpirun -n 2 ofa teacher` (each rank half of every batch,
 *   bucketed allreduce during the backward) reaches the weights of one process within 1e-5 (dropout 0, so the
 *   ranks' dropout streams do not enter), and a 2-rank run stopped by SIGUSR1 and restarted ends
 *   bitwise equal to an uninterrupted 2-rank run.
 * Skipped without mpirun or GLUE data, or in quick mode. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/h5io.h"
#include "tests/testutil.h"

static char g_cfg[512], g_dir[512];
static int g_ok;

static int have_mpirun(void) { return system("command -v mpirun >/dev/null 2>&1") == 0; }

static int sh(const char *cmd, char **out)
{
    const char *log = tu_path("sh.log");
    char *full = malloc(strlen(cmd) + 1200);
    sprintf(full, "( %s ) >'%s' 2>&1", cmd, log);
    int st = system(full);
    free(full);
    if (out) {
        FILE *f = fopen(log, "rb");
        size_t cap = 1 << 20, n = 0;
        char *b = malloc(cap);
        if (f) {
            n = fread(b, 1, cap - 1, f);
            fclose(f);
        }
        b[n] = 0;
        *out = b;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* mpirun (or a plain run for n == 1) of `ofa supernet` into output dir `out` */
static int run_supernet(int n, const char *out, const char *extra, char **log)
{
    char cmd[4096];
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    if (n == 1)
        snprintf(cmd, sizeof cmd, "%s supernet %s --set experiment.output_dir=%s %s", bin, g_cfg, out, extra);
    else
        snprintf(cmd, sizeof cmd,
                 "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
                 "timeout 300 mpirun --oversubscribe -n %d %s supernet %s --set experiment.output_dir=%s %s",
                 n, bin, g_cfg, out, extra);
    return sh(cmd, log);
}

/* a fresh output dir holding the shared reordered teacher */
static const char *outdir(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 600, "%s/%s", g_dir, name);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && cp %s/base/teacher_reordered.h5 %s/", p, p, g_dir, p);
    CU_ASSERT_FATAL(system(cmd) == 0);
    return p;
}

/* normalized error of every /weights tensor between two checkpoints (worst), and whether all are
 * bitwise equal */
typedef struct cmp_ctx {
    ofa_h5 *a, *b;
    double worst;
    int bitwise, count;
} cmp_ctx;

static int cmp_one(const char *name, int ndim, const int64_t *shape, void *ctx)
{
    cmp_ctx *c = ctx;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *x = malloc(n * sizeof(float) + 1), *y = malloc(n * sizeof(float) + 1);
    int rc = ofa_h5_read_f32(c->a, name, x, ndim, shape) | ofa_h5_read_f32(c->b, name, y, ndim, shape);
    if (rc == 0) {
        double e = tu_norm_err(x, y, n);
        if (e > c->worst) c->worst = e;
        if (memcmp(x, y, n * sizeof(float)) != 0) c->bitwise = 0;
        c->count++;
    }
    free(x);
    free(y);
    return rc;
}

static int compare(const char *fa, const char *fb, double *worst, int *bitwise)
{
    ofa_h5 a, b;
    if (ofa_h5_open(&a, fa) < 0) return -1;
    if (ofa_h5_open(&b, fb) < 0) {
        ofa_h5_close(&a);
        return -1;
    }
    cmp_ctx c = {&a, &b, 0, 1, 0};
    int rc = ofa_h5_visit(&a, "weights", cmp_one, &c);
    ofa_h5_close(&a);
    ofa_h5_close(&b);
    *worst = c.worst;
    *bitwise = c.bitwise;
    return rc < 0 || c.count == 0 ? -1 : 0;
}

static void test_setup(void)
{
    const char *glue = tu_glue_dir();
    if (!glue || tu_quick() || !have_mpirun()) {
        fprintf(stderr, "(skipped: %s) ", !glue ? "no GLUE data" : tu_quick() ? "OFA_TEST_QUICK" : "no mpirun");
        return;
    }
    snprintf(g_dir, sizeof g_dir, "%s/mpi", tu_tmpdir());
    char text[2048];
    snprintf(text, sizeof text,
             "experiment: {name: mpi, output_dir: %s/base, seed: 11, threads: 1}\n"
             "data: {task: sst-2, glue_dir: %s, max_seq_len: 32, vocab_size: 1500, train_limit: 2000, dev_limit: 100}\n"
             "model: {layers: 4, hidden: 32, heads: 4, ffn: 64, max_position: 32}\n"
             "teacher: {max_steps: 30, batch_size: 16, lr: 1.0e-3}\n"
             "reorder: {batches: 2}\n"
             "supernet:\n"
             "  space: {depth: [2, 3, 4], heads: [1, 2, 4], ffn: [16, 32, 64]}\n"
             "  phases: [{elastic: [width], epochs: 100, lr: 5.0e-4}, {elastic: [width, depth], epochs: 100, lr: 2.0e-4}]\n"
             "  sampler: {strategy: sandwich, subnets_per_step: 4}\n"
             "  micro_batches: 4\n"
             "  batch_size: 8\n"
             "  max_steps: 20\n"
             "  checkpoint: {every_steps: 5, keep: 3}\n"
             "search: {latency: {repeats: 3, warmup: 1}}\n"
             "mpi: {checksum_every: 5}\n",
             g_dir, glue);
    snprintf(g_cfg, sizeof g_cfg, "%s", tu_write_file("mpi.yaml", text));
    char args[1200];
    snprintf(args, sizeof args, "teacher %s", g_cfg);
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa(args, NULL), 0);
    snprintf(args, sizeof args, "reorder %s", g_cfg);
    CU_ASSERT_EQUAL_FATAL(tu_run_ofa(args, NULL), 0);
    g_ok = 1;
}

/* whether the shared teacher is there; a test run alone (ofa_tests mpi kill_and_resume) makes it */
static int ready(void)
{
    if (!g_ok && g_dir[0] == '\0') test_setup();
    return g_ok;
}

static void test_distributed_equals_single(void)
{
    if (!ready()) return;
    const struct {
        int n;
        const char *name, *extra;
    } runs[] = {{1, "n1", ""},
                {2, "n2", "--set mpi.bucket_mb=0"},
                {4, "n4", ""},
                {4, "n3e1", "--set mpi.evaluators=1 --set mpi.monitor_archs=d2-h1.1-f16.16"},
                {2, "n2b", "--set mpi.bucket_mb=0.01"},
                {4, "n4b", "--set mpi.bucket_mb=0.01"}};
    char ref[700], path[700];
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        const char *o = outdir(runs[i].name);
        char *log = NULL;
        int st = run_supernet(runs[i].n, o, runs[i].extra, &log);
        if (st != 0) fprintf(stderr, "\n  -n %d %s: exit %d\n%s", runs[i].n, runs[i].extra, st, log);
        CU_ASSERT_EQUAL_FATAL(st, 0);
        if (i == 3) { /* the evaluator scored checkpoints into metrics.jsonl */
            snprintf(path, sizeof path, "grep -c '\"stage\":\"monitor\"' %s/metrics.jsonl", o);
            char *out = NULL;
            sh(path, &out);
            CU_ASSERT(atoi(out) >= 3);
            free(out);
            snprintf(path, sizeof path, "grep -c '\"subnet\":\"configured\",\"arch\":\"d2-h1.1-f16.16\"' %s/metrics.jsonl", o);
            sh(path, &out);
            CU_ASSERT(atoi(out) >= 1);
            free(out);
            /* one run id for the whole job: rank 0's supernet lines and the evaluator's monitor
             * lines carry the same (made on rank 0, broadcast); every line has one */
            snprintf(path, sizeof path,
                     "f=%s/metrics.jsonl; test $(grep -vc '^{\"time\":\"[0-9T:.-]*Z\",\"run\":\"[^\"]*\",' $f) -eq 0 && "
                     "grep -o '\"run\":\"[^\"]*\"' $f | sort -u | wc -l",
                     o);
            sh(path, &out);
            CU_ASSERT_EQUAL(atoi(out), 1);
            free(out);
        }
        free(log);
        snprintf(path, sizeof path, "%s/supernet.h5", o);
        if (i == 0) {
            snprintf(ref, sizeof ref, "%s", path);
            continue;
        }
        double worst;
        int bitwise;
        CU_ASSERT_EQUAL_FATAL(compare(path, ref, &worst, &bitwise), 0);
        fprintf(stderr, "(%s: max normalized error %.2g) ", runs[i].name, worst);
        CU_ASSERT(worst < 1e-5);
        if (i == 4) {
            /* 10 KB buckets (about 25 of them, posted as the last backward of each step finishes
             * them, on every rank a different subnet) sum what one allreduce after the backward
             * sums: with 2 ranks a + b is a + b, so bitwise; a bucket posted before its gradients
             * were final would differ */
            char one[700];
            snprintf(one, sizeof one, "%s/n2/supernet.h5", g_dir);
            CU_ASSERT_EQUAL_FATAL(compare(path, one, &worst, &bitwise), 0);
            CU_ASSERT(bitwise);
            snprintf(path, sizeof path, "grep -c '\"allreduce_early_bytes\":[1-9]' %s/metrics.jsonl", o);
            char *out = NULL;
            sh(path, &out);
            CU_ASSERT(atoi(out) >= 15); /* buckets went out during the backward in (nearly) every step */
            free(out);
        }
    }
}

/* `ofa teacher` with 1 process or n ranks into output dir `out` */
static int run_teacher(int n, const char *out, const char *extra, char **log)
{
    char cmd[4096];
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    snprintf(cmd, sizeof cmd,
             "rm -rf %s; %s%s teacher %s --set experiment.output_dir=%s --set model.dropout=0 "
             "--set teacher.max_steps=150 --set teacher.eval_every=50 %s",
             out,
             n == 1 ? "" : "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
                           "timeout 300 mpirun --oversubscribe -n 2 ",
             bin, g_cfg, out, extra);
    return sh(cmd, log);
}

static void test_teacher_data_parallel(void)
{
    if (!ready()) return;
    char o1[600], o2[600], o3[600], a[700], b[700];
    snprintf(o1, sizeof o1, "%s/t1", g_dir);
    snprintf(o2, sizeof o2, "%s/t2", g_dir);
    snprintf(o3, sizeof o3, "%s/t2stop", g_dir);
    char *log = NULL;
    int st = run_teacher(1, o1, "", &log);
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    free(log);
    st = run_teacher(2, o2, "--set mpi.bucket_mb=0.01", &log); /* ~25 buckets, posted during the backward */
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "split over 2 training ranks"));
    free(log);
    /* the final weights (the last evaluation is the best or not: compare the training state's
     * weights instead, the same for both runs: every rank applies the summed update) */
    snprintf(a, sizeof a, "%s/teacher.h5", o1);
    snprintf(b, sizeof b, "%s/teacher.h5", o2);
    double worst;
    int bitwise;
    CU_ASSERT_EQUAL_FATAL(compare(a, b, &worst, &bitwise), 0);
    fprintf(stderr, "(teacher -n 2 vs 1: max normalized error %.2g) ", worst);
    CU_ASSERT(worst < 1e-5);
    /* stopped at step ~60 (after the evaluation of step 50) by SIGUSR1 (to mpirun, which forwards it), restarted: bitwise the
     * uninterrupted 2-rank run (which posted its gradients in 10 KB buckets during the backward; this one
     * reduces them in one allreduce after it: the same sums) */
    char cmd[4096];
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    snprintf(cmd, sizeof cmd,
             "rm -rf %s; OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
             "mpirun --oversubscribe -n 2 %s teacher %s --set experiment.output_dir=%s --set mpi.bucket_mb=0 "
             "--set model.dropout=0 --set teacher.max_steps=150 --set teacher.eval_every=50 & pid=$!; "
             "for i in $(seq 1 20000); do n=$(grep -c '\"stage\":\"teacher\",\"step\"' %s/metrics.jsonl 2>/dev/null); "
             "[ \"${n:-0}\" -ge 60 ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.002; done; "
             "kill -USR1 $pid; wait $pid; exit $?",
             o3, bin, g_cfg, o3, o3);
    st = sh(cmd, &log);
    if (st != 99) fprintf(stderr, "\n  stop: exit %d\n%s\n", st, log);
    CU_ASSERT_EQUAL(st, 99);
    free(log);
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
             "timeout 300 mpirun --oversubscribe -n 2 %s teacher %s --set experiment.output_dir=%s --set mpi.bucket_mb=0 "
             "--set model.dropout=0 --set teacher.max_steps=150 --set teacher.eval_every=50",
             bin, g_cfg, o3);
    st = sh(cmd, &log);
    if (st) fprintf(stderr, "\n  resume: exit %d\n%s\n", st, log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    free(log);
    snprintf(a, sizeof a, "%s/teacher.h5", o3);
    CU_ASSERT_EQUAL_FATAL(compare(a, b, &worst, &bitwise), 0);
    CU_ASSERT(bitwise);
}

/* PID of the process of `rank` of a running job whose command line contains `needle` */
static int find_rank_pid(const char *needle, int rank)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "for p in $(pgrep -f '%s'); do tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | "
             "grep -qx 'OMPI_COMM_WORLD_RANK=%d' && echo $p; done | head -1",
             needle, rank);
    FILE *f = popen(cmd, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1) pid = 0;
        pclose(f);
    }
    return pid;
}

static void test_kill_and_resume(void)
{
    if (!ready()) return;
    const char *ref = outdir("kill_ref");
    CU_ASSERT_EQUAL_FATAL(run_supernet(2, ref, "--set supernet.max_steps=60", NULL), 0);
    const char *o = outdir("kill");
    char cmd[4096], ck[700];
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
             "timeout 300 mpirun --oversubscribe -n 2 %s supernet %s --set experiment.output_dir=%s "
             "--set supernet.max_steps=60 > %s/job.log 2>&1",
             bin, g_cfg, o, o);
    pid_t job = fork();
    if (job == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* wait for a random checkpoint from the second (step 10) to step 30, then a random moment of
     * up to a few steps more, then SIGKILL rank 1: the kill must land before the 60 steps end (a
     * step takes a few ms here; a fixed wait of up to 300 ms after step 10 sometimes let the job
     * finish, and the restart then rightly refused to redo a finished supernet.h5) */
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    const int at = 10 + 5 * (rand() % 5);
    snprintf(ck, sizeof ck, "%s/ckpt/step_%08d.h5", o, at);
    struct stat sb;
    for (int i = 0; i < 30000 && stat(ck, &sb) != 0; i++) usleep(1000);
    CU_ASSERT_FATAL(stat(ck, &sb) == 0);
    usleep((useconds_t)(rand() % 25) * 1000);
    char needle[700];
    snprintf(needle, sizeof needle, "output_dir=%s ", o);
    int pid = find_rank_pid(needle, 1);
    CU_ASSERT_FATAL(pid > 0);
    kill(pid, SIGKILL);
    int st;
    time_t t0 = time(NULL);
    waitpid(job, &st, 0);
    CU_ASSERT(time(NULL) - t0 < 60); /* the job ends, it does not hang */
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    char *log = NULL;
    snprintf(cmd, sizeof cmd, "cat %s/job.log", o);
    sh(cmd, &log);
    int names_rank = strstr(log, "rank 1") != NULL;
    if (!names_rank) fprintf(stderr, "\n  job log does not name rank 1:\n%s", log);
    CU_ASSERT(names_rank);
    free(log);
    /* corrupt the newest checkpoint two ways; the restart must skip them and still end equal */
    snprintf(cmd, sizeof cmd, "ls %s/ckpt | sort | tail -1", o);
    char *newest = NULL;
    sh(cmd, &newest);
    newest[strcspn(newest, "\n")] = 0;
    snprintf(cmd, sizeof cmd, "f=%s/ckpt/%s; truncate -s $(( $(stat -c %%s $f) / 2 )) $f", o, newest);
    CU_ASSERT(sh(cmd, NULL) == 0);
    snprintf(cmd, sizeof cmd, "ls %s/ckpt | sort | tail -2 | head -1", o);
    char *second = NULL;
    sh(cmd, &second);
    second[strcspn(second, "\n")] = 0;
    if (strcmp(second, newest) != 0) { /* flip one byte in the middle of the second newest */
        snprintf(cmd, sizeof cmd,
                 "f=%s/ckpt/%s; off=$(( $(stat -c %%s $f) * 3 / 4 )); "
                 "b=$(dd if=$f bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' '); "
                 "printf \"$(printf '\\\\%%03o' $(( b ^ 255 )))\" | dd of=$f bs=1 seek=$off conv=notrunc 2>/dev/null",
                 o, second);
        CU_ASSERT(sh(cmd, NULL) == 0);
    }
    st = run_supernet(2, o, "--set supernet.max_steps=60", &log);
    if (st) fprintf(stderr, "\n  restart after corrupting %s and %s: exit %d\n%s\n", newest, second, st, log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    /* both corrupted files are skipped (the truncated one, and the flipped byte via Fletcher32) */
    int skipped = 0;
    for (const char *p = log; (p = strstr(p, "skipped checkpoint")); p++) skipped++;
    skipped = skipped == (strcmp(second, newest) != 0 ? 2 : 1);
    int resumed = strstr(log, "resuming from") != NULL;
    if (!skipped || !resumed) fprintf(stderr, "\n  restart log:\n%s", log);
    CU_ASSERT(skipped);
    CU_ASSERT(resumed);
    free(log);
    /* metrics.jsonl says where the job picked up, as the teacher's does */
    snprintf(cmd, sizeof cmd, "grep -c '\"event\":\"resume\",\"stage\":\"supernet\",\"step\":[1-9]' %s/metrics.jsonl", o);
    char *count = NULL;
    sh(cmd, &count);
    CU_ASSERT(count && atoi(count) == 1);
    free(count);
    free(newest);
    free(second);
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/supernet.h5", o);
    snprintf(b, sizeof b, "%s/supernet.h5", ref);
    double worst;
    int bitwise = 0;
    CU_ASSERT_EQUAL_FATAL(compare(a, b, &worst, &bitwise), 0);
    if (!bitwise) fprintf(stderr, "\n  resumed run differs from the uninterrupted one (%.3g)", worst);
    CU_ASSERT(bitwise);
}

static void test_signal_and_full_disk(void)
{
    if (!ready()) return;
    /* SIGUSR1 to mpirun: checkpoint at the next step, exit 99; then a restart completes */
    const char *o = outdir("usr1");
    char cmd[4096], ck[700];
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
             "exec mpirun --oversubscribe -n 2 %s supernet %s --set experiment.output_dir=%s "
             "--set supernet.max_steps=400 --set supernet.checkpoint.every_steps=1000 > %s/job.log 2>&1",
             bin, g_cfg, o, o);
    pid_t job = fork();
    if (job == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    snprintf(ck, sizeof ck, "grep -c '\"stage\":\"supernet\"' %s/metrics.jsonl 2>/dev/null", o);
    for (int i = 0; i < 3000; i++) {
        char *out = NULL;
        sh(ck, &out);
        int steps = atoi(out);
        free(out);
        if (steps >= 10) break;
        usleep(10000);
    }
    kill(job, SIGUSR1);
    int st;
    waitpid(job, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 99);
    snprintf(cmd, sizeof cmd, "ls %s/ckpt | wc -l", o);
    char *out = NULL;
    sh(cmd, &out);
    CU_ASSERT(atoi(out) == 1);
    free(out);
    /* a checkpoint write that fails (a file size limit put on the running process, like a full
     * disk) is reported and the run stops; the previous checkpoint stays intact */
    o = outdir("full");
    snprintf(cmd, sizeof cmd,
             "exec %s supernet %s --set experiment.output_dir=%s --set supernet.max_steps=2000 "
             "--set supernet.checkpoint.every_steps=100 > %s/job.log 2>&1",
             bin, g_cfg, o, o);
    job = fork();
    if (job == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    snprintf(ck, sizeof ck, "%s/ckpt/step_00000100.h5", o);
    struct stat sb;
    for (int i = 0; i < 6000 && stat(ck, &sb) != 0; i++) usleep(5000);
    snprintf(cmd, sizeof cmd, "prlimit --pid %d --fsize=65536:65536", (int)job);
    CU_ASSERT_FATAL(sh(cmd, NULL) == 0);
    waitpid(job, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char *log = NULL;
    snprintf(cmd, sizeof cmd, "cat %s/job.log", o);
    sh(cmd, &log);
    int reported = strstr(log, "step_00000200.h5") != NULL;
    if (!reported) fprintf(stderr, "\n  log:\n%s", log);
    CU_ASSERT(reported);
    free(log);
    snprintf(cmd, sizeof cmd, "%s inspect %s/ckpt/step_00000100.h5 && test ! -e %s/ckpt/step_00000200.h5.tmp", bin, o,
             o);
    CU_ASSERT(sh(cmd, NULL) == 0);
}

static void test_run_stage_boundaries(void)
{
    if (!ready()) return;
    const char *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    const struct {
        int n;
        const char *extra;
    } runs[] = {{2, ""}, {3, ""}, {4, ""}, {4, "--set mpi.evaluators=1"}};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        for (int rep = 0; rep < 3; rep++) {
            char o[600], cmd[4096];
            snprintf(o, sizeof o, "%s/run_n%d_%zu_%d", g_dir, runs[i].n, i, rep);
            snprintf(cmd, sizeof cmd,
                     "rm -rf %s && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                     "OMPI_MCA_mpi_yield_when_idle=1 timeout 300 mpirun --oversubscribe -n %d %s run %s "
                     "--set experiment.output_dir=%s --set teacher.max_steps=10 --set reorder.batches=1 "
                     "--set supernet.max_steps=12 --set search.population=4 --set search.generations=1 "
                     "--set search.budgets_ms=[0.5] --set search.latency.mode=table --set search.latency.repeats=3 "
                     "--set search.latency.seq_len=16 --set search.val_limit=40 %s",
                     o, runs[i].n, bin, g_cfg, o, runs[i].extra);
            char *log = NULL;
            int st = sh(cmd, &log);
            int ok = st == 0 && strstr(log, "supernet  done") && strstr(log, "search    done");
            if (!ok) fprintf(stderr, "\n  ofa run -n %d %s (repeat %d): exit %d\n%s", runs[i].n, runs[i].extra, rep, st, log);
            CU_ASSERT_FATAL(ok);
            free(log);
            snprintf(cmd, sizeof cmd, "test -s %s/supernet.h5 && test -s %s/pareto.csv && %s inspect %s/supernet.h5 >/dev/null",
                     o, o, bin, o);
            CU_ASSERT(sh(cmd, NULL) == 0);
        }
    }
}

/* supernet.micro_batches auto gives every training rank work: 4 ranks, 2 subnets per step -> 4
 * micro-batches, each rank does one every step (metrics.jsonl: working_ranks per step, and each
 * rank's micro-batches over the run, gathered from the ranks); an explicit 2 names the idle ranks.
 * A step cap below the first phase's steps leaves phase 2 none: a warning. */
static void test_every_rank_works(void)
{
    if (!ready()) return;
    const char *o = outdir("auto4");
    char *log = NULL, cmd[1400];
    int st = run_supernet(4, o, "--set supernet.micro_batches=auto --set supernet.sampler.subnets_per_step=2 "
                                "--set supernet.max_steps=6", &log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    int ok = strstr(log, "supernet: micro_batches auto -> 4 (2 subnets per step, 4 training ranks)") &&
             strstr(log, "warn: supernet: phase 2/2 (elastic width depth) gets 0 steps: supernet.max_steps 6") &&
             !strstr(log, "get no work");
    if (!ok) fprintf(stderr, "\n  log:\n%s", log);
    CU_ASSERT(ok);
    free(log);
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "grep -c '\"micro_batches\":4,\"working_ranks\":4,' %s/metrics.jsonl", o);
    sh(cmd, &out);
    CU_ASSERT_EQUAL(atoi(out), 6); /* every step: 4 micro-batches, 4 ranks with work */
    free(out);
    snprintf(cmd, sizeof cmd, "grep -c '\"event\":\"work\",\"stage\":\"supernet\",\"steps\":6,\"micro_batches_per_step\":4,"
                              "\"ranks\":\\[0,1,2,3\\],\"micro_batches\":\\[6,6,6,6\\],\"subnets\":\\[6,6,6,6\\],"
                              "\"steps_with_work\":\\[6,6,6,6\\]' %s/metrics.jsonl", o);
    sh(cmd, &out);
    CU_ASSERT_EQUAL(atoi(out), 1);
    free(out);
    /* more micro-batches per step than the data has batches: said once, and the step still runs */
    o = outdir("over-mb");
    st = run_supernet(1, o, "--set supernet.batch_size=200 --set supernet.micro_batches=12 --set supernet.max_steps=1",
                      &log); /* at most 2000 training examples: at most 10 batches of 200 */
    CU_ASSERT_EQUAL(st, 0);
    ok = log && strstr(log, "warn: supernet: a step's 12 micro-batches of 200 examples (2400) exceed the ");
    if (!ok) fprintf(stderr, "\n  log:\n%s", log ? log : "");
    CU_ASSERT(ok);
    free(log);
    /* 2 micro-batches for 4 training ranks: ranks 2 and 3 named, and their zero work measured */
    o = outdir("explicit2");
    st = run_supernet(4, o, "--set supernet.micro_batches=2 --set supernet.sampler.subnets_per_step=2 "
                            "--set supernet.max_steps=3", &log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    ok = strstr(log, "warn: supernet: 2 micro-batches per step for 4 training ranks: ranks 2, 3 get no work") &&
         strstr(log, "rank 3 worked in 0 of the 3 steps");
    if (!ok) fprintf(stderr, "\n  log:\n%s", log);
    CU_ASSERT(ok);
    free(log);
    snprintf(cmd, sizeof cmd, "grep -c '\"micro_batches\":\\[3,3,0,0\\]' %s/metrics.jsonl", o);
    sh(cmd, &out);
    CU_ASSERT_EQUAL(atoi(out), 1);
    free(out);
}

static void test_world_size(void)
{
    if (!ready()) return;
    const char *o = outdir("size");
    char *log = NULL;
    int st = run_supernet(2, o, "--set mpi.evaluators=2", &log);
    CU_ASSERT_EQUAL(st, 2);
    CU_ASSERT(strstr(log, "mpi.evaluators") != NULL);
    free(log);
}

int test_mpi_register(void)
{
    CU_pSuite s = CU_add_suite("mpi", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "setup", test_setup) ||
        !CU_add_test(s, "distributed_equals_single", test_distributed_equals_single) ||
        !CU_add_test(s, "teacher_data_parallel", test_teacher_data_parallel) ||
        !CU_add_test(s, "kill_and_resume", test_kill_and_resume) ||
        !CU_add_test(s, "signal_and_full_disk", test_signal_and_full_disk) ||
        !CU_add_test(s, "world_size", test_world_size) ||
        !CU_add_test(s, "every_rank_works", test_every_rank_works) ||
        !CU_add_test(s, "run_stage_boundaries", test_run_stage_boundaries))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
