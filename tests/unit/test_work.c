/*
 * test_work.c - the pool of threads on a real event loop: each job's RUN
 * runs once on a pool thread and its DONE once afterwards on the loop
 * thread; urgent jobs overtake normal ones already queued, and the first
 * WORK_INLINE_PER_S of them in a second run at once in work_submit(), on
 * the loop thread, their DONE later from the loop; work_stop() runs every
 * job still queued and its DONE before it returns; before work_init() and
 * after work_stop() a job runs inline.  The pool is started again in each
 * test, and a restarted pool runs jobs as the first one did.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "work.h"

#define THREADS		2
#define MANY		1000
#define SLOW		100	/* normal jobs before the urgent ones */
#define URGENT		8
#define SLOW_US		2000
#define STOPPED		60	/* jobs left queued at work_stop() */
#define WAIT_SECS	5	/* a bound on any wait; far above the need */
#define INLINE_PER_S	32	/* WORK_INLINE_PER_S (work.c's) */

struct job {
	int		 id;
	int		 urgent;
	unsigned int	 sleep_us;
	atomic_int	 runs;
	int		 dones;
	int		 ran_first;	/* DONE saw RUN's effect */
	int		 seq;		/* order in which RUN started */
	pthread_t	 run_thread;
	pthread_t	 done_thread;
	int		 run_in_submit;	/* RUN inside work_submit() */
	int		 done_in_submit; /* DONE inside work_submit() */
	struct job	*then;		/* submitted by DONE, if set */
};

static struct event_base	*base;
static struct event		*tick;
static pthread_t		 loop_thread;
static atomic_int		 started;	/* RUNs begun */
static int			 done_count;	/* DONEs (loop thread) */
static int			 in_submit;	/* in work_submit(): the
						 * loop thread's only */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static int
setup(void **state)
{
	struct timeval	tv = { 0, 5000 };

	(void)state;
	loop_thread = pthread_self();
	if ((base = event_base_new()) == NULL)
		return -1;
	/* the loop never blocks for long, so waits can be bounded */
	if ((tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL)) == NULL ||
	    event_add(tick, &tv) != 0)
		return -1;
	return 0;
}

/* stop - leave no pool running after a test, also one that failed */
static int
stop(void **state)
{
	(void)state;
	work_stop();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	work_stop();
	event_free(tick);
	event_base_free(base);
	return 0;
}

static void	submit(struct job *, int);

