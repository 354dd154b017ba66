#include "tests/testutil.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[512];

static void cleanup_tmp(void)
{
    if (g_tmp[0] && !getenv("OFA_KEEP_TMP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_tmp);
    }
}

const char *tu_tmpdir(void)
{
    if (!g_tmp[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(g_tmp, sizeof g_tmp, "%s/ofa-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(g_tmp)) {
            perror("mkdtemp");
            abort();
        }
        atexit(cleanup_tmp);
    }
    return g_tmp;
}

const char *tu_path(const char *name)
{
    static char slots[8][1024];
    static int next;
    char *p = slots[next++ % 8];
    snprintf(p, 1024, "%s/%s", tu_tmpdir(), name);
    return p;
}

const char *tu_write_file(const char *name, const char *text)
{
    const char *p = tu_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        abort();
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return p;
}

int tu_run_ofa(const char *args, char **out)
{
    const char *bin = getenv("OFA_BIN");
    if (!bin || !*bin) bin = "build/ofa";
    const char *log = tu_path("ofa-run.log");
    size_t n = strlen(bin) + strlen(args) + strlen(log) + 32;
    char *cmd = malloc(n);
    snprintf(cmd, n, "%s %s >'%s' 2>&1", bin, args, log);
    int st = system(cmd);
    free(cmd);
    if (out) {
        FILE *f = fopen(log, "rb");
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        if (f) {
            size_t r;
            while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
                len += r;
                if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
            }
            fclose(f);
        }
        buf[len] = '\0';
        *out = buf;
    }
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

const char *tu_glue_dir(void)
{
    const char *g = getenv("GLUE_DIR");
    struct stat sb;
    if (g && *g && stat(g, &sb) == 0) return g;
    if (stat("../shared/data/glue", &sb) == 0) return "../shared/data/glue";
    return NULL;
}

int tu_quick(void)
{
    const char *q = getenv("OFA_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

double tu_max_rel_err(const char *name, const float *a, const float *b, size_t n, double floor_, double tol)
{
    double worst = 0;
    int shown = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double s = fabs((double)b[i]);
        double e = d / (s > floor_ ? s : floor_);
        if (!(e <= worst)) worst = e; /* NaN propagates */
        if (!(e <= tol) && shown < 5) {
            fprintf(stderr, "  %s[%zu]: got %.9g want %.9g (rel err %.3g > %.3g)\n", name, i, (double)a[i],
                    (double)b[i], e, tol);
            shown++;
        }
    }
    return worst;
}

double tu_norm_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num) / (den > 1e-30 ? sqrt(den) : 1e-15);
}

double tu_norm_err_d(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = a[i] - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    return sqrt(num) / (den > 1e-30 ? sqrt(den) : 1e-15);
}

int tu_cunit_error(void)
{
    CU_ErrorCode e = CU_get_error();
    return (int)e;
}

char *tu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    if (b) b[n] = 0;
    return b;
}
