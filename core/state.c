/* core/state: every mutable global of the program lives here (STYLE.md rule 5): the log level
 * and rank, the per-thread error record, the inference kernels' path, the run id of metrics.jsonl.  Everything else is passed explicitly. */
#include "core/state.h"

int ofa_g_log_level = 1; /* OFA_LOG_INFO */
int ofa_g_log_rank = 0;
int ofa_g_log_size = 1;
_Thread_local struct ofa_err_record ofa_g_err;
volatile sig_atomic_t ofa_g_stop_signal; /* set by the SIGTERM/SIGUSR1 handler (core/sys) */
int ofa_g_fm_path = 0;                      /* nn/fm: 0 = not chosen yet, else an nn_fm_path */
char ofa_g_run_id[40];                   /* core/sys: "" until set or first used */
