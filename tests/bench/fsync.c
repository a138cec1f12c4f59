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

/* COUNT timed commits into LAT (ns); 0 or -1 (and why). */
static int
fsync_loop(MDB_env *env, const struct run_args *a, int64_t *lat)
{
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	uint8_t		 key[8], val[FSYNC_VALUE_LEN];
	int64_t		 deadline, t0;
	long long	 i;
	int		 mrc, j;

	deadline = now_ns() + (int64_t)a->timeout_s * 1000000000;
	if ((mrc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		return fsync_fail("mdb_txn_begin", mrc);
	if ((mrc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0) {
		mdb_txn_abort(txn);
		return fsync_fail("mdb_dbi_open", mrc);
	}
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return fsync_fail("mdb_txn_commit", mrc);
	memset(val, 0xa5, sizeof(val));
	for (i = 0; i < a->count; i++) {
		if (bench_interrupted)
			return -1;
		if (now_ns() > deadline) {
			bench_log("fsync: %lld of %lld commits after %u s "
			    "(--timeout)", i, a->count, a->timeout_s);
			return -1;
		}
		/* big-endian keys: each put appends */
		for (j = 0; j < 8; j++)
			key[j] = (uint8_t)((unsigned long long)i >> (56 - 8 * j));
		k.mv_data = key;
		k.mv_size = sizeof(key);
		v.mv_data = val;
		v.mv_size = sizeof(val);
		t0 = now_ns();
		if ((mrc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			return fsync_fail("mdb_txn_begin", mrc);
		if ((mrc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
			mdb_txn_abort(txn);
			return fsync_fail("mdb_put", mrc);
		}
		if ((mrc = mdb_txn_commit(txn)) != 0)
			return fsync_fail("mdb_txn_commit", mrc);
		lat[i] = now_ns() - t0;
	}
	return 0;
}

/* Remove the environment's files and directory (unless --keep). */
static void
fsync_cleanup(const struct bench *b, const char *dir)
{
	static const char	*files[] = { "data.mdb", "lock.mdb" };
	char			 path[PATH_MAX + 16];
	size_t			 i;

	if (b->opts.keep)
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			bench_log("remove %s: %s", path, strerror(errno));
	}
	if (rmdir(dir) == -1 && errno != ENOENT)
		bench_log("remove %s: %s", dir, strerror(errno));
}

int
fsync_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	MDB_env		*env = NULL;
	char		 dir[PATH_MAX];
	int64_t		*lat;
	size_t		 map;
	int		 n, mrc, rc = -1, made = 0;

	(void)net;
	n = snprintf(dir, sizeof(dir), "%s/fsync-%u", b->root, a->run);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		bench_log("fsync: path too long under %s", b->root);
		return -1;
	}
	if ((lat = calloc((size_t)a->count, sizeof(*lat))) == NULL) {
		bench_log("fsync: out of memory for %lld commits", a->count);
		return -1;
	}
	if (mkdir(dir, 0700) == -1) {
		bench_log("mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	made = 1;
	bench_log("fsync run %u: %lld commits of one put in %s", a->run,
	    a->count, dir);
	if ((mrc = mdb_env_create(&env)) != 0) {
		fsync_fail("mdb_env_create", mrc);
		env = NULL;
		goto out;
	}
	map = (size_t)a->count * FSYNC_MAP_PER_PUT;
	if ((mrc = mdb_env_set_mapsize(env, map > FSYNC_MAP_MIN ? map :
	    FSYNC_MAP_MIN)) != 0) {
		fsync_fail("mdb_env_set_mapsize", mrc);
		goto out;
	}
	/* flags 0: the default, every commit synced */
	if ((mrc = mdb_env_open(env, dir, 0, 0600)) != 0) {
		fsync_fail(dir, mrc);
		goto out;
	}
	if (fsync_loop(env, a, lat) == -1)
		goto out;
	json_object_set_new(out, "commits", json_integer(a->count));
	json_object_set_new(out, "fsync_ms",
	    json_real(stats_ms(stats_percentile(lat, (size_t)a->count, 50))));
	json_object_set_new(out, "fsync_p99_ms",
	    json_real(stats_ms(stats_percentile(lat, (size_t)a->count, 99))));
	rc = 0;
out:
	if (env != NULL)
		mdb_env_close(env);
	if (made)
		fsync_cleanup(b, dir);
	free(lat);
	return rc;
}
