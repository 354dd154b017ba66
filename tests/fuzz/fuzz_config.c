/* make fuzz target config: the YAML config reader (core/config) on arbitrary text, as a file's
 * content and, split at the first newline, as one --set override after it. */
#include "tests/fuzz/fuzz_common.h"

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fuzz_dir();
    ofa_config c;
    ofa_config_parse(&c, (const char *)data, size, "fuzz.yaml", NULL, 0);
    ofa_err_clear();
    /* the first line as an override of an otherwise empty config */
    const uint8_t *nl = memchr(data, '\n', size);
    size_t k = nl ? (size_t)(nl - data) : size;
    if (k < 4096) {
        char set[4096];
        memcpy(set, data, k);
        set[k] = '\0';
        const char *o[1] = {set};
        ofa_config_parse(&c, "", 0, "fuzz.yaml", o, 1);
        ofa_err_clear();
    }
    return 0;
}
