/*
 * test_store.c - the LMDB store: locking, group commit with nested
 * transactions, done() ordering, cursors, counters, quarantine, map growth,
 * the deferred commit event and its gathering under load.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bounds.h"
#include "comity.h"
#include "log.h"
#include "store.h"

struct fx {
	char		 tmp[64];	/* mkdtemp parent */
	char		 dir[96];	/* the store directory, created by open */
	struct store	*s;
	struct event_base *base;	/* the store's, if a test set one */
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
			if (unlink(p) == -1)
				rm_tree(p);
		}
		closedir(d);
	}
	rmdir(path);
}

static int
setup(void **state)
{
	struct fx	*fx = calloc(1, sizeof(*fx));
	char		 err[256];

	if (fx == NULL)
		return -1;
	snprintf(fx->tmp, sizeof(fx->tmp), "/tmp/comity-store-XXXXXX");
	if (mkdtemp(fx->tmp) == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/store", fx->tmp);
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

	store_close(fx->s);	/* frees its event: before the base */
	if (fx->base != NULL)
		event_base_free(fx->base);
	rm_tree(fx->tmp);
	free(fx);
	return 0;
}

/* ---- operations used by the tests */

/*
 * STORE_GATHER_US, _OPS and _BYTES in store.c (private there): under
 * load, a commit of normal operations follows the last commit after 8 ms
 * at the earliest, unless BATCH_MAX_OPS are waiting; a commit that wrote
 * 1 MiB is no load.
 */
#define GATHER_US	8000
#define GATHER_OPS	BATCH_MAX_OPS
#define GATHER_BYTES	(1u << 20)
/* where the store and a test take "the commit's end" differs by little */
#define GATHER_SLACK_US	1000
#define GATHER_MIN_US	(GATHER_US - GATHER_SLACK_US)
#define WAIT_US		5000000	/* a bound on any wait; far above */

/* now_us - CLOCK_MONOTONIC, as the store measures the gathering delay */
static uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * loop_until_empty - run BASE until no event is left, within WAIT_US: the
 * store's last timer hands the heap back STORE_TRIM_MS (250 ms) at most
 * after a commit, and is not armed again.
 */
static void
loop_until_empty(struct event_base *base)
{
	uint64_t	end = now_us() + WAIT_US;
	int		r;

	while ((r = event_base_loop(base, EVLOOP_ONCE)) == 0)
		assert_true(now_us() < end);
	assert_int_equal(r, 1);
}

struct kv {
	enum store_db	 db;
	const char	*key;
	const void	*val;
	size_t		 vlen;
	int		 fail;		/* apply writes, then returns this */
	int		 rc;		/* done's rc, or 1 before done */
	int		*order;		/* done appends its index here */
	int		*norder;
	int		 index;
};

static int
put_apply(struct store_txn *t, void *arg)
{
	struct kv	*kv = arg;
	int		 rc;

	rc = store_put(t, kv->db, kv->key, strlen(kv->key), kv->val,
	    kv->vlen);
	if (rc != 0)
		return rc;
	return kv->fail;
}

static int
del_apply(struct store_txn *t, void *arg)
{
	struct kv *kv = arg;

	return store_del(t, kv->db, kv->key, strlen(kv->key));
}

static void
kv_done(void *arg, int rc)
{
	struct kv *kv = arg;

	kv->rc = rc;
	if (kv->order != NULL)
		kv->order[(*kv->norder)++] = kv->index;
}

static void
kv_init(struct kv *kv, enum store_db db, const char *key, const char *val)
{
	memset(kv, 0, sizeof(*kv));
	kv->db = db;
	kv->key = key;
	kv->val = val;
	kv->vlen = val != NULL ? strlen(val) : 0;
	kv->rc = 1;
}

/* get_str - the value of KEY as a string in buf, or NULL when absent */
static const char *
get_str(struct store *s, enum store_db db, const char *key, char *buf,
    size_t len)
{
	struct store_txn	*t;
	const void		*v;
	size_t			 vl;
	int			 rc;

	assert_int_equal(store_read_begin(s, &t), 0);
	rc = store_get(t, db, key, strlen(key), &v, &vl);
	if (rc == COMITY_ENOTFOUND) {
		store_read_end(t);
		return NULL;
	}
	assert_int_equal(rc, 0);
	assert_true(vl < len);
	memcpy(buf, v, vl);
	buf[vl] = '\0';
	store_read_end(t);
	return buf;
}

/* ---- tests */

static void
test_open_close(void **state)
{
	struct fx	*fx = *state;
	struct stat	 st;
	char		 p[160];

	assert_int_equal(stat(fx->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/lock", fx->dir);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/data.mdb", fx->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_true(store_map_size(fx->s) >= MAP_SIZE_MIN * 4);
	assert_int_equal(store_batch_pending(fx->s), 0);
	assert_int_equal(store_batch_flush(fx->s), 0);	/* nothing queued */
	store_close(NULL);
}

static void
test_second_open_refused(void **state)
{
	struct fx	*fx = *state;
	struct store	*s2 = NULL;
	char		 err[256] = "";
	char		 buf[32];
	struct kv	 kv;

	assert_int_equal(store_open(fx->dir, MAP_SIZE_MIN, &s2, err,
	    sizeof(err)), COMITY_EAGAIN);
	assert_null(s2);
	assert_non_null(strstr(err, "store in use"));

	/* after the holder closes, the store opens again with its data */
	kv_init(&kv, DB_META, "k", "v1");
	store_batch_add(fx->s, put_apply, kv_done, &kv);
	assert_int_equal(store_batch_flush(fx->s), 0);
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_open(fx->dir, MAP_SIZE_MIN, &fx->s, err,
	    sizeof(err)), 0);
	assert_non_null(get_str(fx->s, DB_META, "k", buf, sizeof(buf)));
	assert_string_equal(buf, "v1");

	/* a path that cannot be a directory */
	snprintf(buf, sizeof(buf), "%s", "/dev/null/x");
	assert_int_not_equal(store_open(buf, MAP_SIZE_MIN, &s2, err,
	    sizeof(err)), 0);
	assert_null(s2);
}

static void
test_put_get_del(void **state)
{
	struct fx	*fx = *state;
	struct kv	 a, b, d;
	char		 buf[32];

	kv_init(&a, DB_OUT, "alpha", "one");
	kv_init(&b, DB_IN, "alpha", "two");	/* same key, other DB */
	store_batch_add(fx->s, put_apply, kv_done, &a);
	store_batch_add(fx->s, put_apply, kv_done, &b);
	assert_int_equal(store_batch_pending(fx->s), 2);
	/* nothing is visible before the commit */
	assert_null(get_str(fx->s, DB_OUT, "alpha", buf, sizeof(buf)));
	assert_int_equal(a.rc, 1);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(store_batch_pending(fx->s), 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_string_equal(get_str(fx->s, DB_OUT, "alpha", buf, sizeof(buf)),
	    "one");
	assert_string_equal(get_str(fx->s, DB_IN, "alpha", buf, sizeof(buf)),
	    "two");

	/* overwrite, then delete */
	kv_init(&a, DB_OUT, "alpha", "uno");
	store_batch_add(fx->s, put_apply, kv_done, &a);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_string_equal(get_str(fx->s, DB_OUT, "alpha", buf, sizeof(buf)),
	    "uno");
	kv_init(&d, DB_OUT, "alpha", NULL);
	store_batch_add(fx->s, del_apply, kv_done, &d);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(d.rc, 0);
	assert_null(get_str(fx->s, DB_OUT, "alpha", buf, sizeof(buf)));
	assert_string_equal(get_str(fx->s, DB_IN, "alpha", buf, sizeof(buf)),
	    "two");
	/* deleting what is absent says so */
	kv_init(&d, DB_OUT, "alpha", NULL);
	store_batch_add(fx->s, del_apply, kv_done, &d);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(d.rc, COMITY_ENOTFOUND);

	/* an empty value is a value */
	kv_init(&a, DB_META, "empty", "");
	store_batch_add(fx->s, put_apply, NULL, &a);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_string_equal(get_str(fx->s, DB_META, "empty", buf,
	    sizeof(buf)), "");
}

static void
test_failing_op_alone(void **state)
{
	struct fx	*fx = *state;
	struct kv	 kv[5];
	const char	*keys[5] = { "k0", "k1", "k2", "k3", "k4" };
	int		 order[5], norder = 0;
	char		 buf[32];

	for (int i = 0; i < 5; i++) {
		kv_init(&kv[i], DB_OUT, keys[i], "val");
		kv[i].order = order;
		kv[i].norder = &norder;
		kv[i].index = i;
	}
	kv[1].fail = COMITY_ECONFLICT;	/* wrote, then failed */
	kv[3].fail = COMITY_ESTATE;
	for (int i = 0; i < 5; i++)
		store_batch_add(fx->s, put_apply, kv_done, &kv[i]);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(norder, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(order[i], i);	/* dones in queue order */
	assert_int_equal(kv[0].rc, 0);
	assert_int_equal(kv[1].rc, COMITY_ECONFLICT);
	assert_int_equal(kv[2].rc, 0);
	assert_int_equal(kv[3].rc, COMITY_ESTATE);
	assert_int_equal(kv[4].rc, 0);
	/* the failed operations' writes were rolled back, the others kept */
	assert_non_null(get_str(fx->s, DB_OUT, "k0", buf, sizeof(buf)));
	assert_null(get_str(fx->s, DB_OUT, "k1", buf, sizeof(buf)));
	assert_non_null(get_str(fx->s, DB_OUT, "k2", buf, sizeof(buf)));
	assert_null(get_str(fx->s, DB_OUT, "k3", buf, sizeof(buf)));
	assert_non_null(get_str(fx->s, DB_OUT, "k4", buf, sizeof(buf)));
}

/* a later op in the same batch sees an earlier op's write */
static int
check_sees_apply(struct store_txn *t, void *arg)
{
	const void	*v;
	size_t		 vl;
	int		 rc;

	(void)arg;
	if ((rc = store_get(t, DB_META, "first", 5, &v, &vl)) != 0)
		return rc;
	return vl == 1 && memcmp(v, "1", 1) == 0 ? 0 : COMITY_EINTERNAL;
}

static void
test_batch_sees_earlier_ops(void **state)
{
	struct fx	*fx = *state;
	struct kv	 a, c;

	kv_init(&a, DB_META, "first", "1");
	kv_init(&c, DB_META, "unused", NULL);
	store_batch_add(fx->s, put_apply, kv_done, &a);
	store_batch_add(fx->s, check_sees_apply, kv_done, &c);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(c.rc, 0);
}

static void
test_reopen(void **state)
{
	struct fx	*fx = *state;
	struct kv	 kv[3];
	char		 err[256], buf[32];
	uint64_t	 n;
	struct store_txn *t;

	kv_init(&kv[0], DB_OUTLOG, "a", "A");
	kv_init(&kv[1], DB_BLOB, "b", "B");
	kv_init(&kv[2], DB_AUDIT, "c", "C");
	for (int i = 0; i < 3; i++)
		store_batch_add(fx->s, put_apply, kv_done, &kv[i]);
	assert_int_equal(store_batch_flush(fx->s), 0);
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_open(fx->dir, MAP_SIZE_MIN, &fx->s, err,
	    sizeof(err)), 0);
	assert_string_equal(get_str(fx->s, DB_OUTLOG, "a", buf, sizeof(buf)),
	    "A");
	assert_string_equal(get_str(fx->s, DB_BLOB, "b", buf, sizeof(buf)),
	    "B");
	assert_string_equal(get_str(fx->s, DB_AUDIT, "c", buf, sizeof(buf)),
	    "C");
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_count(t, DB_OUTLOG, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_count(t, DB_OUT, &n), 0);
	assert_int_equal(n, 0);
	store_read_end(t);
}

struct keys {
	int	from, to, step;
};

static int
put_u64_apply(struct store_txn *t, void *arg)
{
	struct keys	*k = arg;
	unsigned char	 key[8], val[8];
	int		 rc;

	for (int i = k->from; i <= k->to; i += k->step) {
		store_u64be(key, (uint64_t)i);
		store_u64be(val, (uint64_t)i * 100);
		if ((rc = store_put(t, DB_INLOG, key, 8, val, 8)) != 0)
			return rc;
	}
	return 0;
}

static void
expect_kv(int rc, const void *k, size_t kl, const void *v, size_t vl,
    uint64_t want)
{
	assert_int_equal(rc, 0);
	assert_int_equal(kl, 8);
	assert_int_equal(vl, 8);
	assert_true(store_get_u64be(k) == want);
	assert_true(store_get_u64be(v) == want * 100);
}

/* the call first: argument evaluation order is unspecified */
#define EXPECT(call, want) do {					\
	int rc_ = (call);					\
	expect_kv(rc_, k, kl, v, vl, (want));			\
} while (0)

static void
test_cursors(void **state)
{
	struct fx		*fx = *state;
	struct keys		 ks = { 2, 20, 2 };
	struct store_txn	*t;
	struct store_cursor	*c;
	unsigned char		 key[8];
	const void		*k, *v;
	size_t			 kl, vl;
	uint64_t		 n;
	int			 i;

	store_batch_add(fx->s, put_u64_apply, NULL, &ks);
	assert_int_equal(store_batch_flush(fx->s), 0);

	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_count(t, DB_INLOG, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(store_cursor_open(t, DB_INLOG, &c), 0);
	/* first */
	EXPECT(store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl), 2);
	/* seek between keys lands on the next one */
	store_u64be(key, 5);
	EXPECT(store_cursor_seek(c, key, 8, &k, &kl, &v, &vl), 6);
	EXPECT(store_cursor_next(c, &k, &kl, &v, &vl), 8);
	/* exact */
	store_u64be(key, 10);
	EXPECT(store_cursor_seek(c, key, 8, &k, &kl, &v, &vl), 10);
	/* walk to the end */
	for (i = 12; i <= 20; i += 2)
		EXPECT(store_cursor_next(c, &k, &kl, &v, &vl), (uint64_t)i);
	assert_int_equal(store_cursor_next(c, &k, &kl, &v, &vl),
	    COMITY_ENOTFOUND);
	/* last, prev */
	EXPECT(store_cursor_last(c, &k, &kl, &v, &vl), 20);
	EXPECT(store_cursor_prev(c, &k, &kl, &v, &vl), 18);
	/* walk back to the start */
	for (i = 16; i >= 2; i -= 2)
		EXPECT(store_cursor_prev(c, &k, &kl, &v, &vl), (uint64_t)i);
	assert_int_equal(store_cursor_prev(c, &k, &kl, &v, &vl),
	    COMITY_ENOTFOUND);
	/* beyond the last key */
	store_u64be(key, 21);
	assert_int_equal(store_cursor_seek(c, key, 8, &k, &kl, &v, &vl),
	    COMITY_ENOTFOUND);
	store_cursor_close(c);

	/* an empty database */
	assert_int_equal(store_cursor_open(t, DB_CTLQ, &c), 0);
	assert_int_equal(store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl),
	    COMITY_ENOTFOUND);
	assert_int_equal(store_cursor_last(c, &k, &kl, &v, &vl),
	    COMITY_ENOTFOUND);
	store_cursor_close(c);
	store_cursor_close(NULL);
	store_read_end(t);
}

struct seqs {
	const char	*name;
	uint64_t	 got[3];
};

static int
seq_apply(struct store_txn *t, void *arg)
{
	struct seqs	*sq = arg;
	int		 rc;

	for (int i = 0; i < 3; i++)
		if ((rc = store_next_seq(t, sq->name, &sq->got[i])) != 0)
			return rc;
	return 0;
}

static void
test_next_seq(void **state)
{
	struct fx		*fx = *state;
	struct seqs		 a = { "outq", { 0 } }, b = { "ctlq", { 0 } };
	struct store_txn	*t;
	const void		*v;
	size_t			 vl;

	store_batch_add(fx->s, seq_apply, NULL, &a);
	store_batch_add(fx->s, seq_apply, NULL, &b);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_true(a.got[0] == 1 && a.got[1] == 2 && a.got[2] == 3);
	assert_true(b.got[0] == 1 && b.got[1] == 2 && b.got[2] == 3);
	store_batch_add(fx->s, seq_apply, NULL, &a);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_true(a.got[0] == 4 && a.got[2] == 6);

	/* stored as u64be under the name */
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_get(t, DB_META, "outq", 4, &v, &vl), 0);
	assert_int_equal(vl, 8);
	assert_memory_equal(v, "\0\0\0\0\0\0\0\6", 8);
	/* a read txn cannot write */
	assert_int_not_equal(store_put(t, DB_META, "x", 1, "y", 1), 0);
	store_read_end(t);
}

