/*
 * queue.c - the life cycle of outbox and inbox items (see queue.h).
 *
 * Each write is a store batch operation: `apply` runs inside the group
 * commit's transaction (and may be replayed once after the map grew, so it
 * resets its outputs and touches nothing outside the transaction), `done`
 * runs after the fsync'd commit.  A refusal that must leave an audit
 * record (stray receipt, conflict, rejected envelope) is not an apply
 * error: apply records it and returns 0, since an error rolls the
 * operation's nested transaction back, audit record included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "audit.h"
#include "bounds.h"
#include "comity.h"
#include "comityd.h"
#include "conf.h"
#include "directory.h"
#include "expiry.h"
#include "hook.h"
#include "log.h"
#include "notify.h"
#include "peer.h"
#include "queue.h"
#include "receipt.h"
#include "seal.h"
#include "store.h"
#include "tls.h"
#include "urgent.h"
#include "wire.h"
#include "work.h"
#include "xmalloc.h"

#define PRIO_URGENT	0	/* DB_OUTQ class byte: urgent sorts first */
#define PRIO_NORMAL	1
#define PRIO_CTL	2	/* receipts queued back (DB_CTLQ), counters only */
#define QKEY_MAX	(ID_MAX + 1 + 1 + 8)
#define INKEY_MAX	(ENVELOPE_ID_LEN + ID_MAX)

/*
 * Records a listing reads between two store_release(): each record read
 * may map a page-cache folio of up to 2 MiB, but records share B-tree
 * pages (a dozen to a page), so 32 touch a handful of folios.  Listing
 * 500 documents of 1 MiB took the sender from 55 to 77 MiB before; it
 * no longer raises its peak.
 */
#define LIST_RELEASE_EVERY	32

/* ------------------------------------------------------------ helpers */

static void
sha256(const uint8_t *buf, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int	n = SHA256_LEN;

	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 failed");
}

static char *
idhex(const uint8_t *id, char buf[33])
{
	wire_id_hex(id, buf);
	return buf;
}

/* DB_OUTQ key: peer \0 class u64be(seq) */
static size_t
outq_key(uint8_t *key, const char *peer, int cls, uint64_t seq)
{
	size_t	n = strlen(peer);

	memcpy(key, peer, n);
	key[n] = '\0';
	key[n + 1] = (uint8_t)cls;
	store_u64be(key + n + 2, seq);
	return n + 2 + 8;
}

/*
 * The number of DB_OUTQ entries per peer and class (and of DB_CTLQ
 * entries per peer), kept in DB_META counters by every put and delete in
 * the same transaction, so that `comity peers` answers at once however
 * long the queue.  QCOUNTED marks a store whose counters are complete.
 */
#define QCOUNTED	"queued counted"

static int
qcount(struct store_txn *t, const char *peer, int cls, int64_t delta)
{
	char	name[ID_MAX + 16];

	snprintf(name, sizeof(name), "queued %c %s", cls == PRIO_URGENT ?
	    'u' : cls == PRIO_NORMAL ? 'n' : 'c', peer);
	return store_add_count(t, name, delta);
}

static int
qcount_get(struct store_txn *t, const char *peer, int cls, uint64_t *n)
{
	char	name[ID_MAX + 16];

	snprintf(name, sizeof(name), "queued %c %s", cls == PRIO_URGENT ?
	    'u' : cls == PRIO_NORMAL ? 'n' : 'c', peer);
	return store_get_count(t, name, n);
}

/* DB_CTLQ key: peer \0 u64be(seq) */
static size_t
ctlq_key(uint8_t *key, const char *peer, uint64_t seq)
{
	size_t	n = strlen(peer);

	memcpy(key, peer, n);
	key[n] = '\0';
	store_u64be(key + n + 1, seq);
	return n + 1 + 8;
}

/* DB_EXPQ key: u64be(at_ns) || id */
#define EXPQ_KEY_LEN	(8 + ENVELOPE_ID_LEN)

static void
expq_key(uint8_t key[EXPQ_KEY_LEN], int64_t at, const uint8_t *id)
{
	store_u64be(key, at > 0 ? (uint64_t)at : 0);
	memcpy(key + 8, id, ENVELOPE_ID_LEN);
}

/* expq_put - have the expiry timer look at item ID at AT */
static int
expq_put(struct store_txn *t, int64_t at, const uint8_t *id)
{
	uint8_t	key[EXPQ_KEY_LEN];

	expq_key(key, at, id);
	return store_put(t, DB_EXPQ, key, sizeof(key), NULL, 0);
}

/* out_past_expiry - IT has an expiry and it has come */
static int
out_past_expiry(const Comity__OutItem *it, int64_t now)
{
	return it->envelope->expires_at_ns != 0 &&
	    now >= it->envelope->expires_at_ns;
}

/* DB_IN key: id || from */
static size_t
in_key(uint8_t *key, const uint8_t *id, const char *from)
{
	size_t	n = strlen(from);

	memcpy(key, id, ENVELOPE_ID_LEN);
	memcpy(key + ENVELOPE_ID_LEN, from, n);
	return ENVELOPE_ID_LEN + n;
}

/* DB_BLOB key: 'o' || id  or  'i' || in key */
static size_t
blob_key(uint8_t *key, char box, const uint8_t *k, size_t klen)
{
	key[0] = (uint8_t)box;
	memcpy(key + 1, k, klen);
	return klen + 1;
}

static int
put_msg(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    const ProtobufCMessage *msg)
{
	uint8_t	*buf;
	size_t	 len;
	int	 rc;

	if ((buf = wire_pack(msg, 0, &len)) == NULL)
		return COMITY_ENOMEM;
	rc = store_put(t, db, key, klen, buf, len);
	free(buf);
	return rc;
}

static Comity__OutItem *
get_out(struct store_txn *t, const uint8_t id[16], int *rc)
{
	const void	*v;
	size_t		 vl;
	Comity__OutItem	*it;

	if ((*rc = store_get(t, DB_OUT, id, ENVELOPE_ID_LEN, &v, &vl)) != 0)
		return NULL;
	it = wire_unpack(&comity__out_item__descriptor, v, vl);
	if (it == NULL || it->envelope == NULL || it->times == NULL ||
	    it->meta == NULL) {
		char	h[33];

		log_warnx("%s outbox record undecodable", idhex(id, h));
		wire_free(it);
		*rc = COMITY_ECORRUPT;
		return NULL;
	}
	return it;
}

/*
 * The inbox item ID from any sender: the first key with that prefix.
 * Fills key/klen.
 */
static Comity__InItem *
get_in(struct store_txn *t, const uint8_t id[16], uint8_t *key, size_t *klen,
    int *rc)
{
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl;
	Comity__InItem		*it = NULL;

	if ((*rc = store_cursor_open(t, DB_IN, &c)) != 0)
		return NULL;
	*rc = store_cursor_seek(c, id, ENVELOPE_ID_LEN, &k, &kl, &v, &vl);
	if (*rc == 0 && (kl <= ENVELOPE_ID_LEN || kl > INKEY_MAX ||
	    memcmp(k, id, ENVELOPE_ID_LEN) != 0))
		*rc = COMITY_ENOTFOUND;
	if (*rc == 0) {
		memcpy(key, k, kl);
		*klen = kl;
		it = wire_unpack(&comity__in_item__descriptor, v, vl);
		if (it == NULL || it->envelope == NULL || it->times == NULL ||
		    it->meta == NULL) {
			log_warnx("inbox record undecodable");
			wire_free(it);
			it = NULL;
			*rc = COMITY_ECORRUPT;
		}
	}
	store_cursor_close(c);
	return it;
}

static Comity__InItem *
get_in_exact(struct store_txn *t, const uint8_t *key, size_t klen, int *rc)
{
	const void	*v;
	size_t		 vl;
	Comity__InItem	*it;

	if ((*rc = store_get(t, DB_IN, key, klen, &v, &vl)) != 0)
		return NULL;
	it = wire_unpack(&comity__in_item__descriptor, v, vl);
	if (it == NULL || it->envelope == NULL || it->times == NULL ||
	    it->meta == NULL) {
		log_warnx("inbox record undecodable");
		wire_free(it);
		*rc = COMITY_ECORRUPT;
		return NULL;
	}
	return it;
}

static void
set_bytes(ProtobufCBinaryData *b, const void *p, size_t len)
{
	free(b->data);
	b->data = len ? xmemdup(p, len) : NULL;
	b->len = len;
}

/*
 * set_str - replace the string *P of a decoded message with at most MAX
 * bytes of V.  An absent string decodes to protobuf-c's static "", which
 * is not freed.
 */
static void
set_str(char **p, const char *v, size_t max)
{
	if (*p != protobuf_c_empty_string)
		free(*p);
	*p = xstrndup(v, max);
}

