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

/*
 * receipt_issue - encode and sign CONTENT issued by us.  Returns a
 * malloc'd buffer (caller frees) with *len set, or NULL (logged).
 */
uint8_t	*receipt_issue(const Comity__ReceiptContent *content, size_t *len);

/*
 * receipt_open - check receipt bytes that ISSUER (the TLS-authenticated
 * peer) sent: signed by ISSUER's directory certificate (or ISSUER_TLS, see
 * receipt_check_signer), which chains to the CA and is not revoked; then
 * decode and check the content.  Returns the content (free with
 * wire_free()) or NULL with the reason in err.
 */
Comity__ReceiptContent *receipt_open(const uint8_t *buf, size_t len,
	    const char *issuer, X509 *issuer_tls, char *err, size_t errlen);

/*
 * receipt_check_signer - verify SignedData BUF from ISSUER: signed by its
 * directory certificate or, failing that, by ISSUER_TLS (the certificate
 * it authenticated the link with; may be NULL).  Returns the content
 * (malloc'd) or NULL with the reason in err.  Shared with envelope
 * opening, which passes the sealed body and open=1.
 */
uint8_t	*receipt_check_signer(const uint8_t *buf, size_t len,
	    const char *issuer, X509 *issuer_tls, int open, size_t *clen,
	    char *err, size_t errlen);

/*
 * receipt_peek - the content of stored receipt bytes, decoded without
 * checking the signature again (it was checked before it was stored, and
 * `comity receipt` exports it for anyone to check).  For showing times
 * and seqs only.  Free with wire_free(); NULL when it does not decode.
 */
Comity__ReceiptContent *receipt_peek(const uint8_t *buf, size_t len);

#endif /* COMITY_RECEIPT_H */
