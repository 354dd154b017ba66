/* tests/testutil: shared helpers for the CUnit suites.
 *
 * Each tests/test_<name>.c defines `int test_<name>_register(void)` which adds one CUnit suite
 * (returns 0 or a CUnit error); tests/runner.c calls them all (the list is generated from the file
 * names by the Makefile).  Helpers here: scratch folders, fixture files, running build/ofa and
 * capturing its exit status and output, and array comparisons that print the first mismatches.
 */
#ifndef OFA_TESTS_TESTUTIL_H
#define OFA_TESTS_TESTUTIL_H

#include <stddef.h>

/* A fresh empty folder under $TMPDIR (removed at exit unless OFA_KEEP_TMP is set). */
const char *tu_tmpdir(void);
/* Writes `text` to tu_tmpdir()/name and returns the full path (static storage, 8 rotating slots). */
const char *tu_write_file(const char *name, const char *text);
/* The whole file, NUL-terminated (malloc'd; caller frees), or NULL when it cannot be read. */
char *tu_read_file(const char *path);
/* Path into the scratch folder without creating anything (8 rotating slots). */
const char *tu_path(const char *name);
/* Runs `build/ofa args...` through /bin/sh (args is a shell fragment); returns the exit status,
 * or -1 when killed by a signal.  Combined stdout+stderr goes to *out (malloc'd, caller frees). */
int tu_run_ofa(const char *args, char **out);
/* GLUE_DIR (or ../shared/data/glue); NULL when absent (tests needing it then say so and skip). */
const char *tu_glue_dir(void);
/* Quick mode (OFA_TEST_QUICK=1, used by make asan): long integration tests are skipped. */
int tu_quick(void);

/* The CUnit registry's error code, for a suite's register function (not a test result: the runner
 * exits with the number of failed tests). */
int tu_cunit_error(void);

/* max |a-b| / max(|b|, floor) over n; prints the first few mismatches above tol with `name`. */
double tu_max_rel_err(const char *name, const float *a, const float *b, size_t n, double floor_, double tol);
/* ||a-b|| / max(||b||, tiny): the normalized error used for gradients. */
double tu_norm_err(const float *a, const float *b, size_t n);
double tu_norm_err_d(const double *a, const double *b, size_t n);

#endif
