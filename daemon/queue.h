/*
 * queue.h - the life cycle of outbox and inbox items.
 *
 * Every transition (submit, sent, delivered, rejected, expired,
 * cancelled, received, retrieved) is one store batch operation that also appends its
 * audit record, so the state change and its record commit together.
 * Writes are asynchronous: the caller's callback runs after the group
 * commit with the outcome; only then may anything be acknowledged.
 * Reads (status, lists, fetch, what to send next) use short read
 * transactions and copy out what they return.
 *
 * Sender side:   QUEUED -> SENT -> DELIVERED -> RETRIEVED
 *                or REJECTED, EXPIRED, CANCELLED (before delivery)
 * Receiver side: RECEIVED -> RETRIEVED
 *
 * Keys: see store.h.  An outbox item stays in DB_OUTQ until a final
 * receipt (DELIVERED or REJECTED) arrives, it expires or it is cancelled,
 * so anything queued or in flight is sent again after a restart or a lost
 * link.  An item past its expires_at is never handed out for sending.
 */
#ifndef COMITY_QUEUE_H
#define COMITY_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "comity.pb-c.h"

#define QUEUE_ERR_MAX	256

/* Completion of an asynchronous operation: rc is 0 or COMITY_E*. */
typedef void	(*queue_cb)(void *arg, int rc);

/* Outcome of a submit. */
struct queue_submit_res {
	uint8_t		 id[16];
	int		 existed;		/* idempotency key was known */
	char		 err[QUEUE_ERR_MAX];
};

/*
 * queue_submit - validate REQ (destination in the directory and
 * accepting the type, fields within limits), build and seal the envelope
 * and queue it durably, with a SUBMITTED audit record carrying UID.
 * Validation errors return a COMITY_E* code at once (reason in res->err)
 * and cb is not called.  Otherwise returns 0 and cb(arg, rc) runs after
 * the commit; RES must stay valid until then.  With an idempotency key
 * already known, nothing is written and res->id is the existing id.
 */
int	queue_submit(const Comity__SubmitReq *req, uint32_t uid,
	    struct queue_submit_res *res, queue_cb cb, void *arg);

/*
 * Notices: envelopes of kind NOTICE that the daemon itself sends (an
 * escalation, urgent.c), sealed and queued like a request (urgent, type
 * OTHER, no documents) so that they are durable and retried the same way,
 * but queued by the caller inside a transaction of its own, together with
 * what the notice reports.
 *
 * queue_notice_new - seal a notice to TO about request IN_REPLY_TO (16
 * bytes) with SUBJECT and THEIR_REF (the recipient's case reference;
 * borrowed, may be NULL).  A new notice (free with queue_notice_done()),
 * or NULL with the reason in err when TO is not in the directory or
 * sealing fails.
 */
struct queue_notice;
struct store_txn;
struct queue_notice *queue_notice_new(const char *to,
	    const uint8_t in_reply_to[16], const char *subject,
	    const char *their_ref, char *err, size_t errlen);
/* queue_notice_id - N's envelope id (16 bytes, valid while N lives) */
const uint8_t *queue_notice_id(const struct queue_notice *n);
/* queue_notice_apply - queue N in the caller's write transaction: the
 * outbox item, the send queue entry and its SUBMITTED audit record.  May
 * run again after a replay of the transaction. */
int	queue_notice_apply(struct store_txn *, struct queue_notice *n);
/* queue_notice_done - after the commit: RC is 0 when N was applied and
 * committed (log line, the peer woken), anything else when it was not;
 * frees N either way.  NULL is a no-op. */
void	queue_notice_done(struct queue_notice *n, int rc);

/*
 * queue_ack - the local tool retrieved inbox item ID: RECEIVED ->
 * RETRIEVED, and a RETRIEVED receipt is queued back to the sender in the
 * same transaction.  Acking a RETRIEVED item again succeeds and changes
 * nothing.  Returns COMITY_ENOTFOUND at once when there is no such item.
 */
int	queue_ack(const uint8_t id[16], uint32_t uid, queue_cb cb, void *arg);

/*
 * queue_cancel - withdraw outbox item ID that is not delivered yet
 * (QUEUED, or SENT and not in flight on a link now).  COMITY_ESTATE when
 * it is past that point, COMITY_ENOTFOUND when unknown.
 */
int	queue_cancel(const uint8_t id[16], uint32_t uid, queue_cb cb,
	    void *arg);

