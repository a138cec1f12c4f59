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

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit.h"
#include "bounds.h"
#include "comity.h"
#include "log.h"
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
		rc = audit_append(t, 1 + i % (AUDIT__MAX - 1),
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
		cmocka_unit_test(test_event_names),
	};

	log_init("test_audit", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
