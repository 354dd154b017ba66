/* models/gan/mobile: the elastic MobileResNet generator (see mobile.h).
 *
 * One walk names every layer in PyTorch's module order for a (stored shape, arch) pair.  With a
 * builder in "params" mode it registers the stored tensors; in "plan" mode it appends ops with the
 * arch's geometry (widths as leading slices: wc is the stored second dimension), looking the names up
 * when a net is given (without one it only counts, for params and MACs).  Forward runs the ops in
 * order; backward runs them in reverse into a zeroed gradient twin of the activations, like
 * models/gan/cyclegan.c. */
#include "models/gan/mobile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"
#include "nn/nn.h"

#define IN_EPS 1e-5 /* PyTorch's InstanceNorm2d */

typedef struct builder {
    ofa_params *p;        /* params mode: register tensors */
    ofa_mobile_acts *a;   /* plan mode: append ops */
    const ofa_params *pp; /* plan mode: the net's parameters (NULL: count only) */
} builder;

static int new_buf(builder *bd, int C, int H, int W)
{
    ofa_mobile_acts *a = bd->a;
    if (!a) return 0;
    if (a->n_buf == a->cap_buf) {
        a->cap_buf = a->cap_buf ? 2 * a->cap_buf : 64;
        a->buf = ofa_xrealloc(a->buf, (size_t)a->cap_buf * sizeof *a->buf);
    }
    ofa_mobile_buf *b = &a->buf[a->n_buf];
    b->C = C, b->H = H, b->W = W;
    b->off = a->n_act;
    size_t n = (size_t)a->Bmax * C * H * W;
    a->n_act += (n + 15) & ~(size_t)15; /* 64-byte aligned buffers */
    return a->n_buf++;
}

