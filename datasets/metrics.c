/* datasets/metrics: GLUE metrics (accuracy, F1, MCC, Pearson, Spearman), computed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/glue.h"

static long cls(float x) { return lrintf(x); }

double ofa_metric_accuracy(const float *pred, const float *gold, int64_t n)
{
    if (n <= 0) return 0.0;
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) ok += cls(pred[i]) == cls(gold[i]);
    return (double)ok / (double)n;
}

static void confusion(const float *pred, const float *gold, int64_t n, double *tp, double *fp, double *fn, double *tn)
{
    *tp = *fp = *fn = *tn = 0;
    for (int64_t i = 0; i < n; i++) {
        int p = cls(pred[i]) == 1, g = cls(gold[i]) == 1;
        if (p && g) *tp += 1;
        else if (p) *fp += 1;
        else if (g) *fn += 1;
        else *tn += 1;
    }
}

double ofa_metric_f1(const float *pred, const float *gold, int64_t n)
{
    double tp, fp, fn, tn;
    confusion(pred, gold, n, &tp, &fp, &fn, &tn);
    double d = 2 * tp + fp + fn;
    return d > 0 ? 2 * tp / d : 0.0;
}

double ofa_metric_mcc(const float *pred, const float *gold, int64_t n)
{
    double tp, fp, fn, tn;
    confusion(pred, gold, n, &tp, &fp, &fn, &tn);
    double d = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn);
    return d > 0 ? (tp * tn - fp * fn) / sqrt(d) : 0.0;
}

static double pearson_d(const double *x, const double *y, int64_t n)
{
    if (n < 2) return 0.0;
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0.0;
}

double ofa_metric_pearson(const float *x, const float *y, int64_t n)
{
    if (n < 2) return 0.0;
    double *a = ofa_xmalloc((size_t)n * 2 * sizeof *a), *b = a + n;
    for (int64_t i = 0; i < n; i++) {
        a[i] = x[i];
        b[i] = y[i];
    }
    double r = pearson_d(a, b, n);
    free(a);
    return r;
}

typedef struct vi {
    double v;
    int64_t i;
} vi;

static int vi_cmp(const void *pa, const void *pb)
{
    const vi *a = pa, *b = pb;
    if (a->v < b->v) return -1;
    if (a->v > b->v) return 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* ranks 1..n, ties get the average of their ranks */
static void ranks(const float *x, int64_t n, double *r, vi *tmp)
{
    for (int64_t i = 0; i < n; i++) tmp[i] = (vi){x[i], i};
    qsort(tmp, (size_t)n, sizeof *tmp, vi_cmp);
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j + 1 < n && tmp[j + 1].v == tmp[i].v) j++;
        double avg = 0.5 * (double)(i + j) + 1.0;
        for (int64_t k = i; k <= j; k++) r[tmp[k].i] = avg;
        i = j + 1;
    }
}

double ofa_metric_spearman(const float *x, const float *y, int64_t n)
{
    if (n < 2) return 0.0;
    double *rx = ofa_xmalloc((size_t)n * 2 * sizeof *rx), *ry = rx + n;
    vi *tmp = ofa_xmalloc((size_t)n * sizeof *tmp);
    ranks(x, n, rx, tmp);
    ranks(y, n, ry, tmp);
    double r = pearson_d(rx, ry, n);
    free(tmp);
    free(rx);
    return r;
}

void ofa_glue_metrics(int task, const float *pred, const float *gold, int64_t n, ofa_metrics *m)
{
    const ofa_task_info *ti = ofa_task_get(task);
    memset(m, 0, sizeof *m);
    m->main_name = ti->metric;
    if (ti->num_labels == 1) {
        m->pearson = ofa_metric_pearson(pred, gold, n);
        m->spearman = ofa_metric_spearman(pred, gold, n);
    } else {
        m->accuracy = ofa_metric_accuracy(pred, gold, n);
        if (task == OFA_TASK_MRPC || task == OFA_TASK_QQP) m->f1 = ofa_metric_f1(pred, gold, n);
        if (task == OFA_TASK_COLA) m->mcc = ofa_metric_mcc(pred, gold, n);
    }
    if (strcmp(ti->metric, "mcc") == 0) m->main = m->mcc;
    else if (strcmp(ti->metric, "f1") == 0) m->main = m->f1;
    else if (strcmp(ti->metric, "pearson") == 0) m->main = m->pearson;
    else m->main = m->accuracy;
}