static void
sleep_us(unsigned int us)
{
	struct timespec	ts = { 0, (long)us * 1000 };

	while (nanosleep(&ts, &ts) == -1)
		;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
job_run(void *arg)
{
	struct job	*j = arg;

	j->seq = atomic_fetch_add(&started, 1);
	j->run_thread = pthread_self();
	/* in_submit is the loop thread's: a pool thread must not read it */
	if (pthread_equal(j->run_thread, loop_thread))
		j->run_in_submit = in_submit;
	if (j->sleep_us > 0)
		sleep_us(j->sleep_us);
	atomic_fetch_add(&j->runs, 1);
}

static void
job_done(void *arg)
{
	struct job	*j = arg;

	j->ran_first = atomic_load(&j->runs) == 1;
	j->done_thread = pthread_self();
	j->done_in_submit = in_submit;
	j->dones++;
	done_count++;
	if (j->then != NULL)
		submit(j->then, 0);
}

/* submit_len - work_submit() of a job on LEN bytes, noting for
 * job_run/job_done that it runs */
static void
submit_len(struct job *j, int urgent, size_t len)
{
	int	was = in_submit;	/* from a DONE: nested */

	j->urgent = urgent;
	in_submit = 1;
	work_submit(job_run, job_done, j, urgent, len);
	in_submit = was;
}

/* submit - a job on a small request's bytes */
static void
submit(struct job *j, int urgent)
{
	submit_len(j, urgent, 1024);
}

static struct job *
jobs_new(size_t n)
{
	struct job	*jobs = calloc(n, sizeof(*jobs));

	assert_non_null(jobs);
	for (size_t i = 0; i < n; i++)
		jobs[i].id = (int)i;
	atomic_store(&started, 0);
	done_count = 0;
	return jobs;
}

/* loop_until - run the loop until WANT DONEs ran; fails after WAIT_SECS */
static void
loop_until(int want)
{
	double	end = now() + WAIT_SECS;

	while (done_count < want) {
		if (now() > end)
			fail_msg("%d of %d DONE callbacks after %d s",
			    done_count, want, WAIT_SECS);
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	}
}

/* ran_inline - RUN ran on the loop thread */
static int
ran_inline(const struct job *j)
{
	return pthread_equal(j->run_thread, loop_thread);
}

/*
 * check_ran - with a pool (POOLED), RUN once on a pool thread, or for an
 * urgent job maybe inside work_submit(), and DONE once on the loop's,
 * never inside work_submit(); without one, both inline
 */
static void
check_ran(const struct job *j, int pooled)
{
	if (atomic_load(&j->runs) != 1 || j->dones != 1)
		fail_msg("job %d: RUN %d times, DONE %d times", j->id,
		    atomic_load(&j->runs), j->dones);
	if (!j->ran_first)
		fail_msg("job %d: DONE before RUN finished", j->id);
	if (!pthread_equal(j->done_thread, loop_thread))
		fail_msg("job %d: DONE off the loop thread", j->id);
	if (pooled && ran_inline(j) && !j->urgent)
		fail_msg("job %d: RUN on the loop thread", j->id);
	if (pooled && ran_inline(j) && !j->run_in_submit)
		fail_msg("job %d: RUN on the loop, not in work_submit()",
		    j->id);
	if (pooled && j->done_in_submit)
		fail_msg("job %d: DONE before work_submit() returned", j->id);
	if (!pooled && !ran_inline(j))
		fail_msg("job %d: RUN not inline", j->id);
}

/*
 * fresh_second - wait for a new second of the clock that inline_ok()
 * counts by: no urgent job was given in it yet, a whole budget is left
 */
static void
fresh_second(void)
{
	struct timespec	a, b;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &a);
	do {
		sleep_us(500);
		clock_gettime(CLOCK_MONOTONIC_COARSE, &b);
	} while (b.tv_sec == a.tv_sec);
}

/*
 * spend_inline - use up this second's inline budget: urgent jobs until
 * one is queued.  Urgent jobs given after it in this second are queued
 * too.  Leaves the counters as jobs_new() does.
 */
static void
spend_inline(void)
{
	struct job	*jobs = jobs_new(2 * INLINE_PER_S + 2);
	int		 n = 0;

	do
		submit(&jobs[n], 1);
	while (jobs[n++].run_in_submit && n < 2 * INLINE_PER_S + 2);
	assert_false(jobs[n - 1].run_in_submit);
	loop_until(n);
	free(jobs);
	atomic_store(&started, 0);
	done_count = 0;
}

/* ------------------------------------------------------------- tests */

static void
test_inline_before_init(void **state)
{
	struct job	*j = jobs_new(1);

	(void)state;
	assert_int_equal(work_threads(), 0);
	submit(j, 0);
	/* both ran before work_submit returned */
	check_ran(j, 0);
	free(j);
}

