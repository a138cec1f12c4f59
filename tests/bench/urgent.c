/*
 * urgent.c - the urgent scenario (T3 of shared/TARGETS.md): bulk traffic
 * saturates the link from the sender to the receiver while one urgent
 * request is submitted every URGENT_INTERVAL_MS; COUNT urgent requests.
 *
 * Bulk: --clients threads, each on its own connection, submit normal
 * requests of SIZE bytes back to back, --batch to a call (as bulk.c
 * does), faster than the link carries them, from before the
 * first urgent request (URGENT_WARMUP_MS, so a backlog has formed) until
 * the last urgent one is DELIVERED.  Just before each urgent submit, the
 * sender's queue to the receiver is read with comity_peers(): how many
 * normal items wait to be sent, how many items are in flight.
 *
 * Figures: the urgent requests' submit -> DELIVERED from the sender's
 * own times, and the bulk rate in the window from the first urgent
 * submitted_at to the last urgent delivered_at (normal items whose
 * delivered_at falls in it, read from the outbox afterwards).
 *
 * The floor under the same load: an urgent request cannot be DELIVERED
 * before three durable commits have ended one after the other (the
 * sender's submit, the receiver's store, the sender's receipt).  A probe
 * thread times one durable commit of one put on a scratch store beside
 * the daemons' (commit_probe, fsync.c) every URGENT_INTERVAL_MS from
 * half an interval after the first urgent submit, while the bulk runs:
 * commit_p50_ms and commit_p99_ms, and floor_p99_ms, the p99 of the sum
 * of three such commits drawn independently from the probes -- what
 * those three commits alone take under this load, with nothing else to
 * do.  target.c holds it against T3's allowance: when the floor is
 * above it, no daemon on this machine meets T3 under this load.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define URGENT_INTERVAL_MS	100
#define URGENT_WARMUP_MS	1000
#define URGENT_POLL_MS		10
#define URGENT_PROGRESS_MS	2000
#define URGENT_BULK_MAX		2000000LL	/* normal requests, all threads */
#define URGENT_CASE_REF_MAX	64
#define URGENT_EAGAIN_SLEEP_MS	5	/* after a "busy" answer */
#define URGENT_FLOOR_COMMITS	3	/* durable commits on the path */
#define URGENT_FLOOR_DRAWS	100000	/* sums drawn for floor_p99_ms */

struct urgent_item {
	char	 id[33];
	int	 state;
	int64_t	 submitted_at;		/* the sender daemon's times, ns */
	int64_t	 sent_at;
	int64_t	 delivered_at;
	int64_t	 backlog;		/* normal items queued at submit */
	int64_t	 in_flight;		/* items in flight at submit */
};

struct urgent {
	const struct run_args	*args;
	const char		*sock;		/* the sender's */
	const struct daemon	*receiver;
	comity_conn		*conn;		/* urgent submits, queries */
	uint8_t			*doc;
	int64_t			 deadline;	/* monotonic ns */
	struct urgent_item	*items;
	size_t			 submitted;	/* urgent ones so far */
	int			 stop;		/* bulk threads: stop (atomic) */
	unsigned long long	 bulk_submitted; /* (atomic) */
	/* from the outbox, once over */
	int64_t			 win_start, win_end;
	int64_t			*bulk_lat;	/* normal items in the window */
	size_t			 nbulk, bulk_cap;
	int			 oom;
	/* the commit probe (its thread's until joined) */
	struct commit_probe	 probe;
	int64_t			*probe_lat;	/* ns, COUNT at most */
	size_t			 nprobe;
	int			 probe_rc;
};

/* One bulk submitting thread on its own connection. */
struct bulk_thread {
	struct urgent	*u;
	pthread_t	 thread;
	comity_conn	*conn;
	unsigned	 idx;
	int		 rc;
};

static int
bulk_should_stop(struct urgent *u)
{
	return __atomic_load_n(&u->stop, __ATOMIC_RELAXED) ||
	    bench_interrupted || now_ns() > u->deadline;
}

/*
 * bulk_submit - N normal requests in one comity_submit_batch() (one
 * comity_submit() when N is 1), "busy" answers retried as bench_submit()
 * does; 0, or the comity error of the first request that failed.
 */
