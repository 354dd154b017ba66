/* bench/mobile_latency: batch-1 forward latency of the MobileResNet generator (models/gan/mobile.h),
 * the C side of `../shared/bench/torch_peer_gan.py generator --gen mobile` with the same flags and
 * the same one JSON line ({"work", "gen", "ngf", ..., "ms_per_step": median, "min", "max"}).
 *
 *   build/bench/mobile_latency [--size 32] [--channels 1] [--ngf 32] [--blocks 6] [--threads 1]
 *                              [--steps 10] [--warmup 3] [--arch ARCH] [--kernel 3|5] [--groups 3]
 *                              [--backward --batch B]
 *
 * The generator is GAN Compression's MobileResnetGenerator(ngf) (kernel 3, the peer's network;
 * --kernel 5 stores 5x5 depthwise kernels, the elastic supernet) with N(0, 1/fan_in) weights; --arch
 * times a subnet of it (arch text of mobile.h).  --backward times forward + backward (the
 * gradient of sum(y * dy) into the parameters and the input) at batch B instead ("work":
 * "generator_train"; no PyTorch peer runs this shape).  bench/mobile_gan.sh alternates it with the peer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/sys.h"
#include "core/timer.h"
#include "models/gan/mobile.h"

static int usage(const char *why)
{
    fprintf(stderr, "mobile_latency: %s\nusage: mobile_latency [--size N] [--channels C] [--ngf N] [--blocks N] "
                    "[--threads T] [--steps N] [--warmup N] [--arch ARCH] [--kernel 3|5] [--groups G]\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    int size = 32, ch = 1, ngf = 32, blocks = 6, threads = 1, steps = 10, warmup = 3, kernel = 3, groups = 3;
    int backward = 0, batch = 1;
    const char *arch_text = NULL;
    for (int i = 1; i < argc; i++) {
        struct { const char *flag; int *v; } ints[] = {{"--size", &size}, {"--channels", &ch}, {"--ngf", &ngf},
            {"--blocks", &blocks}, {"--threads", &threads}, {"--steps", &steps}, {"--warmup", &warmup},
            {"--kernel", &kernel}, {"--groups", &groups}, {"--batch", &batch}};
        int done = 0;
        for (size_t k = 0; k < sizeof ints / sizeof *ints && !done; k++)
            if (strcmp(argv[i], ints[k].flag) == 0) {
                if (i + 1 >= argc) return usage("a flag without its value");
                char *end;
                long v = strtol(argv[++i], &end, 10);
                if (*end || v < (strcmp(ints[k].flag, "--warmup") ? 1 : 0) || v > 100000) return usage(argv[i]);
                *ints[k].v = (int)v;
                done = 1;
            }
        if (done) continue;
        if (strcmp(argv[i], "--backward") == 0) {
            backward = 1;
            continue;
        }
        if (strcmp(argv[i], "--arch") == 0 && i + 1 < argc) {
            arch_text = argv[++i];
            continue;
        }
        return usage(argv[i]);
    }
    if ((kernel != 3 && kernel != 5) || size % 4 || size < 12 || groups > blocks || groups > OFA_MOBILE_GROUPS_MAX)
        return usage("--kernel 3 or 5, --size a multiple of 4 and >= 12, --groups <= --blocks and <= 8");
    ofa_set_blas_threads(threads);
    ofa_mobile_arch s, arch;
    ofa_mobile_shape_ngf(&s, ngf, groups, kernel);
    ofa_mobile_net net;
    ofa_mobile_net_init(&net, ch, blocks, &s);
    if (arch_text && (ofa_mobile_arch_parse(&arch, arch_text) || ofa_mobile_arch_check(&arch, &net))) {
        fprintf(stderr, "mobile_latency: %s\n", ofa_err_msg());
        return 2;
    }
    ofa_rng r;
    ofa_rng_seed(&r, 0);
    for (int i = 0; i < net.p.n; i++) {
        const ofa_pview *v = &net.p.views[i];
        if (v->ndim == 2) continue; /* the 5to3 matrices stay the identity */
        double sc = v->ndim == 1 ? 0.1 : 1.0 / sqrt((double)v->numel / (double)v->shape[0]);
        for (size_t j = 0; j < v->numel; j++) net.p.data[v->offset + j] = (float)(ofa_rng_normal(&r) * sc);
    }
    if (!backward) batch = 1;
    size_t nx = (size_t)batch * ch * size * size;
    float *x = malloc(nx * sizeof *x), *dy = malloc(nx * sizeof *dy), *dx = malloc(nx * sizeof *dx);
    for (size_t j = 0; j < nx; j++) x[j] = (float)(2 * ofa_rng_uniform(&r) - 1), dy[j] = (float)ofa_rng_normal(&r);
    ofa_mobile_acts a;
    ofa_mobile_acts_create(&a, &net, batch, size, size);
    ofa_mobile_timing t;
    const ofa_mobile_arch *ar = arch_text ? &arch : NULL;
    if (!backward) {
        ofa_mobile_time_forward(&net, &a, ar, x, warmup, steps, &t);
    } else { /* forward + backward, timed like ofa_mobile_time_forward */
        double *ms = malloc((size_t)steps * sizeof *ms);
        for (int i = -warmup; i < steps; i++) {
            double t0 = ofa_now();
            ofa_mobile_forward(&net, &a, ar, x, batch);
            memset(dx, 0, nx * sizeof *dx);
            ofa_mobile_backward(&net, &a, dy, dx);
            if (i >= 0) ms[i] = (ofa_now() - t0) * 1e3;
        }
        t.median_ms = ofa_median_sort(ms, steps);
        t.repeats = steps, t.min_ms = ms[0], t.max_ms = ms[steps - 1];
        free(ms);
    }
    char at[OFA_MOBILE_ARCH_TEXT_MAX];
    ofa_mobile_arch_print(arch_text ? &arch : &s, at, sizeof at);
    printf("{\"peer\": \"ofa\", \"work\": \"%s\", \"gen\": \"mobile\", \"size\": %d, \"channels\": %d, \"ngf\": %d, "
           "\"blocks\": %d, \"arch\": \"%s\", \"batch\": %d, \"threads\": %d, \"ms_per_step\": %.3f, \"min\": %.3f, "
           "\"max\": %.3f, \"macs\": %lld}\n",
           backward ? "generator_train" : "generator", size, ch, ngf, blocks, at, batch, threads, t.median_ms, t.min_ms, t.max_ms,
           (long long)ofa_mobile_arch_macs(ch, blocks, arch_text ? &arch : &s, size, size));
    ofa_mobile_acts_free(&a);
    ofa_mobile_net_free(&net);
    free(x), free(dy), free(dx);
    return 0;
}
