/*
 * seal.c - CMS SignedData and AuthEnvelopedData (see seal.h).
 *
 * Everything goes through OpenSSL's CMS API with memory BIOs; inputs are
 * parsed with d2i and must be exactly one DER object of the expected
 * content type, so trailing bytes or a plain EnvelopedData (no
 * authentication tag) are refused before any key is used.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/buffer.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "seal.h"

#define SEAL_GCM_TAG_LEN	16	/* RFC 5084 allows 12..16; we send 16 */
#define SEAL_TRUSTED_MAX	64	/* signers remembered */

struct seal_trusted {
	pthread_mutex_t	 mtx;
	struct {
		X509	*cert;		/* a reference */
		time_t	 until;
	}		 e[SEAL_TRUSTED_MAX];
	size_t		 next;		/* the slot to reuse when full */
	/* SHA-256 of certificates fields that parsed, in a message whose
	 * signature then passed: cut unparsed when seen again */
	uint8_t		 known[SEAL_TRUSTED_MAX][SHA256_DIGEST_LENGTH];
	size_t		 nknown, known_next;
};

/*
 * fail - "WHAT: reason" into err, the reason taken from the OpenSSL error
 * queue (the last entry, with its data: "certificate revoked" and the
 * like), which is then cleared.
 */
static void
fail(char *err, size_t errlen, const char *what)
{
	unsigned long	 e, last = 0;
	const char	*data = NULL, *d;
	int		 flags;
	char		 reason[256];

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &d, &flags)) != 0) {
		last = e;
		if ((flags & ERR_TXT_STRING) && d != NULL && *d != '\0')
			data = d;
	}
	if (last == 0) {
		snprintf(err, errlen, "%s", what);
		return;
	}
	ERR_error_string_n(last, reason, sizeof(reason));
	if (ERR_reason_error_string(last) != NULL)
		snprintf(reason, sizeof(reason), "%s",
		    ERR_reason_error_string(last));
	snprintf(err, errlen, "%s: %s%s%s", what, reason,
	    data != NULL ? ": " : "", data != NULL ? data : "");
}

/* der - the DER of CMS (malloc'd) */
static uint8_t *
der(CMS_ContentInfo *cms, size_t *outlen)
{
	unsigned char	*buf, *p;
	int		 n;

	if ((n = i2d_CMS_ContentInfo(cms, NULL)) <= 0)
		return NULL;
	if ((buf = malloc((size_t)n)) == NULL)
		return NULL;
	p = buf;
	if (i2d_CMS_ContentInfo(cms, &p) != n) {
		free(buf);
		return NULL;
	}
	*outlen = (size_t)n;
	return buf;
}

/* parse - exactly one DER CMS object of content type NID */
static CMS_ContentInfo *
parse(const uint8_t *buf, size_t len, int nid, const char *what, char *err,
    size_t errlen)
{
	CMS_ContentInfo		*cms;
	const unsigned char	*p = buf;

	if (len == 0 || len > LONG_MAX) {
		snprintf(err, errlen, "%s: empty or too large", what);
		return NULL;
	}
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL) {
		fail(err, errlen, what);
		return NULL;
	}
	if (p != buf + len) {
		snprintf(err, errlen, "%s: %zu bytes after the CMS object",
		    what, len - (size_t)(p - buf));
		goto bad;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != nid) {
		snprintf(err, errlen, "%s: CMS %s, not %s", what,
		    OBJ_nid2sn(OBJ_obj2nid(CMS_get0_type(cms))),
		    OBJ_nid2sn(nid));
		goto bad;
	}
	return cms;
bad:
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return NULL;
}

/*
 * der_enter - read the header of the next DER object at *P (before END):
 * sets *P to its contents and returns their length, with the tag and
 * class; -1 for a malformed or indefinite-length header.
 */
