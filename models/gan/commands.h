/* models/gan/commands: the `ofa` subcommands of the GAN folder (models/command.h), listed by
 * models/registry.c: fidnet (train the FID feature net), fid (FID of two image sets), translate (a generator's images). */
#ifndef OFA_MODELS_GAN_COMMANDS_H
#define OFA_MODELS_GAN_COMMANDS_H

#include "models/command.h"

/* Ended by an entry whose name is NULL. */
extern const ofa_command ofa_gan_commands[];

/* The commands' functions (models/gan/fidcmd.c). */
int ofa_gan_cmd_fidnet(int argc, char **argv);
int ofa_gan_cmd_fid(int argc, char **argv);
int ofa_gan_cmd_translate(int argc, char **argv); /* models/gan/translate.c */

#endif
