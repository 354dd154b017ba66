/* Suite core: error records, RNG streams, duration formatting, atomic output files, the output
 * folder's lock, the string table. */
#include <CUnit/CUnit.h>

#include "tests/testutil.h"
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/dirlock.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/sys.h"
#include "core/rng.h"
#include "core/strtab.h"
#include "core/timer.h"

static void test_error_record(void)
{
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_err_code(), 0);
    int rc = OFA_ERR(OFA_E_CONFIG, "%s:%d:%d: unknown key '%s'", "a.yaml", 3, 5, "lrr");
    CU_ASSERT_EQUAL(rc, OFA_E_CONFIG);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), "a.yaml:3:5: unknown key 'lrr'");
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_where(), "test_core.c:"));
    ofa_err_prefix(OFA_E_CONFIG, "loading %s", "x");
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), "loading x: a.yaml:3:5: unknown key 'lrr'");
    CU_ASSERT_EQUAL(ofa_exit_status(OFA_E_CONFIG), 2);
    CU_ASSERT_EQUAL(ofa_exit_status(OFA_E_USAGE), 2);
    CU_ASSERT_EQUAL(ofa_exit_status(OFA_E_IO), 1);
    CU_ASSERT_EQUAL(ofa_exit_status(OFA_E_VERSION), 1);
    CU_ASSERT_EQUAL(ofa_exit_status(0), 0);
    ofa_err_clear();
}

static void test_rng_streams(void)
{
    ofa_rng a, b, c;
    ofa_rng_keyed(&a, 42, 7, 1);
    ofa_rng_keyed(&b, 42, 7, 1);
    ofa_rng_keyed(&c, 42, 7, 2);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 100; i++) {
        uint64_t x = ofa_rng_u64(&a), y = ofa_rng_u64(&b), z = ofa_rng_u64(&c);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    CU_ASSERT_TRUE(same_ab);
    CU_ASSERT_FALSE(same_ac);
    /* uniform in [0,1), mean ~ 0.5; below() in range and roughly uniform; normal mean 0 var 1 */
    ofa_rng_seed(&a, 1);
    double s = 0, s2 = 0;
    int counts[5] = {0};
    for (int i = 0; i < 100000; i++) {
        float u = ofa_rng_uniform(&a);
        CU_ASSERT_TRUE_FATAL(u >= 0.0f && u < 1.0f);
        counts[ofa_rng_below(&a, 5)]++;
        double g = ofa_rng_normal(&a);
        s += g;
        s2 += g * g;
    }
    for (int k = 0; k < 5; k++) CU_ASSERT_TRUE(counts[k] > 19000 && counts[k] < 21000);
    CU_ASSERT_DOUBLE_EQUAL(s / 1e5, 0.0, 0.02);
    CU_ASSERT_DOUBLE_EQUAL(s2 / 1e5, 1.0, 0.02);
    int64_t idx[10];
    for (int i = 0; i < 10; i++) idx[i] = i;
    ofa_rng_shuffle(&a, idx, 10);
    int seen = 0;
    for (int i = 0; i < 10; i++) seen |= 1 << idx[i];
    CU_ASSERT_EQUAL(seen, 1023);
}

static void test_duration(void)
{
    char b[32];
    ofa_format_duration(b, sizeof b, 12.34);
    CU_ASSERT_STRING_EQUAL(b, "12.3s");
    ofa_format_duration(b, sizeof b, 312);
    CU_ASSERT_STRING_EQUAL(b, "5m12s");
    ofa_format_duration(b, sizeof b, 3720);
    CU_ASSERT_STRING_EQUAL(b, "1h02m");
}

