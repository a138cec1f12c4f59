/*
 * work.h - a pool of threads for the CPU-bound work of the hot path
 * (sealing, opening and verifying CMS), so that the event loop goes on
 * reading links, answering clients and committing while it runs, and
 * every core of the machine takes a share.
 *
 * A job is two functions and an argument: RUN(arg) runs on a pool thread
 * (or at once, below) and must touch only what ARG owns or holds a
 * reference to (no daemon global, no log, no libevent); DONE(arg) runs
 * afterwards on the loop thread and is where the result is used.  Urgent
 * jobs are taken before every normal one, and small ones (LEN up to
 * WORK_INLINE_MAX bytes), the first WORK_INLINE_PER_S in a second, run at
 * once on the loop thread itself (work.c says why).  The threads run at a
 * lower priority (nice) than the loop, which must never wait behind
 * them.  Each job's DONE runs exactly once, on the loop, never
 * before work_submit() has returned (but for a stopped pool, below),
 * also when the pool stops: work_stop() lets every job already given run
 * first.
 */
#ifndef COMITY_WORK_H
#define COMITY_WORK_H

#include <stddef.h>

struct event_base;

typedef void	(*work_fn)(void *);

/*
 * work_init - start N threads (0: one per online CPU), at most
 * WORK_THREADS_MAX, and one more that takes urgent jobs only, at the
 * loop's priority.  Exits on failure (a daemon without them cannot
 * work).
 */
void	work_init(struct event_base *, unsigned int n);
/* work_submit - queue a job on LEN bytes; URGENT jobs go before every
 * normal one, or run at once (RUN now, DONE later in this turn of the
 * loop).  Called on the loop thread only. */
void	work_submit(work_fn run, work_fn done, void *arg, int urgent,
	    size_t len);
/* work_threads - N, the pool's threads besides the urgent one (0 before
 * work_init) */
unsigned int work_threads(void);
/*
 * work_stop - finish every queued job, run their DONE callbacks, join
 * the threads.  Afterwards (and before work_init) work_submit() runs a
 * job inline: RUN, then DONE, before it returns.
 */
void	work_stop(void);

#endif /* COMITY_WORK_H */
