/*
 * frame.c - length-prefix framing; sans I/O.
 */
#include "frame.h"

int
frame_length(const uint8_t hdr[FRAME_HEADER_LEN], uint32_t max, uint32_t *len)
{
	uint32_t n = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) |
	    ((uint32_t)hdr[2] << 8) | (uint32_t)hdr[3];

	if (n == 0 || n > max)
		return -1;
	*len = n;
	return 0;
}

void
frame_put_header(uint8_t hdr[FRAME_HEADER_LEN], uint32_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

int
frame_scan(const uint8_t *buf, size_t avail, uint32_t max, uint32_t *len)
{
	uint32_t n;

	if (avail < FRAME_HEADER_LEN)
		return 0;
	if (frame_length(buf, max, &n) == -1)
		return -1;
	if (avail - FRAME_HEADER_LEN < n)
		return 0;
	*len = n;
	return 1;
}