static void test_median(void)
{
    double odd[] = {5, 1, 4, 2, 3}, even[] = {9, 2, 7, 4}, one[] = {6};
    CU_ASSERT_DOUBLE_EQUAL(ofa_median_sort(odd, 5), 3.0, 0);
    for (int i = 0; i < 5; i++) CU_ASSERT_DOUBLE_EQUAL(odd[i], i + 1.0, 0); /* sorted in place */
    CU_ASSERT_DOUBLE_EQUAL(ofa_median_sort(even, 4), 5.5, 0);             /* mean of the middle two */
    CU_ASSERT_DOUBLE_EQUAL(even[0], 2.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(even[3], 9.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(ofa_median_sort(one, 1), 6.0, 0);
}

/* path holds exactly `want` and no "<path>.tmp" is left beside it */
static int intact(const char *path, const char *want)
{
    char *got = tu_read_file(path), tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int ok = got && strcmp(got, want) == 0 && !ofa_file_exists(tmp);
    if (!ok) fprintf(stderr, "\n  %s: holds \"%.60s\" (want \"%.60s\"), %s.tmp %s", path, got ? got : "(nothing)", want,
                     path, ofa_file_exists(tmp) ? "left behind" : "absent");
    free(got);
    return ok;
}

/* Atomic output files: a commit replaces the file; an abort, a failed open and a write that fails
 * part-way (a file size limit of 4 KiB in a forked child: EFBIG, as on a full disk) leave the
 * previous file as it was and no temporary file behind, with errno and a message naming the file. */
static void test_afile(void)
{
    const char *path = tu_write_file("afile.csv", "old\n");
    ofa_afile a;
    CU_ASSERT_FATAL(ofa_afile_open(&a, path) == 0);
    fprintf(a.f, "new\n");
    ofa_afile_abort(&a);
    CU_ASSERT(intact(path, "old\n"));
    ofa_afile_abort(&a); /* twice, and after a commit: nothing to do */
    ofa_afile_abort(NULL);

    CU_ASSERT_FATAL(ofa_afile_open(&a, path) == 0);
    fprintf(a.f, "new\n");
    CU_ASSERT(ofa_afile_commit(&a) == 0);
    CU_ASSERT_PTR_NULL(a.f);
    ofa_afile_abort(&a);
    CU_ASSERT(intact(path, "new\n"));
    CU_ASSERT(ofa_afile_write(path, "whole\n", 6) == 0);
    CU_ASSERT(intact(path, "whole\n"));

    /* not a regular file: written in place (--predictions /dev/stdout), the device stays */
    CU_ASSERT(ofa_afile_write("/dev/null", "x\n", 2) == 0);
    CU_ASSERT_FALSE(ofa_file_exists("/dev/null.tmp"));

    CU_ASSERT_EQUAL(ofa_afile_open(&a, tu_path("no/such/dir/x.csv")), OFA_E_IO);
    CU_ASSERT_PTR_NULL(a.f);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "no/such/dir/x.csv"));
    ofa_err_clear();

    /* the failing writes run in children (a file size limit cannot be lifted again); each exits
     * 0 when the commit failed with EFBIG and the message said so */
    for (int how = 0; how < 2; how++) {
        fflush(NULL);
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            signal(SIGXFSZ, SIG_IGN); /* as ofa does: the write fails instead of killing us */
            struct rlimit rl = {4096, 4096};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
            int rc;
            if (how == 0) { /* many small unchecked writes, as the use sites do */
                ofa_afile c;
                if (ofa_afile_open(&c, path) != 0) _exit(4);
                for (int i = 0; i < 2000; i++) fprintf(c.f, "%d,a line of the new file\n", i);
                rc = ofa_afile_commit(&c);
            } else { /* one big buffer */
                size_t n = 1 << 16;
                char *buf = malloc(n);
                memset(buf, 'x', n);
                rc = ofa_afile_write(path, buf, n);
            }
            int ok = rc == OFA_E_IO && errno == EFBIG && strstr(ofa_err_msg(), "afile.csv.tmp") &&
                     strstr(ofa_err_msg(), strerror(EFBIG));
            if (!ok) fprintf(stderr, "\n  child %d: rc %d errno %d: %s", how, rc, errno, ofa_err_msg());
            _exit(ok ? 0 : 1); /* _exit: the scratch folder belongs to the parent */
        }
        int st = 0;
        CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CU_ASSERT(intact(path, "whole\n"));
    }
}

static void exit7(int sig)
{
    (void)sig;
    _exit(7);
}

