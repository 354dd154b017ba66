/* datasets/wordpiece: BERT's basic + WordPiece tokenizer and the vocabulary (see wordpiece.h).
 *
 * Follows google-research/bert tokenization.py: _clean_text, _tokenize_chinese_chars, lowercase +
 * _run_strip_accents (NFD, drop Mn), _run_split_on_punc, then greedy longest-match-first WordPiece.
 * Lowercasing uses utf8proc's simple per-code-point mapping (Python's str.lower() may expand a few
 * rare characters, e.g. U+0130, whose extra marks accent stripping removes anyway).
 */
#include "datasets/wordpiece.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "core/strtab.h"

#define MAX_INPUT_CHARS_PER_WORD 100

static int32_t vocab_lookup(const ofa_vocab *v, const char *s, size_t len)
{
    return (int32_t)ofa_strtab_find(&v->index, v->tok, s, len);
}

int32_t ofa_vocab_id(const ofa_vocab *v, const char *tok) { return vocab_lookup(v, tok, strlen(tok)); }

void ofa_vocab_free(ofa_vocab *v)
{
    if (!v) return;
    for (int32_t i = 0; i < v->n; i++) free(v->tok[i]);
    free(v->tok);
    ofa_strtab_free(&v->index);
    memset(v, 0, sizeof *v);
}

/* takes ownership of tok[0..n); indexes it (of equal lines the later wins, like Python's dict in
 * BERT's load_vocab) and finds the special tokens */
static int vocab_finish(ofa_vocab *v, char **tok, int32_t n)
{
    v->tok = tok;
    v->n = n;
    ofa_strtab_init(&v->index, ofa_strtab_key_strv, n);
    for (int32_t i = 0; i < n; i++) ofa_strtab_put(&v->index, tok, i);
    v->pad = ofa_vocab_id(v, "[PAD]");
    v->unk = ofa_vocab_id(v, "[UNK]");
    v->cls = ofa_vocab_id(v, "[CLS]");
    v->sep = ofa_vocab_id(v, "[SEP]");
    v->mask = ofa_vocab_id(v, "[MASK]");
    const char *missing = v->pad < 0   ? "[PAD]"
                          : v->unk < 0 ? "[UNK]"
                          : v->cls < 0 ? "[CLS]"
                          : v->sep < 0 ? "[SEP]"
                                       : NULL;
    if (missing) {
        ofa_vocab_free(v);
        return OFA_ERR(OFA_E_FORMAT, "vocabulary of %d tokens lacks the special token %s", (int)n, missing);
    }
    return 0;
}

int ofa_vocab_from_strings(ofa_vocab *v, const char *const *toks, int32_t n)
{
    memset(v, 0, sizeof *v);
    OFA_ASSERT(n >= 0);
    char **tok = ofa_xmalloc((size_t)(n ? n : 1) * sizeof *tok);
    for (int32_t i = 0; i < n; i++) tok[i] = ofa_xstrdup(toks[i]);
    return vocab_finish(v, tok, n);
}

static int is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

int ofa_vocab_load(ofa_vocab *v, const char *path)
{
    memset(v, 0, sizeof *v);
    FILE *f = fopen(path, "rb");
    if (!f) return OFA_ERR(OFA_E_IO, "%s: %s (vocabulary file, see data.vocab_file)", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = ofa_xmalloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 >= cap) buf = ofa_xrealloc(buf, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return OFA_ERR(OFA_E_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    int32_t n = 0, tcap = 1024;
    char **tok = ofa_xmalloc((size_t)tcap * sizeof *tok);
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        *eol = '\0';
        /* token = line.strip() as in BERT's load_vocab */
        char *s = p, *e = eol;
        while (s < e && is_ascii_space(*s)) s++;
        while (e > s && is_ascii_space(e[-1])) *--e = '\0';
        if (n == tcap) tok = ofa_xrealloc(tok, (size_t)(tcap *= 2) * sizeof *tok);
        tok[n++] = ofa_xstrdup(s);
        p = eol + 1;
    }
    free(buf);
    int rc = vocab_finish(v, tok, n);
    if (rc < 0) return ofa_err_prefix(rc, "%s", path);
    return 0;
}

/* ---- basic tokenizer ---- */

typedef struct cpbuf {
    int32_t *c;
    int64_t n, cap;
} cpbuf;

static void cp_push(cpbuf *b, int32_t c)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->c = ofa_xrealloc(b->c, (size_t)b->cap * sizeof *b->c);
    }
    b->c[b->n++] = c;
}

