/*
 * receipt.h - issue and open delivery receipts.
 *
 * A receipt is the issuing authority's statement about one envelope
 * (ReceiptContent).  receipt_issue() returns the bytes that travel and are
 * stored; receipt_open() checks bytes from a peer and returns the content.
 * Only this module knows how a receipt is protected, so changing that
 * (plain encoding -> CMS SignedData) stays local.
 */
#ifndef COMITY_RECEIPT_H
#define COMITY_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "comity.pb-c.h"

/*
 * receipt_issue - encode (and protect) CONTENT issued by us.  Returns a
 * malloc'd buffer (caller frees) with *len set, or NULL.
 */
uint8_t	*receipt_issue(const Comity__ReceiptContent *content, size_t *len);

/*
 * receipt_open - check receipt bytes that ISSUER (the TLS-authenticated
 * peer) sent and decode their content.  Returns the content (free with
 * wire_free()) or NULL with the reason in err.
 */
Comity__ReceiptContent *receipt_open(const uint8_t *buf, size_t len,
	    const char *issuer, char *err, size_t errlen);

#endif /* COMITY_RECEIPT_H */
