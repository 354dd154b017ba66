#include "coordinator/checkpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

/* ---- numbered training-state checkpoints ---- */

void ofa_ckpt_step_path(char *buf, size_t n, const char *dir, const char *prefix, int64_t step)
{
    snprintf(buf, n, "%s/%s%08lld.h5", dir, prefix, (long long)step);
}

/* step of `name` when it is <prefix><8+ digits>.h5 */
static int step_of(const char *name, const char *prefix, int64_t *step)
{
    size_t lp = strlen(prefix), ln = strlen(name), nd = 0;
    if (ln < lp + 8 + 3 || strncmp(name, prefix, lp) != 0 || strcmp(name + ln - 3, ".h5") != 0) return 0;
    int64_t s = 0;
    for (const char *c = name + lp; c < name + ln - 3; c++, nd++) {
        if (!isdigit((unsigned char)*c) || s > (INT64_MAX - 9) / 10) return 0;
        s = 10 * s + (*c - '0');
    }
    *step = s;
    /* exactly what ofa_ckpt_step_path writes: 8 digits, or more without a leading zero */
    return nd == 8 || (nd > 8 && name[lp] != '0');
}

int ofa_ckpt_list(const char *dir, const char *prefix, int64_t *steps, int cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        int64_t s;
        if (step_of(e->d_name, prefix, &s)) steps[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* newest first */
        for (int j = i; j > 0 && steps[j] > steps[j - 1]; j--) {
            int64_t t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
        }
    return n;
}

void ofa_ckpt_prune(const char *dir, const char *prefix, int keep)
{
    int64_t steps[1024];
    int n = ofa_ckpt_list(dir, prefix, steps, 1024);
    for (int i = keep > 0 ? keep : 0; i < n; i++) {
        char path[4096];
        ofa_ckpt_step_path(path, sizeof path, dir, prefix, steps[i]);
        if (unlink(path) != 0) OFA_WARN("%s: cannot remove old checkpoint: %s", path, strerror(errno));
    }
}

int64_t ofa_ckpt_resume_newest(const char *dir, const char *prefix, const char *who, ofa_params *p, ofa_adamw *opt,
                               ofa_ckpt_meta *meta)
{
    int64_t steps[1024], start = 0;
    int n = ofa_ckpt_list(dir, prefix, steps, 1024);
    for (int i = 0; i < n && start == 0; i++) {
        char path[4096];
        ofa_ckpt_step_path(path, sizeof path, dir, prefix, steps[i]);
        ofa_model got;
        ofa_ckpt_meta km;
        ofa_adamw o = *opt;
        int rc = ofa_ckpt_load_model(path, &got, &km, &o);
        if (rc == 1 && got.p->total == p->total && km.step == steps[i]) {
            memcpy(p->data, got.p->data, got.p->total * sizeof(float));
            memcpy(p->m, got.p->m, got.p->total * sizeof(float));
            memcpy(p->v, got.p->v, got.p->total * sizeof(float));
            *opt = o;
            start = steps[i];
            OFA_INFO("%s: resuming from %s (step %lld)", who, path, (long long)start);
        } else if (rc >= 0) {
            OFA_WARN("skipped checkpoint %s: %s", path, rc == 1 ? "a different model or step" : "no optimizer state");
        } else {
            OFA_WARN("skipped checkpoint: %s", ofa_err_msg());
        }
        if (rc >= 0) {
            ofa_model_free(&got);
            if (start > 0 && meta) *meta = km;
            else ofa_ckpt_meta_free(&km);
        }
    }
    ofa_err_clear();
    return start;
}
