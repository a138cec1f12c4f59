/*
 * expiry.c - the expiry timer (see expiry.h).
 */
#include <event2/event.h>

#include "bounds.h"
#include "comityd.h"
#include "expiry.h"
#include "log.h"
#include "queue.h"


static struct event	*expiry_ev;
static int64_t		 armed_at;	/* when the timer fires; 0 = unset */
static int		 stepping;	/* a step's commit is pending */

/* Set the timer for AT (ns since the epoch; 0 = nothing waits). */
static void
arm(int64_t at)
{
	if (expiry_ev == NULL || cd->stopping)
		return;
	evtimer_del(expiry_ev);
	armed_at = 0;
	if (at > 0)
		armed_at = timer_at(expiry_ev, at, EXPIRY_SLEEP_MAX_MS);
}

/* Set the timer from the index, or try again a little later. */
static void
rearm(void)
{
	int64_t	at;

	if (queue_expiry_next(&at) != 0)
		at = now_ns() + EXPIRY_RETRY_MS * NS_PER_MS;
	arm(at);
}

static void
step_done(void *arg, int rc)
{
	(void)arg;
	stepping = 0;
	if (rc != 0) {
		log_warnx("expiry: commit failed (error %d), trying again in "
		    "%dms", rc, EXPIRY_RETRY_MS);
		arm(now_ns() + EXPIRY_RETRY_MS * NS_PER_MS);
		return;
	}
	rearm();
}

static void
expiry_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t	at;

	(void)fd;
	(void)what;
	(void)arg;
	armed_at = 0;
	if (stepping || cd->stopping)
		return;
	/* a wake-up after the longest sleep may find nothing due yet */
	if (queue_expiry_next(&at) == 0 && (at == 0 || at > now_ns())) {
		arm(at);
		return;
	}
	stepping = 1;
	queue_expire_due(step_done, NULL);
}

void
expiry_init(void)
{
	if ((expiry_ev = evtimer_new(cd->base, expiry_cb, NULL)) == NULL)
		fatalx("cannot create the expiry timer");
	rearm();
}

void
expiry_note(int64_t at_ns)
{
	/* a step under way sets the timer from the index when it is done */
	if (stepping || (armed_at != 0 && armed_at <= at_ns))
		return;
	arm(at_ns);
}

void
expiry_kick(void)
{
	expiry_note(now_ns());
}

void
expiry_stop(void)
{
	if (expiry_ev != NULL) {
		event_free(expiry_ev);
		expiry_ev = NULL;
	}
	armed_at = 0;
}