static int
quarantine_apply(struct store_txn *t, void *arg)
{
	return store_quarantine(t, DB_OUT, "bad", 3);
}

static void
test_quarantine(void **state)
{
	struct fx		*fx = *state;
	struct kv		 kv, q;
	struct store_txn	*t;
	const void		*v;
	size_t			 vl;
	unsigned char		 qkey[4] = { DB_OUT, 'b', 'a', 'd' };
	char			 buf[32];

	kv_init(&kv, DB_OUT, "bad", "\x01garbage");
	store_batch_add(fx->s, put_apply, kv_done, &kv);
	assert_int_equal(store_batch_flush(fx->s), 0);
	kv_init(&q, DB_OUT, "bad", NULL);
	store_batch_add(fx->s, quarantine_apply, kv_done, &q);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(q.rc, 0);
	assert_null(get_str(fx->s, DB_OUT, "bad", buf, sizeof(buf)));
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_get(t, DB_CORRUPT, qkey, 4, &v, &vl), 0);
	assert_int_equal(vl, 8);
	assert_memory_equal(v, "\x01garbage", 8);
	store_read_end(t);
	/* quarantining what is absent fails and changes nothing */
	kv_init(&q, DB_OUT, "bad", NULL);
	store_batch_add(fx->s, quarantine_apply, kv_done, &q);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(q.rc, COMITY_ENOTFOUND);
}