static long
der_enter(const unsigned char **p, const unsigned char *end, int *tag,
    int *cls)
{
	long	len;
	int	ret;

	ret = ASN1_get_object(p, &len, tag, cls, end - *p);
	if ((ret & 0x80) || (ret & 0x01) || len > end - *p)
		return -1;
	return len;
}

/*
 * der_typed - enter SEQUENCE { OID, [0] EXPLICIT X } at *P (a ContentInfo
 * or an EncapsulatedContentInfo), then X's header: sets *P to X's
 * contents and returns their length, with X's tag and class; -1 if the
 * structure is not so.
 */
static long
der_typed(const unsigned char **p, const unsigned char *end, int *tag,
    int *cls)
{
	long	len;

	if (der_enter(p, end, tag, cls) < 0 || *tag != V_ASN1_SEQUENCE ||
	    (len = der_enter(p, end, tag, cls)) < 0 || *tag != V_ASN1_OBJECT)
		return -1;
	*p += len;
	if (der_enter(p, end, tag, cls) < 0 ||
	    *cls != V_ASN1_CONTEXT_SPECIFIC || *tag != 0)
		return -1;
	return der_enter(p, end, tag, cls);
}

/*
 * gcm_tag_len - the length of the mac (the GCM tag) of DER
 * ContentInfo{authEnvelopedData}: the first OCTET STRING directly inside
 * AuthEnvelopedData (RFC 5083: version, [0] originatorInfo,
 * recipientInfos, authEncryptedContentInfo, [1] authAttrs, mac).
 * OpenSSL 3.0 accepts a tag cut down to 4 bytes and has no accessor for
 * it, so it is found here.  -1 if the structure is not as expected.
 */
static long
gcm_tag_len(const unsigned char *buf, size_t blen)
{
	const unsigned char	*p = buf, *end = buf + blen, *aed_end;
	long			 len;
	int			 tag, cls;

	/* ContentInfo SEQUENCE, contentType OID, [0] EXPLICIT, SEQUENCE */
	if ((len = der_typed(&p, end, &tag, &cls)) < 0 ||
	    tag != V_ASN1_SEQUENCE)
		return -1;
	aed_end = p + len;
	while (p < aed_end) {
		if ((len = der_enter(&p, aed_end, &tag, &cls)) < 0)
			return -1;
		if (cls == V_ASN1_UNIVERSAL && tag == V_ASN1_OCTET_STRING)
			return len;
		p += len;
	}
	return -1;
}

/*
 * header_is - whether the DER header at P..END is exactly the canonical
 * (minimal length, constructed) header of TAG/CLS with LEN contents.
 */
static int
header_is(const unsigned char *p, const unsigned char *end, long len,
    int tag, int cls)
{
	unsigned char	h[16], *q = h;
	int		n;

	if ((n = ASN1_object_size(1, len, tag) - (int)len) <= 0 ||
	    n > (int)sizeof(h) || end - p < n)
		return 0;
	ASN1_put_object(&q, 1, (int)len, tag, cls);
	return q - h == n && memcmp(h, p, (size_t)n) == 0;
}

/*
 * without_certs - a copy of DER ContentInfo{signedData} BUF without the
 * SignedData's certificates field (RFC 5652 5.1: [0] IMPLICIT, outside
 * what the signature covers), the field itself in *certs / *certslen, or
 * NULL when there is none or BUF is not canonical DER down to the
 * SignedData (then BUF is parsed as it is).  When the signer's
 * certificate is given (CMS_NOINTERN), the embedded ones are never used,
 * and OpenSSL 3.0 spends more time decoding a certificate's public key
 * than checking the signature.  The copy is exactly BUF less the field,
 * with the three enclosing lengths made smaller.  Sets *outlen.
 */
