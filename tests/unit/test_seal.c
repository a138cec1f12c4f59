/*
 * test_seal.c - CMS sealing over mkpki PKIs: sign/verify and seal/open
 * round trips, every kind of tampering, the wrong signer or recipient,
 * revoked, expired and foreign certificates, the content type, and
 * interoperation with the stock openssl cms command in both directions;
 * the cache of trusted signers (struct seal_trusted), and SignedData
 * whose certificates field is cut, missing or spoiled.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ------------------------------------------------------ trusted signers */

/* cached - K with a cache of trusted signers of its own */
static struct seal_keys
cached(const struct seal_keys *k)
{
	struct seal_keys	c = *k;

	assert_non_null(c.trusted = seal_trusted_new());
	return c;
}

/* verify_ok - VERIFY through K from SIGNER gives back exactly MSG */
static void
verify_ok(const struct seal_keys *k, X509 *signer, const uint8_t *s,
    size_t slen, const uint8_t *msg, size_t mlen)
{
	uint8_t	*c;
	size_t	 clen = 0;
	char	 err[512] = "";

	c = seal_verify(k, signer, s, slen, &clen, err, sizeof(err));
	expect_content(c, clen, err, msg, mlen);
}

/* verify_refused - VERIFY through K from SIGNER fails for WANT */
static void
verify_refused(const struct seal_keys *k, X509 *signer, const uint8_t *s,
    size_t slen, const char *want)
{
	uint8_t	*c;
	size_t	 clen;
	char	 err[512] = "";

	c = seal_verify(k, signer, s, slen, &clen, err, sizeof(err));
	check_err(c, err, want);
}

static void
test_trusted_repeat(void **state)
{
	const uint8_t		 msg[] = "verified over and over";
	const uint8_t		 msg2[] = "and another one";
	struct seal_keys	 Bc = cached(&B), moved, bare;
	uint8_t			*s, *s2, *b, *c, *t, *at;
	size_t			 slen, s2len, blen, clen;
	char			 err[512];

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	s2 = sign(&A, msg2, sizeof(msg2), &s2len);
	for (int i = 0; i < 5; i++) {
		verify_ok(&Bc, A.cert, s, slen, msg, sizeof(msg));
		/* the cache holds a chain, never a content */
		verify_ok(&Bc, A.cert, s2, s2len, msg2, sizeof(msg2));
	}
	b = seal(&A, B.cert, msg, sizeof(msg), &blen);
	for (int i = 0; i < 3; i++) {
		err[0] = '\0';
		c = seal_open(&Bc, A.cert, b, blen, &clen, err, sizeof(err));
		expect_content(c, clen, err, msg, sizeof(msg));
	}
	/* With A trusted, its signature is still checked every time. */
	assert_non_null(t = malloc(slen));
	memcpy(t, s, slen);
	t[slen - 1] ^= 0x01;
	for (int i = 0; i < 2; i++)
		verify_refused(&Bc, A.cert, t, slen, "signature check failed");
	memcpy(t, s, slen);
	assert_non_null(at = memmem(t, slen, msg, sizeof(msg) - 1));
	at[3] ^= 0x01;
	verify_refused(&Bc, A.cert, t, slen, "signature check failed");
	free(t);

	/*
	 * The cache is in use: only to observe it, give the keys another
	 * trust store (a cache is bound to one).  A's chain is not checked
	 * again, while the same keys without the cache refuse A.
	 */
	moved = Bc;
	moved.trust = FOREIGN.trust;
	verify_ok(&moved, A.cert, s, slen, msg, sizeof(msg));
	bare = moved;
	bare.trusted = NULL;
	verify_refused(&bare, A.cert, s, slen,
	    "unable to get local issuer certificate");

	seal_trusted_free(Bc.trusted);
	seal_trusted_free(NULL);
	free(b);
	free(s2);
	free(s);
}

