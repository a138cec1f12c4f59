/*
 * fuzz_request.c - the plaintext of a sealed body, once opened and its
 * signature checked: an encoded Request decoded with the bounded decoder
 * (the same call as queue.c makes), then every field read.
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
bin(ProtobufCBinaryData b)
{
	return bytes(b.data, b.len);
}

static size_t
str(const char *s)
{
	return bytes((const uint8_t *)s, strlen(s));
}

static size_t
touch(const Comity__Request *r)
{
	size_t n = 0;

	n += bin(r->id) + bin(r->in_reply_to);
	n += str(r->from) + str(r->to) + str(r->legal_basis) +
	    str(r->case_ref) + str(r->their_ref) + str(r->language) +
	    str(r->subject);
	n += (size_t)wire_id_valid(r->from) + (size_t)wire_id_valid(r->to);
	n += (size_t)r->kind + (size_t)r->priority + (size_t)r->type;
	n += (size_t)r->created_at_ns + (size_t)r->expires_at_ns;
	for (size_t i = 0; i < r->n_documents; i++) {
		const Comity__Document *d = r->documents[i];

		n += str(d->name) + str(d->media_type) + bin(d->content);
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Comity__Request	*r;
	volatile size_t	 sink = 0;

	if ((r = wire_unpack(&comity__request__descriptor, data, size)) ==
	    NULL)
		return 0;
	if (protobuf_c_message_get_packed_size(&r->base) != size)
		abort();	/* wire_unpack broke its contract */
	sink += touch(r);
	wire_free(r);
	(void)sink;
	return 0;
}