static uint8_t *
without_certs(const uint8_t *buf, size_t blen, size_t *outlen,
    const uint8_t **certs, size_t *certslen)
{
	const unsigned char	*p = buf, *end = buf + blen, *h, *oid, *sd;
	const unsigned char	*sd_end, *c = NULL, *c_end = NULL, *el;
	unsigned char		*out, *q;
	long			 len, oidlen, sdlen, explen, cilen;
	int			 tag, cls, i;

	/* each header canonical and spanning exactly to the end */
	if (blen > INT_MAX / 2 || (len = der_enter(&p, end, &tag, &cls)) < 0 ||
	    !header_is(buf, end, len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) ||
	    p + len != end)
		return NULL;
	oid = p;
	if ((len = der_enter(&p, end, &tag, &cls)) < 0 ||
	    tag != V_ASN1_OBJECT)
		return NULL;
	p += len;
	oidlen = p - oid;
	h = p;
	if ((len = der_enter(&p, end, &tag, &cls)) < 0 ||
	    !header_is(h, end, len, 0, V_ASN1_CONTEXT_SPECIFIC) ||
	    p + len != end)
		return NULL;
	h = p;
	if ((len = der_enter(&p, end, &tag, &cls)) < 0 ||
	    !header_is(h, end, len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) ||
	    p + len != end)
		return NULL;
	sd = p;
	sd_end = p + len;
	/* version, digestAlgorithms, encapContentInfo, then [0] if any */
	for (i = 0; p < sd_end; i++) {
		el = p;
		if ((len = der_enter(&p, sd_end, &tag, &cls)) < 0)
			return NULL;
		p += len;
		if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0) {
			if (i != 3)
				return NULL;	/* misplaced: parse() says */
			c = el;
			c_end = p;
		}
	}
	if (c == NULL)
		return NULL;
	sdlen = (sd_end - sd) - (c_end - c);
	explen = ASN1_object_size(1, sdlen, V_ASN1_SEQUENCE);
	cilen = explen > 0 ? ASN1_object_size(1, oidlen +
	    ASN1_object_size(1, explen, 0), V_ASN1_SEQUENCE) : -1;
	if (cilen <= 0 || (out = malloc((size_t)cilen)) == NULL)
		return NULL;
	q = out;
	ASN1_put_object(&q, 1, (int)(oidlen + ASN1_object_size(1, explen, 0)),
	    V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(q, oid, (size_t)oidlen);
	q += oidlen;
	ASN1_put_object(&q, 1, (int)explen, 0, V_ASN1_CONTEXT_SPECIFIC);
	ASN1_put_object(&q, 1, (int)sdlen, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(q, sd, (size_t)(c - sd));
	q += c - sd;
	memcpy(q, c_end, (size_t)(sd_end - c_end));
	q += sd_end - c_end;
	if (q - out != cilen) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)cilen;
	*certs = c;
	*certslen = (size_t)(c_end - c);
	return out;
}

const uint8_t *
seal_peek(const uint8_t *buf, size_t blen, size_t *clen)
{
	const unsigned char	*p = buf, *end = buf + blen;
	long			 len;
	int			 tag, cls, i;

	/* ContentInfo SEQUENCE, OID, [0], SignedData SEQUENCE */
	if (blen > LONG_MAX || der_typed(&p, end, &tag, &cls) < 0 ||
	    tag != V_ASN1_SEQUENCE)
		goto bad;
	/* version INTEGER, digestAlgorithms SET */
	for (i = 0; i < 2; i++) {
		if ((len = der_enter(&p, end, &tag, &cls)) < 0)
			goto bad;
		p += len;
	}
	/* EncapsulatedContentInfo SEQUENCE, eContentType, [0], OCTET STRING */
	if ((len = der_typed(&p, end, &tag, &cls)) < 0 ||
	    cls != V_ASN1_UNIVERSAL || tag != V_ASN1_OCTET_STRING)
		goto bad;
	*clen = (size_t)len;
	return p;
bad:
	ERR_clear_error();
	return NULL;
}

/*
 * gcm_tag_ok - the tag of parsed CMS (from BODY) is SEAL_GCM_TAG_LEN
 * bytes.  A BER body (indefinite lengths, as some encoders stream) is
 * re-encoded as DER first.
 */
