#include "models/bert/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"

void ofa_bert_arch_full(ofa_bert_arch *a, int layers, int heads, int ffn, int hidden)
{
    OFA_ASSERT(layers > 0 && layers <= OFA_MAX_LAYERS);
    a->depth = layers;
    for (int i = 0; i < layers; i++) {
        a->layer[i] = i;
        a->heads[i] = heads;
        a->ffn[i] = ffn;
    }
    a->hidden = hidden;
}

void ofa_bert_arch_kept_layers(int L, int d, int rule, int *out)
{
    OFA_ASSERT(L > 0 && L <= OFA_MAX_LAYERS && d > 0 && d <= L);
    OFA_ASSERT(rule == OFA_DEPTH_DYNABERT || rule == OFA_DEPTH_FIRST);
    for (int i = 0; i < d; i++) out[i] = rule == OFA_DEPTH_FIRST ? i : (i + 1) * L / d - 1;
}

/* ---- space ---- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Copies src into dst sorted and unique; checks each value is in [1, max]. */
static int space_list(int *dst, int *n_dst, const int *src, int n, int max, const char *key, const char *what,
                      int count_noun, int required)
{
    if (n < 0 || n > 16) return OFA_ERR(OFA_E_CONFIG, "supernet.space.%s: %d values; at most 16 are allowed", key, n);
    if (n == 0 && required) return OFA_ERR(OFA_E_CONFIG, "supernet.space.%s: the list is empty; give at least one value", key);
    for (int i = 0; i < n; i++) {
        if (src[i] < 1) return OFA_ERR(OFA_E_CONFIG, "supernet.space.%s: %d is not a positive number", key, src[i]);
        if (src[i] > max && count_noun) /* "4 heads" */
            return OFA_ERR(OFA_E_CONFIG, "supernet.space.%s: %d exceeds the teacher's %d %s", key, src[i], max, what);
        if (src[i] > max) /* "FFN width 1024" */
            return OFA_ERR(OFA_E_CONFIG, "supernet.space.%s: %d exceeds the teacher's %s %d", key, src[i], what, max);
    }
    int tmp[16];
    if (n > 0) memcpy(tmp, src, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_int);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || tmp[i] != dst[m - 1]) dst[m++] = tmp[i];
    *n_dst = m;
    return 0;
}

int ofa_bert_space_init(ofa_bert_space *s, int L, int A, int F, int H, int rule, const int *depth, int n_depth,
                   const int *heads, int n_heads, const int *ffn, int n_ffn, const int *hidden, int n_hidden)
{
    OFA_ASSERT(L > 0 && L <= OFA_MAX_LAYERS && A > 0 && F > 0 && H > 0 && rule >= 0 && rule < OFA_DEPTH_RULE_COUNT);
    memset(s, 0, sizeof *s);
    s->L = L;
    s->A = A;
    s->F = F;
    s->H = H;
    s->rule = rule;
    OFA_TRY(space_list(s->depth, &s->n_depth, depth, n_depth, L, "depth", "layers", 1, 1));
    OFA_TRY(space_list(s->heads, &s->n_heads, heads, n_heads, A, "heads", "heads", 1, 1));
    OFA_TRY(space_list(s->ffn, &s->n_ffn, ffn, n_ffn, F, "ffn", "FFN width", 0, 1));
    OFA_TRY(space_list(s->hidden, &s->n_hidden, hidden, n_hidden, H, "hidden", "hidden size", 0, 0));
    return 0;
}

/* ---- text form ---- */

void ofa_bert_arch_print(const ofa_bert_arch *a, int H, char *buf, size_t n)
{
    OFA_ASSERT(n > 0 && a->depth > 0 && a->depth <= OFA_MAX_LAYERS);
    size_t k = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (k < n) {                                                                               \
            int w_ = snprintf(buf + k, n - k, __VA_ARGS__);                                        \
            k += w_ > 0 ? (size_t)w_ : 0;                                                          \
        }                                                                                          \
    } while (0)
    PUT("d%d-h", a->depth);
    for (int i = 0; i < a->depth; i++) PUT(i ? ".%d" : "%d", a->heads[i]);
    PUT("-f");
    for (int i = 0; i < a->depth; i++) PUT(i ? ".%d" : "%d", a->ffn[i]);
    if (a->hidden != H) PUT("-e%d", a->hidden);
