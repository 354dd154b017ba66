/* core/timer: monotonic wall time, and a progress line with rate and ETA for long loops.
 *
 * ofa_progress prints at most every `interval` seconds (and always at the end) to stderr, from
 * rank 0 only, e.g. "teacher  step 120/6300 (1.9%)  loss 0.4312  lr 4.1e-04  5234 tok/s  ETA 5m12s".
 */
#ifndef OFA_CORE_TIMER_H
#define OFA_CORE_TIMER_H

#include <stdint.h>
#include <stdio.h>

double ofa_now(void); /* seconds, monotonic */

typedef struct ofa_progress {
    char label[32];
    int64_t total;      /* units of work (steps); 0 = unknown */
    int64_t done_start; /* work already done when started (resume) */
    double t_start, t_last, interval;
    double items;       /* rate items (tokens) accumulated since start */
    char unit[16];      /* what the items are, for the rate: "tok" unless set (ofa_progress_set_unit) */
} ofa_progress;

void ofa_progress_init(ofa_progress *p, const char *label, int64_t total, int64_t done_start, double interval);
/* names the rate's items ("img" prints "12 img/s"); NULL or "" keeps "tok" */
void ofa_progress_set_unit(ofa_progress *p, const char *unit);
/* Report that `done` units are complete, with `items` rate items since the last call; `extra` is
 * appended verbatim (e.g. "loss 0.43  lr 1e-4").  Prints when the interval elapsed or force. */
void ofa_progress_update(ofa_progress *p, int64_t done, double items, const char *extra, int force);
/* Sorts v[0..n) (n >= 1) ascending in place and returns its median (the mean of the middle two for
 * even n): the statistic every timing loop reports. */
double ofa_median_sort(double *v, int n);

/* Formats seconds as "1h02m", "5m12s", "12.3s". */
void ofa_format_duration(char *buf, size_t n, double seconds);

#endif
