#!/usr/bin/python3
"""Hugging Face BERT folders and their logits, for `ofa import` (tests/golden/README.md).

Usage: /usr/bin/python3 tests/golden/make_golden_hf.py OUT_DIR
Writes OUT_DIR/hf_tiny/ (a BertForSequenceClassification folder: config.json, vocab.txt,
tokenizer_config.json, model.safetensors in F32) and OUT_DIR/hf_tiny_f16/ (the same weights stored as
F16, old-style LayerNorm.gamma/beta names, the `bert.embeddings.position_ids` buffer, no tokenizer
config), and OUT_DIR/hf_tiny.h5: a padded batch (ids, token types, lengths) and the logits of a
PyTorch forward of each folder's state dict.

The forward follows transformers' BertForSequenceClassification (modeling_bert.py, eval mode):
embeddings word + position + token_type, LayerNorm(eps = layer_norm_eps); per layer self-attention
with the extended mask (1 - mask) * finfo(float32).min added to the scores, output dense + residual +
LayerNorm, intermediate dense + GELU(erf), output dense + residual + LayerNorm; pooler tanh(dense(h[:,
0])); classifier dense.  It is written here from that module's semantics over a dict keyed by the
Hugging Face names (transformers is not installed on these machines), in float64, and checked against
torch.nn.TransformerEncoderLayer (an independent implementation) layer by layer.  The config uses a
layer_norm_eps (1e-7) and a type_vocab_size (3) other than ofa's defaults, so the import must honour
them.  safetensors files are written by their spec (8-byte little-endian header length, the JSON
header, the raw little-endian data), as the safetensors package is not installed either.
Deterministic: fixed seeds, sorted JSON keys.

Also OUT_DIR/hf_base.h5: the logits (F32 and F16 storage) of a BERT-base BertForSequenceClassification
(L12 H768 A12 F3072, vocab 30522) on a 2 x 16 batch, whose 110 M weights come from a generator
(`gen`: splitmix64 of the tensor name's FNV-1a hash and the element index) that tests/test_import.c
runs too: the test writes that folder in the Hugging Face layout itself (660 MB, not committed) and
imports it.  Its self-check: the same forward is used for both sizes.
"""
import json
import math
import os
import struct
import sys
from collections import OrderedDict

import h5py
import numpy as np
import torch
import torch.nn.functional as F

CFG = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
           vocab_size=40, max_position_embeddings=24, type_vocab_size=3, layer_norm_eps=1e-7,
           num_labels=2)
SPECIAL = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "film", "is", "good", "bad", "not", "very", "fun", "dull", "movie", "great", "story",
         "acting", "plot", "was", "and", "but", "it", "so", "##s", "##ly", "##ing", "##ed", "un", "##able",
         "boring", "!", ".", ",", "'", "-", "?", "love"]


def vocab():
    v = SPECIAL + WORDS
    assert len(v) == CFG["vocab_size"], len(v)
    return v


def hf_shapes(cfg):
    """BertForSequenceClassification's tensors (Hugging Face names) and shapes, in state_dict order."""
    H, F_, V, P, L, T = (cfg[k] for k in ("hidden_size", "intermediate_size", "vocab_size",
                                          "max_position_embeddings", "num_hidden_layers", "type_vocab_size"))
    s = OrderedDict()
    s["bert.embeddings.word_embeddings.weight"] = (V, H)
    s["bert.embeddings.position_embeddings.weight"] = (P, H)
    s["bert.embeddings.token_type_embeddings.weight"] = (T, H)
    s["bert.embeddings.LayerNorm.weight"] = (H,)
    s["bert.embeddings.LayerNorm.bias"] = (H,)
    for l in range(L):
        p = "bert.encoder.layer.%d." % l
        for m in ("query", "key", "value"):
            s[p + "attention.self.%s.weight" % m] = (H, H)
            s[p + "attention.self.%s.bias" % m] = (H,)
        for n, sh in (("attention.output.dense.weight", (H, H)), ("attention.output.dense.bias", (H,)),
                      ("attention.output.LayerNorm.weight", (H,)), ("attention.output.LayerNorm.bias", (H,)),
                      ("intermediate.dense.weight", (F_, H)), ("intermediate.dense.bias", (F_,)),
                      ("output.dense.weight", (H, F_)), ("output.dense.bias", (H,)),
                      ("output.LayerNorm.weight", (H,)), ("output.LayerNorm.bias", (H,))):
            s[p + n] = sh
    s["bert.pooler.dense.weight"] = (H, H)
    s["bert.pooler.dense.bias"] = (H,)
    s["classifier.weight"] = (cfg["num_labels"], H)
    s["classifier.bias"] = (cfg["num_labels"],)
    return s