/* NUL-separated words in one buffer */
typedef struct wordbuf {
    char *buf;
    size_t len, cap;
    int64_t *start;
    int64_t n, cap_w;
} wordbuf;

static void wb_reset(wordbuf *w)
{
    w->len = 0;
    w->n = 0;
}

static void wb_free(wordbuf *w)
{
    free(w->buf);
    free(w->start);
    memset(w, 0, sizeof *w);
}

static void wb_add(wordbuf *w, const int32_t *cp, int64_t n)
{
    if (n <= 0) return;
    size_t need = w->len + 4 * (size_t)n + 1;
    if (need > w->cap) {
        while (need > w->cap) w->cap = w->cap ? 2 * w->cap : 1024;
        w->buf = ofa_xrealloc(w->buf, w->cap);
    }
    if (w->n == w->cap_w) {
        w->cap_w = w->cap_w ? 2 * w->cap_w : 64;
        w->start = ofa_xrealloc(w->start, (size_t)w->cap_w * sizeof *w->start);
    }
    w->start[w->n++] = (int64_t)w->len;
    for (int64_t i = 0; i < n; i++)
        w->len += (size_t)utf8proc_encode_char(cp[i], (utf8proc_uint8_t *)w->buf + w->len);
    w->buf[w->len++] = '\0';
}

static int is_whitespace(int32_t c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return 1;
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

static int is_control(int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF;
}

static int is_punctuation(int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

static int is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* separators for whitespace_tokenize (Python's str.split()) after _clean_text: space, U+2028, U+2029 */
static int is_split_space(int32_t c) { return c == ' ' || c == 0x2028 || c == 0x2029; }

typedef struct basic_scratch {
    cpbuf text, word, nfd;
    char *u8;
    size_t u8cap;
} basic_scratch;

static void scratch_free(basic_scratch *s)
{
    free(s->text.c);
    free(s->word.c);
    free(s->nfd.c);
    free(s->u8);
}

static int is_cased(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

static int is_case_ignorable(int32_t c)
{
    switch (c) {
    case '\'': case '.': case ':': case 0xB7: case 0x387: case 0x5F4: case 0x2018: case 0x2019: case 0x2024:
    case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A: return 1;
    default: break;
    }
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
}

/* Python's str.lower(): capital sigma becomes final sigma at the end of a word (Final_Sigma) */
static int32_t lower_at(const int32_t *cp, int64_t n, int64_t i)
{
    if (cp[i] != 0x3A3) return utf8proc_tolower(cp[i]);
    int64_t j = i - 1;
    while (j >= 0 && is_case_ignorable(cp[j])) j--;
    if (j < 0 || !is_cased(cp[j])) return 0x3C3;
    j = i + 1;
    while (j < n && is_case_ignorable(cp[j])) j++;
    return j < n && is_cased(cp[j]) ? 0x3C3 : 0x3C2;
}

/* lowercase + NFD + drop Mn, word -> s->nfd */
static void lower_strip(basic_scratch *s, const int32_t *cp, int64_t n)
{
    s->nfd.n = 0;
    int ascii = 1;
    for (int64_t i = 0; i < n; i++) ascii &= cp[i] < 128;
    if (ascii) {
        for (int64_t i = 0; i < n; i++) cp_push(&s->nfd, cp[i] >= 'A' && cp[i] <= 'Z' ? cp[i] + 32 : cp[i]);
        return;
    }
    size_t need = 4 * (size_t)n + 1;
    if (need > s->u8cap) {
        s->u8cap = need * 2;
        s->u8 = ofa_xrealloc(s->u8, s->u8cap);
    }
    size_t len = 0;
    for (int64_t i = 0; i < n; i++)
        len += (size_t)utf8proc_encode_char(lower_at(cp, n, i), (utf8proc_uint8_t *)s->u8 + len);
    s->u8[len] = '\0';
    utf8proc_uint8_t *d = utf8proc_NFD((const utf8proc_uint8_t *)s->u8);
    OFA_ASSERT(d != NULL); /* input is valid UTF-8 we encoded ourselves */
    for (const utf8proc_uint8_t *p = d; *p;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p, -1, &c);
        OFA_ASSERT(k > 0);
        p += k;
        if (utf8proc_category(c) != UTF8PROC_CATEGORY_MN) cp_push(&s->nfd, c);
    }
    free(d);
}

/* the basic tokenizer: words of text appended to w */
static void basic_words(basic_scratch *s, const char *text, int lowercase, wordbuf *w)
{
    /* decode (invalid bytes dropped, like decode("utf-8", "ignore")), _clean_text, CJK spacing */
    s->text.n = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    while (*p) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p, -1, &c);
        if (k <= 0) {
            p++;
            continue;
        }
        p += k;
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_whitespace(c)) {
            cp_push(&s->text, ' ');
        } else if (is_cjk(c)) {
            cp_push(&s->text, ' ');
            cp_push(&s->text, c);
            cp_push(&s->text, ' ');
        } else {
            cp_push(&s->text, c);
        }
    }
    const int32_t *t = s->text.c;
    int64_t n = s->text.n;
    for (int64_t i = 0; i < n;) {
        while (i < n && is_split_space(t[i])) i++;
        int64_t j = i;
        while (j < n && !is_split_space(t[j])) j++;
        if (j == i) break;
        const int32_t *word = t + i;
        int64_t len = j - i;
        if (lowercase) {
            lower_strip(s, word, len);
            word = s->nfd.c;
            len = s->nfd.n;
        }
        /* _run_split_on_punc */
        int64_t a = 0;
        for (int64_t k = 0; k < len; k++) {
            if (!is_punctuation(word[k])) continue;
            wb_add(w, word + a, k - a);
            wb_add(w, word + k, 1);
            a = k + 1;
        }
        wb_add(w, word + a, len - a);
        i = j;
    }
}

