/* models/registry: the model families of this build (one table per enum ofa_family_id, checked by
 * _Static_assert) and the wrappers that dispatch an arch, space or model to its family's ops.
 * The stages include this header; a family's own files include models/family.h only.  Adding a
 * family: its table in models/<family>/, one line in registry.c, one union member per value type
 * in family.h (docs/architecture.md, "Adding a model family").  No state; not collective. */
#ifndef OFA_MODELS_REGISTRY_H
#define OFA_MODELS_REGISTRY_H

#include "models/command.h"
#include "models/family.h"

/* The family named `name` ("bert"), NULL when none is. */
const ofa_family *ofa_family_find(const char *name);
const ofa_family *ofa_family_get(int id);

/* The subcommands the model folders provide (models/command.h), in registry order: count, the i-th,
 * and the one named `name` (NULL when none is). */
int ofa_command_count(void);
const ofa_command *ofa_command_get(int i);
const ofa_command *ofa_command_find(const char *name);

/* ---- wrappers: dispatch on the family tag ---- */
int ofa_space_from_config(ofa_space *s, const ofa_config *c, const ofa_model *m, const char *where);
void ofa_space_of_model(ofa_space *s, const ofa_model *m);
int ofa_arch_parse(ofa_arch *a, const char *text, const ofa_space *s);
void ofa_arch_print(const ofa_arch *a, const ofa_space *s, char *buf, size_t n);
int ofa_arch_check(const ofa_arch *a, const ofa_space *s);
void ofa_arch_full(ofa_arch *a, const ofa_model *m);
void ofa_arch_largest(ofa_arch *a, const ofa_space *s);
void ofa_arch_smallest(ofa_arch *a, const ofa_space *s, int elastic);
void ofa_arch_random(ofa_arch *a, const ofa_space *s, int elastic, ofa_rng *rng);
int ofa_arch_grid(ofa_arch *a, const ofa_space *s, int elastic);
int ofa_space_strata(const ofa_space *s, int elastic);
void ofa_arch_to_stratum(ofa_arch *a, const ofa_space *s, int elastic, int k, ofa_rng *rng);
void ofa_arch_mutate(ofa_arch *c, const ofa_arch *par, const ofa_space *s, int elastic, double prob, ofa_rng *rng);
void ofa_arch_crossover(ofa_arch *c, const ofa_arch *p1, const ofa_arch *p2, const ofa_space *s, int elastic,
                        ofa_rng *rng);
int64_t ofa_arch_params(const ofa_model *m, const ofa_arch *a);
double ofa_arch_macs(const ofa_model *m, const ofa_arch *a, int seq_len);
const ofa_family *ofa_model_family(const ofa_model *m);

#endif
