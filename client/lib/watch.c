/*
 * watch.c - the watch stream: one WatchReq, then LocalResponse{event}
 * frames for as long as the caller wants them.
 *
 * The connection is given over to the watch for good (conn->watched):
 * the daemon accepts nothing more on it, and after a watch the position
 * in the stream is of no use to a request.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <string.h>

#include "internal.h"
#include "wire.h"

static const char *const event_names[] = {
	[COMITY_EVENT_ARRIVED] = "ARRIVED",
	[COMITY_EVENT_STATE] = "STATE",
	[COMITY_EVENT_WARNING] = "WARNING",
	[COMITY_EVENT_ESCALATION] = "ESCALATION",
	[COMITY_EVENT_NOTICE] = "NOTICE",
	[COMITY_EVENT_DROPPED] = "DROPPED",
	[COMITY_EVENT_SUBSCRIBED] = "SUBSCRIBED",
};
#define NEVENTS	(sizeof(event_names) / sizeof(event_names[0]))

COMITY_EXPORT const char *
comity_event_name(int kind)
{
	if (kind <= 0 || (size_t)kind >= NEVENTS)
		return "UNKNOWN";
	return event_names[kind];
}

static const char *
str(const char *s)
{
	return s != NULL ? s : "";
}

/* Fill EV from the daemon's WE (strings borrowed from WE); 0 or -1. */
static int
event_fill(struct comity_event *ev, const Comity__WatchEvent *we)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = we->kind;
	ev->at = we->at_ns;
	ev->detail = str(we->detail);
	ev->procedure = str(we->procedure);
	if (we->item != NULL) {
		if (item_fill(&ev->item, we->item) != 0)
			return -1;
		ev->has_item = 1;
	} else {
		ev->item.from = "";
		ev->item.to = "";
		ev->item.case_ref = "";
		ev->item.reason = "";
	}
	return 0;
}

/* A stream that breaks the protocol: the connection is of no more use. */
static int
bad_event(comity_conn *c, Comity__LocalResponse *r, const char *what)
{
	wire_free(r);
	c->dead = COMITY_EPROTO;
	return conn_seterr(c, COMITY_EPROTO, "malformed watch event from the "
	    "daemon: %s", what);
}

/* The daemon's reason for dropping us, kept on one line. */
static int
dropped(comity_conn *c, const char *detail)
{
	size_t	i;

	conn_seterr(c, COMITY_EAGAIN, "%s", detail[0] != '\0' ? detail :
	    "dropped by the daemon");
	for (i = 0; c->msg[i] != '\0'; i++)
		if ((unsigned char)c->msg[i] < 0x20 || c->msg[i] == 0x7f)
			c->msg[i] = '?';
	return COMITY_EAGAIN;
}

COMITY_EXPORT int
comity_watch(comity_conn *c, int urgent_only, comity_event_cb cb, void *arg)
{
	static const struct timeval	 forever = { 0, 0 };
	Comity__LocalRequest		 req = COMITY__LOCAL_REQUEST__INIT;
	Comity__WatchReq		 wr = COMITY__WATCH_REQ__INIT;
	Comity__LocalResponse		*r = NULL;
	struct comity_event		 ev;
	int				 rc, kind, first = 1;

	if (c == NULL || cb == NULL)
		return COMITY_EINVAL;
	if (c->watched)
		return conn_seterr(c, COMITY_EINVAL, "this connection carried "
		    "a watch already: connect again");
	wr.urgent_only = urgent_only != 0;
	req.op_case = COMITY__LOCAL_REQUEST__OP_WATCH;
	req.watch = &wr;
	rc = conn_call(c, &req, &r);
	c->watched = 1;
	if (rc != 0)
		return rc;
	/* events come when they come: no timeout on reads from now on */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &forever,
	    sizeof(forever)) == -1) {
		wire_free(r);
		c->dead = COMITY_EIO;
		return conn_seterr(c, COMITY_EIO, "setsockopt: %s",
		    strerror(errno));
	}
	for (;;) {
		if (!first && (rc = conn_recv(c, &r)) != 0)
			return rc;
		if (r->event == NULL)
			return bad_event(c, r, "a frame without an event");
		if (first && r->event->kind !=
		    COMITY__WATCH_KIND__WATCH_SUBSCRIBED)
			return bad_event(c, r, "the first event is not "
			    "SUBSCRIBED");
		if (event_fill(&ev, r->event) != 0)
			return bad_event(c, r, "an item without a valid id");
		first = 0;
		kind = ev.kind;
		if (cb(&ev, arg) != 0) {
			wire_free(r);
			return 0;
		}
		if (kind == COMITY_EVENT_DROPPED) {
			rc = dropped(c, ev.detail);
			wire_free(r);
			return rc;
		}
		wire_free(r);
	}
}
