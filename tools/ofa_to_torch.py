#!/usr/bin/python3
"""ofa_to_torch: run an ofa BERT checkpoint (teacher, supernet or exported subnet) in PyTorch.

Loads /weights/* of an ofa HDF5 checkpoint (docs/checkpoint-format.md) into an equivalent
torch.nn.Module (post-LayerNorm BERT, LayerNorm eps the file's layer_norm_eps or 1e-12, GELU(erf), attention scaled by
1/sqrt(head_dim), padded keys masked, tanh pooler on [CLS], classifier), tokenizes a GLUE split with
the vocabulary stored in the checkpoint (a port of BERT's tokenization.py, as datasets/wordpiece.c),
and writes predictions in the format of `ofa eval CKPT --predictions FILE --logits`.

  tools/ofa_to_torch.py CKPT [--data GLUE_DIR] [--split dev|test] [--predictions FILE]
                             [--save-state-dict OUT.pt] [--limit N] [--batch B] [--task NAME] [--onnx OUT.onnx]

--onnx also exports the model (any ofa BERT file: teacher, imported, exported subnet with per-layer
widths) to ONNX through torch.onnx, and the encoded rows it scored to OUT.onnx.inputs.json;
tools/onnx_check.js runs that graph in ONNX Runtime and compares it with ofa's own logits.

Without --predictions the predictions go to stdout; the dev metric goes to stderr.
Every row of the split is scored: `ofa eval` scores SST-2's dev in two halves (the search validates on
one), so compare with `ofa eval CKPT --val-source train --predictions FILE --logits` (all of dev).
Output files get their folders made; one naming the checkpoint itself is refused.
As a library: `load_checkpoint(path)` returns (OfaBert, info dict); `OfaBert.from_state_dict(sd, head_dim,
eps)` rebuilds the module from a saved state_dict (keys = checkpoint names with '/' replaced by '.'; eps:
the checkpoint's layer_norm_eps, printed when the state_dict is saved).
"""
import argparse
import math
import os
import sys
import unicodedata

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LN_EPS = 1e-12

# ---------------------------------------------------------------- tasks (datasets/glue.c)

LABELS01 = ["0", "1"]
LABELS_NLI2 = ["entailment", "not_entailment"]
LABELS_MNLI = ["contradiction", "entailment", "neutral"]

# name -> (folder, display name, num_labels, label names, main metric)
TASKS = {
    "cola": ("CoLA", "CoLA", 2, LABELS01, "mcc"),
    "sst-2": ("SST-2", "SST-2", 2, LABELS01, "accuracy"),
    "mrpc": ("MRPC", "MRPC", 2, LABELS01, "f1"),
    "sts-b": ("STS-B", "STS-B", 1, None, "pearson"),
    "qqp": ("QQP", "QQP", 2, LABELS01, "f1"),
    "mnli": ("MNLI", "MNLI-m", 3, LABELS_MNLI, "accuracy"),
    "mnli-mm": ("MNLI", "MNLI-mm", 3, LABELS_MNLI, "accuracy"),
    "qnli": ("QNLI", "QNLI", 2, LABELS_NLI2, "accuracy"),
    "rte": ("RTE", "RTE", 2, LABELS_NLI2, "accuracy"),
    "wnli": ("WNLI", "WNLI", 2, LABELS01, "accuracy"),
}
ALIASES = {"mnlim": "mnli", "mnlimatched": "mnli", "mnlimismatched": "mnli-mm", "stsbenchmark": "sts-b"}

NONE, LAST = -1, -2  # column absent / the row's last column (MNLI gold_label)


def squash(name):
    return "".join(c.lower() for c in name if c not in "-_ ")


def task_from_name(name):
    want = squash(name)
    for t in TASKS:
        if squash(t) == want:
            return t
    return ALIASES.get(want)


