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
 * The hash and the checks of verification live in auditchain.c, which
 * the offline verifier (auditfile.c) shares.
 */
#ifndef COMITY_AUDIT_H
#define COMITY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "auditchain.h"
#include "comity.pb-c.h"

struct seal_keys;
struct store;
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

/*
 * audit_check - the same walk with a full result: the head, time
 * regressions, and WITNESS (NULL for none) checked on the way.  Returns 0
 * when intact, COMITY_ECORRUPT (RES says where and why) or another
 * COMITY_E* when the store fails.  Constant memory; about a microsecond
 * per record, all in the caller's read txn.
 */
int	audit_check(struct store_txn *, const struct audit_witness *witness,
	    struct audit_result *res);

/*
 * audit_verify_store - audit_check in a read txn of its own, for the local
 * API.  It runs to the end in one go: 10^5 records take a few tens of ms
 * of the daemon's loop, 10^7 a few seconds (the offline verifier,
 * auditfile.h, takes none of the daemon's time).
 */
int	audit_verify_store(struct store *, const struct audit_witness *witness,
	    struct audit_result *res);

/* Which records an export wants. */
struct audit_filter {
	int64_t		 since_ns;	/* time at or after; 0 = any */
	int64_t		 until_ns;	/* time before; 0 = any */
	const uint8_t	*id;		/* 16 bytes: about this request only;
					   NULL = any */
};

/* One page of an export, in seq order. */
struct audit_page {
	Comity__AuditRecordInfo	**recs;	/* n records, owned by the page */
	size_t			 n;
	uint64_t		 next;	/* the cursor: go on after this seq */
	int			 more;	/* records follow NEXT */
	Comity__AuditRecord	**raw;	/* private: what recs point into */
	Comity__AuditRecordInfo	*info;	/* private */
};

/*
 * audit_page_read - the records after seq AFTER that match F, decoded, at
 * most LIMIT (0: AUDIT_PAGE_DEFAULT; never above AUDIT_PAGE_MAX), about
 * AUDIT_PAGE_BYTES of them, looking at no more than AUDIT_SCAN_MAX records
 * (so a page of a narrow filter may be empty with more set).  Records are
 * in seq order, never sorted by time: a time filter looks at every record.
 * Free with audit_page_free(), also after a failure.
 */
int	audit_page_read(struct store_txn *, const struct audit_filter *f,
	    uint64_t after, size_t limit, struct audit_page *pg);
void	audit_page_free(struct audit_page *pg);
/* audit_export_page - audit_page_read in a read txn of its own */
int	audit_export_page(struct store *, const struct audit_filter *f,
	    uint64_t after, size_t limit, struct audit_page *pg);

/* audit_hash - the canonical record hash (exposed for tests and export) */
void	audit_hash(uint64_t seq, int64_t time_ns, uint32_t event,
	    const uint8_t *msg_id, size_t msg_id_len, const char *peer,
	    uint32_t uid, const char *detail, const unsigned char prev[32],
	    unsigned char out[32]);

/*
 * audit_checkpoint - sign the current head with K as a checkpoint of
 * AUTHORITY_ID (auditchain.h: audit_checkpoint_text) and append the
 * CHECKPOINT record, whose detail is the base64 of the DER, in the
 * caller's write txn.  Returns 0 with the head signed (*seq, hash) and
 * the DER (*der, malloc'd), or COMITY_E* with the reason in err.
 */
int	audit_checkpoint(struct store_txn *, const struct seal_keys *k,
	    const char *authority_id, int64_t now_ns, uint64_t *seq,
	    unsigned char hash[32], uint8_t **der, size_t *derlen, char *err,
	    size_t errlen);

/* audit_set_trust - the CA store checkpoint signers must chain to when
 * the daemon verifies (NULL: the embedded certificate only) */
void	audit_set_trust(X509_STORE *trust);

#endif /* COMITY_AUDIT_H */
