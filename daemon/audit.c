/*
 * audit.c - the hash-chained audit trail, appended in the caller's txn.
 *
 * DB_AUDIT: u64be(seq) -> AuditRecord.  DB_META "audit_head": u64be(seq)
 * || hash(32), seq 0 with the genesis hash before the first record;
 * "audit_genesis": i64be(created_ns) || authority id.  The chain hash is
 * over the canonical bytes of audit.h, never over the protobuf encoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "bounds.h"
#include "comity.h"
#include "log.h"
#include "store.h"
#include "wire.h"

#define AUDIT_HEAD_KEY		"audit_head"
#define AUDIT_GENESIS_KEY	"audit_genesis"
#define AUDIT_HEAD_LEN		(8 + SHA256_LEN)
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

static void
hash_update(EVP_MD_CTX *ctx, const void *p, size_t n)
{
	if (EVP_DigestUpdate(ctx, p, n) != 1)
		fatalx("audit: SHA-256 update failed");
}

/* hash_lp - u32be(len) || bytes */
static void
hash_lp(EVP_MD_CTX *ctx, const void *p, size_t n)
{
	unsigned char len[4];

	be_put(len, n, 4);
	hash_update(ctx, len, 4);
	if (n > 0)
		hash_update(ctx, p, n);
}

static EVP_MD_CTX *
hash_begin(void)
{
	EVP_MD_CTX *ctx;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatalx("audit: cannot start SHA-256");
	return ctx;
}

static void
hash_end(EVP_MD_CTX *ctx, unsigned char out[SHA256_LEN])
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != SHA256_LEN)
		fatalx("audit: SHA-256 final failed");
	EVP_MD_CTX_free(ctx);
}

void
audit_hash(uint64_t seq, int64_t time_ns, uint32_t event,
    const uint8_t *msg_id, size_t msg_id_len, const char *peer,
    uint32_t uid, const char *detail, const unsigned char prev[32],
    unsigned char out[32])
{
	static const char	 tag[] = "comity-audit-v1";	/* + its NUL */
	EVP_MD_CTX		*ctx;
	unsigned char		 b[8], dh[SHA256_LEN];

	ctx = hash_begin();
	hash_update(ctx, detail != NULL ? detail : "",
	    detail != NULL ? strlen(detail) : 0);
	hash_end(ctx, dh);

	ctx = hash_begin();
	hash_update(ctx, tag, sizeof(tag));
	be_put(b, seq, 8);
	hash_update(ctx, b, 8);
	be_put(b, (uint64_t)time_ns, 8);
	hash_update(ctx, b, 8);
	be_put(b, event, 2);
	hash_update(ctx, b, 2);
	hash_lp(ctx, msg_id, msg_id != NULL ? msg_id_len : 0);
	hash_lp(ctx, peer, peer != NULL ? strlen(peer) : 0);
	be_put(b, uid, 4);
	hash_update(ctx, b, 4);
	hash_update(ctx, dh, sizeof(dh));
	hash_update(ctx, prev, SHA256_LEN);
	hash_end(ctx, out);
}

static void
genesis_hash(const char *authority_id, size_t idlen, int64_t created_ns,
    unsigned char out[SHA256_LEN])
{
	static const char	 tag[] = "comity-audit-genesis";
	EVP_MD_CTX		*ctx;
	unsigned char		 b[8];

	ctx = hash_begin();
	hash_update(ctx, tag, sizeof(tag));
	hash_update(ctx, authority_id, idlen);
	be_put(b, (uint64_t)created_ns, 8);
	hash_update(ctx, b, 8);
	hash_end(ctx, out);
}

