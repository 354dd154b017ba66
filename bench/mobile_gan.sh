#!/usr/bin/env bash
# bench/mobile_gan.sh (make bench-mobile): batch-1, one-thread forward latency of the MobileResNet
# generator, ofa (build/bench/mobile_latency) against the PyTorch peer
# (../shared/bench/torch_peer_gan.py generator --gen mobile) on the same shapes, alternating the two
# so machine noise hits both alike.  Prints each run's JSON line, then per case the median of each
# side's medians and the ratio (higher = ofa faster), and the ratio of the best single steps (the
# figure least moved by other load on the machine).  32x32, 1 channel, 6 blocks; BENCH_ROUNDS
# rounds (default 7) of 50 timed steps after 10 warm-up ones.  Cases (BENCH_CASES picks some):
#   ngf16, ngf32    GAN Compression's MobileResnetGenerator (3x3 depthwise), both sides the same net
#   super-largest   ofa: the ngf-32 elastic supernet (5x5 depthwise stored) at its largest subnet,
#                   5x5 kernels; peer: ngf 32 (3x3: less work than ofa's)
#   super-small     ofa: that supernet's subnet of ngf-16 widths with 3x3 kernels through the 5to3
#                   matrices (c16.32.64-b64.64.64-k3.3.3-u32.16); peer: ngf 16 (the same widths)
set -euo pipefail
cd "$(dirname "$0")/.."
OFA=${OFA_MOBILE_BENCH:-build/bench/mobile_latency}
PEER=${TORCH_PEER_GAN:-../shared/bench/torch_peer_gan.py}
ROUNDS=${BENCH_ROUNDS:-7}
CASES=${BENCH_CASES:-ngf16 ngf32 super-largest super-small}
[ -x "$OFA" ] || { echo "bench: $OFA not built (run make)"; exit 2; }
[ -f "$PEER" ] || { echo "bench: PyTorch peer $PEER not found"; exit 2; }
common="--size 32 --channels 1 --blocks 6 --threads 1 --steps 50 --warmup 10"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for c in $CASES; do
  case $c in
  ngf16) o="--ngf 16"; p="--ngf 16" ;;
  ngf32) o="--ngf 32"; p="--ngf 32" ;;
  super-largest) o="--ngf 32 --kernel 5"; p="--ngf 32" ;;
  super-small) o="--ngf 32 --kernel 5 --arch c16.32.64-b64.64.64-k3.3.3-u32.16"; p="--ngf 16" ;;
  *) echo "bench: unknown case $c"; exit 2 ;;
  esac
  for r in $(seq 1 "$ROUNDS"); do
    "$OFA" $common $o | tee -a "$out/ofa-$c.jsonl"
    # the peer on its one thread: torch.set_num_threads does not hold Debian's OpenBLAS (bench/run.sh)
    OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
      /usr/bin/python3 "$PEER" generator --gen mobile $common $p | tee -a "$out/torch-$c.jsonl"
  done
done
/usr/bin/python3 - "$out" $CASES <<'PY'
import json, statistics, sys
d = sys.argv[1]
for c in sys.argv[2:]:
    o = [json.loads(l) for l in open("%s/ofa-%s.jsonl" % (d, c))]
    t = [json.loads(l)["ms_per_step"] for l in open("%s/torch-%s.jsonl" % (d, c))]
    om = [r["ms_per_step"] for r in o]
    mo, mt = statistics.median(om), statistics.median(t)
    tr = [json.loads(l) for l in open("%s/torch-%s.jsonl" % (d, c))]
    bo, bt = min(r["min"] for r in o), min(r["min"] for r in tr)
    print("%-13s ofa %s (%.1f M MACs) %.3f ms (runs %.3f..%.3f), torch ngf %d %.3f ms (runs %.3f..%.3f): ofa %.2fx "
          "faster; best single steps %.3f vs %.3f ms: %.2fx"
          % (c, o[0]["arch"], o[0]["macs"] / 1e6, mo, min(om), max(om), tr[0]["ngf"], mt, min(t), max(t), mt / mo,
             bo, bt, bt / bo))
PY
