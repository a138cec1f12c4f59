/*
 * auditchain.c - the canonical record hash and the record-by-record walk
 * (see auditchain.h; the chain is defined in audit.h).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

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
	char			 cpwhy[AUDIT_REASON_MAX];
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
	if (why == NULL && r->event == AUDIT_CHECKPOINT_EVENT) {
		if (audit_checkpoint_detail(r->detail, w->next, w->prev,
		    w->authority, w->trust, cpwhy, sizeof(cpwhy)) != 0) {
			why = cpwhy;
			rc = COMITY_ECORRUPT;
		} else {
			w->res->checkpoints++;
			w->res->last_checkpoint = w->next - 1;
			w->res->checkpoints_chained = w->trust != NULL;
		}
	}
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

/* ------------------------------------------------------------ checkpoints */

int
audit_checkpoint_text(const char *id, uint64_t seq,
    const unsigned char hash[AUDIT_HASH_LEN], int64_t time_ns, char *buf,
    size_t len)
{
	char	b64[48];
	int	n;

	if (id == NULL || id[0] == '\0' || strlen(id) > AUDIT_AUTHORITY_MAX ||
	    strchr(id, '\n') != NULL)
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, hash, AUDIT_HASH_LEN);
	n = snprintf(buf, len, "comity-audit/%s\n%" PRIu64 "\n%s\n%" PRId64
	    "\n", id, seq, b64, time_ns);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

uint8_t *
audit_b64_decode(const char *s, size_t max, size_t *len)
{
	size_t		 n = strlen(s), pad = 0;
	uint8_t		*out;
	int		 got;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > max + 2 || n > INT_MAX)
		return NULL;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	if ((out = malloc(n / 4 * 3 + 1)) == NULL)
		return NULL;
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > max) {
		free(out);
		return NULL;
	}
	*len = (size_t)got - pad;
	return out;
}

/* digits - a decimal without sign or leading zero; 0 or -1 */
static int
digits(const char *p, size_t n, uint64_t *v)
{
	*v = 0;
	if (n == 0 || n > 20 || (n > 1 && p[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' ||
		    *v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(p[i] - '0');
	}
	return 0;
}

int
audit_checkpoint_parse(const char *text, size_t len, char *id, uint64_t *seq,
    unsigned char hash[AUDIT_HASH_LEN], int64_t *time_ns)
{
	const char	*line[4], *p = text, *end = text + len, *nl;
	size_t		 ll[4], i, hl;
	uint64_t	 t;
	uint8_t		*h;
	char		 b64[48];

	if (len < 13 || memcmp(text, "comity-audit/", 13) != 0)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return -1;
		line[i] = p;
		ll[i] = (size_t)(nl - p);
		p = nl + 1;
	}
	if (p != end || ll[0] <= 13 || ll[0] - 13 > AUDIT_AUTHORITY_MAX ||
	    memchr(line[0], '\0', ll[0]) != NULL || ll[2] != 44)
		return -1;
	memcpy(id, line[0] + 13, ll[0] - 13);
	id[ll[0] - 13] = '\0';
	if (digits(line[1], ll[1], seq) != 0 || digits(line[3], ll[3], &t) != 0
	    || t > INT64_MAX)
		return -1;
	*time_ns = (int64_t)t;
	memcpy(b64, line[2], 44);
	b64[44] = '\0';
	if ((h = audit_b64_decode(b64, AUDIT_HASH_LEN, &hl)) == NULL)
		return -1;
	if (hl != AUDIT_HASH_LEN) {
		free(h);
		return -1;
	}
	memcpy(hash, h, AUDIT_HASH_LEN);
	free(h);
	return 0;
}

/* signer_id - the authority id in X's single comity URI SAN, or "" */
static void
signer_id(X509 *x, char id[AUDIT_AUTHORITY_MAX + 1])
{
	GENERAL_NAMES		*names;
	const GENERAL_NAME	*gn;
	const unsigned char	*u;
	size_t			 n, plen = strlen(ID_URI_PREFIX);
	int			 i, found = 0;

	id[0] = '\0';
	if ((names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL)) == NULL)
		return;
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type != GEN_URI)
			continue;
		found++;
		u = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		n = (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		if (n > plen && n - plen <= AUDIT_AUTHORITY_MAX &&
		    memcmp(u, ID_URI_PREFIX, plen) == 0 &&
		    memchr(u, '\0', n) == NULL) {
			memcpy(id, u + plen, n - plen);
			id[n - plen] = '\0';
		}
	}
	if (found != 1)
		id[0] = '\0';
	GENERAL_NAMES_free(names);
}