struct big {
	int		 index;
	size_t		 size;
	int		 rc;
};

static int
big_apply(struct store_txn *t, void *arg)
{
	struct big	*b = arg;
	unsigned char	*val, key[8];
	int		 rc;

	if ((val = malloc(b->size)) == NULL)
		return COMITY_ENOMEM;
	memset(val, b->index & 0xff, b->size);
	store_u64be(key, (uint64_t)b->index);
	rc = store_put(t, DB_BLOB, key, 8, val, b->size);
	free(val);
	return rc;
}

static void
big_done(void *arg, int rc)
{
	((struct big *)arg)->rc = rc;
}

static int	grown_lines;

static void
count_grown(int level, const char *line)
{
	(void)level;
	if (strstr(line, "map grown") != NULL)
		grown_lines++;
}

static void
test_map_full_grows(void **state)
{
	struct fx		*fx = *state;
	struct big		 b[256];
	struct store_txn	*t;
	const unsigned char	*v;
	unsigned char		 key[8];
	size_t			 vl;
	uint64_t		 n;
	char			 err[256];

	/* reopen a fresh directory at the smallest map */
	store_close(fx->s);
	fx->s = NULL;
	snprintf(fx->dir, sizeof(fx->dir), "%s/small", fx->tmp);
	assert_int_equal(store_open(fx->dir, MAP_SIZE_MIN, &fx->s, err,
	    sizeof(err)), 0);
	assert_true(store_map_size(fx->s) == MAP_SIZE_MIN);

	grown_lines = 0;
	log_set_hook(count_grown);
	/* 256 x 16 KiB = 4 MiB, in batches of 16 (256 KiB each) */
	for (int i = 0; i < 256; i++) {
		b[i].index = i;
		b[i].size = 16384;
		b[i].rc = 1;
		store_batch_add(fx->s, big_apply, big_done, &b[i]);
		if (i % 16 == 15)
			assert_int_equal(store_batch_flush(fx->s), 0);
	}
	log_set_hook(NULL);
	for (int i = 0; i < 256; i++)
		assert_int_equal(b[i].rc, 0);
	assert_true(store_map_size(fx->s) >= 4 * MAP_SIZE_MIN);
	assert_true(grown_lines >= 2);

	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_count(t, DB_BLOB, &n), 0);
	assert_int_equal(n, 256);
	for (int i = 0; i < 256; i += 51) {
		store_u64be(key, (uint64_t)i);
		assert_int_equal(store_get(t, DB_BLOB, key, 8,
		    (const void **)&v, &vl), 0);
		assert_int_equal(vl, 16384);
		assert_int_equal(v[0], i & 0xff);
		assert_int_equal(v[vl - 1], i & 0xff);
	}
	store_read_end(t);

	/* a single batch bigger than twice the map cannot fit: refused */
	{
		uint64_t	 before = store_map_size(fx->s);
		struct big	 huge = { 1000, 0, 1 };

		huge.size = (size_t)before * 3;
		store_batch_add(fx->s, big_apply, big_done, &huge);
		assert_int_equal(store_batch_flush(fx->s), COMITY_ESTOREFULL);
		assert_int_equal(huge.rc, COMITY_ESTOREFULL);
		/* the earlier data is intact and writes work again */
		b[0].rc = 1;
		b[0].index = 2000;
		store_batch_add(fx->s, big_apply, big_done, &b[0]);
		assert_int_equal(store_batch_flush(fx->s), 0);
		assert_int_equal(b[0].rc, 0);
	}
}

