/*
 * store.c - the durable store: LMDB environment, group commit, map growth.
 *
 * Only this file begins and commits LMDB transactions.  Writes are queued
 * as operations and run in one write transaction per batch, each inside a
 * nested transaction so a failing operation is rolled back alone; the
 * batch's single commit (fsync) comes before any done() callback runs.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <lmdb.h>

#include "bounds.h"
#include "comity.h"
#include "comityd.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* A commit failing with EIO/ENOSPC means "store full" only when the file
 * system really is (nearly) full: below 2 MiB or 1 % free. */
#define STORE_FULL_BYTES	(2ull << 20)
#define STORE_FULL_PERCENT	1
/* How often at most the map's resident pages are handed back (below),
 * unless more than STORE_RELEASE_BYTES were written meanwhile.  A read
 * maps the written pages around it: the kernel keeps a store's recent
 * writes in page cache folios of up to 2 MiB and maps a whole folio on a
 * fault (Linux 6.x), so touching one B-tree page puts megabytes of the
 * documents beside it in our RSS -- hundreds of MiB a second while a
 * backlog of documents moves.  Handed back every 20 ms, the map still
 * held 10-25 MiB at times; every 5 ms, about half that. */
#define STORE_RELEASE_MS	5
#define STORE_RELEASE_BYTES	(1u << 20)
/* How often at most freed heap memory is handed back (heap_release()). */
#define STORE_TRIM_MS		250
/* Under load, normal operations wait this long after a commit for
 * others to share theirs, unless this many are waiting, or the last
 * commit wrote this much (gather_us()). */
#define STORE_GATHER_US		8000
#define STORE_GATHER_OPS	BATCH_MAX_OPS
#define STORE_GATHER_BYTES	(1u << 20)

struct store_op {
	store_apply_fn	 apply;
	store_done_fn	 done;
	void		*arg;
	int		 rc;		/* outcome handed to done() */
	struct store_op	*next;
};

struct store {
	MDB_env		*env;
	MDB_dbi		 dbi[DB__COUNT];
	int		 lockfd;	/* flock'd DIR/lock: one process only */
	char		*dir;
	uint64_t	 map_size;

	struct store_op	*head;		/* pending operations, FIFO */
	struct store_op	**tail;
	struct store_op	*uhead;		/* urgent ones, committed first */
	struct store_op	**utail;
	size_t		 npending;
	int		 flushing;	/* guards against re-entry from done() */

	struct event	*ev;		/* deferred flush, NULL without a base */
	int		 ev_active;	/* set to run promptly */
	size_t		 last_ops;	/* in the last commit of normal ops */
	uint64_t	 last_bytes;	/* it wrote */
	uint64_t	 last_end_us;	/* when it ended, monotonic */

	struct store_txn *rcache;	/* a reset read txn kept for renew */
	int		 nreaders;	/* read txns handed out, not ended */
	int		 map_full;	/* an operation hit MDB_MAP_FULL */
	uint64_t	 released_ms;	/* last release_map(), monotonic */
	uintptr_t	 map_lo, map_hi;	/* where the map was last seen */
	uint64_t	 map_seen_size;	/* map_size when it was */
	uint64_t	 put_bytes;	/* written since release_map() */
	struct event	*trim_ev;	/* heap_release() later; NULL without
					 * a base */
	uint64_t	 trimmed_ms;	/* last malloc_trim(), monotonic */
};

static void	map_find(struct store *);
static void	release_map(struct store *);
static void	heap_release(struct store *);
static void	trim_cb(evutil_socket_t, short, void *);

struct store_txn {
	struct store	*s;
	MDB_txn		*txn;
	int		 rdonly;
};

struct store_cursor {
	MDB_cursor	*c;
};

static const char *const db_names[DB__COUNT] = {
	[DB_META] = "meta",
	[DB_OUT] = "out",
	[DB_OUTLOG] = "outlog",
	[DB_OUTQ] = "outq",
	[DB_IDEM] = "idem",
	[DB_IN] = "in",
	[DB_INLOG] = "inlog",
	[DB_CTLQ] = "ctlq",
	[DB_AUDIT] = "audit",
	[DB_CORRUPT] = "corrupt",
	[DB_BLOB] = "blob",
	[DB_EXPQ] = "expq",
	[DB_URGQ] = "urgq",
};

static void	store_flush_cb(evutil_socket_t, short, void *);

void
store_u64be(unsigned char out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (unsigned char)v;
		v >>= 8;
	}
}

