#!/usr/bin/python3
"""Write a randomly initialised Hugging Face BertForSequenceClassification folder, for `ofa import`.

Usage: /usr/bin/python3 tools/hf_random_bert.py OUT_DIR [--vocab VOCAB.txt] [--layers 12] [--hidden 768]
                                                 [--heads 12] [--ffn 3072] [--positions 512] [--labels 2]
                                                 [--seed 0] [--dtype F32|F16]

No pretrained weights can be downloaded on these machines, so this stands in for a user's model
folder at its real size: config.json (model_type bert, gelu, layer_norm_eps 1e-12, type_vocab_size 2),
vocab.txt (--vocab, default ../shared/data/vocab/bert-base-uncased-vocab.txt; its line count is
vocab_size), tokenizer_config.json (do_lower_case true) and model.safetensors with the weights of
transformers' BertPreTrainedModel._init_weights: N(0, 0.02) matrices and embeddings, zero biases,
LayerNorm weight 1 and bias 0.  Only numpy is needed; the safetensors file is written by its spec.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--vocab", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "../../shared/data/vocab/bert-base-uncased-vocab.txt"))
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ffn", type=int, default=3072)
    ap.add_argument("--positions", type=int, default=512)
    ap.add_argument("--labels", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["F32", "F16"], default="F32")
    a = ap.parse_args()
    with open(a.vocab, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    V, H, F, P, L, C = len(tokens), a.hidden, a.ffn, a.positions, a.layers, a.labels
    if H % a.heads:
        print("--hidden %d is not a multiple of --heads %d" % (H, a.heads), file=sys.stderr)
        return 2
    rng = np.random.default_rng(a.seed)
    shapes = {"bert.embeddings.word_embeddings.weight": (V, H), "bert.embeddings.position_embeddings.weight": (P, H),
              "bert.embeddings.token_type_embeddings.weight": (2, H), "bert.embeddings.LayerNorm.weight": (H,),
              "bert.embeddings.LayerNorm.bias": (H,), "bert.pooler.dense.weight": (H, H),
              "bert.pooler.dense.bias": (H,), "classifier.weight": (C, H), "classifier.bias": (C,)}
    for l in range(L):
        p = "bert.encoder.layer.%d." % l
        for m in ("query", "key", "value"):
            shapes[p + "attention.self.%s.weight" % m] = (H, H)
            shapes[p + "attention.self.%s.bias" % m] = (H,)
        shapes.update({p + "attention.output.dense.weight": (H, H), p + "attention.output.dense.bias": (H,),
                       p + "attention.output.LayerNorm.weight": (H,), p + "attention.output.LayerNorm.bias": (H,),
                       p + "intermediate.dense.weight": (F, H), p + "intermediate.dense.bias": (F,),
                       p + "output.dense.weight": (H, F), p + "output.dense.bias": (H,),
                       p + "output.LayerNorm.weight": (H,), p + "output.LayerNorm.bias": (H,)})
    np_type = "<f4" if a.dtype == "F32" else "<f2"
    esz = 4 if a.dtype == "F32" else 2
    header, off = {}, 0
    names = sorted(shapes)
    for n in names:
        nbytes = int(np.prod(shapes[n])) * esz
        header[n] = {"dtype": a.dtype, "shape": list(shapes[n]), "data_offsets": [off, off + nbytes]}
        off += nbytes
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    os.makedirs(a.out, exist_ok=True)
    tmp = os.path.join(a.out, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for n in names:
            sh = shapes[n]
            if n.endswith("LayerNorm.weight"):
                t = np.ones(sh)
            elif len(sh) == 1:
                t = np.zeros(sh)
            else:
                t = rng.normal(0.0, 0.02, size=sh)
            f.write(t.astype(np_type).tobytes())
    os.replace(tmp, os.path.join(a.out, "model.safetensors"))
    cfg = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_act": "gelu",
           "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": a.heads, "intermediate_size": F,
           "vocab_size": V, "max_position_embeddings": P, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
           "num_labels": C, "initializer_range": 0.02, "position_embedding_type": "absolute",
           "torch_dtype": "float32" if a.dtype == "F32" else "float16"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    with open(os.path.join(a.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": P, "tokenizer_class": "BertTokenizer"}, f, indent=2)
    n_params = sum(int(np.prod(s)) for s in shapes.values())
    print("%s: BertForSequenceClassification L%d H%d A%d F%d, vocab %d, %.1f M parameters (%s, %.0f MB)" %
          (a.out, L, H, a.heads, F, V, n_params / 1e6, a.dtype, off / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
