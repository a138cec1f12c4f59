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
 * Then FSYNC_BIG_COMMITS commits (at most COUNT) of one 1 MiB value each
 * into a store of their own, as a daemon stores a 1 MiB document: the
 * medians of their time (commit_1m_ms) and of the CPU the committing
 * thread spent, kernel included (commit_1m_cpu_ms).  Each value goes to
 * new pages at the end of the growing file, as the documents scenario's
 * do; the CPU is what the kernel spends putting them in the page cache
 * and writing them out, part of T4's floor (target.c).
 *
 * The small commit, one at a time, is the urgent scenario's probe of
 * what a durable commit takes under its load (commit_probe_*, bench.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "bench.h"

#define FSYNC_BIG_LEN		(1 << 20)
#define FSYNC_BIG_COMMITS	128
#define FSYNC_MAP_MIN		(16u << 20)
#define FSYNC_MAP_PER_PUT	256	/* key, small value, page overhead */
#define FSYNC_MAP_PAGE		4096

static int
fsync_fail(const char *what, int mrc)
{
	bench_log("fsync: %s: %s", what, mdb_strerror(mrc));
	return -1;
}

int
commit_probe_open(struct bench *b, const char *name, long long count,
    size_t value_len, struct commit_probe *p)
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
	/* a large value: its own pages, rounded up, and its header's */
	map = (size_t)count * (value_len < FSYNC_MAP_PAGE ? FSYNC_MAP_PER_PUT :
	    value_len + 2 * FSYNC_MAP_PAGE);
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

/* thread CPU time in nanoseconds, user and kernel */
static int64_t
thread_cpu_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * commit_put - one write transaction putting VAL (LEN bytes) under the
 * next key, committed; its time to *NS and, if CPU is not NULL, the CPU
 * this thread spent on it to *CPU.
 */
static int
commit_put(struct commit_probe *p, const void *val, size_t len, int64_t *ns,
    int64_t *cpu)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 key[8];
	int64_t		 t0, c0 = 0;
	int		 mrc, j;

	/* big-endian keys: each put appends */
	for (j = 0; j < 8; j++)
		key[j] = (uint8_t)(p->puts >> (56 - 8 * j));
	p->puts++;
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = (void *)val;
	v.mv_size = len;
	if (cpu != NULL)
		c0 = thread_cpu_ns();
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
	if (cpu != NULL)
		*cpu = thread_cpu_ns() - c0;
	return 0;
}

int
commit_probe_one(struct commit_probe *p, int64_t *ns)
{
	uint8_t	val[COMMIT_PROBE_LEN];

	memset(val, 0xa5, sizeof(val));
	return commit_put(p, val, sizeof(val), ns, NULL);
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

/*
 * big_commits - up to FSYNC_BIG_COMMITS durable commits of a 1 MiB value
 * each into a store of their own: commit_1m_ms and commit_1m_cpu_ms
 * (the medians) into OUT.
 */
static int
big_commits(struct bench *b, const struct run_args *a, int64_t deadline,
    json_t *out)
{
	struct commit_probe	 p;
	uint8_t			*val;
	int64_t			*lat, *cpu;
	char			 name[32];
	size_t			 i, n;
	int			 rc = -1;

	memset(&p, 0, sizeof(p));	/* closed on every path */
	n = a->count < FSYNC_BIG_COMMITS ? (size_t)a->count :
	    FSYNC_BIG_COMMITS;
	lat = calloc(n, sizeof(*lat));
	cpu = calloc(n, sizeof(*cpu));
	if ((val = malloc(FSYNC_BIG_LEN)) == NULL || lat == NULL ||
	    cpu == NULL) {
		bench_log("fsync: out of memory for %zu commits of 1 MiB", n);
		goto out;
	}
	/* not all one byte: the page cache and the disk see real data */
	for (i = 0; i < FSYNC_BIG_LEN; i++)
		val[i] = (uint8_t)(i * 2654435761u >> 13);
	snprintf(name, sizeof(name), "fsync-%u-1m", a->run);
	if (commit_probe_open(b, name, (long long)n, FSYNC_BIG_LEN, &p) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (bench_interrupted)
			goto out;
		if (now_ns() > deadline) {
			bench_log("fsync: %zu of %zu commits of 1 MiB after "
			    "%u s (--timeout)", i, n, a->timeout_s);
			goto out;
		}
		val[0] = (uint8_t)i;
		if (commit_put(&p, val, FSYNC_BIG_LEN, &lat[i], &cpu[i]) == -1)
			goto out;
	}
	json_object_set_new(out, "commits_1m", json_integer((json_int_t)n));
	json_object_set_new(out, "commit_1m_ms",
	    json_real(stats_ms(stats_percentile(lat, n, 50))));
	json_object_set_new(out, "commit_1m_cpu_ms",
	    json_real(stats_ms(stats_percentile(cpu, n, 50))));
	rc = 0;
out:
	commit_probe_close(b, &p);
	free(val);
	free(lat);
	free(cpu);
	return rc;
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
	if (commit_probe_open(b, name, a->count, COMMIT_PROBE_LEN, &p) == -1)
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
	commit_probe_close(b, &p);
	rc = big_commits(b, a, deadline, out);
out:
	commit_probe_close(b, &p);
	free(lat);
	return rc;
}