def task_layout(task, test):
    """(header, col_a, col_b, col_label, col_index), as task_layout() in datasets/glue.c."""
    if task == "cola":
        return (1, 1, NONE, NONE, 0) if test else (0, 3, NONE, 1, NONE)
    if task == "sst-2":
        return (1, 1, NONE, NONE, 0) if test else (1, 0, NONE, 1, NONE)
    if task == "mrpc":
        return (1, 3, 4, NONE, 0) if test else (1, 3, 4, 0, NONE)
    if task == "sts-b":
        return (1, 7, 8, NONE, 0) if test else (1, 7, 8, 9, NONE)
    if task == "qqp":
        return (1, 1, 2, NONE, 0) if test else (1, 3, 4, 5, NONE)
    if task in ("mnli", "mnli-mm"):
        return (1, 8, 9, NONE, 0) if test else (1, 8, 9, LAST, NONE)
    return (1, 1, 2, NONE, 0) if test else (1, 1, 2, 3, NONE)  # qnli, rte, wnli


def split_file(task, split):
    if split == "dev":
        return {"mnli": "dev_matched.tsv", "mnli-mm": "dev_mismatched.tsv"}.get(task, "dev.tsv")
    if split == "test":
        return {"mnli": "test_matched.tsv", "mnli-mm": "test_mismatched.tsv"}.get(task, "test.tsv")
    return "train.tsv"


class DataError(Exception):
    pass


def unquote_field(f):
    """'"..."' with '""' escapes -> unquoted, only when the field is one well-formed quoted string
    holding at least one '""' (GLUE files are otherwise read with quoting disabled)."""
    n = len(f)
    if n < 4 or f[:1] != b'"' or f[-1:] != b'"':
        return f
    escapes, i = 0, 1
    while i + 1 < n:
        if f[i] == 0x22:
            if i + 2 < n and f[i + 1] == 0x22:
                escapes += 1
                i += 1
            else:
                return f  # a lone quote inside: not a quoted field
        i += 1
    if not escapes:
        return f
    return f[1:-1].replace(b'""', b'"')


