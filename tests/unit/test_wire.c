/*
 * test_wire.c - bounded decoding: round trips, the allocation budget,
 * canonical-encoding checks (embedded NUL, trailing bytes, non-minimal
 * varints), authority ids and envelope id hex.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"
#include "wire.h"

static void
test_envelope_roundtrip(void **state)
{
	Comity__Envelope	 e = COMITY__ENVELOPE__INIT, *d;
	uint8_t			 id[16], body[300], *buf;
	size_t			 len;
	uint32_t		 flen;

	(void)state;
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;	/* includes NUL bytes: bytes, not a string */
	e.id.data = id;
	e.id.len = sizeof(id);
	e.from = "BE-FPSJ";
	e.to = "KE-ODPP";
	e.kind = COMITY__ENVELOPE_KIND__KIND_NOTICE;
	e.priority = COMITY__PRIORITY__PRIORITY_URGENT;
	e.created_at_ns = 1700000000123456789LL;
	e.expires_at_ns = -1;
	e.body.data = body;
	e.body.len = sizeof(body);

	buf = wire_pack(&e.base, 1, &len);
	assert_non_null(buf);
	assert_int_equal(frame_scan(buf, len, 1u << 20, &flen), 1);
	assert_int_equal(flen + FRAME_HEADER_LEN, len);
	d = wire_unpack(&comity__envelope__descriptor, buf + 4, flen);
	assert_non_null(d);
	assert_int_equal(d->id.len, 16);
	assert_memory_equal(d->id.data, id, 16);
	assert_string_equal(d->from, "BE-FPSJ");
	assert_string_equal(d->to, "KE-ODPP");
	assert_int_equal(d->kind, COMITY__ENVELOPE_KIND__KIND_NOTICE);
	assert_int_equal(d->priority, COMITY__PRIORITY__PRIORITY_URGENT);
	assert_true(d->created_at_ns == 1700000000123456789LL);
	assert_true(d->expires_at_ns == -1);
	assert_int_equal(d->body.len, sizeof(body));
	assert_memory_equal(d->body.data, body, sizeof(body));
	wire_free(d);
	/* one byte short: the body runs past the end */
	assert_null(wire_unpack(&comity__envelope__descriptor, buf + 4,
	    flen - 1));
	free(buf);

	/* without a header */
	buf = wire_pack(&e.base, 0, &len);
	assert_non_null(buf);
	assert_int_equal(len, flen);
	d = wire_unpack(&comity__envelope__descriptor, buf, len);
	assert_non_null(d);
	wire_free(d);
	free(buf);
	wire_free(NULL);
}

static void
test_frame_roundtrip(void **state)
{
	Comity__Frame	 f = COMITY__FRAME__INIT, *d;
	Comity__Hello	 h = COMITY__HELLO__INIT;
	Comity__Receipt	 r = COMITY__RECEIPT__INIT;
	uint8_t		*buf, sig[3] = { 1, 0, 2 };
	size_t		 len;

	(void)state;
	h.authority_id = "BE-FPSJ";
	h.software = "comity/0.1.0";
	h.now_ns = 42;
	f.msg_case = COMITY__FRAME__MSG_HELLO;
	f.hello = &h;
	buf = wire_pack(&f.base, 0, &len);
	assert_non_null(buf);
	d = wire_unpack(&comity__frame__descriptor, buf, len);
	assert_non_null(d);
	assert_int_equal(d->msg_case, COMITY__FRAME__MSG_HELLO);
	assert_string_equal(d->hello->authority_id, "BE-FPSJ");
	assert_string_equal(d->hello->software, "comity/0.1.0");
	assert_true(d->hello->now_ns == 42);
	wire_free(d);
	free(buf);

	f.msg_case = COMITY__FRAME__MSG_RECEIPT;
	r.signed_.data = sig;
	r.signed_.len = sizeof(sig);
	f.receipt = &r;
	buf = wire_pack(&f.base, 0, &len);
	assert_non_null(buf);
	d = wire_unpack(&comity__frame__descriptor, buf, len);
	assert_non_null(d);
	assert_int_equal(d->msg_case, COMITY__FRAME__MSG_RECEIPT);
	assert_int_equal(d->receipt->signed_.len, 3);
	assert_memory_equal(d->receipt->signed_.data, sig, 3);
	wire_free(d);
	free(buf);
}

