/*
 * peer.h - one counterpart: its links, its send queues and its retries.
 *
 * For every directory entry but ourselves there is one struct peer.  It
 * dials when something is queued for the counterpart (at once for an
 * urgent item; otherwise after the back-off: exponential from
 * [retry] initial to [retry] max, with jitter, reset by a successful
 * exchange), accepts inbound links, and moves frames between its link and
 * the queue: receipts queued back first, then urgent envelopes, then
 * normal ones, keeping at most [limits] window envelopes in flight.
 * When both sides dial at once, the link dialled by the authority whose id
 * sorts first is kept, so both sides agree without talking.
 */
#ifndef COMITY_PEER_H
#define COMITY_PEER_H

#include <stdint.h>

#include "comity.pb-c.h"

struct link;

/* peer_init - one peer per directory entry (not us); peer_free_all at exit */
void	peer_init(void);
void	peer_free_all(void);
/* peer_reload - the directory changed: add, update and drop peers */
void	peer_reload(void);
/* peer_start - look at the queues of every peer and dial where needed */
void	peer_start(void);

/* peer_kick - something was queued for ID; URGENT cuts any back-off. */
void	peer_kick(const char *id, int urgent);

/* peer_is_sending - ID is in flight on a link of the peer now */
int	peer_is_sending(const char *peer, const uint8_t id[16]);

/*
 * peer_info - a PeerInfo for each counterpart (for `comity peers`).
 * Fills *out (array of n pointers; free with peer_info_free()).
 */
int	peer_info(Comity__PeerInfo ***out, size_t *n);
void	peer_info_free(Comity__PeerInfo **, size_t n);

/* Called by link.c. */
/* peer_link_up - LINK passed TLS checks and the peer's Hello */
void	peer_link_up(struct link *);
/* peer_link_frame - a decoded frame (borrowed for the call) */
void	peer_link_frame(struct link *, const Comity__Frame *);
/* peer_link_down - LINK is closing (it was up, or a dial failed) */
void	peer_link_down(struct link *, const char *reason);
/* peer_link_writable - LINK's output drained below its limit */
void	peer_link_writable(struct link *);

#endif /* COMITY_PEER_H */
