/*
 * auditchain.h - the audit chain's rules, shared by the daemon (audit.c)
 * and the offline verifier (auditfile.c, `comity audit verify --store`),
 * so that both compute one hash and apply one set of checks.
 *
 * The chain itself (canonical bytes, genesis, keys) is defined in audit.h.
 * Stored layout: DB "audit": u64be(seq) -> AuditRecord; DB "meta":
 * AUDIT_HEAD_KEY -> u64be(seq) || hash(32), AUDIT_GENESIS_KEY ->
 * i64be(created_ns) || authority id.
 *
 * A walk checks records one at a time in key order, holding nothing but
 * the previous hash: memory stays constant whatever the length of the
 * chain.  Nothing here touches the store, logs or exits; an OpenSSL
 * failure (out of memory) is returned as COMITY_ENOMEM.
 */
#ifndef COMITY_AUDITCHAIN_H
#define COMITY_AUDITCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define AUDIT_HEAD_KEY		"audit_head"
#define AUDIT_GENESIS_KEY	"audit_genesis"
#define AUDIT_HASH_LEN		32
#define AUDIT_HEAD_LEN		(8 + AUDIT_HASH_LEN)
#define AUDIT_REASON_MAX	192
#define AUDIT_AUTHORITY_MAX	64
/* the event number of a CHECKPOINT record (audit.h) */
#define AUDIT_CHECKPOINT_EVENT	21
/* a checkpoint's signed text: comity-audit/<ID>\n<seq>\n<base64 hash>\n
 * <time_ns>\n (RELIABILITY §5, after C2SP tlog-checkpoint) */
#define AUDIT_CHECKPOINT_TEXT_MAX	(13 + AUDIT_AUTHORITY_MAX + 1 + 20 + \
				 1 + 44 + 1 + 20 + 1 + 1)
/* a CHECKPOINT record's detail is the base64 of the DER SignedData; the
 * DER is bounded so that the detail is never cut */
#define AUDIT_CHECKPOINT_DER_MAX	3072

/*
 * audit_chain_hash - the canonical hash of one record (audit.h).
 * msg_id: msg_id_len bytes or NULL; peer, detail: NUL-terminated or NULL
 * (both hash as empty).  Returns 0, or COMITY_ENOMEM when OpenSSL fails.
 */
int	audit_chain_hash(uint64_t seq, int64_t time_ns, uint32_t event,
	    const uint8_t *msg_id, size_t msg_id_len, const char *peer,
	    uint32_t uid, const char *detail,
	    const unsigned char prev[AUDIT_HASH_LEN],
	    unsigned char out[AUDIT_HASH_LEN]);

/* audit_chain_genesis_hash - prev_hash of record 1 for an authority and
 * the store's creation time.  0 or COMITY_ENOMEM. */
int	audit_chain_genesis_hash(const char *authority_id, size_t idlen,
	    int64_t created_ns, unsigned char out[AUDIT_HASH_LEN]);

/* audit_chain_genesis - the same from the stored AUDIT_GENESIS_KEY value
 * (LEN bytes).  0, COMITY_ECORRUPT when malformed, or COMITY_ENOMEM. */
int	audit_chain_genesis(const void *val, size_t len,
	    unsigned char out[AUDIT_HASH_LEN]);

/* A head held elsewhere: the chain must contain record seq with this hash
 * (seq 0 names the genesis).  Catches records removed from the end. */
struct audit_witness {
	uint64_t	 seq;
	unsigned char	 hash[AUDIT_HASH_LEN];
};

/* The outcome of a verification. */
struct audit_result {
	int		 ok;		/* 1: intact */
	uint64_t	 count;		/* records checked and found good */
	uint64_t	 bad_seq;	/* when !ok: the first bad record (0:
					   the genesis or the store itself) */
	char		 reason[AUDIT_REASON_MAX];
	uint64_t	 head_seq;	/* the stored head, when readable */
	unsigned char	 head_hash[AUDIT_HASH_LEN];
	int		 witnessed;	/* a witness was given and matched */
	uint64_t	 regressions;	/* records older than their predecessor
					   (wall clock set back): allowed,
					   reported */
	uint64_t	 first_regression;	/* seq of the first, 0 = none */
	uint64_t	 checkpoints;	/* CHECKPOINT records found good */
	uint64_t	 last_checkpoint;	/* the seq the last one signs */
	int		 checkpoints_chained;	/* signers checked against a
						   CA (else only against the
						   embedded certificate) */
};

