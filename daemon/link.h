/*
 * link.h - one TLS connection to a counterpart.
 *
 * A link dials (or is accepted), completes the TLS 1.3 handshake within
 * [limits] handshake_timeout, checks the peer (tls_peer_check: one URI SAN,
 * ALPN, TLS 1.3; outbound: the id we dialled; inbound: an authority in the
 * directory; the SPKI pin when the directory has one), exchanges Hello and
 * only then reports itself up.  It moves whole frames: the length is
 * checked against [limits] max_frame before a byte of the frame is
 * buffered for decoding, a bad frame closes the link.  It knows nothing of
 * queues: decoded frames go to peer.c.
 *
 * Links are reference counted: an asynchronous operation that will answer
 * on a link holds a reference; a closed link drops its socket at once and
 * its memory when the last reference goes.
 */
#ifndef COMITY_LINK_H
#define COMITY_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include <sys/socket.h>

#include "bounds.h"

struct bufferevent;
struct event;
struct peer;

enum link_state {
	LINK_TLS = 0,		/* connecting / handshaking */
	LINK_HELLO,		/* TLS checked, waiting for the peer's Hello */
	LINK_UP,
	LINK_CLOSED
};

struct link {
	struct link		*next, *prev;	/* all links (link.c) */
	struct bufferevent	*bev;		/* TLS, a filter over sock */
	struct bufferevent	*sock;		/* the TCP socket */
	struct event		*deadline;	/* handshake + Hello */
	enum link_state		 state;
	int			 inbound;
	int			 refs;
	char			 id[ID_MAX + 1];	/* dialled or authenticated */
	char			 addr[80];		/* host:port for logs */
	int64_t			 skew_ns;	/* peer clock - ours, at Hello */
	uint64_t		 up_ms;
	size_t			 pending_in_bytes; /* their envelopes' bodies */
	unsigned		 pending_in;	/* envelopes and receipts being
						   checked or committed */
	int			 read_paused;
	/* owned by peer.c */
	struct peer		*peer;
	struct link		*peer_next;
};

/* link_dial - connect to HOST:PORT expecting authority ID */
struct link	*link_dial(const char *id, const char *host, const char *port);
/* link_accept - take an accepted socket (the listener checked the caps) */
void		 link_accept(int fd, const struct sockaddr *sa, int salen);

/*
 * link_send - queue a whole frame (header included) for sending.
 * Returns 0, or -1 when the link is not up or its output is over
 * LINK_OUTPUT_MAX (the link is then closed).
 */
int		 link_send(struct link *, const uint8_t *frame, size_t len);
/*
 * link_send_now - link_send, then write to the socket at once what is
 * queued up to and including the frame, as far as the socket takes it,
 * rather than at the next turn of the loop: for urgent envelopes and
 * their receipts.
 */
int		 link_send_now(struct link *, const uint8_t *frame, size_t len);
/* link_peer_cert - the certificate the peer authenticated with (borrowed,
 * valid while the link lives), or NULL before the handshake */
X509		*link_peer_cert(const struct link *);
/* link_output_len - bytes queued for sending */
size_t		 link_output_len(const struct link *);

/* link_close - close now with REASON (logged); calls peer_link_down */
void		 link_close(struct link *, const char *reason);

void		 link_ref(struct link *);
void		 link_unref(struct link *);

/* link_pause_read / link_resume_read - flow control of inbound frames */
void		 link_pause_read(struct link *);
void		 link_resume_read(struct link *);

/* link_close_all - at shutdown */
void		 link_close_all(const char *reason);

/* link_close_existing - close every link open now, e.g. when our own
 * certificate changed, so that peers see the new one (links dialled
 * meanwhile stay open) */
void		 link_close_existing(const char *reason);

/* link_count - open links, and of those not yet up */
void		 link_count(unsigned *all, unsigned *unauth);

/* link_skew_exceeds - |SKEW_NS| is past THRESHOLD_MS (0 = never) */
int		 link_skew_exceeds(int64_t skew_ns, uint64_t threshold_ms);

#endif /* COMITY_LINK_H */
