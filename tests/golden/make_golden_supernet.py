#!/usr/bin/python3
"""Golden files for the supernet (subnet views + distillation loss) and the importance reorder.

Usage: /usr/bin/python3 tests/golden/make_golden_supernet.py OUT_DIR
Writes OUT_DIR/supernet_tiny.h5 and OUT_DIR/importance_tiny.h5 (tests/golden/README.md describes
them).  Reuses the tensor names, init, batch layout and LayerNorm of make_golden.py (imported, not
changed).  Everything is computed in float64 and stored as float32.  Deterministic: fixed seeds.

Self-checks (the script fails, and writes nothing, if any is violated):
  - the full arch of the subnet forward equals make_golden.forward (an independent code path);
  - a depth-reduced subnet with all heads / full FFN equals make_golden.forward on a model built from
    the kept layers with the unused Wo / W2 columns zeroed;
  - weights outside the used slices do not influence a subnet (filled with garbage: same loss);
  - stored supernet gradients agree with central finite differences on whole tensors, and the
    gradient of every weight outside the slices (unkept layers included) is exactly zero;
  - head importance equals finite differences of the loss in the head mask; neuron importance
    terms equal the autograd gradient w.r.t. a pre-/post-activation scale of each FFN neuron;
  - the reordered model has the same logits as the original, and its importances are the sorted ones.
"""
import math
import os
import sys
from collections import OrderedDict

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402  (the model code of the full-model golden files)

SUPER_CFG = dict(vocab=50, max_position=16, hidden=16, heads=4, ffn=32, layers=4, classes=2, batch=3, seq=9)
IMP_CFG = dict(vocab=50, max_position=16, hidden=16, heads=4, ffn=32, layers=2, classes=2)
HEAD_DIM = 4
ARCHS = ["d2-h1.1-f8.8", "d3-h4.2.1-f32.16.8", "d4-h2.3.4.1-f16.32.8.24-e12"]
DISTILL = dict(lambda_logit=1.0, lambda_hidden=0.1, lambda_hard=0.5, temperature=2.0)
NOISE_STD = 0.05
SUPER_SEED = 2040
IMP_SEED = 818


# ----------------------------------------------------------------------------------------------
# Model