uint64_t
store_get_u64be(const unsigned char in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

/*
 * map_err - translate an LMDB result for a caller.  MDB_PANIC means the
 * environment is dead: nothing can be trusted any more, so exit and let
 * the supervisor restart us on the state that is on disk.
 */
static int
map_err(struct store *s, int rc, const char *what)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return COMITY_ENOTFOUND;
	case MDB_MAP_FULL:
		if (s != NULL)
			s->map_full = 1;
		return COMITY_ESTOREFULL;
	case MDB_TXN_FULL:
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return COMITY_ESTOREFULL;
	case MDB_BAD_VALSIZE:
		return COMITY_EINVAL;
	case ENOMEM:
		return COMITY_ENOMEM;
	case MDB_PANIC:
		fatal_exit(STORE_EXIT_FATAL, "store: %s: %s", what,
		    mdb_strerror(rc));
	default:
		log_error("store: %s: %s", what, mdb_strerror(rc));
		return COMITY_EIO;
	}
}

static int
db_ok(enum store_db db)
{
	return (unsigned)db < DB__COUNT;
}

/* fs_avail - bytes free (for unprivileged writers) and total on the store FS */
static int
fs_avail(const struct store *s, uint64_t *avail, uint64_t *total)
{
	struct statvfs	sv;

	if (statvfs(s->dir, &sv) == -1) {
		log_warn("store: statvfs %s", s->dir);
		return -1;
	}
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	return 0;
}

static int
fs_full(const struct store *s)
{
	uint64_t avail, total;

	if (fs_avail(s, &avail, &total) == -1)
		return 0;
	return avail < STORE_FULL_BYTES ||
	    avail < total / 100 * STORE_FULL_PERCENT;
}

static void
rcache_drop(struct store *s)
{
	if (s->rcache != NULL) {
		mdb_txn_abort(s->rcache->txn);
		free(s->rcache);
		s->rcache = NULL;
	}
}

static int	open_fail(int, char *, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

static int
open_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* lmdb_open_err - a reason and code for an mdb_env_open failure */
static int
lmdb_open_err(int mrc, const char *dir, char *err, size_t errlen)
{
	switch (mrc) {
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_CORRUPTED:
		return open_fail(COMITY_ECORRUPT, err, errlen,
		    "store corrupt: %s: %s", dir, mdb_strerror(mrc));
	case EACCES:
	case EPERM:
		return open_fail(COMITY_EPERM, err, errlen, "%s: %s", dir,
		    mdb_strerror(mrc));
	case ENOSPC:
	case MDB_MAP_FULL:
		return open_fail(COMITY_ESTOREFULL, err, errlen,
		    "store full: %s: %s", dir, mdb_strerror(mrc));
	default:
		return open_fail(COMITY_EIO, err, errlen, "%s: %s", dir,
		    mdb_strerror(mrc));
	}
}

/* create_dbis - open (creating) every named database in one txn */
static int
create_dbis(struct store *s, char *err, size_t errlen)
{
	MDB_txn	*txn;
	int	 mrc;

	if ((mrc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return lmdb_open_err(mrc, s->dir, err, errlen);
	for (int i = 0; i < DB__COUNT; i++) {
		mrc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]);
		if (mrc != 0) {
			mdb_txn_abort(txn);
			return lmdb_open_err(mrc, s->dir, err, errlen);
		}
	}
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return lmdb_open_err(mrc, s->dir, err, errlen);
	return 0;
}

int
store_open(const char *dir, uint64_t map_size, struct store **out,
    char *err, size_t errlen)
{
	struct store	*s;
	MDB_envinfo	 info;
	char		 path[PATH_MAX];
	int		 rc, mrc, dead = 0;

	*out = NULL;
	if (dir == NULL || *dir == '\0')
		return open_fail(COMITY_EINVAL, err, errlen,
		    "no store directory");
	if (map_size < MAP_SIZE_MIN)
		map_size = MAP_SIZE_MIN;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return open_fail(errno == EACCES ? COMITY_EPERM : COMITY_EIO,
		    err, errlen, "mkdir %s: %s", dir, strerror(errno));
	if ((size_t)snprintf(path, sizeof(path), "%s/lock", dir) >=
	    sizeof(path))
		return open_fail(COMITY_EINVAL, err, errlen,
		    "%s: path too long", dir);

	s = xcalloc(1, sizeof(*s));
	s->tail = &s->head;
	s->utail = &s->uhead;
	s->dir = xstrdup(dir);
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lockfd == -1) {
		rc = open_fail(errno == EACCES ? COMITY_EPERM : COMITY_EIO,
		    err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			rc = open_fail(COMITY_EAGAIN, err, errlen,
			    "store in use: %s is held by another process",
			    dir);
		else
			rc = open_fail(COMITY_EIO, err, errlen,
			    "flock %s: %s", path, strerror(errno));
		goto fail;
	}

	if ((mrc = mdb_env_create(&s->env)) != 0) {
		rc = lmdb_open_err(mrc, dir, err, errlen);
		goto fail;
	}
	if ((mrc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS)) != 0 ||
	    (mrc = mdb_env_set_mapsize(s->env, (size_t)map_size)) != 0) {
		rc = lmdb_open_err(mrc, dir, err, errlen);
		goto fail;
	}
	/*
	 * Default flags: every commit is fsync'd.  MDB_NOTLS because only
	 * the loop thread opens transactions and it keeps a reset read txn
	 * for renew.  MDB_NORDAHEAD: reads are of single records, scattered
	 * by copy-on-write; read-ahead (and fault-around) would map many
	 * pages around each one into the resident set.
	 */
	if ((mrc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD,
	    0600)) != 0) {
		rc = lmdb_open_err(mrc, dir, err, errlen);
		goto fail;
	}
	if ((mrc = mdb_reader_check(s->env, &dead)) != 0) {
		rc = lmdb_open_err(mrc, dir, err, errlen);
		goto fail;
	}
	if (dead > 0)
		log_warnx("store %s: cleared %d stale reader slot(s)", dir,
		    dead);
	if ((rc = create_dbis(s, err, errlen)) != 0)
		goto fail;
	if (mdb_env_info(s->env, &info) == 0)
		s->map_size = info.me_mapsize;
	else
		s->map_size = map_size;
	map_find(s);
	*out = s;
	return 0;