static ofa_mobile_op *new_op(builder *bd, ofa_mobile_op_kind kind, int in)
{
    ofa_mobile_acts *a = bd->a;
    if (a->n_ops == a->cap_ops) {
        a->cap_ops = a->cap_ops ? 2 * a->cap_ops : 64;
        a->ops = ofa_xrealloc(a->ops, (size_t)a->cap_ops * sizeof *a->ops);
    }
    ofa_mobile_op *op = &a->ops[a->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->w = op->b = op->mat = op->in2 = -1;
    op->set_in = op->set_out = OFA_MOBILE_SET_IMAGE;
    op->in = in;
    const ofa_mobile_buf *x = &a->buf[in];
    op->d.B = a->Bmax, op->d.C = x->C, op->d.H = x->H, op->d.W = x->W;
    return op;
}

static int find(const builder *bd, const char *name)
{
    if (!bd->pp) return -1;
    int i = ofa_params_find(bd->pp, name);
    OFA_ASSERT(i >= 0);
    return i;
}

/* One layer's geometry: C -> O channels in use, the stored weight is [Os, Cs(/groups), Ks, Ks] (a
 * transposed conv [Cs, Os, Ks, Ks]); K <= Ks is the kernel in use (a depthwise 3 of 5 goes through
 * the 5to3 matrix). */
typedef struct layer {
    const char *name;
    int transposed, depthwise;
    int C, O, K, stride, pad, out_pad;
    nn_pad_mode mode;
    int Cs, Os, Ks;
    int set_in, set_out;
} layer;

static int conv(builder *bd, int in, const layer *l)
{
    char wn[OFA_PARAM_NAME_MAX], bn[OFA_PARAM_NAME_MAX], mn[OFA_PARAM_NAME_MAX];
    OFA_ASSERT(snprintf(wn, sizeof wn, "%s.weight", l->name) < (int)sizeof wn);
    OFA_ASSERT(snprintf(bn, sizeof bn, "%s.bias", l->name) < (int)sizeof bn);
    OFA_ASSERT(snprintf(mn, sizeof mn, "%s.5to3_matrix", l->name) < (int)sizeof mn);
    if (bd->p) {
        int64_t ws[4] = {l->transposed ? l->Cs : l->Os, l->transposed ? l->Os : (l->depthwise ? 1 : l->Cs), l->Ks,
                         l->Ks};
        int64_t bs[1] = {l->Os}, ms[2] = {9, 9};
        ofa_params_add(bd->p, wn, 4, ws, 1);
        ofa_params_add(bd->p, bn, 1, bs, 0);
        if (l->depthwise && l->Ks == 5) ofa_params_add(bd->p, mn, 2, ms, 0);
        return 0;
    }
    ofa_mobile_acts *a = bd->a;
    ofa_mobile_op *op = new_op(bd, l->transposed ? OFA_MOBILE_OP_CONVT : OFA_MOBILE_OP_CONV, in);
    OFA_ASSERT(op->d.C == l->C);
    op->d.O = l->O, op->d.K = l->K, op->d.stride = l->stride, op->d.pad = l->pad, op->d.pad_mode = l->mode;
    op->d.out_pad = l->out_pad;
    op->d.groups = l->depthwise ? l->C : 1;
    op->d.wc = l->transposed ? l->Os : (l->depthwise ? 1 : l->Cs);
    op->set_in = l->set_in, op->set_out = l->set_out;
    op->w = find(bd, wn);
    op->b = find(bd, bn);
    if (l->depthwise && l->K < l->Ks) {
        OFA_ASSERT(l->K == 3 && l->Ks == 5);
        op->mat = find(bd, mn);
        op->transformed = 1;
        op->kw = a->n_kw;
        a->n_kw += ((size_t)l->C * 9 + 15) & ~(size_t)15;
        op->d.wc = 1; /* the transformed kernel is dense [C, 1, 3, 3] */
    }
    nn_conv2d_dims d = op->d;
    int Ho, Wo;
    nn_conv2d_out_hw(&d, l->transposed, &Ho, &Wo);
    nn_conv2d_geom g;
    nn_conv2d_geom_of(&g, &d, l->transposed); /* asserts the geometry (e.g. reflection pad < H) */
    size_t s = nn_conv2d_scratch(&d, l->transposed);
    if (s > a->n_scratch) a->n_scratch = s;
    int out = new_buf(bd, l->O, Ho, Wo);
    a->ops[a->n_ops - 1].out = out;
    return out;
}

static int unary(builder *bd, ofa_mobile_op_kind kind, int in)
{
    if (bd->p) return 0;
    ofa_mobile_op *op = new_op(bd, kind, in);
    if (kind == OFA_MOBILE_OP_INORM) {
        op->stats = bd->a->n_stats;
        bd->a->n_stats += 2 * (size_t)bd->a->Bmax * op->d.C;
    }
    const ofa_mobile_buf *x = &bd->a->buf[in];
    int out = new_buf(bd, x->C, x->H, x->W);
    bd->a->ops[bd->a->n_ops - 1].out = out;
    return out;
}

static int add(builder *bd, int a_, int b_)
{
    if (bd->p) return 0;
    ofa_mobile_op *op = new_op(bd, OFA_MOBILE_OP_ADD, a_);
    op->in2 = b_;
    const ofa_mobile_buf *x = &bd->a->buf[a_], *y = &bd->a->buf[b_];
    OFA_ASSERT(x->C == y->C && x->H == y->H && x->W == y->W);
    int out = new_buf(bd, x->C, x->H, x->W);
    bd->a->ops[bd->a->n_ops - 1].out = out;
    return out;
}

static int in_relu(builder *bd, int b) { return unary(bd, OFA_MOBILE_OP_RELU, unary(bd, OFA_MOBILE_OP_INORM, b)); }

/* The network for stored shape s and subnet a (a == s for the params mode). */
static void walk(builder *bd, int ch, int nb, const ofa_mobile_arch *s, const ofa_mobile_arch *a)
{
    char name[OFA_PARAM_NAME_MAX];
    layer l;
    int b = 0; /* the input image */
#define LAYER(nm, tr, dwise, c, o, k, st, pd, op_, md, cs, os, ks, si, so)                                           \
    l = (layer){.name = (nm), .transposed = (tr), .depthwise = (dwise), .C = (c), .O = (o), .K = (k),                 \
                .stride = (st), .pad = (pd), .out_pad = (op_), .mode = (md), .Cs = (cs), .Os = (os), .Ks = (ks),      \
                .set_in = (si), .set_out = (so)}
    LAYER("model.1", 0, 0, ch, a->stem, 7, 1, 3, 0, NN_PAD_REFLECT, ch, s->stem, 7, OFA_MOBILE_SET_IMAGE,
          OFA_MOBILE_SET_STEM);
    b = in_relu(bd, conv(bd, b, &l));
    LAYER("model.4", 0, 0, a->stem, a->down1, 3, 2, 1, 0, NN_PAD_ZEROS, s->stem, s->down1, 3, OFA_MOBILE_SET_STEM,
          OFA_MOBILE_SET_DOWN1);
    b = in_relu(bd, conv(bd, b, &l));
    LAYER("model.7", 0, 0, a->down1, a->down2, 3, 2, 1, 0, NN_PAD_ZEROS, s->down1, s->down2, 3, OFA_MOBILE_SET_DOWN1,
          OFA_MOBILE_SET_RESID);
    b = in_relu(bd, conv(bd, b, &l));
    const int R = a->down2, Rs = s->down2;
    for (int i = 0; i < nb; i++) {
        int g = ofa_mobile_block_group(nb, s->n_groups, i);
        int Hd = a->hidden[g], Hs = s->hidden[g], K = a->kernel[g], Ks = s->kernel[g];
        int hid = OFA_MOBILE_SET_HIDDEN0 + i;
        snprintf(name, sizeof name, "model.%d.conv_block.1.conv.0", 10 + i);
        LAYER(name, 0, 1, R, R, K, 1, K / 2, 0, NN_PAD_REFLECT, Rs, Rs, Ks, OFA_MOBILE_SET_RESID,
              OFA_MOBILE_SET_RESID);
        int h = unary(bd, OFA_MOBILE_OP_INORM, conv(bd, b, &l));
        snprintf(name, sizeof name, "model.%d.conv_block.1.conv.2", 10 + i);
        LAYER(name, 0, 0, R, Hd, 1, 1, 0, 0, NN_PAD_ZEROS, Rs, Hs, 1, OFA_MOBILE_SET_RESID, hid);
        h = in_relu(bd, conv(bd, h, &l));
        snprintf(name, sizeof name, "model.%d.conv_block.6.conv.0", 10 + i);
        LAYER(name, 0, 1, Hd, Hd, K, 1, K / 2, 0, NN_PAD_REFLECT, Hs, Hs, Ks, hid, hid);
        h = unary(bd, OFA_MOBILE_OP_INORM, conv(bd, h, &l));
        snprintf(name, sizeof name, "model.%d.conv_block.6.conv.2", 10 + i);
        LAYER(name, 0, 0, Hd, R, 1, 1, 0, 0, NN_PAD_ZEROS, Hs, Rs, 1, hid, OFA_MOBILE_SET_RESID);
        h = unary(bd, OFA_MOBILE_OP_INORM, conv(bd, h, &l));
        b = add(bd, b, h);
    }
    snprintf(name, sizeof name, "model.%d", 10 + nb);
    LAYER(name, 1, 0, R, a->up1, 3, 2, 1, 1, NN_PAD_ZEROS, Rs, s->up1, 3, OFA_MOBILE_SET_RESID, OFA_MOBILE_SET_UP1);
    b = in_relu(bd, conv(bd, b, &l));
    snprintf(name, sizeof name, "model.%d", 13 + nb);
    LAYER(name, 1, 0, a->up1, a->up2, 3, 2, 1, 1, NN_PAD_ZEROS, s->up1, s->up2, 3, OFA_MOBILE_SET_UP1,
          OFA_MOBILE_SET_UP2);
    b = in_relu(bd, conv(bd, b, &l));
    snprintf(name, sizeof name, "model.%d", 17 + nb);
    LAYER(name, 0, 0, a->up2, ch, 7, 1, 3, 0, NN_PAD_REFLECT, s->up2, ch, 7, OFA_MOBILE_SET_UP2, OFA_MOBILE_SET_IMAGE);
    b = conv(bd, b, &l);
    unary(bd, OFA_MOBILE_OP_TANH, b);
#undef LAYER
}

void ofa_mobile_shape_ngf(ofa_mobile_arch *s, int ngf, int n_groups, int kernel)
{
    OFA_ASSERT(ngf >= 1 && n_groups >= 1 && n_groups <= OFA_MOBILE_GROUPS_MAX);
    memset(s, 0, sizeof *s);
    s->n_groups = n_groups;
    s->stem = ngf, s->down1 = 2 * ngf, s->down2 = 4 * ngf, s->up1 = 2 * ngf, s->up2 = ngf;
    for (int g = 0; g < n_groups; g++) s->hidden[g] = 4 * ngf, s->kernel[g] = kernel;
}

int ofa_mobile_block_group(int n_blocks, int n_groups, int i)
{
    OFA_ASSERT(n_groups >= 1 && i >= 0 && i < n_blocks);
    int per = n_blocks / n_groups;
    if (per == 0) return n_groups - 1;
    int g = i / per;
    return g < n_groups ? g : n_groups - 1;
}

static int shape_ok(const ofa_mobile_arch *s, int n_blocks)
{
    if (s->n_groups < 1 || s->n_groups > OFA_MOBILE_GROUPS_MAX || s->n_groups > n_blocks) return 0;
    if (s->stem < 1 || s->down1 < 1 || s->down2 < 1 || s->up1 < 1 || s->up2 < 1) return 0;
    for (int g = 0; g < s->n_groups; g++)
        if (s->hidden[g] < 1 || (s->kernel[g] != 3 && s->kernel[g] != 5)) return 0;
    return 1;
}

void ofa_mobile_net_init(ofa_mobile_net *n, int channels, int n_blocks, const ofa_mobile_arch *shape)
{
    OFA_ASSERT(channels >= 1 && n_blocks >= 1 && shape_ok(shape, n_blocks));
    memset(n, 0, sizeof *n);
    n->channels = channels, n->n_blocks = n_blocks, n->shape = *shape;
    ofa_params_init(&n->p);
    builder bd = {.p = &n->p};
    walk(&bd, channels, n_blocks, shape, shape);
    ofa_params_alloc(&n->p);
    for (int i = 0; i < n->p.n; i++) {
        const ofa_pview *v = &n->p.views[i];
        size_t len = strlen(v->name);
        if (len > 12 && strcmp(v->name + len - 12, ".5to3_matrix") == 0)
            for (int j = 0; j < 9; j++) n->p.data[v->offset + (size_t)j * 9 + j] = 1;
    }
}

void ofa_mobile_net_free(ofa_mobile_net *n)
{
    if (!n) return;
    ofa_params_free(&n->p);
    memset(n, 0, sizeof *n);
}

/* ---- arch values ---- */

#define QUOTE(t) (int)(strlen(t) > 60 ? 60 : strlen(t)), (t), (strlen(t) > 60 ? "..." : "")
#define FORM "; the form is c<stem>.<down1>.<down2>-b<hidden per group>-k<kernel per group>-u<up1>.<up2>"

static int parse_uint(const char *text, size_t *pos, const char *what, int *out)
{
    size_t p = *pos;
    if (text[p] < '0' || text[p] > '9')
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': expected %s (a positive integer) at character %zu" FORM,
                       QUOTE(text), what, p + 1);
    if (text[p] == '0')
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': %s at character %zu is 0 or has a leading zero", QUOTE(text),
                       what, p + 1);
    long v = 0;
    while (text[*pos] >= '0' && text[*pos] <= '9') {
        v = v * 10 + (text[*pos] - '0');
        if (v > 1000000)
            return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': %s at character %zu is too large", QUOTE(text), what, p + 1);
        (*pos)++;
    }
    *out = (int)v;
    return 0;
}