def parse_float(s):
    """strtod-like: the whole string must be a finite number."""
    try:
        v = float(s.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return v if math.isfinite(v) and "_" not in s.decode("ascii") else None


def load_glue(glue_dir, task, split, limit=0):
    """Examples (index, a, b or None, label or None) of one split, read as datasets/glue.c does:
    BOM skipped, trailing empty lines ignored, CRLF, header row, tab-separated, no quoting except
    the '""'-escaped form.  Returns (path, examples)."""
    folder, _, num_labels, names, _ = TASKS[task]
    path = os.path.join(glue_dir, folder, split_file(task, split))
    test = split == "test"
    header, ca, cb, cl, ci = task_layout(task, test)
    try:
        with open(path, "rb") as fh:
            buf = fh.read()
    except OSError as e:
        raise DataError("%s: %s. GLUE data not found: pass --data or set GLUE_DIR to a glue_data folder "
                        "(see docs/data.md)" % (path, e.strerror)) from None
    if buf.startswith(b"\xef\xbb\xbf"):
        buf = buf[3:]
    buf = buf.rstrip(b"\r\n")
    need = max(ca, cb, cl, ci) + 1
    if cl == LAST:
        need += 1
    out = []
    if not buf:
        return path, out
    for line_no, line in enumerate(buf.split(b"\n"), 1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line_no == 1 and header:
            continue
        if limit > 0 and len(out) >= limit:
            break
        line = line.split(b"\0", 1)[0]  # C strings end at a NUL
        fields = line.split(b"\t")
        nf = len(fields)
        if nf < need:
            raise DataError("%s:%d: expected %d columns, found %d" % (path, line_no, need, nf))
        index, label = len(out), None
        if cl != NONE:
            lab = fields[nf - 1 if cl == LAST else cl].strip(b" ")
            if num_labels == 1:
                label = parse_float(lab)
                if label is None:
                    raise DataError("%s:%d: bad label '%s' (expected a number)" % (path, line_no, lab.decode(errors="replace")))
            else:
                text = lab.decode("utf-8", "replace")
                if text not in names:
                    raise DataError("%s:%d: bad label '%s' (expected one of %s)" % (path, line_no, text, ", ".join(names)))
                label = names.index(text)
        if ci != NONE:
            s = fields[ci].strip(b" ")
            try:
                index = int(s.decode("ascii"))
                if b"_" in s or s != s.strip():
                    raise ValueError
            except (UnicodeDecodeError, ValueError):
                raise DataError("%s:%d: bad index '%s' (expected an integer)" % (path, line_no, s.decode(errors="replace"))) from None
        a = unquote_field(fields[ca]).decode("utf-8", "ignore")
        b = unquote_field(fields[cb]).decode("utf-8", "ignore") if cb != NONE else None
        out.append((index, a, b, label))
    return path, out


# ---------------------------------------------------------------- BERT tokenization.py

def _is_whitespace(c):
    if c in " \t\n\r":
        return True
    return unicodedata.category(c) == "Zs"


def _is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf")


def _is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class BasicTokenizer:
    def __init__(self, do_lower_case=True):
        self.do_lower_case = do_lower_case

    def tokenize(self, text):
        text = self._clean_text(text)
        text = self._tokenize_chinese_chars(text)
        split_tokens = []
        for token in text.strip().split():
            if self.do_lower_case:
                token = self._run_strip_accents(token.lower())
            split_tokens.extend(self._run_split_on_punc(token))
        return " ".join(split_tokens).strip().split()

    @staticmethod
    def _run_strip_accents(text):
        return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")

    @staticmethod
    def _run_split_on_punc(text):
        output, start_new_word = [], True
        for c in text:
            if _is_punctuation(c):
                output.append([c])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(c)
        return ["".join(x) for x in output]

    @staticmethod
    def _tokenize_chinese_chars(text):
        out = []
        for c in text:
            if _is_chinese_char(ord(c)):
                out += [" ", c, " "]
            else:
                out.append(c)
        return "".join(out)

    @staticmethod
    def _clean_text(text):
        out = []
        for c in text:
            cp = ord(c)
            if cp == 0 or cp == 0xFFFD or _is_control(c):
                continue
            out.append(" " if _is_whitespace(c) else c)
        return "".join(out)


class WordpieceTokenizer:
    def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=100):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize(self, text):
        output = []
        for token in text.strip().split():
            chars = list(token)
            if len(chars) > self.max_input_chars_per_word:
                output.append(self.unk_token)
                continue
            is_bad, start, sub_tokens = False, 0, []
            while start < len(chars):
                end, cur = len(chars), None
                while start < end:
                    substr = "".join(chars[start:end])
                    if start > 0:
                        substr = "##" + substr
                    if substr in self.vocab:
                        cur = substr
                        break
                    end -= 1
                if cur is None:
                    is_bad = True
                    break
                sub_tokens.append(cur)
                start = end
            if is_bad:
                output.append(self.unk_token)
            else:
                output.extend(sub_tokens)
        return output


class FullTokenizer:
    def __init__(self, tokens, do_lower_case=True):
        self.vocab = {t: i for i, t in enumerate(tokens)}  # a later duplicate wins, as load_vocab
        for s in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
            if s not in self.vocab:
                raise ValueError("vocabulary of %d tokens lacks the special token %s" % (len(tokens), s))
        self.basic = BasicTokenizer(do_lower_case)
        self.wordpiece = WordpieceTokenizer(self.vocab)

    def ids(self, text):
        out = []
        for word in self.basic.tokenize(text):
            out.extend(self.vocab[t] for t in self.wordpiece.tokenize(word))
        return out


def encode_example(tok, a, b, max_seq_len):
    """[CLS] a [SEP] (b [SEP]) ids and token types, truncated as BERT's _truncate_seq_pair."""
    ta = tok.ids(a)
    tb = tok.ids(b) if b is not None else []
    if tb:
        while len(ta) + len(tb) > max_seq_len - 3:
            if len(ta) > len(tb):
                ta.pop()
            else:
                tb.pop()
    elif len(ta) > max_seq_len - 2:
        ta = ta[: max_seq_len - 2]
    cls, sep = tok.vocab["[CLS]"], tok.vocab["[SEP]"]
    ids = [cls] + ta + [sep]
    types = [0] * len(ids)
    if tb:
        ids += tb + [sep]
        types += [1] * (len(tb) + 1)
    return ids, types


# ---------------------------------------------------------------- the model

def _p(*shape):
    return nn.Parameter(torch.zeros(*shape, dtype=torch.float32))


class Embeddings(nn.Module):
    def __init__(self, V, P, H, types=2, eps=LN_EPS):
        super().__init__()
        self.word, self.position, self.token_type = _p(V, H), _p(P, H), _p(types, H)
        self.ln_gamma, self.ln_beta = _p(H), _p(H)
        self.eps, self.H = eps, H

    def forward(self, ids, types):
        T = ids.shape[1]
        x = self.word[ids] + self.position[:T].unsqueeze(0) + self.token_type[types]
        return F.layer_norm(x, (self.H,), self.ln_gamma, self.ln_beta, self.eps)  # a constant shape: ONNX


class Attention(nn.Module):
    def __init__(self, H, W):
        super().__init__()
        self.wq, self.bq, self.wk, self.bk, self.wv, self.bv = _p(W, H), _p(W), _p(W, H), _p(W), _p(W, H), _p(W)
        self.wo, self.bo = _p(H, W), _p(H)


class LayerNorm(nn.Module):
    def __init__(self, H, eps=LN_EPS):
        super().__init__()
        self.gamma, self.beta = _p(H), _p(H)
        self.eps, self.H = eps, H

    def forward(self, x):
        return F.layer_norm(x, (self.H,), self.gamma, self.beta, self.eps)


class FFN(nn.Module):
    def __init__(self, H, Fw):
        super().__init__()
        self.w1, self.b1, self.w2, self.b2 = _p(Fw, H), _p(Fw), _p(H, Fw), _p(H)

    def forward(self, x):
        return F.linear(F.gelu(F.linear(x, self.w1, self.b1)), self.w2, self.b2)


class Layer(nn.Module):
    def __init__(self, H, heads, head_dim, ffn, eps=LN_EPS):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.attn = Attention(H, heads * head_dim)
        self.attn_ln = LayerNorm(H, eps)
        self.ffn = FFN(H, ffn)
        self.ffn_ln = LayerNorm(H, eps)

    def forward(self, x, key_mask):
        B, T, _ = x.shape
        a, D, p = self.heads, self.head_dim, self.attn

        def split(t):
            return t.view(B, T, a, D).transpose(1, 2)  # [B, a, T, D]

        q, k, v = split(F.linear(x, p.wq, p.bq)), split(F.linear(x, p.wk, p.bk)), split(F.linear(x, p.wv, p.bv))
        s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(D))
        s = s.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        ctx = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(B, T, a * D)
        x1 = self.attn_ln(x + F.linear(ctx, p.wo, p.bo))
        return self.ffn_ln(x1 + self.ffn(x1))


