/*
 * sockio.c - reading a socket bufferevent as fast as the loop can (see
 * sockio.h).
 */
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <errno.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "sockio.h"

ssize_t
sock_top_up(struct bufferevent *bev, size_t more, size_t cap)
{
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	evutil_socket_t		 fd = bufferevent_getfd(bev);
	size_t			 have = evbuffer_get_length(in), want, left;
	ssize_t			 got;
	int			 avail, n, i, used;

	if (fd < 0 || have >= cap || more == 0 ||
	    ioctl(fd, FIONREAD, &avail) == -1 || avail <= 0)
		return 0;
	want = cap - have;
	if (want > more)
		want = more;
	if ((size_t)avail < want)
		want = (size_t)avail;
	/* a socket bufferevent keeps its input's end frozen but while it
	 * reads itself */
	evbuffer_unfreeze(in, 0);
	if ((n = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2)) <= 0) {
		evbuffer_freeze(in, 0);
		return 0;
	}
	for (i = 0, left = want; i < n; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	do
		got = readv(fd, iov, n);
	while (got == -1 && errno == EINTR);
	if (got <= 0) {
		/* nothing committed; the bufferevent's own read sees why */
		evbuffer_commit_space(in, v, 0);
		evbuffer_freeze(in, 0);
		return 0;
	}
	for (i = 0, used = 0, left = (size_t)got; i < n && left > 0; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
		used++;
	}
	i = evbuffer_commit_space(in, v, used);
	evbuffer_freeze(in, 0);
	/* (cannot fail: nothing touched the input since the reservation) */
	return i == 0 ? got : -1;
}

size_t
sock_flush(struct bufferevent *bev)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	evutil_socket_t	 fd = bufferevent_getfd(bev);
	int		 n;

	if (fd < 0 || evbuffer_get_length(out) == 0)
		return 0;
	/* and its output's front, but while it writes itself */
	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
	return n > 0 ? (size_t)n : 0;
}
