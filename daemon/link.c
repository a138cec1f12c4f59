/*
 * link.c - TLS links to counterparts over bufferevent_openssl (see link.h).
 *
 * The TLS bufferevent is a filter over a plain socket bufferevent: in
 * that mode libevent decrypts every record the socket read brought in,
 * where a TLS bufferevent on the socket itself takes one record per turn
 * of the loop -- one receipt per commit on a busy link.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "audit.h"
#include "comity.h"
#include "comityd.h"
#include "conf.h"
#include "directory.h"
#include "frame.h"
#include "link.h"
#include "log.h"
#include "peer.h"
#include "queue.h"
#include "sockio.h"
#include "tls.h"
#include "wire.h"
#include "xmalloc.h"

/* the pump refills a link's output once it drains below this */
#define LINK_OUTPUT_LOW		(256u << 10)

static struct link	*links;
static unsigned		 n_links, n_unauth;

static void	link_read_cb(struct bufferevent *, void *);

static const char *
link_name(const struct link *l)
{
	return l->id[0] != '\0' ? l->id : "-";
}

static void
set_timeouts(struct link *l, uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	bufferevent_set_timeouts(l->bev, &tv, &tv);
}

/* The OpenSSL errors of this link, drained (they must not leak into the
 * next connection's error queue). */
static void
tls_errors(struct link *l, char *buf, size_t len)
{
	unsigned long	e;
	size_t		n = 0;

	buf[0] = '\0';
	while ((e = bufferevent_get_openssl_error(l->bev)) != 0) {
		/*
		 * libevent also queues bare SSL_get_error() codes (library 0,
		 * e.g. 5 = SSL_ERROR_SYSCALL): the socket error tells more.
		 */
		if (ERR_GET_LIB(e) == 0)
			continue;
		if (n == 0) {
			ERR_error_string_n(e, buf, len);
			n = strlen(buf);
		}
	}
	ERR_clear_error();
}

/*
 * nodelay - frames are written whole: send them at once rather than let
 * Nagle wait for the peer's delayed ACK (tens of ms per small receipt).
 */
static void
nodelay(evutil_socket_t fd)
{
	int	on = 1;

	if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
	    sizeof(on)) == -1)
		log_debug("TCP_NODELAY: %s", strerror(errno));
}

/*
 * A connection that fails authentication: log, audit, close.
 */
static void
refuse(struct link *l, const char *id, const char *why)
{
	char	detail[384];

	log_warnx("link %s peer=%s: refused: %s", l->addr,
	    id != NULL && id[0] ? id : link_name(l), why);
	snprintf(detail, sizeof(detail), "addr=%s %s reason=%s", l->addr,
	    l->inbound ? "inbound" : "outbound", why);
	queue_audit(AUDIT_PEER_AUTH_FAILED, NULL,
	    id != NULL && wire_id_valid(id) ? id : NULL, detail);
	link_close(l, NULL);
}

static void
protocol_error(struct link *l, const char *why)
{
	char	detail[256];

	log_warnx("link %s peer=%s: protocol error: %s", l->addr,
	    link_name(l), why);
	snprintf(detail, sizeof(detail), "addr=%s reason=%s", l->addr, why);
	queue_audit(AUDIT_PROTOCOL_ERROR, NULL,
	    l->state == LINK_UP ? l->id : NULL, detail);
	link_close(l, NULL);
}

static int
send_raw(struct link *l, const uint8_t *buf, size_t len)
{
	if (link_output_len(l) + len > LINK_OUTPUT_MAX) {
		link_close(l, "output over limit (peer not reading)");
		return -1;
	}
	return bufferevent_write(l->bev, buf, len) == 0 ? 0 : -1;
}

static void
send_hello(struct link *l)
{
	Comity__Frame	f = COMITY__FRAME__INIT;
	Comity__Hello	h = COMITY__HELLO__INIT;
	uint8_t		*buf;
	size_t		 len;

	h.authority_id = (char *)cd->self;
	h.software = (char *)COMITY_VERSION_STRING;
	h.now_ns = now_ns();
	f.msg_case = COMITY__FRAME__MSG_HELLO;
	f.hello = &h;
	if ((buf = wire_pack(&f.base, 1, &len)) == NULL)
		fatalx("out of memory");
	send_raw(l, buf, len);
	free(buf);
}

