#!/usr/bin/env python3
"""Scaling of ofa's distributed supernet step: measured here, and modelled for clusters.

  tools/scaling.py measure RUN_DIR...     medians of compute_ms, allreduce_ms, update_ms and the
                                          allreduce bytes per step from each run's metrics.jsonl
  tools/scaling.py model [options]        alpha-beta model of a ring allreduce: predicted step time
                                          and efficiency on 8..512 nodes

The model (weak scaling, the design's step plan): a step has M micro-batches, M = nodes x
micro_batches_per_node, so every node computes the same work (t_compute) whatever the node count; the
gradient buffer of n bytes is summed with a ring allreduce over p nodes:
    t_allreduce(p) = 2 (p - 1) alpha + 2 (p - 1) / p * n * beta + (p - 1) / p * n / 4 * gamma
(alpha: latency per message, beta: seconds per byte of link bandwidth, gamma: seconds per float
added).  Without overlap, t_step(p) = t_compute + t_allreduce(p) + t_update, and efficiency
E(p) = (t_compute + t_update) / t_step(p).  With the allreduce overlapped with backward (bucketing),
at best t_step = max(t_compute, t_allreduce) + t_update.  Only the standard library is used.
"""
import argparse, json, statistics, sys


def measure(dirs):
    rows = []
    for d in dirs:
        recs = []
        with open(f"{d}/metrics.jsonl") as f:
            for line in f:
                r = json.loads(line)
                if r.get("stage") == "supernet" and "compute_ms" in r:
                    recs.append(r)
        recs = recs[len(recs) // 5:]  # drop the first fifth (warm-up)
        if not recs:
            print(f"{d}: no supernet steps with timings", file=sys.stderr)
            continue
        med = lambda k: statistics.median(r[k] for r in recs)
        early = med("allreduce_early_bytes") if "allreduce_early_bytes" in recs[0] else 0
        hidden = med("allreduce_hidden_bytes") if "allreduce_hidden_bytes" in recs[0] else 0
        rows.append((recs[0]["ranks"], len(recs), med("compute_ms"), med("allreduce_ms"), med("update_ms"),
                     recs[0]["allreduce_bytes"], early, hidden, d))
    # posted / reduced during the backward: rank 0's gradient bytes whose allreduce bucket was
    # posted before its backward ended, and of them those already reduced then (mpi.bucket_mb)
    print("| ranks | steps | compute ms (median) | allreduce ms (median) | update ms | step ms | bytes per step "
          "| MB posted during backward | MB reduced during backward | run |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for ranks, n, c, a, u, b, e, h, d in sorted(rows):
        print(f"| {ranks} | {n} | {c:.2f} | {a:.2f} | {u:.2f} | {c + a + u:.2f} | {b:,} | {e / 1e6:.1f} | {h / 1e6:.1f} "
              f"| {d} |")


def model(a):
    n = a.params * 4.0 + 64
    alpha, beta, gamma = a.alpha_us * 1e-6, 1.0 / (a.bandwidth_gbps * 1e9 / 8), a.gamma_ns * 1e-9
    print(f"model: {a.name}: {a.params / 1e6:.1f} M parameters -> {n / 2**20:.1f} MiB per allreduce; "
          f"t_compute {a.compute_ms:.1f} ms, t_update {a.update_ms:.1f} ms per step and node; "
          f"alpha {a.alpha_us} us, link {a.bandwidth_gbps} Gb/s, gamma {a.gamma_ns} ns/float")
    print("| nodes | allreduce ms | step ms (no overlap) | efficiency | step ms (ideal overlap) | efficiency |")
    print("|---|---|---|---|---|---|")
    p = 1
    while p <= a.max_nodes:
        t_ar = 0.0 if p == 1 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta + (p - 1) / p * n / 4 * gamma
        tc, tu = a.compute_ms * 1e-3, a.update_ms * 1e-3
        plain, over = tc + t_ar + tu, max(tc, t_ar) + tu
        print(f"| {p} | {t_ar * 1e3:.2f} | {plain * 1e3:.1f} | {(tc + tu) / plain:.1%} | {over * 1e3:.1f} | "
              f"{(tc + tu) / over:.1%} |")
        p *= 2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("dirs", nargs="+")
    o = sub.add_parser("model")
    o.add_argument("--name", default="model")
    o.add_argument("--params", type=float, required=True, help="parameters in the flat buffer")
    o.add_argument("--compute-ms", type=float, required=True, help="per-node compute time of one step")
    o.add_argument("--update-ms", type=float, default=0.0, help="clipping + AdamW time per step")
    o.add_argument("--alpha-us", type=float, default=5.0)
    o.add_argument("--bandwidth-gbps", type=float, default=100.0)
    o.add_argument("--gamma-ns", type=float, default=0.1, help="time to add one float during the reduction")
    o.add_argument("--max-nodes", type=int, default=512)
    a = ap.parse_args()
    if a.cmd == "measure":
        measure(a.dirs)
    else:
        model(a)


if __name__ == "__main__":
    main()
