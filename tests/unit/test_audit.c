/*
 * test_audit.c - the hash-chained audit trail: appends in one and in
 * several transactions, the canonical hash recomputed here from its
 * definition, and tampering (edit, delete, swap, head) detected at the
 * right record.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit.h"
#include "auditfile.h"
#include "bounds.h"
#include "comity.h"
#include "log.h"
#include "seal.h"
#include "store.h"
#include "wire.h"

#define AUTH		"BE-FPSJ"
#define GENESIS_NS	1700000000000000000LL

struct fx {
	char		 dir[64];
	struct store	*s;
};

static void
rm_tree(const char *path)
{
	DIR		*d;
	struct dirent	*e;
	char		 p[512];

	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(path);
}

/* ---- running operations synchronously */

struct op {
	int	(*fn)(struct store_txn *, void *);
	void	*arg;
	int	 rc;
};

static void
op_done(void *arg, int rc)
{
	((struct op *)arg)->rc = rc;
}

static int
op_apply(struct store_txn *t, void *arg)
{
	struct op *op = arg;

	return op->fn(t, op->arg);
}

/* run - FN(ARG) as one operation, committed; returns its outcome */
static int
run(struct store *s, int (*fn)(struct store_txn *, void *), void *arg)
{
	struct op op = { fn, arg, 1 };

	store_batch_add(s, op_apply, op_done, &op);
	assert_int_equal(store_batch_flush(s), 0);
	return op.rc;
}

static int
init_apply(struct store_txn *t, void *arg)
{
	return audit_init(t, arg != NULL ? arg : AUTH, GENESIS_NS);
}

struct appends {
	int	from, n;	/* records from..from+n-1 (by our numbering) */
	int	rc;
};

static const uint8_t msg_id[16] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
};

