/* models/bert/bench: the BERT family's benchmark work (see bench.c).  Not collective. */
#ifndef OFA_MODELS_BERT_BENCH_H
#define OFA_MODELS_BERT_BENCH_H

typedef struct bench_args {
    long layers, hidden, heads, ffn, vocab, classes, seq, batch, threads, steps, warmup, seed, subnets;
    int supernet; /* 0: teacher work, 1: supernet work */
} bench_args;

/* `ofa bench WORK [flags]` (models/family.h bench): WORK is teacher or supernet (training steps),
 * infer (the forward of the smallest or largest subnet of torch_peer.py's space) or gemm (the
 * inference product at the model's shapes); prints JSON lines. */
int ofa_bert_bench(const char *work, int argc, char **argv);

#endif
