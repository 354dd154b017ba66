/* make fuzz target vocab: the WordPiece vocabulary file reader (datasets/wordpiece ofa_vocab_load)
 * on arbitrary file content; a vocabulary that loads then tokenizes a fixed sentence and the input
 * itself (as text), and every id it gives must be inside the vocabulary. */
#include "tests/fuzz/fuzz_common.h"

#include "datasets/wordpiece.h"

static void encode(const ofa_vocab *v, const char *text)
{
    for (int lc = 0; lc < 2; lc++) {
        int32_t *ids = NULL;
        int64_t n = 0, cap = 0;
        if (ofa_wordpiece_encode(v, lc, text, &ids, &n, &cap) == 0)
            for (int64_t i = 0; i < n; i++)
                if (ids[i] < 0 || ids[i] >= v->n) abort();
        free(ids);
        ofa_err_clear();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) snprintf(path, sizeof path, "%s/vocab.txt", fuzz_dir());
    fuzz_write(path, data, size);
    ofa_vocab v;
    if (ofa_vocab_load(&v, path) == 0) {
        encode(&v, "The quick brown fox, un-believably, jumped over 2 lazy dogs! Caf\xc3\xa9 na\xc3\xafve.");
        if (size < 4096) {
            char text[4097];
            memcpy(text, data, size);
            text[size] = '\0';
            encode(&v, text);
        }
        ofa_vocab_free(&v);
    }
    ofa_err_clear();
    return 0;
}