/* "<tag><v>[.<v>]..." into out (at most max values). */
static int parse_section(const char *text, size_t *pos, char tag, const char *what, int *out, int max, int *count)
{
    if (text[*pos] != tag)
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': expected '%c' at character %zu" FORM, QUOTE(text), tag, *pos + 1);
    (*pos)++;
    int n = 0;
    for (;;) {
        if (n == max)
            return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': more than %d %ss at character %zu", QUOTE(text), max, what,
                           *pos + 1);
        OFA_TRY(parse_uint(text, pos, what, &out[n]));
        n++;
        if (text[*pos] != '.') break;
        (*pos)++;
    }
    *count = n;
    return 0;
}

/* the '-' before section `next` */
static int parse_dash(const char *text, size_t *pos, char next)
{
    if (!text[*pos])
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': it ends before its -%c section" FORM, QUOTE(text), next);
    if (text[*pos] != '-')
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': unexpected '%c' at character %zu" FORM, QUOTE(text), text[*pos],
                       *pos + 1);
    (*pos)++;
    return 0;
}

int ofa_mobile_arch_parse(ofa_mobile_arch *a, const char *text)
{
    ofa_mobile_arch r;
    memset(&r, 0, sizeof r);
    size_t pos = 0;
    int c[3], u[2], n, nk;
    OFA_TRY(parse_section(text, &pos, 'c', "channel count", c, 3, &n));
    if (n != 3)
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': 'c' has %d values; give 3 (stem, down1, down2)" FORM, QUOTE(text),
                       n);
    OFA_TRY(parse_dash(text, &pos, 'b'));
    OFA_TRY(parse_section(text, &pos, 'b', "hidden width", r.hidden, OFA_MOBILE_GROUPS_MAX, &r.n_groups));
    OFA_TRY(parse_dash(text, &pos, 'k'));
    OFA_TRY(parse_section(text, &pos, 'k', "kernel size", r.kernel, OFA_MOBILE_GROUPS_MAX, &nk));
    if (nk != r.n_groups)
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': %d kernel sizes for %d groups; give one per group", QUOTE(text),
                       nk, r.n_groups);
    for (int g = 0; g < nk; g++)
        if (r.kernel[g] != 3 && r.kernel[g] != 5)
            return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': kernel size %d of group %d; the choices are 3 and 5",
                           QUOTE(text), r.kernel[g], g);
    OFA_TRY(parse_dash(text, &pos, 'u'));
    OFA_TRY(parse_section(text, &pos, 'u', "channel count", u, 2, &n));
    if (n != 2)
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': 'u' has %d values; give 2 (up1, up2)" FORM, QUOTE(text), n);
    if (text[pos])
        return OFA_ERR(OFA_E_USAGE, "arch '%.*s%s': unexpected '%c' at character %zu after the last section" FORM,
                       QUOTE(text), text[pos], pos + 1);
    r.stem = c[0], r.down1 = c[1], r.down2 = c[2], r.up1 = u[0], r.up2 = u[1];
    *a = r;
    return 0;
}

