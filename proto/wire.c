/*
 * wire.c - bounded protobuf-c decoding, checked encoding, id helpers.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "wire.h"

struct budget {
	size_t	used;
	size_t	limit;
};

static void *
budget_alloc(void *data, size_t size)
{
	struct budget *b = data;

	if (size > b->limit - b->used)
		return NULL;
	b->used += size;
	return malloc(size);
}

static void
plain_free(void *data, void *p)
{
	(void)data;
	free(p);
}

static void *
plain_alloc(void *data, size_t size)
{
	(void)data;
	return malloc(size);
}

static ProtobufCAllocator free_allocator = {
	.alloc = plain_alloc, .free = plain_free, .allocator_data = NULL
};

void *
wire_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
    size_t len)
{
	struct budget		 b;
	ProtobufCAllocator	 a;
	ProtobufCMessage	*msg;

	if (len > (SIZE_MAX - WIRE_BUDGET_SLACK) / WIRE_BUDGET_FACTOR)
		return NULL;
	b.used = 0;
	b.limit = len * WIRE_BUDGET_FACTOR + WIRE_BUDGET_SLACK;
	a.alloc = budget_alloc;
	a.free = plain_free;
	a.allocator_data = &b;
	msg = protobuf_c_message_unpack(desc, &a, len, buf);
	if (msg == NULL)
		return NULL;
	if (protobuf_c_message_get_packed_size(msg) != len) {
		protobuf_c_message_free_unpacked(msg, &free_allocator);
		return NULL;
	}
	return msg;
}

void
wire_free(void *msg)
{
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, &free_allocator);
}

uint8_t *
wire_pack(const ProtobufCMessage *msg, int with_header, size_t *len)
{
	size_t	 n = protobuf_c_message_get_packed_size(msg);
	size_t	 off = with_header ? FRAME_HEADER_LEN : 0;
	uint8_t	*buf;

	if (n > UINT32_MAX)
		return NULL;
	buf = malloc(n + off + 1);
	if (buf == NULL)
		return NULL;
	protobuf_c_message_pack(msg, buf + off);
	if (with_header)
		frame_put_header(buf, (uint32_t)n);
	*len = n + off;
	return buf;
}

int
wire_id_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n < 4 || n > 35)
		return 0;
	if (!(s[0] >= 'A' && s[0] <= 'Z') || !(s[1] >= 'A' && s[1] <= 'Z') ||
	    s[2] != '-')
		return 0;
	for (size_t i = 3; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i > 3))
			return 0;
	}
	return 1;
}

void
wire_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hexd[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[p[i] >> 4];
		out[2 * i + 1] = hexd[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
wire_id_hex(const uint8_t id[16], char out[33])
{
	wire_hex(id, 16, out);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
wire_hex_parse(const char *hex, uint8_t *out, size_t n)
{
	if (hex == NULL || strlen(hex) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
wire_id_parse(const char *hex, uint8_t id[16])
{
	return wire_hex_parse(hex, id, 16);
}