/*
 * queue_status - the outbox item ID, else the inbox item ID, as an
 * ItemInfo (caller frees with queue_info_free()).  COMITY_ENOTFOUND if
 * neither exists.
 */
int	queue_status(const uint8_t id[16], Comity__ItemInfo **out);
void	queue_info_free(Comity__ItemInfo *);

/*
 * queue_timeline - queue_status, and what the item holds of the
 * counterpart's side: the envelope's creation time and, for an outbox
 * item, the at_ns and issuer audit seq of the receipts it received.
 * Free *tl with free().
 */
int	queue_timeline(const uint8_t id[16], Comity__ItemInfo **info,
	    Comity__TimelineInfo **tl);

/*
 * queue_list - one page of the outbox or inbox in log order, after
 * req->after_seq, filtered by req's urgent/state/since, at most
 * req->limit items (LIST_PAGE_DEFAULT when 0, never more than
 * LIST_PAGE_MAX), looking at LIST_SCAN_MAX log records at most.  Fills
 * items/n_items (free each with queue_info_free() and the array with
 * free()), *more, and *next: the log seq of the last record looked at,
 * where the next page starts (a page may be empty with more to come when
 * the filter matched none of the records looked at).
 */
int	queue_list(const Comity__ListReq *req, Comity__ItemInfo ***items,
	    size_t *n_items, int *more, uint64_t *next);

/*
 * queue_fetch - the opened Request of inbox item ID: decrypted with our
 * key and its signature checked again.  Free with wire_free().  Plaintext
 * lives only in memory.  COMITY_EPERM for an outbox item: it is sealed
 * to the recipient and the sender keeps no readable copy.
 */
int	queue_fetch(const uint8_t id[16], Comity__Request **out);

/*
 * queue_sealed - a copy of item ID's sealed body as it travelled (DER
 * CMS AuthEnvelopedData), inbox or outbox.  Caller frees *buf.
 */
int	queue_sealed(const uint8_t id[16], uint8_t **buf, size_t *len);

/*
 * queue_receipt - a copy of the stored receipt of KIND for item ID
 * (outbox: the one received; inbox: the one we issued).  Caller frees
 * *buf.  COMITY_ENOTFOUND when there is none (yet).
 */
int	queue_receipt(const uint8_t id[16], int kind, uint8_t **buf,
	    size_t *len);

/* ---- peer side (used by peer.c) ---- */

/* What to send next: a packed Frame (with header) ready for the link. */
struct queue_out {
	uint8_t		 id[16];
	uint64_t	 seq;		/* queue position (the cursor) */
	int		 urgent;
	uint8_t		*frame;		/* malloc'd, caller frees */
	size_t		 len;
};

/*
 * queue_next_out - up to MAX items queued for PEER in class URGENT (1) or
 * normal (0) with a queue position after AFTER, in order, and no more
 * once their frames add up to MAX_BYTES (the one that reaches it is
 * included: at least one item when any is queued).  Returns the
 * number filled into OUT (0 when none), or a negative COMITY_E*.  Items
 * past their expiry are passed over (and the expiry timer woken); after
 * EXPIRY_SKIP_MAX of them with nothing to send it returns COMITY_EAGAIN:
 * the expiry commit kicks the peer (peer_kick) when it has removed them.
 */
int	queue_next_out(const char *peer, int urgent, uint64_t after,
	    struct queue_out *out, int max, size_t max_bytes);

/* queue_next_ctl - the same for receipts queued back to PEER. */
int	queue_next_ctl(const char *peer, uint64_t after,
	    struct queue_out *out, int max);

/* queue_mark_sent - record that ID went out on a link (QUEUED -> SENT,
 * sent_at, SENT audit record), in the store's urgent lane if URGENT.
 * Fire and forget. */
void	queue_mark_sent(const char *peer, const uint8_t id[16], int urgent);

/*
 * queue_receipt_in - a receipt frame from PEER: check its signature (by
 * PEER's directory certificate, or by PEER_CERT, the certificate PEER
 * authenticated this link with, so that a counterpart's certificate
 * rotation loses nothing), check it answers
 * an envelope we sent to PEER with that body, and apply it.  The
 * signature is checked on a pool thread (work.h), before every other
 * job when URGENT (the receipt is about an urgent item); cb(arg, rc) runs after
 * the commit, or with rc COMITY_EPROTO and the reason in res->err when
 * the signature or the content is refused (nothing changed; the caller
 * logs and audits it).  *ack_needed is set when the peer awaits a
 * ReceiptAck for it (RETRIEVED receipts).  A stray or mismatched receipt
 * changes nothing, is logged and audited, and its cb has rc 0 with
 * res->err set.  Returns COMITY_EPROTO at once, with res->err, when PEER
 * is not in the directory.
 */
