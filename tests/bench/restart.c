/*
 * restart.c - the restart scenario (T5 of shared/TARGETS.md): how long a
 * sender holding a long queue takes from its start to accepting submits
 * and dialling its counterpart, beside the same sender holding a short
 * one.
 *
 * Two networks, each of one daemon, the sender; the receiver is a stub
 * whose endpoint in the directory is a TCP listener of ours, so every
 * request stays queued and we see the sender dial.  They are filled once
 * per invocation, by --clients connections at once, each submitting
 * batches of requests (comity_submit_batch()) as fast as the daemon
 * commits them: COUNT requests of SIZE bytes in one, RESTART_SMALL in the
 * other.  Then each run, for either network, starts the stopped sender
 * (fork/exec) and measures from just before the fork to
 *
 *   local  a comity_submit() answered with success: tried every
 *          millisecond from the start, connecting included;
 *   dial   the first TCP connection our listener accepts (the sender
 *          dials at start, having something queued); it is closed at
 *          once, the TLS handshake fails and the sender backs off;
 *
 * and ready_s, the later of the two.  After RESTART_SETTLE_MS the
 * daemon's memory is read and it is stopped again with SIGTERM (stop_s).
 * Each run adds one request to each queue (the submit that measures
 * local).
 *
 * Connections the sender made before it was stopped wait in our
 * listener's backlog: they are accepted and closed before the next start,
 * so that the first one accepted after it is the new daemon's.
 *
 * The networks live across the runs of one invocation; the last run, or
 * a failed one, stops everything and removes them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define RESTART_SMALL		1000	/* requests in the small queue */
#define RESTART_BATCH		COMITY_BATCH_MAX	/* requests per call */
#define RESTART_BATCH_BYTES	(64u << 20)	/* documents per call */
#define RESTART_EAGAIN_SLEEP_MS	5
#define RESTART_MAP_PER_ITEM	(16ull << 10)	/* store bytes, generous */
#define RESTART_MAP_MIN		(1ull << 30)
#define RESTART_READY_MS	120000	/* bound on one start */
#define RESTART_SETTLE_MS	1000	/* from ready to stop */
#define RESTART_POLL_MS		1
#define RESTART_ACCEPT_POLL_MS	10
#define RESTART_PROGRESS_MS	10000
#define RESTART_BACKLOG		128
#define RESTART_DRAIN_MAX	4096	/* connections left by a sender */
#define RESTART_CASE_REF_MAX	64

/* One queue: its network, our listener at the receiver's endpoint. */
struct rq {
	const char	*name;		/* "large", "small" */
	const char	*key;		/* its key in the RSS objects */
	struct net	 net;
	int		 made;		/* net_create() was called */
	int		 lfd;		/* -1 when closed */
	int		 port;
	long long	 count;
	double		 fill_s;
	long long	 store_bytes;
	unsigned long long queued;	/* comity_peers() after the fill */
};

/* What lives across the runs of one invocation. */
struct restart {
	struct rq	 q[2];
	unsigned	 clients;
	uint8_t		*doc;
};

static struct restart	*rs;

/* The times of one start. */
struct restart_times {
	double		 local_s, dial_s, ready_s, stop_s;
	long		 rss_kib, hwm_kib, anon_kib;
};

/* The filling of one queue. */
struct fill {
	struct rq		*q;
	const struct run_args	*args;
	const uint8_t		*doc;
	size_t			 batch;		/* requests per call */
	int64_t			 deadline;	/* monotonic ns (atomic: 0
						   stops every thread) */
	pthread_mutex_t		 lock;		/* bench_log from threads */
};

/* One filling connection: batches FIRST, FIRST + STEP, ... */
struct filler {
	struct fill			*f;
	pthread_t			 thread;
	comity_conn			*conn;
	long long			 first, step;
	long long			 done;		/* (atomic) */
	int				 rc;
	struct comity_submit		*reqs;		/* f->batch each */
	struct comity_submit_result	*res;
	struct comity_doc		 doc;
	char				(*refs)[RESTART_CASE_REF_MAX];
};