static int
bulk_submit(struct bulk_thread *t, long long first, size_t n)
{
	struct urgent			*u = t->u;
	struct comity_submit		 req[COMITY_BATCH_MAX];
	struct comity_submit_result	 res[COMITY_BATCH_MAX];
	struct comity_doc		 doc[COMITY_BATCH_MAX];
	char				 ref[COMITY_BATCH_MAX][URGENT_CASE_REF_MAX];
	char				 id[33];
	size_t				 j;
	int				 rc;

	if (n == 1) {
		snprintf(ref[0], sizeof(ref[0]), "bench-bulk-%u-%u-%lld",
		    u->args->run, t->idx, first + 1);
		return bench_submit(t->conn, u->receiver->id, u->doc,
		    (size_t)u->args->size, 0, ref[0], u->deadline, id);
	}
	for (j = 0; j < n; j++) {
		snprintf(ref[j], sizeof(ref[j]), "bench-bulk-%u-%u-%lld",
		    u->args->run, t->idx, first + (long long)j + 1);
		bench_request(&req[j], &doc[j], u->receiver->id, u->doc,
		    (size_t)u->args->size, 0, ref[j]);
	}
	for (;;) {
		if ((rc = comity_submit_batch(t->conn, req, n, res)) == 0)
			for (j = 0; j < n && rc == 0; j++)
				rc = res[j].error;
		if (rc != COMITY_EAGAIN || bulk_should_stop(u))
			return rc;
		sleep_ms(URGENT_EAGAIN_SLEEP_MS);
	}
}