static char *
dupstr(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

/*
 * The newest audit heads exchanged with each counterpart, in DB_META under
 * "heads_held:<peer>" (theirs, from the newest receipt they issued us) and
 * "heads_given:<peer>" (ours, in the newest receipt we issued them):
 * u64be(seq) || head[32] || u64be(time_ns), written in the transaction of
 * the receipt.
 */
#define HEADS_VAL_LEN	(8 + SHA256_LEN + 8)

static size_t
heads_key(char *buf, size_t len, const char *which, const char *peer)
{
	int	n = snprintf(buf, len, "heads_%s:%s", which, peer);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

static int
heads_get(struct store_txn *t, const char *which, const char *peer,
    uint64_t *seq, uint8_t head[SHA256_LEN], int64_t *at)
{
	char		 key[ID_MAX + 32];
	const void	*v;
	size_t		 kl, vl;
	int		 rc;

	if ((kl = heads_key(key, sizeof(key), which, peer)) == 0)
		return COMITY_EINVAL;
	if ((rc = store_get(t, DB_META, key, kl, &v, &vl)) != 0)
		return rc;
	if (vl != HEADS_VAL_LEN)
		return COMITY_ECORRUPT;
	*seq = store_get_u64be(v);
	memcpy(head, (const uint8_t *)v + 8, SHA256_LEN);
	*at = (int64_t)store_get_u64be((const uint8_t *)v + 8 + SHA256_LEN);
	return 0;
}

/* record SEQ/HEAD as the newest exchanged WHICH way with PEER, unless a
 * later one is already recorded */
static int
heads_put(struct store_txn *t, const char *which, const char *peer,
    uint64_t seq, const uint8_t head[SHA256_LEN], int64_t at)
{
	char		 key[ID_MAX + 32];
	unsigned char	 val[HEADS_VAL_LEN];
	uint8_t		 oh[SHA256_LEN];
	uint64_t	 os;
	int64_t		 oat;
	size_t		 kl;

	if ((kl = heads_key(key, sizeof(key), which, peer)) == 0)
		return 0;
	if (heads_get(t, which, peer, &os, oh, &oat) == 0 && os > seq)
		return 0;
	store_u64be(val, seq);
	memcpy(val + 8, head, SHA256_LEN);
	store_u64be(val + 8 + SHA256_LEN, (uint64_t)at);
	return store_put(t, DB_META, key, kl, val, sizeof(val));
}

int
queue_peer_heads(const char *peer, struct queue_heads *h)
{
	struct store_txn	*t;
	int			 rc;

	memset(h, 0, sizeof(*h));
	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	if (heads_get(t, "held", peer, &h->held_seq, h->held_head,
	    &h->held_at_ns) != 0)
		h->held_seq = 0;
	if (heads_get(t, "given", peer, &h->given_seq, h->given_head,
	    &h->given_at_ns) != 0)
		h->given_seq = 0;
	store_read_end(t);
	return 0;
}

/*
 * Issue a receipt of KIND about envelope ENV (with body hash SHA) in the
 * caller's transaction, after the audit record it reports on, so that it
 * carries our audit head.
 */
static uint8_t *
issue_receipt(struct store_txn *t, int kind, const Comity__Envelope *env,
    const uint8_t sha[SHA256_LEN], const char *reason, size_t *len, int *rc)
{
	Comity__ReceiptContent	rc_msg = COMITY__RECEIPT_CONTENT__INIT;
	unsigned char		head[SHA256_LEN];
	uint64_t		seq;
	uint8_t			*buf;

	if ((*rc = audit_head(t, &seq, head)) != 0)
		return NULL;
	rc_msg.kind = kind;
	rc_msg.envelope_id.data = env->id.data;
	rc_msg.envelope_id.len = env->id.len;
	rc_msg.from = env->from;
	rc_msg.to = (char *)cd->self;
	rc_msg.envelope_body_sha256.data = (uint8_t *)sha;
	rc_msg.envelope_body_sha256.len = SHA256_LEN;
	rc_msg.at_ns = now_ns();
	rc_msg.reason = (char *)(reason != NULL ? reason : "");
	rc_msg.issuer_audit_head.data = head;
	rc_msg.issuer_audit_head.len = SHA256_LEN;
	rc_msg.issuer_audit_seq = seq;
	if ((buf = receipt_issue(&rc_msg, len)) == NULL)
		*rc = COMITY_ECRYPTO;
	else if ((*rc = heads_put(t, "given", env->from, seq, head,
	    rc_msg.at_ns)) != 0) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

static uint8_t *
receipt_frame(const uint8_t *receipt, size_t rlen, size_t *len)
{
	Comity__Frame	f = COMITY__FRAME__INIT;
	Comity__Receipt	r = COMITY__RECEIPT__INIT;

	r.signed_.data = (uint8_t *)receipt;
	r.signed_.len = rlen;
	f.msg_case = COMITY__FRAME__MSG_RECEIPT;
	f.receipt = &r;
	return wire_pack(&f.base, 1, len);
}

/* ------------------------------------------------------------ submit */

struct submit_op {
	Comity__OutItem		*item;		/* envelope without body */
	uint8_t			*body;
	size_t			 blen;
	char			*idem;		/* NULL = none */
	uint32_t		 uid;
	struct queue_submit_res	*res;
	queue_cb		 cb;
	void			*arg;
	struct queue_submit_res	 own;		/* res of a notice */
	/* until sealed: */
	uint8_t			*plain;		/* the encoded Request */
	size_t			 plen;
	struct tls_ctx		*tls;		/* a reference */
	X509			*rcpt;		/* a reference */
	char			 err[QUEUE_ERR_MAX];
};

static void
submit_op_free(struct submit_op *op)
{
	wire_free(op->item);
	free(op->body);
	free(op->idem);
	if (op->plain != NULL) {
		OPENSSL_cleanse(op->plain, op->plen);
		free(op->plain);
	}
	X509_free(op->rcpt);
	if (op->tls != NULL)
		tls_ctx_unref(op->tls);
	free(op);
}

/*
 * submit_seal - seal OP's Request to its recipient and name the result in
 * the item (size, hash).  Runs on a pool thread (or inline, for notices):
 * it touches only OP; the reason of a failure goes to op->err.
 */
static void
submit_seal(void *arg)
{
	struct submit_op	*op = arg;
	Comity__OutItem		*it = op->item;

	op->body = seal_request(&op->tls->seal, op->rcpt, op->plain, op->plen,
	    &op->blen, op->err, sizeof(op->err));
	OPENSSL_cleanse(op->plain, op->plen);
	free(op->plain);
	op->plain = NULL;
	if (op->body == NULL)
		return;
	it->meta->body_size = op->blen;
	it->body_sha256.data = xmalloc(SHA256_LEN);
	it->body_sha256.len = SHA256_LEN;
	sha256(op->body, op->blen, it->body_sha256.data);
}

/* sealed - back on the loop: drop the references; 0 if OP was sealed */
static int
sealed(struct submit_op *op)
{
	X509_free(op->rcpt);
	op->rcpt = NULL;
	tls_ctx_unref(op->tls);
	op->tls = NULL;
	if (op->body != NULL)
		return 0;
	log_warnx("submit to %s: %s", op->item->envelope->to, op->err);
	return COMITY_ECRYPTO;
}

static int
submit_apply(struct store_txn *t, void *arg)
{
	struct submit_op	*op = arg;
	Comity__OutItem		*it = op->item;
	Comity__Envelope	*env = it->envelope;
	const void		*v;
	size_t			 vl, kl;
	uint8_t			 key[QKEY_MAX], bkey[1 + ENVELOPE_ID_LEN];
	uint8_t			 lkey[8];
	char			 detail[256];
	int			 rc;

	op->res->existed = 0;
	if (op->idem != NULL) {
		rc = store_get(t, DB_IDEM, op->idem, strlen(op->idem), &v, &vl);
		if (rc == 0 && vl == ENVELOPE_ID_LEN) {
			memcpy(op->res->id, v, ENVELOPE_ID_LEN);
			op->res->existed = 1;
			return 0;
		}
		if (rc != 0 && rc != COMITY_ENOTFOUND)
			return rc;
	}
	if ((rc = store_next_seq(t, "outq", &it->queue_seq)) != 0 ||
	    (rc = store_next_seq(t, "outlog", &it->log_seq)) != 0)
		return rc;
	it->state = COMITY__STATE__STATE_QUEUED;
	it->times->submitted_at = now_ns();
	kl = outq_key(key, env->to,
	    env->priority == COMITY__PRIORITY__PRIORITY_URGENT ?
	    PRIO_URGENT : PRIO_NORMAL, it->queue_seq);
	store_u64be(lkey, it->log_seq);
	if ((rc = put_msg(t, DB_OUT, env->id.data, ENVELOPE_ID_LEN,
	    &it->base)) != 0 ||
	    (rc = store_put(t, DB_BLOB, bkey, blob_key(bkey, 'o', env->id.data,
	    ENVELOPE_ID_LEN), op->body, op->blen)) != 0 ||
	    (rc = store_put(t, DB_OUTLOG, lkey, 8, env->id.data,
	    ENVELOPE_ID_LEN)) != 0 ||
	    (rc = store_put(t, DB_OUTQ, key, kl, env->id.data,
	    ENVELOPE_ID_LEN)) != 0 ||
	    (rc = qcount(t, env->to, env->priority ==
	    COMITY__PRIORITY__PRIORITY_URGENT ? PRIO_URGENT : PRIO_NORMAL,
	    1)) != 0)
		return rc;
	if (op->idem != NULL && (rc = store_put(t, DB_IDEM, op->idem,
	    strlen(op->idem), env->id.data, ENVELOPE_ID_LEN)) != 0)
		return rc;
	if (env->expires_at_ns != 0 &&
	    (rc = expq_put(t, env->expires_at_ns, env->id.data)) != 0)
		return rc;
	snprintf(detail, sizeof(detail),
	    "to=%s type=%s priority=%s size=%zu documents=%u%s", env->to,
	    type_name(it->meta->type),
	    env->priority == COMITY__PRIORITY__PRIORITY_URGENT ? "urgent" :
	    "normal", op->blen, it->meta->documents,
	    env->kind == COMITY__ENVELOPE_KIND__KIND_NOTICE ? " kind=notice" :
	    "");
	memcpy(op->res->id, env->id.data, ENVELOPE_ID_LEN);
	return audit_append(t, AUDIT_SUBMITTED, env->id.data, env->to, op->uid,
	    detail, it->times->submitted_at);
}

static void
submit_done(void *arg, int rc)
{
	struct submit_op	*op = arg;
	Comity__Envelope	*env = op->item->envelope;
	char			 h[33];

	if (rc == 0 && !op->res->existed) {
		log_info("%s submitted to=%s size=%zu%s", idhex(env->id.data, h),
		    env->to, op->blen, env->priority ==
		    COMITY__PRIORITY__PRIORITY_URGENT ? " urgent" : "");
		peer_kick(env->to,
		    env->priority == COMITY__PRIORITY__PRIORITY_URGENT);
		if (env->expires_at_ns != 0)
			expiry_note(env->expires_at_ns);
		if (env->priority == COMITY__PRIORITY__PRIORITY_URGENT)
			urgent_note_submitted(op->item->times->submitted_at);
	} else if (rc != 0) {
		snprintf(op->res->err, sizeof(op->res->err), "%s",
		    rc == COMITY_ESTOREFULL ? "store full" :
		    "could not store the request");
	}
	op->cb(op->arg, rc);
	submit_op_free(op);
}

static int
text_ok(const char *s, size_t max)
{
	return s == NULL || strlen(s) <= max;
}

static int
doc_name_ok(const char *n)
{
	size_t	len = strlen(n);

	return len > 0 && len <= DOC_NAME_MAX && strchr(n, '/') == NULL &&
	    strcmp(n, ".") != 0 && strcmp(n, "..") != 0;
}

static int
submit_check(const Comity__SubmitReq *req, int kind, char *err,
    size_t errlen)
{
	const struct dir_entry	*e;
	size_t			 i, total = 0;

	if (req->to == NULL || !wire_id_valid(req->to)) {
		snprintf(err, errlen, "invalid destination authority id");
		return COMITY_EINVAL;
	}
	if (strcmp(req->to, cd->self) == 0) {
		snprintf(err, errlen, "cannot send to ourselves");
		return COMITY_EINVAL;
	}
	if ((e = directory_find(cd->dir, req->to)) == NULL) {
		snprintf(err, errlen, "%s is not in the directory", req->to);
		return COMITY_EUNKNOWNPEER;
	}
	if (req->type <= COMITY__REQUEST_TYPE__TYPE_UNSPECIFIED ||
	    req->type > COMITY__REQUEST_TYPE__TYPE_OTHER) {
		snprintf(err, errlen, "invalid request type");
		return COMITY_ETYPE;
	}
	/* a notice is no request: what the counterpart accepts is moot */
	if (kind == COMITY__ENVELOPE_KIND__KIND_REQUEST && e->accepts != 0 &&
	    (e->accepts & (1u << req->type)) == 0) {
		snprintf(err, errlen, "%s does not accept %s requests", req->to,
		    type_name(req->type));
		return COMITY_ETYPE;
	}
	if (req->priority != COMITY__PRIORITY__PRIORITY_NORMAL &&
	    req->priority != COMITY__PRIORITY__PRIORITY_URGENT) {
		snprintf(err, errlen, "invalid priority");
		return COMITY_EINVAL;
	}
	if (!text_ok(req->case_ref, TEXT_FIELD_MAX) ||
	    !text_ok(req->legal_basis, TEXT_FIELD_MAX) ||
	    !text_ok(req->language, TEXT_FIELD_MAX) ||
	    !text_ok(req->subject, TEXT_FIELD_MAX) ||
	    !text_ok(req->their_ref, TEXT_FIELD_MAX)) {
		snprintf(err, errlen, "a text field is longer than %d bytes",
		    TEXT_FIELD_MAX);
		return COMITY_EINVAL;
	}
	if (req->in_reply_to.len != 0 &&
	    req->in_reply_to.len != ENVELOPE_ID_LEN) {
		snprintf(err, errlen, "in-reply-to is not a request id");
		return COMITY_EINVAL;
	}
	if (req->idempotency_key != NULL &&
	    strlen(req->idempotency_key) > IDEM_KEY_MAX) {
		snprintf(err, errlen, "idempotency key longer than %d bytes",
		    IDEM_KEY_MAX);
		return COMITY_EINVAL;
	}
	if (req->expires_at_ns != 0 && req->expires_at_ns <= now_ns()) {
		snprintf(err, errlen, "expiry time is in the past");
		return COMITY_EEXPIRED;
	}
	if (req->n_documents > DOCS_MAX) {
		snprintf(err, errlen, "more than %d documents", DOCS_MAX);
		return COMITY_ETOOBIG;
	}
	for (i = 0; i < req->n_documents; i++) {
		const Comity__Document *d = req->documents[i];

		if (d->name == NULL || !doc_name_ok(d->name) ||
		    !text_ok(d->media_type, MEDIA_TYPE_MAX)) {
			snprintf(err, errlen, "document %zu: invalid name or "
			    "media type", i + 1);
			return COMITY_EINVAL;
		}
		total += d->content.len;
	}
	/* the sealed envelope must fit a frame, with room for the header */
	if (total > cd->conf->max_frame - (64u << 10)) {
		snprintf(err, errlen, "documents too large: %zu bytes, at most "
		    "%llu", total,
		    (unsigned long long)(cd->conf->max_frame - (64u << 10)));
		return COMITY_ETOOBIG;
	}
	return 0;
}

/*
 * submit_build - check REQ, build the outbox item of KIND and its encoded
 * Request, to seal with submit_seal(): a new operation for submit_apply,
 * owning its copies, or NULL with a COMITY_E* code in *rc and the reason
 * in res->err.
 */
static struct submit_op *
submit_build(const Comity__SubmitReq *req, int kind, uint32_t uid,
    struct queue_submit_res *res, int *rc)
{
	Comity__Request		 rq = COMITY__REQUEST__INIT;
	Comity__OutItem		*it;
	Comity__Envelope	*env;
	const struct dir_entry	*rcpt;
	struct submit_op	*op;
	uint8_t			 id[ENVELOPE_ID_LEN];

	memset(res, 0, sizeof(*res));
	if ((*rc = submit_check(req, kind, res->err, sizeof(res->err))) != 0)
		return NULL;
	if (RAND_bytes(id, sizeof(id)) != 1) {
		snprintf(res->err, sizeof(res->err), "no randomness");
		*rc = COMITY_ECRYPTO;
		return NULL;
	}

	it = xmalloc(sizeof(*it));
	comity__out_item__init(it);
	it->version = 1;
	it->envelope = env = xmalloc(sizeof(*env));
	comity__envelope__init(env);
	it->times = xmalloc(sizeof(*it->times));
	comity__times__init(it->times);
	it->meta = xmalloc(sizeof(*it->meta));
	comity__item_meta__init(it->meta);
	it->reason = dupstr(NULL);
	set_bytes(&env->id, id, sizeof(id));
	env->from = dupstr(cd->self);
	env->to = dupstr(req->to);
	env->kind = kind;
	env->priority = req->priority;
	env->created_at_ns = now_ns();
	env->expires_at_ns = req->expires_at_ns;
	it->meta->type = req->type;
	it->meta->case_ref = dupstr(req->case_ref);
	it->meta->documents = (uint32_t)req->n_documents;
	it->meta->idempotency_key = dupstr(req->idempotency_key);
	it->meta->submitter_uid = uid;
	set_bytes(&it->meta->in_reply_to, req->in_reply_to.data,
	    req->in_reply_to.len);

	rq.id = env->id;
	rq.from = env->from;
	rq.to = env->to;
	rq.kind = env->kind;
	rq.priority = env->priority;
	rq.type = req->type;
	rq.legal_basis = req->legal_basis;
	rq.case_ref = req->case_ref;
	rq.their_ref = req->their_ref;
	rq.in_reply_to = req->in_reply_to;
	rq.language = req->language;
	rq.subject = req->subject;
	rq.created_at_ns = env->created_at_ns;
	rq.expires_at_ns = env->expires_at_ns;
	rq.n_documents = req->n_documents;
	rq.documents = req->documents;

	op = xcalloc(1, sizeof(*op));
	op->item = it;
	if ((op->plain = wire_pack(&rq.base, 0, &op->plen)) == NULL)
		fatalx("out of memory");
	/* submit_check found the recipient in this same directory */
	rcpt = directory_find(cd->dir, req->to);
	if (X509_up_ref(rcpt->cert) != 1)
		fatalx("X509_up_ref");
	op->rcpt = rcpt->cert;
	op->tls = cd->tls;
	tls_ctx_ref(op->tls);
	if (req->idempotency_key != NULL && req->idempotency_key[0] != '\0')
		op->idem = xstrdup(req->idempotency_key);
	op->uid = uid;
	op->res = res;
	return op;
}

/* seal_done - on the loop, after submit_seal on a pool thread */
static void
seal_done(void *arg)
{
	struct submit_op	*op = arg;
	int			 rc;

	if ((rc = sealed(op)) != 0) {
		snprintf(op->res->err, sizeof(op->res->err), "%s", op->err);
		op->cb(op->arg, rc);
		submit_op_free(op);
		return;
	}
	if (op->item->envelope->priority == COMITY__PRIORITY__PRIORITY_URGENT)
		store_batch_add_urgent(cd->store, submit_apply, submit_done,
		    op);
	else
		store_batch_add(cd->store, submit_apply, submit_done, op);
}

int
queue_submit(const Comity__SubmitReq *req, uint32_t uid,
    struct queue_submit_res *res, queue_cb cb, void *arg)
{
	struct submit_op	*op;
	int			 rc;

	op = submit_build(req, COMITY__ENVELOPE_KIND__KIND_REQUEST, uid, res,
	    &rc);
	if (op == NULL)
		return rc;
	op->cb = cb;
	op->arg = arg;
	work_submit(submit_seal, seal_done, op,
	    req->priority == COMITY__PRIORITY__PRIORITY_URGENT, op->plen);
	return 0;
}

/* ------------------------------------------------------------ notices */

struct queue_notice {
	struct submit_op	*op;
};

struct queue_notice *
queue_notice_new(const char *to, const uint8_t in_reply_to[16],
    const char *subject, const char *their_ref, char *err, size_t errlen)
{
	Comity__SubmitReq	 req = COMITY__SUBMIT_REQ__INIT;
	struct queue_submit_res	 res;
	struct queue_notice	*n;
	struct submit_op	*op;
	int			 rc;

	req.to = (char *)to;
	req.type = COMITY__REQUEST_TYPE__TYPE_OTHER;
	req.priority = COMITY__PRIORITY__PRIORITY_URGENT;
	req.subject = (char *)subject;
	req.their_ref = (char *)their_ref;
	req.in_reply_to.data = (uint8_t *)in_reply_to;
	req.in_reply_to.len = ENVELOPE_ID_LEN;
	op = submit_build(&req, COMITY__ENVELOPE_KIND__KIND_NOTICE,
	    AUDIT_NO_UID, &res, &rc);
	if (op == NULL) {
		snprintf(err, errlen, "%s", res.err);
		return NULL;
	}
	submit_seal(op);	/* rare: not worth a trip to the pool */
	if (sealed(op) != 0) {
		snprintf(err, errlen, "%s", op->err);
		submit_op_free(op);
		return NULL;
	}
	op->res = &op->own;
	n = xmalloc(sizeof(*n));
	n->op = op;
	return n;
}

const uint8_t *
queue_notice_id(const struct queue_notice *n)
{
	return n->op->item->envelope->id.data;
}

int
queue_notice_apply(struct store_txn *t, struct queue_notice *n)
{
	return submit_apply(t, n->op);
}

void
queue_notice_done(struct queue_notice *n, int rc)
{
	Comity__Envelope	*env;
	char			 h[33], r[33];

	if (n == NULL)
		return;
	env = n->op->item->envelope;
	if (rc == 0) {
		wire_id_hex(n->op->item->meta->in_reply_to.data, r);
		log_info("%s notice queued to=%s in_reply_to=%s",
		    idhex(env->id.data, h), env->to, r);
		peer_kick(env->to, 1);
	}
	submit_op_free(n->op);
	free(n);
}

/* ------------------------------------------------------------ ack */

struct id_op {
	uint8_t		 id[ENVELOPE_ID_LEN];
	uint32_t	 uid;
	char		 peer[ID_MAX + 1];
	int		 kind;
	int		 changed;
	queue_cb	 cb;
	void		*arg;
};

static int
ack_apply(struct store_txn *t, void *arg)
{
	struct id_op		*op = arg;
	Comity__InItem		*it;
	Comity__CtlItem		 ctl = COMITY__CTL_ITEM__INIT;
	uint8_t			 key[INKEY_MAX], ckey[QKEY_MAX];
	uint8_t			*rcpt = NULL;
	size_t			 klen, rlen;
	int64_t			 now = now_ns();
	int			 rc;

	op->changed = 0;
	if ((it = get_in(t, op->id, key, &klen, &rc)) == NULL)
		return rc;
	snprintf(op->peer, sizeof(op->peer), "%s", it->envelope->from);
	if (it->state != COMITY__STATE__STATE_RECEIVED)
		goto out;	/* acked before: nothing to do */
	it->state = COMITY__STATE__STATE_RETRIEVED;
	it->times->retrieved_at = now;
	if ((rc = audit_append(t, AUDIT_RETRIEVED, op->id, op->peer, op->uid,
	    "retrieved by a local tool", now)) != 0)
		goto out;
	rcpt = issue_receipt(t, COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED,
	    it->envelope, it->body_sha256.data, NULL, &rlen, &rc);
	if (rcpt == NULL)
		goto out;
	set_bytes(&it->retrieved_receipt, rcpt, rlen);
	if ((rc = store_next_seq(t, "ctlq", &it->ctl_seq)) != 0)
		goto out;
	ctl.version = 1;
	ctl.peer = op->peer;
	ctl.envelope_id.data = op->id;
	ctl.envelope_id.len = ENVELOPE_ID_LEN;
	ctl.kind = COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED;
	ctl.receipt.data = rcpt;
	ctl.receipt.len = rlen;
	ctl.queued_at = now;
	if ((rc = put_msg(t, DB_CTLQ, ckey, ctlq_key(ckey, op->peer,
	    it->ctl_seq), &ctl.base)) != 0 ||
	    (rc = qcount(t, op->peer, PRIO_CTL, 1)) != 0)
		goto out;
	rc = put_msg(t, DB_IN, key, klen, &it->base);
	op->changed = 1;
out:
	free(rcpt);
	wire_free(it);
	return rc;
}

static void
id_op_done(void *arg, int rc)
{
	struct id_op	*op = arg;
	char		 h[33];

	if (rc == 0 && op->changed) {
		log_info("%s %s peer=%s", idhex(op->id, h),
		    op->kind == COMITY__STATE__STATE_RETRIEVED ? "retrieved" :
		    "cancelled", op->peer);
		if (op->kind == COMITY__STATE__STATE_RETRIEVED)
			peer_kick(op->peer, 0);
		notify_id(COMITY__WATCH_KIND__WATCH_STATE, op->id, op->kind ==
		    COMITY__STATE__STATE_RETRIEVED ? "retrieved" : "cancelled",
		    NULL);
	}
	if (op->cb != NULL)
		op->cb(op->arg, rc);
	free(op);
}

int
queue_ack(const uint8_t id[16], uint32_t uid, queue_cb cb, void *arg)
{
	struct store_txn	*t;
	struct id_op		*op;
	Comity__InItem		*it;
	uint8_t			 key[INKEY_MAX];
	size_t			 klen;
	int			 rc;

	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	it = get_in(t, id, key, &klen, &rc);
	store_read_end(t);
	if (it == NULL)
		return rc;
	wire_free(it);
	op = xcalloc(1, sizeof(*op));
	memcpy(op->id, id, ENVELOPE_ID_LEN);
	op->uid = uid;
	op->kind = COMITY__STATE__STATE_RETRIEVED;
	op->cb = cb;
	op->arg = arg;
	store_batch_add(cd->store, ack_apply, id_op_done, op);
	return 0;
}

/* ------------------------------------------------------------ cancel */

static int
cancellable(const Comity__OutItem *it)
{
	return (it->state == COMITY__STATE__STATE_QUEUED ||
	    it->state == COMITY__STATE__STATE_SENT) &&
	    !peer_is_sending(it->envelope->to, it->envelope->id.data);
}

static int
outq_del(struct store_txn *t, const Comity__OutItem *it)
{
	uint8_t	key[QKEY_MAX];
	int	rc, cls;

	cls = it->envelope->priority == COMITY__PRIORITY__PRIORITY_URGENT ?
	    PRIO_URGENT : PRIO_NORMAL;
	rc = store_del(t, DB_OUTQ, key, outq_key(key, it->envelope->to, cls,
	    it->queue_seq));
	if (rc == 0)
		rc = qcount(t, it->envelope->to, cls, -1);
	return rc == COMITY_ENOTFOUND ? 0 : rc;
}

static int
cancel_apply(struct store_txn *t, void *arg)
{
	struct id_op	*op = arg;
	Comity__OutItem	*it;
	int64_t		 now = now_ns();
	int		 rc;

	op->changed = 0;
	if ((it = get_out(t, op->id, &rc)) == NULL)
		return rc;
	snprintf(op->peer, sizeof(op->peer), "%s", it->envelope->to);
	if (!cancellable(it)) {
		wire_free(it);
		return COMITY_ESTATE;
	}
	it->state = COMITY__STATE__STATE_CANCELLED;
	it->times->cancelled_at = now;
	if ((rc = outq_del(t, it)) == 0 &&
	    (rc = put_msg(t, DB_OUT, op->id, ENVELOPE_ID_LEN, &it->base)) == 0)
		rc = audit_append(t, AUDIT_CANCELLED, op->id, op->peer, op->uid,
		    "withdrawn before delivery", now);
	op->changed = rc == 0;
	wire_free(it);
	return rc;
}

int
queue_cancel(const uint8_t id[16], uint32_t uid, queue_cb cb, void *arg)
{
	struct store_txn	*t;
	struct id_op		*op;
	Comity__OutItem		*it;
	int			 rc, ok;

	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	it = get_out(t, id, &rc);
	store_read_end(t);
	if (it == NULL)
		return rc;
	ok = cancellable(it);
	wire_free(it);
	if (!ok)
		return COMITY_ESTATE;
	op = xcalloc(1, sizeof(*op));
	memcpy(op->id, id, ENVELOPE_ID_LEN);
	op->uid = uid;
	op->kind = COMITY__STATE__STATE_CANCELLED;
	op->cb = cb;
	op->arg = arg;
	store_batch_add(cd->store, cancel_apply, id_op_done, op);
	return 0;
}

/* ------------------------------------------------------------ reads */

static Comity__Times *
times_copy(const Comity__Times *src)
{
	Comity__Times	*t = xmalloc(sizeof(*t));

	comity__times__init(t);
	if (src != NULL) {
		t->submitted_at = src->submitted_at;
		t->sent_at = src->sent_at;
		t->delivered_at = src->delivered_at;
		t->retrieved_at = src->retrieved_at;
		t->rejected_at = src->rejected_at;
		t->expired_at = src->expired_at;
		t->cancelled_at = src->cancelled_at;
		t->received_at = src->received_at;
		t->warned_at = src->warned_at;
		t->escalated_at = src->escalated_at;
	}
	return t;
}

static Comity__ItemInfo *
info_new(Comity__Box box, const Comity__Envelope *env, int state,
    const Comity__Times *times, const Comity__ItemMeta *meta,
    const char *reason, uint64_t seq, int has_d, int has_r)
{
	Comity__ItemInfo	*i = xmalloc(sizeof(*i));

	comity__item_info__init(i);
	set_bytes(&i->id, env->id.data, env->id.len);
	i->box = box;
	i->state = state;
	i->from = dupstr(env->from);
	i->to = dupstr(env->to);
	i->priority = env->priority;
	i->type = meta->type;
	i->case_ref = dupstr(meta->case_ref);
	i->times = times_copy(times);
	i->expires_at_ns = env->expires_at_ns;
	i->reason = dupstr(reason);
	i->has_delivered_receipt = has_d;
	i->has_retrieved_receipt = has_r;
	i->seq = seq;
	i->body_size = meta->body_size;
	i->documents = meta->documents;
	i->kind = env->kind;
	set_bytes(&i->in_reply_to, meta->in_reply_to.data,
	    meta->in_reply_to.len);
	return i;
}

static Comity__ItemInfo *
out_info(const Comity__OutItem *it)
{
	return info_new(COMITY__BOX__BOX_OUT, it->envelope, it->state,
	    it->times, it->meta, it->reason, it->log_seq,
	    it->delivered_receipt.len > 0, it->retrieved_receipt.len > 0);
}

static Comity__ItemInfo *
in_info(const Comity__InItem *it)
{
	return info_new(COMITY__BOX__BOX_IN, it->envelope, it->state,
	    it->times, it->meta, NULL, it->log_seq,
	    it->delivered_receipt.len > 0, it->retrieved_receipt.len > 0);
}

void
queue_info_free(Comity__ItemInfo *i)
{
	wire_free(i);
}

int
queue_status(const uint8_t id[16], Comity__ItemInfo **out)
{
	struct store_txn	*t;
	Comity__OutItem		*o;
	Comity__InItem		*in;
	uint8_t			 key[INKEY_MAX];
	size_t			 klen;
	int			 rc;

	*out = NULL;
	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	if ((o = get_out(t, id, &rc)) != NULL) {
		*out = out_info(o);
		wire_free(o);
	} else if (rc == COMITY_ENOTFOUND &&
	    (in = get_in(t, id, key, &klen, &rc)) != NULL) {
		*out = in_info(in);
		wire_free(in);
	}
	store_read_end(t);
	return *out != NULL ? 0 : rc;
}

static int
list_match(const Comity__ListReq *req, const Comity__ItemInfo *i)
{
	int64_t	at = req->box == COMITY__BOX__BOX_OUT ?
	    i->times->submitted_at : i->times->received_at;

	if (req->urgent_only && i->priority != COMITY__PRIORITY__PRIORITY_URGENT)
		return 0;
	if (req->state != COMITY__STATE__STATE_UNSPECIFIED &&
	    (int)i->state != (int)req->state)
		return 0;
	return req->since_ns == 0 || at >= req->since_ns;
}

int
queue_list(const Comity__ListReq *req, Comity__ItemInfo ***items,
    size_t *n_items, int *more, uint64_t *next)
{
	struct store_txn	*t;
	struct store_cursor	*c;
	const void		*k, *v, *iv;
	size_t			 kl, vl, ivl, n = 0, limit, nread = 0;
	uint8_t			 start[8];
	Comity__ItemInfo	**arr, *info;
	int			 rc, out = req->box == COMITY__BOX__BOX_OUT;

	limit = req->limit == 0 ? LIST_PAGE_DEFAULT : req->limit;
	if (limit > LIST_PAGE_MAX)
		limit = LIST_PAGE_MAX;
	*items = NULL;
	*n_items = 0;
	*more = 0;
	*next = req->after_seq;
	if (req->after_seq == UINT64_MAX)
		return 0;
	arr = xcalloc(limit, sizeof(*arr));
	if ((rc = store_read_begin(cd->store, &t)) != 0) {
		free(arr);
		return rc;
	}
	if ((rc = store_cursor_open(t, out ? DB_OUTLOG : DB_INLOG, &c)) != 0)
		goto done;
	store_u64be(start, req->after_seq + 1);
	for (rc = store_cursor_seek(c, start, 8, &k, &kl, &v, &vl); rc == 0;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		/* every bound leaves the record at the cursor for the next
		 * page: a full page, or LIST_SCAN_MAX records looked at (a
		 * filter that matches little still answers within a few ms,
		 * and the client goes on after *next) */
		if (n == limit || nread == LIST_SCAN_MAX) {
			*more = 1;
			break;
		}
		if (++nread % LIST_RELEASE_EVERY == 0)
			store_release(cd->store);
		if (kl != 8)
			continue;	/* not a log key */
		*next = store_get_u64be(k);
		info = NULL;
		if (out) {
			Comity__OutItem *o = NULL;

			if (vl == ENVELOPE_ID_LEN && store_get(t, DB_OUT, v,
			    vl, &iv, &ivl) == 0)
				o = wire_unpack(&comity__out_item__descriptor,
				    iv, ivl);
			if (o != NULL && o->envelope && o->times && o->meta)
				info = out_info(o);
			wire_free(o);
		} else {
			Comity__InItem *in = NULL;

			if (vl > ENVELOPE_ID_LEN && vl <= INKEY_MAX &&
			    store_get(t, DB_IN, v, vl, &iv, &ivl) == 0)
				in = wire_unpack(&comity__in_item__descriptor,
				    iv, ivl);
			if (in != NULL && in->envelope && in->times && in->meta)
				info = in_info(in);
			wire_free(in);
		}
		if (info == NULL) {
			log_warnx("%s log entry %llu has no readable item",
			    out ? "outbox" : "inbox", (unsigned long long)
			    *next);
			continue;
		}
		if (!list_match(req, info)) {
			queue_info_free(info);
			continue;
		}
		arr[n++] = info;
	}
	store_cursor_close(c);
	if (rc == COMITY_ENOTFOUND)
		rc = 0;
done:
	store_read_end(t);
	if (rc != 0) {
		while (n > 0)
			queue_info_free(arr[--n]);
		free(arr);
		return rc;
	}
	*items = arr;
	*n_items = n;
	return 0;
}

/*
 * The body of item ID (inbox first, then outbox), copied out of the store.
 */
static int
get_body(const uint8_t id[16], uint8_t **body, size_t *blen, int *inbox)
{
	struct store_txn	*t;
	Comity__InItem		*in;
	const void		*v;
	size_t			 vl, klen;
	uint8_t			 key[INKEY_MAX], bkey[1 + INKEY_MAX];
	int			 rc;

	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	*inbox = 0;
	if ((in = get_in(t, id, key, &klen, &rc)) != NULL) {
		*inbox = 1;
		wire_free(in);
		rc = store_get(t, DB_BLOB, bkey, blob_key(bkey, 'i', key, klen),
		    &v, &vl);
	} else if (rc == COMITY_ENOTFOUND)
		rc = store_get(t, DB_BLOB, bkey, blob_key(bkey, 'o', id,
		    ENVELOPE_ID_LEN), &v, &vl);
	if (rc == 0) {
		*body = xmemdup(v, vl);
		*blen = vl;
		store_forget(cd->store, v, vl);
	}
	store_read_end(t);
	return rc;
}

int
queue_fetch(const uint8_t id[16], Comity__Request **out)
{
	uint8_t	*body, *plain;
	size_t	 blen, plen;
	char	 err[256], h[33];
	int	 rc, inbox;

	*out = NULL;
	if ((rc = get_body(id, &body, &blen, &inbox)) != 0)
		return rc;
	if (!inbox) {
		/* sealed to the recipient: we keep no readable copy */
		free(body);
		return COMITY_EPERM;
	}
	/* the signer was checked on arrival; the signature is checked again */
	plain = seal_open(&cd->tls->seal, NULL, body, blen, &plen, err,
	    sizeof(err));
	free(body);
	if (plain == NULL) {
		log_warnx("%s fetch: %s", idhex(id, h), err);
		return COMITY_ECRYPTO;
	}
	*out = wire_unpack(&comity__request__descriptor, plain, plen);
	OPENSSL_cleanse(plain, plen);
	free(plain);
	return *out != NULL ? 0 : COMITY_ECORRUPT;
}

int
queue_sealed(const uint8_t id[16], uint8_t **buf, size_t *len)
{
	int	inbox;

	return get_body(id, buf, len, &inbox);
}

int
queue_receipt(const uint8_t id[16], int kind, uint8_t **buf, size_t *len)
{
	struct store_txn	*t;
	Comity__OutItem		*o;
	Comity__InItem		*in = NULL;
	const ProtobufCBinaryData *r = NULL;
	uint8_t			 key[INKEY_MAX];
	size_t			 klen;
	int			 rc, retrieved;

	retrieved = kind == COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED;
	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	if ((o = get_out(t, id, &rc)) != NULL)
		r = retrieved ? &o->retrieved_receipt : &o->delivered_receipt;
	else if (rc == COMITY_ENOTFOUND &&
	    (in = get_in(t, id, key, &klen, &rc)) != NULL)
		r = retrieved ? &in->retrieved_receipt : &in->delivered_receipt;
	store_read_end(t);
	if (r != NULL) {
		if (r->len == 0)
			rc = COMITY_ENOTFOUND;
		else {
			*buf = xmemdup(r->data, r->len);
			*len = r->len;
			rc = 0;
		}
	}
	wire_free(o);
	wire_free(in);
	return rc;
}

/* ------------------------------------------------------------ sending */

int
queue_next_out(const char *peer, int urgent, uint64_t after,
    struct queue_out *out, int max, size_t max_bytes)
{
	struct store_txn	*t;
	struct store_cursor	*c;
	const void		*k, *v, *bv;
	size_t			 kl, vl, bvl, plen, bytes = 0;
	uint8_t			 start[QKEY_MAX], bkey[1 + ENVELOPE_ID_LEN];
	int64_t			 now = now_ns();
	int			 rc, n = 0, skipped = 0;

	plen = outq_key(start, peer, urgent ? PRIO_URGENT : PRIO_NORMAL,
	    after + 1) - 8;
	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	if ((rc = store_cursor_open(t, DB_OUTQ, &c)) != 0)
		goto done;
	for (rc = store_cursor_seek(c, start, plen + 8, &k, &kl, &v, &vl);
	    rc == 0 && n < max && bytes < max_bytes;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		Comity__OutItem		*it;
		Comity__Frame		 f = COMITY__FRAME__INIT;
		Comity__Envelope	 env;

		if (kl != plen + 8 || memcmp(k, start, plen) != 0)
			break;
		if (vl != ENVELOPE_ID_LEN)
			continue;
		if ((it = get_out(t, v, &rc)) == NULL)
			continue;
		if (out_past_expiry(it, now)) {
			/* never sent after its expiry: the timer expires it */
			wire_free(it);
			if (++skipped == EXPIRY_SKIP_MAX)
				break;
			continue;
		}
		if (store_get(t, DB_BLOB, bkey, blob_key(bkey, 'o', v,
		    ENVELOPE_ID_LEN), &bv, &bvl) != 0) {
			char	h[33];

			log_warnx("%s queued without a body",
			    idhex(v, h));
			wire_free(it);
			continue;
		}
		env = *it->envelope;
		env.body.data = (uint8_t *)bv;
		env.body.len = bvl;
		f.msg_case = COMITY__FRAME__MSG_ENVELOPE;
		f.envelope = &env;
		memcpy(out[n].id, v, ENVELOPE_ID_LEN);
		out[n].seq = store_get_u64be((const uint8_t *)k + plen);
		out[n].urgent = urgent;
		out[n].frame = wire_pack(&f.base, 1, &out[n].len);
		wire_free(it);
		if (out[n].frame == NULL)
			fatalx("out of memory");
		store_forget(cd->store, bv, bvl);
		bytes += out[n].len;
		n++;
	}
	store_cursor_close(c);
	rc = 0;
	if (skipped > 0)
		expiry_kick();
	/* only expired items so far: wait for the expiry commit's kick */
	if (n == 0 && skipped == EXPIRY_SKIP_MAX)
		rc = COMITY_EAGAIN;
done:
	store_read_end(t);
	return rc != 0 ? rc : n;
}

int
queue_next_ctl(const char *peer, uint64_t after, struct queue_out *out,
    int max)
{
	struct store_txn	*t;
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl, plen;
	uint8_t			 start[QKEY_MAX];
	int			 rc, n = 0;

	plen = ctlq_key(start, peer, after + 1) - 8;
	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	if ((rc = store_cursor_open(t, DB_CTLQ, &c)) != 0)
		goto done;
	for (rc = store_cursor_seek(c, start, plen + 8, &k, &kl, &v, &vl);
	    rc == 0 && n < max; rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		Comity__CtlItem	*ci;

		if (kl != plen + 8 || memcmp(k, start, plen) != 0)
			break;
		ci = wire_unpack(&comity__ctl_item__descriptor, v, vl);
		if (ci == NULL || ci->envelope_id.len != ENVELOPE_ID_LEN) {
			log_warnx("control queue record undecodable");
			wire_free(ci);
			continue;
		}
		memcpy(out[n].id, ci->envelope_id.data, ENVELOPE_ID_LEN);
		out[n].seq = store_get_u64be((const uint8_t *)k + plen);
		out[n].urgent = 0;
		out[n].frame = receipt_frame(ci->receipt.data, ci->receipt.len,
		    &out[n].len);
		wire_free(ci);
		if (out[n].frame == NULL)
			fatalx("out of memory");
		n++;
	}
	store_cursor_close(c);
	rc = 0;
done:
	store_read_end(t);
	return rc != 0 ? rc : n;
}

static int
sent_apply(struct store_txn *t, void *arg)
{
	struct id_op	*op = arg;
	Comity__OutItem	*it;
	char		 detail[64];
	int64_t		 now = now_ns();
	int		 rc;

	if ((it = get_out(t, op->id, &rc)) == NULL)
		return rc == COMITY_ENOTFOUND ? 0 : rc;
	if (it->state != COMITY__STATE__STATE_QUEUED &&
	    it->state != COMITY__STATE__STATE_SENT) {
		wire_free(it);
		return 0;	/* the receipt overtook this record */
	}
	it->state = COMITY__STATE__STATE_SENT;
	it->times->sent_at = now;
	it->attempts++;
	snprintf(detail, sizeof(detail), "attempt=%u", it->attempts);
	if ((rc = put_msg(t, DB_OUT, op->id, ENVELOPE_ID_LEN,
	    &it->base)) == 0)
		rc = audit_append(t, AUDIT_SENT, op->id, op->peer, AUDIT_NO_UID,
		    detail, now);
	wire_free(it);
	return rc;
}

static void
free_done(void *arg, int rc)
{
	(void)rc;
	free(arg);
}

void
queue_mark_sent(const char *peer, const uint8_t id[16], int urgent)
{
	struct id_op	*op = xcalloc(1, sizeof(*op));

	memcpy(op->id, id, ENVELOPE_ID_LEN);
	snprintf(op->peer, sizeof(op->peer), "%s", peer);
	/* in the urgent lane, before the item's receipt */
	if (urgent)
		store_batch_add_urgent(cd->store, sent_apply, free_done, op);
	else
		store_batch_add(cd->store, sent_apply, free_done, op);
}

/* ------------------------------------------------------------ expiry */

/*
 * DB_EXPQ holds, for each outbox item with an expiry that may still need
 * it, the time to look at it next: its expires_at when it is submitted,
 * a little later while it is in flight.  Entries of items that ended
 * otherwise (delivered, rejected, cancelled) are not removed by those
 * transitions but dropped when they fall due, so the other transitions
 * need not know about expiry.
 */
struct expire_op {
	size_t		 n;		/* items expired by this commit */
	uint8_t		 ids[EXPIRY_BATCH][ENVELOPE_ID_LEN];
	char		 peers[EXPIRY_BATCH][ID_MAX + 1];
	queue_cb	 cb;
	void		*arg;
};

/*
 * expire_item - the EXPIRED transition of IT (QUEUED or SENT, not in
 * flight) in the caller's transaction: state, expired_at and reason, out
 * of the send queue, and its EXPIRED audit record.
 */
static int
expire_item(struct store_txn *t, Comity__OutItem *it, const uint8_t *id,
    int64_t now)
{
	char	detail[96];
	int	rc;

	snprintf(detail, sizeof(detail), "not delivered by its expiry time: "
	    "was %s, attempts=%u", it->state == COMITY__STATE__STATE_SENT ?
	    "SENT" : "QUEUED", it->attempts);
	it->state = COMITY__STATE__STATE_EXPIRED;
	it->times->expired_at = now;
	set_str(&it->reason, "not delivered by its expiry time", REASON_MAX);
	if ((rc = outq_del(t, it)) != 0 ||
	    (rc = put_msg(t, DB_OUT, id, ENVELOPE_ID_LEN, &it->base)) != 0)
		return rc;
	return audit_append(t, AUDIT_EXPIRED, id, it->envelope->to,
	    AUDIT_NO_UID, detail, now);
}

/*
 * expire_entry - act on the due expiry index entry KEY: expire its item,
 * look again later while it is in flight (the receiver decides by its
 * own clock, and its receipt may be on the way), or drop the entry.
 */
static int
expire_entry(struct store_txn *t, struct expire_op *op,
    const uint8_t key[EXPQ_KEY_LEN], int64_t now)
{
	const uint8_t	*id = key + 8;
	Comity__OutItem	*it;
	int64_t		 again = 0;
	int		 rc;

	if ((it = get_out(t, id, &rc)) == NULL) {
		if (rc != COMITY_ENOTFOUND && rc != COMITY_ECORRUPT)
			return rc;
		return store_del(t, DB_EXPQ, key, EXPQ_KEY_LEN);
	}
	if (it->state != COMITY__STATE__STATE_QUEUED &&
	    it->state != COMITY__STATE__STATE_SENT)
		again = 0;		/* it ended otherwise */
	else if (!out_past_expiry(it, now))
		again = it->envelope->expires_at_ns;
	else if (peer_is_sending(it->envelope->to, id))
		again = now + (int64_t)EXPIRY_RECHECK_MS * 1000000;
	else {
		if ((rc = expire_item(t, it, id, now)) != 0)
			goto out;
		memcpy(op->ids[op->n], id, ENVELOPE_ID_LEN);
		snprintf(op->peers[op->n], sizeof(op->peers[op->n]), "%s",
		    it->envelope->to);
		op->n++;
	}
	if ((rc = store_del(t, DB_EXPQ, key, EXPQ_KEY_LEN)) == 0 && again != 0)
		rc = expq_put(t, again, id);
out:
	wire_free(it);
	return rc;
}

static int
expire_apply(struct store_txn *t, void *arg)
{
	struct expire_op	*op = arg;
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl, i, nkeys = 0, badlen = 0;
	uint8_t			(*keys)[EXPQ_KEY_LEN], *bad = NULL;
	int64_t			 now = now_ns();
	int			 rc;

	op->n = 0;
	if ((rc = store_cursor_open(t, DB_EXPQ, &c)) != 0)
		return rc;
	/* copy the due keys first: the entries change as they are handled */
	keys = xcalloc(EXPIRY_BATCH, EXPQ_KEY_LEN);
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    rc == 0 && nkeys < EXPIRY_BATCH;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		if (kl != EXPQ_KEY_LEN) {
			bad = xmemdup(k, kl);
			badlen = kl;
			break;
		}
		if ((int64_t)store_get_u64be(k) > now)
			break;
		memcpy(keys[nkeys++], k, EXPQ_KEY_LEN);
	}
	store_cursor_close(c);
	if (rc == 0 || rc == COMITY_ENOTFOUND)
		rc = bad != NULL ? store_quarantine(t, DB_EXPQ, bad, badlen) : 0;
	for (i = 0; i < nkeys && rc == 0; i++)
		rc = expire_entry(t, op, keys[i], now);
	free(keys);
	free(bad);
	return rc;
}

static void
expire_done(void *arg, int rc)
{
	struct expire_op	*op = arg;
	char			 h[33];
	size_t			 i, j;

	for (i = 0; rc == 0 && i < op->n; i++) {
		log_info("%s expired peer=%s", idhex(op->ids[i], h),
		    op->peers[i]);
		notify_id(COMITY__WATCH_KIND__WATCH_STATE, op->ids[i],
		    "expired", NULL);
	}
	/* a send pick may have stopped at these items: let the peers go on */
	for (i = 0; rc == 0 && i < op->n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(op->peers[j], op->peers[i]) == 0)
				break;
		if (j == i && queue_pending(op->peers[i]))
			peer_kick(op->peers[i], 0);
	}
	op->cb(op->arg, rc);
	free(op);
}

/*
 * expired_overtaken - a DELIVERED or RETRIEVED receipt came for IT after
 * we had marked it EXPIRED (sent, then the link was lost before the
 * receipt).  The receiver stored it in time by its own clock and its
 * signed receipt is the truth: the caller moves the state on as the
 * receipt says; expired_at stays, and the reason tells the story.
 */
static void
expired_overtaken(Comity__OutItem *it)
{
	if (it->state != COMITY__STATE__STATE_EXPIRED)
		return;
	set_str(&it->reason, "delivered in time by the receiver's clock; its "
	    "receipt came after we marked the request expired", REASON_MAX);
}

void
queue_expire_due(queue_cb cb, void *arg)
{
	struct expire_op	*op = xcalloc(1, sizeof(*op));

	op->cb = cb;
	op->arg = arg;
	store_batch_add(cd->store, expire_apply, expire_done, op);
}

int
queue_expiry_next(int64_t *at)
{
	struct store_txn	*t;
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl;
	int			 rc;

	*at = 0;
	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	if ((rc = store_cursor_open(t, DB_EXPQ, &c)) == 0) {
		rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
		if (rc == 0) {
			/* a malformed key is due now, to be quarantined */
			*at = kl == EXPQ_KEY_LEN ?
			    (int64_t)store_get_u64be(k) : 1;
			if (*at <= 0)
				*at = 1;
		} else if (rc == COMITY_ENOTFOUND)
			rc = 0;
		store_cursor_close(c);
	}
	store_read_end(t);
	return rc;
}

/* ------------------------------------------------------------ receipts */

struct receipt_op {
	char			 peer[ID_MAX + 1];
	uint8_t			*buf;
	size_t			 len;
	Comity__ReceiptContent	*rc;
	struct queue_receipt_res *res;
	int			 changed;	/* the item was updated */
	queue_cb		 cb;
	void			*arg;
	/* while checked on a pool thread: */
	struct tls_ctx		*tls;		/* a reference */
	struct receipt_signers	 signers;
	int			 by_link;
	char			 err[QUEUE_ERR_MAX];
	int			 urgent;	/* about an urgent item */
};

static void
receipt_op_free(struct receipt_op *op)
{
	receipt_signers_free(&op->signers);
	if (op->tls != NULL)
		tls_ctx_unref(op->tls);
	wire_free(op->rc);
	free(op->buf);
	free(op);
}

static int
refuse_receipt(struct store_txn *t, struct receipt_op *op, const char *why)
{
	char	detail[QUEUE_ERR_MAX];

	snprintf(op->res->err, sizeof(op->res->err), "%s", why);
	snprintf(detail, sizeof(detail), "receipt refused: %s", why);
	return audit_append(t, AUDIT_RECEIPT_REFUSED, op->res->id, op->peer,
	    AUDIT_NO_UID, detail, now_ns());
}

static int
receipt_apply(struct store_txn *t, void *arg)
{
	struct receipt_op	*op = arg;
	Comity__ReceiptContent	*rc = op->rc;
	Comity__OutItem		*it;
	char			 detail[160];
	int64_t			 now = now_ns();
	int			 r, event;

	op->res->err[0] = '\0';
	op->res->final = 0;
	op->changed = 0;
	if ((it = get_out(t, rc->envelope_id.data, &r)) == NULL) {
		if (r != COMITY_ENOTFOUND)
			return r;
		return refuse_receipt(t, op, "no such envelope sent");
	}
	if (strcmp(it->envelope->to, op->peer) != 0 ||
	    strcmp(rc->from, cd->self) != 0) {
		r = refuse_receipt(t, op, "envelope was not sent to the issuer");
		goto out;
	}
	if (it->body_sha256.len != SHA256_LEN ||
	    memcmp(it->body_sha256.data, rc->envelope_body_sha256.data,
	    SHA256_LEN) != 0) {
		r = refuse_receipt(t, op, "body hash does not match");
		goto out;
	}
	if (rc->issuer_audit_head.len == SHA256_LEN &&
	    (r = heads_put(t, "held", op->peer, rc->issuer_audit_seq,
	    rc->issuer_audit_head.data, now)) != 0)
		goto out;
	snprintf(detail, sizeof(detail), "kind=%s issuer_seq=%llu%s%s",
	    rc->kind == COMITY__RECEIPT_KIND__RECEIPT_DELIVERED ? "delivered" :
	    rc->kind == COMITY__RECEIPT_KIND__RECEIPT_REJECTED ? "rejected" :
	    "retrieved", (unsigned long long)rc->issuer_audit_seq,
	    rc->reason[0] ? " reason=" : "", rc->reason);
	if (rc->kind == COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED) {
		if (it->retrieved_receipt.len != 0) {
			r = 0;	/* a resent receipt: acknowledge it again */
			goto out;
		}
		set_bytes(&it->retrieved_receipt, op->buf, op->len);
		it->times->retrieved_at = now;
		expired_overtaken(it);
		if (it->state == COMITY__STATE__STATE_QUEUED ||
		    it->state == COMITY__STATE__STATE_SENT ||
		    it->state == COMITY__STATE__STATE_CANCELLED) {
			/* retrieved implies delivered: its receipt is late */
			if ((r = outq_del(t, it)) != 0)
				goto out;
			op->res->final = 1;
		}
		it->state = COMITY__STATE__STATE_RETRIEVED;
		event = AUDIT_RETRIEVED;
	} else {
		if (it->delivered_receipt.len != 0) {
			r = 0;	/* a duplicate after a resend */
			goto out;
		}
		set_bytes(&it->delivered_receipt, op->buf, op->len);
		if (rc->kind == COMITY__RECEIPT_KIND__RECEIPT_DELIVERED) {
			it->times->delivered_at = now;
			event = AUDIT_DELIVERED;
			expired_overtaken(it);
			if (it->state != COMITY__STATE__STATE_RETRIEVED)
				it->state = COMITY__STATE__STATE_DELIVERED;
		} else {
			it->times->rejected_at = now;
			event = AUDIT_REJECTED;
			set_str(&it->reason, rc->reason, REASON_MAX);
			it->state = COMITY__STATE__STATE_REJECTED;
		}
		if ((r = outq_del(t, it)) != 0)
			goto out;
		op->res->final = 1;
	}
	if ((r = put_msg(t, DB_OUT, rc->envelope_id.data, ENVELOPE_ID_LEN,
	    &it->base)) != 0 ||
	    (r = audit_append(t, AUDIT_RECEIPT_RECEIVED, rc->envelope_id.data,
	    op->peer, AUDIT_NO_UID, detail, now)) != 0)
		goto out;
	r = audit_append(t, event, rc->envelope_id.data, op->peer,
	    AUDIT_NO_UID, NULL, now);
	op->changed = r == 0;
out:
	wire_free(it);
	return r;
}

static void
receipt_done(void *arg, int rc)
{
	struct receipt_op	*op = arg;
	char			 h[33];

	if (rc == 0 && op->res->err[0] != '\0')
		log_warnx("%s receipt refused peer=%s: %s",
		    idhex(op->res->id, h), op->peer, op->res->err);
	else if (rc == 0 && op->res->final)
		log_info("%s %s peer=%s", idhex(op->res->id, h),
		    op->rc->kind == COMITY__RECEIPT_KIND__RECEIPT_REJECTED ?
		    "rejected" : "delivered", op->peer);
	if (rc == 0 && op->changed)
		notify_id(COMITY__WATCH_KIND__WATCH_STATE, op->res->id,
		    op->rc->kind == COMITY__RECEIPT_KIND__RECEIPT_DELIVERED ?
		    "delivered" : op->rc->kind ==
		    COMITY__RECEIPT_KIND__RECEIPT_REJECTED ? "rejected" :
		    "retrieved", NULL);
	op->cb(op->arg, rc);
	receipt_op_free(op);
}

/* receipt_check - on a pool thread: signature, then content */
static void
receipt_check(void *arg)
{
	struct receipt_op	*op = arg;

	op->rc = receipt_open(&op->tls->seal, &op->signers, op->peer, op->buf,
	    op->len, &op->by_link, op->err, sizeof(op->err));
}

/* receipt_checked - back on the loop: commit a good receipt */
static void
receipt_checked(void *arg)
{
	struct receipt_op	*op = arg;
	struct queue_receipt_res *res = op->res;
	Comity__ReceiptContent	*rc = op->rc;

	receipt_signers_free(&op->signers);
	tls_ctx_unref(op->tls);
	op->tls = NULL;
	if (rc == NULL) {
		snprintf(res->err, sizeof(res->err), "%s", op->err);
		op->cb(op->arg, COMITY_EPROTO);
		receipt_op_free(op);
		return;
	}
	if (op->by_link)
		log_info("%s signed with its link certificate, not its "
		    "directory certificate: update the directory", op->peer);
	memcpy(res->id, rc->envelope_id.data, ENVELOPE_ID_LEN);
	res->kind = rc->kind;
	res->ack_needed = rc->kind == COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED;
	if (op->urgent)
		store_batch_add_urgent(cd->store, receipt_apply, receipt_done,
		    op);
	else
		store_batch_add(cd->store, receipt_apply, receipt_done, op);
}

int
queue_receipt_in(const char *peer, X509 *peer_cert, const uint8_t *buf,
    size_t len, int urgent, struct queue_receipt_res *res, queue_cb cb,
    void *arg)
{
	struct receipt_op	*op;
	struct receipt_signers	 signers;

	memset(res, 0, sizeof(*res));
	if (receipt_signers(peer, peer_cert, &signers, res->err,
	    sizeof(res->err)) != 0)
		return COMITY_EPROTO;
	op = xcalloc(1, sizeof(*op));
	snprintf(op->peer, sizeof(op->peer), "%s", peer);
	op->buf = xmemdup(buf, len);
	op->len = len;
	op->res = res;
	op->cb = cb;
	op->arg = arg;
	op->signers = signers;
	op->tls = cd->tls;
	tls_ctx_ref(op->tls);
	op->urgent = urgent;
	work_submit(receipt_check, receipt_checked, op, urgent, op->len);
	return 0;
}

static int
ctl_ack_apply(struct store_txn *t, void *arg)
{
	struct id_op	*op = arg;
	Comity__InItem	*it;
	uint8_t		 key[INKEY_MAX], ckey[QKEY_MAX];
	size_t		 klen;
	int		 rc;

	klen = in_key(key, op->id, op->peer);
	if ((it = get_in_exact(t, key, klen, &rc)) == NULL)
		return rc == COMITY_ENOTFOUND ? 0 : rc;
	if (it->ctl_seq != 0 && op->kind == COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED) {
		rc = store_del(t, DB_CTLQ, ckey, ctlq_key(ckey, op->peer,
		    it->ctl_seq));
		if (rc == 0)
			rc = qcount(t, op->peer, PRIO_CTL, -1);
		if (rc == 0 || rc == COMITY_ENOTFOUND) {
			it->ctl_seq = 0;
			rc = put_msg(t, DB_IN, key, klen, &it->base);
		}
	}
	wire_free(it);
	return rc;
}

void
queue_ctl_ack(const char *peer, const uint8_t id[16], int kind)
{
	struct id_op	*op = xcalloc(1, sizeof(*op));

	memcpy(op->id, id, ENVELOPE_ID_LEN);
	snprintf(op->peer, sizeof(op->peer), "%s", peer);
	op->kind = kind;
	store_batch_add(cd->store, ctl_ack_apply, free_done, op);
}

/* ------------------------------------------------------------ receiving */

struct envelope_op {
	char			 peer[ID_MAX + 1];
	Comity__Envelope	*env;		/* a deep copy */
	X509			*peer_cert;	/* a reference, or NULL */
	int			 opened;	/* body checked: why, meta set */
	char			 why[QUEUE_ERR_MAX];	/* "" = acceptable */
	int			 type;
	char			*case_ref;
	uint32_t		 documents;
	uint8_t			 in_reply_to[ENVELOPE_ID_LEN];
	int			 has_reply_to;
	int64_t			 received_at;	/* as stored */
	struct queue_envelope_res *res;
	queue_cb		 cb;
	void			*arg;
	/* while opened on a pool thread: */
	struct tls_ctx		*tls;		/* a reference */
	struct receipt_signers	 signers;
	uint32_t		 accepts;	/* cd->self_accepts */
	int			 by_link;
};

/*
 * open_body - open the body of OP's envelope: decrypt with our key,
 * verify that the peer's directory certificate signed it, decode the
 * Request and check that its header equals the clear one.  Sets op->why
 * to the reason for a REJECTED receipt, or keeps the item's metadata.
 * The plaintext lives only in memory, only here.  Runs on a pool thread
 * (or inline): touches only OP, prepared by open_prepare().
 */
static void
open_body(void *arg)
{
	struct envelope_op	*op = arg;
	const Comity__Envelope	*env = op->env;
	Comity__Request		*rq;
	uint8_t			*plain;
	size_t			 plen;
	char			 err[QUEUE_ERR_MAX - 32];

	plain = receipt_check_signer(&op->tls->seal, &op->signers, 1,
	    env->body.data, env->body.len, &plen, &op->by_link, err,
	    sizeof(err));
	if (plain == NULL) {
		snprintf(op->why, sizeof(op->why), "seal: %s", err);
		return;
	}
	rq = wire_unpack(&comity__request__descriptor, plain, plen);
	OPENSSL_cleanse(plain, plen);
	free(plain);
	if (rq == NULL) {
		snprintf(op->why, sizeof(op->why), "body is not a valid "
		    "request");
		return;
	}
	if (rq->id.len != ENVELOPE_ID_LEN ||
	    memcmp(rq->id.data, env->id.data, ENVELOPE_ID_LEN) != 0 ||
	    strcmp(rq->from, env->from) != 0 || strcmp(rq->to, env->to) != 0 ||
	    rq->kind != env->kind || rq->priority != env->priority ||
	    rq->created_at_ns != env->created_at_ns ||
	    rq->expires_at_ns != env->expires_at_ns)
		snprintf(op->why, sizeof(op->why), "header mismatch: the "
		    "sealed header differs from the clear one");
	else if (rq->type <= COMITY__REQUEST_TYPE__TYPE_UNSPECIFIED ||
	    rq->type > COMITY__REQUEST_TYPE__TYPE_OTHER)
		snprintf(op->why, sizeof(op->why), "unknown request type");
	else if (rq->kind == COMITY__ENVELOPE_KIND__KIND_REQUEST &&
	    op->accepts != 0 && (op->accepts & (1u << rq->type)) == 0)
		snprintf(op->why, sizeof(op->why), "%s requests are not "
		    "accepted", type_name(rq->type));
	else if (rq->n_documents > DOCS_MAX)
		snprintf(op->why, sizeof(op->why), "too many documents");
	else {
		op->type = rq->type;
		op->case_ref = xstrndup(rq->case_ref, TEXT_FIELD_MAX);
		op->documents = (uint32_t)rq->n_documents;
		if ((op->has_reply_to = rq->in_reply_to.len ==
		    ENVELOPE_ID_LEN))
			memcpy(op->in_reply_to, rq->in_reply_to.data,
			    ENVELOPE_ID_LEN);
	}
	wire_free(rq);
}

/*
 * open_prepare - on the loop: what open_body() needs.  Returns 0, or -1
 * when the body cannot be opened at all (op->why says why).
 */
static int
open_prepare(struct envelope_op *op)
{
	char	err[QUEUE_ERR_MAX - 32];

	op->opened = 1;
	op->why[0] = '\0';
	op->accepts = cd->self_accepts;
	if (receipt_signers(op->peer, op->peer_cert, &op->signers, err,
	    sizeof(err)) != 0) {
		snprintf(op->why, sizeof(op->why), "seal: %s", err);
		return -1;
	}
	op->tls = cd->tls;
	tls_ctx_ref(op->tls);
	return 0;
}

/* open_finish - back on the loop after open_body() */
static void
open_finish(struct envelope_op *op)
{
	receipt_signers_free(&op->signers);
	tls_ctx_unref(op->tls);
	op->tls = NULL;
	if (op->by_link)
		log_info("%s signed with its link certificate, not its "
		    "directory certificate: update the directory", op->peer);
}

/* seen - whether an inbox record for ENV from PEER exists (committed) */
static int
seen(const char *peer, const Comity__Envelope *env)
{
	struct store_txn	*t;
	const void		*v;
	size_t			 vl, klen;
	uint8_t			 key[INKEY_MAX];
	int			 rc;

	if (store_read_begin(cd->store, &t) != 0)
		return 0;
	klen = in_key(key, env->id.data, peer);
	rc = store_get(t, DB_IN, key, klen, &v, &vl);
	store_read_end(t);
	return rc == 0;
}

static int
reject_envelope(struct store_txn *t, struct envelope_op *op,
    const uint8_t sha[SHA256_LEN], int event, const char *why)
{
	struct queue_envelope_res *res = op->res;
	uint8_t			*rcpt;
	size_t			 rlen;
	char			 detail[QUEUE_ERR_MAX + 16];
	int			 rc;

	snprintf(res->err, sizeof(res->err), "%s", why);
	snprintf(detail, sizeof(detail), "reason=%s", why);
	if ((rc = audit_append(t, event, op->env->id.data, op->peer,
	    AUDIT_NO_UID, detail, now_ns())) != 0)
		return rc;
	rcpt = issue_receipt(t, COMITY__RECEIPT_KIND__RECEIPT_REJECTED,
	    op->env, sha, why, &rlen, &rc);
	if (rcpt == NULL)
		return rc;
	res->kind = COMITY__RECEIPT_KIND__RECEIPT_REJECTED;
	res->frame = receipt_frame(rcpt, rlen, &res->len);
	free(rcpt);
	return res->frame != NULL ? 0 : COMITY_ENOMEM;
}

static int
envelope_apply(struct store_txn *t, void *arg)
{
	struct envelope_op	*op = arg;
	struct queue_envelope_res *res = op->res;
	Comity__Envelope	*env = op->env;
	Comity__InItem		*old, it = COMITY__IN_ITEM__INIT;
	Comity__Envelope	 hdr;
	Comity__Times		 times = COMITY__TIMES__INIT;
	Comity__ItemMeta	 meta = COMITY__ITEM_META__INIT;
	uint8_t			 sha[SHA256_LEN], key[INKEY_MAX];
	uint8_t			 bkey[1 + INKEY_MAX], lkey[8], *rcpt;
	size_t			 klen, rlen;
	char			 detail[128];
	int64_t			 now = now_ns();
	int			 rc;

	free(res->frame);
	res->frame = NULL;
	res->duplicate = 0;
	res->err[0] = '\0';
	sha256(env->body.data, env->body.len, sha);

	/* the routing header is checked before anything is looked up */
	if (!wire_id_valid(env->from) || strcmp(env->from, op->peer) != 0)
		return reject_envelope(t, op, sha, AUDIT_REJECTED,
		    "header mismatch: from is not the authenticated peer");
	if (strcmp(env->to, cd->self) != 0)
		return reject_envelope(t, op, sha, AUDIT_REJECTED,
		    "header mismatch: not addressed to this authority");
	klen = in_key(key, env->id.data, env->from);
	if ((old = get_in_exact(t, key, klen, &rc)) != NULL) {
		if (old->body_sha256.len == SHA256_LEN &&
		    memcmp(old->body_sha256.data, sha, SHA256_LEN) == 0 &&
		    old->delivered_receipt.len > 0) {
			res->duplicate = 1;
			res->kind = COMITY__RECEIPT_KIND__RECEIPT_DELIVERED;
			res->frame = receipt_frame(old->delivered_receipt.data,
			    old->delivered_receipt.len, &res->len);
			wire_free(old);
			if (res->frame == NULL)
				return COMITY_ENOMEM;
			return audit_append(t, AUDIT_DUPLICATE, env->id.data,
			    op->peer, AUDIT_NO_UID, "sent again: original "
			    "receipt returned", now);
		}
		wire_free(old);
		return reject_envelope(t, op, sha, AUDIT_CONFLICT,
		    "conflict: this id was delivered with another body");
	}
	if (rc != COMITY_ENOTFOUND)
		return rc;

	if (env->expires_at_ns != 0 && now > env->expires_at_ns)
		return reject_envelope(t, op, sha, AUDIT_REJECTED, "expired");
	if (env->kind != COMITY__ENVELOPE_KIND__KIND_REQUEST &&
	    env->kind != COMITY__ENVELOPE_KIND__KIND_NOTICE)
		return reject_envelope(t, op, sha, AUDIT_REJECTED,
		    "unknown envelope kind");
	if (!op->opened && open_prepare(op) == 0) {
		/* seen() found it, then it went: rare, open it here */
		open_body(op);
		open_finish(op);
	}
	if (op->why[0] != '\0')
		return reject_envelope(t, op, sha, AUDIT_REJECTED, op->why);

	hdr = *env;
	hdr.body.data = NULL;
	hdr.body.len = 0;
	times.received_at = now;
	op->received_at = now;
	meta.type = op->type;
	meta.case_ref = op->case_ref;
	meta.documents = op->documents;
	meta.body_size = env->body.len;
	meta.idempotency_key = (char *)"";
	if (op->has_reply_to) {
		meta.in_reply_to.data = op->in_reply_to;
		meta.in_reply_to.len = ENVELOPE_ID_LEN;
	}
	it.version = 1;
	it.envelope = &hdr;
	it.state = COMITY__STATE__STATE_RECEIVED;
	it.times = &times;
	it.meta = &meta;
	it.body_sha256.data = sha;
	it.body_sha256.len = SHA256_LEN;
	snprintf(detail, sizeof(detail), "type=%s priority=%s size=%zu "
	    "documents=%u", type_name(op->type),
	    env->priority == COMITY__PRIORITY__PRIORITY_URGENT ? "urgent" :
	    "normal", env->body.len, op->documents);
	rcpt = NULL;
	if ((rc = store_next_seq(t, "inlog", &it.log_seq)) != 0 ||
	    (rc = audit_append(t, AUDIT_RECEIVED, env->id.data, op->peer,
	    AUDIT_NO_UID, detail, now)) != 0)
		goto out;
	rcpt = issue_receipt(t, COMITY__RECEIPT_KIND__RECEIPT_DELIVERED, env,
	    sha, NULL, &rlen, &rc);
	if (rcpt == NULL)
		goto out;
	it.delivered_receipt.data = rcpt;
	it.delivered_receipt.len = rlen;
	store_u64be(lkey, it.log_seq);
	if ((rc = put_msg(t, DB_IN, key, klen, &it.base)) != 0 ||
	    (rc = store_put(t, DB_BLOB, bkey, blob_key(bkey, 'i', key, klen),
	    env->body.data, env->body.len)) != 0 ||
	    (rc = store_put(t, DB_INLOG, lkey, 8, key, klen)) != 0)
		goto out;
	/* an urgent request may need an escalation: index it */
	if (res->urgent && env->kind == COMITY__ENVELOPE_KIND__KIND_REQUEST &&
	    (rc = urgent_index_put(t, now, key, klen)) != 0)
		goto out;
	res->kind = COMITY__RECEIPT_KIND__RECEIPT_DELIVERED;
	res->frame = receipt_frame(rcpt, rlen, &res->len);
	if (res->frame == NULL)
		rc = COMITY_ENOMEM;
out:
	free(rcpt);
	return rc;
}

static void
envelope_done(void *arg, int rc)
{
	struct envelope_op	*op = arg;
	struct queue_envelope_res *res = op->res;
	char			 h[33];

	if (rc != 0) {
		free(res->frame);
		res->frame = NULL;
		snprintf(res->err, sizeof(res->err), "%s",
		    rc == COMITY_ESTOREFULL ? "store full" :
		    rc == COMITY_EAGAIN ? "stopping" : "store error");
	} else if (res->kind == COMITY__RECEIPT_KIND__RECEIPT_REJECTED)
		log_warnx("%s rejected from=%s: %s", idhex(res->id, h),
		    op->peer, res->err);
	else if (res->duplicate)
		log_info("%s duplicate from=%s: original receipt sent again",
		    idhex(res->id, h), op->peer);
	else {
		int	notice = op->env->kind ==
		    COMITY__ENVELOPE_KIND__KIND_NOTICE;
		char	detail[64], r[33];

		log_info("%s received from=%s size=%zu%s%s", idhex(res->id, h),
		    op->peer, op->env->body.len, res->urgent ? " urgent" : "",
		    notice ? " notice" : "");
		detail[0] = '\0';
		if (notice && op->has_reply_to)
			snprintf(detail, sizeof(detail), "notice about %s",
			    idhex(op->in_reply_to, r));
		notify_id(notice ? COMITY__WATCH_KIND__WATCH_NOTICE :
		    COMITY__WATCH_KIND__WATCH_ARRIVED, res->id,
		    detail[0] != '\0' ? detail : NULL, NULL);
		/* a notice tells the watchers; the hook is for requests */
		if (res->urgent && !notice) {
			hook_arrival(res->id, op->peer, op->type, op->case_ref,
			    op->received_at);
			urgent_note_received(op->received_at);
		}
	}
	op->cb(op->arg, rc);
	wire_free(op->env);
	X509_free(op->peer_cert);
	free(op->case_ref);
	free(op);
}

/* opened - on the loop, after open_body() on a pool thread */
static void
opened(void *arg)
{
	struct envelope_op	*op = arg;

	open_finish(op);
	if (op->res->urgent)
		store_batch_add_urgent(cd->store, envelope_apply,
		    envelope_done, op);
	else
		store_batch_add(cd->store, envelope_apply, envelope_done, op);
}

/*
 * admit - open OP's body on a pool thread (outside the store
 * transaction), urgent envelopes before normal ones, unless the header
 * will be refused anyway or the envelope is a resend (found in the inbox:
 * the original receipt goes back unopened); then queue it for the commit.
 */
static void
admit(struct envelope_op *op)
{
	if (strcmp(op->env->from, op->peer) == 0 &&
	    strcmp(op->env->to, cd->self) == 0 && !seen(op->peer, op->env) &&
	    open_prepare(op) == 0) {
		work_submit(open_body, opened, op, op->res->urgent,
		    op->env->body.len);
		return;
	}
	store_batch_add(cd->store, envelope_apply, envelope_done, op);
}

int
queue_envelope_in(const char *peer, X509 *peer_cert,
    const Comity__Envelope *env, struct queue_envelope_res *res, queue_cb cb,
    void *arg)
{
	struct envelope_op	*op;
	Comity__Envelope	*e;

	memset(res, 0, sizeof(*res));
	if (env->id.len != ENVELOPE_ID_LEN) {
		snprintf(res->err, sizeof(res->err), "envelope id is not 16 "
		    "bytes");
		return COMITY_EPROTO;
	}
	memcpy(res->id, env->id.data, ENVELOPE_ID_LEN);
	res->urgent = env->priority == COMITY__PRIORITY__PRIORITY_URGENT;
	e = xmalloc(sizeof(*e));
	comity__envelope__init(e);
	e->id.data = xmemdup(env->id.data, ENVELOPE_ID_LEN);
	e->id.len = ENVELOPE_ID_LEN;
	e->from = xstrdup(env->from);
	e->to = xstrdup(env->to);
	e->kind = env->kind;
	e->priority = env->priority;
	e->created_at_ns = env->created_at_ns;
	e->expires_at_ns = env->expires_at_ns;
	e->body.data = env->body.len ? xmemdup(env->body.data, env->body.len) :
	    NULL;
	e->body.len = env->body.len;
	op = xcalloc(1, sizeof(*op));
	snprintf(op->peer, sizeof(op->peer), "%s", peer);
	op->env = e;
	if (peer_cert != NULL && X509_up_ref(peer_cert) == 1)
		op->peer_cert = peer_cert;
	op->res = res;
	op->cb = cb;
	op->arg = arg;
	admit(op);
	return 0;
}

/* ------------------------------------------------------------ stats, init */

int
queue_pending(const char *peer)
{
	struct store_txn	*t;
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl, plen;
	uint8_t			 start[QKEY_MAX];
	int			 i, rc, found = 0;

	if (store_read_begin(cd->store, &t) != 0)
		return 1;	/* let the caller try and find out */
	for (i = 0; i < 2 && !found; i++) {
		plen = i == 0 ? outq_key(start, peer, PRIO_URGENT, 0) - 9 :
		    ctlq_key(start, peer, 0) - 8;
		if (store_cursor_open(t, i == 0 ? DB_OUTQ : DB_CTLQ, &c) != 0)
			continue;
		rc = store_cursor_seek(c, start, plen, &k, &kl, &v, &vl);
		found = rc == 0 && kl > plen && memcmp(k, start, plen) == 0;
		store_cursor_close(c);
	}
	store_read_end(t);
	return found;
}

struct audit_op {
	int		 event;
	int		 has_id;
	uint8_t		 id[ENVELOPE_ID_LEN];
	char		 peer[ID_MAX + 1];
	char		*detail;
	int64_t		 at;
};

static int
audit_op_apply(struct store_txn *t, void *arg)
{
	struct audit_op	*op = arg;

	return audit_append(t, op->event, op->has_id ? op->id : NULL,
	    op->peer[0] ? op->peer : NULL, AUDIT_NO_UID, op->detail, op->at);
}

static void
audit_op_done(void *arg, int rc)
{
	struct audit_op	*op = arg;

	if (rc != 0)
		log_warnx("audit record %s not stored: %s",
		    audit_event_name(op->event), rc == COMITY_ESTOREFULL ?
		    "store full" : "store error");
	free(op->detail);
	free(op);
}

void
queue_audit(int event, const uint8_t *id, const char *peer,
    const char *detail)
{
	struct audit_op	*op = xcalloc(1, sizeof(*op));

	op->event = event;
	if (id != NULL) {
		op->has_id = 1;
		memcpy(op->id, id, ENVELOPE_ID_LEN);
	}
	if (peer != NULL)
		snprintf(op->peer, sizeof(op->peer), "%s", peer);
	op->detail = detail != NULL ? xstrdup(detail) : NULL;
	op->at = now_ns();
	store_batch_add(cd->store, audit_op_apply, audit_op_done, op);
}

int
queue_peer_stats(const char *peer, struct queue_stats *st)
{
	struct store_txn	*t;
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl, plen;
	uint8_t			 start[QKEY_MAX];
	uint64_t		 n;
	int			 rc, cls;

	memset(st, 0, sizeof(*st));
	if ((rc = store_read_begin(cd->store, &t)) != 0)
		return rc;
	for (cls = PRIO_URGENT; cls <= PRIO_CTL; cls++) {
		if ((rc = qcount_get(t, peer, cls, &n)) != 0)
			goto done;
		st->queued += n;
		if (cls == PRIO_URGENT)
			st->queued_urgent = n;
	}
	/* the oldest waiting of each class: the first of its queue */
	for (cls = PRIO_URGENT; cls <= PRIO_NORMAL; cls++) {
		Comity__OutItem	*it;
		int64_t		 s;
		int		 r;

		plen = outq_key(start, peer, cls, 0) - 8;
		if ((rc = store_cursor_open(t, DB_OUTQ, &c)) != 0)
			goto done;
		rc = store_cursor_seek(c, start, plen, &k, &kl, &v, &vl);
		if (rc == 0 && kl == plen + 8 && memcmp(k, start, plen) == 0 &&
		    vl == ENVELOPE_ID_LEN && (it = get_out(t, v, &r)) != NULL) {
			s = it->times->submitted_at;
			if (cls == PRIO_URGENT)
				st->oldest_urgent_ns = s;
			else
				st->oldest_normal_ns = s;
			if (st->oldest_ns == 0 || s < st->oldest_ns)
				st->oldest_ns = s;
			wire_free(it);
		}
		store_cursor_close(c);
	}
	rc = 0;
done:
	store_read_end(t);
	return rc;
}

/*
 * count_apply - a store from before the queue counters: count each
 * peer's queues once, walking them, and mark the store counted.
 */
static int
count_apply(struct store_txn *t, void *arg)
{
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl, pl;
	uint64_t		 done;
	char			 peer[ID_MAX + 1];
	int			 rc, db, cls;

	(void)arg;
	if ((rc = store_get_count(t, QCOUNTED, &done)) != 0 || done != 0)
		return rc;
	for (db = 0; db < 2; db++) {
		if ((rc = store_cursor_open(t, db == 0 ? DB_OUTQ : DB_CTLQ,
		    &c)) != 0)
			return rc;
		for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
		    rc == 0; rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
			pl = strnlen(k, kl);
			/* peer \0 [class] u64be: others are not counted */
			if (pl == 0 || pl > ID_MAX || kl != pl + 1 +
			    (db == 0 ? 1 : 0) + 8)
				continue;
			memcpy(peer, k, pl);
			peer[pl] = '\0';
			cls = db == 0 ? ((const uint8_t *)k)[pl + 1] : PRIO_CTL;
			if (cls != PRIO_URGENT && cls != PRIO_NORMAL &&
			    cls != PRIO_CTL)
				continue;
			if ((rc = qcount(t, peer, cls, 1)) != 0)
				break;
		}
		store_cursor_close(c);
		if (rc != COMITY_ENOTFOUND)
			return rc;
	}
	return store_add_count(t, QCOUNTED, 1);
}