/* A signal that ends the process removes the temporary files being written (ofa_tmp_track) and
 * the process still dies of that signal; a committed file is kept; a SIGTERM handler installed
 * before (a stage's) is left alone. */
static void test_tmp_on_signal(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGTERM};
    for (int k = 0; k < 4; k++) {
        const char *p1 = tu_write_file("sig1.csv", "old\n"), *p2 = tu_write_file("sig2.csv", "old\n");
        char t1[1200];
        snprintf(t1, sizeof t1, "%s.tmp", p1);
        fflush(NULL);
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            if (k == 3) signal(SIGTERM, exit7); /* the stage's own handler, installed first */
            ofa_afile a, b;
            if (ofa_afile_open(&a, p1) != 0 || ofa_afile_open(&b, p2) != 0) _exit(3);
            fprintf(a.f, "half of a new file\n");
            fflush(a.f);
            fprintf(b.f, "new\n");
            if (ofa_afile_commit(&b) != 0) _exit(4);
            raise(sigs[k]);
            _exit(5);
        }
        int st = 0;
        CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
        if (k < 3) {
            CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == sigs[k]);
            CU_ASSERT_FALSE(ofa_file_exists(t1)); /* removed */
        } else {
            CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 7);
            CU_ASSERT(ofa_file_exists(t1)); /* that handler's business */
            unlink(t1);
        }
        CU_ASSERT(intact(p1, "old\n"));
        CU_ASSERT(intact(p2, "new\n"));
    }
}

/* The output folder's lock: a second holder is refused with the first one's pid, host and command;
 * release (and a holder's exit, without a release) frees it. */
static void test_dirlock(void)
{
    const char *dir = tu_path("locked");
    CU_ASSERT_FATAL(ofa_mkdirs(dir) == 0);
    ofa_dirlock a = OFA_DIRLOCK_INIT, b = OFA_DIRLOCK_INIT;
    CU_ASSERT_FATAL(ofa_dirlock_acquire(&a, dir, "teacher") == 0);
    char want[512], host[256] = "";
    gethostname(host, sizeof host);
    snprintf(want, sizeof want, "%s is in use by pid %ld on %s (ofa teacher); wait for it or use another "
             "experiment.output_dir", dir, (long)getpid(), host);
    CU_ASSERT_EQUAL(ofa_dirlock_acquire(&b, dir, "run"), OFA_E_RUNTIME);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    CU_ASSERT_EQUAL(b.fd, -1);
    ofa_dirlock_release(&a);
    ofa_dirlock_release(&a); /* twice, NULL, never held: nothing to do */
    ofa_dirlock_release(NULL);
    ofa_dirlock_release(&b);
    CU_ASSERT(ofa_dirlock_acquire(&b, dir, "run") == 0);
    ofa_dirlock_release(&b);
    /* a holder that exits without releasing (killed, crashed) leaves the folder free */
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) _exit(ofa_dirlock_acquire(&a, dir, "supernet") == 0 ? 0 : 1);
    int st = 0;
    CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT(ofa_dirlock_acquire(&a, dir, "teacher") == 0);
    ofa_dirlock_release(&a);
    /* a folder that does not exist: an I/O error naming the lock file */
    CU_ASSERT_EQUAL(ofa_dirlock_acquire(&a, tu_path("no/such/dir"), "run"), OFA_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "no/such/dir/.ofa.lock"));
    ofa_err_clear();
}

/* keys of ids held in a growable array the table reads through its ctx */
typedef struct strv {
    char **s;
    int64_t n, cap;
} strv;

static int64_t strv_add(strv *v, const char *s)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 4;
        v->s = realloc(v->s, (size_t)v->cap * sizeof *v->s);
        CU_ASSERT_PTR_NOT_NULL_FATAL(v->s);
    }
    v->s[v->n] = strdup(s);
    return v->n++;
}

static void strv_free(strv *v)
{
    for (int64_t i = 0; i < v->n; i++) free(v->s[i]);
    free(v->s);
}

/* The string table: finds by (s, len) with len shorter than the text, insert-or-replace (a later
 * id wins, the replaced one is returned), growth over 20000 keys while the caller's array moves,
 * keys of one bucket (probing wraps past the last slot), clear and free. */
