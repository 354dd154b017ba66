/* models/gan/translate: `ofa translate G.h5 [--direction AtoB|BtoA] [--split S] [--n N] -o OUT`
 * (usage in commands.c): the first N images of the source class of a split through the generator
 * and back, written as OUT.png (one row per image: input | translated | reconstructed) and OUT.h5
 * (an image set: /inputs, /outputs = the translated images, as `ofa fid` reads them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "datasets/fmnist.h"
#include "datasets/images.h"
#include "models/gan/commands.h"
#include "models/gan/file.h"
#include "models/gan/model.h"
#include "models/gan/super.h"

int ofa_gan_cmd_translate(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *dir_text = "AtoB", *split_text = "test", *data = NULL;
    int64_t n = 16;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--direction") || !strcmp(s, "--split") || !strcmp(s, "--n") || !strcmp(s, "-o") ||
            !strcmp(s, "--data")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "%s needs a value", s);
            if (!strcmp(s, "--direction")) dir_text = v;
            else if (!strcmp(s, "--split")) split_text = v;
            else if (!strcmp(s, "-o")) out = v;
            else if (!strcmp(s, "--data")) data = v;
            else {
                char *end = NULL;
                long long k = strtoll(v, &end, 10);
                if (!end || *end || k < 1 || k > 100000)
                    return OFA_ERR(OFA_E_USAGE, "--n: expected an image count 1..100000, not '%s'", v);
                n = k;
            }
            i++;
        } else if (s[0] == '-' && s[1]) {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'translate'", s);
        } else if (!in) {
            in = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!in || !out) return OFA_ERR(OFA_E_USAGE, "'translate' needs a generator file and -o OUT");
    if (!out[0]) return OFA_ERR(OFA_E_USAGE, "-o needs a name (OUT.png and OUT.h5 are written)");
    char png[OFA_PATH_MAX + 8], h5[OFA_PATH_MAX + 8];
    snprintf(png, sizeof png, "%s.png", out);
    snprintf(h5, sizeof h5, "%s.h5", out);
    OFA_TRY(ofa_refuse_output_is_input("-o", h5, in));
    OFA_TRY(ofa_refuse_output_is_input("-o", png, in));
    if (ofa_is_dir(h5) || ofa_is_dir(png))
        return OFA_ERR(OFA_E_USAGE, "-o %s: %s.h5 or %s.png is a folder", out, out, out);
    int dir;
    if (!strcmp(dir_text, "AtoB")) dir = 0;
    else if (!strcmp(dir_text, "BtoA")) dir = 1;
    else return OFA_ERR(OFA_E_USAGE, "--direction: expected AtoB or BtoA, not '%s'", dir_text);
    int split;
    if (!strcmp(split_text, "test")) split = OFA_SPLIT_TEST;
    else if (!strcmp(split_text, "train")) split = OFA_SPLIT_TRAIN;
    else if (!strcmp(split_text, "val")) split = OFA_SPLIT_VAL;
    else return OFA_ERR(OFA_E_USAGE, "--split: expected test, val or train, not '%s'", split_text);
    ofa_model m = {0};
    ofa_config *c = ofa_xmalloc(sizeof *c);
    int rc = ofa_cyclegan_open(in, &m, c);
    if (rc < 0) {
        free(c);
        return rc;
    }
    if (data) snprintf(c->data.fmnist_dir, sizeof c->data.fmnist_dir, "%s", data);
    /* a CycleGAN translates either way and back; a MobileResNet generator (supernet or subnet) A -> B */
    const ofa_gan_mobile *gm = ofa_gan_mobile_of(&m);
    const ofa_cyclegan *cm = gm ? NULL : ofa_cyclegan_of(&m);
    const int C = gm ? gm->g.channels : cm->channels, S = gm ? gm->image_size : cm->image_size;
    const int ca = gm ? gm->class_a : cm->class_a, cb = gm ? gm->class_b : cm->class_b, cols = gm ? 2 : 3;
    if (gm && dir) rc = OFA_ERR(OFA_E_USAGE, "%s is a MobileResNet generator: it translates AtoB only", in);
    ofa_data *d = NULL;
    if (rc == 0) rc = ofa_cyclegan_data_open(&d, c, ca, cb, S, split, n);
    float *y = NULL, *rec = NULL, *grid = NULL;
    if (rc == 0) {
        const ofa_fmnist *src = dir ? &d->b : &d->a;
        const size_t px = (size_t)C * S * S;
        n = src->n;
        y = ofa_xmalloc((size_t)n * px * sizeof(float));
        rec = ofa_xmalloc((size_t)n * px * sizeof(float));
        if (gm) ofa_gan_mobile_translate(gm, NULL, src->x, n, 16, y);
        else ofa_cyclegan_translate(cm, dir, src->x, n, 16, y, rec);
        grid = ofa_xmalloc((size_t)n * cols * px * sizeof(float));
        for (int64_t i = 0; i < n; i++) {
            memcpy(grid + (size_t)(cols * i) * px, src->x + (size_t)i * px, px * sizeof(float));
            memcpy(grid + (size_t)(cols * i + 1) * px, y + (size_t)i * px, px * sizeof(float));
            if (cols == 3) memcpy(grid + (size_t)(cols * i + 2) * px, rec + (size_t)i * px, px * sizeof(float));
        }
        rc = ofa_mkdirs_for(h5); /* -o runs/x/tr makes runs/x, as export's -o does */
        if (rc == 0) rc = ofa_png_write_grid(png, grid, (int)n, cols, C, S, S);
        if (rc == 0) rc = ofa_images_write_h5(h5, src->x, y, n, C, S, S);
        const int from = dir ? cb : ca, to = dir ? ca : cb;
        if (rc == 0)
            printf("translate %s: %lld %s images (%s split) -> %s: %s (input | translated%s), %s "
                   "(/inputs, /outputs)\n",
                   dir_text, (long long)n, ofa_fmnist_class_name(from), split_text, ofa_fmnist_class_name(to), png,
                   cols == 3 ? " | reconstructed" : "", h5);
    }
    free(y), free(rec), free(grid);
    ofa_cyclegan_data_free(d);
    if (gm) { /* ofa_cyclegan_close frees a CycleGAN */
        ofa_gan_mobile_free(ofa_gan_mobile_of(&m));
        free(m.net);
    } else {
        ofa_cyclegan_close(&m);
    }
    free(c);
    return rc;
}
