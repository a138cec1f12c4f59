/*
 * audit.c - the hash-chained audit trail, appended in the caller's txn.
 *
 * DB_AUDIT: u64be(seq) -> AuditRecord.  DB_META "audit_head": u64be(seq)
 * || hash(32), seq 0 with the genesis hash before the first record;
 * "audit_genesis": i64be(created_ns) || authority id.  The chain hash is
 * over the canonical bytes of audit.h, never over the protobuf encoding;
 * the hash and the checks of a walk are auditchain.c's, shared with the
 * offline verifier.  Verification and export read in one read txn each:
 * a read txn never blocks the writer, only the caller's loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "auditchain.h"
#include "seal.h"
#include "bounds.h"
#include "comity.h"
#include "log.h"
#include "store.h"
#include "wire.h"
#include "xmalloc.h"

/* A longer detail is cut (at a UTF-8 boundary): the record still exists. */
#define AUDIT_DETAIL_MAX	4096
#define AUDIT_PEER_MAX		255

static const char *const event_names[AUDIT__MAX] = {
	[AUDIT_SUBMITTED] = "SUBMITTED",
	[AUDIT_SENT] = "SENT",
	[AUDIT_DELIVERED] = "DELIVERED",
	[AUDIT_RECEIVED] = "RECEIVED",
	[AUDIT_REJECTED] = "REJECTED",
	[AUDIT_RETRIEVED] = "RETRIEVED",
	[AUDIT_RECEIPT_RECEIVED] = "RECEIPT_RECEIVED",
	[AUDIT_EXPIRED] = "EXPIRED",
	[AUDIT_CANCELLED] = "CANCELLED",
	[AUDIT_URGENT_HOOK] = "URGENT_HOOK",
	[AUDIT_ESCALATED] = "ESCALATED",
	[AUDIT_PEER_UP] = "PEER_UP",
	[AUDIT_PEER_DOWN] = "PEER_DOWN",
	[AUDIT_PEER_AUTH_FAILED] = "PEER_AUTH_FAILED",
	[AUDIT_CONFIG_LOADED] = "CONFIG_LOADED",
	[AUDIT_DUPLICATE] = "DUPLICATE",
	[AUDIT_CONFLICT] = "CONFLICT",
	[AUDIT_PROTOCOL_ERROR] = "PROTOCOL_ERROR",
	[AUDIT_STARTED] = "STARTED",
	[AUDIT_STOPPED] = "STOPPED",
	[AUDIT_CHECKPOINT] = "CHECKPOINT",
	[AUDIT_RECEIPT_REFUSED] = "RECEIPT_REFUSED",
	[AUDIT_CONFIG_REJECTED] = "CONFIG_REJECTED",
	[AUDIT_STORE_GROWN] = "STORE_GROWN",
	[AUDIT_CORRUPT] = "CORRUPT",
	[AUDIT_LOCAL_ERROR] = "LOCAL_ERROR",
	[AUDIT_WARNING] = "WARNING",
};

const char *
audit_event_name(int event)
{
	if (event <= 0 || event >= AUDIT__MAX || event_names[event] == NULL)
		return "UNKNOWN";
	return event_names[event];
}

static void
be_put(unsigned char *out, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (unsigned char)v;
		v >>= 8;
	}
}

void
audit_hash(uint64_t seq, int64_t time_ns, uint32_t event,
    const uint8_t *msg_id, size_t msg_id_len, const char *peer,
    uint32_t uid, const char *detail, const unsigned char prev[32],
    unsigned char out[32])
{
	if (audit_chain_hash(seq, time_ns, event, msg_id, msg_id_len, peer,
	    uid, detail, prev, out) != 0)
		fatalx("audit: SHA-256 failed");
}

int
audit_head(struct store_txn *t, uint64_t *seq, unsigned char hash[32])
{
	const void	*v;
	size_t		 vl;
	int		 rc;

	rc = store_get(t, DB_META, AUDIT_HEAD_KEY, strlen(AUDIT_HEAD_KEY),
	    &v, &vl);
	if (rc != 0)
		return rc;
	if (vl != AUDIT_HEAD_LEN) {
		log_error("audit: head has %zu bytes", vl);
		return COMITY_ECORRUPT;
	}
	*seq = store_get_u64be(v);
	memcpy(hash, (const unsigned char *)v + 8, SHA256_LEN);
	return 0;
}

