/* models/gan/commands: the GAN folder's table of `ofa` subcommands (models/command.h). */
#include "models/gan/commands.h"

#include <stddef.h>

const ofa_command ofa_gan_commands[] = {
    {NULL, NULL, NULL, NULL},
};
