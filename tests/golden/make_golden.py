#!/usr/bin/python3
"""Golden files for the C BERT implementation (tests/golden/README.md describes them).

Usage: /usr/bin/python3 tests/golden/make_golden.py OUT_DIR
Writes OUT_DIR/bert_tiny_cls.h5 (2-class classification, cross-entropy) and OUT_DIR/bert_tiny_reg.h5
(1 output, MSE).  The model is the post-LayerNorm BERT of /work/shared/DESIGN.md ("Checkpoints"),
written out functionally over a dict of tensors named exactly like the checkpoint tensors.
Everything is computed in float64 and stored as float32.  Deterministic: fixed seeds, no dropout.

Self-checks (the script fails if any is violated):
  - gradients from autograd agree with central finite differences (torch.autograd.gradcheck on
    several whole parameter tensors, float64);
  - every encoder block agrees with torch.nn.TransformerEncoderLayer (an independent
    implementation) on the valid positions;
  - attention probabilities are exactly 0 on padded keys and rows sum to 1;
  - changing the ids at padded positions does not change the logits.
"""
import math
import os
import sys
from collections import OrderedDict

import h5py
import numpy as np
import torch
import torch.nn.functional as F

CFG = dict(layers=2, hidden=16, heads=2, ffn=32, vocab=50, max_position=16, batch=3, seq=9)
LN_EPS = 1e-12
OPT = dict(lr=1e-3, weight_decay=0.01, beta1=0.9, beta2=0.999, adam_eps=1e-8, warmup_steps=2,
           total_steps=6, grad_clip=1.0)
TRAJ_STEPS = 5
INIT_STD = 0.2      # matrices and embeddings
BIAS_STD = 0.05     # biases and LayerNorm beta
GAMMA_STD = 0.1     # LayerNorm gamma = 1 + GAMMA_STD * N(0,1)
PAD_ID, CLS_ID, SEP_ID, FIRST_WORD_ID = 0, 2, 3, 5


def param_shapes(cfg, classes):
    H, F_, V, P, L = cfg["hidden"], cfg["ffn"], cfg["vocab"], cfg["max_position"], cfg["layers"]
    s = OrderedDict()
    s["embeddings/word"] = (V, H)
    s["embeddings/position"] = (P, H)
    s["embeddings/token_type"] = (2, H)
    s["embeddings/ln_gamma"] = (H,)
    s["embeddings/ln_beta"] = (H,)
    for l in range(L):
        p = "layer_%02d/" % l
        for m in ("q", "k", "v", "o"):
            s[p + "attn/w" + m] = (H, H)
            s[p + "attn/b" + m] = (H,)
        s[p + "attn_ln/gamma"] = (H,)
        s[p + "attn_ln/beta"] = (H,)
        s[p + "ffn/w1"] = (F_, H)
        s[p + "ffn/b1"] = (F_,)
        s[p + "ffn/w2"] = (H, F_)
        s[p + "ffn/b2"] = (H,)
        s[p + "ffn_ln/gamma"] = (H,)
        s[p + "ffn_ln/beta"] = (H,)
    s["pooler/w"] = (H, H)
    s["pooler/b"] = (H,)
    s["classifier/w"] = (classes, H)
    s["classifier/b"] = (classes,)
    return s


def decays(name):
    """Weight decay applies to matrices and embeddings only (biases, LayerNorm gamma/beta: none)."""
    leaf = name.split("/")[-1]
    no_decay = leaf in ("bq", "bk", "bv", "bo", "b1", "b2", "b", "ln_gamma", "ln_beta", "gamma", "beta")
    return not no_decay


