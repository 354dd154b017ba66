/* ofa: compress neural networks the once-for-all way.  See `ofa help`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/sys.h"
#include "core/log.h"
#include "models/registry.h"

typedef struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
    const char *usage;
} command;

const char *cli_build_id(void) { return "ofa " OFA_VERSION " " OFA_GIT_REV " " __DATE__ " " __TIME__; }

static const command commands[] = {
    {"run", cmd_run, "every stage the config enables, as one MPI job (mpirun -n N build/ofa run CONFIG)",
     "ofa run CONFIG [--set key.sub=value]... [--log-level L] [--force] [--verbose]\n"
     "  Runs teacher, reorder, supernet and search (which exports the winners) in order (a cyclegan\n"
     "  config: fidnet, teacher, student, prune, supernet, search), and ends with\n"
     "  a summary table.  A stage whose output exists in <output_dir> (teacher.h5,\n"
     "  teacher_reordered.h5, supernet.h5, pareto.csv) is reused when it was made from the settings\n"
     "  the config gives it (its fingerprint); one made from other settings stops the run before\n"
     "  anything is written (exit 2, naming the key, its old and new value); --force recomputes it\n"
     "  and the stages after it instead.  Under mpirun, rank 0 is the\n"
     "  coordinator, mpi.evaluators ranks evaluate checkpoints, the others train: the teacher (and a\n"
     "  cyclegan's student and prune) data-parallel, each batch split over them, and the supernet;\n"
     "  reorder runs on rank 0; every other rank scores search candidates.\n"
     "  SIGTERM/SIGUSR1 make the training stages checkpoint at the next step and exit 99\n"
     "  (requeue me); a restart resumes from the newest checkpoint (a search from search.h5).\n"},
    {"search", cmd_search, "evolutionary search of a supernet's subnets under latency budgets",
     "ofa search CONFIG [--checkpoint SUPERNET.h5] [--latency-ms a,b,...] [--random] [--seed N]\n"
     "                  [--prefix P] [--no-export] [--set key.sub=value]... [--log-level L] [--force]\n"
     "                  [--verbose]\n"
     "  Searches the subnets of <output_dir>/supernet.h5 (or --checkpoint) for the best validation\n"
     "  metric under each budget of search.budgets_ms (or --latency-ms), latency per\n"
     "  search.latency.mode (measured | table | predictor; the table is built on first use in\n"
     "  latency_table.h5).  Fitness is measured on the rows of search.val_source (held out of train,\n"
     "  or a seeded half of dev) that no earlier stage trained on; dev figures use the other rows.\n"
     "  Under mpirun, ranks other than 0 score candidates from a work queue.  A finished\n"
     "  <P>pareto.csv is not overwritten without --force.\n"
     "  Writes pareto.csv, pareto.svg, search.h5 (resumed after a crash) and, unless --no-export,\n"
     "  subnets/<arch>.h5 per budget, re-scored on dev.  --random runs the random-search baseline with\n"
     "  the same number of evaluations; --prefix names the outputs P pareto.csv etc., and the exported\n"
     "  winners subnets/P<arch>.h5.\n"},
    {"teacher", cmd_teacher, "train the teacher (BERT on a GLUE task, or a CycleGAN) -> <output_dir>/teacher.h5",
     "ofa teacher CONFIG [--set key.sub=value]... [--log-level debug|info|warn|error] [--force] [--verbose]\n"
     "  Trains the full model of CONFIG (model.type and model.*, teacher.*, optim.*): BERT on data.task,\n"
     "  evaluated on dev; a CycleGAN on two Fashion-MNIST classes, evaluated by FID on held-out training\n"
     "  images.  Every teacher.eval_every steps the best weights so far are kept; <output_dir>/teacher.h5\n"
     "  when done.  Progress on stderr; one JSON line per step and evaluation in <output_dir>/metrics.jsonl.\n"
     "  Under mpirun (or srun) it is one MPI job, each batch split over the training ranks (one gradient\n"
     "  allreduce per step); alone it runs in one process.\n"
     "  GLUE data: data.glue_dir (default ${GLUE_DIR:-../shared/data/glue}); Fashion-MNIST: data.fmnist_dir.\n"
     "  A BERT teacher starts from random weights, or from a model file with model.init (e.g. made by\n"
     "  'ofa import' from a Hugging Face folder; model.* must be its shape).\n"
     "  A finished teacher.h5 is not overwritten without --force (which also discards training states of\n"
     "  other settings).\n"},
    {"student", cmd_student, "cyclegan: distil a MobileResNet student from the teacher -> <output_dir>/student.h5",
     "ofa student CONFIG [--set key.sub=value]... [--log-level debug|info|warn|error] [--force] [--verbose]\n"
     "  The cyclegan family's second stage (GAN Compression's step 1): GAN Compression's\n"
     "  MobileResnetGenerator(student.ngf; 0 = the teacher's ngf) with depthwise kernel student.kernel,\n"
     "  trained from <output_dir>/teacher.h5's G_A by distillation: student.lambda_gan x LSGAN against a\n"
     "  discriminator that starts as the teacher's D_A, student.lambda_recon x L1 to the teacher's output,\n"
     "  student.lambda_distill x MSE of learned 1x1 maps of its features (encoder output, every third block)\n"
     "  to the teacher's.  Schedule: student.* as teacher.* (epochs or max_steps, batch_size, lr, eval_every,\n"
     "  decay_epochs); Adam with optim.*.  The best weights by FID on the held-out training images become\n"
     "  <output_dir>/student.h5 (with its discriminator and maps, for the prune stage).  Data-parallel\n"
     "  under mpirun, resumable and preemptible as the teacher.\n"},
    {"prune", cmd_prune, "cyclegan: L1-prune the student, distil it from the unpruned one -> <output_dir>/pruned.h5",
     "ofa prune CONFIG [--set key.sub=value]... [--log-level debug|info|warn|error] [--force] [--verbose]\n"
     "  The cyclegan family's third stage (GAN Compression's step 2): keeps prune.keep of every channel\n"
     "  slot of <output_dir>/student.h5's generator by L1 norm (one index set per residual stream), then\n"
     "  distils the pruned net from the unpruned student (prune.lambda_*; fresh 1x1 maps, the student's\n"
     "  discriminator).  Schedule prune.*, as student.*.  The best weights by FID on the held-out\n"
     "  training images become <output_dir>/pruned.h5, the supernet stage's starting point.\n"},
    {"reorder", cmd_reorder, "importance-reorder the teacher -> <output_dir>/teacher_reordered.h5",
     "ofa reorder CONFIG [--set key.sub=value]... [--log-level debug|info|warn|error] [--force] [--verbose]\n"
     "  Scores heads and FFN neurons of <output_dir>/teacher.h5 on the dev set (reorder.batches\n"
     "  batches of teacher.batch_size; 0 = all), permutes them most important first, checks that\n"
     "  the dev logits are unchanged, and writes <output_dir>/teacher_reordered.h5 with /importance.\n"
     "  With reorder.enabled false the teacher is copied unpermuted.  teacher.h5 must have been made\n"
     "  from this config's settings; a finished output is not overwritten without --force.\n"},
    {"supernet", cmd_supernet, "train the once-for-all supernet from the reordered teacher -> supernet.h5",
     "ofa supernet CONFIG [--set key.sub=value]... [--log-level L] [--force] [--verbose]\n"
     "  Trains the supernet of CONFIG (supernet.*) from <output_dir>/teacher_reordered.h5 with\n"
     "  distillation, phase by phase; checkpoints in <output_dir>/ckpt/ every\n"
     "  supernet.checkpoint.every_steps (a restart resumes from the newest one); the result is\n"
     "  <output_dir>/supernet.h5.  One JSON line per step in <output_dir>/metrics.jsonl.  Runs as\n"
     "  one MPI job under mpirun (see 'ofa help run'); SIGTERM/SIGUSR1 checkpoint and exit 99.\n"
     "  supernet.micro_batches auto (the default) gives every training rank a micro-batch each step.\n"
     "  A finished supernet.h5 is not overwritten without --force; a checkpoint of other settings is\n"
     "  not resumed (an error naming the key; --force starts over).\n"},
    {"export", cmd_export, "write one subnet of a supernet as a standalone model",
     "ofa export SUPERNET.h5 --arch ARCH -o OUT.h5 [--data DIR] [--no-score] [--force]\n"
     "  ARCH is the text form, e.g. d3-h4.2.1-f1024.512.256 (depth, heads and FFN width of each\n"
     "  kept layer; -e<hidden> when the hidden size is elastic), or one value for every kept layer:\n"
     "  d3-h2-f512; for a cyclegan (MobileResNet) supernet, channels, block widths, kernels and\n"
     "  upsampling widths: c8.16.32-b16.32.32-k5.5.5-u16.8.  OUT.h5 holds the reduced tensors (kind\n"
     "  subnet, attribute arch), the vocabulary (BERT), its dev score (best_metric: test FID for a\n"
     "  generator; unless --no-score or the data is missing) and a config_yaml whose model.* is the\n"
     "  subnet's shape; ofa eval, translate, latency and inspect read it.  --data DIR: the data folder\n"
     "  to score it on (GLUE's, or Fashion-MNIST's for a cyclegan; default the supernet's config's).\n"
     "  An existing OUT.h5 is kept (exit 2) unless --force; OUT's folders are made.\n"},
    {"import", cmd_import, "a Hugging Face BERT folder as an ofa teacher checkpoint",
     "ofa import HF_DIR -o OUT.h5 [--task sst-2] [--seed S] [--force]\n"
     "  Reads a Hugging Face BERT folder (config.json, vocab.txt, tokenizer_config.json if present,\n"
     "  model.safetensors with F32, F16 or BF16 tensors) and writes OUT.h5, an ofa checkpoint of kind\n"
     "  teacher with the tokenizer, that every command reads and model.init fine-tunes from.  Takes\n"
     "  BertForSequenceClassification (its classifier kept: num_labels must be the task's outputs;\n"
     "  its rows put in the task's label order when id2label names the task's labels),\n"
     "  BertModel, BertForMaskedLM and BertForPreTraining (their heads ignored; a fresh classifier\n"
     "  from --seed, default 42, and a fresh pooler when the file has none); old LayerNorm\n"
     "  gamma/beta names; layer_norm_eps and type_vocab_size kept.  --task: the GLUE task (default\n"
     "  sst-2).  Missing, extra and mis-shaped tensors and tensors holding NaN or infinity (all of\n"
     "  them at once), a vocab.txt of another size, a model_type other than bert or a hidden_act\n"
     "  other than gelu are errors naming the file and tensors; nothing is written then.  A\n"
     "  pytorch_model.bin is refused with the command that converts it\n"
     "  (tools/hf_to_safetensors.py, with torch).  An existing OUT.h5 needs --force; OUT.h5's\n"
     "  folder is created if missing.\n"},
    {"predict", cmd_predict, "labels and probabilities of raw sentences (TSV)",
     "ofa predict MODEL.h5 [--arch ARCH] [--text \"...\"]... [--batch N] [--threads N] [--max-seq-len N]\n"
     "            [-o OUT.tsv]\n"
     "  Runs a BERT model file (teacher, imported, supernet or exported subnet; a supernet's largest\n"
     "  subnet unless --arch) on raw text: each --text, else every line of stdin that is not blank,\n"
     "  is one example (a pair task's two sentences separated by a tab), tokenized with the file's\n"
     "  vocabulary, cut to --max-seq-len tokens (default the file's data.max_seq_len; at most its\n"
     "  positions; how many were cut is printed on stderr) and scored in batches (--batch, default\n"
     "  64).  Prints TSV (or writes OUT.tsv, making its folder): index (0-based, over the examples),\n"
     "  prediction (the label name, or the score for STS-B), and p_<label> for each class (softmax\n"
     "  of the logits).  The labels are those 'ofa eval --predictions' writes.  Errors name the\n"
     "  input line.\n"},
    {"eval", cmd_eval, "score a checkpoint on dev (metrics) or test (predictions)",
     "ofa eval CHECKPOINT [--split dev|val|test] [--data DIR] [--predictions FILE] [--logits]\n"
     "                    [--arch ARCH | --grid] [--task mnli-mm] [--batch N] [--threads N] [--limit N]\n"
     "                    [--val-source train|dev|auto]\n"
     "ofa eval SUPERNET --agreement N [--seed S] [--val-source train|dev] [--val-limit N] [--dev-limit N]\n"
     "  Scores the model in CHECKPOINT (teacher, supernet or exported subnet) on its task's split:\n"
     "  dev = the rows dev figures are reported on (all of dev, or the half the search does not\n"
     "  validate on: search.val_source), val = the search's validation rows (search.val_limit of them,\n"
     "  as the search scored, unless --limit); the line says which.\n"
     "  --val-source train scores all of dev (what tools/ofa_to_torch.py scores) whatever the file's\n"
     "  search.val_source.\n"
     "  --predictions writes the GLUE submission format (index<TAB>prediction), with the raw logits\n"
     "  as extra columns when --logits is given.  On a supernet, --arch scores one subnet inside it\n"
     "  (ARCH as for export, e.g. d2-h2-f512); without it, its largest subnet (the output says which).\n"
     "  --grid prints (and writes grid.csv beside the checkpoint) the family's grid of archs (BERT:\n"
     "  DynaBERT's depth x width table; a MobileResNet supernet: its largest and smallest subnets)\n"
     "  with the metric, parameters, MACs and latency of each grid arch (measured: the median of the\n"
     "  file's search.latency settings, as 'ofa latency --arch').  The data folder (GLUE's, or\n"
     "  Fashion-MNIST's for a cyclegan): --data, else the checkpoint's config (a relative one: see\n"
     "  docs/checkpoint-format.md); --task mnli-mm scores an mnli model on the mismatched set.  Results\n"
     "  are also appended to the metrics.jsonl of the file's run folder (when it has one).\n"
     "  --agreement N: N random archs of the supernet (seeded, distinct) scored on the search's\n"
     "  validation rows (search.val_limit of them) and on dev (search.dev_limit), and Kendall's tau-b\n"
     "  between the two rankings (and params vs dev); agreement.csv beside the checkpoint.\n"
     "  --val-source and the limits override the stored config, to measure another choice.\n"},
    {"latency", cmd_latency, "measure a subnet's forward latency, or build the per-op latency table",
     "ofa latency CHECKPOINT [--arch ARCH] [--batch N] [--seq N] [--threads N] [--repeats N] [--warmup N]\n"
     "                       [--cores LIST] [--max-spread X] [--retries N]\n"
     "ofa latency CHECKPOINT --table [-o TABLE.h5] [--calibrate N] [--check M] [--warn-mape PCT]\n"
     "                       [timing options as above]\n"
     "  Times the forward of one subnet (default: the largest of a supernet's space, or the model\n"
     "  itself) on random inputs (full-length sequences for BERT, --seq; images of the model's size\n"
     "  for a generator) after warm-up, pinned to --cores, and prints the\n"
     "  median, p10-p90, spread = (p90 - p10) / median, parameters and MACs.  Defaults come from the\n"
     "  checkpoint's search.latency.*.  A spread above --max-spread (default 0.25) after --retries\n"
     "  re-measurements is refused: the machine is too noisy (exit status 1); a negative X takes\n"
     "  any spread.  --threads above the cores this process may use is refused.\n"
     "  --table times every op shape of the space in isolation into TABLE.h5 (default\n"
     "  latency_table.h5 beside the checkpoint), fits latency = scale x table sum + const on N random\n"
     "  archs measured for real (default 20), and prints MAPE and Kendall tau of the table and the\n"
     "  predictor on those and on M further random archs (default 50); warns when the predictor's\n"
     "  error on those (MAPE) exceeds --warn-mape percent (default 10).  The file records it.\n"},
    {"inspect", cmd_inspect, "what any file ofa writes holds (checkpoints, search.h5, latency tables)",
     "ofa inspect FILE [--json]\n"
     "  Says what FILE is and what it holds: for a model checkpoint (teacher, supernet, training\n"
     "  state, exported subnet) its run metadata, dev score and what it is of, shape, stored config,\n"
     "  space (supernets), tokenizer, optimizer state, every dataset with its shape and the parameter\n"
     "  count (the weights are read, so a corrupted tensor fails); for search.h5 the search's\n"
     "  settings, progress, each budget's winner and the evaluated archs; for latency_table.h5 what it\n"
     "  was timed for, the predictor and its checked error, and every op.  --json prints the same as\n"
     "  one JSON object (docs/checkpoint-format.md lists the fields).\n"},
    {"bench", cmd_bench, "time training steps on synthetic data (same work as ../shared/bench/torch_peer.py, torch_peer_gan.py)",
     "ofa bench teacher|supernet|infer|gemm [--layers 4] [--hidden 256] [--heads 4] [--ffn 1024] [--vocab 8192]\n"
     "                  [--classes 2] [--seq 64] [--batch 32] [--threads 2] [--steps 10] [--warmup 3]\n"
     "                  [--subnets 4] [--arch smallest|largest] [--seed 0]\n"
     "  teacher: one full-model training step (forward, cross-entropy, backward, AdamW).\n"
     "  supernet: one OFA step: teacher forward + --subnets sandwich-sampled subnets forward/backward\n"
     "  with distillation (softCE logits + 0.1 x MSE on embedding and blocks), one AdamW step.\n"
     "  infer: the forward of one subnet (--arch smallest or largest of the space {L/2, 3L/4, L} x\n"
     "  {A/4, A/2, 3A/4, A} x {F/4, F/2, 3F/4, F}) at --batch (default 1), on the inference kernels\n"
     "  (AVX-512 when the CPU has it and --threads is 1, else OpenBLAS; \"kernels\" in the output).\n"
     "  Prints one JSON line: ms_per_step (median), min, max, tokens_per_s, peak_rss_mib; teacher and\n"
     "  supernet add gflops, sgemm_gflops (OpenBLAS sgemm measured in the same run at the model's\n"
     "  FFN matmul shape), kernels and product_gflops (the linear layers' own product, AVX-512 on\n"
     "  --threads threads when the CPU has it, at that shape); infer adds gflops over the\n"
     "  multiply-adds the forward performs (its last layer runs on each sequence's first token).\n"
     "  gemm: the inference product at the forward's shapes (--seq x --batch tokens), GFLOP/s of\n"
     "  the OpenBLAS and AVX-512 paths (0 when the CPU lacks AVX-512), one JSON line per shape.\n"
     "ofa bench cyclegan|generator [--size 32] [--channels 1] [--ngf 32] [--ndf 32] [--blocks 6] [--dlayers 3]\n"
     "                  [--batch 4|1] [--threads 2|1] [--steps 10] [--warmup 3] [--gen resnet|mobile] [--seed 0]\n"
     "  The CycleGAN family's work, as ../shared/bench/torch_peer_gan.py: cyclegan = one teacher\n"
     "  training step (G_A, G_B, D_A, D_B; LSGAN + cycle x10 + identity x5; Adam; no image pool);\n"
     "  generator = one generator's forward at --batch (--gen mobile: GAN Compression's MobileResNet,\n"
     "  batch 1).  One JSON line: ms_per_step (median), min, max, images_per_s, gflops (from the\n"
     "  convolutions' MACs), sgemm_gflops (OpenBLAS at the residual blocks' im2col product).\n"},
};
static const int n_commands = (int)(sizeof commands / sizeof *commands);

/* Every environment variable ofa, its scripts and its tests read (grep getenv and ${OFA_ in the
 * tree), one line each. */