fail:
	if (s->env != NULL)
		mdb_env_close(s->env);
	if (s->lockfd != -1)
		close(s->lockfd);
	free(s->dir);
	free(s);
	return rc;
}

void
store_close(struct store *s)
{
	struct store_op *op, *next;

	if (s == NULL)
		return;
	if (s->npending > 0) {
		log_error("store: closed with %zu operation(s) pending; "
		    "they are dropped uncommitted", s->npending);
		for (op = s->uhead; op != NULL; op = next) {
			next = op->next;
			free(op);
		}
		for (op = s->head; op != NULL; op = next) {
			next = op->next;
			free(op);
		}
	}
	if (s->nreaders > 0)
		log_error("store: closed with %d read transaction(s) open",
		    s->nreaders);
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->trim_ev != NULL)
		event_free(s->trim_ev);
	rcache_drop(s);
	mdb_env_close(s->env);
	close(s->lockfd);	/* releases the flock */
	free(s->dir);
	free(s);
}

void
store_set_event_base(struct store *s, struct event_base *base)
{
	int npri;

	if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
		s->ev_active = 0;
	}
	if (s->trim_ev != NULL) {
		event_free(s->trim_ev);
		s->trim_ev = NULL;
	}
	if (base == NULL)
		return;
	if ((s->ev = event_new(base, -1, 0, store_flush_cb, s)) == NULL ||
	    (s->trim_ev = evtimer_new(base, trim_cb, s)) == NULL)
		fatalx("store: cannot create the commit event");
	/*
	 * The lowest priority of the base (1 when the base has two), so the
	 * I/O ready in this loop iteration is handled first and its writes
	 * share one commit.
	 */
	npri = event_base_get_npriorities(base);
	if (npri > 1 && event_priority_set(s->ev, npri - 1) == -1)
		log_warnx("store: cannot lower the commit event's priority");
	if (s->npending > 0) {
		s->ev_active = 1;
		event_active(s->ev, EV_TIMEOUT, 0);
	}
}

/*
 * gather_us - how long normal operations wait for others to share their
 * commit.  A commit blocks the loop for its fsyncs whatever it carries
 * (0.4 ms on an idle disk, several on a busy one), so under load (the
 * last commit carried more than one operation) a commit follows the
 * last one after STORE_GATHER_US at the earliest, unless
 * STORE_GATHER_OPS are waiting: the loop then reads
 * links between commits instead of fsyncing most of the time, and an
 * urgent operation, which never waits, seldom finds a commit under way.
 * One operation at a time (the idle case) never waits, nor do large
 * ones (documents): a commit of megabytes is a batch already, and
 * gathering them would hold their pages in memory together.
 */
static uint64_t
gather_us(const struct store *s)
{
	uint64_t	elapsed;

	if (s->uhead != NULL || s->npending >= STORE_GATHER_OPS ||
	    s->last_ops < 2 || s->last_bytes >= STORE_GATHER_BYTES)
		return 0;
	elapsed = mono_us() - s->last_end_us;
	return elapsed >= STORE_GATHER_US ? 0 : STORE_GATHER_US - elapsed;
}

