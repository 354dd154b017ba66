/* cli/bench: `ofa bench WORK [--model FAMILY] [flags]`, the model family's benchmark against its
 * PyTorch peer (the BERT family's: the same work as ../shared/bench/torch_peer.py). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "models/registry.h"

int cmd_bench(int argc, char **argv)
{
    if (argc < 1 || (strcmp(argv[0], "teacher") && strcmp(argv[0], "supernet") && strcmp(argv[0], "infer") &&
                     strcmp(argv[0], "gemm")))
        return OFA_ERR(OFA_E_USAGE, "'bench' needs the work to time: teacher, supernet, infer or gemm");
    const char *family = "bert";
    char *rest[256];
    int nrest = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model")) {
            if (i + 1 >= argc) return OFA_ERR(OFA_E_USAGE, "--model needs a model family (bert)");
            family = argv[++i];
        } else if (nrest < (int)(sizeof rest / sizeof *rest)) {
            rest[nrest++] = argv[i];
        }
    }
    const ofa_family *f = ofa_family_find(family);
    if (!f) return OFA_ERR(OFA_E_USAGE, "--model %s: not a model family of this build (bert)", family);
    return f->bench(argv[0], nrest, rest);
}
