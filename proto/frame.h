/*
 * frame.h - framing shared by peer links and the local socket.
 *
 * A frame is a 4-byte big-endian payload length followed by the payload
 * (one protobuf message).  A length of 0 or above the caller's maximum is
 * an error, detected from the 4 header bytes alone, before anything is
 * allocated.  No I/O here.
 */
#ifndef COMITY_FRAME_H
#define COMITY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN	4

/*
 * frame_length - decode a header.  Returns 0 and sets *len, or -1 when
 * the length is 0 or above max.
 */
int	frame_length(const uint8_t hdr[FRAME_HEADER_LEN], uint32_t max,
	    uint32_t *len);
/* frame_put_header - encode LEN into HDR */
void	frame_put_header(uint8_t hdr[FRAME_HEADER_LEN], uint32_t len);

/*
 * frame_scan - look at the first AVAIL bytes of a stream: returns 1 with
 * *len = payload length when a whole frame is present, 0 when more bytes
 * are needed, -1 when the header is invalid (close the connection).
 */
int	frame_scan(const uint8_t *buf, size_t avail, uint32_t max,
	    uint32_t *len);

#endif /* COMITY_FRAME_H */
