/*
 * timeline.c - comity status ID --timeline: every event of one request
 * on both sides, as far as we know them, with the time between steps.
 *
 * Our side is our audit trail (the records about the request, in seq
 * order); the counterpart's side is what its signed receipts say (as the
 * sender) or the envelope's creation time (as the recipient), by its
 * clock.  The counterpart's steps are placed among ours by time; ours keep
 * their seq order even if our clock was set back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "output.h"

/* Records of one request a timeline shows; a request has a dozen or so. */
#define TIMELINE_MAX	1000

struct step {
	int64_t		 time;
	int		 theirs;	/* by the counterpart's clock */
	const char	*who;		/* the authority it happened at */
	const char	*event;
	uint64_t	 seq;		/* its audit seq (ours or, from a
					   receipt, theirs); 0 = none */
	uint32_t	 uid;
	char		*peer;		/* owned; "" = none */
	char		*detail;	/* owned */
};

struct steps {
	struct step	*v;
	size_t		 n, cap;
	int		 truncated;
	int		 nomem;
	const char	*self;		/* our authority id */
};

static struct step *
step_add(struct steps *s)
{
	struct step	*v;
	size_t		 cap;

	if (s->n == s->cap) {
		cap = s->cap == 0 ? 16 : s->cap * 2;
		if ((v = realloc(s->v, cap * sizeof(*v))) == NULL) {
			s->nomem = 1;
			return NULL;
		}
		s->v = v;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[0]));
	return &s->v[s->n++];
}

static void
steps_free(struct steps *s)
{
	size_t	i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].peer);
		free(s->v[i].detail);
	}
	free(s->v);
}

/* A static copy of an event name we know, so steps need not own it. */
static const char *
event_const(const char *name)
{
	static const char *const known[] = {
		"SUBMITTED", "SENT", "DELIVERED", "RECEIVED", "REJECTED",
		"RETRIEVED", "RECEIPT_RECEIVED", "EXPIRED", "CANCELLED",
		"URGENT_HOOK", "ESCALATED", "DUPLICATE", "CONFLICT",
		"RECEIPT_REFUSED", "WARNING", "CORRUPT",
	};
	size_t	i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i]) == 0)
			return known[i];
	return "OTHER";
}

static int
record_cb(const struct comity_audit_record *r, void *arg)
{
	struct steps	*s = arg;
	struct step	*st;

	if (s->n >= TIMELINE_MAX) {
		s->truncated = 1;
		return 1;
	}
	if ((st = step_add(s)) == NULL)
		return 1;
	st->time = r->time;
	st->who = s->self;
	st->event = event_const(r->event_name);
	st->seq = r->seq;
	st->uid = r->uid;
	st->peer = strdup(r->peer);
	st->detail = strdup(r->detail);
	if (st->peer == NULL || st->detail == NULL) {
		s->nomem = 1;
		return 1;
	}
	return 0;
}

/* theirs - a step by the counterpart's clock */
static void
theirs(struct steps *s, int64_t at, const char *who, const char *event,
    uint64_t seq, const char *detail)
{
	struct step	*st;

	if (at == 0 || (st = step_add(s)) == NULL)
		return;
	st->time = at;
	st->theirs = 1;
	st->who = who;
	st->event = event;
	st->seq = seq;
	st->uid = COMITY_AUDIT_NO_UID;
	st->peer = strdup("");
	st->detail = strdup(detail);
	if (st->peer == NULL || st->detail == NULL)
		s->nomem = 1;
}

/* ours_from_item - without audit records, our side from the item's times */
static void
ours_from_item(struct steps *s, const struct comity_item *it)
{
	const struct {
		const char	*event;
		int64_t		 at;
	} t[] = {
		{ "SUBMITTED", it->submitted_at },
		{ "SENT", it->sent_at },
		{ "RECEIVED", it->received_at },
		{ "DELIVERED", it->delivered_at },
		{ "REJECTED", it->rejected_at },
		{ "RETRIEVED", it->retrieved_at },
		{ "EXPIRED", it->expired_at },
		{ "CANCELLED", it->cancelled_at },
	};
	struct step	*st;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].at == 0 || (st = step_add(s)) == NULL)
			continue;
		st->time = t[i].at;
		st->who = s->self;
		st->event = t[i].event;
		st->uid = COMITY_AUDIT_NO_UID;
		st->peer = strdup("");
		st->detail = strdup("from the item's times (no audit record)");
		if (st->peer == NULL || st->detail == NULL)
			s->nomem = 1;
	}
}

