// Linux calls Swift cannot make directly (C variadic functions), wrapped in fixed signatures.
#include <signal.h>
#include <sys/prctl.h>

/// prctl(PR_SET_PDEATHSIG, sig): the kernel sends `sig` to this process when its parent dies.
static inline int lmtool_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0UL, 0UL, 0UL);
}