static int
put_head(struct store_txn *t, uint64_t seq, const unsigned char hash[32])
{
	unsigned char buf[AUDIT_HEAD_LEN];

	store_u64be(buf, seq);
	memcpy(buf + 8, hash, SHA256_LEN);
	return store_put(t, DB_META, AUDIT_HEAD_KEY, strlen(AUDIT_HEAD_KEY),
	    buf, sizeof(buf));
}

int
audit_init(struct store_txn *t, const char *authority_id, int64_t now_ns)
{
	unsigned char	 hash[SHA256_LEN], gen[8 + ID_MAX];
	const void	*v;
	size_t		 vl, idlen;
	uint64_t	 seq;
	int		 rc;

	if (authority_id == NULL || (idlen = strlen(authority_id)) == 0 ||
	    idlen > ID_MAX)
		return COMITY_EINVAL;
	if ((rc = audit_head(t, &seq, hash)) != COMITY_ENOTFOUND)
		return rc;
	rc = store_get(t, DB_META, AUDIT_GENESIS_KEY,
	    strlen(AUDIT_GENESIS_KEY), &v, &vl);
	if (rc == 0) {
		/* a genesis without a head: the head was lost or removed */
		log_error("audit: genesis present but no head");
		return COMITY_ECORRUPT;
	}
	if (rc != COMITY_ENOTFOUND)
		return rc;
	be_put(gen, (uint64_t)now_ns, 8);
	memcpy(gen + 8, authority_id, idlen);
	rc = store_put(t, DB_META, AUDIT_GENESIS_KEY,
	    strlen(AUDIT_GENESIS_KEY), gen, 8 + idlen);
	if (rc != 0)
		return rc;
	if (audit_chain_genesis_hash(authority_id, idlen, now_ns, hash) != 0)
		fatalx("audit: SHA-256 failed");
	return put_head(t, 0, hash);
}

/* cut_utf8 - length of at most max bytes of s, not splitting a sequence */
static size_t
cut_utf8(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	len = max;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	return len;
}

int
audit_append(struct store_txn *t, int event, const uint8_t *msg_id,
    const char *peer, uint32_t uid, const char *detail, int64_t time_ns)
{
	Comity__AuditRecord	 rec = COMITY__AUDIT_RECORD__INIT;
	unsigned char		 prev[SHA256_LEN], hash[SHA256_LEN], key[8];
	char			*cut = NULL;
	uint8_t			*buf;
	size_t			 len, dlen;
	uint64_t		 seq;
	int			 rc;

	if (event <= 0 || event >= AUDIT__MAX ||
	    (peer != NULL && strlen(peer) > AUDIT_PEER_MAX))
		return COMITY_EINVAL;
	if ((rc = audit_head(t, &seq, prev)) != 0) {
		if (rc == COMITY_ENOTFOUND) {
			log_error("audit: append before audit_init");
			rc = COMITY_EINTERNAL;
		}
		return rc;
	}
	if (seq == UINT64_MAX)
		return COMITY_EINTERNAL;
	seq++;
	if (detail != NULL &&
	    (dlen = cut_utf8(detail, strlen(detail), AUDIT_DETAIL_MAX)) <
	    strlen(detail)) {
		if ((cut = strndup(detail, dlen)) == NULL)
			return COMITY_ENOMEM;
		detail = cut;
	}
	audit_hash(seq, time_ns, (uint32_t)event, msg_id,
	    msg_id != NULL ? ENVELOPE_ID_LEN : 0, peer, uid, detail, prev,
	    hash);

	rec.seq = seq;
	rec.time_ns = time_ns;
	rec.event = (uint32_t)event;
	if (msg_id != NULL) {
		rec.message_id.data = (uint8_t *)msg_id;
		rec.message_id.len = ENVELOPE_ID_LEN;
	}
	if (peer != NULL)
		rec.peer = (char *)peer;
	rec.uid = uid;
	if (detail != NULL)
		rec.detail = (char *)detail;
	rec.prev_hash.data = prev;
	rec.prev_hash.len = SHA256_LEN;
	rec.hash.data = hash;
	rec.hash.len = SHA256_LEN;
	buf = wire_pack(&rec.base, 0, &len);
	free(cut);
	if (buf == NULL)
		return COMITY_ENOMEM;
	store_u64be(key, seq);
	rc = store_put(t, DB_AUDIT, key, sizeof(key), buf, len);
	free(buf);
	if (rc != 0)
		return rc;
	return put_head(t, seq, hash);
}

/* ------------------------------------------------------------ verify */

/* checkpoint signers must chain to this (the daemon's trust store) */
static X509_STORE	*audit_trust;

void
audit_set_trust(X509_STORE *trust)
{
	audit_trust = trust;
}