static int
by_time(const void *a, const void *b)
{
	const struct step	*x = a, *y = b;

	return x->time < y->time ? -1 : x->time > y->time;
}

/*
 * merge - OURS (n_ours steps in seq order, first in S) and the
 * counterpart's steps after them, into one order: a counterpart's step
 * goes before the first of ours that is later than it.
 */
static int
merge(struct steps *s, size_t n_ours, struct step **out)
{
	struct step	*v, *o = s->v, *t = s->v + n_ours;
	size_t		 n_theirs = s->n - n_ours, i = 0, j = 0, k = 0;

	if ((v = calloc(s->n == 0 ? 1 : s->n, sizeof(*v))) == NULL)
		return -1;
	qsort(t, n_theirs, sizeof(*t), by_time);
	while (i < n_ours || j < n_theirs) {
		if (j < n_theirs && (i == n_ours || t[j].time <= o[i].time))
			v[k++] = t[j++];
		else
			v[k++] = o[i++];
	}
	*out = v;
	return 0;
}

static json_t *
step_json(const struct step *st, const struct step *prev)
{
	char	t[OUT_TIME_NS_LEN];

	out_time_ns(st->time, t);
	return json_pack("{s:s, s:I, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o}",
	    "time", t,
	    "time_ns", (json_int_t)st->time,
	    "side", st->theirs ? "theirs" : "ours",
	    "authority", out_jstr(st->who),
	    "event", st->event,
	    "seq", st->seq != 0 ? json_integer((json_int_t)st->seq) :
	    json_null(),
	    "peer", st->peer[0] != '\0' ? out_jstr(st->peer) : json_null(),
	    "uid", st->uid == COMITY_AUDIT_NO_UID ? json_null() :
	    json_integer((json_int_t)st->uid),
	    "detail", out_jstr(st->detail),
	    "since_previous_ns", prev != NULL ?
	    json_integer((json_int_t)(st->time - prev->time)) : json_null());
}

