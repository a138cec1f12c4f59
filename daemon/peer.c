/*
 * peer.c - counterparts: dialling, back-off, and moving the queues over
 * their links (see peer.h).
 *
 * Sending is cursor based: for the active link the peer remembers the
 * last queue position sent in each class (receipts, urgent, normal).  An
 * item stays in the store's send queue until its final receipt, so a new
 * link starts the cursors from zero and sends again whatever is still
 * queued; the receiver's (from, id) dedup makes that safe.  The ids in
 * flight on the active link are kept (at most [limits] window) so that a
 * cursor restart after "try later" does not resend them twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "audit.h"
#include "comity.h"
#include "comityd.h"
#include "conf.h"
#include "directory.h"
#include "link.h"
#include "log.h"
#include "peer.h"
#include "queue.h"
#include "receipt.h"
#include "store.h"
#include "wire.h"
#include "xmalloc.h"

#define PUMP_BATCH		32
#define PUMP_OUTPUT_MAX		(4u << 20)	/* refill below this */
#define TRYLATER_MIN_MS		100
#define TRYLATER_MAX_MS		60000

struct peer {
	char			 id[ID_MAX + 1];
	struct link		*links;		/* dialling or up */
	struct link		*active;	/* the up link we send on */
	struct link		*dialling;
	struct event		*timer;		/* back-off / pause */
	uint64_t		 backoff_ms;	/* next delay */
	int64_t			 next_attempt_ns;
	int			 paused;	/* after "try later" */
	uint64_t		 after_ctl, after_urgent, after_normal;
	struct inflight {
		uint8_t	 id[16];
		int	 urgent;
		size_t	 len;		/* the frame's */
	}			*inflight;	/* grown as needed */
	size_t			 ninflight, inflight_cap;
	size_t			 inflight_bytes;
	int64_t			 last_contact_ns;
	int64_t			 last_delivery_ns;
	int64_t			 skew_ns;
	char			 last_error[160];
	int			 pumping;
};

static struct peer	**peers;
static size_t		  npeers;

static void	dial(struct peer *);
static void	pump(struct peer *);

static struct peer *
find(const char *id)
{
	size_t	i;

	for (i = 0; i < npeers; i++)
		if (strcmp(peers[i]->id, id) == 0)
			return peers[i];
	return NULL;
}

static uint32_t
random_u32(void)
{
	uint32_t	v = 0;

	RAND_bytes((unsigned char *)&v, sizeof(v));
	return v;
}

/* ---------------------------------------------------------------- in flight */

static ssize_t
inflight_find(const struct peer *p, const uint8_t id[16])
{
	size_t	i;

	for (i = 0; i < p->ninflight; i++)
		if (memcmp(p->inflight[i].id, id, 16) == 0)
			return (ssize_t)i;
	return -1;
}

/*
 * inflight_room - room for one more: the array grows with use (at most
 * window + URGENT_WINDOW), so that a directory of a thousand authorities
 * that never exchange costs no window-sized array each.
 */
static void
inflight_room(struct peer *p)
{
	size_t	cap;

	if (p->ninflight < p->inflight_cap)
		return;
	cap = p->inflight_cap == 0 ? 16 : p->inflight_cap * 2;
	if (cap > WINDOW_MAX + URGENT_WINDOW)
		cap = WINDOW_MAX + URGENT_WINDOW;
	if (cap <= p->ninflight)
		fatalx("peer %s: more than %d in flight", p->id,
		    WINDOW_MAX + URGENT_WINDOW);
	p->inflight = xrealloc(p->inflight, cap * sizeof(*p->inflight));
	p->inflight_cap = cap;
}

static void
inflight_del(struct peer *p, const uint8_t id[16])
{
	ssize_t	i = inflight_find(p, id);

	if (i >= 0) {
		p->inflight_bytes -= p->inflight[i].len;
		p->inflight[i] = p->inflight[--p->ninflight];
	}
}

/* ---------------------------------------------------------------- timers */

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer	*p = arg;

	(void)fd;
	(void)what;
	if (p->paused) {
		/* after "try later": send again what is not in flight */
		p->paused = 0;
		p->after_urgent = p->after_normal = 0;
		pump(p);
		return;
	}
	p->next_attempt_ns = 0;
	if (p->active == NULL && p->dialling == NULL && queue_pending(p->id))
		dial(p);
}

