/* supernet/sampler: which subnets a supernet step trains, for any model family.
 *
 * The step plan is a pure function of (seed, step, j): subnet j of step s comes from the RNG keyed
 * (seed ^ OFA_STREAM_SUBNET, s, j) under supernet.sampler (sandwich: the largest, the smallest, then
 * random ones; random; grid: every point of the family's grid the phase allows), so a resumed or
 * distributed run replays the same work.  The RNG stream tags of the supernet stage live here too,
 * so the streams keyed by (seed, step, j) never coincide.  Not collective; no state.
 */
#ifndef OFA_SUPERNET_SAMPLER_H
#define OFA_SUPERNET_SAMPLER_H

#include <stdint.h>

#include "core/config.h"
#include "models/registry.h"

#define OFA_STREAM_SUBNET 0x5ab7e7ULL
#define OFA_STREAM_DROPOUT 0xd50ULL
#define OFA_STREAM_ORDER 0x0bdeULL

/* room for the subnets of one step */
#define OFA_MAX_SUBNETS 256

/* The subnets of step `step` for a phase with elastic mask `elastic`: fills archs (room for
 * OFA_MAX_SUBNETS) and returns how many. */
int ofa_supernet_plan(const ofa_config *c, const ofa_space *s, int elastic, int64_t step, ofa_arch *archs);

#endif