def parse_arch(text, L, H):
    """'d3-h4.2.1-f32.16.8[-e12]' -> (kept, heads, ffn, hidden); DynaBERT depth rule."""
    parts = text.split("-")
    d = int(parts[0][1:])
    heads = [int(v) for v in parts[1][1:].split(".")]
    ffn = [int(v) for v in parts[2][1:].split(".")]
    e = int(parts[3][1:]) if len(parts) > 3 else H
    assert parts[0][0] == "d" and parts[1][0] == "h" and parts[2][0] == "f" and len(heads) == d == len(ffn)
    kept = [(i + 1) * L // d - 1 for i in range(d)]
    return kept, heads, ffn, e


def forward_sub(p, ids, types, lens, kept, heads, ffn, e, D, head_mask=None, ffn_pre=None, ffn_post=None):
    """Subnet as views of full-size weights p (see README).  head_mask [L, A] multiplies the attention
    probabilities of each head; ffn_pre / ffn_post [L, F] scale each FFN neuron's pre-activation /
    activation (used only by the importance checks).  Returns logits, hidden list (embeddings, kept...)."""
    B, T = ids.shape
    pos = torch.arange(T)
    x = (p["embeddings/word"][ids][..., :e] + p["embeddings/position"][pos][None, :, :e]
         + p["embeddings/token_type"][types][..., :e])
    x = mg.layer_norm(x, p["embeddings/ln_gamma"][:e], p["embeddings/ln_beta"][:e])
    hidden = [x]
    key_pad = pos[None, :] >= lens[:, None]
    for i, l in enumerate(kept):
        n = "layer_%02d/" % l
        a, f = heads[i], ffn[i]
        w = a * D
        q = F.linear(x, p[n + "attn/wq"][:w, :e], p[n + "attn/bq"][:w]).view(B, T, a, D).transpose(1, 2)
        k = F.linear(x, p[n + "attn/wk"][:w, :e], p[n + "attn/bk"][:w]).view(B, T, a, D).transpose(1, 2)
        v = F.linear(x, p[n + "attn/wv"][:w, :e], p[n + "attn/bv"][:w]).view(B, T, a, D).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(D)
        scores = scores.masked_fill(key_pad[:, None, None, :], float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        if head_mask is not None:
            probs = probs * head_mask[l, :a][None, :, None, None]
        ctx = (probs @ v).transpose(1, 2).reshape(B, T, w)
        x = mg.layer_norm(x + F.linear(ctx, p[n + "attn/wo"][:e, :w], p[n + "attn/bo"][:e]),
                          p[n + "attn_ln/gamma"][:e], p[n + "attn_ln/beta"][:e])
        pre = F.linear(x, p[n + "ffn/w1"][:f, :e], p[n + "ffn/b1"][:f])
        if ffn_pre is not None:
            pre = pre * ffn_pre[l, :f]
        h = F.gelu(pre)
        if ffn_post is not None:
            h = h * ffn_post[l, :f]
        x = mg.layer_norm(x + F.linear(h, p[n + "ffn/w2"][:e, :f], p[n + "ffn/b2"][:e]),
                          p[n + "ffn_ln/gamma"][:e], p[n + "ffn_ln/beta"][:e])
        hidden.append(x)
    pooled = torch.tanh(F.linear(x[:, 0], p["pooler/w"][:e, :e], p["pooler/b"][:e]))
    logits = F.linear(pooled, p["classifier/w"][:, :e], p["classifier/b"])
    return logits, hidden


def full_arch(cfg):
    L = cfg["layers"]
    return list(range(L)), [cfg["heads"]] * L, [cfg["ffn"]] * L, cfg["hidden"]


def soft_ce(t, s, tau):
    return -(torch.softmax(t / tau, -1) * torch.log_softmax(s / tau, -1)).sum(-1).mean()


def distill_loss(sp, batch, arch, t_logits, t_hidden):
    """Returns total, (logit, hidden-sum, hard), student logits, student hidden."""
    ids, types, lens, labels = batch
    kept, heads, ffn, e = arch
    logits, hidden = forward_sub(sp, ids, types, lens, kept, heads, ffn, e, HEAD_DIM)
    l_logit = soft_ce(t_logits, logits, DISTILL["temperature"])
    mapped = [t_hidden[0]] + [t_hidden[l + 1] for l in kept]
    l_hidden = sum(F.mse_loss(h, m[..., :e]) for h, m in zip(hidden, mapped))
    l_hard = F.cross_entropy(logits, labels)
    total = DISTILL["lambda_logit"] * l_logit + DISTILL["lambda_hidden"] * l_hidden + DISTILL["lambda_hard"] * l_hard
    return total, (l_logit, l_hidden, l_hard), logits, hidden


def make_batch2(cfg, seed):
    """The second importance batch: B=2, T=7, lens [7, 5]; row 0 a pair (segment b from 4), row 1 single."""
    B, T, V = 2, 7, cfg["vocab"]
    lens, bstart = [7, 5], [4, None]
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(mg.FIRST_WORD_ID, V, (B, T), generator=g, dtype=torch.int64)
    types = torch.zeros(B, T, dtype=torch.int64)
    for b in range(B):
        n = lens[b]
        ids[b, 0] = mg.CLS_ID
        ids[b, n - 1] = mg.SEP_ID
        if bstart[b] is not None:
            ids[b, bstart[b] - 1] = mg.SEP_ID
            types[b, bstart[b]:n] = 1
        ids[b, n:] = mg.PAD_ID
    return ids, types, torch.tensor(lens, dtype=torch.int64)


# ----------------------------------------------------------------------------------------------
# HDF5

def _hdf5_lib():
    """The libhdf5 that h5py uses (already mapped into this process), for H5Pset_dset_no_attrs_hint,
    which h5py does not wrap.  Without the hint every dataset header reserves ~190 unused bytes."""
    import ctypes
    with open("/proc/self/maps") as m:
        libs = sorted({l.split()[-1] for l in m if "/libhdf5" in l and "_hl" not in l.rsplit("/", 1)[-1]})
    assert len(libs) == 1, "cannot tell which libhdf5 h5py uses: %s" % libs
    lib = ctypes.CDLL(libs[0])
    lib.H5Pset_dset_no_attrs_hint.argtypes = [ctypes.c_int64, ctypes.c_uint]
    return lib


class H5W:
    """HDF5 writer: no timestamps (byte-reproducible), HDF5 >= 1.10 format (single-chunk index for the
    deflated gradients), compact layout and minimized object headers for the ~400 small datasets."""

    def __init__(self, path):
        self.tmp = path + ".tmp"
        self.path = path
        self.lib = _hdf5_lib()
        fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
        fcpl.set_obj_track_times(False)
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_V110)
        self.f = h5py.File(h5py.h5f.create(self.tmp.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))

    def group(self, name):
        parent = self.f
        for part in name.split("/"):
            if part not in parent:
                gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
                gcpl.set_obj_track_times(False)
                h5py.h5g.create(parent.id, part.encode(), gcpl=gcpl)
            parent = parent[part]
        return parent

    def dset(self, name, data, deflate=False):
        parts = name.split("/")
        parent = self.group("/".join(parts[:-1])) if len(parts) > 1 else self.f
        data = np.asarray(data)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_obj_track_times(False)
        assert self.lib.H5Pset_dset_no_attrs_hint(dcpl.id, 1) >= 0
        if deflate and data.size > 64:
            # Mostly-zero gradients: one chunk, shuffle + deflate (zlib, in every HDF5 build).
            dcpl.set_chunk(data.shape)
            dcpl.set_shuffle()
            dcpl.set_deflate(6)
        elif data.nbytes < 32768:
            dcpl.set_layout(h5py.h5d.COMPACT)
        return parent.create_dataset(parts[-1], data=data, track_times=False, dcpl=dcpl)

    def close(self):
        self.f.close()
        os.replace(self.tmp, self.path)


def f32(t):
    return np.ascontiguousarray(t.detach().numpy().astype(np.float32))


def i32(t):
    return np.ascontiguousarray(np.asarray(t).astype(np.int32))


# ----------------------------------------------------------------------------------------------
# Supernet file

def fd_check(loss_of, params, grads, name, h=1e-6):
    """Central differences on the whole tensor `name`; returns the normalized error (or abs if ref 0)."""
    base = params[name].detach().clone().reshape(-1)
    fd = torch.zeros_like(base)
    with torch.no_grad():
        for i in range(base.numel()):
            a = base.clone(); a[i] += h
            c = base.clone(); c[i] -= h
            q = dict(params); q[name] = a.view(params[name].shape)
            r = dict(params); r[name] = c.view(params[name].shape)
            fd[i] = (loss_of(q) - loss_of(r)) / (2 * h)
    g = grads[name].reshape(-1)
    if g.norm().item() == 0.0:
        assert fd.norm().item() < 1e-8, "%s: stored 0, finite differences %g" % (name, fd.norm())
        return 0.0
    err = ((fd - g).norm() / g.norm()).item()
    assert err < 1e-6, "%s: finite-difference normalized error %.3g" % (name, err)
    return err


def build_supernet(path):
    cfg = dict(SUPER_CFG)
    L, H, D = cfg["layers"], cfg["hidden"], HEAD_DIM
    assert cfg["heads"] * D == H
    shapes = mg.param_shapes(cfg, cfg["classes"])
    teacher = mg.init_params(shapes, SUPER_SEED)
    g = torch.Generator().manual_seed(SUPER_SEED + 7)
    student = OrderedDict((k, v + NOISE_STD * torch.randn(v.shape, generator=g, dtype=torch.float64))
                          for k, v in teacher.items())
    ids, types, lens = mg.make_batch(cfg, SUPER_SEED + 1)
    labels = torch.tensor([1, 0, 1], dtype=torch.int64)
    batch = (ids, types, lens, labels)

    with torch.no_grad():
        t_logits, t_hidden = forward_sub(teacher, ids, types, lens, *full_arch(cfg), D)
        # Independent path: make_golden.forward (uniform heads, D = H / A) on the full model.
        ref_logits, _, ref_hidden, _ = mg.forward(teacher, ids, types, lens, dict(cfg))
        assert (ref_logits - t_logits).abs().max().item() < 1e-12
        assert max((a - b).abs().max().item() for a, b in zip(ref_hidden, t_hidden)) < 1e-12
    assert t_logits.abs().min().item() > 0.05, "teacher logit near 0: pick another seed"

    results = []
    for text in ARCHS:
        arch = parse_arch(text, L, H)
        kept, heads, ffn, e = arch
        sp = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in student.items())
        total, parts, logits, hidden = distill_loss(sp, batch, arch, t_logits, t_hidden)
        assert logits.abs().min().item() > 0.05, "%s: a logit is near 0: pick another seed" % text
        gl = torch.autograd.grad(total, list(sp.values()), allow_unused=True)   # unkept layers: None
        grads = OrderedDict((k, torch.zeros_like(v) if gg is None else gg.detach())
                            for (k, v), gg in zip(sp.items(), gl))
        gnorm = math.sqrt(sum(float((gg ** 2).sum()) for gg in grads.values()))
        zero = [k for k in grads if k.endswith("/attn/bk")]
        for k in zero:
            assert grads[k].norm().item() < 1e-12 * gnorm, k
            grads[k] = torch.zeros_like(grads[k])
        results.append(dict(text=text, arch=arch, total=total.item(), parts=[x.item() for x in parts],
                            logits=logits.detach(), hidden=[h.detach() for h in hidden], grads=grads,
                            gnorm=gnorm, zero=zero))

    # --- self-checks -------------------------------------------------------------------------
    def loss_of(arch):
        return lambda q: distill_loss(q, batch, arch, t_logits, t_hidden)[0]

    # (a) garbage outside the used slices changes nothing; the gradient there is exactly 0.
    gg = torch.Generator().manual_seed(99)
    for r in results:
        kept, heads, ffn, e = r["arch"]
        used = OrderedDict((k, torch.zeros_like(v, dtype=torch.bool)) for k, v in student.items())
        used["embeddings/word"][:, :e] = True
        used["embeddings/position"][:, :e] = True
        used["embeddings/token_type"][:, :e] = True
        used["embeddings/ln_gamma"][:e] = True
        used["embeddings/ln_beta"][:e] = True
        for i, l in enumerate(kept):
            n = "layer_%02d/" % l
            w, f = heads[i] * D, ffn[i]
            for m in "qkv":
                used[n + "attn/w" + m][:w, :e] = True
                used[n + "attn/b" + m][:w] = True
            used[n + "attn/wo"][:e, :w] = True
            used[n + "attn/bo"][:e] = True
            for m in ("attn_ln", "ffn_ln"):
                used[n + m + "/gamma"][:e] = True
                used[n + m + "/beta"][:e] = True
            used[n + "ffn/w1"][:f, :e] = True
            used[n + "ffn/b1"][:f] = True
            used[n + "ffn/w2"][:e, :f] = True
            used[n + "ffn/b2"][:e] = True
        used["pooler/w"][:e, :e] = True
        used["pooler/b"][:e] = True
        used["classifier/w"][:, :e] = True
        used["classifier/b"][:] = True
        garbage = OrderedDict((k, torch.where(used[k], v, 3.0 * torch.randn(v.shape, generator=gg)))
                              for k, v in student.items())
        with torch.no_grad():
            d = abs(loss_of(r["arch"])(garbage).item() - r["total"])
        assert d < 1e-12, "%s depends on weights outside its slices (%g)" % (r["text"], d)
        for k, gr in r["grads"].items():
            assert torch.all(gr[~used[k]] == 0.0), "%s: nonzero gradient outside the slices of %s" % (r["text"], k)
        r["used_frac"] = sum(int(u.sum()) for u in used.values()) / sum(u.numel() for u in used.values())

    # (b) arch_1 (all hidden) equals make_golden.forward on a 3-layer model of the kept layers with the
    #     Wo columns of unused heads and the W2 columns of unused FFN neurons zeroed.
    r = results[1]
    kept, heads, ffn, e = r["arch"]
    assert e == H
    small = OrderedDict()
    for k, v in student.items():
        if not k.startswith("layer_"):
            small[k] = v.clone()
    for i, l in enumerate(kept):
        for k, v in student.items():
            if k.startswith("layer_%02d/" % l):
                small["layer_%02d/" % i + k.split("/", 1)[1]] = v.clone()
        small["layer_%02d/attn/wo" % i][:, heads[i] * D:] = 0.0
        small["layer_%02d/ffn/w2" % i][:, ffn[i]:] = 0.0
    c3 = dict(cfg); c3["layers"] = len(kept)
    with torch.no_grad():
        lg3, _, hid3, _ = mg.forward(small, ids, types, lens, c3)
    assert (lg3 - r["logits"]).abs().max().item() < 1e-12
    assert max((a - b).abs().max().item() for a, b in zip(hid3, r["hidden"])) < 1e-12

    # (c) finite differences on whole tensors (used slices, elastic hidden, unkept layers).
    fd_list = [(0, "layer_01/attn/wq"), (0, "layer_00/ffn/b1"), (0, "classifier/w"),
               (1, "layer_03/attn/wo"), (1, "layer_01/attn/bk"), (1, "embeddings/ln_gamma"),
               (2, "layer_02/ffn/w2"), (2, "embeddings/token_type"), (2, "pooler/w"), (2, "layer_03/attn_ln/beta")]
    worst = 0.0
    for k, name in fd_list:
        worst = max(worst, fd_check(loss_of(results[k]["arch"]), student, results[k]["grads"], name))

    # --- write -------------------------------------------------------------------------------
    w = H5W(path)
    a = w.f.attrs
    for k in ("vocab", "max_position", "hidden", "heads", "ffn", "layers", "classes", "batch", "seq"):
        a[k] = np.int64(cfg[k])
    a["head_dim"] = np.int64(D)
    for k, v in DISTILL.items():
        a[k] = np.float64(v)
    a["ln_eps"] = np.float64(mg.LN_EPS)
    a["noise_std"] = np.float64(NOISE_STD)
    a["seed"] = np.int64(SUPER_SEED)
    a["n_archs"] = np.int64(len(ARCHS))
    a["archs"] = np.array(ARCHS, dtype=h5py.string_dtype())
    a["torch_version"] = str(torch.__version__)
    a["description"] = (
        "Supernet golden file (tests/golden/README.md): /teacher full teacher weights, /student = teacher + "
        "%g N(0,1); per /arch_k the student subnet (leading slices, DynaBERT depth rule) logits, hidden "
        "states, distillation loss = lambda_logit softCE(teacher/tau, student/tau) + lambda_hidden sum MSE "
        "(hidden vs teacher layer of the same index, first e channels) + lambda_hard CE, and d loss / d "
        "student weight at full size. float64 computed by tests/golden/make_golden_supernet.py, stored "
        "float32." % NOISE_STD)
    for k, v in teacher.items():
        w.dset("teacher/" + k, f32(v))
    for k, v in student.items():
        w.dset("student/" + k, f32(v))
    w.dset("batch/ids", i32(ids))
    w.dset("batch/types", i32(types))
    w.dset("batch/lens", i32(lens))
    w.dset("batch/labels", i32(labels))
    w.dset("teacher_out/logits", f32(t_logits))
    for j, h in enumerate(t_hidden):
        w.dset("teacher_out/hidden/%d" % j, f32(h))
    for ai, r in enumerate(results):
        kept, heads, ffn, e = r["arch"]
        base = "arch_%d/" % ai
        grp = w.group("arch_%d" % ai)
        grp.attrs["text"] = r["text"]
        grp.attrs["depth"] = np.int64(len(kept))
        grp.attrs["hidden"] = np.int64(e)
        w.dset(base + "kept", i32(kept))
        w.dset(base + "heads", i32(heads))
        w.dset(base + "ffn", i32(ffn))
        w.dset(base + "logits", f32(r["logits"]))
        for j, h in enumerate(r["hidden"]):
            w.dset(base + "hidden/%d" % j, f32(h))
        w.dset(base + "loss", np.array([r["total"]], dtype=np.float32))
        w.dset(base + "loss_parts", np.array(r["parts"], dtype=np.float32))
        for k, gr in r["grads"].items():
            d = w.dset(base + "grad/" + k, f32(gr), deflate=True)
            if k in r["zero"]:
                d.attrs["exact_zero"] = np.int64(1)
    w.close()

    print("%s: teacher logits %s" % (os.path.basename(path), np.array2string(t_logits.numpy().ravel(), precision=4)))
    for ai, r in enumerate(results):
        print("  arch_%d %-28s kept %s loss %.6f parts %s grad norm %.4g (%.0f%% of weights used)" % (
            ai, r["text"], r["arch"][0], r["total"], np.array2string(np.array(r["parts"]), precision=5),
            r["gnorm"], 100 * r["used_frac"]))
    print("  full arch == make_golden.forward; arch_1 == make_golden.forward on zero-padded kept layers; "
          "garbage outside slices ignored, gradient exactly 0 there")
    print("  finite differences on %d whole tensors: worst normalized error %.2g" % (len(fd_list), worst))
    print("  %d bytes" % os.path.getsize(path))