#undef PUT
}

/* The text quoted in messages, cut when very long. */
#define QLEN 200
#define QUOTE(t) QLEN, (t), strlen(t) > QLEN ? "..." : ""
/* the form, appended to messages about a malformed text */
#define FORM                                                                                       \
    " (the form is d<depth>-h<heads>-f<ffn>[-e<hidden>], one value for every kept layer as in d2-h2-f512, or one " \
    "per kept layer as in d2-h4.2-f512.256)"

/* Reads a positive decimal integer at text[*pos] (digits only: no sign, space or leading zero). */
static int parse_uint(const char *text, size_t *pos, const char *what, int *out)
{
    size_t p = *pos;
    const char *c = text + p;
    if (*c < '0' || *c > '9')
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': expected %s (a positive integer) at character %zu", QUOTE(text),
                       what, p + 1);
    if (c[0] == '0' && c[1] >= '0' && c[1] <= '9')
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': %s at character %zu has a leading zero", QUOTE(text), what, p + 1);
    long v = 0;
    while (*c >= '0' && *c <= '9') {
        v = v * 10 + (*c - '0');
        if (v > 1000000000L)
            return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': %s at character %zu is too large", QUOTE(text), what, p + 1);
        c++;
    }
    if (v == 0)
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': %s at character %zu is 0; it must be positive", QUOTE(text), what,
                       p + 1);
    *out = (int)v;
    *pos = (size_t)(c - text);
    return 0;
}

/* Reads "<v>(.<v>)*" into out (at most max values kept); *count gets how many there were.  The list
 * must end at '-' or at the end of the text. */
static int parse_list(const char *text, size_t *pos, const char *what, int *out, int max, int *count)
{
    int m = 0;
    for (;;) {
        int v;
        OFA_TRY(parse_uint(text, pos, what, &v));
        if (m < max) out[m] = v;
        m++;
        char c = text[*pos];
        if (c == '.') {
            (*pos)++;
            continue;
        }
        if (c == '-' || c == '\0') break;
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': unexpected '%c' at character %zu; values are separated by '.'" FORM,
                       QUOTE(text), c, *pos + 1);
    }
    *count = m;
    return 0;
}

/* Expects the literal `lit` at text[*pos]. */
static int expect(const char *text, size_t *pos, const char *lit, const char *shown)
{
    size_t l = strlen(lit);
    if (strncmp(text + *pos, lit, l) != 0)
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': expected '%s' at character %zu" FORM, QUOTE(text), shown, *pos + 1);
    *pos += l;
    return 0;
}

/* A list of one value is the shorthand for every kept layer ("d3-h2-f512" = "d3-h2.2.2-f512.512.512");
 * otherwise it must have one value per kept layer. */
static int spread_list(const char *text, int *v, int n, int depth, const char *what)
{
    if (n == depth) return 0;
    if (n == 1) {
        for (int i = 1; i < depth; i++) v[i] = v[0];
        return 0;
    }
    return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': %d %ss for depth %d; give %d (one per kept layer) or 1 (the same "
                                "for every layer)",
                   QUOTE(text), n, what, depth, depth);
}