static void test_strtab(void)
{
    strv v = {0};
    ofa_strtab t;
    ofa_strtab_init(&t, ofa_strtab_key_strv, 0);
    CU_ASSERT_EQUAL(t.n_slots, 16);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, "a", 1), -1); /* empty */
    const char *words[] = {"", "a", "ab", "abc", "##ab", "b"};
    for (int i = 0; i < 6; i++) {
        int64_t id = strv_add(&v, words[i]); /* before the call: it may move v.s */
        CU_ASSERT_EQUAL(ofa_strtab_put(&t, v.s, id), -1);
    }
    CU_ASSERT_EQUAL(t.n, 6);
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, words[i], strlen(words[i])), i);
    /* len-limited: a prefix of a longer text, no NUL needed after it; a NUL within len never matches */
    const char *text = "abcdef";
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, text, 0), 0);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, text, 1), 1);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, text, 2), 2);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, text, 3), 3);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, text, 4), -1);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, "##abc", 4), 4);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, "ab\0", 3), -1);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, "bb", 1), 5);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, "B", 1), -1);
    /* replace: a later id with an equal key takes its place, the count stays */
    int64_t again = strv_add(&v, "ab");
    CU_ASSERT_EQUAL(ofa_strtab_put(&t, v.s, again), 2);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, "ab", 2), again);
    CU_ASSERT_EQUAL(t.n, 6);
    CU_ASSERT_EQUAL(ofa_strtab_put(&t, v.s, again), again); /* the same id again */
    /* growth: 20000 more keys, the array realloc'd under the table; load stays <= 1/2 */
    char buf[32];
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(buf, sizeof buf, "k%d", i);
        int64_t id = strv_add(&v, buf);
        if ((ofa_strtab_put(&t, v.s, id) != -1 || 2 * t.n > t.n_slots) && bad++ < 5)
            fprintf(stderr, "\n  put(%s): n %lld, %lld slots", buf, (long long)t.n, (long long)t.n_slots);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(t.n, 20006);
    CU_ASSERT_EQUAL(t.n_slots, 65536);
    for (int i = 0; i < 20000; i++) {
        snprintf(buf, sizeof buf, "k%d!", i);
        int64_t id = ofa_strtab_find(&t, v.s, buf, strlen(buf) - 1);
        if (id != again + 1 + i && bad++ < 5) fprintf(stderr, "\n  find(k%d) = %lld", i, (long long)id);
        snprintf(buf, sizeof buf, "k%d", i + 20000);
        if (ofa_strtab_find(&t, v.s, buf, strlen(buf)) != -1 && bad++ < 5) fprintf(stderr, "\n  %s found", buf);
    }
    CU_ASSERT_EQUAL(bad, 0);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, words[i], strlen(words[i])), i == 2 ? again : i);
    /* clear keeps the slots; free twice and NULL are fine */
    int64_t ns = t.n_slots;
    ofa_strtab_clear(&t);
    CU_ASSERT_EQUAL(t.n, 0);
    CU_ASSERT_EQUAL(t.n_slots, ns);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, "a", 1), -1);
    CU_ASSERT_EQUAL(ofa_strtab_put(&t, v.s, 1), -1);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, v.s, "a", 1), 1);
    ofa_strtab_free(&t);
    ofa_strtab_free(&t);
    ofa_strtab_free(NULL);
    strv_free(&v);

    /* one bucket: 9 keys whose hash is 15 mod 16; 8 held fill a 16-slot table to one half, every
     * probe starts at the last slot and wraps; the 9th, absent, probes past all of them, and
     * putting it grows the table */
    strv c = {0};
    for (int i = 0; c.n < 9; i++) {
        snprintf(buf, sizeof buf, "c%d", i);
        if ((ofa_fnv1a_str(buf) & 15) == 15) strv_add(&c, buf);
    }
    ofa_strtab_init(&t, ofa_strtab_key_strv, 8);
    CU_ASSERT_EQUAL_FATAL(t.n_slots, 16);
    for (int64_t i = 0; i < 8; i++) CU_ASSERT_EQUAL(ofa_strtab_put(&t, c.s, i), -1);
    CU_ASSERT_EQUAL_FATAL(t.n_slots, 16);
    for (int64_t i = 0; i < 8; i++) CU_ASSERT_EQUAL(t.slots[(15 + i) & 15], i); /* in probe order */
    for (int64_t i = 0; i < 8; i++) CU_ASSERT_EQUAL(ofa_strtab_find(&t, c.s, c.s[i], strlen(c.s[i])), i);
    CU_ASSERT_EQUAL(ofa_strtab_find(&t, c.s, c.s[8], strlen(c.s[8])), -1);
    CU_ASSERT_EQUAL(ofa_strtab_put(&t, c.s, 3), 3); /* a replace at full load does not grow */
    CU_ASSERT_EQUAL(t.n_slots, 16);
    CU_ASSERT_EQUAL(ofa_strtab_put(&t, c.s, 8), -1);
    CU_ASSERT_EQUAL(t.n_slots, 32);
    CU_ASSERT_EQUAL(t.n, 9);
    for (int64_t i = 0; i < 9; i++) CU_ASSERT_EQUAL(ofa_strtab_find(&t, c.s, c.s[i], strlen(c.s[i])), i);
    ofa_strtab_free(&t);
    strv_free(&c);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