# ----------------------------------------------------------------------------------------------
# Importance file

def importance(p, batches, cfg):
    """Head importance [L, A] and neuron importance [L, F], per-batch abs, summed over batches."""
    L, A, F_ = cfg["layers"], cfg["heads"], cfg["ffn"]
    arch = full_arch(cfg)
    heads = torch.zeros(L, A)
    neurons = torch.zeros(L, F_)
    losses, logits0 = [], None
    for bi, (ids, types, lens, labels) in enumerate(batches):
        q = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in p.items())   # grads zeroed per batch
        mask = torch.ones(L, A, requires_grad=True)
        logits, _ = forward_sub(q, ids, types, lens, *arch, HEAD_DIM, head_mask=mask)
        loss = F.cross_entropy(logits, labels)
        gl = torch.autograd.grad(loss, [mask] + list(q.values()))
        gm, gp = gl[0], dict(zip(q.keys(), gl[1:]))
        heads += gm.abs()
        for l in range(L):
            n = "layer_%02d/" % l
            t1 = (p[n + "ffn/w1"] * gp[n + "ffn/w1"]).sum(1) + p[n + "ffn/b1"] * gp[n + "ffn/b1"]
            t2 = (p[n + "ffn/w2"] * gp[n + "ffn/w2"]).sum(0)
            neurons[l] += t1.abs() + t2.abs()
        losses.append(loss.item())
        if bi == 0:
            logits0 = logits.detach()
    return heads, neurons, losses, logits0


