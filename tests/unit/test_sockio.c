/*
 * test_sockio.c - sock_top_up() on a socket bufferevent over a socketpair:
 * after libevent's own read of 4 KiB at most, a top-up in the read
 * callback brings in the rest, in order; MORE bounds what is read and CAP
 * the input's length, and what is not read stays on the socket, in order;
 * the end of the stream is left for the bufferevent to report, after all
 * the data; an empty socket, and a bufferevent without one, give nothing.
 * sock_flush() writes a bufferevent's output to its socket without a turn
 * of the loop, once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "sockio.h"

#define SENT		100000	/* bytes of the pattern written */
#define EV_MAX_READ	4096	/* libevent 2.1's most in one read */
#define KIB		1024
#define MIB		(1024 * 1024)
#define WAIT_SECS	20	/* alarm: a bound on the whole run */

/* what the read and event callbacks saw */
struct seen {
	size_t		 more, cap;	/* for sock_top_up() in the read cb */
	int		 calls;		/* of the read callback */
	size_t		 before;	/* input after libevent's read */
	ssize_t		 added;		/* by sock_top_up() */
	size_t		 after;
	short		 events;	/* given the event callback */
	size_t		 at_event;	/* input length then */
};

static struct event_base	*base;
static struct event		*timeout;
static struct bufferevent	*bev;
static int			 sv[2] = { -1, -1 };	/* write 0, read 1 */
static uint8_t			 pat[SENT];

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
}

static int
setup(void **state)
{
	int	sndbuf = MIB;

	if ((base = event_base_new()) == NULL ||
	    (timeout = evtimer_new(base, timeout_cb, NULL)) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    evutil_make_socket_nonblocking(sv[0]) == -1 ||
	    evutil_make_socket_nonblocking(sv[1]) == -1 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) == -1 ||
	    (bev = bufferevent_socket_new(base, sv[1], 0)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	bufferevent_free(bev);
	close(sv[0]);
	close(sv[1]);
	sv[0] = sv[1] = -1;
	event_free(timeout);
	event_base_free(base);
	return 0;
}

static void
read_cb(struct bufferevent *b, void *arg)
{
	struct seen	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(b);

	s->calls++;
	s->before = evbuffer_get_length(in);
	s->added = sock_top_up(b, s->more, s->cap);
	s->after = evbuffer_get_length(in);
}

static void
event_cb(struct bufferevent *b, short what, void *arg)
{
	struct seen	*s = arg;

	s->events |= what;
	s->at_event = evbuffer_get_length(bufferevent_get_input(b));
}

/* send_pattern - write the first LEN bytes of the pattern, all of them */
static void
send_pattern(size_t len)
{
	size_t	done = 0;
	ssize_t	n;

	while (done < len) {
		if ((n = write(sv[0], pat + done, len - done)) <= 0)
			fail_msg("wrote %zu of %zu bytes: %s", done, len,
			    n == -1 ? strerror(errno) : "nothing");
		done += (size_t)n;
	}
}

/*
 * input_add - add LEN bytes to the input as libevent's own read does: a
 * socket bufferevent's input is frozen at the back but for that read.
 */
static void
input_add(const void *data, size_t len)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	assert_int_equal(evbuffer_unfreeze(in, 0), 0);
	assert_int_equal(evbuffer_add(in, data, len), 0);
	assert_int_equal(evbuffer_freeze(in, 0), 0);
}

/* loop_once - one turn of the loop, which waits 1 s at most */
static void
loop_once(struct seen *s)
{
	struct timeval	tv = { 1, 0 };

	bufferevent_setcb(bev, read_cb, NULL, event_cb, s);
	assert_int_equal(bufferevent_enable(bev, EV_READ), 0);
	assert_int_equal(evtimer_add(timeout, &tv), 0);
	assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
}

/* same - LEN bytes at GOT are the pattern's from OFF on */
static void
same(const uint8_t *got, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != pat[off + i])
			fail_msg("byte %zu is 0x%02x, not 0x%02x", off + i,
			    got[i], pat[off + i]);
}

/* check_input - the input is the pattern's first LEN bytes */
static void
check_input(size_t len)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	assert_int_equal(evbuffer_get_length(in), len);
	same(evbuffer_pullup(in, -1), 0, len);
}

