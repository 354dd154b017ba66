/* evaluator/pareto: see pareto.h. */
#include "evaluator/pareto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/error.h"

/* ---- the front ---- */

typedef struct sort_item {
    const ofa_evo_point *pts;
    int64_t i;
} sort_item;

static int by_latency(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    const ofa_evo_point *p = &x->pts[x->i], *q = &y->pts[y->i];
    if (p->latency_ms != q->latency_ms) return p->latency_ms < q->latency_ms ? -1 : 1;
    if (p->metric != q->metric) return p->metric > q->metric ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int valid(const ofa_evo_point *p) { return !isnan(p->metric) && !isnan(p->latency_ms); }

int64_t ofa_pareto_front(const ofa_evo_point *pts, int64_t n, int64_t *idx)
{
    sort_item *s = ofa_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    int64_t m = 0, k = 0;
    for (int64_t i = 0; i < n; i++)
        if (valid(&pts[i])) s[m++] = (sort_item){pts, i};
    qsort(s, (size_t)m, sizeof *s, by_latency);
    /* sweep by latency: a point is on the front when its metric beats every faster point's, or
     * when it ties the current best at the same latency (identical pairs do not dominate). */
    double best = -INFINITY, best_lat = NAN;
    for (int64_t j = 0; j < m; j++) {
        const ofa_evo_point *p = &pts[s[j].i];
        if (p->metric > best) {
            best = p->metric;
            best_lat = p->latency_ms;
            idx[k++] = s[j].i;
        } else if (p->metric == best && p->latency_ms == best_lat) {
            idx[k++] = s[j].i;
        }
    }
    free(s);
    return k;
}

/* ---- a growable text buffer and the atomic file write ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        OFA_ASSERT(w >= 0);
        if (b->p && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->n + (size_t)w) cap *= 2;
        b->p = ofa_xrealloc(b->p, cap);
        b->cap = cap;
    }
}

/* XML text/attribute escaping. */
static void sb_xml(sbuf *b, const char *s)
{
    for (; *s; s++) switch (*s) {
        case '&':
            sb_printf(b, "&amp;");
            break;
        case '<':
            sb_printf(b, "&lt;");
            break;
        case '>':
            sb_printf(b, "&gt;");
            break;
        case '"':
            sb_printf(b, "&quot;");
            break;
        default:
            sb_printf(b, "%c", *s);
        }
}

/* ---- pareto.csv ---- */

static int by_latency_text(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    const ofa_evo_point *p = &x->pts[x->i], *q = &y->pts[y->i];
    int pn = isnan(p->latency_ms), qn = isnan(q->latency_ms);
    if (pn != qn) return pn - qn;
    if (!pn && p->latency_ms != q->latency_ms) return p->latency_ms < q->latency_ms ? -1 : 1;
    double pm = isnan(p->metric) ? -INFINITY : p->metric, qm = isnan(q->metric) ? -INFINITY : q->metric;
    if (pm != qm) return pm > qm ? -1 : 1;
    int c = strcmp(p->text, q->text);
    if (c) return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void sb_num(sbuf *b, double v)
{
    if (!isnan(v)) sb_printf(b, "%.10g", v);
}

/* a text as one CSV field without quoting: ',', '"' and line breaks become ';', '\'' and ' ' */
static void sb_field(sbuf *b, const char *s)
{
    for (; s && *s; s++) sb_printf(b, "%c", *s == ',' ? ';' : *s == '"' ? '\'' : (*s == '\n' || *s == '\r') ? ' ' : *s);
}

int ofa_pareto_write_csv(const char *path, const ofa_evo_point *pts, int64_t n, const double *budgets,
                         const int64_t *winner, int n_budgets, const char *val_rows, const char *dev_rows)
{
    return ofa_pareto_write_csv_lb(path, pts, n, budgets, winner, n_budgets, val_rows, dev_rows, 0);
}

int ofa_pareto_write_csv_lb(const char *path, const ofa_evo_point *pts, int64_t n, const double *budgets,
                            const int64_t *winner, int n_budgets, const char *val_rows, const char *dev_rows,
                            int lower_better)
{
    int64_t *front = ofa_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *front);
    unsigned char *on = ofa_xcalloc((size_t)(n > 0 ? n : 1), 1);
    int64_t nf = ofa_pareto_front(pts, n, front);
    for (int64_t j = 0; j < nf; j++) on[front[j]] = 1;
    free(front);
    sort_item *s = ofa_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    for (int64_t i = 0; i < n; i++) s[i] = (sort_item){pts, i};
    qsort(s, (size_t)n, sizeof *s, by_latency_text);
    sbuf b = {0};
    sb_printf(&b, "arch,val_metric,dev_metric,latency_ms,latency_spread_ms,params,macs,budget_ms,budget_met,"
                  "on_front,val_rows,dev_rows\n");
    for (int64_t j = 0; j < n; j++) {
        int64_t i = s[j].i;
        const ofa_evo_point *p = &pts[i];
        if (strpbrk(p->text, ",\"\n")) { /* never for ofa's arch text; quoted to stay CSV anyway */
            sb_printf(&b, "\"");
            for (const char *c = p->text; *c; c++) sb_printf(&b, *c == '"' ? "\"\"" : "%c", *c);
            sb_printf(&b, "\"");
        } else {
            sb_printf(&b, "%s", p->text);
        }
        sb_printf(&b, ",");
        sb_num(&b, lower_better ? -p->metric : p->metric);
        sb_printf(&b, ",");
        sb_num(&b, p->dev_metric);
        sb_printf(&b, ",");
        sb_num(&b, p->latency_ms);
        sb_printf(&b, ",");
        sb_num(&b, p->spread_ms);
        sb_printf(&b, ",%lld,%.0f,", (long long)p->params, p->macs);
        int wins = 0, met_all = 1, met_any = 0;
        for (int k = 0; k < n_budgets; k++) {
            if (p->latency_ms <= budgets[k]) met_any = 1;
            if (winner[k] != i) continue;
            sb_printf(&b, "%s%g", wins ? ";" : "", budgets[k]);
            if (!(p->latency_ms <= budgets[k])) met_all = 0;
            wins++;
        }
        sb_printf(&b, ",%d,%d,", wins ? met_all : met_any, on[i]);
        sb_field(&b, val_rows);
        sb_printf(&b, ",");
        sb_field(&b, dev_rows);
        sb_printf(&b, "\n");
    }
    free(s);
    free(on);
    int rc = ofa_afile_write(path, b.p, b.n);
    free(b.p);
    return rc;
}

/* ---- pareto.svg ---- */

/* Tick step 1, 2 or 5 x 10^k giving about `want` intervals over span. */
static double nice_step(double span, int want)
{
    double raw = span / want, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

typedef struct frame {
    double x0, x1, y0, y1; /* data range */
    double L, T, W, H;     /* plot area in px */
} frame;

static double px(const frame *f, double x) { return f->L + (x - f->x0) / (f->x1 - f->x0) * f->W; }
static double py(const frame *f, double y) { return f->T + f->H - (y - f->y0) / (f->y1 - f->y0) * f->H; }

/* Expands [lo, hi] by 6 % on each side (a degenerate range by 1 unit or 10 % of its value), then
 * out to whole ticks. */
static void pad_range(double *lo, double *hi, double *step)
{
    double span = *hi - *lo;
    if (!(span > 0)) span = fabs(*lo) > 0 ? fabs(*lo) * 0.2 : 1;
    *lo -= 0.06 * span;
    *hi += 0.06 * span;
    *step = nice_step(*hi - *lo, 6);
    *lo = floor(*lo / *step) * *step;
    *hi = ceil(*hi / *step) * *step;
}

static void tick_label(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 8) dec = 8;
    if (fabs(v) < step * 1e-9) v = 0;
    snprintf(buf, n, "%.*f", dec, v);
}

/* ---- labels that do not overlap ---- */

/* A label's box: width 0.6 x font size per character (Helvetica's average is below that), height
 * the font size, baseline at y; tests/test_pareto.c checks placed labels with the same measure. */
typedef struct box {
    double x0, y0, x1, y1;
} box;

typedef struct placer {
    box b[64];
    int n;
    double L, T, R, B; /* labels stay inside */
} placer;

static box text_box(double x, double y, const char *text, double fs, int anchor) /* -1 end, 0 middle, 1 start */
{
    double w = 0.6 * fs * (double)strlen(text);
    double x0 = anchor > 0 ? x : anchor < 0 ? x - w : x - w / 2;
    return (box){x0, y - 0.8 * fs, x0 + w, y + 0.2 * fs};
}

static int overlaps(const box *a, const box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

static int place_free(const placer *p, const box *c)
{
    if (c->x0 < p->L || c->x1 > p->R || c->y0 < p->T || c->y1 > p->B) return 0;
    for (int i = 0; i < p->n; i++)
        if (overlaps(c, &p->b[i])) return 0;
    return 1;
}

static void place_add(placer *p, box b)
{
    if (p->n < (int)(sizeof p->b / sizeof *p->b)) p->b[p->n++] = b;
}

/* The first of the positions around (x, y) where `text` fits without overlapping what is placed:
 * the four diagonal corners at distance d, then further out in steps up and down the plot; a label
 * that cannot be placed goes at the first position (only when the plot is full of labels).
 * Returns 1 when it had to move further than the first ring (a leader line helps then). */
static int place_label(placer *p, double x, double y, double d, const char *text, double fs, double *lx, double *ly,
                       int *anchor)
{
    const int sx[4] = {-1, 1, -1, 1}, sy[4] = {-1, -1, 1, 1};
    for (int ring = 0; ring < 40; ring++) {
        for (int k = 0; k < 4; k++) {
            double yy = y + sy[k] * (d + 12.0 * ring) + (sy[k] > 0 ? 0.8 * fs : 0);
            double xx = x + sx[k] * d;
            box c = text_box(xx, yy, text, fs, sx[k]);
            if (place_free(p, &c)) {
                *lx = xx, *ly = yy, *anchor = sx[k];
                place_add(p, c);
                return ring > 0;
            }
        }
    }
    *lx = x - d, *ly = y - d, *anchor = -1;
    place_add(p, text_box(*lx, *ly, text, fs, -1));
    return 0;
}

static const char *anchor_name(int anchor) { return anchor > 0 ? "start" : anchor < 0 ? "end" : "middle"; }

static void legend_item(sbuf *b, double x, double y, const char *marker, const char *label)
{
    sb_printf(b, "<g transform=\"translate(%.1f,%.1f)\">%s<text x=\"16\" y=\"4\">", x, y, marker);
    sb_xml(b, label);
    sb_printf(b, "</text></g>\n");
}

#define C_ALL "#9ecae1"
#define C_FRONT "#08519c"
#define C_WIN "#d62728"
#define C_TEACHER "#ff7f0e"
#define C_BUDGET "#555555"

int ofa_pareto_write_svg(const char *path, const ofa_evo_point *pts, int64_t n, const double *budgets,
                         const int64_t *winner, int n_budgets, const ofa_pareto_plot *opt)
{
    ofa_pareto_plot dflt = {0};
    if (!opt) opt = &dflt;
    const char *title = opt->title ? opt->title : "Subnets: metric vs latency";
    const char *yname = opt->metric_name ? opt->metric_name : "metric (validation split)";
    const char *tname = opt->teacher_label ? opt->teacher_label : "teacher";
    int teacher = opt->has_teacher && !isnan(opt->teacher_latency_ms) && !isnan(opt->teacher_metric);
    const int lb = opt->lower_better; /* points carry the search's fitness, -metric: drawn as the metric */
#define YV(pt) (lb ? -(pt).metric : (pt).metric)

    frame f = {INFINITY, -INFINITY, INFINITY, -INFINITY, 80, 60, 600, 420};
    int64_t nvalid = 0;
    for (int64_t i = 0; i < n; i++)
        if (valid(&pts[i])) {
            nvalid++;
            f.x0 = fmin(f.x0, pts[i].latency_ms), f.x1 = fmax(f.x1, pts[i].latency_ms);
            f.y0 = fmin(f.y0, YV(pts[i])), f.y1 = fmax(f.y1, YV(pts[i]));
        }
    if (teacher) {
        f.x0 = fmin(f.x0, opt->teacher_latency_ms), f.x1 = fmax(f.x1, opt->teacher_latency_ms);
        f.y0 = fmin(f.y0, opt->teacher_metric), f.y1 = fmax(f.y1, opt->teacher_metric);
    }
    for (int k = 0; k < n_budgets; k++) f.x0 = fmin(f.x0, budgets[k]), f.x1 = fmax(f.x1, budgets[k]);
    if (!isfinite(f.x0)) f.x0 = 0, f.x1 = 1;
    if (!isfinite(f.y0)) f.y0 = 0, f.y1 = 1;
    if (f.x0 > 0 && f.x0 < 0.25 * f.x1) f.x0 = 0; /* start latency at 0 when that costs little */
    int nonneg = f.x0 >= 0;
    double xs, ys;
    pad_range(&f.x0, &f.x1, &xs);
    if (f.x0 < 0) f.x0 = 0; /* latencies are never negative */
    if (nonneg && f.x0 < 0) f.x0 = 0; /* no negative latencies on the axis */
    pad_range(&f.y0, &f.y1, &ys);
    const double Wt = 900, Ht = 560;

    sbuf b = {0};
    sb_printf(&b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
              "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
              Wt, Ht, Wt, Ht);
    sb_printf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    sb_printf(&b, "<text x=\"%.1f\" y=\"30\" font-size=\"18\" font-weight=\"bold\" text-anchor=\"middle\">",
              f.L + f.W / 2);
    sb_xml(&b, title);
    sb_printf(&b, "</text>\n");

    /* grid, ticks and tick labels */
    char lab[64];
    sb_printf(&b, "<g stroke=\"#e5e5e5\" stroke-width=\"1\">\n");
    for (double v = f.x0; v <= f.x1 + xs * 1e-6; v += xs)
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(&f, v), f.T, px(&f, v),
                  f.T + f.H);
    for (double v = f.y0; v <= f.y1 + ys * 1e-6; v += ys)
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", f.L, py(&f, v), f.L + f.W,
                  py(&f, v));
    sb_printf(&b, "</g>\n<g stroke=\"black\" stroke-width=\"1\">\n");
    sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\"/>\n", f.L, f.T, f.W, f.H);
    for (double v = f.x0; v <= f.x1 + xs * 1e-6; v += xs)
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(&f, v), f.T + f.H, px(&f, v),
                  f.T + f.H + 5);
    for (double v = f.y0; v <= f.y1 + ys * 1e-6; v += ys)
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", f.L - 5, py(&f, v), f.L, py(&f, v));
    sb_printf(&b, "</g>\n<g fill=\"black\">\n");
    for (double v = f.x0; v <= f.x1 + xs * 1e-6; v += xs) {
        tick_label(lab, sizeof lab, v, xs);
        sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", px(&f, v), f.T + f.H + 18, lab);
    }
    for (double v = f.y0; v <= f.y1 + ys * 1e-6; v += ys) {
        tick_label(lab, sizeof lab, v, ys);
        sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", f.L - 8, py(&f, v) + 4, lab);
    }
    sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\">latency (ms, median)</text>\n",
              f.L + f.W / 2, f.T + f.H + 42);
    sb_printf(
        &b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">",
        f.L - 55, f.T + f.H / 2, f.L - 55, f.T + f.H / 2);
    sb_xml(&b, yname);
    sb_printf(&b, "</text>\n</g>\n");

    /* budgets */
    sb_printf(&b, "<g stroke=\"%s\" stroke-width=\"1.2\" stroke-dasharray=\"6,4\">\n", C_BUDGET);
    for (int k = 0; k < n_budgets; k++)
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(&f, budgets[k]), f.T,
                  px(&f, budgets[k]), f.T + f.H);
    /* labels are placed so none overlaps another (budgets first, along the top; then the teacher,
     * then the winners) nor a winner's ring or the teacher's marker */
    placer pl = {.n = 0, .L = f.L + 1, .T = f.T + 1, .R = f.L + f.W - 1, .B = f.T + f.H - 1};
    for (int k = 0; k < n_budgets; k++)
        for (int j = 0; j < n && winner[k] >= 0 && winner[k] < n; j++) {
            if (j != winner[k] || !valid(&pts[j])) continue;
            double x = px(&f, pts[j].latency_ms), y = py(&f, YV(pts[j]));
            place_add(&pl, (box){x - 9, y - 9, x + 9, y + 9});
        }
    if (teacher) {
        double x = px(&f, opt->teacher_latency_ms), y = py(&f, opt->teacher_metric);
        place_add(&pl, (box){x - 9, y - 9, x + 9, y + 9});
    }
    sb_printf(&b, "</g>\n<g fill=\"%s\" font-size=\"11\">\n", C_BUDGET);
    for (int k = 0; k < n_budgets; k++) {
        char bl[32];
        snprintf(bl, sizeof bl, "%g ms", budgets[k]);
        double x = px(&f, budgets[k]), lx = x + 3, ly = f.T + 12;
        int anchor = 1;
        for (int row = 0; row < 30; row++) { /* right of the line, else left of it, row by row */
            box c = text_box(x + 3, f.T + 12 + 13 * row, bl, 11, 1), c2 = text_box(x - 3, f.T + 12 + 13 * row, bl, 11, -1);
            if (place_free(&pl, &c)) {
                lx = x + 3, ly = f.T + 12 + 13 * row, anchor = 1;
                break;
            }
            if (place_free(&pl, &c2)) {
                lx = x - 3, ly = f.T + 12 + 13 * row, anchor = -1;
                break;
            }
        }
        place_add(&pl, text_box(lx, ly, bl, 11, anchor));
        sb_printf(&b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"%s\">%s</text>\n",
                  lx, ly, anchor_name(anchor), bl);
    }
    sb_printf(&b, "</g>\n");

    /* every point (light), with a tooltip */
    sb_printf(&b, "<g fill=\"%s\" fill-opacity=\"0.75\">\n", C_ALL);
    for (int64_t i = 0; i < n; i++) {
        if (!valid(&pts[i])) continue;
        sb_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\"><title>", px(&f, pts[i].latency_ms),
                  py(&f, YV(pts[i])));
        sb_xml(&b, pts[i].text);
        sb_printf(&b, ": %.4g, %.4g ms</title></circle>\n", YV(pts[i]), pts[i].latency_ms);
    }
    sb_printf(&b, "</g>\n");

    /* the front */
    int64_t *fr = ofa_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *fr);
    int64_t nf = ofa_pareto_front(pts, n, fr);
    if (nf > 0) {
        sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", C_FRONT);
        for (int64_t j = 0; j < nf; j++)
            sb_printf(&b, "%s%.2f,%.2f", j ? " " : "", px(&f, pts[fr[j]].latency_ms), py(&f, YV(pts[fr[j]])));
        sb_printf(&b, "\"/>\n<g fill=\"%s\">\n", C_FRONT);
        for (int64_t j = 0; j < nf; j++) {
            const ofa_evo_point *p = &pts[fr[j]];
            sb_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\"><title>", px(&f, p->latency_ms), py(&f, YV(*p)));
            sb_xml(&b, p->text);
            sb_printf(&b, ": %.4g, %.4g ms (front)</title></circle>\n", YV(*p), p->latency_ms);
        }
        sb_printf(&b, "</g>\n");
    }
    free(fr);

    /* the teacher */
    if (teacher) {
        double x = px(&f, opt->teacher_latency_ms), y = py(&f, opt->teacher_metric);
        sb_printf(&b,
                  "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\" stroke=\"black\"><title>", x,
                  y - 8, x + 8, y, x, y + 8, x - 8, y, C_TEACHER);
        sb_xml(&b, tname);
        sb_printf(&b, ": %.4g, %.4g ms</title></polygon>\n", opt->teacher_metric, opt->teacher_latency_ms);
        double lx, ly;
        int anchor;
        box c = text_box(x - 11, y + 4, tname, 12, -1);
        if (place_free(&pl, &c)) { /* left of the marker, else around it */
            lx = x - 11, ly = y + 4, anchor = -1;
            place_add(&pl, c);
        } else {
            place_label(&pl, x, y, 10, tname, 12, &lx, &ly, &anchor);
        }
        sb_printf(&b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"%s\" "
                      "font-weight=\"bold\">",
                  lx, ly, anchor_name(anchor));
        sb_xml(&b, tname);
        sb_printf(&b, "</text>\n");
    }

    /* the winners */
    sb_printf(&b, "<g>\n");
    for (int k = 0; k < n_budgets; k++) {
        if (winner[k] < 0 || winner[k] >= n || !valid(&pts[winner[k]])) continue;
        const ofa_evo_point *p = &pts[winner[k]];
        double x = px(&f, p->latency_ms), y = py(&f, YV(*p));
        sb_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"8\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"><title>",
                  x, y, C_WIN);
        sb_xml(&b, p->text);
        sb_printf(&b, ": best within %g ms</title></circle>\n", budgets[k]);
        char wl[64];
        snprintf(wl, sizeof wl, "%.4g @ %g ms", YV(*p), budgets[k]);
        double lx, ly;
        int anchor;
        if (place_label(&pl, x, y, 10, wl, 10, &lx, &ly, &anchor)) /* moved away: a leader to its ring */
            sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"0.6\"/>\n",
                      x, y, lx, ly - 3, C_WIN);
        sb_printf(&b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\" font-size=\"10\" text-anchor=\"%s\">%s</text>\n",
                  lx, ly, C_WIN, anchor_name(anchor), wl);
    }
    sb_printf(&b, "</g>\n");

    /* legend */
    double lx = f.L + f.W + 20, ly = f.T + 10;
    sb_printf(&b, "<g font-size=\"12\">\n");
    char m[256];
    snprintf(m, sizeof m, "<circle r=\"3\" fill=\"%s\"/>", C_ALL);
    char label[96];
    snprintf(label, sizeof label, "evaluated (%lld)", (long long)nvalid);
    legend_item(&b, lx, ly, m, label);
    snprintf(m, sizeof m, "<line x1=\"-8\" x2=\"8\" stroke=\"%s\" stroke-width=\"1.8\"/><circle r=\"4\" fill=\"%s\"/>",
             C_FRONT, C_FRONT);
    snprintf(label, sizeof label, "Pareto front (%lld)", (long long)nf);
    legend_item(&b, lx, ly + 22, m, label);
    snprintf(m, sizeof m, "<circle r=\"7\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>", C_WIN);
    legend_item(&b, lx, ly + 44, m, "best per budget");
    snprintf(m, sizeof m, "<line y1=\"-8\" y2=\"8\" stroke=\"%s\" stroke-dasharray=\"4,3\"/>", C_BUDGET);
    legend_item(&b, lx, ly + 66, m, "latency budget");
    if (teacher) {
        snprintf(m, sizeof m, "<polygon points=\"0,-7 7,0 0,7 -7,0\" fill=\"%s\" stroke=\"black\"/>", C_TEACHER);
        legend_item(&b, lx, ly + 88, m, tname);
    }
    sb_printf(&b, "</g>\n</svg>\n");
    int rc = ofa_afile_write(path, b.p, b.n);
    free(b.p);
    return rc;
#undef YV
}