/* schedule - arrange for the pending operations to be committed */
static void
schedule(struct store *s)
{
	struct timeval	tv;
	uint64_t	us;

	if (s->ev == NULL || s->ev_active || s->flushing)
		return;
	if ((us = gather_us(s)) == 0) {
		s->ev_active = 1;
		event_active(s->ev, EV_TIMEOUT, 0);
	} else if (!evtimer_pending(s->ev, NULL)) {
		tv.tv_sec = 0;
		tv.tv_usec = (suseconds_t)us;
		event_add(s->ev, &tv);
	}
}

static void
batch_add(struct store *s, store_apply_fn apply, store_done_fn done,
    void *arg, int urgent)
{
	struct store_op *op;

	op = xcalloc(1, sizeof(*op));
	op->apply = apply;
	op->done = done;
	op->arg = arg;
	if (urgent) {
		*s->utail = op;
		s->utail = &op->next;
	} else {
		*s->tail = op;
		s->tail = &op->next;
	}
	s->npending++;
	/*
	 * An op added by a done() callback waits for the next turn (see
	 * flush_chunks): what those callbacks wrote to sockets -- a submit's
	 * answer, an envelope -- goes out first, not after another fsync.
	 */
	schedule(s);
}

void
store_batch_add(struct store *s, store_apply_fn apply, store_done_fn done,
    void *arg)
{
	batch_add(s, apply, done, arg, 0);
}

void
store_batch_add_urgent(struct store *s, store_apply_fn apply,
    store_done_fn done, void *arg)
{
	batch_add(s, apply, done, arg, 1);
}

size_t
store_batch_pending(const struct store *s)
{
	return s->npending;
}

/*
 * take - unlink up to MAX operations (*TAKEN set): the urgent ones, alone
 * so that their commit is small and at once, or else the first others
 */
static struct store_op *
take(struct store *s, size_t max, size_t *taken)
{
	struct store_op	*first = NULL, **tail = &first, *op;
	size_t		 n;
	int		 urgent = s->uhead != NULL;

	/* urgent operations commit alone: a small commit, at once */
	for (n = 0; n < max; n++) {
		if ((op = s->uhead) != NULL) {
			if ((s->uhead = op->next) == NULL)
				s->utail = &s->uhead;
		} else if (!urgent && (op = s->head) != NULL) {
			if ((s->head = op->next) == NULL)
				s->tail = &s->head;
		} else
			break;
		*tail = op;
		tail = &op->next;
	}
	*tail = NULL;
	s->npending -= n;
	*taken = n;
	return first;
}

static void
set_all(struct store_op *ops, int rc)
{
	for (struct store_op *op = ops; op != NULL; op = op->next)
		op->rc = rc;
}

/*
 * grow_map - double the map, as far as the file system has room for, with
 * no transaction open.  Returns 0 when it grew.
 */
static int
grow_map(struct store *s)
{
	MDB_envinfo	 info;
	uint64_t	 avail, total, want, cap;
	long		 pg = sysconf(_SC_PAGESIZE);
	int		 mrc;

	if (s->nreaders > 0) {
		/* Remapping would pull the map from under a live reader. */
		log_error("store: map full with %d read transaction(s) open; "
		    "not growing", s->nreaders);
		return -1;
	}
	if (fs_avail(s, &avail, &total) == -1)
		return -1;
	want = s->map_size > UINT64_MAX / 2 ? UINT64_MAX : s->map_size * 2;
	cap = avail > UINT64_MAX - s->map_size ? UINT64_MAX :
	    s->map_size + avail;
	if (want > cap)
		want = cap;
	if (want > SIZE_MAX)
		want = SIZE_MAX;
	if (pg > 0)
		want -= want % (uint64_t)pg;
	if (want <= s->map_size) {
		log_error("store: map full at %llu bytes and the file system "
		    "has %llu bytes free", (unsigned long long)s->map_size,
		    (unsigned long long)avail);
		return -1;
	}
	rcache_drop(s);
	/* the map moves: no madvise() on the old range, found again later */
	s->map_lo = s->map_hi = 0;
	s->map_seen_size = 0;
	if ((mrc = mdb_env_set_mapsize(s->env, (size_t)want)) != 0) {
		log_error("store: cannot grow the map to %llu bytes: %s",
		    (unsigned long long)want, mdb_strerror(mrc));
		return -1;
	}
	if (mdb_env_info(s->env, &info) == 0)
		want = info.me_mapsize;
	log_warnx("store: map grown from %llu to %llu bytes",
	    (unsigned long long)s->map_size, (unsigned long long)want);
	s->map_size = want;
	return 0;
}

