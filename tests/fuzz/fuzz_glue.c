/* make fuzz target glue: the GLUE TSV reader (datasets/glue) on arbitrary file content; the first
 * byte picks the task, the second the split (train, dev, test) and whether malformed rows are
 * skipped; the rest is the file. */
#include "tests/fuzz/fuzz_common.h"

#include "datasets/glue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const char *dir = fuzz_dir();
    const int task = data[0] % OFA_TASK_COUNT;
    const char *splits[] = {"train", "dev", "test"};
    const char *split = splits[(data[1] & 0x7f) % 3];
    const int skip = data[1] >> 7;
    char path[1024];
    ofa_glue_path(path, sizeof path, dir, task, split);
    char cmd[1200];
    static int made[OFA_TASK_COUNT];
    if (!made[task]) {
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", dir, ofa_task_get(task)->dir);
        if (system(cmd) != 0) abort();
        made[task] = 1;
    }
    fuzz_write(path, data + 2, size - 2);
    ofa_glue_split s;
    if (ofa_glue_load(&s, dir, task, split, skip, 0) == 0) {
        /* what a loaded split promises: texts present, labels in range */
        const ofa_task_info *ti = ofa_task_get(task);
        for (int64_t i = 0; i < s.n; i++) {
            if (!s.ex[i].a || (ti->pair && !s.ex[i].b)) abort();
            if (s.has_labels && ti->num_labels > 1 && (s.ex[i].label < 0 || s.ex[i].label >= ti->num_labels)) abort();
            if (s.has_labels && ti->num_labels == 1 &&
                !(s.ex[i].label >= ti->label_min && s.ex[i].label <= ti->label_max))
                abort();
        }
        ofa_glue_free(&s);
    }
    ofa_err_clear();
    return 0;
}