/* TLS is up: check who the peer is before anything else. */
static void
tls_up(struct link *l)
{
	SSL			*ssl = bufferevent_openssl_get_ssl(l->bev);
	const struct dir_entry	*e;
	unsigned char		 spki[32];
	char			 id[ID_MAX + 1], err[256];

	if (tls_peer_check(ssl, id, sizeof(id), err, sizeof(err)) != 0) {
		refuse(l, NULL, err);
		return;
	}
	if (!l->inbound && strcmp(id, l->id) != 0) {
		snprintf(err, sizeof(err), "certificate names %s, dialled %s",
		    id, l->id);
		refuse(l, l->id, err);
		return;
	}
	if (strcmp(id, cd->self) == 0) {
		refuse(l, id, "peer presents our own identity");
		return;
	}
	if ((e = directory_find(cd->dir, id)) == NULL) {
		snprintf(err, sizeof(err), "unknown authority %s", id);
		refuse(l, NULL, err);
		return;
	}
	if (e->has_pin) {
		X509	*cert = SSL_get0_peer_certificate(ssl);

		if (cert == NULL || tls_spki_sha256(cert, spki) != 0 ||
		    CRYPTO_memcmp(spki, e->pin, sizeof(spki)) != 0) {
			refuse(l, id, "SPKI pin mismatch");
			return;
		}
	}
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->state = LINK_HELLO;
	log_debug("link %s peer=%s: TLS ok, hello sent", l->addr, l->id);
	send_hello(l);
}

/* a - b, saturated: A is a peer's clock and may be anything */
static int64_t
sub_sat(int64_t a, int64_t b)
{
	if (b > 0 && a < INT64_MIN + b)
		return INT64_MIN;
	if (b < 0 && a > INT64_MAX + b)
		return INT64_MAX;
	return a - b;
}

int
link_skew_exceeds(int64_t skew_ns, uint64_t threshold_ms)
{
	uint64_t	mag;

	if (threshold_ms == 0)
		return 0;
	mag = skew_ns < 0 ? (uint64_t)-(skew_ns + 1) + 1 : (uint64_t)skew_ns;
	return mag / 1000000 > threshold_ms ||
	    (mag / 1000000 == threshold_ms && mag % 1000000 != 0);
}

static void
hello_in(struct link *l, const Comity__Hello *h)
{
	char	detail[256];

	if (h->authority_id == NULL || strcmp(h->authority_id, l->id) != 0) {
		refuse(l, l->id, "Hello names another authority than the "
		    "certificate");
		return;
	}
	l->skew_ns = sub_sat(h->now_ns, now_ns());
	l->state = LINK_UP;
	l->up_ms = mono_ms();
	if (l->inbound)
		n_unauth--;
	if (l->deadline != NULL) {
		event_free(l->deadline);
		l->deadline = NULL;
	}
	set_timeouts(l, cd->conf->idle_timeout_ms);
	log_info("link %s peer=%s: up (%s) skew=%.3fs", l->addr, l->id,
	    l->inbound ? "inbound" : "outbound", (double)l->skew_ns / 1e9);
	snprintf(detail, sizeof(detail), "addr=%s %s skew_ns=%lld skew_ms=%lld",
	    l->addr, l->inbound ? "inbound" : "outbound",
	    (long long)l->skew_ns, (long long)(l->skew_ns / 1000000));
	queue_audit(AUDIT_PEER_UP, NULL, l->id, detail);
	if (link_skew_exceeds(l->skew_ns, cd->conf->skew_warning_ms)) {
		snprintf(detail, sizeof(detail), "clock skew %lld ms with %s "
		    "exceeds %llu ms", (long long)(l->skew_ns / 1000000),
		    l->id, (unsigned long long)cd->conf->skew_warning_ms);
		log_warnx("link %s peer=%s: %s", l->addr, l->id, detail);
		queue_audit(AUDIT_WARNING, NULL, l->id, detail);
	}
	peer_link_up(l);
}

static void
frame_in(struct link *l, const Comity__Frame *f)
{
	switch (l->state) {
	case LINK_HELLO:
		if (f->msg_case != COMITY__FRAME__MSG_HELLO) {
			protocol_error(l, "frame before Hello");
			return;
		}
		hello_in(l, f->hello);
		return;
	case LINK_UP:
		if (f->msg_case == COMITY__FRAME__MSG_HELLO ||
		    f->msg_case == COMITY__FRAME__MSG__NOT_SET) {
			protocol_error(l, f->msg_case ==
			    COMITY__FRAME__MSG_HELLO ? "second Hello" :
			    "empty frame");
			return;
		}
		peer_link_frame(l, f);
		return;
	default:
		protocol_error(l, "data before TLS was checked");
		return;
	}
}

