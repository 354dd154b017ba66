/* core/sys: small operating-system helpers: usable cores, BLAS threads, peak RSS, directories,
 * and the metrics.jsonl appender. */
#ifndef OFA_CORE_SYS_H
#define OFA_CORE_SYS_H

#include <stdint.h>
#include <stdio.h>

/* Cores this process may run on (sched_getaffinity). */
int ofa_usable_cores(void);
/* BLAS threads to use: `configured` when > 0, else $OFA_THREADS when set, else the usable cores;
 * never more than the usable cores.  A bad $OFA_THREADS is OFA_E_CONFIG. Returns threads or < 0. */
int ofa_resolve_threads(int configured);
/* BLAS threads, and as many for the element-wise kernels between BLAS calls (core/par). */
void ofa_set_blas_threads(int n);
/* Peak resident set size of this process in MiB. */
double ofa_peak_rss_mib(void);
/* mkdir -p; OFA_E_IO naming the path on failure. */
int ofa_mkdirs(const char *path);
/* mkdir -p of the folder a file will be written in (nothing for a bare file name). */
int ofa_mkdirs_for(const char *file);
int ofa_file_exists(const char *path);
/* 1 when path is a folder (or a link to one). */
int ofa_is_dir(const char *path);
/* OFA_E_USAGE when the output path `out` names the same file (device and inode, so other spellings
 * and links count) as the input `in`: a command would replace its own input.  `opt` is the option
 * that gave out ("-o", "--predictions").  0 when out does not exist yet or is another file. */
int ofa_refuse_output_is_input(const char *opt, const char *out, const char *in);

/* SIGTERM and SIGUSR1 ask a long run to checkpoint at the next step boundary and exit with
 * OFA_EXIT_REQUEUE (99).  ofa_stop_requested returns the signal number received, 0 if none. */
void ofa_signals_install(void);
int ofa_stop_requested(void);

/* The run id: one per job (ofa invocation), the same on every rank, in every metrics.jsonl line.
 * ofa_run_id makes one on first use ("20250102T030405Z-3fa9c2": UTC start time and 24 random bits
 * from the clock, pid and host) unless ofa_run_id_set gave it (the MPI job: made on rank 0 and
 * broadcast, cli/job.c).  ofa_run_id_make writes a fresh one into buf (>= 32 bytes). */
#define OFA_RUN_ID_MAX 40
const char *ofa_run_id(void);
void ofa_run_id_set(const char *id);
void ofa_run_id_make(char *buf, size_t n);
/* The current UTC time with milliseconds, "2025-01-02T03:04:05.678Z" (buf >= 32 bytes). */
void ofa_utc_now(char *buf, size_t n);

/* metrics.jsonl: one JSON object per line, flushed after each line; every line starts with
 * "time" (ofa_utc_now) and "run" (ofa_run_id), then the fields of fmt (which is a whole object,
 * "{...}"). */
typedef struct ofa_jsonl {
    FILE *f;
} ofa_jsonl;
int ofa_jsonl_open(ofa_jsonl *j, const char *path); /* appends */
void ofa_jsonl_write(ofa_jsonl *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* On resume from `step`: the lines of `stage` ("stage":"teacher") whose "step" is past it (logged
 * after the checkpoint, before a kill; they are logged again) and a last line cut off mid-write are
 * removed, the file rewritten atomically (core/afile) and j reopened for appending.  *dropped gets
 * their count. */
int ofa_jsonl_drop_after(ofa_jsonl *j, const char *path, const char *stage, int64_t step, int64_t *dropped);
void ofa_jsonl_close(ofa_jsonl *j);
/* s as a JSON string body (quotes, backslashes and control characters escaped; no surrounding
 * quotes), cut to fit buf. */
void ofa_json_escape(char *buf, size_t n, const char *s);
/* v as a JSON number ("%.6g"), or null when it is NaN or infinite (JSON has neither); returns buf
 * (>= 32 bytes). */
const char *ofa_json_num(char *buf, size_t n, double v);

/* A command-line integer: val parsed as a whole number in [lo, hi] into *out; OFA_E_USAGE naming
 * the option otherwise ("--seq '0': expected an integer in [1, 4096]"). */
int ofa_int_arg(const char *opt, const char *val, long lo, long hi, long *out);

/* Edit distance of a[0..na) and b[0..nb) (99 when either is longer than 63): insertions, deletions,
 * substitutions and swaps of two neighbours each count 1 (optimal string alignment): "did you mean". */
int ofa_edit_distance(const char *a, size_t na, const char *b, size_t nb);

#endif