static void
test_many(void **state)
{
	struct job	*jobs = jobs_new(MANY);
	pthread_t	 seen[THREADS + 2];
	size_t		 nseen = 0, k;

	(void)state;
	work_init(base, THREADS);
	assert_int_equal(work_threads(), THREADS);
	for (size_t i = 0; i < MANY; i++)
		submit(&jobs[i], i % 7 == 0);
	/* DONE waits for the loop, never runs in work_submit() */
	assert_int_equal(done_count, 0);
	loop_until(MANY);
	for (size_t i = 0; i < MANY; i++) {
		check_ran(&jobs[i], 1);
		if (ran_inline(&jobs[i]))
			continue;	/* urgent, in work_submit() */
		for (k = 0; k < nseen; k++)
			if (pthread_equal(seen[k], jobs[i].run_thread))
				break;
		if (k == nseen) {
			/* the pool's, and the one for urgent jobs */
			if (nseen == THREADS + 1)
				fail_msg("RUN on over %d threads", THREADS + 1);
			seen[nseen++] = jobs[i].run_thread;
		}
	}
	/* nothing runs twice later on */
	for (int i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(done_count, MANY);
	work_stop();
	assert_int_equal(work_threads(), 0);
	for (size_t i = 0; i < MANY; i++)
		check_ran(&jobs[i], 1);
	free(jobs);
}

/* a pool stopped and started again runs jobs given long after the start */
static void
test_restart(void **state)
{
	struct job	*jobs = jobs_new(10);

	(void)state;
	work_init(base, THREADS);
	assert_int_equal(work_threads(), THREADS);
	/* the threads are idle, waiting for work, by now */
	sleep_us(20000);
	for (int i = 0; i < 10; i++)
		submit(&jobs[i], i % 2);
	loop_until(10);
	for (int i = 0; i < 10; i++)
		check_ran(&jobs[i], 1);
	work_stop();
	free(jobs);
}

static void
test_urgent_first(void **state)
{
	struct job	*jobs = jobs_new(SLOW + URGENT);
	double		 end = now() + WAIT_SECS;
	int		 before, last_urgent = -1, behind = 0;

	(void)state;
	work_init(base, THREADS);
	/* the urgent jobs below go through the queue, not inline */
	spend_inline();
	for (int i = 0; i < SLOW; i++) {
		jobs[i].sleep_us = SLOW_US;
		submit(&jobs[i], 0);
	}
	/* every thread busy with a slow job, the rest queued */
	while (atomic_load(&started) < THREADS) {
		if (now() > end)
			fail_msg("the slow jobs did not start");
		sleep_us(100);
	}
	for (int i = SLOW; i < SLOW + URGENT; i++) {
		submit(&jobs[i], 1);
	}
	before = atomic_load(&started);
	loop_until(SLOW + URGENT);
	for (int i = 0; i < SLOW + URGENT; i++) {
		check_ran(&jobs[i], 1);
		if (jobs[i].urgent && jobs[i].seq > last_urgent)
			last_urgent = jobs[i].seq;
	}
	/*
	 * Once queued, the urgent jobs are the next ones taken: only a
	 * normal job a thread had already taken may start in between (and,
	 * should a thread stall between taking a job and starting it, one
	 * more per thread).
	 */
	if (last_urgent >= before + URGENT + 2 * THREADS)
		fail_msg("urgent jobs started as late as #%d (%d begun when "
		    "they were queued)", last_urgent, before);
	for (int i = 0; i < SLOW; i++)
		if (jobs[i].seq > last_urgent)
			behind++;
	/* normal jobs in the order given: the last one starts late */
	if (jobs[SLOW - 1].seq < SLOW / 2 + URGENT)
		fail_msg("the last normal job started #%d", jobs[SLOW - 1].seq);
	print_message("%d of %d slow jobs started after the last urgent "
	    "one\n", behind, SLOW);
	if (behind < SLOW / 2)
		fail_msg("only %d of %d normal jobs after the urgent ones",
		    behind, SLOW);
	work_stop();
	free(jobs);
}

static void
test_stop_runs_queued(void **state)
{
	struct job	*jobs = jobs_new(STOPPED + 1);
	int		 begun;

	(void)state;
	work_init(base, THREADS);
	assert_int_equal(work_threads(), THREADS);
	/* a DONE run by work_stop() gives one more job: it runs inline */
	jobs[STOPPED - 1].then = &jobs[STOPPED];
	for (int i = 0; i < STOPPED; i++) {
		jobs[i].sleep_us = 500;
		submit(&jobs[i], i % 5 == 0);
	}
	begun = atomic_load(&started);
	/* the loop never ran: every DONE is still to come */
	assert_int_equal(done_count, 0);
	assert_true(begun < STOPPED);
	work_stop();
	assert_int_equal(work_threads(), 0);
	assert_int_equal(done_count, STOPPED + 1);
	for (int i = 0; i < STOPPED; i++)
		check_ran(&jobs[i], 1);
	check_ran(&jobs[STOPPED], 0);
	/* and nothing is left for the loop */
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(done_count, STOPPED + 1);
	free(jobs);
}

static void
test_inline_after_stop(void **state)
{
	struct job	*jobs = jobs_new(3);

	(void)state;
	work_init(base, THREADS);
	submit(&jobs[0], 0);
	loop_until(1);
	check_ran(&jobs[0], 1);
	work_stop();
	work_stop();	/* a second stop does nothing */
	assert_int_equal(work_threads(), 0);
	submit(&jobs[1], 0);
	check_ran(&jobs[1], 0);
	submit(&jobs[2], 1);
	check_ran(&jobs[2], 0);
	assert_int_equal(done_count, 3);
	free(jobs);
}

static void
submit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	submit(arg, 1);
}

