/*
 * bulk.c - the bulk scenario: COUNT requests of SIZE bytes from the
 * sender to the receiver, submitted as fast as the daemon commits them by
 * CLIENTS threads, each on its own connection (as several officers and
 * case-management systems would: one connection waits for each commit,
 * so concurrent ones are what lets the daemon group commits), then waited
 * for until every one is DELIVERED at the sender.
 *
 * Throughput and latency come from the sender daemon's own per-state
 * times (submitted_at, delivered_at), read back through comity_list(), so
 * the polling of this program does not enter them.  While waiting, the
 * cheap comity_peers() backlog of the receiver (queued + in flight) says
 * when to read the outbox; the outbox is also read every
 * BULK_COLLECT_EVERY_MS in case that count and the items disagree.
 *
 * The daemons' peak RSS (T7) is read when the backlog first reaches 0,
 * before this program reads the whole outbox: what a listing that large
 * costs is the reader's doing, not the traffic's.  Their peak at the
 * end, the listing included, is given beside it.  So is the CPU
 * time the daemons used from the first submit to then, per request, by
 * event loop and by the other threads (crypto): a figure that moves far
 * less than a rate on a shared machine, and says where a change went.
 *
 * The documents scenario (T4) is the same with documents of 1 MiB.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BULK_POLL_MS		100
#define BULK_COLLECT_EVERY_MS	60000
#define BULK_PROGRESS_MS	2000
#define BULK_EAGAIN_SLEEP_MS	5
#define BULK_CASE_REF_MAX	64

struct bulk_item {
	char	 id[33];
	int	 state;
	int64_t	 submitted_at;		/* the daemon's times, ns */
	int64_t	 delivered_at;
};

struct bulk {
	const char		*name;		/* the scenario, for messages */
	const struct run_args	*args;
	const struct daemon	*sender, *receiver;
	comity_conn		*conn;
	struct bulk_item	*items;		/* sorted by id once submitted */
	size_t			 n;		/* submitted so far */
	uint8_t			*doc;		/* the document, args->size bytes */
	int64_t			 deadline;	/* monotonic ns */
	int64_t			 submit_ns;	/* client time of all submits */
	pthread_mutex_t		 lock;		/* eagain */
	size_t			 delivered;	/* from the last collect */
	size_t			 failed;	/* REJECTED/EXPIRED/CANCELLED */
	unsigned long		 eagain;	/* "busy, try again" answers */
	json_t			*rss_peak;	/* VmHWM, RssAnon by role, */
	json_t			*rss_anon;	/* before the last listing */
	struct net_cpu		 cpu_start;	/* the daemons' CPU before */
	json_t			*cpu;		/* and per message, by then */
};

/* One submitting thread: items FIRST, FIRST + STEP, ... on its own
 * connection. */
struct submitter {
	struct bulk	*bk;
	pthread_t	 thread;
	comity_conn	*conn;
	size_t		 first, step;
	size_t		 done;
	int		 rc;
};

static int
bulk_fail(struct bulk *bk, const char *what, int rc)
{
	bench_log("%s: %s: %s%s%s", bk->name, what, comity_strerror(rc),
	    bk->conn != NULL && comity_errmsg(bk->conn)[0] != '\0' ? ": " : "",
	    bk->conn != NULL ? comity_errmsg(bk->conn) : "");
	return -1;
}

/* Stop waiting? Interrupted, out of time or a daemon gone. */
static int
bulk_stopped(struct bulk *bk, struct net *net, const char *phase)
{
	if (bench_interrupted) {
		bench_log("%s: interrupted while %s", bk->name, phase);
		return 1;
	}
	if (now_ns() > bk->deadline) {
		bench_log("%s: still %s after %u s (--timeout)", bk->name,
		    phase, bk->args->timeout_s);
		return 1;
	}
	return net_check(net) != 0;
}

/* Stop submitting? Interrupted or out of time (any thread). */
static int
submit_stopped(struct bulk *bk)
{
	return bench_interrupted || now_ns() > bk->deadline;
}

/*
 * submit_some - requests IDX[0..N) (their ids into bk->items), with one
 * comity_submit() each when N is 1, else one comity_submit_batch(); a
 * "try later" is retried.  0, or -1 after saying why.
 */