/* commit_failed - decide what a failed commit means (never a retry) */
static int
commit_failed(struct store *s, int mrc)
{
	if (mrc == EFBIG || ((mrc == EIO || mrc == ENOSPC) && fs_full(s))) {
		log_error("store: commit failed, file system full: %s",
		    mdb_strerror(mrc));
		return COMITY_ESTOREFULL;
	}
	/*
	 * The data may or may not be on disk and Linux may have dropped the
	 * dirty pages: retrying could report a write that never happened.
	 */
	fatal_exit(STORE_EXIT_FATAL, "store: commit failed: %s",
	    mdb_strerror(mrc));
}

/* run_ops - apply each operation in its own nested txn; -1 on map full */
static int
run_ops(struct store *s, MDB_txn *txn, struct store_op *ops, int *fatal_rc)
{
	struct store_txn	 st;
	MDB_txn			*child;
	int			 mrc, rc;

	for (struct store_op *op = ops; op != NULL; op = op->next) {
		if ((mrc = mdb_txn_begin(s->env, txn, 0, &child)) != 0) {
			*fatal_rc = map_err(s, mrc, "nested txn");
			return s->map_full ? -1 : 1;
		}
		st.s = s;
		st.txn = child;
		st.rdonly = 0;
		s->map_full = 0;
		rc = op->apply(&st, op->arg);
		if (s->map_full) {
			/* the whole batch is replayed in a bigger map */
			mdb_txn_abort(child);
			return -1;
		}
		if (rc != 0) {
			mdb_txn_abort(child);
			op->rc = rc;
			continue;
		}
		if ((mrc = mdb_txn_commit(child)) != 0) {
			*fatal_rc = map_err(s, mrc, "nested commit");
			return s->map_full ? -1 : 1;
		}
		op->rc = 0;
	}
	return 0;
}

/*
 * run_batch - one write transaction for OPS, with a map-full replay.
 * Sets every op->rc; returns the commit's outcome.
 */
static int
run_batch(struct store *s, struct store_op *ops)
{
	MDB_txn	*txn;
	int	 mrc, r, fatal_rc = 0, replayed = 0, resized = 0;

again:
	s->map_full = 0;
	mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (mrc == MDB_MAP_RESIZED && !resized) {
		resized = 1;
		rcache_drop(s);
		if (s->nreaders == 0 &&
		    mdb_env_set_mapsize(s->env, 0) == 0) {
			MDB_envinfo info;

			if (mdb_env_info(s->env, &info) == 0)
				s->map_size = info.me_mapsize;
			goto again;
		}
	}
	if (mrc != 0) {
		r = map_err(s, mrc, "begin write txn");
		set_all(ops, r);
		return r;
	}
	r = run_ops(s, txn, ops, &fatal_rc);
	if (r == 1) {
		mdb_txn_abort(txn);
		set_all(ops, fatal_rc);
		return fatal_rc;
	}
	if (r == 0) {
		if ((mrc = mdb_txn_commit(txn)) == 0)
			return 0;
		if (mrc != MDB_MAP_FULL) {
			r = commit_failed(s, mrc);
			set_all(ops, r);
			return r;
		}
		/* the commit itself (free list) ran out of map: txn is gone */
	} else
		mdb_txn_abort(txn);

	if (!replayed && grow_map(s) == 0) {
		replayed = 1;
		goto again;
	}
	log_error("store: map full (%llu bytes); %s",
	    (unsigned long long)s->map_size, replayed ?
	    "still full after growing" : "cannot grow");
	set_all(ops, COMITY_ESTOREFULL);
	return COMITY_ESTOREFULL;
}

/* map_find - where LMDB mapped the data file (it does not say): by inode */
static void
map_find(struct store *s)
{
	struct stat		st;
	mdb_filehandle_t	fd;
	FILE			*f;
	char			 line[512];
	unsigned long		 lo, hi, ino;
	unsigned int		 maj, min;

	s->map_lo = s->map_hi = 0;
	s->map_seen_size = s->map_size;
	if (mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) == -1 ||
	    (f = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj,
		    &min, &ino) == 5 && ino == st.st_ino &&
		    makedev(maj, min) == st.st_dev && hi > lo) {
			s->map_lo = lo;
			s->map_hi = hi;
			break;
		}
	fclose(f);
}

/*
 * release_map - every STORE_RELEASE_MS at most, after commits and reads:
 * unmap the pages of the LMDB map this process touched (MADV_DONTNEED on
 * a shared read-only file mapping drops page-table entries only; the
 * pages stay in the page cache and come back on the next read, same
 * bytes).  Without it every page of a store that only grows -- the
 * outbox and inbox keep their history, and each commit writes its pages
 * afresh -- stays in the daemon's resident set once read, and the RSS an
 * operator sees follows the store's size, not the memory the daemon
 * holds.
 */
