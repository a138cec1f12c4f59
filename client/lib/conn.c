/*
 * conn.c - connecting to comityd and exchanging framed messages.
 *
 * One request frame out, one response frame in, blocking, with a timeout
 * on each read and write.  The response length is checked against
 * LOCAL_FRAME_MAX from its 4 header bytes, before anything is allocated,
 * and the payload is decoded with the bounded decoder.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "frame.h"
#include "internal.h"
#include "wire.h"

struct cm_test	cm_test;

static int
cm_fail(size_t n)
{
	if (n > cm_test.largest)
		cm_test.largest = n;
	if (cm_test.fail_after > 0 && --cm_test.fail_after == 0)
		return 1;
	return 0;
}

void *
cm_malloc(size_t n)
{
	if (cm_fail(n))
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *
cm_calloc(size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	if (cm_fail(n * size))
		return NULL;
	return calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
}

int
conn_seterr(comity_conn *c, int rc, const char *fmt, ...)
{
	va_list	ap;

	if (c == NULL)
		return rc;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* A transport failure: the stream position is lost, so is the connection. */
static int
conn_kill(comity_conn *c, int rc)
{
	c->dead = rc;
	return rc;
}

static int
set_timeout(int fd, unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		return -1;
	return 0;
}

COMITY_EXPORT int
comity_connect(const char *path, comity_conn **out)
{
	struct sockaddr_un	 sun;
	comity_conn		*c;
	int			 fd, e;

	if (out == NULL)
		return COMITY_EINVAL;
	*out = NULL;
	if (path == NULL) {
		path = getenv("COMITY_SOCKET");
		if (path == NULL || path[0] == '\0')
			path = COMITY_SOCKET_DEFAULT;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return COMITY_EINVAL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((c = cm_calloc(1, sizeof(*c))) == NULL) {
		errno = ENOMEM;
		return COMITY_ENOMEM;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		e = errno;
		free(c);
		errno = e;
		return e == ENOMEM || e == ENOBUFS ? COMITY_ENOMEM :
		    COMITY_ECONNECT;
	}
	if (set_timeout(fd, COMITY_TIMEOUT_DEFAULT_MS) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		free(c);
		errno = e;
		return e == EACCES || e == EPERM ? COMITY_EPERM :
		    COMITY_ECONNECT;
	}
	c->fd = fd;
	*out = c;
	return 0;
}

COMITY_EXPORT void
comity_close(comity_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

COMITY_EXPORT int
comity_set_timeout(comity_conn *c, unsigned ms)
{
	if (c == NULL)
		return COMITY_EINVAL;
	if (set_timeout(c->fd, ms) == -1)
		return conn_seterr(c, COMITY_EIO, "setsockopt: %s",
		    strerror(errno));
	return 0;
}

COMITY_EXPORT const char *
comity_errmsg(const comity_conn *c)
{
	return c == NULL ? "" : c->msg;
}

COMITY_EXPORT void
comity_free(void *p)
{
	free(p);
}

static int
io_error(comity_conn *c, const char *what, int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		return conn_seterr(c, COMITY_ETIMEDOUT,
		    "no answer from the daemon in time (%s)", what);
	return conn_seterr(c, COMITY_EIO, "%s: %s", what, strerror(e));
}

static int
send_all(comity_conn *c, const uint8_t *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return io_error(c, "send", errno);
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
recv_all(comity_conn *c, uint8_t *buf, size_t len, int started)
{
	ssize_t	n;

	while (len > 0) {
		n = recv(c->fd, buf, len, 0);
		if (n == 0)
			return conn_seterr(c, COMITY_EIO, "the daemon closed "
			    "the connection%s", started ? " in mid-response" :
			    "");
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return io_error(c, "receive", errno);
		}
		buf += n;
		len -= (size_t)n;
		started = 1;
	}
	return 0;
}

/* Keep the first line of the daemon's reason, with control bytes shown
 * as '?', so one error stays one line. */
static void
copy_reason(comity_conn *c, const char *m, int rc)
{
	size_t	i;

	if (m == NULL || m[0] == '\0')
		m = comity_strerror(rc);
	for (i = 0; m[i] != '\0' && m[i] != '\n' && i < sizeof(c->msg) - 1;
	    i++)
		c->msg[i] = (unsigned char)m[i] < 0x20 || m[i] == 0x7f ? '?' :
		    m[i];
	c->msg[i] = '\0';
}

static int
send_request(comity_conn *c, const Comity__LocalRequest *req)
{
	size_t		 n;
	uint8_t		*buf;
	int		 rc;

	n = protobuf_c_message_get_packed_size(&req->base);
	if (n > LOCAL_FRAME_MAX)
		return conn_seterr(c, COMITY_ETOOBIG, "request of %zu bytes "
		    "exceeds the limit of %u bytes", n, (unsigned)LOCAL_FRAME_MAX);
	if ((buf = cm_malloc(n + FRAME_HEADER_LEN)) == NULL)
		return conn_seterr(c, COMITY_ENOMEM, "out of memory");
	protobuf_c_message_pack(&req->base, buf + FRAME_HEADER_LEN);
	frame_put_header(buf, (uint32_t)n);
	rc = send_all(c, buf, n + FRAME_HEADER_LEN);
	explicit_bzero(buf, n + FRAME_HEADER_LEN);
	free(buf);
	return rc;
}

static int
recv_response(comity_conn *c, Comity__LocalResponse **resp)
{
	uint8_t		 hdr[FRAME_HEADER_LEN], *body;
	uint32_t	 len;
	int		 rc;

	if ((rc = recv_all(c, hdr, sizeof(hdr), 0)) != 0)
		return rc;
	if (frame_length(hdr, LOCAL_FRAME_MAX, &len) == -1)
		return conn_seterr(c, COMITY_EPROTO, "response length %lu is "
		    "0 or above the limit of %u bytes", (unsigned long)
		    ((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3]), (unsigned)LOCAL_FRAME_MAX);
	if ((body = cm_malloc(len)) == NULL)
		return conn_seterr(c, COMITY_ENOMEM, "out of memory for a "
		    "response of %lu bytes", (unsigned long)len);
	if ((rc = recv_all(c, body, len, 1)) == 0) {
		*resp = wire_unpack(&comity__local_response__descriptor, body,
		    len);
		if (*resp == NULL)
			rc = conn_seterr(c, COMITY_EPROTO, "malformed response "
			    "from the daemon (%lu bytes)", (unsigned long)len);
	}
	/* a fetched request is plaintext: do not leave it in the heap */
	explicit_bzero(body, len);
	free(body);
	return rc;
}

int
conn_call(comity_conn *c, const Comity__LocalRequest *req,
    Comity__LocalResponse **resp)
{
	int	rc;

	*resp = NULL;
	if (c->watched)
		return conn_seterr(c, COMITY_EINVAL, "this connection carried "
		    "a watch: connect again for other requests");
	if (c->dead != 0)
		return conn_seterr(c, c->dead, "the connection to the daemon "
		    "was lost earlier: %s", comity_strerror(c->dead));
	c->msg[0] = '\0';
	if ((rc = send_request(c, req)) != 0) {
		/* nothing was sent when the request is too large */
		return rc == COMITY_ETOOBIG || rc == COMITY_ENOMEM ? rc :
		    conn_kill(c, rc);
	}
	return conn_recv(c, resp);
}

int
conn_recv(comity_conn *c, Comity__LocalResponse **resp)
{
	Comity__LocalResponse	*r = NULL;
	int			 rc;

	*resp = NULL;
	if ((rc = recv_response(c, &r)) != 0)
		return conn_kill(c, rc);
	if (r->error != 0) {
		rc = r->error;
		if (rc > 0) {
			wire_free(r);
			return conn_kill(c, conn_seterr(c, COMITY_EPROTO,
			    "the daemon answered with error %d", rc));
		}
		copy_reason(c, r->message, rc);
		wire_free(r);
		return rc;
	}
	*resp = r;
	return 0;
}