def state_dict(seed):
    """A random BertForSequenceClassification state dict of CFG (float64): LayerNorm weights
    1 + N(0, 0.1^2), other 1-d tensors N(0, 0.05^2), matrices and embeddings N(0, 0.2^2)."""
    g = torch.Generator().manual_seed(seed)
    s = OrderedDict()
    for name, shape in hf_shapes(CFG).items():
        if name.endswith("LayerNorm.weight"):
            std, mean = 0.1, 1.0
        elif len(shape) == 1:
            std, mean = 0.05, 0.0
        else:
            std, mean = 0.2, 0.0
        s[name] = mean + std * torch.randn(shape, generator=g, dtype=torch.float64)
    return s


def forward(s, ids, types, mask, check=False, cfg=None):
    """BertForSequenceClassification.forward in eval mode -> logits [B, C] (float64)."""
    cfg = cfg or CFG
    H, A, L, eps = (cfg[k] for k in ("hidden_size", "num_attention_heads", "num_hidden_layers", "layer_norm_eps"))
    D = H // A
    B, T = ids.shape
    pos = torch.arange(T)
    e = "bert.embeddings."
    x = s[e + "word_embeddings.weight"][ids] + s[e + "position_embeddings.weight"][pos][None] + \
        s[e + "token_type_embeddings.weight"][types]
    x = F.layer_norm(x, (H,), s[e + "LayerNorm.weight"], s[e + "LayerNorm.bias"], eps)
    ext = (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float32).min
    for l in range(L):
        p = "bert.encoder.layer.%d." % l
        lin = lambda t, n: F.linear(t, s[p + n + ".weight"], s[p + n + ".bias"])
        q = lin(x, "attention.self.query").view(B, T, A, D).transpose(1, 2)
        k = lin(x, "attention.self.key").view(B, T, A, D).transpose(1, 2)
        v = lin(x, "attention.self.value").view(B, T, A, D).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(D) + ext
        ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, H)
        x_in = x
        x = F.layer_norm(lin(ctx, "attention.output.dense") + x, (H,), s[p + "attention.output.LayerNorm.weight"],
                         s[p + "attention.output.LayerNorm.bias"], eps)
        h = F.gelu(lin(x, "intermediate.dense"))
        x = F.layer_norm(lin(h, "output.dense") + x, (H,), s[p + "output.LayerNorm.weight"],
                         s[p + "output.LayerNorm.bias"], eps)
        if check:
            check_layer(s, p, x_in, x, mask, eps)
    pooled = torch.tanh(F.linear(x[:, 0], s["bert.pooler.dense.weight"], s["bert.pooler.dense.bias"]))
    return F.linear(pooled, s["classifier.weight"], s["classifier.bias"])