static int
print_json(const struct comity_timeline *tl, const struct step *v, size_t n,
    int truncated)
{
	json_t	*o, *a;
	size_t	 i;

	if ((o = out_item_json(&tl->item)) == NULL ||
	    (a = json_array()) == NULL) {
		json_decref(o);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (json_array_append_new(a, step_json(&v[i], i > 0 ?
		    &v[i - 1] : NULL)) != 0) {
			json_decref(a);
			json_decref(o);
			return -1;
		}
	if (json_object_set_new(o, "created_at", out_jtime(tl->created_at)) ||
	    json_object_set_new(o, "timeline", a) ||
	    json_object_set_new(o, "timeline_truncated",
	    json_boolean(truncated))) {
		json_decref(o);
		return -1;
	}
	return out_line(stdout, o);
}

static void
print_text(const struct comity_timeline *tl, const struct step *v, size_t n,
    int truncated)
{
	const struct comity_item *it = &tl->item;
	char		 t[OUT_TIME_NS_LEN], d[32], seq[24];
	size_t		 i;

	printf("%-10s %s\n", "id", it->id);
	printf("%-10s %s\n", "state", comity_state_name(it->state));
	printf("%-10s ", "from");
	out_text(stdout, it->from);
	printf("\n%-10s ", "to");
	out_text(stdout, it->to);
	printf("\n\n%-30s  %-12s  %-14s  %-7s  %-16s  %s\n", "TIME",
	    "+PREVIOUS", "AT", "SEQ", "EVENT", "DETAIL");
	for (i = 0; i < n; i++) {
		out_time_ns(v[i].time, t);
		if (i == 0)
			snprintf(d, sizeof(d), "-");
		else {
			d[0] = '+';
			out_duration(v[i].time - v[i - 1].time, d + 1,
			    sizeof(d) - 1);
			if (d[1] == '-')	/* across two clocks */
				memmove(d, d + 1, strlen(d));
		}
		if (v[i].seq != 0)
			snprintf(seq, sizeof(seq), "%s%" PRIu64,
			    v[i].theirs ? "#" : "", v[i].seq);
		else
			snprintf(seq, sizeof(seq), "-");
		printf("%-30s  %-12s  ", t, d);
		out_text(stdout, v[i].who);
		printf("%*s  %-7s  %-16s  ", (int)(14 - (strlen(v[i].who) < 14 ?
		    strlen(v[i].who) : 14)), "", seq, v[i].event);
		out_text(stdout, v[i].detail);
		if (v[i].uid != COMITY_AUDIT_NO_UID)
			printf(" uid=%" PRIu32, v[i].uid);
		putchar('\n');
	}
	if (n >= 2) {
		out_duration(v[n - 1].time - v[0].time, d, sizeof(d));
		printf("\n%s from the first step to the last", d);
		if (it->to[0] != '\0')
			printf(" (the counterpart's steps are by its clock, "
			    "see `comity peers` for the skew)");
		putchar('\n');
	}
	if (truncated)
		printf("(only the first %d audit records are shown)\n",
		    TIMELINE_MAX);
}

int
status_timeline(const char *id)
{
	struct comity_audit_filter	 f;
	struct comity_timeline		*tl = NULL;
	struct steps			 s;
	struct step			*v = NULL;
	comity_conn			*conn;
	size_t				 n_ours;
	int				 rc, st;

	memset(&s, 0, sizeof(s));
	if ((st = cli_connect(&conn)) != 0)
		return st;
	if ((rc = comity_timeline(conn, id, &tl)) != 0) {
		st = cli_error(conn, rc, NULL);
		comity_close(conn);
		return st;
	}
	s.self = tl->item.box == COMITY_BOX_OUT ? tl->item.from : tl->item.to;
	memset(&f, 0, sizeof(f));
	f.id = id;
	rc = comity_audit_export(conn, &f, record_cb, &s);
	if (s.nomem)
		rc = COMITY_ENOMEM;
	else if (rc == 1)	/* record_cb stopped at TIMELINE_MAX */
		rc = 0;
	if (rc != 0) {
		st = cli_error(conn, rc, "audit records");
		goto out;
	}
	if (s.n == 0)
		ours_from_item(&s, &tl->item);
	n_ours = s.n;
	if (tl->item.box == COMITY_BOX_OUT) {
		theirs(&s, tl->peer_delivered_at, tl->item.to,
		    tl->peer_delivered_kind == COMITY_RECEIPT_REJECTED ?
		    "REJECTED" : "RECEIVED", tl->peer_delivered_seq,
		    tl->peer_delivered_kind == COMITY_RECEIPT_REJECTED ?
		    "by its signed REJECTED receipt" :
		    "by its signed DELIVERED receipt");
		theirs(&s, tl->peer_retrieved_at, tl->item.to, "RETRIEVED",
		    tl->peer_retrieved_seq, "by its signed RETRIEVED receipt");
	} else
		theirs(&s, tl->created_at, tl->item.from, "SUBMITTED", 0,
		    "the envelope's creation time");
	if (s.nomem || merge(&s, n_ours, &v) != 0) {
		st = cli_fail(EX_OSERR, "out of memory");
		goto out;
	}
	if (cli.json) {
		if (print_json(tl, v, s.n, s.truncated) != 0)
			st = cli_fail(EX_SOFTWARE, "cannot encode the timeline");
	} else
		print_text(tl, v, s.n, s.truncated);
out:
	free(v);
	steps_free(&s);
	comity_free(tl);
	comity_close(conn);
	return st;
}