int ofa_basic_tokenize(const char *text, int lowercase, char ***words, int64_t *n, int64_t *cap)
{
    basic_scratch s = {0};
    wordbuf w = {0};
    basic_words(&s, text, lowercase, &w);
    if (*n + w.n > *cap) {
        while (*n + w.n > *cap) *cap = *cap ? 2 * *cap : 16;
        *words = ofa_xrealloc(*words, (size_t)*cap * sizeof **words);
    }
    for (int64_t i = 0; i < w.n; i++) (*words)[(*n)++] = ofa_xstrdup(w.buf + w.start[i]);
    wb_free(&w);
    scratch_free(&s);
    return 0;
}

/* ---- WordPiece ---- */

static void ids_push(int32_t **ids, int64_t *n, int64_t *cap, int32_t id)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *ids = ofa_xrealloc(*ids, (size_t)*cap * sizeof **ids);
    }
    (*ids)[(*n)++] = id;
}

/* greedy longest-match-first over one word; appends ids (or [UNK]) */
static void wordpiece_word(const ofa_vocab *v, const char *word, int32_t **ids, int64_t *n, int64_t *cap,
                           char **key, size_t *key_cap)
{
    size_t blen = strlen(word);
    int32_t off[MAX_INPUT_CHARS_PER_WORD + 1];
    int nc = 0;
    for (size_t i = 0; i < blen; i++) {
        if (((unsigned char)word[i] & 0xC0) == 0x80) continue;
        if (nc == MAX_INPUT_CHARS_PER_WORD) {
            ids_push(ids, n, cap, v->unk);
            return;
        }
        off[nc++] = (int32_t)i;
    }
    off[nc] = (int32_t)blen;
    if (blen + 3 > *key_cap) {
        *key_cap = blen + 3;
        *key = ofa_xrealloc(*key, *key_cap);
    }
    int64_t n0 = *n;
    for (int start = 0; start < nc;) {
        int end = nc, found = -1;
        while (start < end) {
            size_t len = (size_t)(off[end] - off[start]);
            const char *s = word + off[start];
            if (start > 0) {
                memcpy(*key, "##", 2);
                memcpy(*key + 2, s, len);
                s = *key;
                len += 2;
            }
            int32_t id = vocab_lookup(v, s, len);
            if (id >= 0) {
                found = id;
                break;
            }
            end--;
        }
        if (found < 0) {
            *n = n0;
            ids_push(ids, n, cap, v->unk);
            return;
        }
        ids_push(ids, n, cap, found);
        start = end;
    }
}

