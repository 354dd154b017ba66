/* core/par: the worker threads of the training products (nn_fm_sgemm's items) and of the
 * element-wise work between them (GELU, LayerNorm, dropout's backward, AdamW, the gradient norm);
 * OpenBLAS threads its own products (without AVX-512, and the f64 kernels).
 *
 * ofa_par_set_threads(n) sets OpenBLAS's threads and its own to n (ofa_set_blas_threads calls it, so
 * both follow experiment.threads);
 * n - 1 workers are started on the first parallel loop; between loops they watch for the next one
 * for a few tens of microseconds, then sleep on a condition variable.  ofa_par_for splits [0, n)
 * into one contiguous range per thread at fixed points (n * i / threads), and a kernel computes every element with the same arithmetic whichever range
 * it falls in, so results never depend on the thread count.  A loop shorter than `min_chunk` per
 * thread, or one started from inside a worker, runs on the calling thread alone.
 * Not for MPI calls or anything else that must stay on the main thread.
 */
#ifndef OFA_CORE_PAR_H
#define OFA_CORE_PAR_H

#include <stdint.h>

typedef void (*ofa_par_fn)(void *ctx, int64_t lo, int64_t hi);

void ofa_par_set_threads(int n);
/* fn(ctx, lo, hi) over contiguous ranges covering [0, n), in parallel; returns when all are done. */
void ofa_par_for(int64_t n, int64_t min_chunk, ofa_par_fn fn, void *ctx);
/* The same for loops of many small BLAS calls (attention's per-head products): OpenBLAS is held
 * at one thread meanwhile, so each of ours runs its products alone instead of every product being
 * split over all cores. */
void ofa_par_for_blas1(int64_t n, int64_t min_chunk, ofa_par_fn fn, void *ctx);

#endif
