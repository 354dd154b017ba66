#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/state.h"

void ofa_log_set_level(int level) { ofa_g_log_level = level; }
int ofa_log_get_level(void) { return ofa_g_log_level; }
int ofa_log_rank(void) { return ofa_g_log_rank; }

void ofa_log_set_rank(int rank, int size)
{
    ofa_g_log_rank = rank;
    ofa_g_log_size = size;
}

static const char *const g_level_names[] = {"debug", "info", "warn", "error", "off"};
_Static_assert(sizeof g_level_names / sizeof g_level_names[0] == OFA_LOG_LEVEL_COUNT, "one name per ofa_log_level");

const char *ofa_log_level_name(int level)
{
    OFA_ASSERT(level >= 0 && level < OFA_LOG_LEVEL_COUNT);
    return g_level_names[level];
}

int ofa_log_level_parse(const char *s)
{
    for (int i = 0; i < OFA_LOG_LEVEL_COUNT; i++)
        if (strcmp(s, g_level_names[i]) == 0) return i;
    return -1;
}

static void vlog(int level, const char *fmt, va_list ap)
{
    static const char *tags[] = {"debug", "info", "warn", "error"};
    char line[4096];
    int n = 0;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    n += (int)strftime(line, sizeof line, "%H:%M:%S ", &tm);
    if (ofa_g_log_size > 1)
        n += snprintf(line + n, sizeof line - (size_t)n, "[rank %d] ", ofa_g_log_rank);
    if (level != OFA_LOG_INFO)
        n += snprintf(line + n, sizeof line - (size_t)n, "%s: ", tags[level < 4 ? level : 3]);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line);
}

void ofa_log_(int level, const char *fmt, ...)
{
    if (level < OFA_LOG_WARN && ofa_g_log_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void ofa_log_any_(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}