void ofa_mobile_arch_print(const ofa_mobile_arch *a, char *buf, size_t n)
{
    char t[OFA_MOBILE_ARCH_TEXT_MAX];
    size_t k = 0;
    k += (size_t)snprintf(t + k, sizeof t - k, "c%d.%d.%d-b", a->stem, a->down1, a->down2);
    for (int g = 0; g < a->n_groups; g++) k += (size_t)snprintf(t + k, sizeof t - k, "%s%d", g ? "." : "", a->hidden[g]);
    k += (size_t)snprintf(t + k, sizeof t - k, "-k");
    for (int g = 0; g < a->n_groups; g++) k += (size_t)snprintf(t + k, sizeof t - k, "%s%d", g ? "." : "", a->kernel[g]);
    snprintf(t + k, sizeof t - k, "-u%d.%d", a->up1, a->up2);
    snprintf(buf, n, "%s", t);
}

static int check_width(const char *slot, int v, int max)
{
    if (v < 1 || v > max)
        return OFA_ERR(OFA_E_USAGE, "arch: %s width %d is outside 1..%d (the stored width)", slot, v, max);
    return 0;
}

int ofa_mobile_arch_check(const ofa_mobile_arch *a, const ofa_mobile_net *net)
{
    const ofa_mobile_arch *s = &net->shape;
    if (a->n_groups != s->n_groups)
        return OFA_ERR(OFA_E_USAGE, "arch: %d groups of blocks; the generator has %d", a->n_groups, s->n_groups);
    OFA_TRY(check_width("stem", a->stem, s->stem));
    OFA_TRY(check_width("down1", a->down1, s->down1));
    OFA_TRY(check_width("down2", a->down2, s->down2));
    OFA_TRY(check_width("up1", a->up1, s->up1));
    OFA_TRY(check_width("up2", a->up2, s->up2));
    for (int g = 0; g < a->n_groups; g++) {
        char slot[32];
        snprintf(slot, sizeof slot, "group %d hidden", g);
        OFA_TRY(check_width(slot, a->hidden[g], s->hidden[g]));
        if ((a->kernel[g] != 3 && a->kernel[g] != 5) || a->kernel[g] > s->kernel[g])
            return OFA_ERR(OFA_E_USAGE, "arch: group %d kernel %d; the generator stores %dx%d kernels there (choices: %s)",
                           g, a->kernel[g], s->kernel[g], s->kernel[g], s->kernel[g] == 5 ? "3, 5" : "3");
    }
    return 0;
}

static int in_choices(const ofa_mobile_choices *c, int v)
{
    for (int i = 0; i < c->n; i++)
        if (c->v[i] == v) return 1;
    return 0;
}