/* put_varint - protobuf base-128 varint; returns bytes written */
static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* LocalRequest{submit: SubmitReq{documents: ndocs x Document{}}} */
static uint8_t *
many_docs(size_t ndocs, size_t *len)
{
	size_t	 inner = ndocs * 2, n = 0;
	uint8_t	*p = malloc(inner + 16);

	assert_non_null(p);
	p[n++] = 0x0a;				/* field 1 (submit), LEN */
	n += put_varint(p + n, inner);
	for (size_t i = 0; i < ndocs; i++) {
		p[n++] = 0x5a;			/* field 11 (documents), LEN */
		p[n++] = 0x00;			/* empty Document */
	}
	*len = n;
	return p;
}

static void
test_budget(void **state)
{
	Comity__LocalRequest	*lr;
	ProtobufCMessage	*raw;
	uint8_t			*p;
	size_t			 len;

	(void)state;
	/* a few documents decode */
	p = many_docs(3, &len);
	lr = wire_unpack(&comity__local_request__descriptor, p, len);
	assert_non_null(lr);
	assert_int_equal(lr->op_case, COMITY__LOCAL_REQUEST__OP_SUBMIT);
	assert_int_equal(lr->submit->n_documents, 3);
	wire_free(lr);
	free(p);

	/* 100k empty documents: 200 KB of input, megabytes of structs */
	p = many_docs(100000, &len);
	assert_true(len < 210000);
	/* the unbounded library decoder takes it: the refusal is the budget */
	raw = protobuf_c_message_unpack(&comity__local_request__descriptor,
	    NULL, len, p);
	assert_non_null(raw);
	protobuf_c_message_free_unpacked(raw, NULL);
	assert_null(wire_unpack(&comity__local_request__descriptor, p, len));
	free(p);
}

/* hex: lower case out, either case in, exactly 2N digits */
static void
test_hex(void **state)
{
	const uint8_t	in[4] = { 0x00, 0x9f, 0xa0, 0xff };
	uint8_t		out[4], id[16];
	char		h[9];

	(void)state;
	wire_hex(in, 4, h);
	assert_string_equal(h, "009fa0ff");
	assert_int_equal(wire_hex_parse("009FA0ff", out, 4), 0);
	assert_memory_equal(out, in, 4);
	assert_int_equal(wire_hex_parse("009fa0f", out, 4), -1);
	assert_int_equal(wire_hex_parse("009fa0fff", out, 4), -1);
	assert_int_equal(wire_hex_parse("009fa0fg", out, 4), -1);
	assert_int_equal(wire_hex_parse(NULL, out, 4), -1);
	assert_int_equal(wire_id_parse("0123456789abcdef0123456789ABCDEF",
	    id), 0);
	assert_int_equal(id[15], 0xef);
	assert_int_equal(wire_id_parse("0123456789abcdef0123456789abcde",
	    id), -1);
}

/* The peers answer of a large directory of idle authorities decodes. */
static void
test_budget_peers(void **state)
{
	Comity__LocalResponse	 resp = COMITY__LOCAL_RESPONSE__INIT, *got;
	Comity__PeerInfo	*pi, **pp;
	char			 (*ids)[16];
	uint8_t			*buf;
	size_t			 len, i, n = 2000;

	(void)state;
	pi = calloc(n, sizeof(*pi));
	pp = calloc(n, sizeof(*pp));
	ids = calloc(n, sizeof(*ids));
	assert_true(pi != NULL && pp != NULL && ids != NULL);
	for (i = 0; i < n; i++) {
		comity__peer_info__init(&pi[i]);
		snprintf(ids[i], sizeof(ids[i]), "XX-A%04zu", i);
		pi[i].id = ids[i];
		pp[i] = &pi[i];
	}
	resp.n_peers = n;
	resp.peers = pp;
	buf = wire_pack(&resp.base, 0, &len);
	assert_non_null(buf);
	/* a few bytes each on the wire, hundreds unpacked */
	assert_true(len < n * 16);
	got = wire_unpack(&comity__local_response__descriptor, buf, len);
	assert_non_null(got);
	assert_int_equal(got->n_peers, n);
	assert_string_equal(got->peers[n - 1]->id, "XX-A1999");
	wire_free(got);
	free(buf);
	free(ids);
	free(pp);
	free(pi);
}

