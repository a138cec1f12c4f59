/*
 * tls.c - TLS 1.3 mutual authentication contexts and peer identity.
 *
 * The context recipe is RELIABILITY §4, step by step; any failing call
 * refuses the whole context.  The peer identity is the certificate's
 * single URI SAN, compared on its ASN.1 bytes (never the CN, never a C
 * string that could stop at an embedded NUL).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bounds.h"
#include "directory.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

#define TLS_CIPHERSUITES \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define TLS_GROUPS		"X25519:P-256"
#define TLS_SIGALGS		"ECDSA+SHA256:ECDSA+SHA384"
#define TLS_SECURITY_LEVEL	3
#define TLS_VERIFY_DEPTH	2

/* ALPN wire form: one length byte, then the protocol name. */
static const unsigned char alpn_wire[] = "\x08" COMITY_ALPN;
#define ALPN_WIRE_LEN	(sizeof(alpn_wire) - 1)
#define ALPN_LEN	(sizeof(COMITY_ALPN) - 1)

const char *
tls_errstr(char *buf, size_t len)
{
	unsigned long	 e;
	size_t		 used = 0;
	char		 one[256];

	if (len == 0)
		return buf;
	buf[0] = '\0';
	/* Drain everything so a stale error never confuses a later call. */
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof(one));
		if (used < len - 1) {
			int n = snprintf(buf + used, len - used, "%s%s",
			    used > 0 ? "; " : "", one);
			if (n > 0)
				used += (size_t)n < len - used ?
				    (size_t)n : len - used - 1;
		}
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "no OpenSSL error recorded");
	return buf;
}

/* tls_err - "what: <OpenSSL errors>" into err */
static void
tls_err(char *err, size_t errlen, const char *what)
{
	char	ebuf[512];

	snprintf(err, errlen, "%s: %s", what, tls_errstr(ebuf, sizeof(ebuf)));
}

/*
 * key_open - open PATH and check, on the descriptor that will be read,
 * that it is a regular file owned by the effective uid with no group or
 * other bits.  Returns the fd or -1 with the reason in err.
 */
static int
key_open(const char *path, char *err, size_t errlen)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "key file %s: owned by uid %u, not by "
		    "uid %u", path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "key file %s: mode %04o gives access to "
		    "group or others (use 0600 or 0400)", path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int
tls_check_key_file(const char *path, char *err, size_t errlen)
{
	int	fd;

	if ((fd = key_open(path, err, errlen)) == -1)
		return -1;
	close(fd);
	return 0;
}

/*
 * key_load - the private key from PATH, read from the very descriptor
 * whose permissions were checked (no window to swap the file).
 */
