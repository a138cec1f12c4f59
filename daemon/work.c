/*
 * work.c - the pool of threads for CPU-bound jobs (see work.h).
 *
 * Two FIFO lists of jobs to run (urgent first) and one of jobs done, under
 * one mutex.  A thread that finishes a job into an empty done list writes
 * a byte to a pipe the loop watches; the loop then takes the whole done
 * list and runs the DONE callbacks in the order the jobs finished.  A
 * small urgent job run at once by work_submit() itself goes on the done
 * list too, and the loop's watch of the pipe is made active directly.
 * The threads block every signal: signals are the loop's business.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bounds.h"
#include "log.h"
#include "work.h"
#include "xmalloc.h"

#define WORK_NICE	10	/* the threads' priority below the loop's */
#define WORK_INLINE_PER_S 32	/* urgent jobs run on the loop thread, */
#define WORK_INLINE_MAX	(64u << 10)	/* of at most these bytes each */

struct job {
	work_fn		 run;
	work_fn		 done;
	void		*arg;
	struct job	*next;
};

struct jobq {
	struct job	*head;
	struct job	**tail;
};

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 ucv = PTHREAD_COND_INITIALIZER;	/* urgent only */
static struct jobq	 urgentq, normalq, doneq;
static int		 stopping;
static pthread_t	 threads[WORK_THREADS_MAX + 1];	/* + the urgent one */
static unsigned int	 nthreads;
static int		 wake[2] = { -1, -1 };
static struct event	*wake_ev;

static void
jobq_init(struct jobq *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

static void
jobq_put(struct jobq *q, struct job *j)
{
	j->next = NULL;
	*q->tail = j;
	q->tail = &j->next;
}

static struct job *
jobq_get(struct jobq *q)
{
	struct job	*j;

	if ((j = q->head) != NULL && (q->head = j->next) == NULL)
		q->tail = &q->head;
	return j;
}

static void *
worker(void *arg)
{
	struct job	*j;
	id_t		 tid;
	char		 c = 0;
	int		 first, prio, urgent_only = arg != NULL;

	/*
	 * Below the loop thread: when the machine is busy, the thread that
	 * reads links, answers clients and commits runs as soon as it has
	 * something to do, instead of waiting for its share behind the
	 * crypto.  Urgent requests crossing saturating bulk traffic waited
	 * 55 ms (p50) on that; 10 ms after at nice +5, and nice +10 took
	 * another third off (p50 8.7 -> 5.3 ms, the bulk rate unchanged;
	 * +15 starved the crypto).  Relative to the loop's nice, which a
	 * new thread inherits: a daemon started at nice 10 must not get
	 * threads at 0, above its loop.
	 */
	tid = (id_t)syscall(SYS_gettid);
	errno = 0;
	prio = getpriority(PRIO_PROCESS, tid);
	if (!urgent_only && (prio != -1 || errno == 0))
		(void)setpriority(PRIO_PROCESS, tid, prio + WORK_NICE);
	/* (no log here: a pool thread) best effort, as nice is */
	pthread_mutex_lock(&mtx);
	for (;;) {
		if ((j = jobq_get(&urgentq)) == NULL && (urgent_only ||
		    (j = jobq_get(&normalq)) == NULL)) {
			if (stopping)
				break;
			pthread_cond_wait(urgent_only ? &ucv : &cv, &mtx);
			continue;
		}
		pthread_mutex_unlock(&mtx);
		j->run(j->arg);
		pthread_mutex_lock(&mtx);
		first = doneq.head == NULL;
		jobq_put(&doneq, j);
		/* one byte per empty-to-non-empty: the pipe never fills */
		if (first)
			while (write(wake[1], &c, 1) == -1 && errno == EINTR)
				;
	}
	pthread_mutex_unlock(&mtx);
	return NULL;
}

/* run_done - the DONE callbacks of every finished job, on the loop */
static void
run_done(void)
{
	struct job	*j, *next;
	char		 buf[64];

	pthread_mutex_lock(&mtx);
	while (read(wake[0], buf, sizeof(buf)) > 0)
		;
	j = doneq.head;
	jobq_init(&doneq);
	pthread_mutex_unlock(&mtx);
	for (; j != NULL; j = next) {
		next = j->next;
		j->done(j->arg);
		free(j);
	}
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	run_done();
}

void
work_init(struct event_base *base, unsigned int n)
{
	sigset_t	all, old;
	long		cpus;
	unsigned int	i;
	int		rc;

	if (n == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (unsigned int)cpus : 1;
	}
	if (n > WORK_THREADS_MAX)
		n = WORK_THREADS_MAX;
	jobq_init(&urgentq);
	jobq_init(&normalq);
	jobq_init(&doneq);
	stopping = 0;	/* a pool stopped before starts again */
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("work: pipe");
	wake_ev = event_new(base, wake[0], EV_READ | EV_PERSIST, wake_cb,
	    NULL);
	if (wake_ev == NULL || event_add(wake_ev, NULL) != 0)
		fatalx("work: cannot watch the pipe");
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* N threads, and one for urgent jobs only, at the loop's priority:
	 * an urgent job never waits for a normal one to end */
	for (i = 0; i < n + 1; i++)
		if ((rc = pthread_create(&threads[i], NULL, worker, i == n ?
		    (void *)&ucv : NULL)) != 0) {
			errno = rc;
			fatal("work: pthread_create");
		}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	nthreads = n;
	log_debug("work: %u threads", n);
}

/*
 * inline_ok - whether an urgent job of LEN bytes may run at once on the
 * loop thread.  A seal, an open or a receipt check of a small request
 * takes 0.2-0.5 ms; handing it to a thread and its result back cost more
 * when both cores were busy (an urgent request crossing bulk traffic:
 * 10 ms at p50 through the urgent thread, 5 ms run at once).  Only small
 * ones (WORK_INLINE_MAX), at most WORK_INLINE_PER_S a second, so that
 * neither a large document nor a peer sending nothing but urgent
 * envelopes can take the loop: the others go to the urgent thread.
 */
static int
inline_ok(size_t len)
{
	static time_t	 sec;
	static unsigned	 n;
	struct timespec	 ts;

	if (len > WORK_INLINE_MAX)
		return 0;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec != sec) {
		sec = ts.tv_sec;
		n = 0;
	}
	return n++ < WORK_INLINE_PER_S;
}

