#!/bin/sh
# check_torch_loader.sh: tools/ofa_to_torch.py must reproduce `ofa eval`.
#
#   tests/tools/check_torch_loader.sh [--data GLUE_DIR] [--split dev|test] [--limit N] CKPT...
#
# For each checkpoint, runs `build/ofa eval CKPT --predictions FILE --logits` and the PyTorch tool
# on the same data, and compares the two files: same header and indices, identical predictions,
# logits equal within 1e-5 relative (1e-5 absolute near zero).  One verdict line per checkpoint;
# exits 1 when any differs, 0 when all match, and 0 with a note when /usr/bin/python3 lacks torch
# or h5py.  OFA=path overrides the ofa binary (default build/ofa of this repository), PYTHON= the
# interpreter (default /usr/bin/python3).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${PYTHON:-/usr/bin/python3}
ofa=${OFA:-$root/build/ofa}
data=${GLUE_DIR:-$root/../shared/data/glue}
split=dev
limit=
while [ $# -gt 0 ]; do
    case $1 in
    --data) data=$2; shift 2 ;;
    --split) split=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "check_torch_loader: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ $# -eq 0 ]; then
    echo "usage: $0 [--data GLUE_DIR] [--split dev|test] [--limit N] CKPT..." >&2
    exit 2
fi
if ! [ -x "$py" ] || ! "$py" -c 'import torch, h5py, numpy' >/dev/null 2>&1; then
    echo "check_torch_loader: SKIP ($py lacks torch, h5py or numpy)"
    exit 0
fi
if ! [ -x "$ofa" ]; then
    echo "check_torch_loader: $ofa not found (make build/ofa, or set OFA=)" >&2
    exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_torch.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

status=0
for ckpt in "$@"; do
    # the options for both programs ("$@" is free: the loop list was expanded already)
    set -- --data "$data" --split "$split"
    [ -n "$limit" ] && set -- "$@" --limit "$limit"
    # all of the split, as the tool scores it (on dev, not only the half the search left for reporting)
    if ! "$ofa" eval "$ckpt" "$@" --val-source train --predictions "$tmp/c.tsv" --logits >"$tmp/c.out" 2>"$tmp/c.err"; then
        echo "FAIL $ckpt: ofa eval failed: $(tail -n 1 "$tmp/c.err")"
        status=1
        continue
    fi
    if ! "$py" "$root/tools/ofa_to_torch.py" "$ckpt" "$@" --predictions "$tmp/t.tsv" >"$tmp/t.out" 2>"$tmp/t.err"; then
        echo "FAIL $ckpt: ofa_to_torch.py failed: $(tail -n 1 "$tmp/t.err")"
        status=1
        continue
    fi
    "$py" - "$ckpt" "$tmp/c.tsv" "$tmp/t.tsv" <<'EOF' || status=1
import sys
ckpt, a_path, b_path = sys.argv[1:4]
a = open(a_path).read().splitlines()
b = open(b_path).read().splitlines()
def fail(msg):
    print("FAIL %s: %s" % (ckpt, msg))
    sys.exit(1)
if not a or a[0] != b[0]:
    fail("headers differ: %r vs %r" % (a[:1], b[:1]))
if len(a) != len(b):
    fail("%d rows from ofa eval, %d from the tool" % (len(a) - 1, len(b) - 1))
max_abs = max_scaled = 0.0
bad_pred = bad_logit = 0
first = None
for n, (ra, rb) in enumerate(zip(a[1:], b[1:]), 2):
    fa, fb = ra.split("\t"), rb.split("\t")
    if len(fa) != len(fb) or fa[0] != fb[0]:
        fail("line %d: rows differ: %r vs %r" % (n, ra, rb))
    if fa[1] != fb[1]:
        bad_pred += 1
        first = first or "line %d: prediction %s vs %s" % (n, fa[1], fb[1])
    for x, y in zip(map(float, fa[2:]), map(float, fb[2:])):
        d = abs(x - y)
        max_abs = max(max_abs, d)
        scaled = d / max(1.0, abs(x))  # relative, or absolute below magnitude 1
        max_scaled = max(max_scaled, scaled)
        if scaled > 1e-5:
            bad_logit += 1
            first = first or "line %d: logits %s vs %s" % (n, fa[2:], fb[2:])
rows = len(a) - 1
if bad_pred or bad_logit:
    fail("%d of %d predictions and %d logits differ (max |diff| %.3g); first: %s"
         % (bad_pred, rows, bad_logit, max_abs, first))
print("OK   %s: %d rows, identical predictions, max logit |diff| %.3g (|diff|/max(1,|logit|) %.3g <= 1e-5)"
      % (ckpt, rows, max_abs, max_scaled))
EOF
done
exit $status
