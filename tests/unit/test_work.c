/*
 * test_work.c - the pool of threads on a real event loop: each job's RUN
 * runs once on a pool thread and its DONE once afterwards on the loop
 * thread; urgent jobs overtake normal ones already queued; work_stop()
 * runs every job still queued and its DONE before it returns; before
 * work_init() and after work_stop() a job runs inline.  The pool is
 * started again in each test, and a restarted pool runs jobs as the first
 * one did.
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
	struct job	*then;		/* submitted by DONE, if set */
};

static struct event_base	*base;
static struct event		*tick;
static pthread_t		 loop_thread;
static atomic_int		 started;	/* RUNs begun */
static int			 done_count;	/* DONEs (loop thread) */

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
	j->dones++;
	done_count++;
	if (j->then != NULL)
		work_submit(job_run, job_done, j->then, 0);
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

/* check_ran - RUN once on a pool thread, then DONE once on the loop's */
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
	if (pooled && pthread_equal(j->run_thread, loop_thread))
		fail_msg("job %d: RUN on the loop thread", j->id);
	if (!pooled && !pthread_equal(j->run_thread, loop_thread))
		fail_msg("job %d: RUN not inline", j->id);
}

/* ------------------------------------------------------------- tests */

static void
test_inline_before_init(void **state)
{
	struct job	*j = jobs_new(1);

	(void)state;
	assert_int_equal(work_threads(), 0);
	work_submit(job_run, job_done, j, 0);
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
		work_submit(job_run, job_done, &jobs[i], i % 7 == 0);
	/* DONE waits for the loop, never runs in work_submit() */
	assert_int_equal(done_count, 0);
	loop_until(MANY);
	for (size_t i = 0; i < MANY; i++) {
		check_ran(&jobs[i], 1);
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
		work_submit(job_run, job_done, &jobs[i], i % 2);
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
	for (int i = 0; i < SLOW; i++) {
		jobs[i].sleep_us = SLOW_US;
		work_submit(job_run, job_done, &jobs[i], 0);
	}
	/* every thread busy with a slow job, the rest queued */
	while (atomic_load(&started) < THREADS) {
		if (now() > end)
			fail_msg("the slow jobs did not start");
		sleep_us(100);
	}
	for (int i = SLOW; i < SLOW + URGENT; i++) {
		jobs[i].urgent = 1;
		work_submit(job_run, job_done, &jobs[i], 1);
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
		jobs[i].urgent = i % 5 == 0;
		work_submit(job_run, job_done, &jobs[i], jobs[i].urgent);
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
	work_submit(job_run, job_done, &jobs[0], 0);
	loop_until(1);
	check_ran(&jobs[0], 1);
	work_stop();
	work_stop();	/* a second stop does nothing */
	assert_int_equal(work_threads(), 0);
	work_submit(job_run, job_done, &jobs[1], 0);
	check_ran(&jobs[1], 0);
	work_submit(job_run, job_done, &jobs[2], 1);
	check_ran(&jobs[2], 0);
	assert_int_equal(done_count, 3);
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
	};

	/* a pool that lost a job or a wake-up fails here, never hangs */
	alarm(WAIT_SECS * 6);
	return cmocka_run_group_tests(tests, setup, teardown);
}