static int
submit_some(struct bulk *bk, comity_conn *conn, const size_t *idx, size_t n)
{
	struct comity_submit		 req[COMITY_BATCH_MAX];
	struct comity_submit_result	 res[COMITY_BATCH_MAX];
	struct comity_doc		 doc[COMITY_BATCH_MAX];
	char				 ref[COMITY_BATCH_MAX][BULK_CASE_REF_MAX];
	size_t				 j;
	int				 rc;

	for (j = 0; j < n; j++) {
		snprintf(ref[j], sizeof(ref[j]), "bench-%u-%zu", bk->args->run,
		    idx[j] + 1);
		bench_request(&req[j], &doc[j], bk->receiver->id, bk->doc,
		    (size_t)bk->args->size, 0, ref[j]);
	}
	for (;;) {
		if (n == 1)
			rc = comity_submit(conn, &req[0], bk->items[idx[0]].id,
			    NULL);
		else if ((rc = comity_submit_batch(conn, req, n, res)) == 0) {
			/* a batch is answered: each request has its outcome */
			for (j = 0; j < n && res[j].error == 0; j++)
				memcpy(bk->items[idx[j]].id, res[j].id,
				    sizeof(res[j].id));
			if (j < n)
				rc = res[j].error;
		}
		if (rc != COMITY_EAGAIN)
			break;
		pthread_mutex_lock(&bk->lock);
		bk->eagain++;
		pthread_mutex_unlock(&bk->lock);
		if (submit_stopped(bk))
			return -1;
		sleep_ms(BULK_EAGAIN_SLEEP_MS);
	}
	if (rc != 0) {
		bench_log("%s: submit: %s: %s", bk->name, comity_strerror(rc),
		    n > 1 && j < n ? res[j].message : comity_errmsg(conn));
		return -1;
	}
	return 0;
}

static void *
submitter_main(void *arg)
{
	struct submitter	*s = arg;
	struct bulk		*bk = s->bk;
	size_t			 i, n, idx[COMITY_BATCH_MAX];

	for (i = s->first; i < (size_t)bk->args->count; ) {
		for (n = 0; n < bk->args->batch &&
		    i < (size_t)bk->args->count; n++, i += s->step)
			idx[n] = i;
		if (submit_stopped(bk) || submit_some(bk, s->conn, idx, n)
		    == -1) {
			s->rc = -1;
			break;
		}
		s->done += n;
	}
	return NULL;
}

static int
cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct bulk_item *)a)->id,
	    ((const struct bulk_item *)b)->id);
}

static int
bulk_submit(struct bulk *bk, struct net *net)
{
	struct submitter	*s;
	int64_t			 start = now_ns(), last = start;
	size_t			 count = (size_t)bk->args->count, done, i;
	unsigned		 n = bk->args->clients, started = 0;
	int			 rc = 0;

	if ((size_t)n > count)
		n = (unsigned)count;
	if ((s = calloc(n, sizeof(*s))) == NULL) {
		bench_log("%s: out of memory", bk->name);
		return -1;
	}
	bench_log("%s run %u: submitting %zu requests of %lld bytes to %s "
	    "from %u connections", bk->name, bk->args->run, count,
	    bk->args->size, bk->receiver->id, n);
	for (i = 0; i < n; i++) {
		int crc;

		s[i].bk = bk;
		s[i].first = i;
		s[i].step = n;
		if ((crc = comity_connect(bk->sender->sock, &s[i].conn)) != 0) {
			bench_log("%s: connect %s: %s", bk->name,
			    bk->sender->sock, comity_strerror(crc));
			rc = -1;
			goto join;
		}
	}
	start = last = now_ns();
	for (i = 0; i < n; i++) {
		if (pthread_create(&s[i].thread, NULL, submitter_main,
		    &s[i]) != 0) {
			bench_log("%s: cannot start a submitting thread",
			    bk->name);
			bk->deadline = 0;	/* stops the others */
			rc = -1;
			break;
		}
		started++;
	}
	/* progress, and a daemon that died, while the threads submit */
	for (;;) {
		for (done = 0, i = 0; i < started; i++)
			done += __atomic_load_n(&s[i].done, __ATOMIC_RELAXED);
		if (done >= count || rc == -1)
			break;
		if (bulk_stopped(bk, net, "submitting")) {
			bk->deadline = 0;
			break;
		}
		if (now_ns() - last >= (int64_t)BULK_PROGRESS_MS * 1000000) {
			last = now_ns();
			bench_log("%s run %u: submitted %zu of %zu", bk->name,
			    bk->args->run, done, count);
		}
		sleep_ms(10);
	}
join:
	for (i = 0; i < started; i++)
		pthread_join(s[i].thread, NULL);
	bk->submit_ns = now_ns() - start;
	for (i = 0; i < n; i++) {
		if (s[i].rc != 0)
			rc = -1;
		comity_close(s[i].conn);
	}
	free(s);
	if (rc != 0)
		return -1;
	bk->n = count;
	if (bk->eagain > 0)
		bench_log("%s run %u: the daemon said \"try again\" %lu "
		    "times", bk->name, bk->args->run, bk->eagain);
	qsort(bk->items, bk->n, sizeof(*bk->items), cmp_item);
	return 0;
}