static int
gcm_tag_ok(CMS_ContentInfo *cms, const uint8_t *body, size_t blen)
{
	unsigned char	*der = NULL;
	long		 n;
	int		 dlen;

	if ((n = gcm_tag_len(body, blen)) >= 0)
		return n == SEAL_GCM_TAG_LEN;
	if ((dlen = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		return 0;
	n = gcm_tag_len(der, (size_t)dlen);
	OPENSSL_free(der);
	return n == SEAL_GCM_TAG_LEN;
}

/*
 * mem_out - a writable memory BIO with room for CAP bytes from the start,
 * so that CMS writing a document into it does not grow it step by step
 * (each step a new buffer, a copy, and the old one cleared).  It still
 * grows past CAP if need be.  NULL when out of memory.
 */
static BIO *
mem_out(size_t cap)
{
	BIO	*b;
	BUF_MEM	*bm;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if ((bm = BUF_MEM_new()) == NULL ||
	    (cap > 0 && (bm->data = OPENSSL_malloc(cap)) == NULL)) {
		BUF_MEM_free(bm);
		BIO_free(b);
		return NULL;
	}
	bm->max = cap;		/* length 0: nothing written yet */
	BIO_set_mem_buf(b, bm, BIO_CLOSE);
	return b;
}

/*
 * take - the contents of memory BIO B (malloc'd: free() it; B is left
 * empty).  The BIO's buffer is handed over rather than copied when
 * OpenSSL allocates with the C library's malloc, as it does unless
 * CRYPTO_set_mem_functions() said otherwise (comityd never does; a
 * library might): else it is copied and cleared.  The caller must not
 * have read from B.  NULL when out of memory.
 */
static uint8_t *
take(BIO *b, size_t *len)
{
	CRYPTO_malloc_fn	 m;
	CRYPTO_realloc_fn	 r;
	CRYPTO_free_fn		 f;
	BUF_MEM			*bm = NULL, *fresh;
	uint8_t			*out;

	if (BIO_get_mem_ptr(b, &bm) != 1 || bm == NULL)
		return NULL;
	/* never malloc(0): an empty content is still a valid result */
	if (bm->length == 0 || bm->data == NULL) {
		*len = 0;
		return malloc(1);
	}
	CRYPTO_get_mem_functions(&m, &r, &f);
	if (m != CRYPTO_malloc || r != CRYPTO_realloc || f != CRYPTO_free) {
		if ((out = malloc(bm->length)) == NULL)
			return NULL;
		memcpy(out, bm->data, bm->length);
		OPENSSL_cleanse(bm->data, bm->length);
		*len = bm->length;
		return out;
	}
	/* B gets an empty buffer of its own before its old one is taken */
	if ((fresh = BUF_MEM_new()) == NULL)
		return NULL;
	(void)BIO_set_close(b, BIO_NOCLOSE);
	out = (uint8_t *)bm->data;
	*len = bm->length;
	bm->data = NULL;
	bm->length = bm->max = 0;
	BIO_set_mem_buf(b, fresh, BIO_CLOSE);
	BUF_MEM_free(bm);
	return out;
}

static BIO *
mem_in(const uint8_t *buf, size_t len)
{
	if (len > INT_MAX)
		return NULL;
	return BIO_new_mem_buf(buf, (int)len);
}

uint8_t *
seal_sign(const struct seal_keys *k, const uint8_t *content, size_t clen,
    size_t *outlen, char *err, size_t errlen)
{
	CMS_ContentInfo	*cms;
	BIO		*in;
	uint8_t		*out = NULL;

	ERR_clear_error();
	if ((in = mem_in(content, clen)) == NULL) {
		snprintf(err, errlen, "sign: content too large");
		return NULL;
	}
	cms = CMS_sign(k->cert, k->key, NULL, in, CMS_BINARY | CMS_NOSMIMECAP);
	if (cms == NULL)
		fail(err, errlen, "sign");
	else if ((out = der(cms, outlen)) == NULL)
		fail(err, errlen, "sign: encoding");
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return out;
}

struct seal_trusted *
seal_trusted_new(void)
{
	struct seal_trusted	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (pthread_mutex_init(&t->mtx, NULL) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

void
seal_trusted_free(struct seal_trusted *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < SEAL_TRUSTED_MAX; i++)
		X509_free(t->e[i].cert);
	pthread_mutex_destroy(&t->mtx);
	free(t);
}

/* trusted_find - whether CERT's chain passed less than a while ago */
static int
trusted_find(struct seal_trusted *t, X509 *cert, time_t now)
{
	size_t	i;
	int	found = 0;

	pthread_mutex_lock(&t->mtx);
	for (i = 0; i < SEAL_TRUSTED_MAX && !found; i++)
		found = t->e[i].cert != NULL && now < t->e[i].until &&
		    X509_cmp(t->e[i].cert, cert) == 0;
	pthread_mutex_unlock(&t->mtx);
	return found;
}

static void
trusted_add(struct seal_trusted *t, X509 *cert, time_t now)
{
	const ASN1_TIME	*na = X509_get0_notAfter(cert);
	time_t		 until = now + SEAL_TRUSTED_SECS;
	size_t		 i, slot;
	int		 day, sec;

	/* never remember it past its expiry */
	if (ASN1_TIME_diff(&day, &sec, NULL, na) != 1)
		return;
	if ((long long)day * 86400 + sec < SEAL_TRUSTED_SECS)
		until = now + (time_t)day * 86400 + sec;
	if (until <= now || X509_up_ref(cert) != 1)
		return;
	pthread_mutex_lock(&t->mtx);
	slot = t->next;
	for (i = 0; i < SEAL_TRUSTED_MAX; i++)
		if (t->e[i].cert == NULL || t->e[i].until <= now ||
		    X509_cmp(t->e[i].cert, cert) == 0) {
			slot = i;
			break;
		}
	if (slot == t->next)
		t->next = (t->next + 1) % SEAL_TRUSTED_MAX;
	X509_free(t->e[slot].cert);
	t->e[slot].cert = cert;
	t->e[slot].until = until;
	pthread_mutex_unlock(&t->mtx);
}

/* known_certs - whether certificates field H parsed before (H_LEN 32) */
static int
known_certs(struct seal_trusted *t, const uint8_t *h, int add)
{
	size_t	i;
	int	found = 0;

	pthread_mutex_lock(&t->mtx);
	for (i = 0; i < t->nknown && !found; i++)
		found = memcmp(t->known[i], h, SHA256_DIGEST_LENGTH) == 0;
	if (!found && add) {
		memcpy(t->known[t->known_next], h, SHA256_DIGEST_LENGTH);
		t->known_next = (t->known_next + 1) % SEAL_TRUSTED_MAX;
		if (t->nknown < SEAL_TRUSTED_MAX)
			t->nknown++;
	}
	pthread_mutex_unlock(&t->mtx);
	return found;
}

/*
 * signer_chain_ok - SIGNER chains to K's trust store (CRL and strict
 * flags included) for S/MIME signing, as CMS_verify() would check it;
 * remembered in K's seal_trusted.  0 with the reason in err.
 */
static int
signer_chain_ok(const struct seal_keys *k, X509 *signer, char *err,
    size_t errlen)
{
	X509_STORE_CTX	*ctx;
	time_t		 now = time(NULL);
	int		 ok, e;

	if (k->trusted != NULL && trusted_find(k->trusted, signer, now))
		return 1;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, k->trust, signer, NULL) != 1 ||
	    X509_STORE_CTX_set_default(ctx, "smime_sign") != 1) {
		X509_STORE_CTX_free(ctx);
		fail(err, errlen, "signature check failed");
		return 0;
	}
	ok = X509_verify_cert(ctx) == 1;
	e = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	if (!ok) {
		snprintf(err, errlen, "signature check failed: certificate "
		    "verify error: Verify error:%s",
		    X509_verify_cert_error_string(e));
		return 0;
	}
	if (k->trusted != NULL)
		trusted_add(k->trusted, signer, now);
	return 1;
}

uint8_t *
seal_verify(const struct seal_keys *k, X509 *signer, const uint8_t *buf,
    size_t len, size_t *clen, char *err, size_t errlen)
{
	CMS_ContentInfo		*cms;
	STACK_OF(X509)		*certs = NULL;
	BIO			*out = NULL;
	uint8_t			*content = NULL, *bare = NULL;
	uint8_t			 h[SHA256_DIGEST_LENGTH];
	const uint8_t		*cf;
	size_t			 barelen, cflen;
	unsigned int		 flags = CMS_BINARY;
	int			 learn = 0;

	ERR_clear_error();
	/*
	 * Only SIGNER counts, so embedded certificates need no parsing --
	 * once their bytes have been seen to parse (in a message whose
	 * signature passed): what is accepted must stay readable by
	 * `openssl cms` when exported.
	 */
	if (signer != NULL && k->trusted != NULL &&
	    (bare = without_certs(buf, len, &barelen, &cf, &cflen)) != NULL) {
		SHA256(cf, cflen, h);
		if (known_certs(k->trusted, h, 0)) {
			buf = bare;
			len = barelen;
		} else {
			free(bare);
			bare = NULL;
			learn = 1;
		}
	}
	ERR_clear_error();	/* what a failed look left: parse() tells */
	cms = parse(buf, len, NID_pkcs7_signed, "signed data", err, errlen);
	free(bare);
	if (cms == NULL)
		return NULL;
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		snprintf(err, errlen, "signed data: %d signers, not one",
		    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)));
		goto out;
	}
	if (signer != NULL) {
		/* only SIGNER may have signed, whatever the CMS embeds */
		if ((certs = sk_X509_new_null()) == NULL ||
		    !sk_X509_push(certs, signer)) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		/* the chain once, here; CMS checks the signature */
		if (!signer_chain_ok(k, signer, err, errlen))
			goto out;
		flags |= CMS_NOINTERN;
	}
	flags |= CMS_NO_SIGNER_CERT_VERIFY;
	if ((out = mem_out(len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (CMS_verify(cms, certs, k->trust, NULL, out, flags) != 1) {
		fail(err, errlen, "signature check failed");
		goto out;
	}
	if (learn)
		known_certs(k->trusted, h, 1);
	if ((content = take(out, clen)) == NULL)
		snprintf(err, errlen, "out of memory");
out:
	BIO_free(out);
	sk_X509_free(certs);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return content;
}

uint8_t *
seal_request(const struct seal_keys *k, X509 *rcpt, const uint8_t *plain,
    size_t plen, size_t *outlen, char *err, size_t errlen)
{
	CMS_ContentInfo		*cms = NULL;
	CMS_RecipientInfo	*ri;
	EVP_PKEY_CTX		*pctx;
	BIO			*in = NULL;
	uint8_t			*sig, *out = NULL;
	size_t			 slen;

	if ((sig = seal_sign(k, plain, plen, &slen, err, errlen)) == NULL)
		return NULL;
	if ((in = mem_in(sig, slen)) == NULL) {
		snprintf(err, errlen, "seal: content too large");
		goto out;
	}
	cms = CMS_encrypt(NULL, NULL, EVP_aes_256_gcm(),
	    CMS_BINARY | CMS_PARTIAL);
	if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) !=
	    NID_id_smime_ct_authEnvelopedData) {
		fail(err, errlen, "seal: AES-256-GCM AuthEnvelopedData");
		goto out;
	}
	if ((ri = CMS_add1_recipient_cert(cms, rcpt, CMS_KEY_PARAM)) == NULL) {
		fail(err, errlen, "seal: recipient certificate");
		goto out;
	}
	/* ECDH: derive the key-encryption key with SHA-256, not SHA-1 */
	if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE &&
	    ((pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL ||
	    EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0)) {
		fail(err, errlen, "seal: ECDH parameters");
		goto out;
	}
	if (CMS_final(cms, in, NULL, CMS_BINARY) != 1) {
		fail(err, errlen, "seal");
		goto out;
	}
	if ((out = der(cms, outlen)) == NULL)
		fail(err, errlen, "seal: encoding");
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	free(sig);
	ERR_clear_error();
	return out;
}

