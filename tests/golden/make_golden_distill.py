#!/usr/bin/python3
"""Golden file for one GAN Compression distillation step (models/gan/distill.c).

Usage: /usr/bin/python3 tests/golden/make_golden_distill.py OUT_DIR
Writes OUT_DIR/distill_tiny.h5: a ResNet teacher generator (pytorch-CycleGAN-and-pix2pix
ResnetGenerator), a MobileResNet student (GAN Compression's MobileResnetGenerator), a PatchGAN
discriminator and one learned 1x1 conv per feature tap, their weights, a batch of domain-A and
domain-B images, the losses of one step and every gradient.

The step is GAN Compression's ResnetDistiller (mit-han-lab/gan-compression,
distillers/base_resnet_distiller.py and resnet_distiller.py), written here after its definition:
    Sfake = S(A), Tfake = T(A) (the teacher frozen)
    taps: the encoder output (the input of the first residual block, module model.9) and the output
          of every third residual block (model.12, model.15, ...); map_k = Conv2d(Cs, Ct, 1) with bias
    loss_G  = lambda_gan MSE(D(Sfake), 1) + lambda_recon mean|Sfake - Tfake|
              + lambda_distill sum_k MSE(map_k(Sact_k), Tact_k)
    loss_D  = (MSE(D(Sfake.detach()), 0) + MSE(D(B), 1)) / 2
The student and the maps take the gradients of loss_G, the discriminator those of loss_D (both on
the same weights, as GAN Compression computes them before either optimizer steps).
Float64 from float32 values; stored as float32.  Deterministic: fixed seed, no timestamps.
Self-check: a float32 torch run agrees within a third of the C test's tolerances.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden_supernet import H5W  # noqa: E402
from make_golden_cyclegan import ResnetGenerator, NLayerDiscriminator  # noqa: E402
from make_golden_mobile import MobileResnetGenerator, arch_text  # noqa: E402

SEED = 1213
B, IMG, N_BLOCKS = 2, 16, 4
TNGF, NDF, N_LAYERS = 3, 4, 2
SHAPE = dict(stem=2, down1=4, down2=8, hidden=[8], kernel=[3], up1=4, up2=2)  # student, one group
# the prune case's teacher: the unpruned MobileResNet (twice the student's widths)
TSHAPE = dict(stem=4, down1=8, down2=16, hidden=[16], kernel=[3], up1=8, up2=4)
LG, LR, LF = 1.0, 10.0, 0.5  # lambda_gan, lambda_recon, lambda_distill (not the default, so it is tested)
TAPS = [9] + [10 + i for i in range(N_BLOCKS) if i % 3 == 2]  # module indices whose outputs are tapped
TOL_LOSS = 1e-5
TOL_GRAD = 1e-4


def r32(shape, scale, gen):
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).float().double()


def init(mod, gen):
    with torch.no_grad():
        for name, p in mod.named_parameters():
            if name.endswith(".weight"):
                p.copy_(r32(p.shape, 1.0 / np.sqrt(p[0].numel()), gen))
            else:
                p.copy_(r32(p.shape, 0.5, gen))


def acts(G, x):
    """output and the tapped activations of a Sequential generator"""
    taps, h = [], x
    for i, m in enumerate(G.model):
        h = m(h)
        if i in TAPS:
            taps.append(h)
    return h, taps


def step(T, S, D, maps, a, b):
    with torch.no_grad():
        tfake, tacts = acts(T, a)
    sfake, sacts = acts(S, a)
    g_gan = LG * ((D(sfake) - 1) ** 2).mean()
    recon = LR * (sfake - tfake).abs().mean()
    feat = LF * sum(F.mse_loss(m(s), t) for m, s, t in zip(maps.map, sacts, tacts))
    for p in D.parameters():
        p.requires_grad_(False)
    (g_gan + recon + feat).backward()
    for p in D.parameters():
        p.requires_grad_(True)
    d_loss = 0.5 * ((D(sfake.detach()) ** 2).mean() + ((D(b) - 1) ** 2).mean())
    d_loss.backward()
    return [g_gan.item(), recon.item(), feat.item(), d_loss.item()], sfake.detach()


def grads(mods):
    out = {}
    for tag, m in mods:
        for k, p in m.named_parameters():
            out[tag + "/" + k] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
    return out


def build(dtype, state, kind):
    T = (ResnetGenerator(1, 1, TNGF, N_BLOCKS) if kind == "student" else
         MobileResnetGenerator(1, TSHAPE, N_BLOCKS, 1)).to(dtype)
    ct = 4 * TNGF if kind == "student" else TSHAPE["down2"]
    S = MobileResnetGenerator(1, SHAPE, N_BLOCKS, 1).to(dtype)
    D = NLayerDiscriminator(1, NDF, N_LAYERS).to(dtype)
    maps = nn.Module()  # named map.<k>.weight / .bias as the C distiller's views
    maps.map = nn.ModuleList([nn.Conv2d(SHAPE["down2"], ct, 1) for _ in TAPS])
    maps = maps.to(dtype)
    mods = [("T", T), ("S", S), ("D", D), ("maps", maps)]
    if state is not None:
        with torch.no_grad():
            for tag, m in mods:
                for k, p in m.named_parameters():
                    p.copy_(state[tag + "/" + k].to(dtype))
    for p in T.parameters():
        p.requires_grad_(False)
    return T, S, D, maps, mods


def case(kind, gen, out, zeros_out):
    """one step with a ResNet (student) or MobileResNet (prune) teacher into out[prefix + ...]"""
    prefix = "" if kind == "student" else kind + "/"
    T, S, D, maps, mods = build(torch.float64, None, kind)
    for _, m in mods:
        init(m, gen)
    state = {tag + "/" + k: p.detach().clone() for tag, m in mods for k, p in m.named_parameters()}
    a = torch.tanh(r32((B, 1, IMG, IMG), 1.5, gen)).float().double()
    b = torch.tanh(r32((B, 1, IMG, IMG), 1.5, gen)).float().double()
    losses, sfake = step(T, S, D, maps, a, b)
    g = grads(mods[1:])
    T32, S32, D32, maps32, mods32 = build(torch.float32, state, kind)
    l32, _ = step(T32, S32, D32, maps32, a.float(), b.float())
    g32 = grads(mods32[1:])
    e_loss = max(abs(x - r) / max(abs(r), 1e-30) for x, r in zip(l32, losses))
    gnorm = torch.cat([v.flatten() for v in g.values()]).norm().item()
    # exactly zero: the biases of convs an instance norm follows
    zeros = [k for k in g if g[k].norm().item() <= 1e-12 * gnorm]
    e_grad = max(((g32[k].double() - g[k]).norm() / g[k].norm()).item() for k in g if k not in zeros)
    print("  %s: float32 torch: losses %.2g, gradients %.2g; losses %s" % (kind, e_loss, e_grad, losses))
    assert e_loss < TOL_LOSS / 3 and e_grad < TOL_GRAD / 3, (e_loss, e_grad)
    out.update({prefix + "a": a, prefix + "b": b, prefix + "losses": torch.tensor(losses, dtype=torch.float64),
                prefix + "sfake": sfake})
    for k, v in state.items():
        out[prefix + "state/" + k] = v
    for k, v in g.items():
        out[prefix + "grad/" + k] = v
    zeros_out += [prefix + "grad/" + k for k in zeros]


def lead(t, shape):
    return t[tuple(slice(0, d) for d in shape)]


def case_sub(gen, out, zeros_out):
    """the student run as a subnet (SHAPE) of a stored TSHAPE net, the maps' leading input columns; the
    reference runs the standalone subnet built from the leading slices and scatters its gradients back"""
    prefix = "sub/"
    T = ResnetGenerator(1, 1, TNGF, N_BLOCKS).double()
    S = MobileResnetGenerator(1, TSHAPE, N_BLOCKS, 1).double()
    D = NLayerDiscriminator(1, NDF, N_LAYERS).double()
    maps = nn.Module()
    maps.map = nn.ModuleList([nn.Conv2d(TSHAPE["down2"], 4 * TNGF, 1) for _ in TAPS])
    maps = maps.double()
    mods = [("T", T), ("S", S), ("D", D), ("maps", maps)]
    for _, m in mods:
        init(m, gen)
    state = {tag + "/" + k: p.detach().clone() for tag, m in mods for k, p in m.named_parameters()}
    a = torch.tanh(r32((B, 1, IMG, IMG), 1.5, gen)).float().double()
    b = torch.tanh(r32((B, 1, IMG, IMG), 1.5, gen)).float().double()
    res = {}
    for dtype in (torch.float64, torch.float32):
        Tq, Ssub, Dq, msub, _ = build(dtype, None, "student")  # the subnet's shapes: S = SHAPE, maps 8 -> 12
        with torch.no_grad():
            for tag, m in (("T", Tq), ("S", Ssub), ("D", Dq), ("maps", msub)):
                for k, p in m.named_parameters():
                    p.copy_(lead(state[tag + "/" + k], p.shape).to(dtype))
        for p in Tq.parameters():
            p.requires_grad_(False)
        losses, sfake = step(Tq, Ssub, Dq, msub, a.to(dtype), b.to(dtype))
        g = {}
        for tag, m in (("S", Ssub), ("D", Dq), ("maps", msub)):
            for k, p in m.named_parameters():
                full = torch.zeros_like(state[tag + "/" + k], dtype=torch.float64)
                if p.grad is not None:
                    lead(full, p.shape).copy_(p.grad.double())
                g[tag + "/" + k] = full
        res[dtype] = (losses, sfake, g)
    losses, sfake, g = res[torch.float64]
    l32, _, g32 = res[torch.float32]
    e_loss = max(abs(x - r) / max(abs(r), 1e-30) for x, r in zip(l32, losses))
    gnorm = torch.cat([v.flatten() for v in g.values()]).norm().item()
    zeros = [k for k in g if g[k].norm().item() <= 1e-12 * gnorm]
    e_grad = max(((g32[k] - g[k]).norm() / g[k].norm()).item() for k in g if k not in zeros)
    print("  sub: float32 torch: losses %.2g, gradients %.2g; losses %s" % (e_loss, e_grad, losses))
    assert e_loss < TOL_LOSS / 3 and e_grad < TOL_GRAD / 3, (e_loss, e_grad)
    out.update({prefix + "a": a, prefix + "b": b, prefix + "losses": torch.tensor(losses, dtype=torch.float64),
                prefix + "sfake": sfake})
    for k, v in state.items():
        out[prefix + "state/" + k] = v
    for k, v in g.items():
        out[prefix + "grad/" + k] = v
    zeros_out += [prefix + "grad/" + k for k in zeros]


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s OUT_DIR\n" % sys.argv[0])
        return 2
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)
    out, zeros = {}, []
    case("student", gen, out, zeros)
    case("prune", gen, out, zeros)
    case_sub(gen, out, zeros)

    path = os.path.join(sys.argv[1], "distill_tiny.h5")
    w = H5W(path)
    w.f.attrs["torch_version"] = str(torch.__version__)
    w.f.attrs["description"] = ("one GAN Compression ResnetDistiller step: ResNet teacher, MobileResNet student, "
                                "PatchGAN, 1x1 maps on the encoder output and every third block; float64")
    for k, v in (("seed", SEED), ("B", B), ("H", IMG), ("n_blocks", N_BLOCKS), ("teacher_ngf", TNGF),
                 ("ndf", NDF), ("n_layers", N_LAYERS), ("n_taps", len(TAPS))):
        w.f.attrs[k] = np.int64(v)
    for k, v in (("lambda_gan", LG), ("lambda_recon", LR), ("lambda_distill", LF), ("tol_loss", TOL_LOSS),
                 ("tol_grad", TOL_GRAD)):
        w.f.attrs[k] = np.float64(v)
    w.f.attrs["student_arch"] = arch_text(SHAPE)
    w.f.attrs["loss_names"] = "G_gan recon distill D"
    for name in sorted(out):
        w.dset(name, np.ascontiguousarray(out[name].detach().numpy().astype(np.float32)))
    for k in zeros:
        w.f[k].attrs["exact_zero"] = np.int64(1)
    w.group("prune").attrs["teacher_arch"] = arch_text(TSHAPE)
    w.group("sub").attrs["student_shape"] = arch_text(TSHAPE)  # stored; the subnet is student_arch
    w.close()
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