struct queue_receipt_res {
	uint8_t		 id[16];
	int		 kind;
	int		 ack_needed;
	int		 final;		/* DELIVERED or REJECTED applied */
	char		 err[QUEUE_ERR_MAX];
};
int	queue_receipt_in(const char *peer, X509 *peer_cert, const uint8_t *buf,
	    size_t len, int urgent, struct queue_receipt_res *res, queue_cb cb,
	    void *arg);

/*
 * queue_envelope_in - an envelope from PEER: check the clear header
 * against PEER and us, open and check the body (signed by PEER's
 * directory certificate or by PEER_CERT, as for receipts), dedup on
 * (from, id) and commit it.  When cb runs with rc 0, res->frame holds the Receipt frame
 * to send back (DELIVERED, the original one for a duplicate, or REJECTED
 * with a reason).  rc COMITY_ESTOREFULL (or another transient error)
 * means "try later": no receipt.  ENV is borrowed until the call returns.
 */
struct queue_envelope_res {
	uint8_t		 id[16];
	uint8_t		*frame;		/* malloc'd, caller frees */
	size_t		 len;
	int		 kind;		/* receipt kind answered */
	int		 duplicate;
	int		 urgent;
	char		 err[QUEUE_ERR_MAX];
};
int	queue_envelope_in(const char *peer, X509 *peer_cert,
	    const Comity__Envelope *env,
	    struct queue_envelope_res *res, queue_cb cb, void *arg);

/* queue_ctl_ack - PEER stored our receipt for ID: drop it from DB_CTLQ. */
void	queue_ctl_ack(const char *peer, const uint8_t id[16], int kind);

/*
 * queue_peer_stats - counts for `comity peers`: items waiting for PEER
 * (envelopes + receipts), urgent ones, and the submit times of the oldest
 * waiting item of each class (0 if none).
 */
struct queue_stats {
	uint64_t	 queued;
	uint64_t	 queued_urgent;
	int64_t		 oldest_ns;
	int64_t		 oldest_urgent_ns;
	int64_t		 oldest_normal_ns;
};
int	queue_peer_stats(const char *peer, struct queue_stats *st);

/*
 * queue_peer_heads - the newest audit heads exchanged with PEER through
 * receipts: held_* is PEER's (from the newest receipt it issued us),
 * given_* ours (in the newest receipt we issued it); seq 0 = none yet.
 */
struct queue_heads {
	uint64_t	 held_seq;
	uint8_t		 held_head[32];
	int64_t		 held_at_ns;
	uint64_t	 given_seq;
	uint8_t		 given_head[32];
	int64_t		 given_at_ns;
};
int	queue_peer_heads(const char *peer, struct queue_heads *h);

/* queue_pending - anything (envelope or receipt) waits for PEER */
int	queue_pending(const char *peer);

/* queue_audit - append an audit record of its own (link events,
 * refusals); fire and forget.  id: 16 bytes or NULL. */
void	queue_audit(int event, const uint8_t *id, const char *peer,
	    const char *detail);

/*
 * queue_expire_due - one bounded step of the expiry timer (expiry.c), one
 * store operation: of the expiry index entries due now (at most
 * EXPIRY_BATCH), each outbox item still QUEUED or SENT past its
 * expires_at becomes EXPIRED (expired_at, reason, EXPIRED audit record,
 * out of the send queue, all in one transaction); one in flight on a link
 * is looked at again EXPIRY_RECHECK_MS later, since the receiver decides
 * by its own clock and its receipt may be on the way; entries of items
 * that ended otherwise are dropped.  Logs and notifies watchers of each
 * expiry; cb(arg, rc) runs after the commit.
 */
void	queue_expire_due(queue_cb cb, void *arg);

/* queue_expiry_next - when the first expiry index entry falls due (ns
 * since the epoch), 0 when there is none.  Returns 0 or COMITY_E*. */
int	queue_expiry_next(int64_t *at_ns);

/* queue_init - at start: audit genesis, STARTED record (one commit) */
int	queue_init(void);

#endif /* COMITY_QUEUE_H */
