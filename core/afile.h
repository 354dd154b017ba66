/* core/afile: text and other non-HDF5 output files written atomically (Redis-style persistence).
 *
 *   ofa_afile a;
 *   OFA_TRY(ofa_afile_open(&a, "out/pareto.csv"));   // a.f is "out/pareto.csv.tmp"
 *   fprintf(a.f, ...);                               // write errors are caught at commit
 *   rc = ofa_afile_commit(&a);                       // or ofa_afile_abort(&a) to give up
 *
 * Commit flushes, fsyncs and closes the temporary file, renames it over `path` and fsyncs the folder,
 * so `path` is either the previous file or the complete new one, also after a crash, a full disk or a
 * file size limit.  On any failure the temporary file is removed, `path` is untouched, errno is the
 * failing call's and an OFA_E_IO message names both files.  Abort is NULL-safe and may follow a
 * commit (it then does nothing).  HDF5 files use core/h5io, which works the same way; append logs
 * (metrics.jsonl) use core/sys's ofa_jsonl.  One writer per path at a time (the temporary file's
 * name is fixed: a stale one from a crash is overwritten by the next write).  A path that exists
 * and is not a regular file (/dev/stdout, a FIFO) is written in place.  Not collective.
 */
#ifndef OFA_CORE_AFILE_H
#define OFA_CORE_AFILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/config.h"

typedef struct ofa_afile {
    FILE *f;                   /* write here; NULL when closed */
    char path[OFA_PATH_MAX];   /* the final file */
    char tmp[OFA_PATH_MAX + 8]; /* "<path>.tmp" beside it (same file system: rename is atomic);
                                   "" when path is written in place */
} ofa_afile;

/* Creates "<path>.tmp" for writing ("wb"); OFA_E_IO naming both paths on failure (a->f NULL). */
int ofa_afile_open(ofa_afile *a, const char *path);
/* Publishes the file at path (see above); a->f is NULL afterwards, whatever the result. */
int ofa_afile_commit(ofa_afile *a);
/* Closes and removes the temporary file; path is untouched.  Keeps errno. */
void ofa_afile_abort(ofa_afile *a);
/* The whole file in one call: open, write n bytes of data, commit. */
int ofa_afile_write(const char *path, const void *data, size_t n);
/* fsync the folder holding path (after a rename into it); OFA_E_IO naming the folder. */
int ofa_fsync_dir_of(const char *path);

/* Temporary files being written (afile's and core/h5io's "<path>.tmp"): when SIGINT, SIGTERM or
 * SIGHUP ends the process, they are removed before it dies of the signal, so an interrupted
 * `ofa import` or `ofa export` leaves no half-written file.  Only signals whose disposition is
 * still the default when the first file is tracked are caught (a stage's own SIGTERM handling,
 * core/sys's ofa_signals_install, is left alone).  Up to 8 at a time; not thread-safe (files are
 * written by the main thread). */
void ofa_tmp_track(const char *tmp);
void ofa_tmp_untrack(const char *tmp);

#endif