static int is_utc_ms(const char *t)
{
    int y, mo, d, h, mi, sec, ms;
    char z = 0;
    return strlen(t) == 24 && sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms, &z) == 8 &&
           z == 'Z' && y >= 2020 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec <= 60;
}

/* metrics.jsonl lines start with the UTC time and the run id (one per process unless set, as the
 * MPI job does), then the caller's fields; an empty object and long lines stay whole JSON. */
static void test_jsonl(void)
{
    const char *path = tu_path("m.jsonl");
    ofa_jsonl j;
    CU_ASSERT_EQUAL_FATAL(ofa_jsonl_open(&j, path), 0);
    char id[OFA_RUN_ID_MAX];
    snprintf(id, sizeof id, "%s", ofa_run_id());
    CU_ASSERT(strlen(id) > 16);
    CU_ASSERT_STRING_EQUAL(ofa_run_id(), id); /* the same for the whole process */
    ofa_jsonl_write(&j, "{\"stage\":\"t\",\"step\":%d}", 1);
    ofa_jsonl_write(&j, "{}");
    static char big[5000];
    memset(big, 'x', sizeof big - 1);
    ofa_jsonl_write(&j, "{\"big\":\"%s\"}", big);
    ofa_run_id_set("job-42");
    ofa_jsonl_write(&j, "{\"stage\":\"t\",\"step\":%d}", 2);
    ofa_jsonl_close(&j);
    char *text = tu_read_file(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    char t[64], r[64];
    int k = 0, lines = 0;
    for (char *p = text; *p; p = strchr(p, '\n') + 1, lines++) {
        CU_ASSERT_EQUAL(sscanf(p, "{\"time\":\"%63[^\"]\",\"run\":\"%63[^\"]\"%n", t, r, &k), 2);
        CU_ASSERT(is_utc_ms(t));
        CU_ASSERT_STRING_EQUAL(r, lines < 3 ? id : "job-42");
        if (lines == 0) CU_ASSERT(!strncmp(p + k, ",\"stage\":\"t\",\"step\":1}\n", 22));
        if (lines == 1) CU_ASSERT(!strncmp(p + k, "}\n", 2));
        if (lines == 2) CU_ASSERT(strlen(p + k) > sizeof big && p[k + 8 + sizeof big - 1] == '"');
        if (!strchr(p, '\n')) break;
    }
    CU_ASSERT_EQUAL(lines, 4);
    free(text);
    /* a fresh id differs (24 random bits) and reads as the UTC start time */
    char a[OFA_RUN_ID_MAX], b[OFA_RUN_ID_MAX];
    ofa_run_id_make(a, sizeof a);
    ofa_run_id_make(b, sizeof b);
    CU_ASSERT(strcmp(a, b) != 0 && a[8] == 'T' && a[15] == 'Z' && a[16] == '-');
    ofa_run_id_set(id);
    /* JSON strings and numbers */
    char e[64], n[32];
    ofa_json_escape(e, sizeof e, "a\"b\\c\nd");
    CU_ASSERT_STRING_EQUAL(e, "a\\\"b\\\\c\\u000ad");
    CU_ASSERT_STRING_EQUAL(ofa_json_num(n, sizeof n, NAN), "null");
    CU_ASSERT_STRING_EQUAL(ofa_json_num(n, sizeof n, -INFINITY), "null");
    CU_ASSERT_STRING_EQUAL(ofa_json_num(n, sizeof n, 0.25), "0.25");
}

/* Issue 10, case 8: on resume from step 6 the teacher's lines past it (logged before a kill, and
 * logged again by the resumed run) and a line cut off mid-write go; other stages' lines and the
 * eval line of step 6 stay; the file is rewritten whole and appending goes on after it. */
static void test_jsonl_drop_after(void)
{
    const char *path = tu_path("resume.jsonl");
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"event\":\"start\",\"stage\":\"teacher\"}\n", f);
    for (int s = 1; s <= 9; s++) fprintf(f, "{\"stage\":\"teacher\",\"step\":%d,\"loss\":0.5}\n", s);
    fputs("{\"stage\":\"teacher\",\"step\":6,\"metric\":\"accuracy\"}\n", f);
    fputs("{\"stage\":\"supernet\",\"step\":40,\"loss\":1}\n", f);
    fputs("{\"stage\":\"teacher\",\"step\":10,\"lo", f); /* killed mid-line */
    fclose(f);
    ofa_jsonl j;
    CU_ASSERT_EQUAL_FATAL(ofa_jsonl_open(&j, path), 0);
    int64_t dropped = -1;
    CU_ASSERT_EQUAL_FATAL(ofa_jsonl_drop_after(&j, path, "teacher", 6, &dropped), 0);
    CU_ASSERT_EQUAL(dropped, 4); /* steps 7, 8, 9 and the cut line */
    ofa_jsonl_write(&j, "{\"event\":\"resume\"}");
    ofa_jsonl_close(&j);
    char *t = tu_read_file(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"step\":6,\"loss\""));
    CU_ASSERT_PTR_NULL(strstr(t, "\"step\":7"));
    CU_ASSERT_PTR_NULL(strstr(t, "\"step\":9"));
    CU_ASSERT_PTR_NULL(strstr(t, "\"step\":10"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"step\":6,\"metric\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "{\"stage\":\"supernet\",\"step\":40,\"loss\":1}\n{\"time\":"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"event\":\"resume\"}\n"));
    int lines = 0;
    for (const char *c = t; *c; c++) lines += *c == '\n';
    CU_ASSERT_EQUAL(lines, 1 + 6 + 1 + 1 + 1);
    free(t);
    /* nothing past the step: the file is left as it is */
    CU_ASSERT_EQUAL_FATAL(ofa_jsonl_open(&j, path), 0);
    CU_ASSERT_EQUAL(ofa_jsonl_drop_after(&j, path, "teacher", 6, &dropped), 0);
    CU_ASSERT_EQUAL(dropped, 0);
    ofa_jsonl_close(&j);
}

