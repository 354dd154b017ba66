/* Suite slurm: preempted on Slurm and requeued (tests/slurm/preempt.sh on the local one-node cluster).
 *
 * The script starts slurm/local-cluster.sh (or reuses it), submits the real slurm/ofa.sbatch with 3
 * tasks (`ofa run` through teacher, reorder, supernet and search), preempts it with SIGUSR1 after a
 * supernet checkpoint, and checks the requeued job resumes, runs the search, finishes COMPLETED, and
 * ends with weights bitwise identical to an uninterrupted run (~50 s).  preempt_requeue_gan does the
 * same with a tiny cyclegan job (fidnet, teacher, student, prune, supernet with GAN Compression's
 * step, search; OFA_PREEMPT_FAMILY=cyclegan).
 * Skipped (with a printed reason) under OFA_TEST_QUICK, OFA_SKIP_SLURM=1, when not root, or without
 * GLUE data (Fashion-MNIST for the cyclegan job: the script skips); the script's own exit 77 (a
 * missing tool) is a skip too.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

static void preempt(int gan)
{
    const char *skip = getenv("OFA_SKIP_SLURM");
    if (tu_quick()) {
        printf("\n    slurm: skipped (OFA_TEST_QUICK is set) ");
        return;
    }
    if (skip && strcmp(skip, "1") == 0) {
        printf("\n    slurm: skipped (OFA_SKIP_SLURM=1) ");
        return;
    }
    if (geteuid() != 0) {
        printf("\n    slurm: skipped (the local Slurm cluster needs root) ");
        return;
    }
    char cmd[4096];
    int n;
    if (gan) {
        n = snprintf(cmd, sizeof cmd, "OFA_PREEMPT_FAMILY=cyclegan bash tests/slurm/preempt.sh");
    } else {
        const char *glue = tu_glue_dir();
        if (!glue) {
            printf("\n    slurm: skipped (no GLUE data: set GLUE_DIR) ");
            return;
        }
        CU_ASSERT_PTR_NULL_FATAL(strchr(glue, '\''));
        n = snprintf(cmd, sizeof cmd, "GLUE_DIR='%s' bash tests/slurm/preempt.sh", glue);
    }
    CU_ASSERT_TRUE_FATAL(n > 0 && (size_t)n < sizeof cmd);
    printf("\n");
    fflush(stdout);
    int st = system(cmd);
    CU_ASSERT_TRUE_FATAL(st != -1 && WIFEXITED(st));
    if (WEXITSTATUS(st) == 77) {
        printf("    slurm: skipped (tests/slurm/preempt.sh says why above) ");
        return;
    }
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

static void test_preempt_requeue(void) { preempt(0); }
static void test_preempt_requeue_gan(void) { preempt(1); }

int test_slurm_register(void)
{
    CU_pSuite s = CU_add_suite("slurm", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "preempt_requeue", test_preempt_requeue) ||
        !CU_add_test(s, "preempt_requeue_gan", test_preempt_requeue_gan))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