static void
release_map(struct store *s)
{
	uint64_t	now = mono_ms();

	if (now - s->released_ms < STORE_RELEASE_MS &&
	    s->put_bytes < STORE_RELEASE_BYTES)
		return;
	s->released_ms = now;
	s->put_bytes = 0;
	store_release(s);
	heap_release(s);
}

void
store_release(struct store *s)
{
	if (s->map_seen_size != s->map_size)
		map_find(s);	/* it moved when the map grew */
	if (s->map_hi > s->map_lo && madvise((void *)s->map_lo,
	    s->map_hi - s->map_lo, MADV_DONTNEED) == -1)
		log_debug("store: madvise: %s", strerror(errno));
}

/*
 * heap_release - the same for the heap: the documents that went into the
 * store passed through buffers of up to a frame, which glibc keeps in its
 * arenas (one per thread) once freed (comityd keeps buffers of up to 4
 * MiB in them: heap_policy() in comityd.c).  Handed back at most every
 * STORE_TRIM_MS, and once more that long after the last call: a stream
 * of documents reuses the same memory instead of the kernel clearing
 * fresh pages for each buffer of each one (a third of the daemons' CPU
 * for 1 MiB documents), and the daemon goes back to its small footprint
 * once it is over.
 */
static void
heap_release(struct store *s)
{
	uint64_t	now = mono_ms(), left;
	struct timeval	tv;

	if (now - s->trimmed_ms >= STORE_TRIM_MS) {
		malloc_trim(0);
		s->trimmed_ms = now;
		return;
	}
	if (s->trim_ev == NULL || evtimer_pending(s->trim_ev, NULL))
		return;
	left = STORE_TRIM_MS - (now - s->trimmed_ms);
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000 * 1000);
	if (evtimer_add(s->trim_ev, &tv) == -1)
		log_warnx("store: cannot arm the heap release timer");
}

static void
trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store	*s = arg;

	(void)fd;
	(void)what;
	malloc_trim(0);
	s->trimmed_ms = mono_ms();
}

