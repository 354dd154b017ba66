/* core/afile: see afile.h. */
#include "core/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* ---- temporary files removed when a signal ends the process ---- */
enum { TMP_SLOTS = 8 };
static char g_tmp[TMP_SLOTS][OFA_PATH_MAX + 8];
static volatile sig_atomic_t g_tmp_used[TMP_SLOTS];

static void remove_tmp_and_die(int sig)
{
    for (int i = 0; i < TMP_SLOTS; i++)
        if (g_tmp_used[i]) unlink(g_tmp[i]); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

void ofa_tmp_track(const char *tmp)
{
    static int installed;
    if (!installed) {
        installed = 1;
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
            struct sigaction old, sa;
            if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL) continue;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = remove_tmp_and_die;
            sigemptyset(&sa.sa_mask);
            sigaction(sigs[i], &sa, NULL);
        }
    }
    for (int i = 0; i < TMP_SLOTS; i++)
        if (!g_tmp_used[i]) {
            snprintf(g_tmp[i], sizeof g_tmp[i], "%s", tmp);
            g_tmp_used[i] = 1;
            return;
        }
}

void ofa_tmp_untrack(const char *tmp)
{
    for (int i = 0; i < TMP_SLOTS; i++)
        if (g_tmp_used[i] && !strcmp(g_tmp[i], tmp)) {
            g_tmp_used[i] = 0;
            return;
        }
}

int ofa_afile_open(ofa_afile *a, const char *path)
{
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    if (n == 0) return OFA_ERR(OFA_E_IO, "empty output file name");
    if (n >= sizeof a->path) return OFA_ERR(OFA_E_IO, "%.200s...: path too long", path);
    memcpy(a->path, path, n + 1);
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) { /* /dev/stdout, a FIFO: written in place */
        a->f = fopen(path, "wbe");
        if (!a->f) return OFA_ERR(OFA_E_IO, "%s: cannot open for writing: %s", path, strerror(errno));
        return 0;
    }
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp", path);
    a->f = fopen(a->tmp, "wbe"); /* e: O_CLOEXEC */
    if (!a->f) return OFA_ERR(OFA_E_IO, "%s: cannot create '%s': %s", path, a->tmp, strerror(errno));
    ofa_tmp_track(a->tmp);
    return 0;
}

/* records the failure, removes the temporary file and leaves errno = e; returns OFA_E_IO */
static int fail(ofa_afile *a, int e, const char *what)
{
    int rc = a->tmp[0] ? OFA_ERR(OFA_E_IO, "%s: cannot %s '%s': %s%s", a->path, what, a->tmp, strerror(e),
                                 e == ENOSPC || e == EFBIG || e == EDQUOT ? " (the previous file is kept)" : "")
                       : OFA_ERR(OFA_E_IO, "%s: cannot write: %s", a->path, strerror(e));
    if (a->tmp[0]) {
        unlink(a->tmp);
        ofa_tmp_untrack(a->tmp);
    }
    errno = e;
    return rc;
}

int ofa_afile_commit(ofa_afile *a)
{
    OFA_ASSERT(a->f);
    FILE *f = a->f;
    a->f = NULL;
    /* a write that failed earlier (fwrite/fprintf unchecked by the caller) leaves the error flag */
    errno = 0;
    int ok = fflush(f) == 0 && !ferror(f);
    int e = errno ? errno : EIO;
    if (!a->tmp[0]) { /* not a regular file: nothing to sync or rename */
        if (fclose(f) != 0 && ok) {
            ok = 0;
            e = errno;
        }
        return ok ? 0 : fail(a, e, "write");
    }
    if (ok && fsync(fileno(f)) != 0) {
        ok = 0;
        e = errno;
    }
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) return fail(a, e, "write");
    if (rename(a->tmp, a->path) != 0) return fail(a, errno, "rename to it");
    ofa_tmp_untrack(a->tmp);
    return ofa_fsync_dir_of(a->path);
}

void ofa_afile_abort(ofa_afile *a)
{
    if (!a || !a->f) return;
    int e = errno;
    fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) {
        unlink(a->tmp);
        ofa_tmp_untrack(a->tmp);
    }
    errno = e;
}

int ofa_afile_write(const char *path, const void *data, size_t n)
{
    ofa_afile a;
    OFA_TRY(ofa_afile_open(&a, path));
    if (n > 0 && fwrite(data, 1, n, a.f) != n) {
        int e = errno;
        fclose(a.f);
        a.f = NULL;
        return fail(&a, e, "write");
    }
    return ofa_afile_commit(&a);
}

int ofa_fsync_dir_of(const char *path)
{
    char dir[OFA_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        errno = e;
        return OFA_ERR(OFA_E_IO, "%s: cannot fsync folder '%s': %s", path, dir, strerror(e));
    }
    close(fd);
    return 0;
}
