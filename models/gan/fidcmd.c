/* models/gan/fidcmd: `ofa fidnet CONFIG` and `ofa fid SET_A SET_B --net FILE` (see commands.c for
 * their usage text).  Single-process commands; they load their config themselves (models/command.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/dirlock.h"
#include "core/error.h"
#include "core/h5io.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "datasets/fmnist.h"
#include "datasets/images.h"
#include "models/gan/commands.h"
#include "models/gan/fidnet.h"
#include "nn/fid.h"

#define MAX_SETS 64

static int log_level_arg(const char *v)
{
    int lvl = v ? ofa_log_level_parse(v) : -1;
    if (lvl < 0) return OFA_ERR(OFA_E_USAGE, "--log-level: expected debug, info, warn or error");
    ofa_log_set_level(lvl);
    return 0;
}

int ofa_gan_cmd_fidnet(int argc, char **argv)
{
    const char *config = NULL, *sets[MAX_SETS];
    int n_sets = 0, force = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--set") || !strncmp(s, "--set=", 6)) {
            const char *v = s[5] == '=' ? s + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !strchr(v, '=')) return OFA_ERR(OFA_E_USAGE, "--set needs key.sub=value");
            if (n_sets == MAX_SETS) return OFA_ERR(OFA_E_USAGE, "too many --set options");
            sets[n_sets++] = v;
        } else if (!strcmp(s, "--force")) {
            force = 1;
        } else if (!strcmp(s, "--log-level")) {
            OFA_TRY(log_level_arg(i + 1 < argc ? argv[++i] : NULL));
        } else if (!strcmp(s, "--verbose") || !strcmp(s, "-v")) {
            ofa_log_set_level(OFA_LOG_DEBUG);
        } else if (s[0] == '-' && s[1]) {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'fidnet'", s);
        } else if (!config) {
            config = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!config) return OFA_ERR(OFA_E_USAGE, "'fidnet' needs a CONFIG file");
    ofa_config *c = ofa_xmalloc(sizeof *c);
    int rc = ofa_config_load(c, config, sets, n_sets);
    if (rc == OFA_E_IO) rc = OFA_E_CONFIG; /* a missing config file is a usage error (exit 2) */
    ofa_dirlock lock = OFA_DIRLOCK_INIT;
    char out[OFA_PATH_MAX * 2];
    if (rc) goto done;
    if (ofa_log_get_level() == OFA_LOG_INFO) ofa_log_set_level(c->experiment.log_level);
    ofa_config_log_warnings(c);
    int threads = ofa_resolve_threads(c->experiment.threads);
    if (threads < 0) {
        rc = threads;
        goto done;
    }
    ofa_set_blas_threads(threads);
    if ((rc = ofa_mkdirs(c->experiment.output_dir)) || (rc = ofa_dirlock_acquire(&lock, c->experiment.output_dir, "fidnet")))
        goto done;
    snprintf(out, sizeof out, "%s/%s", c->experiment.output_dir, c->fidnet.output);
    struct stat st;
    if (!force && stat(out, &st) == 0) {
        rc = OFA_ERR(OFA_E_CONFIG, "%s exists; 'ofa fidnet %s --force' trains it again", out, config);
        goto done;
    }
    OFA_INFO("ofa fidnet: config %s, %d BLAS thread%s", config, threads, threads == 1 ? "" : "s");
    ofa_fidnet_record r;
    if ((rc = ofa_fidnet_train(c, out, &r))) goto done;
    if (r.test_accuracy < 0.9)
        OFA_WARN("the FID net's test accuracy %.2f%% is below the 90%% the FID figures of docs/results.md rest "
                 "on: train longer (fidnet.epochs)", 100 * r.test_accuracy);
    char dur[32];
    ofa_format_duration(dur, sizeof dur, r.train_seconds);
    printf("fidnet: test accuracy %.2f%% on %lld test images; trained %lld steps (%.2f epochs of %lld images) in %s "
           "(%.1f s) -> %s\n", 100 * r.test_accuracy, (long long)r.test_images, (long long)r.steps, r.epochs,
           (long long)r.train_images, dur, r.train_seconds, out);
done:
    ofa_dirlock_release(&lock);
    free(c);
    return rc;
}

/* ---- ofa fid --------------------------------------------------------------------------------- */

#define NO_CLASS (-100)

/* One side of the comparison: its statistics, and its features when they were computed. */
typedef struct fid_set {
    const char *path;
    char what[96];     /* "IDX class 7 (Sneaker)", "image set /outputs", "PNG folder" */
    int64_t n;
    double *mu, *sigma, *feat; /* feat NULL when the stats came from the cache */
} fid_set;

static void fid_set_free(fid_set *s)
{
    free(s->mu), free(s->sigma), free(s->feat);
    memset(s, 0, sizeof *s);
}

