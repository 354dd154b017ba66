/* core/dirlock: see dirlock.h. */
#include "core/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"

/* The holder's line, "pid 123 host node7 command teacher since 2024-05-01T10:00:00", read while it
 * holds the lock; it writes it right after locking, so an empty file is retried for a moment. */
static void read_holder(int fd, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int tries = 0; tries < 50; tries++) {
        ssize_t n = pread(fd, buf, cap - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            char *nl = strchr(buf, '\n');
            if (nl) {
                *nl = '\0';
                return;
            }
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    buf[0] = '\0';
}

int ofa_dirlock_acquire(ofa_dirlock *l, const char *dir, const char *command)
{
    l->fd = -1;
    char path[OFA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/" OFA_DIRLOCK_FILE, dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return OFA_ERR(OFA_E_IO, "%s: cannot create the output folder's lock file: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char who[512], pid[32] = "?", host[256] = "?", cmd[64] = "?";
            read_holder(fd, who, sizeof who);
            close(fd);
            if (sscanf(who, "pid %31s host %255s command %63s", pid, host, cmd) != 3)
                return OFA_ERR(OFA_E_RUNTIME,
                               "%s is in use by another ofa run (%s is locked); wait for it or use another "
                               "experiment.output_dir",
                               dir, path);
            return OFA_ERR(OFA_E_RUNTIME,
                           "%s is in use by pid %s on %s (ofa %s); wait for it or use another experiment.output_dir",
                           dir, pid, host, cmd);
        }
        close(fd);
        if (e == ENOLCK || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL) { /* a file system without locks */
            OFA_WARN("%s: cannot lock (%s): two runs on %s at once would not be detected", path, strerror(e), dir);
            return 0;
        }
        return OFA_ERR(OFA_E_IO, "%s: cannot lock: %s", path, strerror(e));
    }
    char host[256] = "?", line[512], since[32] = "?";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm)) strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(line, sizeof line, "pid %ld host %s command %s since %s\n", (long)getpid(), host,
                     command && *command ? command : "?", since);
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    /* informational only: a failure to write it does not stop the run */
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n)
        OFA_WARN("%s: cannot record the holder: %s", path, strerror(errno));
    l->fd = fd;
    return 0;
}

void ofa_dirlock_release(ofa_dirlock *l)
{
    if (!l || l->fd < 0) return;
    /* emptied while still held, so a stale line is never shown for a later holder */
    int rc = ftruncate(l->fd, 0);
    (void)rc; /* on failure the line stays: harmless, it is read only while the lock is held */
    close(l->fd);
    l->fd = -1;
}