def check_layer(s, p, x_in, x_out, mask, eps):
    """The layer against torch.nn.TransformerEncoderLayer (post-LN, erf GELU) on the valid rows."""
    H, A, F_ = CFG["hidden_size"], CFG["num_attention_heads"], CFG["intermediate_size"]
    ref = torch.nn.TransformerEncoderLayer(H, A, F_, dropout=0.0, activation="gelu", layer_norm_eps=eps,
                                           batch_first=True, norm_first=False).double().eval()
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(torch.cat([s[p + "attention.self.%s.weight" % m]
                                                      for m in ("query", "key", "value")]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([s[p + "attention.self.%s.bias" % m]
                                                    for m in ("query", "key", "value")]))
        ref.self_attn.out_proj.weight.copy_(s[p + "attention.output.dense.weight"])
        ref.self_attn.out_proj.bias.copy_(s[p + "attention.output.dense.bias"])
        ref.norm1.weight.copy_(s[p + "attention.output.LayerNorm.weight"])
        ref.norm1.bias.copy_(s[p + "attention.output.LayerNorm.bias"])
        ref.linear1.weight.copy_(s[p + "intermediate.dense.weight"])
        ref.linear1.bias.copy_(s[p + "intermediate.dense.bias"])
        ref.linear2.weight.copy_(s[p + "output.dense.weight"])
        ref.linear2.bias.copy_(s[p + "output.dense.bias"])
        ref.norm2.weight.copy_(s[p + "output.LayerNorm.weight"])
        ref.norm2.bias.copy_(s[p + "output.LayerNorm.bias"])
        y = ref(x_in, src_key_padding_mask=~mask.bool())
    valid = mask.bool()
    err = (y[valid] - x_out[valid]).abs().max().item()
    assert err < 1e-10, "%s: %.3g from TransformerEncoderLayer" % (p, err)


def write_safetensors(path, tensors, dtype):
    """tensors: name -> float64 tensor, stored as dtype ('F32' or 'F16'), by the safetensors spec."""
    np_type = {"F32": "<f4", "F16": "<f2"}[dtype]
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        fl = tensors[name].is_floating_point()
        b = tensors[name].numpy().astype(np_type if fl else "<i8").tobytes()
        header[name] = {"dtype": dtype if fl else "I64",
                        "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the spec allows trailing spaces; 8-byte alignment like the library
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_folder(d, s, dtype, old_names, with_tokenizer_config):
    os.makedirs(d, exist_ok=True)
    cfg = dict(CFG, architectures=["BertForSequenceClassification"], model_type="bert", hidden_act="gelu",
               hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.02,
               pad_token_id=0, position_embedding_type="absolute", torch_dtype="float32" if dtype == "F32" else
               "float16", id2label={"0": "negative", "1": "positive"}, label2id={"negative": 0, "positive": 1})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab()) + "\n")
    if with_tokenizer_config:
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": True, "model_max_length": 24, "tokenizer_class": "BertTokenizer"}, f,
                      indent=2, sort_keys=True)
    t = OrderedDict()
    for k, v in s.items():
        if old_names and "LayerNorm." in k:
            k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        t[k] = v
    if old_names:
        t["bert.embeddings.position_ids"] = torch.arange(CFG["max_position_embeddings"])[None]
    write_safetensors(os.path.join(d, "model.safetensors"), t, dtype)


# ---- BERT-base: weights from a generator the C test (tests/test_import.c, `base`) runs too ----
BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, num_labels=2)
M64 = (1 << 64) - 1


def fnv1a(name):
    h = 0xcbf29ce484222325
    for c in name.encode():
        h = ((h ^ c) * 0x100000001b3) & M64
    return h


