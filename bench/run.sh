#!/usr/bin/env bash
# make bench: ofa against the PyTorch peer (../shared/bench/torch_peer.py) on the same work, in
# one run, alternating the two so machine noise hits both alike.  Prints each run's JSON line and
# then the ratio of the medians (higher = ofa faster).  Shapes: L4 H256 A4 F1024 V8192, seq 64,
# batch 32, 2 threads, 4 subnets per supernet step (override with BENCH_FLAGS, rounds with
# BENCH_ROUNDS, the work with BENCH_WORK="teacher supernet").
set -euo pipefail
cd "$(dirname "$0")/.."
OFA=${OFA_BIN:-build/ofa}
PEER=${TORCH_PEER:-../shared/bench/torch_peer.py}
ROUNDS=${BENCH_ROUNDS:-5}
FLAGS=${BENCH_FLAGS:---layers 4 --hidden 256 --heads 4 --ffn 1024 --vocab 8192 --seq 64 --batch 32 --threads 2}
[ -x "$OFA" ] || { echo "bench: $OFA not built (run make)"; exit 2; }
[ -f "$PEER" ] || { echo "bench: PyTorch peer $PEER not found"; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for work in ${BENCH_WORK:-teacher supernet}; do
  for r in $(seq 1 "$ROUNDS"); do
    "$OFA" bench "$work" $FLAGS --steps 10 --warmup 3 | tee -a "$out/ofa-$work.jsonl"
    /usr/bin/python3 "$PEER" "$work" $FLAGS --steps 10 --warmup 3 | tee -a "$out/torch-$work.jsonl"
  done
  /usr/bin/python3 - "$out/ofa-$work.jsonl" "$out/torch-$work.jsonl" "$work" <<'PY'
import json, statistics, sys
ofa = [json.loads(l) for l in open(sys.argv[1])]
pt = [json.loads(l) for l in open(sys.argv[2])]
mo = statistics.median(r["ms_per_step"] for r in ofa)
mp = statistics.median(r["ms_per_step"] for r in pt)
print(f"\n== bench {sys.argv[3]}: {len(ofa)} alternating rounds, median of per-round medians ==")
print(f"ofa     {mo:9.2f} ms/step  ({statistics.median(r['tokens_per_s'] for r in ofa):9.0f} tokens/s)")
print(f"pytorch {mp:9.2f} ms/step  ({statistics.median(r['tokens_per_s'] for r in pt):9.0f} tokens/s)  {pt[0]['peer']}")
target = 1.5
print(f"speedup ofa vs pytorch: {mp / mo:.2f}x  (target >= {target}x: {'met' if mp / mo >= target else 'NOT met'})")
print(f"ofa achieved {statistics.median(r['gflops'] for r in ofa):.1f} GFLOP/s; OpenBLAS sgemm at the FFN shape "
      f"{statistics.median(r['sgemm_gflops'] for r in ofa):.1f} GFLOP/s (same run); "
      f"ofa peak RSS {max(r['peak_rss_mib'] for r in ofa):.0f} MiB")
PY
done
