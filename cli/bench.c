/* cli/bench: `ofa bench WORK [flags]`, a model family's benchmark against its PyTorch peer (BERT's:
 * the work of ../shared/bench/torch_peer.py; a CycleGAN's: ../shared/bench/torch_peer_gan.py).
 * WORK picks the family: the one whose bench_works lists it. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "models/registry.h"

static const ofa_family *family_of_work(const char *work)
{
    for (int id = 0; id < OFA_FAMILY_COUNT; id++) {
        const ofa_family *f = ofa_family_get(id);
        for (const char *const *w = f->bench_works; w && *w; w++)
            if (!strcmp(*w, work)) return f;
    }
    return NULL;
}

int cmd_bench(int argc, char **argv)
{
    const ofa_family *f = argc >= 1 ? family_of_work(argv[0]) : NULL;
    if (!f) {
        char works[256] = "";
        size_t n = 0;
        for (int id = 0; id < OFA_FAMILY_COUNT; id++)
            for (const char *const *w = ofa_family_get(id)->bench_works; w && *w; w++)
                if (n < sizeof works) n += (size_t)snprintf(works + n, sizeof works - n, "%s%s", n ? ", " : "", *w);
        return OFA_ERR(OFA_E_USAGE, "'bench' needs the work to time: %s", works);
    }
    return f->bench(argv[0], argc - 1, argv + 1);
}
