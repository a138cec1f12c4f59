/*
 * test_seal.c - CMS sealing over mkpki PKIs: sign/verify and seal/open
 * round trips, every kind of tampering, the wrong signer or recipient,
 * revoked, expired and foreign certificates, the content type, and
 * interoperation with the stock openssl cms command in both directions.
 *
 * Authorities in pki/ (with an empty CRL): A = BE-FPSJ, B = KE-ODPP,
 * C = FR-DACG, B2 = KE-ODPP after a key rotation, OLD = an expired
 * BE-FPSJ; in other/ (a second CA): FOREIGN = BE-FPSJ; in rev/ (BE-FPSJ
 * revoked): REV_A = BE-FPSJ, REV_B = KE-ODPP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/wait.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "seal.h"

#define MARKER	"PLAINTEXT-MARKER-5e1f7a"

static char	tmpdir[256];

/*
 * The keys of each test identity: PEM files loaded the way tls.c loads
 * them, into a store with the identity's CA (strict) and, when given,
 * its CRL (checked for the whole chain).
 */
static struct seal_keys	A, B, B2, C, OLD, FOREIGN, REV_A, REV_B, REV_B_NOCRL;

static int
mkpki(const char *args)
{
	char cmd[PATH_MAX * 2];

	snprintf(cmd, sizeof(cmd), "'%s/certs/mkpki' %s",
	    getenv("COMITY_SOURCE_DIR"), args);
	return system(cmd);
}

/* P - a path under the temp dir (rotating static buffers) */
static const char *
P(const char *rel)
{
	static char	buf[8][PATH_MAX];
	static int	i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, rel);
	return buf[i];
}

static X509 *
read_cert(const char *path)
{
	FILE	*fp;
	X509	*x;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	return x;
}

static X509_STORE *
make_store(const char *ca, const char *crl)
{
	X509_STORE	*st;
	X509_LOOKUP	*lu;

	if ((st = X509_STORE_new()) == NULL)
		return NULL;
	if (X509_STORE_load_file(st, ca) != 1 ||
	    X509_STORE_set_flags(st, X509_V_FLAG_X509_STRICT) != 1)
		goto fail;
	if (crl != NULL) {
		lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());
		if (lu == NULL ||
		    X509_load_crl_file(lu, crl, X509_FILETYPE_PEM) < 1 ||
		    X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL) != 1)
			goto fail;
	}
	return st;
fail:
	X509_STORE_free(st);
	return NULL;
}

/* keys_load - DIR/NAME.{key,pem}, trust DIR/ca.pem (+ DIR/crl.pem) */
static int
keys_load(struct seal_keys *k, const char *dir, const char *name, int crl)
{
	char	 path[PATH_MAX], ca[PATH_MAX], crlpath[PATH_MAX];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s/%s.key", tmpdir, dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	k->key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/%s/%s.pem", tmpdir, dir, name);
	k->cert = read_cert(path);
	snprintf(ca, sizeof(ca), "%s/%s/ca.pem", tmpdir, dir);
	snprintf(crlpath, sizeof(crlpath), "%s/%s/crl.pem", tmpdir, dir);
	k->trust = make_store(ca, crl ? crlpath : NULL);
	if (k->key == NULL || k->cert == NULL || k->trust == NULL ||
	    X509_check_private_key(k->cert, k->key) != 1)
		return -1;
	return 0;
}

static void
keys_free(struct seal_keys *k)
{
	EVP_PKEY_free(k->key);
	X509_free(k->cert);
	X509_STORE_free(k->trust);
	memset(k, 0, sizeof(*k));
}