void
work_submit(work_fn run, work_fn done, void *arg, int urgent, size_t len)
{
	struct job	*j;

	if (nthreads == 0) {	/* stopped (or never started): inline */
		run(arg);
		done(arg);
		return;
	}
	j = xmalloc(sizeof(*j));
	j->run = run;
	j->done = done;
	j->arg = arg;
	if (urgent && inline_ok(len)) {
		run(arg);
		pthread_mutex_lock(&mtx);
		jobq_put(&doneq, j);
		pthread_mutex_unlock(&mtx);
		/* DONE still runs from the loop, later in this turn */
		event_active(wake_ev, EV_READ, 0);
		return;
	}
	pthread_mutex_lock(&mtx);
	jobq_put(urgent ? &urgentq : &normalq, j);
	pthread_cond_signal(&cv);
	if (urgent)
		pthread_cond_signal(&ucv);
	pthread_mutex_unlock(&mtx);
}

unsigned int
work_threads(void)
{
	return nthreads;
}

void
work_stop(void)
{
	unsigned int	i;

	if (nthreads == 0)
		return;
	pthread_mutex_lock(&mtx);
	stopping = 1;
	pthread_cond_broadcast(&cv);
	pthread_cond_broadcast(&ucv);
	pthread_mutex_unlock(&mtx);
	/* the threads leave once both lists are empty */
	for (i = 0; i < nthreads + 1; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
	run_done();
	event_free(wake_ev);
	wake_ev = NULL;
	close(wake[0]);
	close(wake[1]);
	wake[0] = wake[1] = -1;
}
