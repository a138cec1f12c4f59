/*
 * fuzz_frame.c - the peer and local-socket input path: a byte stream cut
 * into frames (4-byte length, at most 1 MiB) and each payload decoded
 * with the bounded decoder as a peer Frame and as a LocalRequest.
 *
 * Beyond "no crash, no leak, no UB", it checks what the decoder promises:
 * a decoded message re-encodes to exactly the input's size.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "wire.h"

#define FUZZ_FRAME_MAX	(1u << 20)

/* touch - read what a caller would read, so ASan sees bad pointers */
static size_t
touch_frame(const Comity__Frame *f)
{
	size_t n = 0;

	switch (f->msg_case) {
	case COMITY__FRAME__MSG_HELLO:
		n += strlen(f->hello->authority_id) +
		    strlen(f->hello->software);
		n += (size_t)wire_id_valid(f->hello->authority_id);
		break;
	case COMITY__FRAME__MSG_ENVELOPE:
		n += f->envelope->id.len + f->envelope->body.len;
		if (f->envelope->id.len > 0)
			n += f->envelope->id.data[f->envelope->id.len - 1];
		if (f->envelope->body.len > 0)
			n += f->envelope->body.data[0];
		n += strlen(f->envelope->from) + strlen(f->envelope->to);
		break;
	case COMITY__FRAME__MSG_RECEIPT:
		n += f->receipt->signed_.len;
		break;
	case COMITY__FRAME__MSG_RECEIPT_ACK:
		n += f->receipt_ack->envelope_id.len;
		break;
	case COMITY__FRAME__MSG_TRY_LATER:
		n += strlen(f->try_later->reason);
		break;
	default:
		break;
	}
	return n;
}

static size_t
touch_submit(const Comity__SubmitReq *s)
{
	size_t n = strlen(s->to);

	for (size_t i = 0; i < s->n_documents; i++)
		n += strlen(s->documents[i]->name) +
		    s->documents[i]->content.len;
	return n;
}

static size_t
touch_local(const Comity__LocalRequest *r)
{
	size_t n = 0;

	if (r->op_case == COMITY__LOCAL_REQUEST__OP_SUBMIT)
		n += touch_submit(r->submit);
	if (r->op_case == COMITY__LOCAL_REQUEST__OP_SUBMIT_BATCH)
		for (size_t i = 0; i < r->submit_batch->n_items; i++)
			n += touch_submit(r->submit_batch->items[i]);
	return n;
}

static void
check_size(const ProtobufCMessage *m, size_t len)
{
	if (protobuf_c_message_get_packed_size(m) != len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Comity__Frame		*f;
	Comity__LocalRequest	*r;
	volatile size_t		 sink = 0;
	size_t			 off = 0;
	uint32_t		 len;

	while (off < size &&
	    frame_scan(data + off, size - off, FUZZ_FRAME_MAX, &len) == 1) {
		const uint8_t *p = data + off + FRAME_HEADER_LEN;

		if (len > FUZZ_FRAME_MAX || len > size - off - FRAME_HEADER_LEN)
			abort();	/* frame_scan broke its contract */
		if ((f = wire_unpack(&comity__frame__descriptor, p, len)) !=
		    NULL) {
			check_size(&f->base, len);
			sink += touch_frame(f);
			wire_free(f);
		}
		if ((r = wire_unpack(&comity__local_request__descriptor, p,
		    len)) != NULL) {
			check_size(&r->base, len);
			sink += touch_local(r);
			wire_free(r);
		}
		off += FRAME_HEADER_LEN + len;
	}
	(void)sink;
	return 0;
}