static const char *const env_vars[][2] = {
    {"GLUE_DIR", "GLUE data folder: the default of data.glue_dir (${GLUE_DIR:-../shared/data/glue}), and the "
                 "data of a file whose stored data.glue_dir is relative (ofa eval, export)"},
    {"FMNIST_DIR", "Fashion-MNIST IDX folder: the default of data.fmnist_dir (${FMNIST_DIR:-/usr/share/datasets/"
                   "fashion-mnist}); also read by the tests"},
    {"OFA_THREADS", "BLAS threads when experiment.threads is 0 (default: the usable cores; under mpirun, "
                    "shared out between the ranks)"},
    {"OFA_KERNELS", "'openblas': run inference (eval, search, latency) and training's products on OpenBLAS "
                    "instead of ofa's AVX-512 kernels"},
    {"OFA_STRASSEN", "'0': scoring (eval, predict, the search) and bench infer use the classical product everywhere; "
                     "by default, with the AVX-512 kernels, layers of BERT-base size use one level of Strassen's "
                     "algorithm (nn/strassen.h)"},
    {"OFA_BIN", "the ofa binary slurm/ofa.sbatch and the tests run (default build/ofa)"},
    {"OFA_LAUNCHER", "slurm/ofa.sbatch: mpirun (default) or srun"},
    {"OFA_MPIRUN_ARGS", "slurm/ofa.sbatch: extra mpirun flags (e.g. --bind-to core)"},
    {"OFA_SRUN_ARGS", "slurm/ofa.sbatch: extra srun flags (with OFA_LAUNCHER=srun)"},
    {"OFA_SLURM_STATE", "slurm/local-cluster.sh: its state folder (default /tmp/ofa-slurm)"},
    {"OFA_SLURM_CPUS", "slurm/local-cluster.sh: CPUs the test node advertises (default 8)"},
    {"OFA_SLURM_WAIT", "slurm/local-cluster.sh: seconds to wait for the daemons (default 30)"},
    {"OFA_SLURM_TASKS", "tests/slurm/preempt.sh: tasks of the preempted job (default 3)"},
    {"OFA_PREEMPT_FAMILY", "tests/slurm/preempt.sh: bert (default) or cyclegan, the family of the preempted job"},
    {"OFA_SLURM_TEST_TIMEOUT", "tests/slurm/preempt.sh: seconds before it gives up (default 300)"},
    {"OFA_KEEP_SLURM", "tests: 1 leaves the test Slurm cluster running"},
    {"OFA_SKIP_SLURM", "tests: 1 skips the Slurm suite"},
    {"OFA_TEST_QUICK", "tests: 1 skips the long integration tests (make asan)"},
    {"OFA_TEST_VERBOSE", "tests: 1 prints the measured errors of the image-layer tests (suite conv)"},
    {"OFA_KEEP_TMP", "tests: 1 keeps the scratch folder under TMPDIR"},
    {"ORT_NODE_MODULES", "tests: a node_modules folder with onnxruntime-node (suite import, onnx: the ONNX export "
                         "run in ONNX Runtime; skipped without it)"},
    {"TMPDIR", "tests: where scratch folders go (default /tmp)"},
    {"${NAME}", "in a config: any variable, e.g. glue_dir: ${GLUE_DIR}; ${NAME:-default} when unset"},
};