def init_params(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    params = OrderedDict()
    for name, shape in shapes.items():
        leaf = name.split("/")[-1]
        z = torch.randn(shape, generator=g, dtype=torch.float64)
        if leaf in ("gamma", "ln_gamma"):
            t = 1.0 + GAMMA_STD * z
        elif len(shape) == 1:
            t = BIAS_STD * z
        else:
            t = INIT_STD * z
        params[name] = t
    return params


def make_batch(cfg, seed):
    """Three rows: lens 9, 6, 4.  Rows 0 and 1 are pairs [CLS] a [SEP] b [SEP] whose segment b (token
    type 1) starts at 5 and 3; row 2 is a single sentence [CLS] a a [SEP] (all type 0)."""
    B, T, V = cfg["batch"], cfg["seq"], cfg["vocab"]
    lens = [9, 6, 4]
    bstart = [5, 3, None]
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(FIRST_WORD_ID, V, (B, T), generator=g, dtype=torch.int64)
    types = torch.zeros(B, T, dtype=torch.int64)
    for b in range(B):
        n = lens[b]
        ids[b, 0] = CLS_ID
        ids[b, n - 1] = SEP_ID
        if bstart[b] is not None:
            ids[b, bstart[b] - 1] = SEP_ID
            types[b, bstart[b]:n] = 1
        ids[b, n:] = PAD_ID
    return ids, types, torch.tensor(lens, dtype=torch.int64)


def layer_norm(x, g, b):
    return F.layer_norm(x, (x.shape[-1],), g, b, LN_EPS)


def forward(p, ids, types, lens, cfg):
    """Returns logits [B,C], pooled [B,H], hidden list (embeddings, layer_00, ...), probs list."""
    B, T = ids.shape
    H, A, L = cfg["hidden"], cfg["heads"], cfg["layers"]
    D = H // A
    pos = torch.arange(T)
    x = p["embeddings/word"][ids] + p["embeddings/position"][pos][None] + p["embeddings/token_type"][types]
    x = layer_norm(x, p["embeddings/ln_gamma"], p["embeddings/ln_beta"])
    hidden, probs_all = [x], []
    key_pad = pos[None, :] >= lens[:, None]                      # [B, T] True = excluded key
    for l in range(L):
        n = "layer_%02d/" % l
        q = F.linear(x, p[n + "attn/wq"], p[n + "attn/bq"]).view(B, T, A, D).transpose(1, 2)
        k = F.linear(x, p[n + "attn/wk"], p[n + "attn/bk"]).view(B, T, A, D).transpose(1, 2)
        v = F.linear(x, p[n + "attn/wv"], p[n + "attn/bv"]).view(B, T, A, D).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(D)          # [B, A, T, T]
        scores = scores.masked_fill(key_pad[:, None, None, :], float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).transpose(1, 2).reshape(B, T, H)
        attn_out = F.linear(ctx, p[n + "attn/wo"], p[n + "attn/bo"])
        x = layer_norm(x + attn_out, p[n + "attn_ln/gamma"], p[n + "attn_ln/beta"])
        h = F.gelu(F.linear(x, p[n + "ffn/w1"], p[n + "ffn/b1"]))     # erf GELU (approximate='none')
        x = layer_norm(x + F.linear(h, p[n + "ffn/w2"], p[n + "ffn/b2"]),
                       p[n + "ffn_ln/gamma"], p[n + "ffn_ln/beta"])
        hidden.append(x)
        probs_all.append(probs)
    pooled = torch.tanh(F.linear(x[:, 0], p["pooler/w"], p["pooler/b"]))
    logits = F.linear(pooled, p["classifier/w"], p["classifier/b"])
    return logits, pooled, hidden, probs_all


def loss_fn(logits, labels, targets, regression):
    if regression:
        return ((logits[:, 0] - targets) ** 2).mean()
    return F.cross_entropy(logits, labels)


def lr_lambda(step):
    """transformers.get_linear_schedule_with_warmup; step is 0-based (the lr of the step-th update)."""
    w, t = OPT["warmup_steps"], OPT["total_steps"]
    if step < w:
        return float(step) / float(max(1, w))
    return max(0.0, float(t - step) / float(max(1, t - w)))


# ----------------------------------------------------------------------------------------------
# Self-checks

def check_gradients(params, grads, ids, types, lens, labels, targets, regression, cfg):
    names = ["embeddings/token_type", "embeddings/ln_gamma", "layer_00/attn/wk", "layer_00/attn/bq", "layer_01/attn/bk",
             "layer_01/attn_ln/beta", "layer_01/ffn/w2", "layer_01/ffn/b1", "pooler/w", "classifier/w",
             "classifier/b"]
    worst = 0.0
    for name in names:
        def f(t, name=name):
            q = dict(params)
            q[name] = t
            logits = forward(q, ids, types, lens, cfg)[0]
            return loss_fn(logits, labels, targets, regression)
        t = params[name].detach().clone().requires_grad_(True)
        assert torch.autograd.gradcheck(f, (t,), eps=1e-6, atol=1e-8, rtol=1e-5), name
        # The stored gradient itself (not just autograd's ability) against central differences.
        flat = params[name].detach().clone().reshape(-1)
        fd = torch.zeros_like(flat)
        h = 1e-6
        with torch.no_grad():
            for i in range(flat.numel()):
                a = flat.clone(); a[i] += h
                c = flat.clone(); c[i] -= h
                fd[i] = (f(a.view(params[name].shape)) - f(c.view(params[name].shape))) / (2 * h)
        g = grads[name].reshape(-1)
        if g.norm().item() == 0.0:  # the exact zeros of attn/bk
            assert fd.norm().item() < 1e-8, "%s: stored 0 but finite differences give %g" % (name, fd.norm())
            continue
        err = ((fd - g).norm() / g.norm()).item()
        assert err < 1e-6, "%s: finite-difference normalized error %.3g" % (name, err)
        worst = max(worst, err)
    return names, worst


def check_against_torch_layers(params, hidden, lens, cfg):
    """Each block against torch.nn.TransformerEncoderLayer (post-LN, erf GELU) on valid rows."""
    H, A, F_ = cfg["hidden"], cfg["heads"], cfg["ffn"]
    T = hidden[0].shape[1]
    pad = torch.arange(T)[None, :] >= lens[:, None]
    worst = 0.0
    for l in range(cfg["layers"]):
        n = "layer_%02d/" % l
        m = torch.nn.TransformerEncoderLayer(H, A, F_, dropout=0.0, activation="gelu", layer_norm_eps=LN_EPS,
                                             batch_first=True, norm_first=False).double()
        m.train()  # avoid the inference fast path (it zeroes padded rows)
        with torch.no_grad():
            sa = m.self_attn
            sa.in_proj_weight.copy_(torch.cat([params[n + "attn/wq"], params[n + "attn/wk"], params[n + "attn/wv"]]))
            sa.in_proj_bias.copy_(torch.cat([params[n + "attn/bq"], params[n + "attn/bk"], params[n + "attn/bv"]]))
            sa.out_proj.weight.copy_(params[n + "attn/wo"]); sa.out_proj.bias.copy_(params[n + "attn/bo"])
            m.linear1.weight.copy_(params[n + "ffn/w1"]); m.linear1.bias.copy_(params[n + "ffn/b1"])
            m.linear2.weight.copy_(params[n + "ffn/w2"]); m.linear2.bias.copy_(params[n + "ffn/b2"])
            m.norm1.weight.copy_(params[n + "attn_ln/gamma"]); m.norm1.bias.copy_(params[n + "attn_ln/beta"])
            m.norm2.weight.copy_(params[n + "ffn_ln/gamma"]); m.norm2.bias.copy_(params[n + "ffn_ln/beta"])
            y = m(hidden[l].detach(), src_key_padding_mask=pad)
        d = (y - hidden[l + 1].detach())[~pad].abs().max().item()
        assert d < 1e-10, "layer %d differs from nn.TransformerEncoderLayer by %g" % (l, d)
        worst = max(worst, d)
    return worst


def check_masking(params, probs, ids, types, lens, labels, targets, regression, cfg, logits):
    T = ids.shape[1]
    pad = torch.arange(T)[None, :] >= lens[:, None]
    for pr in probs:
        assert torch.all(pr.masked_select(pad[:, None, None, :].expand_as(pr)) == 0.0)
        assert (pr.sum(-1) - 1).abs().max().item() < 1e-12
    ids2 = ids.clone()
    ids2[pad] = FIRST_WORD_ID + 7
    types2 = types.clone()
    types2[pad] = 1
    with torch.no_grad():
        logits2 = forward(params, ids2, types2, lens, cfg)[0]
    d = (logits2 - logits.detach()).abs().max().item()
    assert d < 1e-12, "logits depend on padded tokens (%g)" % d


# ----------------------------------------------------------------------------------------------

def build(path, regression, seed):
    torch.manual_seed(seed)
    cfg = dict(CFG)
    classes = 1 if regression else 2
    cfg["classes"] = classes
    shapes = param_shapes(cfg, classes)
    init = init_params(shapes, seed)
    ids, types, lens = make_batch(cfg, seed + 1)
    B = cfg["batch"]
    labels = torch.tensor([1, 0, 1], dtype=torch.int64) if not regression else torch.zeros(B, dtype=torch.int64)
    targets = torch.tensor([3.2, 0.5, 4.8], dtype=torch.float64) if regression else None

    # Forward and backward at the initial weights.
    params = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in init.items())
    logits, pooled, hidden, probs = forward(params, ids, types, lens, cfg)
    loss = loss_fn(logits, labels, targets, regression)
    # Element-wise relative comparisons on the C side need logits away from 0 (the seeds are chosen so).
    assert logits.abs().min().item() > 0.05, "a logit is near 0: pick another seed"
    gl = torch.autograd.grad(loss, list(params.values()))
    grads = OrderedDict((k, g.detach()) for k, g in zip(params.keys(), gl))
    # d loss / d bk is exactly 0 (q.bk adds the same constant to every key's score of a query, and
    # softmax ignores it); autograd leaves ~1e-17 of rounding.  Store the exact 0 (attr exact_zero=1).
    gnorm = math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
    zero_grads = [k for k in grads if k.endswith("/attn/bk")]
    for k in zero_grads:
        assert grads[k].norm().item() < 1e-12 * gnorm, k
        grads[k] = torch.zeros_like(grads[k])

    checked, fd_err = check_gradients(init, grads, ids, types, lens, labels, targets, regression, cfg)
    layer_err = check_against_torch_layers(init, hidden, lens, cfg)
    check_masking(init, probs, ids, types, lens, labels, targets, regression, cfg, logits)

    # Trajectory: AdamW with decay groups, linear warmup/decay schedule, global-norm clipping.
    tp = OrderedDict((k, torch.nn.Parameter(v.clone())) for k, v in init.items())
    groups = [{"params": [t for k, t in tp.items() if decays(k)], "weight_decay": OPT["weight_decay"]},
              {"params": [t for k, t in tp.items() if not decays(k)], "weight_decay": 0.0}]
    for k, t in tp.items():
        assert decays(k) == (t.dim() == 2), k
    opt = torch.optim.AdamW(groups, lr=OPT["lr"], betas=(OPT["beta1"], OPT["beta2"]), eps=OPT["adam_eps"],
                            weight_decay=OPT["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    losses, lrs, norms = [], [], []
    for step in range(TRAJ_STEPS):
        opt.zero_grad()
        lg = forward(tp, ids, types, lens, cfg)[0]
        ls = loss_fn(lg, labels, targets, regression)
        ls.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(tp.values()), OPT["grad_clip"])
        lrs.append(opt.param_groups[0]["lr"])
        assert abs(lrs[-1] - OPT["lr"] * lr_lambda(step)) < 1e-18
        opt.step()
        sched.step()
        losses.append(ls.item())
        norms.append(norm.item())

    f32 = lambda t: np.ascontiguousarray(t.detach().numpy().astype(np.float32))
    i32 = lambda t: np.ascontiguousarray(t.numpy().astype(np.int32))
    tmp = path + ".tmp"

    def dset(f, name, data):
        """Creates name's parent groups and the dataset without timestamps (byte-reproducible files)."""
        parent = f
        for part in name.split("/")[:-1]:
            if part not in parent:
                gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
                gcpl.set_obj_track_times(False)
                h5py.h5g.create(parent.id, part.encode(), gcpl=gcpl)
            parent = parent[part]
        return parent.create_dataset(name.split("/")[-1], data=data, track_times=False)

    # v108 object headers keep the ~140 small datasets compact (readable by HDF5 >= 1.8); no
    # timestamps anywhere, so regenerating gives byte-identical files.
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V18, h5py.h5f.LIBVER_V110)
    with h5py.File(h5py.h5f.create(tmp.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)) as f:
        a = f.attrs
        for k in ("layers", "hidden", "heads", "ffn", "vocab", "max_position", "classes", "batch", "seq"):
            a[k] = np.int64(cfg[k])
        a["ln_eps"] = np.float64(LN_EPS)
        for k in ("lr", "weight_decay", "beta1", "beta2", "adam_eps", "grad_clip"):
            a[k] = np.float64(OPT[k])
        a["warmup_steps"] = np.int64(OPT["warmup_steps"])
        a["total_steps"] = np.int64(OPT["total_steps"])
        a["traj_steps"] = np.int64(TRAJ_STEPS)
        a["seed"] = np.int64(seed)
        a["task"] = "regression" if regression else "classification"
        a["torch_version"] = str(torch.__version__)
        a["description"] = (
            "Tiny post-LN BERT (DESIGN.md tensor names), %s head (%s). Computed in float64 by "
            "tests/golden/make_golden.py, stored as float32. /init weights, /batch inputs "
            "(lens = valid tokens; keys >= lens masked), /out forward results, /grad d loss / d weight "
            "at /init, /traj %d AdamW steps (decay on 2-D tensors only, clip_grad_norm_ %g, linear "
            "warmup %d / total %d, lr of update s = lrs[s], losses[s] before update s), /traj/final "
            "weights after them." % ("regression" if regression else "classification",
                                      "MSE of logit[:,0]" if regression else "mean cross-entropy",
                                      TRAJ_STEPS, OPT["grad_clip"], OPT["warmup_steps"], OPT["total_steps"]))
        for k, v in init.items():
            d = dset(f, "init/" + k, data=f32(v))
            d.attrs["decay"] = np.int64(1 if decays(k) else 0)
        dset(f, "batch/ids", data=i32(ids))
        dset(f, "batch/types", data=i32(types))
        dset(f, "batch/lens", data=i32(lens))
        dset(f, "batch/labels", data=i32(labels))
        if regression:
            dset(f, "batch/targets", data=f32(targets))
        dset(f, "out/logits", data=f32(logits))
        dset(f, "out/loss", data=np.array([loss.item()], dtype=np.float32))
        dset(f, "out/pooled", data=f32(pooled))
        dset(f, "out/hidden/embeddings", data=f32(hidden[0]))
        for l in range(cfg["layers"]):
            dset(f, "out/hidden/layer_%02d" % l, data=f32(hidden[l + 1]))
            dset(f, "out/probs/layer_%02d" % l, data=f32(probs[l]))
        for k, g in grads.items():
            d = dset(f, "grad/" + k, data=f32(g))
            if k in zero_grads:
                d.attrs["exact_zero"] = np.int64(1)
        dset(f, "traj/losses", data=np.array(losses, dtype=np.float32))
        dset(f, "traj/lrs", data=np.array(lrs, dtype=np.float32))
        dset(f, "traj/grad_norms", data=np.array(norms, dtype=np.float32))
        for k, t in tp.items():
            d = dset(f, "traj/final/" + k, data=f32(t))
            if k in zero_grads:
                # Adam turns float32 rounding noise in a zero gradient into ~lr-sized steps: not comparable.
                d.attrs["unstable"] = np.int64(1)
    os.replace(tmp, path)

    print("%s: %s, loss %.6f, logits %s" % (os.path.basename(path), "regression" if regression else
                                            "classification", loss.item(),
                                            np.array2string(logits.detach().numpy().ravel(), precision=4)))
    print("  grad norm %.4g; finite differences on %d tensors: worst normalized error %.2g" %
          (gnorm, len(checked), fd_err))
    print("  blocks vs nn.TransformerEncoderLayer: max abs diff %.2g; padding mask checks ok" % layer_err)
    print("  trajectory losses %s" % np.array2string(np.array(losses), precision=6))
    print("  lrs %s, pre-clip grad norms %s" % (lrs, np.array2string(np.array(norms), precision=4)))
    print("  %d bytes" % os.path.getsize(path))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s OUT_DIR\n" % sys.argv[0])
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    build(os.path.join(out, "bert_tiny_cls.h5"), regression=False, seed=1246)
    build(os.path.join(out, "bert_tiny_reg.h5"), regression=True, seed=4321)
    return 0


if __name__ == "__main__":
    sys.exit(main())