/* "<dir>/t10k-images-idx3-ubyte.gz" -> "<dir>/t10k-labels-idx1-ubyte.gz" */
static int labels_of(const char *images, char *buf, size_t n)
{
    const char *base = strrchr(images, '/');
    base = base ? base + 1 : images;
    const char *at = strstr(base, "images-idx3");
    if (!at)
        return OFA_ERR(OFA_E_USAGE, "%s: an IDX images file is named *images-idx3*, so that its labels "
                       "(*labels-idx1*) can be found beside it", images);
    snprintf(buf, n, "%.*slabels-idx1%s", (int)(at - images), images, at + strlen("images-idx3"));
    return 0;
}

static int set_from_images(fid_set *s, const ofa_fidnet *net, const float *x, int64_t n, int C, int H, int W)
{
    const int D = net->features;
    if (n < 2)
        return OFA_ERR(OFA_E_DATA, "%s (%s): %lld image%s; FID needs at least 2", s->path, s->what, (long long)n,
                       n == 1 ? "" : "s");
    s->n = n;
    s->feat = ofa_xmalloc((size_t)n * D * sizeof(double));
    OFA_TRY(ofa_fidnet_features(net, x, n, C, H, W, s->path, s->feat));
    return ofa_fid_stats(s->feat, n, D, s->mu, s->sigma);
}

static int load_set(fid_set *s, const char *path, int cls, const char *flag, const ofa_fidnet *net,
                    const char *cache_dir, int need_features)
{
    const int D = net->features;
    s->path = path;
    s->mu = ofa_xmalloc((size_t)D * sizeof(double));
    s->sigma = ofa_xmalloc((size_t)D * D * sizeof(double));
    struct stat st;
    if (stat(path, &st) != 0) return OFA_ERR(OFA_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        snprintf(s->what, sizeof s->what, "PNG folder");
        if (cls != NO_CLASS) return OFA_ERR(OFA_E_USAGE, "%s applies to an IDX file; %s is a folder", flag, path);
        ofa_image_set im;
        OFA_TRY(ofa_images_read_dir(&im, path));
        int rc = set_from_images(s, net, im.x, im.n, im.C, im.H, im.W);
        ofa_image_set_free(&im);
        return rc;
    }
    ofa_h5 h;
    if (ofa_h5_open(&h, path) == 0) {
        int is_set = ofa_images_h5_is_set(&h);
        ofa_h5_close(&h);
        if (!is_set)
            return OFA_ERR(OFA_E_FORMAT, "%s is an HDF5 file but not an image set (format '%s'; ofa translate "
                           "writes them)", path, OFA_IMAGES_FORMAT);
        snprintf(s->what, sizeof s->what, "image set /outputs");
        if (cls != NO_CLASS) return OFA_ERR(OFA_E_USAGE, "%s applies to an IDX file; %s is an image set", flag, path);
        ofa_image_set im;
        OFA_TRY(ofa_images_read_h5(&im, path, "outputs"));
        int rc = set_from_images(s, net, im.x, im.n, im.C, im.H, im.W);
        ofa_image_set_free(&im);
        return rc;
    }
    ofa_err_clear();
    if (cls == NO_CLASS)
        return OFA_ERR(OFA_E_USAGE, "%s is neither a folder nor an HDF5 image set, so it is read as an IDX images "
                       "file: give the class to compare with %s K (0-9)", path, flag);
    char labels[OFA_PATH_MAX + 32];
    OFA_TRY(labels_of(path, labels, sizeof labels));
    snprintf(s->what, sizeof s->what, "IDX class %d (%s)", cls, ofa_fmnist_class_name(cls) ? ofa_fmnist_class_name(cls) : "?");
    if (!need_features)
        return ofa_fidnet_class_stats(net, path, labels, cls, NULL, cache_dir, s->mu, s->sigma, &s->n);
    ofa_fmnist d;
    OFA_TRY(ofa_fmnist_read(&d, path, labels, cls, net->image_size));
    int rc = set_from_images(s, net, d.x, d.n, 1, d.image_size, d.image_size);
    ofa_fmnist_free(&d);
    return rc;
}

static int parse_class(const char *flag, const char *v, int *cls)
{
    char *end = NULL;
    long k = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end) return OFA_ERR(OFA_E_USAGE, "%s needs a class id 0-9", flag);
    if (k < 0 || k >= OFA_FMNIST_CLASSES)
        return OFA_ERR(OFA_E_USAGE, "%s %s: not a Fashion-MNIST class id 0-9 (0 T-shirt/top, 1 Trouser, 2 Pullover, "
                       "3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot)", flag, v);
    *cls = (int)k;
    return 0;
}