/* The command called `name`: cli's own, else one a model folder provides (models/command.h). */
static int find_command(const char *name, command *out)
{
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(name, commands[i].name)) return *out = commands[i], 1;
    const ofa_command *m = ofa_command_find(name);
    if (m) *out = (command){m->name, m->fn, m->summary, m->usage};
    return m != NULL;
}

static void print_help(FILE *f)
{
    fprintf(f, "ofa %s: once-for-all compression of BERT on GLUE, in C.\n\n"
               "usage: ofa COMMAND [ARGS]\n\ncommands:\n",
            OFA_VERSION);
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    for (int i = 0; i < ofa_command_count(); i++)
        fprintf(f, "  %-9s %s\n", ofa_command_get(i)->name, ofa_command_get(i)->summary);
    fprintf(f, "  %-9s %s\n", "help", "ofa help COMMAND shows the usage of one command");
    fprintf(f, "\noptions: --version, --help; config commands also --set key=value, --log-level L, --verbose\n"
               "\nenvironment:\n");
    for (size_t i = 0; i < sizeof env_vars / sizeof *env_vars; i++)
        fprintf(f, "  %-22s %s\n", env_vars[i][0], env_vars[i][1]);
    fprintf(f, "\nexit status: 0 ok, 2 usage or config error, 1 runtime error, 99 checkpointed after a signal "
               "(requeue)\n");
}