/*
 * sealed_to - whether one of CMS's key-agreement recipients is CERT
 * (issuer and serial, or subject key id), so that a failed decryption
 * can say "not for us" apart from "altered".
 */
static int
sealed_to(CMS_ContentInfo *cms, X509 *cert)
{
	STACK_OF(CMS_RecipientInfo)		*ris;
	STACK_OF(CMS_RecipientEncryptedKey)	*reks;
	CMS_RecipientInfo			*ri;
	int					 i, j;

	if ((ris = CMS_get0_RecipientInfos(cms)) == NULL)
		return 0;
	for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		ri = sk_CMS_RecipientInfo_value(ris, i);
		if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS) {
			if (CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
				return 1;
			continue;
		}
		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_AGREE ||
		    (reks = CMS_RecipientInfo_kari_get0_reks(ri)) == NULL)
			continue;
		for (j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++)
			if (CMS_RecipientEncryptedKey_cert_cmp(
			    sk_CMS_RecipientEncryptedKey_value(reks, j),
			    cert) == 0)
				return 1;
	}
	return 0;
}

/*
 * retired_decrypt - a request sealed to our previous certificate: try
 * every recipient with KEY, on a fresh parse (a failed CMS_decrypt leaves
 * state behind in the object).  Returns 1 with the content in OUT.
 */