/* record i: fields vary with i so every field is exercised */
static int
append_apply(struct store_txn *t, void *arg)
{
	struct appends	*a = arg;
	char		 detail[64];
	int		 rc;

	for (int i = a->from; i < a->from + a->n; i++) {
		snprintf(detail, sizeof(detail), "record %d", i);
		/* a CHECKPOINT record must hold a signed checkpoint */
		rc = audit_append(t, 1 + i % (AUDIT__MAX - 1) ==
		    AUDIT_CHECKPOINT ? AUDIT_WARNING : 1 + i % (AUDIT__MAX - 1),
		    i % 3 == 0 ? NULL : msg_id, i % 2 ? "KE-ODPP" : NULL,
		    i % 4 ? 1000u + (uint32_t)i : AUDIT_NO_UID,
		    i % 5 ? detail : NULL, GENESIS_NS + i * 1000LL);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));
	char		 err[256];

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/comity-audit-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	if (store_open(fx->dir, MAP_SIZE_MIN * 4, &fx->s, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	store_close(fx->s);
	rm_tree(fx->dir);
	free(fx);
	return 0;
}

static void
appends_done(void *arg, int rc)
{
	((struct appends *)arg)->rc = rc;
}

/* build - init, then 20 records: 10 in one txn, 5 in five nested txns of
 * one batch, 5 in five batches of their own */
static void
build(struct store *s)
{
	struct appends	 one = { 0, 10, 1 }, several[10];

	assert_int_equal(run(s, init_apply, NULL), 0);
	assert_int_equal(run(s, append_apply, &one), 0);
	for (int i = 0; i < 10; i++) {
		several[i].from = 10 + i;
		several[i].n = 1;
		several[i].rc = 1;
		store_batch_add(s, append_apply, appends_done, &several[i]);
		if (i >= 5)
			assert_int_equal(store_batch_flush(s), 0);
	}
	assert_int_equal(store_batch_pending(s), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(several[i].rc, 0);
}

static int
verify(struct store *s, uint64_t *count, uint64_t *bad, char *err,
    size_t errlen)
{
	struct store_txn	*t;
	int			 rc;

	assert_int_equal(store_read_begin(s, &t), 0);
	rc = audit_verify(t, count, bad, err, errlen);
	store_read_end(t);
	return rc;
}

/* ---- the canonical hash, written out again from its definition */

static void
be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void
sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
}

static void
ref_genesis(unsigned char out[32])
{
	unsigned char	buf[128];
	size_t		n = 0;

	memcpy(buf, "comity-audit-genesis", 20);
	buf[20] = 0;
	n = 21;
	memcpy(buf + n, AUTH, strlen(AUTH));
	n += strlen(AUTH);
	be(buf + n, (uint64_t)GENESIS_NS, 8);
	n += 8;
	sha256(buf, n, out);
}

static void
ref_hash(const Comity__AuditRecord *r, const unsigned char prev[32],
    unsigned char out[32])
{
	unsigned char	buf[512];
	size_t		n = 0, pl = strlen(r->peer);

	memcpy(buf, "comity-audit-v1", 15);
	buf[15] = 0;
	n = 16;
	be(buf + n, r->seq, 8);
	n += 8;
	be(buf + n, (uint64_t)r->time_ns, 8);
	n += 8;
	be(buf + n, r->event, 2);
	n += 2;
	be(buf + n, r->message_id.len, 4);
	n += 4;
	if (r->message_id.len > 0)
		memcpy(buf + n, r->message_id.data, r->message_id.len);
	n += r->message_id.len;
	be(buf + n, pl, 4);
	n += 4;
	if (pl > 0)
		memcpy(buf + n, r->peer, pl);
	n += pl;
	be(buf + n, r->uid, 4);
	n += 4;
	sha256(r->detail, strlen(r->detail), buf + n);
	n += 32;
	memcpy(buf + n, prev, 32);
	n += 32;
	sha256(buf, n, out);
}

/* get_rec - decode record SEQ (caller frees with wire_free) */
static Comity__AuditRecord *
get_rec(struct store *s, uint64_t seq)
{
	struct store_txn	*t;
	Comity__AuditRecord	*r = NULL;
	unsigned char		 key[8];
	const void		*v;
	size_t			 vl;

	store_u64be(key, seq);
	assert_int_equal(store_read_begin(s, &t), 0);
	if (store_get(t, DB_AUDIT, key, 8, &v, &vl) == 0)
		r = wire_unpack(&comity__audit_record__descriptor, v, vl);
	store_read_end(t);
	return r;
}

/* ---- tampering, as an operation in the store's own batch */

struct raw {
	uint64_t	 seq, seq2;
	uint8_t		*val;
	size_t		 len;
	unsigned char	 head[40];
};

static int
put_raw_apply(struct store_txn *t, void *arg)
{
	struct raw	*r = arg;
	unsigned char	 key[8];

	store_u64be(key, r->seq);
	return store_put(t, DB_AUDIT, key, 8, r->val, r->len);
}

static int
del_apply(struct store_txn *t, void *arg)
{
	struct raw	*r = arg;
	unsigned char	 key[8];

	store_u64be(key, r->seq);
	return store_del(t, DB_AUDIT, key, 8);
}

static int
swap_apply(struct store_txn *t, void *arg)
{
	struct raw	*r = arg;
	unsigned char	 k1[8], k2[8];
	const void	*v;
	size_t		 l1, l2;
	uint8_t		*c1, *c2;
	int		 rc;

	store_u64be(k1, r->seq);
	store_u64be(k2, r->seq2);
	if ((rc = store_get(t, DB_AUDIT, k1, 8, &v, &l1)) != 0)
		return rc;
	c1 = malloc(l1);
	memcpy(c1, v, l1);
	if ((rc = store_get(t, DB_AUDIT, k2, 8, &v, &l2)) != 0)
		return rc;
	c2 = malloc(l2);
	memcpy(c2, v, l2);
	rc = store_put(t, DB_AUDIT, k1, 8, c2, l2);
	if (rc == 0)
		rc = store_put(t, DB_AUDIT, k2, 8, c1, l1);
	free(c1);
	free(c2);
	return rc;
}

static int
put_head_apply(struct store_txn *t, void *arg)
{
	struct raw *r = arg;

	return store_put(t, DB_META, "audit_head", 10, r->head, 40);
}

/* ---- tests */

static void
test_append_verify(void **state)
{
	struct fx	*fx = *state;
	uint64_t	 count = 0, bad = 99, seq;
	unsigned char	 head[32];
	char		 err[256];
	struct store_txn *t;
	Comity__AuditRecord *r;

	build(fx->s);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)), 0);
	assert_int_equal(count, 20);
	assert_int_equal(bad, 0);

	/* the head is the last record */
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(audit_head(t, &seq, head), 0);
	store_read_end(t);
	assert_int_equal(seq, 20);
	r = get_rec(fx->s, 20);
	assert_non_null(r);
	assert_memory_equal(r->hash.data, head, 32);
	wire_free(r);

	/* more appends extend it */
	{
		struct appends more = { 100, 7, 1 };

		assert_int_equal(run(fx->s, append_apply, &more), 0);
	}
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)), 0);
	assert_int_equal(count, 27);
}

static void
test_canonical_hash(void **state)
{
	struct fx		*fx = *state;
	Comity__AuditRecord	*r1, *r2;
	unsigned char		 g[32], want[32], got[32];

	build(fx->s);
	ref_genesis(g);

	/* record 1: no message id, no peer, no uid, no detail (i = 0) */
	r1 = get_rec(fx->s, 1);
	assert_non_null(r1);
	assert_int_equal(r1->seq, 1);
	assert_int_equal(r1->message_id.len, 0);
	assert_string_equal(r1->peer, "");
	assert_int_equal(r1->uid, AUDIT_NO_UID);
	assert_int_equal(r1->prev_hash.len, 32);
	assert_memory_equal(r1->prev_hash.data, g, 32);
	ref_hash(r1, g, want);
	assert_int_equal(r1->hash.len, 32);
	assert_memory_equal(r1->hash.data, want, 32);

	/* record 2: every field set (i = 1) */
	r2 = get_rec(fx->s, 2);
	assert_non_null(r2);
	assert_int_equal(r2->message_id.len, 16);
	assert_string_equal(r2->peer, "KE-ODPP");
	assert_string_equal(r2->detail, "record 1");
	assert_int_equal(r2->uid, 1001);
	assert_true(r2->time_ns == GENESIS_NS + 1000);
	assert_memory_equal(r2->prev_hash.data, r1->hash.data, 32);
	ref_hash(r2, r1->hash.data, want);
	assert_memory_equal(r2->hash.data, want, 32);

	/* the exported function agrees */
	audit_hash(r2->seq, r2->time_ns, r2->event, r2->message_id.data,
	    r2->message_id.len, r2->peer, r2->uid, r2->detail,
	    r1->hash.data, got);
	assert_memory_equal(got, want, 32);
	/* and every field matters */
	audit_hash(r2->seq + 1, r2->time_ns, r2->event, r2->message_id.data,
	    r2->message_id.len, r2->peer, r2->uid, r2->detail,
	    r1->hash.data, got);
	assert_memory_not_equal(got, want, 32);
	audit_hash(r2->seq, r2->time_ns, r2->event, r2->message_id.data,
	    r2->message_id.len, r2->peer, r2->uid, "record 1 ",
	    r1->hash.data, got);
	assert_memory_not_equal(got, want, 32);
	audit_hash(r2->seq, r2->time_ns, r2->event, r2->message_id.data,
	    r2->message_id.len, r2->peer, r2->uid + 1, r2->detail,
	    r1->hash.data, got);
	assert_memory_not_equal(got, want, 32);
	/* lp() separates fields: moving a byte from peer to message id */
	audit_hash(r2->seq, r2->time_ns, r2->event, r2->message_id.data,
	    r2->message_id.len, "", r2->uid, r2->detail, r1->hash.data, got);
	assert_memory_not_equal(got, want, 32);
	wire_free(r1);
	wire_free(r2);
}

