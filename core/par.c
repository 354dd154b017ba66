#include "core/par.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

#define PAR_MAX 256

/* One loop at a time: the caller publishes fn/ctx/n/parts and bumps gen under mu, every started
 * worker runs its part (or none) and counts pending down; the last one wakes the caller. */
static struct {
    pthread_mutex_t mu, call;
    pthread_cond_t go, done;
    int threads, started;
    atomic_uint_fast64_t gen;
    atomic_int pending;
    ofa_par_fn fn;
    void *ctx;
    int64_t n;
    int parts;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .call = PTHREAD_MUTEX_INITIALIZER,
       .go = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER,
       .threads = 1};

static _Thread_local int in_worker;

static void run_part(int i)
{
    int64_t lo = P.n * i / P.parts, hi = P.n * (i + 1) / P.parts;
    if (hi > lo) P.fn(P.ctx, lo, hi);
}

/* Loops come back to back (a product, its bias, the next product): a worker that has just finished
 * watches for the next one for about SPIN pauses (tens of microseconds) before it sleeps, and the
 * caller watches for the workers the same way, which saves a futex wake-up and a context switch
 * per loop.  gen is published after the loop's fields (release) and read before them (acquire). */
enum { SPIN = 4000 };

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *arg)
{
    const int id = (int)(intptr_t)arg;
    in_worker = 1;
    uint_fast64_t seen = 0, g;
    for (;;) {
        for (int i = 0; (g = atomic_load_explicit(&P.gen, memory_order_acquire)) == seen && i < SPIN; i++)
            cpu_relax();
        if (g == seen) {
            pthread_mutex_lock(&P.mu);
            while ((g = atomic_load(&P.gen)) == seen) pthread_cond_wait(&P.go, &P.mu);
            pthread_mutex_unlock(&P.mu);
        }
        seen = g;
        int parts = P.parts;
        if (id < parts) run_part(id);
        if (atomic_fetch_sub(&P.pending, 1) == 1) {
            pthread_mutex_lock(&P.mu);
            pthread_cond_signal(&P.done);
            pthread_mutex_unlock(&P.mu);
        }
    }
    return NULL;
}

void ofa_par_set_threads(int n)
{
    P.threads = n < 1 ? 1 : (n > PAR_MAX ? PAR_MAX : n);
    openblas_set_num_threads(P.threads);
}

/* Start workers up to threads - 1 (fewer if the system refuses); returns the threads available. */
static int ensure_workers(void)
{
    while (P.started < P.threads - 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, worker, (void *)(intptr_t)(P.started + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) break;
        P.started++;
    }
    return P.started + 1 < P.threads ? P.started + 1 : P.threads;
}

void ofa_par_for(int64_t n, int64_t min_chunk, ofa_par_fn fn, void *ctx)
{
    if (n <= 0) return;
    int64_t most = min_chunk > 0 ? n / min_chunk : n;
    if (P.threads <= 1 || most < 2 || in_worker || pthread_mutex_trylock(&P.call) != 0) {
        fn(ctx, 0, n);
        return;
    }
    int avail = ensure_workers();
    int parts = most < avail ? (int)most : avail;
    if (parts < 2) {
        pthread_mutex_unlock(&P.call);
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&P.mu);
    P.fn = fn;
    P.ctx = ctx;
    P.n = n;
    P.parts = parts;
    atomic_store(&P.pending, P.started);
    atomic_fetch_add_explicit(&P.gen, 1, memory_order_release);
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    run_part(0);
    for (int i = 0; atomic_load(&P.pending) > 0 && i < SPIN; i++) cpu_relax();
    pthread_mutex_lock(&P.mu);
    while (atomic_load(&P.pending) > 0) pthread_cond_wait(&P.done, &P.mu);
    pthread_mutex_unlock(&P.mu);
    pthread_mutex_unlock(&P.call);
}

void ofa_par_for_blas1(int64_t n, int64_t min_chunk, ofa_par_fn fn, void *ctx)
{
    if (P.threads <= 1 || in_worker) {
        fn(ctx, 0, n);
        return;
    }
    openblas_set_num_threads(1);
    ofa_par_for(n, min_chunk, fn, ctx);
    openblas_set_num_threads(P.threads);
}