class Linear(nn.Module):
    def __init__(self, out_f, in_f):
        super().__init__()
        self.w, self.b = _p(out_f, in_f), _p(out_f)

    def forward(self, x):
        return F.linear(x, self.w, self.b)


class OfaBert(nn.Module):
    """ofa's BERT; parameter names are the checkpoint's with '/' -> '.' (layer_00.attn.wq ...).
    heads[l], ffn[l]: per-layer shapes (an exported subnet has reduced ones)."""

    def __init__(self, vocab_size, max_position, hidden, head_dim, heads, ffn, num_outputs, types=2, eps=LN_EPS):
        super().__init__()
        self.head_dim = head_dim
        self.embeddings = Embeddings(vocab_size, max_position, hidden, types, eps)
        self.layer_names = []
        for l, (a, f) in enumerate(zip(heads, ffn)):
            name = "layer_%02d" % l
            self.add_module(name, Layer(hidden, a, head_dim, f, eps))
            self.layer_names.append(name)
        self.pooler = Linear(hidden, hidden)
        self.classifier = Linear(num_outputs, hidden)

    def forward(self, ids, types, lens):
        """ids, types: [B, T] int64; lens: [B] true lengths (keys at t >= lens[b] are masked).
        Returns logits [B, num_outputs]."""
        key_mask = torch.arange(ids.shape[1])[None, :] < lens[:, None]
        x = self.embeddings(ids, types)
        for name in self.layer_names:
            x = getattr(self, name)(x, key_mask)
        return self.classifier(torch.tanh(self.pooler(x[:, 0])))

    @classmethod
    def from_state_dict(cls, sd, head_dim, eps=LN_EPS):
        V, H = sd["embeddings.word"].shape
        L = 0
        while "layer_%02d.attn.wq" % L in sd:
            L += 1
        heads = [sd["layer_%02d.attn.wq" % l].shape[0] // head_dim for l in range(L)]
        ffn = [sd["layer_%02d.ffn.w1" % l].shape[0] for l in range(L)]
        m = cls(V, sd["embeddings.position"].shape[0], H, head_dim, heads, ffn, sd["classifier.w"].shape[0],
                sd["embeddings.token_type"].shape[0], eps)
        m.load_state_dict(sd)
        return m


def _attr(f, key, default=None):
    v = f.attrs.get(key, default)
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def load_checkpoint(path):
    """(OfaBert, info) from an ofa checkpoint; info holds kind, task, arch, tokens, lowercase,
    max_seq_len, head_dim, heads, ffn."""
    with h5py.File(path, "r") as f:
        if _attr(f, "format") != "ofa-checkpoint":
            raise ValueError('%s: not an ofa checkpoint (no format="ofa-checkpoint" attribute)' % path)
        if _attr(f, "model", "bert") != "bert":
            raise ValueError("%s: holds a '%s' model, expected bert" % (path, _attr(f, "model")))
        if "weights" not in f:
            raise ValueError("%s: a %s file holds no model weights (a teacher, supernet or exported subnet does)"
                             % (path, _attr(f, "kind", "?")))
        w = f["weights"]
        V, H = w["embeddings/word"].shape
        L = int(_attr(f, "layers"))
        A = int(_attr(f, "heads"))
        hd = int(_attr(f, "head_dim", 0) or 0)
        if hd <= 0:
            if H % A:
                raise ValueError("%s: hidden %d is not a multiple of heads %d" % (path, H, A))
            hd = H // A
        heads, ffn = [], []
        for l in range(L):
            rows = w["layer_%02d/attn/wq" % l].shape[0]
            if rows % hd or rows < hd:
                raise ValueError("%s: layer_%02d/attn/wq has %d rows, not a multiple of the head size %d" % (path, l, rows, hd))
            heads.append(rows // hd)
            ffn.append(w["layer_%02d/ffn/w1" % l].shape[0])
        # an imported model's token types and LayerNorm eps (absent: 2 and 1e-12)
        m = OfaBert(V, w["embeddings/position"].shape[0], H, hd, heads, ffn, w["classifier/w"].shape[0],
                    w["embeddings/token_type"].shape[0], float(_attr(f, "layer_norm_eps", LN_EPS)))
        sd = m.state_dict()
        eps = m.embeddings.eps
        for key in sd:
            name = key.replace(".", "/")
            arr = np.asarray(w[name][:], dtype=np.float32)
            if tuple(arr.shape) != tuple(sd[key].shape):
                raise ValueError("%s: weights/%s has shape %s, expected %s" % (path, name, arr.shape, tuple(sd[key].shape)))
            sd[key] = torch.from_numpy(arr)
        m.load_state_dict(sd)
        tv = f["tokenizer/vocab"]
        info = {
            "kind": _attr(f, "kind", ""), "task": _attr(f, "task", ""), "arch": _attr(f, "arch", ""),
            "tokens": list(tv.asstr()[:]), "lowercase": int(tv.attrs.get("lowercase", 1)),
            "max_seq_len": int(tv.attrs.get("max_seq_len", 0)), "head_dim": hd, "heads": heads, "ffn": ffn,
            "eps": eps,
        }
    if len(info["tokens"]) != V:
        raise ValueError("%s: vocabulary has %d tokens, the model %d" % (path, len(info["tokens"]), V))
    if info["max_seq_len"] < 4 or info["max_seq_len"] > m.embeddings.position.shape[0]:
        raise ValueError("%s: tokenizer max_seq_len %d is outside 4..max_position" % (path, info["max_seq_len"]))
    m.eval()
    return m, info


# ---------------------------------------------------------------- metrics (datasets/metrics.c)

def _pearson(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2:
        return 0.0
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy = (dx * dx).sum(), (dy * dy).sum()
    return float((dx * dy).sum() / math.sqrt(sxx * syy)) if sxx > 0 and syy > 0 else 0.0


def _ranks(x):
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        r[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return r


def glue_metrics(task, pred, gold):
    """{name: value} with the task's main metric first."""
    _, _, C, _, main = TASKS[task]
    if C == 1:
        return {"pearson": _pearson(pred, gold), "spearman": _pearson(_ranks(pred), _ranks(gold))}
    p, g = np.asarray(pred) == 1, np.asarray(gold) == 1
    acc = float(np.mean(np.asarray(pred) == np.asarray(gold))) if len(pred) else 0.0
    tp, fp, fn = float(np.sum(p & g)), float(np.sum(p & ~g)), float(np.sum(~p & g))
    tn = float(len(pred)) - tp - fp - fn
    out = {}
    if main == "f1":
        d = 2 * tp + fp + fn
        out["f1"] = 2 * tp / d if d > 0 else 0.0
    elif main == "mcc":
        d = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
        out["mcc"] = (tp * tn - fp * fn) / math.sqrt(d) if d > 0 else 0.0
    out["accuracy"] = acc
    return out


# ---------------------------------------------------------------- main

def predict(model, examples, batch):
    """logits [n, C] (float32) of encoded examples [(ids, types)], batched by length."""
    n = len(examples)
    order = sorted(range(n), key=lambda i: (len(examples[i][0]), i))
    C = model.classifier.w.shape[0]
    out = np.zeros((n, C), dtype=np.float32)
    with torch.no_grad():
        for s in range(0, n, batch):
            rows = order[s:s + batch]
            T = max(len(examples[r][0]) for r in rows)
            ids = torch.zeros(len(rows), T, dtype=torch.long)
            types = torch.zeros(len(rows), T, dtype=torch.long)
            lens = torch.zeros(len(rows), dtype=torch.long)
            for i, r in enumerate(rows):
                e_ids, e_types = examples[r]
                ids[i, :len(e_ids)] = torch.tensor(e_ids)
                types[i, :len(e_types)] = torch.tensor(e_types)
                lens[i] = len(e_ids)
            out[rows] = model(ids, types, lens).numpy()
    return out


def export_onnx(model, enc, index, path):
    """The model as an ONNX graph with dynamic batch and sequence axes, and the encoded rows (index,
    ids, types) beside it as JSON for tools/onnx_check.js."""
    import json
    T = max(2, max(len(e[0]) for e in enc[:4]))
    ids = torch.zeros(2, T, dtype=torch.long)
    types = torch.zeros(2, T, dtype=torch.long)
    lens = torch.tensor([T, max(1, T // 2)], dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(model, (ids, types, lens), path, input_names=["ids", "types", "lens"],
                          output_names=["logits"], opset_version=14,
                          dynamic_axes={"ids": {0: "batch", 1: "seq"}, "types": {0: "batch", 1: "seq"},
                                        "lens": {0: "batch"}, "logits": {0: "batch"}})
    rows = [{"index": int(i), "ids": [int(x) for x in e[0]], "types": [int(x) for x in e[1]]} for i, e in zip(index, enc)]
    with open(path + ".inputs.json", "w") as fh:
        json.dump(rows, fh)


def check_args(args):
    """an error message for options no run could satisfy (before anything is read or written), else None"""
    if args.batch < 1:
        return "--batch %d: must be at least 1" % args.batch
    if args.limit < 0:
        return "--limit %d: must be 0 (all) or more" % args.limit
    outs = [("--predictions", args.predictions), ("--save-state-dict", args.save_state_dict), ("--onnx", args.onnx)]
    if args.onnx:
        outs.append(("--onnx", args.onnx + ".inputs.json"))
    for opt, path in outs:
        if path is None:
            continue
        if not path:
            return "%s needs a file name" % opt
        if os.path.isdir(path):
            return "%s %s is a folder; name the file to write in it" % (opt, path)
        if os.path.exists(path) and os.path.exists(args.checkpoint) and os.path.samefile(path, args.checkpoint):
            return "%s %s is the checkpoint itself; name another file" % (opt, path)
    return None


def make_folder(path):
    """the folder an output file goes in, as ofa's -o makes it"""
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run an ofa BERT checkpoint in PyTorch (same predictions as "
                                 "`ofa eval CKPT --predictions FILE --logits`).")
    ap.add_argument("checkpoint")
    ap.add_argument("--data", default=os.environ.get("GLUE_DIR") or "../shared/data/glue",
                    help="GLUE folder (default $GLUE_DIR or ../shared/data/glue)")
    ap.add_argument("--split", choices=["dev", "test"], default="dev")
    ap.add_argument("--predictions", metavar="FILE", help="write predictions here (default: stdout)")
    ap.add_argument("--save-state-dict", metavar="OUT.pt", help="save the module's state_dict (torch.save)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N examples")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--task", help="score another task with the same data and labels (mnli <-> mnli-mm)")
    ap.add_argument("--onnx", metavar="OUT.onnx",
                    help="also export the model to ONNX (torch.onnx, opset 14): inputs ids, types [batch, seq] "
                    "int64 and lens [batch] int64, output logits [batch, outputs]; writes OUT.onnx.inputs.json, the "
                    "encoded rows scored here, for tools/onnx_check.js")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    prog = os.path.basename(sys.argv[0])
    err = check_args(args)
    if err:
        print("%s: %s" % (prog, err), file=sys.stderr)
        return 2
    try:
        model, info = load_checkpoint(args.checkpoint)
    except (OSError, KeyError, ValueError) as e:
        msg = str(e)
        print("%s: %s" % (prog, msg if msg.startswith(args.checkpoint) else args.checkpoint + ": " + msg), file=sys.stderr)
        return 1
    if args.save_state_dict:
        make_folder(args.save_state_dict)
        torch.save(model.state_dict(), args.save_state_dict)
        print("%s: state_dict of %d tensors (head_dim %d, eps %g: OfaBert.from_state_dict(sd, %d, %g)) saved to %s"
              % (prog, len(model.state_dict()), info["head_dim"], info["eps"], info["head_dim"], info["eps"],
                 args.save_state_dict), file=sys.stderr)
    task = task_from_name(info["task"])
    if task is None:
        print("%s: %s: unknown task '%s' in the checkpoint" % (prog, args.checkpoint, info["task"]), file=sys.stderr)
        return 1
    if args.task:
        t = task_from_name(args.task)
        if t is None or TASKS[t][0] != TASKS[task][0] or TASKS[t][2] != TASKS[task][2]:
            print("%s: --task %s: the model was trained on %s; only a task with the same data and labels "
                  "(mnli <-> mnli-mm) can be scored" % (prog, args.task, info["task"]), file=sys.stderr)
            return 1
        task = t
    try:
        path, data = load_glue(args.data, task, args.split, args.limit)
    except DataError as e:
        print("%s: %s" % (prog, e), file=sys.stderr)
        return 1
    tok = FullTokenizer(info["tokens"], bool(info["lowercase"]))
    msl = info["max_seq_len"]
    enc = [encode_example(tok, a, b, msl) for _, a, b, _ in data]
    logits = predict(model, enc, args.batch)
    if args.onnx:
        make_folder(args.onnx)
        export_onnx(model, enc, [d[0] for d in data], args.onnx)
        print("%s: ONNX graph -> %s, its inputs -> %s.inputs.json" % (prog, args.onnx, args.onnx), file=sys.stderr)
    _, display, C, names, main_metric = TASKS[task]
    if C == 1:
        pred = logits[:, 0]
    else:
        pred = np.argmax(logits, axis=1)  # first maximum, as the C side
    lines = ["index\tprediction" + "".join("\tlogit_%d" % c for c in range(logits.shape[1]))]
    for i, (index, _, _, _) in enumerate(data):
        p = "%.3f" % float(pred[i]) if C == 1 else names[int(pred[i])]
        lines.append("%d\t%s" % (index, p) + "".join("\t%.7g" % float(v) for v in logits[i]))
    text = "\n".join(lines) + "\n"
    if args.predictions:
        make_folder(args.predictions)
        with open(args.predictions + ".tmp", "w") as fh:  # the previous file stays whole until this one is
            fh.write(text)
        os.replace(args.predictions + ".tmp", args.predictions)
    else:
        sys.stdout.write(text)
    kind = info["kind"] + (" " + info["arch"] if info["arch"] else "")
    msg = "%s (%s) %s (%s, %d examples)" % (args.checkpoint, kind, display, args.split, len(data))
    if args.split != "test":
        gold = [d[3] for d in data]
        m = glue_metrics(task, pred if C == 1 else pred.tolist(), gold)
        msg += ": " + "  ".join("%s %.4f" % kv for kv in m.items())
    print(msg, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
