/*
 * fuzz_cms.c - what a peer's bytes reach in seal.c: a sealed request
 * body (seal_open) and a receipt (seal_verify), each with the sender's
 * certificate expected and without it, under the keys in
 * COMITY_FUZZ_KEYS (made once with certs/mkpki, see keys/README.md).
 * We are AA-ONE, with a retired key AA-ONE-old; the peer is BB-TWO.
 *
 * Beyond "no crash, no leak, no UB", it checks what seal.h promises: a
 * refusal has a one-line, non-empty reason, and the OpenSSL error queue
 * is left empty either way.  Opened content goes on to the decoder the
 * daemon gives it to (Request, ReceiptContent).
 *
 * Each call is made again through keys with a cache of trusted signers,
 * as the daemon's are, and must give the same result.  With the signer
 * given and a cache, seal.c cuts a certificates field it has seen parse
 * out of a SignedData before parsing the rest; that must never make it
 * accept what OpenSSL refuses to parse as it is (one CMS object).
 *
 * Certificates are checked at a fixed time (the day after AA-ONE's
 * notBefore), so runs do not depend on the clock and the keys do not
 * expire for this target.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "seal.h"
#include "wire.h"

#ifndef COMITY_FUZZ_KEYS
#error "COMITY_FUZZ_KEYS (the directory of the fuzz keys) is not defined"
#endif

static struct seal_keys	 keys, cached;	/* cached: seal_trusted */
static X509		*peer;

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "fuzz_cms: cannot load %s/%s\n", COMITY_FUZZ_KEYS,
	    what);
	abort();
}

static FILE *
open_key_file(const char *name)
{
	char	 path[4096];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", COMITY_FUZZ_KEYS, name);
	if ((fp = fopen(path, "r")) == NULL)
		die(name);
	return fp;
}

static EVP_PKEY *
load_key(const char *name)
{
	FILE		*fp = open_key_file(name);
	EVP_PKEY	*k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);

	fclose(fp);
	if (k == NULL)
		die(name);
	return k;
}

static X509 *
load_cert(const char *name)
{
	FILE	*fp = open_key_file(name);
	X509	*x = PEM_read_X509(fp, NULL, NULL, NULL);

	fclose(fp);
	if (x == NULL)
		die(name);
	return x;
}

/*
 * prime - verify one receipt by the peer through the cached keys, so
 * that its signer and its certificates field are known from the first
 * input on, whatever the order of the corpus: inputs that keep that
 * field then take the path where it is cut before parsing.
 */
static void
prime(void)
{
	struct seal_keys	 pk = { 0 };
	uint8_t			*s, *c;
	size_t			 slen, clen;
	char			 err[256];

	pk.key = load_key("BB-TWO.key");
	pk.cert = peer;
	if ((s = seal_sign(&pk, (const uint8_t *)"prime", 5, &slen, err,
	    sizeof(err))) == NULL)
		die("BB-TWO.key (signing)");
	for (int i = 0; i < 2; i++) {
		if ((c = seal_verify(&cached, peer, s, slen, &clen, err,
		    sizeof(err))) == NULL)
			die("BB-TWO.pem (verifying)");
		free(c);
	}
	free(s);
	EVP_PKEY_free(pk.key);
}

static void
load(void)
{
	char		 ca[4096];
	struct tm	 tm;

	keys.key = load_key("AA-ONE.key");
	keys.cert = load_cert("AA-ONE.pem");
	keys.retired = load_key("AA-ONE-old.key");
	peer = load_cert("BB-TWO.pem");
	snprintf(ca, sizeof(ca), "%s/ca.pem", COMITY_FUZZ_KEYS);
	if ((keys.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(keys.trust, ca) != 1 ||
	    X509_STORE_set_flags(keys.trust, X509_V_FLAG_X509_STRICT) != 1)
		die("ca.pem");
	if (ASN1_TIME_to_tm(X509_get0_notBefore(keys.cert), &tm) != 1)
		die("AA-ONE.pem (notBefore)");
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(keys.trust),
	    timegm(&tm) + 86400);
	cached = keys;
	if ((cached.trusted = seal_trusted_new()) == NULL)
		die("(a cache of trusted signers)");
	prime();
	ERR_clear_error();
}

/* check - the contract of a seal.c call that returned C */
static void
check(const uint8_t *c, const char *err)
{
	if (ERR_peek_error() != 0)
		abort();	/* the error queue must be drained */
	if (c == NULL && (err[0] == '\0' || strchr(err, '\n') != NULL))
		abort();	/* no reason, or not one line */
}

/* same - the call through the cached keys gave what the first did */
static void
same(const uint8_t *c, size_t clen, const uint8_t *c2, size_t c2len)
{
	if ((c == NULL) != (c2 == NULL))
		abort();	/* the cache changed the outcome */
	if (c != NULL && (clen != c2len || memcmp(c, c2, clen) != 0))
		abort();
}

/* parses - DATA is exactly one CMS object for OpenSSL */
static int
parses(const uint8_t *data, size_t size)
{
	const unsigned char	*p = data;
	CMS_ContentInfo		*cms;
	int			 ok;

	if (size == 0 || size > LONG_MAX)
		return 0;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)size);
	ok = cms != NULL && p == data + size;
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return ok;
}

/* drop - free content not given on */
static void
drop(uint8_t *c, size_t clen)
{
	if (c != NULL)
		OPENSSL_cleanse(c, clen);
	free(c);
}

/* consume - decode opened content as the daemon would, then free it */
static size_t
consume(uint8_t *c, size_t clen, int is_request)
{
	Comity__Request		*rq;
	Comity__ReceiptContent	*rc;
	size_t			 n = clen;

	if (c == NULL)
		return 0;
	if (is_request &&
	    (rq = wire_unpack(&comity__request__descriptor, c, clen)) != NULL) {
		n += strlen(rq->from) + strlen(rq->to) + rq->n_documents;
		wire_free(rq);
	}
	if (!is_request && (rc = wire_unpack(
	    &comity__receipt_content__descriptor, c, clen)) != NULL) {
		n += strlen(rc->from) + strlen(rc->reason) + rc->envelope_id.len;
		wire_free(rc);
	}
	OPENSSL_cleanse(c, clen);
	free(c);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 loaded;
	volatile size_t	 sink = 0;
	uint8_t		*c, *c2;
	size_t		 clen, c2len;
	char		 err[256], err2[256];

	if (!loaded) {
		load();
		loaded = 1;
	}
	for (int with_signer = 0; with_signer < 2; with_signer++) {
		X509 *signer = with_signer ? peer : NULL;

		err[0] = err2[0] = '\0';
		c = seal_open(&keys, signer, data, size, &clen, err,
		    sizeof(err));
		check(c, err);
		c2 = seal_open(&cached, signer, data, size, &c2len, err2,
		    sizeof(err2));
		check(c2, err2);
		same(c, clen, c2, c2len);
		drop(c2, c2len);
		sink += consume(c, clen, 1);
		err[0] = err2[0] = '\0';
		c = seal_verify(&keys, signer, data, size, &clen, err,
		    sizeof(err));
		check(c, err);
		c2 = seal_verify(&cached, signer, data, size, &c2len, err2,
		    sizeof(err2));
		check(c2, err2);
		same(c, clen, c2, c2len);
		drop(c2, c2len);
		/* cutting the certificates repaired nothing */
		if (c != NULL && !parses(data, size))
			abort();
		sink += consume(c, clen, 0);
	}
	(void)sink;
	return 0;
}
