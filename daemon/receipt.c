/*
 * receipt.c - receipts as encoded ReceiptContent.
 */
#include <stdio.h>
#include <string.h>

#include "comity.h"
#include "bounds.h"
#include "receipt.h"
#include "wire.h"

uint8_t *
receipt_issue(const Comity__ReceiptContent *content, size_t *len)
{
	return wire_pack(&content->base, 0, len);
}

Comity__ReceiptContent *
receipt_open(const uint8_t *buf, size_t len, const char *issuer, char *err,
    size_t errlen)
{
	Comity__ReceiptContent *rc;

	rc = wire_unpack(&comity__receipt_content__descriptor, buf, len);
	if (rc == NULL) {
		snprintf(err, errlen, "undecodable receipt");
		return NULL;
	}
	if (rc->envelope_id.len != ENVELOPE_ID_LEN ||
	    rc->envelope_body_sha256.len != SHA256_LEN ||
	    !wire_id_valid(rc->from) || !wire_id_valid(rc->to)) {
		snprintf(err, errlen, "malformed receipt");
		goto fail;
	}
	if (strcmp(rc->to, issuer) != 0) {
		snprintf(err, errlen, "receipt issued for %s, not by the peer",
		    rc->to);
		goto fail;
	}
	switch (rc->kind) {
	case COMITY__RECEIPT_KIND__RECEIPT_DELIVERED:
	case COMITY__RECEIPT_KIND__RECEIPT_REJECTED:
	case COMITY__RECEIPT_KIND__RECEIPT_RETRIEVED:
		break;
	default:
		snprintf(err, errlen, "unknown receipt kind %d", (int)rc->kind);
		goto fail;
	}
	return rc;
fail:
	wire_free(rc);
	return NULL;
}