static void
link_read_cb(struct bufferevent *bev, void *arg)
{
	struct link	*l = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 hdr[FRAME_HEADER_LEN];
	uint32_t	 len;
	char		 why[96];

	link_ref(l);
	/* libevent read 4 KiB at most (sockio.h): read on, up to a chunk,
	 * and have the TLS layer decrypt it now */
	if (l->state != LINK_CLOSED && !l->read_paused) {
		ssize_t	n = sock_top_up(l->sock, LINK_READ_CHUNK,
		    LINK_READ_CHUNK);

		if (n == -1)
			link_close(l, "cannot buffer what was read");
		else if (n > 0)
			bufferevent_trigger(l->sock, EV_READ, 0);
	}
	while (l->state != LINK_CLOSED && !l->read_paused) {
		Comity__Frame	*f;
		size_t		 avail = evbuffer_get_length(in);
		uint8_t		*p;

		if (avail < FRAME_HEADER_LEN)
			break;
		evbuffer_copyout(in, hdr, FRAME_HEADER_LEN);
		/* the length is checked before the frame is buffered */
		if (frame_length(hdr, (uint32_t)cd->conf->max_frame,
		    &len) != 0) {
			snprintf(why, sizeof(why), "frame length %u outside "
			    "1..%llu", (unsigned)((uint32_t)hdr[0] << 24 |
			    (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
			    hdr[3]), (unsigned long long)cd->conf->max_frame);
			protocol_error(l, why);
			break;
		}
		if (avail < FRAME_HEADER_LEN + (size_t)len) {
			/* room for the whole frame, however large (checked) */
			if (FRAME_HEADER_LEN + (size_t)len > LINK_READ_CHUNK)
				bufferevent_setwatermark(bev, EV_READ, 0,
				    FRAME_HEADER_LEN + (size_t)len);
			break;
		}
		p = evbuffer_pullup(in, FRAME_HEADER_LEN + (ssize_t)len);
		f = p == NULL ? NULL : wire_unpack(&comity__frame__descriptor,
		    p + FRAME_HEADER_LEN, len);
		evbuffer_drain(in, FRAME_HEADER_LEN + (size_t)len);
		if (f == NULL) {
			protocol_error(l, "undecodable frame");
			break;
		}
		if (FRAME_HEADER_LEN + (size_t)len > LINK_READ_CHUNK)
			bufferevent_setwatermark(bev, EV_READ, 0,
			    LINK_READ_CHUNK);
		frame_in(l, f);
		wire_free(f);
	}
	link_unref(l);
}

static void
link_write_cb(struct bufferevent *bev, void *arg)
{
	struct link	*l = arg;

	(void)bev;
	if (l->state == LINK_UP)
		peer_link_writable(l);
}

static void
link_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct link	*l = arg;
	char		 err[256], why[320];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (l->state == LINK_TLS) {
			nodelay(bufferevent_getfd(l->sock));
			tls_up(l);
		}
		return;
	}
	tls_errors(l, err, sizeof(err));
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "idle timeout");
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "closed by peer");
	else if (err[0] != '\0')
		snprintf(why, sizeof(why), "TLS error: %s", err);
	else {
		int	e = EVUTIL_SOCKET_ERROR();
		int	g = bufferevent_socket_get_dns_error(l->sock);

		if (g != 0)
			snprintf(why, sizeof(why), "cannot resolve: %s",
			    evutil_gai_strerror(g));
		else
			snprintf(why, sizeof(why), "%s", e != 0 ?
			    evutil_socket_error_to_string(e) : "error");
	}
	if (l->state == LINK_TLS && err[0] != '\0') {
		snprintf(why, sizeof(why), "TLS handshake failed: %s", err);
		refuse(l, l->inbound ? NULL : l->id, why);
		return;
	}
	if (l->state == LINK_HELLO) {
		/* in TLS 1.3 a client learns here that its certificate was
		 * refused */
		char	w2[384];

		snprintf(w2, sizeof(w2), "before Hello: %s", why);
		refuse(l, l->id, w2);
		return;
	}
	link_close(l, why);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link	*l = arg;

	(void)fd;
	(void)what;
	refuse(l, l->inbound ? NULL : l->id, l->state == LINK_TLS ?
	    "handshake timeout" : "no Hello in time");
}