static int
collect_cb(const struct comity_item *it, void *arg)
{
	struct bulk		*bk = arg;
	struct bulk_item	 key, *p;

	memcpy(key.id, it->id, sizeof(key.id));
	p = bsearch(&key, bk->items, bk->n, sizeof(*bk->items), cmp_item);
	if (p == NULL)
		return 0;
	p->state = it->state;
	p->submitted_at = it->submitted_at;
	p->delivered_at = it->delivered_at;
	if (it->state == COMITY_STATE_DELIVERED ||
	    it->state == COMITY_STATE_RETRIEVED)
		bk->delivered++;
	else if (it->state == COMITY_STATE_REJECTED ||
	    it->state == COMITY_STATE_EXPIRED ||
	    it->state == COMITY_STATE_CANCELLED)
		bk->failed++;
	return 0;
}

/* Read the whole outbox: every item's state and times. */
static int
bulk_collect(struct bulk *bk)
{
	struct comity_list_opts	opts;
	int			rc;

	memset(&opts, 0, sizeof(opts));
	opts.box = COMITY_BOX_OUT;
	opts.page_size = 1000;
	bk->delivered = bk->failed = 0;
	if ((rc = comity_list(bk->conn, &opts, collect_cb, bk)) != 0)
		return bulk_fail(bk, "outbox", rc);
	return 0;
}

/* The receiver's backlog at the sender: items queued or in flight. */
static int
bulk_backlog(struct bulk *bk, uint64_t *backlog)
{
	struct comity_peer	*peers;
	size_t			 n, i;
	int			 rc;

	if ((rc = comity_peers(bk->conn, &peers, &n)) != 0)
		return bulk_fail(bk, "peers", rc);
	*backlog = UINT64_MAX;
	for (i = 0; i < n; i++)
		if (strcmp(peers[i].id, bk->receiver->id) == 0)
			*backlog = peers[i].queued + peers[i].in_flight;
	comity_free(peers);
	if (*backlog == UINT64_MAX) {
		bench_log("%s: %s is not among the sender's peers", bk->name,
		    bk->receiver->id);
		return -1;
	}
	return 0;
}

static int
bulk_wait(struct bulk *bk, struct net *net)
{
	uint64_t	backlog = 0;
	int64_t		last_collect, last_progress;

	last_collect = last_progress = now_ns();
	for (;;) {
		if (bulk_stopped(bk, net, "waiting for DELIVERED"))
			break;
		if (bulk_backlog(bk, &backlog) == -1)
			return -1;
		/* the traffic is over: its memory, before we list */
		if (backlog == 0 && bk->rss_peak == NULL) {
			struct net_cpu	now;

			if (net_cpu(net, &now) == -1 || (bk->cpu =
			    net_cpu_per_msg(net, &bk->cpu_start, &now,
			    bk->n)) == NULL ||
			    (bk->rss_peak = net_rss(net, "VmHWM")) == NULL ||
			    (bk->rss_anon = net_rss(net, "RssAnon")) == NULL)
				return -1;
		}
		if (backlog == 0 || now_ns() - last_collect >=
		    (int64_t)BULK_COLLECT_EVERY_MS * 1000000) {
			if (bulk_collect(bk) == -1)
				return -1;
			last_collect = now_ns();
			if (bk->delivered == bk->n)
				return 0;
			if (bk->failed > 0) {
				bench_log("%s: %zu requests ended REJECTED, "
				    "EXPIRED or CANCELLED", bk->name,
				    bk->failed);
				return -1;
			}
		}
		if (now_ns() - last_progress >=
		    (int64_t)BULK_PROGRESS_MS * 1000000) {
			last_progress = now_ns();
			bench_log("%s run %u: %llu of %zu queued or in "
			    "flight", bk->name, bk->args->run,
			    (unsigned long long)backlog, bk->n);
		}
		sleep_ms(BULK_POLL_MS);
	}
	/* say how far it got */
	if (bk->conn != NULL && bulk_collect(bk) == 0)
		bench_log("%s: %zu of %zu delivered", bk->name,
		    bk->delivered, bk->n);
	return -1;
}