static int
retired_decrypt(EVP_PKEY *key, const uint8_t *body, size_t blen, BIO *out)
{
	CMS_ContentInfo		*cms;
	const unsigned char	*p = body;
	int			 ok;

	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)blen)) == NULL)
		return 0;
	(void)BIO_reset(out);
	ok = CMS_decrypt(cms, key, NULL, NULL, out, CMS_BINARY);
	CMS_ContentInfo_free(cms);
	if (ok == 1)
		ERR_clear_error();	/* the first attempt's errors */
	return ok;
}

uint8_t *
seal_open(const struct seal_keys *k, X509 *signer, const uint8_t *body,
    size_t blen, size_t *plen, char *err, size_t errlen)
{
	CMS_ContentInfo	*cms;
	BIO		*out = NULL;
	uint8_t		*inner = NULL, *content = NULL;
	size_t		 ilen;

	ERR_clear_error();
	if ((cms = parse(body, blen, NID_id_smime_ct_authEnvelopedData,
	    "body", err, errlen)) == NULL)
		return NULL;
	if (!gcm_tag_ok(cms, body, blen)) {
		snprintf(err, errlen, "body: the GCM tag is not %d bytes",
		    SEAL_GCM_TAG_LEN);
		goto out;
	}
	if ((out = mem_out(blen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (!sealed_to(cms, k->cert) && k->retired == NULL) {
		snprintf(err, errlen, "not sealed to us: no recipient is our "
		    "certificate");
		goto out;
	}
	if (CMS_decrypt(cms, k->key, k->cert, NULL, out, CMS_BINARY) != 1 &&
	    (k->retired == NULL ||
	    retired_decrypt(k->retired, body, blen, out) != 1)) {
		fail(err, errlen, k->retired == NULL ? "cannot decrypt (altered "
		    "in transit or storage)" : "cannot decrypt with our key or "
		    "the retired key (not sealed to us, or altered)");
		goto out;
	}
	if ((inner = take(out, &ilen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	content = seal_verify(k, signer, inner, ilen, plen, err, errlen);
	OPENSSL_cleanse(inner, ilen);
	free(inner);
out:
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return content;
}
