#!/usr/bin/python3
"""Convert a Hugging Face folder's pytorch_model.bin to model.safetensors, for `ofa import`.

Usage: /usr/bin/python3 tools/hf_to_safetensors.py HF_DIR [--dtype keep|F32|F16|BF16]

ofa reads safetensors (a plain header and raw tensors), not PyTorch's pickle.  This loads
HF_DIR/pytorch_model.bin with torch (Debian's python3-torch; weights only, on the CPU) and writes
HF_DIR/model.safetensors by the format's spec (8-byte little-endian header length, the JSON header
with dtype, shape and data_offsets per tensor, then the little-endian data), so the safetensors
package is not needed.  Floating tensors keep their dtype unless --dtype says otherwise; integer
buffers (position_ids) are written as I64.  An existing model.safetensors is not overwritten.
"""
import json
import os
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
TORCH_OF = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    d, want = args[0], "keep"
    if len(args) == 3 and args[1] == "--dtype" and args[2] in ("keep", "F32", "F16", "BF16"):
        want = args[2]
    elif len(args) != 1:
        print("usage: hf_to_safetensors.py HF_DIR [--dtype keep|F32|F16|BF16]", file=sys.stderr)
        return 2
    src, dst = os.path.join(d, "pytorch_model.bin"), os.path.join(d, "model.safetensors")
    if not os.path.exists(src):
        print("%s: no such file" % src, file=sys.stderr)
        return 1
    if os.path.exists(dst):
        print("%s exists; delete it first to convert again" % dst, file=sys.stderr)
        return 1
    try:
        sd = torch.load(src, map_location="cpu", weights_only=True)
    except TypeError:  # torch before 1.13's weights_only
        sd = torch.load(src, map_location="cpu")
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    header, blobs, off = {}, [], 0
    for name in sorted(sd):
        t = sd[name].detach().contiguous()
        if t.is_floating_point() and want != "keep":
            t = t.to(TORCH_OF[want])
        if t.dtype not in DTYPES:
            t = t.to(torch.float32 if t.is_floating_point() else torch.int64)
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, dst)
    print("%s: %d tensors, %.1f MB -> %s" % (src, len(blobs), off / 1e6, dst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