static int
setup(void **state)
{
	char args[1024];

	(void)state;
	if (getenv("COMITY_SOURCE_DIR") == NULL) {
		fprintf(stderr, "COMITY_SOURCE_DIR is not set\n");
		return -1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_seal.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	/* An empty CRL in pki/: CRL checking is on in the normal cases. */
	snprintf(args, sizeof(args), "--crl '%s/pki' BE-FPSJ KE-ODPP FR-DACG",
	    tmpdir);
	if (mkpki(args) != 0)
		return -1;
	snprintf(args, sizeof(args), "--expired --name old '%s/pki' BE-FPSJ",
	    tmpdir);
	if (mkpki(args) != 0)
		return -1;
	/* B2: KE-ODPP's next key and certificate, after a rotation. */
	snprintf(args, sizeof(args), "--name KE-ODPP-2 '%s/pki' KE-ODPP",
	    tmpdir);
	if (mkpki(args) != 0)
		return -1;
	snprintf(args, sizeof(args), "'%s/other' BE-FPSJ", tmpdir);
	if (mkpki(args) != 0)
		return -1;
	snprintf(args, sizeof(args), "'%s/rev' BE-FPSJ KE-ODPP", tmpdir);
	if (mkpki(args) != 0)
		return -1;
	snprintf(args, sizeof(args), "--revoke BE-FPSJ '%s/rev'", tmpdir);
	if (mkpki(args) != 0)
		return -1;
	if (keys_load(&A, "pki", "BE-FPSJ", 1) != 0 ||
	    keys_load(&B, "pki", "KE-ODPP", 1) != 0 ||
	    keys_load(&B2, "pki", "KE-ODPP-2", 1) != 0 ||
	    keys_load(&C, "pki", "FR-DACG", 1) != 0 ||
	    keys_load(&OLD, "pki", "old", 1) != 0 ||
	    keys_load(&FOREIGN, "other", "BE-FPSJ", 0) != 0 ||
	    keys_load(&REV_A, "rev", "BE-FPSJ", 1) != 0 ||
	    keys_load(&REV_B, "rev", "KE-ODPP", 1) != 0 ||
	    keys_load(&REV_B_NOCRL, "rev", "KE-ODPP", 0) != 0) {
		fprintf(stderr, "cannot load the test keys\n");
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	keys_free(&A);
	keys_free(&B);
	keys_free(&B2);
	keys_free(&C);
	keys_free(&OLD);
	keys_free(&FOREIGN);
	keys_free(&REV_A);
	keys_free(&REV_B);
	keys_free(&REV_B_NOCRL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ helpers */

/*
 * check_err - a failure: nothing returned, a one-line reason containing
 * WANT, and the OpenSSL error queue left empty.
 */
static void
check_err(const uint8_t *got, const char *err, const char *want)
{
	if (got != NULL)
		fail_msg("accepted; wanted \"%s\"", want);
	if (err[0] == '\0')
		fail_msg("empty reason; wanted \"%s\"", want);
	if (strchr(err, '\n') != NULL || strchr(err, '\r') != NULL)
		fail_msg("reason on several lines: \"%s\"", err);
	if (strstr(err, want) == NULL)
		fail_msg("reason \"%s\", want \"%s\"", err, want);
	assert_int_equal(ERR_peek_error(), 0);
}

/* content - LEN bytes of a fixed pattern, MARKER in the middle */
static uint8_t *
content(size_t len)
{
	uint8_t	*p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + (i >> 8));
	if (len >= sizeof(MARKER) * 2)
		memcpy(p + len / 2, MARKER, sizeof(MARKER) - 1);
	return p;
}

static uint8_t *
sign(const struct seal_keys *k, const uint8_t *c, size_t clen, size_t *len)
{
	char	 err[512] = "";
	uint8_t	*s = seal_sign(k, c, clen, len, err, sizeof(err));

	if (s == NULL)
		fail_msg("seal_sign: %s", err);
	return s;
}

static uint8_t *
seal(const struct seal_keys *k, X509 *rcpt, const uint8_t *c, size_t clen,
    size_t *len)
{
	char	 err[512] = "";
	uint8_t	*b = seal_request(k, rcpt, c, clen, len, err, sizeof(err));

	if (b == NULL)
		fail_msg("seal_request: %s", err);
	return b;
}

/* expect_content - GOT is exactly WANT (and is freed) */
static void
expect_content(uint8_t *got, size_t glen, const char *err, const uint8_t *want,
    size_t wlen)
{
	if (got == NULL)
		fail_msg("refused: %s", err);
	assert_int_equal(glen, wlen);
	if (wlen > 0)
		assert_memory_equal(got, want, wlen);
	assert_int_equal(ERR_peek_error(), 0);
	free(got);
}

static int
write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE	*fp;
	int	 ok;

	if ((fp = fopen(path, "wb")) == NULL)
		return -1;
	ok = fwrite(buf, 1, len, fp) == len;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

/* read_file - the whole file (malloc'd), or NULL */
static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	*fp;
	uint8_t	*buf;
	long	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)n, fp);
	fclose(fp);
	if (*len != (size_t)n) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int
run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* cert_offset - where the DER of X sits inside BUF, or -1 */
static long
cert_offset(X509 *x, const uint8_t *buf, size_t len, size_t *dlen)
{
	unsigned char	*d = NULL;
	int		 n;
	const uint8_t	*at;

	assert_true((n = i2d_X509(x, &d)) > 0);
	at = memmem(buf, len, d, (size_t)n);
	OPENSSL_free(d);
	*dlen = (size_t)n;
	return at != NULL ? (long)(at - buf) : -1;
}

/* ------------------------------------------------------- sign, verify */

static void
test_sign_verify(void **state)
{
	const uint8_t	 bin[] = "receipt\0with\xff" "binary\n";
	uint8_t		*s, *c, *big;
	size_t		 slen, clen;
	char		 err[512] = "";

	(void)state;
	s = sign(&A, bin, sizeof(bin), &slen);
	assert_int_equal(ERR_peek_error(), 0);
	c = seal_verify(&B, A.cert, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, bin, sizeof(bin));
	/* The signer can check its own receipt too. */
	c = seal_verify(&A, A.cert, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, bin, sizeof(bin));
	free(s);

	/* A large receipt: no size-dependent path. */
	big = content(300 * 1024);
	s = sign(&A, big, 300 * 1024, &slen);
	c = seal_verify(&B, A.cert, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, big, 300 * 1024);
	free(s);
	free(big);
}

static void
test_sign_empty(void **state)
{
	static const uint8_t	 none[1];
	uint8_t			*s, *c;
	size_t			 slen, clen = 99;
	char			 err[512] = "";

	(void)state;
	/* Empty content is signed and verifies back to empty. */
	s = sign(&A, none, 0, &slen);
	c = seal_verify(&B, A.cert, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, none, 0);
	free(s);
}

static void
test_verify_wrong_signer(void **state)
{
	const uint8_t	 msg[] = "signed by A";
	uint8_t		*s, *c;
	size_t		 slen, clen;
	char		 err[512];

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	err[0] = '\0';
	c = seal_verify(&B, C.cert, s, slen, &clen, err, sizeof(err));
	check_err(c, err, "signer certificate not found");
	err[0] = '\0';
	c = seal_verify(&B, B.cert, s, slen, &clen, err, sizeof(err));
	check_err(c, err, "signer certificate not found");
	/* Same authority id, same subject, but another CA's certificate. */
	err[0] = '\0';
	c = seal_verify(&B, FOREIGN.cert, s, slen, &clen, err, sizeof(err));
	check_err(c, err, "signature check failed");
	/* And the right one, last, so the refusals above are not noise. */
	c = seal_verify(&B, A.cert, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(s);
}

/* region - [at, at + len) of BUF where the bytes of STR lie */
struct region { size_t at, len; };

static struct region
region_of(const uint8_t *buf, size_t len, const ASN1_OCTET_STRING *str)
{
	const uint8_t	*at;
	struct region	 r;

	assert_non_null(str);
	at = memmem(buf, len, ASN1_STRING_get0_data(str),
	    (size_t)ASN1_STRING_length(str));
	assert_non_null(at);
	r.at = (size_t)(at - buf);
	r.len = (size_t)ASN1_STRING_length(str);
	return r;
}

/*
 * protected_regions - where S holds the content, the signed message
 * digest and the signature value: no change there may go unnoticed.
 */
static void
protected_regions(const uint8_t *s, size_t slen, struct region r[3])
{
	const uint8_t		*p = s;
	CMS_ContentInfo		*cms;
	CMS_SignerInfo		*si;
	ASN1_OCTET_STRING	**content;

	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)slen));
	assert_non_null(content = CMS_get0_content(cms));
	r[0] = region_of(s, slen, *content);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_non_null(si);
	r[1] = region_of(s, slen, CMS_signed_get0_data_by_OBJ(si,
	    OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
	r[2] = region_of(s, slen, CMS_SignerInfo_get0_signature(si));
	CMS_ContentInfo_free(cms);
}

/*
 * flip_sweep - flip one bit of each byte of S in turn: a verify may only
 * fail or give back exactly MSG, and must fail for a byte of the
 * content, the message digest or the signature.  Fields outside the
 * signature (versions, the digest algorithm set, the certificates) may
 * change unnoticed.  Returns how many flips were accepted.
 */
static size_t
flip_sweep(X509 *signer, const uint8_t *s, size_t slen, const uint8_t *msg,
    size_t mlen)
{
	uint8_t		*t = malloc(slen), *c;
	size_t		 clen, accepted = 0;
	struct region	 r[3];
	char		 err[512];

	assert_non_null(t);
	protected_regions(s, slen, r);
	for (size_t i = 0; i < slen; i++) {
		memcpy(t, s, slen);
		t[i] ^= 0x01;
		err[0] = '\0';
		c = seal_verify(&B, signer, t, slen, &clen, err, sizeof(err));
		if (c == NULL) {
			if (err[0] == '\0' || strchr(err, '\n') != NULL)
				fail_msg("byte %zu: bad reason \"%s\"", i, err);
			assert_int_equal(ERR_peek_error(), 0);
			continue;
		}
		accepted++;
		if (clen != mlen || memcmp(c, msg, mlen) != 0)
			fail_msg("byte %zu flipped: altered content accepted", i);
		for (int j = 0; j < 3; j++)
			if (i >= r[j].at && i < r[j].at + r[j].len)
				fail_msg("byte %zu flipped (signed region %d): "
				    "accepted", i, j);
		free(c);
	}
	free(t);
	return accepted;
}

static void
test_verify_flipped(void **state)
{
	const uint8_t	 msg[] = "content " MARKER " content";
	uint8_t		*s, *t, *c, *at;
	size_t		 slen, clen, n;
	char		 err[512];
	const uint8_t	 md_oid[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	    0xf7, 0x0d, 0x01, 0x09, 0x04 };
	size_t		 where[6];

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	assert_non_null(t = malloc(slen));

	/* Named places: content, message digest, signature, headers. */
	assert_non_null(at = memmem(s, slen, MARKER, strlen(MARKER)));
	where[0] = (size_t)(at - s) + 3;
	assert_non_null(at = memmem(s, slen, md_oid, sizeof(md_oid)));
	where[1] = (size_t)(at - s) + sizeof(md_oid) + 6;	/* digest */
	where[2] = slen - 1;		/* last byte of the signature */
	where[3] = slen - 20;
	where[4] = 1;			/* outer length */
	where[5] = 15;			/* inside the SignedData OID */
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		for (int mode = 0; mode < 2; mode++) {
			memcpy(t, s, slen);
			t[where[i]] ^= 0xff;
			err[0] = '\0';
			c = seal_verify(&B, mode ? A.cert : NULL, t, slen,
			    &clen, err, sizeof(err));
			if (c != NULL)
				fail_msg("byte %zu flipped, mode %d: accepted",
				    where[i], mode);
			check_err(c, err, "");
		}
	}
	free(t);

	/* Every byte: never altered content, refused outside the cert. */
	n = flip_sweep(A.cert, s, slen, msg, sizeof(msg));
	print_message("signer given: %zu of %zu single-bit flips accepted\n",
	    n, slen);
	n = flip_sweep(NULL, s, slen, msg, sizeof(msg));
	print_message("signer NULL: %zu of %zu single-bit flips accepted\n",
	    n, slen);
	free(s);
}