static double
ns_to_ms(double ns)
{
	return stats_round(ns / 1e6, 3);
}

/* The figures of a complete run into OUT. */
static int
bulk_report(struct bulk *bk, json_t *out)
{
	int64_t	*lat, first = INT64_MAX, last = 0;
	double	 secs, n = (double)bk->n;
	size_t	 i;

	if ((lat = calloc(bk->n, sizeof(*lat))) == NULL) {
		bench_log("%s: out of memory", bk->name);
		return -1;
	}
	for (i = 0; i < bk->n; i++) {
		const struct bulk_item *it = &bk->items[i];

		if (it->submitted_at <= 0 || it->delivered_at < it->submitted_at) {
			bench_log("%s: %s has submitted_at %lld and "
			    "delivered_at %lld", bk->name, it->id,
			    (long long)it->submitted_at,
			    (long long)it->delivered_at);
			free(lat);
			return -1;
		}
		if (it->submitted_at < first)
			first = it->submitted_at;
		if (it->delivered_at > last)
			last = it->delivered_at;
		lat[i] = it->delivered_at - it->submitted_at;
	}
	secs = (double)(last - first) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	json_object_set_new(out, "count", json_integer((json_int_t)bk->n));
	json_object_set_new(out, "size", json_integer(bk->args->size));
	json_object_set_new(out, "seconds", json_real(stats_round(secs, 3)));
	json_object_set_new(out, "msgs_per_s",
	    json_real(stats_round(n / secs, 1)));
	json_object_set_new(out, "mb_per_s", json_real(stats_round(n *
	    (double)bk->args->size / secs / 1e6, 3)));
	json_object_set_new(out, "p50_ms",
	    json_real(ns_to_ms(stats_percentile(lat, bk->n, 50))));
	json_object_set_new(out, "p99_ms",
	    json_real(ns_to_ms(stats_percentile(lat, bk->n, 99))));
	json_object_set_new(out, "submit_per_s", json_real(stats_round(n /
	    ((double)(bk->submit_ns > 0 ? bk->submit_ns : 1) / 1e9), 1)));
	json_object_set_new(out, "clients", json_integer(bk->args->clients));
	json_object_set_new(out, "batch", json_integer(bk->args->batch));
	free(lat);
	return 0;
}

static int
bulk_go(const char *name, struct net *net, const struct run_args *a,
    json_t *out)
{
	struct bulk	 bk;
	json_t		*end;
	int		 rc = -1, crc;

	memset(&bk, 0, sizeof(bk));
	pthread_mutex_init(&bk.lock, NULL);
	bk.name = name;
	bk.args = a;
	bk.sender = &net->d[NET_SENDER];
	bk.receiver = &net->d[NET_RECEIVER];
	bk.deadline = now_ns() + (int64_t)a->timeout_s * 1000000000;
	bk.items = calloc((size_t)a->count, sizeof(*bk.items));
	bk.doc = bench_doc((size_t)a->size);
	if (bk.items == NULL || bk.doc == NULL) {
		bench_log("%s: out of memory for %lld requests of %lld "
		    "bytes", name, a->count, a->size);
		goto out;
	}
	if ((crc = comity_connect(bk.sender->sock, &bk.conn)) != 0) {
		bulk_fail(&bk, bk.sender->sock, crc);
		goto out;
	}
	if (net_cpu(net, &bk.cpu_start) == -1 ||
	    bulk_submit(&bk, net) == -1 || bulk_wait(&bk, net) == -1 ||
	    bulk_report(&bk, out) == -1)
		goto out;
	if (bk.cpu != NULL)
		json_object_set(out, "cpu_ms_per_msg", bk.cpu);
	/* else the runner reads them, as for other scenarios */
	if (bk.rss_peak != NULL) {
		json_object_set(out, "rss_peak_kib", bk.rss_peak);
		json_object_set(out, "rss_anon_kib", bk.rss_anon);
		if ((end = net_rss(net, "VmHWM")) == NULL)
			goto out;
		json_object_set_new(out, "rss_peak_end_kib", end);
	}
	rc = 0;
out:
	json_decref(bk.rss_peak);
	json_decref(bk.rss_anon);
	json_decref(bk.cpu);
	comity_close(bk.conn);
	pthread_mutex_destroy(&bk.lock);
	free(bk.items);
	free(bk.doc);
	return rc;
}

int
bulk_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	(void)b;
	return bulk_go("bulk", net, a, out);
}

int
documents_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	(void)b;
	return bulk_go("documents", net, a, out);
}
