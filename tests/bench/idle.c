/*
 * idle.c - the idle scenario (T2 of shared/TARGETS.md): one request at a
 * time.  Each request of SIZE bytes is submitted, then waited for until
 * the sender reports it DELIVERED (the receiver's signed receipt checked
 * and stored), and only then is the next one submitted.
 *
 * The figures are the sender daemon's own times (delivered_at -
 * submitted_at), so how this program notices DELIVERED does not enter
 * them; the client's round trip (before comity_submit() to DELIVERED
 * seen) is given beside them.  One request before the measured ones opens
 * the link (the sender dials when it has something to send) and is not
 * counted: a link between two authorities stays up between requests.
 *
 * Noticing DELIVERED is the job of the waiter (waiter.c): from the
 * daemon's event stream, or by polling comity_status() when the daemon
 * offers none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define IDLE_PROGRESS_MS	2000
#define IDLE_CASE_REF_MAX	64

struct idle {
	const struct run_args	*args;
	const struct daemon	*receiver;
	comity_conn		*conn;		/* submits */
	struct waiter		*w;
	uint8_t			*doc;
	int64_t			 deadline;
	int64_t			*lat;		/* daemon: submitted -> delivered */
	int64_t			*rtt;		/* client: submit -> seen */
	int64_t			*sub;		/* client: comity_submit() */
};

/* One request, submitted and waited for; its times into slot I unless
 * I is negative (the warm-up).  0 or -1. */
static int
idle_one(struct idle *ic, struct net *net, long long i)
{
	char	 ref[IDLE_CASE_REF_MAX], rid[33];
	int64_t	 t0, t1, sat, dat, seen;
	int	 rc;

	snprintf(ref, sizeof(ref), "bench-idle-%u-%lld", ic->args->run, i + 1);
	t0 = now_ns();
	rc = bench_submit(ic->conn, ic->receiver->id, ic->doc,
	    (size_t)ic->args->size, 0, ref, ic->deadline, rid);
	t1 = now_ns();
	if (rc != 0) {
		bench_log("idle: submit: %s: %s", comity_strerror(rc),
		    comity_errmsg(ic->conn));
		return -1;
	}
	if (waiter_delivered(ic->w, net, rid, i == ic->args->count - 1,
	    ic->deadline, &sat, &dat, &seen) == -1) {
		net_check(net);		/* says if a daemon died */
		return -1;
	}
	if (sat <= 0 || dat < sat) {
		bench_log("idle: %s has submitted_at %lld and delivered_at "
		    "%lld", rid, (long long)sat, (long long)dat);
		return -1;
	}
	if (i >= 0) {
		ic->rtt[i] = seen - t0;
		ic->sub[i] = t1 - t0;
		ic->lat[i] = dat - sat;
	}
	return 0;
}

static void
idle_report(struct idle *ic, json_t *out)
{
	size_t	n = (size_t)ic->args->count;

	json_object_set_new(out, "count", json_integer(ic->args->count));
	json_object_set_new(out, "size", json_integer(ic->args->size));
	json_object_set_new(out, "wait", json_string(waiter_method(ic->w)));
	json_object_set_new(out, "p50_ms",
	    json_real(stats_ms(stats_percentile(ic->lat, n, 50))));
	json_object_set_new(out, "p99_ms",
	    json_real(stats_ms(stats_percentile(ic->lat, n, 99))));
	json_object_set_new(out, "max_ms",
	    json_real(stats_ms(stats_percentile(ic->lat, n, 100))));
	json_object_set_new(out, "client_p50_ms",
	    json_real(stats_ms(stats_percentile(ic->rtt, n, 50))));
	json_object_set_new(out, "client_p99_ms",
	    json_real(stats_ms(stats_percentile(ic->rtt, n, 99))));
	json_object_set_new(out, "submit_p50_ms",
	    json_real(stats_ms(stats_percentile(ic->sub, n, 50))));
}

int
idle_run(struct bench *b, struct net *net, const struct run_args *a,
    json_t *out)
{
	struct idle	 ic;
	const char	*sock = net->d[NET_SENDER].sock;
	int64_t		 last;
	long long	 i;
	int		 rc = -1, crc;

	(void)b;
	memset(&ic, 0, sizeof(ic));
	ic.args = a;
	ic.receiver = &net->d[NET_RECEIVER];
	ic.deadline = now_ns() + (int64_t)a->timeout_s * 1000000000;
	ic.lat = calloc((size_t)a->count, sizeof(*ic.lat));
	ic.rtt = calloc((size_t)a->count, sizeof(*ic.rtt));
	ic.sub = calloc((size_t)a->count, sizeof(*ic.sub));
	ic.doc = bench_doc((size_t)a->size);
	if (ic.lat == NULL || ic.rtt == NULL || ic.sub == NULL ||
	    ic.doc == NULL) {
		bench_log("idle: out of memory");
		goto out;
	}
	if ((crc = comity_connect(sock, &ic.conn)) != 0) {
		bench_log("idle: connect %s: %s", sock, comity_strerror(crc));
		goto out;
	}
	if (waiter_open(&ic.w, sock) == -1)
		goto out;
	bench_log("idle run %u: %lld requests of %lld bytes, one at a time",
	    a->run, a->count, a->size);
	if (idle_one(&ic, net, -1) == -1)
		goto out;
	last = now_ns();
	for (i = 0; i < a->count; i++) {
		if (idle_one(&ic, net, i) == -1)
			goto out;
		if (now_ns() - last >= (int64_t)IDLE_PROGRESS_MS * 1000000) {
			last = now_ns();
			bench_log("idle run %u: %lld of %lld delivered", a->run,
			    i + 1, a->count);
		}
	}
	idle_report(&ic, out);
	rc = 0;
out:
	waiter_close(ic.w);
	comity_close(ic.conn);
	free(ic.lat);
	free(ic.rtt);
	free(ic.sub);
	free(ic.doc);
	return rc;
}