static void
test_verify_framing(void **state)
{
	const uint8_t	 msg[] = "framed";
	uint8_t		*s, *t, *c;
	size_t		 slen, clen;
	char		 err[512];

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	assert_non_null(t = malloc(2 * slen));

	/* One byte of trailing garbage, then a whole second copy. */
	memcpy(t, s, slen);
	t[slen] = 0x00;
	err[0] = '\0';
	c = seal_verify(&B, A.cert, t, slen + 1, &clen, err, sizeof(err));
	check_err(c, err, "1 bytes after the CMS object");
	memcpy(t + slen, s, slen);
	err[0] = '\0';
	c = seal_verify(&B, A.cert, t, 2 * slen, &clen, err, sizeof(err));
	check_err(c, err, "bytes after the CMS object");
	/* Cut short, empty, not DER at all. */
	err[0] = '\0';
	c = seal_verify(&B, A.cert, s, slen - 1, &clen, err, sizeof(err));
	check_err(c, err, "signed data");
	err[0] = '\0';
	c = seal_verify(&B, A.cert, s, 0, &clen, err, sizeof(err));
	check_err(c, err, "signed data: empty");
	err[0] = '\0';
	c = seal_verify(&B, A.cert, (const uint8_t *)"hello world", 11, &clen,
	    err, sizeof(err));
	check_err(c, err, "signed data");
	free(t);
	free(s);
}