static void
test_init_idempotent(void **state)
{
	struct fx	*fx = *state;
	uint64_t	 seq, count, bad;
	unsigned char	 h1[32], h2[32], g[32];
	char		 err[128];
	struct store_txn *t;
	struct appends	 a = { 0, 1, 1 };

	/* appending before init is refused */
	assert_int_not_equal(run(fx->s, append_apply, &a), 0);
	/* nothing there yet verifies as empty */
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)), 0);
	assert_int_equal(count, 0);

	assert_int_equal(run(fx->s, init_apply, NULL), 0);
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(audit_head(t, &seq, h1), 0);
	store_read_end(t);
	assert_int_equal(seq, 0);
	ref_genesis(g);
	assert_memory_equal(h1, g, 32);

	/* a second init, even with another id, leaves the head alone */
	assert_int_equal(run(fx->s, init_apply, "KE-ODPP"), 0);
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(audit_head(t, &seq, h2), 0);
	store_read_end(t);
	assert_int_equal(seq, 0);
	assert_memory_equal(h1, h2, 32);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)), 0);
	assert_int_equal(count, 0);
	/* bad arguments */
	assert_int_equal(run(fx->s, init_apply, ""), COMITY_EINVAL);
}

static int
bad_event_apply(struct store_txn *t, void *arg)
{
	(void)arg;
	return audit_append(t, AUDIT__MAX, NULL, NULL, 0, "x", 1);
}

static int
long_detail_apply(struct store_txn *t, void *arg)
{
	return audit_append(t, AUDIT_WARNING, NULL, NULL, 0, arg, 5);
}

static void
test_append_limits(void **state)
{
	struct fx		*fx = *state;
	Comity__AuditRecord	*r;
	uint64_t		 count, bad;
	char			 err[128], *big;

	assert_int_equal(run(fx->s, init_apply, NULL), 0);
	assert_int_equal(run(fx->s, bad_event_apply, NULL), COMITY_EINVAL);
	/* an over-long detail is cut at a character boundary, not refused */
	big = malloc(10001);
	assert_non_null(big);
	/* "x" then é (c3 a9) repeated: byte 4096 is a continuation byte */
	big[0] = 'x';
	for (int i = 1; i < 9999; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[9999] = '\0';
	assert_int_equal(run(fx->s, long_detail_apply, big), 0);
	free(big);
	r = get_rec(fx->s, 1);
	assert_non_null(r);
	/* 4096 would split a character: cut before it */
	assert_int_equal(strlen(r->detail), 4095);
	assert_int_equal((unsigned char)r->detail[4094], 0xa9);
	wire_free(r);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)), 0);
	assert_int_equal(count, 1);
}

static void
test_tamper_detail(void **state)
{
	struct fx		*fx = *state;
	Comity__AuditRecord	*r;
	struct raw		 raw;
	char			*orig;
	uint64_t		 count = 77, bad = 0;
	char			 err[256];

	build(fx->s);
	r = get_rec(fx->s, 7);
	assert_non_null(r);
	orig = r->detail;
	r->detail = "record 6 (edited)";	/* hash left as it was */
	memset(&raw, 0, sizeof(raw));
	raw.seq = 7;
	raw.val = wire_pack(&r->base, 0, &raw.len);
	assert_non_null(raw.val);
	r->detail = orig;	/* free what was decoded */
	wire_free(r);
	assert_int_equal(run(fx->s, put_raw_apply, &raw), 0);
	free(raw.val);

	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 7);
	assert_non_null(strstr(err, "7"));
	assert_int_equal(count, 0);
}