/*
 * A commit whose write fails (RLIMIT_FSIZE: a short write, which LMDB
 * reports as EIO, or EFBIG) is never reported as a success: the process
 * exits 75, or the operation gets COMITY_ESTOREFULL.  Runs in a child
 * process, which opens the store itself (an LMDB env must not cross a
 * fork).  The committed data is intact afterwards.
 */
static void
commit_fail_child(const char *dir)
{
	struct store	*s;
	struct rlimit	 rl;
	struct stat	 st;
	struct big	 b = { 7, 1u << 20, 1 };
	char		 err[256], p[160];

	if (store_open(dir, MAP_SIZE_MIN * 4, &s, err, sizeof(err)) != 0)
		_exit(2);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	if (stat(p, &st) == -1)
		_exit(2);
	signal(SIGXFSZ, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = (rlim_t)st.st_size + 8192;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		_exit(2);
	store_batch_add(s, big_apply, big_done, &b);
	store_batch_flush(s);
	if (b.rc == COMITY_ESTOREFULL)
		_exit(4);
	_exit(b.rc == 0 ? 0 : 3);
}

static void
test_commit_failure(void **state)
{
	struct fx	*fx = *state;
	struct kv	 kv;
	char		 err[256], buf[32];
	unsigned char	 key[8];
	const void	*v;
	size_t		 vl;
	struct store_txn *t;
	pid_t		 pid;
	int		 status;

	kv_init(&kv, DB_META, "before", "kept");
	store_batch_add(fx->s, put_apply, kv_done, &kv);
	assert_int_equal(store_batch_flush(fx->s), 0);
	store_close(fx->s);
	fx->s = NULL;

	fflush(NULL);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		commit_fail_child(fx->dir);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_true(WEXITSTATUS(status) == STORE_EXIT_FATAL ||
	    WEXITSTATUS(status) == 4);

	assert_int_equal(store_open(fx->dir, MAP_SIZE_MIN * 4, &fx->s, err,
	    sizeof(err)), 0);
	assert_string_equal(get_str(fx->s, DB_META, "before", buf,
	    sizeof(buf)), "kept");
	store_u64be(key, 7);
	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_get(t, DB_BLOB, key, 8, &v, &vl),
	    COMITY_ENOTFOUND);
	store_read_end(t);
	/* and the store takes writes again */
	kv_init(&kv, DB_META, "after", "ok");
	store_batch_add(fx->s, put_apply, kv_done, &kv);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(kv.rc, 0);
}

/* done() queues another operation: it waits for the next batch */
struct chain {
	struct store	*s;
	struct kv	 second;
	int		 first_rc;
};

static void
chain_done(void *arg, int rc)
{
	struct chain *c = arg;

	c->first_rc = rc;
	store_batch_add(c->s, put_apply, kv_done, &c->second);
}

static int
noop_apply(struct store_txn *t, void *arg)
{
	(void)t;
	(void)arg;
	return 0;
}