def reorder(p, head_order, neuron_order, cfg):
    L, D = cfg["layers"], HEAD_DIM
    r = OrderedDict((k, v.clone()) for k, v in p.items())
    for l in range(L):
        n = "layer_%02d/" % l
        rows = torch.cat([torch.arange(h * D, (h + 1) * D) for h in head_order[l].tolist()])
        for m in "qkv":
            r[n + "attn/w" + m] = p[n + "attn/w" + m][rows].clone()
            r[n + "attn/b" + m] = p[n + "attn/b" + m][rows].clone()
        r[n + "attn/wo"] = p[n + "attn/wo"][:, rows].clone()
        nperm = torch.as_tensor(neuron_order[l], dtype=torch.int64)
        r[n + "ffn/w1"] = p[n + "ffn/w1"][nperm].clone()
        r[n + "ffn/b1"] = p[n + "ffn/b1"][nperm].clone()
        r[n + "ffn/w2"] = p[n + "ffn/w2"][:, nperm].clone()
    return r


def check_importance(p, batches, cfg, heads, neurons):
    """Head importance vs finite differences in the mask; neuron terms vs gradients of neuron scales."""
    L, A, F_ = cfg["layers"], cfg["heads"], cfg["ffn"]
    arch = full_arch(cfg)
    fd_heads = torch.zeros(L, A)
    ref_neurons = torch.zeros(L, F_)
    h = 1e-6
    for ids, types, lens, labels in batches:
        def loss_m(mask):
            return F.cross_entropy(forward_sub(p, ids, types, lens, *arch, HEAD_DIM, head_mask=mask)[0], labels)
        g = torch.zeros(L, A)
        with torch.no_grad():
            for l in range(L):
                for a in range(A):
                    mp = torch.ones(L, A); mp[l, a] += h
                    mm = torch.ones(L, A); mm[l, a] -= h
                    g[l, a] = (loss_m(mp) - loss_m(mm)) / (2 * h)
        fd_heads += g.abs()
        pre = torch.ones(L, F_, requires_grad=True)
        post = torch.ones(L, F_, requires_grad=True)
        lg = forward_sub(p, ids, types, lens, *arch, HEAD_DIM, ffn_pre=pre, ffn_post=post)[0]
        gpre, gpost = torch.autograd.grad(F.cross_entropy(lg, labels), [pre, post])
        ref_neurons += gpre.abs() + gpost.abs()
    eh = ((fd_heads - heads).abs() / heads.abs()).max().item()
    en = ((ref_neurons - neurons).abs() / neurons.abs()).max().item()
    assert eh < 1e-6, "head importance vs finite differences: %g" % eh
    assert en < 1e-10, "neuron importance vs neuron-scale gradients: %g" % en
    return eh, en


