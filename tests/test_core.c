/* Suite core: error records, RNG streams, duration formatting. */
#include <CUnit/CUnit.h>

#include "tests/testutil.h"
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"

static void test_error_record(void)
{
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_err_code(), 0);
    int rc = OFA_ERR(OFA_E_CONFIG, "%s:%d:%d: unknown key '%s'", "a.yaml", 3, 5, "lrr");
    CU_ASSERT_EQUAL(rc, OFA_E_CONFIG);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), "a.yaml:3:5: unknown key 'lrr'");
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_where(), "test_core.c:"));
    ofa_err_prefix(OFA_E_CONFIG, "loading %s", "x");
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), "loading x: a.yaml:3:5: unknown key 'lrr'");
    CU_ASSERT_EQUAL(ofa_exit_status(OFA_E_CONFIG), 2);
    CU_ASSERT_EQUAL(ofa_exit_status(OFA_E_USAGE), 2);
    CU_ASSERT_EQUAL(ofa_exit_status(OFA_E_IO), 1);
    CU_ASSERT_EQUAL(ofa_exit_status(OFA_E_VERSION), 1);
    CU_ASSERT_EQUAL(ofa_exit_status(0), 0);
    ofa_err_clear();
}

static void test_rng_streams(void)
{
    ofa_rng a, b, c;
    ofa_rng_keyed(&a, 42, 7, 1);
    ofa_rng_keyed(&b, 42, 7, 1);
    ofa_rng_keyed(&c, 42, 7, 2);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 100; i++) {
        uint64_t x = ofa_rng_u64(&a), y = ofa_rng_u64(&b), z = ofa_rng_u64(&c);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    CU_ASSERT_TRUE(same_ab);
    CU_ASSERT_FALSE(same_ac);
    /* uniform in [0,1), mean ~ 0.5; below() in range and roughly uniform; normal mean 0 var 1 */
    ofa_rng_seed(&a, 1);
    double s = 0, s2 = 0;
    int counts[5] = {0};
    for (int i = 0; i < 100000; i++) {
        float u = ofa_rng_uniform(&a);
        CU_ASSERT_TRUE_FATAL(u >= 0.0f && u < 1.0f);
        counts[ofa_rng_below(&a, 5)]++;
        double g = ofa_rng_normal(&a);
        s += g;
        s2 += g * g;
    }
    for (int k = 0; k < 5; k++) CU_ASSERT_TRUE(counts[k] > 19000 && counts[k] < 21000);
    CU_ASSERT_DOUBLE_EQUAL(s / 1e5, 0.0, 0.02);
    CU_ASSERT_DOUBLE_EQUAL(s2 / 1e5, 1.0, 0.02);
    int64_t idx[10];
    for (int i = 0; i < 10; i++) idx[i] = i;
    ofa_rng_shuffle(&a, idx, 10);
    int seen = 0;
    for (int i = 0; i < 10; i++) seen |= 1 << idx[i];
    CU_ASSERT_EQUAL(seen, 1023);
}

static void test_duration(void)
{
    char b[32];
    ofa_format_duration(b, sizeof b, 12.34);
    CU_ASSERT_STRING_EQUAL(b, "12.3s");
    ofa_format_duration(b, sizeof b, 312);
    CU_ASSERT_STRING_EQUAL(b, "5m12s");
    ofa_format_duration(b, sizeof b, 3720);
    CU_ASSERT_STRING_EQUAL(b, "1h02m");
}

int test_core_register(void)
{
    CU_pSuite s = CU_add_suite("core", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "error_record", test_error_record) || !CU_add_test(s, "rng_streams", test_rng_streams) ||
        !CU_add_test(s, "duration", test_duration))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