static struct link *
link_new(int inbound, int fd, SSL_CTX *ctx, const char *addr)
{
	struct link	*l;
	SSL		*ssl;
	struct timeval	 tv;

	if ((ssl = SSL_new(ctx)) == NULL) {
		log_warnx("SSL_new failed");
		ERR_clear_error();
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->inbound = inbound;
	l->refs = 1;
	l->state = LINK_TLS;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	l->sock = bufferevent_socket_new(cd->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (l->sock != NULL)
		l->bev = bufferevent_openssl_filter_new(cd->base, l->sock, ssl,
		    inbound ? BUFFEREVENT_SSL_ACCEPTING :
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (l->bev == NULL) {
		log_warnx("link %s: cannot create a buffer event", addr);
		if (l->sock != NULL) {
			/* the caller closes an accepted fd */
			if (fd != -1)
				bufferevent_setfd(l->sock, -1);
			bufferevent_free(l->sock);
		}
		SSL_free(ssl);
		free(l);
		return NULL;
	}
	/* frames are length-checked: a TCP close without close_notify is
	 * just a close (a cut frame is seen as one) */
	bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	if (bufferevent_set_max_single_read(l->sock, LINK_READ_CHUNK) != 0 ||
	    bufferevent_set_max_single_write(l->sock, LINK_WRITE_CHUNK) != 0)
		log_warnx("link %s: cannot raise the read/write sizes", addr);
	/* the TLS layer stops filling the socket's output past this */
	bufferevent_setwatermark(l->sock, EV_WRITE, 0, LINK_WRITE_CHUNK);
	bufferevent_setcb(l->bev, link_read_cb, link_write_cb, link_event_cb,
	    l);
	bufferevent_setwatermark(l->bev, EV_WRITE, LINK_OUTPUT_LOW, 0);
	bufferevent_setwatermark(l->bev, EV_READ, 0, LINK_READ_CHUNK);
	if (bufferevent_set_max_single_read(l->bev, LINK_READ_CHUNK) != 0 ||
	    bufferevent_set_max_single_write(l->bev, LINK_WRITE_CHUNK) != 0)
		log_warnx("link %s: cannot raise the read/write sizes", addr);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	l->deadline = evtimer_new(cd->base, deadline_cb, l);
	tv.tv_sec = (time_t)(cd->conf->handshake_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(cd->conf->handshake_timeout_ms % 1000) *
	    1000;
	evtimer_add(l->deadline, &tv);
	l->next = links;
	if (links != NULL)
		links->prev = l;
	links = l;
	n_links++;
	if (inbound)
		n_unauth++;
	return l;
}

struct link *
link_dial(const char *id, const char *host, const char *port)
{
	struct link	*l;
	char		 addr[80];
	long		 p;
	char		*end;

	p = strtol(port, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return NULL;
	snprintf(addr, sizeof(addr), "%s:%s", host, port);
	if ((l = link_new(0, -1, cd->tls->client, addr)) == NULL)
		return NULL;
	snprintf(l->id, sizeof(l->id), "%s", id);
	if (bufferevent_socket_connect_hostname(l->sock, cd->dns, AF_UNSPEC,
	    host, (int)p) != 0) {
		log_warnx("link %s peer=%s: cannot connect", addr, id);
		l->peer = NULL;
		link_close(l, NULL);
		return NULL;
	}
	log_debug("link %s peer=%s: dialling", addr, id);
	return l;
}

void
link_accept(int fd, const struct sockaddr *sa, int salen)
{
	char	host[INET6_ADDRSTRLEN], addr[80];
	int	port = 0;

	(void)salen;
	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
	}
	snprintf(addr, sizeof(addr), "%s:%d", host, port);
	if (cd->stopping || n_links >= cd->conf->max_connections ||
	    n_unauth >= MAX_UNAUTH_CONNECTIONS) {
		log_warnx("link %s: refused: too many connections (%u open, "
		    "%u in handshake)", addr, n_links, n_unauth);
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	nodelay(fd);
	if (link_new(1, fd, cd->tls->server, addr) == NULL)
		close(fd);
}

int
link_send(struct link *l, const uint8_t *frame, size_t len)
{
	if (l->state != LINK_UP)
		return -1;
	return send_raw(l, frame, len);
}

int
link_send_now(struct link *l, const uint8_t *frame, size_t len)
{
	if (link_send(l, frame, len) == -1)
		return -1;
	/*
	 * The TLS filter encrypts into the socket's output up to
	 * LINK_WRITE_CHUNK, so the frame may wait behind what the pump
	 * queued before it: write, have the filter encrypt more, and again,
	 * until it is all out or the socket takes no more (its own write
	 * goes on when the loop polls).
	 */
	while (sock_flush(l->sock) > 0 &&
	    evbuffer_get_length(bufferevent_get_output(l->bev)) > 0)
		bufferevent_trigger(l->sock, EV_WRITE,
		    BEV_TRIG_IGNORE_WATERMARKS);
	return 0;
}

X509 *
link_peer_cert(const struct link *l)
{
	SSL	*ssl;

	if (l->bev == NULL || (ssl = bufferevent_openssl_get_ssl(l->bev)) ==
	    NULL)
		return NULL;
	return SSL_get0_peer_certificate(ssl);
}

size_t
link_output_len(const struct link *l)
{
	if (l->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(l->bev)) +
	    evbuffer_get_length(bufferevent_get_output(l->sock));
}

void
link_close(struct link *l, const char *reason)
{
	enum link_state	prev = l->state;

	if (prev == LINK_CLOSED)
		return;
	l->state = LINK_CLOSED;
	if (reason != NULL) {
		if (prev == LINK_UP)
			log_info("link %s peer=%s: down: %s", l->addr,
			    link_name(l), reason);
		else
			log_info("link %s peer=%s: closed: %s", l->addr,
			    link_name(l), reason);
	}
	if (l->inbound && prev != LINK_UP)
		n_unauth--;
	n_links--;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		links = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	l->next = l->prev = NULL;
	if (l->deadline != NULL) {
		event_free(l->deadline);
		l->deadline = NULL;
	}
	if (l->bev != NULL) {
		/*
		 * What TLS already wrote below us (our Finished, an alert)
		 * goes out if the socket takes it now; never waits.
		 */
		(void)sock_flush(l->sock);
		bufferevent_free(l->bev);	/* and l->sock under it */
		l->bev = NULL;
		l->sock = NULL;
	}
	ERR_clear_error();
	if (prev == LINK_UP) {
		char	detail[160];

		snprintf(detail, sizeof(detail), "addr=%s reason=%s", l->addr,
		    reason != NULL ? reason : "closed");
		queue_audit(AUDIT_PEER_DOWN, NULL, l->id, detail);
	}
	if (!l->inbound || prev == LINK_UP)
		peer_link_down(l, reason != NULL ? reason : "refused");
	link_unref(l);
}

void
link_ref(struct link *l)
{
	l->refs++;
}

void
link_unref(struct link *l)
{
	if (--l->refs == 0)
		free(l);
}

void
link_pause_read(struct link *l)
{
	if (l->state == LINK_CLOSED || l->read_paused)
		return;
	l->read_paused = 1;
	bufferevent_disable(l->bev, EV_READ);
}

void
link_resume_read(struct link *l)
{
	if (l->state == LINK_CLOSED || !l->read_paused)
		return;
	l->read_paused = 0;
	bufferevent_enable(l->bev, EV_READ);
	/* frames already buffered would otherwise wait for new bytes */
	bufferevent_trigger(l->bev, EV_READ, BEV_OPT_DEFER_CALLBACKS);
}

void
link_close_all(const char *reason)
{
	while (links != NULL)
		link_close(links, reason);
}

void
link_close_existing(const char *reason)
{
	struct link	**v, *l;
	size_t		  n = 0, i;

	for (l = links; l != NULL; l = l->next)
		n++;
	if (n == 0)
		return;
	v = xcalloc(n, sizeof(*v));
	for (l = links, n = 0; l != NULL; l = l->next) {
		link_ref(l);
		v[n++] = l;
	}
	/* a link dialled while these close is not in V */
	for (i = 0; i < n; i++) {
		link_close(v[i], reason);
		link_unref(v[i]);
	}
	free(v);
}

void
link_count(unsigned *all, unsigned *unauth)
{
	*all = n_links;
	*unauth = n_unauth;
}
