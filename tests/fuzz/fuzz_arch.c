/* make fuzz target arch: the arch text parser (models/registry ofa_arch_parse, the BERT family's
 * d<depth>-h<heads>-f<ffn>[-e<hidden>] and its shorthand) and the space check, on a 4-layer model
 * with the default config's space; an arch that parses and checks must print back to a text that
 * parses to the same arch. */
#include "tests/fuzz/fuzz_common.h"

#include "core/config.h"
#include "models/bert/bert.h"
#include "models/bert/model.h"
#include "models/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ofa_model m;
    static ofa_space space;
    static int ready;
    if (!ready) {
        (void)fuzz_dir();
        ofa_config c;
        ofa_config_defaults(&c);
        ofa_bert_model *bm = ofa_xcalloc(1, sizeof *bm);
        const ofa_bert_dims d = {20, 16, 32, 4, 1024, 4, 2, 0, 0, 0}; /* V P H A F L C D T eps */
        if (ofa_bert_create(&bm->m, &d) < 0) abort();
        ofa_bert_model_wrap(&m, bm);
        if (ofa_space_from_config(&space, &c, &m, "fuzz") < 0) abort();
        ready = 1;
    }
    if (size > 512) return 0;
    char text[513];
    memcpy(text, data, size);
    text[size] = '\0';
    ofa_arch a, b;
    if (ofa_arch_parse(&a, text, &space) == 0 && ofa_arch_check(&a, &space) == 0) {
        char printed[OFA_ARCH_TEXT_MAX], again[OFA_ARCH_TEXT_MAX];
        ofa_arch_print(&a, &space, printed, sizeof printed);
        if (ofa_arch_parse(&b, printed, &space) != 0) abort();
        ofa_arch_print(&b, &space, again, sizeof again);
        if (strcmp(printed, again) != 0) abort();
    }
    ofa_err_clear();
    return 0;
}
