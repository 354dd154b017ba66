/* cli: the `ofa` command line: subcommand dispatch, shared option parsing, and one function per
 * subcommand.  Each returns an ofa status; main() alone turns it into the exit status
 * (0 ok, 2 usage/config errors, 1 runtime errors) after printing the error. */
#ifndef OFA_CLI_CLI_H
#define OFA_CLI_CLI_H

#include "core/config.h"
#include "core/dirlock.h"

#define CLI_MAX_SETS 64

/* Options shared by the config-driven commands: CONFIG [--set k=v]... [--log-level L] [--verbose]
 * (--verbose = --log-level debug: also echoes the resolved config, which is always written to
 * <output_dir>/config.yaml). */
typedef struct cli_config_args {
    const char *cmd; /* "teacher", "run": names the holder of the output folder's lock */
    const char *config;
    const char *sets[CLI_MAX_SETS];
    int n_sets;
    int force;       /* --force */
} cli_config_args;

/* Parses argv (after the subcommand) into *a (CONFIG, --set, --log-level, --force); unknown options
 * are OFA_E_USAGE. */
int cli_parse_config_args(cli_config_args *a, int argc, char **argv, const char *cmd);
/* Loads the config, sets the log level and BLAS threads, locks the output folder (held in *lock
 * until ofa_dirlock_release or exit), runs precheck (may be NULL; a refusal leaves the folder as it
 * was), writes the resolved config.  Not collective (one process). */
int cli_load_config(ofa_config *c, const cli_config_args *a, ofa_dirlock *lock,
                    int (*precheck)(const ofa_config *c, void *ctx), void *ctx);
/* A precheck for a stage command: ofa_stage_command_check of the stage (ctx: a cli_stage_check). */
typedef struct cli_stage_check {
    int stage, force;
    const char *input;                            /* NULL: the previous stage's output */
    int verify_input;                             /* check that the input agrees with the config */
    const char *output, *fpfile, *extra;          /* NULL: the defaults (cli/job.h) */
    const ofa_config *cfg;                        /* NULL: the command's config (the search: with its budgets) */
    int flags;                                    /* out: the stage's flags */
} cli_stage_check;
int cli_stage_precheck(const ofa_config *c, void *ctx);
/* A string that differs between builds (version, git revision, build time). */
const char *cli_build_id(void);

int cmd_teacher(int argc, char **argv);
int cmd_student(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_reorder(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_supernet(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_latency(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv); /* cli/import.c */
int cmd_predict(int argc, char **argv); /* cli/predict.c */
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
