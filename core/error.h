/* core/error: error codes, the per-thread error record, assertions and the allocation policy.
 *
 * Library functions return int: 0 on success, a negative OFA_E_* code on failure, and leave a
 * human message in the calling thread's error record (like errno, but with text and the source
 * location that raised it).  The message itself names the user's file, key or line; the source
 * location is for developers and is shown at debug log level.  Only main() turns a code into an
 * exit status (ofa_exit_status).  Programmer errors use OFA_ASSERT, which aborts with the location
 * in every build.  Allocation failure is one policy: ofa_xmalloc and friends abort with a message.
 */
#ifndef OFA_CORE_ERROR_H
#define OFA_CORE_ERROR_H

#include <stddef.h>

enum ofa_status {
    OFA_OK = 0,
    OFA_E_USAGE = -1,   /* bad command line */
    OFA_E_CONFIG = -2,  /* bad YAML config: syntax, key, type, range */
    OFA_E_IO = -3,      /* a file could not be opened, read or written */
    OFA_E_FORMAT = -4,  /* a file exists but is not what we expect (foreign, truncated, corrupt) */
    OFA_E_VERSION = -5, /* a file of a newer format_version than this build reads */
    OFA_E_DATA = -6,    /* malformed dataset content (TSV row, label) */
    OFA_E_RUNTIME = -7, /* anything else that failed while running */
    OFA_E_MPI = -8,     /* an MPI call or a remote rank failed */
    OFA_STOPPED = -9,   /* not a failure: a signal asked the job to stop; a checkpoint was written
                           (exit status OFA_EXIT_REQUEUE: "checkpointed, requeue me") */
};

#define OFA_EXIT_REQUEUE 99

/* Records an error (printf-style message) for the calling thread and returns code. */
int ofa_err_set_(int code, const char *src_file, int src_line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define OFA_ERR(code, ...) ofa_err_set_((code), __FILE__, __LINE__, __VA_ARGS__)

/* Prepends "prefix: " to the current message (adds context while unwinding); returns code. */
int ofa_err_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text to the current message (what to do about it); returns code. */
int ofa_err_suffix(int code, const char *text);
/* Appends " (in PATH)" to the current message (which file a reader was reading); returns code. */
int ofa_err_in_file(int code, const char *path);

const char *ofa_err_msg(void);   /* "" when no error is recorded */
int ofa_err_code(void);
const char *ofa_err_where(void); /* "src/file.c:123" of the OFA_ERR that raised it */
void ofa_err_clear(void);
const char *ofa_status_name(int code);

/* Exit status for a code: 0 ok, 2 usage/config errors, 1 runtime errors. */
int ofa_exit_status(int code);

void ofa_assert_fail_(const char *expr, const char *file, int line) __attribute__((noreturn));
#define OFA_ASSERT(c) ((c) ? (void)0 : ofa_assert_fail_(#c, __FILE__, __LINE__))

/* Propagate a failing call: `OFA_TRY(f(x));` returns its code from the enclosing function. */
#define OFA_TRY(call)                                                                              \
    do {                                                                                           \
        int ofa_try_rc_ = (call);                                                                  \
        if (ofa_try_rc_ < 0) return ofa_try_rc_;                                                   \
    } while (0)

/* Allocation: abort with a message on failure (out of memory is not recoverable here). */
void *ofa_xmalloc(size_t n);
void *ofa_xcalloc(size_t count, size_t size);
void *ofa_xrealloc(void *p, size_t n);
char *ofa_xstrdup(const char *s);
/* 64-byte aligned, zeroed (ofa_zero_pages); release with free(). */
void *ofa_xalloc_aligned(size_t n);
/* As ofa_xalloc_aligned, for arrays read through again and again (weights, inference workspaces):
 * from 8 MiB on, 2 MiB aligned and marked for transparent huge pages (MADV_HUGEPAGE; the hosts
 * here run THP in madvise mode), so streaming them costs 512x fewer page faults and TLB misses. */
void *ofa_xalloc_huge(size_t n);
/* memset(p, 0, n) for memory from malloc; from 1 MiB on, the whole pages inside are given back to
 * the kernel instead of written, so they read as zero and take no memory until written. */
void ofa_zero_pages(void *p, size_t n);

#endif
