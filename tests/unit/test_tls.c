/*
 * test_tls.c - peer identity from certificates built in memory, key file
 * permissions, contexts over a mkpki PKI, SPKI hashes, and handshakes
 * between two contexts over a BIO pair (ALPN, CA, CRL, no certificate).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <limits.h>
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
#include "log.h"
#include "tls.h"

static char	 tmpdir[256];
static EVP_PKEY	*key;		/* for the in-memory certificates */
static char	 logged[2048];	/* warnings seen through the log hook */

static void
log_hook(int level, const char *line)
{
	if (level <= LOG_LVL_WARN) {
		size_t n = strlen(logged);

		snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
	}
}

static int
mkpki(const char *args)
{
	char cmd[PATH_MAX * 2];

	snprintf(cmd, sizeof(cmd), "'%s/certs/mkpki' %s",
	    getenv("COMITY_SOURCE_DIR"), args);
	return system(cmd);
}

static int
setup(void **state)
{
	char args[1024];

	if (getenv("COMITY_SOURCE_DIR") == NULL) {
		fprintf(stderr, "COMITY_SOURCE_DIR is not set\n");
		return -1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_tls.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	/* pki: the network; other: a second CA; rev: KE-ODPP revoked. */
	snprintf(args, sizeof(args), "'%s/pki' BE-FPSJ KE-ODPP", tmpdir);
	if (mkpki(args) != 0)
		return -1;
	snprintf(args, sizeof(args), "--crl '%s/pki'", tmpdir);
	if (mkpki(args) != 0)
		return -1;
	snprintf(args, sizeof(args), "'%s/other' KE-ODPP", tmpdir);
	if (mkpki(args) != 0)
		return -1;
	snprintf(args, sizeof(args), "'%s/rev' BE-FPSJ KE-ODPP", tmpdir);
	if (mkpki(args) != 0)
		return -1;
	snprintf(args, sizeof(args), "--revoke KE-ODPP '%s/rev'", tmpdir);
	if (mkpki(args) != 0)
		return -1;
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return -1;
	log_set_hook(log_hook);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	log_set_hook(NULL);
	EVP_PKEY_free(key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* P - a path under the temp dir (rotating static buffers) */
static const char *
P(const char *rel)
{
	static char	buf[4][PATH_MAX];
	static int	i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, rel);
	return buf[i];
}

/* ---------------------------------------------- certificates in memory */

static void
add_name(GENERAL_NAMES *g, int type, const char *bytes, size_t len)
{
	GENERAL_NAME	*gn = GENERAL_NAME_new();
	ASN1_IA5STRING	*s = ASN1_IA5STRING_new();

	assert_non_null(gn);
	assert_non_null(s);
	assert_int_equal(ASN1_STRING_set(s, bytes, (int)len), 1);
	GENERAL_NAME_set0_value(gn, type, s);
	assert_true(sk_GENERAL_NAME_push(g, gn) > 0);
}

/*
 * make_cert - a self-signed certificate with CN and the subjectAltName
 * entries in SANS: "U:" URI, "D:" DNS, each LEN bytes after the prefix
 * (so a URI can hold a NUL); NULL sans = no extension.
 */
struct san { const char *v; size_t len; };

static X509 *
make_cert(const char *cn, const struct san *sans, size_t nsans)
{
	X509		*x = X509_new();
	X509_NAME	*name = X509_NAME_new();

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_NAME_free(name);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (sans != NULL) {
		GENERAL_NAMES *g = GENERAL_NAMES_new();

		for (size_t i = 0; i < nsans; i++)
			add_name(g, sans[i].v[0] == 'U' ? GEN_URI : GEN_DNS,
			    sans[i].v + 2, sans[i].len);
		assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0,
		    X509V3_ADD_DEFAULT), 1);
		GENERAL_NAMES_free(g);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

#define S(str)	{ str, sizeof(str) - 3 }	/* minus "U:" and the NUL */

/* expect_refused - the certificate's identity is refused with WHY */
static void
expect_refused(const char *cn, const struct san *sans, size_t n,
    const char *why)
{
	char	 id[ID_MAX + 1], err[512];
	X509	*x = make_cert(cn, sans, n);

	err[0] = '\0';
	strcpy(id, "unchanged");
	if (tls_cert_authority_id(x, id, sizeof(id), err, sizeof(err)) == 0)
		fail_msg("accepted, id %s", id);
	if (strstr(err, why) == NULL)
		fail_msg("reason \"%s\", want \"%s\"", err, why);
	X509_free(x);
}

static void
test_identity_good(void **state)
{
	const struct san one[] = { S("U:urn:comity:authority:BE-FPSJ") };
	const struct san mixed[] = { S("D:comity.just.fgov.be"),
	    S("U:urn:comity:authority:KE-ODPP"), S("D:localhost") };
	char	 id[ID_MAX + 1], err[512];
	X509	*x;

	x = make_cert("ignored", one, 1);
	assert_int_equal(tls_cert_authority_id(x, id, sizeof(id), err,
	    sizeof(err)), 0);
	assert_string_equal(id, "BE-FPSJ");
	/* The id must fit the caller's buffer. */
	assert_int_equal(tls_cert_authority_id(x, id, 7, err, sizeof(err)), -1);
	assert_int_equal(tls_cert_authority_id(x, id, 8, err, sizeof(err)), 0);
	X509_free(x);

	/* DNS names beside the one URI do not matter. */
	x = make_cert("x", mixed, 3);
	assert_int_equal(tls_cert_authority_id(x, id, sizeof(id), err,
	    sizeof(err)), 0);
	assert_string_equal(id, "KE-ODPP");
	X509_free(x);
}

static void
test_identity_refused(void **state)
{
	const struct san two[] = { S("U:urn:comity:authority:BE-FPSJ"),
	    S("U:urn:comity:authority:KE-ODPP") };
	const struct san same_twice[] = { S("U:urn:comity:authority:BE-FPSJ"),
	    S("U:urn:comity:authority:BE-FPSJ") };
	const struct san nul[] = { S("U:urn:comity:authority:BE-FPSJ\0.evil") };
	const struct san nul_end[] = { S("U:urn:comity:authority:BE-FPSJ\0") };
	const struct san lower[] = { S("U:urn:comity:authority:be-fpsj") };
	const struct san suffix[] = { S("U:urn:comity:authority:BE-FPSJ/x") };
	const struct san dns[] = { S("D:BE-FPSJ"),
	    S("D:urn:comity:authority:BE-FPSJ") };
	const struct san prefix[] = { S("U:urn:comity:authorityBE-FPSJ") };
	const struct san prefix2[] = { S("U:URN:comity:authority:BE-FPSJ") };
	const struct san prefix3[] = { S("U:https://be/urn:comity:authority:BE-FPSJ") };
	const struct san empty[] = { S("U:urn:comity:authority:") };
	const struct san longid[] = {
	    S("U:urn:comity:authority:BE-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456") };

	assert_int_equal(sizeof("U:urn:comity:authority:BE-FPSJ\0.evil") - 3,
	    strlen("urn:comity:authority:BE-FPSJ") + 6);
	expect_refused("BE-FPSJ", NULL, 0, "no subjectAltName");
	expect_refused("BE-FPSJ", two, 2, "has 2 URIs (exactly one allowed)");
	expect_refused("BE-FPSJ", same_twice, 2, "has 2 URIs");
	expect_refused("BE-FPSJ", nul, 1, "contains a NUL byte");
	expect_refused("BE-FPSJ", nul_end, 1, "contains a NUL byte");
	expect_refused("BE-FPSJ", lower, 1, "invalid authority id");
	expect_refused("BE-FPSJ", suffix, 1, "invalid authority id");
	expect_refused("BE-FPSJ", dns, 2, "has no URI");
	expect_refused("BE-FPSJ", prefix, 1, "does not start with "
	    "urn:comity:authority:");
	expect_refused("BE-FPSJ", prefix2, 1, "does not start with");
	expect_refused("BE-FPSJ", prefix3, 1, "does not start with");
	expect_refused("BE-FPSJ", empty, 1, "does not start with");
	expect_refused("BE-FPSJ", longid, 1, "invalid authority id");
}

/* ---------------------------------------------------- key file checks */

static void
write_key(const char *path, mode_t mode)
{
	FILE *fp;

	unlink(path);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL,
	    NULL), 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_key_file(void **state)
{
	const char	*k = P("k.key");
	char		 err[512];

	write_key(k, 0600);
	assert_int_equal(tls_check_key_file(k, err, sizeof(err)), 0);
	write_key(k, 0400);
	assert_int_equal(tls_check_key_file(k, err, sizeof(err)), 0);
	write_key(k, 0640);
	assert_int_equal(tls_check_key_file(k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mode 0640 gives access to group or "
	    "others"));
	write_key(k, 0604);
	assert_int_equal(tls_check_key_file(k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mode 0604"));
	write_key(k, 0644);
	assert_int_equal(tls_check_key_file(k, err, sizeof(err)), -1);
	assert_int_equal(tls_check_key_file(tmpdir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(tls_check_key_file(P("absent.key"), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	if (geteuid() == 0) {
		write_key(k, 0600);
		assert_int_equal(chown(k, 1, (gid_t)-1), 0);
		assert_int_equal(tls_check_key_file(k, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "owned by uid 1"));
	}
}

/* ------------------------------------------------------------ contexts */

static struct tls_ctx *
ctx(const char *pki, const char *id, const char *certid, const char *crl,
    char *err, size_t errlen)
{
	char cert[PATH_MAX], k[PATH_MAX], ca[PATH_MAX];

	snprintf(cert, sizeof(cert), "%s/%s/%s.pem", tmpdir, pki, certid);
	snprintf(k, sizeof(k), "%s/%s/%s.key", tmpdir, pki, certid);
	snprintf(ca, sizeof(ca), "%s/%s/ca.pem", tmpdir, pki);
	return tls_ctx_new(id, cert, k, ca, crl, err, errlen);
}

static void
test_ctx(void **state)
{
	struct tls_ctx	*t;
	char		 err[1024], id[ID_MAX + 1];

	err[0] = '\0';
	t = ctx("pki", "BE-FPSJ", "BE-FPSJ", NULL, err, sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	assert_non_null(t->server);
	assert_non_null(t->client);
	assert_non_null(t->own_key);
	assert_int_equal(tls_cert_authority_id(t->own_cert, id, sizeof(id),
	    err, sizeof(err)), 0);
	assert_string_equal(id, "BE-FPSJ");
	assert_int_equal(SSL_CTX_get_min_proto_version(t->server),
	    TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(t->client),
	    TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_security_level(t->server), 3);
	assert_int_equal(SSL_CTX_get_num_tickets(t->server), 0);
	assert_int_equal(SSL_CTX_get_session_cache_mode(t->server),
	    SSL_SESS_CACHE_OFF);
	assert_true(SSL_CTX_get_options(t->server) & SSL_OP_NO_TICKET);
	assert_true(SSL_CTX_get_options(t->client) &
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	assert_int_equal(SSL_CTX_get_verify_mode(t->server), SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	assert_int_equal(t->refs, 1);
	tls_ctx_ref(t);
	assert_int_equal(t->refs, 2);
	tls_ctx_unref(t);
	assert_int_equal(t->refs, 1);
	tls_ctx_unref(t);
	tls_ctx_unref(NULL);

	/* With a CRL. */
	t = ctx("pki", "BE-FPSJ", "BE-FPSJ", P("pki/crl.pem"), err,
	    sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	tls_ctx_unref(t);

	/* The certificate names another authority. */
	assert_null(ctx("pki", "KE-ODPP", "BE-FPSJ", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "names BE-FPSJ, but the configured id is "
	    "KE-ODPP"));
	/* A key that does not belong to the certificate. */
	assert_null(tls_ctx_new("BE-FPSJ", P("pki/BE-FPSJ.pem"),
	    P("pki/KE-ODPP.key"), P("pki/ca.pem"), NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "key does not match certificate"));
	/* A key readable by others. */
	assert_int_equal(chmod(P("pki/BE-FPSJ.key"), 0644), 0);
	assert_null(ctx("pki", "BE-FPSJ", "BE-FPSJ", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "mode 0644"));
	assert_int_equal(chmod(P("pki/BE-FPSJ.key"), 0600), 0);
	/* Missing CA and CRL files. */
	assert_null(tls_ctx_new("BE-FPSJ", P("pki/BE-FPSJ.pem"),
	    P("pki/BE-FPSJ.key"), P("pki/none.pem"), NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "CA file"));
	assert_null(ctx("pki", "BE-FPSJ", "BE-FPSJ", P("pki/none.crl"), err,
	    sizeof(err)));
	assert_non_null(strstr(err, "CRL file"));
	/* A CA file that holds no certificate. */
	assert_null(tls_ctx_new("BE-FPSJ", P("pki/BE-FPSJ.pem"),
	    P("pki/BE-FPSJ.key"), P("pki/crl.pem"), NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "CA file"));
	/* A certificate file that is not one. */
	assert_null(tls_ctx_new("BE-FPSJ", P("pki/ca.key"),
	    P("pki/BE-FPSJ.key"), P("pki/ca.pem"), NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "certificate file"));
	/* Errors never linger in the queue. */
	assert_int_equal(ERR_peek_error(), 0);
}

/* --------------------------------------------------------- handshakes */

/* handshake - run both ends over a BIO pair; 0 when both finished */
static int
handshake(SSL *s, SSL *c)
{
	BIO	*bs, *bc;
	int	 sdone = 0, cdone = 0;

	assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (int i = 0; i < 50 && !(sdone && cdone); i++) {
		int r;

		if (!cdone) {
			if ((r = SSL_do_handshake(c)) == 1)
				cdone = 1;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(c, r) != SSL_ERROR_WANT_WRITE)
				return -1;
		}
		if (!sdone) {
			if ((r = SSL_do_handshake(s)) == 1)
				sdone = 1;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(s, r) != SSL_ERROR_WANT_WRITE)
				return -1;
		}
	}
	return sdone && cdone ? 0 : -1;
}

struct pair {
	struct tls_ctx	*srv, *cli;
	SSL		*s, *c;
};

static void
pair_new(struct pair *p, const char *cli_pki, const char *crl)
{
	char err[1024];

	p->srv = ctx("pki", "BE-FPSJ", "BE-FPSJ", crl, err, sizeof(err));
	if (p->srv == NULL)
		fail_msg("%s", err);
	p->cli = ctx(cli_pki, "KE-ODPP", "KE-ODPP", NULL, err, sizeof(err));
	if (p->cli == NULL)
		fail_msg("%s", err);
	assert_non_null(p->s = SSL_new(p->srv->server));
	assert_non_null(p->c = SSL_new(p->cli->client));
}

static void
pair_free(struct pair *p)
{
	SSL_free(p->s);
	SSL_free(p->c);
	tls_ctx_unref(p->srv);
	tls_ctx_unref(p->cli);
	ERR_clear_error();
}

static void
test_handshake_ok(void **state)
{
	struct pair	p;
	char		id[ID_MAX + 1], err[512];

	pair_new(&p, "pki", P("pki/crl.pem"));
	assert_int_equal(handshake(p.s, p.c), 0);
	if (tls_peer_check(p.s, id, sizeof(id), err, sizeof(err)) != 0)
		fail_msg("server side: %s", err);
	assert_string_equal(id, "KE-ODPP");
	if (tls_peer_check(p.c, id, sizeof(id), err, sizeof(err)) != 0)
		fail_msg("client side: %s", err);
	assert_string_equal(id, "BE-FPSJ");
	/* A full handshake: nothing to resume. */
	assert_int_equal(SSL_session_reused(p.c), 0);
	pair_free(&p);
}

static void
test_handshake_no_alpn(void **state)
{
	struct pair	p;
	char		id[ID_MAX + 1], err[512];

	/* No ALPN from the client: the server callback never runs. */
	pair_new(&p, "pki", NULL);
	assert_int_equal(SSL_set_alpn_protos(p.c, NULL, 0), 0);
	assert_int_equal(handshake(p.s, p.c), 0);
	assert_int_equal(tls_peer_check(p.s, id, sizeof(id), err, sizeof(err)),
	    -1);
	assert_string_equal(err, "ALPN is not comity/1");
	assert_int_equal(tls_peer_check(p.c, id, sizeof(id), err, sizeof(err)),
	    -1);
	pair_free(&p);

	/* Another protocol: refused during the handshake. */
	pair_new(&p, "pki", NULL);
	assert_int_equal(SSL_set_alpn_protos(p.c,
	    (const unsigned char *)"\x08http/1.1\x07" "comity/", 17), 0);
	assert_int_equal(handshake(p.s, p.c), -1);
	pair_free(&p);

	/* comity/1 second in the client's list is found. */
	pair_new(&p, "pki", NULL);
	assert_int_equal(SSL_set_alpn_protos(p.c,
	    (const unsigned char *)"\x02h2\x08" "comity/1", 12), 0);
	assert_int_equal(handshake(p.s, p.c), 0);
	assert_int_equal(tls_peer_check(p.s, id, sizeof(id), err, sizeof(err)),
	    0);
	pair_free(&p);
}

static void
test_handshake_refused(void **state)
{
	struct pair	 p;
	SSL_CTX		*bare;
	SSL		*s, *c;
	struct tls_ctx	*srv;
	char		 err[1024];

	/* A client certificate from another CA. */
	logged[0] = '\0';
	pair_new(&p, "other", NULL);
	assert_int_equal(handshake(p.s, p.c), -1);
	assert_non_null(strstr(logged, "certificate verify failed"));
	pair_free(&p);

	/* A revoked client certificate, with the CRL configured. */
	logged[0] = '\0';
	srv = tls_ctx_new("BE-FPSJ", P("rev/BE-FPSJ.pem"), P("rev/BE-FPSJ.key"),
	    P("rev/ca.pem"), P("rev/crl.pem"), err, sizeof(err));
	if (srv == NULL)
		fail_msg("%s", err);
	{
		struct tls_ctx *cli = tls_ctx_new("KE-ODPP",
		    P("rev/KE-ODPP.pem"), P("rev/KE-ODPP.key"), P("rev/ca.pem"),
		    NULL, err, sizeof(err));

		if (cli == NULL)
			fail_msg("%s", err);
		s = SSL_new(srv->server);
		c = SSL_new(cli->client);
		assert_int_equal(handshake(s, c), -1);
		assert_non_null(strstr(logged, "revoked"));
		SSL_free(s);
		SSL_free(c);
		tls_ctx_unref(cli);
	}

	/* A client with no certificate at all. */
	assert_non_null(bare = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(SSL_CTX_load_verify_file(bare, P("rev/ca.pem")), 1);
	assert_int_equal(SSL_CTX_set_alpn_protos(bare,
	    (const unsigned char *)"\x08" "comity/1", 9), 0);
	s = SSL_new(srv->server);
	c = SSL_new(bare);
	assert_int_equal(handshake(s, c), -1);
	assert_null(SSL_get0_peer_certificate(s));
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(bare);
	tls_ctx_unref(srv);
	ERR_clear_error();
}

/* ------------------------------------------------------- SPKI and CRL */

static void
test_spki(void **state)
{
	char		 cmd[PATH_MAX * 2], line[256], hex[65];
	unsigned char	 md[32];
	X509		*x;
	FILE		*fp;

	/* Independently: the openssl command line over the same file. */
	snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s' -pubkey -noout | "
	    "openssl pkey -pubin -outform DER | sha256sum",
	    P("pki/KE-ODPP.pem"));
	assert_non_null(fp = popen(cmd, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_int_equal(pclose(fp), 0);
	line[64] = '\0';

	assert_non_null(fp = fopen(P("pki/KE-ODPP.pem"), "r"));
	assert_non_null(x = PEM_read_X509(fp, NULL, NULL, NULL));
	fclose(fp);
	assert_int_equal(tls_spki_sha256(x, md), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(hex, line);
	X509_free(x);

	/* Two certificates for one key have the same SPKI hash. */
	{
		X509 *a = make_cert("a", NULL, 0), *b = make_cert("b", NULL, 0);
		unsigned char ma[32], mb[32];

		assert_int_equal(tls_spki_sha256(a, ma), 0);
		assert_int_equal(tls_spki_sha256(b, mb), 0);
		assert_memory_equal(ma, mb, 32);
		assert_memory_not_equal(ma, md, 32);
		X509_free(a);
		X509_free(b);
	}
}

static void
test_crl_next_update(void **state)
{
	long	secs = 1;
	int	has = 1;

	assert_int_equal(tls_crl_next_update(NULL, &secs, &has), 0);
	assert_int_equal(has, 0);
	assert_int_equal(secs, 0);
	assert_int_equal(tls_crl_next_update(P("pki/crl.pem"), &secs, &has),
	    0);
	assert_int_equal(has, 1);
	/* mkpki: nextUpdate in 30 days. */
	assert_true(secs > 30 * 86400 - 600 && secs <= 30 * 86400);
	assert_int_equal(tls_crl_next_update(P("pki/none.pem"), &secs, &has),
	    -1);
	assert_int_equal(tls_crl_next_update(P("pki/ca.pem"), &secs, &has), -1);
}

static void
test_errstr(void **state)
{
	char	buf[256];
	BIO	*b = BIO_new_mem_buf("garbage", -1);

	assert_null(PEM_read_bio_X509(b, NULL, NULL, NULL));
	BIO_free(b);
	assert_int_not_equal(ERR_peek_error(), 0);
	tls_errstr(buf, sizeof(buf));
	assert_true(strlen(buf) > 0);
	assert_int_equal(ERR_peek_error(), 0);
	assert_string_equal(tls_errstr(buf, sizeof(buf)),
	    "no OpenSSL error recorded");
	/* A tiny buffer stays terminated. */
	ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
	tls_errstr(buf, 5);
	assert_true(strlen(buf) <= 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_good),
		cmocka_unit_test(test_identity_refused),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_ctx),
		cmocka_unit_test(test_handshake_ok),
		cmocka_unit_test(test_handshake_no_alpn),
		cmocka_unit_test(test_handshake_refused),
		cmocka_unit_test(test_spki),
		cmocka_unit_test(test_crl_next_update),
		cmocka_unit_test(test_errstr),
	};

	log_init("test_tls", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
