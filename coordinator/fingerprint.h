/* coordinator/fingerprint: what each stage output was made from, so a run reuses an output only
 * when it was made from the settings the config asks for.
 *
 * Every stage output records the root attribute `fingerprint` (teacher.h5, teacher_reordered.h5,
 * supernet.h5, and search.h5 for pareto.csv; supernet step checkpoints too): text lines
 * "key: value", first "stage: <name>", then the config keys the stage reads with their canonical
 * YAML values (core/config ofa_config_key_text), the teacher's data lines from its model family
 * (models/family.h data_fingerprint: data keys, where the search validates, the data files' sizes
 * and hashes), the lines a command adds (the search's --latency-ms ...), and for a stage with an
 * input file "input <file>: created <its created attribute>" followed by the fingerprint of the
 * stage that made it, indented by two spaces:
 *
 *     stage: reorder
 *     reorder.enabled: true
 *     ...
 *     input teacher.h5: created 2025-01-02T03:04:05Z
 *       stage: teacher
 *       experiment.seed: 42
 *       ...
 *
 * Keys that do not change what a stage computes (output_dir, threads, log level, checkpoint
 * intervals, mpi.*) are left out, and so is where the data folder is (its files' contents count).
 * ofa_fingerprint_check names the first key whose value differs (old and new), or the input file
 * that was remade since.  Not collective; rank 0 (or a single-process command) calls these.
 */
#ifndef OFA_COORDINATOR_FINGERPRINT_H
#define OFA_COORDINATOR_FINGERPRINT_H

#include "core/config.h"

/* Every stage any family's run plan has.  BERT's plan: teacher -> reorder -> supernet -> search; a
 * family with student stages (models/family.h student_stages: the cyclegan family's):
 * teacher -> student -> prune -> supernet -> search (ofa_stage_plan). */
enum ofa_stage {
    OFA_STAGE_TEACHER,
    OFA_STAGE_STUDENT,
    OFA_STAGE_PRUNE,
    OFA_STAGE_REORDER,
    OFA_STAGE_SUPERNET,
    OFA_STAGE_SEARCH,
    OFA_STAGE_COUNT
};

/* How a stage treats what an earlier run left in output_dir (training states in ckpt/, an
 * interrupted search.h5): */
enum {
    OFA_STAGE_FORCE = 1, /* one made from other settings is discarded (without: an error naming what changed) */
    OFA_STAGE_FRESH = 2  /* every one is discarded: the stage's finished output is being recomputed (--force) */
};

/* "teacher", "student", "prune", "reorder", "supernet", "search" */
const char *ofa_stage_name(int stage);
/* The file of output_dir that holds the stage's fingerprint (core/runfiles names): teacher.h5,
 * student.h5, pruned.h5, teacher_reordered.h5, supernet.h5, search.h5 (the search is finished when
 * pareto.csv exists). */
const char *ofa_stage_file(int stage);
/* The run plan of config c's model family: its stages in order into plan[OFA_STAGE_COUNT]; returns
 * how many (an unknown model.type: BERT's plan). */
int ofa_stage_plan(const ofa_config *c, int *plan);
/* The stage before `stage` in c's plan (whose output is its input), -1 for the teacher. */
int ofa_stage_prev(const ofa_config *c, int stage);

/* The fingerprint stage `stage` gets from config c now (*out malloc'd).  input: the stage's input
 * file (NULL: the previous stage's output in output_dir; the teacher has none); extra: lines
 * ("key: value\n" each) a command adds, or NULL. */
int ofa_fingerprint_make(char **out, const ofa_config *c, int stage, const char *input, const char *extra);

/* The `fingerprint` root attribute of an ofa HDF5 file: *out malloc'd, or NULL when it has none
 * (a file of an older ofa). */
int ofa_fingerprint_read(const char *path, char **out);

/* Whether `had` (the fingerprint recorded in file `what`, NULL: none) agrees with `want`: 0, or
 * OFA_E_CONFIG with a message "<what> was made with <key>: <old>; the config now says <new>" (a key
 * of an earlier stage, found in the input's part: "... (a setting of the teacher stage) ..."), or
 * "... was made from another <input> (created X; the one there now: created Y)", or "... records no
 * fingerprint", followed by `hint`.  inputs = 0 ignores the input lines (whether the input files are
 * the very ones it was made from) and compares the settings only.  *stage (may be NULL): the stage
 * whose setting differs, -1 for anything else.  A key `want` lists and `had` lacks, at the key's
 * default value, agrees: a setting added by a newer ofa defaults to what the older one did, so its
 * outputs stay usable (a key at another value, or one removed, is a difference). */
int ofa_fingerprint_check(const char *what, const char *had, const char *want, int inputs, const char *hint,
                          int *stage);

#endif
