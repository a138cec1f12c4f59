/*
 * store.h - the durable store: LMDB behind a small API.
 *
 * Owns the LMDB environment.  Only this module begins and commits
 * transactions.  Writes go through the batch: callers add operations
 * (apply + done) and the store runs them all in one write transaction
 * with one fsync'd commit (group commit), each operation inside its own
 * nested transaction so that one failing operation does not spoil the
 * others.  `done` runs after the commit, with the operation's outcome:
 * only then may a caller acknowledge anything.
 *
 * Invariants:
 *  - default LMDB flags (fsync on commit; never NOSYNC/WRITEMAP);
 *  - a second process on the same store is refused (flock on "lock");
 *  - MDB_MAP_FULL: the batch is aborted, the map grown (no txn open) as
 *    far as the disk allows, and the batch replayed once, so `apply` must
 *    touch nothing outside the transaction;
 *  - a commit failing with EIO on a full file system is reported as
 *    COMITY_ESTOREFULL to every operation; any other commit failure or
 *    MDB_PANIC ends the process (exit 75): a failed fsync is never
 *    retried as if it had worked.
 * Values returned by get/cursor calls are borrowed from LMDB and valid
 * only until the transaction ends: copy or decode them first.
 */
#ifndef COMITY_STORE_H
#define COMITY_STORE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;
struct store_txn;
struct store_cursor;

/* The named databases.  Never renumber: names are stored in the env. */
enum store_db {
	DB_META = 0,	/* misc: schema version, audit head, counters */
	DB_OUT,		/* envelope id (16) -> OutItem */
	DB_OUTLOG,	/* u64be log_seq -> envelope id: outbox in order */
	DB_OUTQ,	/* peer \0 prio(1) u64be seq -> envelope id: send queue */
	DB_IDEM,	/* idempotency key -> envelope id */
	DB_IN,		/* envelope id (16) || from -> InItem (also the dedup index) */
	DB_INLOG,	/* u64be log_seq -> DB_IN key: inbox in order */
	DB_CTLQ,	/* peer \0 u64be seq -> CtlItem: receipts to send back */
	DB_AUDIT,	/* u64be seq -> AuditRecord */
	DB_CORRUPT,	/* quarantined undecodable records: db(1) || key -> value */
	DB_BLOB,	/* 'o' || id, or 'i' || id || from -> sealed envelope body */
	DB_EXPQ,	/* u64be at_ns || envelope id -> "": when to look at an
			 * outbox item with an expiry next (see queue.h) */
	DB_URGQ,	/* u64be received_at || envelope id || from -> "": urgent
			 * inbox requests that may still need an escalation
			 * (see urgent.h) */
	DB__COUNT
};

/* exit status when the store cannot go on (EX_TEMPFAIL) */
#define STORE_EXIT_FATAL	75

typedef int	(*store_apply_fn)(struct store_txn *, void *arg);
typedef void	(*store_done_fn)(void *arg, int rc);

/*
 * store_open - open (creating if needed, mode 0700) the store directory
 * DIR with an initial map of map_size bytes.  Refuses with
 * COMITY_EAGAIN ("store in use") when another process holds it.
 * Returns 0 or a negative COMITY_E* with the reason in err.
 */
int	store_open(const char *dir, uint64_t map_size, struct store **out,
	    char *err, size_t errlen);
/* store_close - flush nothing, abort nothing pending (the batch must be
 * empty), close the env and release the lock.  NULL is a no-op. */
void	store_close(struct store *);

/* store_set_event_base - commit batches from a deferred event on BASE
 * (priority 1: after the I/O of the current loop iteration).  Without a
 * base, callers must call store_batch_flush() themselves. */
void	store_set_event_base(struct store *, struct event_base *base);

/* store_batch_add - queue an operation for the next group commit.  ARG is
 * borrowed until done() has run; done may be NULL. */
void	store_batch_add(struct store *, store_apply_fn apply,
	    store_done_fn done, void *arg);
/* store_batch_add_urgent - the same, committed before every operation
 * queued with store_batch_add() (in order among the urgent ones): for
 * the steps of urgent requests, so that they never wait for a backlog's
 * commits. */
