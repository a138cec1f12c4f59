/*
 * seal.h - CMS (RFC 5652) protection of requests and receipts (SPEC §4).
 *
 * A sealed request is DER AuthEnvelopedData (AES-256-GCM, ECDH with a
 * SHA-256 KDF to the recipient's certificate) around DER SignedData by the
 * sender (attached content, signing time, signer certificate embedded).
 * A receipt is DER SignedData by the issuer over an encoded
 * ReceiptContent.  Stock `openssl cms -decrypt` / `-verify` open both.
 *
 * Keys and trust come in a struct seal_keys the caller owns: this module
 * holds no global, so it is usable by the daemon, the tests and the fuzz
 * targets alike.  Every function drains the OpenSSL error queue and
 * reports a failure as one line in err.  Plaintext buffers returned here
 * are the caller's to OPENSSL_cleanse() and free().  The functions are
 * safe to call from several threads at once with the same keys.
 */
#ifndef COMITY_SEAL_H
#define COMITY_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct seal_keys {
	EVP_PKEY	*key;		/* our private key */
	X509		*cert;		/* our certificate (matches key) */
	X509_STORE	*trust;		/* network CA (+ CRL, strict flags) */
	EVP_PKEY	*retired;	/* NULL, or the key before the last
					   rotation: seal_open() tries it */
	struct seal_trusted *trusted;	/* NULL, or signers whose chain
					   was checked (seal_trusted_new) */
};

/*
 * Checking a signer's chain (CA signature, CRL, purpose, validity) costs
 * more than the signature itself, and a counterpart signs everything with
 * the same certificate.  A struct seal_trusted remembers, for
 * SEAL_TRUSTED_SECS at most (and never past the certificate's notAfter),
 * the signer certificates whose chain passed against keys->trust; bind
 * it to one trust store, and make a new one when the store changes.
 * It also remembers the certificates fields (by SHA-256) of messages
 * that parsed and verified, so that the same bytes are not parsed again
 * when the signer is given.  Thread-safe.
 */
#define SEAL_TRUSTED_SECS	60
struct seal_trusted	*seal_trusted_new(void);
void			 seal_trusted_free(struct seal_trusted *);

/*
 * seal_request - sign PLAIN (an encoded Request) with our key, then
 * encrypt the SignedData to RCPT.  Returns the DER AuthEnvelopedData
 * (malloc'd, *outlen set), or NULL with the reason in err.
 */
uint8_t	*seal_request(const struct seal_keys *, X509 *rcpt,
	    const uint8_t *plain, size_t plen, size_t *outlen, char *err,
	    size_t errlen);

/*
 * seal_open - decrypt BODY with our key (or, failing that, the retired
 * key) and verify the inner signature.
 * With SIGNER non-NULL (a peer's directory certificate) the signer must
 * be exactly that certificate and it must chain to the trust store (CRL
 * included) for S/MIME signing; with SIGNER NULL only the signature over
 * the content is checked against the embedded certificate (re-opening a
 * stored item whose signer was checked on arrival).  Returns the content
 * (malloc'd, *plen set), or NULL with the reason in err.
 */
uint8_t	*seal_open(const struct seal_keys *, X509 *signer, const uint8_t *body,
	    size_t blen, size_t *plen, char *err, size_t errlen);

/*
 * seal_sign - SignedData by our key over CONTENT (attached, signing time,
 * our certificate embedded).  Returns the DER (malloc'd) or NULL.
 */
uint8_t	*seal_sign(const struct seal_keys *, const uint8_t *content,
	    size_t clen, size_t *outlen, char *err, size_t errlen);

/*
 * seal_verify - check DER SignedData from SIGNER (exactly that
 * certificate, chained to the trust store) and return its content
 * (malloc'd, *clen set), or NULL with the reason in err.
 */
uint8_t	*seal_verify(const struct seal_keys *, X509 *signer,
	    const uint8_t *der, size_t len, size_t *clen, char *err,
	    size_t errlen);

/*
 * seal_peek - where the content of DER SignedData BUF is (a pointer into
 * BUF, *clen set), found by walking the DER without checking anything
 * else; NULL if it is not there.  For ordering work only: nothing read
 * this way may be trusted before seal_verify() said so.
 */
const uint8_t *seal_peek(const uint8_t *buf, size_t len, size_t *clen);

#endif /* COMITY_SEAL_H */