int ofa_bert_arch_parse(ofa_bert_arch *a, const char *text, int L, int H, int rule)
{
    OFA_ASSERT(text && L > 0 && L <= OFA_MAX_LAYERS && H > 0);
    ofa_bert_arch r;
    memset(&r, 0, sizeof r);
    size_t pos = 0;
    OFA_TRY(expect(text, &pos, "d", "d<depth>"));
    OFA_TRY(parse_uint(text, &pos, "the depth", &r.depth));
    if (r.depth > L)
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': depth %d exceeds the supernet's %d layers", QUOTE(text), r.depth, L);
    OFA_TRY(expect(text, &pos, "-h", "-h<heads>"));
    int n;
    OFA_TRY(parse_list(text, &pos, "a head count", r.heads, OFA_MAX_LAYERS, &n));
    OFA_TRY(spread_list(text, r.heads, n, r.depth, "head count"));
    OFA_TRY(expect(text, &pos, "-f", "-f<ffn>"));
    OFA_TRY(parse_list(text, &pos, "an FFN width", r.ffn, OFA_MAX_LAYERS, &n));
    OFA_TRY(spread_list(text, r.ffn, n, r.depth, "FFN width"));
    r.hidden = H;
    if (text[pos] != '\0') {
        if (strncmp(text + pos, "-e", 2) != 0)
            return OFA_ERR(OFA_E_USAGE,
                           "arch '%.*s%s': expected '-e<hidden>' or the end of the text at character %zu" FORM,
                           QUOTE(text), pos + 1);
        pos += 2;
        OFA_TRY(parse_uint(text, &pos, "the hidden size", &r.hidden));
        if (r.hidden > H)
            return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': hidden size %d exceeds the supernet's %d", QUOTE(text),
                           r.hidden, H);
        if (text[pos] != '\0')
            return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': unexpected '%c' at character %zu (the text should end there)",
                           QUOTE(text), text[pos], pos + 1);
    }
    ofa_bert_arch_kept_layers(L, r.depth, rule, r.layer);
    *a = r;
    return 0;
}

/* ---- membership ---- */

static int in_list(const int *v, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

static void list_text(const int *v, int n, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k < cap; i++) {
        int w = snprintf(buf + k, cap - k, i ? ", %d" : "%d", v[i]);
        k += w > 0 ? (size_t)w : 0;
    }
}

/* The value of v[0..n) nearest to x (ties: the smaller). */
static int nearest_in(const int *v, int n, int x)
{
    int best = v[0];
    for (int i = 1; i < n; i++)
        if (abs(v[i] - x) < abs(best - x)) best = v[i];
    return best;
}

void ofa_bert_arch_nearest(ofa_bert_arch *out, const ofa_bert_arch *a, const ofa_bert_space *s)
{
    OFA_ASSERT(s->n_depth > 0 && s->n_heads > 0 && s->n_ffn > 0 && a->depth > 0);
    ofa_bert_arch r;
    memset(&r, 0, sizeof r);
    r.depth = nearest_in(s->depth, s->n_depth, a->depth);
    ofa_bert_arch_kept_layers(s->L, r.depth, s->rule, r.layer);
    for (int i = 0; i < r.depth; i++) {
        int j = i < a->depth ? i : a->depth - 1; /* a deeper arch repeats the last layer's values */
        r.heads[i] = nearest_in(s->heads, s->n_heads, a->heads[j]);
        r.ffn[i] = nearest_in(s->ffn, s->n_ffn, a->ffn[j]);
    }
    r.hidden = s->n_hidden > 0 ? nearest_in(s->hidden, s->n_hidden, a->hidden) : s->H;
    *out = r;
}