int ofa_gan_cmd_fid(int argc, char **argv)
{
    const char *a_path = NULL, *b_path = NULL, *net_path = NULL, *feat_out = NULL, *cache_dir = NULL;
    int cls_a = NO_CLASS, cls_b = NO_CLASS, threads = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--net") || !strcmp(s, "--features-out") || !strcmp(s, "--class") ||
            !strcmp(s, "--class-b") || !strcmp(s, "--cache-dir") || !strcmp(s, "--threads") ||
            !strcmp(s, "--log-level")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "%s needs a value", s);
            i++;
            if (!strcmp(s, "--net")) net_path = v;
            else if (!strcmp(s, "--features-out")) feat_out = v;
            else if (!strcmp(s, "--cache-dir")) cache_dir = v;
            else if (!strcmp(s, "--class")) OFA_TRY(parse_class(s, v, &cls_a));
            else if (!strcmp(s, "--class-b")) OFA_TRY(parse_class(s, v, &cls_b));
            else if (!strcmp(s, "--log-level")) OFA_TRY(log_level_arg(v));
            else {
                char *end;
                long t = strtol(v, &end, 10);
                if (*end || t < 1 || t > 1024) return OFA_ERR(OFA_E_USAGE, "--threads %s: expected 1-1024", v);
                threads = (int)t;
            }
        } else if (!strcmp(s, "--verbose") || !strcmp(s, "-v")) {
            ofa_log_set_level(OFA_LOG_DEBUG);
        } else if (s[0] == '-' && s[1]) {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'fid'", s);
        } else if (!a_path) {
            a_path = s;
        } else if (!b_path) {
            b_path = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!a_path || !b_path) return OFA_ERR(OFA_E_USAGE, "'fid' needs two image sets SET_A SET_B");
    if (!net_path) return OFA_ERR(OFA_E_USAGE, "'fid' needs the feature net: --net fidnet.h5 (ofa fidnet CONFIG)");
    if (feat_out) { /* an output that is one of the inputs would replace it */
        if (!feat_out[0]) return OFA_ERR(OFA_E_USAGE, "--features-out needs a file name");
        OFA_TRY(ofa_refuse_output_is_input("--features-out", feat_out, net_path));
        OFA_TRY(ofa_refuse_output_is_input("--features-out", feat_out, a_path));
        OFA_TRY(ofa_refuse_output_is_input("--features-out", feat_out, b_path));
    }
    if (cache_dir) OFA_TRY(ofa_mkdirs(cache_dir)); /* a new cache folder, made as -o's are */
    int t = ofa_resolve_threads(threads);
    if (t < 0) return t;
    ofa_set_blas_threads(t);
    ofa_fidnet net;
    OFA_TRY(ofa_fidnet_read(&net, net_path));
    const int D = net.features;
    fid_set a = {0}, b = {0};
    double fid = NAN;
    int rc = load_set(&a, a_path, cls_a, "--class", &net, cache_dir, feat_out != NULL);
    if (!rc) rc = load_set(&b, b_path, cls_b, "--class-b", &net, cache_dir, feat_out != NULL);
    if (!rc) rc = ofa_fid(a.mu, a.sigma, b.mu, b.sigma, D, &fid);
    if (!rc && feat_out) {
        ofa_h5 h;
        char hash[32];
        ofa_fidnet_hash(&net, hash, sizeof hash);
        const int64_t sa[2] = {a.n, D}, sb[2] = {b.n, D};
        if (!(rc = ofa_mkdirs_for(feat_out)) && !(rc = ofa_h5_create(&h, feat_out))) {
            if ((rc = ofa_h5_write_f64(&h, "features/a", a.feat, 2, sa)) ||
                (rc = ofa_h5_write_f64(&h, "features/b", b.feat, 2, sb)) ||
                (rc = ofa_h5_attr_set_str(&h, "/", "format", "ofa-fid-features")) ||
                (rc = ofa_h5_attr_set_str(&h, "/", "set_a", a_path)) ||
                (rc = ofa_h5_attr_set_str(&h, "/", "set_b", b_path)) ||
                (rc = ofa_h5_attr_set_str(&h, "/", "net", net_path)) ||
                (rc = ofa_h5_attr_set_str(&h, "/", "net_hash", hash)) ||
                (rc = ofa_h5_attr_set_f64(&h, "/", "fid", fid)))
                ofa_h5_abort(&h);
            else
                rc = ofa_h5_commit(&h);
        }
    }
    if (!rc) {
        OFA_INFO("A: %s, %s, %lld images", a_path, a.what, (long long)a.n);
        OFA_INFO("B: %s, %s, %lld images", b_path, b.what, (long long)b.n);
        OFA_INFO("features: %d of %s (test accuracy %.2f%%)%s%s", D, net_path, 100 * net.test_accuracy,
                 feat_out ? ", written to " : "", feat_out ? feat_out : "");
        printf("FID %.6g\n", fid > 0 ? fid : 0.0); /* identical sets: 0, not -1.8e-14 of rounding */
    }
    fid_set_free(&a);
    fid_set_free(&b);
    ofa_fidnet_free(&net);
    return rc;
}