static uint64_t
be_get(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
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
	genesis_hash(authority_id, idlen, now_ns, hash);
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

static int
verify_fail(uint64_t *bad_seq, uint64_t seq, char *err, size_t errlen,
    const char *reason)
{
	*bad_seq = seq;
	snprintf(err, errlen, "audit record %llu: %s",
	    (unsigned long long)seq, reason);
	return COMITY_ECORRUPT;
}

/* genesis_prev - the prev_hash of record 1, from "audit_genesis" */
static int
genesis_prev(struct store_txn *t, unsigned char out[SHA256_LEN])
{
	const void	*v;
	size_t		 vl;
	int		 rc;

	rc = store_get(t, DB_META, AUDIT_GENESIS_KEY,
	    strlen(AUDIT_GENESIS_KEY), &v, &vl);
	if (rc != 0)
		return rc;
	if (vl <= 8 || vl > 8 + ID_MAX)
		return COMITY_ECORRUPT;
	genesis_hash((const char *)v + 8, vl - 8,
	    (int64_t)be_get(v, 8), out);
	return 0;
}

/* check_record - one record against its key and the previous hash */
static const char *
check_record(const Comity__AuditRecord *r, uint64_t seq,
    const unsigned char prev[SHA256_LEN], unsigned char hash[SHA256_LEN])
{
	if (r->seq != seq)
		return "sequence number differs from its key";
	if (r->event == 0 || r->event > 0xffff)
		return "event out of range";
	if (r->message_id.len != 0 && r->message_id.len != ENVELOPE_ID_LEN)
		return "bad message id length";
	if (r->prev_hash.len != SHA256_LEN ||
	    memcmp(r->prev_hash.data, prev, SHA256_LEN) != 0)
		return "previous hash does not link";
	if (r->hash.len != SHA256_LEN)
		return "bad hash length";
	audit_hash(r->seq, r->time_ns, r->event, r->message_id.data,
	    r->message_id.len, r->peer, r->uid, r->detail, prev, hash);
	if (memcmp(hash, r->hash.data, SHA256_LEN) != 0)
		return "hash does not match the record";
	return NULL;
}

int
audit_verify(struct store_txn *t, uint64_t *count, uint64_t *bad_seq,
    char *err, size_t errlen)
{
	Comity__AuditRecord	*r;
	struct store_cursor	*c;
	unsigned char		 prev[SHA256_LEN], hash[SHA256_LEN];
	unsigned char		 head[SHA256_LEN];
	const void		*k, *v;
	const char		*why;
	size_t			 kl, vl;
	uint64_t		 expect = 1, hseq, kseq;
	int			 rc;

	*count = 0;
	*bad_seq = 0;
	if (errlen > 0)
		err[0] = '\0';
	if ((rc = genesis_prev(t, prev)) != 0) {
		if (rc != COMITY_ENOTFOUND)
			return verify_fail(bad_seq, 0, err, errlen,
			    "genesis unreadable");
		rc = store_count(t, DB_AUDIT, &kseq);
		if (rc == 0 && kseq == 0 && audit_head(t, &hseq, head) ==
		    COMITY_ENOTFOUND)
			return 0;	/* never initialised: empty and intact */
		return verify_fail(bad_seq, 0, err, errlen,
		    "genesis missing");
	}
	if ((rc = store_cursor_open(t, DB_AUDIT, &c)) != 0)
		return rc;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl); rc == 0;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		if (kl != 8) {
			store_cursor_close(c);
			return verify_fail(bad_seq, expect, err, errlen,
			    "malformed key");
		}
		kseq = store_get_u64be(k);
		if (kseq != expect) {
			store_cursor_close(c);
			return verify_fail(bad_seq, expect, err, errlen,
			    kseq > expect ? "missing" : "out of order");
		}
		if ((r = wire_unpack(&comity__audit_record__descriptor, v,
		    vl)) == NULL) {
			store_cursor_close(c);
			return verify_fail(bad_seq, expect, err, errlen,
			    "undecodable");
		}
		why = check_record(r, expect, prev, hash);
		wire_free(r);
		if (why != NULL) {
			store_cursor_close(c);
			return verify_fail(bad_seq, expect, err, errlen, why);
		}
		memcpy(prev, hash, SHA256_LEN);
		expect++;
	}
	store_cursor_close(c);
	if (rc != COMITY_ENOTFOUND)
		return rc;

	if ((rc = audit_head(t, &hseq, head)) != 0)
		return verify_fail(bad_seq, expect, err, errlen,
		    "head missing or unreadable");
	if (hseq > expect - 1)
		return verify_fail(bad_seq, expect, err, errlen,
		    "missing: the head is further on (records truncated)");
	if (hseq < expect - 1)
		return verify_fail(bad_seq, hseq + 1, err, errlen,
		    "beyond the head");
	if (memcmp(head, prev, SHA256_LEN) != 0)
		return verify_fail(bad_seq, hseq, err, errlen,
		    "head hash does not match the last record");
	*count = expect - 1;
	return 0;
}