/* ofa_zero_pages: every byte zero, the bytes around untouched, and the whole pages inside not
 * resident afterwards (given back, not written), whatever they held */
static void test_zero_pages(void)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (size_t)4 << 20;
    unsigned char *p = aligned_alloc(page, n + 2 * page);
    CU_ASSERT_FATAL(p != NULL);
    memset(p, 0x5a, n + 2 * page); /* dirty and resident */
    const size_t off = 100, len = n + page - 37;
    ofa_zero_pages(p + off, len);
    /* the whole pages strictly inside [off, off + len), asked before anything reads them (a read
     * would map the zero page, which mincore counts) */
    const size_t first = 1, pages = (off + len) / page - first;
    unsigned char *vec = malloc(pages);
    CU_ASSERT_FATAL(mincore(p + first * page, pages * page, vec) == 0);
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
    CU_ASSERT_EQUAL(resident, 0);
    size_t bad = 0;
    for (size_t i = 0; i < n + 2 * page; i++) bad += p[i] != (i >= off && i < off + len ? 0 : 0x5a);
    CU_ASSERT_EQUAL(bad, 0);
    /* small blocks are written */
    memset(p, 0x5a, 4096);
    ofa_zero_pages(p + 1, 4000);
    CU_ASSERT(p[0] == 0x5a && p[1] == 0 && p[4000] == 0 && p[4001] == 0x5a);
    free(vec);
    free(p);
}

