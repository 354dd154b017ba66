#include "models/gan/score.h"

#include "core/error.h"

int ofa_cyclegan_score(const ofa_cyclegan *m, ofa_data *d, ofa_score *out)
{
    (void)m, (void)d, (void)out;
    return OFA_ERR(OFA_E_USAGE, "FID scoring of a cyclegan needs the fidnet, which this build does not have yet");
}
