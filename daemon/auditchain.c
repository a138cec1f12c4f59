/*
 * auditchain.c - the canonical record hash and the record-by-record walk
 * (see auditchain.h; the chain is defined in audit.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "auditchain.h"
#include "bounds.h"
#include "comity.h"
#include "wire.h"

static void
be_put(unsigned char *out, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t
be_get(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* lp - u32be(len) || bytes; returns the digest update's outcome */
static int
lp(EVP_MD_CTX *ctx, const void *p, size_t n)
{
	unsigned char len[4];

	be_put(len, n, 4);
	if (EVP_DigestUpdate(ctx, len, 4) != 1)
		return 0;
	return n == 0 || EVP_DigestUpdate(ctx, p, n) == 1;
}

int
audit_chain_hash(uint64_t seq, int64_t time_ns, uint32_t event,
    const uint8_t *msg_id, size_t msg_id_len, const char *peer,
    uint32_t uid, const char *detail, const unsigned char prev[32],
    unsigned char out[32])
{
	static const char	 tag[] = "comity-audit-v1";	/* + its NUL */
	EVP_MD_CTX		*ctx;
	unsigned char		 b[8 + 8 + 2], u[4], dh[AUDIT_HASH_LEN];
	unsigned int		 dlen = 0, olen = 0;
	int			 ok;

	if (detail == NULL)
		detail = "";
	if (peer == NULL)
		peer = "";
	if (msg_id == NULL)
		msg_id_len = 0;
	if (EVP_Digest(detail, strlen(detail), dh, &dlen, EVP_sha256(),
	    NULL) != 1 || dlen != AUDIT_HASH_LEN)
		return COMITY_ENOMEM;
	be_put(b, seq, 8);
	be_put(b + 8, (uint64_t)time_ns, 8);
	be_put(b + 16, event, 2);
	be_put(u, uid, 4);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return COMITY_ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, tag, sizeof(tag)) == 1 &&
	    EVP_DigestUpdate(ctx, b, sizeof(b)) == 1 &&
	    lp(ctx, msg_id, msg_id_len) &&
	    lp(ctx, peer, strlen(peer)) &&
	    EVP_DigestUpdate(ctx, u, sizeof(u)) == 1 &&
	    EVP_DigestUpdate(ctx, dh, sizeof(dh)) == 1 &&
	    EVP_DigestUpdate(ctx, prev, AUDIT_HASH_LEN) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &olen) == 1 &&
	    olen == AUDIT_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : COMITY_ENOMEM;
}

int
audit_chain_genesis_hash(const char *authority_id, size_t idlen,
    int64_t created_ns, unsigned char out[AUDIT_HASH_LEN])
{
	static const char	 tag[] = "comity-audit-genesis";
	EVP_MD_CTX		*ctx;
	unsigned char		 b[8];
	unsigned int		 olen = 0;
	int			 ok;

	be_put(b, (uint64_t)created_ns, 8);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return COMITY_ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, tag, sizeof(tag)) == 1 &&
	    EVP_DigestUpdate(ctx, authority_id, idlen) == 1 &&
	    EVP_DigestUpdate(ctx, b, sizeof(b)) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &olen) == 1 &&
	    olen == AUDIT_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : COMITY_ENOMEM;
}

int
audit_chain_genesis(const void *val, size_t len,
    unsigned char out[AUDIT_HASH_LEN])
{
	if (len <= 8 || len > 8 + ID_MAX)
		return COMITY_ECORRUPT;
	return audit_chain_genesis_hash((const char *)val + 8, len - 8,
	    (int64_t)be_get(val, 8), out);
}

int
audit_result_fail(struct audit_result *res, uint64_t seq, const char *reason)
{
	res->ok = 0;
	res->bad_seq = seq;
	snprintf(res->reason, sizeof(res->reason), "%s", reason);
	return COMITY_ECORRUPT;
}

int
audit_walk_begin(struct audit_walk *w, const unsigned char genesis[32],
    const struct audit_witness *witness, struct audit_result *res)
{
	memset(w, 0, sizeof(*w));
	memset(res, 0, sizeof(*res));
	w->res = res;
	w->next = 1;
	memcpy(w->prev, genesis, AUDIT_HASH_LEN);
	if (witness != NULL) {
		w->has_witness = 1;
		w->witness = *witness;
		if (witness->seq == 0) {
			if (memcmp(witness->hash, genesis, AUDIT_HASH_LEN) != 0)
				return audit_result_fail(res, 0, "the genesis "
				    "differs from the witness");
			res->witnessed = 1;
		}
	}
	return 0;
}