static void
timer_set(struct peer *p, uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(p->timer, &tv);
}

/* Wait before the next attempt: back-off with jitter in [d/2, d]. */
static void
backoff(struct peer *p)
{
	uint64_t	d = p->backoff_ms, wait;

	if (d < cd->conf->retry_initial_ms)
		d = cd->conf->retry_initial_ms;
	wait = d / 2 + (d > 1 ? random_u32() % (d - d / 2) : 0);
	p->backoff_ms = d * 2 > cd->conf->retry_max_ms ?
	    cd->conf->retry_max_ms : d * 2;
	p->next_attempt_ns = now_ns() + (int64_t)wait * 1000000;
	timer_set(p, wait);
	log_debug("peer %s: next attempt in %llums", p->id,
	    (unsigned long long)wait);
}

/* ---------------------------------------------------------------- dialling */

static void
dial(struct peer *p)
{
	const struct dir_entry	*e;

	if (cd->stopping || p->active != NULL || p->dialling != NULL)
		return;
	if ((e = directory_find(cd->dir, p->id)) == NULL)
		return;
	evtimer_del(p->timer);
	p->next_attempt_ns = 0;
	p->dialling = link_dial(p->id, e->host, e->port);
	if (p->dialling == NULL) {
		snprintf(p->last_error, sizeof(p->last_error),
		    "cannot connect to %s", e->endpoint);
		backoff(p);
		return;
	}
	p->dialling->peer = p;
	p->dialling->peer_next = p->links;
	p->links = p->dialling;
}

void
peer_kick(const char *id, int urgent)
{
	struct peer	*p = find(id);

	if (p == NULL || cd->stopping)
		return;
	if (p->active != NULL) {
		pump(p);
		return;
	}
	if (p->dialling != NULL)
		return;
	/* an urgent item cuts the back-off short */
	if (urgent || !evtimer_pending(p->timer, NULL))
		dial(p);
}

/* ---------------------------------------------------------------- sending */

static int
send_items(struct peer *p, struct queue_out *out, int n, int ctl)
{
	int	i, sent = 0;

	for (i = 0; i < n; i++) {
		if (p->active == NULL) {
			free(out[i].frame);
			continue;
		}
		if (ctl) {
			p->after_ctl = out[i].seq;
		} else {
			if (out[i].urgent)
				p->after_urgent = out[i].seq;
			else
				p->after_normal = out[i].seq;
			if (inflight_find(p, out[i].id) >= 0) {
				free(out[i].frame);
				continue;
			}
		}
		if ((out[i].urgent ? link_send_now : link_send)(p->active,
		    out[i].frame, out[i].len) == 0) {
			sent++;
			if (!ctl) {
				inflight_room(p);
				memcpy(p->inflight[p->ninflight].id,
				    out[i].id, 16);
				p->inflight[p->ninflight].len = out[i].len;
				p->inflight[p->ninflight++].urgent =
				    out[i].urgent;
				p->inflight_bytes += out[i].len;
				queue_mark_sent(p->id, out[i].id,
				    out[i].urgent);
			}
		}
		free(out[i].frame);
	}
	return sent;
}

/*
 * Fill the active link: receipts owed to the peer first, then urgent
 * envelopes, then normal ones, within the window (urgent ones within
 * URGENT_WINDOW more) and the output bound.  Normal envelopes also stop
 * at WINDOW_BYTES in flight (the frame that reaches it goes out): the
 * window's count is for small requests, and the receiver holds what is
 * in flight in memory.  The bytes bound every batch, the first one on
 * an empty window included, whatever the sizes of those in flight.
 */
