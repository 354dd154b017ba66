/* core/log: leveled logging to stderr, tagged with the MPI rank.
 *
 * INFO and DEBUG lines are printed by rank 0 only; WARN and ERROR lines by any rank, tagged
 * "[rank N]" when the job has more than one rank.  The level is checked before formatting.
 * Machine-readable metrics go to metrics.jsonl (see core/metrics), not here.
 */
#ifndef OFA_CORE_LOG_H
#define OFA_CORE_LOG_H

enum ofa_log_level { OFA_LOG_DEBUG, OFA_LOG_INFO, OFA_LOG_WARN, OFA_LOG_ERROR, OFA_LOG_OFF, OFA_LOG_LEVEL_COUNT };

void ofa_log_set_level(int level);
int ofa_log_get_level(void);
/* "debug", "info", "warn", "error", "off" (the name table; level must be one of the enum). */
const char *ofa_log_level_name(int level);
/* Parses one of those names; returns -1 when unknown. */
int ofa_log_level_parse(const char *s);
void ofa_log_set_rank(int rank, int size);
int ofa_log_rank(void);
void ofa_log_(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define OFA_LOG_AT(lvl, ...)                                                                       \
    do {                                                                                           \
        if ((lvl) >= ofa_log_get_level()) ofa_log_((lvl), __VA_ARGS__);                            \
    } while (0)
/* INFO printed by whichever rank calls it (evaluator results, per-rank summaries) */
void ofa_log_any_(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define OFA_INFO_ANY(...)                                                                          \
    do {                                                                                           \
        if (OFA_LOG_INFO >= ofa_log_get_level()) ofa_log_any_(OFA_LOG_INFO, __VA_ARGS__);          \
    } while (0)
#define OFA_DEBUG(...) OFA_LOG_AT(OFA_LOG_DEBUG, __VA_ARGS__)
#define OFA_INFO(...) OFA_LOG_AT(OFA_LOG_INFO, __VA_ARGS__)
#define OFA_WARN(...) OFA_LOG_AT(OFA_LOG_WARN, __VA_ARGS__)
#define OFA_ERROR(...) OFA_LOG_AT(OFA_LOG_ERROR, __VA_ARGS__)

#endif
