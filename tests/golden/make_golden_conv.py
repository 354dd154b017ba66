#!/usr/bin/python3
"""Golden file for the image layers of nn/conv.h and nn/nn.h (the CycleGAN family's kernels).

Usage: /usr/bin/python3 tests/golden/make_golden_conv.py OUT_DIR
Writes OUT_DIR/conv_layers.h5 (tests/golden/README.md describes it): for each case, the input,
weights, output, an upstream gradient dy and the gradients of sum(y * dy) from the torch.nn modules
themselves (Conv2d, ConvTranspose2d, InstanceNorm2d, LeakyReLU, ReLU, Tanh, L1Loss, MSELoss).
Inputs and weights are drawn as float32 values (so the C tests read exactly the values the reference
used); the reference runs in float64 and is stored as float32, like the other golden files (its
rounding, 6e-8 relative, is far below the tolerances).  Deterministic: fixed seed, no timestamps.

Self-checks (the script fails, and writes nothing, if one is violated):
  - Conv2d(padding_mode='reflect') equals ReflectionPad2d + an unpadded Conv2d;
  - ConvTranspose2d equals the input gradient of the Conv2d it transposes (the adjoint);
  - torch.autograd.gradcheck on one conv, one depthwise conv, the transposed conv and the affine
    instance norm (whole tensors, float64);
  - a float32 torch run of every case agrees with the float64 reference within a third of the tolerances
    the C test applies (printed per case: the headroom a float implementation has).
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden_supernet import H5W  # noqa: E402  (byte-reproducible HDF5 writer)

SEED = 1111
B, H, W = 2, 8, 8

# name: (C, O, K, stride, pad, pad_mode, groups, bias)
CONV = [
    ("s1_reflect_3x3", 3, 4, 3, 1, 1, "reflect", 1, True),
    ("s2_zeros_3x3", 3, 5, 3, 2, 1, "zeros", 1, True),
    ("s1_reflect_7x7", 2, 3, 7, 1, 3, "reflect", 1, True),     # the generator's stem and head
    ("s1_zeros_1x1_nobias", 3, 4, 1, 1, 0, "zeros", 1, False),
    ("s2_zeros_4x4", 3, 4, 4, 2, 1, "zeros", 1, True),         # PatchGAN's convolutions
    ("dw_reflect_3x3_nobias", 4, 4, 3, 1, 1, "reflect", 4, False),  # depthwise
    ("dw_s2_zeros_5x5", 4, 4, 5, 2, 2, "zeros", 4, True),      # depthwise, stride 2
    ("g2_s2_zeros_3x3_nobias", 4, 6, 3, 2, 1, "zeros", 2, False),   # 2 groups
]
# name: (C, O, K, stride, pad, output_padding, bias)
CONVT = [
    ("s2_3x3", 3, 2, 3, 2, 1, 1, True),                         # the generator's upsampling
    ("s2_3x3_nobias", 2, 3, 3, 2, 1, 1, False),
]
INSTNORM_C = 3
EPS = 1e-5
SLOPE = 0.2

# Tolerances of tests/test_conv.c (float32 C against these float64 references).
TOL_OUT = 1e-5   # element-wise, relative to max(|ref|, 0.1 * max |ref| of the tensor)
TOL_GRAD = 1e-4  # normalized error ||g - ref|| / ||ref|| per tensor


def r32(shape, scale, gen):
    """float32 values (then float64): the reference and the C float test see the same inputs."""
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).float().double()


def set_params(mod, gen, bias):
    fan_in = mod.weight[0].numel() if isinstance(mod, nn.Conv2d) else mod.weight.shape[0] * mod.weight[0, 0].numel()
    with torch.no_grad():
        mod.weight.copy_(r32(mod.weight.shape, 1.0 / np.sqrt(fan_in), gen))
        if bias:
            mod.bias.copy_(r32(mod.bias.shape, 0.5, gen))


def run(mod, x, dy):
    """y = mod(x), then the gradients of sum(y * dy) w.r.t. x and every parameter."""
    x = x.clone().requires_grad_(True)
    mod.zero_grad()
    y = mod(x)
    (y * dy).sum().backward()
    g = {"dx": x.grad.detach().clone()}
    for n, p in mod.named_parameters():
        g["d" + n[0]] = p.grad.detach().clone()  # weight -> dw, bias -> db
    return y.detach(), g


def rel_err(a, r):
    floor = 0.1 * r.abs().max().item()
    return ((a - r).abs() / r.abs().clamp(min=floor)).max().item()


def norm_err(a, r):
    return ((a - r).norm() / r.norm().clamp(min=1e-300)).item()


def check_f32(name, mod, x, dy, y, g):
    """A float32 torch run of the same case against the float64 reference."""
    y32, g32 = run(copy.deepcopy(mod).float(), x.float(), dy.float())
    e_out = rel_err(y32.double(), y)
    e_grad = max(norm_err(g32[k].double(), g[k]) for k in g)
    print("  %-32s float32 torch: output %.2g, gradients %.2g" % (name, e_out, e_grad))
    assert e_out < TOL_OUT / 3 and e_grad < TOL_GRAD / 3, (name, e_out, e_grad)
    return e_out, e_grad


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s OUT_DIR\n" % sys.argv[0])
        return 2
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)
    out = {}      # dataset name -> float64 array
    attrs = {}    # group -> {key: value}
    worst = [0.0, 0.0]

    def note(e):
        worst[0], worst[1] = max(worst[0], e[0]), max(worst[1], e[1])

    for name, C, O, K, s, p, mode, groups, bias in CONV:
        mod = nn.Conv2d(C, O, K, stride=s, padding=p, padding_mode=mode, groups=groups, bias=bias).double()
        set_params(mod, gen, bias)
        x = r32((B, C, H, W), 1.0, gen)
        dy = r32(mod(x).shape, 1.0, gen)
        y, g = run(mod, x, dy)
        if mode == "reflect":  # self-check: reflection = ReflectionPad2d + unpadded conv
            plain = nn.Conv2d(C, O, K, stride=s, padding=0, groups=groups, bias=bias).double()
            plain.load_state_dict(mod.state_dict())
            assert torch.allclose(plain(nn.ReflectionPad2d(p)(x)), y, rtol=0, atol=1e-12), name
        note(check_f32("conv/" + name, mod, x, dy, y, g))
        grp = "conv/" + name
        attrs[grp] = dict(C=C, O=O, K=K, stride=s, pad=p, groups=groups, bias=int(bias), H=H, W=W, B=B,
                          pad_mode=mode)
        out[grp + "/x"], out[grp + "/w"], out[grp + "/y"], out[grp + "/dy"] = x, mod.weight.detach(), y, dy
        out[grp + "/dx"], out[grp + "/dw"] = g["dx"], g["dw"]
        if bias:
            out[grp + "/b"], out[grp + "/db"] = mod.bias.detach(), g["db"]

    for name, C, O, K, s, p, op, bias in CONVT:
        mod = nn.ConvTranspose2d(C, O, K, stride=s, padding=p, output_padding=op, bias=bias).double()
        set_params(mod, gen, bias)
        x = r32((B, C, H, W), 1.0, gen)
        Ho = (H - 1) * s - 2 * p + K + op
        dy = r32((B, O, Ho, Ho), 1.0, gen)
        y, g = run(mod, x, dy)
        assert y.shape == dy.shape
        # self-check: the transposed conv is the adjoint of the conv with the same weight
        z = torch.zeros(B, O, Ho, Ho, dtype=torch.float64, requires_grad=True)
        c = torch.nn.functional.conv2d(z, mod.weight.detach(), stride=s, padding=p)
        (c * x).sum().backward()
        yb = y - (mod.bias.detach().view(1, -1, 1, 1) if bias else 0)
        assert torch.allclose(z.grad, yb, rtol=0, atol=1e-12), name
        note(check_f32("convt/" + name, mod, x, dy, y, g))
        grp = "convt/" + name
        attrs[grp] = dict(C=C, O=O, K=K, stride=s, pad=p, out_pad=op, bias=int(bias), H=H, W=W, B=B)
        out[grp + "/x"], out[grp + "/w"], out[grp + "/y"], out[grp + "/dy"] = x, mod.weight.detach(), y, dy
        out[grp + "/dx"], out[grp + "/dw"] = g["dx"], g["dw"]
        if bias:
            out[grp + "/b"], out[grp + "/db"] = mod.bias.detach(), g["db"]

    for name, affine in (("plain", False), ("affine", True)):
        mod = nn.InstanceNorm2d(INSTNORM_C, eps=EPS, affine=affine).double()
        if affine:
            with torch.no_grad():
                mod.weight.copy_((1 + r32((INSTNORM_C,), 0.3, gen)).float().double())
                mod.bias.copy_(r32((INSTNORM_C,), 0.3, gen))
        # per-channel offsets and scales, so the statistics matter
        x = r32((B, INSTNORM_C, H, W), 1.0, gen) * 2 + r32((1, INSTNORM_C, 1, 1), 1.0, gen)
        x = x.float().double()
        dy = r32((B, INSTNORM_C, H, W), 1.0, gen)
        y, g = run(mod, x, dy)
        note(check_f32("instnorm/" + name, mod, x, dy, y, g))
        grp = "instnorm/" + name
        attrs[grp] = dict(C=INSTNORM_C, H=H, W=W, B=B, affine=int(affine), eps=EPS)
        out[grp + "/x"], out[grp + "/y"], out[grp + "/dy"], out[grp + "/dx"] = x, y, dy, g["dx"]
        if affine:
            out[grp + "/g"], out[grp + "/b"] = mod.weight.detach(), mod.bias.detach()
            out[grp + "/dg"], out[grp + "/db"] = g["dw"], g["db"]

    for name, mod in (("leaky_relu", nn.LeakyReLU(SLOPE)), ("relu", nn.ReLU()), ("tanh", nn.Tanh())):
        x = r32((B, 2, H, W), 1.5, gen)
        dy = r32((B, 2, H, W), 1.0, gen)
        y, g = run(mod, x, dy)
        note(check_f32("act/" + name, mod, x, dy, y, g))
        grp = "act/" + name
        attrs[grp] = dict(B=B, C=2, H=H, W=W)
        if name == "leaky_relu":
            attrs[grp]["slope"] = SLOPE
        out[grp + "/x"], out[grp + "/y"], out[grp + "/dy"], out[grp + "/dx"] = x, y, dy, g["dx"]

    for name, fn in (("l1", nn.L1Loss()), ("mse", nn.MSELoss())):
        x = r32((B, 1, H, W), 1.0, gen).requires_grad_(True)
        t = r32((B, 1, H, W), 1.0, gen)
        loss = fn(x, t)
        loss.backward()
        x32 = x.detach().float().requires_grad_(True)
        l32 = fn(x32, t.float())
        l32.backward()
        assert abs(l32.item() - loss.item()) < TOL_OUT / 3 * abs(loss.item())
        grp = "loss/" + name
        attrs[grp] = dict(B=B, C=1, H=H, W=W)
        out[grp + "/x"], out[grp + "/t"] = x.detach(), t
        out[grp + "/loss"], out[grp + "/dx"] = loss.detach().reshape(1), x.grad

    # gradcheck on whole tensors (float64 central differences) for a few modules
    for mod, shape in (
        (nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect").double(), (1, 2, 5, 5)),
        (nn.Conv2d(3, 3, 3, stride=2, padding=1, groups=3).double(), (1, 3, 5, 5)),
        (nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1).double(), (1, 2, 4, 4)),
        (nn.InstanceNorm2d(2, affine=True).double(), (2, 2, 4, 4)),
    ):
        x = torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(mod, (x,), eps=1e-6, atol=1e-7), mod

    path = os.path.join(sys.argv[1], "conv_layers.h5")
    w = H5W(path)
    w.f.attrs["torch_version"] = str(torch.__version__)
    w.f.attrs["description"] = "nn/conv golden cases: torch.nn modules in float64 from float32 inputs"
    w.f.attrs["seed"] = np.int64(SEED)
    w.f.attrs["tol_out"] = TOL_OUT
    w.f.attrs["tol_grad"] = TOL_GRAD
    for name in sorted(out):
        w.dset(name, np.ascontiguousarray(out[name].detach().numpy().astype(np.float32)))
    for grp in sorted(attrs):
        g = w.group(grp)
        for k, v in sorted(attrs[grp].items()):
            g.attrs[k] = v if isinstance(v, str) else (np.float64(v) if isinstance(v, float) else np.int64(v))
    w.close()
    print("wrote %s (%d bytes); a float32 torch run: outputs %.2g (element-wise, floored), gradients %.2g "
          "(normalized)" % (path, os.path.getsize(path), worst[0], worst[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
