#!/usr/bin/python3
"""cyclegan_convert: CycleGAN generators between PyTorch state_dicts and ofa's HDF5 layout.

Two generator kinds, both keyed by their PyTorch state_dict names:
  resnet  pytorch-CycleGAN-and-pix2pix's ResnetGenerator (latest_net_G_A.pth of that project; the
          teacher of ofa's models/gan/cyclegan.c)
  mobile  GAN Compression's MobileResnetGenerator (models/gan/mobile.c), any widths per slot and
          per block (an exported subnet too), depthwise kernels 3 or 5; a depthwise conv stored 5x5
          may carry ofa's once-for-all `<conv>.5to3_matrix` (kept in both directions; the module runs
          the stored kernel, so the matrix does not change its output)
ofa's side: float32 datasets /weights/<NET>/<key> (NET = G_A by default) in an HDF5 file, the key
exactly the state_dict key; root attributes as docs/checkpoint-format.md lists them.

  tools/cyclegan_convert.py convert SRC DST [--net G_A] [--kind auto|resnet|mobile] [--check]
        SRC and DST: .pth/.pt (a state_dict, torch.save) or .h5; the direction follows the suffixes.
        --check: reload DST, build the generator from SRC's and from DST's tensors, run both in torch
        on a seeded batch and require equal tensors and equal outputs (exit 1 otherwise).
  tools/cyclegan_convert.py run WEIGHTS --images IN.h5 -o OUT.h5 [--net G_A] [--kind ...]
        translates IN.h5's /inputs [N, C, H, W] (values in [-1, 1]) with the generator in torch
        (float32, one thread) and writes /inputs and /outputs with the root attribute format =
        ofa-images (the image-set format of ofa translate, which ofa fid reads).
The .h5 this writes holds one generator's weights for this tool (convert back, run); ofa's own
commands read the checkpoints ofa writes, and say so when given one of these.
Outputs get their folders made; an output naming one of the inputs is refused.

A state_dict saved by an old PyTorch may carry InstanceNorm running statistics (running_mean,
running_var, num_batches_tracked; the public project's __patch_instance_norm_state_dict drops them):
they are dropped here too, and said so.  Keys with a DataParallel 'module.' prefix are accepted.
Run with /usr/bin/python3 (python3-torch, python3-h5py, python3-numpy).
"""
import argparse
import os
import re
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn

NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")


def fail(msg):
    sys.stderr.write("cyclegan_convert: %s\n" % msg)
    sys.exit(1)


def norm(c):
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


# ---------------------------------------------------------------- the two generators

class Generator(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


def resnet_generator(cin, cout, ngf, n_blocks):
    m = [nn.ReflectionPad2d(3), nn.Conv2d(cin, ngf, 7, bias=True), norm(ngf), nn.ReLU(True)]
    for i in range(2):
        c = ngf * 2 ** i
        m += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=True), norm(2 * c), nn.ReLU(True)]
    m += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):
        c = ngf * 2 ** (2 - i)
        m += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=True), norm(c // 2),
              nn.ReLU(True)]
    m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, cout, 7), nn.Tanh()]
    return Generator(m)


class DepthwiseConv(nn.Conv2d):
    def __init__(self, c, k, matrix):
        super().__init__(c, c, k, groups=c, bias=True)
        if matrix:
            self.register_parameter("5to3_matrix", nn.Parameter(torch.eye(9)))


class SeparableConv2d(nn.Module):
    def __init__(self, cin, cout, k, matrix):
        super().__init__()
        self.conv = nn.Sequential(DepthwiseConv(cin, k, matrix), norm(cin), nn.Conv2d(cin, cout, 1, bias=True))

    def forward(self, x):
        return self.conv(x)


