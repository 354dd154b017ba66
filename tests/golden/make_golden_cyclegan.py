#!/usr/bin/python3
"""Golden file for the CycleGAN models of models/gan/ (ResnetGenerator, NLayerDiscriminator).

Usage: /usr/bin/python3 tests/golden/make_golden_cyclegan.py OUT_DIR
Writes OUT_DIR/cyclegan_tiny.h5 (tests/golden/README.md describes it): for the generator and the
discriminator at small sizes, the state_dict (PyTorch's key names), an input batch, the output, an
upstream gradient dy and the gradients of sum(out * dy) with respect to the input and every parameter;
and OUT_DIR/cyclegan_traj.h5: 3 training steps of the public CycleGANModel.optimize_parameters (two
generators, two discriminators, LSGAN, cycle x10, identity x5, no image pool, Adam 2e-4 betas
(0.5, 0.999)): initial weights, the images of each step, the nine losses of each step, final weights.

The two modules are written here from the public pytorch-CycleGAN-and-pix2pix definitions
(models/networks.py: ResnetGenerator with ResnetBlock, NLayerDiscriminator) with norm_layer =
InstanceNorm2d(affine=False, track_running_stats=False), hence bias=True on every conv, reflection
padding, no dropout; the module tree (and so every state_dict key) is the project's.  Inputs and
weights are drawn as float32 values; the reference runs in float64 and is stored as float32, like the
other golden files.  Deterministic: fixed seed, no timestamps.

Self-checks (the script fails, and writes nothing, if one is violated):
  - the state_dict keys are the ones the project's checkpoints carry (model.1.weight,
    model.10.conv_block.1.weight, ... for the generator; model.0 ... model.11 for the discriminator);
  - the gradient of every conv bias followed by an instance norm is 0 (the norm removes a per-channel
    constant): those datasets get attr exact_zero = 1 and must be compared with an absolute bound;
  - a float32 torch run agrees with the float64 reference within a third of the C test's tolerances.
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden_supernet import H5W  # noqa: E402  (byte-reproducible HDF5 writer)

SEED = 2222
B, IMG = 2, 32
NGF, N_BLOCKS = 4, 2
NDF, N_LAYERS = 4, 3

# Outputs: max |out - ref| / max |ref| (element-wise against the tensor's largest value).  The
# conv file's floor (0.1 max |ref|) does not fit a 20-layer net: a float32 torch run of the generator
# reaches 1.5e-5 by that measure (a tanh output near 0 carries the absolute rounding of the whole net,
# ~1.5e-6 of the largest output), 1.5e-6 by this one.
TOL_OUT = 1e-5
TOL_GRAD = 1e-4  # normalized error ||g - ref|| / ||ref|| per tensor


def norm(c):
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=True), norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=True), norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf, n_blocks):
        super().__init__()
        m = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=True), norm(ngf), nn.ReLU(True)]
        for i in range(2):
            c = ngf * 2 ** i
            m += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=True), norm(2 * c), nn.ReLU(True)]
        m += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            m += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=True),
                  norm(c // 2), nn.ReLU(True)]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf, n_layers):
        super().__init__()
        s = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            s += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=True), norm(ndf * mult),
                  nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        s += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=True), norm(ndf * mult),
              nn.LeakyReLU(0.2, True)]
        s += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*s)

    def forward(self, x):
        return self.model(x)


def expected_g_keys(n_blocks):
    keys = ["model.1", "model.4", "model.7"]
    for i in range(n_blocks):
        keys += ["model.%d.conv_block.1" % (10 + i), "model.%d.conv_block.5" % (10 + i)]
    keys += ["model.%d" % (10 + n_blocks), "model.%d" % (13 + n_blocks), "model.%d" % (17 + n_blocks)]
    return [k + s for k in keys for s in (".weight", ".bias")]


def expected_d_keys():
    return [k + s for k in ("model.0", "model.2", "model.5", "model.8", "model.11") for s in (".weight", ".bias")]


def r32(shape, scale, gen):
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).float().double()


def init(mod, gen):
    """Conv weights N(0, 1/fan_in) (PyTorch's fan_in: weight[0].numel() for both kinds, as the
    project's layouts put the other channel count second), biases N(0, 0.5^2)."""
    with torch.no_grad():
        for name, p in mod.named_parameters():
            if name.endswith(".weight"):
                p.copy_(r32(p.shape, 1.0 / np.sqrt(p[0].numel()), gen))
            else:
                p.copy_(r32(p.shape, 0.5, gen))


def run(mod, x, dy):
    x = x.clone().requires_grad_(True)
    mod.zero_grad()
    y = mod(x)
    (y * dy).sum().backward()
    grads = {n: p.grad.detach().clone() for n, p in mod.named_parameters()}
    return y.detach(), x.grad.detach().clone(), grads


def rel_err(a, r):
    floor = r.abs().max().item()
    return ((a - r).abs() / r.abs().clamp(min=floor)).max().item()


def norm_err(a, r):
    return ((a - r).norm() / r.norm().clamp(min=1e-300)).item()


def zero_bias_keys(mod):
    """Conv biases followed directly by an instance norm: their gradient is exactly 0."""
    out, mods = [], dict(mod.named_modules())
    for name, m in mods.items():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            parent, _, idx = name.rpartition(".")
            nxt = parent + "." + str(int(idx) + 1)
            if isinstance(mods.get(nxt), nn.InstanceNorm2d):
                out.append(name + ".bias")
    return out


def case(tag, mod, x, gen, out, attrs):
    init(mod, gen)
    y0 = mod(x)
    dy = r32(y0.shape, 1.0, gen)
    y, dx, grads = run(mod, x, dy)
    zeros = zero_bias_keys(mod)
    gnorm = torch.cat([g.flatten() for g in grads.values()]).norm().item()
    for k in zeros:
        assert grads[k].norm().item() < 1e-12 * gnorm, (tag, k, grads[k].norm().item())
    # float32 torch against the float64 reference
    m32 = copy.deepcopy(mod).float()
    y32, dx32, g32 = run(m32, x.float(), dy.float())
    e_out = rel_err(y32.double(), y)
    e_grad = max([norm_err(dx32.double(), dx)] +
                 [norm_err(g32[k].double(), grads[k]) for k in grads if k not in zeros])
    e_zero = max(g32[k].double().norm().item() for k in zeros) / gnorm
    print("  %s: float32 torch: output %.2g, gradients %.2g, zero biases %.2g (of the global norm)"
          % (tag, e_out, e_grad, e_zero))
    assert e_out < TOL_OUT / 3 and e_grad < TOL_GRAD / 3, (tag, e_out, e_grad)
    out[tag + "/x"], out[tag + "/y"], out[tag + "/dy"], out[tag + "/dx"] = x, y, dy, dx
    sd = mod.state_dict()
    for k in sd:
        out[tag + "/state/" + k] = sd[k]
        out[tag + "/grad/" + k] = grads[k]
    attrs[tag]["keys"] = " ".join(sd.keys())
    return zeros


# ---- the 3-step training trajectory (cyclegan_traj.h5) ----
T_NGF, T_NBLOCKS, T_NDF, T_NLAYERS, T_STEPS = 2, 1, 2, 3, 3
T_LR, T_BETAS = 2e-4, (0.5, 0.999)
LAMBDA_A = LAMBDA_B = 10.0
LAMBDA_IDT = 0.5
LOSS_NAMES = ["G", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"]


def trajectory(gen):
    """The public CycleGANModel.optimize_parameters, 3 times, batch 1, lsgan, no image pool:
    forward; G step (D frozen): LSGAN(D_A(fake_B), 1) + LSGAN(D_B(fake_A), 1) + 10 L1 cycles
    + 5 L1 identities, Adam over G_A and G_B; D step: 0.5 (LSGAN(D(real), 1) + LSGAN(D(fake), 0))
    for D_A on (real_B, fake_B) and D_B on (real_A, fake_A), Adam over D_A and D_B."""
    nets = {"G_A": ResnetGenerator(1, 1, T_NGF, T_NBLOCKS).double(),
            "G_B": ResnetGenerator(1, 1, T_NGF, T_NBLOCKS).double(),
            "D_A": NLayerDiscriminator(1, T_NDF, T_NLAYERS).double(),
            "D_B": NLayerDiscriminator(1, T_NDF, T_NLAYERS).double()}
    for k in nets:
        init(nets[k], gen)
    init_sd = {k: {n: t.clone() for n, t in nets[k].state_dict().items()} for k in nets}
    real_A = torch.tanh(r32((T_STEPS, 1, 1, IMG, IMG), 1.5, gen)).float().double()
    real_B = torch.tanh(r32((T_STEPS, 1, 1, IMG, IMG), 1.5, gen)).float().double()
    G_A, G_B, D_A, D_B = nets["G_A"], nets["G_B"], nets["D_A"], nets["D_B"]
    opt_G = torch.optim.Adam(list(G_A.parameters()) + list(G_B.parameters()), lr=T_LR, betas=T_BETAS)
    opt_D = torch.optim.Adam(list(D_A.parameters()) + list(D_B.parameters()), lr=T_LR, betas=T_BETAS)
    mse, l1 = nn.MSELoss(), nn.L1Loss()

    def gan(pred, real):
        return mse(pred, torch.full_like(pred, 1.0 if real else 0.0))

    losses = []
    for s in range(T_STEPS):
        rA, rB = real_A[s], real_B[s]
        fake_B = G_A(rA)
        rec_A = G_B(fake_B)
        fake_A = G_B(rB)
        rec_B = G_A(fake_A)
        for d in (D_A, D_B):
            for p in d.parameters():
                p.requires_grad_(False)
        opt_G.zero_grad()
        idt_A, idt_B = G_A(rB), G_B(rA)
        l_idt_A = l1(idt_A, rB) * LAMBDA_B * LAMBDA_IDT
        l_idt_B = l1(idt_B, rA) * LAMBDA_A * LAMBDA_IDT
        l_G_A, l_G_B = gan(D_A(fake_B), True), gan(D_B(fake_A), True)
        l_cyc_A, l_cyc_B = l1(rec_A, rA) * LAMBDA_A, l1(rec_B, rB) * LAMBDA_B
        l_G = l_G_A + l_G_B + l_cyc_A + l_cyc_B + l_idt_A + l_idt_B
        l_G.backward()
        opt_G.step()
        for d in (D_A, D_B):
            for p in d.parameters():
                p.requires_grad_(True)
        opt_D.zero_grad()
        l_D_A = (gan(D_A(rB), True) + gan(D_A(fake_B.detach()), False)) * 0.5
        l_D_A.backward()
        l_D_B = (gan(D_B(rA), True) + gan(D_B(fake_A.detach()), False)) * 0.5
        l_D_B.backward()
        opt_D.step()
        losses.append([l.item() for l in (l_G, l_G_A, l_G_B, l_cyc_A, l_cyc_B, l_idt_A, l_idt_B, l_D_A, l_D_B)])
    final = {k: {n: t.detach().clone() for n, t in nets[k].state_dict().items()} for k in nets}
    zeros = {k: zero_bias_keys(nets[k]) for k in nets}
    return init_sd, final, zeros, real_A, real_B, torch.tensor(losses, dtype=torch.float64)


def write_trajectory(out_dir, gen):
    torch.manual_seed(SEED)
    init_sd, final, zeros, real_A, real_B, losses = trajectory(gen)
    path = os.path.join(out_dir, "cyclegan_traj.h5")
    w = H5W(path)
    w.f.attrs["torch_version"] = str(torch.__version__)
    w.f.attrs["description"] = ("3 steps of pytorch-CycleGAN-and-pix2pix CycleGANModel.optimize_parameters "
                                "(lsgan, no pool), float64 from float32 inputs")
    w.f.attrs["loss_names"] = " ".join(LOSS_NAMES)
    for k, v in (("ngf", T_NGF), ("n_blocks", T_NBLOCKS), ("ndf", T_NDF), ("n_layers", T_NLAYERS),
                 ("steps", T_STEPS), ("channels", 1), ("H", IMG), ("W", IMG), ("seed", SEED)):
        w.f.attrs[k] = np.int64(v)
    for k, v in (("lr", T_LR), ("beta1", T_BETAS[0]), ("beta2", T_BETAS[1]), ("adam_eps", 1e-8),
                 ("lambda_A", LAMBDA_A), ("lambda_B", LAMBDA_B), ("lambda_identity", LAMBDA_IDT)):
        w.f.attrs[k] = np.float64(v)
    f32 = lambda t: np.ascontiguousarray(t.detach().numpy().astype(np.float32))  # noqa: E731
    w.dset("real_A", f32(real_A))
    w.dset("real_B", f32(real_B))
    w.dset("losses", f32(losses))
    for net in sorted(init_sd):
        for n in init_sd[net]:
            w.dset("init/%s/%s" % (net, n), f32(init_sd[net][n]))
            d = w.dset("final/%s/%s" % (net, n), f32(final[net][n]))
            if n in zeros[net]:
                d.attrs["unstable"] = np.int64(1)
    w.close()
    print("wrote %s (%d bytes); losses per step (%s):" % (path, os.path.getsize(path), " ".join(LOSS_NAMES)))
    for row in losses.tolist():
        print("  " + " ".join("%.5f" % v for v in row))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s OUT_DIR\n" % sys.argv[0])
        return 2
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)
    out, attrs = {}, {"G": dict(ngf=NGF, n_blocks=N_BLOCKS, channels=1, B=B, H=IMG, W=IMG),
                      "D": dict(ndf=NDF, n_layers=N_LAYERS, channels=1, B=B, H=IMG, W=IMG)}

    G = ResnetGenerator(1, 1, NGF, N_BLOCKS).double()
    D = NLayerDiscriminator(1, NDF, N_LAYERS).double()
    assert list(G.state_dict().keys()) == expected_g_keys(N_BLOCKS), list(G.state_dict().keys())
    assert list(D.state_dict().keys()) == expected_d_keys(), list(D.state_dict().keys())

    # inputs in [-1, 1] like the images (tanh of a normal, rounded to float32)
    xg = torch.tanh(r32((B, 1, IMG, IMG), 1.5, gen)).float().double()
    zeros_g = case("G", G, xg, gen, out, attrs)
    xd = torch.tanh(r32((B, 1, IMG, IMG), 1.5, gen)).float().double()
    zeros_d = case("D", D, xd, gen, out, attrs)

    path = os.path.join(sys.argv[1], "cyclegan_tiny.h5")
    w = H5W(path)
    w.f.attrs["torch_version"] = str(torch.__version__)
    w.f.attrs["description"] = ("pytorch-CycleGAN-and-pix2pix ResnetGenerator and NLayerDiscriminator "
                                "(instance norm, reflect), float64 from float32 inputs")
    w.f.attrs["seed"] = np.int64(SEED)
    w.f.attrs["tol_out"] = TOL_OUT
    w.f.attrs["tol_grad"] = TOL_GRAD
    for name in sorted(out):
        w.dset(name, np.ascontiguousarray(out[name].detach().numpy().astype(np.float32)))
    for k in zeros_g:
        w.f["G/grad/" + k].attrs["exact_zero"] = np.int64(1)
    for k in zeros_d:
        w.f["D/grad/" + k].attrs["exact_zero"] = np.int64(1)
    for grp in sorted(attrs):
        g = w.group(grp)
        for k, v in sorted(attrs[grp].items()):
            g.attrs[k] = v if isinstance(v, str) else np.int64(v)
    w.close()
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    write_trajectory(sys.argv[1], gen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