static void
test_verify_not_signed(void **state)
{
	const uint8_t	 msg[] = "sealed, not signed";
	uint8_t		*b, *c;
	size_t		 blen, clen;
	char		 err[512] = "";

	(void)state;
	b = seal(&A, B.cert, msg, sizeof(msg), &blen);
	c = seal_verify(&B, A.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "signed data: CMS id-smime-ct-authEnvelopedData, "
	    "not pkcs7-signedData");
	free(b);
}

static void
test_verify_signer_null(void **state)
{
	const uint8_t	 msg[] = "signer checked on arrival";
	uint8_t		*s, *c, *d;
	size_t		 slen, clen;
	char		 err[512] = "";
	CMS_ContentInfo	*cms;
	BIO		*in;
	int		 n;

	(void)state;
	/* The embedded certificate is taken as it is: expired, foreign. */
	s = sign(&A, msg, sizeof(msg), &slen);
	c = seal_verify(&B, NULL, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(s);
	s = sign(&OLD, msg, sizeof(msg), &slen);
	c = seal_verify(&B, NULL, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(s);
	s = sign(&FOREIGN, msg, sizeof(msg), &slen);
	c = seal_verify(&B, NULL, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(s);

	/* Without an embedded certificate there is nothing to check with. */
	assert_non_null(in = BIO_new_mem_buf(msg, sizeof(msg)));
	assert_non_null(cms = CMS_sign(A.cert, A.key, NULL, in,
	    CMS_BINARY | CMS_NOCERTS));
	d = NULL;
	assert_true((n = i2d_CMS_ContentInfo(cms, &d)) > 0);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	err[0] = '\0';
	c = seal_verify(&B, NULL, d, (size_t)n, &clen, err, sizeof(err));
	check_err(c, err, "signer certificate not found");
	/* With the signer given, no embedded certificate is needed. */
	c = seal_verify(&B, A.cert, d, (size_t)n, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	OPENSSL_free(d);
}

/* der_of - CMS as DER (OPENSSL_malloc'd), and frees CMS */
static uint8_t *
der_of(CMS_ContentInfo *cms, size_t *len)
{
	uint8_t	*d = NULL;
	int	 n;

	assert_non_null(cms);
	assert_true((n = i2d_CMS_ContentInfo(cms, &d)) > 0);
	CMS_ContentInfo_free(cms);
	*len = (size_t)n;
	return d;
}

static void
test_verify_signer_count(void **state)
{
	const uint8_t	 msg[] = "who signed this?";
	uint8_t		*d, *c;
	size_t		 dlen, clen;
	char		 err[512] = "";
	CMS_ContentInfo	*cms;
	BIO		*in;

	(void)state;
	/* A and C both sign: valid CMS, but not what a peer sends. */
	assert_non_null(in = BIO_new_mem_buf(msg, sizeof(msg)));
	assert_non_null(cms = CMS_sign(A.cert, A.key, NULL, NULL,
	    CMS_BINARY | CMS_PARTIAL));
	assert_non_null(CMS_add1_signer(cms, C.cert, C.key, EVP_sha256(), 0));
	assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
	BIO_free(in);
	d = der_of(cms, &dlen);
	c = seal_verify(&B, NULL, d, dlen, &clen, err, sizeof(err));
	check_err(c, err, "2 signers, not one");
	err[0] = '\0';
	c = seal_verify(&B, A.cert, d, dlen, &clen, err, sizeof(err));
	check_err(c, err, "2 signers, not one");
	OPENSSL_free(d);

	/* No signer at all (a certificates-only SignedData). */
	assert_non_null(cms = CMS_sign(NULL, NULL, NULL, NULL,
	    CMS_BINARY | CMS_PARTIAL));
	assert_int_equal(CMS_add0_cert(cms, X509_dup(A.cert)), 1);
	d = der_of(cms, &dlen);
	err[0] = '\0';
	c = seal_verify(&B, NULL, d, dlen, &clen, err, sizeof(err));
	check_err(c, err, "0 signers, not one");
	OPENSSL_free(d);
}

/* ------------------------------------------------------- seal, open */

static void
roundtrip(size_t len)
{
	uint8_t	*msg = content(len), *b, *c;
	size_t	 blen, clen = 12345;
	char	 err[512] = "";

	b = seal(&A, B.cert, msg, len, &blen);
	assert_true(blen > len);
	if (len >= sizeof(MARKER) * 2)
		assert_null(memmem(b, blen, MARKER, strlen(MARKER)));
	c = seal_open(&B, A.cert, b, blen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, len);
	/* Re-opening a stored body: the signer is not given again. */
	c = seal_open(&B, NULL, b, blen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, len);
	free(b);
	free(msg);
}

/*
 * shorten - cut the trailing mac of a DER body (04 10 <16 bytes>) by CUT
 * bytes, fixing the three enclosing lengths (2-byte long form, as for
 * any body over 255 bytes).
 */
static void
shorten(uint8_t *b, size_t *blen, size_t cut)
{
	const size_t	 at[3] = { 2, 4 + 13 + 2, 4 + 13 + 4 + 2 };
	size_t		 i, n;

	assert_int_equal(b[*blen - 18], 0x04);
	assert_int_equal(b[*blen - 17], 16);
	b[*blen - 17] = (uint8_t)(16 - cut);
	for (i = 0; i < 3; i++) {
		assert_int_equal(b[at[i] - 1], 0x82);
		n = (size_t)b[at[i]] << 8 | b[at[i] + 1];
		n -= cut;
		b[at[i]] = (uint8_t)(n >> 8);
		b[at[i] + 1] = (uint8_t)n;
	}
	*blen -= cut;
}

/* OpenSSL 3.0 opens a body whose GCM tag is cut to 4 bytes; we refuse
 * anything but the 16 bytes we send. */
static void
test_open_short_tag(void **state)
{
	uint8_t	*msg = content(700), *b, *c;
	size_t	 blen, clen, cut;
	char	 err[512] = "";

	(void)state;
	for (cut = 1; cut <= 12; cut += 11) {
		b = seal(&A, B.cert, msg, 700, &blen);
		shorten(b, &blen, cut);
		c = seal_open(&B, A.cert, b, blen, &clen, err, sizeof(err));
		check_err(c, err, "GCM tag is not 16 bytes");
		free(b);
	}
	free(msg);
}

static void
test_seal_open(void **state)
{
	(void)state;
	roundtrip(0);
	roundtrip(1);
	roundtrip(1024);
	roundtrip(1024 * 1024);
	roundtrip(1024 * 1024 + 1);
}

static void
test_seal_hides_content(void **state)
{
	uint8_t			*msg = content(4096), *b, *s;
	const uint8_t		*p;
	size_t			 blen, slen;
	CMS_ContentInfo		*cms;

	(void)state;
	b = seal(&A, B.cert, msg, 4096, &blen);
	assert_null(memmem(b, blen, MARKER, strlen(MARKER)));
	/* Neither is the signature visible (nor who made it). */
	s = sign(&A, msg, 4096, &slen);
	assert_non_null(memmem(s, slen, MARKER, strlen(MARKER)));
	{
		size_t		 certlen;

		assert_true(cert_offset(A.cert, s, slen, &certlen) > 0);
		assert_int_equal(cert_offset(A.cert, b, blen, &certlen), -1);
	}
	p = b;
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)blen));
	assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)),
	    NID_id_smime_ct_authEnvelopedData);
	CMS_ContentInfo_free(cms);
	free(s);
	free(b);
	free(msg);
}