static void
test_done_adds_op(void **state)
{
	struct fx	*fx = *state;
	struct chain	 c;
	char		 buf[32];

	memset(&c, 0, sizeof(c));
	c.s = fx->s;
	c.first_rc = 1;
	kv_init(&c.second, DB_META, "second", "2");
	store_batch_add(fx->s, noop_apply, chain_done, &c);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(c.first_rc, 0);
	/* queued, not committed */
	assert_int_equal(store_batch_pending(fx->s), 1);
	assert_int_equal(c.second.rc, 1);
	assert_null(get_str(fx->s, DB_META, "second", buf, sizeof(buf)));
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(store_batch_pending(fx->s), 0);
	assert_int_equal(c.second.rc, 0);
	assert_string_equal(get_str(fx->s, DB_META, "second", buf,
	    sizeof(buf)), "2");
}

/* the deferred commit event: one txn per BATCH_MAX_OPS operations */
struct counted {
	int	*dones;
	int	 seen_at_apply;		/* dones already run when applied */
	int	 rc;
};

static int
counted_apply(struct store_txn *t, void *arg)
{
	struct counted *c = arg;

	(void)t;
	c->seen_at_apply = *c->dones;
	return 0;
}

static void
counted_done(void *arg, int rc)
{
	struct counted *c = arg;

	c->rc = rc;
	(*c->dones)++;
}

static void
test_event_base(void **state)
{
	struct fx		*fx = *state;
	struct event_base	*base;
	struct counted		*ops;
	uint64_t		 t0, end;
	int			 n = BATCH_MAX_OPS + 10, dones = 0;

	base = event_base_new();
	assert_non_null(base);
	assert_int_equal(event_base_priority_init(base, 2), 0);
	store_set_event_base(fx->s, base);
	ops = calloc((size_t)n, sizeof(*ops));
	assert_non_null(ops);
	for (int i = 0; i < n; i++) {
		ops[i].dones = &dones;
		ops[i].rc = 1;
		store_batch_add(fx->s, counted_apply, counted_done, &ops[i]);
	}
	assert_int_equal(dones, 0);
	/* the first pass commits one capped batch, a later one the rest */
	t0 = now_us();
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
	    0);
	assert_int_equal(dones, BATCH_MAX_OPS);
	assert_int_equal(store_batch_pending(fx->s), 10);
	/*
	 * The rest waits: not for this pass, and (that commit carried
	 * many: under load) not before GATHER_US after the first ended,
	 * which was after T0.
	 */
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
	    0);
	if (now_us() - t0 < GATHER_US)
		assert_int_equal(dones, BATCH_MAX_OPS);
	end = now_us() + WAIT_US;
	while (dones < n) {
		assert_true(now_us() < end);
		assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	}
	assert_int_equal(dones, n);
	assert_int_equal(store_batch_pending(fx->s), 0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(ops[i].rc, 0);
		/* a second transaction started after the first's dones */
		assert_int_equal(ops[i].seen_at_apply,
		    i < BATCH_MAX_OPS ? 0 : BATCH_MAX_OPS);
	}
	/* nothing queued: the loop has nothing left to do but hand the
	 * heap back, once */
	loop_until_empty(base);
	assert_int_equal(dones, n);
	assert_int_equal(store_batch_pending(fx->s), 0);
	store_set_event_base(fx->s, NULL);
	event_base_free(base);
	free(ops);
}

/* ---- gathering under load, on an event base */

struct gop {
	char		 key[16];	/* written by apply */
	size_t		 vlen;		/* 0: "g" in META, else 0s in BLOB */
	struct store	*s;
	const char	*peek;		/* a key done() looks up */
	int		 peeked;	/* it was visible at done() */
	int		 rc;		/* done's rc, or 1 before done */
	int		 dones;
	int		 seq;		/* the order of the dones */
	uint64_t	 at;		/* when done() ran */
};

static int	gdones;		/* done() calls of gops in this test */

static int
gop_apply(struct store_txn *t, void *arg)
{
	struct gop	*g = arg;
	char		*v;
	int		 rc;

	if (g->vlen == 0)
		return store_put(t, DB_META, g->key, strlen(g->key), "g", 1);
	if ((v = calloc(1, g->vlen)) == NULL)
		return COMITY_ENOMEM;
	rc = store_put(t, DB_BLOB, g->key, strlen(g->key), v, g->vlen);
	free(v);
	return rc;
}

static void
gop_done(void *arg, int rc)
{
	struct gop	*g = arg;
	char		 buf[8];

	g->at = now_us();
	g->rc = rc;
	g->dones++;
	g->seq = gdones++;
	if (g->peek != NULL)
		g->peeked = get_str(g->s, DB_META, g->peek, buf,
		    sizeof(buf)) != NULL;
}

static void
gops_init(struct fx *fx, struct gop *g, int n, const char *prefix)
{
	memset(g, 0, (size_t)n * sizeof(*g));
	for (int i = 0; i < n; i++) {
		snprintf(g[i].key, sizeof(g[i].key), "%s%d", prefix, i);
		g[i].s = fx->s;
		g[i].rc = 1;
	}
}

/* gather_setup - commit from the loop of a fresh base, as comityd does */
static struct event_base *
gather_setup(struct fx *fx)
{
	assert_null(fx->base);
	fx->base = event_base_new();
	assert_non_null(fx->base);
	assert_int_equal(event_base_priority_init(fx->base, 2), 0);
	store_set_event_base(fx->s, fx->base);
	gdones = 0;
	return fx->base;
}

/* committed - G's done ran once, with success, and its put is there */
static void
committed(struct fx *fx, const struct gop *g)
{
	char	buf[8];

	assert_int_equal(g->dones, 1);
	assert_int_equal(g->rc, 0);
	assert_non_null(get_str(fx->s, DB_META, g->key, buf, sizeof(buf)));
}

/* pass - one pass of the loop that does not wait for anything */
static void
pass(struct event_base *base)
{
	assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
}

/*
 * run_until - run the loop until WANT gop dones ran; fails after WAIT_US,
 * or at once when nothing is scheduled (a queued op no event will commit)
 */