int ofa_bert_arch_check(const ofa_bert_arch *a, const ofa_bert_space *s)
{
    char t[OFA_ARCH_TEXT_MAX], allowed[256], near[OFA_ARCH_TEXT_MAX];
    ofa_bert_arch_print(a, s->H, t, sizeof t);
    if (a->depth < 1 || a->depth > s->L)
        return OFA_ERR(OFA_E_USAGE, "arch '%s': depth %d is outside [1, %d] (the supernet's layers)", t, a->depth, s->L);
    ofa_bert_arch n;
    ofa_bert_arch_nearest(&n, a, s);
    ofa_bert_arch_print(&n, s->H, near, sizeof near);
    if (!in_list(s->depth, s->n_depth, a->depth)) {
        list_text(s->depth, s->n_depth, allowed, sizeof allowed);
        return OFA_ERR(OFA_E_USAGE, "arch '%s': depth %d; the space allows %s (nearest arch in the space: %s)", t,
                       a->depth, allowed, near);
    }
    int kept[OFA_MAX_LAYERS];
    ofa_bert_arch_kept_layers(s->L, a->depth, s->rule, kept);
    for (int i = 0; i < a->depth; i++)
        if (a->layer[i] != kept[i])
            return OFA_ERR(OFA_E_USAGE, "arch '%s': kept layer %d is layer_%02d, but depth rule %s keeps layer_%02d", t,
                           i, a->layer[i], s->rule == OFA_DEPTH_FIRST ? "first" : "dynabert", kept[i]);
    for (int i = 0; i < a->depth; i++)
        if (!in_list(s->heads, s->n_heads, a->heads[i])) {
            list_text(s->heads, s->n_heads, allowed, sizeof allowed);
            return OFA_ERR(OFA_E_USAGE, "arch '%s': kept layer %d of %d (layer_%02d) has %d head%s; the space allows "
                                        "%s (nearest arch in the space: %s)",
                           t, i + 1, a->depth, a->layer[i], a->heads[i], a->heads[i] == 1 ? "" : "s", allowed, near);
        }
    for (int i = 0; i < a->depth; i++)
        if (!in_list(s->ffn, s->n_ffn, a->ffn[i])) {
            list_text(s->ffn, s->n_ffn, allowed, sizeof allowed);
            return OFA_ERR(OFA_E_USAGE, "arch '%s': kept layer %d of %d (layer_%02d) has FFN width %d; the space "
                                        "allows %s (nearest arch in the space: %s)",
                           t, i + 1, a->depth, a->layer[i], a->ffn[i], allowed, near);
        }
    if (s->n_hidden == 0 && a->hidden != s->H)
        return OFA_ERR(OFA_E_USAGE, "arch '%s': hidden size %d; hidden is not elastic in this space (only %d; nearest "
                                    "arch in the space: %s)",
                       t, a->hidden, s->H, near);
    if (s->n_hidden > 0 && !in_list(s->hidden, s->n_hidden, a->hidden)) {
        list_text(s->hidden, s->n_hidden, allowed, sizeof allowed);
        return OFA_ERR(OFA_E_USAGE, "arch '%s': hidden size %d; the space allows %s (nearest arch in the space: %s)", t,
                       a->hidden, allowed, near);
    }
    return 0;
}

/* ---- sampling ---- */

static int largest_hidden(const ofa_bert_space *s) { return s->n_hidden > 0 ? s->hidden[s->n_hidden - 1] : s->H; }

static void fill(ofa_bert_arch *a, const ofa_bert_space *s, int depth, int heads, int ffn, int hidden)
{
    OFA_ASSERT(depth > 0 && depth <= s->L);
    a->depth = depth;
    ofa_bert_arch_kept_layers(s->L, depth, s->rule, a->layer);
    for (int i = 0; i < depth; i++) {
        a->heads[i] = heads;
        a->ffn[i] = ffn;
    }
    a->hidden = hidden;
}

void ofa_bert_arch_largest(ofa_bert_arch *a, const ofa_bert_space *s)
{
    OFA_ASSERT(s->n_depth > 0 && s->n_heads > 0 && s->n_ffn > 0);
    fill(a, s, s->depth[s->n_depth - 1], s->heads[s->n_heads - 1], s->ffn[s->n_ffn - 1], largest_hidden(s));
}

void ofa_bert_arch_smallest(ofa_bert_arch *a, const ofa_bert_space *s, int elastic)
{
    OFA_ASSERT(s->n_depth > 0 && s->n_heads > 0 && s->n_ffn > 0);
    int w = elastic & OFA_ELASTIC_WIDTH;
    fill(a, s, elastic & OFA_ELASTIC_DEPTH ? s->depth[0] : s->depth[s->n_depth - 1],
         w ? s->heads[0] : s->heads[s->n_heads - 1], w ? s->ffn[0] : s->ffn[s->n_ffn - 1],
         (elastic & OFA_ELASTIC_HIDDEN) && s->n_hidden > 0 ? s->hidden[0] : largest_hidden(s));
}

void ofa_bert_arch_random(ofa_bert_arch *a, const ofa_bert_space *s, int elastic, ofa_rng *rng)
{
    ofa_bert_arch_largest(a, s);
    if (elastic & OFA_ELASTIC_DEPTH) {
        int d = s->depth[ofa_rng_below(rng, (uint64_t)s->n_depth)];
        fill(a, s, d, a->heads[0], a->ffn[0], a->hidden);
    }
    if (elastic & OFA_ELASTIC_WIDTH)
        for (int i = 0; i < a->depth; i++) {
            a->heads[i] = s->heads[ofa_rng_below(rng, (uint64_t)s->n_heads)];
            a->ffn[i] = s->ffn[ofa_rng_below(rng, (uint64_t)s->n_ffn)];
        }
    if ((elastic & OFA_ELASTIC_HIDDEN) && s->n_hidden > 0)
        a->hidden = s->hidden[ofa_rng_below(rng, (uint64_t)s->n_hidden)];
}