static int
init_apply(struct store_txn *t, void *arg)
{
	int64_t	now = now_ns();
	int	rc;

	if ((rc = count_apply(t, arg)) != 0 ||
	    (rc = audit_init(t, cd->self, now)) != 0)
		return rc;
	return audit_append(t, AUDIT_STARTED, NULL, NULL, AUDIT_NO_UID,
	    COMITY_VERSION_STRING, now);
}

static void
init_done(void *arg, int rc)
{
	*(int *)arg = rc;
}

int
queue_init(void)
{
	int	rc = COMITY_EINTERNAL;

	store_batch_add(cd->store, init_apply, init_done, &rc);
	store_batch_flush(cd->store);
	return rc;
}

/* ------------------------------------------------------------ timeline */

/* peer_receipt - at_ns, issuer seq and kind of stored receipt BUF */
static void
peer_receipt(const ProtobufCBinaryData *buf, int64_t *at, uint64_t *seq,
    Comity__ReceiptKind *kind)
{
	Comity__ReceiptContent	*rc;

	if (buf->len == 0 || (rc = receipt_peek(buf->data, buf->len)) == NULL)
		return;
	*at = rc->at_ns;
	*seq = rc->issuer_audit_seq;
	if (kind != NULL)
		*kind = rc->kind;
	wire_free(rc);
}

