/*
 * waiter.c - how the idle scenario learns that a request is DELIVERED at
 * the sender.
 *
 * Preferably from the daemon's event stream: a thread of ours holds a
 * comity_watch() on a connection of its own, subscribed before the first
 * submit so that no event is missed, and hands each final state event
 * (DELIVERED, REJECTED, ...) of an outbox item to the waiting thread, with
 * the time it arrived.  A daemon that does not offer the stream (it
 * refuses the subscription, or does not confirm it in WAITER_SUBSCRIBE_MS)
 * is asked instead with comity_status() every WAITER_POLL_MS.
 *
 * The watch ends by itself after the event of the last request (the
 * callback says so).  Otherwise its thread is still blocked in the watch,
 * whose reads wait for ever: it is then left to end when the daemon stops
 * (the runner stops the daemons after every run), and frees its own
 * state (struct watch) then.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define WAITER_POLL_MS		1
#define WAITER_CHECK_MS		500	/* is every daemon still running? */
#define WAITER_SUBSCRIBE_MS	5000

/* The last final state event of an outbox item. */
struct waiter_seen {
	char	 id[33];
	int	 state;
	int64_t	 submitted_at;		/* the daemon's times, ns */
	int64_t	 delivered_at;
	int64_t	 at;			/* when we got it, monotonic ns */
	char	 reason[128];
};

/* The event stream and its thread.  Once orphaned, the thread owns it. */
struct watch {
	comity_conn		*conn;
	pthread_t		 thread;
	pthread_mutex_t		 lock;		/* what follows */
	pthread_cond_t		 cond;		/* any of it changed */
	int			 subscribed;
	int			 ended;		/* comity_watch() returned */
	int			 rc;		/* what it returned */
	char			 errmsg[256];	/* and why */
	int			 orphan;	/* the thread frees it all */
	char			 want[33];	/* the item waited for */
	int			 last;		/* end the watch after it */
	struct waiter_seen	 seen;
};

struct waiter {
	comity_conn		*conn;		/* comity_status() polls */
	struct watch		*watch;		/* NULL: polling */
};

static int
is_final(int state)
{
	return state == COMITY_STATE_DELIVERED ||
	    state == COMITY_STATE_RETRIEVED ||
	    state == COMITY_STATE_REJECTED ||
	    state == COMITY_STATE_EXPIRED ||
	    state == COMITY_STATE_CANCELLED;
}

static void
watch_free(struct watch *wa)
{
	comity_close(wa->conn);
	pthread_cond_destroy(&wa->cond);
	pthread_mutex_destroy(&wa->lock);
	free(wa);
}

static int
watch_cb(const struct comity_event *ev, void *arg)
{
	struct watch	*wa = arg;
	int		 stop = 0;

	pthread_mutex_lock(&wa->lock);
	if (ev->kind == COMITY_EVENT_SUBSCRIBED) {
		wa->subscribed = 1;
		pthread_cond_broadcast(&wa->cond);
	} else if (ev->kind == COMITY_EVENT_STATE && ev->has_item &&
	    ev->item.box == COMITY_BOX_OUT && is_final(ev->item.state)) {
		memcpy(wa->seen.id, ev->item.id, sizeof(wa->seen.id));
		wa->seen.state = ev->item.state;
		wa->seen.submitted_at = ev->item.submitted_at;
		wa->seen.delivered_at = ev->item.delivered_at;
		wa->seen.at = now_ns();
		snprintf(wa->seen.reason, sizeof(wa->seen.reason), "%s",
		    ev->item.reason);
		stop = wa->last && strcmp(wa->seen.id, wa->want) == 0;
		pthread_cond_broadcast(&wa->cond);
	}
	/* orphaned: nobody waits any more */
	stop = stop || wa->orphan;
	pthread_mutex_unlock(&wa->lock);
	return stop;
}

static void *
watch_main(void *arg)
{
	struct watch	*wa = arg;
	int		 rc, orphan;

	rc = comity_watch(wa->conn, 0, watch_cb, wa);
	pthread_mutex_lock(&wa->lock);
	wa->rc = rc;
	snprintf(wa->errmsg, sizeof(wa->errmsg), "%s", comity_errmsg(wa->conn));
	wa->ended = 1;
	orphan = wa->orphan;
	pthread_cond_broadcast(&wa->cond);
	pthread_mutex_unlock(&wa->lock);
	if (orphan)
		watch_free(wa);
	return NULL;
}

/* Wait on WA's condition until UNTIL (monotonic ns) at the latest. */
static void
cond_wait_until(struct watch *wa, int64_t until)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(until / 1000000000);
	ts.tv_nsec = (long)(until % 1000000000);
	pthread_cond_timedwait(&wa->cond, &wa->lock, &ts);
}

/* Done with WA: join its thread if the watch ended, else leave WA to it. */
static void
watch_release(struct watch *wa)
{
	int	orphan = 0;

	if (wa == NULL)
		return;
	pthread_mutex_lock(&wa->lock);
	if (!wa->ended)
		orphan = wa->orphan = 1;
	pthread_mutex_unlock(&wa->lock);
	if (orphan) {
		pthread_detach(wa->thread);
		return;
	}
	pthread_join(wa->thread, NULL);
	watch_free(wa);
}

/* Subscribe on a connection of its own to the daemon at SOCK: the watch,
 * or NULL when the daemon offers none or it failed (the caller polls). */