int ofa_bert_arch_grid(ofa_bert_arch *a, const ofa_bert_space *s)
{
    int nw = s->n_heads, n = s->n_depth * nw;
    if (!a) return n;
    for (int di = 0; di < s->n_depth; di++)
        for (int wi = 0; wi < nw; wi++) {
            /* FFN rank matched to the width rank, ends to ends (rounded): the narrowest width takes
             * the narrowest FFN and the widest the widest. */
            int fi = nw == 1 ? s->n_ffn - 1 : (2 * wi * (s->n_ffn - 1) + (nw - 1)) / (2 * (nw - 1));
            fill(&a[di * nw + wi], s, s->depth[di], s->heads[wi], s->ffn[fi], largest_hidden(s));
        }
    return n;
}

/* ---- genes: the evolutionary search's mutation and crossover ---- */

static int pick(ofa_rng *r, const int *v, int n) { return v[ofa_rng_below(r, (uint64_t)n)]; }

/* Genes are per supernet layer (as OFA's are per block): a kept layer's heads and FFN width.  A
 * depth change keeps the genes of the layers kept at both depths and draws the others. */
static int gene_of(const ofa_bert_arch *a, int layer)
{
    for (int i = 0; i < a->depth; i++)
        if (a->layer[i] == layer) return i;
    return -1;
}

void ofa_bert_arch_set_depth(ofa_bert_arch *a, const ofa_bert_space *s, int elastic, int d, ofa_rng *rng)
{
    int w = elastic & OFA_ELASTIC_WIDTH;
    ofa_bert_arch c = *a;
    c.depth = d;
    ofa_bert_arch_kept_layers(s->L, d, s->rule, c.layer);
    for (int i = 0; i < d; i++) {
        int g = gene_of(a, c.layer[i]);
        if (g >= 0) {
            c.heads[i] = a->heads[g];
            c.ffn[i] = a->ffn[g];
        } else { /* a layer the parent does not keep: drawn like ofa_bert_arch_random draws it */
            c.heads[i] = w ? pick(rng, s->heads, s->n_heads) : s->heads[s->n_heads - 1];
            c.ffn[i] = w ? pick(rng, s->ffn, s->n_ffn) : s->ffn[s->n_ffn - 1];
        }
    }
    *a = c;
}

void ofa_bert_arch_mutate(ofa_bert_arch *c, const ofa_bert_arch *par, const ofa_bert_space *s, int elastic, double prob,
                          ofa_rng *rng)
{
    float p = (float)prob;
    *c = *par;
    if ((elastic & OFA_ELASTIC_DEPTH) && ofa_rng_uniform(rng) < p)
        ofa_bert_arch_set_depth(c, s, elastic, pick(rng, s->depth, s->n_depth), rng);
    if (elastic & OFA_ELASTIC_WIDTH)
        for (int i = 0; i < c->depth; i++) {
            if (ofa_rng_uniform(rng) < p) c->heads[i] = pick(rng, s->heads, s->n_heads);
            if (ofa_rng_uniform(rng) < p) c->ffn[i] = pick(rng, s->ffn, s->n_ffn);
        }
    if ((elastic & OFA_ELASTIC_HIDDEN) && s->n_hidden > 0 && ofa_rng_uniform(rng) < p)
        c->hidden = pick(rng, s->hidden, s->n_hidden);
}

