/* models/gan/commands: the GAN folder's table of `ofa` subcommands (models/command.h). */
#include "models/gan/commands.h"

#include <stddef.h>

const ofa_command ofa_gan_commands[] = {
    {"fidnet", "train the FID feature net (a Fashion-MNIST classifier) -> <output_dir>/fidnet.h5",
     "ofa fidnet CONFIG [--set key.sub=value]... [--log-level L] [--force] [--verbose]\n"
     "  Trains the FID feature net of CONFIG (fidnet.*: a small CNN classifier of the ten Fashion-MNIST\n"
     "  classes, whose penultimate features FID uses) on the train images of data.fmnist_dir, with\n"
     "  progress lines (loss, train accuracy, ETA), scores it on the test images and writes\n"
     "  <output_dir>/<fidnet.output> (default fidnet.h5; kind fidnet, its weights' hash, the test\n"
     "  accuracy; 'ofa inspect' shows it), one JSON line per step and a final one in\n"
     "  <output_dir>/metrics.jsonl.  An existing file is not overwritten without --force.\n",
     ofa_gan_cmd_fidnet},
    {"fid", "FID of two image sets on the FID feature net's features",
     "ofa fid SET_A SET_B --net FIDNET.h5 [--class K] [--class-b K] [--features-out F.h5]\n"
     "                    [--cache-dir DIR] [--threads N] [--log-level L] [--verbose]\n"
     "  Prints 'FID <value>': the Frechet distance of the two sets' feature statistics (the net's D\n"
     "  penultimate features; double precision, symmetric eigen form).  A set is a folder of PNGs\n"
     "  (grey, sorted by name, one size), an HDF5 image set (its /outputs, as 'ofa translate' writes\n"
     "  it), or a Fashion-MNIST IDX images file (*images-idx3-ubyte[.gz], its labels beside it) with\n"
     "  the class to take: --class K for SET_A, --class-b K for SET_B.  Images must be the net's input\n"
     "  size (1 channel, fidnet.image_size square).  The statistics of an IDX class are cached in\n"
     "  fid_stats_<file>_c<K>.h5 beside FIDNET.h5 (or in --cache-dir), keyed by the net's hash,\n"
     "  and recomputed when the net differs.  --features-out writes the features used:\n"
     "  /features/a [N_A, D] and /features/b [N_B, D], float64 (no cache then).\n",
     ofa_gan_cmd_fid},
    {"translate", "images of a cyclegan generator: a PNG grid (input | translated [| reconstructed]) and an image set",
     "ofa translate G.h5 [--direction AtoB|BtoA] [--split test|val|train] [--n N] [--data FMNIST_DIR] -o OUT\n"
     "  Translates the first N (default 16) images of the source class of the split (test by default;\n"
     "  val = the held-out training images the teacher was chosen on) with the cyclegan model file G.h5\n"
     "  (a teacher.h5): AtoB by G_A (data.class_a -> data.class_b), BtoA by G_B, and back by the other\n"
     "  generator; a MobileResNet file (student.h5, pruned.h5, a supernet: its largest subnet, an\n"
     "  exported subnet) translates AtoB only, without the way back.  Writes OUT.png, one row per\n"
     "  image: input | translated (| reconstructed for a CycleGAN), and OUT.h5,\n"
     "  an image set (/inputs, /outputs = the translated images in [-1, 1]) that 'ofa fid' reads.\n"
     "  The Fashion-MNIST folder is the one stored with the model (data.fmnist_dir) unless --data.\n",
     ofa_gan_cmd_translate},
    {NULL, NULL, NULL, NULL},
};