static void
test_open_not_recipient(void **state)
{
	const uint8_t	 msg[] = "for B only";
	uint8_t		*b, *c;
	size_t		 blen, clen;
	char		 err[512] = "";

	(void)state;
	b = seal(&A, B.cert, msg, sizeof(msg), &blen);
	c = seal_open(&C, A.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "not sealed to us");
	/* Nor the sender, once sealed. */
	err[0] = '\0';
	c = seal_open(&A, A.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "not sealed to us");
	/* B's certificate with C's key: the key does not fit. */
	{
		struct seal_keys mixed = { .key = C.key, .cert = B.cert,
		    .trust = B.trust };

		err[0] = '\0';
		c = seal_open(&mixed, A.cert, b, blen, &clen, err,
		    sizeof(err));
		check_err(c, err, "cannot decrypt (altered");
	}
	c = seal_open(&B, A.cert, b, blen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(b);
}

/* body_regions - where BODY holds the ciphertext [0] and the GCM tag [1] */
static void
body_regions(const uint8_t *b, size_t blen, struct region r[2])
{
	const uint8_t		*p = b;
	CMS_ContentInfo		*cms;
	ASN1_OCTET_STRING	**ct;

	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)blen));
	assert_non_null(ct = CMS_get0_content(cms));
	r[0] = region_of(b, blen, *ct);
	CMS_ContentInfo_free(cms);
	/* The mac, a 16-byte OCTET STRING, ends the DER (no unauthAttrs). */
	assert_int_equal(b[blen - 18], 0x04);
	assert_int_equal(b[blen - 17], 16);
	r[1].at = blen - 16;
	r[1].len = 16;
	assert_true(r[0].at + r[0].len <= r[1].at);
}