uint8_t *
audit_cms_open(const uint8_t *der, size_t len, X509_STORE *trust,
    size_t *clen, char signer[AUDIT_AUTHORITY_MAX + 1], char *err,
    size_t errlen)
{
	CMS_ContentInfo		*cms = NULL;
	const unsigned char	*p = der;
	BIO			*out = NULL;
	BUF_MEM			*bm;
	uint8_t			*content = NULL;
	unsigned int		 flags = CMS_BINARY;
	unsigned long		 e;

	ERR_clear_error();
	if (len == 0 || len > LONG_MAX ||
	    (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		CMS_ContentInfo_free(cms);
		snprintf(err, errlen, "not DER CMS");
		ERR_clear_error();
		return NULL;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		snprintf(err, errlen, "not signed data with one signer");
		goto done;
	}
	if (trust == NULL)
		flags |= CMS_NO_SIGNER_CERT_VERIFY;
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (CMS_verify(cms, NULL, trust, NULL, out, flags) != 1) {
		e = ERR_peek_last_error();
		snprintf(err, errlen, "signature check failed: %s",
		    e != 0 ? ERR_reason_error_string(e) : "unknown");
		goto done;
	}
	{
		STACK_OF(X509)	*s = CMS_get0_signers(cms);

		signer[0] = '\0';
		if (s != NULL && sk_X509_num(s) == 1)
			signer_id(sk_X509_value(s, 0), signer);
		sk_X509_free(s);
	}
	BIO_get_mem_ptr(out, &bm);
	if ((content = malloc(bm->length + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	memcpy(content, bm->data, bm->length);
	content[bm->length] = '\0';
	*clen = bm->length;
done:
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return content;
}

int
audit_checkpoint_detail(const char *detail, uint64_t rec_seq,
    const unsigned char prev[AUDIT_HASH_LEN], const char *authority,
    X509_STORE *trust, char *err, size_t errlen)
{
	unsigned char	 hash[AUDIT_HASH_LEN];
	char		 id[AUDIT_AUTHORITY_MAX + 1], signer[AUDIT_AUTHORITY_MAX + 1],
			 why[128];
	uint8_t		*der, *text;
	size_t		 dlen, tlen;
	uint64_t	 seq;
	int64_t		 t;
	int		 rc;

	if (detail == NULL || (der = audit_b64_decode(detail,
	    AUDIT_CHECKPOINT_DER_MAX, &dlen)) == NULL) {
		snprintf(err, errlen, "checkpoint: detail is not base64 DER");
		return -1;
	}
	text = audit_cms_open(der, dlen, trust, &tlen, signer, why,
	    sizeof(why));
	free(der);
	if (text == NULL) {
		snprintf(err, errlen, "checkpoint: %s", why);
		return -1;
	}
	rc = audit_checkpoint_parse((const char *)text, tlen, id, &seq, hash,
	    &t);
	free(text);
	if (rc != 0) {
		snprintf(err, errlen, "checkpoint: signed text malformed");
		return -1;
	}
	if (strcmp(signer, id) != 0) {
		snprintf(err, errlen, "checkpoint: for %s but signed by %s", id,
		    signer[0] != '\0' ? signer : "a certificate naming no "
		    "authority");
		return -1;
	}
	if (authority != NULL && authority[0] != '\0' &&
	    strcmp(id, authority) != 0) {
		snprintf(err, errlen, "checkpoint: signed for %s, not %s", id,
		    authority);
		return -1;
	}
	if (seq + 1 != rec_seq || memcmp(hash, prev, AUDIT_HASH_LEN) != 0) {
		snprintf(err, errlen, "checkpoint: signs seq %" PRIu64 " with "
		    "a hash the chain does not have there", seq);
		return -1;
	}
	return 0;
}

void
audit_walk_authority(struct audit_walk *w, const void *genesis, size_t len)
{
	w->authority[0] = '\0';
	if (len > 8 && len - 8 <= AUDIT_AUTHORITY_MAX) {
		memcpy(w->authority, (const char *)genesis + 8, len - 8);
		w->authority[len - 8] = '\0';
	}
}
