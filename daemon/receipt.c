/*
 * receipt.c - receipts as CMS SignedData over ReceiptContent (receipt.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "bounds.h"
#include "comity.h"
#include "comityd.h"
#include "directory.h"
#include "log.h"
#include "receipt.h"
#include "seal.h"
#include "tls.h"
#include "wire.h"

uint8_t *
receipt_issue(const Comity__ReceiptContent *content, size_t *len)
{
	uint8_t	*buf, *sig;
	size_t	 blen;
	char	 err[256];

	if ((buf = wire_pack(&content->base, 0, &blen)) == NULL)
		return NULL;
	sig = seal_sign(&cd->tls->seal, buf, blen, len, err, sizeof(err));
	if (sig == NULL)
		log_warnx("receipt: %s", err);
	free(buf);
	return sig;
}

uint8_t *
receipt_check_signer(const uint8_t *buf, size_t len, const char *issuer,
    X509 *issuer_tls, int open, size_t *clen, char *err, size_t errlen)
{
	const struct seal_keys	*k = &cd->tls->seal;
	const struct dir_entry	*e;
	uint8_t			*content;
	char			 alt[64];

	if ((e = directory_find(cd->dir, issuer)) == NULL) {
		snprintf(err, errlen, "%s is not in the directory", issuer);
		return NULL;
	}
	content = open ? seal_open(k, e->cert, buf, len, clen, err, errlen) :
	    seal_verify(k, e->cert, buf, len, clen, err, errlen);
	/*
	 * A counterpart that rotated its certificate signs with the new
	 * one, which it also authenticated this link with (CA, CRL, pin
	 * and URI SAN checked), before our directory lists it.
	 */
	if (content == NULL && issuer_tls != NULL &&
	    X509_cmp(issuer_tls, e->cert) != 0) {
		content = open ? seal_open(k, issuer_tls, buf, len, clen, alt,
		    sizeof(alt)) : seal_verify(k, issuer_tls, buf, len, clen,
		    alt, sizeof(alt));
		if (content != NULL)
			log_info("%s signed with its link certificate, not its "
			    "directory certificate: update the directory",
			    issuer);
	}
	return content;
}

Comity__ReceiptContent *
receipt_open(const uint8_t *buf, size_t len, const char *issuer,
    X509 *issuer_tls, char *err, size_t errlen)
{
	Comity__ReceiptContent	*rc;
	uint8_t			*content;
	size_t			 clen;
	char			 why[256];

	content = receipt_check_signer(buf, len, issuer, issuer_tls, 0, &clen,
	    why, sizeof(why));
	if (content == NULL) {
		snprintf(err, errlen, "receipt not signed by %s: %s", issuer,
		    why);
		return NULL;
	}
	rc = wire_unpack(&comity__receipt_content__descriptor, content, clen);
	free(content);
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

Comity__ReceiptContent *
receipt_peek(const uint8_t *buf, size_t len)
{
	Comity__ReceiptContent	 *rc = NULL;
	CMS_ContentInfo		 *cms;
	ASN1_OCTET_STRING	**content;
	const unsigned char	 *p = buf;

	if (buf == NULL || len == 0 || len > LONG_MAX)
		return NULL;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed &&
	    (content = CMS_get0_content(cms)) != NULL && *content != NULL)
		rc = wire_unpack(&comity__receipt_content__descriptor,
		    ASN1_STRING_get0_data(*content),
		    (size_t)ASN1_STRING_length(*content));
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}
