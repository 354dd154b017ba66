/* cli: the `ofa` command line: subcommand dispatch, shared option parsing, and one function per
 * subcommand.  Each returns an ofa status; main() alone turns it into the exit status
 * (0 ok, 2 usage/config errors, 1 runtime errors) after printing the error. */
#ifndef OFA_CLI_CLI_H
#define OFA_CLI_CLI_H

#include "core/config.h"

#define CLI_MAX_SETS 64

/* Options shared by the config-driven commands: CONFIG [--set k=v]... [--log-level L]. */
typedef struct cli_config_args {
    const char *config;
    const char *sets[CLI_MAX_SETS];
    int n_sets;
} cli_config_args;

/* Parses argv (after the subcommand) into *a; unknown options are OFA_E_USAGE. */
int cli_parse_config_args(cli_config_args *a, int argc, char **argv, const char *cmd);
/* Loads the config, sets the log level and BLAS threads, writes the resolved config. */
int cli_load_config(ofa_config *c, const cli_config_args *a);
/* Logs the config's warnings (deprecated keys), one WARN line each; call it on one rank. */
void cli_warn_config(const ofa_config *c);
/* Logs the resolved config and writes it to <output_dir>/config.yaml. */
int cli_write_resolved_config(const ofa_config *c, const char *source, int threads);
/* A string that differs between builds (version, git revision, build time). */
const char *cli_build_id(void);
/* Parses an integer option value in [lo, hi]; OFA_E_USAGE naming the option on failure. */
int cli_int_arg(const char *opt, const char *val, long lo, long hi, long *out);

int cmd_teacher(int argc, char **argv);
int cmd_reorder(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_supernet(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_latency(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