static void
test_tamper_rehash(void **state)
{
	struct fx		*fx = *state;
	Comity__AuditRecord	*r;
	struct raw		 raw;
	char			*orig;
	uint64_t		 count, bad = 0;
	unsigned char		 h[32];
	char			 err[256];

	/* an edit with its own hash recomputed breaks the next link */
	build(fx->s);
	r = get_rec(fx->s, 7);
	assert_non_null(r);
	orig = r->detail;
	r->detail = "forged";
	audit_hash(r->seq, r->time_ns, r->event, r->message_id.data,
	    r->message_id.len, r->peer, r->uid, r->detail, r->prev_hash.data,
	    h);
	memcpy(r->hash.data, h, 32);
	memset(&raw, 0, sizeof(raw));
	raw.seq = 7;
	raw.val = wire_pack(&r->base, 0, &raw.len);
	r->detail = orig;
	wire_free(r);
	assert_int_equal(run(fx->s, put_raw_apply, &raw), 0);
	free(raw.val);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 8);
}

static void
test_delete_middle(void **state)
{
	struct fx	*fx = *state;
	struct raw	 raw = { .seq = 11 };
	uint64_t	 count, bad = 0;
	char		 err[256];

	build(fx->s);
	assert_int_equal(run(fx->s, del_apply, &raw), 0);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 11);
	assert_non_null(strstr(err, "missing"));
}

static void
test_delete_first(void **state)
{
	struct fx	*fx = *state;
	struct raw	 raw = { .seq = 1 };
	uint64_t	 count, bad = 0;
	char		 err[256];

	build(fx->s);
	assert_int_equal(run(fx->s, del_apply, &raw), 0);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 1);
}

static void
test_swap(void **state)
{
	struct fx	*fx = *state;
	struct raw	 raw = { .seq = 4, .seq2 = 5 };
	uint64_t	 count, bad = 0;
	char		 err[256];

	build(fx->s);
	assert_int_equal(run(fx->s, swap_apply, &raw), 0);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 4);
}

static void
test_head_mismatch(void **state)
{
	struct fx		*fx = *state;
	struct raw		 raw;
	struct store_txn	*t;
	uint64_t		 count, bad = 0, seq;
	unsigned char		 head[32];
	char			 err[256];

	build(fx->s);
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(audit_head(t, &seq, head), 0);
	store_read_end(t);
	assert_int_equal(seq, 20);

	/* right seq, wrong hash */
	memset(&raw, 0, sizeof(raw));
	store_u64be(raw.head, 20);
	memcpy(raw.head + 8, head, 32);
	raw.head[8] ^= 1;
	assert_int_equal(run(fx->s, put_head_apply, &raw), 0);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 20);
	assert_non_null(strstr(err, "head"));

	/* the head further on than the records: truncation */
	store_u64be(raw.head, 22);
	memcpy(raw.head + 8, head, 32);
	assert_int_equal(run(fx->s, put_head_apply, &raw), 0);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 21);

	/* records beyond the head */
	store_u64be(raw.head, 19);
	assert_int_equal(run(fx->s, put_head_apply, &raw), 0);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 20);

	/* restored, it verifies again */
	store_u64be(raw.head, 20);
	assert_int_equal(run(fx->s, put_head_apply, &raw), 0);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)), 0);
	assert_int_equal(count, 20);
}

static void
test_truncate_tail(void **state)
{
	struct fx	*fx = *state;
	struct raw	 raw = { .seq = 20 };
	uint64_t	 count, bad = 0;
	char		 err[256];

	/* dropping the last record leaves the head pointing past the end */
	build(fx->s);
	assert_int_equal(run(fx->s, del_apply, &raw), 0);
	assert_int_equal(verify(fx->s, &count, &bad, err, sizeof(err)),
	    COMITY_ECORRUPT);
	assert_int_equal(bad, 20);
}

static void
test_event_names(void **state)
{
	(void)state;
	assert_string_equal(audit_event_name(AUDIT_SUBMITTED), "SUBMITTED");
	assert_string_equal(audit_event_name(AUDIT_WARNING), "WARNING");
	assert_string_equal(audit_event_name(AUDIT_RECEIPT_RECEIVED),
	    "RECEIPT_RECEIVED");
	assert_string_equal(audit_event_name(0), "UNKNOWN");
	assert_string_equal(audit_event_name(AUDIT__MAX), "UNKNOWN");
	assert_string_equal(audit_event_name(-1), "UNKNOWN");
	for (int e = 1; e < AUDIT__MAX; e++)
		assert_string_not_equal(audit_event_name(e), "UNKNOWN");
}

/* ---- witnesses, the page reader, the offline verifier, scale */

static int
check(struct store *s, const struct audit_witness *w, struct audit_result *res)
{
	struct store_txn	*t;
	int			 rc;

	assert_int_equal(store_read_begin(s, &t), 0);
	rc = audit_check(t, w, res);
	store_read_end(t);
	return rc;
}

/* witness_of - record SEQ's hash as a witness */
static void
witness_of(struct store *s, uint64_t seq, struct audit_witness *w)
{
	Comity__AuditRecord	*r = get_rec(s, seq);

	assert_non_null(r);
	w->seq = seq;
	memcpy(w->hash, r->hash.data, 32);
	wire_free(r);
}