/* check - one decoded record against its place in the chain */
static const char *
check(const Comity__AuditRecord *r, uint64_t seq,
    const unsigned char prev[AUDIT_HASH_LEN],
    unsigned char hash[AUDIT_HASH_LEN], int *rc)
{
	*rc = COMITY_ECORRUPT;
	if (r->seq != seq)
		return "sequence number differs from its key";
	if (r->event == 0 || r->event > 0xffff)
		return "event out of range";
	if (r->message_id.len != 0 && r->message_id.len != ENVELOPE_ID_LEN)
		return "bad message id length";
	if (r->prev_hash.len != AUDIT_HASH_LEN ||
	    memcmp(r->prev_hash.data, prev, AUDIT_HASH_LEN) != 0)
		return "previous hash does not link";
	if (r->hash.len != AUDIT_HASH_LEN)
		return "bad hash length";
	if ((*rc = audit_chain_hash(r->seq, r->time_ns, r->event,
	    r->message_id.data, r->message_id.len, r->peer, r->uid, r->detail,
	    prev, hash)) != 0)
		return "cannot compute SHA-256";
	*rc = COMITY_ECORRUPT;
	if (memcmp(hash, r->hash.data, AUDIT_HASH_LEN) != 0)
		return "hash does not match the record";
	*rc = 0;
	return NULL;
}

int
audit_walk_step(struct audit_walk *w, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	Comity__AuditRecord	*r;
	unsigned char		 hash[AUDIT_HASH_LEN];
	const char		*why;
	uint64_t		 kseq;
	int			 rc;

	if (klen != 8)
		return audit_result_fail(w->res, w->next, "malformed key");
	kseq = be_get(key, 8);
	if (kseq != w->next)
		return audit_result_fail(w->res, w->next, kseq > w->next ?
		    "missing" : "out of order");
	r = wire_unpack(&comity__audit_record__descriptor, val, vlen);
	if (r == NULL)
		return audit_result_fail(w->res, w->next, "undecodable");
	why = check(r, w->next, w->prev, hash, &rc);
	if (why == NULL && w->next > 1 && r->time_ns < w->last_time) {
		if (w->res->regressions++ == 0)
			w->res->first_regression = w->next;
	}
	if (why == NULL)
		w->last_time = r->time_ns;
	wire_free(r);
	if (why != NULL) {
		if (rc == COMITY_ECORRUPT)
			audit_result_fail(w->res, w->next, why);
		return rc;
	}
	if (w->has_witness && w->witness.seq == w->next) {
		if (memcmp(w->witness.hash, hash, AUDIT_HASH_LEN) != 0)
			return audit_result_fail(w->res, w->next, "differs "
			    "from the witness (the chain was rewritten from "
			    "here or earlier)");
		w->res->witnessed = 1;
	}
	memcpy(w->prev, hash, AUDIT_HASH_LEN);
	w->res->count = w->next;
	w->next++;
	return 0;
}

int
audit_walk_end(struct audit_walk *w, const unsigned char *head,
    size_t head_len)
{
	struct audit_result	*res = w->res;
	uint64_t		 last = w->next - 1, hseq;
	char			 why[AUDIT_REASON_MAX];

	if (head == NULL || head_len != AUDIT_HEAD_LEN)
		return audit_result_fail(res, w->next,
		    "head missing or unreadable");
	hseq = be_get(head, 8);
	res->head_seq = hseq;
	memcpy(res->head_hash, head + 8, AUDIT_HASH_LEN);
	if (hseq > last)
		return audit_result_fail(res, w->next,
		    "missing: the head is further on (records truncated)");
	if (hseq < last)
		return audit_result_fail(res, hseq + 1, "beyond the head");
	if (memcmp(head + 8, w->prev, AUDIT_HASH_LEN) != 0)
		return audit_result_fail(res, hseq,
		    "head hash does not match the last record");
	if (w->has_witness && w->witness.seq > last) {
		snprintf(why, sizeof(why), "missing: the chain ends at seq "
		    "%llu but the witness holds seq %llu (records removed from "
		    "the end)", (unsigned long long)last,
		    (unsigned long long)w->witness.seq);
		return audit_result_fail(res, w->next, why);
	}
	res->ok = 1;
	res->bad_seq = 0;
	res->reason[0] = '\0';
	return 0;
}
