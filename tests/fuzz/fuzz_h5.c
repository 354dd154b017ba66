/* make fuzz target h5: opening a checkpoint (core/h5io's checksum, then models/checkpoint's loader:
 * attributes, shapes, weights, vocabulary) on arbitrary file bytes.  The seeds are real ofa files
 * (with the whole-file checksum block), so most mutants are refused by the checksum before libhdf5
 * reads them: that is the path a corrupted file takes.  With FUZZ_H5_RESEAL=1 the harness
 * recomputes the block of each input first, so the mutants reach libhdf5 and the loader: files
 * that are damaged but carry a matching checksum (a buggy or hostile writer). */
#include "tests/fuzz/fuzz_common.h"

#include <zlib.h>

#include "core/h5io.h"
#include "models/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    static int reseal = -1;
    if (!path[0]) snprintf(path, sizeof path, "%s/ckpt.h5", fuzz_dir());
    if (reseal < 0) reseal = getenv("FUZZ_H5_RESEAL") && !strcmp(getenv("FUZZ_H5_RESEAL"), "1");
    if (reseal && size > OFA_H5_USERBLOCK && size < (1u << 30)) {
        uint8_t *b = malloc(size);
        memcpy(b, data, size);
        char blk[OFA_H5_USERBLOCK] = {0};
        uLong c = crc32(crc32(0L, Z_NULL, 0), b + OFA_H5_USERBLOCK, (uInt)(size - OFA_H5_USERBLOCK));
        snprintf(blk, sizeof blk, "ofa-h5-checksum 1\ncrc32 %08lx\nbytes %zu\n", c, size - OFA_H5_USERBLOCK);
        memcpy(b, blk, sizeof blk);
        fuzz_write(path, b, size);
        free(b);
    } else {
        fuzz_write(path, data, size);
    }
    ofa_model m;
    ofa_ckpt_meta meta;
    if (ofa_ckpt_load_model(path, &m, &meta, NULL) >= 0) {
        ofa_model_free(&m);
        ofa_ckpt_meta_free(&meta);
    }
    ofa_err_clear();
    return 0;
}