/* The first connection our listener accepts after a start. */
struct acceptor {
	int		 fd;
	pthread_t	 thread;
	int64_t		 at;		/* monotonic ns, 0: none (atomic) */
	int		 stop;		/* (atomic) */
};

static int
listener_open(struct rq *q)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			on = 1;

	q->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (q->lfd == -1) {
		bench_log("restart: socket: %s", strerror(errno));
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(q->lfd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1 ||
	    bind(q->lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(q->lfd, RESTART_BACKLOG) == -1 ||
	    getsockname(q->lfd, (struct sockaddr *)&sin, &len) == -1) {
		bench_log("restart: listener on 127.0.0.1: %s",
		    strerror(errno));
		return -1;
	}
	q->port = ntohs(sin.sin_port);
	return 0;
}

/* Accept and close what waits in the listener's backlog. */
static void
listener_drain(struct rq *q)
{
	int	c, n;

	for (n = 0; n < RESTART_DRAIN_MAX; n++) {
		if ((c = accept4(q->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			break;
		close(c);
	}
}

static void *
acceptor_main(void *arg)
{
	struct acceptor	*ac = arg;
	struct pollfd	 pfd;
	int		 c;

	pfd.fd = ac->fd;
	pfd.events = POLLIN;
	while (!__atomic_load_n(&ac->stop, __ATOMIC_RELAXED)) {
		if (poll(&pfd, 1, RESTART_ACCEPT_POLL_MS) <= 0)
			continue;
		if ((c = accept4(ac->fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		__atomic_store_n(&ac->at, now_ns(), __ATOMIC_RELAXED);
		close(c);
		break;
	}
	return NULL;
}

/* ------------------------------------------------------------ filling */

static int
fill_stopped(struct fill *f)
{
	return bench_interrupted ||
	    now_ns() > __atomic_load_n(&f->deadline, __ATOMIC_RELAXED);
}

/* The first failure says why and stops the other threads. */
static void
fill_fail(struct filler *s, int rc, const char *msg)
{
	struct fill	*f = s->f;

	s->rc = -1;
	if (__atomic_exchange_n(&f->deadline, 0, __ATOMIC_RELAXED) != 0 &&
	    !bench_interrupted) {
		pthread_mutex_lock(&f->lock);
		bench_log("restart: submit: %s: %s", comity_strerror(rc), msg);
		pthread_mutex_unlock(&f->lock);
	}
}

/*
 * Requests FIRST to FIRST + N - 1 in one batch, until each is queued:
 * those a busy daemon answered "try again" go again, in the next call.
 * 0 or -1.
 */
static int
fill_batch(struct filler *s, long long first, size_t n)
{
	struct fill	*f = s->f;
	size_t		 i, left;
	int		 rc;

	for (i = 0; i < n; i++) {
		snprintf(s->refs[i], sizeof(s->refs[i]),
		    "bench-restart-%s-%lld", f->q->name,
		    first + (long long)i + 1);
		s->reqs[i].case_ref = s->refs[i];
	}
	while (n > 0) {
		if (fill_stopped(f)) {
			s->rc = -1;
			return -1;
		}
		rc = comity_submit_batch(s->conn, s->reqs, n, s->res);
		if (rc == COMITY_EAGAIN) {
			sleep_ms(RESTART_EAGAIN_SLEEP_MS);
			continue;
		}
		if (rc != 0) {
			fill_fail(s, rc, comity_errmsg(s->conn));
			return -1;
		}
		/* the ones to try again move to the front */
		for (i = 0, left = 0; i < n; i++) {
			if (s->res[i].error == 0)
				continue;
			if (s->res[i].error != COMITY_EAGAIN) {
				fill_fail(s, s->res[i].error,
				    s->res[i].message);
				return -1;
			}
			s->reqs[left++] = s->reqs[i];
		}
		__atomic_add_fetch(&s->done, (long long)(n - left),
		    __ATOMIC_RELAXED);
		if (left > 0)
			sleep_ms(RESTART_EAGAIN_SLEEP_MS);
		n = left;
	}
	return 0;
}

static void *
filler_main(void *arg)
{
	struct filler	*s = arg;
	struct fill	*f = s->f;
	long long	 b, first, count = f->q->count;
	long long	 per = (long long)f->batch;
	size_t		 i;

	s->doc.name = "queued.bin";
	s->doc.media_type = "application/octet-stream";
	s->doc.data = f->doc;
	s->doc.len = (size_t)f->args->size;
	for (b = s->first; b * per < count; b += s->step) {
		first = b * per;
		for (i = 0; i < f->batch; i++) {
			memset(&s->reqs[i], 0, sizeof(s->reqs[i]));
			s->reqs[i].to = f->q->net.d[NET_RECEIVER].id;
			s->reqs[i].type = COMITY_TYPE_MLA;
			s->reqs[i].lang = "en";
			s->reqs[i].subject = "comity-bench restart";
			s->reqs[i].docs = &s->doc;
			s->reqs[i].ndocs = 1;
		}
		if (fill_batch(s, first, (size_t)(count - first < per ?
		    count - first : per)) == -1)
			break;
	}
	return NULL;
}

/* The requests queued for the receiver, from comity_peers(). */
static int
queued_now(struct rq *q, unsigned long long *queued)
{
	struct comity_peer	*peers;
	comity_conn		*c;
	size_t			 n, i;
	int			 rc;

	*queued = 0;
	if ((rc = comity_connect(q->net.d[NET_SENDER].sock, &c)) != 0) {
		bench_log("restart: connect: %s", comity_strerror(rc));
		return -1;
	}
	if ((rc = comity_peers(c, &peers, &n)) != 0) {
		bench_log("restart: peers: %s: %s", comity_strerror(rc),
		    comity_errmsg(c));
		comity_close(c);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (strcmp(peers[i].id, q->net.d[NET_RECEIVER].id) == 0)
			*queued = peers[i].queued;
	comity_free(peers);
	comity_close(c);
	return 0;
}

/* Wait for the threads, with progress; 0 when every one filled its
 * share. */
static int
fill_wait(struct fill *f, struct filler *s, unsigned n, int64_t start)
{
	int64_t		last = start, deadline;
	long long	done = 0;
	unsigned	i;
	int		rc = 0;

	for (;;) {
		for (done = 0, i = 0; i < n; i++)
			done += __atomic_load_n(&s[i].done, __ATOMIC_RELAXED);
		deadline = __atomic_load_n(&f->deadline, __ATOMIC_RELAXED);
		if (done >= f->q->count || deadline == 0)
			break;
		if (bench_interrupted || net_check(&f->q->net) != 0 ||
		    now_ns() > deadline) {
			if (!bench_interrupted && now_ns() > deadline)
				bench_log("restart: %lld of %lld queued after "
				    "%u s (--timeout)", done, f->q->count,
				    f->args->timeout_s);
			__atomic_store_n(&f->deadline, 0, __ATOMIC_RELAXED);
			break;
		}
		if (now_ns() - last >= (int64_t)RESTART_PROGRESS_MS * 1000000) {
			last = now_ns();
			bench_log("restart: %s queue: %lld of %lld queued, "
			    "%.0f/s", f->q->name, done, f->q->count,
			    (double)done / ((double)(last - start) / 1e9));
		}
		sleep_ms(100);
	}
	for (i = 0; i < n; i++) {
		pthread_join(s[i].thread, NULL);
		if (s[i].rc != 0)
			rc = -1;
	}
	return rc;
}

/* Submit Q's COUNT requests from CLIENTS connections at once. */
static int
fill_queue(struct rq *q, const struct run_args *a, unsigned clients,
    const uint8_t *doc, int64_t deadline)
{
	struct fill	 f;
	struct filler	*s;
	struct stat	 st;
	char		 path[PATH_MAX + 16];
	int64_t		 start;
	unsigned	 i, started = 0;
	int		 rc = -1, crc;

	memset(&f, 0, sizeof(f));
	f.q = q;
	f.args = a;
	f.doc = doc;
	f.deadline = deadline;
	f.batch = RESTART_BATCH;
	if (a->size > 0 && f.batch > RESTART_BATCH_BYTES / (size_t)a->size)
		f.batch = RESTART_BATCH_BYTES / (size_t)a->size;
	if (f.batch < 1)
		f.batch = 1;
	if ((long long)clients * (long long)f.batch > q->count)
		clients = (unsigned)((q->count + (long long)f.batch - 1) /
		    (long long)f.batch);
	if ((s = calloc(clients, sizeof(*s))) == NULL) {
		bench_log("restart: out of memory");
		return -1;
	}
	pthread_mutex_init(&f.lock, NULL);
	bench_log("restart: filling the %s queue: %lld requests of %lld bytes "
	    "from %u connections, %zu a call", q->name, q->count, a->size,
	    clients, f.batch);
	for (i = 0; i < clients; i++) {
		s[i].f = &f;
		s[i].first = i;
		s[i].step = clients;
		s[i].reqs = calloc(f.batch, sizeof(*s[i].reqs));
		s[i].res = calloc(f.batch, sizeof(*s[i].res));
		s[i].refs = calloc(f.batch, sizeof(*s[i].refs));
		if (s[i].reqs == NULL || s[i].res == NULL ||
		    s[i].refs == NULL) {
			bench_log("restart: out of memory");
			goto out;
		}
		if ((crc = comity_connect(q->net.d[NET_SENDER].sock,
		    &s[i].conn)) != 0) {
			bench_log("restart: connect %s: %s",
			    q->net.d[NET_SENDER].sock, comity_strerror(crc));
			goto out;
		}
	}
	start = now_ns();
	for (i = 0; i < clients; i++) {
		if (pthread_create(&s[i].thread, NULL, filler_main,
		    &s[i]) != 0) {
			bench_log("restart: cannot start a submitting thread");
			__atomic_store_n(&f.deadline, 0, __ATOMIC_RELAXED);
			break;
		}
		started++;
	}
	if (fill_wait(&f, s, started, start) == -1 || started < clients)
		goto out;
	q->fill_s = (double)(now_ns() - start) / 1e9;
	if (queued_now(q, &q->queued) == -1)
		goto out;
	snprintf(path, sizeof(path), "%s/store/data.mdb",
	    q->net.d[NET_SENDER].dir);
	if (stat(path, &st) == 0)
		q->store_bytes = (long long)st.st_blocks * 512;
	bench_log("restart: %s queue: %lld queued in %.1f s (%.0f/s), %llu "
	    "waiting for %s, store %.1f MiB", q->name, q->count, q->fill_s,
	    (double)q->count / q->fill_s, q->queued,
	    q->net.d[NET_RECEIVER].id, (double)q->store_bytes / (1 << 20));
	rc = 0;
out:
	for (i = 0; i < clients; i++) {
		comity_close(s[i].conn);
		free(s[i].reqs);
		free(s[i].res);
		free(s[i].refs);
	}
	pthread_mutex_destroy(&f.lock);
	free(s);
	return rc;
}

/* ------------------------------------------------------------ set-up */

static void
restart_teardown(struct bench *b)
{
	size_t	i;

	if (rs == NULL)
		return;
	for (i = 0; i < 2; i++) {
		if (rs->q[i].made)
			net_down(b, &rs->q[i].net);
		if (rs->q[i].lfd != -1)
			close(rs->q[i].lfd);
	}
	free(rs->doc);
	free(rs);
	rs = NULL;
}

/* Q's network: the sender, and our listener as the receiver; started,
 * filled and stopped. */
static int
queue_make(struct bench *b, struct rq *q, const struct run_args *a,
    int64_t deadline)
{
	struct net_spec	spec;
	char		name[64];

	if (listener_open(q) == -1)
		return -1;
	memset(&spec, 0, sizeof(spec));
	spec.start = 1u << NET_SENDER;
	spec.stub_port = q->port;
	spec.map_size = (unsigned long long)q->count * RESTART_MAP_PER_ITEM;
	if (spec.map_size < RESTART_MAP_MIN)
		spec.map_size = RESTART_MAP_MIN;
	snprintf(name, sizeof(name), "restart-%s", q->name);
	q->made = 1;
	if (net_create(b, &q->net, name, &spec) == -1 ||
	    net_start(b, &q->net, NET_SENDER) == -1 ||
	    fill_queue(q, a, rs->clients, rs->doc, deadline) == -1)
		return -1;
	return net_stop(&q->net, NET_SENDER);
}

static int
restart_setup(struct bench *b, const struct run_args *a, int64_t deadline)
{
	size_t	i;

	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		bench_log("restart: out of memory");
		return -1;
	}
	for (i = 0; i < 2; i++)
		rs->q[i].lfd = -1;
	if ((rs->doc = bench_doc((size_t)a->size)) == NULL) {
		bench_log("restart: out of memory");
		return -1;
	}
	rs->clients = a->clients;
	rs->q[0].name = "large";
	rs->q[0].key = "sender";
	rs->q[0].count = a->count;
	rs->q[1].name = "small";
	rs->q[1].key = "sender_small";
	rs->q[1].count = a->count < RESTART_SMALL ? a->count : RESTART_SMALL;
	for (i = 0; i < 2; i++)
		if (queue_make(b, &rs->q[i], a, deadline) == -1)
			return -1;
	return 0;
}

/* ------------------------------------------------------------ one start */

/* From the fork until a submit is answered with success: *AT. */
static int
wait_local(struct rq *q, const struct run_args *a, int64_t until,
    int64_t *at)
{
	struct daemon	*d = &q->net.d[NET_SENDER];
	comity_conn	*c;
	char		 ref[RESTART_CASE_REF_MAX], id[33];
	int		 rc = -1;

	snprintf(ref, sizeof(ref), "bench-restart-%s-run-%u", q->name,
	    a->run);
	while (now_ns() < until) {
		if (bench_interrupted || net_check(&q->net) != 0)
			return -1;
		if (comity_connect(d->sock, &c) == 0) {
			rc = bench_submit(c, q->net.d[NET_RECEIVER].id, rs->doc,
			    (size_t)a->size, 0, ref, until, id);
			comity_close(c);
			if (rc == 0) {
				*at = now_ns();
				return 0;
			}
		}
		sleep_ms(RESTART_POLL_MS);
	}
	bench_log("restart: %s accepted no submit within %d s", d->id,
	    RESTART_READY_MS / 1000);
	return -1;
}

/* Until the acceptor saw the daemon dial: *AT. */
static int
wait_dial(struct rq *q, struct acceptor *ac, int64_t until, int64_t *at)
{
	while (now_ns() < until) {
		if (bench_interrupted || net_check(&q->net) != 0)
			return -1;
		if ((*at = __atomic_load_n(&ac->at, __ATOMIC_RELAXED)) != 0)
			return 0;
		sleep_ms(RESTART_POLL_MS);
	}
	bench_log("restart: %s did not dial %s within %d s",
	    q->net.d[NET_SENDER].id, q->net.d[NET_RECEIVER].id,
	    RESTART_READY_MS / 1000);
	return -1;
}

/* Start Q's sender, measure, stop it. */
static int
restart_once(struct bench *b, struct rq *q, const struct run_args *a,
    struct restart_times *t)
{
	struct daemon	*d = &q->net.d[NET_SENDER];
	struct acceptor	 ac;
	int64_t		 t0, until, local_at = 0, dial_at = 0;
	int		 rc = -1, running = 0;

	memset(t, 0, sizeof(*t));
	listener_drain(q);
	memset(&ac, 0, sizeof(ac));
	ac.fd = q->lfd;
	if (pthread_create(&ac.thread, NULL, acceptor_main, &ac) != 0) {
		bench_log("restart: cannot start the accepting thread");
		return -1;
	}
	t0 = now_ns();
	until = t0 + (int64_t)RESTART_READY_MS * 1000000;
	if (net_spawn(b, &q->net, NET_SENDER) == -1)
		goto out;
	running = 1;
	if (wait_local(q, a, until, &local_at) == -1 ||
	    wait_dial(q, &ac, until, &dial_at) == -1)
		goto out;
	t->local_s = (double)(local_at - t0) / 1e9;
	t->dial_s = (double)(dial_at - t0) / 1e9;
	t->ready_s = t->local_s > t->dial_s ? t->local_s : t->dial_s;
	sleep_ms(RESTART_SETTLE_MS);
	if (bench_interrupted || net_check(&q->net) != 0)
		goto out;
	if ((t->rss_kib = net_daemon_kib(d, "VmRSS")) < 0 ||
	    (t->hwm_kib = net_daemon_kib(d, "VmHWM")) < 0 ||
	    (t->anon_kib = net_daemon_kib(d, "RssAnon")) < 0)
		goto out;
	rc = 0;
out:
	__atomic_store_n(&ac.stop, 1, __ATOMIC_RELAXED);
	pthread_join(ac.thread, NULL);
	if (running) {
		t0 = now_ns();
		if (net_stop(&q->net, NET_SENDER) == -1)
			rc = -1;
		t->stop_s = (double)(now_ns() - t0) / 1e9;
	}
	if (rc == 0)
		bench_log("restart run %u: %s queue: submit answered after "
		    "%.3f s, dialled after %.3f s, stopped in %.3f s",
		    a->run, q->name, t->local_s, t->dial_s, t->stop_s);
	return rc;
}

/* ------------------------------------------------------------ report */

static double
secs(double s)
{
	return stats_round(s, 4);
}

static void
restart_report(const struct run_args *a, const struct restart_times *t,
    json_t *out)
{
	const struct rq	*large = &rs->q[0], *small = &rs->q[1];
	json_t		*ready, *peak, *anon;
	size_t		 i;

	json_object_set_new(out, "count", json_integer(large->count));
	json_object_set_new(out, "size", json_integer(a->size));
	json_object_set_new(out, "small_count", json_integer(small->count));
	json_object_set_new(out, "clients", json_integer(rs->clients));
	json_object_set_new(out, "fill_seconds",
	    json_real(stats_round(large->fill_s, 1)));
	json_object_set_new(out, "fill_per_s", json_real(stats_round(
	    (double)large->count / large->fill_s, 1)));
	json_object_set_new(out, "store_mib", json_real(stats_round(
	    (double)large->store_bytes / (1 << 20), 1)));
	json_object_set_new(out, "local_s", json_real(secs(t[0].local_s)));
	json_object_set_new(out, "dial_s", json_real(secs(t[0].dial_s)));
	json_object_set_new(out, "ready_s", json_real(secs(t[0].ready_s)));
	json_object_set_new(out, "stop_s", json_real(secs(t[0].stop_s)));
	json_object_set_new(out, "small_local_s",
	    json_real(secs(t[1].local_s)));
	json_object_set_new(out, "small_dial_s", json_real(secs(t[1].dial_s)));
	json_object_set_new(out, "small_ready_s",
	    json_real(secs(t[1].ready_s)));
	json_object_set_new(out, "small_stop_s", json_real(secs(t[1].stop_s)));
	ready = json_object();
	peak = json_object();
	anon = json_object();
	for (i = 0; i < 2; i++) {
		json_object_set_new(ready, rs->q[i].key,
		    json_integer(t[i].rss_kib));
		json_object_set_new(peak, rs->q[i].key,
		    json_integer(t[i].hwm_kib));
		json_object_set_new(anon, rs->q[i].key,
		    json_integer(t[i].anon_kib));
	}
	json_object_set_new(out, "rss_kib", ready);
	json_object_set_new(out, "rss_peak_kib", peak);
	json_object_set_new(out, "rss_anon_kib", anon);
}

int
restart_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	struct restart_times	t[2];
	int64_t			deadline;
	size_t			i;
	int			rc = -1;

	(void)net;
	deadline = now_ns() + (int64_t)a->timeout_s * 1000000000;
	if (rs == NULL && restart_setup(b, a, deadline) == -1)
		goto out;
	for (i = 0; i < 2; i++)
		if (restart_once(b, &rs->q[i], a, &t[i]) == -1)
			goto out;
	restart_report(a, t, out);
	rc = 0;
out:
	/* the last run, or a failed one, ends the networks */
	if (rc == -1 || a->run >= b->opts.runs)
		restart_teardown(b);
	return rc;
}