static EVP_PKEY *
key_load(const char *path, char *err, size_t errlen)
{
	EVP_PKEY	*pkey;
	FILE		*fp;
	int		 fd;

	if ((fd = key_open(path, err, errlen)) == -1)
		return NULL;
	if ((fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pkey == NULL) {
		char what[300];

		snprintf(what, sizeof(what), "key file %s: no PEM private key",
		    path);
		tls_err(err, errlen, what);
	}
	return pkey;
}

int
tls_cert_authority_id(X509 *cert, char *id, size_t idlen, char *err,
    size_t errlen)
{
	GENERAL_NAMES		*names;
	const unsigned char	*uri = NULL;
	size_t			 urilen = 0, plen = strlen(ID_URI_PREFIX);
	int			 crit = 0, nuri = 0, rc = -1;

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (names == NULL) {
		if (crit == -1)
			snprintf(err, errlen, "certificate has no "
			    "subjectAltName (the CN is never used)");
		else if (crit == -2)
			snprintf(err, errlen, "certificate has several "
			    "subjectAltName extensions");
		else
			snprintf(err, errlen, "certificate subjectAltName "
			    "cannot be decoded");
		ERR_clear_error();
		return -1;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		int len;

		if (gn->type != GEN_URI)
			continue;
		nuri++;
		len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		uri = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		urilen = len > 0 ? (size_t)len : 0;
	}
	if (nuri == 0) {
		snprintf(err, errlen, "certificate subjectAltName has no URI");
		goto out;
	}
	if (nuri > 1) {
		snprintf(err, errlen, "certificate subjectAltName has %d URIs "
		    "(exactly one allowed)", nuri);
		goto out;
	}
	if (memchr(uri, '\0', urilen) != NULL) {
		snprintf(err, errlen, "certificate URI SAN contains a NUL byte");
		goto out;
	}
	if (urilen <= plen || memcmp(uri, ID_URI_PREFIX, plen) != 0) {
		snprintf(err, errlen, "certificate URI SAN \"%.*s\" does not "
		    "start with %s", (int)(urilen > 80 ? 80 : urilen),
		    (const char *)uri, ID_URI_PREFIX);
		goto out;
	}
	if (!id_valid((const char *)uri + plen, urilen - plen)) {
		snprintf(err, errlen, "certificate URI SAN \"%.*s\": invalid "
		    "authority id", (int)(urilen > 80 ? 80 : urilen),
		    (const char *)uri);
		goto out;
	}
	if (urilen - plen >= idlen) {
		snprintf(err, errlen, "authority id too long for its buffer");
		goto out;
	}
	memcpy(id, uri + plen, urilen - plen);
	id[urilen - plen] = '\0';
	rc = 0;
out:
	GENERAL_NAMES_free(names);
	return rc;
}

int
tls_spki_sha256(X509 *cert, unsigned char out[32])
{
	EVP_PKEY	*pkey;
	unsigned char	*der = NULL;
	unsigned int	 mdlen = 0;
	int		 len, rc = -1;

	if ((pkey = X509_get0_pubkey(cert)) == NULL)
		return -1;
	if ((len = i2d_PUBKEY(pkey, &der)) <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == SHA256_LEN)
		rc = 0;
	OPENSSL_free(der);
	return rc;
}

static int
verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
	if (!preverify_ok) {
		int e = X509_STORE_CTX_get_error(xs);

		log_warnx("tls: certificate verify failed depth=%d error=%d "
		    "reason=\"%s\"", X509_STORE_CTX_get_error_depth(xs), e,
		    X509_verify_cert_error_string(e));
	}
	/* Never turn a failure into a success. */
	return preverify_ok;
}

/*
 * alpn_select_cb - accept exactly comity/1.  Walks the client's list
 * itself: SSL_select_next_proto() over-read on empty lists (CVE-2024-5535).
 */
static int
alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int	i = 0;

	while (i < inlen) {
		unsigned int n = in[i];

		if (n == 0 || n > inlen - i - 1)
			break;		/* malformed list */
		if (n == ALPN_LEN && memcmp(in + i + 1, COMITY_ALPN, n) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* store_has_cert - the store holds at least one certificate */
static int
store_has_cert(X509_STORE *st)
{
	STACK_OF(X509_OBJECT)	*objs;
	int			 found = 0;

	if (!X509_STORE_lock(st))
		return 0;
	objs = X509_STORE_get0_objects(st);
	for (int i = 0; i < sk_X509_OBJECT_num(objs) && !found; i++)
		if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) ==
		    X509_LU_X509)
			found = 1;
	X509_STORE_unlock(st);
	return found;
}