int
queue_timeline(const uint8_t id[16], Comity__ItemInfo **info,
    Comity__TimelineInfo **tl)
{
	struct store_txn	*t;
	Comity__OutItem		*o;
	Comity__InItem		*in;
	Comity__TimelineInfo	*x;
	uint8_t			 key[INKEY_MAX];
	size_t			 klen;
	int			 rc;

	*info = NULL;
	*tl = NULL;
	x = xmalloc(sizeof(*x));
	comity__timeline_info__init(x);
	if ((rc = store_read_begin(cd->store, &t)) != 0) {
		free(x);
		return rc;
	}
	if ((o = get_out(t, id, &rc)) != NULL) {
		*info = out_info(o);
		x->created_at_ns = o->envelope->created_at_ns;
		peer_receipt(&o->delivered_receipt, &x->peer_delivered_at_ns,
		    &x->peer_delivered_seq, &x->peer_delivered_kind);
		peer_receipt(&o->retrieved_receipt, &x->peer_retrieved_at_ns,
		    &x->peer_retrieved_seq, NULL);
		wire_free(o);
	} else if (rc == COMITY_ENOTFOUND &&
	    (in = get_in(t, id, key, &klen, &rc)) != NULL) {
		*info = in_info(in);
		x->created_at_ns = in->envelope->created_at_ns;
		wire_free(in);
	}
	store_read_end(t);
	if (*info == NULL) {
		free(x);
		return rc;
	}
	*tl = x;
	return 0;
}
