/*
 * test_frame.c - the 4-byte length prefix: bounds checked from the header
 * alone, partial input asks for more, nothing else is accepted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"

#define MAX	(1u << 20)

static void
hdr(uint8_t h[4], uint32_t n)
{
	h[0] = (uint8_t)(n >> 24);
	h[1] = (uint8_t)(n >> 16);
	h[2] = (uint8_t)(n >> 8);
	h[3] = (uint8_t)n;
}

static void
test_length_bounds(void **state)
{
	uint8_t		h[4];
	uint32_t	len = 12345;

	(void)state;
	hdr(h, 0);
	assert_int_equal(frame_length(h, MAX, &len), -1);
	assert_int_equal(len, 12345);		/* untouched on error */

	hdr(h, 1);
	assert_int_equal(frame_length(h, MAX, &len), 0);
	assert_int_equal(len, 1);

	hdr(h, MAX);
	assert_int_equal(frame_length(h, MAX, &len), 0);
	assert_int_equal(len, MAX);

	hdr(h, MAX + 1);
	len = 7;
	assert_int_equal(frame_length(h, MAX, &len), -1);
	assert_int_equal(len, 7);

	hdr(h, 0x7fffffffu);
	assert_int_equal(frame_length(h, MAX, &len), -1);
	hdr(h, 0xffffffffu);
	assert_int_equal(frame_length(h, MAX, &len), -1);
	/* the byte order is big-endian: 0x00000100 is 256, not 65536 */
	memcpy(h, "\x00\x00\x01\x00", 4);
	assert_int_equal(frame_length(h, MAX, &len), 0);
	assert_int_equal(len, 256);
	/* the top value is usable only when the caller allows it */
	hdr(h, 0xffffffffu);
	assert_int_equal(frame_length(h, 0xffffffffu, &len), 0);
	assert_int_equal(len, 0xffffffffu);
}

static void
test_put_header(void **state)
{
	uint8_t		h[4];
	uint32_t	len;
	uint32_t	vals[] = { 1, 255, 256, 65535, 65536, MAX, 0xfffffffeu };

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		frame_put_header(h, vals[i]);
		assert_int_equal(frame_length(h, 0xffffffffu, &len), 0);
		assert_int_equal(len, vals[i]);
	}
	frame_put_header(h, 0x01020304u);
	assert_memory_equal(h, "\x01\x02\x03\x04", 4);
}

static void
test_scan_partial_header(void **state)
{
	uint8_t		buf[8];
	uint32_t	len = 99;

	(void)state;
	hdr(buf, 3);
	memcpy(buf + 4, "abc", 3);
	for (size_t n = 0; n < FRAME_HEADER_LEN; n++)
		assert_int_equal(frame_scan(buf, n, MAX, &len), 0);
	assert_int_equal(len, 99);
	/* even an invalid header needs all 4 bytes to be judged */
	hdr(buf, 0xffffffffu);
	assert_int_equal(frame_scan(buf, 3, MAX, &len), 0);
	assert_int_equal(frame_scan(buf, 4, MAX, &len), -1);
	assert_int_equal(frame_scan(NULL, 0, MAX, &len), 0);
}

static void
test_scan_body(void **state)
{
	uint8_t		buf[4 + 10 + 4];
	uint32_t	len = 0;

	(void)state;
	hdr(buf, 10);
	memset(buf + 4, 'x', 10);
	/* header only, then each partial body length */
	for (size_t n = 4; n < 14; n++)
		assert_int_equal(frame_scan(buf, n, MAX, &len), 0);
	assert_int_equal(len, 0);
	/* exact */
	assert_int_equal(frame_scan(buf, 14, MAX, &len), 1);
	assert_int_equal(len, 10);
	/* more than one frame's worth: the first frame is reported */
	len = 0;
	assert_int_equal(frame_scan(buf, sizeof(buf), MAX, &len), 1);
	assert_int_equal(len, 10);
}

static void
test_scan_invalid(void **state)
{
	uint8_t		buf[16] = { 0 };
	uint32_t	len = 5;

	(void)state;
	/* zero length */
	assert_int_equal(frame_scan(buf, sizeof(buf), MAX, &len), -1);
	/* oversize, with the body "present" so only the header decides */
	hdr(buf, MAX + 1);
	assert_int_equal(frame_scan(buf, sizeof(buf), MAX, &len), -1);
	hdr(buf, 0xffffffffu);
	assert_int_equal(frame_scan(buf, sizeof(buf), MAX, &len), -1);
	assert_int_equal(len, 5);
	/* max exactly: valid header, body still missing */
	hdr(buf, MAX);
	assert_int_equal(frame_scan(buf, sizeof(buf), MAX, &len), 0);
	/* a smaller max moves the boundary */
	hdr(buf, 12);
	assert_int_equal(frame_scan(buf, 16, 11, &len), -1);
	assert_int_equal(frame_scan(buf, 16, 12, &len), 1);
	assert_int_equal(len, 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_bounds),
		cmocka_unit_test(test_put_header),
		cmocka_unit_test(test_scan_partial_header),
		cmocka_unit_test(test_scan_body),
		cmocka_unit_test(test_scan_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