/* "unknown command 'X'" with the nearest command name (or the one it is a prefix of) when close. */
static int unknown_command(const char *what, const char *name)
{
    const char *best = NULL;
    int dbest = 3;
    size_t n = strlen(name);
    int n_model = ofa_command_count();
    for (int i = 0; i <= n_commands + n_model; i++) {
        const char *c = i < n_commands ? commands[i].name
                        : i < n_commands + n_model ? ofa_command_get(i - n_commands)->name : "help";
        int d = ofa_edit_distance(name, strlen(name), c, strlen(c));
        if (n >= 2 && !strncmp(c, name, n)) d = 1; /* a prefix: "insp" */
        if (d < dbest) dbest = d, best = c;
    }
    if (best && dbest <= (n <= 4 ? 1 : 2))
        fprintf(stderr, "ofa: unknown %s '%s'; did you mean '%s'? (see 'ofa help')\n", what, name, best);
    else
        fprintf(stderr, "ofa: unknown %s '%s'; see 'ofa help'\n", what, name);
    return 2;
}

int main(int argc, char **argv)
{
    /* every command: a file size limit (or a full disk's EFBIG) fails the write with a message and
     * exit 1, and the previous output file is kept (core/afile), instead of SIGXFSZ killing ofa */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("ofa %s (git %s)\n", OFA_VERSION, OFA_GIT_REV);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 2 && strcmp(cmd, "help") == 0 && strcmp(argv[2], "help") != 0) {
            command c;
            if (!find_command(argv[2], &c)) return unknown_command("command", argv[2]);
            printf("%s", c.usage);
            return 0;
        }
        print_help(stdout);
        return 0;
    }
    command c;
    if (find_command(cmd, &c)) {
        for (int j = 2; j < argc; j++)
            if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
                printf("%s", c.usage);
                return 0;
            }
        int rc = c.fn(argc - 2, argv + 2);
        int quiet = ofa_log_rank() != 0 && (rc == OFA_E_CONFIG || rc == OFA_E_USAGE); /* rank 0 says it */
        if (rc == OFA_STOPPED) {
            if (ofa_log_rank() == 0)
                fprintf(stderr, "ofa %s: stopped by a signal after writing a checkpoint; exit %d (requeue to resume)\n",
                        cmd, OFA_EXIT_REQUEUE);
        } else if (rc < 0 && !quiet) {
            fprintf(stderr, "ofa %s: %s%s: %s\n", cmd, ofa_log_rank() ? "" : "", ofa_status_name(rc), ofa_err_msg());
            if (ofa_log_get_level() <= OFA_LOG_DEBUG) fprintf(stderr, "  (raised at %s)\n", ofa_err_where());
            if (rc == OFA_E_USAGE) fprintf(stderr, "usage: %s", c.usage);
        }
        return ofa_exit_status(rc);
    }
    return unknown_command("command", cmd);
}