int
audit_check(struct store_txn *t, const struct audit_witness *witness,
    struct audit_result *res)
{
	struct audit_walk	 w;
	struct store_cursor	*c;
	unsigned char		 genesis[SHA256_LEN], head[SHA256_LEN];
	const void		*k, *v;
	size_t			 kl, vl;
	uint64_t		 n, hseq;
	int			 rc;

	memset(res, 0, sizeof(*res));
	rc = store_get(t, DB_META, AUDIT_GENESIS_KEY,
	    strlen(AUDIT_GENESIS_KEY), &v, &vl);
	if (rc == COMITY_ENOTFOUND) {
		/* never initialised: intact if there is nothing at all */
		if ((rc = store_count(t, DB_AUDIT, &n)) != 0)
			return rc;
		if (n == 0 && audit_head(t, &hseq, head) == COMITY_ENOTFOUND &&
		    (witness == NULL || witness->seq == 0)) {
			res->ok = 1;
			return 0;
		}
		return audit_result_fail(res, 0, "genesis missing");
	}
	if (rc != 0)
		return rc;
	if ((rc = audit_chain_genesis(v, vl, genesis)) != 0) {
		if (rc == COMITY_ECORRUPT)
			audit_result_fail(res, 0, "genesis unreadable");
		return rc;
	}
	if ((rc = audit_walk_begin(&w, genesis, witness, res)) != 0)
		return rc;
	audit_walk_authority(&w, v, vl);
	w.trust = audit_trust;
	if ((rc = store_cursor_open(t, DB_AUDIT, &c)) != 0)
		return rc;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl); rc == 0;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl))
		if ((rc = audit_walk_step(&w, k, kl, v, vl)) != 0) {
			store_cursor_close(c);
			return rc;
		}
	store_cursor_close(c);
	if (rc != COMITY_ENOTFOUND)
		return rc;
	rc = store_get(t, DB_META, AUDIT_HEAD_KEY, strlen(AUDIT_HEAD_KEY), &v,
	    &vl);
	if (rc != 0 && rc != COMITY_ENOTFOUND)
		return rc;
	return audit_walk_end(&w, rc == 0 ? v : NULL, rc == 0 ? vl : 0);
}

int
audit_verify(struct store_txn *t, uint64_t *count, uint64_t *bad_seq,
    char *err, size_t errlen)
{
	struct audit_result	res;
	int			rc;

	*count = 0;
	*bad_seq = 0;
	if (errlen > 0)
		err[0] = '\0';
	rc = audit_check(t, NULL, &res);
	if (rc == COMITY_ECORRUPT) {
		*bad_seq = res.bad_seq;
		snprintf(err, errlen, "audit record %llu: %s",
		    (unsigned long long)res.bad_seq, res.reason);
	} else if (rc == 0)
		*count = res.count;
	return rc;
}

int
audit_verify_store(struct store *s, const struct audit_witness *witness,
    struct audit_result *res)
{
	struct store_txn	*t;
	int			 rc;

	memset(res, 0, sizeof(*res));
	if ((rc = store_read_begin(s, &t)) != 0)
		return rc;
	rc = audit_check(t, witness, res);
	store_read_end(t);
	return rc;
}

/* ------------------------------------------------------------ checkpoint */

int
audit_checkpoint(struct store_txn *t, const struct seal_keys *k,
    const char *authority_id, int64_t now_ns, uint64_t *seq,
    unsigned char hash[32], uint8_t **der, size_t *derlen, char *err,
    size_t errlen)
{
	char		 text[AUDIT_CHECKPOINT_TEXT_MAX], *b64;
	uint8_t		*sig;
	size_t		 slen;
	int		 n, rc;

	*der = NULL;
	*derlen = 0;
	if ((rc = audit_head(t, seq, hash)) != 0) {
		snprintf(err, errlen, "audit head unreadable");
		return rc;
	}
	if ((n = audit_checkpoint_text(authority_id, *seq, hash, now_ns, text,
	    sizeof(text))) < 0) {
		snprintf(err, errlen, "authority id unusable in a checkpoint");
		return COMITY_EINVAL;
	}
	if ((sig = seal_sign(k, (const uint8_t *)text, (size_t)n, &slen, err,
	    errlen)) == NULL)
		return COMITY_EINTERNAL;
	if (slen > AUDIT_CHECKPOINT_DER_MAX) {
		snprintf(err, errlen, "signed checkpoint too large (%zu bytes)",
		    slen);
		free(sig);
		return COMITY_EINTERNAL;
	}
	b64 = xcalloc(1, (slen + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)slen);
	rc = audit_append(t, AUDIT_CHECKPOINT, NULL, NULL, AUDIT_NO_UID, b64,
	    now_ns);
	free(b64);
	if (rc != 0) {
		snprintf(err, errlen, "checkpoint record not appended");
		free(sig);
		return rc;
	}
	*der = sig;
	*derlen = slen;
	return 0;
}

