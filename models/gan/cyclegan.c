/* models/gan/cyclegan: ResnetGenerator and NLayerDiscriminator (see cyclegan.h).
 *
 * One walk per network (walk_generator, walk_discriminator) names every layer in PyTorch's module
 * order.  With a builder in "params" mode it registers the state_dict tensors; in "plan" mode it
 * appends ops with their geometry for one image size, looking the same names up.  Forward runs the
 * ops in order; backward runs them in reverse into a zeroed gradient twin of the activations, so a
 * buffer read by two ops (the residual input) sums both gradients. */
#include "models/gan/cyclegan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/nn.h"

typedef struct builder {
    ofa_params *p;     /* params mode: register tensors */
    ofa_gan_acts *a;   /* plan mode: append ops */
    const ofa_params *pp; /* plan mode: the net's parameters (name lookup) */
    int cap_ops, cap_buf;
} builder;

static int new_buf(builder *bd, int C, int H, int W)
{
    ofa_gan_acts *a = bd->a;
    if (!a) return 0;
    if (a->n_buf == bd->cap_buf) {
        bd->cap_buf = bd->cap_buf ? 2 * bd->cap_buf : 32;
        a->buf = realloc(a->buf, (size_t)bd->cap_buf * sizeof *a->buf);
        OFA_ASSERT(a->buf);
    }
    ofa_gan_buf *b = &a->buf[a->n_buf];
    b->C = C, b->H = H, b->W = W;
    b->off = a->n_act;
    size_t n = (size_t)a->Bmax * C * H * W;
    a->n_act += (n + 15) & ~(size_t)15; /* 64-byte aligned buffers */
    return a->n_buf++;
}

