#include "core/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/state.h"

int ofa_err_set_(int code, const char *src_file, int src_line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ofa_g_err.msg, sizeof ofa_g_err.msg, fmt, ap);
    va_end(ap);
    ofa_g_err.code = code;
    ofa_g_err.src_file = src_file;
    ofa_g_err.src_line = src_line;
    return code;
}

int ofa_err_prefix(int code, const char *fmt, ...)
{
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    size_t cap = sizeof ofa_g_err.msg, hl = strlen(head), ol = strlen(ofa_g_err.msg);
    if (hl + 2 >= cap) hl = cap - 3;
    if (hl + 2 + ol >= cap) ol = cap - 1 - hl - 2; /* the old message is cut, the context kept */
    memmove(ofa_g_err.msg + hl + 2, ofa_g_err.msg, ol);
    memcpy(ofa_g_err.msg, head, hl);
    ofa_g_err.msg[hl] = ':';
    ofa_g_err.msg[hl + 1] = ' ';
    ofa_g_err.msg[hl + 2 + ol] = '\0';
    if (ofa_g_err.code == 0) ofa_g_err.code = code;
    return code;
}

int ofa_err_suffix(int code, const char *text)
{
    size_t cap = sizeof ofa_g_err.msg, ol = strlen(ofa_g_err.msg);
    snprintf(ofa_g_err.msg + ol, cap - ol, "%s", text);
    if (ofa_g_err.code == 0) ofa_g_err.code = code;
    return code;
}

int ofa_err_in_file(int code, const char *path)
{
    char text[sizeof ofa_g_err.msg];
    snprintf(text, sizeof text, " (in %s)", path);
    return ofa_err_suffix(code, text);
}

const char *ofa_err_msg(void) { return ofa_g_err.msg; }
int ofa_err_code(void) { return ofa_g_err.code; }

const char *ofa_err_where(void)
{
    static _Thread_local char where[300];
    if (!ofa_g_err.src_file) return "";
    snprintf(where, sizeof where, "%s:%d", ofa_g_err.src_file, ofa_g_err.src_line);
    return where;
}

void ofa_err_clear(void)
{
    ofa_g_err.code = 0;
    ofa_g_err.msg[0] = '\0';
    ofa_g_err.src_file = NULL;
    ofa_g_err.src_line = 0;
}

const char *ofa_status_name(int code)
{
    switch (code) {
    case OFA_OK: return "ok";
    case OFA_E_USAGE: return "usage error";
    case OFA_E_CONFIG: return "config error";
    case OFA_E_IO: return "I/O error";
    case OFA_E_FORMAT: return "format error";
    case OFA_E_VERSION: return "version error";
    case OFA_E_DATA: return "data error";
    case OFA_E_RUNTIME: return "runtime error";
    case OFA_E_MPI: return "MPI error";
    case OFA_STOPPED: return "stopped by a signal";
    default: return "unknown error";
    }
}

int ofa_exit_status(int code)
{
    if (code >= 0) return 0;
    if (code == OFA_STOPPED) return OFA_EXIT_REQUEUE;
    return (code == OFA_E_USAGE || code == OFA_E_CONFIG) ? 2 : 1;
}

void ofa_assert_fail_(const char *expr, const char *file, int line)
{
    fprintf(stderr, "ofa: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}

static void oom(size_t n)
{
    fprintf(stderr, "ofa: out of memory allocating %zu bytes\n", n);
    fflush(stderr);
    abort();
}

void *ofa_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *ofa_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *ofa_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *ofa_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ofa_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

/* Zeroing a large block by writing would make every page of it resident.  Instead the block's
 * whole pages are handed back to the kernel (MADV_DONTNEED: private anonymous memory, which is what
 * malloc returns, then reads as zero and takes memory only when written), and only the partial
 * pages at its ends are written.  So a model's gradients and optimizer moments cost no memory in a
 * process that never trains it (a distillation teacher, predict, the search's evaluators), and a
 * page's first write is one ordinary fault.  (This replaced reading each page and writing only the
 * non-zero ones: the reads mapped the shared zero page, and every later write then cost a second
 * fault and a TLB shootdown across the threads, 3 s of a BERT-base supernet stage's start.) */
void ofa_zero_pages(void *ptr, size_t n)
{
    unsigned char *p = ptr;
    const long ps = sysconf(_SC_PAGESIZE);
    const uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096;
    const uintptr_t lo = ((uintptr_t)p + page - 1) / page * page, hi = ((uintptr_t)p + n) / page * page;
    if (n < ((size_t)1 << 20) || hi <= lo) {
        memset(p, 0, n);
        return;
    }
    memset(p, 0, lo - (uintptr_t)p);
    memset((void *)hi, 0, (uintptr_t)p + n - hi);
    if (madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0) memset((void *)lo, 0, hi - lo);
}

/* n bytes rounded up to `align` (a power of two), aligned to it, zeroed; huge: advised for THP */
static void *alloc_zeroed(size_t n, size_t align, int huge)
{
    const size_t rounded = n ? (n + align - 1) / align * align : align;
    void *p = aligned_alloc(align, rounded);
    if (!p) oom(n);
    if (huge) (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice: without THP the pages stay small */
    ofa_zero_pages(p, rounded);
    return p;
}

void *ofa_xalloc_huge(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    return n < 4 * huge ? alloc_zeroed(n, 64, 0) : alloc_zeroed(n, huge, 1);
}

void *ofa_xalloc_aligned(size_t n) { return alloc_zeroed(n, 64, 0); }