void	store_batch_add_urgent(struct store *, store_apply_fn apply,
	    store_done_fn done, void *arg);
/* store_batch_flush - run and commit the queued operations now; calls
 * every done().  Returns the commit's outcome (0 or COMITY_E*). */
int	store_batch_flush(struct store *);
/* store_batch_pending - number of queued operations */
size_t	store_batch_pending(const struct store *);

/* store_read_begin - a short read-only transaction; end it with
 * store_read_end() before returning to the event loop. */
int	store_read_begin(struct store *, struct store_txn **);
void	store_read_end(struct store_txn *);

/* get/put/del in a transaction.  get returns COMITY_ENOTFOUND when absent;
 * the value is borrowed (valid until the transaction ends). */
int	store_get(struct store_txn *, enum store_db, const void *key,
	    size_t klen, const void **val, size_t *vlen);
int	store_put(struct store_txn *, enum store_db, const void *key,
	    size_t klen, const void *val, size_t vlen);
int	store_del(struct store_txn *, enum store_db, const void *key,
	    size_t klen);
/* store_count - number of entries in DB */
int	store_count(struct store_txn *, enum store_db, uint64_t *n);

/* Cursors (borrowed keys and values, valid until the next cursor call or
 * the transaction's end).  Each returns 0, COMITY_ENOTFOUND at the end,
 * or an error. */
int	store_cursor_open(struct store_txn *, enum store_db,
	    struct store_cursor **);
/* store_cursor_seek - position at the first key >= KEY (KEY NULL = first) */
int	store_cursor_seek(struct store_cursor *, const void *key, size_t klen,
	    const void **k, size_t *kl, const void **v, size_t *vl);
int	store_cursor_next(struct store_cursor *, const void **k, size_t *kl,
	    const void **v, size_t *vl);
/* store_cursor_last - position at the last key */
int	store_cursor_last(struct store_cursor *, const void **k, size_t *kl,
	    const void **v, size_t *vl);
int	store_cursor_prev(struct store_cursor *, const void **k, size_t *kl,
	    const void **v, size_t *vl);
void	store_cursor_close(struct store_cursor *);

/* store_next_seq - read-increment-write the named u64 counter in DB_META
 * (first value 1) inside the caller's write transaction. */
int	store_next_seq(struct store_txn *, const char *name, uint64_t *seq);

/* store_add_count - add DELTA to the named u64 counter in DB_META (absent
 * = 0; never below 0) in the caller's write transaction;
 * store_get_count reads it (0 when absent). */
int	store_add_count(struct store_txn *, const char *name, int64_t delta);
int	store_get_count(struct store_txn *, const char *name, uint64_t *v);

/* store_quarantine - move DB/KEY's value to DB_CORRUPT (caller's txn). */
int	store_quarantine(struct store_txn *, enum store_db, const void *key,
	    size_t klen);

/*
 * store_forget - VAL (LEN bytes, from a read transaction) was copied out
 * and is not needed again soon: drop the whole pages of it from our
 * resident set (they stay in the page cache).  For large values: a
 * sealed document read to be sent or fetched.
 */
void	store_forget(struct store *, const void *val, size_t len);

/*
 * store_release - drop every page of the store's map from our resident
 * set now (they stay in the page cache; what a read transaction holds
 * reads back the same).  For a long read -- a listing of hundreds of
 * items -- every so many records: a kernel that maps a whole page-cache
 * folio on a fault (up to 2 MiB) brings the documents around each
 * B-tree page it touches into the resident set, and one listing of an
 * outbox of 1 MiB documents put 20 MiB more in the sender's.  Commits
 * and the end of each read transaction do it too, at most every few ms.
 */
void	store_release(struct store *);

/* store_map_size - current map size in bytes */
uint64_t store_map_size(const struct store *);

/* u64be helpers for keys */
void	 store_u64be(unsigned char out[8], uint64_t v);
uint64_t store_get_u64be(const unsigned char in[8]);

#endif /* COMITY_STORE_H */
