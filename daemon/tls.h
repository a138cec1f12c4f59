/*
 * tls.h - TLS 1.3 mutual authentication for peer links.
 *
 * Owns the SSL_CTXs and, with seal, is the only module that loads the
 * authority's private key.  Contexts follow RELIABILITY §4: TLS 1.3 only,
 * pinned suites and groups, no tickets, no session cache, no
 * renegotiation, IGNORE_UNEXPECTED_EOF, trust = the configured CA file
 * only (+ CRL with CRL_CHECK|CRL_CHECK_ALL), strict X.509, verify peer +
 * fail if no peer certificate, ALPN "comity/1" on both sides.
 * A context set is immutable once built; reload builds a new one and
 * swaps it for new connections (each SSL holds a reference).
 */
#ifndef COMITY_TLS_H
#define COMITY_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "seal.h"

struct tls_ctx {
	SSL_CTX		*server;
	SSL_CTX		*client;
	X509		*own_cert;	/* owned */
	EVP_PKEY	*own_key;	/* owned; for seal/receipt signing */
	EVP_PKEY	*retired_key;	/* owned; NULL or the previous key */
	struct seal_keys seal;		/* own_key, own_cert and the client
					   context's trust store, borrowed */
	int		 refs;
};

/*
 * tls_check_key_file - the key file is a regular file owned by the
 * effective uid with no group/other permission bits.  Returns 0, or -1
 * with the reason in err.
 */
int	tls_check_key_file(const char *path, char *err, size_t errlen);

/*
 * tls_ctx_new - build both contexts from our cert/key, CA and CRL (crl
 * may be NULL); checks the key file's permissions, that key and cert
 * match, and that our certificate's URI SAN is id.  Returns NULL with the
 * reason in err.  Free with tls_ctx_unref().
 */
struct tls_ctx	*tls_ctx_new(const char *id, const char *cert, const char *key,
		    const char *ca, const char *crl, char *err, size_t errlen);
/*
 * tls_ctx_retire - load KEYFILE (same permission checks as our key) as
 * the retired key: requests sealed to our previous certificate still
 * open after a rotation.  Returns 0, or -1 with the reason in err.
 */
int		 tls_ctx_retire(struct tls_ctx *, const char *keyfile, char *err,
		    size_t errlen);
void		 tls_ctx_ref(struct tls_ctx *);
void		 tls_ctx_unref(struct tls_ctx *);

/*
 * tls_cert_authority_id - the authority id in CERT's single URI SAN
 * "urn:comity:authority:<ID>".  Writes it (NUL-terminated) into id.
 * Returns 0; or -1 with the reason in err when there is no SAN, no URI,
 * more than one URI, an embedded NUL, a wrong prefix or an invalid id.
 * The CN is never consulted.
 */
int	tls_cert_authority_id(X509 *cert, char *id, size_t idlen, char *err,
	    size_t errlen);

/* tls_spki_sha256 - SHA-256 of CERT's DER SubjectPublicKeyInfo. 0 or -1 */
int	tls_spki_sha256(X509 *cert, unsigned char out[32]);

/*
 * tls_peer_check - after a completed handshake: a peer certificate is
 * present, verify result OK, TLS 1.3, ALPN exactly comity/1, and the
 * certificate id (written to id).  Returns 0, or -1 with the reason in
 * err.  The caller then checks the id against the directory / dialled
 * id and the pin.
 */
int	tls_peer_check(SSL *ssl, char *id, size_t idlen, char *err,
	    size_t errlen);

/* tls_crl_next_update - seconds until the CRL's nextUpdate (negative if
 * past), or 0 with *has = 0 when none.  Returns 0 or -1 on read error. */
int	tls_crl_next_update(const char *crl_path, long *secs, int *has);

/* tls_errstr - drain the OpenSSL error queue into buf (one line) */
const char *tls_errstr(char *buf, size_t len);

#endif /* COMITY_TLS_H */
