#!/usr/bin/env bash
# bench/gan.sh (make bench-gan): issue 11's speed bars, ofa (`ofa bench cyclegan|generator`) against
# the PyTorch peer (../shared/bench/torch_peer_gan.py) on the same shapes: 32x32, 1 channel, ngf 32,
# ndf 32, 6 blocks, 3 D layers.  Each round runs ofa then the peer on each case, so machine noise
# hits both alike.  Prints every run's JSON line, then per case the median of each side's medians,
# their ratio (higher = ofa faster) against the bar, and the ratio of the best single steps (the
# figure least moved by other load on the machine).  BENCH_ROUNDS rounds (default 5).  Cases
# (BENCH_CASES picks some):
#   cyclegan   one CycleGAN training step, batch 4, 2 threads (10 timed steps after 3 warm-up); bar 1.5x
#   generator  the ResNet generator's forward, batch 1, 1 thread (50 timed after 10); bar 2x
set -euo pipefail
cd "$(dirname "$0")/.."
OFA=${OFA_BIN:-build/ofa}
PEER=${TORCH_PEER_GAN:-../shared/bench/torch_peer_gan.py}
ROUNDS=${BENCH_ROUNDS:-5}
CASES=${BENCH_CASES:-cyclegan generator}
[ -x "$OFA" ] || { echo "bench: $OFA not built (run make)"; exit 2; }
[ -f "$PEER" ] || { echo "bench: PyTorch peer $PEER not found"; exit 2; }
shape="--size 32 --channels 1 --ngf 32 --ndf 32 --blocks 6 --dlayers 3"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for c in $CASES; do
  case $c in
  cyclegan) w="cyclegan --batch 4 --threads 2 --steps 10 --warmup 3" ;;
  generator) w="generator --gen resnet --batch 1 --threads 1 --steps 50 --warmup 10" ;;
  *) echo "bench: unknown case $c"; exit 2 ;;
  esac
  for r in $(seq 1 "$ROUNDS"); do
    "$OFA" bench $w $shape | tee -a "$out/ofa-$c.jsonl"
    # the peer on the threads it is given: torch.set_num_threads does not hold Debian's OpenBLAS
    # (bench/run.sh says more)
    t=$(sed -E 's/.*--threads ([0-9]+).*/\1/' <<<"$w")
    OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$t} OMP_NUM_THREADS=${OMP_NUM_THREADS:-$t} \
      /usr/bin/python3 "$PEER" $w $shape | tee -a "$out/torch-$c.jsonl"
  done
done
/usr/bin/python3 - "$out" $CASES <<'PY'
import json, statistics, sys
d = sys.argv[1]
bars = {"cyclegan": 1.5, "generator": 2.0}
print("| work | batch | threads | ofa ms (median of medians; runs) | torch ms (median of medians; runs) | ratio | bar | best steps ofa / torch (ratio) | ofa GFLOP/s | sgemm GFLOP/s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for c in sys.argv[2:]:
    o = [json.loads(l) for l in open("%s/ofa-%s.jsonl" % (d, c))]
    t = [json.loads(l) for l in open("%s/torch-%s.jsonl" % (d, c))]
    om, tm = [r["ms_per_step"] for r in o], [r["ms_per_step"] for r in t]
    mo, mt = statistics.median(om), statistics.median(tm)
    bo, bt = min(r["min"] for r in o), min(r["min"] for r in t)
    ratio = mt / mo
    print("| %s | %d | %d | %.3f (%.3f..%.3f) | %.3f (%.3f..%.3f) | %.2fx | %.1fx %s | %.3f / %.3f (%.2fx) | %.1f | %.1f |"
          % (c, o[0]["batch"], o[0]["threads"], mo, min(om), max(om), mt, min(tm), max(tm), ratio, bars[c],
             "met" if ratio >= bars[c] else "MISSED", bo, bt, bt / bo,
             statistics.median(r["gflops"] for r in o), statistics.median(r["sgemm_gflops"] for r in o)))
PY
