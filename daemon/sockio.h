/*
 * sockio.h - reading a socket bufferevent as fast as the loop can.
 *
 * libevent 2.1 reads at most 4096 bytes each time a socket bufferevent's
 * socket is readable (EVBUFFER_MAX_READ in its buffer.c), whatever
 * bufferevent_set_max_single_read() allows.  A peer sending more is
 * read at 4 KiB per turn of the loop, however long the turn: three
 * receipts, 1/256th of a 1 MiB document, and an urgent receipt behind
 * hundreds of others waited tens of milliseconds for its turn.  A link's
 * read callback, which runs when the bufferevent has just read, tops
 * the input up (link.c).  Writes wait for the next poll: an urgent frame
 * is flushed at once.
 */
#ifndef COMITY_SOCKIO_H
#define COMITY_SOCKIO_H

#include <sys/types.h>

#include <stddef.h>

struct bufferevent;

/*
 * sock_top_up - move up to MORE bytes from BEV's socket into its input,
 * never making the input longer than CAP, and no more than FIONREAD says
 * are there: the end of the stream and errors stay for the bufferevent
 * to see and report.  Returns the bytes added, 0 when none, -1 when
 * bytes were read but could not be added: the stream is broken.
 */
ssize_t	sock_top_up(struct bufferevent *bev, size_t more, size_t cap);

/*
 * sock_flush - write what BEV's output holds to its socket now, as much
 * as the socket takes, rather than when the loop next polls (after
 * everything else that turn does).  Returns the bytes written, 0 when
 * none; an error is left for the bufferevent's own write to report.
 */
size_t	sock_flush(struct bufferevent *bev);

#endif /* COMITY_SOCKIO_H */