static int check_choice(const char *slot, const ofa_mobile_choices *c, int v)
{
    if (in_choices(c, v)) return 0;
    char list[OFA_MOBILE_CHOICES_MAX * 12] = "";
    size_t k = 0;
    for (int i = 0; i < c->n && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%d", i ? ", " : "", c->v[i]);
    return OFA_ERR(OFA_E_USAGE, "arch: %s %d is not in the space (choices: %s)", slot, v, list);
}

int ofa_mobile_space_check(const ofa_mobile_space *s, const ofa_mobile_arch *a)
{
    if (a->n_groups != s->n_groups)
        return OFA_ERR(OFA_E_USAGE, "arch: %d groups of blocks; the space has %d", a->n_groups, s->n_groups);
    OFA_TRY(check_choice("stem width", &s->stem, a->stem));
    OFA_TRY(check_choice("down1 width", &s->down1, a->down1));
    OFA_TRY(check_choice("down2 width", &s->down2, a->down2));
    for (int g = 0; g < a->n_groups; g++) {
        char slot[32];
        snprintf(slot, sizeof slot, "group %d hidden width", g);
        OFA_TRY(check_choice(slot, &s->hidden, a->hidden[g]));
        snprintf(slot, sizeof slot, "group %d kernel", g);
        OFA_TRY(check_choice(slot, &s->kernel, a->kernel[g]));
    }
    OFA_TRY(check_choice("up1 width", &s->up1, a->up1));
    OFA_TRY(check_choice("up2 width", &s->up2, a->up2));
    return 0;
}

static int cmax(const ofa_mobile_choices *c)
{
    int m = c->v[0];
    for (int i = 1; i < c->n; i++) m = c->v[i] > m ? c->v[i] : m;
    return m;
}

static int cmin(const ofa_mobile_choices *c)
{
    int m = c->v[0];
    for (int i = 1; i < c->n; i++) m = c->v[i] < m ? c->v[i] : m;
    return m;
}

static void space_pick(const ofa_mobile_space *s, ofa_mobile_arch *a, int (*pick)(const ofa_mobile_choices *))
{
    memset(a, 0, sizeof *a);
    a->n_groups = s->n_groups;
    a->stem = pick(&s->stem), a->down1 = pick(&s->down1), a->down2 = pick(&s->down2);
    a->up1 = pick(&s->up1), a->up2 = pick(&s->up2);
    for (int g = 0; g < s->n_groups; g++) a->hidden[g] = pick(&s->hidden), a->kernel[g] = pick(&s->kernel);
}

void ofa_mobile_space_largest(const ofa_mobile_space *s, ofa_mobile_arch *a) { space_pick(s, a, cmax); }
void ofa_mobile_space_smallest(const ofa_mobile_space *s, ofa_mobile_arch *a) { space_pick(s, a, cmin); }

/* The slots of an arch in one order (stem, down1, down2, hidden per group, kernel per group, up1,
 * up2): pointers into a and the choices each takes. */
typedef struct slot {
    int *v;
    const ofa_mobile_choices *c;
    int kernel;
} slot;

static int slots_of(ofa_mobile_arch *a, const ofa_mobile_space *s, slot *out)
{
    int n = 0;
    out[n++] = (slot){&a->stem, s ? &s->stem : NULL, 0};
    out[n++] = (slot){&a->down1, s ? &s->down1 : NULL, 0};
    out[n++] = (slot){&a->down2, s ? &s->down2 : NULL, 0};
    for (int g = 0; g < a->n_groups; g++) out[n++] = (slot){&a->hidden[g], s ? &s->hidden : NULL, 0};
    for (int g = 0; g < a->n_groups; g++) out[n++] = (slot){&a->kernel[g], s ? &s->kernel : NULL, 1};
    out[n++] = (slot){&a->up1, s ? &s->up1 : NULL, 0};
    out[n++] = (slot){&a->up2, s ? &s->up2 : NULL, 0};
    return n;
}

#define SLOTS_MAX (7 + 2 * OFA_MOBILE_GROUPS_MAX)

static int pick_uniform(const ofa_mobile_choices *c, ofa_rng *rng) { return c->v[ofa_rng_below(rng, (uint64_t)c->n)]; }

void ofa_mobile_arch_random(ofa_mobile_arch *a, const ofa_mobile_space *s, int widths, int kernels, ofa_rng *rng)
{
    ofa_mobile_space_largest(s, a);
    slot sl[SLOTS_MAX];
    int n = slots_of(a, s, sl);
    for (int i = 0; i < n; i++)
        if (sl[i].kernel ? kernels : widths) *sl[i].v = pick_uniform(sl[i].c, rng);
}

void ofa_mobile_arch_mutate(ofa_mobile_arch *c, const ofa_mobile_arch *parent, const ofa_mobile_space *s, int widths,
                            int kernels, double prob, ofa_rng *rng)
{
    *c = *parent;
    slot sl[SLOTS_MAX];
    int n = slots_of(c, s, sl);
    for (int i = 0; i < n; i++)
        if ((sl[i].kernel ? kernels : widths) && ofa_rng_uniform(rng) < prob) *sl[i].v = pick_uniform(sl[i].c, rng);
}

void ofa_mobile_arch_crossover(ofa_mobile_arch *c, const ofa_mobile_arch *p1, const ofa_mobile_arch *p2, ofa_rng *rng)
{
    OFA_ASSERT(p1->n_groups == p2->n_groups);
    *c = *p1;
    ofa_mobile_arch b = *p2;
    slot sc[SLOTS_MAX], sb[SLOTS_MAX];
    int n = slots_of(c, NULL, sc);
    slots_of(&b, NULL, sb);
    for (int i = 0; i < n; i++)
        if (ofa_rng_below(rng, 2)) *sc[i].v = *sb[i].v;
}

/* A plan without a net (names not looked up) for counting. */
static void count_plan(ofa_mobile_acts *a, int channels, int n_blocks, const ofa_mobile_arch *arch, int H, int W)
{
    ofa_mobile_plan_shape(a, channels, n_blocks, arch, arch, 1, H, W);
}

void ofa_mobile_plan_shape(ofa_mobile_acts *a, int channels, int n_blocks, const ofa_mobile_arch *shape,
                           const ofa_mobile_arch *arch, int Bmax, int H, int W)
{
    OFA_ASSERT(shape_ok(shape, n_blocks) && shape_ok(arch, n_blocks) && arch->n_groups == shape->n_groups);
    memset(a, 0, sizeof *a);
    a->Bmax = Bmax, a->H = H, a->W = W;
    builder bd = {.a = a};
    new_buf(&bd, channels, H, W);
    walk(&bd, channels, n_blocks, shape, arch);
    a->arch = *arch;
}

void ofa_mobile_op_key(const ofa_mobile_acts *a, int i, char *buf, size_t n)
{
    static const char *const kinds[OFA_MOBILE_OP_COUNT] = {"conv", "convt", "inorm", "relu", "tanh", "add"};
    OFA_ASSERT(i >= 0 && i < a->n_ops);
    const ofa_mobile_op *op = &a->ops[i];
    const nn_conv2d_dims *d = &op->d;
    if (op->kind == OFA_MOBILE_OP_CONV || op->kind == OFA_MOBILE_OP_CONVT)
        snprintf(n ? buf : NULL, n, "%s C%d O%d H%d W%d K%d s%d %s%s", kinds[op->kind], d->C, d->O, d->H, d->W, d->K,
                 d->stride ? d->stride : 1, d->groups > 1 ? "dw" : "dense", op->transformed ? " 5to3" : "");
    else
        snprintf(n ? buf : NULL, n, "%s C%d H%d W%d", kinds[op->kind], d->C, d->H, d->W);
}

int64_t ofa_mobile_arch_params(int channels, int n_blocks, const ofa_mobile_arch *a)
{
    OFA_ASSERT(shape_ok(a, n_blocks));
    ofa_mobile_acts t;
    count_plan(&t, channels, n_blocks, a, 32, 32);
    int64_t n = 0;
    for (int i = 0; i < t.n_ops; i++) {
        const ofa_mobile_op *op = &t.ops[i];
        if (op->kind != OFA_MOBILE_OP_CONV && op->kind != OFA_MOBILE_OP_CONVT) continue;
        int groups = op->d.groups ? op->d.groups : 1;
        n += (int64_t)op->d.O * (op->d.C / groups) * op->d.K * op->d.K + op->d.O;
    }
    ofa_mobile_acts_free(&t);
    return n;
}

int64_t ofa_mobile_arch_macs(int channels, int n_blocks, const ofa_mobile_arch *a, int H, int W)
{
    OFA_ASSERT(shape_ok(a, n_blocks) && H % 4 == 0 && W % 4 == 0);
    ofa_mobile_acts t;
    count_plan(&t, channels, n_blocks, a, H, W);
    int64_t n = 0;
    for (int i = 0; i < t.n_ops; i++) {
        const ofa_mobile_op *op = &t.ops[i];
        if (op->kind != OFA_MOBILE_OP_CONV && op->kind != OFA_MOBILE_OP_CONVT) continue;
        const ofa_mobile_buf *o = &t.buf[op->out];
        int groups = op->d.groups ? op->d.groups : 1;
        int ic = op->kind == OFA_MOBILE_OP_CONVT ? op->d.C : op->d.C / groups;
        n += (int64_t)o->C * o->H * o->W * ic * op->d.K * op->d.K;
    }
    ofa_mobile_acts_free(&t);
    return n;
}

/* ---- plan, forward, backward ---- */

void ofa_mobile_plan(ofa_mobile_acts *a, const ofa_mobile_net *net, const ofa_mobile_arch *arch)
{
    const ofa_mobile_arch *ar = arch ? arch : &net->shape;
    if (arch && ofa_mobile_arch_check(arch, net) != 0) {
        fprintf(stderr, "ofa_mobile_plan: %s\n", ofa_err_msg());
        OFA_ASSERT(!"a valid arch");
    }
    a->n_ops = a->n_buf = 0;
    a->n_act = a->n_stats = a->n_kw = a->n_scratch = 0;
    builder bd = {.a = a, .pp = &net->p};
    new_buf(&bd, net->channels, a->H, a->W); /* buffer 0: the input */
    walk(&bd, net->channels, net->n_blocks, &net->shape, ar);
    const ofa_mobile_buf *o = &a->buf[a->n_buf - 1];
    OFA_ASSERT(o->C == net->channels && o->H == a->H && o->W == a->W);
    a->arch = *ar;
}

void ofa_mobile_acts_create(ofa_mobile_acts *a, const ofa_mobile_net *net, int Bmax, int H, int W)
{
    OFA_ASSERT(Bmax >= 1 && H % 4 == 0 && W % 4 == 0 && H >= 12 && W >= 12);
    memset(a, 0, sizeof *a);
    a->Bmax = Bmax, a->H = H, a->W = W;
    ofa_mobile_plan(a, net, NULL);
    /* kernel area: every depthwise conv of a stored-5 group as a transformed 3x3 at stored width */
    size_t kw = 0;
    for (int i = 0; i < net->n_blocks; i++) {
        int g = ofa_mobile_block_group(net->n_blocks, net->shape.n_groups, i);
        if (net->shape.kernel[g] != 5) continue;
        kw += (((size_t)net->shape.down2 * 9 + 15) & ~(size_t)15) + (((size_t)net->shape.hidden[g] * 9 + 15) & ~(size_t)15);
    }
    /* a narrower subnet never needs more activations, statistics or scratch (all grow with widths and
     * kernels); a 3x3 choice needs no more scratch than the 5x5 it replaces */
    a->cap_act = a->n_act, a->cap_stats = a->n_stats, a->cap_kw = kw, a->cap_scratch = a->n_scratch;
    size_t total = 2 * a->cap_act + a->cap_stats + 2 * a->cap_kw + a->cap_scratch;
    a->arena = ofa_xalloc_aligned(total * sizeof(float));
    a->act = a->arena;
    a->dact = a->act + a->cap_act;
    a->stats = a->dact + a->cap_act;
    a->kw = a->stats + a->cap_stats;
    a->dkw = a->kw + a->cap_kw;
    a->scratch = a->dkw + a->cap_kw;
}

void ofa_mobile_acts_free(ofa_mobile_acts *a)
{
    if (!a) return;
    free(a->arena);
    free(a->ops);
    free(a->buf);
    memset(a, 0, sizeof *a);
}

static size_t per_sample(const ofa_mobile_buf *b) { return (size_t)b->C * b->H * b->W; }

/* w3[c, j] = sum_i M[j, i] centre(w5[c])[i], for c < C (stored rows of 25 taps). */
static void kernel_transform(float *w3, const float *w5, const float *M, int C)
{
    for (int c = 0; c < C; c++) {
        float ctr[9];
        for (int i = 0; i < 9; i++) ctr[i] = w5[(size_t)c * 25 + (1 + i / 3) * 5 + 1 + i % 3];
        for (int j = 0; j < 9; j++) {
            float s = 0;
            for (int i = 0; i < 9; i++) s += M[j * 9 + i] * ctr[i];
            w3[(size_t)c * 9 + j] = s;
        }
    }
}

/* The adjoint: dw5 centre += M^T dw3, dM += dw3^T centre. */
static void kernel_transform_bwd(float *dw5, float *dM, const float *dw3, const float *w5, const float *M, int C)
{
    for (int c = 0; c < C; c++) {
        const float *d = dw3 + (size_t)c * 9;
        for (int i = 0; i < 9; i++) {
            size_t t = (size_t)c * 25 + (1 + i / 3) * 5 + 1 + i % 3;
            float s = 0;
            for (int j = 0; j < 9; j++) s += M[j * 9 + i] * d[j];
            dw5[t] += s;
            for (int j = 0; j < 9; j++) dM[j * 9 + i] += d[j] * w5[t];
        }
    }
}

int ofa_mobile_extract(ofa_mobile_net *dst, const ofa_mobile_net *src, const ofa_mobile_arch *arch)
{
    OFA_TRY(ofa_mobile_arch_check(arch, src));
    ofa_mobile_net_init(dst, src->channels, src->n_blocks, arch);
    ofa_mobile_acts t;
    memset(&t, 0, sizeof t);
    t.Bmax = 1, t.H = 16, t.W = 16; /* any size the 5x5 reflection padding fits */
    ofa_mobile_plan(&t, src, arch);
    for (int i = 0; i < t.n_ops; i++) {
        const ofa_mobile_op *op = &t.ops[i];
        if (op->kind != OFA_MOBILE_OP_CONV && op->kind != OFA_MOBILE_OP_CONVT) continue;
        const ofa_pview *sv = &src->p.views[op->w], *sb = &src->p.views[op->b];
        const ofa_pview *dv = &dst->p.views[ofa_params_find(&dst->p, sv->name)];
        const ofa_pview *db = &dst->p.views[ofa_params_find(&dst->p, sb->name)];
        const float *sw = src->p.data + sv->offset;
        float *dw = dst->p.data + dv->offset;
        if (op->mat >= 0) {
            kernel_transform(dw, sw, src->p.data + src->p.views[op->mat].offset, (int)dv->shape[0]);
        } else {
            OFA_ASSERT(dv->shape[2] == sv->shape[2]);
            int64_t kk = dv->shape[2] * dv->shape[3];
            for (int64_t r = 0; r < dv->shape[0]; r++)
                memcpy(dw + r * dv->shape[1] * kk, sw + r * sv->shape[1] * kk, (size_t)(dv->shape[1] * kk) * sizeof(float));
        }
        memcpy(dst->p.data + db->offset, src->p.data + sb->offset, db->numel * sizeof(float));
    }
    ofa_mobile_acts_free(&t);
    for (int i = 0; i < dst->p.n; i++) { /* the matrices of groups that stay 5x5 */
        const ofa_pview *dv = &dst->p.views[i];
        if (dv->ndim != 2) continue;
        const ofa_pview *sv = &src->p.views[ofa_params_find(&src->p, dv->name)];
        memcpy(dst->p.data + dv->offset, src->p.data + sv->offset, dv->numel * sizeof(float));
    }
    return 0;
}

static int same_arch(const ofa_mobile_arch *x, const ofa_mobile_arch *y)
{
    if (x->n_groups != y->n_groups || x->stem != y->stem || x->down1 != y->down1 || x->down2 != y->down2 ||
        x->up1 != y->up1 || x->up2 != y->up2)
        return 0;
    for (int g = 0; g < x->n_groups; g++)
        if (x->hidden[g] != y->hidden[g] || x->kernel[g] != y->kernel[g]) return 0;
    return 1;
}

const float *ofa_mobile_forward(const ofa_mobile_net *net, ofa_mobile_acts *a, const ofa_mobile_arch *arch,
                                const float *x, int B)
{
    OFA_ASSERT(B >= 1 && B <= a->Bmax);
    const ofa_mobile_arch *ar = arch ? arch : &net->shape;
    if (!same_arch(ar, &a->arch)) {
        ofa_mobile_plan(a, net, ar);
        OFA_ASSERT(a->n_act <= a->cap_act && a->n_stats <= a->cap_stats && a->n_kw <= a->cap_kw &&
                   a->n_scratch <= a->cap_scratch);
    }
    a->B = B;
    memcpy(a->act, x, (size_t)B * per_sample(&a->buf[0]) * sizeof(float));
    for (int i = 0; i < a->n_ops; i++) ofa_mobile_op_run(net, a, i);
    return a->act + a->buf[a->n_buf - 1].off;
}

void ofa_mobile_op_run(const ofa_mobile_net *net, ofa_mobile_acts *a, int i)
{
    const float *P = net->p.data;
    const int B = a->B;
    const ofa_mobile_op *op = &a->ops[i];
    const float *in = a->act + a->buf[op->in].off;
    float *out = a->act + a->buf[op->out].off;
    int64_t n = (int64_t)B * (int64_t)per_sample(&a->buf[op->out]);
    nn_conv2d_dims d = op->d;
    d.B = B;
    switch (op->kind) {
    case OFA_MOBILE_OP_CONV: {
        const float *w = P + net->p.views[op->w].offset;
        if (op->mat >= 0) {
            kernel_transform(a->kw + op->kw, w, P + net->p.views[op->mat].offset, d.C);
            w = a->kw + op->kw;
        }
        nn_conv2d_fwd_f32(out, in, w, P + net->p.views[op->b].offset, &d, a->scratch);
        break;
    }
    case OFA_MOBILE_OP_CONVT:
        nn_conv_transpose2d_fwd_f32(out, in, P + net->p.views[op->w].offset, P + net->p.views[op->b].offset, &d,
                                    a->scratch);
        break;
    case OFA_MOBILE_OP_INORM: {
        float *mean = a->stats + op->stats, *rstd = mean + (size_t)a->Bmax * d.C;
        nn_instnorm_fwd_f32(out, mean, rstd, in, NULL, NULL, B, d.C, d.H * d.W, IN_EPS);
        break;
    }
    case OFA_MOBILE_OP_RELU: nn_relu_fwd_f32(out, in, n); break;
    case OFA_MOBILE_OP_TANH: nn_tanh_fwd_f32(out, in, n); break;
    case OFA_MOBILE_OP_ADD: {
        const float *in2 = a->act + a->buf[op->in2].off;
        for (int64_t j = 0; j < n; j++) out[j] = in[j] + in2[j];
        break;
    }
    default: OFA_ASSERT(0);
    }
}

void ofa_mobile_backward(ofa_mobile_net *net, ofa_mobile_acts *a, const float *dy, float *dx)
{
    ofa_mobile_backward_seeded(net, a, dy, dx, 0, NULL, NULL);
}

void ofa_mobile_backward_seeded(ofa_mobile_net *net, ofa_mobile_acts *a, const float *dy, float *dx, int n_seeds,
                                const int *bufs, const float *const *seeds)
{
    int B = a->B;
    OFA_ASSERT(B >= 1);
    memset(a->dact, 0, a->n_act * sizeof(float));
    const ofa_mobile_buf *ob = &a->buf[a->n_buf - 1];
    memcpy(a->dact + ob->off, dy, (size_t)B * per_sample(ob) * sizeof(float));
    for (int k = 0; k < n_seeds; k++) { /* every op adds into its input's gradient, so a seed is one more term */
        OFA_ASSERT(bufs[k] > 0 && bufs[k] < a->n_buf - 1);
        const ofa_mobile_buf *sb = &a->buf[bufs[k]];
        float *d = a->dact + sb->off;
        for (size_t j = 0, n = (size_t)B * per_sample(sb); j < n; j++) d[j] += seeds[k][j];
    }
    const float *P = net->p.data;
    float *G = net->p.grad;
    for (int i = a->n_ops - 1; i >= 0; i--) {
        const ofa_mobile_op *op = &a->ops[i];
        const float *in = a->act + a->buf[op->in].off, *out = a->act + a->buf[op->out].off;
        float *din = a->dact + a->buf[op->in].off;
        const float *dout = a->dact + a->buf[op->out].off;
        int64_t n = (int64_t)B * (int64_t)per_sample(&a->buf[op->out]);
        if (op->in == 0 && !dx) din = NULL;
        nn_conv2d_dims d = op->d;
        d.B = B;
        switch (op->kind) {
        case OFA_MOBILE_OP_CONV: {
            const float *w = P + net->p.views[op->w].offset;
            float *dw = G + net->p.views[op->w].offset;
            if (op->mat >= 0) { /* the forward's transformed kernel is still in kw */
                w = a->kw + op->kw;
                dw = a->dkw + op->kw;
                memset(dw, 0, (size_t)d.C * 9 * sizeof(float));
            }
            nn_conv2d_bwd_f32(din, dw, G + net->p.views[op->b].offset, dout, in, w, &d, a->scratch);
            if (op->mat >= 0)
                kernel_transform_bwd(G + net->p.views[op->w].offset, G + net->p.views[op->mat].offset, dw,
                                     P + net->p.views[op->w].offset, P + net->p.views[op->mat].offset, d.C);
            break;
        }
        case OFA_MOBILE_OP_CONVT:
            nn_conv_transpose2d_bwd_f32(din, G + net->p.views[op->w].offset, G + net->p.views[op->b].offset, dout, in,
                                        P + net->p.views[op->w].offset, &d, a->scratch);
            break;
        case OFA_MOBILE_OP_INORM: {
            const float *mean = a->stats + op->stats, *rstd = mean + (size_t)a->Bmax * d.C;
            nn_instnorm_bwd_f32(din, NULL, NULL, dout, in, mean, rstd, NULL, B, d.C, d.H * d.W);
            break;
        }
        case OFA_MOBILE_OP_RELU: nn_relu_bwd_f32(din, dout, out, n); break;
        case OFA_MOBILE_OP_TANH: nn_tanh_bwd_f32(din, dout, out, n); break;
        case OFA_MOBILE_OP_ADD: {
            float *din2 = a->dact + a->buf[op->in2].off;
            for (int64_t j = 0; j < n; j++) din[j] += dout[j], din2[j] += dout[j];
            break;
        }
        default: OFA_ASSERT(0);
        }
    }
    if (dx) {
        const float *d0 = a->dact + a->buf[0].off;
        size_t n0 = (size_t)B * per_sample(&a->buf[0]);
        for (size_t j = 0; j < n0; j++) dx[j] += d0[j];
    }
}

void ofa_mobile_time_forward(const ofa_mobile_net *net, ofa_mobile_acts *a, const ofa_mobile_arch *arch, const float *x,
                             int warmup, int repeats, ofa_mobile_timing *t)
{
    OFA_ASSERT(warmup >= 0 && repeats >= 1);
    for (int i = 0; i < warmup; i++) ofa_mobile_forward(net, a, arch, x, 1);
    double *ms = ofa_xmalloc((size_t)repeats * sizeof *ms);
    for (int i = 0; i < repeats; i++) {
        double t0 = ofa_now();
        ofa_mobile_forward(net, a, arch, x, 1);
        ms[i] = (ofa_now() - t0) * 1e3;
    }
    t->median_ms = ofa_median_sort(ms, repeats);
    t->repeats = repeats;
    t->min_ms = ms[0], t->max_ms = ms[repeats - 1];
    free(ms);
}