static void
run_until(struct event_base *base, int want)
{
	uint64_t	end = now_us() + WAIT_US;

	while (gdones < want) {
		if (now_us() > end)
			fail_msg("%d of %d dones after %d us", gdones, want,
			    WAIT_US);
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			fail_msg("%d of %d dones, and nothing scheduled",
			    gdones, want);
	}
}

/*
 * load - two normal ops committed together from the loop: the store is
 * under load.  Returns when the second one's done ran: the commit ended
 * (for the store's clock) after that.
 */
static uint64_t
load(struct fx *fx, struct gop *g)
{
	store_batch_add(fx->s, gop_apply, gop_done, &g[0]);
	store_batch_add(fx->s, gop_apply, gop_done, &g[1]);
	pass(fx->base);
	assert_int_equal(g[0].dones, 1);
	assert_int_equal(g[1].dones, 1);
	assert_int_equal(g[0].rc, 0);
	assert_int_equal(g[1].rc, 0);
	return g[1].at;
}

/*
 * gathering - after a pass, G (queued after a commit that ended about
 * SINCE) is still queued.  Certain only while the gathering delay has not
 * passed since SINCE by the end of the pass; else (a stalled machine)
 * nothing is said.
 */
static void
gathering(struct fx *fx, const struct gop *g, uint64_t since)
{
	pass(fx->base);
	if (now_us() - since < GATHER_MIN_US) {
		assert_int_equal(g->dones, 0);
		assert_true(store_batch_pending(fx->s) > 0);
	} else
		print_message("(slow: %s may have waited, not checked)\n",
		    g->key);
}

/* idle (the last commit carried one op, or none yet): no wait */
static void
test_gather_idle(void **state)
{
	struct fx		*fx = *state;
	struct event_base	*base = gather_setup(fx);
	struct gop		 g[3];

	gops_init(fx, g, 3, "idle");
	for (int i = 0; i < 3; i++) {
		store_batch_add(fx->s, gop_apply, gop_done, &g[i]);
		pass(base);
		/* committed in the first pass: no timer was involved */
		committed(fx, &g[i]);
		assert_int_equal(store_batch_pending(fx->s), 0);
	}
	/* nothing left for the loop but the heap's release, once */
	loop_until_empty(base);
	for (int i = 0; i < 3; i++)
		assert_int_equal(g[i].dones, 1);
}

/*
 * Commits in quick succession: the heap is handed back at once after the
 * first, then left alone (buffers reused) until a timer does it once
 * more, STORE_TRIM_MS after that; the timer is not armed again.
 */
static void
test_heap_release(void **state)
{
	struct fx		*fx = *state;
	struct event_base	*base = gather_setup(fx);
	struct gop		 g[2];
	uint64_t		 t0, t1, t2, t3, waited;

	gops_init(fx, g, 2, "heap");
	t0 = now_us();
	store_batch_add(fx->s, gop_apply, gop_done, &g[0]);
	pass(base);
	t1 = now_us();
	assert_int_equal(g[0].dones, 1);
	/* the first release handed the heap back: nothing is armed */
	assert_int_equal(event_base_get_num_events(base,
	    EVENT_BASE_COUNT_ADDED), 0);
	/* past the map's release interval (5 ms), within the heap's */
	usleep(20000);
	t2 = now_us();
	store_batch_add(fx->s, gop_apply, gop_done, &g[1]);
	pass(base);
	t3 = now_us();
	assert_int_equal(g[1].dones, 1);
	if (t3 - t1 >= 200000) {
		/* a slow machine: the heap may have been handed back at once */
		print_message("(slow: %llu us between the commits, the timer "
		    "not checked)\n", (unsigned long long)(t3 - t1));
		loop_until_empty(base);
		return;
	}
	assert_int_equal(event_base_get_num_events(base,
	    EVENT_BASE_COUNT_ADDED), 1);
	loop_until_empty(base);
	waited = now_us() - t0;
	/*
	 * 250 ms after the first release, which came after T0; libevent
	 * counts the timer from the time it cached before the second pass,
	 * so it fires early by that pass's length at most (and the clocks
	 * are coarse: a tick or two)
	 */
	assert_true(waited + (t3 - t2) + 20000 >= 250000);
	assert_true(waited < 2000000);
	assert_int_equal(store_batch_pending(fx->s), 0);
}

/*
 * Under load (the last commit carried two), one more op waits GATHER_US
 * from that commit's end; it then commits alone, and after that one-op
 * commit the store is idle again.
 */
static void
test_gather_load(void **state)
{
	struct fx		*fx = *state;
	struct event_base	*base = gather_setup(fx);
	struct gop		 g[4];
	uint64_t		 since;

	gops_init(fx, g, 4, "load");
	since = load(fx, g);
	store_batch_add(fx->s, gop_apply, gop_done, &g[2]);
	assert_int_equal(store_batch_pending(fx->s), 1);
	gathering(fx, &g[2], since);
	run_until(base, 3);
	committed(fx, &g[2]);
	if (g[2].at - since < GATHER_MIN_US)
		fail_msg("committed %llu us after the last commit, not %d",
		    (unsigned long long)(g[2].at - since), GATHER_US);
	/* and not much later (a bound only a stalled machine reaches) */
	assert_true(g[2].at - since < 1000000);

	/* that commit carried one op: idle, the next one does not wait */
	store_batch_add(fx->s, gop_apply, gop_done, &g[3]);
	pass(base);
	assert_int_equal(g[3].dones, 1);
	assert_int_equal(g[3].rc, 0);
}

/*
 * An urgent op never waits: it commits in the next pass, alone, while a
 * normal op gathers; the normal one commits after it, still GATHER_US
 * after the last normal commit at the earliest.
 */
static void
test_gather_urgent(void **state)
{
	struct fx		*fx = *state;
	struct event_base	*base = gather_setup(fx);
	struct gop		 g[4];
	uint64_t		 since;

	gops_init(fx, g, 4, "urg");
	since = load(fx, g);
	store_batch_add(fx->s, gop_apply, gop_done, &g[2]);
	gathering(fx, &g[2], since);
	g[3].peek = g[2].key;
	store_batch_add_urgent(fx->s, gop_apply, gop_done, &g[3]);
	pass(base);
	assert_int_equal(g[3].dones, 1);
	assert_int_equal(g[3].rc, 0);
	assert_int_equal(g[3].peeked, 0);	/* g[2] not in its commit */
	/* the normal one still gathers */
	if (now_us() - since < GATHER_MIN_US)
		assert_int_equal(g[2].dones, 0);
	run_until(base, 4);
	committed(fx, &g[2]);
	assert_true(g[2].seq > g[3].seq);
	assert_true(g[2].at - since >= GATHER_MIN_US);
}

