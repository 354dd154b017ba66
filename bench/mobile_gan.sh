#!/usr/bin/env bash
# bench/mobile_gan.sh: batch-1, one-thread forward latency of the MobileResNet generator, ofa
# (build/bench/mobile_latency) against the PyTorch peer (../shared/bench/torch_peer_gan.py generator
# --gen mobile) on the same shapes, alternating the two so machine noise hits both alike.  Prints
# each run's JSON line, then per ngf the median of each side's medians and the ratio (higher = ofa
# faster).  Shapes: 32x32, 1 channel, 6 blocks, ngf 16 and 32 (BENCH_NGF), BENCH_ROUNDS rounds
# (default 7) of 50 timed steps after 10 warm-up ones.
set -euo pipefail
cd "$(dirname "$0")/.."
OFA=${OFA_MOBILE_BENCH:-build/bench/mobile_latency}
PEER=${TORCH_PEER_GAN:-../shared/bench/torch_peer_gan.py}
ROUNDS=${BENCH_ROUNDS:-7}
NGFS=${BENCH_NGF:-16 32}
[ -x "$OFA" ] || { echo "bench: $OFA not built (run make)"; exit 2; }
[ -f "$PEER" ] || { echo "bench: PyTorch peer $PEER not found"; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ngf in $NGFS; do
  flags="--size 32 --channels 1 --ngf $ngf --blocks 6 --threads 1 --steps 50 --warmup 10"
  for r in $(seq 1 "$ROUNDS"); do
    "$OFA" $flags | tee -a "$out/ofa-$ngf.jsonl"
    /usr/bin/python3 "$PEER" generator --gen mobile $flags | tee -a "$out/torch-$ngf.jsonl"
  done
done
/usr/bin/python3 - "$out" $NGFS <<'PY'
import json, statistics, sys
d = sys.argv[1]
for ngf in sys.argv[2:]:
    o = [json.loads(l)["ms_per_step"] for l in open("%s/ofa-%s.jsonl" % (d, ngf))]
    t = [json.loads(l)["ms_per_step"] for l in open("%s/torch-%s.jsonl" % (d, ngf))]
    mo, mt = statistics.median(o), statistics.median(t)
    print("ngf %s: ofa %.3f ms (runs %.3f..%.3f), torch %.3f ms (runs %.3f..%.3f): ofa %.2fx faster"
          % (ngf, mo, min(o), max(o), mt, min(t), max(t), mt / mo))
PY
