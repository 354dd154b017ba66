#include "models/registry.h"

#include <string.h>

#include "core/error.h"
#include "models/bert/family.h"
#include "models/gan/commands.h"
#include "models/gan/family.h"

/* one entry per enum ofa_family_id, in order */
static const ofa_family *const families[] = {&ofa_bert_family, &ofa_cyclegan_family};
_Static_assert(sizeof families / sizeof *families == OFA_FAMILY_COUNT, "one family table per ofa_family_id");

const ofa_family *ofa_family_get(int id)
{
    OFA_ASSERT(id >= 0 && id < OFA_FAMILY_COUNT);
    return families[id];
}

const ofa_family *ofa_family_find(const char *name)
{
    for (int i = 0; i < OFA_FAMILY_COUNT; i++)
        if (name && !strcmp(families[i]->name, name)) return families[i];
    return NULL;
}

/* the model folders' command tables, each ended by a NULL name */
static const ofa_command *const command_tables[] = {ofa_gan_commands};

int ofa_command_count(void)
{
    int n = 0;
    for (size_t t = 0; t < sizeof command_tables / sizeof *command_tables; t++)
        for (const ofa_command *c = command_tables[t]; c->name; c++) n++;
    return n;
}

const ofa_command *ofa_command_get(int i)
{
    OFA_ASSERT(i >= 0);
    for (size_t t = 0; t < sizeof command_tables / sizeof *command_tables; t++)
        for (const ofa_command *c = command_tables[t]; c->name; c++)
            if (i-- == 0) return c;
    OFA_ASSERT(!"command index out of range");
    return NULL;
}

const ofa_command *ofa_command_find(const char *name)
{
    for (int i = 0, n = ofa_command_count(); i < n && name; i++)
        if (!strcmp(ofa_command_get(i)->name, name)) return ofa_command_get(i);
    return NULL;
}

const ofa_family *ofa_model_family(const ofa_model *m) { return ofa_family_get(m->family); }

#define FAM(x) ofa_family_get((x)->family)

int ofa_space_from_config(ofa_space *s, const ofa_config *c, const ofa_model *m, const char *where)
{
    return FAM(m)->space_from_config(s, c, m, where);
}
void ofa_space_of_model(ofa_space *s, const ofa_model *m) { FAM(m)->space_of_model(s, m); }
int ofa_arch_parse(ofa_arch *a, const char *text, const ofa_space *s) { return FAM(s)->arch_parse(a, text, s); }
void ofa_arch_print(const ofa_arch *a, const ofa_space *s, char *buf, size_t n)
{
    OFA_ASSERT(a->family == s->family);
    FAM(s)->arch_print(a, s, buf, n);
}
int ofa_arch_check(const ofa_arch *a, const ofa_space *s)
{
    OFA_ASSERT(a->family == s->family);
    return FAM(s)->arch_check(a, s);
}
void ofa_arch_full(ofa_arch *a, const ofa_model *m) { FAM(m)->arch_full(a, m); }
void ofa_arch_largest(ofa_arch *a, const ofa_space *s) { FAM(s)->arch_largest(a, s); }
void ofa_arch_smallest(ofa_arch *a, const ofa_space *s, int elastic) { FAM(s)->arch_smallest(a, s, elastic); }
void ofa_arch_random(ofa_arch *a, const ofa_space *s, int elastic, ofa_rng *rng)
{
    FAM(s)->arch_random(a, s, elastic, rng);
}
int ofa_arch_grid(ofa_arch *a, const ofa_space *s, int elastic) { return FAM(s)->arch_grid(a, s, elastic); }
int ofa_space_strata(const ofa_space *s, int elastic) { return FAM(s)->strata(s, elastic); }
void ofa_arch_to_stratum(ofa_arch *a, const ofa_space *s, int elastic, int k, ofa_rng *rng)
{
    FAM(s)->arch_to_stratum(a, s, elastic, k, rng);
}
void ofa_arch_mutate(ofa_arch *c, const ofa_arch *par, const ofa_space *s, int elastic, double prob, ofa_rng *rng)
{
    FAM(s)->arch_mutate(c, par, s, elastic, prob, rng);
}
void ofa_arch_crossover(ofa_arch *c, const ofa_arch *p1, const ofa_arch *p2, const ofa_space *s, int elastic,
                        ofa_rng *rng)
{
    FAM(s)->arch_crossover(c, p1, p2, s, elastic, rng);
}
int64_t ofa_arch_params(const ofa_model *m, const ofa_arch *a) { return FAM(m)->arch_params(m, a); }
double ofa_arch_macs(const ofa_model *m, const ofa_arch *a, int seq_len) { return FAM(m)->arch_macs(m, a, seq_len); }
