/* tests/fuzz/fuzz_common.h: helpers shared by the libFuzzer targets (make fuzz).  Each target is
 * one file defining LLVMFuzzerTestOneInput; the readers under test take files, so an input is
 * written to a scratch file first (under $TMPDIR, one per process).  Errors are expected results
 * (the reader must refuse bad input with a message); only a crash, a sanitizer report, a leak or a
 * hang is a finding. */
#ifndef OFA_TESTS_FUZZ_COMMON_H
#define OFA_TESTS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

/* A scratch folder of this process ($TMPDIR or /tmp), made once. */
static inline const char *fuzz_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/ofa-fuzz-%ld", t && *t ? t : "/tmp", (long)getpid());
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        if (system(cmd) != 0) abort();
        ofa_log_set_level(OFA_LOG_OFF); /* the readers' warnings are not findings */
    }
    return dir;
}

/* Writes data[0..n) to path (aborts when it cannot: that is the harness's fault, not the input's). */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) abort();
}

#endif
