/* models/gan/file: the cyclegan family's model files (see file.h). */
#include "models/gan/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "models/gan/model.h"
#include "models/gan/super.h"

static const char *const shape_keys[] = {"ngf", "ndf", "n_blocks", "n_layers", "channels", "image_size", "class_a",
                                         "class_b"};

int ofa_gan_file_read(ofa_model *m, ofa_h5 *h, const char *path)
{
    if (ofa_gan_mobile_in_file(h)) return ofa_gan_mobile_read(m, h, path);
    int64_t v[8];
    for (int i = 0; i < 8; i++) OFA_TRY(ofa_h5_attr_get_i64(h, "/", shape_keys[i], &v[i]));
    if (v[0] < 1 || v[0] > 4096 || v[1] < 1 || v[1] > 4096 || v[2] < 0 || v[2] > 256 || v[3] < 1 || v[3] > 16 ||
        v[4] < 1 || v[4] > 16 || v[5] < 8 || v[5] > 4096 || v[5] % 4 || v[6] < 0 || v[6] > 9 || v[7] < 0 || v[7] > 9)
        return OFA_ERR(OFA_E_FORMAT,
                       "%s: implausible cyclegan shape attributes (ngf %lld, ndf %lld, n_blocks %lld, n_layers %lld, "
                       "channels %lld, image_size %lld, classes %lld, %lld)",
                       path, (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4],
                       (long long)v[5], (long long)v[6], (long long)v[7]);
    ofa_cyclegan *cm = ofa_xcalloc(1, sizeof *cm);
    ofa_cyclegan_create(cm, (int)v[4], (int)v[5], (int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[6], (int)v[7]);
    int rc = ofa_params_read_h5(h, "weights", &cm->p, cm->p.data);
    if (rc < 0) {
        ofa_cyclegan_free(cm);
        free(cm);
        return ofa_err_in_file(rc, path);
    }
    ofa_cyclegan_wrap(m, cm);
    return 0;
}

int ofa_gan_file_write(const ofa_model *m, ofa_h5 *h)
{
    if (ofa_gan_mobile_of(m)) return ofa_gan_mobile_write(ofa_gan_mobile_of(m), h);
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    const int64_t v[8] = {cm->ngf, cm->ndf, cm->n_blocks, cm->n_layers, cm->channels, cm->image_size, cm->class_a,
                          cm->class_b};
    for (int i = 0; i < 8; i++) OFA_TRY(ofa_h5_attr_set_i64(h, "/", shape_keys[i], v[i]));
    return ofa_params_write_h5(h, "weights", &cm->p, cm->p.data);
}

int ofa_cyclegan_open(const char *path, ofa_model *m, ofa_config *cfg)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_open(&h, path));
    char model[32] = "", format[32] = "";
    int rc = ofa_h5_attr_get_strbuf(&h, "/", "format", format, sizeof format);
    if (rc == 0) rc = ofa_h5_attr_get_strbuf(&h, "/", "model", model, sizeof model);
    if (rc == 0 && (strcmp(format, "ofa-checkpoint") || strcmp(model, "cyclegan")))
        rc = OFA_ERR(OFA_E_FORMAT, "%s: not a cyclegan model file (format '%s', model '%s')", path, format, model);
    char kind[32] = "";
    if (rc == 0 && ofa_h5_attr_exists(&h, "/", "kind") == 1) rc = ofa_h5_attr_get_strbuf(&h, "/", "kind", kind, sizeof kind);
    if (rc == 0 && !strcmp(kind, "search")) /* a checkpoint, but no generator in it */
        rc = OFA_ERR(OFA_E_USAGE, "%s: a search state holds no generator (use its run's supernet.h5 or a winner in "
                     "subnets/)", path);
    if (rc == 0 && ofa_h5_attr_exists(&h, "/", "converted_by") == 1)
        rc = OFA_ERR(OFA_E_FORMAT, "%s: tools/cyclegan_convert.py's copy of one generator (it converts back or runs "
                     "it); this command reads the generator files ofa's stages write", path);
    ofa_config_defaults(cfg);
    char *yaml = NULL;
    if (rc == 0 && ofa_h5_attr_exists(&h, "/", "config_yaml") == 1 && ofa_h5_attr_get_str(&h, "/", "config_yaml", &yaml) == 0 &&
        yaml[0] && ofa_config_parse(cfg, yaml, strlen(yaml), path, NULL, 0) < 0) {
        OFA_WARN("%s: its stored config does not parse (%s); the defaults are used", path, ofa_err_msg());
        ofa_err_clear();
        ofa_config_defaults(cfg);
    }
    free(yaml);
    if (rc == 0) rc = ofa_gan_file_read(m, &h, path);
    ofa_h5_close(&h);
    return rc;
}