static void
pump(struct peer *p)
{
	struct queue_out	out[PUMP_BATCH];
	size_t			window = cd->conf->window, limit;
	int			n, urgent, rounds;

	if (p->pumping || p->paused)
		return;
	p->pumping = 1;
	for (rounds = 0; rounds < 1024 && p->active != NULL &&
	    link_output_len(p->active) < PUMP_OUTPUT_MAX; rounds++) {
		n = queue_next_ctl(p->id, p->after_ctl, out, PUMP_BATCH);
		if (n > 0) {
			send_items(p, out, n, 1);
			continue;
		}
		if (p->ninflight >= window + URGENT_WINDOW)
			break;
		for (urgent = 1, n = 0; urgent >= 0 && n == 0; urgent--) {
			int	max;

			limit = urgent ? window + URGENT_WINDOW : window;
			if (p->ninflight >= limit || (!urgent &&
			    p->inflight_bytes >= WINDOW_BYTES))
				continue;
			max = (int)(limit - p->ninflight);
			if (max > PUMP_BATCH)
				max = PUMP_BATCH;
			/* normal ones: up to the frame that fills the bytes */
			n = queue_next_out(p->id, urgent, urgent ?
			    p->after_urgent : p->after_normal, out, max,
			    urgent ? SIZE_MAX :
			    WINDOW_BYTES - p->inflight_bytes);
			if (n < 0)
				break;
			if (n > 0)
				send_items(p, out, n, 0);
		}
		if (n <= 0)
			break;
	}
	p->pumping = 0;
}

/* ---------------------------------------------------------------- links */

static const char *
preferred_dialer(const struct peer *p)
{
	return strcmp(cd->self, p->id) < 0 ? cd->self : p->id;
}

static const char *
dialer(const struct peer *p, const struct link *l)
{
	return l->inbound ? p->id : cd->self;
}

static void
attach(struct peer *p, struct link *l)
{
	struct link	*x;

	for (x = p->links; x != NULL; x = x->peer_next)
		if (x == l)
			return;
	l->peer = p;
	l->peer_next = p->links;
	p->links = l;
}

static void
detach(struct peer *p, struct link *l)
{
	struct link	**pp;

	for (pp = &p->links; *pp != NULL; pp = &(*pp)->peer_next)
		if (*pp == l) {
			*pp = l->peer_next;
			break;
		}
	l->peer_next = NULL;
}

static void
activate(struct peer *p, struct link *l)
{
	p->active = l;
	p->after_ctl = p->after_urgent = p->after_normal = 0;
	p->ninflight = 0;
	p->inflight_bytes = 0;
	p->paused = 0;
	p->backoff_ms = 0;
	p->next_attempt_ns = 0;
	evtimer_del(p->timer);
	p->skew_ns = l->skew_ns;
	p->last_contact_ns = now_ns();
	p->last_error[0] = '\0';
	pump(p);
}

void
peer_link_up(struct link *l)
{
	struct peer	*p = find(l->id);
	struct link	*old;
	const char	*pref;

	if (p == NULL) {
		link_close(l, "authority no longer in the directory");
		return;
	}
	attach(p, l);
	if (p->dialling == l)
		p->dialling = NULL;
	if ((old = p->active) == NULL) {
		activate(p, l);
		return;
	}
	/* two links at once: both sides keep the one the smaller id dialled */
	pref = preferred_dialer(p);
	if (strcmp(dialer(p, l), pref) == 0 ||
	    strcmp(dialer(p, old), pref) != 0) {
		p->active = NULL;
		link_close(old, "replaced by a newer link");
		activate(p, l);
	} else
		link_close(l, "a link to this authority is already up");
}

void
peer_link_down(struct link *l, const char *reason)
{
	struct peer	*p = l->peer;
	int		 was_active;

	if (p == NULL)
		return;
	detach(p, l);
	l->peer = NULL;
	was_active = p->active == l;
	if (p->dialling == l) {
		p->dialling = NULL;
		snprintf(p->last_error, sizeof(p->last_error), "%s", reason);
	}
	if (was_active) {
		p->active = NULL;
		p->ninflight = 0;
		p->inflight_bytes = 0;
		p->paused = 0;
		evtimer_del(p->timer);
	}
	if (cd->stopping || p->active != NULL || p->dialling != NULL)
		return;
	if (was_active && queue_pending(p->id))
		dial(p);	/* a lost link is redialled at once, once */
	else if (queue_pending(p->id))
		backoff(p);
}

void
peer_link_writable(struct link *l)
{
	if (l->peer != NULL && l->peer->active == l)
		pump(l->peer);
}

/* ---------------------------------------------------------------- frames in */