/* the VmFlags line of the mapping holding p in /proc/self/smaps ("" when there is none) */
static void vm_flags(const void *p, char *out, size_t n)
{
    out[0] = 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return;
    char line[512];
    int inside = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (inside && !strncmp(line, "VmFlags:", 8)) {
            snprintf(out, n, "%s", line);
            break;
        }
    }
    fclose(f);
}

#ifndef __SANITIZE_ADDRESS__
/* In a child whose malloc keeps large blocks on its heap (by default glibc maps them fresh, already
 * zero, and unmaps them on free): a block dirtied and freed, then asked for again.  Returns 1 for
 * dirty bytes, 2 misaligned, 4 when the heap did not hand the block back (the check is moot). */
static int huge_reuse(size_t n, size_t huge)
{
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    int code = 0;
    unsigned char *p = ofa_xalloc_huge(n);
    memset(p, 0xa5, n);
    __asm__ volatile("" : : "r"(p) : "memory"); /* the bytes are written before free */
    free(p);
    unsigned char *r = ofa_xalloc_huge(n);
    if (r != p) code |= 4;
    if ((uintptr_t)r % huge) code |= 2;
    for (size_t i = 0; i < n; i++)
        if (r[i]) {
            code |= 1;
            break;
        }
    return code;
}
#endif

/* ofa_xalloc_huge: zeroed whatever the memory held before, 2 MiB aligned and advised for huge
 * pages from 8 MiB on ("hg" in the mapping's VmFlags, where the kernel has THP), an ordinary
 * aligned block below */
static void test_xalloc_huge(void)
{
    const size_t n = ((size_t)16 << 20) + 100, huge = (size_t)2 << 20;
#ifdef __SANITIZE_ADDRESS__
    fprintf(stderr, "(ASan's allocator quarantines freed blocks: reuse not checked) ");
#else
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) _exit(huge_reuse(n, huge));
    int st = 0;
    CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
#endif
    unsigned char *p = ofa_xalloc_huge(n);
    CU_ASSERT_EQUAL((uintptr_t)p % huge, 0);
    char flags[512];
    vm_flags(p + n / 2, flags, sizeof flags);
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0) {
        fprintf(stderr, "(kernel without THP: huge-page advice not checked) ");
    } else if (!flags[0]) {
        fprintf(stderr, "(no /proc/self/smaps: huge-page advice not checked) ");
    } else {
        CU_ASSERT_PTR_NOT_NULL(strstr(flags, " hg"));
    }
    free(p);
    unsigned char *q = ofa_xalloc_huge(1000);
    CU_ASSERT_EQUAL((uintptr_t)q % 64, 0);
    CU_ASSERT(q[0] == 0 && q[999] == 0);
    free(q);
}

int test_core_register(void)
{
    CU_pSuite s = CU_add_suite("core", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "zero_pages", test_zero_pages) || !CU_add_test(s, "xalloc_huge", test_xalloc_huge) ||
        !CU_add_test(s, "error_record", test_error_record) || !CU_add_test(s, "rng_streams", test_rng_streams) ||
        !CU_add_test(s, "duration", test_duration) || !CU_add_test(s, "median", test_median) || !CU_add_test(s, "afile", test_afile) ||
        !CU_add_test(s, "tmp_on_signal", test_tmp_on_signal) ||
        !CU_add_test(s, "dirlock", test_dirlock) || !CU_add_test(s, "strtab", test_strtab) ||
        !CU_add_test(s, "jsonl", test_jsonl) || !CU_add_test(s, "jsonl_drop_after", test_jsonl_drop_after))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
