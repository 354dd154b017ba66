#include "core/timer.h"

#include <stdlib.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"

double ofa_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ofa_median_sort(double *v, int n)
{
    OFA_ASSERT(n >= 1);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void ofa_format_duration(char *buf, size_t n, double s)
{
    if (s < 0) s = 0;
    if (s < 60) snprintf(buf, n, "%.1fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

void ofa_progress_init(ofa_progress *p, const char *label, int64_t total, int64_t done_start, double interval)
{
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->done_start = done_start;
    p->t_start = p->t_last = ofa_now();
    p->interval = interval;
    p->items = 0;
    snprintf(p->unit, sizeof p->unit, "tok");
}

void ofa_progress_set_unit(ofa_progress *p, const char *unit)
{
    if (unit && *unit) snprintf(p->unit, sizeof p->unit, "%s", unit);
}

void ofa_progress_update(ofa_progress *p, int64_t done, double items, const char *extra, int force)
{
    p->items += items;
    double now = ofa_now();
    if (!force && now - p->t_last < p->interval) return;
    p->t_last = now;
    double el = now - p->t_start;
    double rate = el > 0 ? p->items / el : 0;
    char eta[32] = "?", elapsed[32];
    int64_t work = done - p->done_start;
    if (p->total > 0 && work > 0) ofa_format_duration(eta, sizeof eta, el / (double)work * (double)(p->total - done));
    ofa_format_duration(elapsed, sizeof elapsed, el);
    char rate_s[32] = "";
    if (p->items > 0) snprintf(rate_s, sizeof rate_s, "  %.0f %s/s", rate, p->unit);
    if (p->total > 0)
        OFA_INFO("%s  step %lld/%lld (%.1f%%)  %s%s  elapsed %s  ETA %s", p->label, (long long)done,
                 (long long)p->total, 100.0 * (double)done / (double)p->total, extra ? extra : "", rate_s, elapsed, eta);
    else
        OFA_INFO("%s  step %lld  %s%s  elapsed %s", p->label, (long long)done, extra ? extra : "", rate_s, elapsed);
}