class MobileResnetBlock(nn.Module):
    def __init__(self, dim, hidden, k, matrix):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(k // 2), SeparableConv2d(dim, hidden, k, matrix), norm(hidden), nn.ReLU(True),
            nn.Dropout(0.0), nn.ReflectionPad2d(k // 2), SeparableConv2d(hidden, dim, k, matrix), norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


def mobile_generator(cin, cout, stem, down1, down2, blocks, up1, up2):
    """blocks: one (hidden, kernel, has_matrix) per block."""
    m = [nn.ReflectionPad2d(3), nn.Conv2d(cin, stem, 7, bias=True), norm(stem), nn.ReLU(True),
         nn.Conv2d(stem, down1, 3, stride=2, padding=1, bias=True), norm(down1), nn.ReLU(True),
         nn.Conv2d(down1, down2, 3, stride=2, padding=1, bias=True), norm(down2), nn.ReLU(True)]
    m += [MobileResnetBlock(down2, h, k, mat) for h, k, mat in blocks]
    m += [nn.ConvTranspose2d(down2, up1, 3, stride=2, padding=1, output_padding=1, bias=True), norm(up1), nn.ReLU(True),
          nn.ConvTranspose2d(up1, up2, 3, stride=2, padding=1, output_padding=1, bias=True), norm(up2), nn.ReLU(True),
          nn.ReflectionPad2d(3), nn.Conv2d(up2, cout, 7), nn.Tanh()]
    return Generator(m)


def n_blocks_of(sd, pattern):
    idx = {int(m.group(1)) for k in sd for m in [re.match(pattern, k)] if m}
    n = len(idx)
    if idx != set(range(10, 10 + n)):
        fail("residual blocks %s are not model.10 .. model.%d in sequence" % (sorted(idx), 9 + n))
    return n


def detect_kind(sd):
    return "mobile" if any(k.endswith(".conv_block.1.conv.0.weight") for k in sd) else "resnet"


def need(sd, key):
    if key not in sd:
        fail("the state_dict has no tensor '%s' (is it a CycleGAN generator of this kind?)" % key)
    return sd[key]


def build(sd, kind):
    """The generator whose state_dict shapes are sd's; returns (module, description dict)."""
    if kind == "resnet":
        w1 = need(sd, "model.1.weight")
        nb = n_blocks_of(sd, r"model\.(\d+)\.conv_block\.1\.weight$")
        cout = need(sd, "model.%d.weight" % (17 + nb)).shape[0]
        g = resnet_generator(w1.shape[1], cout, w1.shape[0], nb)
        info = dict(model="cyclegan", channels=int(w1.shape[1]), ngf=int(w1.shape[0]), n_blocks=nb)
    else:
        w1 = need(sd, "model.1.weight")
        nb = n_blocks_of(sd, r"model\.(\d+)\.conv_block\.1\.conv\.0\.weight$")
        blocks = []
        for i in range(nb):
            p = "model.%d.conv_block." % (10 + i)
            dw = need(sd, p + "1.conv.0.weight")
            blocks.append((int(need(sd, p + "1.conv.2.weight").shape[0]), int(dw.shape[-1]),
                           (p + "1.conv.0.5to3_matrix") in sd))
        up1 = need(sd, "model.%d.weight" % (10 + nb)).shape[1]
        up2 = need(sd, "model.%d.weight" % (13 + nb)).shape[1]
        cout = need(sd, "model.%d.weight" % (17 + nb)).shape[0]
        g = mobile_generator(w1.shape[1], cout, w1.shape[0], need(sd, "model.4.weight").shape[0],
                             need(sd, "model.7.weight").shape[0], blocks, up1, up2)
        info = dict(model="mobile_resnet", channels=int(w1.shape[1]), n_blocks=nb)
    want = g.state_dict()
    missing, extra = [k for k in want if k not in sd], [k for k in sd if k not in want]
    if missing or extra:
        fail("the tensors do not form a %s generator: missing %s, unexpected %s" % (kind, missing[:5], extra[:5]))
    for k in want:
        if tuple(want[k].shape) != tuple(sd[k].shape):
            fail("%s: shape %s, the %s generator built from the other tensors needs %s"
                 % (k, tuple(sd[k].shape), kind, tuple(want[k].shape)))
    g.load_state_dict({k: torch.as_tensor(sd[k], dtype=torch.float32) for k in want}, strict=True)
    return g.eval(), info


# ---------------------------------------------------------------- files

def is_h5(path):
    return path.endswith(".h5") or path.endswith(".hdf5")


def is_pth(path):
    return path.endswith(".pth") or path.endswith(".pt")


def check_output(path, inputs):
    """refuses an output that is a folder or one of the inputs, and makes its folder"""
    if not path:
        fail("an output needs a file name")
    if os.path.isdir(path):
        fail("%s is a folder; name the file to write in it" % path)
    for i in inputs:
        if os.path.exists(path) and os.path.exists(i) and os.path.samefile(path, i):
            fail("%s is the input %s: writing it would replace the input; choose another name" % (path, i))
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)


def read_pth(path):
    if not os.path.isfile(path):
        fail("%s: no such file" % path)
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # a pickle error, a truncated file: torch's exception types vary
        fail("%s: not a PyTorch state_dict file (%s)" % (path, str(e).splitlines()[0] if str(e) else type(e).__name__))
    if hasattr(obj, "state_dict") and not isinstance(obj, dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        fail("%s: not a state_dict (a %s)" % (path, type(obj).__name__))
    sd, dropped = {}, []
    for k, v in obj.items():
        k2 = k[len("module."):] if k.startswith("module.") else k
        if k2.rsplit(".", 1)[-1] in NORM_STATS:
            dropped.append(k2)
            continue
        sd[k2] = v.detach().cpu().float()
    if dropped:
        sys.stderr.write("cyclegan_convert: %s: dropped %d InstanceNorm running statistics (%s, ...)\n"
                         % (path, len(dropped), dropped[0]))
    return sd


def read_h5(path, net):
    if not os.path.isfile(path):
        fail("%s: no such file" % path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail("%s: not an HDF5 file (%s)" % (path, e))
    with f:
        grp = "weights/" + net
        if grp not in f:
            have = sorted(f["weights"].keys()) if "weights" in f else []
            fail("%s: no group /%s (the file has /weights/%s)" % (path, grp, ", ".join(have) or "(no /weights)"))
        sd = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                sd[name] = torch.from_numpy(np.array(obj, dtype=np.float32))

        f[grp].visititems(visit)
    return sd


def write_h5(path, sd, net, info, kind):
    tmp = path + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            a = f.attrs
            a["format"] = "ofa-checkpoint"
            a["format_version"] = np.int64(1)
            a["kind"] = "teacher"
            a["model"] = info["model"]
            a["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            a["converted_by"] = "tools/cyclegan_convert.py"
            for k in ("channels", "ngf", "n_blocks"):
                if k in info:
                    a[k] = np.int64(info[k])
            for k, v in sd.items():
                arr = np.ascontiguousarray(v.numpy().astype(np.float32))
                f.create_dataset("weights/%s/%s" % (net, k), data=arr, fletcher32=arr.size > 0,
                                 chunks=arr.shape if arr.size else None)
            f.flush()
            os.fsync(f.id.get_vfd_handle())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_pth(path, sd):
    tmp = path + ".tmp"
    try:
        torch.save({k: v.clone() for k, v in sd.items()}, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, net):
    return read_h5(path, net) if is_h5(path) else read_pth(path)


# ---------------------------------------------------------------- commands

def ordered(sd, kind):
    """sd in the module's state_dict order (the order ofa's parameter table uses)."""
    g, _ = build(sd, kind)
    return {k: sd[k] for k in g.state_dict()}


def cmd_convert(a):
    check_output(a.dst, [a.src])
    sd = load(a.src, a.net)
    kind = detect_kind(sd) if a.kind == "auto" else a.kind
    sd = ordered(sd, kind)
    _, info = build(sd, kind)
    if is_h5(a.dst):
        write_h5(a.dst, sd, a.net, info, kind)
    else:
        write_pth(a.dst, sd)
    print("wrote %s: %s generator (%s), %d tensors, %d parameters"
          % (a.dst, kind, ", ".join("%s %s" % kv for kv in info.items() if kv[0] != "model"), len(sd),
             sum(v.numel() for v in sd.values())))
    if a.check:
        back = load(a.dst, a.net)
        bad = [k for k in sd if k not in back or not torch.equal(back[k], sd[k])] + [k for k in back if k not in sd]
        if bad:
            fail("--check: tensors differ after the round trip: %s" % bad[:5])
        g1, _ = build(sd, kind)
        g2, _ = build(back, kind)
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(2, info["channels"], 32, 32, generator=gen) * 2 - 1
        with torch.no_grad():
            y1, y2 = g1(x), g2(x)
        d = (y1 - y2).abs().max().item()
        print("check: %d tensors equal; outputs of the two generators on a 2 x %d x 32 x 32 batch: max |diff| %g"
              % (len(sd), info["channels"], d))
        if d != 0:
            fail("--check: outputs differ")


def cmd_run(a):
    check_output(a.output, [a.weights, a.images])
    sd = load(a.weights, a.net)
    kind = detect_kind(sd) if a.kind == "auto" else a.kind
    g, info = build(sd, kind)
    if not os.path.isfile(a.images):
        fail("%s: no such file" % a.images)
    try:
        with h5py.File(a.images, "r") as f:
            if "inputs" not in f:
                fail("%s: no /inputs dataset" % a.images)
            x = torch.from_numpy(np.array(f["inputs"], dtype=np.float32))
    except OSError as e:
        fail("%s: not an HDF5 file (%s)" % (a.images, e))
    if x.ndim != 4:
        fail("%s: /inputs has %d dimensions, expected [N, C, H, W]" % (a.images, x.ndim))
    if x.shape[1] != info["channels"]:
        fail("%s: /inputs has %d channels; the generator takes %d" % (a.images, x.shape[1], info["channels"]))
    if not bool(torch.isfinite(x).all()) or x.numel() and (x.min().item() < -1 or x.max().item() > 1):
        fail("%s: /inputs must hold values in [-1, 1] (ofa's image scale), not %g..%g"
             % (a.images, x.min().item(), x.max().item()))
    torch.set_num_threads(1)
    with torch.no_grad():
        y = g(x)
    tmp = a.output + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = "ofa-images"  # datasets/images.h: what ofa fid and inspect read
            f.attrs["format_version"] = np.int64(1)
            f.create_dataset("inputs", data=x.numpy())
            f.create_dataset("outputs", data=y.numpy())
        os.replace(tmp, a.output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print("wrote %s: %d images through the %s generator" % (a.output, x.shape[0], kind))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="state_dict <-> HDF5 (direction from the suffixes)")
    c.add_argument("src")
    c.add_argument("dst")
    c.add_argument("--check", action="store_true")
    r = sub.add_parser("run", help="translate /inputs of an HDF5 file in torch")
    r.add_argument("weights")
    r.add_argument("--images", required=True)
    r.add_argument("-o", "--output", required=True)
    for p in (c, r):
        p.add_argument("--net", default="G_A", help="group under /weights (default G_A)")
        p.add_argument("--kind", default="auto", choices=["auto", "resnet", "mobile"])
    a = ap.parse_args()
    if a.cmd == "convert" and not ((is_h5(a.src) and is_pth(a.dst)) or (is_pth(a.src) and is_h5(a.dst))):
        fail("convert: one of SRC and DST must be .h5 (or .hdf5) and the other .pth or .pt")
    (cmd_convert if a.cmd == "convert" else cmd_run)(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