/* ctx_build - one context (server or client role) per RELIABILITY §4 */
static SSL_CTX *
ctx_build(int server, const char *cert, EVP_PKEY *key, const char *ca,
    const char *crl, char *err, size_t errlen)
{
	SSL_CTX			*ctx;
	X509_VERIFY_PARAM	*vp;
	char			 what[1024];

	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL) {
		tls_err(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		tls_err(err, errlen, "TLS 1.3 only");
		goto fail;
	}
	if (SSL_CTX_set_ciphersuites(ctx, TLS_CIPHERSUITES) != 1) {
		tls_err(err, errlen, "ciphersuites");
		goto fail;
	}
	if (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
		tls_err(err, errlen, "groups");
		goto fail;
	}
	if (SSL_CTX_set1_sigalgs_list(ctx, TLS_SIGALGS) != 1 ||
	    SSL_CTX_set1_client_sigalgs_list(ctx, TLS_SIGALGS) != 1) {
		tls_err(err, errlen, "signature algorithms");
		goto fail;
	}
	SSL_CTX_set_security_level(ctx, TLS_SECURITY_LEVEL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* No resumption: every connection re-checks the chain and the CRL. */
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1) {
		tls_err(err, errlen, "num_tickets");
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	/* Trust the configured CA file only, never the system roots. */
	if (SSL_CTX_load_verify_file(ctx, ca) != 1) {
		snprintf(what, sizeof(what), "CA file %s", ca);
		tls_err(err, errlen, what);
		goto fail;
	}
	if (!store_has_cert(SSL_CTX_get_cert_store(ctx))) {
		/* A file of CRLs alone "loads", and would trust nobody. */
		snprintf(err, errlen, "CA file %s: no certificate in it", ca);
		goto fail;
	}
	/* the store also checks CMS signers (seal.c): strict there too */
	if (X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx),
	    X509_V_FLAG_X509_STRICT) != 1) {
		tls_err(err, errlen, "store flags");
		goto fail;
	}
	if (crl != NULL) {
		X509_STORE	*st = SSL_CTX_get_cert_store(ctx);
		X509_LOOKUP	*lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());

		if (lu == NULL || X509_load_crl_file(lu, crl,
		    X509_FILETYPE_PEM) < 1) {
			snprintf(what, sizeof(what), "CRL file %s", crl);
			tls_err(err, errlen, what);
			goto fail;
		}
		if (X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL) != 1) {
			tls_err(err, errlen, "CRL flags");
			goto fail;
		}
	}
	vp = SSL_CTX_get0_param(ctx);
	if (X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_X509_STRICT) != 1 ||
	    X509_VERIFY_PARAM_set_purpose(vp, server ? X509_PURPOSE_SSL_CLIENT :
	    X509_PURPOSE_SSL_SERVER) != 1) {
		tls_err(err, errlen, "verify parameters");
		goto fail;
	}
	X509_VERIFY_PARAM_set_depth(vp, TLS_VERIFY_DEPTH);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(what, sizeof(what), "certificate file %s", cert);
		tls_err(err, errlen, what);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(what, sizeof(what), "key does not match certificate "
		    "%s", cert);
		tls_err(err, errlen, what);
		goto fail;
	}

	if (server)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
	else if (SSL_CTX_set_alpn_protos(ctx, alpn_wire, ALPN_WIRE_LEN) != 0) {
		/* Inverted convention: 0 is success here. */
		tls_err(err, errlen, "ALPN");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * own_cert_check - warn (only) when our own certificate does not verify
 * against the CA: peers will refuse it, but an operator may be rolling
 * certificates or testing, and the handshake reports it precisely.
 */
static void
own_cert_check(SSL_CTX *ctx, X509 *own, const char *id)
{
	X509_STORE_CTX	*xs;

	if ((xs = X509_STORE_CTX_new()) == NULL)
		return;
	if (X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx), own,
	    NULL) == 1) {
		X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(xs);

		/* The CRL's freshness is watched separately. */
		X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_X509_STRICT);
		X509_VERIFY_PARAM_clear_flags(p, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL);
		if (X509_verify_cert(xs) != 1) {
			int e = X509_STORE_CTX_get_error(xs);

			log_warnx("%s own certificate does not verify against "
			    "the CA: %s", id, X509_verify_cert_error_string(e));
		}
	}
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
}