static struct watch *
watch_start(const char *sock)
{
	struct watch		*wa;
	pthread_condattr_t	 ca;
	int64_t			 until, step;
	int			 rc, ok;

	if ((wa = calloc(1, sizeof(*wa))) == NULL)
		return NULL;
	pthread_mutex_init(&wa->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wa->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = comity_connect(sock, &wa->conn)) != 0) {
		bench_log("idle: connect %s: %s", sock, comity_strerror(rc));
		watch_free(wa);
		return NULL;
	}
	if (pthread_create(&wa->thread, NULL, watch_main, wa) != 0) {
		bench_log("idle: cannot start the watching thread");
		watch_free(wa);
		return NULL;
	}
	until = now_ns() + (int64_t)WAITER_SUBSCRIBE_MS * 1000000;
	pthread_mutex_lock(&wa->lock);
	while (!wa->subscribed && !wa->ended && now_ns() < until &&
	    !bench_interrupted) {
		step = now_ns() + (int64_t)WAITER_CHECK_MS * 1000000;
		cond_wait_until(wa, step < until ? step : until);
	}
	ok = wa->subscribed;
	if (!ok && !bench_interrupted)
		bench_log("idle: the daemon offers no event stream (%s%s%s): "
		    "polling", wa->ended ? comity_strerror(wa->rc) :
		    "no answer", wa->ended ? ": " : "", wa->ended ?
		    wa->errmsg : "");
	pthread_mutex_unlock(&wa->lock);
	if (!ok) {
		watch_release(wa);
		return NULL;
	}
	return wa;
}

int
waiter_open(struct waiter **out, const char *sock)
{
	struct waiter	*w;
	int		 rc;

	if ((*out = w = calloc(1, sizeof(*w))) == NULL) {
		bench_log("idle: out of memory");
		return -1;
	}
	if ((rc = comity_connect(sock, &w->conn)) != 0) {
		bench_log("idle: connect %s: %s", sock, comity_strerror(rc));
		return -1;
	}
	w->watch = watch_start(sock);
	return bench_interrupted ? -1 : 0;
}

const char *
waiter_method(const struct waiter *w)
{
	return w->watch != NULL ? "watch" : "status_poll";
}

void
waiter_close(struct waiter *w)
{
	if (w == NULL)
		return;
	watch_release(w->watch);
	comity_close(w->conn);
	free(w);
}

/* Stop waiting?  Interrupted, a daemon gone, or out of time. */
static int
wait_over(struct net *net, const char *id, int64_t deadline,
    int64_t *checked)
{
	if (bench_interrupted)
		return 1;
	if (now_ns() - *checked >= (int64_t)WAITER_CHECK_MS * 1000000) {
		if (net_check(net) != 0)
			return 1;
		*checked = now_ns();
	}
	if (now_ns() > deadline) {
		bench_log("idle: %s not DELIVERED in time (--timeout)", id);
		return 1;
	}
	return 0;
}

static int
wait_watch(struct watch *wa, struct net *net, const char *id, int last,
    int64_t deadline, struct waiter_seen *seen)
{
	int64_t	checked = now_ns(), until;
	int	rc = -1;

	pthread_mutex_lock(&wa->lock);
	memcpy(wa->want, id, sizeof(wa->want));
	wa->last = last;
	for (;;) {
		if (strcmp(wa->seen.id, id) == 0) {
			*seen = wa->seen;
			rc = 0;
			break;
		}
		if (wa->ended) {
			bench_log("idle: the watch ended: %s: %s",
			    comity_strerror(wa->rc), wa->errmsg);
			break;
		}
		pthread_mutex_unlock(&wa->lock);
		if (wait_over(net, id, deadline, &checked)) {
			pthread_mutex_lock(&wa->lock);
			break;
		}
		until = now_ns() + (int64_t)WAITER_CHECK_MS * 1000000;
		pthread_mutex_lock(&wa->lock);
		if (strcmp(wa->seen.id, id) != 0 && !wa->ended)
			cond_wait_until(wa, until < deadline ? until : deadline);
	}
	pthread_mutex_unlock(&wa->lock);
	return rc;
}

static int
wait_poll(struct waiter *w, struct net *net, const char *id,
    int64_t deadline, struct waiter_seen *seen)
{
	struct comity_item	*it;
	int64_t			 checked = now_ns();
	int			 rc;

	for (;;) {
		if ((rc = comity_status(w->conn, id, &it)) != 0) {
			bench_log("idle: status %s: %s: %s", id,
			    comity_strerror(rc), comity_errmsg(w->conn));
			return -1;
		}
		memcpy(seen->id, it->id, sizeof(seen->id));
		seen->state = it->state;
		seen->submitted_at = it->submitted_at;
		seen->delivered_at = it->delivered_at;
		seen->at = now_ns();
		snprintf(seen->reason, sizeof(seen->reason), "%s", it->reason);
		comity_free(it);
		if (is_final(seen->state))
			return 0;
		if (wait_over(net, id, deadline, &checked))
			return -1;
		sleep_ms(WAITER_POLL_MS);
	}
}

int
waiter_delivered(struct waiter *w, struct net *net, const char *id,
    int last, int64_t deadline, int64_t *submitted_at,
    int64_t *delivered_at, int64_t *seen_at)
{
	struct waiter_seen	seen;

	memset(&seen, 0, sizeof(seen));
	if ((w->watch != NULL ? wait_watch(w->watch, net, id, last, deadline,
	    &seen) : wait_poll(w, net, id, deadline, &seen)) == -1)
		return -1;
	if (seen.state != COMITY_STATE_DELIVERED &&
	    seen.state != COMITY_STATE_RETRIEVED) {
		bench_log("idle: %s ended %s: %s", id,
		    comity_state_name(seen.state), seen.reason);
		return -1;
	}
	*submitted_at = seen.submitted_at;
	*delivered_at = seen.delivered_at;
	*seen_at = seen.at;
	return 0;
}
