/* tests/runner: registers every suite (list generated from tests/test_*.c) and runs them.
 * Usage: build/ofa_tests [SUITE [TEST]]   exit status = number of failed tests (capped at 255). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

#define SUITE(n) int test_##n##_register(void);
#include "suites.h"
#undef SUITE

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 255;
    ofa_log_set_level(OFA_LOG_WARN);
#define SUITE(n)                                                                                   \
    if (test_##n##_register() != CUE_SUCCESS) {                                                    \
        fprintf(stderr, "cannot register suite %s: %s\n", #n, CU_get_error_msg());                 \
        return 255;                                                                                \
    }
#include "suites.h"
#undef SUITE
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (argc > 1) {
        CU_pSuite s = CU_get_suite(argv[1]);
        if (!s) {
            fprintf(stderr, "no suite named '%s'\n", argv[1]);
            CU_cleanup_registry();
            return 255;
        }
        if (argc > 2) {
            CU_pTest t = CU_get_test(s, argv[2]);
            if (!t) {
                fprintf(stderr, "no test '%s' in suite '%s'\n", argv[2], argv[1]);
                CU_cleanup_registry();
                return 255;
            }
            CU_basic_run_test(s, t);
        } else {
            CU_basic_run_suite(s);
        }
    } else {
        CU_basic_run_tests();
    }
    unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed > 255 ? 255 : (int)failed;
}