struct env_ctx {
	struct link			*link;
	struct queue_envelope_res	 res;
	size_t				 len;	/* of the body */
};

/* pending_full - whether L has as much being stored as it may have */
static int
pending_full(const struct link *l)
{
	return l->pending_in >= WINDOW_MAX ||
	    l->pending_in_bytes >= PENDING_BYTES_MAX;
}

static void
send_trylater(struct link *l, const uint8_t id[16], const char *why)
{
	Comity__Frame		f = COMITY__FRAME__INIT;
	Comity__TryLater	t = COMITY__TRY_LATER__INIT;
	uint8_t			*buf;
	size_t			 len;

	t.envelope_id.data = (uint8_t *)id;
	t.envelope_id.len = 16;
	t.reason = (char *)why;
	t.retry_after_ms = TRYLATER_DEFAULT_MS;
	f.msg_case = COMITY__FRAME__MSG_TRY_LATER;
	f.try_later = &t;
	if ((buf = wire_pack(&f.base, 1, &len)) == NULL)
		fatalx("out of memory");
	link_send(l, buf, len);
	free(buf);
}

static void
envelope_done(void *arg, int rc)
{
	struct env_ctx	*c = arg;
	struct link	*l = c->link;

	if (l->state == LINK_UP) {
		if (rc == 0)
			(c->res.urgent ? link_send_now : link_send)(l,
			    c->res.frame, c->res.len);
		else
			send_trylater(l, c->res.id, c->res.err);
		if (l->peer != NULL)
			l->peer->last_delivery_ns = now_ns();
		l->pending_in--;
		l->pending_in_bytes -= c->len;
		if (l->pending_in < WINDOW_MAX / 2 &&
		    l->pending_in_bytes < PENDING_BYTES_MAX / 2)
			link_resume_read(l);
	}
	free(c->res.frame);
	link_unref(l);
	free(c);
}

static void
envelope_in(struct link *l, const Comity__Envelope *env)
{
	struct env_ctx	*c = xcalloc(1, sizeof(*c));
	int		 rc;

	rc = queue_envelope_in(l->id, link_peer_cert(l), env, &c->res,
	    envelope_done, c);
	if (rc != 0) {
		char	why[QUEUE_ERR_MAX + 32];

		snprintf(why, sizeof(why), "bad envelope: %s", c->res.err);
		free(c);
		link_close(l, why);
		return;
	}
	c->link = l;
	link_ref(l);
	/* a sender past its window is held by what it has given us */
	c->len = env->body.len;
	l->pending_in++;
	l->pending_in_bytes += c->len;
	if (pending_full(l))
		link_pause_read(l);
}

struct rcpt_ctx {
	struct link			*link;
	struct queue_receipt_res	 res;
};

static void
receipt_refused(struct link *l, const char *why)
{
	char	detail[QUEUE_ERR_MAX + 32];

	log_warnx("link %s peer=%s: receipt refused: %s", l->addr, l->id, why);
	snprintf(detail, sizeof(detail), "receipt refused: %s", why);
	queue_audit(AUDIT_RECEIPT_REFUSED, NULL, l->id, detail);
}

static void
receipt_done(void *arg, int rc)
{
	struct rcpt_ctx	*c = arg;
	struct link	*l = c->link;
	struct peer	*p = l->peer;

	if (l->state == LINK_UP) {
		l->pending_in--;
		if (l->pending_in < WINDOW_MAX / 2 &&
		    l->pending_in_bytes < PENDING_BYTES_MAX / 2)
			link_resume_read(l);
	}
	if (rc == COMITY_EPROTO) {	/* signature or content refused */
		receipt_refused(l, c->res.err);
		link_unref(l);
		free(c);
		return;
	}
	if (rc == 0 && l->state == LINK_UP && c->res.ack_needed &&
	    c->res.err[0] == '\0') {
		Comity__Frame		f = COMITY__FRAME__INIT;
		Comity__ReceiptAck	a = COMITY__RECEIPT_ACK__INIT;
		uint8_t			*buf;
		size_t			 len;

		a.envelope_id.data = c->res.id;
		a.envelope_id.len = 16;
		a.kind = c->res.kind;
		f.msg_case = COMITY__FRAME__MSG_RECEIPT_ACK;
		f.receipt_ack = &a;
		if ((buf = wire_pack(&f.base, 1, &len)) == NULL)
			fatalx("out of memory");
		link_send(l, buf, len);
		free(buf);
	}
	if (p != NULL && p->active == l) {
		if (c->res.kind != COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED)
			inflight_del(p, c->res.id);
		if (rc == 0)
			p->last_delivery_ns = now_ns();
		pump(p);
	}
	link_unref(l);
	free(c);
}

