#!/usr/bin/python3
"""Golden file for the FID feature net of models/gan/fidnet.h.

Usage: /usr/bin/python3 tests/golden/make_golden_fidnet.py OUT_DIR
Writes OUT_DIR/fidnet_tiny.h5: a tiny net (channels 3, features 8, image side 13, so the stride-2
sides 7 and 4 are not halves) built from torch.nn modules with the layer names of fidnet.h, random
float32 weights (the norms' too) and a batch of 5 images and labels; the reference, in float64:
  /features [B, D] (fc1's output, before its ReLU: what FID uses), /logits [B, 10], attribute loss (mean cross-entropy),
  /grads/<name> (d loss / d every parameter), and a 3-step torch.optim.Adam trajectory (lr 1e-2,
  the defaults otherwise) on the same batch: /adam/losses [3] (before each step), /adam/weights/<name>.
Self-check: torch.autograd.gradcheck of the whole net's loss w.r.t. the input and fc1's weight.
Deterministic: fixed seed, no timestamps.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden_supernet import H5W  # noqa: E402

SEED = 2222
C, D, S, B = 3, 8, 13, 5
LR, STEPS = 1e-2, 3


class FidNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, C, 3, 1, 1, bias=False)
        self.norm1 = nn.InstanceNorm2d(C, affine=True)
        self.conv2 = nn.Conv2d(C, 2 * C, 3, 2, 1, bias=False)
        self.norm2 = nn.InstanceNorm2d(2 * C, affine=True)
        self.conv3 = nn.Conv2d(2 * C, 4 * C, 3, 2, 1, bias=False)
        self.norm3 = nn.InstanceNorm2d(4 * C, affine=True)
        s3 = ((S - 1) // 2 + 1 - 1) // 2 + 1
        self.fc1 = nn.Linear(4 * C * s3 * s3, D)
        self.fc2 = nn.Linear(D, 10)

    def forward(self, x):
        x = F.relu(self.norm1(self.conv1(x)))
        x = F.relu(self.norm2(self.conv2(x)))
        x = F.relu(self.norm3(self.conv3(x)))
        f = self.fc1(x.flatten(1))
        return f, self.fc2(F.relu(f))


def main(out_dir):
    gen = torch.Generator().manual_seed(SEED)
    net = FidNet()
    with torch.no_grad():
        for name, p in net.named_parameters():
            scale = 0.3 if "norm" not in name else 0.2
            base = 1.0 if name.endswith("weight") and "norm" in name else 0.0
            p.copy_((base + scale * torch.randn(p.shape, generator=gen)).float())
    net = net.double()
    x = (torch.rand(B, 1, S, S, generator=gen) * 2 - 1).float().double()
    x[:, :, :2, :] = -1.0  # padding-like rows
    labels = torch.tensor([3, 7, 9, 0, 7])

    w0 = {n: p.detach().clone() for n, p in net.named_parameters()}
    feat, logits = net(x)
    loss = F.cross_entropy(logits, labels)
    net.zero_grad()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in net.named_parameters()}

    # self-check: gradcheck through the whole net (input and fc1.weight)
    def f_in(xx):
        return F.cross_entropy(net(xx)[1], labels)
    assert torch.autograd.gradcheck(f_in, (x.clone().requires_grad_(True),), eps=1e-6, atol=1e-5)

    opt = torch.optim.Adam(net.parameters(), lr=LR)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        l_ = F.cross_entropy(net(x)[1], labels)
        losses.append(l_.item())
        l_.backward()
        opt.step()

    path = os.path.join(out_dir, "fidnet_tiny.h5")
    w = H5W(path)
    w.f.attrs["torch_version"] = str(torch.__version__)
    w.f.attrs["description"] = "models/gan/fidnet golden: torch.nn in float64 from float32 inputs and weights"
    for k, v in (("seed", SEED), ("channels", C), ("features", D), ("image_size", S), ("batch", B),
                 ("steps", STEPS)):
        w.f.attrs[k] = np.int64(v)
    w.f.attrs["lr"] = np.float64(LR)
    w.f.attrs["loss"] = np.float64(loss.item())

    def f32(t):
        return np.ascontiguousarray(t.detach().numpy().astype(np.float32))
    w.dset("input", f32(x))
    w.dset("labels", labels.numpy().astype(np.int32))
    w.dset("features", f32(feat))
    w.dset("logits", f32(logits))
    for n in sorted(w0):
        w.dset("weights/" + n, f32(w0[n]))
        w.dset("grads/" + n, f32(grads[n]))
        w.dset("adam/weights/" + n, f32(dict(net.named_parameters())[n]))
    w.dset("adam/losses", np.array(losses, dtype=np.float64))
    w.close()
    print("wrote", path, "loss", loss.item(), "adam losses", losses)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