/* A walk in progress.  Fields are private to auditchain.c. */
struct audit_walk {
	uint64_t	 next;		/* the seq expected next */
	unsigned char	 prev[AUDIT_HASH_LEN];	/* hash of the last good
						   record (genesis first) */
	int64_t		 last_time;
	int		 has_witness;
	struct audit_witness witness;
	struct audit_result *res;
	char		 authority[AUDIT_AUTHORITY_MAX + 1];	/* from the
					   genesis; "" = not checked */
	X509_STORE	*trust;		/* NULL: checkpoint signatures are
					   checked against the embedded
					   certificate only */
};

/*
 * audit_walk_begin - start a walk from GENESIS (the prev_hash of record
 * 1) into RES (cleared), checking WITNESS (may be NULL) on the way.
 * Returns 0, or COMITY_ECORRUPT when a seq 0 witness differs from the
 * genesis.
 */
int	audit_walk_begin(struct audit_walk *, const unsigned char
	    genesis[AUDIT_HASH_LEN], const struct audit_witness *witness,
	    struct audit_result *res);

/*
 * audit_walk_step - the next stored record, KEY (its u64be seq) and VAL
 * (its encoding), both borrowed.  Checks contiguity, decoding, the link to
 * the previous hash, the recomputed hash and the witness.  Returns 0 when
 * good, COMITY_ECORRUPT with res->bad_seq and res->reason set (the walk
 * is over), or COMITY_ENOMEM.
 */
int	audit_walk_step(struct audit_walk *, const void *key, size_t klen,
	    const void *val, size_t vlen);

/*
 * audit_walk_end - after the last record: the stored head (HEAD NULL when
 * absent or unreadable) must be the last record, and a witness beyond the
 * end means records were removed.  Returns 0 (res->ok set) or
 * COMITY_ECORRUPT.
 */
int	audit_walk_end(struct audit_walk *, const unsigned char *head,
	    size_t head_len);

/* audit_result_fail - record a failure at SEQ found outside a walk (a
 * missing genesis, a bad key); returns COMITY_ECORRUPT */
int	audit_result_fail(struct audit_result *, uint64_t seq,
	    const char *reason);

/*
 * audit_checkpoint_text - the signed text of a checkpoint of head (SEQ,
 * HASH) of authority ID at TIME_NS into BUF (AUDIT_CHECKPOINT_TEXT_MAX).
 * Returns its length, or -1 when ID is empty or too long.
 */
int	audit_checkpoint_text(const char *id, uint64_t seq,
	    const unsigned char hash[AUDIT_HASH_LEN], int64_t time_ns,
	    char *buf, size_t len);

/* audit_checkpoint_parse - the reverse; ID has AUDIT_AUTHORITY_MAX + 1
 * bytes.  0, or -1 when TEXT is not exactly a checkpoint. */
int	audit_checkpoint_parse(const char *text, size_t len, char *id,
	    uint64_t *seq, unsigned char hash[AUDIT_HASH_LEN], int64_t *time_ns);

/*
 * audit_cms_open - verify DER SignedData (one signer) and return its
 * content (malloc'd, *clen set).  With TRUST the signer's certificate must
 * chain to it; without, only the signature over the content is checked
 * against the embedded certificate.  The signer's authority id (from
 * its URI SAN urn:comity:authority:ID, "" if it has none) goes to
 * signer, so the caller can check who signed.  NULL with the reason in
 * err.
 */
uint8_t	*audit_cms_open(const uint8_t *der, size_t len, X509_STORE *trust,
	    size_t *clen, char signer[AUDIT_AUTHORITY_MAX + 1], char *err,
	    size_t errlen);

/*
 * audit_checkpoint_detail - check a CHECKPOINT record's DETAIL (base64
 * DER) as the record at seq REC_SEQ whose previous hash is PREV: signed
 * (see audit_cms_open), names AUTHORITY (unless ""), and signs the head
 * (REC_SEQ - 1, PREV).  0, or -1 with the reason in err.
 */
int	audit_checkpoint_detail(const char *detail, uint64_t rec_seq,
	    const unsigned char prev[AUDIT_HASH_LEN], const char *authority,
	    X509_STORE *trust, char *err, size_t errlen);

/* audit_b64_decode - base64 (no line breaks) into a malloc'd buffer; NULL
 * when malformed or longer than MAX once decoded */
uint8_t	*audit_b64_decode(const char *s, size_t max, size_t *len);

/* audit_walk_authority - the authority id from the stored genesis value,
 * for checkpoints to name */
void	audit_walk_authority(struct audit_walk *, const void *genesis,
	    size_t len);

#endif /* COMITY_AUDITCHAIN_H */
