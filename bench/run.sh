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
run_pair() { # work label extra-flags target
  local work=$1 label=$2 extra=$3 target=$4
  for r in $(seq 1 "$ROUNDS"); do
    "$OFA" bench "$work" $extra --steps 10 --warmup 3 | tee -a "$out/ofa-$label.jsonl"
    /usr/bin/python3 "$PEER" "$work" $extra --steps 10 --warmup 3 | tee -a "$out/torch-$label.jsonl"
  done
  report "$out/ofa-$label.jsonl" "$out/torch-$label.jsonl" "$label" "$target"
}
report() {
  /usr/bin/python3 - "$@" <<'PY'
import json, statistics, sys
ofa = [json.loads(l) for l in open(sys.argv[1])]
pt = [json.loads(l) for l in open(sys.argv[2])]
mo = statistics.median(r["ms_per_step"] for r in ofa)
mp = statistics.median(r["ms_per_step"] for r in pt)
target = float(sys.argv[4])
print(f"\n== bench {sys.argv[3]}: {len(ofa)} alternating rounds, median of per-round medians ==")
print(f"ofa     {mo:9.3f} ms/step  ({statistics.median(r['tokens_per_s'] for r in ofa):9.0f} tokens/s)")
print(f"pytorch {mp:9.3f} ms/step  ({statistics.median(r['tokens_per_s'] for r in pt):9.0f} tokens/s)  {pt[0]['peer']}")
print(f"speedup ofa vs pytorch: {mp / mo:.2f}x  (target >= {target}x: {'met' if mp / mo >= target else 'NOT met'})")
if "gflops" in ofa[0]:
    print(f"ofa achieved {statistics.median(r['gflops'] for r in ofa):.1f} GFLOP/s; OpenBLAS sgemm at the FFN shape "
          f"{statistics.median(r['sgemm_gflops'] for r in ofa):.1f} GFLOP/s (same run)")
print(f"ofa peak RSS {max(r['peak_rss_mib'] for r in ofa):.0f} MiB")
PY
}
for work in ${BENCH_WORK:-teacher supernet infer}; do
  if [ "$work" = infer ]; then
    echo "== the inference product alone (ofa bench gemm: GFLOP/s of both paths at the forward's shapes) =="
    "$OFA" bench gemm
    INF=${BENCH_INFER_FLAGS:---layers 4 --hidden 256 --heads 4 --ffn 1024 --vocab 8192 --seq 64 --batch 1 --threads 1}
    run_pair infer infer-smallest "$INF --arch smallest" 3.0
    run_pair infer infer-largest "$INF --arch largest" 1.5
    continue
  fi
  run_pair "$work" "$work" "$FLAGS" 1.5
done