struct tls_ctx *
tls_ctx_new(const char *id, const char *cert, const char *key, const char *ca,
    const char *crl, char *err, size_t errlen)
{
	struct tls_ctx	*t;
	X509		*own;
	char		 certid[ID_MAX + 1], reason[256];

	ERR_clear_error();
	t = xcalloc(1, sizeof(*t));
	t->refs = 1;
	if ((t->own_key = key_load(key, err, errlen)) == NULL)
		goto fail;
	if ((t->server = ctx_build(1, cert, t->own_key, ca, crl, err,
	    errlen)) == NULL)
		goto fail;
	if ((t->client = ctx_build(0, cert, t->own_key, ca, crl, err,
	    errlen)) == NULL)
		goto fail;
	if ((own = SSL_CTX_get0_certificate(t->server)) == NULL ||
	    X509_up_ref(own) != 1) {
		snprintf(err, errlen, "certificate file %s: no certificate",
		    cert);
		goto fail;
	}
	t->own_cert = own;
	if (tls_cert_authority_id(own, certid, sizeof(certid), reason,
	    sizeof(reason)) == -1) {
		snprintf(err, errlen, "certificate file %s: %s", cert, reason);
		goto fail;
	}
	if (strcmp(certid, id) != 0) {
		snprintf(err, errlen, "certificate file %s names %s, but the "
		    "configured id is %s", cert, certid, id);
		goto fail;
	}
	own_cert_check(t->server, own, id);
	t->seal.key = t->own_key;
	t->seal.cert = t->own_cert;
	t->seal.trust = SSL_CTX_get_cert_store(t->client);
	if ((t->seal.trusted = seal_trusted_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return t;
fail:
	ERR_clear_error();
	tls_ctx_unref(t);
	return NULL;
}

int
tls_ctx_retire(struct tls_ctx *t, const char *keyfile, char *err,
    size_t errlen)
{
	char	why[512];

	EVP_PKEY_free(t->retired_key);
	t->seal.retired = NULL;
	if ((t->retired_key = key_load(keyfile, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "retired_key: %s", why);
		return -1;
	}
	if (EVP_PKEY_eq(t->retired_key, t->own_key) == 1) {
		snprintf(err, errlen, "retired_key %s is the current key",
		    keyfile);
		return -1;
	}
	t->seal.retired = t->retired_key;
	return 0;
}

void
tls_ctx_ref(struct tls_ctx *t)
{
	if (t->refs <= 0)
		fatalx("tls_ctx_ref: context already released");
	t->refs++;
}

void
tls_ctx_unref(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	if (--t->refs > 0)
		return;
	SSL_CTX_free(t->server);
	SSL_CTX_free(t->client);
	X509_free(t->own_cert);
	EVP_PKEY_free(t->own_key);
	EVP_PKEY_free(t->retired_key);
	seal_trusted_free(t->seal.trusted);
	free(t);
}

int
tls_peer_check(SSL *ssl, char *id, size_t idlen, char *err, size_t errlen)
{
	const unsigned char	*alpn = NULL;
	unsigned int		 alpnlen = 0;
	X509			*peer;
	long			 vr;
	char			 reason[256];

	/* The verify result is X509_V_OK when no certificate was sent. */
	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(err, errlen, "peer sent no certificate");
		return -1;
	}
	if ((vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(err, errlen, "peer certificate not verified: %s",
		    X509_verify_cert_error_string(vr));
		return -1;
	}
	if (SSL_version(ssl) != TLS1_3_VERSION) {
		snprintf(err, errlen, "peer negotiated %s, not TLSv1.3",
		    SSL_get_version(ssl));
		return -1;
	}
	/* The server callback never runs when the client sends no ALPN. */
	SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
	if (alpn == NULL || alpnlen != ALPN_LEN ||
	    memcmp(alpn, COMITY_ALPN, ALPN_LEN) != 0) {
		snprintf(err, errlen, "ALPN is not %s", COMITY_ALPN);
		return -1;
	}
	if (tls_cert_authority_id(peer, id, idlen, reason,
	    sizeof(reason)) == -1) {
		snprintf(err, errlen, "peer identity: %s", reason);
		return -1;
	}
	return 0;
}

int
tls_crl_next_update(const char *crl_path, long *secs, int *has)
{
	const ASN1_TIME	*next;
	X509_CRL	*crl;
	FILE		*fp;
	int		 day = 0, sec = 0, rc = -1;

	*secs = 0;
	*has = 0;
	if (crl_path == NULL)
		return 0;
	if ((fp = fopen(crl_path, "re")) == NULL)
		return -1;
	crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL);
	fclose(fp);
	if (crl == NULL) {
		ERR_clear_error();
		return -1;
	}
	if ((next = X509_CRL_get0_nextUpdate(crl)) == NULL) {
		rc = 0;
		goto out;
	}
	if (ASN1_TIME_diff(&day, &sec, NULL, next) != 1)
		goto out;
	*secs = (long)day * 86400L + sec;
	*has = 1;
	rc = 0;
out:
	X509_CRL_free(crl);
	ERR_clear_error();
	return rc;
}