int ofa_wordpiece_encode(const ofa_vocab *v, int lowercase, const char *text, int32_t **ids, int64_t *n,
                         int64_t *cap)
{
    basic_scratch s = {0};
    wordbuf w = {0};
    basic_words(&s, text, lowercase, &w);
    char *key = NULL;
    size_t key_cap = 0;
    for (int64_t i = 0; i < w.n; i++) wordpiece_word(v, w.buf + w.start[i], ids, n, cap, &key, &key_cap);
    free(key);
    wb_free(&w);
    scratch_free(&s);
    return 0;
}

/* ---- vocabulary builder ---- */

typedef struct pair_rec {
    int32_t a, b;
    int64_t count;
    int32_t *words; /* words that contain (or once contained) the pair */
    int32_t nw, capw;
} pair_rec;

typedef struct heap_ent {
    int64_t count;
    int32_t pair;
} heap_ent;

typedef struct builder {
    char **tok; /* token strings = symbol ids */
    int32_t ntok, captok;
    ofa_strtab tindex; /* token string -> symbol id */
    pair_rec *pairs;
    int32_t npairs, cappairs;
    int32_t *pslots; /* (a,b) -> pair index */
    int64_t n_pslots;
    heap_ent *heap;
    int64_t nheap, capheap;
} builder;

static int32_t b_add_token(builder *B, char *s) /* takes ownership */
{
    if (B->ntok == B->captok) {
        B->captok = B->captok ? 2 * B->captok : 256;
        B->tok = ofa_xrealloc(B->tok, (size_t)B->captok * sizeof *B->tok);
    }
    B->tok[B->ntok] = s;
    ofa_strtab_put(&B->tindex, B->tok, B->ntok);
    return B->ntok++;
}

static uint64_t pair_hash(int32_t a, int32_t b)
{
    uint64_t x = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static void pslots_rebuild(builder *B, int64_t ns)
{
    free(B->pslots);
    B->pslots = ofa_xmalloc((size_t)ns * sizeof *B->pslots);
    for (int64_t i = 0; i < ns; i++) B->pslots[i] = -1;
    B->n_pslots = ns;
    uint64_t mask = (uint64_t)ns - 1;
    for (int32_t p = 0; p < B->npairs; p++) {
        uint64_t i = pair_hash(B->pairs[p].a, B->pairs[p].b) & mask;
        while (B->pslots[i] >= 0) i = (i + 1) & mask;
        B->pslots[i] = p;
    }
}

static int32_t b_pair(builder *B, int32_t a, int32_t b)
{
    uint64_t mask = (uint64_t)B->n_pslots - 1, i = pair_hash(a, b) & mask;
    for (; B->pslots[i] >= 0; i = (i + 1) & mask) {
        pair_rec *r = &B->pairs[B->pslots[i]];
        if (r->a == a && r->b == b) return B->pslots[i];
    }
    if (B->npairs == B->cappairs) {
        B->cappairs = B->cappairs ? 2 * B->cappairs : 1024;
        B->pairs = ofa_xrealloc(B->pairs, (size_t)B->cappairs * sizeof *B->pairs);
    }
    int32_t p = B->npairs++;
    B->pairs[p] = (pair_rec){a, b, 0, NULL, 0, 0};
    B->pslots[i] = p;
    if (2 * (int64_t)B->npairs > B->n_pslots) pslots_rebuild(B, 2 * B->n_pslots);
    return p;
}

static void pair_add_word(pair_rec *r, int32_t w)
{
    if (r->nw && r->words[r->nw - 1] == w) return;
    if (r->nw == r->capw) {
        r->capw = r->capw ? 2 * r->capw : 4;
        r->words = ofa_xrealloc(r->words, (size_t)r->capw * sizeof *r->words);
    }
    r->words[r->nw++] = w;
}

/* heap order: higher count first, then the lexicographically smaller (left, right) strings */
static int heap_better(const builder *B, heap_ent x, heap_ent y)
{
    if (x.count != y.count) return x.count > y.count;
    const pair_rec *p = &B->pairs[x.pair], *q = &B->pairs[y.pair];
    int c = strcmp(B->tok[p->a], B->tok[q->a]);
    if (c) return c < 0;
    return strcmp(B->tok[p->b], B->tok[q->b]) < 0;
}

static void heap_push(builder *B, heap_ent e)
{
    if (B->nheap == B->capheap) {
        B->capheap = B->capheap ? 2 * B->capheap : 1024;
        B->heap = ofa_xrealloc(B->heap, (size_t)B->capheap * sizeof *B->heap);
    }
    int64_t i = B->nheap++;
    while (i > 0) {
        int64_t par = (i - 1) / 2;
        if (!heap_better(B, e, B->heap[par])) break;
        B->heap[i] = B->heap[par];
        i = par;
    }
    B->heap[i] = e;
}

static heap_ent heap_pop(builder *B)
{
    heap_ent top = B->heap[0], last = B->heap[--B->nheap];
    int64_t i = 0, n = B->nheap;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_better(B, B->heap[c + 1], B->heap[c])) c++;
        if (!heap_better(B, B->heap[c], last)) break;
        B->heap[i] = B->heap[c];
        i = c;
    }
    if (n > 0) B->heap[i] = last;
    return top;
}

