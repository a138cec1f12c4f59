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

int
receipt_signers(const char *issuer, X509 *issuer_tls,
    struct receipt_signers *s, char *err, size_t errlen)
{
	const struct dir_entry	*e;

	s->dir = s->link = NULL;
	if ((e = directory_find(cd->dir, issuer)) == NULL) {
		snprintf(err, errlen, "%s is not in the directory", issuer);
		return -1;
	}
	if (X509_up_ref(e->cert) != 1)
		fatalx("X509_up_ref");
	s->dir = e->cert;
	if (issuer_tls != NULL && X509_cmp(issuer_tls, e->cert) != 0) {
		if (X509_up_ref(issuer_tls) != 1)
			fatalx("X509_up_ref");
		s->link = issuer_tls;
	}
	return 0;
}

void
receipt_signers_free(struct receipt_signers *s)
{
	X509_free(s->dir);
	X509_free(s->link);
	s->dir = s->link = NULL;
}

uint8_t *
receipt_check_signer(const struct seal_keys *k,
    const struct receipt_signers *s, int open, const uint8_t *buf,
    size_t len, size_t *clen, int *by_link, char *err, size_t errlen)
{
	uint8_t	*content;
	char	 alt[64];

	*by_link = 0;
	content = open ? seal_open(k, s->dir, buf, len, clen, err, errlen) :
	    seal_verify(k, s->dir, buf, len, clen, err, errlen);
	if (content == NULL && s->link != NULL) {
		content = open ? seal_open(k, s->link, buf, len, clen, alt,
		    sizeof(alt)) : seal_verify(k, s->link, buf, len, clen,
		    alt, sizeof(alt));
		*by_link = content != NULL;
	}
	return content;
}

Comity__ReceiptContent *
receipt_open(const struct seal_keys *k, const struct receipt_signers *s,
    const char *issuer, const uint8_t *buf, size_t len, int *by_link,
    char *err, size_t errlen)
{
	Comity__ReceiptContent	*rc;
	uint8_t			*content;
	size_t			 clen;
	char			 why[256];

	content = receipt_check_signer(k, s, 0, buf, len, &clen, by_link,
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

int
receipt_peek_id(const uint8_t *buf, size_t len, uint8_t id[16])
{
	Comity__ReceiptContent	*rc;
	const uint8_t		*c;
	size_t			 clen;
	int			 ok;

	if ((c = seal_peek(buf, len, &clen)) == NULL ||
	    (rc = wire_unpack(&comity__receipt_content__descriptor, c,
	    clen)) == NULL)
		return -1;
	if ((ok = rc->envelope_id.len == ENVELOPE_ID_LEN))
		memcpy(id, rc->envelope_id.data, ENVELOPE_ID_LEN);
	wire_free(rc);
	return ok ? 0 : -1;
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