static void
test_witness(void **state)
{
	struct fx		*fx = *state;
	struct audit_witness	 w20, w10, wg;
	struct audit_result	 res;
	struct raw		 raw;

	build(fx->s);
	witness_of(fx->s, 20, &w20);
	witness_of(fx->s, 10, &w10);
	assert_int_equal(check(fx->s, &w20, &res), 0);
	assert_true(res.ok);
	assert_true(res.witnessed);
	assert_int_equal(res.count, 20);
	assert_int_equal(res.head_seq, 20);
	assert_memory_equal(res.head_hash, w20.hash, 32);
	assert_int_equal(check(fx->s, &w10, &res), 0);
	assert_true(res.witnessed);
	/* the genesis as a witness */
	memset(&wg, 0, sizeof(wg));
	ref_genesis(wg.hash);
	assert_int_equal(check(fx->s, &wg, &res), 0);
	assert_true(res.witnessed);
	wg.hash[0] ^= 1;
	assert_int_equal(check(fx->s, &wg, &res), COMITY_ECORRUPT);
	assert_int_equal(res.bad_seq, 0);
	/* a witness that differs: the chain was rewritten from there */
	w10.hash[31] ^= 0x80;
	assert_int_equal(check(fx->s, &w10, &res), COMITY_ECORRUPT);
	assert_int_equal(res.bad_seq, 10);
	assert_non_null(strstr(res.reason, "witness"));
	assert_int_equal(res.count, 9);

	/* cut the last three records and move the head back consistently:
	 * the chain alone looks whole, the witness shows the cut */
	for (uint64_t seq = 18; seq <= 20; seq++) {
		raw.seq = seq;
		assert_int_equal(run(fx->s, del_apply, &raw), 0);
	}
	{
		struct audit_witness w17;

		witness_of(fx->s, 17, &w17);
		store_u64be(raw.head, 17);
		memcpy(raw.head + 8, w17.hash, 32);
		assert_int_equal(run(fx->s, put_head_apply, &raw), 0);
	}
	assert_int_equal(check(fx->s, NULL, &res), 0);
	assert_int_equal(res.count, 17);
	assert_int_equal(check(fx->s, &w20, &res), COMITY_ECORRUPT);
	assert_false(res.ok);
	assert_int_equal(res.bad_seq, 18);
	assert_non_null(strstr(res.reason, "removed from the end"));
}

static void
test_time_regression(void **state)
{
	struct fx		*fx = *state;
	struct appends		 a = { 100, 3, 1 }, b = { 50, 2, 1 };
	struct audit_result	 res;

	/* records 1-3 at +100..102 us, then 4-5 at +50..51 us: allowed */
	assert_int_equal(run(fx->s, init_apply, NULL), 0);
	assert_int_equal(run(fx->s, append_apply, &a), 0);
	assert_int_equal(run(fx->s, append_apply, &b), 0);
	assert_int_equal(check(fx->s, NULL, &res), 0);
	assert_int_equal(res.count, 5);
	assert_int_equal(res.regressions, 1);
	assert_int_equal(res.first_regression, 4);
}

struct page_all {
	uint64_t	 seqs[64];
	size_t		 n;
	int		 pages;
};

/* read - every page after 0 with LIMIT and F into PA; checks the cursor */
static void
read_all(struct store *s, const struct audit_filter *f, size_t limit,
    struct page_all *pa)
{
	struct store_txn	*t;
	struct audit_page	 pg;
	uint64_t		 after = 0;
	int			 more;

	memset(pa, 0, sizeof(*pa));
	do {
		assert_int_equal(store_read_begin(s, &t), 0);
		assert_int_equal(audit_page_read(t, f, after, limit, &pg), 0);
		store_read_end(t);
		assert_true(pg.n <= (limit ? limit : AUDIT_PAGE_DEFAULT));
		for (size_t i = 0; i < pg.n; i++) {
			assert_true(pg.recs[i]->seq > after);
			assert_true(pg.recs[i]->seq <= pg.next);
			assert_true(pa->n < 64);
			pa->seqs[pa->n++] = pg.recs[i]->seq;
			assert_string_equal(pg.recs[i]->event_name,
			    audit_event_name((int)pg.recs[i]->event));
			assert_int_equal(pg.recs[i]->hash.len, 32);
			assert_int_equal(pg.recs[i]->prev_hash.len, 32);
		}
		assert_true(!pg.more || pg.next > after);
		after = pg.next;
		pa->pages++;
		more = pg.more;
		audit_page_free(&pg);
		assert_true(pa->pages < 1000);
	} while (more);
}