/*
 * An urgent job runs inline: RUN on the calling thread before
 * work_submit() returns; DONE not before it returns, but from the next
 * pass of the loop, on that thread; given from a callback of the loop,
 * in the same pass.
 */
static void
test_urgent_inline(void **state)
{
	struct job	*jobs = jobs_new(2);
	struct event	*ev;

	(void)state;
	work_init(base, THREADS);
	fresh_second();
	submit(&jobs[0], 1);
	assert_int_equal(atomic_load(&jobs[0].runs), 1);
	assert_true(ran_inline(&jobs[0]));
	assert_true(jobs[0].run_in_submit);
	assert_int_equal(jobs[0].dones, 0);
	assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	assert_int_equal(jobs[0].dones, 1);
	check_ran(&jobs[0], 1);

	ev = event_new(base, -1, 0, submit_cb, &jobs[1]);
	assert_non_null(ev);
	event_active(ev, 0, 0);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
	    0);
	event_free(ev);
	assert_true(jobs[1].run_in_submit);
	assert_int_equal(jobs[1].dones, 1);
	check_ran(&jobs[1], 1);
	assert_int_equal(done_count, 2);
	work_stop();
	free(jobs);
}

/* an urgent job on more than 64 KiB never runs inline, budget or not */
static void
test_urgent_large(void **state)
{
	struct job	*jobs = jobs_new(3);

	(void)state;
	work_init(base, THREADS);
	fresh_second();
	submit_len(&jobs[0], 1, 64 << 10);	/* the largest inline */
	assert_true(jobs[0].run_in_submit);
	submit_len(&jobs[1], 1, (64 << 10) + 1);
	assert_false(jobs[1].run_in_submit);
	submit_len(&jobs[2], 1, 16 << 20);
	assert_false(jobs[2].run_in_submit);
	loop_until(3);
	check_ran(&jobs[0], 1);
	check_ran(&jobs[1], 1);
	check_ran(&jobs[2], 1);
	assert_false(ran_inline(&jobs[1]));
	assert_false(ran_inline(&jobs[2]));
	free(jobs);
}

/* a normal job never runs inline, budget or not: RUN on a pool thread */
static void
test_normal_pooled(void **state)
{
	struct job	*jobs = jobs_new(10);

	(void)state;
	work_init(base, THREADS);
	fresh_second();
	for (int i = 0; i < 10; i++) {
		submit(&jobs[i], 0);
		assert_false(jobs[i].run_in_submit);
	}
	loop_until(10);
	for (int i = 0; i < 10; i++) {
		check_ran(&jobs[i], 1);
		assert_false(ran_inline(&jobs[i]));
	}
	work_stop();
	free(jobs);
}

/*
 * INLINE_PER_S urgent jobs a second run inline, the next on a pool
 * thread; a new second gives a new budget.  The first INLINE_PER_S after
 * fresh_second() are inline whatever the clock does meanwhile (a new
 * second only gives more); that the next ones are queued holds when no
 * new second began while they were given (else, with twice the budget
 * and more, some are queued all the same).
 */
#define BUDGET_JOBS	(2 * INLINE_PER_S + 8)

