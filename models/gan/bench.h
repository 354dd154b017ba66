/* models/gan/bench: the cyclegan family's benchmark work (`ofa bench cyclegan|generator`), the C
 * side of ../shared/bench/torch_peer_gan.py with the same flags and the same JSON line (see
 * bench.c).  Not collective. */
#ifndef OFA_MODELS_GAN_BENCH_H
#define OFA_MODELS_GAN_BENCH_H

/* `ofa bench WORK [flags]` (models/family.h bench): WORK is cyclegan (the teacher's training step,
 * models/gan/train) or generator (one generator's forward); prints one JSON line. */
int ofa_cg_bench(const char *work, int argc, char **argv);

#endif