static void
test_open_flipped(void **state)
{
	uint8_t		*msg = content(4096), *b, *t, *c;
	size_t		 blen, clen, accepted = 0;
	char		 err[512];
	struct region	 r[2];
	size_t		 where[6];
	const uint8_t	*at;
	const uint8_t	 data_oid[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	    0xf7, 0x0d, 0x01, 0x07, 0x01 };

	(void)state;
	b = seal(&A, B.cert, msg, 4096, &blen);
	body_regions(b, blen, r);
	assert_true(r[0].len > 4096);
	where[0] = r[0].at;			/* the ciphertext */
	where[1] = r[0].at + r[0].len / 2;
	where[2] = r[0].at + r[0].len - 1;
	where[3] = r[1].at;			/* the GCM tag */
	where[4] = blen - 1;
	/* The wrapped key: the last bytes before the content's SEQUENCE. */
	assert_non_null(at = memmem(b, blen, data_oid, sizeof(data_oid)));
	assert_true(at - b > 8 && at[-4] == 0x30 && at[-3] == 0x82);
	where[5] = (size_t)(at - b) - 5;
	assert_non_null(t = malloc(blen));
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		memcpy(t, b, blen);
		t[where[i]] ^= 0x01;
		err[0] = '\0';
		c = seal_open(&B, A.cert, t, blen, &clen, err, sizeof(err));
		check_err(c, err, "cannot decrypt");
	}
	free(t);
	free(b);

	/*
	 * Every byte of a small body: refused, or exactly the content.  Some
	 * fields are not authenticated (versions, the content type of the
	 * encrypted content, the GCM ICV length parameter), but the
	 * ciphertext and the tag are.
	 */
	b = seal(&A, B.cert, msg, 32, &blen);
	body_regions(b, blen, r);
	assert_non_null(t = malloc(blen));
	for (size_t i = 0; i < blen; i++) {
		memcpy(t, b, blen);
		t[i] ^= 0x01;
		err[0] = '\0';
		c = seal_open(&B, A.cert, t, blen, &clen, err, sizeof(err));
		if (c == NULL) {
			if (err[0] == '\0' || strchr(err, '\n') != NULL)
				fail_msg("byte %zu: bad reason \"%s\"", i, err);
			assert_int_equal(ERR_peek_error(), 0);
			continue;
		}
		if (clen != 32 || memcmp(c, msg, 32) != 0)
			fail_msg("byte %zu flipped: altered content accepted", i);
		for (int j = 0; j < 2; j++)
			if (i >= r[j].at && i < r[j].at + r[j].len)
				fail_msg("byte %zu flipped (%s): accepted", i,
				    j == 0 ? "ciphertext" : "tag");
		accepted++;
		free(c);
	}
	print_message("body: %zu of %zu single-bit flips accepted\n",
	    accepted, blen);
	free(t);
	free(b);
	free(msg);
}

static void
test_open_wrong_signer(void **state)
{
	const uint8_t	 msg[] = "from A to B";
	uint8_t		*b, *c;
	size_t		 blen, clen;
	char		 err[512] = "";

	(void)state;
	b = seal(&A, B.cert, msg, sizeof(msg), &blen);
	c = seal_open(&B, C.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "signer certificate not found");
	err[0] = '\0';
	c = seal_open(&B, B.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "signer certificate not found");
	err[0] = '\0';
	c = seal_open(&B, FOREIGN.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "signature check failed");
	free(b);

	/* C signs and seals to B, claiming nothing: B expects A. */
	b = seal(&C, B.cert, msg, sizeof(msg), &blen);
	err[0] = '\0';
	c = seal_open(&B, A.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "signer certificate not found");
	c = seal_open(&B, C.cert, b, blen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(b);
}

static void
test_open_cbc_refused(void **state)
{
	const uint8_t	 msg[] = "AES-CBC has no tag";
	uint8_t		*s, *c, *d = NULL;
	size_t		 slen, clen;
	char		 err[512] = "";
	STACK_OF(X509)	*rcpts;
	CMS_ContentInfo	*cms;
	BIO		*in, *out;
	int		 n;

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	assert_non_null(rcpts = sk_X509_new_null());
	assert_true(sk_X509_push(rcpts, B.cert) > 0);
	assert_non_null(in = BIO_new_mem_buf(s, (int)slen));
	assert_non_null(cms = CMS_encrypt(rcpts, in, EVP_aes_256_cbc(),
	    CMS_BINARY));
	assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)),
	    NID_pkcs7_enveloped);
	/* Stock CMS opens it with B's key: only the type is wrong. */
	assert_non_null(out = BIO_new(BIO_s_mem()));
	assert_int_equal(CMS_decrypt(cms, B.key, B.cert, NULL, out,
	    CMS_BINARY), 1);
	assert_int_equal(BIO_pending(out), (int)slen);
	BIO_free(out);
	assert_true((n = i2d_CMS_ContentInfo(cms, &d)) > 0);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	sk_X509_free(rcpts);

	c = seal_open(&B, A.cert, d, (size_t)n, &clen, err, sizeof(err));
	check_err(c, err, "body: CMS pkcs7-envelopedData, not "
	    "id-smime-ct-authEnvelopedData");
	/* Nor a bare SignedData as a body. */
	err[0] = '\0';
	c = seal_open(&B, A.cert, s, slen, &clen, err, sizeof(err));
	check_err(c, err, "not id-smime-ct-authEnvelopedData");
	OPENSSL_free(d);
	free(s);
}

