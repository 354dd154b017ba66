#!/usr/bin/python3
"""Golden file for the elastic MobileResNet generator of models/gan/mobile.c.

Usage: /usr/bin/python3 tests/golden/make_golden_mobile.py OUT_DIR
Writes OUT_DIR/mobile_tiny.h5 (tests/golden/README.md describes it): the stored weights of a small
MobileResnetGenerator (state_dict keys of GAN Compression's module tree, plus a 5to3_matrix per
depthwise conv of a group stored with 5x5 kernels), and for two cases, the full network ("full") and
one subnet ("sub", leading slices of every weight and a 3x3 kernel through the transform matrix):
an input batch x, the output y, an upstream gradient dy and the gradients of sum(y * dy) with respect
to x and to every stored tensor (zero outside the slices a subnet uses).

The module is written here after GAN Compression's definition (mit-han-lab/gan-compression,
models/modules/resnet_architecture/mobile_resnet_generator.py and SeparableConv2d of
models/modules/mobile_modules.py): reflect-pad 7x7 stem, two stride-2 downsamplings, residual blocks
of [ReflectionPad, SeparableConv2d (depthwise, InstanceNorm, pointwise), InstanceNorm, ReLU, Dropout(0),
ReflectionPad, SeparableConv2d, InstanceNorm], two transposed-conv upsamplings, reflect-pad 7x7 output
conv, tanh; InstanceNorm2d without affine (so every conv has a bias).  Widths per slot are given
explicitly (as their SubMobileResnetGenerator's config), and a depthwise conv stored 5x5 carries the
once-for-all kernel transform (a 3x3 choice: F.linear(centre 3x3 flattened, M)).  The subnet's
forward slices the stored tensors itself (a functional forward, independent of the module); a
self-check proves the functional forward of the full shape equals the module's forward.
Inputs and weights are float32 values; the reference runs in float64 and is stored as float32.
Deterministic: fixed seed, no timestamps.

Self-checks (the script fails, and writes nothing, if one is violated):
  - the module's state_dict keys are GAN Compression's (model.10.conv_block.1.conv.0.weight, ...);
  - the functional forward of the full shape equals the module's forward (1e-12);
  - a float32 torch run agrees with the float64 reference within a third of the C test's tolerances.
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden_supernet import H5W  # noqa: E402  (byte-reproducible HDF5 writer)

SEED = 1212
B, IMG, CH, N_BLOCKS, N_GROUPS = 2, 32, 1, 4, 3
# stored shape: c4.8.16-b16.12.16-k5.5.3-u8.4 (hidden widths differ per group so strides are tested)
SHAPE = dict(stem=4, down1=8, down2=16, hidden=[16, 12, 16], kernel=[5, 5, 3], up1=8, up2=4)
# the subnet: narrower everywhere, group 0 through the 5to3 transform, group 1 at 5x5, group 2 at 3x3
SUB = dict(stem=3, down1=6, down2=12, hidden=[10, 7, 9], kernel=[3, 5, 3], up1=5, up2=3)
TOL_OUT = 1e-5   # max |y - ref| / max |ref|
TOL_GRAD = 1e-4  # ||g - ref|| / ||ref|| per tensor


def arch_text(a):
    return "c%d.%d.%d-b%s-k%s-u%d.%d" % (a["stem"], a["down1"], a["down2"], ".".join(map(str, a["hidden"])),
                                         ".".join(map(str, a["kernel"])), a["up1"], a["up2"])


def group_of(i, nb, ng):
    per = nb // ng
    return ng - 1 if per == 0 else min(i // per, ng - 1)


def norm(c):
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


class DepthwiseConv(nn.Conv2d):
    """nn.Conv2d(c, c, k, groups=c) plus, for k = 5, the once-for-all 5to3 transform matrix."""

    def __init__(self, c, k):
        super().__init__(c, c, k, groups=c, bias=True)
        if k == 5:
            self.register_parameter("5to3_matrix", nn.Parameter(torch.eye(9)))


class SeparableConv2d(nn.Module):
    def __init__(self, cin, cout, k):
        super().__init__()
        self.conv = nn.Sequential(DepthwiseConv(cin, k), norm(cin), nn.Conv2d(cin, cout, 1, bias=True))

    def forward(self, x):
        return self.conv(x)


class MobileResnetBlock(nn.Module):
    def __init__(self, dim, hidden, k):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(k // 2), SeparableConv2d(dim, hidden, k), norm(hidden), nn.ReLU(True), nn.Dropout(0.0),
            nn.ReflectionPad2d(k // 2), SeparableConv2d(hidden, dim, k), norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class MobileResnetGenerator(nn.Module):
    def __init__(self, ch, s, n_blocks, n_groups):
        super().__init__()
        m = [nn.ReflectionPad2d(3), nn.Conv2d(ch, s["stem"], 7, bias=True), norm(s["stem"]), nn.ReLU(True),
             nn.Conv2d(s["stem"], s["down1"], 3, stride=2, padding=1, bias=True), norm(s["down1"]), nn.ReLU(True),
             nn.Conv2d(s["down1"], s["down2"], 3, stride=2, padding=1, bias=True), norm(s["down2"]), nn.ReLU(True)]
        for i in range(n_blocks):
            g = group_of(i, n_blocks, n_groups)
            m += [MobileResnetBlock(s["down2"], s["hidden"][g], s["kernel"][g])]
        m += [nn.ConvTranspose2d(s["down2"], s["up1"], 3, stride=2, padding=1, output_padding=1, bias=True),
              norm(s["up1"]), nn.ReLU(True),
              nn.ConvTranspose2d(s["up1"], s["up2"], 3, stride=2, padding=1, output_padding=1, bias=True),
              norm(s["up2"]), nn.ReLU(True),
              nn.ReflectionPad2d(3), nn.Conv2d(s["up2"], ch, 7), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        # with k = 5 the module's depthwise convs run 5x5; the functional forward below runs any arch
        return self.model(x)


def expected_keys(n_blocks, n_groups, s):
    keys = []
    for k in ["model.1", "model.4", "model.7"]:
        keys += [k + ".weight", k + ".bias"]
    for i in range(n_blocks):
        g = group_of(i, n_blocks, n_groups)
        for j in (1, 6):
            p = "model.%d.conv_block.%d.conv." % (10 + i, j)
            keys += [p + "0.weight", p + "0.bias"] + ([p + "0.5to3_matrix"] if s["kernel"][g] == 5 else [])
            keys += [p + "2.weight", p + "2.bias"]
    for k in ["model.%d" % (10 + n_blocks), "model.%d" % (13 + n_blocks), "model.%d" % (17 + n_blocks)]:
        keys += [k + ".weight", k + ".bias"]
    return keys


# ---- the functional forward of any subnet: leading slices of the stored tensors ----

def inorm(t):
    return F.instance_norm(t, eps=1e-5)


def conv(P, name, x, cin, cout, k, stride=1, pad=0, reflect=False):
    w, b = P[name + ".weight"][:cout, :cin], P[name + ".bias"][:cout]
    assert w.shape[-1] == k
    if reflect:
        x, pad = F.pad(x, (pad,) * 4, mode="reflect"), 0
    return F.conv2d(x, w, b, stride=stride, padding=pad)


def dwconv(P, name, x, c, k):
    w, b = P[name + ".weight"][:c], P[name + ".bias"][:c]
    if w.shape[-1] != k:
        assert w.shape[-1] == 5 and k == 3
        w = F.linear(w[:, :, 1:4, 1:4].reshape(c, 9), P[name + ".5to3_matrix"]).reshape(c, 1, 3, 3)
    return F.conv2d(F.pad(x, (k // 2,) * 4, mode="reflect"), w, b, groups=c)


def convt(P, name, x, cin, cout):
    w, b = P[name + ".weight"][:cin, :cout], P[name + ".bias"][:cout]
    return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)


def forward(P, a, x, ch, n_blocks, n_groups):
    h = F.relu(inorm(conv(P, "model.1", x, ch, a["stem"], 7, pad=3, reflect=True)))
    h = F.relu(inorm(conv(P, "model.4", h, a["stem"], a["down1"], 3, stride=2, pad=1)))
    h = F.relu(inorm(conv(P, "model.7", h, a["down1"], a["down2"], 3, stride=2, pad=1)))
    R = a["down2"]
    for i in range(n_blocks):
        g = group_of(i, n_blocks, n_groups)
        Hd, k, p = a["hidden"][g], a["kernel"][g], "model.%d.conv_block." % (10 + i)
        t = conv(P, p + "1.conv.2", inorm(dwconv(P, p + "1.conv.0", h, R, k)), R, Hd, 1)
        t = F.relu(inorm(t))
        t = conv(P, p + "6.conv.2", inorm(dwconv(P, p + "6.conv.0", t, Hd, k)), Hd, R, 1)
        h = h + inorm(t)
    h = F.relu(inorm(convt(P, "model.%d" % (10 + n_blocks), h, R, a["up1"])))
    h = F.relu(inorm(convt(P, "model.%d" % (13 + n_blocks), h, a["up1"], a["up2"])))
    return torch.tanh(conv(P, "model.%d" % (17 + n_blocks), h, a["up2"], ch, 7, pad=3, reflect=True))


def r32(shape, scale, gen):
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).float().double()


def init(mod, gen):
    """Conv weights N(0, 1/fan_in), biases N(0, 0.5^2), transform matrices I + N(0, 0.3^2) (a test
    of the transform must not see the identity)."""
    with torch.no_grad():
        for name, p in mod.named_parameters():
            if name.endswith("5to3_matrix"):
                p.copy_(torch.eye(9, dtype=torch.float64) + r32(p.shape, 0.3, gen))
            elif name.endswith(".weight"):
                p.copy_(r32(p.shape, 1.0 / np.sqrt(p[0].numel()), gen))
            else:
                p.copy_(r32(p.shape, 0.5, gen))


def run(P, a, x, dy):
    P = {k: v.detach().clone().requires_grad_(True) for k, v in P.items()}
    x = x.clone().requires_grad_(True)
    y = forward(P, a, x, CH, N_BLOCKS, N_GROUPS)
    (y * dy).sum().backward()
    return y.detach(), x.grad.detach().clone(), {k: v.grad.detach().clone() if v.grad is not None
                                                 else torch.zeros_like(v) for k, v in P.items()}


def rel_err(a, r):
    return ((a - r).abs().max() / r.abs().max()).item()


def norm_err(a, r):
    return ((a - r).norm() / r.norm().clamp(min=1e-300)).item()


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s OUT_DIR\n" % sys.argv[0])
        return 2
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)
    G = MobileResnetGenerator(CH, SHAPE, N_BLOCKS, N_GROUPS).double()
    keys = list(G.state_dict().keys())
    assert keys == expected_keys(N_BLOCKS, N_GROUPS, SHAPE), keys
    init(G, gen)
    P = {k: v.detach().clone() for k, v in G.state_dict().items()}

    out, zeros = {}, {}
    for k in keys:
        out["state/" + k] = P[k]
    for tag, a in (("full", SHAPE), ("sub", SUB)):
        x = torch.tanh(r32((B, CH, IMG, IMG), 1.5, gen)).float().double()
        with torch.no_grad():
            y0 = forward(P, a, x, CH, N_BLOCKS, N_GROUPS)
            if tag == "full":  # the functional forward is the module's
                e = (G(x) - y0).abs().max().item()
                assert e < 1e-12, e
        dy = r32(y0.shape, 1.0, gen)
        y, dx, grads = run(P, a, x, dy)
        gnorm = torch.cat([g.flatten() for g in grads.values()]).norm().item()
        # exactly zero: biases before an instance norm, matrices and slices a subnet does not use
        zeros[tag] = [k for k in keys if grads[k].norm().item() <= 1e-12 * gnorm]
        P32 = {k: v.float() for k, v in P.items()}
        y32, dx32, g32 = run(P32, a, x.float(), dy.float())
        e_out = rel_err(y32.double(), y)
        e_grad = max([norm_err(dx32.double(), dx)] +
                     [norm_err(g32[k].double(), grads[k]) for k in keys if k not in zeros[tag]])
        print("  %s (%s): float32 torch: output %.2g, gradients %.2g; %d exactly zero gradients"
              % (tag, arch_text(a), e_out, e_grad, len(zeros[tag])))
        assert e_out < TOL_OUT / 3 and e_grad < TOL_GRAD / 3, (tag, e_out, e_grad)
        out[tag + "/x"], out[tag + "/y"], out[tag + "/dy"], out[tag + "/dx"] = x, y, dy, dx
        for k in keys:
            out[tag + "/grad/" + k] = grads[k]

    path = os.path.join(sys.argv[1], "mobile_tiny.h5")
    w = H5W(path)
    w.f.attrs["torch_version"] = str(torch.__version__)
    w.f.attrs["description"] = ("GAN Compression MobileResnetGenerator (instance norm, reflect) with once-for-all "
                                "5to3 kernel transforms; full net and one subnet, float64 from float32 inputs")
    for k, v in (("seed", SEED), ("channels", CH), ("n_blocks", N_BLOCKS), ("n_groups", N_GROUPS), ("B", B),
                 ("H", IMG), ("W", IMG)):
        w.f.attrs[k] = np.int64(v)
    w.f.attrs["shape"] = arch_text(SHAPE)
    w.f.attrs["keys"] = " ".join(keys)
    w.f.attrs["tol_out"] = TOL_OUT
    w.f.attrs["tol_grad"] = TOL_GRAD
    for name in sorted(out):
        w.dset(name, np.ascontiguousarray(out[name].detach().numpy().astype(np.float32)),
               deflate="/grad/" in name)
    for tag, a in (("full", SHAPE), ("sub", SUB)):
        w.group(tag).attrs["arch"] = arch_text(a)
        for k in zeros[tag]:
            w.f[tag + "/grad/" + k].attrs["exact_zero"] = np.int64(1)
    w.close()
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