void ofa_bert_arch_crossover(ofa_bert_arch *c, const ofa_bert_arch *p1, const ofa_bert_arch *p2,
                             const ofa_bert_space *s, int elastic, ofa_rng *rng)
{
    const ofa_bert_arch *pp[2] = {p1, p2};
    *c = *p1;
    if (elastic & OFA_ELASTIC_DEPTH) {
        c->depth = pp[ofa_rng_below(rng, 2)]->depth;
        ofa_bert_arch_kept_layers(s->L, c->depth, s->rule, c->layer);
    }
    for (int i = 0; i < c->depth; i++) {
        int g1 = gene_of(p1, c->layer[i]), g2 = gene_of(p2, c->layer[i]);
        OFA_ASSERT(g1 >= 0 || g2 >= 0); /* the child's depth is one parent's */
        int k;
        if (g1 >= 0 && g2 >= 0)
            k = (int)ofa_rng_below(rng, 2);
        else
            k = g1 >= 0 ? 0 : 1;
        c->heads[i] = pp[k]->heads[k ? g2 : g1];
        if (g1 >= 0 && g2 >= 0) k = (int)ofa_rng_below(rng, 2);
        c->ffn[i] = pp[k]->ffn[k ? g2 : g1];
    }
    if ((elastic & OFA_ELASTIC_HIDDEN) && s->n_hidden > 0) c->hidden = pp[ofa_rng_below(rng, 2)]->hidden;
}

int ofa_bert_arch_grid_elastic(ofa_bert_arch *a, const ofa_bert_space *s, int elastic)
{
    int n = ofa_bert_arch_grid(NULL, s);
    ofa_bert_arch *grid = ofa_xmalloc((size_t)n * sizeof *grid);
    ofa_bert_arch_grid(grid, s);
    int k = 0, dmax = s->depth[s->n_depth - 1], wmax = s->heads[s->n_heads - 1];
    for (int i = 0; i < n; i++) {
        if (!(elastic & OFA_ELASTIC_DEPTH) && grid[i].depth != dmax) continue;
        if (!(elastic & OFA_ELASTIC_WIDTH) && grid[i].heads[0] != wmax) continue;
        if (a) a[k] = grid[i];
        k++;
    }
    free(grid);
    return k;
}

int ofa_bert_space_from_config(ofa_bert_space *s, const ofa_config *c, int L, int A, int F, int H, const char *where)
{
    int rc = ofa_bert_space_init(s, L, A, F, H, c->supernet.depth_rule, c->supernet.depth, c->supernet.n_depth,
                                 c->supernet.heads, c->supernet.n_heads, c->supernet.ffn, c->supernet.n_ffn,
                                 c->supernet.hidden, c->supernet.n_hidden);
    if (rc < 0)
        return ofa_err_prefix(rc, "%s: supernet.space does not fit the model in %s (%d layers, %d heads, ffn %d, "
                                  "hidden %d)",
                              ofa_config_origin(c, "supernet.space"), where, L, A, F, H);
    return 0;
}

/* ---- cost ---- */

int64_t ofa_bert_arch_params(const ofa_bert_arch *a, int V, int P, int C, int D)
{
    int64_t e = a->hidden, n = (int64_t)V * e + (int64_t)P * e + 2 * e + 2 * e;
    for (int i = 0; i < a->depth; i++) {
        int64_t w = (int64_t)a->heads[i] * D, f = a->ffn[i];
        n += 3 * (w * e + w) + (e * w + e) + 2 * e; /* q, k, v, output projection, attention LayerNorm */
        n += (f * e + f) + (e * f + e) + 2 * e;     /* FFN in, out, FFN LayerNorm */
    }
    return n + (e * e + e) + ((int64_t)C * e + C); /* pooler, classifier */
}

double ofa_bert_arch_macs(const ofa_bert_arch *a, int T, int C, int D)
{
    double e = a->hidden, t = T, m = 0;
    for (int i = 0; i < a->depth; i++) {
        double w = (double)a->heads[i] * D, f = a->ffn[i];
        m += t * (3 * e * w + w * e + 2 * e * f) + 2 * t * t * w;
    }
    return m + e * e + e * C;
}

double ofa_bert_arch_infer_macs(const ofa_bert_arch *a, int T, int C, int D)
{
    if (a->depth == 0) return ofa_bert_arch_macs(a, T, C, D);
    ofa_bert_arch front = *a;
    front.depth--;
    const double e = a->hidden, t = T, h = a->heads[front.depth], w = h * D, f = a->ffn[front.depth];
    /* query, output projection and FFN of one token; per head the folded attention's 2 e (D + T) */
    return ofa_bert_arch_macs(&front, T, C, D) + (2 * e * w + 2 * e * f) + h * 2 * e * (D + t);
}