static void
test_open_retired_key(void **state)
{
	const uint8_t		 msg[] = "sealed before the rotation";
	uint8_t			*b, *t, *c;
	size_t			 blen, clen;
	char			 err[512] = "";
	struct region		 r[2];
	struct seal_keys	 rotated = B2;

	(void)state;
	b = seal(&A, B.cert, msg, sizeof(msg), &blen);
	/* The new key alone cannot open what was sealed to the old one. */
	c = seal_open(&B2, A.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "not sealed to us");
	rotated.retired = B.key;
	c = seal_open(&rotated, A.cert, b, blen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	/* Altered, it fails through both keys, and the reason is clean. */
	body_regions(b, blen, r);
	assert_non_null(t = malloc(blen));
	memcpy(t, b, blen);
	t[r[0].at + 3] ^= 0x01;
	err[0] = '\0';
	c = seal_open(&rotated, A.cert, t, blen, &clen, err, sizeof(err));
	check_err(c, err, "cannot decrypt");
	/* The retired key does not make the signer check any weaker. */
	err[0] = '\0';
	c = seal_open(&rotated, C.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "signer certificate not found");
	free(t);
	free(b);

	/* Sealed to the new certificate: the current key opens it. */
	b = seal(&A, B2.cert, msg, sizeof(msg), &blen);
	c = seal_open(&rotated, A.cert, b, blen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(b);
	/* Sealed to someone else: neither key helps. */
	b = seal(&A, C.cert, msg, sizeof(msg), &blen);
	err[0] = '\0';
	c = seal_open(&rotated, A.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "cannot decrypt");
	free(b);
}

/* ---------------------------------------------------- certificate trust */

static void
test_revoked(void **state)
{
	const uint8_t	 msg[] = "from a revoked key";
	uint8_t		*s, *b, *c;
	size_t		 slen, blen, clen;
	char		 err[512] = "";

	(void)state;
	s = sign(&REV_A, msg, sizeof(msg), &slen);
	c = seal_verify(&REV_B, REV_A.cert, s, slen, &clen, err, sizeof(err));
	check_err(c, err, "revoked");
	/* The same without the CRL: the revocation was the reason. */
	c = seal_verify(&REV_B_NOCRL, REV_A.cert, s, slen, &clen, err,
	    sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(s);

	b = seal(&REV_A, REV_B.cert, msg, sizeof(msg), &blen);
	err[0] = '\0';
	c = seal_open(&REV_B, REV_A.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "revoked");
	c = seal_open(&REV_B_NOCRL, REV_A.cert, b, blen, &clen, err,
	    sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(b);
}

static void
test_expired(void **state)
{
	const uint8_t	 msg[] = "from an expired certificate";
	uint8_t		*s, *b, *c;
	size_t		 slen, blen, clen;
	char		 err[512] = "";

	(void)state;
	s = sign(&OLD, msg, sizeof(msg), &slen);
	c = seal_verify(&B, OLD.cert, s, slen, &clen, err, sizeof(err));
	check_err(c, err, "expired");
	free(s);
	b = seal(&OLD, B.cert, msg, sizeof(msg), &blen);
	err[0] = '\0';
	c = seal_open(&B, OLD.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "expired");
	free(b);
}

static void
test_foreign_ca(void **state)
{
	const uint8_t	 msg[] = "from another network";
	uint8_t		*s, *b, *c;
	size_t		 slen, blen, clen;
	char		 err[512] = "";

	(void)state;
	s = sign(&FOREIGN, msg, sizeof(msg), &slen);
	c = seal_verify(&B, FOREIGN.cert, s, slen, &clen, err, sizeof(err));
	check_err(c, err, "unable to get local issuer certificate");
	/* Its own CA accepts it. */
	c = seal_verify(&FOREIGN, FOREIGN.cert, s, slen, &clen, err,
	    sizeof(err));
	expect_content(c, clen, err, msg, sizeof(msg));
	free(s);
	b = seal(&FOREIGN, B.cert, msg, sizeof(msg), &blen);
	err[0] = '\0';
	c = seal_open(&B, FOREIGN.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "unable to get local issuer certificate");
	free(b);
}

/* --------------------------------------------------------- stock openssl */

static void
test_openssl_opens_ours(void **state)
{
	uint8_t	*msg = content(2048), *b, *s, *got;
	size_t	 blen, slen, glen;
	char	 cmd[PATH_MAX * 4];

	(void)state;
	b = seal(&A, B.cert, msg, 2048, &blen);
	assert_int_equal(write_file(P("body.der"), b, blen), 0);
	snprintf(cmd, sizeof(cmd), "openssl cms -decrypt -binary -inform DER "
	    "-in '%s' -inkey '%s' -recip '%s' -out '%s'", P("body.der"),
	    P("pki/KE-ODPP.key"), P("pki/KE-ODPP.pem"), P("inner.der"));
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "openssl cms -verify -binary -inform DER "
	    "-in '%s' -CAfile '%s' -out '%s' 2>/dev/null", P("inner.der"),
	    P("pki/ca.pem"), P("content.bin"));
	assert_int_equal(run(cmd), 0);
	assert_non_null(got = read_file(P("content.bin"), &glen));
	assert_int_equal(glen, 2048);
	assert_memory_equal(got, msg, 2048);
	free(got);
	/* What is inside: GCM, and ECDH with the SHA-256 KDF. */
	snprintf(cmd, sizeof(cmd), "openssl cms -cmsout -print -inform DER "
	    "-in '%s' | grep -q 'algorithm: aes-256-gcm '", P("body.der"));
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "openssl cms -cmsout -print -inform DER "
	    "-in '%s' | grep -q 'dhSinglePass-stdDH-sha256kdf-scheme'",
	    P("body.der"));
	assert_int_equal(run(cmd), 0);
	/* C's key cannot open it. */
	snprintf(cmd, sizeof(cmd), "openssl cms -decrypt -binary -inform DER "
	    "-in '%s' -inkey '%s' -recip '%s' -out '%s' 2>/dev/null",
	    P("body.der"), P("pki/FR-DACG.key"), P("pki/FR-DACG.pem"),
	    P("inner2.der"));
	assert_int_not_equal(run(cmd), 0);

	/* A receipt, as exported: verifies against the network CA only. */
	s = sign(&A, msg, 2048, &slen);
	assert_int_equal(write_file(P("receipt.p7s"), s, slen), 0);
	snprintf(cmd, sizeof(cmd), "openssl cms -verify -inform DER -in '%s' "
	    "-CAfile '%s' -out '%s' 2>/dev/null", P("receipt.p7s"),
	    P("pki/ca.pem"), P("receipt.bin"));
	assert_int_equal(run(cmd), 0);
	assert_non_null(got = read_file(P("receipt.bin"), &glen));
	assert_int_equal(glen, 2048);
	assert_memory_equal(got, msg, 2048);
	free(got);
	snprintf(cmd, sizeof(cmd), "openssl cms -verify -inform DER -in '%s' "
	    "-CAfile '%s' -out /dev/null 2>/dev/null", P("receipt.p7s"),
	    P("other/ca.pem"));
	assert_int_not_equal(run(cmd), 0);
	free(s);
	free(b);
	free(msg);
}

static void
test_we_open_openssls(void **state)
{
	uint8_t	*msg = content(1500), *d, *c;
	size_t	 dlen, clen;
	char	 cmd[PATH_MAX * 4], err[512] = "";

	(void)state;
	assert_int_equal(write_file(P("plain.bin"), msg, 1500), 0);
	snprintf(cmd, sizeof(cmd), "openssl cms -sign -binary -nodetach "
	    "-outform DER -in '%s' -signer '%s' -inkey '%s' -out '%s'",
	    P("plain.bin"), P("pki/BE-FPSJ.pem"), P("pki/BE-FPSJ.key"),
	    P("signed.der"));
	assert_int_equal(run(cmd), 0);
	assert_non_null(d = read_file(P("signed.der"), &dlen));
	c = seal_verify(&B, A.cert, d, dlen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, 1500);
	free(d);

	snprintf(cmd, sizeof(cmd), "openssl cms -encrypt -binary -aes-256-gcm "
	    "-outform DER -in '%s' -recip '%s' -keyopt ecdh_kdf_md:sha256 "
	    "-out '%s'", P("signed.der"), P("pki/KE-ODPP.pem"),
	    P("sealed.der"));
	assert_int_equal(run(cmd), 0);
	assert_non_null(d = read_file(P("sealed.der"), &dlen));
	c = seal_open(&B, A.cert, d, dlen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, 1500);
	free(d);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_sign_empty),
		cmocka_unit_test(test_verify_wrong_signer),
		cmocka_unit_test(test_verify_flipped),
		cmocka_unit_test(test_verify_framing),
		cmocka_unit_test(test_verify_not_signed),
		cmocka_unit_test(test_verify_signer_null),
		cmocka_unit_test(test_verify_signer_count),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_open_short_tag),
		cmocka_unit_test(test_seal_hides_content),
		cmocka_unit_test(test_open_not_recipient),
		cmocka_unit_test(test_open_flipped),
		cmocka_unit_test(test_open_wrong_signer),
		cmocka_unit_test(test_open_cbc_refused),
		cmocka_unit_test(test_open_retired_key),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_foreign_ca),
		cmocka_unit_test(test_openssl_opens_ours),
		cmocka_unit_test(test_we_open_openssls),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
