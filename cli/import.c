/* cli/import: `ofa import HF_DIR -o OUT.h5 [--task T] [--seed S] [--force]`: another tool's model
 * folder (a Hugging Face BERT) as an ofa teacher checkpoint, through the family op model_import
 * (models/bert/import). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/sys.h"
#include "models/checkpoint.h"

int cmd_import(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *task = "", *seed_text = "42";
    int force = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "-o") || !strcmp(s, "--task") || !strcmp(s, "--seed")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "%s needs a value", s);
            *(s[1] == 'o' ? &out : s[2] == 't' ? &task : &seed_text) = v;
            i++;
        } else if (!strcmp(s, "--force")) {
            force = 1;
        } else if (s[0] == '-') {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'import'", s);
        } else if (!dir) {
            dir = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!dir || !out) return OFA_ERR(OFA_E_USAGE, "'import' needs HF_DIR -o OUT.h5");
    char *end = NULL;
    errno = 0;
    const long long seed = strtoll(seed_text, &end, 10);
    if (!*seed_text || *end || seed < 0 || errno == ERANGE)
        return OFA_ERR(OFA_E_USAGE, "--seed '%s' is not an integer from 0 to %lld", seed_text, (long long)INT64_MAX);
    if (ofa_is_dir(out)) return OFA_ERR(OFA_E_USAGE, "-o %s is a folder; name the file to write in it", out);
    if (ofa_file_exists(out) && !force)
        return OFA_ERR(OFA_E_USAGE, "%s exists; --force overwrites it", out);
    const ofa_family *fam = ofa_family_find("bert");
    OFA_ASSERT(fam && fam->model_import);
    ofa_model m;
    memset(&m, 0, sizeof m);
    ofa_config c;
    char note[1024];
    OFA_TRY(fam->model_import(&m, &c, dir, task, (uint64_t)seed, note, sizeof note));
    ofa_ckpt_meta meta;
    ofa_ckpt_meta_init(&meta, "teacher");
    snprintf(meta.task, sizeof meta.task, "%s", fam->model_task(&m));
    meta.seed = seed;
    meta.config_yaml = ofa_config_to_yaml(&c);
    /* -o runs/x/model.h5 makes runs/x (as the stages make their folder), once the import has worked */
    int rc = ofa_mkdirs_for(out);
    if (rc == 0) rc = ofa_ckpt_save_model(out, &m, &meta, NULL, NULL, NULL); /* atomic: nothing on failure */
    if (rc == 0) {
        char what[256];
        fam->model_describe(&m, what, sizeof what);
        printf("imported %s -> %s (kind teacher, task %s; %s)\n", dir, out, meta.task, what);
        if (note[0]) printf("  note: %s\n", note);
    }
    ofa_ckpt_meta_free(&meta);
    ofa_model_free(&m);
    return rc;
}