static void
test_inline_budget(void **state)
{
	struct job	*jobs = jobs_new(BUDGET_JOBS + 1);
	struct timespec	 a, b;
	int		 i, ninline = 0;

	(void)state;
	work_init(base, THREADS);
	fresh_second();
	clock_gettime(CLOCK_MONOTONIC_COARSE, &a);
	for (i = 0; i < BUDGET_JOBS; i++)
		submit(&jobs[i], 1);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &b);
	/* (run_in_submit is the loop thread's, safe to read before DONE) */
	for (i = 0; i < BUDGET_JOBS; i++)
		ninline += jobs[i].run_in_submit;
	for (i = 0; i < INLINE_PER_S; i++)
		if (!jobs[i].run_in_submit)
			fail_msg("urgent job %d of a new second not inline",
			    i);
	if (a.tv_sec == b.tv_sec) {
		for (i = INLINE_PER_S; i < BUDGET_JOBS; i++)
			if (jobs[i].run_in_submit)
				fail_msg("urgent job %d inline, over the "
				    "budget", i);
	} else if (b.tv_sec - a.tv_sec == 1) {
		print_message("(a new second began: %d of %d inline)\n",
		    ninline, BUDGET_JOBS);
		assert_true(ninline <= 2 * INLINE_PER_S);
	}
	assert_int_equal(done_count, 0);
	loop_until(BUDGET_JOBS);
	for (i = 0; i < BUDGET_JOBS; i++) {
		check_ran(&jobs[i], 1);
		/* over the budget: on a thread of the pool */
		if (!jobs[i].run_in_submit && ran_inline(&jobs[i]))
			fail_msg("job %d: RUN on the loop thread", i);
	}

	fresh_second();
	submit(&jobs[BUDGET_JOBS], 1);
	assert_true(jobs[BUDGET_JOBS].run_in_submit);
	loop_until(BUDGET_JOBS + 1);
	check_ran(&jobs[BUDGET_JOBS], 1);
	work_stop();
	free(jobs);
}

/*
 * Every DONE runs once, of jobs run inline, queued urgent and normal:
 * from the loop, and from work_stop() for those the loop did not get to
 * (inline ones included); nothing is left for the loop afterwards.
 */
#define ONCE_JOBS	100
#define ONCE_STOPPED	6

static void
test_done_once(void **state)
{
	struct job	*jobs = jobs_new(ONCE_JOBS + ONCE_STOPPED);
	int		 i, ninline = 0;

	(void)state;
	work_init(base, THREADS);
	fresh_second();
	/* a third urgent: some inline, then (budget spent) queued */
	for (i = 0; i < ONCE_JOBS; i++)
		submit(&jobs[i], i % 3 == 0);
	assert_int_equal(done_count, 0);
	loop_until(ONCE_JOBS);
	/* nothing comes twice, later on */
	for (int k = 0; k < 3; k++) {
		sleep_us(2000);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(done_count, ONCE_JOBS);
	for (i = 0; i < ONCE_JOBS; i++) {
		check_ran(&jobs[i], 1);
		ninline += jobs[i].run_in_submit;
	}
	assert_true(ninline > 0);

	/* given, never looped for: work_stop() runs their DONE, once */
	fresh_second();
	for (i = ONCE_JOBS; i < ONCE_JOBS + ONCE_STOPPED; i++)
		submit(&jobs[i], i % 2);
	assert_true(jobs[ONCE_JOBS + 1].run_in_submit);
	assert_int_equal(done_count, ONCE_JOBS);
	work_stop();
	assert_int_equal(done_count, ONCE_JOBS + ONCE_STOPPED);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(done_count, ONCE_JOBS + ONCE_STOPPED);
	for (i = 0; i < ONCE_JOBS + ONCE_STOPPED; i++)
		check_ran(&jobs[i], 1);
	free(jobs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_before_init),
		cmocka_unit_test_teardown(test_many, stop),
		cmocka_unit_test_teardown(test_restart, stop),
		cmocka_unit_test_teardown(test_urgent_first, stop),
		cmocka_unit_test_teardown(test_stop_runs_queued, stop),
		cmocka_unit_test_teardown(test_inline_after_stop, stop),
		cmocka_unit_test_teardown(test_urgent_inline, stop),
		cmocka_unit_test_teardown(test_urgent_large, stop),
		cmocka_unit_test_teardown(test_normal_pooled, stop),
		cmocka_unit_test_teardown(test_inline_budget, stop),
		cmocka_unit_test_teardown(test_done_once, stop),
	};

	/* a pool that lost a job or a wake-up fails here, never hangs */
	alarm(WAIT_SECS * 6);
	return cmocka_run_group_tests(tests, setup, teardown);
}