static ofa_gan_op *new_op(builder *bd, ofa_gan_op_kind kind, int in)
{
    ofa_gan_acts *a = bd->a;
    if (a->n_ops == bd->cap_ops) {
        bd->cap_ops = bd->cap_ops ? 2 * bd->cap_ops : 32;
        a->ops = realloc(a->ops, (size_t)bd->cap_ops * sizeof *a->ops);
        OFA_ASSERT(a->ops);
    }
    ofa_gan_op *op = &a->ops[a->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->w = op->b = op->in2 = -1;
    op->in = in;
    const ofa_gan_buf *x = &a->buf[in];
    op->d.B = a->Bmax, op->d.C = x->C, op->d.H = x->H, op->d.W = x->W;
    return op;
}

/* A conv (transposed = 0) or transposed conv named `name` (its .weight and .bias), C -> O. */
static int conv(builder *bd, const char *name, int in, int transposed, int C, int O, int K, int stride,
                int pad, nn_pad_mode mode, int out_pad)
{
    char wn[OFA_PARAM_NAME_MAX], bn[OFA_PARAM_NAME_MAX];
    OFA_ASSERT(snprintf(wn, sizeof wn, "%s.weight", name) < (int)sizeof wn);
    OFA_ASSERT(snprintf(bn, sizeof bn, "%s.bias", name) < (int)sizeof bn);
    if (bd->p) {
        int64_t ws[4] = {transposed ? C : O, transposed ? O : C, K, K}, bs[1] = {O};
        ofa_params_add(bd->p, wn, 4, ws, 1);
        ofa_params_add(bd->p, bn, 1, bs, 0);
        return 0;
    }
    ofa_gan_op *op = new_op(bd, transposed ? OFA_GAN_OP_CONVT : OFA_GAN_OP_CONV, in);
    OFA_ASSERT(op->d.C == C);
    op->d.O = O, op->d.K = K, op->d.stride = stride, op->d.pad = pad, op->d.pad_mode = mode;
    op->d.out_pad = out_pad;
    op->w = ofa_params_find(bd->pp, wn);
    op->b = ofa_params_find(bd->pp, bn);
    OFA_ASSERT(op->w >= 0 && op->b >= 0);
    nn_conv2d_dims d = op->d;
    int Ho, Wo;
    nn_conv2d_out_hw(&d, transposed, &Ho, &Wo);
    nn_conv2d_geom g;
    nn_conv2d_geom_of(&g, &d, transposed); /* asserts the geometry (e.g. reflection pad < H) */
    size_t s = nn_conv2d_scratch(&d, transposed);
    if (s > bd->a->n_scratch) bd->a->n_scratch = s;
    int out = new_buf(bd, O, Ho, Wo);
    bd->a->ops[bd->a->n_ops - 1].out = out;
    return out;
}

/* An element-wise op (or instance norm) keeping the shape of `in`. */
static int unary(builder *bd, ofa_gan_op_kind kind, int in)
{
    if (bd->p) return 0;
    ofa_gan_op *op = new_op(bd, kind, in);
    if (kind == OFA_GAN_OP_INORM) {
        op->stats = bd->a->n_stats;
        bd->a->n_stats += 2 * (size_t)bd->a->Bmax * op->d.C;
    }
    const ofa_gan_buf *x = &bd->a->buf[in];
    int out = new_buf(bd, x->C, x->H, x->W);
    bd->a->ops[bd->a->n_ops - 1].out = out;
    return out;
}

static int add(builder *bd, int a_, int b_)
{
    if (bd->p) return 0;
    ofa_gan_op *op = new_op(bd, OFA_GAN_OP_ADD, a_);
    op->in2 = b_;
    const ofa_gan_buf *x = &bd->a->buf[a_], *y = &bd->a->buf[b_];
    OFA_ASSERT(x->C == y->C && x->H == y->H && x->W == y->W);
    int out = new_buf(bd, x->C, x->H, x->W);
    bd->a->ops[bd->a->n_ops - 1].out = out;
    return out;
}

static void walk_generator(builder *bd, int ch, int ngf, int n_blocks)
{
    char name[OFA_PARAM_NAME_MAX];
    int b = 0; /* the input image */
    b = conv(bd, "model.1", b, 0, ch, ngf, 7, 1, 3, NN_PAD_REFLECT, 0);
    b = unary(bd, OFA_GAN_OP_RELU, unary(bd, OFA_GAN_OP_INORM, b));
    b = conv(bd, "model.4", b, 0, ngf, 2 * ngf, 3, 2, 1, NN_PAD_ZEROS, 0);
    b = unary(bd, OFA_GAN_OP_RELU, unary(bd, OFA_GAN_OP_INORM, b));
    b = conv(bd, "model.7", b, 0, 2 * ngf, 4 * ngf, 3, 2, 1, NN_PAD_ZEROS, 0);
    b = unary(bd, OFA_GAN_OP_RELU, unary(bd, OFA_GAN_OP_INORM, b));
    int dim = 4 * ngf;
    for (int i = 0; i < n_blocks; i++) {
        snprintf(name, sizeof name, "model.%d.conv_block.1", 10 + i);
        int h = conv(bd, name, b, 0, dim, dim, 3, 1, 1, NN_PAD_REFLECT, 0);
        h = unary(bd, OFA_GAN_OP_RELU, unary(bd, OFA_GAN_OP_INORM, h));
        snprintf(name, sizeof name, "model.%d.conv_block.5", 10 + i);
        h = conv(bd, name, h, 0, dim, dim, 3, 1, 1, NN_PAD_REFLECT, 0);
        h = unary(bd, OFA_GAN_OP_INORM, h);
        b = add(bd, b, h);
    }
    snprintf(name, sizeof name, "model.%d", 10 + n_blocks);
    b = conv(bd, name, b, 1, 4 * ngf, 2 * ngf, 3, 2, 1, NN_PAD_ZEROS, 1);
    b = unary(bd, OFA_GAN_OP_RELU, unary(bd, OFA_GAN_OP_INORM, b));
    snprintf(name, sizeof name, "model.%d", 13 + n_blocks);
    b = conv(bd, name, b, 1, 2 * ngf, ngf, 3, 2, 1, NN_PAD_ZEROS, 1);
    b = unary(bd, OFA_GAN_OP_RELU, unary(bd, OFA_GAN_OP_INORM, b));
    snprintf(name, sizeof name, "model.%d", 17 + n_blocks);
    b = conv(bd, name, b, 0, ngf, ch, 7, 1, 3, NN_PAD_REFLECT, 0);
    unary(bd, OFA_GAN_OP_TANH, b);
}

static int imin(int a, int b) { return a < b ? a : b; }

static void walk_discriminator(builder *bd, int ch, int ndf, int n_layers)
{
    char name[OFA_PARAM_NAME_MAX];
    int b = conv(bd, "model.0", 0, 0, ch, ndf, 4, 2, 1, NN_PAD_ZEROS, 0);
    b = unary(bd, OFA_GAN_OP_LRELU, b);
    int mult = 1, idx = 2;
    for (int n = 1; n <= n_layers; n++, idx += 3) {
        int prev = mult;
        mult = imin(1 << imin(n, 3), 8);
        snprintf(name, sizeof name, "model.%d", idx);
        b = conv(bd, name, b, 0, ndf * prev, ndf * mult, 4, n < n_layers ? 2 : 1, 1, NN_PAD_ZEROS, 0);
        b = unary(bd, OFA_GAN_OP_LRELU, unary(bd, OFA_GAN_OP_INORM, b));
    }
    snprintf(name, sizeof name, "model.%d", idx);
    conv(bd, name, b, 0, ndf * mult, 1, 4, 1, 1, NN_PAD_ZEROS, 0);
}

static void walk(builder *bd, const ofa_gan_net *n)
{
    if (n->kind == OFA_GAN_GENERATOR)
        walk_generator(bd, n->channels, n->nf, n->depth);
    else
        walk_discriminator(bd, n->channels, n->nf, n->depth);
}

void ofa_gan_net_init(ofa_gan_net *n, ofa_gan_kind kind, int channels, int nf, int depth)
{
    OFA_ASSERT(kind == OFA_GAN_GENERATOR || kind == OFA_GAN_DISCRIMINATOR);
    OFA_ASSERT(channels >= 1 && nf >= 1 && depth >= (kind == OFA_GAN_GENERATOR ? 0 : 1));
    memset(n, 0, sizeof *n);
    n->kind = kind, n->channels = channels, n->nf = nf, n->depth = depth;
    ofa_params_init(&n->p);
    builder bd = {.p = &n->p};
    walk(&bd, n);
    ofa_params_alloc(&n->p);
}

void ofa_gan_net_free(ofa_gan_net *n)
{
    if (!n) return;
    ofa_params_free(&n->p);
    memset(n, 0, sizeof *n);
}

void ofa_gan_acts_create(ofa_gan_acts *a, const ofa_gan_net *net, int Bmax, int H, int W)
{
    OFA_ASSERT(Bmax >= 1 && H >= 1 && W >= 1);
    memset(a, 0, sizeof *a);
    a->Bmax = Bmax, a->H = H, a->W = W;
    builder bd = {.a = a, .pp = &net->p};
    new_buf(&bd, net->channels, H, W); /* buffer 0: the input */
    if (net->kind == OFA_GAN_GENERATOR) OFA_ASSERT(H % 4 == 0 && W % 4 == 0 && H >= 8 && W >= 8);
    walk(&bd, net);
    if (net->kind == OFA_GAN_GENERATOR) {
        const ofa_gan_buf *o = &a->buf[a->n_buf - 1];
        OFA_ASSERT(o->C == net->channels && o->H == H && o->W == W);
    }
    size_t total = 2 * a->n_act + a->n_stats + a->n_scratch;
    a->arena = aligned_alloc(64, ((total * sizeof(float) + 63) / 64) * 64);
    OFA_ASSERT(a->arena);
    memset(a->arena, 0, total * sizeof(float));
    a->act = a->arena;
    a->dact = a->act + a->n_act;
    a->stats = a->dact + a->n_act;
    a->scratch = a->stats + a->n_stats;
}

void ofa_gan_acts_free(ofa_gan_acts *a)
{
    if (!a) return;
    free(a->arena);
    free(a->ops);
    free(a->buf);
    memset(a, 0, sizeof *a);
}

void ofa_gan_out_shape(const ofa_gan_acts *a, int *C, int *Ho, int *Wo)
{
    const ofa_gan_buf *o = &a->buf[a->n_buf - 1];
    *C = o->C, *Ho = o->H, *Wo = o->W;
}

static size_t per_sample(const ofa_gan_buf *b) { return (size_t)b->C * b->H * b->W; }

const float *ofa_gan_forward(const ofa_gan_net *net, ofa_gan_acts *a, const float *x, int B)
{
    OFA_ASSERT(B >= 1 && B <= a->Bmax);
    a->B = B;
    memcpy(a->act, x, (size_t)B * per_sample(&a->buf[0]) * sizeof(float));
    const float *P = net->p.data;
    for (int i = 0; i < a->n_ops; i++) {
        const ofa_gan_op *op = &a->ops[i];
        const float *in = a->act + a->buf[op->in].off;
        float *out = a->act + a->buf[op->out].off;
        int64_t n = (int64_t)B * (int64_t)per_sample(&a->buf[op->out]);
        nn_conv2d_dims d = op->d;
        d.B = B;
        switch (op->kind) {
        case OFA_GAN_OP_CONV:
            nn_conv2d_fwd_f32(out, in, P + net->p.views[op->w].offset, P + net->p.views[op->b].offset, &d,
                              a->scratch);
            break;
        case OFA_GAN_OP_CONVT:
            nn_conv_transpose2d_fwd_f32(out, in, P + net->p.views[op->w].offset, P + net->p.views[op->b].offset,
                                        &d, a->scratch);
            break;
        case OFA_GAN_OP_INORM: {
            float *mean = a->stats + op->stats, *rstd = mean + (size_t)a->Bmax * d.C;
            nn_instnorm_fwd_f32(out, mean, rstd, in, NULL, NULL, B, d.C, d.H * d.W, OFA_GAN_IN_EPS);
            break;
        }
        case OFA_GAN_OP_RELU: nn_relu_fwd_f32(out, in, n); break;
        case OFA_GAN_OP_LRELU: nn_leaky_relu_fwd_f32(out, in, n, OFA_GAN_LRELU_SLOPE); break;
        case OFA_GAN_OP_TANH: nn_tanh_fwd_f32(out, in, n); break;
        case OFA_GAN_OP_ADD: {
            const float *in2 = a->act + a->buf[op->in2].off;
            for (int64_t j = 0; j < n; j++) out[j] = in[j] + in2[j];
            break;
        }
        default: OFA_ASSERT(0);
        }
    }
    return a->act + a->buf[a->n_buf - 1].off;
}

void ofa_gan_backward(ofa_gan_net *net, ofa_gan_acts *a, const float *dy, float *dx)
{
    int B = a->B;
    OFA_ASSERT(B >= 1);
    memset(a->dact, 0, a->n_act * sizeof(float));
    const ofa_gan_buf *ob = &a->buf[a->n_buf - 1];
    memcpy(a->dact + ob->off, dy, (size_t)B * per_sample(ob) * sizeof(float));
    const float *P = net->p.data;
    float *G = net->p.grad;
    for (int i = a->n_ops - 1; i >= 0; i--) {
        const ofa_gan_op *op = &a->ops[i];
        const float *in = a->act + a->buf[op->in].off, *out = a->act + a->buf[op->out].off;
        float *din = a->dact + a->buf[op->in].off;
        const float *dout = a->dact + a->buf[op->out].off;
        int64_t n = (int64_t)B * (int64_t)per_sample(&a->buf[op->out]);
        /* the input image's gradient is only needed when the caller asks for it */
        if (op->in == 0 && !dx) din = NULL;
        nn_conv2d_dims d = op->d;
        d.B = B;
        switch (op->kind) {
        case OFA_GAN_OP_CONV:
            nn_conv2d_bwd_f32(din, G + net->p.views[op->w].offset, G + net->p.views[op->b].offset, dout, in,
                              P + net->p.views[op->w].offset, &d, a->scratch);
            break;
        case OFA_GAN_OP_CONVT:
            nn_conv_transpose2d_bwd_f32(din, G + net->p.views[op->w].offset, G + net->p.views[op->b].offset,
                                        dout, in, P + net->p.views[op->w].offset, &d, a->scratch);
            break;
        case OFA_GAN_OP_INORM: {
            const float *mean = a->stats + op->stats, *rstd = mean + (size_t)a->Bmax * d.C;
            nn_instnorm_bwd_f32(din, NULL, NULL, dout, in, mean, rstd, NULL, B, d.C, d.H * d.W);
            break;
        }
        case OFA_GAN_OP_RELU: nn_relu_bwd_f32(din, dout, out, n); break;
        case OFA_GAN_OP_LRELU: nn_leaky_relu_bwd_f32(din, dout, out, n, OFA_GAN_LRELU_SLOPE); break;
        case OFA_GAN_OP_TANH: nn_tanh_bwd_f32(din, dout, out, n); break;
        case OFA_GAN_OP_ADD: {
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
