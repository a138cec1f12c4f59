/*
 * mkcms.c - write seeds for fuzz_cms: real sealed bodies and receipts
 * made by seal.c with the keys in KEYDIR (tests/fuzz/keys), each stored
 * under the SHA-256 of its content.  ECDSA signatures and ECDH ephemeral
 * keys are random, so each run writes new files: run it once, review,
 * commit.  Usage: fuzz_mkcms KEYDIR OUTDIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "seal.h"
#include "wire.h"

static const char	*keydir, *outdir;

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "mkcms: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static FILE *
open_in(const char *name)
{
	char	 path[4096];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", keydir, name);
	if ((fp = fopen(path, "r")) == NULL)
		die(path);
	return fp;
}

/* ident - NAME.key and NAME.pem, trusting ca.pem */
static struct seal_keys
ident(const char *name)
{
	struct seal_keys	 k = { 0 };
	char			 file[256], ca[4096];
	FILE			*fp;

	snprintf(file, sizeof(file), "%s.key", name);
	fp = open_in(file);
	k.key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	snprintf(file, sizeof(file), "%s.pem", name);
	fp = open_in(file);
	k.cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	snprintf(ca, sizeof(ca), "%s/ca.pem", keydir);
	if (k.key == NULL || k.cert == NULL ||
	    (k.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(k.trust, ca) != 1)
		die(name);
	return k;
}

static void
put(const char *name, const uint8_t *buf, size_t len)
{
	unsigned char	 md[32];
	char		 hex[65], path[4096];
	FILE		*fp;

	if (buf == NULL)
		die(name);
	if (EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL) != 1)
		die("sha256");
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(path, sizeof(path), "%s/%s", outdir, hex);
	if ((fp = fopen(path, "wb")) == NULL ||
	    fwrite(buf, 1, len, fp) != len || fclose(fp) != 0)
		die(path);
	printf("%s  %s (%zu bytes)\n", hex, name, len);
}

static uint8_t *
request(size_t *len)
{
	Comity__Request		r = COMITY__REQUEST__INIT;
	Comity__Document	d = COMITY__DOCUMENT__INIT, *docs[] = { &d };
	static uint8_t		id[16] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
	    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf };
	static uint8_t		pdf[] = "%PDF-1.7\n";

	r.id.data = id;
	r.id.len = sizeof(id);
	r.from = "BB-TWO";
	r.to = "AA-ONE";
	r.type = COMITY__REQUEST_TYPE__TYPE_MLA;
	r.legal_basis = "Convention on Mutual Assistance, art. 4";
	r.case_ref = "CASE-2026-001";
	r.language = "en";
	r.subject = "subject";
	r.created_at_ns = 1700000000000000000;
	d.name = "request.pdf";
	d.media_type = "application/pdf";
	d.content.data = pdf;
	d.content.len = sizeof(pdf) - 1;
	r.n_documents = 1;
	r.documents = docs;
	return wire_pack(&r.base, 0, len);
}

static uint8_t *
receipt(int kind, const char *reason, size_t *len)
{
	Comity__ReceiptContent	rc = COMITY__RECEIPT_CONTENT__INIT;
	static uint8_t		id[16] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
	    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf };
	static uint8_t		sha[32], head[32];

	memset(sha, 0x5a, sizeof(sha));
	memset(head, 0xa5, sizeof(head));
	rc.kind = (Comity__ReceiptKind)kind;
	rc.envelope_id.data = id;
	rc.envelope_id.len = sizeof(id);
	rc.from = "AA-ONE";
	rc.to = "BB-TWO";
	rc.envelope_body_sha256.data = sha;
	rc.envelope_body_sha256.len = sizeof(sha);
	rc.at_ns = 1700000001000000000;
	rc.reason = (char *)reason;
	rc.issuer_audit_head.data = head;
	rc.issuer_audit_head.len = sizeof(head);
	rc.issuer_audit_seq = 42;
	return wire_pack(&rc.base, 0, len);
}