def gen(name, shape):
    """Tensor `name` of BERT-base: splitmix64(fnv1a(name) + (i + 1) * golden) -> u in [0, 1) from the
    top 24 bits -> (2u - 1) * scale + offset in float64, then float32.  scale/offset by kind: LayerNorm
    weights 0.1 / 1, other 1-d tensors 0.02 / 0, matrices and embeddings 0.05 / 0."""
    n = int(np.prod(shape))
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a(name)) + (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / 16777216.0
    if "LayerNorm" in name and name.endswith("weight"):
        scale, off = 0.1, 1.0
    elif len(shape) == 1:
        scale, off = 0.02, 0.0
    else:
        scale, off = 0.05, 0.0
    return torch.from_numpy(((2.0 * u - 1.0) * scale + off).astype(np.float32).reshape(shape)).double()


def base_state_dict():
    return OrderedDict((k, gen(k, v)) for k, v in hf_shapes(BASE).items())


def base_batch():
    """2 rows of 16 positions: lengths 16 and 9; ids 1000 + (7 b + 13 t) mod 28000, [CLS] 101 / [SEP] 102."""
    B, T, lens = 2, 16, [16, 9]
    ids = torch.zeros(B, T, dtype=torch.int64)
    types = torch.zeros(B, T, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b in range(B):
        for t in range(T):
            ids[b, t] = 1000 + (7 * b + 13 * t) % 28000
        ids[b, 0], ids[b, lens[b] - 1] = 101, 102
        ids[b, lens[b]:] = 0
        mask[b, :lens[b]] = 1
    types[0, 8:16] = 1
    return ids, types, mask, lens


def write_golden(path, ids, types, lens, l32, l16):
    """A golden file: the batch (ids, types, lens) and the logits of F32 and F16 storage; returned open
    for more datasets (the caller closes it)."""
    f = h5py.File(path, "w", track_order=True)
    f.create_dataset("ids", data=ids.numpy().astype(np.int32))
    f.create_dataset("types", data=types.numpy().astype(np.int32))
    f.create_dataset("lens", data=np.array(lens, dtype=np.int32))
    f.create_dataset("logits_f32", data=l32.numpy().astype(np.float32))
    f.create_dataset("logits_f16", data=l16.numpy().astype(np.float32))
    return f


def write_base(out):
    s = base_state_dict()
    ids, types, mask, lens = base_batch()
    s16 = OrderedDict((k, v.float().half().double()) for k, v in s.items())
    with torch.no_grad():
        l32 = forward(s, ids, types, mask, cfg=BASE)
        l16 = forward(s16, ids, types, mask, cfg=BASE)
    with write_golden(os.path.join(out, "hf_base.h5"), ids, types, lens, l32, l16) as f:
        # spot values of the generator, which the C side checks first
        f.create_dataset("probe_word", data=s["bert.embeddings.word_embeddings.weight"][30521, 760:768].numpy()
                         .astype(np.float32))
        f.create_dataset("probe_ln", data=s["bert.encoder.layer.11.output.LayerNorm.weight"][:8].numpy().astype(np.float32))
    print("hf_base: logits F32 %s, F16 %s" % (l32.numpy().round(5).tolist(), l16.numpy().round(5).tolist()))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    s = state_dict(13)
    s16 = OrderedDict((k, v.float().half().double()) for k, v in s.items())  # the values F16 stores
    write_folder(os.path.join(out, "hf_tiny"), s, "F32", False, True)
    write_folder(os.path.join(out, "hf_tiny_f16"), s16, "F16", True, False)
    # a padded batch: lengths 10, 7, 4; pairs with token types 0/1, one row using type 2
    B, T = 3, 10
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(6, CFG["vocab_size"], (B, T), generator=g)
    types = torch.zeros(B, T, dtype=torch.int64)
    lens = [10, 7, 4]
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(lens):
        ids[b, 0], ids[b, n - 1] = 3, 4
        ids[b, n:] = 0
        mask[b, :n] = 1
    types[0, 5:10] = 1
    types[1, 3:7] = 2
    s32 = OrderedDict((k, v.float().double()) for k, v in s.items())  # the values F32 stores
    with torch.no_grad():
        l32 = forward(s32, ids, types, mask, check=True)
        l16 = forward(s16, ids, types, mask)
    write_golden(os.path.join(out, "hf_tiny.h5"), ids, types, lens, l32, l16).close()
    print("hf_tiny: logits F32 %s, F16 %s" % (l32.numpy().round(4).tolist(), l16.numpy().round(4).tolist()))
    write_base(out)


if __name__ == "__main__":
    main()