static void
test_trusted_other_signer(void **state)
{
	const uint8_t		 msg[] = "who signed this?";
	struct seal_keys	 Bc = cached(&B);
	CMS_ContentInfo		*cms;
	BIO			*in;
	uint8_t			*sa, *sc, *sf, *so, *scx, *b, *c;
	size_t			 salen, sclen, sflen, solen, scxlen;
	size_t			 blen, clen;
	char			 err[512] = "";

	(void)state;
	sa = sign(&A, msg, sizeof(msg), &salen);
	sc = sign(&C, msg, sizeof(msg), &sclen);
	sf = sign(&FOREIGN, msg, sizeof(msg), &sflen);
	so = sign(&OLD, msg, sizeof(msg), &solen);
	/* C signs, and embeds A's certificate beside its own */
	assert_non_null(in = BIO_new_mem_buf(msg, sizeof(msg)));
	assert_non_null(cms = CMS_sign(C.cert, C.key, NULL, in,
	    CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL));
	assert_int_equal(CMS_add1_cert(cms, A.cert), 1);
	assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
	BIO_free(in);
	scx = der_of(cms, &scxlen);

	verify_ok(&Bc, A.cert, sa, salen, msg, sizeof(msg));	/* cached */
	for (int i = 0; i < 2; i++) {
		verify_refused(&Bc, A.cert, sc, sclen,
		    "signer certificate not found");
		verify_refused(&Bc, A.cert, scx, scxlen,
		    "signer certificate not found");
		/* the same name as A, another CA and key */
		verify_refused(&Bc, A.cert, sf, sflen,
		    "signer certificate not found");
		verify_refused(&Bc, FOREIGN.cert, sf, sflen,
		    "unable to get local issuer certificate");
		verify_refused(&Bc, OLD.cert, so, solen, "expired");
		verify_ok(&Bc, A.cert, sa, salen, msg, sizeof(msg));
	}
	/* Sealed by C to B, A expected. */
	b = seal(&C, B.cert, msg, sizeof(msg), &blen);
	c = seal_open(&Bc, A.cert, b, blen, &clen, err, sizeof(err));
	check_err(c, err, "signer certificate not found");
	/* C's chain passes too; each signer is told apart. */
	verify_ok(&Bc, C.cert, sc, sclen, msg, sizeof(msg));
	verify_refused(&Bc, C.cert, sa, salen, "signer certificate not found");
	verify_refused(&Bc, A.cert, sc, sclen, "signer certificate not found");
	seal_trusted_free(Bc.trusted);
	OPENSSL_free(scx);
	free(b);
	free(so);
	free(sf);
	free(sc);
	free(sa);
}

static void
test_trusted_revoked(void **state)
{
	const uint8_t		 msg[] = "from a revoked key";
	struct seal_keys	 Rc = cached(&REV_B);
	struct seal_keys	 Nc = cached(&REV_B_NOCRL), moved;
	uint8_t			*s, *b, *c;
	size_t			 slen, blen, clen;
	char			 err[512];

	(void)state;
	s = sign(&REV_A, msg, sizeof(msg), &slen);
	b = seal(&REV_A, REV_B.cert, msg, sizeof(msg), &blen);
	for (int i = 0; i < 3; i++) {
		verify_refused(&Rc, REV_A.cert, s, slen, "revoked");
		err[0] = '\0';
		c = seal_open(&Rc, REV_A.cert, b, blen, &clen, err,
		    sizeof(err));
		check_err(c, err, "revoked");
	}
	/* Without the CRL (another store, another cache) it passes ... */
	for (int i = 0; i < 2; i++)
		verify_ok(&Nc, REV_A.cert, s, slen, msg, sizeof(msg));
	/* ... which leaves the store with the CRL as it was. */
	verify_refused(&Rc, REV_A.cert, s, slen, "revoked");
	/*
	 * Never remembered: under a store where REV_A does not chain at all
	 * (used only to look into the cache), it is not taken as checked.
	 */
	moved = Rc;
	moved.trust = B.trust;
	verify_refused(&moved, REV_A.cert, s, slen,
	    "unable to get local issuer certificate");
	seal_trusted_free(Nc.trusted);
	seal_trusted_free(Rc.trusted);
	free(b);
	free(s);
}

static void
test_trusted_per_store(void **state)
{
	const uint8_t		 msg[] = "one cache per trust store";
	struct seal_keys	 Bc = cached(&B), Fc = cached(&FOREIGN);
	uint8_t			*sa, *sf;
	size_t			 salen, sflen;

	(void)state;
	sa = sign(&A, msg, sizeof(msg), &salen);
	sf = sign(&FOREIGN, msg, sizeof(msg), &sflen);
	for (int i = 0; i < 3; i++) {
		verify_ok(&Bc, A.cert, sa, salen, msg, sizeof(msg));
		verify_refused(&Fc, A.cert, sa, salen,
		    "unable to get local issuer certificate");
		verify_ok(&Fc, FOREIGN.cert, sf, sflen, msg, sizeof(msg));
		verify_refused(&Bc, FOREIGN.cert, sf, sflen,
		    "unable to get local issuer certificate");
	}
	seal_trusted_free(Fc.trusted);
	seal_trusted_free(Bc.trusted);
	free(sf);
	free(sa);
}

/* short_lived - a copy of K's certificate, valid SECS seconds more */
static X509 *
short_lived(const struct seal_keys *k, long secs)
{
	X509		*x;
	EVP_PKEY	*ca;
	FILE		*fp;

	assert_non_null(fp = fopen(P("pki/ca.key"), "r"));
	ca = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(ca);
	assert_non_null(x = X509_dup(k->cert));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), secs));
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 0x5eed),
	    1);
	assert_true(X509_sign(x, ca, EVP_sha256()) > 0);
	EVP_PKEY_free(ca);
	return x;
}

