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
 * Then FSYNC_BIG_COMMITS commits (at most COUNT) of one 1 MiB value each,
 * by two threads at once into a store each, as the two daemons of the
 * documents scenario store their documents: the medians of their time
 * (commit_1m_ms) and of the CPU the committing thread spent, kernel
 * included (commit_1m_cpu_ms).  Each value goes to new pages at the end
 * of the growing file, as the daemons' do; the CPU is what the kernel
 * spends putting them in the page cache and writing them out, part of
 * T4's floor (target.c).
 *
 * The small commit, one at a time, is the urgent scenario's probe of
 * what a durable commit takes under its load (commit_probe_*, bench.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "bench.h"

#define COMMIT_PROBE_LEN	64	/* the value commit_probe_one() puts */
#define FSYNC_BIG_LEN		(1 << 20)
#define FSYNC_BIG_COMMITS	128	/* in all */
#define FSYNC_BIG_WRITERS	2	/* at once, as the two daemons */
#define FSYNC_MAP_MIN		(16u << 20)
#define FSYNC_MAP_PER_PUT	256	/* key, small value, page overhead */
#define FSYNC_MAP_PAGE		4096

static int
fsync_fail(const char *what, int mrc)
{
	bench_log("fsync: %s: %s", what, mdb_strerror(mrc));
	return -1;
}

/* probe_open - commit_probe_open() for COUNT puts of VALUE_LEN bytes */
static int
probe_open(struct bench *b, const char *name, long long count,
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
commit_probe_open(struct bench *b, const char *name, long long count,
    struct commit_probe *p)
{
	return probe_open(b, name, count, COMMIT_PROBE_LEN, p);
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
 * commit_n - N durable commits of VAL (LEN bytes, its first byte changed
 * each time) into P, timed into LAT[i] and, unless CPU is NULL, their CPU
 * into CPU[i]; WHAT names them.  0, or -1 when interrupted, past
 * DEADLINE (said) or when a commit failed (said).
 */
static int
commit_n(struct commit_probe *p, uint8_t *val, size_t len, size_t n,
    const char *what, int64_t deadline, unsigned int timeout_s,
    int64_t *lat, int64_t *cpu)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (bench_interrupted)
			return -1;
		if (now_ns() > deadline) {
			bench_log("fsync: %zu of %zu %s after %u s (--timeout)",
			    i, n, what, timeout_s);
			return -1;
		}
		val[0] = (uint8_t)i;
		if (commit_put(p, val, len, &lat[i], cpu != NULL ? &cpu[i] :
		    NULL) == -1)
			return -1;
	}
	return 0;
}

/* one of the writers of big_commits(), on a thread of its own */
struct big_writer {
	struct bench		*b;
	const struct run_args	*a;
	int64_t			 deadline;
	unsigned int		 id;
	size_t			 n;
	int64_t			*lat, *cpu;	/* n each, this writer's part */
	int			 rc;
};

static void *
big_write(void *arg)
{
	struct big_writer	*w = arg;
	struct commit_probe	 p;
	uint8_t			*val;
	char			 name[32];

	/* not all one byte: the page cache and the disk see real data */
	if ((val = bench_doc(FSYNC_BIG_LEN)) == NULL) {
		bench_log("fsync: out of memory for a value of 1 MiB");
		return NULL;
	}
	snprintf(name, sizeof(name), "fsync-%u-1m-%u", w->a->run, w->id);
	if (probe_open(w->b, name, (long long)w->n, FSYNC_BIG_LEN, &p) == 0 &&
	    commit_n(&p, val, FSYNC_BIG_LEN, w->n, "commits of 1 MiB",
	    w->deadline, w->a->timeout_s, w->lat, w->cpu) == 0)
		w->rc = 0;
	commit_probe_close(w->b, &p);
	free(val);
	return NULL;
}

/*
 * big_commits - FSYNC_BIG_WRITERS threads at once, as two daemons
 * storing documents do, each making up to FSYNC_BIG_COMMITS / 2 durable
 * commits of a 1 MiB value into a store of its own: commits_1m,
 * commit_1m_ms and commit_1m_cpu_ms (the medians over all) into OUT.
 * Alone, one writer spent 10-20 % less CPU on each commit than either of
 * two at once on the development machine: the page cache and the file
 * system's journal are shared.  At least one commit each, whatever
 * COUNT.
 */
static int
big_commits(struct bench *b, const struct run_args *a, int64_t deadline,
    json_t *out)
{
	struct big_writer	 w[FSYNC_BIG_WRITERS];
	pthread_t		 th[FSYNC_BIG_WRITERS];
	int64_t			*lat, *cpu;
	size_t			 i, n, per;
	int			 started = 0, rc = -1;

	n = a->count < FSYNC_BIG_COMMITS ? (size_t)a->count :
	    FSYNC_BIG_COMMITS;
	if ((per = n / FSYNC_BIG_WRITERS) == 0)
		per = 1;
	n = per * FSYNC_BIG_WRITERS;
	lat = calloc(n, sizeof(*lat));
	cpu = calloc(n, sizeof(*cpu));
	if (lat == NULL || cpu == NULL) {
		bench_log("fsync: out of memory for %zu commits of 1 MiB", n);
		goto out;
	}
	for (i = 0; i < FSYNC_BIG_WRITERS; i++) {
		w[i].b = b;
		w[i].a = a;
		w[i].deadline = deadline;
		w[i].id = (unsigned int)i;
		w[i].n = per;
		w[i].lat = lat + i * per;
		w[i].cpu = cpu + i * per;
		w[i].rc = -1;
	}
	for (i = 0; i < FSYNC_BIG_WRITERS; i++, started++)
		if (pthread_create(&th[i], NULL, big_write, &w[i]) != 0) {
			bench_log("fsync: cannot start a writer");
			break;
		}
	rc = started == FSYNC_BIG_WRITERS ? 0 : -1;
	for (i = 0; i < (size_t)started; i++) {
		pthread_join(th[i], NULL);
		if (w[i].rc != 0)
			rc = -1;
	}
	if (rc != 0)
		goto out;
	json_object_set_new(out, "commits_1m", json_integer((json_int_t)n));
	json_object_set_new(out, "commit_1m_ms",
	    json_real(stats_ms(stats_percentile(lat, n, 50))));
	json_object_set_new(out, "commit_1m_cpu_ms",
	    json_real(stats_ms(stats_percentile(cpu, n, 50))));
out:
	free(lat);
	free(cpu);
	return rc;
}

int
fsync_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	struct commit_probe	 p;
	uint8_t			 val[COMMIT_PROBE_LEN];
	char			 name[32];
	int64_t			*lat, deadline;
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
	memset(val, 0xa5, sizeof(val));
	if (commit_n(&p, val, sizeof(val), (size_t)a->count, "commits",
	    deadline, a->timeout_s, lat, NULL) == -1)
		goto out;
	json_object_set_new(out, "commits", json_integer(a->count));
	json_object_set_new(out, "fsync_ms",
	    json_real(stats_ms(stats_percentile(lat, (size_t)a->count, 50))));
	json_object_set_new(out, "fsync_p99_ms",
	    json_real(stats_ms(stats_percentile(lat, (size_t)a->count, 99))));
	commit_probe_close(b, &p);
	/* without them only T4's floor is missing, not fsync_ms */
	if (big_commits(b, a, deadline, out) == -1) {
		if (bench_interrupted)
			goto out;
		bench_log("fsync: no commits of 1 MiB in this run");
	}
	rc = 0;
out:
	commit_probe_close(b, &p);
	free(lat);
	return rc;
}
