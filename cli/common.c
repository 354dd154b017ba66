#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/job.h"
#include "core/afile.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"

int cli_parse_config_args(cli_config_args *a, int argc, char **argv, const char *cmd)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--set") || !strncmp(s, "--set=", 6)) {
            const char *v = s[5] == '=' ? s + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !strchr(v, '=')) return OFA_ERR(OFA_E_USAGE, "--set needs key.sub=value");
            if (a->n_sets == CLI_MAX_SETS) return OFA_ERR(OFA_E_USAGE, "too many --set options");
            a->sets[a->n_sets++] = v;
        } else if (!strcmp(s, "--force")) {
            a->force = 1;
        } else if (!strcmp(s, "--log-level")) {
            int lvl = i + 1 < argc ? ofa_log_level_parse(argv[++i]) : -1;
            if (lvl < 0) return OFA_ERR(OFA_E_USAGE, "--log-level: expected debug, info, warn or error");
            ofa_log_set_level(lvl);
        } else if (!strcmp(s, "--verbose") || !strcmp(s, "-v")) {
            ofa_log_set_level(OFA_LOG_DEBUG); /* debug lines, the resolved config echoed among them */
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

int cli_stage_precheck(const ofa_config *c, void *ctx)
{
    cli_stage_check *k = ctx;
    return ofa_stage_command_check(k->cfg ? k->cfg : c, k->stage, k->force, k->input, k->verify_input, k->output,
                                   k->fpfile, k->extra, &k->flags);
}

int cli_load_config(ofa_config *c, const cli_config_args *a, ofa_dirlock *lock,
                    int (*precheck)(const ofa_config *c, void *ctx), void *ctx)
{
    int rc = ofa_config_load(c, a->config, a->sets, a->n_sets);
    if (rc == OFA_E_IO) return OFA_E_CONFIG; /* a missing config file is a usage error (exit 2) */
    if (rc < 0) return rc;
    if (ofa_log_get_level() == OFA_LOG_INFO) ofa_log_set_level(c->experiment.log_level);
    ofa_config_log_warnings(c);
    int threads = ofa_resolve_threads(c->experiment.threads);
    if (threads < 0) return threads;
    ofa_set_blas_threads(threads);
    OFA_TRY(ofa_lock_output(c, a->cmd, lock));
    if (precheck) OFA_TRY(precheck(c, ctx));
    return ofa_write_resolved_config(c, a->config, threads);
}