static void
test_page_read(void **state)
{
	struct fx		*fx = *state;
	struct audit_filter	 f;
	struct page_all		 pa;
	struct store_txn	*t;
	struct audit_page	 pg;
	uint8_t			 other[16] = { 9 };

	build(fx->s);
	memset(&f, 0, sizeof(f));
	/* everything, in pages of 3: 7 pages, seqs 1..20 */
	read_all(fx->s, &f, 3, &pa);
	assert_int_equal(pa.n, 20);
	assert_int_equal(pa.pages, 7);
	for (size_t i = 0; i < pa.n; i++)
		assert_int_equal(pa.seqs[i], i + 1);
	/* one page: the default limit */
	read_all(fx->s, &f, 0, &pa);
	assert_int_equal(pa.n, 20);
	assert_int_equal(pa.pages, 1);
	/* by request: record i+1 carries msg_id unless i % 3 == 0 */
	f.id = msg_id;
	read_all(fx->s, &f, 4, &pa);
	assert_int_equal(pa.n, 13);
	for (size_t i = 0; i < pa.n; i++)
		assert_int_not_equal((pa.seqs[i] - 1) % 3, 0);
	f.id = other;
	read_all(fx->s, &f, 4, &pa);
	assert_int_equal(pa.n, 0);
	/* by time: record i+1 at GENESIS_NS + i us; [5, 9) us -> 6..9 */
	f.id = NULL;
	f.since_ns = GENESIS_NS + 5000;
	f.until_ns = GENESIS_NS + 9000;
	read_all(fx->s, &f, 2, &pa);
	assert_int_equal(pa.n, 4);
	assert_int_equal(pa.seqs[0], 6);
	assert_int_equal(pa.seqs[3], 9);
	/* after the end, and the largest cursor */
	memset(&f, 0, sizeof(f));
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(audit_page_read(t, &f, 20, 5, &pg), 0);
	assert_int_equal(pg.n, 0);
	assert_false(pg.more);
	audit_page_free(&pg);
	assert_int_equal(audit_page_read(t, &f, UINT64_MAX, 5, &pg), 0);
	assert_int_equal(pg.n, 0);
	assert_false(pg.more);
	audit_page_free(&pg);
	/* a limit above the bound is cut to it */
	assert_int_equal(audit_page_read(t, &f, 0, AUDIT_PAGE_MAX * 10, &pg),
	    0);
	assert_int_equal(pg.n, 20);
	audit_page_free(&pg);
	store_read_end(t);
}

