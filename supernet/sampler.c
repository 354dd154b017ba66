#include "supernet/sampler.h"

#include <string.h>

#include "core/error.h"
#include "core/rng.h"

int ofa_supernet_plan(const ofa_config *c, const ofa_space *s, int elastic, int64_t step, ofa_arch *archs)
{
    const enum ofa_sampler strategy = c->supernet.sampler;
    if (strategy == OFA_SAMPLER_GRID) {
        int n = ofa_arch_grid(NULL, s, elastic);
        OFA_ASSERT(n <= OFA_MAX_SUBNETS);
        return ofa_arch_grid(archs, s, elastic);
    }
    int n = c->supernet.subnets_per_step;
    OFA_ASSERT(n >= 1 && n <= OFA_MAX_SUBNETS);
    for (int j = 0; j < n; j++) {
        ofa_rng r;
        ofa_rng_keyed(&r, (uint64_t)c->experiment.seed ^ OFA_STREAM_SUBNET, (uint64_t)step, (uint64_t)j);
        if (strategy == OFA_SAMPLER_SANDWICH && j == 0) ofa_arch_largest(&archs[j], s);
        else if (strategy == OFA_SAMPLER_SANDWICH && j == 1) ofa_arch_smallest(&archs[j], s, elastic);
        else ofa_arch_random(&archs[j], s, elastic, &r);
    }
    return n;
}
