#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"

int cli_int_arg(const char *opt, const char *val, long lo, long hi, long *out)
{
    if (!val) return OFA_ERR(OFA_E_USAGE, "%s needs a value", opt);
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || *end || end == val || v < lo || v > hi)
        return OFA_ERR(OFA_E_USAGE, "%s '%s': expected an integer in [%ld, %ld]", opt, val, lo, hi);
    *out = v;
    return 0;
}

int cli_parse_config_args(cli_config_args *a, int argc, char **argv, const char *cmd)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--set") || !strncmp(s, "--set=", 6)) {
            const char *v = s[5] == '=' ? s + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !strchr(v, '=')) return OFA_ERR(OFA_E_USAGE, "--set needs key.sub=value");
            if (a->n_sets == CLI_MAX_SETS) return OFA_ERR(OFA_E_USAGE, "too many --set options");
            a->sets[a->n_sets++] = v;
        } else if (!strcmp(s, "--log-level")) {
            int lvl = i + 1 < argc ? ofa_log_level_parse(argv[++i]) : -1;
            if (lvl < 0) return OFA_ERR(OFA_E_USAGE, "--log-level: expected debug, info, warn or error");
            ofa_log_set_level(lvl);
        } else if (s[0] == '-' && s[1]) {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for '%s'", s, cmd);
        } else if (!a->config) {
            a->config = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!a->config) return OFA_ERR(OFA_E_USAGE, "'%s' needs a CONFIG file", cmd);
    return 0;
}

int cli_write_resolved_config(const ofa_config *c, const char *source, int threads)
{
    OFA_INFO("ofa %s: config %s, %d BLAS thread%s", OFA_VERSION, source, threads, threads == 1 ? "" : "s");
    OFA_TRY(ofa_mkdirs(c->experiment.output_dir));
    char *yaml = ofa_config_to_yaml(c);
    OFA_INFO("resolved config:");
    for (const char *line = yaml; *line;) {
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        OFA_INFO("  %.*s", len, line);
        line += len + (nl ? 1 : 0);
    }
    char path[OFA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.yaml", c->experiment.output_dir);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(yaml, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    free(yaml);
    if (!ok) return OFA_ERR(OFA_E_IO, "%s: cannot write the resolved config: %s", path, strerror(errno));
    OFA_INFO("resolved config written to %s", path);
    return 0;
}

void cli_warn_config(const ofa_config *c)
{
    for (const char *w = c->warnings; *w;) {
        size_t n = strcspn(w, "\n");
        OFA_WARN("%.*s", (int)n, w);
        w += n + (w[n] == '\n');
    }
}

int cli_load_config(ofa_config *c, const cli_config_args *a)
{
    int rc = ofa_config_load(c, a->config, a->sets, a->n_sets);
    if (rc == OFA_E_IO) return OFA_E_CONFIG; /* a missing config file is a usage error (exit 2) */
    if (rc < 0) return rc;
    if (ofa_log_get_level() == OFA_LOG_INFO) ofa_log_set_level(c->experiment.log_level);
    cli_warn_config(c);
    int threads = ofa_resolve_threads(c->experiment.threads);
    if (threads < 0) return threads;
    ofa_set_blas_threads(threads);
    return cli_write_resolved_config(c, a->config, threads);
}