/* A signer is never taken as checked past its certificate's notAfter. */
static void
test_trusted_expiry(void **state)
{
	const uint8_t		 msg[] = "signed just before the end";
	struct seal_keys	 Bc = cached(&B), signer = A;
	uint8_t			*s;
	size_t			 slen;
	time_t			 t0 = time(NULL);

	(void)state;
	/* at the start of a second, so the one left is a whole one */
	while (time(NULL) == t0)
		usleep(10000);
	signer.cert = short_lived(&A, 1);
	s = sign(&signer, msg, sizeof(msg), &slen);
	for (int i = 0; i < 3; i++)
		verify_ok(&Bc, signer.cert, s, slen, msg, sizeof(msg));
	for (int i = 0; X509_cmp_current_time(
	    X509_get0_notAfter(signer.cert)) >= 0; i++) {
		if (i > 100)
			fail_msg("the certificate did not expire");
		usleep(50000);
	}
	for (int i = 0; i < 2; i++)
		verify_refused(&Bc, signer.cert, s, slen, "expired");
	seal_trusted_free(Bc.trusted);
	X509_free(signer.cert);
	free(s);
}

/* Several threads verify through the same cache at once. */
struct verifier {
	const struct seal_keys	*k;
	const uint8_t		*good, *bad;
	size_t			 goodlen, badlen;
	const uint8_t		*msg;
	size_t			 mlen;
	int			 failures;
};

static void *
verifier_run(void *arg)
{
	struct verifier	*v = arg;
	uint8_t		*c;
	size_t		 clen;
	char		 err[512];

	for (int i = 0; i < 40; i++) {
		err[0] = '\0';
		c = seal_verify(v->k, A.cert, v->good, v->goodlen, &clen, err,
		    sizeof(err));
		if (c == NULL || clen != v->mlen ||
		    memcmp(c, v->msg, clen) != 0 || ERR_peek_error() != 0)
			v->failures++;
		free(c);
		err[0] = '\0';
		c = seal_verify(v->k, A.cert, v->bad, v->badlen, &clen, err,
		    sizeof(err));
		if (c != NULL || strstr(err, "signer certificate not found")
		    == NULL || ERR_peek_error() != 0)
			v->failures++;
		free(c);
	}
	return NULL;
}

