#include "core/sys.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/par.h"
#include "core/state.h"

int ofa_usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int ofa_resolve_threads(int configured)
{
    int cores = ofa_usable_cores(), n = configured;
    if (n <= 0) {
        const char *env = getenv("OFA_THREADS");
        if (env && *env) {
            char *end;
            long v = strtol(env, &end, 10);
            if (*end || v < 1 || v > 4096)
                return OFA_ERR(OFA_E_CONFIG, "OFA_THREADS='%s': expected a positive integer", env);
            n = (int)v;
        } else {
            n = cores;
        }
    }
    return n > cores ? cores : n;
}

void ofa_set_blas_threads(int n) { ofa_par_set_threads(n); }

double ofa_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

int ofa_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return OFA_ERR(OFA_E_IO, "invalid directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0775) != 0 && errno != EEXIST)
                return OFA_ERR(OFA_E_IO, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return OFA_ERR(OFA_E_IO, "%s: not a directory", path);
    return 0;
}

int ofa_mkdirs_for(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash || slash == file) return 0;
    char dir[4096];
    if ((size_t)(slash - file) >= sizeof dir) return OFA_ERR(OFA_E_IO, "%.200s...: path too long", file);
    memcpy(dir, file, (size_t)(slash - file));
    dir[slash - file] = '\0';
    return ofa_mkdirs(dir);
}

int ofa_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int ofa_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int ofa_refuse_output_is_input(const char *opt, const char *out, const char *in)
{
    struct stat so, si;
    if (!out || !in || stat(out, &so) != 0 || stat(in, &si) != 0) return 0;
    if (so.st_dev != si.st_dev || so.st_ino != si.st_ino) return 0;
    return OFA_ERR(OFA_E_USAGE, "%s %s is the input file %s: writing it would replace the input; choose another name",
                   opt, out, in);
}

int ofa_jsonl_open(ofa_jsonl *j, const char *path)
{
    j->f = fopen(path, "a");
    if (!j->f) return OFA_ERR(OFA_E_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    return 0;
}

int ofa_jsonl_drop_after(ofa_jsonl *j, const char *path, const char *stage, int64_t step, int64_t *dropped)
{
    *dropped = 0;
    if (j->f) fclose(j->f);
    j->f = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? ofa_jsonl_open(j, path) : OFA_ERR(OFA_E_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, got;
    char *text = ofa_xmalloc(cap);
    while ((got = fread(text + n, 1, cap - n - 1, f)) > 0)
        if ((n += got) + 1 >= cap) text = ofa_xrealloc(text, cap *= 2);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return OFA_ERR(OFA_E_IO, "%s: read error", path);
    }
    text[n] = '\0';
    char want[96];
    snprintf(want, sizeof want, "\"stage\":\"%s\"", stage);
    char *out = ofa_xmalloc(n + 1);
    size_t k = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) { /* cut off by a kill mid-write: not a line */
            ++*dropped;
            break;
        }
        *nl = '\0';
        const char *st = strstr(line, want), *at = strstr(line, "\"step\":");
        int drop = st && at && strtoll(at + 7, NULL, 10) > step;
        if (drop) {
            ++*dropped;
        } else {
            memcpy(out + k, line, (size_t)(nl - line));
            k += (size_t)(nl - line);
            out[k++] = '\n';
        }
        line = nl + 1;
    }
    int rc = *dropped ? ofa_afile_write(path, out, k) : 0;
    free(out);
    free(text);
    if (rc < 0) return rc;
    return ofa_jsonl_open(j, path);
}

void ofa_utc_now(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char s[24];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03dZ", s, (int)(ts.tv_nsec / 1000000));
}

void ofa_run_id_make(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    uint64_t h = ofa_fnv1a_str(host);
    long pid = (long)getpid();
    h = ofa_fnv1a(h, &pid, sizeof pid);
    h = ofa_fnv1a(h, &ts, sizeof ts);
    char s[24];
    strftime(s, sizeof s, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, n, "%s-%06x", s, (unsigned)(h & 0xffffff));
}

_Static_assert(sizeof ofa_g_run_id == OFA_RUN_ID_MAX, "core/state.h and core/sys.h agree");

void ofa_run_id_set(const char *id) { snprintf(ofa_g_run_id, sizeof ofa_g_run_id, "%s", id); }

const char *ofa_run_id(void)
{
    if (!ofa_g_run_id[0]) ofa_run_id_make(ofa_g_run_id, sizeof ofa_g_run_id);
    return ofa_g_run_id;
}

void ofa_json_escape(char *buf, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s && k + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[k++] = '\\';
            buf[k++] = (char)c;
        } else if (c < 0x20) {
            k += (size_t)snprintf(buf + k, n - k, "\\u%04x", c);
        } else {
            buf[k++] = (char)c;
        }
    }
    if (n > 0) buf[k < n ? k : n - 1] = '\0';
}

const char *ofa_json_num(char *buf, size_t n, double v)
{
    if (isfinite(v)) snprintf(buf, n, "%.6g", v);
    else snprintf(buf, n, "null");
    return buf;
}

void ofa_jsonl_write(ofa_jsonl *j, const char *fmt, ...)
{
    if (!j || !j->f) return;
    char small[1024], *line = small;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    if ((size_t)w >= sizeof small) {
        line = ofa_xmalloc((size_t)w + 1);
        va_start(ap, fmt);
        vsnprintf(line, (size_t)w + 1, fmt, ap);
        va_end(ap);
    }
    OFA_ASSERT(line[0] == '{');
    char now[32];
    ofa_utc_now(now, sizeof now);
    /* one fprintf per line, so lines appended by several processes (O_APPEND) stay whole */
    fprintf(j->f, "{\"time\":\"%s\",\"run\":\"%s\"%s%s\n", now, ofa_run_id(), line[1] == '}' ? "" : ",", line + 1);
    fflush(j->f);
    if (line != small) free(line);
}

void ofa_jsonl_close(ofa_jsonl *j)
{
    if (j && j->f) fclose(j->f);
    if (j) j->f = NULL;
}

static void on_stop_signal(int sig) { ofa_g_stop_signal = sig; }

void ofa_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    /* a file size limit must fail the write (EFBIG, reported), not kill the job */
    signal(SIGXFSZ, SIG_IGN);
}

int ofa_stop_requested(void) { return (int)ofa_g_stop_signal; }

int ofa_int_arg(const char *opt, const char *val, long lo, long hi, long *out)
{
    if (!val) return OFA_ERR(OFA_E_USAGE, "%s needs a value", opt);
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || *end || end == val || v < lo || v > hi)
        return OFA_ERR(OFA_E_USAGE, "%s '%s': expected an integer in [%ld, %ld]", opt, val, lo, hi);
    *out = v;
    return 0;
}

/* Levenshtein distance of two short strings (large when too long to bother). */
int ofa_edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    if (na > 63 || nb > 63) return 99;
    /* optimal string alignment: insertions, deletions, substitutions and swaps of two neighbours
     * ("inti" is one edit from "init") */
    int d[64][64];
    for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[na][nb];
}
