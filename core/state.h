/* core/state: the globals defined in core/state.c; only core/log.c, core/error.c, core/sys.c and
 * nn/fm.c include this. */
#ifndef OFA_CORE_STATE_H
#define OFA_CORE_STATE_H

#include <signal.h>

struct ofa_err_record {
    int code;
    int src_line;
    const char *src_file;
    char msg[2048];
};

extern int ofa_g_log_level;
extern int ofa_g_log_rank;
extern int ofa_g_log_size;
extern _Thread_local struct ofa_err_record ofa_g_err;
extern volatile sig_atomic_t ofa_g_stop_signal;
extern int ofa_g_fm_path;
extern char ofa_g_run_id[40]; /* OFA_RUN_ID_MAX (core/sys.h) */

#endif
