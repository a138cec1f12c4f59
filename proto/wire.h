/*
 * wire.h - bounded decoding and checked encoding of comity messages.
 *
 * protobuf-c is not a validating parser: it has no allocation budget, no
 * UTF-8 or NUL checks.  wire_unpack() therefore
 *  - unpacks with an allocator that fails once DECODE budget bytes
 *    (factor x input + slack) are spent, so a small frame cannot make a
 *    large allocation;
 *  - refuses a message whose canonical re-encoding has another size than
 *    the input: this catches strings cut at an embedded NUL and
 *    non-minimal encodings (every comity encoder is protobuf-c);
 * and the wire_check_* functions validate fields a peer or a client
 * controls.  No I/O here.
 */
#ifndef COMITY_WIRE_H
#define COMITY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "comity.pb-c.h"

/*
 * Decoding may allocate WIRE_BUDGET_FACTOR x the input + WIRE_BUDGET_SLACK.
 * The slack covers answers of many small repeated messages, each a few
 * bytes on the wire and a few hundred as a struct: `comity peers` with a
 * directory of thousands of authorities that never exchanged anything.
 */
#define WIRE_BUDGET_FACTOR	4
#define WIRE_BUDGET_SLACK	(1u << 20)

/*
 * wire_unpack - decode LEN bytes as DESC's message.  Returns a message
 * to free with wire_free(), or NULL when the input is malformed, not
 * canonical or over the allocation budget.
 */
void	*wire_unpack(const ProtobufCMessageDescriptor *desc,
	    const uint8_t *buf, size_t len);
/* wire_free - free a message from wire_unpack() (NULL is a no-op) */
void	 wire_free(void *msg);

/*
 * wire_pack - encode MSG into a new buffer (malloc'd, caller frees) with
 * room for a frame header in front when with_header is set (the header is
 * filled in).  Returns NULL on allocation failure; *len = total bytes.
 */
uint8_t	*wire_pack(const ProtobufCMessage *msg, int with_header, size_t *len);

/* wire_id_valid - authority id: ^[A-Z]{2}-[A-Z0-9][A-Z0-9-]{0,31}$ */
int	 wire_id_valid(const char *s);

/* wire_hex - N bytes as 2N lower-case hex digits + NUL into OUT */
void	 wire_hex(const uint8_t *p, size_t n, char *out);
/* wire_hex_parse - exactly 2N hex digits (either case) -> N bytes; 0 or -1
 * (OUT may be written in part on failure) */
int	 wire_hex_parse(const char *hex, uint8_t *out, size_t n);
/* hex helpers for 16-byte envelope ids: 32 lower-case hex digits + NUL */
void	 wire_id_hex(const uint8_t id[16], char out[33]);
/* wire_id_parse - 32 hex digits (either case) -> 16 bytes; 0 or -1 */
int	 wire_id_parse(const char *hex, uint8_t id[16]);

#endif /* COMITY_WIRE_H */