void
store_forget(struct store *s, const void *val, size_t len)
{
	uintptr_t	lo = (uintptr_t)val, hi = lo + len;
	long		pg = sysconf(_SC_PAGESIZE);

	if (pg <= 0 || lo < s->map_lo || hi > s->map_hi || hi < lo)
		return;		/* not (or no longer) in the map */
	lo = (lo + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	hi &= ~((uintptr_t)pg - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/*
 * flush_chunks - commit the first TOTAL queued ops, BATCH_MAX_OPS per txn;
 * with GATHER, only as far as gather_us() allows
 */
static int
flush_chunks(struct store *s, size_t total, int gather)
{
	struct store_op	*ops, *op, *next;
	size_t		 n;
	uint64_t	 bytes;
	int		 rc, first_rc = 0, urgent;

	if (s->flushing)
		return 0;
	s->flushing = 1;
	while (total > 0 && s->npending > 0 &&
	    (!gather || gather_us(s) == 0)) {
		urgent = s->uhead != NULL;
		ops = take(s, total < BATCH_MAX_OPS ? total : BATCH_MAX_OPS,
		    &n);
		total -= n;
		bytes = s->put_bytes;
		rc = run_batch(s, ops);
		if (!urgent) {
			s->last_ops = n;
			/* (a release meanwhile restarts the count: the commit
			 * then looks large, and nothing waits) */
			s->last_bytes = s->put_bytes - bytes;
		}
		if (rc != 0 && first_rc == 0)
			first_rc = rc;
		/*
		 * The list was taken off the queue first: what a done()
		 * adds goes to a later batch.
		 */
		for (op = ops; op != NULL; op = next) {
			next = op->next;
			if (op->done != NULL)
				op->done(op->arg, op->rc);
			free(op);
		}
		/* the wait counts from normal commits: urgent ones, however
		 * many, do not hold the others back */
		if (!urgent)
			s->last_end_us = mono_us();
	}
	s->flushing = 0;
	release_map(s);
	if (s->npending > 0 && s->ev != NULL && !s->ev_active) {
		struct timeval now = { 0, (suseconds_t)gather_us(s) };

		/*
		 * A zero timeout rather than event_active(): it fires after
		 * the next poll, so I/O that became ready meanwhile is
		 * handled (and batched) before the rest is committed.  Under
		 * load, the gathering delay instead.
		 */
		s->ev_active = now.tv_usec == 0;
		if (event_add(s->ev, &now) == -1)
			event_active(s->ev, EV_TIMEOUT, 0);
	}
	return first_rc;
}

int
store_batch_flush(struct store *s)
{
	/* the ops queued now; those added by done() wait for the next call */
	return flush_chunks(s, s->npending, 0);
}

static void
store_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	s->ev_active = 0;
	/*
	 * One transaction per pass, so I/O gets a turn between big batches.
	 * The gathering timer may fire a clock tick early (libevent's clock
	 * is the coarse one): the rest of the wait is then armed again.
	 */
	flush_chunks(s, BATCH_MAX_OPS, 1);
}

int
store_read_begin(struct store *s, struct store_txn **out)
{
	struct store_txn	*t;
	int			 mrc;

	*out = NULL;
	if ((t = s->rcache) != NULL) {
		s->rcache = NULL;
		if ((mrc = mdb_txn_renew(t->txn)) == 0)
			goto ok;
		mdb_txn_abort(t->txn);
		free(t);
	}
	t = xcalloc(1, sizeof(*t));
	t->s = s;
	t->rdonly = 1;
	if ((mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t->txn)) != 0) {
		free(t);
		return map_err(s, mrc, "begin read txn");
	}
ok:
	s->nreaders++;
	*out = t;
	return 0;
}

void
store_read_end(struct store_txn *t)
{
	struct store *s;

	if (t == NULL)
		return;
	s = t->s;
	s->nreaders--;
	if (s->rcache == NULL) {
		mdb_txn_reset(t->txn);
		s->rcache = t;
	} else {
		mdb_txn_abort(t->txn);
		free(t);
	}
	release_map(s);		/* a listing or an export reads much */
}

static int
keyval_ok(const void *key, size_t klen)
{
	return key != NULL && klen > 0 && klen <= 511;
}

int
store_get(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void **val, size_t *vlen)
{
	MDB_val	 k, v;
	int	 mrc;

	if (!db_ok(db) || !keyval_ok(key, klen))
		return COMITY_EINVAL;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if ((mrc = mdb_get(t->txn, t->s->dbi[db], &k, &v)) != 0)
		return map_err(t->s, mrc, "get");
	if (val != NULL)
		*val = v.mv_data;
	if (vlen != NULL)
		*vlen = v.mv_size;
	return 0;
}

int
store_put(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val	 k, v;
	int	 mrc;

	if (!db_ok(db) || !keyval_ok(key, klen) || t->rdonly ||
	    (val == NULL && vlen > 0))
		return COMITY_EINVAL;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = (void *)val;
	v.mv_size = vlen;
	if ((mrc = mdb_put(t->txn, t->s->dbi[db], &k, &v, 0)) != 0)
		return map_err(t->s, mrc, "put");
	t->s->put_bytes += vlen;
	return 0;
}

int
store_del(struct store_txn *t, enum store_db db, const void *key,
    size_t klen)
{
	MDB_val	 k;
	int	 mrc;

	if (!db_ok(db) || !keyval_ok(key, klen) || t->rdonly)
		return COMITY_EINVAL;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if ((mrc = mdb_del(t->txn, t->s->dbi[db], &k, NULL)) != 0)
		return map_err(t->s, mrc, "del");
	return 0;
}

int
store_count(struct store_txn *t, enum store_db db, uint64_t *n)
{
	MDB_stat	st;
	int		mrc;

	if (!db_ok(db))
		return COMITY_EINVAL;
	if ((mrc = mdb_stat(t->txn, t->s->dbi[db], &st)) != 0)
		return map_err(t->s, mrc, "stat");
	*n = st.ms_entries;
	return 0;
}

int
store_cursor_open(struct store_txn *t, enum store_db db,
    struct store_cursor **out)
{
	MDB_cursor	*c;
	int		 mrc;

	*out = NULL;
	if (!db_ok(db))
		return COMITY_EINVAL;
	if ((mrc = mdb_cursor_open(t->txn, t->s->dbi[db], &c)) != 0)
		return map_err(t->s, mrc, "cursor open");
	*out = xmalloc(sizeof(**out));
	(*out)->c = c;
	return 0;
}

static int
cursor_get(struct store_cursor *c, MDB_val *key, MDB_cursor_op op,
    const void **k, size_t *kl, const void **v, size_t *vl)
{
	MDB_val	val;
	int	mrc;

	if ((mrc = mdb_cursor_get(c->c, key, &val, op)) != 0)
		return map_err(NULL, mrc, "cursor get");
	if (k != NULL)
		*k = key->mv_data;
	if (kl != NULL)
		*kl = key->mv_size;
	if (v != NULL)
		*v = val.mv_data;
	if (vl != NULL)
		*vl = val.mv_size;
	return 0;
}

int
store_cursor_seek(struct store_cursor *c, const void *key, size_t klen,
    const void **k, size_t *kl, const void **v, size_t *vl)
{
	MDB_val	mk;

	if (key == NULL || klen == 0) {
		memset(&mk, 0, sizeof(mk));
		return cursor_get(c, &mk, MDB_FIRST, k, kl, v, vl);
	}
	if (klen > 511)
		return COMITY_EINVAL;
	mk.mv_data = (void *)key;
	mk.mv_size = klen;
	return cursor_get(c, &mk, MDB_SET_RANGE, k, kl, v, vl);
}

int
store_cursor_next(struct store_cursor *c, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	MDB_val mk = { 0, NULL };

	return cursor_get(c, &mk, MDB_NEXT, k, kl, v, vl);
}

int
store_cursor_last(struct store_cursor *c, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	MDB_val mk = { 0, NULL };

	return cursor_get(c, &mk, MDB_LAST, k, kl, v, vl);
}

int
store_cursor_prev(struct store_cursor *c, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	MDB_val mk = { 0, NULL };

	return cursor_get(c, &mk, MDB_PREV, k, kl, v, vl);
}

void
store_cursor_close(struct store_cursor *c)
{
	if (c == NULL)
		return;
	mdb_cursor_close(c->c);
	free(c);
}

int
store_get_count(struct store_txn *t, const char *name, uint64_t *v)
{
	const void	*p;
	size_t		 vl, nl;
	int		 rc;

	*v = 0;
	if (name == NULL || (nl = strlen(name)) == 0 || nl > 511)
		return COMITY_EINVAL;
	if ((rc = store_get(t, DB_META, name, nl, &p, &vl)) != 0)
		return rc == COMITY_ENOTFOUND ? 0 : rc;
	if (vl != 8) {
		log_error("store: counter %s has %zu bytes", name, vl);
		return COMITY_ECORRUPT;
	}
	*v = store_get_u64be(p);
	return 0;
}

int
store_add_count(struct store_txn *t, const char *name, int64_t delta)
{
	unsigned char	buf[8];
	uint64_t	cur;
	int		rc;

	if ((rc = store_get_count(t, name, &cur)) != 0)
		return rc;
	if (delta < 0)
		cur = (uint64_t)-delta > cur ? 0 : cur - (uint64_t)-delta;
	else
		cur += (uint64_t)delta;
	store_u64be(buf, cur);
	return store_put(t, DB_META, name, strlen(name), buf, sizeof(buf));
}

int
store_next_seq(struct store_txn *t, const char *name, uint64_t *seq)
{
	const void	*v;
	size_t		 vl, nl;
	unsigned char	 buf[8];
	uint64_t	 cur = 0;
	int		 rc;

	if (name == NULL || (nl = strlen(name)) == 0 || nl > 511)
		return COMITY_EINVAL;
	rc = store_get(t, DB_META, name, nl, &v, &vl);
	if (rc == 0) {
		if (vl != 8) {
			log_error("store: counter %s has %zu bytes", name, vl);
			return COMITY_ECORRUPT;
		}
		cur = store_get_u64be(v);
	} else if (rc != COMITY_ENOTFOUND)
		return rc;
	if (cur == UINT64_MAX)
		return COMITY_EINTERNAL;
	store_u64be(buf, cur + 1);
	if ((rc = store_put(t, DB_META, name, nl, buf, sizeof(buf))) != 0)
		return rc;
	*seq = cur + 1;
	return 0;
}

int
store_quarantine(struct store_txn *t, enum store_db db, const void *key,
    size_t klen)
{
	const void	*v;
	void		*copy = NULL;
	unsigned char	 qkey[511];
	size_t		 vl, ql;
	int		 rc;

	if (!db_ok(db) || db == DB_CORRUPT || !keyval_ok(key, klen))
		return COMITY_EINVAL;
	if ((rc = store_get(t, db, key, klen, &v, &vl)) != 0)
		return rc;
	/* The value lives in the map; our own put may move it. */
	if (vl > 0)
		copy = xmemdup(v, vl);
	/* db(1) || key, cut to LMDB's key limit if the key was that long */
	ql = klen + 1 > sizeof(qkey) ? sizeof(qkey) : klen + 1;
	qkey[0] = (unsigned char)db;
	memcpy(qkey + 1, key, ql - 1);
	rc = store_put(t, DB_CORRUPT, qkey, ql, copy, vl);
	free(copy);
	if (rc != 0)
		return rc;
	if ((rc = store_del(t, db, key, klen)) != 0)
		return rc;
	log_warnx("store: quarantined a record of %s (%zu bytes)",
	    db_names[db], vl);
	return 0;
}

uint64_t
store_map_size(const struct store *s)
{
	return s->map_size;
}