static void
test_offline(void **state)
{
	struct fx		*fx = *state;
	Comity__AuditRecord	*r;
	struct audit_result	 res, mine;
	struct audit_witness	 w;
	struct raw		 raw;
	char			 err[256], *orig, path[128];
	FILE			*fp;

	build(fx->s);
	witness_of(fx->s, 20, &w);
	/* intact, read by the store's own names while no daemon has it */
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(audit_verify_dir(fx->dir, &w, &res, err, sizeof(err)),
	    0);
	assert_true(res.ok);
	assert_true(res.witnessed);
	assert_int_equal(res.count, 20);
	assert_int_equal(res.head_seq, 20);

	/* an edit is named at the same record as the daemon names it */
	assert_int_equal(store_open(fx->dir, MAP_SIZE_MIN * 4, &fx->s, err,
	    sizeof(err)), 0);
	r = get_rec(fx->s, 13);
	orig = r->detail;
	r->detail = "record 12 (edited)";
	memset(&raw, 0, sizeof(raw));
	raw.seq = 13;
	raw.val = wire_pack(&r->base, 0, &raw.len);
	r->detail = orig;
	wire_free(r);
	assert_int_equal(run(fx->s, put_raw_apply, &raw), 0);
	free(raw.val);
	assert_int_equal(check(fx->s, NULL, &mine), COMITY_ECORRUPT);
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(audit_verify_dir(fx->dir, NULL, &res, err,
	    sizeof(err)), COMITY_ECORRUPT);
	assert_false(res.ok);
	assert_int_equal(res.bad_seq, 13);
	assert_int_equal(mine.bad_seq, 13);
	assert_string_equal(res.reason, mine.reason);

	/* not a store */
	assert_int_equal(audit_verify_dir("/nonexistent/store", NULL, &res,
	    err, sizeof(err)), COMITY_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/data.mdb", fx->dir);
	assert_int_equal(audit_verify_dir(path, NULL, &res, err, sizeof(err)),
	    COMITY_EINVAL);
	snprintf(path, sizeof(path), "%s/sub", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(audit_verify_dir(path, NULL, &res, err, sizeof(err)),
	    COMITY_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/sub/data.mdb", fx->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("not an LMDB file, but long enough to be read as one........",
	    fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/sub", fx->dir);
	assert_int_not_equal(audit_verify_dir(path, NULL, &res, err,
	    sizeof(err)), 0);
	assert_false(res.ok);
	snprintf(path, sizeof(path), "%s/sub/data.mdb", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/lock.mdb", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", fx->dir);
	rmdir(path);
	/* teardown closes a store */
	assert_int_equal(store_open(fx->dir, MAP_SIZE_MIN * 4, &fx->s, err,
	    sizeof(err)), 0);
}

static size_t
heap_in_use(void)
{
	struct mallinfo2	mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static double
secs_since(const struct timespec *t0)
{
	struct timespec	t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

#define BIG_N		100000
#define BIG_BATCH	5000

static void
test_100k(void **state)
{
	struct fx		*fx = *state;
	struct appends		 a;
	struct audit_filter	 f;
	struct audit_result	 res;
	struct audit_page	 pg;
	struct store_txn	*t;
	struct timespec		 t0;
	uint8_t			 nobody[16] = { 0xee };
	uint64_t		 after = 0, n = 0, expect = 1;
	size_t			 base, peak = 0, now;
	int			 more;
	double			 dt;
	char			 err[256];

	/* room for 10^5 records without growing the map */
	store_close(fx->s);
	assert_int_equal(store_open(fx->dir, 256ull << 20, &fx->s, err,
	    sizeof(err)), 0);
	assert_int_equal(run(fx->s, init_apply, NULL), 0);
	for (int i = 0; i < BIG_N; i += BIG_BATCH) {
		a.from = i;
		a.n = BIG_BATCH;
		assert_int_equal(run(fx->s, append_apply, &a), 0);
	}

	/* the daemon-side walk: well under a second */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(check(fx->s, NULL, &res), 0);
	dt = secs_since(&t0);
	print_message("verify of %d records: %.3f s\n", BIG_N, dt);
	assert_int_equal(res.count, BIG_N);
	assert_true(dt < 5.0);	/* ~0.1 s here; slack for sanitizers */

	/* the export, page by page: the heap stays within about a page */
	memset(&f, 0, sizeof(f));
	base = heap_in_use();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		assert_int_equal(store_read_begin(fx->s, &t), 0);
		assert_int_equal(audit_page_read(t, &f, after, AUDIT_PAGE_MAX,
		    &pg), 0);
		store_read_end(t);
		if ((now = heap_in_use()) > peak)
			peak = now;
		for (size_t i = 0; i < pg.n; i++)
			assert_int_equal(pg.recs[i]->seq, expect++);
		n += pg.n;
		after = pg.next;
		more = pg.more;
		audit_page_free(&pg);
	} while (more);
	dt = secs_since(&t0);
	print_message("export of %llu records: %.3f s, peak heap growth "
	    "%zu KiB\n", (unsigned long long)n, dt,
	    (peak > base ? peak - base : 0) / 1024);
	assert_int_equal(n, BIG_N);
	assert_true(peak < base + (4u << 20));

	/* a filter that matches nothing still answers page by page */
	f.id = nobody;
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(audit_page_read(t, &f, 0, 0, &pg), 0);
	store_read_end(t);
	assert_int_equal(pg.n, 0);
	assert_true(pg.more);
	assert_int_equal(pg.next, AUDIT_SCAN_MAX);
	audit_page_free(&pg);

	/* and the offline walk agrees */
	store_close(fx->s);
	fx->s = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(audit_verify_dir(fx->dir, NULL, &res, err,
	    sizeof(err)), 0);
	print_message("offline verify of %d records: %.3f s\n", BIG_N,
	    secs_since(&t0));
	assert_int_equal(res.count, BIG_N);
	assert_int_equal(store_open(fx->dir, 256ull << 20, &fx->s, err,
	    sizeof(err)), 0);
}

/* ---- signed checkpoints */

static void
test_checkpoint_text(void **state)
{
	unsigned char	 hash[32], h2[32];
	char		 buf[AUDIT_CHECKPOINT_TEXT_MAX], id[AUDIT_AUTHORITY_MAX + 1];
	uint64_t	 seq;
	int64_t		 t;
	int		 n;

	(void)state;
	memset(hash, 0, sizeof(hash));
	hash[31] = 1;
	n = audit_checkpoint_text(AUTH, 42, hash, GENESIS_NS, buf,
	    sizeof(buf));
	assert_string_equal(buf, "comity-audit/" AUTH "\n42\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"
	    "1700000000000000000\n");
	assert_int_equal(n, (int)strlen(buf));
	assert_int_equal(audit_checkpoint_parse(buf, (size_t)n, id, &seq, h2,
	    &t), 0);
	assert_string_equal(id, AUTH);
	assert_int_equal(seq, 42);
	assert_memory_equal(h2, hash, 32);
	assert_true(t == GENESIS_NS);
	/* anything else is not a checkpoint */
	assert_int_equal(audit_checkpoint_parse(buf, (size_t)n - 1, id, &seq,
	    h2, &t), -1);
	assert_int_equal(audit_checkpoint_parse("comity-audit/X\n01\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n1\n", 63, id, &seq,
	    h2, &t), -1);
	assert_int_equal(audit_checkpoint_text("", 1, hash, 1, buf,
	    sizeof(buf)), -1);
}

/* a throwaway EC key and self-signed certificate naming authority ID */
static void
test_keys_for(struct seal_keys *k, const char *id)
{
	X509_NAME	*nm;
	X509_EXTENSION	*ext;
	char		 san[64];

	memset(k, 0, sizeof(*k));
	assert_non_null(k->key = EVP_EC_gen("P-256"));
	assert_non_null(k->cert = X509_new());
	X509_set_version(k->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(k->cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(k->cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(k->cert), 3600);
	nm = X509_get_subject_name(k->cert);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)AUTH, -1, -1, 0);
	X509_set_issuer_name(k->cert, nm);
	snprintf(san, sizeof(san), "URI:urn:comity:authority:%s", id);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, NULL,
	    NID_subject_alt_name, san));
	assert_true(X509_add_ext(k->cert, ext, -1));
	X509_EXTENSION_free(ext);
	X509_set_pubkey(k->cert, k->key);
	assert_true(X509_sign(k->cert, k->key, EVP_sha256()) > 0);
}

static void
test_keys(struct seal_keys *k)
{
	test_keys_for(k, AUTH);
}

struct cp_arg {
	struct seal_keys	*k;
	uint64_t		 seq;
	unsigned char		 hash[32];
	uint8_t			*der;
	size_t			 len;
};

static int
cp_apply(struct store_txn *t, void *arg)
{
	struct cp_arg	*a = arg;
	char		 err[256];

	return audit_checkpoint(t, a->k, AUTH, GENESIS_NS + 99000, &a->seq,
	    a->hash, &a->der, &a->len, err, sizeof(err));
}

/* a CHECKPOINT record whose signed head is not the chain's */
static int
cp_forged_apply(struct store_txn *t, void *arg)
{
	struct cp_arg	*a = arg;
	unsigned char	 hash[32];
	char		 text[AUDIT_CHECKPOINT_TEXT_MAX], err[256], *b64;
	uint8_t		*der;
	size_t		 len;
	uint64_t	 seq;
	int		 n, rc;

	assert_int_equal(audit_head(t, &seq, hash), 0);
	hash[0] ^= 1;
	n = audit_checkpoint_text(AUTH, seq, hash, GENESIS_NS, text,
	    sizeof(text));
	assert_non_null(der = seal_sign(a->k, (uint8_t *)text, (size_t)n,
	    &len, err, sizeof(err)));
	assert_non_null(b64 = calloc(1, len * 2 + 4));
	EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	rc = audit_append(t, AUDIT_CHECKPOINT, NULL, NULL, AUDIT_NO_UID, b64,
	    GENESIS_NS + 100000);
	a->seq = seq + 1;
	free(b64);
	free(der);
	return rc;
}

static void
test_checkpoint_verify(void **state)
{
	struct fx		*fx = *state;
	struct seal_keys	 k;
	struct cp_arg		 a;
	struct audit_result	 res;
	struct appends		 ap = { 0, 5, 0 };
	char			 text[AUDIT_CHECKPOINT_TEXT_MAX], err[256];
	char			 id[AUDIT_AUTHORITY_MAX + 1];
	char			 signer[AUDIT_AUTHORITY_MAX + 1];
	unsigned char		 h[32];
	uint8_t			*content;
	size_t			 clen;
	uint64_t		 seq;
	int64_t			 t;

	test_keys(&k);
	memset(&a, 0, sizeof(a));
	a.k = &k;
	assert_int_equal(run(fx->s, init_apply, NULL), 0);
	assert_int_equal(run(fx->s, append_apply, &ap), 0);
	assert_int_equal(run(fx->s, cp_apply, &a), 0);
	assert_int_equal(a.seq, 5);
	assert_non_null(a.der);
	/* the DER opens to the text of the head it signed */
	assert_non_null(content = audit_cms_open(a.der, a.len, NULL, &clen,
	    signer, err, sizeof(err)));
	assert_string_equal(signer, AUTH);
	assert_int_equal(audit_checkpoint_text(AUTH, 5, a.hash,
	    GENESIS_NS + 99000, text, sizeof(text)), (int)clen);
	assert_memory_equal(content, text, clen);
	assert_int_equal(audit_checkpoint_parse((char *)content, clen, id,
	    &seq, h, &t), 0);
	free(content);
	free(a.der);
	a.der = NULL;

	assert_int_equal(audit_verify_store(fx->s, NULL, &res), 0);
	assert_int_equal(res.checkpoints, 1);
	assert_int_equal(res.last_checkpoint, 5);
	assert_int_equal(res.count, 6);

	/* one that signs a hash the chain does not have at that seq */
	assert_int_equal(run(fx->s, cp_forged_apply, &a), 0);
	assert_int_equal(audit_verify_store(fx->s, NULL, &res),
	    COMITY_ECORRUPT);
	assert_int_equal(res.bad_seq, 7);
	assert_non_null(strstr(res.reason, "checkpoint"));

	EVP_PKEY_free(k.key);
	X509_free(k.cert);
}

/* A checkpoint of our head signed by another authority's key is refused,
 * though its text names us and its signature is valid. */
static void
test_checkpoint_other_signer(void **state)
{
	struct fx		*fx = *state;
	struct seal_keys	 k;
	struct cp_arg		 a;
	struct audit_result	 res;
	struct appends		 ap = { 0, 5, 0 };

	test_keys_for(&k, "KE-ODPP");
	memset(&a, 0, sizeof(a));
	a.k = &k;
	assert_int_equal(run(fx->s, init_apply, NULL), 0);
	assert_int_equal(run(fx->s, append_apply, &ap), 0);
	assert_int_equal(run(fx->s, cp_apply, &a), 0);
	free(a.der);
	assert_int_equal(audit_verify_store(fx->s, NULL, &res),
	    COMITY_ECORRUPT);
	assert_int_equal(res.bad_seq, a.seq + 1);
	assert_non_null(strstr(res.reason, "signed by KE-ODPP"));
	EVP_PKEY_free(k.key);
	X509_free(k.cert);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_append_verify),
		T(test_canonical_hash),
		T(test_init_idempotent),
		T(test_append_limits),
		T(test_tamper_detail),
		T(test_tamper_rehash),
		T(test_delete_middle),
		T(test_delete_first),
		T(test_swap),
		T(test_head_mismatch),
		T(test_truncate_tail),
		T(test_witness),
		T(test_time_regression),
		T(test_page_read),
		T(test_offline),
		T(test_100k),
		T(test_checkpoint_verify),
		T(test_checkpoint_other_signer),
		cmocka_unit_test(test_checkpoint_text),
		cmocka_unit_test(test_event_names),
	};

	log_init("test_audit", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