static void
receipt_in(struct link *l, const Comity__Receipt *r)
{
	struct rcpt_ctx	*c = xcalloc(1, sizeof(*c));
	struct peer	*p = l->peer;
	uint8_t		 id[16];
	ssize_t		 i;
	int		 urgent = 0;

	/* the receipt of an urgent item is checked first: the id read
	 * before the check only orders the work */
	if (p != NULL && p->active == l &&
	    receipt_peek_id(r->signed_.data, r->signed_.len, id) == 0 &&
	    (i = inflight_find(p, id)) >= 0)
		urgent = p->inflight[i].urgent;
	if (queue_receipt_in(l->id, link_peer_cert(l), r->signed_.data,
	    r->signed_.len, urgent, &c->res, receipt_done, c) != 0) {
		receipt_refused(l, c->res.err);
		free(c);
		return;
	}
	c->link = l;
	link_ref(l);
	/* receipts being checked count with envelopes being stored */
	if (++l->pending_in >= WINDOW_MAX || pending_full(l))
		link_pause_read(l);
}

static void
trylater_in(struct link *l, const Comity__TryLater *t)
{
	struct peer	*p = l->peer;
	uint64_t	 ms = t->retry_after_ms;

	if (p == NULL || p->active != l || t->envelope_id.len != 16)
		return;
	inflight_del(p, t->envelope_id.data);
	if (ms < TRYLATER_MIN_MS)
		ms = TRYLATER_MIN_MS;
	if (ms > TRYLATER_MAX_MS)
		ms = TRYLATER_MAX_MS;
	snprintf(p->last_error, sizeof(p->last_error), "peer asks to try "
	    "later: %.100s", t->reason != NULL ? t->reason : "");
	log_info("peer %s: try later in %llums: %s", p->id,
	    (unsigned long long)ms, p->last_error);
	if (!p->paused) {
		p->paused = 1;
		timer_set(p, ms);
	}
}

void
peer_link_frame(struct link *l, const Comity__Frame *f)
{
	if (l->peer != NULL)
		l->peer->last_contact_ns = now_ns();
	switch (f->msg_case) {
	case COMITY__FRAME__MSG_ENVELOPE:
		envelope_in(l, f->envelope);
		break;
	case COMITY__FRAME__MSG_RECEIPT:
		receipt_in(l, f->receipt);
		break;
	case COMITY__FRAME__MSG_RECEIPT_ACK:
		if (f->receipt_ack->envelope_id.len == 16)
			queue_ctl_ack(l->id, f->receipt_ack->envelope_id.data,
			    f->receipt_ack->kind);
		break;
	case COMITY__FRAME__MSG_TRY_LATER:
		trylater_in(l, f->try_later);
		break;
	default:
		link_close(l, "unexpected frame");
		break;
	}
}

int
peer_is_sending(const char *id, const uint8_t env_id[16])
{
	struct peer	*p = find(id);

	return p != NULL && p->active != NULL && inflight_find(p, env_id) >= 0;
}

/* ---------------------------------------------------------------- set-up */

static struct peer *
peer_new(const char *id)
{
	struct peer	*p = xcalloc(1, sizeof(*p));

	snprintf(p->id, sizeof(p->id), "%s", id);
	p->timer = evtimer_new(cd->base, timer_cb, p);
	return p;
}

static void
peer_free(struct peer *p)
{
	while (p->links != NULL) {
		struct link	*l = p->links;

		link_close(l, "authority removed from the directory");
		if (p->links == l)	/* not detached by the close */
			detach(p, l);
	}
	event_free(p->timer);
	free(p->inflight);
	free(p);
}

