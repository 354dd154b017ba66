/* core/dirlock: one run per output folder.
 *
 * ofa_dirlock_acquire takes an exclusive flock(2) on "<dir>/.ofa.lock" (created if needed) and
 * writes the holder's pid, host and command into it; a second run on the same folder fails at once
 * (OFA_E_RUNTIME, "<dir> is in use by pid N on HOST (ofa teacher); wait for it or use another
 * experiment.output_dir").  The kernel drops the lock when the holder exits, however it ends, so a
 * crashed run never leaves the folder locked; the file stays, its content is only read while
 * someone holds the lock.  flock works across nodes on NFS (Linux emulates it with POSIX locks)
 * and Lustre/GPFS mounted with locking; on a file system without locks the run goes on with a
 * warning.  Not collective: rank 0 takes it for the job (cli/mpi.c), the other ranks learn a
 * failure through the error agreement.  The lock file descriptor is close-on-exec.
 */
#ifndef OFA_CORE_DIRLOCK_H
#define OFA_CORE_DIRLOCK_H

typedef struct ofa_dirlock {
    int fd; /* -1 when not held */
} ofa_dirlock;

#define OFA_DIRLOCK_INIT {-1}
#define OFA_DIRLOCK_FILE ".ofa.lock"

/* dir must exist.  command names what holds it ("teacher", "run"), shown to a second run. */
int ofa_dirlock_acquire(ofa_dirlock *l, const char *dir, const char *command);
/* Releases (NULL-safe; nothing to do when not held). */
void ofa_dirlock_release(ofa_dirlock *l);

#endif