/* ------------------------------------------------------------ export */

static int
page_match(const struct audit_filter *f, const Comity__AuditRecord *r)
{
	if (f->since_ns != 0 && r->time_ns < f->since_ns)
		return 0;
	if (f->until_ns != 0 && r->time_ns >= f->until_ns)
		return 0;
	return f->id == NULL || (r->message_id.len == ENVELOPE_ID_LEN &&
	    memcmp(r->message_id.data, f->id, ENVELOPE_ID_LEN) == 0);
}

static void
page_info(Comity__AuditRecordInfo *i, Comity__AuditRecord *r)
{
	comity__audit_record_info__init(i);
	i->seq = r->seq;
	i->time_ns = r->time_ns;
	i->event = r->event;
	i->event_name = (char *)audit_event_name((int)r->event);
	i->message_id = r->message_id;
	i->peer = r->peer;
	i->uid = r->uid;
	i->detail = r->detail;
	i->prev_hash = r->prev_hash;
	i->hash = r->hash;
}

int
audit_page_read(struct store_txn *t, const struct audit_filter *f,
    uint64_t after, size_t limit, struct audit_page *pg)
{
	Comity__AuditRecord	*r;
	struct store_cursor	*c;
	unsigned char		 start[8];
	const void		*k, *v;
	size_t			 kl, vl, bytes = 0, scanned = 0;
	uint64_t		 kseq;
	int			 rc;

	memset(pg, 0, sizeof(*pg));
	pg->next = after;
	if (limit == 0)
		limit = AUDIT_PAGE_DEFAULT;
	if (limit > AUDIT_PAGE_MAX)
		limit = AUDIT_PAGE_MAX;
	if (after == UINT64_MAX)
		return 0;
	pg->raw = xcalloc(limit, sizeof(*pg->raw));
	pg->info = xcalloc(limit, sizeof(*pg->info));
	pg->recs = xcalloc(limit, sizeof(*pg->recs));
	if ((rc = store_cursor_open(t, DB_AUDIT, &c)) != 0) {
		audit_page_free(pg);
		return rc;
	}
	store_u64be(start, after + 1);
	for (rc = store_cursor_seek(c, start, 8, &k, &kl, &v, &vl); rc == 0;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		/* every bound leaves the record at the cursor for the next
		 * page; a page holds at least one record when any matches */
		if (pg->n == limit || scanned == AUDIT_SCAN_MAX ||
		    (pg->n > 0 && (bytes >= AUDIT_PAGE_BYTES ||
		    vl > AUDIT_PAGE_BYTES - bytes))) {
			pg->more = 1;
			break;
		}
		scanned++;
		if (kl != 8)
			continue;	/* not ours; `audit verify` names it */
		kseq = store_get_u64be(k);
		pg->next = kseq;
		r = wire_unpack(&comity__audit_record__descriptor, v, vl);
		if (r == NULL) {
			log_warnx("audit record %llu undecodable: left out "
			    "of the export", (unsigned long long)kseq);
			continue;
		}
		if (!page_match(f, r)) {
			wire_free(r);
			continue;
		}
		bytes += vl;
		pg->raw[pg->n] = r;
		page_info(&pg->info[pg->n], r);
		pg->recs[pg->n] = &pg->info[pg->n];
		pg->n++;
	}
	store_cursor_close(c);
	if (rc != 0 && rc != COMITY_ENOTFOUND) {
		audit_page_free(pg);
		return rc;
	}
	return 0;
}

void
audit_page_free(struct audit_page *pg)
{
	size_t	i;

	if (pg == NULL)
		return;
	for (i = 0; i < pg->n; i++)
		wire_free(pg->raw[i]);
	free(pg->raw);
	free(pg->info);
	free(pg->recs);
	memset(pg, 0, sizeof(*pg));
}

int
audit_export_page(struct store *s, const struct audit_filter *f,
    uint64_t after, size_t limit, struct audit_page *pg)
{
	struct store_txn	*t;
	int			 rc;

	memset(pg, 0, sizeof(*pg));
	if ((rc = store_read_begin(s, &t)) != 0)
		return rc;
	rc = audit_page_read(t, f, after, limit, pg);
	store_read_end(t);
	return rc;
}