/* GATHER_OPS waiting do not wait any longer; one fewer do */
static void
test_gather_full(void **state)
{
	struct fx		*fx = *state;
	struct event_base	*base = gather_setup(fx);
	struct gop		*g;
	uint64_t		 since;
	char			 buf[8];
	int			 n = 2 + GATHER_OPS;

	g = calloc((size_t)n, sizeof(*g));
	assert_non_null(g);
	gops_init(fx, g, n, "full");
	since = load(fx, g);
	for (int i = 2; i < n - 1; i++)
		store_batch_add(fx->s, gop_apply, gop_done, &g[i]);
	gathering(fx, &g[2], since);
	if (now_us() - since < GATHER_MIN_US)
		assert_int_equal(gdones, 2);
	/* the last one makes GATHER_OPS: no timer, the next pass or two */
	store_batch_add(fx->s, gop_apply, gop_done, &g[n - 1]);
	for (int i = 0; i < 2 && gdones < n; i++)
		pass(base);
	assert_int_equal(gdones, n);
	assert_int_equal(store_batch_pending(fx->s), 0);
	for (int i = 2; i < n; i++) {
		assert_int_equal(g[i].dones, 1);
		assert_int_equal(g[i].rc, 0);
	}
	assert_non_null(get_str(fx->s, DB_META, g[n - 1].key, buf,
	    sizeof(buf)));
	free(g);
}

/* a commit that wrote GATHER_BYTES (documents) is no load: no wait after */
static void
test_gather_large(void **state)
{
	struct fx		*fx = *state;
	struct event_base	*base = gather_setup(fx);
	struct gop		 g[3];

	gops_init(fx, g, 3, "large");
	g[0].vlen = g[1].vlen = GATHER_BYTES / 2 + 4096;
	load(fx, g);
	store_batch_add(fx->s, gop_apply, gop_done, &g[2]);
	pass(base);
	committed(fx, &g[2]);
}

/* store_batch_flush() does not gather: the waiting op commits at once */
static void
test_gather_flush(void **state)
{
	struct fx		*fx = *state;
	struct event_base	*base = gather_setup(fx);
	struct gop		 g[3];
	uint64_t		 since;

	gops_init(fx, g, 3, "flush");
	since = load(fx, g);
	store_batch_add(fx->s, gop_apply, gop_done, &g[2]);
	gathering(fx, &g[2], since);
	assert_int_equal(store_batch_flush(fx->s), 0);
	committed(fx, &g[2]);
	assert_int_equal(store_batch_pending(fx->s), 0);
	/* the gathering timer, if still armed, fires on an empty queue and
	 * leaves nothing behind (the loop then has no event: 1) */
	for (int i = 0; event_base_loop(base, EVLOOP_ONCE) == 0; i++)
		assert_true(i < 3);
	assert_int_equal(g[2].dones, 1);
	assert_int_equal(gdones, 3);
}

static void
test_read_txns(void **state)
{
	struct fx		*fx = *state;
	struct store_txn	*t1, *t2;
	struct kv		 kv;
	const void		*v;
	size_t			 vl;

	kv_init(&kv, DB_IDEM, "key", "v");
	store_batch_add(fx->s, put_apply, kv_done, &kv);
	assert_int_equal(store_batch_flush(fx->s), 0);
	/* two at once, and a renewed one sees later commits */
	assert_int_equal(store_read_begin(fx->s, &t1), 0);
	assert_int_equal(store_read_begin(fx->s, &t2), 0);
	assert_int_equal(store_get(t1, DB_IDEM, "key", 3, &v, &vl), 0);
	assert_int_equal(store_get(t2, DB_IDEM, "key", 3, &v, &vl), 0);
	store_read_end(t2);
	store_read_end(t1);
	kv_init(&kv, DB_IDEM, "key", "w");
	store_batch_add(fx->s, put_apply, kv_done, &kv);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(store_read_begin(fx->s, &t1), 0);
	assert_int_equal(store_get(t1, DB_IDEM, "key", 3, &v, &vl), 0);
	assert_int_equal(vl, 1);
	assert_memory_equal(v, "w", 1);
	/* bad arguments */
	assert_int_equal(store_get(t1, DB__COUNT, "key", 3, &v, &vl),
	    COMITY_EINVAL);
	assert_int_equal(store_get(t1, DB_IDEM, "key", 0, &v, &vl),
	    COMITY_EINVAL);
	store_read_end(t1);
	store_read_end(NULL);
}

static struct store	*alone_store;
static int		 alone_seen = -1;	/* k0 visible at urgent done */

static void
alone_done(void *arg, int rc)
{
	char	buf[8];

	kv_done(arg, rc);
	if (alone_seen == -1)
		alone_seen = get_str(alone_store, DB_META, "k0", buf,
		    sizeof(buf)) != NULL;
}

/*
 * Urgent operations commit before the others, in their own order, and
 * alone (a small commit, at once); the others keep their order.  One
 * flush commits all.
 */
static void
test_urgent_first(void **state)
{
	struct fx	*fx = *state;
	struct kv	 kv[6];
	int		 order[6], norder = 0, i;
	const int	 urgent[6] = { 0, 1, 0, 1, 0, 1 };
	const int	 want[6] = { 1, 3, 5, 0, 2, 4 };
	char		 keys[6][8];

	for (i = 0; i < 6; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		kv_init(&kv[i], DB_META, keys[i], "v");
		kv[i].order = order;
		kv[i].norder = &norder;
		kv[i].index = i;
		if (urgent[i])
			store_batch_add_urgent(fx->s, put_apply, alone_done,
			    &kv[i]);
		else
			store_batch_add(fx->s, put_apply, kv_done, &kv[i]);
	}
	assert_int_equal(store_batch_pending(fx->s), 6);
	alone_store = fx->s;
	alone_seen = -1;
	assert_int_equal(store_batch_flush(fx->s), 0);
	/* the normal k0 was not in the urgent ones' commit */
	assert_int_equal(alone_seen, 0);
	assert_int_equal(store_batch_pending(fx->s), 0);
	assert_int_equal(norder, 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(order[i], want[i]);
		assert_int_equal(kv[i].rc, 0);
	}
}

