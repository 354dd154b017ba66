/* models/command: subcommands a model folder adds to `ofa` (`ofa fidnet`, `ofa fid`), so cli/
 * stays family-independent.  A folder defines one table ending in an entry whose name is NULL
 * (models/gan/commands.h: ofa_gan_commands); models/registry.c lists the tables; cli/main
 * dispatches a command that is not its own to ofa_command_find(name) and lists every one in
 * `ofa help` (and in its "did you mean").  fn gets the arguments after the command name, like
 * cli's own commands, and returns an ofa status (0, or a negative OFA_E_* with a message left in
 * the error record); main alone turns it into the exit status (2 usage/config, 1 runtime) and
 * prints `usage` after an OFA_E_USAGE.  A command that needs a config loads it itself
 * (core/config) and is not run under mpirun.  No state; not collective. */
#ifndef OFA_MODELS_COMMAND_H
#define OFA_MODELS_COMMAND_H

typedef struct ofa_command {
    const char *name;    /* "fid"; NULL ends a table */
    const char *summary; /* one line for `ofa help` */
    const char *usage;   /* `ofa help NAME` and --help: synopsis lines, then what it does */
    int (*fn)(int argc, char **argv);
} ofa_command;

#endif