typedef struct bword {
    int32_t *sym;
    int32_t len;
    int64_t count;
} bword;

typedef struct charfreq {
    int32_t cp;
    int64_t count;
} charfreq;

static int cf_by_cp(const void *pa, const void *pb)
{
    const charfreq *a = pa, *b = pb;
    return (a->cp > b->cp) - (a->cp < b->cp);
}

static int cf_by_freq(const void *pa, const void *pb)
{
    const charfreq *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return (a->cp > b->cp) - (a->cp < b->cp);
}

static int str_ptr_cmp(const void *pa, const void *pb) { return strcmp(*(char *const *)pa, *(char *const *)pb); }

static char *cp_to_str(const char *prefix, int32_t cp)
{
    char *s = ofa_xmalloc(8);
    size_t k = strlen(prefix);
    memcpy(s, prefix, k);
    k += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)s + k);
    s[k] = '\0';
    return s;
}

int ofa_vocab_build(ofa_vocab *v, const char *const *texts, int64_t n, int32_t size, int lowercase)
{
    memset(v, 0, sizeof *v);
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    if (size < 5)
        return OFA_ERR(OFA_E_CONFIG, "data.vocab_size = %d is too small (minimum 5 for the special tokens)", size);

    /* 1. word counts */
    char **wkeys = NULL;
    int64_t *wcount = NULL;
    int32_t nwords = 0, capw = 0;
    ofa_strtab windex; /* word -> index into wkeys */
    ofa_strtab_init(&windex, ofa_strtab_key_strv, 512);
    basic_scratch sc = {0};
    wordbuf wb = {0};
    for (int64_t t = 0; t < n; t++) {
        wb_reset(&wb);
        basic_words(&sc, texts[t], lowercase, &wb);
        for (int64_t i = 0; i < wb.n; i++) {
            const char *w = wb.buf + wb.start[i];
            size_t len = strlen(w);
            int32_t id = (int32_t)ofa_strtab_find(&windex, wkeys, w, len);
            if (id < 0) {
                if (nwords == capw) {
                    capw = capw ? 2 * capw : 1024;
                    wkeys = ofa_xrealloc(wkeys, (size_t)capw * sizeof *wkeys);
                    wcount = ofa_xrealloc(wcount, (size_t)capw * sizeof *wcount);
                }
                id = nwords++;
                wkeys[id] = ofa_xstrdup(w);
                wcount[id] = 0;
                ofa_strtab_put(&windex, wkeys, id);
            }
            wcount[id]++;
        }
    }
    wb_free(&wb);
    scratch_free(&sc);

    /* 2. words in sorted order (determinism independent of hashing), as code points */
    int32_t *order = ofa_xmalloc((size_t)(nwords ? nwords : 1) * sizeof *order);
    {
        char **sorted = ofa_xmalloc((size_t)(nwords ? nwords : 1) * sizeof *sorted);
        if (nwords > 0) {
            memcpy(sorted, wkeys, (size_t)nwords * sizeof *sorted);
            qsort(sorted, (size_t)nwords, sizeof *sorted, str_ptr_cmp);
        }
        /* recover ids: sorted holds the same pointers */
        for (int32_t i = 0; i < nwords; i++)
            order[i] = (int32_t)ofa_strtab_find(&windex, wkeys, sorted[i], strlen(sorted[i]));
        free(sorted);
    }
    ofa_strtab_free(&windex);
    cpbuf allcp = {0};
    int64_t *wstart = ofa_xmalloc(((size_t)nwords + 1) * sizeof *wstart);
    for (int32_t i = 0; i < nwords; i++) {
        wstart[i] = allcp.n;
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)wkeys[order[i]];
        while (*p) {
            utf8proc_int32_t c;
            utf8proc_ssize_t k = utf8proc_iterate(p, -1, &c);
            OFA_ASSERT(k > 0);
            p += k;
            cp_push(&allcp, c);
        }
    }
    wstart[nwords] = allcp.n;

    /* 3. alphabet: character frequencies over word occurrences */
    charfreq *cf = ofa_xmalloc((size_t)(allcp.n ? allcp.n : 1) * sizeof *cf);
    int64_t ncf = 0;
    for (int32_t i = 0; i < nwords; i++)
        for (int64_t k = wstart[i]; k < wstart[i + 1]; k++) cf[ncf++] = (charfreq){allcp.c[k], wcount[order[i]]};
    qsort(cf, (size_t)ncf, sizeof *cf, cf_by_cp);
    int64_t nch = 0;
    for (int64_t i = 0; i < ncf; i++) {
        if (nch && cf[nch - 1].cp == cf[i].cp) cf[nch - 1].count += cf[i].count;
        else cf[nch++] = cf[i];
    }
    int64_t budget = (size - 5) / 2;
    if (nch > budget) { /* keep the most frequent characters (rare ones, seen once, go first) */
        qsort(cf, (size_t)nch, sizeof *cf, cf_by_freq);
        nch = budget;
        qsort(cf, (size_t)nch, sizeof *cf, cf_by_cp);
    }

    builder B = {0};
    ofa_strtab_init(&B.tindex, ofa_strtab_key_strv, 512);
    for (int i = 0; i < 5; i++) b_add_token(&B, ofa_xstrdup(specials[i]));
    int32_t first_init = B.ntok;
    for (int64_t i = 0; i < nch; i++) b_add_token(&B, cp_to_str("", cf[i].cp));
    int32_t first_cont = B.ntok;
    for (int64_t i = 0; i < nch; i++) b_add_token(&B, cp_to_str("##", cf[i].cp));

    /* 4. words as symbol sequences (words with a dropped char or too long never merge) */
    bword *words = ofa_xmalloc((size_t)(nwords ? nwords : 1) * sizeof *words);
    int32_t nbw = 0;
    for (int32_t i = 0; i < nwords; i++) {
        int64_t len = wstart[i + 1] - wstart[i];
        if (len < 2 || len > MAX_INPUT_CHARS_PER_WORD) continue;
        int32_t *sym = ofa_xmalloc((size_t)len * sizeof *sym);
        int ok = 1;
        for (int64_t k = 0; k < len && ok; k++) {
            charfreq key = {allcp.c[wstart[i] + k], 0};
            charfreq *hit = bsearch(&key, cf, (size_t)nch, sizeof *cf, cf_by_cp);
            if (!hit) ok = 0;
            else sym[k] = (k ? first_cont : first_init) + (int32_t)(hit - cf);
        }
        if (!ok) {
            free(sym);
            continue;
        }
        words[nbw++] = (bword){sym, (int32_t)len, wcount[order[i]]};
    }
    free(cf);
    free(allcp.c);
    free(wstart);
    free(order);
    for (int32_t i = 0; i < nwords; i++) free(wkeys[i]);
    free(wkeys);
    free(wcount);

    /* 5. initial pair counts */
    pslots_rebuild(&B, 1 << 12);
    for (int32_t w = 0; w < nbw; w++)
        for (int32_t k = 0; k + 1 < words[w].len; k++) {
            int32_t p = b_pair(&B, words[w].sym[k], words[w].sym[k + 1]);
            B.pairs[p].count += words[w].count;
            pair_add_word(&B.pairs[p], w);
        }
    for (int32_t p = 0; p < B.npairs; p++) heap_push(&B, (heap_ent){B.pairs[p].count, p});

    /* 6. merges */
    int32_t *wstamp = ofa_xcalloc((size_t)(nbw ? nbw : 1), sizeof *wstamp);
    int32_t *pstamp = NULL, stamp = 0, *touched = NULL;
    int64_t ntouched = 0, cap_touched = 0, cap_pstamp = 0;
    while (B.ntok < size && B.nheap > 0) {
        heap_ent top = heap_pop(&B);
        if (top.count <= 0 || top.count != B.pairs[top.pair].count) continue; /* stale */
        int32_t A = B.pairs[top.pair].a, Bs = B.pairs[top.pair].b;
        size_t la = strlen(B.tok[A]), lb = strlen(B.tok[Bs]) - 2;
        char *merged = ofa_xmalloc(la + lb + 1);
        memcpy(merged, B.tok[A], la);
        memcpy(merged + la, B.tok[Bs] + 2, lb + 1);
        int32_t C = (int32_t)ofa_strtab_find(&B.tindex, B.tok, merged, la + lb);
        if (C < 0) C = b_add_token(&B, merged);
        else free(merged);
        stamp++;
        ntouched = 0;
        for (int32_t wi = 0; wi < B.pairs[top.pair].nw; wi++) {
            int32_t w = B.pairs[top.pair].words[wi];
            if (wstamp[w] == stamp) continue;
            wstamp[w] = stamp;
            bword *W = &words[w];
            int has = 0;
            for (int32_t k = 0; k + 1 < W->len && !has; k++) has = W->sym[k] == A && W->sym[k + 1] == Bs;
            if (!has) continue;
            for (int pass = 0; pass < 2; pass++) {
                if (pass == 1) { /* rewrite */
                    int32_t j = 0;
                    for (int32_t k = 0; k < W->len; k++) {
                        if (k + 1 < W->len && W->sym[k] == A && W->sym[k + 1] == Bs) {
                            W->sym[j++] = C;
                            k++;
                        } else {
                            W->sym[j++] = W->sym[k];
                        }
                    }
                    W->len = j;
                }
                for (int32_t k = 0; k + 1 < W->len; k++) {
                    int32_t p = b_pair(&B, W->sym[k], W->sym[k + 1]);
                    B.pairs[p].count += pass ? W->count : -W->count;
                    if (pass && (W->sym[k] == C || W->sym[k + 1] == C)) pair_add_word(&B.pairs[p], w);
                    if (p >= cap_pstamp) {
                        int64_t nc = cap_pstamp ? cap_pstamp : 1024;
                        while (nc <= p) nc *= 2;
                        pstamp = ofa_xrealloc(pstamp, (size_t)nc * sizeof *pstamp);
                        memset(pstamp + cap_pstamp, 0, (size_t)(nc - cap_pstamp) * sizeof *pstamp);
                        cap_pstamp = nc;
                    }
                    if (pstamp[p] != stamp) {
                        pstamp[p] = stamp;
                        if (ntouched == cap_touched) {
                            cap_touched = cap_touched ? 2 * cap_touched : 1024;
                            touched = ofa_xrealloc(touched, (size_t)cap_touched * sizeof *touched);
                        }
                        touched[ntouched++] = p;
                    }
                }
            }
        }
        for (int64_t i = 0; i < ntouched; i++) {
            int32_t p = touched[i];
            if (B.pairs[p].count > 0) heap_push(&B, (heap_ent){B.pairs[p].count, p});
        }
    }
    free(wstamp);
    free(pstamp);
    free(touched);
    for (int32_t w = 0; w < nbw; w++) free(words[w].sym);
    free(words);
    for (int32_t p = 0; p < B.npairs; p++) free(B.pairs[p].words);
    free(B.pairs);
    free(B.pslots);
    free(B.heap);
    ofa_strtab_free(&B.tindex);
    return vocab_finish(v, B.tok, B.ntok);
}