void
peer_init(void)
{
	size_t	i;

	peers = xcalloc(cd->dir->n + 1, sizeof(*peers));
	npeers = 0;
	for (i = 0; i < cd->dir->n; i++)
		if (strcmp(cd->dir->entries[i].id, cd->self) != 0)
			peers[npeers++] = peer_new(cd->dir->entries[i].id);
}

void
peer_reload(void)
{
	struct peer	**np;
	size_t		  i, j, n = 0;

	np = xcalloc(cd->dir->n + 1, sizeof(*np));
	for (i = 0; i < cd->dir->n; i++) {
		const char	*id = cd->dir->entries[i].id;
		struct peer	*p;

		if (strcmp(id, cd->self) == 0)
			continue;
		if ((p = find(id)) == NULL)
			p = peer_new(id);
		np[n++] = p;
	}
	for (j = 0; j < npeers; j++) {
		for (i = 0; i < n; i++)
			if (np[i] == peers[j])
				break;
		if (i == n) {
			log_info("peer %s: removed from the directory",
			    peers[j]->id);
			peer_free(peers[j]);
		}
	}
	free(peers);
	peers = np;
	npeers = n;
	peer_start();
}

void
peer_start(void)
{
	size_t	i;

	for (i = 0; i < npeers; i++)
		if (peers[i]->active == NULL && peers[i]->dialling == NULL &&
		    queue_pending(peers[i]->id))
			dial(peers[i]);
}

void
peer_free_all(void)
{
	size_t	i;

	for (i = 0; i < npeers; i++)
		peer_free(peers[i]);
	free(peers);
	peers = NULL;
	npeers = 0;
}

/* ---------------------------------------------------------------- info */

int
peer_info(Comity__PeerInfo ***out, size_t *n)
{
	Comity__PeerInfo	**arr;
	size_t			  i;

	arr = xcalloc(npeers + 1, sizeof(*arr));
	for (i = 0; i < npeers; i++) {
		struct peer		*p = peers[i];
		const struct dir_entry	*e = directory_find(cd->dir, p->id);
		Comity__PeerInfo	*pi = xmalloc(sizeof(*pi));
		struct queue_stats	 st;
		struct queue_heads	 hd;

		comity__peer_info__init(pi);
		pi->id = xstrdup(p->id);
		pi->name = xstrdup(e != NULL && e->name ? e->name : "");
		pi->endpoint = xstrdup(e != NULL && e->endpoint ? e->endpoint :
		    "");
		pi->up = p->active != NULL;
		if (queue_peer_stats(p->id, &st) == 0) {
			pi->queued = st.queued;
			pi->queued_urgent = st.queued_urgent;
			pi->oldest_queued_ns = st.oldest_ns;
			pi->oldest_urgent_ns = st.oldest_urgent_ns;
			pi->oldest_normal_ns = st.oldest_normal_ns;
		}
		pi->in_flight = p->ninflight;
		pi->last_contact_ns = p->last_contact_ns;
		pi->last_delivery_ns = p->last_delivery_ns;
		pi->clock_skew_ns = p->skew_ns;
		pi->clock_skew_warning = p->last_contact_ns != 0 &&
		    link_skew_exceeds(p->skew_ns, cd->conf->skew_warning_ms);
		if (queue_peer_heads(p->id, &hd) == 0) {
			pi->held_seq = hd.held_seq;
			pi->held_at_ns = hd.held_at_ns;
			pi->given_seq = hd.given_seq;
			pi->given_at_ns = hd.given_at_ns;
			if (hd.held_seq != 0) {
				pi->held_head.data = xmalloc(32);
				memcpy(pi->held_head.data, hd.held_head, 32);
				pi->held_head.len = 32;
			}
			if (hd.given_seq != 0) {
				pi->given_head.data = xmalloc(32);
				memcpy(pi->given_head.data, hd.given_head, 32);
				pi->given_head.len = 32;
			}
		}
		pi->last_error = xstrdup(p->last_error);
		pi->next_attempt_ns = p->next_attempt_ns;
		arr[i] = pi;
	}
	*out = arr;
	*n = npeers;
	return 0;
}

void
peer_info_free(Comity__PeerInfo **arr, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		wire_free(arr[i]);
	free(arr);
}
