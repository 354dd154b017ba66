/* Suite layers: tools/lint_layers.sh passes on the tree and fails on each kind of breach (a lower
 * layer including a higher one, a stage including a family's own header, a family including the
 * generic layer above it, two modules including each other), in a small tree made here. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/testutil.h"

static int lint(const char *root, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bash tools/lint_layers.sh '%s' 2>&1", root);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void put(const char *root, const char *path, const char *text)
{
    char full[1024], cmd[1200];
    snprintf(full, sizeof full, "%s/%s", root, path);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", full);
    CU_ASSERT_FATAL(system(cmd) == 0);
    FILE *f = fopen(full, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_tree_is_layered(void)
{
    char out[8192];
    int st = lint(".", out, sizeof out);
    if (st != 0) printf("\n%s", out);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ", ok"));
}

static void test_breaches_found(void)
{
    char root[600], out[8192], cmd[700];
    snprintf(root, sizeof root, "%s/layers", tu_tmpdir());
    const struct {
        const char *file, *text, *expect;
    } cases[] = {
        {"nn/k.c", "#include \"cli/cli.h\"\n", "nn/k.c: includes cli/cli.h, a higher layer"},
        {"evaluator/s.c", "#include \"models/bert/bert.h\"\n", "only through models/registry.h"},
        {"models/bert/x.c", "#include \"models/registry.h\"\n", "a family's files use models/family.h only"},
        {"trainers/a.c", "#include \"trainers/c.h\"\n", "include each other"},
        {"coordinator/b.c", "#include \"trainers/a.h\"\n", "coordinator/b.c: includes trainers/a.h, a higher layer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        CU_ASSERT_FATAL(system(cmd) == 0);
        put(root, "core/e.h", "/* ok */\n");
        put(root, "cli/m.c", "#include \"core/e.h\"\n#include \"trainers/a.h\"\n");
        put(root, "trainers/c.c", "#include \"trainers/a.h\"\n#include \"coordinator/b.h\"\n");
        put(root, cases[i].file, cases[i].text);
        int st = lint(root, out, sizeof out);
        CU_ASSERT_EQUAL(st, 1);
        if (!strstr(out, cases[i].expect)) printf("\n  case %zu: expected '%s' in:\n%s", i, cases[i].expect, out);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, cases[i].expect));
    }
    /* the same tree without a breach passes */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CU_ASSERT_FATAL(system(cmd) == 0);
    put(root, "core/e.h", "/* ok */\n");
    put(root, "cli/m.c", "#include \"core/e.h\"\n#include \"trainers/a.h\"\n");
    CU_ASSERT_EQUAL(lint(root, out, sizeof out), 0);
}

/* tools/check_config_keys.sh: every schema key of core/config.c is read somewhere outside it (on
 * the tree); in a copy of the sources without the one read of experiment.name (cli/job.c's
 * first log line), and then without any read of a phase's lr, it names those keys and exits 1. */
static int check_keys(const char *root, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bash tools/check_config_keys.sh '%s' 2>&1", root);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_config_keys_read(void)
{
    char out[8192], root[600], cmd[4096];
    int st = check_keys(".", out, sizeof out);
    if (st != 0) printf("\n%s", out);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "keys, all read"));
    snprintf(root, sizeof root, "%s/keys", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s' && cp -r core nn datasets supernet models trainers coordinator evaluator "
             "cli '%s'/ && sed -i 's/c->experiment.name/\"x\"/' '%s'/cli/job.c",
             root, root, root, root);
    CU_ASSERT_FATAL(system(cmd) == 0);
    st = check_keys(root, out, sizeof out);
    CU_ASSERT_EQUAL(st, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "config key 'experiment.name' (field experiment.name) is never read outside "
                                       "core/config.c"));
    CU_ASSERT_PTR_NULL(strstr(out, "'model.layers'"));
    /* a phase key too */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && grep -rlE '(\\.|->)lr([^a-zA-Z0-9_]|$)' --include=*.[ch] . | grep -v core/config.c "
             "| xargs sed -i -E 's/(\\.|->)lr([^a-zA-Z0-9_]|$)/\\1lr_gone\\2/g'", root);
    CU_ASSERT_FATAL(system(cmd) == 0);
    st = check_keys(root, out, sizeof out);
    CU_ASSERT_EQUAL(st, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "config key 'supernet.phases[].lr' (field lr)"));
}

int test_layers_register(void)
{
    CU_pSuite s = CU_add_suite("layers", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "tree_is_layered", test_tree_is_layered) ||
        !CU_add_test(s, "breaches_found", test_breaches_found) ||
        !CU_add_test(s, "config_keys_read", test_config_keys_read))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
