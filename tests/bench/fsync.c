/*
 * fsync.c - the fsync scenario: the machine reference figure fsync_ms of
 * shared/TARGETS.md, the latency of one durable LMDB commit holding one
 * put, on the disk of the daemons' stores (the run's directory lives in
 * the same temporary directory as theirs).
 *
 * The environment is opened with LMDB's default flags, so every commit
 * is synced as comityd's are.  COUNT commits, each a write transaction
 * with one small put under a new key, timed from mdb_txn_begin() to the
 * return of mdb_txn_commit(); the median is fsync_ms.  No daemons.
 *
 * The same commit, one at a time, is the urgent scenario's probe of what
 * a durable commit takes under its load (commit_probe_*, bench.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "bench.h"

#define FSYNC_VALUE_LEN		64
#define FSYNC_MAP_MIN		(16u << 20)
#define FSYNC_MAP_PER_PUT	256	/* key, value, page overhead */

static int
fsync_fail(const char *what, int mrc)
{
	bench_log("fsync: %s: %s", what, mdb_strerror(mrc));
	return -1;
}

int
commit_probe_open(struct bench *b, const char *name, long long count,
    struct commit_probe *p)
{
	MDB_txn	*txn;
	size_t	 map;
	int	 n, mrc;

	memset(p, 0, sizeof(*p));
	n = snprintf(p->dir, sizeof(p->dir), "%s/%s", b->root, name);
	if (n < 0 || (size_t)n >= sizeof(p->dir)) {
		bench_log("fsync: path too long under %s", b->root);
		return -1;
	}
	if (mkdir(p->dir, 0700) == -1) {
		bench_log("mkdir %s: %s", p->dir, strerror(errno));
		return -1;
	}
	p->made = 1;
	if ((mrc = mdb_env_create(&p->env)) != 0) {
		p->env = NULL;
		return fsync_fail("mdb_env_create", mrc);
	}
	map = (size_t)count * FSYNC_MAP_PER_PUT;
	if ((mrc = mdb_env_set_mapsize(p->env, map > FSYNC_MAP_MIN ? map :
	    FSYNC_MAP_MIN)) != 0)
		return fsync_fail("mdb_env_set_mapsize", mrc);
	/* flags 0: the default, every commit synced */
	if ((mrc = mdb_env_open(p->env, p->dir, 0, 0600)) != 0)
		return fsync_fail(p->dir, mrc);
	if ((mrc = mdb_txn_begin(p->env, NULL, 0, &txn)) != 0)
		return fsync_fail("mdb_txn_begin", mrc);
	if ((mrc = mdb_dbi_open(txn, NULL, 0, &p->dbi)) != 0) {
		mdb_txn_abort(txn);
		return fsync_fail("mdb_dbi_open", mrc);
	}
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return fsync_fail("mdb_txn_commit", mrc);
	return 0;
}

int
commit_probe_one(struct commit_probe *p, int64_t *ns)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 key[8], val[FSYNC_VALUE_LEN];
	int64_t		 t0;
	int		 mrc, j;

	/* big-endian keys: each put appends */
	for (j = 0; j < 8; j++)
		key[j] = (uint8_t)(p->puts >> (56 - 8 * j));
	p->puts++;
	memset(val, 0xa5, sizeof(val));
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = val;
	v.mv_size = sizeof(val);
	t0 = now_ns();
	if ((mrc = mdb_txn_begin(p->env, NULL, 0, &txn)) != 0)
		return fsync_fail("mdb_txn_begin", mrc);
	if ((mrc = mdb_put(txn, p->dbi, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return fsync_fail("mdb_put", mrc);
	}
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return fsync_fail("mdb_txn_commit", mrc);
	*ns = now_ns() - t0;
	return 0;
}

void
commit_probe_close(struct bench *b, struct commit_probe *p)
{
	static const char	*files[] = { "data.mdb", "lock.mdb" };
	char			 path[PATH_MAX + 16];
	size_t			 i;

	if (p->env != NULL)
		mdb_env_close(p->env);
	p->env = NULL;
	if (!p->made || b->opts.keep)
		return;
	p->made = 0;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, files[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			bench_log("remove %s: %s", path, strerror(errno));
	}
	if (rmdir(p->dir) == -1 && errno != ENOENT)
		bench_log("remove %s: %s", p->dir, strerror(errno));
}

int
fsync_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	struct commit_probe	 p;
	char			 name[32];
	int64_t			*lat, deadline;
	long long		 i;
	int			 rc = -1;

	(void)net;
	if ((lat = calloc((size_t)a->count, sizeof(*lat))) == NULL) {
		bench_log("fsync: out of memory for %lld commits", a->count);
		return -1;
	}
	snprintf(name, sizeof(name), "fsync-%u", a->run);
	bench_log("fsync run %u: %lld commits of one put in %s/%s", a->run,
	    a->count, b->root, name);
	if (commit_probe_open(b, name, a->count, &p) == -1)
		goto out;
	deadline = now_ns() + (int64_t)a->timeout_s * 1000000000;
	for (i = 0; i < a->count; i++) {
		if (bench_interrupted)
			goto out;
		if (now_ns() > deadline) {
			bench_log("fsync: %lld of %lld commits after %u s "
			    "(--timeout)", i, a->count, a->timeout_s);
			goto out;
		}
		if (commit_probe_one(&p, &lat[i]) == -1)
			goto out;
	}
	json_object_set_new(out, "commits", json_integer(a->count));
	json_object_set_new(out, "fsync_ms",
	    json_real(stats_ms(stats_percentile(lat, (size_t)a->count, 50))));
	json_object_set_new(out, "fsync_p99_ms",
	    json_real(stats_ms(stats_percentile(lat, (size_t)a->count, 99))));
	rc = 0;
out:
	commit_probe_close(b, &p);
	free(lat);
	return rc;
}
