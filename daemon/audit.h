/*
 * audit.h - the append-only, hash-chained audit trail.
 *
 * Records live in DB_AUDIT (u64be seq -> AuditRecord); the head (seq,
 * hash) in DB_META under "audit_head".  Appends happen in the caller's
 * write transaction, together with the state change they record; they
 * never commit.  The chain hash is computed over a canonical byte string
 * (RELIABILITY §5):
 *   hash = SHA-256("comity-audit-v1\0" || u64be(seq) || i64be(time_ns) ||
 *          u16be(event) || lp(message_id) || lp(peer) || u32be(uid) ||
 *          SHA-256(detail) || prev_hash)        lp = u32be(len) || bytes
 * with seq from 1 and the genesis prev_hash =
 *   SHA-256("comity-audit-genesis\0" || authority_id || i64be(created_ns)).
 */
#ifndef COMITY_AUDIT_H
#define COMITY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct store_txn;

#define AUDIT_NO_UID	0xffffffffu

/* Events: values are stored; never renumber. */
enum audit_event {
	AUDIT_SUBMITTED = 1,
	AUDIT_SENT = 2,
	AUDIT_DELIVERED = 3,
	AUDIT_RECEIVED = 4,
	AUDIT_REJECTED = 5,
	AUDIT_RETRIEVED = 6,
	AUDIT_RECEIPT_RECEIVED = 7,
	AUDIT_EXPIRED = 8,
	AUDIT_CANCELLED = 9,
	AUDIT_URGENT_HOOK = 10,
	AUDIT_ESCALATED = 11,
	AUDIT_PEER_UP = 12,
	AUDIT_PEER_DOWN = 13,
	AUDIT_PEER_AUTH_FAILED = 14,
	AUDIT_CONFIG_LOADED = 15,
	AUDIT_DUPLICATE = 16,
	AUDIT_CONFLICT = 17,
	AUDIT_PROTOCOL_ERROR = 18,
	AUDIT_STARTED = 19,
	AUDIT_STOPPED = 20,
	AUDIT_CHECKPOINT = 21,
	AUDIT_RECEIPT_REFUSED = 22,
	AUDIT_CONFIG_REJECTED = 23,
	AUDIT_STORE_GROWN = 24,
	AUDIT_CORRUPT = 25,
	AUDIT_LOCAL_ERROR = 26,
	AUDIT_WARNING = 27,
	AUDIT__MAX
};

/* audit_event_name - "SUBMITTED", ... ("UNKNOWN" otherwise) */
const char	*audit_event_name(int event);

/* audit_init - create the genesis head for AUTHORITY_ID if the store has
 * none (caller's write txn).  An existing head is left alone. */
int	audit_init(struct store_txn *, const char *authority_id, int64_t now_ns);

/*
 * audit_append - append one record in the caller's write txn.
 * msg_id: 16 bytes or NULL; peer, detail: NUL-terminated or NULL.
 * time_ns: UTC ns (CLOCK_REALTIME).  Returns 0 or COMITY_E*.
 */
int	audit_append(struct store_txn *, int event, const uint8_t *msg_id,
	    const char *peer, uint32_t uid, const char *detail, int64_t time_ns);

/* audit_head - the current head: seq (0 if empty) and hash */
int	audit_head(struct store_txn *, uint64_t *seq, unsigned char hash[32]);

/*
 * audit_verify - walk the chain from seq 1: contiguity, prev links and
 * recomputed hashes.  Returns 0 if intact (with *count set), or
 * COMITY_ECORRUPT with *bad_seq the first bad record and the reason in err.
 */
int	audit_verify(struct store_txn *, uint64_t *count, uint64_t *bad_seq,
	    char *err, size_t errlen);

/* audit_hash - the canonical record hash (exposed for tests and export) */
void	audit_hash(uint64_t seq, int64_t time_ns, uint32_t event,
	    const uint8_t *msg_id, size_t msg_id_len, const char *peer,
	    uint32_t uid, const char *detail, const unsigned char prev[32],
	    unsigned char out[32]);

#endif /* COMITY_AUDIT_H */
