/*
 * receipt.h - issue and open delivery receipts.
 *
 * A receipt is the issuing authority's statement about one envelope
 * (ReceiptContent), as DER CMS SignedData by its key with its certificate
 * embedded (SPEC §4): the bytes that travel, are stored, and are exported
 * as a .p7s that stock `openssl cms -verify` checks against the network
 * CA.  receipt_issue() signs with our key (cd->tls); receipt_open()
 * checks a peer's receipt against that peer's directory certificate and
 * the trust store (CA + CRL) before anyone looks at the content.
 */
#ifndef COMITY_RECEIPT_H
#define COMITY_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "comity.pb-c.h"
#include "seal.h"

/*
 * receipt_issue - encode and sign CONTENT issued by us.  Returns a
 * malloc'd buffer (caller frees) with *len set, or NULL (logged).
 */
uint8_t	*receipt_issue(const Comity__ReceiptContent *content, size_t *len);

/*
 * The certificates a counterpart may sign with: the one its directory
 * entry names and, when it differs, the one it authenticated the link
 * with (a counterpart that rotated its certificate signs with the new
 * one, CA, CRL, pin and URI SAN checked at the handshake, before our
 * directory lists it).  References, taken on the loop thread by
 * receipt_signers(), so that the checks below can run on any thread
 * while the directory is reloaded.
 */
struct receipt_signers {
	X509	*dir;
	X509	*link;		/* NULL, or not the directory's */
};

/*
 * receipt_signers - ISSUER's certificates (ISSUER_TLS may be NULL).
 * Returns 0, or -1 with the reason in err (not in the directory).
 * Release with receipt_signers_free().
 */
int	receipt_signers(const char *issuer, X509 *issuer_tls,
	    struct receipt_signers *, char *err, size_t errlen);
void	receipt_signers_free(struct receipt_signers *);

/*
 * receipt_check_signer - verify SignedData BUF (open = 0), or open the
 * sealed body BUF (open = 1), signed by S->dir or, failing that, S->link;
 * *by_link says which.  Returns the content (malloc'd) or NULL with the
 * reason in err.  Any thread: K and S must stay alive meanwhile.
 */
uint8_t	*receipt_check_signer(const struct seal_keys *k,
	    const struct receipt_signers *s, int open, const uint8_t *buf,
	    size_t len, size_t *clen, int *by_link, char *err, size_t errlen);

/*
 * receipt_open - check receipt bytes that ISSUER (the TLS-authenticated
 * peer) sent: signed by one of S (receipt_check_signer), which chains to
 * the CA and is not revoked; then decode and check the content.  Returns
 * the content (free with wire_free()) or NULL with the reason in err.
 * Any thread, as receipt_check_signer().
 */
Comity__ReceiptContent *receipt_open(const struct seal_keys *k,
	    const struct receipt_signers *s, const char *issuer,
	    const uint8_t *buf, size_t len, int *by_link, char *err,
	    size_t errlen);

/*
 * receipt_peek_id - the envelope id receipt bytes BUF claim to be about
 * (into id), unchecked: to take a receipt for an urgent item first.
 * Returns 0, or -1 when none can be read.
 */
int	receipt_peek_id(const uint8_t *buf, size_t len, uint8_t id[16]);

/*
 * receipt_peek - the content of stored receipt bytes, decoded without
 * checking the signature again (it was checked before it was stored, and
 * `comity receipt` exports it for anyone to check).  For showing times
 * and seqs only.  Free with wire_free(); NULL when it does not decode.
 */
Comity__ReceiptContent *receipt_peek(const uint8_t *buf, size_t len);

#endif /* COMITY_RECEIPT_H */
