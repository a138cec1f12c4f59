/*
 * internal.h - what the libcomity files share: the connection and the
 * framed request/response exchange.
 *
 * Owns struct comity_conn.  Never prints, never exits: every failure is a
 * COMITY_E* code, with a one-line reason in conn->msg.  A transport
 * failure (EIO, EPROTO, ETIMEDOUT) kills the connection for good, since
 * the position in the response stream is then unknown.
 */
#ifndef COMITY_INTERNAL_H
#define COMITY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "comity.h"
#include "comity.pb-c.h"

/* The longest reason kept for comity_errmsg(). */
#define CONN_MSG_MAX	512

struct comity_conn {
	int		 fd;
	int		 dead;		/* 0, or the transport error that killed it */
	int		 watched;	/* it carried a watch: no more requests */
	char		 msg[CONN_MSG_MAX];
};

/* conn_seterr - record a reason in conn->msg and return RC */
int	conn_seterr(comity_conn *, int rc, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * conn_call - send REQ and read one LocalResponse.  On 0, *resp is the
 * decoded response with error == 0 (free with wire_free()).  A response
 * carrying an error returns that code with its message in conn->msg.
 */
int	conn_call(comity_conn *, const Comity__LocalRequest *req,
	    Comity__LocalResponse **resp);
/* conn_recv - read the next LocalResponse, as conn_call does after its
 * send (a watch reads many) */
int	conn_recv(comity_conn *, Comity__LocalResponse **resp);

/* bad_response - R lacks what the operation promises (a broken daemon):
 * free R, mark the connection dead, COMITY_EPROTO naming WHAT */
int	bad_response(comity_conn *, Comity__LocalResponse *r, const char *what);

/* take_bytes - copy B of response R into *OUT (comity_free()), free R;
 * an empty B is a bad response (WHAT) */
int	take_bytes(comity_conn *, Comity__LocalResponse *r,
	    const ProtobufCBinaryData *b, const char *what, uint8_t **out,
	    size_t *len);

/* pool_put - copy S into a block allocated for a struct and its strings,
 * at *P, which it advances past the copy; returns the copy */
const char *pool_put(char **p, const char *s);

/* item_fill - IT from the daemon's II (strings borrowed from II); 0, or
 * -1 when II is malformed */
int	item_fill(struct comity_item *it, const Comity__ItemInfo *ii);

/*
 * Allocation for the library, with test hooks: cm_test.largest records the
 * largest single request seen, and when cm_test.fail_after is > 0 the
 * allocation that brings it to 0 fails (one-shot), so tests can inject
 * exhaustion call by call.
 */
struct cm_test {
	size_t		 largest;
	long		 fail_after;
};
extern struct cm_test	cm_test;

void	*cm_malloc(size_t);
void	*cm_calloc(size_t, size_t);

#endif /* COMITY_INTERNAL_H */