/* cbc - SignedData by K in a plain EnvelopedData (AES-256-CBC) to RCPT */
static uint8_t *
cbc(const struct seal_keys *k, X509 *rcpt, const uint8_t *p, size_t plen,
    size_t *len)
{
	STACK_OF(X509)	*r = sk_X509_new_null();
	CMS_ContentInfo	*cms;
	BIO		*in;
	uint8_t		*s, *d = NULL;
	size_t		 slen;
	char		 err[256];
	int		 n;

	if ((s = seal_sign(k, p, plen, &slen, err, sizeof(err))) == NULL)
		die(err);
	if (r == NULL || !sk_X509_push(r, rcpt) ||
	    (in = BIO_new_mem_buf(s, (int)slen)) == NULL ||
	    (cms = CMS_encrypt(r, in, EVP_aes_256_cbc(), CMS_BINARY)) == NULL ||
	    (n = i2d_CMS_ContentInfo(cms, &d)) <= 0)
		die("CBC EnvelopedData");
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	sk_X509_free(r);
	free(s);
	*len = (size_t)n;
	return d;
}

/*
 * receipt_certs - a receipt signed by K with no certificate embedded
 * (NOCERTS) or with EXTRA embedded beside K's: with the signer given,
 * seal_verify() finds no certificates field, or one it has not seen.
 */
static uint8_t *
receipt_certs(const struct seal_keys *k, int nocerts, X509 *extra,
    const uint8_t *p, size_t plen, size_t *len)
{
	CMS_ContentInfo	*cms;
	BIO		*in;
	uint8_t		*d = NULL;
	unsigned int	 flags = CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL;
	int		 n;

	if ((in = BIO_new_mem_buf(p, (int)plen)) == NULL ||
	    (cms = CMS_sign(k->cert, k->key, NULL, NULL,
	    nocerts ? flags | CMS_NOCERTS : flags)) == NULL ||
	    (extra != NULL && CMS_add1_cert(cms, extra) != 1) ||
	    CMS_final(cms, in, NULL, CMS_BINARY) != 1 ||
	    (n = i2d_CMS_ContentInfo(cms, &d)) <= 0)
		die("receipt certificates");
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	*len = (size_t)n;
	return d;
}

int
main(int argc, char *argv[])
{
	struct seal_keys	 us, old, peer;
	uint8_t			*rq, *rc, *o;
	size_t			 rqlen, rclen, len;
	char			 err[256];

	if (argc != 3) {
		fprintf(stderr, "usage: mkcms KEYDIR OUTDIR\n");
		return 2;
	}
	keydir = argv[1];
	outdir = argv[2];
	us = ident("AA-ONE");
	old = ident("AA-ONE-old");
	peer = ident("BB-TWO");
	if ((rq = request(&rqlen)) == NULL)
		die("request");

	o = seal_request(&peer, us.cert, rq, rqlen, &len, err, sizeof(err));
	put("body", o, len);
	free(o);
	o = seal_request(&peer, old.cert, rq, rqlen, &len, err, sizeof(err));
	put("body sealed to the retired key", o, len);
	free(o);
	o = seal_request(&peer, peer.cert, rq, rqlen, &len, err, sizeof(err));
	put("body sealed to someone else", o, len);
	free(o);
	o = seal_request(&us, us.cert, rq, rqlen, &len, err, sizeof(err));
	put("body signed by the wrong authority", o, len);
	free(o);
	o = seal_request(&peer, us.cert, (const uint8_t *)"", 0, &len, err,
	    sizeof(err));
	put("body with empty content", o, len);
	free(o);
	o = cbc(&peer, us.cert, rq, rqlen, &len);
	put("EnvelopedData with AES-256-CBC", o, len);
	OPENSSL_free(o);

	if ((rc = receipt(COMITY__RECEIPT_KIND__RECEIPT_DELIVERED, "",
	    &rclen)) == NULL)
		die("receipt");
	o = seal_sign(&peer, rc, rclen, &len, err, sizeof(err));
	put("receipt", o, len);
	free(o);
	o = seal_sign(&us, rc, rclen, &len, err, sizeof(err));
	put("receipt signed by the wrong authority", o, len);
	free(o);
	o = receipt_certs(&peer, 1, NULL, rc, rclen, &len);
	put("receipt without certificates", o, len);
	OPENSSL_free(o);
	o = receipt_certs(&peer, 0, us.cert, rc, rclen, &len);
	put("receipt with another certificate too", o, len);
	OPENSSL_free(o);
	free(rc);
	if ((rc = receipt(COMITY__RECEIPT_KIND__RECEIPT_REJECTED,
	    "unknown request type", &rclen)) == NULL)
		die("receipt");
	o = seal_sign(&peer, rc, rclen, &len, err, sizeof(err));
	put("rejected receipt", o, len);
	free(o);
	free(rc);
	free(rq);
	return 0;
}