static void *
bulk_thread_main(void *arg)
{
	struct bulk_thread	*t = arg;
	struct urgent		*u = t->u;
	long long		 i, max;
	size_t			 n = u->args->batch;
	int			 rc;

	max = URGENT_BULK_MAX / (long long)u->args->clients;
	for (i = 0; i + (long long)n <= max && !bulk_should_stop(u);
	    i += (long long)n) {
		rc = bulk_submit(t, i, n);
		if (rc != 0) {
			if (bulk_should_stop(u))
				break;
			t->rc = -1;
			/* the first failure says why and stops the others */
			if (__atomic_exchange_n(&u->stop, 1,
			    __ATOMIC_RELAXED) == 0)
				bench_log("urgent: bulk submit: %s: %s",
				    comity_strerror(rc),
				    comity_errmsg(t->conn));
			break;
		}
		__atomic_add_fetch(&u->bulk_submitted, n, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * probe_thread_main - one timed durable commit every URGENT_INTERVAL_MS,
 * the first half an interval after the first urgent submit, until COUNT
 * are timed or the bulk stops.
 */
static void *
probe_thread_main(void *arg)
{
	struct urgent	*u = arg;
	int64_t		 next, step = (int64_t)URGENT_INTERVAL_MS * 1000000;
	int		 rc;

	next = now_ns() + (int64_t)URGENT_WARMUP_MS * 1000000 + step / 2;
	while (u->nprobe < (size_t)u->args->count && !bulk_should_stop(u)) {
		while (now_ns() < next && !bulk_should_stop(u))
			sleep_ms(1);
		if (bulk_should_stop(u))
			break;
		/* never a burst to catch up after a stall */
		next = now_ns() + step;
		rc = commit_probe_one(&u->probe, &u->probe_lat[u->nprobe]);
		if (rc == -1) {
			/* it said why; the run is lost: stop the others */
			u->probe_rc = -1;
			__atomic_store_n(&u->stop, 1, __ATOMIC_RELAXED);
			break;
		}
		u->nprobe++;
	}
	return NULL;
}

/* Stop now?  Interrupted, out of time, a daemon gone or a bulk thread
 * failed (it said why). */
static int
urgent_stopped(struct urgent *u, struct net *net, const char *phase)
{
	if (bench_interrupted) {
		bench_log("urgent: interrupted while %s", phase);
		return 1;
	}
	if (now_ns() > u->deadline) {
		bench_log("urgent: still %s after %u s (--timeout)", phase,
		    u->args->timeout_s);
		return 1;
	}
	if (__atomic_load_n(&u->stop, __ATOMIC_RELAXED))
		return 1;
	return net_check(net) != 0;
}

/* Sleep until monotonic time UNTIL in short steps; 0, or -1 when it
 * must stop. */
static int
urgent_sleep_until(struct urgent *u, struct net *net, int64_t until,
    const char *phase)
{
	int64_t	left;

	while ((left = until - now_ns()) > 0) {
		if (urgent_stopped(u, net, phase))
			return -1;
		sleep_ms(left > (int64_t)URGENT_POLL_MS * 1000000 ?
		    URGENT_POLL_MS : (unsigned)(left / 1000000) + 1);
	}
	return 0;
}

/*
 * The sender's queue to the receiver: normal items not sent yet, items in
 * flight.  The daemon's "queued" counts every item not yet receipted, in
 * flight or not; the urgent ones in flight (a few at most) make BACKLOG
 * err low by as many.
 */
static int
urgent_backlog(struct urgent *u, int64_t *backlog, int64_t *in_flight)
{
	struct comity_peer	*peers;
	uint64_t		 busy;
	size_t			 n, i;
	int			 rc, found = 0;

	if ((rc = comity_peers(u->conn, &peers, &n)) != 0) {
		bench_log("urgent: peers: %s: %s", comity_strerror(rc),
		    comity_errmsg(u->conn));
		return -1;
	}
	for (i = 0; i < n; i++)
		if (strcmp(peers[i].id, u->receiver->id) == 0) {
			found = 1;
			busy = peers[i].queued_urgent + peers[i].in_flight;
			*backlog = peers[i].queued > busy ?
			    (int64_t)(peers[i].queued - busy) : 0;
			*in_flight = (int64_t)peers[i].in_flight;
		}
	comity_free(peers);
	if (!found) {
		bench_log("urgent: %s is not among the sender's peers",
		    u->receiver->id);
		return -1;
	}
	return 0;
}

/* COUNT urgent requests, one every URGENT_INTERVAL_MS. */
static int
urgent_submit_all(struct urgent *u, struct net *net)
{
	struct urgent_item	*it;
	char			 ref[URGENT_CASE_REF_MAX];
	int64_t			 next = now_ns(), last = next;
	int			 rc;

	for (; u->submitted < (size_t)u->args->count; u->submitted++) {
		it = &u->items[u->submitted];
		if (urgent_sleep_until(u, net, next, "submitting") == -1)
			return -1;
		next = now_ns() + (int64_t)URGENT_INTERVAL_MS * 1000000;
		if (urgent_backlog(u, &it->backlog, &it->in_flight) == -1)
			return -1;
		snprintf(ref, sizeof(ref), "bench-urgent-%u-%zu", u->args->run,
		    u->submitted + 1);
		rc = bench_submit(u->conn, u->receiver->id, u->doc,
		    (size_t)u->args->size, 1, ref, u->deadline, it->id);
		if (rc != 0) {
			bench_log("urgent: submit: %s: %s", comity_strerror(rc),
			    comity_errmsg(u->conn));
			return -1;
		}
		if (now_ns() - last >= (int64_t)URGENT_PROGRESS_MS * 1000000) {
			last = now_ns();
			bench_log("urgent run %u: %zu of %lld urgent submitted, "
			    "%lld normal waiting, %llu bulk submitted",
			    u->args->run, u->submitted + 1, u->args->count,
			    (long long)it->backlog, __atomic_load_n(
			    &u->bulk_submitted, __ATOMIC_RELAXED));
		}
	}
	return 0;
}

/* Wait until every urgent request is DELIVERED, in order (they mostly
 * are), keeping their times. */
static int
urgent_wait_all(struct urgent *u, struct net *net)
{
	struct comity_item	*ci;
	struct urgent_item	*it;
	size_t			 i = 0;
	int			 rc;

	while (i < u->submitted) {
		it = &u->items[i];
		if ((rc = comity_status(u->conn, it->id, &ci)) != 0) {
			bench_log("urgent: status %s: %s: %s", it->id,
			    comity_strerror(rc), comity_errmsg(u->conn));
			return -1;
		}
		it->state = ci->state;
		it->submitted_at = ci->submitted_at;
		it->sent_at = ci->sent_at;
		it->delivered_at = ci->delivered_at;
		if (ci->state != COMITY_STATE_QUEUED &&
		    ci->state != COMITY_STATE_SENT &&
		    ci->state != COMITY_STATE_DELIVERED &&
		    ci->state != COMITY_STATE_RETRIEVED) {
			bench_log("urgent: %s ended %s: %s", it->id,
			    comity_state_name(ci->state), ci->reason);
			comity_free(ci);
			return -1;
		}
		comity_free(ci);
		if (it->state == COMITY_STATE_DELIVERED ||
		    it->state == COMITY_STATE_RETRIEVED) {
			i++;
			continue;
		}
		if (urgent_stopped(u, net, "waiting for DELIVERED"))
			return -1;
		sleep_ms(URGENT_POLL_MS);
	}
	return 0;
}

static int
outbox_cb(const struct comity_item *it, void *arg)
{
	struct urgent	*u = arg;
	int64_t		*p;

	if (it->priority != COMITY_PRIORITY_NORMAL ||
	    (it->state != COMITY_STATE_DELIVERED &&
	    it->state != COMITY_STATE_RETRIEVED) ||
	    it->delivered_at < u->win_start || it->delivered_at > u->win_end)
		return 0;
	if (u->nbulk == u->bulk_cap) {
		u->bulk_cap = u->bulk_cap ? 2 * u->bulk_cap : 1024;
		if ((p = realloc(u->bulk_lat, u->bulk_cap * sizeof(*p))) ==
		    NULL) {
			u->oom = 1;
			return 1;
		}
		u->bulk_lat = p;
	}
	u->bulk_lat[u->nbulk++] = it->delivered_at - it->submitted_at;
	return 0;
}

/* The window of the urgent requests, and the normal items delivered in
 * it, from the outbox. */
static int
urgent_bulk_window(struct urgent *u)
{
	struct comity_list_opts	opts;
	size_t			i;
	int			rc;

	u->win_start = INT64_MAX;
	u->win_end = 0;
	for (i = 0; i < u->submitted; i++) {
		if (u->items[i].submitted_at < u->win_start)
			u->win_start = u->items[i].submitted_at;
		if (u->items[i].delivered_at > u->win_end)
			u->win_end = u->items[i].delivered_at;
	}
	memset(&opts, 0, sizeof(opts));
	opts.box = COMITY_BOX_OUT;
	opts.page_size = 1000;
	rc = comity_list(u->conn, &opts, outbox_cb, u);
	if (u->oom) {
		bench_log("urgent: out of memory reading the outbox");
		return -1;
	}
	if (rc != 0) {
		bench_log("urgent: outbox: %s: %s", comity_strerror(rc),
		    comity_errmsg(u->conn));
		return -1;
	}
	return 0;
}

/*
 * urgent_report_floor - the probe's figures: commit_p50_ms,
 * commit_p99_ms and floor_p99_ms, the p99 of the sum of
 * URGENT_FLOOR_COMMITS commits drawn independently from the probes
 * (URGENT_FLOOR_DRAWS sums of probes picked at random, a fixed seed:
 * the same probes give the same floor).  Too few probes: none.
 */
static int
urgent_report_floor(struct urgent *u, json_t *out)
{
	int64_t		*sum;
	uint64_t	 x = BENCH_XORSHIFT_SEED;
	size_t		 n = u->nprobe, i, j;

	json_object_set_new(out, "commits_probed", json_integer(
	    (json_int_t)n));
	if (n < URGENT_FLOOR_COMMITS)
		return 0;
	if ((sum = calloc(URGENT_FLOOR_DRAWS, sizeof(*sum))) == NULL) {
		bench_log("urgent: out of memory");
		return -1;
	}
	for (i = 0; i < URGENT_FLOOR_DRAWS; i++)
		for (j = 0; j < URGENT_FLOOR_COMMITS; j++) {
			sum[i] += u->probe_lat[bench_xorshift64(&x) % n];
		}
	json_object_set_new(out, "commit_p50_ms",
	    json_real(stats_ms(stats_percentile(u->probe_lat, n, 50))));
	json_object_set_new(out, "commit_p99_ms",
	    json_real(stats_ms(stats_percentile(u->probe_lat, n, 99))));
	json_object_set_new(out, "floor_p99_ms", json_real(stats_ms(
	    stats_percentile(sum, URGENT_FLOOR_DRAWS, 99))));
	free(sum);
	return 0;
}

static int
urgent_report(struct urgent *u, json_t *out)
{
	int64_t	*lat, *queue, *backlog, *inflight;
	double	 secs;
	size_t	 n = u->submitted, nq = 0, i;
	int	 rc = -1;

	lat = calloc(n, sizeof(*lat));
	queue = calloc(n, sizeof(*queue));
	backlog = calloc(n, sizeof(*backlog));
	inflight = calloc(n, sizeof(*inflight));
	if (lat == NULL || queue == NULL || backlog == NULL ||
	    inflight == NULL) {
		bench_log("urgent: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct urgent_item *it = &u->items[i];

		if (it->submitted_at <= 0 || it->delivered_at < it->submitted_at) {
			bench_log("urgent: %s has submitted_at %lld and "
			    "delivered_at %lld", it->id, (long long)
			    it->submitted_at, (long long)it->delivered_at);
			goto out;
		}
		lat[i] = it->delivered_at - it->submitted_at;
		if (it->sent_at >= it->submitted_at)
			queue[nq++] = it->sent_at - it->submitted_at;
		backlog[i] = it->backlog;
		inflight[i] = it->in_flight;
	}
	secs = (double)(u->win_end - u->win_start) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	json_object_set_new(out, "count", json_integer((json_int_t)n));
	json_object_set_new(out, "size", json_integer(u->args->size));
	json_object_set_new(out, "interval_ms",
	    json_integer(URGENT_INTERVAL_MS));
	json_object_set_new(out, "clients", json_integer(u->args->clients));
	json_object_set_new(out, "batch", json_integer(u->args->batch));
	json_object_set_new(out, "seconds", json_real(stats_round(secs, 3)));
	json_object_set_new(out, "p50_ms",
	    json_real(stats_ms(stats_percentile(lat, n, 50))));
	json_object_set_new(out, "p99_ms",
	    json_real(stats_ms(stats_percentile(lat, n, 99))));
	json_object_set_new(out, "max_ms",
	    json_real(stats_ms(stats_percentile(lat, n, 100))));
	if (nq > 0) {
		json_object_set_new(out, "queue_p50_ms",
		    json_real(stats_ms(stats_percentile(queue, nq, 50))));
		json_object_set_new(out, "queue_p99_ms",
		    json_real(stats_ms(stats_percentile(queue, nq, 99))));
	}
	json_object_set_new(out, "backlog_at_urgent_p50", json_integer(
	    (json_int_t)stats_percentile(backlog, n, 50)));
	json_object_set_new(out, "backlog_at_urgent_max", json_integer(
	    (json_int_t)stats_percentile(backlog, n, 100)));
	json_object_set_new(out, "in_flight_at_urgent_p50", json_integer(
	    (json_int_t)stats_percentile(inflight, n, 50)));
	json_object_set_new(out, "bulk_submitted", json_integer((json_int_t)
	    __atomic_load_n(&u->bulk_submitted, __ATOMIC_RELAXED)));
	json_object_set_new(out, "bulk_delivered",
	    json_integer((json_int_t)u->nbulk));
	json_object_set_new(out, "bulk_msgs_per_s",
	    json_real(stats_round((double)u->nbulk / secs, 1)));
	json_object_set_new(out, "bulk_p50_ms",
	    json_real(stats_ms(stats_percentile(u->bulk_lat, u->nbulk, 50))));
	if (urgent_report_floor(u, out) == -1)
		goto out;
	rc = 0;
out:
	free(lat);
	free(queue);
	free(backlog);
	free(inflight);
	return rc;
}

/* Connect and start N bulk threads; *STARTED of them run (the caller
 * joins them, and closes every connection, even on -1). */
static int
bulk_start(struct urgent *u, struct bulk_thread *t, unsigned n,
    unsigned *started)
{
	unsigned	i;
	int		rc;

	*started = 0;
	for (i = 0; i < n; i++) {
		t[i].u = u;
		t[i].idx = i + 1;
		if ((rc = comity_connect(u->sock, &t[i].conn)) != 0) {
			bench_log("urgent: connect %s: %s", u->sock,
			    comity_strerror(rc));
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		if (pthread_create(&t[i].thread, NULL, bulk_thread_main,
		    &t[i]) != 0) {
			bench_log("urgent: cannot start a bulk thread");
			return -1;
		}
		(*started)++;
	}
	return 0;
}

/* Stop and join the bulk threads, close their connections; -1 if one
 * failed. */
static int
bulk_stop(struct urgent *u, struct bulk_thread *t, unsigned n,
    unsigned started)
{
	unsigned	i;
	int		rc = 0;

	__atomic_store_n(&u->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < started; i++) {
		pthread_join(t[i].thread, NULL);
		if (t[i].rc != 0)
			rc = -1;
	}
	for (i = 0; i < n; i++)
		comity_close(t[i].conn);
	return rc;
}

int
urgent_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	struct urgent		 u;
	struct bulk_thread	*t = NULL;
	pthread_t		 probe;
	unsigned		 started = 0;
	json_t			*peak = NULL, *anon = NULL, *end;
	char			 name[32];
	int			 rc = -1, crc, running = 0, probing = 0;

	memset(&u, 0, sizeof(u));
	u.args = a;
	u.sock = net->d[NET_SENDER].sock;
	u.receiver = &net->d[NET_RECEIVER];
	u.deadline = now_ns() + (int64_t)a->timeout_s * 1000000000;
	u.items = calloc((size_t)a->count, sizeof(*u.items));
	t = calloc(a->clients, sizeof(*t));
	u.doc = bench_doc((size_t)a->size);
	u.probe_lat = calloc((size_t)a->count, sizeof(*u.probe_lat));
	if (u.items == NULL || t == NULL || u.doc == NULL ||
	    u.probe_lat == NULL) {
		bench_log("urgent: out of memory");
		goto out;
	}
	snprintf(name, sizeof(name), "urgent-probe-%u", a->run);
	if (commit_probe_open(b, name, a->count, &u.probe) == -1)
		goto out;
	if ((crc = comity_connect(u.sock, &u.conn)) != 0) {
		bench_log("urgent: connect %s: %s", u.sock,
		    comity_strerror(crc));
		goto out;
	}
	bench_log("urgent run %u: bulk from %u connections, then %lld urgent "
	    "requests of %lld bytes, one every %d ms", a->run, a->clients,
	    a->count, a->size, URGENT_INTERVAL_MS);
	running = 1;
	if (bulk_start(&u, t, a->clients, &started) == -1)
		goto out;
	if (pthread_create(&probe, NULL, probe_thread_main, &u) != 0) {
		bench_log("urgent: cannot start the commit probe");
		goto out;
	}
	probing = 1;
	if (urgent_sleep_until(&u, net, now_ns() + (int64_t)URGENT_WARMUP_MS *
	    1000000, "warming up") == -1 ||
	    urgent_submit_all(&u, net) == -1 ||
	    urgent_wait_all(&u, net) == -1)
		goto out;
	running = 0;
	crc = bulk_stop(&u, t, a->clients, started);
	pthread_join(probe, NULL);
	probing = 0;
	if (crc == -1 || u.probe_rc == -1)
		goto out;
	/* the peaks while moving traffic, before our own listing of tens
	 * of thousands of items maps the outbox (as in bulk) */
	if ((peak = net_rss(net, "VmHWM")) == NULL ||
	    (anon = net_rss(net, "RssAnon")) == NULL)
		goto out;
	bench_log("urgent run %u: reading the outbox", a->run);
	if (urgent_bulk_window(&u) == -1 || urgent_report(&u, out) == -1 ||
	    (end = net_rss(net, "VmHWM")) == NULL)
		goto out;
	json_object_set(out, "rss_peak_kib", peak);
	json_object_set(out, "rss_anon_kib", anon);
	json_object_set_new(out, "rss_peak_end_kib", end);
	rc = 0;
out:
	json_decref(peak);
	json_decref(anon);
	if (running)
		bulk_stop(&u, t, a->clients, started);
	if (probing)
		pthread_join(probe, NULL);
	commit_probe_close(b, &u.probe);
	comity_close(u.conn);
	free(u.items);
	free(u.bulk_lat);
	free(u.probe_lat);
	free(u.doc);
	free(t);
	return rc;
}
