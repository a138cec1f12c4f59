/*
 * fuzz_receipt.c - the content of a receipt, once its signature is
 * checked: an encoded ReceiptContent decoded with the bounded decoder
 * (as receipt.c does), then every field read.
 *
 * Beyond "no crash, no leak, no UB", it checks what the decoder promises:
 * a decoded message re-encodes to exactly the input's size.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire.h"

/* bytes - read every byte, so ASan sees a bad pointer or length */
static size_t
bytes(const uint8_t *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += p[i];
	return n;
}

static size_t
touch(const Comity__ReceiptContent *rc)
{
	size_t n = 0;

	n += bytes(rc->envelope_id.data, rc->envelope_id.len);
	n += bytes(rc->envelope_body_sha256.data,
	    rc->envelope_body_sha256.len);
	n += bytes(rc->issuer_audit_head.data, rc->issuer_audit_head.len);
	n += bytes((const uint8_t *)rc->from, strlen(rc->from)) +
	    bytes((const uint8_t *)rc->to, strlen(rc->to)) +
	    bytes((const uint8_t *)rc->reason, strlen(rc->reason));
	n += (size_t)wire_id_valid(rc->from) + (size_t)wire_id_valid(rc->to);
	n += (size_t)rc->kind + (size_t)rc->at_ns +
	    (size_t)rc->issuer_audit_seq;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Comity__ReceiptContent	*rc;
	volatile size_t		 sink = 0;

	if ((rc = wire_unpack(&comity__receipt_content__descriptor, data,
	    size)) == NULL)
		return 0;
	if (protobuf_c_message_get_packed_size(&rc->base) != size)
		abort();	/* wire_unpack broke its contract */
	sink += touch(rc);
	wire_free(rc);
	(void)sink;
	return 0;
}