static void
test_embedded_nul(void **state)
{
	/* Hello{authority_id: "AB\0C"} */
	static const uint8_t bad[] = { 0x0a, 0x04, 'A', 'B', 0x00, 'C' };
	static const uint8_t good[] = { 0x0a, 0x04, 'A', 'B', 'X', 'C' };
	Comity__Hello *h;

	(void)state;
	h = wire_unpack(&comity__hello__descriptor, good, sizeof(good));
	assert_non_null(h);
	assert_string_equal(h->authority_id, "ABXC");
	wire_free(h);
	assert_null(wire_unpack(&comity__hello__descriptor, bad, sizeof(bad)));
}

static void
test_non_canonical(void **state)
{
	/* Hello{now_ns: 1} */
	static const uint8_t ok[] = { 0x18, 0x01 };
	/* trailing garbage: an incomplete tag after a valid message */
	static const uint8_t trail[] = { 0x18, 0x01, 0xff };
	/* a trailing zero byte (field number 0 is invalid) */
	static const uint8_t trail0[] = { 0x18, 0x01, 0x00 };
	/* non-minimal varint for 1 */
	static const uint8_t longvar[] = { 0x18, 0x81, 0x00 };
	/* a proto3 default written explicitly */
	static const uint8_t zero[] = { 0x18, 0x00 };
	/* the same field twice: the last wins, the re-encoding is shorter */
	static const uint8_t twice[] = { 0x0a, 0x01, 'A', 0x0a, 0x01, 'B' };
	/* a length running past the end */
	static const uint8_t past[] = { 0x0a, 0x05, 'A' };
	Comity__Hello *h;

	(void)state;
	h = wire_unpack(&comity__hello__descriptor, ok, sizeof(ok));
	assert_non_null(h);
	assert_true(h->now_ns == 1);
	wire_free(h);
	assert_null(wire_unpack(&comity__hello__descriptor, trail,
	    sizeof(trail)));
	assert_null(wire_unpack(&comity__hello__descriptor, trail0,
	    sizeof(trail0)));
	assert_null(wire_unpack(&comity__hello__descriptor, longvar,
	    sizeof(longvar)));
	assert_null(wire_unpack(&comity__hello__descriptor, zero,
	    sizeof(zero)));
	assert_null(wire_unpack(&comity__hello__descriptor, twice,
	    sizeof(twice)));
	assert_null(wire_unpack(&comity__hello__descriptor, past,
	    sizeof(past)));
	/* a Frame with two oneof members: only the last survives */
	{
		static const uint8_t two[] = { 0x0a, 0x00, 0x1a, 0x00 };

		assert_null(wire_unpack(&comity__frame__descriptor, two,
		    sizeof(two)));
	}
}

static void
test_id_valid(void **state)
{
	static const char *const good[] = {
		"BE-FPSJ", "AB-1", "KE-ODPP", "AB-X-", "AB-0A-B",
		"AB-12345678901234567890123456789012",	/* 32 after "-" */
	};
	static const char *const bad[] = {
		"", "AB", "AB-", "ab-X", "AB-x", "A-XY", "ABC-X", "AB_X",
		"AB--X", "AB-X Y", "1B-X", "AB-X\n", "AB-Ä",
		"AB-123456789012345678901234567890123",	/* 33 after "-" */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(wire_id_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(wire_id_valid(bad[i]));
	assert_false(wire_id_valid(NULL));
}

static void
test_id_hex(void **state)
{
	uint8_t	id[16], back[16];
	char	hex[33];

	(void)state;
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(i * 17 + 0x0f);
	wire_id_hex(id, hex);
	assert_int_equal(strlen(hex), 32);
	assert_string_equal(hex, "0f2031425364758697a8b9cadbecfd0e");
	assert_int_equal(wire_id_parse(hex, back), 0);
	assert_memory_equal(id, back, 16);
	/* either case */
	assert_int_equal(wire_id_parse("0F2031425364758697A8B9CADBECFD0E",
	    back), 0);
	assert_memory_equal(id, back, 16);
	assert_int_equal(wire_id_parse("0f2031425364758697a8b9cadbecfd0",
	    back), -1);
	assert_int_equal(wire_id_parse("0f2031425364758697a8b9cadbecfd0e0",
	    back), -1);
	assert_int_equal(wire_id_parse("0g2031425364758697a8b9cadbecfd0e",
	    back), -1);
	assert_int_equal(wire_id_parse(" f2031425364758697a8b9cadbecfd0e",
	    back), -1);
	assert_int_equal(wire_id_parse("", back), -1);
	assert_int_equal(wire_id_parse(NULL, back), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_roundtrip),
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_budget_peers),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_non_canonical),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_id_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