/* vm_rss_kib - this process's VmRSS */
static long
vm_rss_kib(void)
{
	FILE	*f = fopen("/proc/self/status", "r");
	char	 line[256];
	long	 kib = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int
count_apply(struct store_txn *t, void *arg)
{
	int64_t	*delta = arg;

	return store_add_count(t, "n", *delta);
}

/*
 * store_forget drops a large value's pages from the resident set and
 * nothing else: the value reads back the same, and memory outside the
 * map (a copy on the heap) is never touched.
 */
static void
test_forget(void **state)
{
	struct fx		*fx = *state;
	struct store_txn	*t;
	struct kv		 a;
	const void		*v;
	size_t			 vl, i, len = 4u << 20;
	char			*big, *copy;
	long			 before, after;

	big = malloc(len);
	assert_non_null(big);
	for (i = 0; i < len; i++)
		big[i] = (char)(i * 7 + (i >> 12));
	kv_init(&a, DB_BLOB, "big", NULL);
	a.val = big;
	a.vlen = len;
	store_batch_add(fx->s, put_apply, kv_done, &a);
	assert_int_equal(store_batch_flush(fx->s), 0);
	assert_int_equal(a.rc, 0);

	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_get(t, DB_BLOB, "big", 3, &v, &vl), 0);
	assert_int_equal(vl, len);
	assert_memory_equal(v, big, len);	/* every page mapped */
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, v, len);
	before = vm_rss_kib();
	store_forget(fx->s, v, vl);
	after = vm_rss_kib();
	/* most of the 4 MiB left the resident set */
	assert_true(before - after > 3 * 1024);
	assert_memory_equal(v, big, len);	/* and reads back the same */
	/* outside the map: a no-op (DONTNEED would zero a heap copy) */
	store_forget(fx->s, copy, len);
	assert_memory_equal(copy, big, len);
	store_read_end(t);
	free(copy);
	free(big);
}

/*
 * store_release drops the pages a long read touched, whichever values
 * they hold, in the middle of its transaction: every value already
 * returned reads back the same afterwards.
 */
static void
test_release(void **state)
{
	struct fx		*fx = *state;
	struct store_txn	*t;
	struct kv		 a[4];
	const void		*v[4];
	size_t			 vl, i, j, len = 1u << 20;
	char			*big[4], key[4][3];
	long			 before, after;

	for (j = 0; j < 4; j++) {
		big[j] = malloc(len);
		assert_non_null(big[j]);
		for (i = 0; i < len; i++)
			big[j][i] = (char)(i * 7 + (i >> 12) + j);
		snprintf(key[j], sizeof(key[j]), "b%zu", j);
		kv_init(&a[j], DB_BLOB, key[j], NULL);
		a[j].val = big[j];
		a[j].vlen = len;
		store_batch_add(fx->s, put_apply, kv_done, &a[j]);
	}
	assert_int_equal(store_batch_flush(fx->s), 0);
	for (j = 0; j < 4; j++)
		assert_int_equal(a[j].rc, 0);

	assert_int_equal(store_read_begin(fx->s, &t), 0);
	for (j = 0; j < 4; j++) {
		assert_int_equal(store_get(t, DB_BLOB, key[j], 2, &v[j], &vl),
		    0);
		assert_int_equal(vl, len);
		assert_memory_equal(v[j], big[j], len);	/* mapped */
	}
	before = vm_rss_kib();
	store_release(fx->s);
	after = vm_rss_kib();
	/* most of the 4 MiB left the resident set */
	assert_true(before - after > 3 * 1024);
	for (j = 0; j < 4; j++)
		assert_memory_equal(v[j], big[j], len);	/* read back */
	store_read_end(t);
	for (j = 0; j < 4; j++)
		free(big[j]);
}

/* counters: absent is 0, they add, and never go below 0 */
static void
test_counts(void **state)
{
	struct fx		*fx = *state;
	struct store_txn	*t;
	uint64_t		 n = 99;
	int64_t			 d[] = { 5, -2, -10, 4 };
	uint64_t		 want[] = { 5, 3, 0, 4 };
	size_t			 i;

	assert_int_equal(store_read_begin(fx->s, &t), 0);
	assert_int_equal(store_get_count(t, "n", &n), 0);
	assert_true(n == 0);
	store_read_end(t);
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		store_batch_add(fx->s, count_apply, NULL, &d[i]);
		assert_int_equal(store_batch_flush(fx->s), 0);
		assert_int_equal(store_read_begin(fx->s, &t), 0);
		assert_int_equal(store_get_count(t, "n", &n), 0);
		assert_true(n == want[i]);
		store_read_end(t);
	}
}

static void
test_u64be(void **state)
{
	unsigned char b[8];

	(void)state;
	store_u64be(b, 0x0102030405060708ull);
	assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_true(store_get_u64be(b) == 0x0102030405060708ull);
	store_u64be(b, UINT64_MAX);
	assert_true(store_get_u64be(b) == UINT64_MAX);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_close),
		T(test_second_open_refused),
		T(test_put_get_del),
		T(test_failing_op_alone),
		T(test_batch_sees_earlier_ops),
		T(test_reopen),
		T(test_cursors),
		T(test_next_seq),
		T(test_quarantine),
		T(test_map_full_grows),
		T(test_commit_failure),
		T(test_done_adds_op),
		T(test_event_base),
		T(test_gather_idle),
		T(test_heap_release),
		T(test_release),
		T(test_gather_load),
		T(test_gather_urgent),
		T(test_gather_full),
		T(test_gather_flush),
		T(test_gather_large),
		T(test_read_txns),
		T(test_forget),
		T(test_urgent_first),
		T(test_counts),
		cmocka_unit_test(test_u64be),
	};

	log_init("test_store", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
