/*
 * listen.c - inbound TCP listener (see listen.h).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "comityd.h"
#include "conf.h"
#include "link.h"
#include "listen.h"
#include "log.h"

static struct evconnlistener	*listener;
static struct event		*resume_ev;

static void
accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)lst;
	(void)arg;
	link_accept(fd, sa, salen);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (listener != NULL)
		evconnlistener_enable(listener);
}

static void
error_cb(struct evconnlistener *lst, void *arg)
{
	struct timeval	tv = { 1, 0 };
	int		e = EVUTIL_SOCKET_ERROR();

	(void)arg;
	log_warnx("listener: accept failed: %s; pausing for 1s",
	    evutil_socket_error_to_string(e));
	evconnlistener_disable(lst);
	evtimer_add(resume_ev, &tv);
}

int
listen_start(char *err, size_t errlen)
{
	struct evutil_addrinfo	 hints, *res = NULL;
	int			 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = evutil_getaddrinfo(cd->conf->listen_host, cd->conf->listen_port,
	    &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen address %s:%s: %s",
		    cd->conf->listen_host, cd->conf->listen_port,
		    evutil_gai_strerror(rc));
		return -1;
	}
	listener = evconnlistener_new_bind(cd->base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
	    128, res->ai_addr, (int)res->ai_addrlen);
	evutil_freeaddrinfo(res);
	if (listener == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s",
		    cd->conf->listen_host, cd->conf->listen_port,
		    strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(listener, error_cb);
	resume_ev = evtimer_new(cd->base, resume_cb, NULL);
	log_info("listening on %s:%s", cd->conf->listen_host,
	    cd->conf->listen_port);
	return 0;
}

void
listen_stop(void)
{
	if (listener != NULL) {
		evconnlistener_free(listener);
		listener = NULL;
	}
	if (resume_ev != NULL) {
		event_free(resume_ev);
		resume_ev = NULL;
	}
}