def build_importance(path):
    cfg = dict(IMP_CFG)
    L, A, F_ = cfg["layers"], cfg["heads"], cfg["ffn"]
    assert A * HEAD_DIM == cfg["hidden"]
    shapes = mg.param_shapes(cfg, cfg["classes"])
    init = mg.init_params(shapes, IMP_SEED)
    b0 = mg.make_batch(dict(cfg, batch=3, seq=9), IMP_SEED + 1) + (torch.tensor([1, 0, 1]),)
    b1 = make_batch2(cfg, IMP_SEED + 2) + (torch.tensor([0, 1]),)
    batches = [b0, b1]

    heads, neurons, losses, logits0 = importance(init, batches, cfg)
    eh, en = check_importance(init, batches, cfg, heads, neurons)
    hn, nn_ = heads.numpy(), neurons.numpy()
    head_order = np.stack([np.argsort(-hn[l], kind="stable") for l in range(L)]).astype(np.int32)
    neuron_order = np.stack([np.argsort(-nn_[l], kind="stable") for l in range(L)]).astype(np.int32)
    # The order must not hinge on rounding: sorted neighbours differ by > 2e-3 relative, and every
    # value is > 1% of the largest (element-wise relative tolerance on the C side).
    min_gap = 1.0
    for vals, order in ((hn, head_order), (nn_, neuron_order)):
        srt = np.take_along_axis(vals, order.astype(np.int64), axis=1)
        gap = ((srt[:, :-1] - srt[:, 1:]) / srt[:, :-1]).min()
        assert gap > 2e-3, "near-tie in importance (%g): pick another seed" % gap
        assert vals.min() > 1e-2 * vals.max(), "an importance is near 0: pick another seed"
        min_gap = min(min_gap, gap)

    reo = reorder(init, head_order, neuron_order, cfg)
    with torch.no_grad():
        for bi, (ids, types, lens, labels) in enumerate(batches):
            lo = forward_sub(init, ids, types, lens, *full_arch(cfg), HEAD_DIM)[0]
            lr = forward_sub(reo, ids, types, lens, *full_arch(cfg), HEAD_DIM)[0]
            d = (lo - lr).abs().max().item()
            assert d < 1e-12, "reordered model differs on batch %d by %g" % (bi, d)
        assert (lo - mg.forward(init, ids, types, lens, dict(cfg))[0]).abs().max().item() < 1e-12
    assert logits0.abs().min().item() > 0.05, "a logit is near 0: pick another seed"
    h2, n2, _, _ = importance(reo, batches, cfg)
    sh = np.take_along_axis(hn, head_order.astype(np.int64), 1)
    sn = np.take_along_axis(nn_, neuron_order.astype(np.int64), 1)
    assert np.abs(h2.numpy() - sh).max() < 1e-10 * sh.max() and np.abs(n2.numpy() - sn).max() < 1e-10 * sn.max()

    w = H5W(path)
    a = w.f.attrs
    for k in ("vocab", "max_position", "hidden", "heads", "ffn", "layers", "classes"):
        a[k] = np.int64(cfg[k])
    a["head_dim"] = np.int64(HEAD_DIM)
    a["n_batches"] = np.int64(len(batches))
    a["ln_eps"] = np.float64(mg.LN_EPS)
    a["seed"] = np.int64(IMP_SEED)
    a["torch_version"] = str(torch.__version__)
    a["description"] = (
        "Importance golden file (tests/golden/README.md): /init weights, /batch_k inputs; head importance "
        "[L,A] = sum over batches |d CE / d head_mask| (mask multiplies attention probabilities); neuron "
        "importance [L,F] = sum over batches |sum_i W1[j,i] dW1[j,i] + b1[j] db1[j]| + |sum_k W2[k,j] "
        "dW2[k,j]| (per-batch gradients); orders = stable descending argsort; /reordered the permuted "
        "weights. float64 computed by tests/golden/make_golden_supernet.py, stored float32.")
    for k, v in init.items():
        w.dset("init/" + k, f32(v))
    for bi, (ids, types, lens, labels) in enumerate(batches):
        w.dset("batch_%d/ids" % bi, i32(ids))
        w.dset("batch_%d/types" % bi, i32(types))
        w.dset("batch_%d/lens" % bi, i32(lens))
        w.dset("batch_%d/labels" % bi, i32(labels))
        w.dset("batch_%d/loss" % bi, np.array([losses[bi]], dtype=np.float32))
    w.dset("batch_0/logits", f32(logits0))
    w.dset("importance/heads", hn.astype(np.float32))
    w.dset("importance/neurons", nn_.astype(np.float32))
    w.dset("importance/head_order", head_order)
    w.dset("importance/neuron_order", neuron_order)
    for k, v in reo.items():
        w.dset("reordered/" + k, f32(v))
    w.close()

    print("%s: losses %s, logits(batch_0) %s" % (os.path.basename(path), np.array2string(np.array(losses), precision=6),
                                                 np.array2string(logits0.numpy().ravel(), precision=4)))
    print("  head importance %s" % np.array2string(hn, precision=4).replace("\n", ""))
    print("  head order %s; neuron order[0][:8] %s" % (head_order.tolist(), neuron_order[0, :8].tolist()))
    print("  heads vs finite differences %.2g, neurons vs scale gradients %.2g, min sorted gap %.3g" % (eh, en, min_gap))
    print("  reordered logits == original on both batches; reordered importances == sorted ones")
    print("  %d bytes" % os.path.getsize(path))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s OUT_DIR\n" % sys.argv[0])
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    build_supernet(os.path.join(out, "supernet_tiny.h5"))
    build_importance(os.path.join(out, "importance_tiny.h5"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