/* check_socket - what is left to read is the pattern from OFF to SENT */
static void
check_socket(size_t off)
{
	static uint8_t	buf[SENT + 1];
	size_t		have = 0;
	ssize_t		n;

	while ((n = read(sv[1], buf + have, sizeof(buf) - have)) > 0)
		have += (size_t)n;
	assert_int_equal(n, -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(have, SENT - off);
	same(buf, off, have);
}

/* ------------------------------------------------------------- tests */

static void
test_reads_all(void **state)
{
	struct seen	s = { .more = 256 * KIB, .cap = 256 * KIB };

	send_pattern(SENT);
	loop_once(&s);
	assert_int_equal(s.calls, 1);
	/* libevent alone read 4 KiB at most; the top-up brought the rest */
	assert_true(s.before > 0 && s.before <= EV_MAX_READ);
	assert_int_equal(s.added, SENT - s.before);
	assert_int_equal(s.after, SENT);
	check_input(SENT);
	check_socket(SENT);
}

static void
test_more_bounds(void **state)
{
	struct seen	s = { .more = 1000, .cap = MIB };

	send_pattern(SENT);
	loop_once(&s);
	assert_int_equal(s.calls, 1);
	assert_true(s.before > 0 && s.before <= EV_MAX_READ);
	assert_int_equal(s.added, 1000);
	assert_int_equal(s.after, s.before + 1000);
	check_input(s.before + 1000);
	check_socket(s.before + 1000);
}

static void
test_cap_bounds(void **state)
{
	uint8_t		buf[EV_MAX_READ];

	send_pattern(SENT);
	/* the input at 4096, as libevent would leave it */
	assert_int_equal(read(sv[1], buf, sizeof(buf)), sizeof(buf));
	input_add(buf, sizeof(buf));
	assert_int_equal(sock_top_up(bev, MIB, 10000), 10000 - EV_MAX_READ);
	check_input(10000);
	/* at the cap, or above it: nothing is read */
	assert_int_equal(sock_top_up(bev, MIB, 10000), 0);
	assert_int_equal(sock_top_up(bev, MIB, 5000), 0);
	check_input(10000);
	check_socket(10000);
}

static void
test_eof_left(void **state)
{
	struct seen	s = { .more = 256 * KIB, .cap = 256 * KIB };

	send_pattern(5000);
	assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
	for (int i = 0; i < 10 && !(s.events & BEV_EVENT_EOF); i++)
		loop_once(&s);
	/* one read and its top-up took all the data */
	assert_int_equal(s.calls, 1);
	assert_true(s.before > 0 && s.before <= EV_MAX_READ);
	assert_int_equal(s.added, 5000 - s.before);
	assert_int_equal(s.after, 5000);
	/* and the bufferevent saw the end after them */
	assert_int_equal(s.events, BEV_EVENT_EOF | BEV_EVENT_READING);
	assert_int_equal(s.at_event, 5000);
	check_input(5000);
}

static void
test_empty(void **state)
{
	input_add(pat, 10);
	assert_int_equal(sock_top_up(bev, MIB, MIB), 0);
	check_input(10);
	check_socket(SENT);
}

static void
test_no_socket(void **state)
{
	struct bufferevent	*nb;

	/* data on the fixture's socket, which NB knows nothing of */
	send_pattern(SENT);
	assert_non_null(nb = bufferevent_socket_new(base, -1, 0));
	assert_int_equal(sock_top_up(nb, MIB, MIB), 0);
	assert_int_equal(evbuffer_get_length(bufferevent_get_input(nb)), 0);
	bufferevent_free(nb);
	check_socket(0);
}

/* read_peer - everything readable now on the fixture's other end */
static size_t
read_peer(uint8_t *buf, size_t size)
{
	size_t	have = 0;
	ssize_t	n;

	while ((n = read(sv[0], buf + have, size - have)) > 0)
		have += (size_t)n;
	assert_int_equal(n, -1);
	assert_int_equal(errno, EAGAIN);
	return have;
}

static void
test_flush(void **state)
{
	static uint8_t		 buf[SENT];
	struct bufferevent	*nb;
	const size_t		 len = 50000;

	assert_int_equal(sock_flush(bev), 0);	/* nothing to write */
	assert_int_equal(bufferevent_write(bev, pat, len), 0);
	/* libevent itself writes at the next turn of the loop only */
	assert_int_equal(read_peer(buf, sizeof(buf)), 0);
	assert_int_equal(sock_flush(bev), len);
	assert_int_equal(evbuffer_get_length(bufferevent_get_output(bev)), 0);
	assert_int_equal(read_peer(buf, sizeof(buf)), len);
	same(buf, 0, len);
	/* and the loop's own write has nothing left to send again */
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	assert_int_equal(bufferevent_enable(bev, EV_WRITE), 0);
	assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	assert_int_equal(read_peer(buf, sizeof(buf)), 0);
	/* a bufferevent without a socket keeps its output */
	assert_non_null(nb = bufferevent_socket_new(base, -1, 0));
	assert_int_equal(bufferevent_write(nb, pat, 10), 0);
	assert_int_equal(sock_flush(nb), 0);
	assert_int_equal(evbuffer_get_length(bufferevent_get_output(nb)), 10);
	bufferevent_free(nb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_all, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_more_bounds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cap_bounds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eof_left, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_socket, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
	};

	/* the pattern: no short period, so misordered bytes show */
	for (uint32_t i = 0; i < SENT; i++)
		pat[i] = (uint8_t)((i * 2654435761u) >> 24);
	alarm(WAIT_SECS);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