static void
test_trusted_threads(void **state)
{
	const uint8_t		 msg[] = "from four threads";
	struct seal_keys	 Bc = cached(&B);
	struct verifier		 v[4];
	pthread_t		 th[4];
	uint8_t			*sa, *sc;
	size_t			 salen, sclen;

	(void)state;
	sa = sign(&A, msg, sizeof(msg), &salen);
	sc = sign(&C, msg, sizeof(msg), &sclen);
	for (int i = 0; i < 4; i++) {
		v[i] = (struct verifier){ .k = &Bc, .good = sa,
		    .goodlen = salen, .bad = sc, .badlen = sclen, .msg = msg,
		    .mlen = sizeof(msg) };
		assert_int_equal(pthread_create(&th[i], NULL, verifier_run,
		    &v[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(v[i].failures, 0);
	}
	seal_trusted_free(Bc.trusted);
	free(sc);
	free(sa);
}

/* ------------------------------------ embedded certificates, cut or not */

/*
 * A small DER editor: a signed data is split into its SignedData's
 * elements, which are put together again in another order, without some,
 * with others, or under other tags; lengths are re-encoded as DER.
 */
struct piece {
	const uint8_t	*p;
	size_t		 len;
};

struct sd {
	struct piece	 oid;		/* the contentType, whole */
	struct piece	 el[8];		/* the SignedData's, whole */
	size_t		 n;
	size_t		 certs;		/* the index of the [0] */
};

/* der_len - the element at P (AVAIL bytes): header length, content length */
static void
der_len(const uint8_t *p, size_t avail, size_t *hlen, size_t *clen)
{
	size_t	n;

	assert_true(avail >= 2);
	if (p[1] < 0x80) {
		*hlen = 2;
		*clen = p[1];
	} else {
		n = p[1] & 0x7f;
		assert_true(n >= 1 && n <= 3 && avail >= 2 + n);
		*clen = 0;
		for (size_t i = 0; i < n; i++)
			*clen = *clen << 8 | p[2 + i];
		*hlen = 2 + n;
	}
	assert_true(*hlen + *clen <= avail);
}

/* sd_split - S (DER ContentInfo{signedData}) as its elements */
static void
sd_split(const uint8_t *s, size_t slen, struct sd *sd)
{
	const uint8_t	*p = s, *end;
	size_t		 h, l;

	memset(sd, 0, sizeof(*sd));
	sd->certs = SIZE_MAX;
	der_len(p, slen, &h, &l);		/* ContentInfo */
	assert_int_equal(p[0], 0x30);
	assert_int_equal(h + l, slen);
	p += h;
	der_len(p, (size_t)(s + slen - p), &h, &l);	/* contentType */
	sd->oid.p = p;
	sd->oid.len = h + l;
	p += h + l;
	der_len(p, (size_t)(s + slen - p), &h, &l);	/* [0] EXPLICIT */
	assert_int_equal(p[0], 0xa0);
	p += h;
	der_len(p, (size_t)(s + slen - p), &h, &l);	/* SignedData */
	assert_int_equal(p[0], 0x30);
	p += h;
	end = p + l;
	assert_true(end == s + slen);
	while (p < end) {
		assert_true(sd->n < 8);
		der_len(p, (size_t)(end - p), &h, &l);
		if (p[0] == 0xa0)
			sd->certs = sd->n;
		sd->el[sd->n].p = p;
		sd->el[sd->n++].len = h + l;
		p += h + l;
	}
}

struct out {
	uint8_t	*p;
	size_t	 len;
};

static void
out_put(struct out *o, const void *p, size_t n)
{
	assert_non_null(o->p = realloc(o->p, o->len + n + 1));
	if (n > 0)
		memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void
out_hdr(struct out *o, uint8_t tag, size_t len)
{
	uint8_t	h[5];
	size_t	n = 0;

	h[n++] = tag;
	if (len < 0x80)
		h[n++] = (uint8_t)len;
	else if (len < 0x100) {
		h[n++] = 0x81;
		h[n++] = (uint8_t)len;
	} else {
		assert_true(len < 0x10000);
		h[n++] = 0x82;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	}
	out_put(o, h, n);
}

/* how a header gives its length: DER, long form, or BER indefinite */
enum form { FORM_DER = 0, FORM_LONG, FORM_INDEF };

/* wrap_form - TAG around CONTENT (consumed), its length as FORM says */
static struct out
wrap_form(uint8_t tag, struct out content, enum form form)
{
	static const uint8_t	 eoc[2] = { 0, 0 };
	struct out		 o = { NULL, 0 };
	uint8_t			 h[5] = { tag, 0x80 };

	if (form == FORM_DER)
		out_hdr(&o, tag, content.len);
	else if (form == FORM_INDEF)
		out_put(&o, h, 2);
	else {
		assert_true(content.len < 0x10000);
		h[1] = 0x83;	/* three bytes where two would do */
		h[2] = 0;
		h[3] = (uint8_t)(content.len >> 8);
		h[4] = (uint8_t)content.len;
		out_put(&o, h, 5);
	}
	out_put(&o, content.p, content.len);
	if (form == FORM_INDEF)
		out_put(&o, eoc, sizeof(eoc));
	free(content.p);
	return o;
}

/* shape - how to put a SignedData together (tags 0: the usual ones) */
struct shape {
	uint8_t		 ci_tag, exp_tag, sd_tag;
	enum form	 ci_form, exp_form, sd_form;
	struct piece	 ci_tail;	/* inside ContentInfo, after [0] */
	struct piece	 exp_tail;	/* inside [0], after SignedData */
};

/* build - ContentInfo{signedData} of PARTS under SH (malloc'd) */
static uint8_t *
build(const struct piece *oid, const struct piece *parts, size_t n,
    const struct shape *sh, size_t *len)
{
	struct out	sd = { NULL, 0 }, exp, ci = { NULL, 0 };

	for (size_t i = 0; i < n; i++)
		out_put(&sd, parts[i].p, parts[i].len);
	exp = wrap_form(sh->sd_tag ? sh->sd_tag : 0x30, sd, sh->sd_form);
	out_put(&exp, sh->exp_tail.p, sh->exp_tail.len);
	out_put(&ci, oid->p, oid->len);
	{
		struct out e = wrap_form(sh->exp_tag ? sh->exp_tag : 0xa0,
		    exp, sh->exp_form);

		out_put(&ci, e.p, e.len);
		free(e.p);
	}
	out_put(&ci, sh->ci_tail.p, sh->ci_tail.len);
	ci = wrap_form(sh->ci_tag ? sh->ci_tag : 0x30, ci, sh->ci_form);
	*len = ci.len;
	return ci.p;
}

/* without - the pieces of SD but element SKIP (SIZE_MAX: none) */
static size_t
without(const struct sd *sd, size_t skip, struct piece *parts)
{
	size_t	n = 0;

	for (size_t i = 0; i < sd->n; i++)
		if (i != skip)
			parts[n++] = sd->el[i];
	return n;
}

/* sign_nocerts - SignedData by K over MSG with no certificate embedded */
static uint8_t *
sign_nocerts(const struct seal_keys *k, const uint8_t *msg, size_t mlen,
    size_t *len)
{
	CMS_ContentInfo	*cms;
	BIO		*in;
	uint8_t		*d, *s;

	assert_non_null(in = BIO_new_mem_buf(msg, (int)mlen));
	cms = CMS_sign(k->cert, k->key, NULL, in,
	    CMS_BINARY | CMS_NOSMIMECAP | CMS_NOCERTS);
	BIO_free(in);
	d = der_of(cms, len);
	assert_non_null(s = malloc(*len));
	memcpy(s, d, *len);
	OPENSSL_free(d);
	return s;
}

/* parses - whether OpenSSL takes BUF as exactly one CMS object */
static int
parses(const uint8_t *buf, size_t len)
{
	const uint8_t	*p = buf;
	CMS_ContentInfo	*cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	int		 ok = cms != NULL && p == buf + len;

	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return ok;
}

static void
test_certs_cut(void **state)
{
	const uint8_t		 msg[] = "certificates cut or not";
	struct seal_keys	 Bc = cached(&B);
	const struct seal_keys	*ks[2] = { &B, &Bc };
	struct sd		 sd;
	struct piece		 parts[8];
	struct shape		 plain = { 0 };
	CMS_ContentInfo		*cms;
	BIO			*in;
	X509			*ca;
	uint8_t			*s, *cut, *nc, *more;
	size_t			 slen, cutlen, nclen, morelen, n;

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	sd_split(s, slen, &sd);
	assert_true(sd.certs != SIZE_MAX);
	/* our own cut, byte by byte, and OpenSSL's CMS_NOCERTS */
	n = without(&sd, sd.certs, parts);
	cut = build(&sd.oid, parts, n, &plain, &cutlen);
	assert_true(cutlen < slen);
	assert_true(parses(cut, cutlen));
	nc = sign_nocerts(&A, msg, sizeof(msg), &nclen);
	/* more certificates than the signer's: the CA's and C's */
	assert_non_null(in = BIO_new_mem_buf(msg, sizeof(msg)));
	assert_non_null(cms = CMS_sign(A.cert, A.key, NULL, in,
	    CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL));
	assert_int_equal(CMS_add1_cert(cms, C.cert), 1);
	assert_non_null(ca = read_cert(P("pki/ca.pem")));
	assert_int_equal(CMS_add1_cert(cms, ca), 1);
	X509_free(ca);
	assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
	BIO_free(in);
	{
		uint8_t *d = der_of(cms, &morelen);

		assert_non_null(more = malloc(morelen));
		memcpy(more, d, morelen);
		OPENSSL_free(d);
	}
	assert_true(morelen > slen);

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 2; i++) {
			verify_ok(ks[k], A.cert, s, slen, msg, sizeof(msg));
			verify_ok(ks[k], A.cert, cut, cutlen, msg,
			    sizeof(msg));
			verify_ok(ks[k], A.cert, nc, nclen, msg, sizeof(msg));
			verify_ok(ks[k], A.cert, more, morelen, msg,
			    sizeof(msg));
			/* what is embedded never stands for the signer */
			verify_refused(ks[k], C.cert, more, morelen,
			    "signer certificate not found");
		}
		/* Without the signer given, the embedded one is needed. */
		verify_ok(ks[k], NULL, s, slen, msg, sizeof(msg));
		verify_ok(ks[k], NULL, more, morelen, msg, sizeof(msg));
		verify_refused(ks[k], NULL, cut, cutlen,
		    "signer certificate not found");
		verify_refused(ks[k], NULL, nc, nclen,
		    "signer certificate not found");
	}
	seal_trusted_free(Bc.trusted);
	free(more);
	free(nc);
	free(cut);
	free(s);
}

/*
 * spoiled - the WHICH-th way of spoiling the certificates field of SD
 * (certificates embedded) or SN (none), or the tags and lengths around
 * the SignedData: each result is something OpenSSL refuses to parse.
 * NULL past the last one.  *WHAT says which.
 */
static uint8_t *
spoiled(int which, const struct sd *sd, const struct sd *sn, size_t *len,
    const char **what)
{
	static const uint8_t	 octets[] = { 0xa0, 0x03, 0x04, 0x01,
	    0x00 };
	static const uint8_t	 notcert[] = { 0xa0, 0x05, 0x30, 0x03, 0x02,
	    0x01, 0x00 };
	static const uint8_t	 empty0[] = { 0xa0, 0x00 };
	static const uint8_t	 null[] = { 0x05, 0x00 };
	const struct piece	 certs = sd->el[sd->certs];
	struct piece		 parts[10];
	struct shape		 sh = { 0 };
	struct out		 o = { NULL, 0 };
	uint8_t			*v;
	size_t			 n = 0, h, l, i;

	der_len(certs.p, certs.len, &h, &l);
	switch (which) {
	case 0:
		*what = "certificates: an OCTET STRING";
		n = without(sd, SIZE_MAX, parts);
		parts[sd->certs] = (struct piece){ octets, sizeof(octets) };
		break;
	case 1:
		*what = "certificates: a SEQUENCE, not a certificate";
		n = without(sd, SIZE_MAX, parts);
		parts[sd->certs] = (struct piece){ notcert, sizeof(notcert) };
		break;
	case 2:
		*what = "certificates: valid ones, then a NULL";
		out_hdr(&o, 0xa0, l + sizeof(null));
		out_put(&o, certs.p + h, l);
		out_put(&o, null, sizeof(null));
		n = without(sd, SIZE_MAX, parts);
		parts[sd->certs] = (struct piece){ o.p, o.len };
		break;
	case 3:
		*what = "the certificates field twice";
		for (i = 0; i < sd->n; i++) {
			parts[n++] = sd->el[i];
			if (i == sd->certs)
				parts[n++] = sd->el[i];
		}
		break;
	case 4:
		*what = "an empty [0] after the signerInfos";
		n = without(sd, SIZE_MAX, parts);
		parts[n++] = (struct piece){ empty0, sizeof(empty0) };
		break;
	case 5:
		*what = "no certificates, an empty [0] after the signerInfos";
		n = without(sn, SIZE_MAX, parts);
		parts[n++] = (struct piece){ empty0, sizeof(empty0) };
		break;
	case 6:
		*what = "the certificates before the digest algorithms";
		parts[n++] = sd->el[0];
		parts[n++] = certs;
		for (i = 1; i < sd->n; i++)
			if (i != sd->certs)
				parts[n++] = sd->el[i];
		break;
	case 7:
		*what = "the certificates after the signerInfos";
		n = without(sd, sd->certs, parts);
		parts[n++] = certs;
		break;
	case 8:
		*what = "a primitive ContentInfo SEQUENCE";
		n = without(sd, SIZE_MAX, parts);
		sh.ci_tag = 0x10;
		break;
	case 9:
		*what = "a primitive [0] EXPLICIT";
		n = without(sd, SIZE_MAX, parts);
		sh.exp_tag = 0x80;
		break;
	case 10:
		*what = "a primitive SignedData SEQUENCE";
		n = without(sd, SIZE_MAX, parts);
		sh.sd_tag = 0x10;
		break;
	case 11:
		*what = "a NULL in the ContentInfo after the [0]";
		n = without(sd, SIZE_MAX, parts);
		sh.ci_tail = (struct piece){ null, sizeof(null) };
		break;
	case 12:
		*what = "a NULL in the [0] after the SignedData";
		n = without(sd, SIZE_MAX, parts);
		sh.exp_tail = (struct piece){ null, sizeof(null) };
		break;
	case 13:
		*what = "a NULL after the signerInfos";
		n = without(sd, SIZE_MAX, parts);
		parts[n++] = (struct piece){ null, sizeof(null) };
		break;
	default:
		return NULL;
	}
	v = build(&sd->oid, parts, n, &sh, len);
	free(o.p);
	return v;
}

/* len_add - add D to the 2-byte long-form length of the header at B + AT */
static void
len_add(uint8_t *b, size_t at, int d)
{
	size_t	n;

	assert_int_equal(b[at + 1], 0x82);
	n = (size_t)b[at + 2] << 8 | b[at + 3];
	n = (size_t)((long)n + d);
	b[at + 2] = (uint8_t)(n >> 8);
	b[at + 3] = (uint8_t)n;
}

/*
 * lengths - S with the lengths around its SignedData made inconsistent,
 * or bytes after it: the WHICH-th way, NULL past the last.
 */
static uint8_t *
lengths(int which, const uint8_t *s, size_t slen, const struct sd *sd,
    size_t *len, const char **what)
{
	const size_t	 exp = 4 + sd->oid.len, sdat = exp + 4;
	uint8_t		*v;

	assert_non_null(v = malloc(2 * slen));
	memcpy(v, s, slen);
	*len = slen;
	switch (which) {
	case 0:
		*what = "ContentInfo one byte shorter than the data";
		len_add(v, 0, -1);
		break;
	case 1:
		*what = "ContentInfo one byte longer than the data";
		len_add(v, 0, 1);
		break;
	case 2:
		*what = "[0] EXPLICIT one byte short";
		len_add(v, exp, -1);
		break;
	case 3:
		*what = "SignedData one byte short";
		len_add(v, sdat, -1);
		break;
	case 4:
		*what = "[0] EXPLICIT and SignedData one byte short";
		len_add(v, exp, -1);
		len_add(v, sdat, -1);
		break;
	case 5:
		*what = "all three one byte short";
		len_add(v, 0, -1);
		len_add(v, exp, -1);
		len_add(v, sdat, -1);
		break;
	case 6:
		*what = "a NULL after the ContentInfo";
		v[slen] = 0x05;
		v[slen + 1] = 0x00;
		*len = slen + 2;
		break;
	case 7:
		*what = "ContentInfo and a NULL after it, both counted";
		len_add(v, 0, 2);
		v[slen] = 0x05;
		v[slen + 1] = 0x00;
		*len = slen + 2;
		break;
	case 8:
		*what = "the signed data twice";
		memcpy(v + slen, s, slen);
		*len = 2 * slen;
		break;
	default:
		free(v);
		return NULL;
	}
	return v;
}

/*
 * try_spoiled - V must be refused without the signer (OpenSSL parses it
 * as it is) and with it; returns 1 when accepted with the signer given.
 */
static int
try_spoiled(const struct seal_keys *k, const uint8_t *v, size_t vlen,
    const char *what)
{
	uint8_t	*c;
	size_t	 clen;
	char	 err[512] = "";
	int	 accepted = 0;

	if (parses(v, vlen))
		fail_msg("%s: OpenSSL parses it", what);
	c = seal_verify(k, NULL, v, vlen, &clen, err, sizeof(err));
	check_err(c, err, "");
	/* twice: a refusal leaves nothing behind that lets it in */
	for (int i = 0; i < 2 && !accepted; i++) {
		err[0] = '\0';
		c = seal_verify(k, A.cert, v, vlen, &clen, err, sizeof(err));
		if (c != NULL) {
			print_message("accepted with the signer given%s: %s\n",
			    i ? " the second time" : "", what);
			accepted = 1;
			free(c);
			assert_int_equal(ERR_peek_error(), 0);
		} else
			check_err(c, err, "");
	}
	return accepted;
}

/*
 * Cutting the certificates must not repair an encoding OpenSSL refuses:
 * what is accepted with the signer given is a SignedData that the
 * receiver can verify again later without it, and that stock openssl
 * verifies when exported.
 */
static void
test_certs_malformed(void **state)
{
	const uint8_t		 msg[] = "spoiled around the signature";
	struct seal_keys	 Bc = cached(&B);
	const struct seal_keys	*ks[2] = { &B, &Bc };
	struct sd		 sd, sn;
	uint8_t			*s, *nc, *v;
	size_t			 slen, nclen, vlen;
	const char		*what;
	int			 bad = 0;

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	nc = sign_nocerts(&A, msg, sizeof(msg), &nclen);
	sd_split(s, slen, &sd);
	sd_split(nc, nclen, &sn);
	assert_true(sd.certs == 3 && sn.certs == SIZE_MAX);
	for (int k = 0; k < 2; k++) {
		/* the signer cached, or not */
		verify_ok(ks[k], A.cert, s, slen, msg, sizeof(msg));
		for (int i = 0; (v = spoiled(i, &sd, &sn, &vlen, &what)) !=
		    NULL; i++) {
			bad += try_spoiled(ks[k], v, vlen, what);
			free(v);
		}
		for (int i = 0; (v = lengths(i, s, slen, &sd, &vlen, &what)) !=
		    NULL; i++) {
			bad += try_spoiled(ks[k], v, vlen, what);
			free(v);
		}
	}
	seal_trusted_free(Bc.trusted);
	free(nc);
	free(s);
	if (bad > 0)
		fail_msg("%d malformed signed data accepted with the signer "
		    "given", bad);
}

/*
 * encoded - S (as SD) encoded another way than plain DER: the WHICH-th,
 * NULL past the last.  OpenSSL takes some of these (BER) and refuses
 * others; *WHAT says which way.
 */
static uint8_t *
encoded(int which, const struct sd *sd, size_t *len, const char **what)
{
	const struct piece	 certs = sd->el[sd->certs];
	struct piece		 parts[8];
	struct shape		 sh = { 0 };
	struct out		 o = { NULL, 0 }, c = { NULL, 0 };
	uint8_t			*v;
	size_t			 n, h, l;

	der_len(certs.p, certs.len, &h, &l);
	n = without(sd, SIZE_MAX, parts);
	switch (which) {
	case 0:
		*what = "ContentInfo length in long form";
		sh.ci_form = FORM_LONG;
		break;
	case 1:
		*what = "[0] EXPLICIT length in long form";
		sh.exp_form = FORM_LONG;
		break;
	case 2:
		*what = "SignedData length in long form";
		sh.sd_form = FORM_LONG;
		break;
	case 3:
		*what = "ContentInfo of indefinite length";
		sh.ci_form = FORM_INDEF;
		break;
	case 4:
		*what = "all three of indefinite length";
		sh.ci_form = sh.exp_form = sh.sd_form = FORM_INDEF;
		break;
	case 5:
	case 6:
		*what = which == 5 ? "certificates length in long form" :
		    "certificates of indefinite length";
		out_put(&c, certs.p + h, l);
		o = wrap_form(0xa0, c, which == 5 ? FORM_LONG : FORM_INDEF);
		parts[sd->certs] = (struct piece){ o.p, o.len };
		break;
	case 7:
		*what = "certificates field primitive";
		out_put(&o, certs.p, certs.len);
		o.p[0] = 0x80;
		parts[sd->certs] = (struct piece){ o.p, o.len };
		break;
	default:
		return NULL;
	}
	v = build(&sd->oid, parts, n, &sh, len);
	free(o.p);
	return v;
}

/*
 * Encodings other than plain DER: whatever OpenSSL makes of them as they
 * are, seal_verify makes the same, the signer given or not, the signer
 * and its certificates field known or not.
 */
static void
test_certs_encodings(void **state)
{
	const uint8_t		 msg[] = "encoded another way";
	struct seal_keys	 Bc = cached(&B);
	const struct seal_keys	*ks[2] = { &B, &Bc };
	struct sd		 sd;
	uint8_t			*s, *v, *c;
	size_t			 slen, vlen, clen;
	const char		*what;
	char			 err[512];
	int			 want, bad = 0;

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	sd_split(s, slen, &sd);
	for (int k = 0; k < 2; k++) {
		verify_ok(ks[k], A.cert, s, slen, msg, sizeof(msg));
		for (int i = 0; (v = encoded(i, &sd, &vlen, &what)) != NULL;
		    i++) {
			want = parses(v, vlen);
			if (k == 0)
				print_message("%s: %s by OpenSSL\n", what,
				    want ? "parsed" : "refused");
			for (int mode = 0; mode < 4; mode++) {
				err[0] = '\0';
				c = seal_verify(ks[k], mode & 1 ? A.cert :
				    NULL, v, vlen, &clen, err, sizeof(err));
				if ((c != NULL) != want) {
					print_message("%s: %s with the signer "
					    "%s\n", what, c != NULL ? "accepted" :
					    "refused", mode & 1 ? "given" :
					    "not given");
					bad++;
					free(c);
				} else if (want)
					expect_content(c, clen, err, msg,
					    sizeof(msg));
				else
					check_err(c, err, "");
			}
			free(v);
		}
	}
	seal_trusted_free(Bc.trusted);
	free(s);
	if (bad > 0)
		fail_msg("%d results other than OpenSSL's own", bad);
}

/* envelope - INNER as AuthEnvelopedData to RCPT, the way seal_request does */
static uint8_t *
envelope(const uint8_t *inner, size_t ilen, X509 *rcpt, size_t *len)
{
	CMS_ContentInfo		*cms;
	CMS_RecipientInfo	*ri;
	BIO			*in;
	uint8_t			*d, *b;

	assert_non_null(cms = CMS_encrypt(NULL, NULL, EVP_aes_256_gcm(),
	    CMS_BINARY | CMS_PARTIAL));
	assert_non_null(ri = CMS_add1_recipient_cert(cms, rcpt,
	    CMS_KEY_PARAM));
	assert_true(EVP_PKEY_CTX_set_ecdh_kdf_md(
	    CMS_RecipientInfo_get0_pkey_ctx(ri), EVP_sha256()) > 0);
	assert_non_null(in = BIO_new_mem_buf(inner, (int)ilen));
	assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
	BIO_free(in);
	d = der_of(cms, len);
	assert_non_null(b = malloc(*len));
	memcpy(b, d, *len);
	OPENSSL_free(d);
	return b;
}

/* The same inside a sealed body, whose inner SignedData seal_open checks. */
static void
test_open_certs(void **state)
{
	const uint8_t		 msg[] = "sealed, certificates cut or not";
	struct seal_keys	 Bc = cached(&B);
	const struct seal_keys	*ks[2] = { &B, &Bc };
	struct sd		 sd, sn;
	struct piece		 parts[8];
	struct shape		 plain = { 0 };
	uint8_t			*s, *nc, *in, *b, *c;
	size_t			 slen, nclen, inlen, blen, clen;
	const char		*what;
	char			 err[512];
	int			 bad = 0;

	(void)state;
	s = sign(&A, msg, sizeof(msg), &slen);
	nc = sign_nocerts(&A, msg, sizeof(msg), &nclen);
	sd_split(s, slen, &sd);
	sd_split(nc, nclen, &sn);
	for (int k = 0; k < 2; k++) {
		/* as sent: A's certificates field is then known to parse */
		b = seal(&A, B.cert, msg, sizeof(msg), &blen);
		for (int i = 0; i < 2; i++) {
			err[0] = '\0';
			c = seal_open(ks[k], A.cert, b, blen, &clen, err,
			    sizeof(err));
			expect_content(c, clen, err, msg, sizeof(msg));
		}
		free(b);
		/* cut by us, then sealed: opens with the signer given */
		in = build(&sd.oid, parts, without(&sd, sd.certs, parts),
		    &plain, &inlen);
		b = envelope(in, inlen, B.cert, &blen);
		for (int i = 0; i < 2; i++) {
			err[0] = '\0';
			c = seal_open(ks[k], A.cert, b, blen, &clen, err,
			    sizeof(err));
			expect_content(c, clen, err, msg, sizeof(msg));
		}
		err[0] = '\0';
		c = seal_open(ks[k], NULL, b, blen, &clen, err, sizeof(err));
		check_err(c, err, "signer certificate not found");
		free(b);
		free(in);
		for (int i = 0; (in = spoiled(i, &sd, &sn, &inlen, &what)) !=
		    NULL; i++) {
			b = envelope(in, inlen, B.cert, &blen);
			err[0] = '\0';
			c = seal_open(ks[k], NULL, b, blen, &clen, err,
			    sizeof(err));
			check_err(c, err, "");
			for (int j = 0; j < 2; j++) {
				err[0] = '\0';
				c = seal_open(ks[k], A.cert, b, blen, &clen,
				    err, sizeof(err));
				if (c != NULL) {
					print_message("sealed, accepted with "
					    "the signer given: %s\n", what);
					bad++;
					free(c);
					break;
				}
				check_err(c, err, "");
			}
			free(b);
			free(in);
		}
	}
	seal_trusted_free(Bc.trusted);
	free(nc);
	free(s);
	if (bad > 0)
		fail_msg("%d sealed bodies that cannot be opened again "
		    "accepted with the signer given", bad);
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
		cmocka_unit_test(test_trusted_repeat),
		cmocka_unit_test(test_trusted_other_signer),
		cmocka_unit_test(test_trusted_revoked),
		cmocka_unit_test(test_trusted_per_store),
		cmocka_unit_test(test_trusted_expiry),
		cmocka_unit_test(test_trusted_threads),
		cmocka_unit_test(test_certs_cut),
		cmocka_unit_test(test_certs_malformed),
		cmocka_unit_test(test_certs_encodings),
		cmocka_unit_test(test_open_certs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
